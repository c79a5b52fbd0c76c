/*
 * An ordered list of (key, value) string pairs: request parameters and
 * headers. Duplicated keys are kept in arrival order; lookups return the
 * first. The list owns a copy of every pair (one allocation each, held
 * by the key).
 */
#ifndef HBR_UTIL_KVLIST_H
#define HBR_UTIL_KVLIST_H

#include "common.h"

struct hbr_kv {
	char *key;
	char *val;
};

struct hbr_kvlist {
	struct hbr_kv *items;
	size_t n;
	size_t cap;
};

#define HBR_KVLIST_INIT    \
	{                  \
		NULL, 0, 0 \
	}

void hbr_kvlist_add(struct hbr_kvlist *l, const char *key, size_t klen,
                    const char *val, size_t vlen);
/* First value for key (exact match) or NULL. Borrowed. */
const char *hbr_kvlist_get(const struct hbr_kvlist *l, const char *key);
/* Same, ignoring ASCII case of the key. */
const char *hbr_kvlist_get_ci(const struct hbr_kvlist *l, const char *key);
/* Replace the value of the first pair with key; false if there is none. */
bool hbr_kvlist_set(struct hbr_kvlist *l, const char *key, const char *val);
/* Remove the first pair with key; false if there is none. */
bool hbr_kvlist_del(struct hbr_kvlist *l, const char *key);
void hbr_kvlist_release(struct hbr_kvlist *l);
/* Sort by key in byte order, stable (the order V1 and V3 signing use). */
void hbr_kvlist_sort(struct hbr_kvlist *l);

#endif
