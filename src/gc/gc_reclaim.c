/*
 * The reclaimer (gc_reclaim.h). Every step below is either one store
 * transaction or an idempotent vault operation whose intent a committed
 * row already records, so a kill -9 anywhere leaves a state the next
 * pass finishes (docs/RECLAMATION.md, "Crash safety").
 */
#include "common.h"
#include <pthread.h>
#include <time.h>
#include "core/pack.h"
#include "gc/gc_exclusive.h"
#include "gc/gc_reclaim.h"
#include "store/store_data.h"
#include "store/store_reclaim.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/crashpoint.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "vault/vault.h"

/* Snapshots per batch: their refs objects are read into memory whole. */
#define BATCH_SNAPSHOTS 32
/* Largest refs object read: any a commit may write. */
#define REFS_MAX HBR_REFS_OBJECT_MAX
/* Decrements per transaction: milliseconds of writer time. */
#define STEP_IDS 5000
/* Packs looked at per vault per pass. */
#define PACKS_PER_PASS 512
/* A 'writing' pack this old was cut by a crash or refused. */
#define STALE_WRITING_S 3600
/* Batches another reclaimer may take from under one pass before it
 * leaves the vault to that one. */
#define CONFLICTS_MAX 100
/* How often hbrd looks for refs objects no snapshot names. */
#define SWEEP_S 3600
/* Longest wait for the purge before a pass (see run()), and how often
 * it is asked whether it is done: a poll is one read of a small table,
 * and a coarser one was dead time between the purge and the pass. */
#define COALESCE_MS      250
#define COALESCE_POLL_MS 1
/* Chunk rows of a deleted vault per transaction. */
#define FORGET_ROWS 10000

static void report(const struct hbr_reclaim_config *cfg, const char *vault_id,
                   const char *step, const struct hbr_reclaim_stats *st)
{
	if (cfg->progress)
		cfg->progress(vault_id, step, st, cfg->payload);
}

static int open_vault(struct hbr_vault **out,
                      const struct hbr_reclaim_config *cfg,
                      const char *vault_id)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/vaults/%s", cfg->data_dir,
	                     vault_id) >= sizeof(path))
		return hbr_error_set(HBR_EINVAL, "data dir path too long");
	return hbr_vault_local_open(out, path);
}

/* The batch's references, aggregated: sorted distinct ids, and for
 * each the (client, count) runs (struct hbr_gc_dec). */
struct gathered {
	uint8_t *ids;
	size_t *first; /* n + 1 */
	struct hbr_gc_ref *by;
	char (*clients)[HBR_ID_MAX];
	size_t n, nclients;
};

static void gathered_free(struct gathered *g)
{
	hbr_free(g->ids);
	hbr_free(g->first);
	hbr_free(g->by);
	hbr_free(g->clients);
	memset(g, 0, sizeof(*g));
}

static uint32_t client_index(struct gathered *g, const char *client)
{
	/* A batch holds at most BATCH_SNAPSHOTS snapshots: few clients. */
	for (size_t i = 0; i < g->nclients; i++)
		if (!strcmp(g->clients[i], client))
			return (uint32_t)i;
	memcpy(g->clients[g->nclients], client, strlen(client) + 1);
	return (uint32_t)g->nclients++;
}

/* One refs object being merged: its ids, and the next one to take. */
struct run {
	struct hbr_buf obj;
	const uint8_t *ids;
	size_t pos, n;
	/* The head's first 8 bytes as a big-endian number: ids are hashes,
	 * so comparing them nearly always ends here, without memcmp. */
	uint64_t key;
	uint32_t client; /* index into gathered.clients */
};

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, HBR_CHUNK_ID_LEN);
}

static const uint8_t *run_head(const struct run *r)
{
	return r->ids + r->pos * HBR_CHUNK_ID_LEN;
}

static void run_key(struct run *r)
{
	const uint8_t *p = run_head(r);

	r->key = 0;
	for (int i = 0; i < 8; i++)
		r->key = r->key << 8 | p[i];
}

/* Heads in id order (memcmp's). */
static int cmp_heads(const struct run *a, const struct run *b)
{
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return memcmp(run_head(a), run_head(b), HBR_CHUNK_ID_LEN);
}

/* A commit writes its ids sorted and distinct; an object that is not
 * (damage, or a writer other than ours) is sorted here, its repeats
 * dropped, so each snapshot still counts a chunk once. */
static void run_normalize(struct run *r)
{
	uint8_t *ids = (uint8_t *)r->obj.ptr;
	size_t k = 0;

	for (size_t i = 1; i < r->n; i++)
		if (memcmp(ids + (i - 1) * HBR_CHUNK_ID_LEN,
		           ids + i * HBR_CHUNK_ID_LEN, HBR_CHUNK_ID_LEN) >= 0)
			goto sort;
	return;
sort:
	qsort(ids, r->n, HBR_CHUNK_ID_LEN, cmp_id);
	for (size_t i = 0; i < r->n; i++)
		if (!k ||
		    memcmp(ids + (k - 1) * HBR_CHUNK_ID_LEN,
		           ids + i * HBR_CHUNK_ID_LEN, HBR_CHUNK_ID_LEN)) {
			memmove(ids + k * HBR_CHUNK_ID_LEN,
			        ids + i * HBR_CHUNK_ID_LEN, HBR_CHUNK_ID_LEN);
			k++;
		}
	r->n = k;
}

/* heap[0..n) is a min-heap of runs by head id, but for heap[at]. */
static void sift_down(struct run **heap, size_t n, size_t at)
{
	struct run *r = heap[at];

	for (;;) {
		size_t c = 2 * at + 1;

		if (c >= n)
			break;
		if (c + 1 < n && cmp_heads(heap[c + 1], heap[c]) < 0)
			c++;
		if (cmp_heads(heap[c], r) >= 0)
			break;
		heap[at] = heap[c];
		at = c;
	}
	heap[at] = r;
}

/*
 * Every reference of the batch's snapshots, as sorted distinct ids with
 * per-client counts (a resumed batch starts past its cursor). Each refs object
 * is sorted already, so they are merged (a heap of up to BATCH_SNAPSHOTS runs)
 * rather than concatenated and sorted: each reference costs a few
 * comparisons, and memory is the objects themselves (32 bytes per
 * reference) plus the result. A snapshot without a refs object
 * (committed before the data plane, or never uploaded) named nothing.
 */
static int gather(struct gathered *g, struct hbr_vault *v,
                  const struct hbr_gc_batch *b)
{
	struct run *runs = hbr_calloc(b->n ? b->n : 1, sizeof(*runs));
	struct run **heap = hbr_calloc(b->n ? b->n : 1, sizeof(*heap));
	uint32_t counts[BATCH_SNAPSHOTS] = { 0 }, touched[BATCH_SNAPSHOTS];
	size_t nruns = 0, nheap = 0, total = 0, nby = 0;
	int error = 0;

	HBR_ASSERT(b->n <= BATCH_SNAPSHOTS);
	memset(g, 0, sizeof(*g));
	g->clients = hbr_calloc(b->n ? b->n : 1, sizeof(*g->clients));
	for (size_t i = 0; i < b->n; i++) {
		char key[sizeof("refs/") + HBR_ID_MAX];
		struct run *r = &runs[nruns];

		r->client = client_index(g, b->clients[i]);
		(void)snprintf(key, sizeof(key), "refs/%s", b->snapshots[i]);
		error = hbr_vault_get(&r->obj, v, key, REFS_MAX);
		if (error == HBR_ENOTFOUND) {
			error = 0;
			continue;
		}
		if (error < 0)
			goto out;
		nruns++;
		if (r->obj.len % HBR_CHUNK_ID_LEN) {
			error = hbr_error_set(
			        HBR_ECORRUPT,
			        "%s: %zu bytes is not a list of ids", key,
			        r->obj.len);
			goto out;
		}
		r->ids = (const uint8_t *)r->obj.ptr;
		r->n = r->obj.len / HBR_CHUNK_ID_LEN;
		run_normalize(r);
		if (r->n) {
			total += r->n;
			run_key(r);
			heap[nheap++] = r;
		}
	}
	for (size_t i = nheap / 2; i-- > 0;)
		sift_down(heap, nheap, i);
	/* Distinct ids and (id, client) pairs are each at most the
	 * references; untouched pages of these cost nothing. */
	g->ids = hbr_malloc(total ? total * HBR_CHUNK_ID_LEN : 1);
	g->first = hbr_malloc((total + 1) * sizeof(*g->first));
	g->by = hbr_malloc((total ? total : 1) * sizeof(*g->by));
	while (nheap) {
		uint8_t *id = g->ids + g->n * HBR_CHUNK_ID_LEN;
		uint64_t key = heap[0]->key;
		size_t nt = 0;

		memcpy(id, run_head(heap[0]), HBR_CHUNK_ID_LEN);
		g->first[g->n++] = nby;
		/* Take the id from every run whose head it is. */
		while (nheap && heap[0]->key == key &&
		       !memcmp(run_head(heap[0]), id, HBR_CHUNK_ID_LEN)) {
			struct run *r = heap[0];

			if (!counts[r->client]++)
				touched[nt++] = r->client;
			if (++r->pos == r->n)
				heap[0] = heap[--nheap];
			else
				run_key(r);
			if (nheap)
				sift_down(heap, nheap, 0);
		}
		for (size_t i = 0; i < nt; i++) {
			g->by[nby].client = touched[i];
			g->by[nby++].count = counts[touched[i]];
			counts[touched[i]] = 0;
		}
	}
	g->first[g->n] = nby;
out:
	for (size_t i = 0; i < nruns; i++)
		hbr_buf_release(&runs[i].obj);
	hbr_free(runs);
	hbr_free(heap);
	if (error < 0)
		gathered_free(g);
	return error;
}

/* All in one directory: one sync for the batch, not one per object. */
static void remove_refs(struct hbr_vault *v, const struct hbr_gc_batch *b)
{
	char(*keys)[sizeof("refs/") + HBR_ID_MAX] =
	        hbr_calloc(b->n ? b->n : 1, sizeof(*keys));
	const char **list = hbr_calloc(b->n ? b->n : 1, sizeof(*list));

	for (size_t i = 0; i < b->n; i++) {
		(void)snprintf(keys[i], sizeof(keys[i]), "refs/%s",
		               b->snapshots[i]);
		list[i] = keys[i];
	}
	if (b->n && hbr_vault_remove_many(v, list, b->n) < 0)
		hbr_log_warn("reclaim: %s", hbr_error_msg());
	hbr_free(keys);
	hbr_free(list);
}

/* Ids phase 1 checks per read transaction (a bool each, and a step's
 * rows when few are candidates). */
#define ZERO_WINDOW 32768

static int collect_packs(struct hbr_reclaim_stats *st, struct hbr_store *s,
                         struct hbr_vault *v, const char *vault_id,
                         const struct hbr_reclaim_config *cfg, bool rewrite);

/* The gathered ids i..i+n as a step. */
static struct hbr_gc_dec dec_of(const struct gathered *g, size_t i, size_t n)
{
	return (struct hbr_gc_dec){
		.ids = g->ids + i * HBR_CHUNK_ID_LEN,
		.first = g->first + i,
		.by = g->by,
		.clients = (const char(*)[HBR_ID_MAX])g->clients,
		.n = n,
	};
}

/* The first gathered id past the batch's cursor (in its phase). */
static size_t past_cursor(const struct gathered *g,
                          const struct hbr_gc_batch *b)
{
	size_t lo = 0, hi = g->n;

	while (b->has_cursor && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(g->ids + mid * HBR_CHUNK_ID_LEN, b->cursor,
		           HBR_CHUNK_ID_LEN) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void add_step(struct hbr_reclaim_stats *st,
                     const struct hbr_gc_step *out)
{
	st->decrements += out->lowered;
	st->chunks_freed += out->zeroed;
}

/*
 * Phase 1: the chunks the batch takes to 0. Which ones is read outside
 * any transaction, a window at a time; each step's transaction then
 * reads and lowers only those (at most STEP_IDS of them), so the
 * writer is held for what is freed, not for every chunk named.
 */
static int zero_pass(struct hbr_reclaim_stats *st, struct hbr_store *s,
                     const char *vault_id, const struct hbr_gc_batch *b,
                     const struct gathered *g,
                     const struct hbr_reclaim_config *cfg)
{
	bool *cand = hbr_calloc(ZERO_WINDOW, sizeof(*cand));
	int64_t now = hbr_time_now();
	uint64_t t_cand = 0, t_dec = 0, t;
	size_t ncand = 0;
	int error = 0;

	for (size_t i = past_cursor(g, b); i < g->n && !error;) {
		size_t wn = g->n - i < ZERO_WINDOW ? g->n - i : ZERO_WINDOW;
		struct hbr_gc_dec w = dec_of(g, i, wn);

		t = hbr_time_mono_ns();
		error = hbr_store_gc_zero_candidates(cand, s, vault_id, &w);
		t_cand += hbr_time_mono_ns() - t;
		t = hbr_time_mono_ns();
		for (size_t k = 0; k < wn; k++)
			ncand += cand[k];
		for (size_t k = 0; k < wn && !error;) {
			struct hbr_gc_step out = { 0 };
			struct hbr_gc_dec d;
			size_t j = k, c = 0;

			while (j < wn && c < STEP_IDS)
				c += cand[j++];
			d = dec_of(g, i + k, j - k);
			error = hbr_store_gc_decrement(&out, s, vault_id, b, &d,
			                               cand + k, now);
			hbr_crashpoint("reclaim: zero step");
			if (!error) {
				add_step(st, &out);
				report(cfg, vault_id, "decrement", st);
			}
			k = j;
		}
		t_dec += hbr_time_mono_ns() - t;
		i += wn;
	}
	hbr_free(cand);
	hbr_log_debug("reclaim: phase 1: %zu candidates of %zu chunks found in"
	              " %.3f s, lowered in %.3f s",
	              ncand, g->n, (double)t_cand / 1e9, (double)t_dec / 1e9);
	return error;
}

/* Phase 2: every other chunk the batch names, STEP_IDS per step. */
static int rest_pass(struct hbr_reclaim_stats *st, struct hbr_store *s,
                     const char *vault_id, const struct hbr_gc_batch *b,
                     const struct gathered *g,
                     const struct hbr_reclaim_config *cfg)
{
	int64_t now = hbr_time_now();
	int error = 0;

	for (size_t i = past_cursor(g, b); i < g->n && !error; i += STEP_IDS) {
		struct hbr_gc_step out = { 0 };
		struct hbr_gc_dec d =
		        dec_of(g, i, g->n - i < STEP_IDS ? g->n - i : STEP_IDS);

		error = hbr_store_gc_decrement(&out, s, vault_id, b, &d, NULL,
		                               now);
		hbr_crashpoint("reclaim: decrement step");
		if (!error) {
			add_step(st, &out);
			report(cfg, vault_id, "decrement", st);
		}
	}
	return error;
}

/*
 * Apply one batch: phase 1, then the packs it emptied go (that is when
 * the space is back), then phase 2. The counts that stay above 0 are
 * lowered after the space is given back: they free nothing, and most
 * of the rows a deletion touches are theirs.
 */
static int apply_batch(struct hbr_reclaim_stats *st, struct hbr_store *s,
                       struct hbr_vault *v, const char *vault_id,
                       struct hbr_gc_batch *b,
                       const struct hbr_reclaim_config *cfg)
{
	struct gathered g = { 0 };
	uint64_t t0 = hbr_time_mono_ns(), t1, t2 = 0, t3 = 0;
	int error;

	if ((error = gather(&g, v, b)) < 0)
		return error;
	t1 = hbr_time_mono_ns();
	if (b->phase == HBR_GC_PHASE_ZERO) {
		/* A checkpoint in these commits would copy pages the space
		 * coming back does not wait for; it runs right after. */
		hbr_store_hold_checkpoints(s, true);
		if ((error = zero_pass(st, s, vault_id, b, &g, cfg)) == 0)
			error = hbr_store_gc_batch_zeroed(s, vault_id, b);
		hbr_crashpoint("reclaim: batch zeroed");
		t2 = hbr_time_mono_ns();
		if (!error)
			error = collect_packs(st, s, v, vault_id, cfg, false);
		t3 = hbr_time_mono_ns();
		hbr_store_hold_checkpoints(s, false);
	}
	if (!error)
		error = rest_pass(st, s, vault_id, b, &g, cfg);
	hbr_log_debug("reclaim: %zu snapshots, %zu chunks: gathered in %.3f s,"
	              " phase 1 %.3f s, its packs %.3f s, phase 2 %.3f s",
	              b->n, g.n, (double)(t1 - t0) / 1e9,
	              t2 ? (double)(t2 - t1) / 1e9 : 0.0,
	              t3 ? (double)(t3 - t2) / 1e9 : 0.0,
	              (double)(hbr_time_mono_ns() - (t3 ? t3 : t1)) / 1e9);
	gathered_free(&g);
	return error;
}

/* Apply the vault's queued deletions, batch after batch. Another
 * reclaimer working on the vault at the same time makes a step answer
 * HBR_ECONFLICT (store_reclaim.h): it moved the batch on, so open it
 * again from where it got; past CONFLICTS_MAX such turns leave the
 * vault to it. */
static int apply_deletions(struct hbr_reclaim_stats *st, struct hbr_store *s,
                           struct hbr_vault *v, const char *vault_id,
                           const struct hbr_reclaim_config *cfg)
{
	for (int conflicts = 0;;) {
		struct hbr_gc_batch b;
		int error = 0;

		if ((error = hbr_store_gc_batch_open(&b, s, vault_id,
		                                     BATCH_SNAPSHOTS)) < 0)
			return error;
		if (!b.n && !b.first_id) {
			hbr_gc_batch_free(&b);
			return 0;
		}
		hbr_crashpoint("reclaim: batch opened");
		if (!b.done) {
			if ((error = apply_batch(st, s, v, vault_id, &b,
			                         cfg)) == 0)
				error = hbr_store_gc_batch_done(s, vault_id,
				                                &b);
			hbr_crashpoint("reclaim: batch applied");
		}
		if (!error) {
			remove_refs(v, &b);
			hbr_crashpoint("reclaim: refs removed");
			error = hbr_store_gc_batch_close(s, vault_id, &b);
			hbr_crashpoint("reclaim: batch closed");
		}
		if (!error) {
			st->snapshots += (int64_t)b.n;
			report(cfg, vault_id, "batch", st);
		}
		hbr_gc_batch_free(&b);
		if (error == HBR_ECONFLICT && ++conflicts <= CONFLICTS_MAX)
			continue;
		if (error == HBR_ECONFLICT)
			return 0;
		if (error < 0)
			return error;
	}
}

/* The object of a pack whose row says it is going: remove, forget. */
static int finish_pack(struct hbr_reclaim_stats *st, struct hbr_store *s,
                       struct hbr_vault *v, const char *vault_id,
                       const char *pack_id, int64_t bytes)
{
	char key[HBR_PACK_KEY_MAX];
	int error;

	hbr_pack_key(key, pack_id);
	if ((error = hbr_vault_remove(v, key)) < 0)
		return error;
	hbr_crashpoint("reclaim: pack object removed");
	if ((error = hbr_store_gc_pack_forget(s, vault_id, pack_id)) < 0)
		return error;
	st->packs_removed++;
	st->bytes_freed += bytes;
	return 0;
}

/*
 * Copy a pack's referenced chunks into a new pack and switch the rows
 * over; the old object goes once no row points at it. A pack holding a
 * protected dead chunk is left for a later pass.
 */
static int rewrite_pack(struct hbr_reclaim_stats *st, struct hbr_store *s,
                        struct hbr_vault *v, const char *vault_id,
                        const struct hbr_gc_pack *p, int64_t now,
                        int64_t cutoff)
{
	char key[HBR_PACK_KEY_MAX], new_id[HBR_PACK_NAME_LEN + 1],
	        new_key[HBR_PACK_KEY_MAX];
	struct hbr_buf obj = HBR_BUF_INIT, out = HBR_BUF_INIT;
	struct hbr_pack_view view = { 0 };
	struct hbr_pack_writer w;
	struct hbr_gc_chunk *rows = NULL, *copied = NULL;
	size_t nrows = 0, ncopied = 0, hlen = 0;
	bool switched = false;
	int error;

	if ((error = hbr_pack_writer_init(&w)) < 0)
		return error;
	hbr_pack_key(key, p->pack_id);
	if ((error = hbr_store_gc_pack_chunks(&rows, &nrows, s, vault_id,
	                                      p->pack_id)) < 0)
		goto out;
	if ((error = hbr_vault_get(&obj, v, key, HBR_PACK_MAX_BYTES)) ==
	    HBR_ENOTFOUND) {
		/* Another reclaimer (hbrd's, or `hbrd vault gc`) may have
		 * rewritten or dropped it since the list was read: then no
		 * row names it any more, and there is nothing to do. A pack
		 * rows still name is missing for real. */
		hbr_free(rows);
		rows = NULL;
		if ((error = hbr_store_gc_pack_chunks(
		             &rows, &nrows, s, vault_id, p->pack_id)) == 0 &&
		    nrows != 0)
			error = hbr_error_set(
			        HBR_ENOTFOUND,
			        "pack %s is missing from the vault",
			        p->pack_id);
		goto out;
	}
	if (error < 0 || (error = hbr_pack_parse(&view, obj.ptr, obj.len)) < 0)
		goto out;
	copied = hbr_calloc(nrows ? nrows : 1, sizeof(*copied));
	for (size_t i = 0; i < nrows; i++) {
		const struct hbr_pack_entry *e = NULL;

		if (rows[i].refs <= 0) {
			if (rows[i].dead_since >= cutoff)
				goto out; /* protected: not this pass */
			continue;
		}
		for (uint32_t k = 0; k < view.count && !e; k++)
			if (view.entries[k].offset == rows[i].offset &&
			    !memcmp(view.entries[k].id, rows[i].id,
			            HBR_CHUNK_ID_LEN))
				e = &view.entries[k];
		if (!e) {
			error = hbr_error_set(HBR_ECORRUPT,
			                      "pack %s lacks a chunk its rows"
			                      " name",
			                      p->pack_id);
			goto out;
		}
		/* Where it lands in the data part; the header's size is
		 * added once known. */
		copied[ncopied] = rows[i];
		copied[ncopied].offset = w.data.len;
		if ((error = hbr_pack_writer_add_stored(
		             &w, e, view.data + e->offset)) < 0)
			goto out;
		ncopied++;
	}
	if (!ncopied) {
		/* Everything died since the pass listed it: drop it whole. */
		bool dropped = false;

		if ((error = hbr_store_gc_pack_drop(&dropped, s, vault_id,
		                                    p->pack_id, now)) < 0 ||
		    !dropped)
			goto out;
		error = finish_pack(st, s, v, vault_id, p->pack_id, p->bytes);
		goto out;
	}
	if ((error = hbr_pack_writer_finish(&out, &hlen, &w)) < 0)
		goto out;
	for (size_t i = 0; i < ncopied; i++)
		copied[i].offset += hlen;
	hbr_pack_new_id(new_id);
	hbr_pack_key(new_key, new_id);
	if ((error = hbr_store_pack_begin(s, vault_id, new_id, (int64_t)out.len,
	                                  hbr_time_now())) < 0)
		goto out;
	hbr_crashpoint("reclaim: rewrite begun");
	if ((error = hbr_vault_put(v, new_key, out.ptr, out.len)) < 0)
		goto out;
	hbr_crashpoint("reclaim: rewritten pack written");
	if ((error = hbr_store_gc_pack_switch(&switched, s, vault_id,
	                                      p->pack_id, new_id, copied,
	                                      ncopied, now)) < 0)
		goto out;
	hbr_crashpoint("reclaim: rows switched");
	if (!switched) {
		/* Something was revived meanwhile: undo the copy. */
		if ((error = hbr_vault_remove(v, new_key)) == 0)
			error = hbr_store_gc_pack_forget(s, vault_id, new_id);
		goto out;
	}
	st->packs_rewritten++;
	if ((error = finish_pack(st, s, v, vault_id, p->pack_id, p->bytes)) ==
	    0)
		st->bytes_freed -= (int64_t)out.len;
out:
	hbr_pack_writer_free(&w);
	hbr_pack_view_free(&view);
	hbr_buf_release(&obj);
	hbr_buf_release(&out);
	hbr_free(rows);
	hbr_free(copied);
	return error;
}

/*
 * Packs whose every chunk is dead go together: one transaction drops
 * their rows, one batch of removals (a sync per directory) takes the
 * objects, one transaction forgets them. Deleting a client's data empties
 * dozens of packs at once, and one sync each was most of the time.
 */
static int remove_packs(struct hbr_reclaim_stats *st, struct hbr_store *s,
                        struct hbr_vault *v, const char *vault_id,
                        const struct hbr_gc_pack *packs, bool *gone, size_t n)
{
	char(*keys)[HBR_PACK_KEY_MAX] = hbr_calloc(n ? n : 1, sizeof(*keys));
	const char **list = hbr_calloc(n ? n : 1, sizeof(*list));
	size_t k = 0;
	int error;

	for (size_t i = 0; i < n; i++)
		if (gone[i]) {
			hbr_pack_key(keys[k], packs[i].pack_id);
			list[k] = keys[k];
			k++;
		}
	if (!k) {
		/* Nothing to remove: no transaction, no crash point (the crash
		 * tests count only points where something happens). */
		hbr_free(keys);
		hbr_free(list);
		return 0;
	}
	uint64_t t0 = hbr_time_mono_ns(), t1 = t0;

	if ((error = hbr_vault_remove_many(v, list, k)) == 0) {
		hbr_crashpoint("reclaim: pack objects removed");
		t1 = hbr_time_mono_ns();
		error = hbr_store_gc_packs_forget(s, vault_id, packs, gone, n);
	}
	hbr_log_debug("reclaim: %zu pack objects removed in %.3f s, rows in"
	              " %.3f s",
	              k, (double)(t1 - t0) / 1e9,
	              (double)(hbr_time_mono_ns() - t1) / 1e9);
	for (size_t i = 0; i < n && !error; i++)
		if (gone[i]) {
			st->packs_removed++;
			st->bytes_freed += packs[i].bytes;
		}
	hbr_free(keys);
	hbr_free(list);
	return error;
}

/* Drop the vault's empty packs and remove the objects of those going;
 * with rewrite, also rewrite the packs under half live. */
static int collect_packs(struct hbr_reclaim_stats *st, struct hbr_store *s,
                         struct hbr_vault *v, const char *vault_id,
                         const struct hbr_reclaim_config *cfg, bool rewrite)
{
	struct hbr_gc_pack *packs = NULL;
	bool *gone = NULL;
	size_t n = 0, nempty = 0;
	int64_t now = hbr_time_now(), cutoff = 0;
	int error;

	if ((error = hbr_store_gc_cutoff(&cutoff, s, vault_id, now)) < 0 ||
	    (error = hbr_store_gc_packs(&packs, &n, s, vault_id, cutoff,
	                                now - STALE_WRITING_S,
	                                PACKS_PER_PASS)) < 0)
		return error;
	gone = hbr_calloc(n ? n : 1, sizeof(*gone));
	/* Empty live packs first, to the front, then dropped together. */
	for (size_t i = 0; i < n; i++)
		if (!strcmp(packs[i].state, "live") &&
		    packs[i].live_bytes == 0) {
			struct hbr_gc_pack t = packs[nempty];
			packs[nempty] = packs[i];
			packs[i] = t;
			nempty++;
		}
	if (nempty) {
		if ((error = hbr_store_gc_packs_drop(gone, s, vault_id, packs,
		                                     nempty, now)) < 0)
			goto out;
		for (size_t i = 0; i < nempty; i++)
			if (gone[i]) {
				hbr_crashpoint("reclaim: packs dropped");
				break;
			}
	}
	/* 'deleting' and stale 'writing' packs only need their object gone. */
	for (size_t i = nempty; i < n; i++)
		gone[i] = strcmp(packs[i].state, "live") != 0;
	if ((error = remove_packs(st, s, v, vault_id, packs, gone, n)) < 0)
		goto out;
	report(cfg, vault_id, "packs", st);
	for (size_t i = nempty; i < n && rewrite && !error; i++) {
		if (gone[i])
			continue;
		error = rewrite_pack(st, s, v, vault_id, &packs[i], now,
		                     cutoff);
		if (!error)
			report(cfg, vault_id, "pack", st);
	}
out:
	hbr_free(gone);
	hbr_free(packs);
	return error;
}

struct refs_list {
	char (*ids)[HBR_ID_MAX];
	uint64_t *sizes;
	size_t n, cap, scap;
};

static int on_refs(const char *key, uint64_t size, void *payload)
{
	struct refs_list *l = payload;
	const char *id = key + strlen("refs/");

	if (strncmp(key, "refs/", 5) || strlen(id) >= HBR_ID_MAX)
		return 0;
	hbr_grow((void **)&l->ids, &l->cap, l->n + 1, sizeof(*l->ids));
	hbr_grow((void **)&l->sizes, &l->scap, l->n + 1, sizeof(*l->sizes));
	memcpy(l->ids[l->n], id, strlen(id) + 1);
	l->sizes[l->n++] = size;
	return 0;
}

/*
 * Refs objects that name no snapshot: a commit killed between writing
 * its refs object and its transaction. They are listed first and the
 * rows read after, so an object of a commit in flight either has its
 * row by then or its job is still RUNNING, and while a backup of the
 * vault runs nothing is removed (store_reclaim.h).
 */
static int sweep_orphans(struct hbr_reclaim_stats *st, struct hbr_store *s,
                         struct hbr_vault *v, const char *vault_id)
{
	struct refs_list l = { 0 };
	bool *orphan = NULL, running = false;
	int error;

	if ((error = hbr_vault_list(v, "refs/", on_refs, &l)) < 0 || !l.n)
		goto out;
	orphan = hbr_calloc(l.n, sizeof(*orphan));
	if ((error = hbr_store_gc_orphan_refs(orphan, &running, s, vault_id,
	                                      (const char(*)[HBR_ID_MAX])l.ids,
	                                      l.n)) < 0 ||
	    running)
		goto out;
	for (size_t i = 0; i < l.n && !error; i++) {
		char key[sizeof("refs/") + HBR_ID_MAX];

		if (!orphan[i])
			continue;
		(void)snprintf(key, sizeof(key), "refs/%s", l.ids[i]);
		if ((error = hbr_vault_remove(v, key)) == 0) {
			st->orphans_removed++;
			st->bytes_freed += (int64_t)l.sizes[i];
		}
	}
out:
	hbr_free(l.ids);
	hbr_free(l.sizes);
	hbr_free(orphan);
	return error;
}

static int sweep_vault(struct hbr_reclaim_stats *st, struct hbr_store *s,
                       const char *vault_id,
                       const struct hbr_reclaim_config *cfg)
{
	struct hbr_vault *v = NULL;
	int error;

	if ((error = open_vault(&v, cfg, vault_id)) < 0)
		return error;
	error = sweep_orphans(st, s, v, vault_id);
	hbr_vault_free(v);
	if (!error)
		report(cfg, vault_id, "sweep", st);
	return error;
}

static int reclaim_vault(struct hbr_reclaim_stats *st, struct hbr_store *s,
                         const char *vault_id,
                         const struct hbr_reclaim_config *cfg)
{
	struct hbr_vault *v = NULL;
	uint64_t t0, t1;
	int live, error;

	if ((live = hbr_store_gc_vault_live(s, vault_id)) < 0)
		return live;
	if (!live) {
		/* DeleteVault removed the directory; only rows are left. */
		int64_t left = 1;

		while (left && (error = hbr_store_gc_forget_vault(
		                        &left, s, vault_id, FORGET_ROWS)) == 0)
			;
		return left ? error : 0;
	}
	if ((error = open_vault(&v, cfg, vault_id)) < 0)
		return error;
	t0 = hbr_time_mono_ns();
	if ((error = apply_deletions(st, s, v, vault_id, cfg)) == 0) {
		t1 = hbr_time_mono_ns();
		error = collect_packs(st, s, v, vault_id, cfg, true);
		hbr_log_debug(
		        "reclaim: vault %s: deletions %.3f s, packs %.3f s",
		        vault_id, (double)(t1 - t0) / 1e9,
		        (double)(hbr_time_mono_ns() - t1) / 1e9);
	}
	if (!error) {
		bool recounted = false;

		/* Migration 11's, once: after the batches, which it would
		 * otherwise have to follow. */
		error = hbr_reclaim_recount(&recounted, s, v, vault_id);
	}
	if (!error && cfg->sweep && cfg->only_vault)
		error = sweep_orphans(st, s, v, vault_id);
	hbr_vault_free(v);
	return error;
}

int hbr_reclaim_pass(struct hbr_reclaim_stats *st, struct hbr_store *s,
                     const struct hbr_reclaim_config *cfg)
{
	char(*vaults)[HBR_GC_NAME_MAX] = NULL;
	size_t n = 0;
	int error = 0, e;

	if (cfg->only_vault)
		return reclaim_vault(st, s, cfg->only_vault, cfg);
	if ((error = hbr_store_gc_vaults(&vaults, &n, s, hbr_time_now())) < 0)
		return error;
	/* One vault failing (a full disk, a damaged pack) must not stop
	 * the others from getting their space back. */
	for (size_t i = 0; i < n; i++) {
		e = reclaim_vault(st, s, vaults[i], cfg);
		if (e < 0) {
			hbr_log_warn("reclaim: vault %s: %s", vaults[i],
			             hbr_error_msg());
			error = e;
		}
	}
	hbr_free(vaults);
	vaults = NULL;
	if (!cfg->sweep)
		return error;
	n = 0;
	if ((e = hbr_store_gc_live_vaults(&vaults, &n, s)) < 0)
		return e;
	for (size_t i = 0; i < n; i++) {
		e = sweep_vault(st, s, vaults[i], cfg);
		if (e < 0) {
			hbr_log_warn("reclaim: vault %s: %s", vaults[i],
			             hbr_error_msg());
			error = e;
		}
	}
	hbr_free(vaults);
	return error;
}

struct hbr_reclaimer {
	struct hbr_store_pool *pool;
	char *data_dir;
	unsigned idle_s;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop, kicked;
};

static void *run(void *arg)
{
	struct hbr_reclaimer *r = arg;
	struct hbr_reclaim_config cfg = { .data_dir = r->data_dir };
	int64_t swept = 0;

	for (;;) {
		struct hbr_reclaim_stats st = { 0 };
		struct hbr_store *s;
		struct timespec until;
		int64_t now = hbr_time_now();
		uint64_t t0;

		pthread_mutex_lock(&r->lock);
		if (r->stop) {
			pthread_mutex_unlock(&r->lock);
			break;
		}
		r->kicked = false;
		pthread_mutex_unlock(&r->lock);

		/* Leftovers of commits a crash cut: at start, then hourly. */
		cfg.sweep = !swept || now - swept >= SWEEP_S;
		if (cfg.sweep)
			swept = now;
		s = hbr_store_pool_get(r->pool);
		t0 = hbr_time_mono_ns();
		/* A DeleteBackupClientResource reaches gc_queue through the
		 * purge, a few hundred rows per step. Waiting (briefly) for
		 * it to finish makes one batch of all the client's snapshots,
		 * so a chunk they share is lowered once, not once per step. */
		for (int waited = 0; waited < COALESCE_MS;
		     waited += COALESCE_POLL_MS) {
			int64_t pending = 0;
			if (hbr_store_gc_purge_pending(&pending, s) < 0 ||
			    !pending)
				break;
			(void)nanosleep(
			        &(struct timespec){ 0, COALESCE_POLL_MS *
			                                       1000000L },
			        NULL);
		}
		hbr_log_debug("reclaim: waited %.3f s for the purge",
		              (double)(hbr_time_mono_ns() - t0) / 1e9);
		if (hbr_reclaim_pass(&st, s, &cfg) < 0)
			hbr_log_warn("reclaim: %s", hbr_error_msg());
		hbr_store_pool_put(r->pool, s);
		if (st.snapshots || st.packs_removed || st.orphans_removed)
			hbr_log_info("reclaim: %lld snapshots applied, %lld"
			             " chunks freed, %lld packs removed (%lld"
			             " rewritten), %lld orphaned refs objects"
			             " removed, %lld bytes freed in %.3f s",
			             (long long)st.snapshots,
			             (long long)st.chunks_freed,
			             (long long)st.packs_removed,
			             (long long)st.packs_rewritten,
			             (long long)st.orphans_removed,
			             (long long)st.bytes_freed,
			             (double)(hbr_time_mono_ns() - t0) / 1e9);
		/* A pass's buffers (trees read, packs rewritten) are free
		 * now; without this the heap keeps the largest pass's. */
		if (st.snapshots || st.packs_removed || st.packs_rewritten)
			hbr_alloc_trim();

		pthread_mutex_lock(&r->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += r->idle_s;
		while (!r->stop && !r->kicked &&
		       pthread_cond_timedwait(&r->wake, &r->lock, &until) == 0)
			;
		pthread_mutex_unlock(&r->lock);
	}
	return NULL;
}

int hbr_reclaimer_start(struct hbr_reclaimer **out, struct hbr_store_pool *pool,
                        const char *data_dir, unsigned idle_s)
{
	struct hbr_reclaimer *r = hbr_calloc(1, sizeof(*r));

	r->pool = pool;
	r->data_dir = hbr_strdup(data_dir);
	r->idle_s = idle_s ? idle_s : 1;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	if (pthread_create(&r->thread, NULL, run, r) != 0) {
		hbr_free(r->data_dir);
		hbr_free(r);
		return hbr_error_set(HBR_ERROR, "cannot start reclaim thread");
	}
	*out = r;
	return 0;
}

void hbr_reclaimer_kick(struct hbr_reclaimer *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->kicked = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
}

void hbr_reclaimer_stop(struct hbr_reclaimer *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->wake);
	hbr_free(r->data_dir);
	hbr_free(r);
}
