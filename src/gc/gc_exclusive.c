/*
 * Who holds each chunk, counted from the refs objects (gc_exclusive.h).
 * Each client's references are merged into one sorted list with counts
 * (each refs object is sorted already: a merge costs its length plus
 * the list's), then the clients' lists are put side by side. Memory is
 * one entry per (chunk, client) pair, not per reference.
 */
#include "common.h"
#include "gc/gc_exclusive.h"
#include "store/store_data.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"

/* Times the recount counts again when commits or reclamation changed
 * the snapshots meanwhile, before leaving it to the next pass. */
#define RECOUNT_TRIES 3

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, HBR_CHUNK_ID_LEN);
}

/* One client's references so far: sorted distinct ids, with counts. */
struct held {
	uint8_t *ids;
	uint32_t *counts;
	size_t n;
};

/* Sorted and distinct, whatever wrote the object (as gc_reclaim.c's
 * merge does: each snapshot counts a chunk once). */
static size_t normalize(uint8_t *ids, size_t n)
{
	size_t k = 0;

	for (size_t i = 1; i < n; i++)
		if (memcmp(ids + (i - 1) * HBR_CHUNK_ID_LEN,
		           ids + i * HBR_CHUNK_ID_LEN, HBR_CHUNK_ID_LEN) >= 0)
			goto sort;
	return n;
sort:
	qsort(ids, n, HBR_CHUNK_ID_LEN, cmp_id);
	for (size_t i = 0; i < n; i++)
		if (!k || memcmp(ids + (k - 1) * HBR_CHUNK_ID_LEN,
		                 ids + i * HBR_CHUNK_ID_LEN, HBR_CHUNK_ID_LEN))
			memmove(ids + k++ * HBR_CHUNK_ID_LEN,
			        ids + i * HBR_CHUNK_ID_LEN, HBR_CHUNK_ID_LEN);
	return k;
}

static void held_merge(struct held *h, const uint8_t *ids, size_t n)
{
	uint8_t *out = hbr_malloc((h->n + n) * HBR_CHUNK_ID_LEN + 1);
	uint32_t *counts = hbr_malloc((h->n + n) * sizeof(*counts) + 1);
	size_t i = 0, j = 0, k = 0;

	while (i < h->n || j < n) {
		int c = i == h->n ? 1 :
		        j == n    ? -1 :
		                    memcmp(h->ids + i * HBR_CHUNK_ID_LEN,
		                           ids + j * HBR_CHUNK_ID_LEN,
		                           HBR_CHUNK_ID_LEN);

		memcpy(out + k * HBR_CHUNK_ID_LEN,
		       c <= 0 ? h->ids + i * HBR_CHUNK_ID_LEN :
		                ids + j * HBR_CHUNK_ID_LEN,
		       HBR_CHUNK_ID_LEN);
		counts[k] = (c <= 0 ? h->counts[i] : 0) + (c >= 0);
		i += c <= 0;
		j += c >= 0;
		k++;
	}
	hbr_free(h->ids);
	hbr_free(h->counts);
	h->ids = out;
	h->counts = counts;
	h->n = k;
}

/* An entry of the clients' lists side by side. */
struct pair {
	const uint8_t *id;
	uint32_t client, count;
};

static int cmp_pair(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	int c = memcmp(x->id, y->id, HBR_CHUNK_ID_LEN);

	if (c)
		return c;
	return x->client < y->client ? -1 : x->client > y->client;
}

void hbr_excl_truth_free(struct hbr_excl_truth *t)
{
	if (!t)
		return;
	hbr_free((void *)t->refs.ids);
	hbr_free((void *)t->refs.first);
	hbr_free((void *)t->refs.by);
	hbr_free((void *)t->refs.clients);
	memset(t, 0, sizeof(*t));
}

/* The clients' lists as one: sorted distinct ids, (client, count) runs. */
static void side_by_side(struct hbr_excl_truth *out, const struct held *h,
                         size_t nclients)
{
	struct pair *pairs;
	uint8_t *ids;
	size_t *first;
	struct hbr_gc_ref *by;
	size_t np = 0, n = 0;

	for (size_t c = 0; c < nclients; c++)
		np += h[c].n;
	pairs = hbr_malloc((np ? np : 1) * sizeof(*pairs));
	np = 0;
	for (size_t c = 0; c < nclients; c++)
		for (size_t i = 0; i < h[c].n; i++)
			pairs[np++] =
			        (struct pair){ h[c].ids + i * HBR_CHUNK_ID_LEN,
				               (uint32_t)c, h[c].counts[i] };
	if (np)
		qsort(pairs, np, sizeof(*pairs), cmp_pair);
	ids = hbr_malloc((np ? np : 1) * HBR_CHUNK_ID_LEN);
	first = hbr_malloc((np + 1) * sizeof(*first));
	by = hbr_malloc((np ? np : 1) * sizeof(*by));
	for (size_t i = 0; i < np; i++) {
		if (!i ||
		    memcmp(pairs[i - 1].id, pairs[i].id, HBR_CHUNK_ID_LEN)) {
			memcpy(ids + n * HBR_CHUNK_ID_LEN, pairs[i].id,
			       HBR_CHUNK_ID_LEN);
			first[n++] = i;
		}
		by[i] = (struct hbr_gc_ref){ pairs[i].client, pairs[i].count };
	}
	first[n] = np;
	hbr_free(pairs);
	out->refs.ids = ids;
	out->refs.first = first;
	out->refs.by = by;
	out->refs.n = n;
}

static uint32_t client_of(char (*clients)[HBR_ID_MAX], size_t *n,
                          const char *client)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(clients[i], client))
			return (uint32_t)i;
	memcpy(clients[*n], client, strlen(client) + 1);
	return (uint32_t)(*n)++;
}

int hbr_excl_truth_count(struct hbr_excl_truth *out, bool *complete_out,
                         char *missing, struct hbr_vault *v,
                         const struct hbr_excl_sources *src)
{
	char(*clients)[HBR_ID_MAX] =
	        hbr_calloc(src->n ? src->n : 1, sizeof(*clients));
	struct held *h = hbr_calloc(src->n ? src->n : 1, sizeof(*h));
	size_t nclients = 0;
	bool complete = true;
	int error = 0;

	memset(out, 0, sizeof(*out));
	missing[0] = '\0';
	for (size_t i = 0; i < src->n && !error; i++) {
		const struct hbr_excl_source *e = &src->list[i];
		char key[sizeof("refs/") + HBR_ID_MAX];
		struct hbr_buf obj = HBR_BUF_INIT;
		uint32_t c = client_of(clients, &nclients, e->client_id);
		uint8_t *ids;
		size_t n, k = 0;

		(void)snprintf(key, sizeof(key), "refs/%s", e->snapshot_id);
		error = hbr_vault_get(&obj, v, key, HBR_REFS_OBJECT_MAX);
		if (error == HBR_ENOTFOUND) {
			error = 0;
			if (!e->queued && complete) {
				complete = false;
				(void)snprintf(missing, HBR_ID_MAX, "%s",
				               e->snapshot_id);
			}
			continue;
		}
		if (error < 0)
			break;
		if (obj.len % HBR_CHUNK_ID_LEN) {
			error = hbr_error_set(
			        HBR_ECORRUPT,
			        "%s: %zu bytes is not a list of ids", key,
			        obj.len);
			hbr_buf_release(&obj);
			break;
		}
		ids = (uint8_t *)obj.ptr;
		n = normalize(ids, obj.len / HBR_CHUNK_ID_LEN);
		/* What the batch in progress lowered is no longer held. */
		for (size_t j = 0; j < n; j++)
			if (!e->in_batch ||
			    !hbr_excl_applied(src, ids + j * HBR_CHUNK_ID_LEN))
				memmove(ids + k++ * HBR_CHUNK_ID_LEN,
				        ids + j * HBR_CHUNK_ID_LEN,
				        HBR_CHUNK_ID_LEN);
		held_merge(&h[c], ids, k);
		hbr_buf_release(&obj);
	}
	if (!error) {
		side_by_side(out, h, nclients);
		out->refs.clients = (const char(*)[HBR_ID_MAX])clients;
		out->nclients = nclients;
		clients = NULL;
		*complete_out = complete;
	}
	for (size_t c = 0; c < nclients; c++) {
		hbr_free(h[c].ids);
		hbr_free(h[c].counts);
	}
	hbr_free(h);
	hbr_free(clients);
	return error;
}

int hbr_reclaim_recount(bool *done_out, struct hbr_store *s,
                        struct hbr_vault *v, const char *vault_id)
{
	*done_out = false;
	for (int tries = 0; tries < RECOUNT_TRIES; tries++) {
		struct hbr_excl_sources src;
		struct hbr_excl_truth t = { 0 };
		char missing[HBR_ID_MAX];
		bool complete = true;
		int error;

		if ((error = hbr_store_excl_sources(&src, s, vault_id)) < 0)
			return error;
		if (!src.recount || src.batch) {
			/* Done, or after the batch: it lowers counts the
			 * recount would have to follow. */
			*done_out = !src.recount;
			hbr_excl_sources_free(&src);
			return 0;
		}
		if ((error = hbr_excl_truth_count(&t, &complete, missing, v,
		                                  &src)) == 0)
			error = hbr_store_excl_recount(s, vault_id, &src, &t);
		hbr_excl_truth_free(&t);
		hbr_excl_sources_free(&src);
		if (error == HBR_ECONFLICT)
			continue;
		if (error < 0)
			return error;
		if (!complete)
			hbr_log_warn("reclaim: vault %s: snapshot %s has no"
			             " refs object; the recount of who holds"
			             " its chunks went without it",
			             vault_id, missing);
		hbr_log_info("reclaim: vault %s: exclusive bytes recounted",
		             vault_id);
		*done_out = true;
		return 0;
	}
	return 0;
}

int hbr_reclaim_check_exclusive(struct hbr_excl_check *out, struct hbr_store *s,
                                struct hbr_vault *v, const char *vault_id,
                                hbr_excl_client_cb *cb, void *payload)
{
	struct hbr_excl_sources src;
	struct hbr_excl_truth t = { 0 };
	bool complete = true;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = hbr_store_excl_sources(&src, s, vault_id)) < 0)
		return error;
	out->pending = src.recount;
	if ((error = hbr_excl_truth_count(&t, &complete, out->missing, v,
	                                  &src)) == 0 &&
	    complete) {
		out->verified = true;
		error = hbr_store_excl_verify(&out->verdict, s, vault_id, &t,
		                              cb, payload);
	}
	hbr_excl_truth_free(&t);
	hbr_excl_sources_free(&src);
	return error;
}
