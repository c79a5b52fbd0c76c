/*
 * The background thread that removes rows deleted by an epoch bump
 * (store_purge.c) in small transactions, queueing dead snapshots for
 * space reclamation. It resumes by itself after a restart: its work list
 * is in the store.
 */
#ifndef HBR_GC_PURGER_H
#define HBR_GC_PURGER_H

#include "common.h"
#include "store/store.h"

struct hbr_purger;

struct hbr_reclaimer;
/* `next` (may be NULL) is kicked after each step that queued snapshots
 * for reclamation. */
int hbr_purger_start(struct hbr_purger **out, struct hbr_store_pool *pool,
                     struct hbr_reclaimer *next);
/* Ask for a pass now (after a deletion) instead of at the next tick. */
void hbr_purger_kick(struct hbr_purger *p);
/* Stop and join; NULL is a no-op. */
void hbr_purger_stop(struct hbr_purger *p);

#endif
