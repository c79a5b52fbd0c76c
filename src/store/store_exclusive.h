/*
 * Who holds each chunk, from scratch (docs/RECLAMATION.md, "What
 * deleting a client would free"). Commits and reclamation keep the
 * holders incrementally (store_data_refs.c, store_reclaim.c); this is the
 * other side: which snapshots the counts are made of, a comparison of
 * the rows with a recount of their refs objects (`hbrd vault check`),
 * and the one-time recount that migration 11 asks for. Reading the refs
 * objects is gc_exclusive.c's: the store never touches a vault.
 */
#ifndef HBR_STORE_EXCLUSIVE_H
#define HBR_STORE_EXCLUSIVE_H

#include "common.h"
#include "core/chunker.h"
#include "core/id.h"
#include "store/store.h"
#include "store/store_reclaim.h"

/* A snapshot whose references the vault's counts hold. */
struct hbr_excl_source {
	char snapshot_id[HBR_ID_MAX];
	char client_id[HBR_ID_MAX];
	bool queued; /* deleted, in gc_queue: a refs object may be absent */
	bool in_batch; /* in the batch in progress: applied to some ids */
};

struct hbr_excl_sources {
	struct hbr_excl_source *list; /* sorted by snapshot id */
	size_t n;
	bool recount; /* the vault waits for its recount (migration 11) */
	bool batch; /* a batch is in progress */
	int phase; /* HBR_GC_PHASE_*, with batch */
	bool done, has_cursor;
	uint8_t cursor[HBR_CHUNK_ID_LEN];
	uint8_t *zeroed; /* the batch's gc_zeroed ids, sorted */
	size_t nzeroed;
};

/*
 * Every snapshot of the vault whose references the counts hold: those
 * with a tree (any epoch: a deleted client's wait for the purge) and
 * the queued ones, with the batch in progress and how far it got. One
 * read transaction, or the caller's.
 */
int hbr_store_excl_sources(struct hbr_excl_sources *out, struct hbr_store *s,
                           const char *vault_id);
void hbr_excl_sources_free(struct hbr_excl_sources *src);
/* Whether the batch in progress has applied its references to id. */
bool hbr_excl_applied(const struct hbr_excl_sources *src, const uint8_t *id);

/*
 * The references the counts hold, as sorted distinct ids with the
 * count of each client (struct hbr_gc_dec's shape; clients named in
 * clients[0..nclients)).
 */
struct hbr_excl_truth {
	struct hbr_gc_dec refs;
	size_t nclients;
};

/* What hbr_store_excl_verify found. */
struct hbr_excl_verdict {
	/* Chunk rows whose refs differ from the references (or a
	 * reference with no row), and the first of them. */
	int64_t miscounted;
	char miscounted_first[192];
	/* Chunk rows whose owner, owner_refs or shares say otherwise than
	 * the references, and the first of them. */
	int64_t misheld;
	char misheld_first[192];
};

/* For each client with exclusive bytes kept or due: what client_bytes
 * keeps and what the references give. A negative return stops. */
typedef int hbr_excl_client_cb(const char *client_id, int64_t kept,
                               int64_t counted, void *payload);

/*
 * Compare the vault's rows with t: each chunk's refs with its
 * references; its holders (one client: that owner, owner_refs = refs,
 * no shares; two or more: no owner, a share each equal to its
 * references); each client's exclusive bytes with the stored bytes of
 * the chunks it alone references. Reads in the caller's transaction.
 */
int hbr_store_excl_verify(struct hbr_excl_verdict *out, struct hbr_store *s,
                          const char *vault_id, const struct hbr_excl_truth *t,
                          hbr_excl_client_cb *cb, void *payload);

/*
 * The recount, one transaction: when the vault's sources are still src
 * and no batch is in progress, write who holds each chunk from t (its
 * owner, owner_refs, chunk_shares) and each client's exclusive bytes,
 * and take the vault off exclusive_recount. HBR_ECONFLICT, changing
 * nothing, when the sources moved on (count again).
 */
int hbr_store_excl_recount(struct hbr_store *s, const char *vault_id,
                           const struct hbr_excl_sources *src,
                           const struct hbr_excl_truth *t);

#endif
