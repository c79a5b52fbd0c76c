/*
 * The rows of space reclamation (docs/RECLAMATION.md): the batch of
 * deleted snapshots being applied to the reference counts, and the packs
 * that emptied. Every function is one transaction (or a read), so the
 * reclaimer (gc/gc_reclaim.c) can be killed between any two calls and
 * resume from the rows.
 */
#ifndef HBR_STORE_RECLAIM_H
#define HBR_STORE_RECLAIM_H

#include "common.h"
#include "core/chunker.h"
#include "core/id.h"
#include "store/store.h"
#include "store/store_data.h"

/* A vault id or a pack id (32 hex digits) fits. */
#define HBR_GC_NAME_MAX 64

/*
 * A batch is applied in two phases (docs/RECLAMATION.md). Phase 1
 * lowers only the chunks the batch takes to 0 and lists them
 * (gc_zeroed), so the packs they empty can go before the other counts
 * are touched; phase 2 lowers every other chunk the batch names.
 */
#define HBR_GC_PHASE_ZERO 1
#define HBR_GC_PHASE_REST 2

/* The batch of one vault: gc_queue rows first_id..last_id of that vault,
 * and how far their decrements got. */
struct hbr_gc_batch {
	int64_t first_id, last_id;
	int phase; /* HBR_GC_PHASE_* */
	bool has_cursor; /* some ids of this phase are done */
	uint8_t cursor[HBR_CHUNK_ID_LEN]; /* the last id done in the phase */
	bool done; /* every decrement is applied */
	/* The batch's snapshot ids and the client of each (owned; n of
	 * them). */
	char (*snapshots)[HBR_ID_MAX];
	char (*clients)[HBR_ID_MAX];
	size_t n;
};

void hbr_gc_batch_free(struct hbr_gc_batch *b);

/* Vaults with reclamation work: queued deletions, a batch in progress,
 * packs under half live, or leftover packs. *out owned (n entries). */
int hbr_store_gc_vaults(char (**out)[HBR_GC_NAME_MAX], size_t *n,
                        struct hbr_store *s, int64_t now);

/* The vault's batch in progress, or a new one of at most max_items of
 * its oldest gc_queue rows. 0 with b->n == 0 and no row when there is
 * nothing queued. */
int hbr_store_gc_batch_open(struct hbr_gc_batch *b, struct hbr_store *s,
                            const char *vault_id, size_t max_items);

/* How many of the deleted snapshots of one client named a chunk. */
struct hbr_gc_ref {
	uint32_t client; /* index into hbr_gc_dec.clients */
	uint32_t count;
};

struct hbr_gc_dec {
	const uint8_t *ids; /* n sorted distinct ids, 32 bytes each */
	/* Id i's references by client: by[first[i]] .. by[first[i + 1] - 1]
	 * (first has n + 1 entries; offsets may start past 0). */
	const size_t *first;
	const struct hbr_gc_ref *by;
	const char (*clients)[HBR_ID_MAX];
	size_t n;
};

/* What decrement steps did (added to). */
struct hbr_gc_step {
	int64_t lowered; /* chunks whose counts the steps lowered */
	int64_t zeroed; /* chunks that reached 0 */
};

/*
 * Phase 1, outside any transaction: which of d's chunks d would take to
 * 0 as the rows are now (out[i] for d->ids[i]). Only reclamation lowers
 * a count, and only this batch's steps lower this vault's now, so a
 * chunk not marked cannot reach 0 through d when its step runs; the
 * step reads the marked ones again in its transaction.
 */
int hbr_store_gc_zero_candidates(bool *out, struct hbr_store *s,
                                 const char *vault_id,
                                 const struct hbr_gc_dec *d);

/*
 * Apply one step of the batch's current phase and move the cursor to
 * d's last id, in one transaction. Phase 1 applies d to the chunks it
 * takes to 0 (among those candidate marks, all when NULL) and lists
 * them; phase 2 applies d to every chunk not listed. Applying means:
 * each chunk's refs, its owner's owner_refs and exclusive bytes (a
 * chunk may become exclusive to its owner again when the others'
 * references go), and at 0 its pack's live bytes; a pack whose live
 * bytes reach 0 is dropped in the same transaction (rows deleted, pack
 * 'deleting'; hbr_store_gc_packs_drop) unless something in it is
 * protected. A chunk with no row or already at 0 (damage `hbrd vault
 * check` reports) is left alone.
 */
int hbr_store_gc_decrement(struct hbr_gc_step *out, struct hbr_store *s,
                           const char *vault_id, const struct hbr_gc_batch *b,
                           const struct hbr_gc_dec *d, const bool *candidate,
                           int64_t now);
/* Phase 1 is over: the batch moves to phase 2, its cursor to the
 * start (b too). */
int hbr_store_gc_batch_zeroed(struct hbr_store *s, const char *vault_id,
                              struct hbr_gc_batch *b);
/* Every decrement of the batch is applied. */
int hbr_store_gc_batch_done(struct hbr_store *s, const char *vault_id,
                            const struct hbr_gc_batch *b);
/* Delete the batch's gc_queue rows and the batch (nothing when another
 * reclaimer closed it already). */
int hbr_store_gc_batch_close(struct hbr_store *s, const char *vault_id,
                             const struct hbr_gc_batch *b);
/*
 * Two reclaimers may work on one vault at once (hbrd's thread and
 * `hbrd vault gc`, or two nodes of one store). Each decrement step and
 * the batch's phase change and end re-check in their transaction that
 * the batch is still b (same gc_queue rows, same phase, not done) and
 * that nothing at or after the step's first id is done yet in the
 * phase; otherwise they change nothing and answer HBR_ECONFLICT (the
 * other got there first: open the batch again). So no reference is
 * ever lowered twice.
 */

/* A pack that may be reclaimed: live fraction under one half. */
struct hbr_gc_pack {
	char pack_id[HBR_GC_NAME_MAX];
	char state[16]; /* live, writing, deleting */
	int64_t bytes, live_bytes;
};

/* Up to max packs of the vault to look at: 'live' ones under half live
 * created before live_before (younger ones belong to running backups,
 * whose chunks are protected anyway), 'deleting' ones and 'writing' ones
 * created before stale_before. */
int hbr_store_gc_packs(struct hbr_gc_pack **out, size_t *n, struct hbr_store *s,
                       const char *vault_id, int64_t live_before,
                       int64_t stale_before, size_t max);

/* The time before which a dead chunk of the vault may be dropped: the
 * start of its oldest RUNNING backup job (that job may have deduplicated
 * against anything that died later), or now + 1 when none runs. */
int hbr_store_gc_cutoff(int64_t *out, struct hbr_store *s, const char *vault_id,
                        int64_t now);

/* A 'live' pack with no referenced or protected chunk: delete its chunk
 * rows and mark it 'deleting', one transaction. *dropped_out false (and
 * nothing changed) when one of its chunks is referenced or died at or
 * after the cutoff, which is read in the same transaction. */
int hbr_store_gc_pack_drop(bool *dropped_out, struct hbr_store *s,
                           const char *vault_id, const char *pack_id,
                           int64_t now);

/* hbr_store_gc_pack_drop for n packs in one transaction (one cutoff);
 * dropped[i] says which went. */
int hbr_store_gc_packs_drop(bool *dropped, struct hbr_store *s,
                            const char *vault_id,
                            const struct hbr_gc_pack *packs, size_t n,
                            int64_t now);

/* The chunk rows of a pack (for a rewrite). */
struct hbr_gc_chunk {
	uint8_t id[HBR_CHUNK_ID_LEN];
	uint64_t offset;
	uint32_t stored_len;
	int64_t refs, dead_since;
};
int hbr_store_gc_pack_chunks(struct hbr_gc_chunk **out, size_t *n,
                             struct hbr_store *s, const char *vault_id,
                             const char *pack_id);

/* A rewrite's switch, one transaction: every chunk of `old_pack` that
 * is referenced or protected must be among the n copied to `new_pack`
 * (their new offsets given), else *switched_out is false and nothing
 * changes; then the copied rows point at new_pack, the others are
 * deleted, new_pack becomes 'live' with its live bytes and old_pack
 * 'deleting'. */
int hbr_store_gc_pack_switch(bool *switched_out, struct hbr_store *s,
                             const char *vault_id, const char *old_pack,
                             const char *new_pack,
                             const struct hbr_gc_chunk *copied, size_t n,
                             int64_t now);

/* Clients whose deleted rows the purge has yet to move (DELETION.md). */
int hbr_store_gc_purge_pending(int64_t *out, struct hbr_store *s);

/* 1 when the vault exists and is not deleted, 0 otherwise. */
int hbr_store_gc_vault_live(struct hbr_store *s, const char *vault_id);
/* A deleted vault (its directory is gone with it): delete up to `limit`
 * of its chunk rows, and once there are none its pack rows, queue and
 * batch; one transaction. *left_out is 0 when nothing is left. */
int hbr_store_gc_forget_vault(int64_t *left_out, struct hbr_store *s,
                              const char *vault_id, int64_t limit);

/* For `hbrd vault check`: every pack row of the vault (any state), and
 * every snapshot whose references must be in the vault (live with a
 * tree: `queued` false) or whose refs object reclamation still needs
 * (in gc_queue: `queued` true). A negative callback return (an HBR_E*
 * code) stops the walk and is returned. */
typedef int hbr_gc_pack_cb(const struct hbr_gc_pack *p, void *payload);
int hbr_store_gc_each_pack(struct hbr_store *s, const char *vault_id,
                           hbr_gc_pack_cb *cb, void *payload);
typedef int hbr_gc_snapshot_cb(const char *snapshot_id, bool queued,
                               void *payload);
int hbr_store_gc_each_snapshot(struct hbr_store *s, const char *vault_id,
                               hbr_gc_snapshot_cb *cb, void *payload);
/* Whether a pack has a 'live' row, or a snapshot is live with a tree
 * (1 or 0): what `hbrd vault check` asks again, outside its read
 * transaction, about an object it found missing. */
int hbr_store_gc_pack_is_live(struct hbr_store *s, const char *vault_id,
                              const char *pack_id);
int hbr_store_gc_snapshot_is_live(struct hbr_store *s, const char *snapshot_id);
/* Chunk rows that name a pack with no 'live' row. */
int hbr_store_gc_stray_chunks(int64_t *out, struct hbr_store *s,
                              const char *vault_id);

/*
 * Which of n refs objects (their snapshot ids) name no snapshot row (of
 * any epoch) and no gc_queue row of the vault: left by a commit that
 * was killed between writing the object and its transaction. One read
 * transaction, which also says whether a backup job of the vault is
 * RUNNING: only then may such an object belong to a commit in flight,
 * so *running_out true means none may be removed now.
 */
int hbr_store_gc_orphan_refs(bool *orphan, bool *running_out,
                             struct hbr_store *s, const char *vault_id,
                             const char (*ids)[HBR_ID_MAX], size_t n);
/* Every live vault (for the sweep of orphaned refs objects). */
int hbr_store_gc_live_vaults(char (**out)[HBR_GC_NAME_MAX], size_t *n,
                             struct hbr_store *s);

/* The row of a pack whose object is gone ('deleting' or a stale
 * 'writing' one): delete it. */
int hbr_store_gc_pack_forget(struct hbr_store *s, const char *vault_id,
                             const char *pack_id);
/* The same for the packs with which[i] set, in one transaction. */
int hbr_store_gc_packs_forget(struct hbr_store *s, const char *vault_id,
                              const struct hbr_gc_pack *packs,
                              const bool *which, size_t n);

#endif
