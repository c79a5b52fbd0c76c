/*
 * Space reclamation (docs/RECLAMATION.md): apply deleted snapshots to the
 * chunk reference counts, remove packs that emptied, rewrite packs that
 * are mostly dead, and clean up what crashes and refused uploads left.
 * hbrd runs it on a thread, woken when something is deleted; `hbrd vault
 * gc` runs one pass in the foreground.
 */
#ifndef HBR_GC_RECLAIM_H
#define HBR_GC_RECLAIM_H

#include "common.h"
#include "store/store.h"

struct hbr_reclaim_stats {
	int64_t snapshots; /* deleted snapshots applied */
	int64_t decrements; /* distinct chunk references lowered */
	int64_t chunks_freed; /* chunks that reached zero */
	int64_t packs_removed; /* pack objects removed */
	int64_t packs_rewritten;
	int64_t bytes_freed; /* pack bytes removed, less bytes rewritten */
	int64_t orphans_removed; /* refs objects no snapshot names */
};

/* Called after each step of a pass (for `hbrd vault gc`'s progress). */
typedef void hbr_reclaim_progress_cb(const char *vault_id, const char *step,
                                     const struct hbr_reclaim_stats *st,
                                     void *payload);

struct hbr_reclaim_config {
	const char *data_dir; /* vaults are DATA_DIR/vaults/<VaultId> */
	const char *only_vault; /* NULL: every vault with work */
	hbr_reclaim_progress_cb *progress; /* may be NULL */
	void *payload;
	/* Also remove refs objects a commit killed before its transaction
	 * left (every live vault, or only_vault): they are found by
	 * listing refs/, so hbrd does it at start and hourly. */
	bool sweep;
};

/* One pass: every vault with work, until its queue is empty and its
 * packs are looked at once. Adds to *st. */
int hbr_reclaim_pass(struct hbr_reclaim_stats *st, struct hbr_store *s,
                     const struct hbr_reclaim_config *cfg);

/* The background reclaimer: passes whenever kicked, and every idle_s
 * seconds anyway (deletions by another node, protected chunks that
 * became collectable). */
struct hbr_reclaimer;
int hbr_reclaimer_start(struct hbr_reclaimer **out, struct hbr_store_pool *pool,
                        const char *data_dir, unsigned idle_s);
void hbr_reclaimer_kick(struct hbr_reclaimer *r); /* NULL is a no-op */
void hbr_reclaimer_stop(struct hbr_reclaimer *r); /* NULL is a no-op */

#endif
