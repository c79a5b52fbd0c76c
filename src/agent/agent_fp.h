/*
 * Chunk fingerprints: what lets an incremental backup skip re-chunking
 * and re-hashing the unchanged parts of a changed file.
 *
 * A changed big file (a disk image, a database, a log) is mostly its old
 * chunks. Content-defined chunking cuts a chunk where its own bytes say,
 * from its own start, so where the file still holds the bytes of the
 * parent's chunk at the place that chunk began, chunking would cut it
 * again exactly there and hashing would give the parent's id. A keyed
 * 128-bit XXH3 of those bytes (about 30x cheaper than the gear scan plus
 * SHA-256) compared with the fingerprint recorded when the chunk was last
 * hashed proves that; where it differs, the worker chunks and hashes as
 * usual until it meets a parent boundary again. docs/AGENT-PROTOCOL.md
 * ("Incremental backups") has the argument for why this is safe.
 *
 * The fingerprints stay on the agent: STATE/fp.key (the secret, 0600)
 * and STATE/trees/<snapshot-id>.fp (one record per distinct chunk of the
 * snapshot's big files, sorted by id) beside the cached tree. A missing,
 * torn or foreign file only means the next backup reads more.
 */
#ifndef HBR_AGENT_FP_H
#define HBR_AGENT_FP_H

#include "common.h"
#include "core/chunker.h"

/* Files at least this big have their chunks fingerprinted: a smaller
 * one is one or a few chunks, and a change rewrites most of them. */
#define HBR_AGENT_FP_MIN_FILE (1u << 20)
#define HBR_AGENT_FP_LEN      16
#define HBR_AGENT_FP_KEY_LEN  192
/* A table file larger than this is ignored (22 M records). */
#define HBR_AGENT_FP_FILE_MAX (1u << 30)

struct hbr_agent_fp_key {
	uint8_t secret[HBR_AGENT_FP_KEY_LEN];
	uint64_t tag; /* names the key in table files */
};

struct hbr_agent_fp_rec {
	uint8_t id[HBR_CHUNK_ID_LEN];
	uint8_t fp[HBR_AGENT_FP_LEN];
};

/* Records of one snapshot, sorted by id and distinct (owned). */
struct hbr_agent_fp_table {
	struct hbr_agent_fp_rec *r;
	size_t n;
};

/* Records as they come (owned), one list per thread. */
struct hbr_agent_fp_list {
	struct hbr_agent_fp_rec *r;
	size_t n, cap;
};

/* STATE/fp.key, created (random, 0600) when missing. */
int hbr_agent_fp_key_open(struct hbr_agent_fp_key *k, const char *state_dir);

void hbr_agent_fp_of(uint8_t out[HBR_AGENT_FP_LEN],
                     const struct hbr_agent_fp_key *k, const void *data,
                     size_t len);

/* STATE/trees/<snapshot-id>.fp into out (size >= 4096). */
void hbr_agent_fp_path(char *out, size_t size, const char *state_dir,
                       const char *snapshot_id);

/* Load a table written with key k. HBR_ENOTFOUND without the file;
 * HBR_ECORRUPT when it is torn, too big or made with another key. */
int hbr_agent_fp_table_load(struct hbr_agent_fp_table *t, const char *path,
                            const struct hbr_agent_fp_key *k);
void hbr_agent_fp_table_free(struct hbr_agent_fp_table *t);
/* The fingerprint recorded for id, or NULL. */
const uint8_t *hbr_agent_fp_table_find(const struct hbr_agent_fp_table *t,
                                       const uint8_t id[HBR_CHUNK_ID_LEN]);

void hbr_agent_fp_list_add(struct hbr_agent_fp_list *l,
                           const uint8_t id[HBR_CHUNK_ID_LEN],
                           const uint8_t fp[HBR_AGENT_FP_LEN]);
void hbr_agent_fp_list_release(struct hbr_agent_fp_list *l);

/* Merge the lists (emptied), keep one record per id and write them as
 * path's table, atomically. */
int hbr_agent_fp_write(const char *path, struct hbr_agent_fp_list *lists,
                       size_t n_lists, const struct hbr_agent_fp_key *k);

#endif
