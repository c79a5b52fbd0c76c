/* Ordered key/value list for parameters and headers. */
#include "common.h"
#include <strings.h>
#include "util/alloc.h"
#include "util/kvlist.h"

void hbr_kvlist_add(struct hbr_kvlist *l, const char *key, size_t klen,
                    const char *val, size_t vlen)
{
	hbr_grow((void **)&l->items, &l->cap, l->n + 1, sizeof(*l->items));
	l->items[l->n].key = hbr_strndup(key, klen);
	l->items[l->n].val = hbr_strndup(val ? val : "", val ? vlen : 0);
	l->n++;
}

const char *hbr_kvlist_get(const struct hbr_kvlist *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->items[i].key, key))
			return l->items[i].val;
	return NULL;
}

const char *hbr_kvlist_get_ci(const struct hbr_kvlist *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcasecmp(l->items[i].key, key))
			return l->items[i].val;
	return NULL;
}

void hbr_kvlist_release(struct hbr_kvlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		hbr_free(l->items[i].key);
		hbr_free(l->items[i].val);
	}
	hbr_free(l->items);
	l->items = NULL;
	l->n = 0;
	l->cap = 0;
}

void hbr_kvlist_sort(struct hbr_kvlist *l)
{
	/* Insertion sort: stable, and parameter lists are short. */
	for (size_t i = 1; i < l->n; i++) {
		struct hbr_kv tmp = l->items[i];
		size_t j = i;
		while (j > 0 && strcmp(l->items[j - 1].key, tmp.key) > 0) {
			l->items[j] = l->items[j - 1];
			j--;
		}
		l->items[j] = tmp;
	}
}
