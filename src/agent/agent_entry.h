/*
 * One entry of a snapshot tree in memory, and its JSON line (format in
 * docs/AGENT-PROTOCOL.md). The backup encodes entries as it walks; the
 * restore and the incremental match decode them.
 */
#ifndef HBR_AGENT_ENTRY_H
#define HBR_AGENT_ENTRY_H

#include <jansson.h>
#include "common.h"
#include "core/chunker.h"
#include "util/buf.h"

/* Caps on what a decoded line may hold (it comes from the server). */
#define HBR_AGENT_XATTR_MAX (64u << 10) /* one value, and all names */

struct hbr_agent_chunkref {
	uint8_t id[HBR_CHUNK_ID_LEN];
	uint32_t len;
};

struct hbr_agent_extent {
	uint64_t off, len;
};

struct hbr_agent_entry {
	struct hbr_buf path; /* absolute, raw bytes (may not be UTF-8) */
	char type; /* d f l h c b p */
	uint32_t mode; /* & 07777 */
	uint32_t uid, gid;
	int64_t mtime_ns, ctime_ns;
	uint64_t ino, size, rdev;
	struct hbr_buf link; /* l: target; h: the first link's path */
	/* Encoding: the "x" object as JSON text ("" = none). Decoding: the
	 * parsed object (owned reference) or NULL. */
	struct hbr_buf xattrs;
	json_t *xattr_obj;
	bool sparse; /* ext holds the data extents */
	struct hbr_agent_extent *ext;
	size_t n_ext, cap_ext;
	struct hbr_agent_chunkref *chunks;
	size_t n_chunks, cap_chunks;
};

void hbr_agent_entry_init(struct hbr_agent_entry *e);
/* Empty it for reuse, keeping its memory. */
void hbr_agent_entry_clear(struct hbr_agent_entry *e);
void hbr_agent_entry_release(struct hbr_agent_entry *e);
void hbr_agent_entry_add_chunk(struct hbr_agent_entry *e,
                               const uint8_t id[HBR_CHUNK_ID_LEN],
                               uint32_t len);
void hbr_agent_entry_add_extent(struct hbr_agent_entry *e, uint64_t off,
                                uint64_t len);

/* Chunks a tree line carries: about 1.2 MiB of text. A file with more
 * continues on "c+" lines (docs/AGENT-PROTOCOL.md), so no line, and no
 * reader's memory for one, grows with the file. */
#define HBR_AGENT_LINE_CHUNKS 16384u

/* Chunks per line from now on (tree lines and index records), clamped to
 * 1..HBR_AGENT_LINE_CHUNKS; 0 restores the default. Only tests lower it
 * (hbr-client reads HBR_AGENT_TREE_LINE_CHUNKS), to make continuation
 * lines out of small files. Set it before any backup starts. */
void hbr_agent_set_line_chunks(size_t n);
size_t hbr_agent_line_chunks(void);

/* Append the next line of e, '\n' included: the entry itself when *next
 * is 0, else a continuation line of its chunks from *next on. *next
 * becomes the number of chunks written (all, for what is not a regular
 * file: only files carry chunks); lines remain while it is below
 * e->n_chunks. */
int hbr_agent_entry_encode_line(struct hbr_buf *out,
                                const struct hbr_agent_entry *e, size_t *next);
/* Append all of e's lines. */
int hbr_agent_entry_encode(struct hbr_buf *out,
                           const struct hbr_agent_entry *e);
/* Fill e (cleared first) from a parsed line. HBR_ECORRUPT naming what
 * is wrong (a continuation line is no entry). */
int hbr_agent_entry_decode(struct hbr_agent_entry *e, const json_t *line);
/* The parsed line is a continuation line ("c+"). */
bool hbr_agent_line_is_more(const json_t *line);
/* Append a continuation line's chunks to e, the regular file's entry it
 * follows. HBR_ECORRUPT when e is not a regular file or the line is not
 * a valid continuation line. */
int hbr_agent_entry_decode_more(struct hbr_agent_entry *e, const json_t *line);

/* Line 1 of a tree, '\n' included. */
int hbr_agent_tree_header(struct hbr_buf *out, char *const *roots, size_t n,
                          const char *host, int64_t time);

/* Append one "name":"base64" member to an "x" object being built in
 * obj ("{" is written first, the caller closes it with '}'). A name that
 * is not UTF-8 is skipped (0); 1 when added. */
int hbr_agent_xattr_add(struct hbr_buf *obj, const char *name,
                        const void *value, size_t len);
/* Decode a base64 value into out (cleared first, at most max bytes). */
int hbr_agent_base64_decode(struct hbr_buf *out, const char *s, size_t len,
                            size_t max);

/* s[0..len) is valid UTF-8 without NUL bytes (what JSON strings carry). */
bool hbr_agent_utf8_valid(const char *s, size_t len);

#endif
