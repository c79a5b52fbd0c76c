/*
 * gc_reclaim.c against a real SQLite store and a real local vault: two
 * snapshots sharing a chunk; deleting one frees exactly its own chunks
 * (the pack it shares is rewritten), deleting the other frees the rest;
 * a pass interrupted after some decrements resumes without decrementing
 * twice; a chunk that died after a running backup started is kept until
 * that backup ends. Exclusive bytes and shares are exclusive.c's; the
 * world both suites use is reclaim_fixture.c's.
 */
#include "common.h"
#include "unit/gc/reclaim_fixture.h"
#include "core/pack.h"
#include "core/tree.h"
#include "store/store_reclaim.h"
#include "util/timeutil.h"

static void running_job(struct world *w, char *job)
{
	running_job_of(w, w->c, w->p, job);
}

static void upload(struct world *w, const char *job, const char *pack_id,
                   const int *which)
{
	upload_as(w, w->c, job, pack_id, which);
}

static void commit_snapshot(struct world *w, const char *job, char *snap,
                            const int *which)
{
	commit_as(w, w->c, job, snap, which);
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
	char job[HBR_ID_MAX];

	running_job_of(w, client, plan, job);
	hbr_idset_init(&set);
	for (int i = 0; i < NMANY; i++)
		if (m->mask[i] & (1u << k))
			assert_true(hbr_idset_add(&set, m->id[i]) >= 0);
	commit_set(w, client, job, snap, &set);
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
		cmocka_unit_test_setup_teardown(test_many_chunks_in_groups,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_small_deletion_in_a_large_vault, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
