/* Ordered key/value list for parameters and headers. */
#include "common.h"
#include <strings.h>
#include "util/alloc.h"
#include "util/kvlist.h"

void hbr_kvlist_add(struct hbr_kvlist *l, const char *key, size_t klen,
                    const char *val, size_t vlen)
{
	char *block;

	if (!val)
		vlen = 0;
	/* Key and value share one allocation (the key owns it): a request
	 * fills lists of a few dozen pairs, and every malloc shows. */
	block = hbr_malloc(klen + vlen + 2);
	memcpy(block, key, klen);
	block[klen] = '\0';
	if (vlen)
		memcpy(block + klen + 1, val, vlen);
	block[klen + 1 + vlen] = '\0';
	hbr_grow((void **)&l->items, &l->cap, l->n + 1, sizeof(*l->items));
	l->items[l->n].key = block;
	l->items[l->n].val = block + klen + 1;
	l->n++;
}

bool hbr_kvlist_set(struct hbr_kvlist *l, const char *key, const char *val)
{
	for (size_t i = 0; i < l->n; i++) {
		struct hbr_kvlist one = HBR_KVLIST_INIT;
		if (strcmp(l->items[i].key, key))
			continue;
		hbr_kvlist_add(&one, key, strlen(key), val, strlen(val));
		hbr_free(l->items[i].key);
		l->items[i] = one.items[0];
		hbr_free(one.items);
		return true;
	}
	return false;
}

bool hbr_kvlist_del(struct hbr_kvlist *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->items[i].key, key))
			continue;
		hbr_free(l->items[i].key);
		memmove(&l->items[i], &l->items[i + 1],
		        (l->n - i - 1) * sizeof(*l->items));
		l->n--;
		return true;
	}
	return false;
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
	for (size_t i = 0; i < l->n; i++)
		hbr_free(l->items[i].key); /* holds the value too */
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
