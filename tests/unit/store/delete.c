/*
 * hbr_store_delete_client_resources (DeleteBackupClientResource) and
 * hbr_store_purge_step, over a small world of two accounts:
 *
 *   account A: vault va; clients c0, c1, c2, all PROTECTED, each with
 *              2 plans, 3 jobs (RUNNING, COMPLETE, QUEUED) and 4
 *              snapshots; restore jobs r_run (RUNNING, from c0),
 *              r_done (COMPLETE, from c0), r_queued (QUEUED, from c1)
 *              and r_keep (RUNNING, from c2).
 *   account B: vault vb; client d0 with 1 plan, 1 job, 1 snapshot.
 *
 * Most tests delete [c0, c1] and check that exactly their plans, jobs
 * and snapshots went, and that c2 and account B did not notice.
 */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "unit/store/fixture.h"

#define NC 3 /* clients in A */
#define NP 2 /* plans per client */
#define NJ 3 /* jobs per client */
#define NS 4 /* snapshots per client */

static const char *const job_status[NJ] = { "RUNNING", "COMPLETE", "QUEUED" };

struct world {
	struct fx f;
	char va[HBR_ID_MAX], vb[HBR_ID_MAX];
	char c[NC][HBR_ID_MAX];
	char plan[NC][NP][HBR_ID_MAX];
	char job[NC][NJ][HBR_ID_MAX];
	char snap[NC][NS][HBR_ID_MAX];
	int64_t bytes[NC][NS];
	char r_run[HBR_ID_MAX], r_done[HBR_ID_MAX], r_queued[HBR_ID_MAX],
	        r_keep[HBR_ID_MAX];
	char d0[HBR_ID_MAX], d_plan[HBR_ID_MAX], d_job[HBR_ID_MAX],
	        d_snap[HBR_ID_MAX];
};

static int setup(void **state)
{
	struct world *w = hbr_calloc(1, sizeof(*w));
	struct fx *f = &w->f;
	const char *a;

	fx_open(f, "store_delete");
	a = f->acc_a;
	begin(f);
	new_vault(f, a, w->va, 100);
	for (int i = 0; i < NC; i++) {
		new_client(f, a, w->c[i], "ACTIVATED", 100 + i);
		for (int p = 0; p < NP; p++)
			new_plan(f, a, w->plan[i][p], w->c[i], w->va, 200 + p);
		for (int j = 0; j < NJ; j++)
			new_job(f, a, w->job[i][j], w->c[i], w->va,
			        w->plan[i][0], job_status[j], 300 + j);
		for (int s = 0; s < NS; s++) {
			w->bytes[i][s] = 1000 * (i + 1) + s;
			new_snapshot(f, a, w->snap[i][s], w->c[i], w->va,
			             w->plan[i][0], w->job[i][1],
			             w->bytes[i][s], 400 + s);
		}
		set_field(f, HBR_ENT_CLIENT, a, w->c[i], "BackupStatus",
		          "PROTECTED");
	}
	new_restore(f, a, w->r_run, w->snap[0][0], w->c[0], w->va, "RUNNING",
	            500);
	new_restore(f, a, w->r_done, w->snap[0][1], w->c[0], w->va, "COMPLETE",
	            500);
	new_restore(f, a, w->r_queued, w->snap[1][0], w->c[1], w->va, "QUEUED",
	            500);
	new_restore(f, a, w->r_keep, w->snap[2][0], w->c[2], w->va, "RUNNING",
	            500);

	new_vault(f, f->acc_b, w->vb, 100);
	new_client(f, f->acc_b, w->d0, "ACTIVATED", 100);
	new_plan(f, f->acc_b, w->d_plan, w->d0, w->vb, 200);
	new_job(f, f->acc_b, w->d_job, w->d0, w->vb, w->d_plan, "RUNNING", 300);
	new_snapshot(f, f->acc_b, w->d_snap, w->d0, w->vb, w->d_plan, w->d_job,
	             77, 400);
	commit(f);
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

/* ---- helpers ------------------------------------------------------------ */

static struct hbr_audit_entry audit_for(struct world *w, const char *req)
{
	struct hbr_audit_entry e = {
		.time = 1700000000,
		.request_id = req,
		.account_id = w->f.acc_a,
		.principal = "root",
		.access_key_id = "LTAItest",
		.source_ip = "127.0.0.1",
		.action = "DeleteBackupClientResource",
		.client_ids = "[\"...\"]",
		.code = "200",
	};
	return e;
}

static int delete_ids(struct world *w, const char *acc, const char *const *ids,
                      size_t n, struct hbr_delete_counts *out,
                      struct hbr_audit_entry *audit)
{
	return hbr_store_delete_client_resources(out, w->f.s, acc, ids, n,
	                                         audit);
}

static void assert_counts(const struct hbr_delete_counts *c, int64_t plans,
                          int64_t jobs, int64_t snapshots, int64_t restores)
{
	assert_int_equal(c->plans, plans);
	assert_int_equal(c->jobs, jobs);
	assert_int_equal(c->snapshots, snapshots);
	assert_int_equal(c->restores_cancelled, restores);
}

/* Client i of A: are all its plans, jobs and snapshots readable (true)
 * or all gone (false)? Anything in between fails the test. */
static void assert_resources(struct world *w, int i, bool live)
{
	struct fx *f = &w->f;
	const char *a = f->acc_a;

	for (int p = 0; p < NP; p++)
		assert_int_equal(get_rc(f, HBR_ENT_PLAN, a, w->plan[i][p]),
		                 live ? 0 : HBR_ENOPLAN);
	for (int j = 0; j < NJ; j++)
		assert_int_equal(get_rc(f, HBR_ENT_JOB, a, w->job[i][j]),
		                 live ? 0 : HBR_ENOJOB);
	for (int s = 0; s < NS; s++)
		assert_int_equal(get_rc(f, HBR_ENT_SNAPSHOT, a, w->snap[i][s]),
		                 live ? 0 : HBR_ENOSNAPSHOT);
	assert_int_equal(live_count(f, HBR_ENT_PLAN, a, "ClientId", w->c[i]),
	                 live ? NP : 0);
	assert_int_equal(live_count(f, HBR_ENT_JOB, a, "ClientId", w->c[i]),
	                 live ? NJ : 0);
	assert_int_equal(
	        live_count(f, HBR_ENT_SNAPSHOT, a, "ClientId", w->c[i]),
	        live ? NS : 0);
}

static void assert_account_b_untouched(struct world *w)
{
	struct fx *f = &w->f;

	assert_int_equal(get_rc(f, HBR_ENT_PLAN, f->acc_b, w->d_plan), 0);
	assert_int_equal(get_rc(f, HBR_ENT_JOB, f->acc_b, w->d_job), 0);
	assert_int_equal(get_rc(f, HBR_ENT_SNAPSHOT, f->acc_b, w->d_snap), 0);
	assert_string_equal(
	        get_str(f, HBR_ENT_JOB, f->acc_b, w->d_job, "Status"),
	        "RUNNING");
	assert_int_equal(rows_of_client(f, "plans", w->d0), 1);
	assert_int_equal(rows_of_client(f, "jobs", w->d0), 1);
	assert_int_equal(rows_of_client(f, "snapshots", w->d0), 1);
}

/* One text of query results, for before/after comparisons. */
static void append_query(struct fx *f, char *out, size_t size, const char *sql)
{
	struct hbr_stmt *st = NULL;
	int rc;

	assert_int_equal(hbr_store_queryf(&st, f->s, sql, NULL), 0);
	while ((rc = hbr_stmt_next(st)) == 1) {
		size_t len = strlen(out);
		snprintf(out + len, size - len, "%s;", hbr_stmt_text(st, 0));
	}
	assert_int_equal(rc, 0);
	hbr_stmt_done(st);
	assert_true(strlen(out) < size - 1); /* not truncated */
}

/* Everything a delete may change, as text. */
static char *fingerprint(struct fx *f)
{
	static const char *const queries[] = {
		"SELECT client_id || ':' || epoch || ':' || backup_status"
		" || ':' || status || ':' || updated_time FROM clients"
		" ORDER BY client_id",
		"SELECT plan_id || ':' || epoch FROM plans ORDER BY plan_id",
		"SELECT job_id || ':' || epoch || ':' || status FROM jobs"
		" ORDER BY job_id",
		"SELECT snapshot_id || ':' || epoch FROM snapshots"
		" ORDER BY snapshot_id",
		"SELECT restore_id || ':' || status || ':' || updated_time"
		" FROM restore_jobs ORDER BY restore_id",
		"SELECT client_id || ':' || below_epoch FROM purge_pending"
		" ORDER BY client_id",
		"SELECT 'gc:' || snapshot_id FROM gc_queue ORDER BY id",
		"SELECT 'audit:' || id FROM audit_log ORDER BY id",
	};
	size_t size = 32768;
	char *out = hbr_calloc(1, size);

	for (size_t i = 0; i < HBR_ARRAY_SIZE(queries); i++)
		append_query(f, out, size, queries[i]);
	return out;
}

/* hbr_store_purge_step until it reports 0; returns the number of steps. */
static int purge_all(struct fx *f, int64_t batch)
{
	for (int steps = 1; steps <= 10000; steps++) {
		int64_t done = -1;
		int rc = hbr_store_purge_step(&done, f->s, batch);
		if (rc != 0)
			fail_msg("purge step failed (%d): %s", rc,
			         hbr_error_msg());
		assert_true(done >= 0 && done <= batch);
		if (done == 0)
			return steps;
	}
	fail_msg("purge did not finish");
	return -1;
}

/* Dead rows still in the base tables and pending purges, in total. */
static int64_t purge_work_left(struct fx *f)
{
	int64_t n = 0;

	assert_int_equal(hbr_store_count(&n, f->s,
	                                 "SELECT (SELECT COUNT(*) FROM plans p"
	                                 " JOIN clients c USING (client_id)"
	                                 " WHERE p.epoch < c.epoch)"
	                                 " + (SELECT COUNT(*) FROM jobs j"
	                                 " JOIN clients c USING (client_id)"
	                                 " WHERE j.epoch < c.epoch)"
	                                 " + (SELECT COUNT(*) FROM snapshots s"
	                                 " JOIN clients c USING (client_id)"
	                                 " WHERE s.epoch < c.epoch)"
	                                 " + (SELECT COUNT(*) FROM"
	                                 " purge_pending)",
	                                 NULL),
	                 0);
	return n;
}

/* Step until done with a tiny batch, checking that each step that says it
 * did work reduced the work left, and that nothing is left at the end.
 * Returns the number of rows (and pending entries) removed. */
static int64_t purge_in_small_steps(struct fx *f, int64_t batch)
{
	int64_t left = purge_work_left(f), removed = 0, done;
	int steps = 0;

	do {
		int64_t now_left;
		assert_int_equal(hbr_store_purge_step(&done, f->s, batch), 0);
		assert_true(done >= 0 && done <= batch);
		now_left = purge_work_left(f);
		if (done > 0)
			assert_true(now_left < left);
		else
			assert_int_equal(now_left, 0);
		removed += left - now_left;
		left = now_left;
		assert_true(++steps < 500);
	} while (done > 0);
	return removed;
}

static int64_t gc_rows_for(struct fx *f, const char *snapshot,
                           const char *vault, const char *client, int64_t bytes)
{
	int64_t n = -1;

	assert_int_equal(hbr_store_count(&n, f->s,
	                                 "SELECT COUNT(*) FROM gc_queue WHERE"
	                                 " snapshot_id = ? AND vault_id = ? AND"
	                                 " client_id = ? AND actual_bytes = ?",
	                                 "sssi", snapshot, vault, client,
	                                 bytes),
	                 0);
	return n;
}

/* ---- DeleteBackupClientResource ---------------------------------------- */

static void test_delete_removes_exactly_their_resources(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	const char *ids[] = { w->c[0], w->c[1] };
	struct hbr_delete_counts c;

	assert_int_equal(delete_ids(w, f->acc_a, ids, 2, &c, NULL), 0);
	assert_counts(&c, 2 * NP, 2 * NJ, 2 * NS, 2);

	assert_resources(w, 0, false);
	assert_resources(w, 1, false);
	assert_resources(w, 2, true);
	assert_account_b_untouched(w);

	/* whole-account listings agree */
	assert_int_equal(
	        live_count(f, HBR_ENT_PLAN, f->acc_a, "VaultId", w->va), NP);
	assert_int_equal(
	        live_count(f, HBR_ENT_SNAPSHOT, f->acc_a, "VaultId", w->va),
	        NS);
}

static void test_delete_keeps_clients_unprotected(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	const char *ids[] = { w->c[0], w->c[1] };
	struct hbr_delete_counts c;

	assert_int_equal(delete_ids(w, f->acc_a, ids, 2, &c, NULL), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(get_rc(f, HBR_ENT_CLIENT, f->acc_a, w->c[i]),
		                 0);
		assert_string_equal(get_str(f, HBR_ENT_CLIENT, f->acc_a,
		                            w->c[i], "BackupStatus"),
		                    "UNPROTECTED");
		assert_string_equal(
		        get_str(f, HBR_ENT_CLIENT, f->acc_a, w->c[i], "Status"),
		        "ACTIVATED");
	}
	assert_string_equal(
	        get_str(f, HBR_ENT_CLIENT, f->acc_a, w->c[2], "BackupStatus"),
	        "PROTECTED");
}

static void test_delete_cancels_unfinished_restores(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	const char *ids[] = { w->c[0], w->c[1] };
	struct hbr_delete_counts c;

	assert_int_equal(delete_ids(w, f->acc_a, ids, 2, &c, NULL), 0);
	assert_int_equal(c.restores_cancelled, 2);
	assert_string_equal(
	        get_str(f, HBR_ENT_RESTORE, f->acc_a, w->r_run, "Status"),
	        "CANCELED");
	assert_string_equal(
	        get_str(f, HBR_ENT_RESTORE, f->acc_a, w->r_queued, "Status"),
	        "CANCELED");
	/* finished ones and other clients' are left alone */
	assert_string_equal(
	        get_str(f, HBR_ENT_RESTORE, f->acc_a, w->r_done, "Status"),
	        "COMPLETE");
	assert_string_equal(
	        get_str(f, HBR_ENT_RESTORE, f->acc_a, w->r_keep, "Status"),
	        "RUNNING");
}

static void test_delete_writes_audit_in_the_same_call(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	const char *ids[] = { w->c[0], w->c[1] };
	struct hbr_audit_entry audit = audit_for(w, "REQ-DEL-1");
	struct hbr_delete_counts c;
	int64_t n = -1;

	assert_int_equal(rows_of(f, "audit_log"), 0);
	assert_int_equal(delete_ids(w, f->acc_a, ids, 2, &c, &audit), 0);
	/* the entry is filled in with the counts ... */
	assert_int_equal(audit.plans_deleted, 2 * NP);
	assert_int_equal(audit.jobs_deleted, 2 * NJ);
	assert_int_equal(audit.snapshots_deleted, 2 * NS);
	/* ... and stored with them */
	assert_int_equal(rows_of(f, "audit_log"), 1);
	assert_int_equal(hbr_store_count(&n, f->s,
	                                 "SELECT COUNT(*) FROM audit_log"
	                                 " WHERE request_id = 'REQ-DEL-1'"
	                                 " AND account_id = ? AND action ="
	                                 " 'DeleteBackupClientResource'"
	                                 " AND plans_deleted = ? AND"
	                                 " jobs_deleted = ? AND"
	                                 " snapshots_deleted = ?",
	                                 "siii", f->acc_a, (int64_t)(2 * NP),
	                                 (int64_t)(2 * NJ), (int64_t)(2 * NS)),
	                 0);
	assert_int_equal(n, 1);
}

static void test_failed_audit_rolls_everything_back(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	const char *ids[] = { w->c[0], w->c[1] };
	struct hbr_audit_entry audit = audit_for(w, NULL); /* NOT NULL column */
	struct hbr_delete_counts c;
	char *before = fingerprint(f), *after;

	assert_true(delete_ids(w, f->acc_a, ids, 2, &c, &audit) < 0);
	after = fingerprint(f);
	assert_string_equal(after, before);
	assert_resources(w, 0, true);
	assert_resources(w, 1, true);
	hbr_free(before);
	hbr_free(after);
}

static void test_delete_counts_duplicates_once(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	const char *ids[] = { w->c[0], w->c[0], w->c[1], w->c[0], w->c[1] };
	struct hbr_delete_counts c;

	assert_int_equal(delete_ids(w, f->acc_a, ids, 5, &c, NULL), 0);
	assert_counts(&c, 2 * NP, 2 * NJ, 2 * NS, 2);
	assert_resources(w, 0, false);
	assert_resources(w, 1, false);
	assert_resources(w, 2, true);
}

static void test_delete_again_succeeds_with_zero_counts(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	const char *ids[] = { w->c[0], w->c[1] };
	struct hbr_audit_entry audit = audit_for(w, "REQ-AGAIN");
	struct hbr_delete_counts c;

	assert_int_equal(delete_ids(w, f->acc_a, ids, 2, &c, NULL), 0);
	assert_int_equal(delete_ids(w, f->acc_a, ids, 2, &c, &audit), 0);
	assert_counts(&c, 0, 0, 0, 0);
	assert_int_equal(audit.plans_deleted, 0);
	assert_int_equal(audit.snapshots_deleted, 0);
	assert_int_equal(rows_of(f, "audit_log"), 1);
	assert_string_equal(
	        get_str(f, HBR_ENT_CLIENT, f->acc_a, w->c[0], "BackupStatus"),
	        "UNPROTECTED");
	assert_resources(w, 2, true);
}

static void test_delete_client_without_resources(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	char bare[HBR_ID_MAX];
	const char *ids[] = { bare };
	struct hbr_delete_counts c;

	begin(f);
	new_client(f, f->acc_a, bare, "ACTIVATED", 1);
	commit(f);
	set_field(f, HBR_ENT_CLIENT, f->acc_a, bare, "BackupStatus",
	          "PROTECTED");
	assert_int_equal(delete_ids(w, f->acc_a, ids, 1, &c, NULL), 0);
	assert_counts(&c, 0, 0, 0, 0);
	assert_string_equal(
	        get_str(f, HBR_ENT_CLIENT, f->acc_a, bare, "BackupStatus"),
	        "UNPROTECTED");
}

static void test_unknown_id_changes_nothing(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	const char *unknown = "c-0000000000unknown0x";
	const char *ids[] = { w->c[0], unknown, w->c[1] };
	struct hbr_audit_entry audit = audit_for(w, "REQ-BAD");
	struct hbr_delete_counts c = { -1, -1, -1, -1 };
	char *before = fingerprint(f), *after;

	assert_int_equal(delete_ids(w, f->acc_a, ids, 3, &c, &audit),
	                 HBR_ENOCLIENT);
	assert_non_null(strstr(hbr_error_msg(), unknown));
	assert_null(strstr(hbr_error_msg(), w->c[0]));
	assert_null(strstr(hbr_error_msg(), w->c[1]));
	/* the counts are not reported for a failed call */
	assert_counts(&c, -1, -1, -1, -1);

	after = fingerprint(f);
	assert_string_equal(after, before);
	assert_int_equal(rows_of(f, "audit_log"), 0);
	assert_resources(w, 0, true);
	assert_resources(w, 1, true);
	assert_string_equal(
	        get_str(f, HBR_ENT_CLIENT, f->acc_a, w->c[0], "BackupStatus"),
	        "PROTECTED");
	assert_string_equal(
	        get_str(f, HBR_ENT_RESTORE, f->acc_a, w->r_run, "Status"),
	        "RUNNING");
	hbr_free(before);
	hbr_free(after);
}

static void test_message_names_every_unknown_id_once(void **state)
{
	struct world *w = *state;
	const char *u1 = "c-aaaaaaaaaaaaaaaaaaaa",
	           *u2 = "c-bbbbbbbbbbbbbbbbbbbb";
	const char *ids[] = { u1, w->c[0], u2, u1 };
	struct hbr_delete_counts c;
	const char *msg, *first;

	assert_int_equal(delete_ids(w, w->f.acc_a, ids, 4, &c, NULL),
	                 HBR_ENOCLIENT);
	msg = hbr_error_msg();
	first = strstr(msg, u1);
	assert_non_null(first);
	assert_null(strstr(first + 1, u1));
	assert_non_null(strstr(msg, u2));
}

static void test_other_accounts_client_is_unknown(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	const char *foreign[] = { w->d0 };
	const char *mixed[] = { w->c[0], w->d0 };
	const char *mine_from_b[] = { w->c[0] };
	struct hbr_delete_counts c;
	char *before = fingerprint(f), *after;

	assert_int_equal(delete_ids(w, f->acc_a, foreign, 1, &c, NULL),
	                 HBR_ENOCLIENT);
	assert_non_null(strstr(hbr_error_msg(), w->d0));
	assert_int_equal(delete_ids(w, f->acc_a, mixed, 2, &c, NULL),
	                 HBR_ENOCLIENT);
	assert_int_equal(delete_ids(w, f->acc_b, mine_from_b, 1, &c, NULL),
	                 HBR_ENOCLIENT);

	after = fingerprint(f);
	assert_string_equal(after, before);
	assert_account_b_untouched(w);
	assert_resources(w, 0, true);
	hbr_free(before);
	hbr_free(after);
}

static void test_vault_usage_drops_with_the_snapshots(void **state)
{
	struct world *w = *state;
	const char *ids[] = { w->c[0], w->c[1] };
	struct hbr_delete_counts c;
	struct hbr_vault_usage u;
	int64_t c2_bytes = 0;

	for (int s = 0; s < NS; s++)
		c2_bytes += w->bytes[2][s];
	assert_int_equal(delete_ids(w, w->f.acc_a, ids, 2, &c, NULL), 0);
	assert_int_equal(hbr_store_vault_usage(&u, w->f.s, w->va), 0);
	assert_int_equal(u.snapshots, NS);
	assert_int_equal(u.bytes, c2_bytes);
	assert_int_equal(u.plans, NP);
}

/* ---- purge -------------------------------------------------------------- */

static void test_purge_with_nothing_pending(void **state)
{
	struct world *w = *state;
	int64_t done = -1;
	char *before = fingerprint(&w->f), *after;

	assert_int_equal(hbr_store_purge_step(&done, w->f.s, 100), 0);
	assert_int_equal(done, 0);
	after = fingerprint(&w->f);
	assert_string_equal(after, before);
	hbr_free(before);
	hbr_free(after);
}

static void test_purge_removes_dead_rows_and_queues_snapshots(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	const char *ids[] = { w->c[0], w->c[1] };
	struct hbr_delete_counts c;
	int64_t done = -1;

	assert_int_equal(delete_ids(w, f->acc_a, ids, 2, &c, NULL), 0);
	/* deletion only hides the rows; they are still stored */
	assert_int_equal(rows_of_client(f, "snapshots", w->c[0]), NS);
	assert_int_equal(rows_of(f, "purge_pending"), 2);

	assert_true(purge_all(f, 1000) >= 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(rows_of_client(f, "plans", w->c[i]), 0);
		assert_int_equal(rows_of_client(f, "jobs", w->c[i]), 0);
		assert_int_equal(rows_of_client(f, "snapshots", w->c[i]), 0);
		for (int s = 0; s < NS; s++)
			assert_int_equal(gc_rows_for(f, w->snap[i][s], w->va,
			                             w->c[i], w->bytes[i][s]),
			                 1);
	}
	assert_int_equal(rows_of(f, "gc_queue"), 2 * NS);
	assert_int_equal(rows_of(f, "purge_pending"), 0);

	/* live rows of other clients and accounts are untouched */
	assert_int_equal(rows_of_client(f, "plans", w->c[2]), NP);
	assert_int_equal(rows_of_client(f, "jobs", w->c[2]), NJ);
	assert_int_equal(rows_of_client(f, "snapshots", w->c[2]), NS);
	assert_resources(w, 2, true);
	assert_account_b_untouched(w);
	/* the clients themselves stay */
	assert_int_equal(get_rc(f, HBR_ENT_CLIENT, f->acc_a, w->c[0]), 0);

	/* and a further step has nothing to do */
	assert_int_equal(hbr_store_purge_step(&done, f->s, 1000), 0);
	assert_int_equal(done, 0);
}

static void test_new_resources_after_delete_are_live(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	const char *a = f->acc_a;
	const char *ids[] = { w->c[0] };
	char p[HBR_ID_MAX], j[HBR_ID_MAX], s[HBR_ID_MAX];
	struct hbr_delete_counts c;

	assert_int_equal(delete_ids(w, a, ids, 1, &c, NULL), 0);
	begin(f);
	new_plan(f, a, p, w->c[0], w->va, 900);
	new_job(f, a, j, w->c[0], w->va, p, "RUNNING", 900);
	new_snapshot(f, a, s, w->c[0], w->va, p, j, 4242, 900);
	commit(f);

	assert_int_equal(get_rc(f, HBR_ENT_PLAN, a, p), 0);
	assert_int_equal(get_rc(f, HBR_ENT_JOB, a, j), 0);
	assert_int_equal(get_rc(f, HBR_ENT_SNAPSHOT, a, s), 0);
	assert_int_equal(live_count(f, HBR_ENT_PLAN, a, "ClientId", w->c[0]),
	                 1);

	(void)purge_all(f, 1000);
	assert_int_equal(get_rc(f, HBR_ENT_PLAN, a, p), 0);
	assert_int_equal(get_rc(f, HBR_ENT_JOB, a, j), 0);
	assert_int_equal(get_rc(f, HBR_ENT_SNAPSHOT, a, s), 0);
	assert_int_equal(rows_of_client(f, "plans", w->c[0]), 1);
	assert_int_equal(rows_of_client(f, "jobs", w->c[0]), 1);
	assert_int_equal(rows_of_client(f, "snapshots", w->c[0]), 1);
	assert_int_equal(gc_rows_for(f, s, w->va, w->c[0], 4242), 0);
	assert_int_equal(rows_of(f, "gc_queue"), NS);

	/* a second deletion takes exactly the new generation */
	assert_int_equal(delete_ids(w, a, ids, 1, &c, NULL), 0);
	assert_counts(&c, 1, 1, 1, 0);
	(void)purge_all(f, 1000);
	assert_int_equal(rows_of_client(f, "snapshots", w->c[0]), 0);
	assert_int_equal(gc_rows_for(f, s, w->va, w->c[0], 4242), 1);
	assert_int_equal(rows_of(f, "gc_queue"), NS + 1);
}

static void test_two_deletions_before_purge(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	const char *ids[] = { w->c[0] };
	char s[HBR_ID_MAX];
	struct hbr_delete_counts c;

	assert_int_equal(delete_ids(w, f->acc_a, ids, 1, &c, NULL), 0);
	begin(f);
	new_snapshot(f, f->acc_a, s, w->c[0], w->va, NULL, NULL, 5, 900);
	commit(f);
	assert_int_equal(delete_ids(w, f->acc_a, ids, 1, &c, NULL), 0);
	assert_counts(&c, 0, 0, 1, 0);
	assert_int_equal(rows_of(f, "purge_pending"), 1);

	(void)purge_all(f, 1000);
	assert_int_equal(rows_of_client(f, "plans", w->c[0]), 0);
	assert_int_equal(rows_of_client(f, "jobs", w->c[0]), 0);
	assert_int_equal(rows_of_client(f, "snapshots", w->c[0]), 0);
	assert_int_equal(rows_of(f, "gc_queue"), NS + 1);
	assert_int_equal(gc_rows_for(f, s, w->va, w->c[0], 5), 1);
	assert_int_equal(rows_of(f, "purge_pending"), 0);
}

static void test_purge_small_batches_make_progress(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	const char *a = f->acc_a;
	char big[HBR_ID_MAX], id[HBR_ID_MAX];
	const char *ids[] = { big, w->c[0] };
	struct hbr_delete_counts c;

	/* 20 plans, 20 jobs and 25 snapshots, plus c0's 9 rows */
	begin(f);
	new_client(f, a, big, "ACTIVATED", 1);
	for (int i = 0; i < 20; i++) {
		new_plan(f, a, id, big, w->va, 10 + i);
		new_job(f, a, id, big, w->va, NULL, "COMPLETE", 10 + i);
	}
	for (int i = 0; i < 25; i++)
		new_snapshot(f, a, id, big, w->va, NULL, NULL, i, 10 + i);
	commit(f);
	assert_int_equal(delete_ids(w, a, ids, 2, &c, NULL), 0);
	assert_counts(&c, 20 + NP, 20 + NJ, 25 + NS, 1);

	assert_int_equal(purge_work_left(f), 65 + NP + NJ + NS + 2);
	assert_int_equal(purge_in_small_steps(f, 3), 65 + NP + NJ + NS + 2);
	assert_int_equal(rows_of_client(f, "plans", big), 0);
	assert_int_equal(rows_of_client(f, "jobs", big), 0);
	assert_int_equal(rows_of_client(f, "snapshots", big), 0);
	assert_int_equal(rows_of(f, "gc_queue"), 25 + NS);
	assert_resources(w, 2, true);
	assert_account_b_untouched(w);
}

static void test_purge_small_batches_snapshot_heavy(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	char snaps[HBR_ID_MAX], id[HBR_ID_MAX];
	const char *ids[] = { snaps };
	struct hbr_delete_counts c;

	/* only snapshots: the batch is spent on them every step */
	begin(f);
	new_client(f, f->acc_a, snaps, "ACTIVATED", 1);
	for (int i = 0; i < 10; i++)
		new_snapshot(f, f->acc_a, id, snaps, w->va, NULL, NULL, i, i);
	commit(f);
	assert_int_equal(delete_ids(w, f->acc_a, ids, 1, &c, NULL), 0);
	assert_counts(&c, 0, 0, 10, 0);

	assert_int_equal(purge_in_small_steps(f, 3), 10 + 1);
	assert_int_equal(rows_of_client(f, "snapshots", snaps), 0);
	assert_int_equal(rows_of(f, "gc_queue"), 10);
	assert_int_equal(rows_of(f, "purge_pending"), 0);
}

static void test_purge_batch_of_one(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	const char *ids[] = { w->c[0], w->c[1], w->c[2] };
	struct hbr_delete_counts c;
	int64_t rows = 3 * (NP + NJ + NS);

	assert_int_equal(delete_ids(w, f->acc_a, ids, 3, &c, NULL), 0);
	assert_int_equal(purge_in_small_steps(f, 1), rows + 3);
	assert_int_equal(rows_of(f, "gc_queue"), 3 * NS);
	assert_account_b_untouched(w);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_delete_removes_exactly_their_resources),
		T(test_delete_keeps_clients_unprotected),
		T(test_delete_cancels_unfinished_restores),
		T(test_delete_writes_audit_in_the_same_call),
		T(test_failed_audit_rolls_everything_back),
		T(test_delete_counts_duplicates_once),
		T(test_delete_again_succeeds_with_zero_counts),
		T(test_delete_client_without_resources),
		T(test_unknown_id_changes_nothing),
		T(test_message_names_every_unknown_id_once),
		T(test_other_accounts_client_is_unknown),
		T(test_vault_usage_drops_with_the_snapshots),
		T(test_purge_with_nothing_pending),
		T(test_purge_removes_dead_rows_and_queues_snapshots),
		T(test_new_resources_after_delete_are_live),
		T(test_two_deletions_before_purge),
		T(test_purge_small_batches_make_progress),
		T(test_purge_small_batches_snapshot_heavy),
		T(test_purge_batch_of_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
