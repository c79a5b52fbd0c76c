/*
 * store_lifecycle.c and hbr_store_replace over a small world:
 *
 *   account A: vault v1 with client c0 (PROTECTED): plan p0, jobs j_run
 *              (RUNNING, of p0) and j_done (COMPLETE, of p0), snapshots
 *              s0 and s1; vault v2 with client c1 (PROTECTED): plan p1,
 *              job j1 (COMPLETE), snapshot s2.
 *   account B: vault vb with client d0: plan, job (QUEUED), snapshot.
 *
 * Every refusal is checked to change nothing once the caller rolls back.
 */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "unit/store/fixture.h"
#include "util/timeutil.h"

struct world {
	struct fx f;
	char v1[HBR_ID_MAX], v2[HBR_ID_MAX], vb[HBR_ID_MAX];
	char c0[HBR_ID_MAX], c1[HBR_ID_MAX], d0[HBR_ID_MAX];
	char p0[HBR_ID_MAX], p1[HBR_ID_MAX], dp[HBR_ID_MAX];
	char j_run[HBR_ID_MAX], j_done[HBR_ID_MAX], j1[HBR_ID_MAX],
	        dj[HBR_ID_MAX];
	char s0[HBR_ID_MAX], s1[HBR_ID_MAX], s2[HBR_ID_MAX], ds[HBR_ID_MAX];
};

static int setup(void **state)
{
	struct world *w = hbr_calloc(1, sizeof(*w));
	struct fx *f = &w->f;
	const char *a, *b;

	fx_open(f, "store_lifecycle");
	a = f->acc_a;
	b = f->acc_b;
	begin(f);
	new_vault(f, a, w->v1, 100);
	new_vault(f, a, w->v2, 101);
	new_client(f, a, w->c0, "ACTIVATED", 100);
	new_client(f, a, w->c1, "ACTIVATED", 101);
	new_plan(f, a, w->p0, w->c0, w->v1, 200);
	new_plan(f, a, w->p1, w->c1, w->v2, 201);
	new_job(f, a, w->j_run, w->c0, w->v1, w->p0, "RUNNING", 300);
	new_job(f, a, w->j_done, w->c0, w->v1, w->p0, "COMPLETE", 301);
	new_job(f, a, w->j1, w->c1, w->v2, w->p1, "COMPLETE", 302);
	new_snapshot(f, a, w->s0, w->c0, w->v1, w->p0, w->j_done, 10, 400);
	new_snapshot(f, a, w->s1, w->c0, w->v1, w->p0, w->j_done, 20, 401);
	new_snapshot(f, a, w->s2, w->c1, w->v2, w->p1, w->j1, 30, 402);
	set_field(f, HBR_ENT_CLIENT, a, w->c0, "BackupStatus", "PROTECTED");
	set_field(f, HBR_ENT_CLIENT, a, w->c1, "BackupStatus", "PROTECTED");

	new_vault(f, b, w->vb, 100);
	new_client(f, b, w->d0, "ACTIVATED", 100);
	new_plan(f, b, w->dp, w->d0, w->vb, 200);
	new_job(f, b, w->dj, w->d0, w->vb, w->dp, "QUEUED", 300);
	new_snapshot(f, b, w->ds, w->d0, w->vb, w->dp, w->dj, 5, 400);
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

static int64_t queued(struct fx *f, const char *snapshot_id)
{
	int64_t n = -1;

	assert_int_equal(hbr_store_count(&n, f->s,
	                                 "SELECT COUNT(*) FROM gc_queue"
	                                 " WHERE snapshot_id = ?",
	                                 "s", snapshot_id),
	                 0);
	return n;
}

static void finish(struct world *w, const char *job)
{
	begin(&w->f);
	set_field(&w->f, HBR_ENT_JOB, w->f.acc_a, job, "Status", "COMPLETE");
	commit(&w->f);
}

/* ---- DeleteVault -------------------------------------------------------- */

static void test_delete_vault_refused_while_a_job_runs(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	struct hbr_delete_counts c = { 0 };

	begin(f);
	assert_int_equal(hbr_store_delete_vault(&c, f->s, f->acc_a, w->v1),
	                 HBR_ECONFLICT);
	assert_non_null(strstr(hbr_error_msg(), "unfinished backup job"));
	hbr_store_rollback(f->s);
	assert_int_equal(get_rc(f, HBR_ENT_VAULT, f->acc_a, w->v1), 0);
	assert_int_equal(get_rc(f, HBR_ENT_PLAN, f->acc_a, w->p0), 0);
	assert_int_equal(queued(f, w->s0), 0);
}

static void test_delete_vault_refused_while_a_restore_runs(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	struct hbr_delete_counts c = { 0 };
	char r[HBR_ID_MAX];

	begin(f);
	new_restore(f, f->acc_a, r, w->s2, w->c1, w->v2, "QUEUED", 500);
	commit(f);
	begin(f);
	assert_int_equal(hbr_store_delete_vault(&c, f->s, f->acc_a, w->v2),
	                 HBR_ECONFLICT);
	hbr_store_rollback(f->s);
	assert_int_equal(get_rc(f, HBR_ENT_VAULT, f->acc_a, w->v2), 0);
}

static void test_delete_vault_removes_everything_in_it(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	struct hbr_delete_counts c = { 0 };
	char r[HBR_ID_MAX];

	begin(f);
	new_restore(f, f->acc_a, r, w->s0, w->c0, w->v1, "COMPLETE", 500);
	commit(f);
	finish(w, w->j_run);
	begin(f);
	assert_int_equal(hbr_store_delete_vault(&c, f->s, f->acc_a, w->v1), 0);
	commit(f);
	assert_int_equal(c.plans, 1);
	assert_int_equal(c.jobs, 2);
	assert_int_equal(c.snapshots, 2);
	assert_int_equal(get_rc(f, HBR_ENT_VAULT, f->acc_a, w->v1),
	                 HBR_ENOVAULT);
	assert_int_equal(get_rc(f, HBR_ENT_PLAN, f->acc_a, w->p0), HBR_ENOPLAN);
	assert_int_equal(get_rc(f, HBR_ENT_JOB, f->acc_a, w->j_done),
	                 HBR_ENOJOB);
	assert_int_equal(get_rc(f, HBR_ENT_SNAPSHOT, f->acc_a, w->s0),
	                 HBR_ENOSNAPSHOT);
	assert_int_equal(get_rc(f, HBR_ENT_RESTORE, f->acc_a, r),
	                 HBR_ENORESTORE);
	assert_int_equal(queued(f, w->s0), 1);
	assert_int_equal(queued(f, w->s1), 1);
	/* c0 has no plan left; the other vault and account are intact */
	assert_string_equal(
	        get_str(f, HBR_ENT_CLIENT, f->acc_a, w->c0, "BackupStatus"),
	        "UNPROTECTED");
	assert_string_equal(
	        get_str(f, HBR_ENT_CLIENT, f->acc_a, w->c1, "BackupStatus"),
	        "PROTECTED");
	assert_int_equal(get_rc(f, HBR_ENT_SNAPSHOT, f->acc_a, w->s2), 0);
	assert_int_equal(get_rc(f, HBR_ENT_PLAN, f->acc_a, w->p1), 0);
	assert_int_equal(get_rc(f, HBR_ENT_SNAPSHOT, f->acc_b, w->ds), 0);
	assert_int_equal(
	        live_count(f, HBR_ENT_VAULT, f->acc_a, "VaultId", w->v1), 0);
}

static void test_delete_vault_of_another_account(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	struct hbr_delete_counts c = { 0 };

	begin(f);
	assert_int_equal(hbr_store_delete_vault(&c, f->s, f->acc_b, w->v2),
	                 HBR_ENOVAULT);
	hbr_store_rollback(f->s);
	assert_int_equal(get_rc(f, HBR_ENT_VAULT, f->acc_a, w->v2), 0);
}

/* ---- DeleteBackupPlan --------------------------------------------------- */

static void test_delete_plan_require_no_running(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	struct hbr_delete_counts c = { 0 };

	begin(f);
	assert_int_equal(hbr_store_delete_plan(&c, f->s, f->acc_a, w->p0, true),
	                 HBR_ECONFLICT);
	hbr_store_rollback(f->s);
	assert_int_equal(get_rc(f, HBR_ENT_PLAN, f->acc_a, w->p0), 0);
	assert_int_equal(get_rc(f, HBR_ENT_JOB, f->acc_a, w->j_run), 0);
}

static void test_delete_plan_deletes_jobs_keeps_snapshots(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	struct hbr_delete_counts c = { 0 };

	begin(f);
	assert_int_equal(
	        hbr_store_delete_plan(&c, f->s, f->acc_a, w->p0, false), 0);
	commit(f);
	assert_int_equal(c.plans, 1);
	assert_int_equal(c.jobs, 2);
	assert_int_equal(get_rc(f, HBR_ENT_PLAN, f->acc_a, w->p0), HBR_ENOPLAN);
	assert_int_equal(get_rc(f, HBR_ENT_JOB, f->acc_a, w->j_run),
	                 HBR_ENOJOB);
	assert_int_equal(get_rc(f, HBR_ENT_SNAPSHOT, f->acc_a, w->s0), 0);
	assert_int_equal(get_rc(f, HBR_ENT_SNAPSHOT, f->acc_a, w->s1), 0);
	assert_string_equal(
	        get_str(f, HBR_ENT_CLIENT, f->acc_a, w->c0, "BackupStatus"),
	        "UNPROTECTED");
	assert_int_equal(get_rc(f, HBR_ENT_PLAN, f->acc_a, w->p1), 0);
}

static void test_delete_plan_of_another_account(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	struct hbr_delete_counts c = { 0 };

	begin(f);
	assert_int_equal(
	        hbr_store_delete_plan(&c, f->s, f->acc_b, w->p0, false),
	        HBR_ENOPLAN);
	hbr_store_rollback(f->s);
	assert_int_equal(get_rc(f, HBR_ENT_PLAN, f->acc_a, w->p0), 0);
}

/* ---- DeleteSnapshot ----------------------------------------------------- */

static void test_delete_snapshot_queues_it(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;

	begin(f);
	assert_int_equal(hbr_store_delete_snapshot(f->s, f->acc_a, w->s0), 0);
	commit(f);
	assert_int_equal(get_rc(f, HBR_ENT_SNAPSHOT, f->acc_a, w->s0),
	                 HBR_ENOSNAPSHOT);
	assert_int_equal(queued(f, w->s0), 1);
	assert_int_equal(get_rc(f, HBR_ENT_SNAPSHOT, f->acc_a, w->s1), 0);
	assert_int_equal(queued(f, w->s1), 0);

	begin(f);
	assert_int_equal(hbr_store_delete_snapshot(f->s, f->acc_a, w->s0),
	                 HBR_ENOSNAPSHOT);
	assert_int_equal(hbr_store_delete_snapshot(f->s, f->acc_a, w->ds),
	                 HBR_ENOSNAPSHOT);
	hbr_store_rollback(f->s);
	assert_int_equal(get_rc(f, HBR_ENT_SNAPSHOT, f->acc_b, w->ds), 0);
}

static void test_delete_snapshot_refused_while_restored(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	char r[HBR_ID_MAX];

	begin(f);
	new_restore(f, f->acc_a, r, w->s1, w->c0, w->v1, "RUNNING", 500);
	commit(f);
	begin(f);
	assert_int_equal(hbr_store_delete_snapshot(f->s, f->acc_a, w->s1),
	                 HBR_ECONFLICT);
	hbr_store_rollback(f->s);
	assert_int_equal(get_rc(f, HBR_ENT_SNAPSHOT, f->acc_a, w->s1), 0);
	assert_int_equal(queued(f, w->s1), 0);
}

/* ---- DeleteBackupClient ------------------------------------------------- */

static void test_delete_client_refused_after_a_heartbeat(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	struct hbr_delete_counts c = { 0 };

	begin(f);
	set_field(f, HBR_ENT_CLIENT, f->acc_a, w->c1, "LastHeartBeatTime",
	          "100000");
	commit(f);
	begin(f);
	assert_int_equal(hbr_store_delete_client(&c, f->s, f->acc_a, w->c1,
	                                         100000 + 600),
	                 HBR_ECONFLICT);
	assert_non_null(strstr(hbr_error_msg(), "UninstallBackupClients"));
	hbr_store_rollback(f->s);
	assert_int_equal(get_rc(f, HBR_ENT_PLAN, f->acc_a, w->p1), 0);

	/* an hour of silence, or a stopped agent, lets it go */
	begin(f);
	set_field(f, HBR_ENT_CLIENT, f->acc_a, w->c1, "Status", "STOPPED");
	assert_int_equal(hbr_store_delete_client(&c, f->s, f->acc_a, w->c1,
	                                         100000 + 600),
	                 0);
	commit(f);
	assert_int_equal(get_rc(f, HBR_ENT_CLIENT, f->acc_a, w->c1),
	                 HBR_ENOCLIENT);
}

static void test_delete_client_removes_it_and_its_resources(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	struct hbr_delete_counts c = { 0 };
	const char *ids[1] = { w->c0 };
	char inst[256], again[HBR_ID_MAX];

	snprintf(inst, sizeof(inst), "%s",
	         get_str(f, HBR_ENT_CLIENT, f->acc_a, w->c0, "InstanceId"));
	begin(f);
	assert_int_equal(hbr_store_delete_client(&c, f->s, f->acc_a, w->c0,
	                                         hbr_time_now()),
	                 0);
	commit(f);
	assert_int_equal(c.plans, 1);
	assert_int_equal(c.jobs, 2);
	assert_int_equal(c.snapshots, 2);
	assert_int_equal(get_rc(f, HBR_ENT_CLIENT, f->acc_a, w->c0),
	                 HBR_ENOCLIENT);
	assert_int_equal(get_rc(f, HBR_ENT_PLAN, f->acc_a, w->p0), HBR_ENOPLAN);
	assert_int_equal(get_rc(f, HBR_ENT_SNAPSHOT, f->acc_a, w->s0),
	                 HBR_ENOSNAPSHOT);
	assert_int_equal(
	        live_count(f, HBR_ENT_CLIENT, f->acc_a, "InstanceId", inst), 0);
	/* a deleted client is gone for DeleteBackupClientResource too */
	assert_int_equal(hbr_store_delete_client_resources(&c, f->s, f->acc_a,
	                                                   ids, 1, NULL),
	                 HBR_ENOCLIENT);
	/* its instance can be installed again, as a new client */
	begin(f);
	hbr_id_new(again, HBR_ID_CLIENT);
	insert(f, f->acc_a, HBR_ENT_CLIENT,
	       hbr_model_client(again, inst, "INSTALLING", 500));
	commit(f);
	assert_int_equal(
	        live_count(f, HBR_ENT_CLIENT, f->acc_a, "InstanceId", inst), 1);
	/* and the purge still finds the dead rows through the hidden row */
	{
		int64_t done = 0;
		for (int i = 0; i < 10; i++)
			assert_int_equal(hbr_store_purge_step(&done, f->s, 100),
			                 0);
		assert_int_equal(done, 0);
		assert_int_equal(queued(f, w->s0), 1);
	}
}

/* ---- Cancel ------------------------------------------------------------- */

static void test_cancel_backup_job(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;

	begin(f);
	assert_int_equal(
	        hbr_store_cancel(f->s, HBR_ENT_JOB, f->acc_a, w->j_run), 0);
	commit(f);
	assert_string_equal(
	        get_str(f, HBR_ENT_JOB, f->acc_a, w->j_run, "Status"),
	        "CANCELED");
	begin(f);
	assert_int_equal(
	        hbr_store_cancel(f->s, HBR_ENT_JOB, f->acc_a, w->j_run),
	        HBR_ECONFLICT);
	assert_non_null(strstr(hbr_error_msg(), "already CANCELED"));
	assert_int_equal(
	        hbr_store_cancel(f->s, HBR_ENT_JOB, f->acc_a, w->j_done),
	        HBR_ECONFLICT);
	assert_int_equal(hbr_store_cancel(f->s, HBR_ENT_JOB, f->acc_a, w->dj),
	                 HBR_ENOJOB);
	hbr_store_rollback(f->s);
	assert_string_equal(get_str(f, HBR_ENT_JOB, f->acc_b, w->dj, "Status"),
	                    "QUEUED");
}

static void test_cancel_restore_job(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	char r[HBR_ID_MAX], done[HBR_ID_MAX];

	begin(f);
	new_restore(f, f->acc_a, r, w->s0, w->c0, w->v1, "QUEUED", 500);
	new_restore(f, f->acc_a, done, w->s0, w->c0, w->v1, "COMPLETE", 500);
	commit(f);
	begin(f);
	assert_int_equal(hbr_store_cancel(f->s, HBR_ENT_RESTORE, f->acc_b, r),
	                 HBR_ENORESTORE);
	assert_int_equal(
	        hbr_store_cancel(f->s, HBR_ENT_RESTORE, f->acc_a, done),
	        HBR_ECONFLICT);
	assert_int_equal(hbr_store_cancel(f->s, HBR_ENT_RESTORE, f->acc_a, r),
	                 0);
	commit(f);
	assert_string_equal(get_str(f, HBR_ENT_RESTORE, f->acc_a, r, "Status"),
	                    "CANCELED");
	/* a cancelled restore no longer holds the snapshot */
	begin(f);
	assert_int_equal(hbr_store_delete_snapshot(f->s, f->acc_a, w->s0), 0);
	commit(f);
}

/* ---- replace ------------------------------------------------------------ */

static void test_replace_updates_document_and_columns(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	json_t *plan = NULL;

	assert_int_equal(
	        hbr_store_get(&plan, f->s, HBR_ENT_PLAN, f->acc_a, w->p0), 0);
	json_object_set_new(plan, "PlanName", json_string("renamed"));
	json_object_set_new(plan, "Schedule", json_string("I|1|P1D"));
	json_object_set_new(plan, "Disabled", json_true());
	begin(f);
	assert_int_equal(hbr_store_replace(f->s, HBR_ENT_PLAN, f->acc_a, plan),
	                 0);
	commit(f);
	json_decref(plan);
	assert_string_equal(
	        get_str(f, HBR_ENT_PLAN, f->acc_a, w->p0, "Schedule"),
	        "I|1|P1D");
	/* PlanName is a column: lists filter on the new value */
	assert_int_equal(
	        live_count(f, HBR_ENT_PLAN, f->acc_a, "PlanName", "renamed"),
	        1);
	assert_int_equal(
	        live_count(f, HBR_ENT_PLAN, f->acc_a, "Disabled", "true"), 1);
	/* another account's replace touches nothing */
	assert_int_equal(
	        hbr_store_get(&plan, f->s, HBR_ENT_PLAN, f->acc_a, w->p0), 0);
	json_object_set_new(plan, "PlanName", json_string("hijack"));
	begin(f);
	assert_int_equal(hbr_store_replace(f->s, HBR_ENT_PLAN, f->acc_b, plan),
	                 0);
	commit(f);
	json_decref(plan);
	assert_int_equal(
	        live_count(f, HBR_ENT_PLAN, f->acc_a, "PlanName", "hijack"), 0);
}

static void test_proxy_password_is_not_in_the_document(void **state)
{
	struct world *w = *state;
	struct fx *f = &w->f;
	json_t *c = NULL;
	char *text;

	begin(f);
	assert_int_equal(hbr_store_client_set_proxy_password(
	                         f->s, f->acc_a, w->c0, "s3cret-pw"),
	                 0);
	commit(f);
	assert_int_equal(
	        hbr_store_get(&c, f->s, HBR_ENT_CLIENT, f->acc_a, w->c0), 0);
	text = json_dumps(c, JSON_COMPACT);
	assert_null(strstr(text, "s3cret-pw"));
	free(text);
	json_decref(c);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_delete_vault_refused_while_a_job_runs),
		T(test_delete_vault_refused_while_a_restore_runs),
		T(test_delete_vault_removes_everything_in_it),
		T(test_delete_vault_of_another_account),
		T(test_delete_plan_require_no_running),
		T(test_delete_plan_deletes_jobs_keeps_snapshots),
		T(test_delete_plan_of_another_account),
		T(test_delete_snapshot_queues_it),
		T(test_delete_snapshot_refused_while_restored),
		T(test_delete_client_refused_after_a_heartbeat),
		T(test_delete_client_removes_it_and_its_resources),
		T(test_cancel_backup_job),
		T(test_cancel_restore_job),
		T(test_replace_updates_document_and_columns),
		T(test_proxy_password_is_not_in_the_document),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
