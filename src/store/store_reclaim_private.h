/*
 * What store_reclaim_batch.c (batches), store_reclaim.c (counts),
 * store_reclaim_packs.c (packs, checks) and store_exclusive.c (the
 * recount, which must see a batch in progress) share. Nothing outside
 * those four includes it.
 */
#ifndef HBR_STORE_RECLAIM_PRIVATE_H
#define HBR_STORE_RECLAIM_PRIVATE_H

#include "common.h"
#include "store/store_reclaim.h"

/* Copy a name read from the store; HBR_ECORRUPT if it is too long. */
int hbr_gc_copy_name(char *out, const char *v);
/* The first column of every row of st as names, then st is done. */
int hbr_gc_collect_names(char (**out)[HBR_GC_NAME_MAX], size_t *n,
                         struct hbr_stmt *st);
/* The vault's gc_batch row into b's first_id, last_id, done, phase and
 * cursor (nothing else of b); *found false when there is none. */
int hbr_gc_batch_row(struct hbr_gc_batch *b, bool *found, struct hbr_store *s,
                     const char *vault_id);
/* In the caller's transaction: HBR_ECONFLICT unless the vault's batch
 * is still b in b's phase and (first_id given) not done, with only ids
 * below first_id done in the phase. */
int hbr_gc_batch_is(struct hbr_store *s, const char *vault_id,
                    const struct hbr_gc_batch *b, const uint8_t *first_id);
/* Inside a transaction: drop the pack unless something in it is kept,
 * but for `taking` chunks the caller takes to 0 in the transaction. */
int hbr_gc_drop_pack(bool *dropped_out, struct hbr_store *s,
                     const char *vault_id, const char *pack_id, int64_t cutoff,
                     int64_t taking);

#endif
