/*
 * Statements over lists of chunk ids, `chunk_id IN (?, ?, ...)`: SQLite
 * walks the list in order and seeks each id by primary key, so one
 * statement costs about one row lookup per id instead of one statement
 * per id. Lists come in a few fixed sizes (8, 64, 512: SQLite takes
 * 32766 parameters, PostgreSQL 65535), a shorter one padded with its
 * last id, so a handful of statement texts serve every length and stay
 * in the connection's statement cache.
 */
#ifndef HBR_STORE_IDLIST_H
#define HBR_STORE_IDLIST_H

#include "common.h"
#include "core/chunker.h"
#include "store/store.h"

#define HBR_IDLIST_MAX   512
#define HBR_IDLIST_KINDS 3

/* The kind (index of the size) of the smallest list that holds n ids,
 * 1 <= n <= HBR_IDLIST_MAX, and that size. */
size_t hbr_idlist_kind(size_t n);
size_t hbr_idlist_size(size_t kind);

/* head, then " AND chunk_id IN (?, ...)" with the kind's size, then
 * tail ("" for none), into out; HBR_ASSERTs that it fits. */
void hbr_idlist_sql(char *out, size_t size, const char *head, size_t kind,
                    const char *tail);

/* Bind ids[0..n) (each HBR_CHUNK_ID_LEN bytes, stride apart) from
 * parameter idx on, padded to the kind's size with the last. */
int hbr_idlist_bind(struct hbr_store *s, struct hbr_stmt *st, int idx,
                    const uint8_t *ids, size_t stride, size_t n, size_t kind);

#endif
