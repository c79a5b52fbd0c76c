/*
 * gc_reclaim.c against a real SQLite store and a real local vault: two
 * snapshots sharing a chunk; deleting one frees exactly its own chunks
 * (the pack it shares is rewritten), deleting the other frees the rest;
 * a pass interrupted after some decrements resumes without decrementing
 * twice; a chunk that died after a running backup started is kept until
 * that backup ends.
 */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "core/pack.h"
#include "core/tree.h"
#include "gc/gc_exclusive.h"
#include "gc/gc_reclaim.h"
#include "store/store_data.h"
#include "store/store_reclaim.h"
#include "util/timeutil.h"
#include "vault/vault.h"
#include "unit/store/fixture.h"

#define NCHUNK 6

struct world {
	struct fx f;
	struct hbr_vault *vault;
	char v[HBR_ID_MAX], c[HBR_ID_MAX], p[HBR_ID_MAX];
	uint8_t id[NCHUNK][HBR_CHUNK_ID_LEN];
	uint8_t raw[NCHUNK][4096];
	size_t len[NCHUNK];
};

static int setup(void **state)
{
	struct world *w = hbr_calloc(1, sizeof(*w));
	struct fx *f = &w->f;
	char path[4400];

	fx_open(f, "gc_reclaim");
	begin(f);
	new_vault(f, f->acc_a, w->v, 100);
	new_client(f, f->acc_a, w->c, "ACTIVATED", 100);
	new_plan(f, f->acc_a, w->p, w->c, w->v, 100);
	commit(f);
	snprintf(path, sizeof(path), "%s/vaults/%s", f->dir, w->v);
	assert_int_equal(hbr_vault_local_open(&w->vault, path), 0);
	/* Incompressible-ish chunks of different sizes. */
	for (int i = 0; i < NCHUNK; i++) {
		uint32_t x = 7u + (uint32_t)i;
		w->len[i] = 1000 + 500 * (size_t)i;
		for (size_t k = 0; k < w->len[i]; k++) {
			x = x * 1103515245u + 12345u;
			w->raw[i][k] = (uint8_t)(x >> 16);
		}
		assert_int_equal(hbr_chunk_id(w->id[i], w->raw[i], w->len[i]),
		                 0);
	}
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	hbr_vault_free(w->vault);
	fx_close(&w->f);
	hbr_free(w);
	return 0;
}

static void running_job_of(struct world *w, const char *client,
                           const char *plan, char *job)
{
	begin(&w->f);
	new_job(&w->f, w->f.acc_a, job, client, w->v, plan, "RUNNING", 200);
	commit(&w->f);
}

static void running_job(struct world *w, char *job)
{
	running_job_of(w, w->c, w->p, job);
}

/* Upload the chunks listed (-1 ends) as one pack, object and rows, for
 * a job of client. */
static void upload_as(struct world *w, const char *client, const char *job,
                      const char *pack_id, const int *which)
{
	struct hbr_job_ref j = { w->f.acc_a, client, HBR_JOB_BACKUP, job };
	struct hbr_pack_writer pw;
	struct hbr_pack_view view;
	struct hbr_pack_added added;
	struct hbr_buf body = HBR_BUF_INIT;
	char key[HBR_PACK_KEY_MAX];

	assert_int_equal(hbr_pack_writer_init(&pw), 0);
	for (; *which >= 0; which++)
		assert_int_equal(hbr_pack_writer_add(&pw, w->id[*which],
		                                     w->raw[*which],
		                                     w->len[*which], -1),
		                 0);
	assert_int_equal(hbr_pack_writer_finish(&body, NULL, &pw), 0);
	hbr_pack_writer_free(&pw);
	assert_int_equal(hbr_pack_parse(&view, body.ptr, body.len), 0);
	assert_int_equal(hbr_store_pack_begin(w->f.s, w->v, pack_id,
	                                      (int64_t)body.len,
	                                      hbr_time_now()),
	                 0);
	hbr_pack_key(key, pack_id);
	assert_int_equal(hbr_vault_put(w->vault, key, body.ptr, body.len), 0);
	assert_int_equal(hbr_store_pack_commit(&added, w->f.s, &j, w->v,
	                                       pack_id, &view, hbr_time_now()),
	                 0);
	hbr_pack_view_free(&view);
	hbr_buf_release(&body);
}

static void upload(struct world *w, const char *job, const char *pack_id,
                   const int *which)
{
	upload_as(w, w->c, job, pack_id, which);
}

/* Commit a snapshot of client naming the chunks listed, with its refs
 * object. */
static void commit_as(struct world *w, const char *client, const char *job,
                      char *snap, const int *which)
{
	struct hbr_job_ref j = { w->f.acc_a, client, HBR_JOB_BACKUP, job };
	struct hbr_snapshot_commit c = { 0 };
	struct hbr_snapshot_committed out;
	struct hbr_idset set;
	struct hbr_buf refs = HBR_BUF_INIT;
	char key[sizeof("refs/") + HBR_ID_MAX];

	hbr_id_new(snap, HBR_ID_SNAPSHOT);
	hbr_idset_init(&set);
	for (; *which >= 0; which++)
		assert_true(hbr_idset_add(&set, w->id[*which]) >= 0);
	assert_int_equal(hbr_idset_sorted(&refs, &set), 0);
	snprintf(key, sizeof(key), "refs/%s", snap);
	assert_int_equal(hbr_vault_put(w->vault, key, refs.ptr, refs.len), 0);
	c.job = &j;
	c.snapshot_id = snap;
	c.tree = "[]";
	c.refs = (const uint8_t *)refs.ptr;
	c.nrefs = set.n;
	c.status = "COMPLETE";
	c.snapshot_hash = "";
	c.error_file = "";
	c.now = hbr_time_now();
	assert_int_equal(hbr_store_snapshot_commit(&out, w->f.s, &c), 0);
	hbr_idset_free(&set);
	hbr_buf_release(&refs);
}

static void commit_snapshot(struct world *w, const char *job, char *snap,
                            const int *which)
{
	commit_as(w, w->c, job, snap, which);
}

static int cmp_chunk(const void *a, const void *b)
{
	return memcmp(a, b, HBR_CHUNK_ID_LEN);
}

static int64_t refs_of(struct world *w, int i)
{
	int64_t n = -1;

	assert_int_equal(hbr_store_count(&n, w->f.s,
	                                 "SELECT COALESCE(MAX(refs), -1) FROM"
	                                 " chunks WHERE vault_id = ? AND"
	                                 " chunk_id = ?",
	                                 "sb", w->v, w->id[i],
	                                 (size_t)HBR_CHUNK_ID_LEN),
	                 0);
	return n;
}

static int64_t count(struct world *w, const char *sql)
{
	int64_t n = -1;

	assert_int_equal(hbr_store_count(&n, w->f.s, sql, "s", w->v), 0);
	return n;
}

static int count_objects_cb(const char *key, uint64_t size, void *payload)
{
	(void)key;
	(void)size;
	(*(int *)payload)++;
	return 0;
}

static int objects(struct world *w, const char *prefix)
{
	int n = 0;

	assert_int_equal(hbr_vault_list(w->vault, prefix, count_objects_cb, &n),
	                 0);
	return n;
}

/* Chunk i is readable through its row, from whatever pack holds it. */
static void assert_readable(struct world *w, int i)
{
	struct hbr_chunk_row row;
	struct hbr_buf got = HBR_BUF_INIT;
	char key[HBR_PACK_KEY_MAX];
	bool found = false;

	assert_int_equal(
	        hbr_store_chunks_get(&row, &found, w->f.s, w->v, w->id[i], 1),
	        0);
	assert_true(found);
	hbr_pack_key(key, row.pack_id);
	assert_int_equal(hbr_vault_get_range(&got, w->vault, key, row.offset,
	                                     row.stored_len),
	                 0);
	assert_int_equal(got.len, w->len[i]);
	assert_memory_equal(got.ptr, w->raw[i], w->len[i]);
	hbr_buf_release(&got);
}

static void pass(struct world *w, struct hbr_reclaim_stats *st)
{
	struct hbr_reclaim_config cfg = { .data_dir = w->f.dir };

	memset(st, 0, sizeof(*st));
	assert_int_equal(hbr_reclaim_pass(st, w->f.s, &cfg), 0);
}

static void delete_snapshot(struct world *w, const char *snap)
{
	assert_int_equal(hbr_store_delete_snapshot(w->f.s, w->f.acc_a, snap),
	                 0);
}

/* S1 = {0,1,2} in pack P1, S2 = {2,3,4} in pack P2 (2 deduplicated). */
static void two_snapshots(struct world *w, char *s1, char *s2)
{
	static const int p1[] = { 0, 1, 2, -1 }, p2[] = { 3, 4, -1 };
	static const int r1[] = { 0, 1, 2, -1 }, r2[] = { 2, 3, 4, -1 };
	char j1[HBR_ID_MAX], j2[HBR_ID_MAX];

	running_job(w, j1);
	upload(w, j1, "aa000000000000000000000000000001", p1);
	commit_snapshot(w, j1, s1, r1);
	running_job(w, j2);
	upload(w, j2, "bb000000000000000000000000000002", p2);
	commit_snapshot(w, j2, s2, r2);
	assert_int_equal(refs_of(w, 2), 2);
	assert_int_equal(refs_of(w, 0), 1);
}

static void test_delete_frees_exactly_what_is_unshared(void **state)
{
	struct world *w = *state;
	struct hbr_reclaim_stats st;
	char s1[HBR_ID_MAX], s2[HBR_ID_MAX];

	two_snapshots(w, s1, s2);
	delete_snapshot(w, s1);
	pass(w, &st);
	assert_int_equal(st.snapshots, 1);
	assert_int_equal(st.decrements, 3);
	assert_int_equal(st.chunks_freed, 2);
	/* P1 kept only chunk 2 (under half live): rewritten. */
	assert_int_equal(st.packs_rewritten, 1);
	assert_int_equal(refs_of(w, 0), -1); /* row gone */
	assert_int_equal(refs_of(w, 1), -1);
	assert_int_equal(refs_of(w, 2), 1);
	for (int i = 2; i <= 4; i++)
		assert_readable(w, i);
	assert_int_equal(objects(w, "packs/"), 2);
	assert_int_equal(objects(w, "refs/"), 1); /* S2's */
	assert_int_equal(
	        count(w, "SELECT COUNT(*) FROM gc_queue WHERE vault_id = ?"),
	        0);
	assert_int_equal(count(w, "SELECT COUNT(*) FROM packs WHERE"
	                          " vault_id = ? AND state <> 'live'"),
	                 0);

	delete_snapshot(w, s2);
	pass(w, &st);
	assert_int_equal(st.chunks_freed, 3);
	assert_int_equal(objects(w, "packs/"), 0);
	assert_int_equal(objects(w, "refs/"), 0);
	assert_int_equal(
	        count(w, "SELECT COUNT(*) FROM chunks WHERE vault_id = ?"), 0);
	assert_int_equal(
	        count(w, "SELECT COUNT(*) FROM packs WHERE vault_id = ?"), 0);
}

static void assert_exclusive_consistent(struct world *w);

/* One client's decrement of the ids given, one reference each. */
static void step_on(struct world *w, struct hbr_gc_batch *b, const uint8_t *ids,
                    size_t n)
{
	size_t offsets[NCHUNK + 1];
	struct hbr_gc_ref by[NCHUNK];
	char clients[1][HBR_ID_MAX];
	struct hbr_gc_step out = { 0 };
	struct hbr_gc_dec d = { ids, offsets, by,
		                (const char(*)[HBR_ID_MAX])clients, n };

	for (size_t i = 0; i <= n; i++)
		offsets[i] = i;
	for (size_t i = 0; i < n; i++)
		by[i] = (struct hbr_gc_ref){ 0, 1 };
	snprintf(clients[0], sizeof(clients[0]), "%s", w->c);
	assert_int_equal(hbr_store_gc_decrement(&out, w->f.s, w->v, b, &d, NULL,
	                                        hbr_time_now()),
	                 0);
}

/* A pass killed after a step of either phase resumes from the cursor
 * and lowers nothing twice: S1 = {0, 1, 2} is deleted, 0 and 1 reach 0
 * (phase 1), 2 keeps S2's reference (phase 2). */
static void test_resumes_after_a_partial_batch(void **state)
{
	struct world *w = *state;
	struct hbr_reclaim_stats st;
	struct hbr_gc_batch b;
	char s1[HBR_ID_MAX], s2[HBR_ID_MAX];
	uint8_t ids[3][HBR_CHUNK_ID_LEN];

	two_snapshots(w, s1, s2);
	delete_snapshot(w, s1);
	for (int k = 0; k < 3; k++)
		memcpy(ids[k], w->id[k], HBR_CHUNK_ID_LEN);
	qsort(ids, 3, HBR_CHUNK_ID_LEN, cmp_chunk);
	/* As if killed after phase 1's first step (the two lowest ids),
	 * then after phase 2's first (the lowest). */
	assert_int_equal(hbr_store_gc_batch_open(&b, w->f.s, w->v, 32), 0);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.phase, HBR_GC_PHASE_ZERO);
	step_on(w, &b, ids[0], 2);
	hbr_gc_batch_free(&b);
	assert_int_equal(hbr_store_gc_batch_open(&b, w->f.s, w->v, 32), 0);
	assert_true(b.has_cursor);
	assert_memory_equal(b.cursor, ids[1], HBR_CHUNK_ID_LEN);
	step_on(w, &b, ids[2], 1);
	assert_int_equal(hbr_store_gc_batch_zeroed(w->f.s, w->v, &b), 0);
	assert_int_equal(b.phase, HBR_GC_PHASE_REST);
	step_on(w, &b, ids[0], 1);
	hbr_gc_batch_free(&b);
	/* Phase 1 took 0 and 1 to 0, phase 2 lowered the lowest id if it
	 * is chunk 2; the resumed pass must lower nothing again. */
	assert_int_equal(refs_of(w, 0), 0);
	assert_int_equal(refs_of(w, 1), 0);
	assert_int_equal(refs_of(w, 2),
	                 memcmp(ids[0], w->id[2], HBR_CHUNK_ID_LEN) ? 2 : 1);
	pass(w, &st);
	assert_int_equal(st.snapshots, 1);
	assert_int_equal(st.decrements,
	                 memcmp(ids[0], w->id[2], HBR_CHUNK_ID_LEN) ? 1 : 0);
	assert_int_equal(refs_of(w, 2), 1);
	assert_int_equal(refs_of(w, 3), 1);
	assert_int_equal(refs_of(w, 0), -1);
	assert_int_equal(refs_of(w, 1), -1);
	for (int i = 2; i <= 4; i++)
		assert_readable(w, i);
	assert_exclusive_consistent(w);
}

static void test_running_backup_protects_what_died_after_it_started(void **state)
{
	struct world *w = *state;
	struct hbr_reclaim_stats st;
	char s1[HBR_ID_MAX], s2[HBR_ID_MAX], busy[HBR_ID_MAX];

	two_snapshots(w, s1, s2);
	/* A backup running since before the deletion may have been told
	 * the vault has chunks 0 and 1. */
	running_job(w, busy);
	assert_int_equal(hbr_store_execf(w->f.s,
	                                 "UPDATE jobs SET start_time = ?"
	                                 " WHERE job_id = ?",
	                                 "is", hbr_time_now() - 5, busy),
	                 0);
	delete_snapshot(w, s1);
	pass(w, &st);
	assert_int_equal(st.chunks_freed, 2); /* counts reach zero... */
	assert_int_equal(st.packs_rewritten + st.packs_removed, 0);
	assert_int_equal(objects(w, "packs/"), 2); /* ...but nothing goes */
	for (int i = 0; i <= 4; i++)
		if (i != 1 && i != 0)
			assert_readable(w, i);
	/* The backup ends: the next pass takes them. */
	assert_int_equal(hbr_store_execf(w->f.s,
	                                 "UPDATE jobs SET status = 'COMPLETE'"
	                                 " WHERE job_id = ?",
	                                 "s", busy),
	                 0);
	pass(w, &st);
	assert_int_equal(st.packs_rewritten, 1);
	assert_int_equal(refs_of(w, 0), -1);
}

/* The same when the deletion empties whole packs: the step that takes
 * their chunks to 0 leaves them (and their rows) to a later pass. */
static void test_running_backup_protects_emptied_packs(void **state)
{
	struct world *w = *state;
	struct hbr_reclaim_stats st;
	char s1[HBR_ID_MAX], s2[HBR_ID_MAX], busy[HBR_ID_MAX];

	two_snapshots(w, s1, s2);
	running_job(w, busy);
	assert_int_equal(hbr_store_execf(w->f.s,
	                                 "UPDATE jobs SET start_time = ?"
	                                 " WHERE job_id = ?",
	                                 "is", hbr_time_now() - 5, busy),
	                 0);
	delete_snapshot(w, s1);
	delete_snapshot(w, s2);
	pass(w, &st);
	assert_int_equal(st.chunks_freed, 5);
	assert_int_equal(st.packs_removed, 0);
	assert_int_equal(objects(w, "packs/"), 2);
	for (int i = 0; i <= 4; i++) {
		assert_int_equal(refs_of(w, i), 0);
		assert_readable(w, i);
	}
	assert_int_equal(hbr_store_execf(w->f.s,
	                                 "UPDATE jobs SET status = 'COMPLETE'"
	                                 " WHERE job_id = ?",
	                                 "s", busy),
	                 0);
	pass(w, &st);
	assert_int_equal(st.packs_removed, 2);
	assert_int_equal(objects(w, "packs/"), 0);
	assert_int_equal(
	        count(w, "SELECT COUNT(*) FROM chunks WHERE vault_id = ?"), 0);
}

/* The sorted ids of the chunks listed (-1 ends) as a one-client
 * decrement of one reference each. */
struct dec_fixture {
	uint8_t ids[NCHUNK][HBR_CHUNK_ID_LEN];
	size_t first[NCHUNK + 1];
	struct hbr_gc_ref by[NCHUNK];
	char clients[1][HBR_ID_MAX];
	struct hbr_gc_dec d;
};

static void dec_of(struct dec_fixture *x, struct world *w, const int *which)
{
	size_t n = 0;

	for (; *which >= 0; which++)
		memcpy(x->ids[n++], w->id[*which], HBR_CHUNK_ID_LEN);
	qsort(x->ids, n, HBR_CHUNK_ID_LEN, cmp_chunk);
	for (size_t i = 0; i <= n; i++)
		x->first[i] = i;
	for (size_t i = 0; i < n; i++)
		x->by[i] = (struct hbr_gc_ref){ 0, 1 };
	snprintf(x->clients[0], sizeof(x->clients[0]), "%s", w->c);
	x->d = (struct hbr_gc_dec){ &x->ids[0][0], x->first, x->by,
		                    (const char(*)[HBR_ID_MAX])x->clients, n };
}

/* hbrd's reclaimer and `hbrd vault gc` (or two nodes) on one vault:
 * whichever applies a step second changes nothing, so no reference is
 * lowered twice, and a late close leaves the next batch alone. */
static void test_two_reclaimers_never_decrement_twice(void **state)
{
	struct world *w = *state;
	struct hbr_reclaim_stats st;
	struct hbr_gc_batch late, next;
	struct dec_fixture x;
	char s1[HBR_ID_MAX], s2[HBR_ID_MAX];
	struct hbr_gc_step step = { 0 };

	two_snapshots(w, s1, s2);
	delete_snapshot(w, s1);
	/* The late one opens the batch and reads S1's references... */
	assert_int_equal(hbr_store_gc_batch_open(&late, w->f.s, w->v, 32), 0);
	assert_int_equal(late.n, 1);
	dec_of(&x, w, (const int[]){ 0, 1, 2, -1 });
	/* ...the other applies the whole batch meanwhile... */
	pass(w, &st);
	assert_int_equal(st.snapshots, 1);
	assert_int_equal(refs_of(w, 2), 1);
	/* ...and the late one's step and end change nothing. */
	assert_int_equal(hbr_store_gc_decrement(&step, w->f.s, w->v, &late,
	                                        &x.d, NULL, hbr_time_now()),
	                 HBR_ECONFLICT);
	assert_int_equal(refs_of(w, 2), 1);
	assert_int_equal(hbr_store_gc_batch_done(w->f.s, w->v, &late),
	                 HBR_ECONFLICT);
	/* The next deletion's batch survives the late close. */
	delete_snapshot(w, s2);
	assert_int_equal(hbr_store_gc_batch_open(&next, w->f.s, w->v, 32), 0);
	assert_int_equal(next.n, 1);
	assert_int_equal(hbr_store_gc_batch_close(w->f.s, w->v, &late), 0);
	assert_int_equal(count(w, "SELECT COUNT(*) FROM gc_batch"
	                          " WHERE vault_id = ?"),
	                 1);
	assert_int_equal(count(w, "SELECT COUNT(*) FROM gc_queue"
	                          " WHERE vault_id = ?"),
	                 1);
	hbr_gc_batch_free(&late);
	hbr_gc_batch_free(&next);

	/* Both on the same batch at once: the second to apply a step
	 * finds it applied. */
	{
		struct hbr_gc_batch a, b;
		struct dec_fixture y;

		assert_int_equal(hbr_store_gc_batch_open(&a, w->f.s, w->v, 32),
		                 0);
		assert_int_equal(hbr_store_gc_batch_open(&b, w->f.s, w->v, 32),
		                 0);
		dec_of(&y, w, (const int[]){ 2, 3, 4, -1 });
		assert_int_equal(hbr_store_gc_decrement(&step, w->f.s, w->v, &a,
		                                        &y.d, NULL,
		                                        hbr_time_now()),
		                 0);
		assert_int_equal(hbr_store_gc_decrement(&step, w->f.s, w->v, &b,
		                                        &y.d, NULL,
		                                        hbr_time_now()),
		                 HBR_ECONFLICT);
		/* The step emptied both packs: it dropped them, once. */
		for (int i = 2; i <= 4; i++)
			assert_int_equal(refs_of(w, i), -1);
		assert_int_equal(count(w, "SELECT COUNT(*) FROM packs WHERE"
		                          " vault_id = ? AND"
		                          " state = 'deleting'"),
		                 2);
		hbr_gc_batch_free(&a);
		hbr_gc_batch_free(&b);
	}
	pass(w, &st);
	assert_int_equal(objects(w, "packs/"), 0);
	assert_int_equal(
	        count(w, "SELECT COUNT(*) FROM chunks WHERE vault_id = ?"), 0);
}

/* A chunk phase 1 found on its way to 0, revived by a commit before the
 * step: the step leaves it to phase 2, which lowers it once. A
 * reclaimer still in phase 1 when the other has moved on changes
 * nothing. */
static void test_revived_candidate_is_left_to_phase_2(void **state)
{
	struct world *w = *state;
	struct hbr_reclaim_stats st;
	struct hbr_gc_batch b, late;
	struct hbr_gc_step step = { 0 };
	struct dec_fixture x;
	char s1[HBR_ID_MAX], s2[HBR_ID_MAX], s3[HBR_ID_MAX], j3[HBR_ID_MAX];
	bool cand[3];

	two_snapshots(w, s1, s2);
	delete_snapshot(w, s1);
	assert_int_equal(hbr_store_gc_batch_open(&b, w->f.s, w->v, 32), 0);
	assert_int_equal(hbr_store_gc_batch_open(&late, w->f.s, w->v, 32), 0);
	dec_of(&x, w, (const int[]){ 0, 1, 2, -1 });
	assert_int_equal(hbr_store_gc_zero_candidates(cand, w->f.s, w->v, &x.d),
	                 0);
	for (int k = 0; k < 3; k++)
		assert_int_equal(cand[k], memcmp(x.ids[k], w->id[2],
		                                 HBR_CHUNK_ID_LEN) != 0);
	running_job(w, j3);
	commit_snapshot(w, j3, s3, (const int[]){ 0, -1 });
	assert_int_equal(refs_of(w, 0), 2);
	assert_int_equal(hbr_store_gc_decrement(&step, w->f.s, w->v, &b, &x.d,
	                                        cand, hbr_time_now()),
	                 0);
	assert_int_equal(step.lowered, 1);
	assert_int_equal(step.zeroed, 1);
	assert_int_equal(refs_of(w, 0), 2);
	assert_int_equal(refs_of(w, 1), 0);
	assert_int_equal(refs_of(w, 2), 2);
	assert_int_equal(hbr_store_gc_batch_zeroed(w->f.s, w->v, &b), 0);
	/* The late one is still in phase 1. */
	assert_int_equal(hbr_store_gc_decrement(&step, w->f.s, w->v, &late,
	                                        &x.d, NULL, hbr_time_now()),
	                 HBR_ECONFLICT);
	assert_int_equal(hbr_store_gc_batch_zeroed(w->f.s, w->v, &late),
	                 HBR_ECONFLICT);
	hbr_gc_batch_free(&b);
	hbr_gc_batch_free(&late);
	pass(w, &st);
	assert_int_equal(st.snapshots, 1);
	assert_int_equal(st.decrements, 2); /* 0 and 2; 1 was listed */
	assert_int_equal(refs_of(w, 0), 1);
	assert_int_equal(refs_of(w, 1), 0); /* dead in a mostly live pack */
	assert_int_equal(refs_of(w, 2), 1);
	assert_readable(w, 0);
	assert_readable(w, 2);
	assert_int_equal(count(w, "SELECT COUNT(*) FROM gc_zeroed"
	                          " WHERE vault_id = ?"),
	                 0);
	assert_exclusive_consistent(w);
}

/* A batch begun before migration 10 is in phase 2 with nothing listed:
 * applied whole there, as it was begun. */
static void test_batch_of_before_phases(void **state)
{
	struct world *w = *state;
	struct hbr_reclaim_stats st;
	struct hbr_gc_batch b;
	char s1[HBR_ID_MAX], s2[HBR_ID_MAX];

	two_snapshots(w, s1, s2);
	delete_snapshot(w, s1);
	assert_int_equal(hbr_store_gc_batch_open(&b, w->f.s, w->v, 32), 0);
	hbr_gc_batch_free(&b);
	assert_int_equal(hbr_store_execf(w->f.s,
	                                 "UPDATE gc_batch SET phase = 2"
	                                 " WHERE vault_id = ?",
	                                 "s", w->v),
	                 0);
	pass(w, &st);
	assert_int_equal(st.decrements, 3);
	assert_int_equal(st.chunks_freed, 2);
	assert_int_equal(refs_of(w, 0), -1);
	assert_int_equal(refs_of(w, 1), -1);
	assert_int_equal(refs_of(w, 2), 1);
	for (int i = 2; i <= 4; i++)
		assert_readable(w, i);
	assert_exclusive_consistent(w);
}

/* A rewrite whose pack another reclaimer rewrote first is not
 * switched (the caller removes its copy). */
static void test_rewrite_of_a_pack_already_gone(void **state)
{
	struct world *w = *state;
	struct hbr_gc_chunk copied = { 0 };
	bool switched = true;
	char s1[HBR_ID_MAX], s2[HBR_ID_MAX];

	two_snapshots(w, s1, s2);
	assert_int_equal(
	        hbr_store_pack_begin(w->f.s, w->v,
	                             "cc000000000000000000000000000003", 100,
	                             hbr_time_now()),
	        0);
	assert_int_equal(hbr_store_execf(w->f.s,
	                                 "UPDATE packs SET state = 'deleting'"
	                                 " WHERE pack_id = ?",
	                                 "s",
	                                 "aa000000000000000000000000000001"),
	                 0);
	memcpy(copied.id, w->id[2], HBR_CHUNK_ID_LEN);
	copied.offset = 60;
	copied.stored_len = (uint32_t)w->len[2];
	copied.refs = 2;
	assert_int_equal(
	        hbr_store_gc_pack_switch(&switched, w->f.s, w->v,
	                                 "aa000000000000000000000000000001",
	                                 "cc000000000000000000000000000003",
	                                 &copied, 1, hbr_time_now()),
	        0);
	assert_false(switched);
	assert_readable(w, 2);
}

/* A pack of chunks smaller than their pack entries is rewritten once,
 * not on every pass: its live bytes count the entries it keeps. */
static void test_tiny_chunks_are_rewritten_once(void **state)
{
	struct world *w = *state;
	struct hbr_reclaim_stats st;
	char(*vaults)[HBR_GC_NAME_MAX] = NULL;
	char s1[HBR_ID_MAX], s2[HBR_ID_MAX], j1[HBR_ID_MAX], j2[HBR_ID_MAX];
	size_t nv = 9;

	for (int i = 0; i < 3; i++) {
		w->len[i] = 10 + (size_t)i;
		assert_int_equal(hbr_chunk_id(w->id[i], w->raw[i], w->len[i]),
		                 0);
	}
	running_job(w, j1);
	upload(w, j1, "dd000000000000000000000000000004",
	       (const int[]){ 0, 1, 2, 3, -1 });
	commit_snapshot(w, j1, s1, (const int[]){ 0, 1, 2, 3, -1 });
	running_job(w, j2);
	commit_snapshot(w, j2, s2, (const int[]){ 0, 1, 2, -1 });
	delete_snapshot(w, s1);
	pass(w, &st);
	assert_int_equal(st.packs_rewritten, 1);
	for (int i = 0; i < 3; i++)
		assert_readable(w, i);
	/* Nothing left to do: the next pass rewrites nothing. */
	assert_int_equal(
	        hbr_store_gc_vaults(&vaults, &nv, w->f.s, hbr_time_now()), 0);
	assert_int_equal(nv, 0);
	hbr_free(vaults);
	pass(w, &st);
	assert_int_equal(st.packs_rewritten, 0);
	assert_int_equal(st.packs_removed, 0);
}

static int refs_object_exists(struct world *w, const char *snap)
{
	struct hbr_buf b = HBR_BUF_INIT;
	char key[sizeof("refs/") + HBR_ID_MAX];
	int rc;

	snprintf(key, sizeof(key), "refs/%s", snap);
	rc = hbr_vault_get(&b, w->vault, key, 1 << 20);
	hbr_buf_release(&b);
	return rc == 0;
}

/* A commit killed between writing refs/<id> and its transaction leaves
 * an object no snapshot names: a sweeping pass removes it, but never
 * while a backup of the vault runs (its commit may be in flight), and
 * never the refs of a live, dead or queued snapshot. */
static void test_sweep_removes_refs_of_commits_that_never_were(void **state)
{
	struct world *w = *state;
	struct hbr_reclaim_config cfg = { .data_dir = w->f.dir, .sweep = true };
	struct hbr_reclaim_stats st = { 0 };
	char s1[HBR_ID_MAX], s2[HBR_ID_MAX], ghost[HBR_ID_MAX];
	char busy[HBR_ID_MAX], key[sizeof("refs/") + HBR_ID_MAX];

	two_snapshots(w, s1, s2);
	hbr_id_new(ghost, HBR_ID_SNAPSHOT);
	snprintf(key, sizeof(key), "refs/%s", ghost);
	assert_int_equal(
	        hbr_vault_put(w->vault, key, w->id[0], HBR_CHUNK_ID_LEN), 0);
	/* S1 deleted but not yet applied: its refs are still needed. */
	delete_snapshot(w, s1);
	{
		char ids[3][HBR_ID_MAX];
		bool orphan[3], running = true;

		memcpy(ids[0], s1, HBR_ID_MAX);
		memcpy(ids[1], ghost, HBR_ID_MAX);
		memcpy(ids[2], s2, HBR_ID_MAX);
		assert_int_equal(hbr_store_gc_orphan_refs(
		                         orphan, &running, w->f.s, w->v,
		                         (const char(*)[HBR_ID_MAX])ids, 3),
		                 0);
		assert_false(running);
		assert_false(orphan[0]);
		assert_true(orphan[1]);
		assert_false(orphan[2]);
		running_job(w, busy);
		assert_int_equal(hbr_store_gc_orphan_refs(
		                         orphan, &running, w->f.s, w->v,
		                         (const char(*)[HBR_ID_MAX])ids, 3),
		                 0);
		assert_true(running);
		assert_false(orphan[1]);
	}
	assert_int_equal(hbr_reclaim_pass(&st, w->f.s, &cfg), 0);
	assert_int_equal(st.orphans_removed, 0);
	assert_true(refs_object_exists(w, ghost));
	/* The backup ends. */
	assert_int_equal(hbr_store_execf(w->f.s,
	                                 "UPDATE jobs SET status = 'FAILED'"
	                                 " WHERE job_id = ?",
	                                 "s", busy),
	                 0);
	memset(&st, 0, sizeof(st));
	assert_int_equal(hbr_reclaim_pass(&st, w->f.s, &cfg), 0);
	assert_int_equal(st.orphans_removed, 1);
	assert_false(refs_object_exists(w, ghost));
	assert_true(refs_object_exists(w, s2));
	assert_int_equal(refs_of(w, 2), 1);
	/* Only refs/<S2> is left, and a vault check finds nothing stray. */
	assert_int_equal(objects(w, "refs/"), 1);
}

/* ---- exclusive bytes (docs/RECLAMATION.md) ---- */

/* A second client of the vault, with its plan. */
static void other_client(struct world *w, char *client, char *plan)
{
	begin(&w->f);
	new_client(&w->f, w->f.acc_a, client, "ACTIVATED", 100);
	new_plan(&w->f, w->f.acc_a, plan, client, w->v, 100);
	commit(&w->f);
}

/* A backup of client: upload the chunks the vault lacks, commit a
 * snapshot naming `which`. */
static void backup_as(struct world *w, const char *client, const char *plan,
                      char *snap, const int *which)
{
	char job[HBR_ID_MAX], pack[HBR_PACK_NAME_LEN + 1];
	int lacking[NCHUNK + 1], n = 0;

	running_job_of(w, client, plan, job);
	for (const int *k = which; *k >= 0; k++)
		if (refs_of(w, *k) < 0)
			lacking[n++] = *k;
	lacking[n] = -1;
	if (n) {
		hbr_pack_new_id(pack);
		upload_as(w, client, job, pack, lacking);
	}
	commit_as(w, client, job, snap, which);
}

static int64_t stored_of_id(struct world *w, const uint8_t *id)
{
	int64_t n = -1;

	assert_int_equal(hbr_store_count(&n, w->f.s,
	                                 "SELECT stored_len FROM chunks WHERE"
	                                 " vault_id = ? AND chunk_id = ?",
	                                 "sb", w->v, id,
	                                 (size_t)HBR_CHUNK_ID_LEN),
	                 0);
	return n;
}

static int64_t stored_of(struct world *w, int i)
{
	return stored_of_id(w, w->id[i]);
}

/* The stored bytes of the chunks listed (-1 ends). */
static int64_t bytes_of(struct world *w, const int *which)
{
	int64_t sum = 0;

	for (; *which >= 0; which++)
		sum += stored_of(w, *which);
	return sum;
}

/* What DescribeBackupClients shows for the client. */
static int64_t exclusive_of(struct world *w, const char *client)
{
	json_t *c = NULL;
	json_t *v;
	int64_t n;

	assert_int_equal(
	        hbr_store_get(&c, w->f.s, HBR_ENT_CLIENT, w->f.acc_a, client),
	        0);
	v = json_object_get(c, "ExclusiveBytes");
	assert_true(json_is_integer(v));
	n = json_integer_value(v);
	json_decref(c);
	return n;
}

static int same_as_refs(const char *client_id, int64_t kept, int64_t counted,
                        void *payload)
{
	(*(int *)payload)++;
	if (kept != counted)
		fail_msg("client %s: %lld exclusive bytes kept, its snapshots'"
		         " references say %lld",
		         client_id, (long long)kept, (long long)counted);
	return 0;
}

/* The counts, holders and exclusive bytes kept equal a recount from the
 * refs objects of the snapshots left (what `hbrd vault check`
 * verifies). */
static void assert_exclusive_consistent(struct world *w)
{
	struct hbr_excl_check x;
	int clients = 0;

	assert_int_equal(hbr_reclaim_check_exclusive(&x, w->f.s, w->vault, w->v,
	                                             same_as_refs, &clients),
	                 0);
	assert_true(x.verified);
	assert_false(x.pending);
	if (x.verdict.miscounted)
		fail_msg("%lld miscounted: %s", (long long)x.verdict.miscounted,
		         x.verdict.miscounted_first);
	if (x.verdict.misheld)
		fail_msg("%lld misheld: %s", (long long)x.verdict.misheld,
		         x.verdict.misheld_first);
}

static void test_exclusive_bytes_follow_commits_and_reclamation(void **state)
{
	struct world *w = *state;
	struct hbr_reclaim_stats st;
	char b[HBR_ID_MAX], bp[HBR_ID_MAX];
	char s1[HBR_ID_MAX], s2[HBR_ID_MAX], s3[HBR_ID_MAX];

	other_client(w, b, bp);
	assert_int_equal(exclusive_of(w, w->c), 0);
	/* A's first snapshot: all its chunks are A's alone. */
	backup_as(w, w->c, w->p, s1, (const int[]){ 0, 1, 2, -1 });
	assert_int_equal(exclusive_of(w, w->c),
	                 bytes_of(w, (const int[]){ 0, 1, 2, -1 }));
	/* B shares chunk 2: A no longer frees it alone. */
	backup_as(w, b, bp, s2, (const int[]){ 2, 3, 4, -1 });
	assert_int_equal(exclusive_of(w, w->c),
	                 bytes_of(w, (const int[]){ 0, 1, -1 }));
	assert_int_equal(exclusive_of(w, b),
	                 bytes_of(w, (const int[]){ 3, 4, -1 }));
	/* A's second snapshot names chunk 0 again: still A's alone. */
	backup_as(w, w->c, w->p, s3, (const int[]){ 0, 5, -1 });
	assert_int_equal(exclusive_of(w, w->c),
	                 bytes_of(w, (const int[]){ 0, 1, 5, -1 }));
	assert_exclusive_consistent(w);

	/* B's snapshot is deleted: the count falls only when reclamation
	 * applies it, and chunk 2 is A's alone again. */
	delete_snapshot(w, s2);
	assert_int_equal(exclusive_of(w, b),
	                 bytes_of(w, (const int[]){ 3, 4, -1 }));
	pass(w, &st);
	assert_int_equal(exclusive_of(w, b), 0);
	assert_int_equal(exclusive_of(w, w->c),
	                 bytes_of(w, (const int[]){ 0, 1, 2, 5, -1 }));
	assert_exclusive_consistent(w);

	/* Both of A's in one batch: nothing left. */
	delete_snapshot(w, s1);
	delete_snapshot(w, s3);
	pass(w, &st);
	assert_int_equal(st.snapshots, 2);
	assert_int_equal(exclusive_of(w, w->c), 0);
	assert_int_equal(count(w, "SELECT COUNT(*) FROM chunks"
	                          " WHERE vault_id = ?"),
	                 0);
	assert_exclusive_consistent(w);
}

static void test_exclusive_bytes_of_clients_deleted_in_one_batch(void **state)
{
	struct world *w = *state;
	struct hbr_reclaim_stats st;
	char b[HBR_ID_MAX], bp[HBR_ID_MAX], s1[HBR_ID_MAX], s2[HBR_ID_MAX];
	char s3[HBR_ID_MAX], s4[HBR_ID_MAX];

	other_client(w, b, bp);
	backup_as(w, w->c, w->p, s1, (const int[]){ 0, 1, -1 });
	backup_as(w, b, bp, s2, (const int[]){ 1, 2, -1 });
	backup_as(w, w->c, w->p, s3, (const int[]){ 1, 3, -1 });
	backup_as(w, b, bp, s4, (const int[]){ 1, 2, 4, -1 });
	assert_int_equal(exclusive_of(w, w->c),
	                 bytes_of(w, (const int[]){ 0, 3, -1 }));
	assert_int_equal(exclusive_of(w, b),
	                 bytes_of(w, (const int[]){ 2, 4, -1 }));
	/* One batch holds both clients' references to chunk 1 (A's two,
	 * B's two): counted per client, each applied in turn. */
	{
		struct hbr_delete_counts dc;
		const char *ids[2] = { w->c, b };
		int64_t moved = 1;

		assert_int_equal(hbr_store_delete_client_resources(
		                         &dc, w->f.s, w->f.acc_a, ids, 2, NULL),
		                 0);
		for (int i = 0; i < 10 && moved; i++)
			assert_int_equal(
			        hbr_store_purge_step(&moved, w->f.s, 250), 0);
	}
	assert_int_equal(count(w, "SELECT COUNT(*) FROM gc_queue"
	                          " WHERE vault_id = ?"),
	                 4);
	assert_int_equal(exclusive_of(w, w->c),
	                 bytes_of(w, (const int[]){ 0, 3, -1 }));
	pass(w, &st);
	assert_int_equal(st.snapshots, 4);
	assert_int_equal(exclusive_of(w, w->c), 0);
	assert_int_equal(exclusive_of(w, b), 0);
	assert_int_equal(count(w, "SELECT COUNT(*) FROM chunks"
	                          " WHERE vault_id = ?"),
	                 0);
	assert_exclusive_consistent(w);
}

/* A chunk's references of client (0 for no share row). */
static int64_t share_of(struct world *w, const uint8_t *id, const char *client)
{
	int64_t n = -1;

	assert_int_equal(hbr_store_count(&n, w->f.s,
	                                 "SELECT COALESCE(MAX(refs), 0) FROM"
	                                 " chunk_shares WHERE vault_no ="
	                                 " (SELECT no FROM share_names"
	                                 " WHERE name = ?) AND client_no ="
	                                 " (SELECT no FROM share_names"
	                                 " WHERE name = ?) AND chunk_id = ?",
	                                 "ssb", w->v, client, id,
	                                 (size_t)HBR_CHUNK_ID_LEN),
	                 0);
	return n;
}

/*
 * A, the first to name chunk 0, goes while B still names it: B alone
 * holds it now, and deleting B would free it, so it counts in B's
 * exclusive bytes (migration 8's scheme counted it for nobody). A
 * naming it again shares it again; B going leaves it to A.
 */
static void test_exclusive_bytes_when_the_owner_leaves_first(void **state)
{
	struct world *w = *state;
	struct hbr_reclaim_stats st;
	char b[HBR_ID_MAX], bp[HBR_ID_MAX], s1[HBR_ID_MAX], s2[HBR_ID_MAX];
	char s3[HBR_ID_MAX], s4[HBR_ID_MAX];

	other_client(w, b, bp);
	backup_as(w, w->c, w->p, s1, (const int[]){ 0, 1, -1 });
	backup_as(w, b, bp, s2, (const int[]){ 0, 2, -1 });
	backup_as(w, b, bp, s4, (const int[]){ 0, 2, -1 });
	assert_int_equal(share_of(w, w->id[0], w->c), 1);
	assert_int_equal(share_of(w, w->id[0], b), 2);
	assert_int_equal(exclusive_of(w, w->c),
	                 bytes_of(w, (const int[]){ 1, -1 }));
	assert_int_equal(exclusive_of(w, b),
	                 bytes_of(w, (const int[]){ 2, -1 }));
	assert_exclusive_consistent(w);
	delete_snapshot(w, s1);
	pass(w, &st);
	assert_int_equal(exclusive_of(w, w->c), 0);
	assert_int_equal(exclusive_of(w, b),
	                 bytes_of(w, (const int[]){ 0, 2, -1 }));
	/* B's alone: its two references are the owner's, no shares. */
	assert_int_equal(share_of(w, w->id[0], b), 0);
	assert_exclusive_consistent(w);
	/* A names it again, then B leaves: it is A's alone once more. */
	backup_as(w, w->c, w->p, s3, (const int[]){ 0, -1 });
	assert_int_equal(exclusive_of(w, w->c), 0);
	assert_int_equal(exclusive_of(w, b),
	                 bytes_of(w, (const int[]){ 2, -1 }));
	assert_exclusive_consistent(w);
	delete_snapshot(w, s2);
	pass(w, &st);
	/* Still shared: B's second snapshot names it. */
	assert_int_equal(exclusive_of(w, w->c), 0);
	assert_int_equal(share_of(w, w->id[0], b), 1);
	assert_exclusive_consistent(w);
	delete_snapshot(w, s4);
	pass(w, &st);
	assert_int_equal(exclusive_of(w, b), 0);
	assert_int_equal(exclusive_of(w, w->c),
	                 bytes_of(w, (const int[]){ 0, -1 }));
	assert_exclusive_consistent(w);
}

/* Chunk i's row holds what mine[] (each client's references) says:
 * one client alone is its owner with every reference, two or more have
 * a share each and no owner. */
static void assert_held(struct world *w, const uint8_t *id,
                        char (*clients)[HBR_ID_MAX], const int64_t *mine,
                        int nclients)
{
	struct hbr_stmt *q = NULL;
	int64_t refs = 0, o_r;
	int holders = 0, holder = -1;
	char owner[HBR_ID_MAX];

	for (int k = 0; k < nclients; k++) {
		refs += mine[k];
		if (mine[k]) {
			holders++;
			holder = k;
		}
	}
	assert_int_equal(hbr_store_queryf(&q, w->f.s,
	                                  "SELECT refs, owner, owner_refs"
	                                  " FROM chunks WHERE vault_id = ?"
	                                  " AND chunk_id = ?",
	                                  "sb", w->v, id,
	                                  (size_t)HBR_CHUNK_ID_LEN),
	                 0);
	if (hbr_stmt_next(q) != 1) {
		hbr_stmt_done(q);
		assert_int_equal(refs, 0); /* gone with its pack */
		return;
	}
	assert_int_equal(hbr_stmt_int(q, 0), refs);
	snprintf(owner, sizeof(owner), "%s", hbr_stmt_text(q, 1));
	o_r = hbr_stmt_int(q, 2);
	hbr_stmt_done(q);
	if (!refs)
		return;
	if (holders == 1) {
		assert_string_equal(owner, clients[holder]);
		assert_int_equal(o_r, refs);
	} else {
		assert_string_equal(owner, "");
		assert_int_equal(o_r, 0);
	}
	for (int k = 0; k < nclients; k++)
		assert_int_equal(share_of(w, id, clients[k]),
		                 holders > 1 ? mine[k] : 0);
}

/* Random commits and deletions by three clients: after every step the
 * counts equal a recount from the rows, and after every pass each
 * chunk's refs and owner_refs equal what the live snapshots hold. */
static void test_exclusive_bytes_random(void **state)
{
	struct world *w = *state;
	enum { NCLIENT = 3, NSNAP = 40 };
	char clients[NCLIENT][HBR_ID_MAX], plans[NCLIENT][HBR_ID_MAX];
	struct {
		char id[HBR_ID_MAX];
		int client;
		unsigned set; /* bit i: chunk i */
		bool live;
	} snaps[NSNAP];
	int nsnap = 0;
	uint32_t x = 12345;

	memcpy(clients[0], w->c, HBR_ID_MAX);
	memcpy(plans[0], w->p, HBR_ID_MAX);
	for (int k = 1; k < NCLIENT; k++)
		other_client(w, clients[k], plans[k]);
	for (int step = 0; step < 80; step++) {
		uint32_t op;

		x = x * 1103515245u + 12345u;
		op = (x >> 16) % 10;
		if (op < 5 && nsnap < NSNAP) {
			int which[NCHUNK + 1], n = 0,
			                       k = (int)((x >> 8) % NCLIENT);
			unsigned set = 0;

			for (int i = 0; i < NCHUNK; i++) {
				x = x * 1103515245u + 12345u;
				if ((x >> 16) % 2) {
					which[n++] = i;
					set |= 1u << i;
				}
			}
			if (!n)
				continue;
			which[n] = -1;
			backup_as(w, clients[k], plans[k], snaps[nsnap].id,
			          which);
			snaps[nsnap].client = k;
			snaps[nsnap].set = set;
			snaps[nsnap++].live = true;
		} else if (op < 8 && nsnap) {
			int k = (int)((x >> 4) % (uint32_t)nsnap);
			if (snaps[k].live) {
				delete_snapshot(w, snaps[k].id);
				snaps[k].live = false;
			}
		} else {
			struct hbr_reclaim_stats st;

			pass(w, &st);
			int64_t due[NCLIENT] = { 0 };

			for (int i = 0; i < NCHUNK; i++) {
				int64_t mine[NCLIENT] = { 0 };
				int holders = 0, holder = 0;

				for (int j = 0; j < nsnap; j++)
					if (snaps[j].live &&
					    (snaps[j].set & (1u << i)))
						mine[snaps[j].client]++;
				for (int k = 0; k < NCLIENT; k++)
					if (mine[k]) {
						holders++;
						holder = k;
					}
				assert_held(w, w->id[i], clients, mine,
				            NCLIENT);
				if (holders == 1)
					due[holder] += stored_of(w, i);
			}
			for (int k = 0; k < NCLIENT; k++)
				assert_int_equal(exclusive_of(w, clients[k]),
				                 due[k]);
		}
		assert_exclusive_consistent(w);
	}
}

/* A fresh vault for the world (its clients and plans are the
 * caller's). */
static void fresh_vault(struct world *w)
{
	char path[4400];

	hbr_vault_free(w->vault);
	begin(&w->f);
	new_vault(&w->f, w->f.acc_a, w->v, 100);
	commit(&w->f);
	snprintf(path, sizeof(path), "%s/vaults/%s", w->f.dir, w->v);
	assert_int_equal(hbr_vault_local_open(&w->vault, path), 0);
}

/* DeleteBackupClientResource of one client, and its purge. */
static void delete_client_resources(struct world *w, const char *client)
{
	struct hbr_delete_counts dc;
	const char *ids[1] = { client };
	int64_t moved = 1;

	assert_int_equal(hbr_store_delete_client_resources(
	                         &dc, w->f.s, w->f.acc_a, ids, 1, NULL),
	                 0);
	for (int i = 0; i < 10 && moved; i++)
		assert_int_equal(hbr_store_purge_step(&moved, w->f.s, 250), 0);
}

/*
 * Three clients, chunks held by A, B, A+B, A+C, B+C and A+B+C, each
 * client with two snapshots (the second without its first chunk, so
 * shares of 1 and 2). The clients are deleted in each of the six
 * orders: after every deletion each client's exclusive bytes are the
 * stored bytes of the chunks only the clients left reference, and
 * only it of them.
 */
static void test_three_clients_every_deletion_order(void **state)
{
	static const unsigned held[NCHUNK] = { 1, 2, 3, 5, 6, 7 };
	static const int orders[6][3] = {
		{ 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 },
		{ 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 }
	};
	struct world *w = *state;

	for (int o = 0; o < 6; o++) {
		char clients[3][HBR_ID_MAX], plans[3][HBR_ID_MAX];
		char snap[HBR_ID_MAX];
		unsigned left = 7;

		fresh_vault(w);
		for (int k = 0; k < 3; k++) {
			int which[NCHUNK + 1], n = 0;

			other_client(w, clients[k], plans[k]);
			for (int i = 0; i < NCHUNK; i++)
				if (held[i] & (1u << k))
					which[n++] = i;
			which[n] = -1;
			backup_as(w, clients[k], plans[k], snap, which);
			backup_as(w, clients[k], plans[k], snap, which + 1);
		}
		for (int step = 0; step <= 3; step++) {
			struct hbr_reclaim_stats st;
			int64_t due[3] = { 0 };

			if (step) {
				int gone = orders[o][step - 1];

				delete_client_resources(w, clients[gone]);
				pass(w, &st);
				left &= ~(1u << gone);
			}
			for (int i = 0; i < NCHUNK; i++) {
				unsigned h = held[i] & left;

				if (h && !(h & (h - 1)))
					due[__builtin_ctz(h)] +=
					        stored_of(w, i);
				if (!h) /* dead, or gone with its pack */
					assert_true(refs_of(w, i) <= 0);
			}
			for (int k = 0; k < 3; k++)
				assert_int_equal(exclusive_of(w, clients[k]),
				                 due[k]);
			assert_exclusive_consistent(w);
		}
	}
}

/* A batch deleting A's two snapshots, {0, 1, 2, 3} and {0, 1}, which
 * share 0, 1 and 2 with B's {0, 1, 2, 4}: A's losses per chunk. */
struct ab_dec {
	uint8_t ids[4][HBR_CHUNK_ID_LEN];
	size_t first[5];
	struct hbr_gc_ref by[4];
	char clients[1][HBR_ID_MAX];
	struct hbr_gc_dec d;
};

static void ab_dec_of(struct ab_dec *x, struct world *w, size_t from, size_t n)
{
	struct ab_dec all;

	for (int i = 0; i < 4; i++)
		memcpy(all.ids[i], w->id[i], HBR_CHUNK_ID_LEN);
	qsort(all.ids, 4, HBR_CHUNK_ID_LEN, cmp_chunk);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *id = all.ids[from + i];

		memcpy(x->ids[i], id, HBR_CHUNK_ID_LEN);
		x->first[i] = i;
		x->by[i] = (struct hbr_gc_ref){
			0, !memcmp(id, w->id[0], HBR_CHUNK_ID_LEN) ||
			                   !memcmp(id, w->id[1],
			                           HBR_CHUNK_ID_LEN) ?
			           2u :
			           1u
		};
	}
	x->first[n] = n;
	snprintf(x->clients[0], sizeof(x->clients[0]), "%s", w->c);
	x->d = (struct hbr_gc_dec){ &x->ids[0][0], x->first, x->by,
		                    (const char(*)[HBR_ID_MAX])x->clients, n };
}

/*
 * Killed after a step of either phase, or beaten to a step by another
 * reclaimer: the step run again changes nothing (its cursor says it is
 * done), the pass resumes after it, and every holder and exclusive
 * byte ends exact: B holds 0, 1 and 2 alone once A's are applied.
 */
static void test_rerun_steps_count_nothing_twice(void **state)
{
	struct world *w = *state;
	struct hbr_reclaim_stats st;
	struct hbr_gc_batch b;
	struct hbr_gc_step step = { 0 };
	struct ab_dec x, half;
	char c2[HBR_ID_MAX], p2[HBR_ID_MAX];
	char s1[HBR_ID_MAX], s2[HBR_ID_MAX], s3[HBR_ID_MAX];
	bool cand[4];

	other_client(w, c2, p2);
	backup_as(w, w->c, w->p, s1, (const int[]){ 0, 1, 2, 3, -1 });
	backup_as(w, w->c, w->p, s2, (const int[]){ 0, 1, -1 });
	backup_as(w, c2, p2, s3, (const int[]){ 0, 1, 2, 4, -1 });
	assert_int_equal(exclusive_of(w, w->c),
	                 bytes_of(w, (const int[]){ 3, -1 }));
	delete_snapshot(w, s1);
	delete_snapshot(w, s2);
	assert_int_equal(hbr_store_gc_batch_open(&b, w->f.s, w->v, 32), 0);
	ab_dec_of(&x, w, 0, 4);
	/* Phase 1: chunk 3 alone reaches 0. */
	assert_int_equal(hbr_store_gc_zero_candidates(cand, w->f.s, w->v, &x.d),
	                 0);
	assert_int_equal(hbr_store_gc_decrement(&step, w->f.s, w->v, &b, &x.d,
	                                        cand, hbr_time_now()),
	                 0);
	assert_int_equal(step.zeroed, 1);
	assert_int_equal(exclusive_of(w, w->c), 0);
	assert_int_equal(hbr_store_gc_decrement(&step, w->f.s, w->v, &b, &x.d,
	                                        cand, hbr_time_now()),
	                 HBR_ECONFLICT);
	assert_int_equal(hbr_store_gc_batch_zeroed(w->f.s, w->v, &b), 0);
	/* Phase 2's first step, then the same step again. */
	ab_dec_of(&half, w, 0, 2);
	assert_int_equal(hbr_store_gc_decrement(&step, w->f.s, w->v, &b,
	                                        &half.d, NULL, hbr_time_now()),
	                 0);
	assert_int_equal(hbr_store_gc_decrement(&step, w->f.s, w->v, &b,
	                                        &half.d, NULL, hbr_time_now()),
	                 HBR_ECONFLICT);
	/* Half applied: the check follows the cursor. */
	assert_exclusive_consistent(w);
	hbr_gc_batch_free(&b);
	pass(w, &st);
	assert_int_equal(st.snapshots, 2);
	for (int i = 0; i <= 2; i++) {
		assert_int_equal(refs_of(w, i), 1);
		assert_int_equal(share_of(w, w->id[i], c2), 0);
		assert_int_equal(share_of(w, w->id[i], w->c), 0);
	}
	assert_int_equal(exclusive_of(w, w->c), 0);
	assert_int_equal(exclusive_of(w, c2),
	                 bytes_of(w, (const int[]){ 0, 1, 2, 4, -1 }));
	assert_exclusive_consistent(w);
}

/*
 * A vault as migration 8's scheme left it, migrated: chunks 1 and 2,
 * which A named first and B too, had A as owner with one of their two
 * references, and counted for nobody. Migration 11 makes them shared
 * with no shares known and lists the vault for its recount. Commits and
 * reclamation go on meanwhile; the next pass recounts, after its batch,
 * and every figure is exact.
 */
static void test_recount_after_migration(void **state)
{
	struct world *w = *state;
	struct hbr_reclaim_stats st;
	struct hbr_excl_check x;
	char b[HBR_ID_MAX], bp[HBR_ID_MAX], c[HBR_ID_MAX], cp[HBR_ID_MAX];
	char s1[HBR_ID_MAX], s2[HBR_ID_MAX], s3[HBR_ID_MAX];
	int clients = 0;

	other_client(w, b, bp);
	other_client(w, c, cp);
	backup_as(w, w->c, w->p, s1, (const int[]){ 0, 1, 2, -1 });
	backup_as(w, b, bp, s2, (const int[]){ 1, 2, 3, -1 });
	for (int i = 1; i <= 2; i++)
		assert_int_equal(hbr_store_execf(w->f.s,
		                                 "UPDATE chunks SET owner = ?,"
		                                 " owner_refs = 1 WHERE"
		                                 " vault_id = ? AND"
		                                 " chunk_id = ?",
		                                 "ssb", w->c, w->v, w->id[i],
		                                 (size_t)HBR_CHUNK_ID_LEN),
		                 0);
	assert_int_equal(w->f.s->ops->exec(w->f.s,
	                                   "DROP TABLE chunk_shares;"
	                                   " DROP TABLE share_names;"
	                                   " DROP TABLE exclusive_recount;"
	                                   " DELETE FROM schema_version"
	                                   " WHERE version = 11;"),
	                 0);
	assert_int_equal(hbr_store_migrate(w->f.s), 0);
	assert_int_equal(exclusive_of(w, w->c),
	                 bytes_of(w, (const int[]){ 0, -1 }));
	assert_int_equal(exclusive_of(w, b),
	                 bytes_of(w, (const int[]){ 3, -1 }));
	assert_int_equal(count(w, "SELECT COUNT(*) FROM chunks WHERE"
	                          " vault_id = ? AND owner IS NULL"
	                          " AND refs > 0"),
	                 2);
	assert_int_equal(hbr_reclaim_check_exclusive(&x, w->f.s, w->vault, w->v,
	                                             same_as_refs, &clients),
	                 0);
	assert_true(x.pending);
	assert_true(x.verified);
	assert_true(x.verdict.misheld > 0);
	/* C shares chunk 2 while nobody knows who else holds it; A goes. */
	backup_as(w, c, cp, s3, (const int[]){ 2, 4, -1 });
	delete_snapshot(w, s1);
	pass(w, &st);
	assert_int_equal(st.snapshots, 1);
	assert_int_equal(exclusive_of(w, w->c), 0);
	assert_int_equal(exclusive_of(w, b),
	                 bytes_of(w, (const int[]){ 1, 3, -1 }));
	assert_int_equal(exclusive_of(w, c),
	                 bytes_of(w, (const int[]){ 4, -1 }));
	assert_int_equal(share_of(w, w->id[2], b), 1);
	assert_int_equal(share_of(w, w->id[2], c), 1);
	assert_int_equal(count(w, "SELECT COUNT(*) FROM exclusive_recount"
	                          " WHERE vault_id = ?"),
	                 0);
	assert_exclusive_consistent(w);
}

struct diffs {
	int clients, differ;
};

static int count_diffs(const char *client_id, int64_t kept, int64_t counted,
                       void *payload)
{
	struct diffs *d = payload;

	(void)client_id;
	d->clients++;
	d->differ += kept != counted;
	return 0;
}

/* What `hbrd vault check` reports as errors: exclusive bytes kept
 * other than the references give, a count, a share. */
static void test_check_finds_every_difference(void **state)
{
	struct world *w = *state;
	struct hbr_excl_check x;
	struct diffs d = { 0 };
	char b[HBR_ID_MAX], bp[HBR_ID_MAX], s1[HBR_ID_MAX], s2[HBR_ID_MAX];

	other_client(w, b, bp);
	backup_as(w, w->c, w->p, s1, (const int[]){ 0, 1, -1 });
	backup_as(w, b, bp, s2, (const int[]){ 1, 2, -1 });
	assert_exclusive_consistent(w);
	assert_int_equal(hbr_store_execf(w->f.s,
	                                 "UPDATE client_bytes SET"
	                                 " exclusive_bytes = exclusive_bytes"
	                                 " + 1 WHERE client_id = ?",
	                                 "s", b),
	                 0);
	assert_int_equal(hbr_store_execf(w->f.s,
	                                 "UPDATE chunk_shares SET refs = 2"
	                                 " WHERE client_no = (SELECT no FROM"
	                                 " share_names WHERE name = ?)",
	                                 "s", b),
	                 0);
	assert_int_equal(hbr_store_execf(w->f.s,
	                                 "UPDATE chunks SET refs = 3"
	                                 " WHERE vault_id = ? AND"
	                                 " chunk_id = ?",
	                                 "sb", w->v, w->id[0],
	                                 (size_t)HBR_CHUNK_ID_LEN),
	                 0);
	assert_int_equal(hbr_reclaim_check_exclusive(&x, w->f.s, w->vault, w->v,
	                                             count_diffs, &d),
	                 0);
	assert_true(x.verified);
	assert_false(x.pending);
	assert_int_equal(d.clients, 2);
	assert_int_equal(d.differ, 1);
	assert_int_equal(x.verdict.miscounted, 1);
	/* Chunk 0 (owner_refs 1 of refs 3 now) and chunk 1's share. */
	assert_int_equal(x.verdict.misheld, 2);
}

/* ---- many chunks: steps, statement lists and groups ---- */

/* More chunks than one decrement step (gc_reclaim.c's STEP_IDS) and
 * than one statement's id list, in every pattern of five snapshots of
 * three clients. */
#define NMANY  5200
#define NSNAPS 5

struct many {
	uint8_t (*id)[HBR_CHUNK_ID_LEN];
	unsigned *mask; /* bit k: snapshot k names the chunk */
};

static void many_chunks(struct world *w, struct many *m, const char *job)
{
	struct hbr_job_ref j = { w->f.acc_a, w->c, HBR_JOB_BACKUP, job };
	struct hbr_pack_writer pw;
	struct hbr_pack_view view;
	struct hbr_pack_added added;
	struct hbr_buf body = HBR_BUF_INIT;
	char key[HBR_PACK_KEY_MAX], pack[HBR_PACK_NAME_LEN + 1];

	m->id = hbr_calloc(NMANY, sizeof(*m->id));
	m->mask = hbr_calloc(NMANY, sizeof(*m->mask));
	assert_int_equal(hbr_pack_writer_init(&pw), 0);
	for (int i = 0; i < NMANY; i++) {
		char raw[32];
		int len = snprintf(raw, sizeof(raw), "many chunk %d", i);

		m->mask[i] = (unsigned)(i % 31) + 1;
		assert_int_equal(hbr_chunk_id(m->id[i], raw, (size_t)len), 0);
		assert_int_equal(hbr_pack_writer_add(&pw, m->id[i], raw,
		                                     (size_t)len, -1),
		                 0);
	}
	assert_int_equal(hbr_pack_writer_finish(&body, NULL, &pw), 0);
	hbr_pack_writer_free(&pw);
	assert_int_equal(hbr_pack_parse(&view, body.ptr, body.len), 0);
	hbr_pack_new_id(pack);
	assert_int_equal(hbr_store_pack_begin(w->f.s, w->v, pack,
	                                      (int64_t)body.len,
	                                      hbr_time_now()),
	                 0);
	hbr_pack_key(key, pack);
	assert_int_equal(hbr_vault_put(w->vault, key, body.ptr, body.len), 0);
	assert_int_equal(hbr_store_pack_commit(&added, w->f.s, &j, w->v, pack,
	                                       &view, hbr_time_now()),
	                 0);
	hbr_pack_view_free(&view);
	hbr_buf_release(&body);
}

/* A snapshot of client naming the chunks whose mask has bit k. */
static void many_commit(struct world *w, const struct many *m,
                        const char *client, const char *plan, int k, char *snap)
{
	struct hbr_idset set;
	struct hbr_buf refs = HBR_BUF_INIT;
	struct hbr_snapshot_commit c = { 0 };
	struct hbr_snapshot_committed out;
	char job[HBR_ID_MAX], key[sizeof("refs/") + HBR_ID_MAX];
	struct hbr_job_ref j = { w->f.acc_a, client, HBR_JOB_BACKUP, job };

	running_job_of(w, client, plan, job);
	hbr_id_new(snap, HBR_ID_SNAPSHOT);
	hbr_idset_init(&set);
	for (int i = 0; i < NMANY; i++)
		if (m->mask[i] & (1u << k))
			assert_true(hbr_idset_add(&set, m->id[i]) >= 0);
	assert_int_equal(hbr_idset_sorted(&refs, &set), 0);
	snprintf(key, sizeof(key), "refs/%s", snap);
	assert_int_equal(hbr_vault_put(w->vault, key, refs.ptr, refs.len), 0);
	c.job = &j;
	c.snapshot_id = snap;
	c.tree = "[]";
	c.refs = (const uint8_t *)refs.ptr;
	c.nrefs = set.n;
	c.status = "COMPLETE";
	c.snapshot_hash = "";
	c.error_file = "";
	c.now = hbr_time_now();
	assert_int_equal(hbr_store_snapshot_commit(&out, w->f.s, &c), 0);
	hbr_idset_free(&set);
	hbr_buf_release(&refs);
}

/*
 * Snapshots 0..4 of clients A, B, C, A, B, committed in that order, so a
 * chunk's owner is the client of the first snapshot naming it; every
 * pattern of the five names ~170 chunks. One batch deletes 0, 1 and 3
 * (all of A's, one of B's): chunks lose 1 to 3 references, their
 * owner's share of them 0 to 2, in groups larger and smaller than a
 * statement's list, across two steps. Each count must be what the
 * snapshots left hold, and the exclusive bytes what the rows say.
 */
static void test_many_chunks_in_groups(void **state)
{
	static const int client_of[NSNAPS] = { 0, 1, 2, 0, 1 };
	static const unsigned gone = 1u << 0 | 1u << 1 | 1u << 3;
	struct world *w = *state;
	struct hbr_reclaim_stats st;
	struct many m;
	char clients[3][HBR_ID_MAX], plans[3][HBR_ID_MAX];
	char snaps[NSNAPS][HBR_ID_MAX], job[HBR_ID_MAX];
	int64_t named = 0, freed = 0, due[3] = { 0 };

	memcpy(clients[0], w->c, HBR_ID_MAX);
	memcpy(plans[0], w->p, HBR_ID_MAX);
	other_client(w, clients[1], plans[1]);
	other_client(w, clients[2], plans[2]);
	running_job(w, job);
	many_chunks(w, &m, job);
	for (int k = 0; k < NSNAPS; k++)
		many_commit(w, &m, clients[client_of[k]], plans[client_of[k]],
		            k, snaps[k]);
	assert_exclusive_consistent(w);
	for (int k = 0; k < NSNAPS; k++)
		if (gone & (1u << k))
			delete_snapshot(w, snaps[k]);
	pass(w, &st);
	assert_int_equal(st.snapshots, 3);
	for (int i = 0; i < NMANY; i++) {
		unsigned left = m.mask[i] & ~gone;
		int64_t mine[3] = { 0 };
		int holders = 0, holder = 0;

		for (int k = 0; k < NSNAPS; k++)
			if (left & (1u << k))
				mine[client_of[k]]++;
		for (int k = 0; k < 3; k++)
			if (mine[k]) {
				holders++;
				holder = k;
			}
		named += (m.mask[i] & gone) != 0;
		freed += (m.mask[i] & gone) && !left;
		assert_held(w, m.id[i], clients, mine, 3);
		if (holders == 1)
			due[holder] += stored_of_id(w, m.id[i]);
	}
	for (int k = 0; k < 3; k++)
		assert_int_equal(exclusive_of(w, clients[k]), due[k]);
	assert_int_equal(st.decrements, named);
	assert_int_equal(st.chunks_freed, freed);
	assert_int_equal(exclusive_of(w, clients[0]), 0);
	assert_exclusive_consistent(w);
	hbr_free(m.id);
	hbr_free(m.mask);
}

/* A deletion naming few of a large vault's chunks: phase 1 stops
 * reading the range in order and seeks the rest, and finds the same
 * chunks on their way to 0. Snapshot 0 names every chunk but each 40th,
 * snapshot 1 each 20th; deleting 1 frees each 40th. */
static void test_small_deletion_in_a_large_vault(void **state)
{
	struct world *w = *state;
	struct hbr_reclaim_stats st;
	struct many m;
	struct hbr_gc_dec d;
	char snaps[2][HBR_ID_MAX], job[HBR_ID_MAX];
	uint8_t(*ids)[HBR_CHUNK_ID_LEN] = hbr_calloc(NMANY, sizeof(*ids));
	size_t *first = hbr_calloc(NMANY + 1, sizeof(*first));
	struct hbr_gc_ref *by = hbr_calloc(NMANY, sizeof(*by));
	bool *cand = hbr_calloc(NMANY, sizeof(*cand));
	char clients[1][HBR_ID_MAX];
	size_t n = 0;

	running_job(w, job);
	many_chunks(w, &m, job);
	for (int i = 0; i < NMANY; i++)
		m.mask[i] = (i % 40 ? 1u : 0) | (i % 20 ? 0 : 2u);
	many_commit(w, &m, w->c, w->p, 0, snaps[0]);
	many_commit(w, &m, w->c, w->p, 1, snaps[1]);
	for (int i = 0; i < NMANY; i += 20)
		memcpy(ids[n++], m.id[i], HBR_CHUNK_ID_LEN);
	qsort(ids, n, HBR_CHUNK_ID_LEN, cmp_chunk);
	for (size_t i = 0; i <= n; i++)
		first[i] = i;
	for (size_t i = 0; i < n; i++)
		by[i] = (struct hbr_gc_ref){ 0, 1 };
	snprintf(clients[0], sizeof(clients[0]), "%s", w->c);
	d = (struct hbr_gc_dec){ &ids[0][0], first, by,
		                 (const char(*)[HBR_ID_MAX])clients, n };
	assert_int_equal(hbr_store_gc_zero_candidates(cand, w->f.s, w->v, &d),
	                 0);
	for (size_t i = 0; i < n; i++) {
		int k = 0;

		while (memcmp(m.id[k], ids[i], HBR_CHUNK_ID_LEN))
			k += 20;
		assert_int_equal(cand[i], k % 40 == 0);
	}
	delete_snapshot(w, snaps[1]);
	pass(w, &st);
	assert_int_equal(st.decrements, NMANY / 20);
	assert_int_equal(st.chunks_freed, NMANY / 40);
	for (int i = 0; i < NMANY; i += 20) {
		int64_t refs = -1;

		assert_int_equal(
		        hbr_store_count(&refs, w->f.s,
		                        "SELECT COALESCE(MAX(refs), -1)"
		                        " FROM chunks WHERE"
		                        " vault_id = ? AND"
		                        " chunk_id = ?",
		                        "sb", w->v, m.id[i],
		                        (size_t)HBR_CHUNK_ID_LEN),
		        0);
		assert_int_equal(refs, i % 40 ? 1 : 0);
	}
	assert_exclusive_consistent(w);
	hbr_free(ids);
	hbr_free(first);
	hbr_free(by);
	hbr_free(cand);
	hbr_free(m.id);
	hbr_free(m.mask);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		        test_delete_frees_exactly_what_is_unshared, setup,
		        teardown),
		cmocka_unit_test_setup_teardown(
		        test_resumes_after_a_partial_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_running_backup_protects_what_died_after_it_started,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_running_backup_protects_emptied_packs, setup,
		        teardown),
		cmocka_unit_test_setup_teardown(
		        test_two_reclaimers_never_decrement_twice, setup,
		        teardown),
		cmocka_unit_test_setup_teardown(
		        test_revived_candidate_is_left_to_phase_2, setup,
		        teardown),
		cmocka_unit_test_setup_teardown(test_batch_of_before_phases,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_rewrite_of_a_pack_already_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_tiny_chunks_are_rewritten_once, setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_sweep_removes_refs_of_commits_that_never_were,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_exclusive_bytes_follow_commits_and_reclamation,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_exclusive_bytes_of_clients_deleted_in_one_batch,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_exclusive_bytes_when_the_owner_leaves_first, setup,
		        teardown),
		cmocka_unit_test_setup_teardown(test_exclusive_bytes_random,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_chunks_in_groups,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_three_clients_every_deletion_order, setup,
		        teardown),
		cmocka_unit_test_setup_teardown(
		        test_rerun_steps_count_nothing_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recount_after_migration,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_check_finds_every_difference, setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_small_deletion_in_a_large_vault, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
