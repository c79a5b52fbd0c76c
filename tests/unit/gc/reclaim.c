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

static void running_job(struct world *w, char *job)
{
	begin(&w->f);
	new_job(&w->f, w->f.acc_a, job, w->c, w->v, w->p, "RUNNING", 200);
	commit(&w->f);
}

/* Upload the chunks listed (-1 ends) as one pack, object and rows. */
static void upload(struct world *w, const char *job, const char *pack_id,
                   const int *which)
{
	struct hbr_job_ref j = { w->f.acc_a, w->c, HBR_JOB_BACKUP, job };
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

/* Commit a snapshot naming the chunks listed, with its refs object. */
static void commit_snapshot(struct world *w, const char *job, char *snap,
                            const int *which)
{
	struct hbr_job_ref j = { w->f.acc_a, w->c, HBR_JOB_BACKUP, job };
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

static void test_resumes_after_a_partial_batch(void **state)
{
	struct world *w = *state;
	struct hbr_reclaim_stats st;
	struct hbr_gc_batch b;
	char s1[HBR_ID_MAX], s2[HBR_ID_MAX];
	uint8_t first[HBR_CHUNK_ID_LEN];
	uint32_t one = 1;
	int idx[3] = { 0, 1, 2 }, lowest = 0;
	int64_t zeroed = 0;

	two_snapshots(w, s1, s2);
	delete_snapshot(w, s1);
	/* As if killed after the first step: the batch exists and the
	 * smallest of S1's ids is decremented, cursor on it. */
	assert_int_equal(hbr_store_gc_batch_open(&b, w->f.s, w->v, 32), 0);
	assert_int_equal(b.n, 1);
	for (int k = 1; k < 3; k++)
		if (memcmp(w->id[idx[k]], w->id[lowest], HBR_CHUNK_ID_LEN) < 0)
			lowest = idx[k];
	memcpy(first, w->id[lowest], HBR_CHUNK_ID_LEN);
	{
		struct hbr_gc_dec d = { first, &one, 1 };
		assert_int_equal(hbr_store_gc_decrement(&zeroed, w->f.s, w->v,
		                                        &d, hbr_time_now()),
		                 0);
	}
	hbr_gc_batch_free(&b);
	/* The resumed pass must not lower that chunk again. */
	pass(w, &st);
	assert_int_equal(st.decrements, 2);
	assert_int_equal(refs_of(w, 2), 1);
	assert_int_equal(refs_of(w, 3), 1);
	assert_int_equal(refs_of(w, 0), -1);
	assert_int_equal(refs_of(w, 1), -1);
	for (int i = 2; i <= 4; i++)
		assert_readable(w, i);
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
