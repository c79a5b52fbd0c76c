/*
 * Snapshot trees (format in docs/AGENT-PROTOCOL.md): JSON lines, one
 * entry per file. The agent writes them and reads them back (incremental
 * backups, restore); the server only collects the chunk ids they name,
 * to verify a commit and count references. Parsing is streaming, so a
 * tree of any size needs memory for one line.
 */
#ifndef HBR_CORE_TREE_H
#define HBR_CORE_TREE_H

#include <jansson.h>
#include "common.h"
#include "core/chunker.h"
#include "util/buf.h"

/* A line's cap. Writers keep lines to a few MiB by carrying a big file's
 * chunk list on continuation lines; trees written before those have a
 * file's whole list on one line, up to this. */
#define HBR_TREE_LINE_MAX (64u << 20)
/* The key of a continuation line: the chunks that follow those of the
 * regular file's entry (or continuation line) before it. */
#define HBR_TREE_MORE_KEY "c+"

/* Feed a tree's bytes in pieces of any size; cb gets each line parsed
 * as a JSON object (borrowed: valid during the call; line 0 is the
 * header). A non-zero cb return stops the parse and is returned. */
typedef int hbr_tree_entry_cb(json_t *entry, size_t line_no, void *payload);
/* The same for a reader that leaves parsing to its callback: each
 * non-empty line's bytes, without the '\n' (borrowed). */
typedef int hbr_tree_line_cb(const char *text, size_t len, size_t line_no,
                             void *payload);

struct hbr_tree_reader {
	struct hbr_buf line; /* partial line carried between feeds */
	size_t line_no;
	hbr_tree_entry_cb *cb;
	hbr_tree_line_cb *line_cb;
	void *payload;
};

void hbr_tree_reader_init(struct hbr_tree_reader *r, hbr_tree_entry_cb *cb,
                          void *payload);
/* A reader that only splits lines (core/tree_scan.h parses them). */
void hbr_tree_reader_init_lines(struct hbr_tree_reader *r, hbr_tree_line_cb *cb,
                                void *payload);
/* HBR_ECORRUPT for a line that is not a JSON object (or a first line
 * without "hbr_tree":1), HBR_ETOOBIG past HBR_TREE_LINE_MAX. */
int hbr_tree_reader_feed(struct hbr_tree_reader *r, const void *data,
                         size_t len);
/* End of the tree: a last line without '\n' is parsed. */
int hbr_tree_reader_finish(struct hbr_tree_reader *r);
void hbr_tree_reader_free(struct hbr_tree_reader *r);

/* One line as the reader parses it: a JSON object (jansson,
 * JSON_REJECT_DUPLICATES; *out owned by the caller), and for line 0 the
 * "hbr_tree":1 header; HBR_ECORRUPT otherwise. */
int hbr_tree_line_parse(json_t **out, const char *text, size_t len,
                        size_t line_no);

/*
 * A set of chunk ids (open addressing over 32-byte ids; ids are SHA-256,
 * so their first bytes are already uniform). Used for a snapshot's
 * references, the agent's "known to the vault" set and dedup checks.
 */
struct hbr_idset {
	uint8_t (*slots)[HBR_CHUNK_ID_LEN];
	uint8_t *used;
	size_t cap, n;
};

void hbr_idset_init(struct hbr_idset *s);
void hbr_idset_free(struct hbr_idset *s);
/* 1 added, 0 already present, HBR_ERROR on allocation failure. */
int hbr_idset_add(struct hbr_idset *s, const uint8_t id[HBR_CHUNK_ID_LEN]);
bool hbr_idset_has(const struct hbr_idset *s,
                   const uint8_t id[HBR_CHUNK_ID_LEN]);
/* The ids sorted bytewise, n * 32 bytes, appended to out. */
int hbr_idset_sorted(struct hbr_buf *out, const struct hbr_idset *s);

/* 64 hex digits (either case) → id; HBR_EINVAL otherwise. */
int hbr_chunk_id_parse(uint8_t out[HBR_CHUNK_ID_LEN], const char *hex,
                       size_t len);

/* Add every chunk id in entry's "c" (a continuation line's "c+") to
 * set. HBR_ECORRUPT when it is not an array of [hex id, length >= 0]
 * pairs, or when a line has "c+" and also "c" or "t" (it would be both
 * an entry and a continuation). */
int hbr_tree_entry_chunks(struct hbr_idset *set, const json_t *entry);

/* What a line after the header is, for the continuation rule. */
enum hbr_tree_line_kind {
	HBR_TREE_LINE_OTHER, /* the header, or an entry not "t":"f" */
	HBR_TREE_LINE_FILE, /* a regular file's entry */
	HBR_TREE_LINE_MORE, /* a continuation line ("c+") */
};

enum hbr_tree_line_kind hbr_tree_entry_kind(const json_t *entry);

/* A line of kind `kind` after one of kind `prev`: a continuation line
 * only follows a regular file's entry or another continuation line.
 * HBR_ECORRUPT otherwise. */
int hbr_tree_line_follows(enum hbr_tree_line_kind prev,
                          enum hbr_tree_line_kind kind, size_t line_no);

#endif
