/*
 * What store_data.c (the snapshot commit) and store_data_refs.c (the
 * counts it raises) share. Nothing outside those two includes it.
 */
#ifndef HBR_STORE_DATA_PRIVATE_H
#define HBR_STORE_DATA_PRIVATE_H

#include "common.h"
#include "store/store.h"

/* Raise the count of every ref for client_id's snapshot (refs sorted,
 * distinct), in the commit's transaction; *stored_out sums the stored
 * bytes of chunks no live snapshot referenced before. HBR_ENOCHUNK
 * naming the first few when any has no row (the caller rolls back). */
int hbr_store_refs_add(int64_t *stored_out, struct hbr_store *s,
                       const char *vault_id, const char *client_id,
                       const uint8_t *refs, size_t n);

#endif
