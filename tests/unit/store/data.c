/*
 * store_data.c: the agent data plane's rows. A small world in account A
 * (vault v; client c on instance "i-target" with plan p; client d) and
 * packs built with the real writer, so chunk ids are real SHA-256 ids.
 * Checks that chunk rows are recorded once per vault, that a snapshot
 * commit counts each reference once and refuses what the protocol
 * refuses (missing chunks, a cancelled job, a deleted client's job)
 * without changing anything, that a retried commit gives the same
 * snapshot, and the job transitions the agent drives.
 */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "core/pack.h"
#include "store/store_data.h"
#include "unit/store/fixture.h"

#define NCHUNK 6

struct world {
	struct fx f;
	char v[HBR_ID_MAX], c[HBR_ID_MAX], d[HBR_ID_MAX], p[HBR_ID_MAX];
	char job[HBR_ID_MAX];
	/* Chunk i is 100 + i bytes of the byte 'a' + i. */
	uint8_t id[NCHUNK][HBR_CHUNK_ID_LEN];
	uint8_t raw[NCHUNK][200];
	size_t len[NCHUNK];
};

static int setup(void **state)
{
	struct world *w = hbr_calloc(1, sizeof(*w));
	struct fx *f = &w->f;

	fx_open(f, "store_data");
	begin(f);
	new_vault(f, f->acc_a, w->v, 100);
	hbr_id_new(w->c, HBR_ID_CLIENT);
	insert(f, f->acc_a, HBR_ENT_CLIENT,
	       hbr_model_client(w->c, "i-target", "ACTIVATED", 100));
	new_client(f, f->acc_a, w->d, "ACTIVATED", 100);
	new_plan(f, f->acc_a, w->p, w->c, w->v, 100);
	new_job(f, f->acc_a, w->job, w->c, w->v, w->p, "RUNNING", 200);
	commit(f);
	for (int i = 0; i < NCHUNK; i++) {
		w->len[i] = 100 + (size_t)i;
		memset(w->raw[i], 'a' + i, w->len[i]);
		assert_int_equal(hbr_chunk_id(w->id[i], w->raw[i], w->len[i]),
		                 0);
	}
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	fx_close(&w->f);
	hbr_free(w);
	return 0;
}

static struct hbr_job_ref ref(struct world *w, const char *client,
                              const char *job)
{
	struct hbr_job_ref j = { w->f.acc_a, client, HBR_JOB_BACKUP, job };

	return j;
}

/* A pack of the chunks listed (indices, -1 ends), stored raw. */
static void make_pack(struct hbr_buf *out, struct hbr_pack_view *view,
                      struct world *w, const int *which)
{
	struct hbr_pack_writer pw;

	assert_int_equal(hbr_pack_writer_init(&pw), 0);
	for (; *which >= 0; which++)
		assert_int_equal(hbr_pack_writer_add(&pw, w->id[*which],
		                                     w->raw[*which],
		                                     w->len[*which], -1),
		                 0);
	hbr_buf_init(out, 0);
	assert_int_equal(hbr_pack_writer_finish(out, NULL, &pw), 0);
	hbr_pack_writer_free(&pw);
	assert_int_equal(hbr_pack_parse(view, out->ptr, out->len), 0);
}

/* Upload the chunks listed into pack_id for job; the store's result. */
static int upload(struct hbr_pack_added *out, struct world *w, const char *job,
                  const char *pack_id, const int *which)
{
	struct hbr_job_ref j = ref(w, w->c, job);
	struct hbr_pack_view view;
	struct hbr_buf body;
	int rc;

	make_pack(&body, &view, w, which);
	assert_int_equal(hbr_store_pack_begin(w->f.s, w->v, pack_id,
	                                      (int64_t)body.len, 300),
	                 0);
	rc = hbr_store_pack_commit(out, w->f.s, &j, w->v, pack_id, &view, 300);
	hbr_pack_view_free(&view);
	hbr_buf_release(&body);
	return rc;
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

/* A chunk's dead_since, -1 for NULL. */
static int64_t dead_since(struct world *w, int i)
{
	struct hbr_stmt *st = NULL;
	int64_t t = -2;

	assert_int_equal(hbr_store_queryf(&st, w->f.s,
	                                  "SELECT dead_since FROM chunks WHERE"
	                                  " vault_id = ? AND chunk_id = ?",
	                                  "sb", w->v, w->id[i],
	                                  (size_t)HBR_CHUNK_ID_LEN),
	                 0);
	if (hbr_stmt_next(st) == 1)
		t = hbr_stmt_is_null(st, 0) ? -1 : hbr_stmt_int(st, 0);
	hbr_stmt_done(st);
	return t;
}

static int64_t live_bytes(struct world *w, const char *pack_id)
{
	int64_t n = -1;

	assert_int_equal(hbr_store_count(&n, w->f.s,
	                                 "SELECT live_bytes FROM packs WHERE"
	                                 " vault_id = ? AND pack_id = ?",
	                                 "ss", w->v, pack_id),
	                 0);
	return n;
}

static const char *pack_state(struct world *w, const char *pack_id)
{
	static char state[32];
	struct hbr_stmt *st = NULL;

	assert_int_equal(hbr_store_queryf(&st, w->f.s,
	                                  "SELECT state FROM packs WHERE"
	                                  " vault_id = ? AND pack_id = ?",
	                                  "ss", w->v, pack_id),
	                 0);
	state[0] = '\0';
	if (hbr_stmt_next(st) == 1)
		snprintf(state, sizeof(state), "%s", hbr_stmt_text(st, 0));
	hbr_stmt_done(st);
	return state;
}

/* Sorted ids of the chunks listed, for a commit. */
static uint8_t *sorted_ids(struct world *w, const int *which, size_t *n_out)
{
	uint8_t *ids = hbr_malloc(NCHUNK * HBR_CHUNK_ID_LEN);
	size_t n = 0;

	for (; *which >= 0; which++)
		memcpy(ids + n++ * HBR_CHUNK_ID_LEN, w->id[*which],
		       HBR_CHUNK_ID_LEN);
	for (size_t i = 1; i < n; i++)
		for (size_t k = i;
		     k > 0 &&
		     memcmp(ids + (k - 1) * HBR_CHUNK_ID_LEN,
		            ids + k * HBR_CHUNK_ID_LEN, HBR_CHUNK_ID_LEN) > 0;
		     k--) {
			uint8_t t[HBR_CHUNK_ID_LEN];
			memcpy(t, ids + k * HBR_CHUNK_ID_LEN, HBR_CHUNK_ID_LEN);
			memcpy(ids + k * HBR_CHUNK_ID_LEN,
			       ids + (k - 1) * HBR_CHUNK_ID_LEN,
			       HBR_CHUNK_ID_LEN);
			memcpy(ids + (k - 1) * HBR_CHUNK_ID_LEN, t,
			       HBR_CHUNK_ID_LEN);
		}
	*n_out = n;
	return ids;
}

static int commit_snapshot(struct hbr_snapshot_committed *out, struct world *w,
                           const char *job, const char *snapshot_id,
                           const int *which)
{
	struct hbr_job_ref j = ref(w, w->c, job);
	struct hbr_snapshot_commit c = { 0 };
	size_t n;
	uint8_t *ids = sorted_ids(w, which, &n);
	int rc;

	c.job = &j;
	c.snapshot_id = snapshot_id;
	c.tree = "[\"00\"]";
	c.refs = ids;
	c.nrefs = n;
	c.status = "COMPLETE";
	c.snapshot_hash = "h";
	c.error_file = "";
	c.bytes_total = 1000;
	c.bytes_done = 1000;
	c.items_total = 3;
	c.items_done = 3;
	c.actual_bytes = 42;
	c.now = 500;
	rc = hbr_store_snapshot_commit(out, w->f.s, &c);
	hbr_free(ids);
	return rc;
}

/* ---- chunk and pack rows ---- */

static void test_pack_rows(void **state)
{
	struct world *w = *state;
	static const int first[] = { 0, 1, 2, -1 }, second[] = { 1, 3, 1, -1 };
	struct hbr_pack_added a;
	struct hbr_chunk_row rows[2];
	bool missing[4], found[2];
	uint8_t ask[4 * HBR_CHUNK_ID_LEN];
	size_t n_missing = 0;

	assert_int_equal(upload(&a, w, w->job, "p1", first), 0);
	assert_int_equal(a.chunks, 3);
	assert_int_equal(a.new_chunks, 3);
	assert_int_equal(a.new_bytes, 100 + 101 + 102);
	assert_string_equal(pack_state(w, "p1"), "live");
	assert_int_equal(rows_of(&w->f, "chunks"), 3);
	/* Nothing references them yet: unreferenced since the upload,
	 * and no live bytes in the pack. */
	assert_int_equal(dead_since(w, 0), 300);
	assert_int_equal(live_bytes(w, "p1"), 0);

	/* Chunk 1 again (twice) and a new one: only chunk 3 is new, and
	 * chunk 1 keeps its first place. */
	assert_int_equal(upload(&a, w, w->job, "p2", second), 0);
	assert_int_equal(a.chunks, 3);
	assert_int_equal(a.new_chunks, 1);
	assert_int_equal(a.new_bytes, 103);
	assert_int_equal(rows_of(&w->f, "chunks"), 4);

	memcpy(ask, w->id[0], HBR_CHUNK_ID_LEN);
	memcpy(ask + 32, w->id[5], HBR_CHUNK_ID_LEN);
	memcpy(ask + 64, w->id[3], HBR_CHUNK_ID_LEN);
	memcpy(ask + 96, w->id[4], HBR_CHUNK_ID_LEN);
	assert_int_equal(hbr_store_chunks_missing(missing, &n_missing, w->f.s,
	                                          w->v, ask, 4),
	                 0);
	assert_int_equal(n_missing, 2);
	assert_false(missing[0]);
	assert_true(missing[1]);
	assert_false(missing[2]);
	assert_true(missing[3]);
	/* Another vault has none of them. */
	assert_int_equal(hbr_store_chunks_missing(missing, &n_missing, w->f.s,
	                                          "v-other", ask, 4),
	                 0);
	assert_int_equal(n_missing, 4);

	memcpy(ask, w->id[1], HBR_CHUNK_ID_LEN);
	memcpy(ask + 32, w->id[5], HBR_CHUNK_ID_LEN);
	assert_int_equal(
	        hbr_store_chunks_get(rows, found, w->f.s, w->v, ask, 2), 0);
	assert_true(found[0]);
	assert_false(found[1]);
	assert_string_equal(rows[0].pack_id, "p1");
	assert_int_equal(rows[0].offset,
	                 HBR_PACK_HEAD_LEN + 3 * HBR_PACK_ENTRY_LEN + 100);
	assert_int_equal(rows[0].stored_len, 101);
	assert_int_equal(rows[0].raw_len, 101);
	assert_int_equal(rows[0].refs, 0);
}

/* What CheckAgentChunks reports present is kept from reclamation for
 * the job: unreferenced chunks that died before the job started are
 * stamped now; those since then are left alone. */
static void test_check_protects_what_it_reports(void **state)
{
	struct world *w = *state;
	static const int up[] = { 0, 1, -1 };
	struct hbr_pack_added a;
	uint8_t ask[3 * HBR_CHUNK_ID_LEN];
	bool missing[3];
	size_t n_missing = 9;

	assert_int_equal(upload(&a, w, w->job, "p1", up), 0); /* at 300 */
	memcpy(ask, w->id[0], HBR_CHUNK_ID_LEN);
	memcpy(ask + 32, w->id[1], HBR_CHUNK_ID_LEN);
	memcpy(ask + 64, w->id[2], HBR_CHUNK_ID_LEN);
	/* A job started at 250: both died (were uploaded) since. */
	assert_int_equal(hbr_store_chunks_check(missing, &n_missing, w->f.s,
	                                        w->v, ask, 3, 250, 400),
	                 0);
	assert_int_equal(n_missing, 1);
	assert_false(missing[0]);
	assert_false(missing[1]);
	assert_true(missing[2]);
	assert_int_equal(dead_since(w, 0), 300);
	/* A job started at 350: it could lose them, so they are renewed. */
	assert_int_equal(hbr_store_chunks_check(missing, &n_missing, w->f.s,
	                                        w->v, ask, 2, 350, 400),
	                 0);
	assert_int_equal(n_missing, 0);
	assert_int_equal(dead_since(w, 0), 400);
	assert_int_equal(dead_since(w, 1), 400);
	/* A reclaimed chunk is missing. */
	assert_int_equal(
	        hbr_store_execf(w->f.s, "DELETE FROM chunks WHERE chunk_id = ?",
	                        "b", w->id[1], (size_t)HBR_CHUNK_ID_LEN),
	        0);
	assert_int_equal(hbr_store_chunks_check(missing, &n_missing, w->f.s,
	                                        w->v, ask, 2, 500, 600),
	                 0);
	assert_int_equal(n_missing, 1);
	assert_true(missing[1]);
	assert_int_equal(dead_since(w, 0), 600);
}

static void test_pack_commit_refuses_a_cancelled_job(void **state)
{
	struct world *w = *state;
	static const int chunks[] = { 0, -1 };
	struct hbr_pack_added a;

	begin(&w->f);
	assert_int_equal(
	        hbr_store_cancel(w->f.s, HBR_ENT_JOB, w->f.acc_a, w->job), 0);
	commit(&w->f);
	assert_int_equal(upload(&a, w, w->job, "p1", chunks), HBR_ECONFLICT);
	assert_non_null(strstr(hbr_error_msg(), "CANCELED"));
	/* The object may exist: its row stays for reclamation. */
	assert_string_equal(pack_state(w, "p1"), "writing");
	assert_int_equal(rows_of(&w->f, "chunks"), 0);
}

static void test_pack_commit_refuses_another_clients_job(void **state)
{
	struct world *w = *state;
	static const int chunks[] = { 0, -1 };
	struct hbr_job_ref j = ref(w, w->d, w->job);
	struct hbr_pack_added a;
	struct hbr_pack_view view;
	struct hbr_buf body;

	make_pack(&body, &view, w, chunks);
	assert_int_equal(
	        hbr_store_pack_commit(&a, w->f.s, &j, w->v, "p1", &view, 300),
	        HBR_ENOJOB);
	hbr_pack_view_free(&view);
	hbr_buf_release(&body);
	assert_int_equal(rows_of(&w->f, "chunks"), 0);
}

/* ---- the snapshot commit ---- */

static void test_commit_counts_each_ref_once(void **state)
{
	struct world *w = *state;
	static const int up[] = { 0, 1, 2, 3, -1 };
	static const int s1[] = { 0, 1, 2, -1 }, s2[] = { 1, 2, 3, -1 };
	struct hbr_snapshot_committed r;
	struct hbr_pack_added a;
	char job2[HBR_ID_MAX], snap1[HBR_ID_MAX], snap2[HBR_ID_MAX];
	char *tree = NULL;

	assert_int_equal(upload(&a, w, w->job, "p1", up), 0);
	hbr_id_new(snap1, HBR_ID_SNAPSHOT);
	assert_int_equal(commit_snapshot(&r, w, w->job, snap1, s1), 0);
	assert_false(r.existing);
	assert_string_equal(r.snapshot_id, snap1);
	assert_string_equal(r.plan_id, w->p);
	assert_int_equal(r.stored_bytes, 100 + 101 + 102);
	assert_int_equal(refs_of(w, 0), 1);
	assert_int_equal(refs_of(w, 1), 1);
	assert_int_equal(refs_of(w, 3), 0);
	/* Referenced chunks are live bytes of their pack, and not dead. */
	assert_int_equal(live_bytes(w, "p1"), 100 + 101 + 102 + 3 * 48);
	assert_int_equal(dead_since(w, 0), -1);
	assert_int_equal(dead_since(w, 3), 300);

	/* The job is done, and the snapshot carries the job's fields. */
	assert_string_equal(
	        get_str(&w->f, HBR_ENT_JOB, w->f.acc_a, w->job, "Status"),
	        "COMPLETE");
	assert_string_equal(
	        get_str(&w->f, HBR_ENT_JOB, w->f.acc_a, w->job, "SnapshotId"),
	        snap1);
	assert_string_equal(
	        get_str(&w->f, HBR_ENT_SNAPSHOT, w->f.acc_a, snap1, "JobId"),
	        w->job);
	assert_string_equal(
	        get_str(&w->f, HBR_ENT_SNAPSHOT, w->f.acc_a, snap1, "PlanId"),
	        w->p);
	assert_int_equal(
	        hbr_store_snapshot_tree(&tree, w->f.s, w->f.acc_a, snap1), 0);
	assert_string_equal(tree, "[\"00\"]");
	hbr_free(tree);

	/* A second snapshot sharing two chunks: those count 2, and only
	 * the chunk no snapshot had referenced is its stored bytes. */
	new_job(&w->f, w->f.acc_a, job2, w->c, w->v, w->p, "RUNNING", 600);
	hbr_id_new(snap2, HBR_ID_SNAPSHOT);
	assert_int_equal(commit_snapshot(&r, w, job2, snap2, s2), 0);
	assert_int_equal(r.stored_bytes, 103);
	assert_int_equal(refs_of(w, 0), 1);
	assert_int_equal(refs_of(w, 1), 2);
	assert_int_equal(refs_of(w, 2), 2);
	assert_int_equal(refs_of(w, 3), 1);
	assert_int_equal(live_bytes(w, "p1"), 100 + 101 + 102 + 103 + 4 * 48);
	assert_int_equal(live_count(&w->f, HBR_ENT_SNAPSHOT, w->f.acc_a,
	                            "VaultId", w->v),
	                 2);
}

static void test_commit_refuses_missing_chunks(void **state)
{
	struct world *w = *state;
	static const int up[] = { 0, 1, -1 }, s[] = { 0, 1, 4, 5, -1 };
	struct hbr_snapshot_committed r;
	struct hbr_pack_added a;
	char snap[HBR_ID_MAX], hex[HBR_CHUNK_HEX_LEN];

	assert_int_equal(upload(&a, w, w->job, "p1", up), 0);
	hbr_id_new(snap, HBR_ID_SNAPSHOT);
	assert_int_equal(commit_snapshot(&r, w, w->job, snap, s), HBR_ENOCHUNK);
	assert_non_null(strstr(hbr_error_msg(), "2 chunk(s)"));
	hbr_chunk_id_hex(hex, w->id[4]);
	assert_non_null(strstr(hbr_error_msg(), hex));
	/* Nothing changed: no snapshot, no count, the job still runs. */
	assert_int_equal(get_rc(&w->f, HBR_ENT_SNAPSHOT, w->f.acc_a, snap),
	                 HBR_ENOSNAPSHOT);
	assert_int_equal(refs_of(w, 0), 0);
	assert_string_equal(
	        get_str(&w->f, HBR_ENT_JOB, w->f.acc_a, w->job, "Status"),
	        "RUNNING");
}

static void test_commit_refuses_a_cancelled_job(void **state)
{
	struct world *w = *state;
	static const int up[] = { 0, -1 };
	struct hbr_snapshot_committed r;
	struct hbr_pack_added a;
	char snap[HBR_ID_MAX];

	assert_int_equal(upload(&a, w, w->job, "p1", up), 0);
	begin(&w->f);
	assert_int_equal(
	        hbr_store_cancel(w->f.s, HBR_ENT_JOB, w->f.acc_a, w->job), 0);
	commit(&w->f);
	hbr_id_new(snap, HBR_ID_SNAPSHOT);
	assert_int_equal(commit_snapshot(&r, w, w->job, snap, up),
	                 HBR_ECONFLICT);
	assert_non_null(strstr(hbr_error_msg(), "CANCELED"));
	assert_int_equal(rows_of(&w->f, "snapshots"), 0);
	assert_int_equal(refs_of(w, 0), 0);
}

static void test_commit_refuses_a_deleted_clients_job(void **state)
{
	struct world *w = *state;
	static const int up[] = { 0, -1 };
	const char *ids[1] = { w->c };
	struct hbr_delete_counts dc;
	struct hbr_snapshot_committed r;
	struct hbr_pack_added a;
	char snap[HBR_ID_MAX];

	assert_int_equal(upload(&a, w, w->job, "p1", up), 0);
	assert_int_equal(hbr_store_delete_client_resources(
	                         &dc, w->f.s, w->f.acc_a, ids, 1, NULL),
	                 0);
	hbr_id_new(snap, HBR_ID_SNAPSHOT);
	assert_int_equal(commit_snapshot(&r, w, w->job, snap, up), HBR_ENOJOB);
	assert_int_equal(rows_of(&w->f, "snapshots"), 0);
	assert_int_equal(refs_of(w, 0), 0);
	/* And its next upload. */
	assert_int_equal(upload(&a, w, w->job, "p2", up), HBR_ENOJOB);
}

static void test_commit_retry_gives_the_same_snapshot(void **state)
{
	struct world *w = *state;
	static const int up[] = { 0, 1, -1 };
	struct hbr_snapshot_committed r;
	struct hbr_pack_added a;
	char snap[HBR_ID_MAX], again[HBR_ID_MAX];

	assert_int_equal(upload(&a, w, w->job, "p1", up), 0);
	hbr_id_new(snap, HBR_ID_SNAPSHOT);
	assert_int_equal(commit_snapshot(&r, w, w->job, snap, up), 0);
	hbr_id_new(again, HBR_ID_SNAPSHOT);
	assert_int_equal(commit_snapshot(&r, w, w->job, again, up), 0);
	assert_true(r.existing);
	assert_string_equal(r.snapshot_id, snap);
	assert_int_equal(rows_of(&w->f, "snapshots"), 1);
	assert_int_equal(refs_of(w, 0), 1);
}

/* ---- job transitions ---- */

static void test_start_resume_and_parent(void **state)
{
	struct world *w = *state;
	static const int up[] = { 0, -1 };
	struct hbr_snapshot_committed r;
	struct hbr_pack_added a;
	struct hbr_job_ref j;
	char queued[HBR_ID_MAX], snap[HBR_ID_MAX];
	json_t *job = NULL;
	char *tree = NULL;
	bool resumed = true;

	new_job(&w->f, w->f.acc_a, queued, w->c, w->v, w->p, "QUEUED", 300);
	j = ref(w, w->c, queued);
	assert_int_equal(
	        hbr_store_agent_start(&job, &tree, &resumed, w->f.s, &j, 700),
	        0);
	assert_false(resumed);
	assert_string_equal(json_string_value(json_object_get(job, "Status")),
	                    "RUNNING");
	/* Where reclamation reads a running job's start. */
	{
		int64_t t = 0;
		assert_int_equal(hbr_store_count(&t, w->f.s,
		                                 "SELECT start_time FROM jobs"
		                                 " WHERE job_id = ?",
		                                 "s", queued),
		                 0);
		assert_int_equal(t, 700);
	}
	assert_int_equal(json_integer_value(json_object_get(job, "StartTime")),
	                 700);
	assert_string_equal(
	        json_string_value(json_object_get(job, "ParentSnapshotId")),
	        "");
	assert_string_equal(tree, "[]");
	json_decref(job);
	hbr_free(tree);
	assert_int_equal(
	        hbr_store_agent_start(&job, NULL, &resumed, w->f.s, &j, 800),
	        0);
	assert_true(resumed);
	assert_int_equal(json_integer_value(json_object_get(job, "StartTime")),
	                 700);
	json_decref(job);

	/* The first job commits; the next job of the plan has it as its
	 * parent. */
	assert_int_equal(upload(&a, w, w->job, "p1", up), 0);
	hbr_id_new(snap, HBR_ID_SNAPSHOT);
	assert_int_equal(commit_snapshot(&r, w, w->job, snap, up), 0);
	new_job(&w->f, w->f.acc_a, queued, w->c, w->v, w->p, "QUEUED", 900);
	j = ref(w, w->c, queued);
	assert_int_equal(
	        hbr_store_agent_start(&job, &tree, &resumed, w->f.s, &j, 900),
	        0);
	assert_string_equal(
	        json_string_value(json_object_get(job, "ParentSnapshotId")),
	        snap);
	assert_string_equal(tree, "[\"00\"]");
	json_decref(job);
	hbr_free(tree);

	/* A finished job cannot start; another client's does not exist. */
	j = ref(w, w->c, w->job);
	assert_int_equal(
	        hbr_store_agent_start(&job, NULL, &resumed, w->f.s, &j, 900),
	        HBR_ECONFLICT);
	j = ref(w, w->d, queued);
	assert_int_equal(
	        hbr_store_agent_start(&job, NULL, &resumed, w->f.s, &j, 900),
	        HBR_ENOJOB);
}

static void test_progress_and_finish(void **state)
{
	struct world *w = *state;
	struct hbr_job_ref j = ref(w, w->c, w->job);
	json_t *fields =
	        json_pack("{s:i, s:i}", "Progress", 40, "BytesDone", 4096);

	assert_int_equal(hbr_store_agent_progress(w->f.s, &j, fields), 0);
	assert_int_equal(
	        live_count(&w->f, HBR_ENT_JOB, w->f.acc_a, "Status", "RUNNING"),
	        1);
	assert_int_equal(
	        hbr_store_agent_finish(w->f.s, &j, "FAILED", "disk", NULL, 900),
	        0);
	assert_string_equal(
	        get_str(&w->f, HBR_ENT_JOB, w->f.acc_a, w->job, "ErrorMessage"),
	        "disk");
	/* A retried finish succeeds; progress on a finished job does not. */
	assert_int_equal(
	        hbr_store_agent_finish(w->f.s, &j, "FAILED", "disk", NULL, 901),
	        0);
	assert_int_equal(hbr_store_agent_progress(w->f.s, &j, fields),
	                 HBR_ECONFLICT);
	json_decref(fields);
}

static void test_restore_jobs_are_the_target_instances(void **state)
{
	struct world *w = *state;
	static const int up[] = { 0, -1 };
	struct hbr_snapshot_committed r;
	struct hbr_pack_added a;
	struct hbr_job_ref j;
	char snap[HBR_ID_MAX], rid[HBR_ID_MAX], bare[HBR_ID_MAX],
	        rbare[HBR_ID_MAX];
	json_t *job = NULL, *backups = NULL, *restores = NULL;
	char *tree = NULL;
	bool resumed;

	assert_int_equal(upload(&a, w, w->job, "p1", up), 0);
	hbr_id_new(snap, HBR_ID_SNAPSHOT);
	assert_int_equal(commit_snapshot(&r, w, w->job, snap, up), 0);
	/* new_restore targets "i-target", c's instance. */
	new_restore(&w->f, w->f.acc_a, rid, snap, w->c, w->v, "QUEUED", 950);
	assert_int_equal(hbr_store_agent_poll(&backups, &restores, w->f.s,
	                                      w->f.acc_a, w->c, 100),
	                 0);
	assert_int_equal(json_array_size(backups), 0); /* its job is done */
	assert_int_equal(json_array_size(restores), 1);
	json_decref(backups);
	json_decref(restores);
	assert_int_equal(hbr_store_agent_poll(&backups, &restores, w->f.s,
	                                      w->f.acc_a, w->d, 100),
	                 0);
	assert_int_equal(json_array_size(restores), 0);
	json_decref(backups);
	json_decref(restores);

	j = (struct hbr_job_ref){ w->f.acc_a, w->d, HBR_JOB_RESTORE, rid };
	assert_int_equal(
	        hbr_store_agent_start(&job, &tree, &resumed, w->f.s, &j, 960),
	        HBR_ENORESTORE);
	j.client_id = w->c;
	assert_int_equal(
	        hbr_store_agent_start(&job, &tree, &resumed, w->f.s, &j, 960),
	        0);
	assert_string_equal(tree, "[\"00\"]");
	json_decref(job);
	hbr_free(tree);

	/* A snapshot without a tree (made before the data plane) cannot be
	 * restored by an agent: the job fails at once. */
	new_snapshot(&w->f, w->f.acc_a, bare, w->c, w->v, w->p, NULL, 0, 970);
	new_restore(&w->f, w->f.acc_a, rbare, bare, w->c, w->v, "QUEUED", 970);
	j.job_id = rbare;
	assert_int_equal(
	        hbr_store_agent_start(&job, &tree, &resumed, w->f.s, &j, 980),
	        HBR_ECONFLICT);
	assert_string_equal(
	        get_str(&w->f, HBR_ENT_RESTORE, w->f.acc_a, rbare, "Status"),
	        "FAILED");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_pack_rows),
		T(test_check_protects_what_it_reports),
		T(test_pack_commit_refuses_a_cancelled_job),
		T(test_pack_commit_refuses_another_clients_job),
		T(test_commit_counts_each_ref_once),
		T(test_commit_refuses_missing_chunks),
		T(test_commit_refuses_a_cancelled_job),
		T(test_commit_refuses_a_deleted_clients_job),
		T(test_commit_retry_gives_the_same_snapshot),
		T(test_start_resume_and_parent),
		T(test_progress_and_finish),
		T(test_restore_jobs_are_the_target_instances),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
