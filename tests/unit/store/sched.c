/*
 * The scheduler's store side (store_sched.c) driven with explicit times:
 * due runs, the compare-and-set claim, the lease, and retention.
 *
 * Times are T0-relative; every plan is created at T0 in account A on
 * client c with vault v, so UpdatedTime = T0 unless a test changes it.
 */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "store/store_sched.h"
#include "unit/store/fixture.h"

#define T0  1700000000
#define MIN 60
#define DAY 86400

struct world {
	struct fx f;
	char v[HBR_ID_MAX], c[HBR_ID_MAX];
};

static int setup(void **state)
{
	struct world *w = hbr_calloc(1, sizeof(*w));

	fx_open(&w->f, "store_sched");
	begin(&w->f);
	new_vault(&w->f, w->f.acc_a, w->v, T0);
	new_client(&w->f, w->f.acc_a, w->c, "ACTIVATED", T0);
	commit(&w->f);
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

struct plan_opts {
	const char *schedule;
	int64_t retention;
	int64_t keep;
	bool disabled;
};

static void make_plan(struct world *w, char *id, const struct plan_opts *o)
{
	json_t *p;

	hbr_id_new(id, HBR_ID_PLAN);
	p = hbr_model_plan(id, w->c, "i-x", w->v, T0);
	json_object_set_new(p, "PlanName", json_string("nightly"));
	json_object_set_new(p, "Schedule", json_string(o->schedule));
	json_object_set_new(p, "Retention", json_integer(o->retention));
	json_object_set_new(p, "KeepLatestSnapshots", json_integer(o->keep));
	json_object_set_new(p, "Disabled", json_boolean(o->disabled));
	json_array_append_new(
	        json_object_get(json_object_get(p, "Paths"), "Path"),
	        json_string("/data"));
	begin(&w->f);
	insert(&w->f, w->f.acc_a, HBR_ENT_PLAN, p);
	commit(&w->f);
}

static void plan_every(struct world *w, char *id, int64_t start,
                       const char *dur)
{
	char sch[64];
	struct plan_opts o = { sch, 7, 1, false };

	snprintf(sch, sizeof(sch), "I|%lld|%s", (long long)start, dur);
	make_plan(w, id, &o);
}

/* What UpdateBackupPlan / DisableBackupPlan leave behind, at time t. */
static void set_disabled(struct world *w, const char *plan, bool disabled,
                         int64_t t)
{
	assert_int_equal(hbr_store_execf(w->f.s,
	                                 "UPDATE plans SET disabled = ?,"
	                                 " updated_time = ? WHERE plan_id = ?",
	                                 "iis", (int64_t)disabled, t, plan),
	                 0);
}

static void set_schedule(struct world *w, const char *plan, const char *sch,
                         int64_t t)
{
	struct hbr_stmt *st = NULL;
	json_t *doc = NULL;
	char *text;

	assert_int_equal(hbr_store_queryf(&st, w->f.s,
	                                  "SELECT doc FROM plans"
	                                  " WHERE plan_id = ?",
	                                  "s", plan),
	                 0);
	assert_int_equal(hbr_stmt_next(st), 1);
	doc = json_loads(hbr_stmt_text(st, 0), 0, NULL);
	hbr_stmt_done(st);
	assert_non_null(doc);
	json_object_set_new(doc, "Schedule", json_string(sch));
	text = json_dumps(doc, JSON_COMPACT);
	/* As UpdateBackupPlan (hbr_store_replace) does: the document and
	 * the schedule column together. */
	assert_int_equal(
	        hbr_store_execf(w->f.s,
	                        "UPDATE plans SET doc = ?, schedule = ?,"
	                        " updated_time = ? WHERE plan_id = ?",
	                        "ssis", text, sch, t, plan),
	        0);
	free(text); /* jansson's allocation */
	json_decref(doc);
}

static int64_t jobs_of(struct world *w, const char *plan)
{
	int64_t n = -1;

	assert_int_equal(hbr_store_count(&n, w->f.s,
	                                 "SELECT COUNT(*) FROM jobs"
	                                 " WHERE plan_id = ?",
	                                 "s", plan),
	                 0);
	return n;
}

/* Finish every job of the plan, as an agent would. */
static void finish_jobs(struct world *w, const char *plan)
{
	assert_int_equal(hbr_store_execf(w->f.s,
	                                 "UPDATE jobs SET status = 'COMPLETE'"
	                                 " WHERE plan_id = ?",
	                                 "s", plan),
	                 0);
}

static struct hbr_sched_stats tick_on(struct hbr_store *s, int64_t now)
{
	struct hbr_sched_stats st;
	int rc = hbr_store_sched_tick(&st, s, now);

	if (rc != 0)
		fail_msg("tick failed (%d): %s", rc, hbr_error_msg());
	return st;
}

static struct hbr_sched_stats tick(struct world *w, int64_t now)
{
	return tick_on(w->f.s, now);
}

/* ---- due runs ----------------------------------------------------------- */

static void test_one_job_per_period(void **state)
{
	struct world *w = *state;
	char p[HBR_ID_MAX];

	plan_every(w, p, T0, "PT1M");
	/* The boundary at the plan's creation is not a run. */
	tick(w, T0);
	tick(w, T0 + 30);
	assert_int_equal(jobs_of(w, p), 0);
	for (int k = 1; k <= 10; k++) {
		int64_t b = T0 + k * MIN;
		tick(w, b - 1);
		assert_int_equal(jobs_of(w, p), k - 1);
		assert_int_equal(tick(w, b).created, 1);
		/* More ticks in the same period add nothing. */
		assert_int_equal(tick(w, b).created, 0);
		tick(w, b + 1);
		tick(w, b + 59);
		assert_int_equal(jobs_of(w, p), k);
		finish_jobs(w, p);
	}
}

static void test_job_is_like_execute_backup_plan(void **state)
{
	struct world *w = *state;
	struct hbr_sched_due *due = NULL;
	enum hbr_sched_outcome r;
	char p[HBR_ID_MAX], job[HBR_ID_MAX];
	json_t *j = NULL;
	size_t n = 0;

	plan_every(w, p, T0, "PT1H");
	assert_int_equal(hbr_store_sched_scan(&due, &n, w->f.s, T0 + 3600), 0);
	assert_int_equal(n, 1);
	assert_string_equal(due[0].plan_id, p);
	assert_int_equal(due[0].due, T0 + 3600);
	assert_int_equal(
	        hbr_store_sched_fire(&r, job, w->f.s, &due[0], T0 + 3601), 0);
	assert_int_equal(r, HBR_SCHED_CREATED);
	hbr_free(due);
	assert_int_equal(
	        hbr_store_get(&j, w->f.s, HBR_ENT_JOB, w->f.acc_a, job), 0);
	assert_string_equal(json_string_value(json_object_get(j, "PlanId")), p);
	assert_string_equal(json_string_value(json_object_get(j, "Status")),
	                    "QUEUED");
	assert_string_equal(
	        json_string_value(json_object_get(j, "TriggerMode")), "AUTO");
	assert_string_equal(json_string_value(json_object_get(j, "JobName")),
	                    "nightly");
	assert_string_equal(json_string_value(json_object_get(j, "ClientId")),
	                    w->c);
	assert_string_equal(json_string_value(json_object_get(j, "VaultId")),
	                    w->v);
	assert_int_equal(json_integer_value(json_object_get(j, "Retention")),
	                 7);
	assert_int_equal(json_integer_value(json_object_get(j, "CreatedTime")),
	                 T0 + 3601);
	assert_string_equal(
	        json_string_value(json_array_get(
	                json_object_get(json_object_get(j, "Paths"), "Path"),
	                0)),
	        "/data");
	json_decref(j);
}

static void test_disabled_plan_does_not_run_or_catch_up(void **state)
{
	struct world *w = *state;
	struct plan_opts o = { "I|1700000000|PT1M", 7, 1, true };
	char p[HBR_ID_MAX];

	make_plan(w, p, &o);
	for (int k = 1; k <= 5; k++) {
		assert_int_equal(tick(w, T0 + k * MIN).created, 0);
		tick(w, T0 + k * MIN + 30);
	}
	assert_int_equal(jobs_of(w, p), 0);
	/* Enabled mid-period: nothing for the periods it missed. */
	set_disabled(w, p, false, T0 + 5 * MIN + 40);
	tick(w, T0 + 5 * MIN + 41);
	tick(w, T0 + 6 * MIN - 1);
	assert_int_equal(jobs_of(w, p), 0);
	assert_int_equal(tick(w, T0 + 6 * MIN).created, 1);
	/* And disabled again, nothing more. */
	finish_jobs(w, p);
	set_disabled(w, p, true, T0 + 6 * MIN + 1);
	tick(w, T0 + 7 * MIN);
	tick(w, T0 + 8 * MIN);
	assert_int_equal(jobs_of(w, p), 1);
}

static void test_no_run_while_previous_job_unfinished(void **state)
{
	struct world *w = *state;
	static const char *const busy[] = { "CREATED", "QUEUED", "RUNNING",
		                            "CANCELING" };
	char p[HBR_ID_MAX], j[HBR_ID_MAX];
	struct hbr_sched_stats st;

	plan_every(w, p, T0, "PT1M");
	for (size_t i = 0; i < HBR_ARRAY_SIZE(busy); i++) {
		begin(&w->f);
		new_job(&w->f, w->f.acc_a, j, w->c, w->v, p, busy[i], T0);
		commit(&w->f);
		st = tick(w, T0 + (int64_t)(i + 1) * MIN);
		assert_int_equal(st.created, 0);
		assert_int_equal(st.skipped, 1);
		assert_int_equal(jobs_of(w, p), (int64_t)i + 1);
		finish_jobs(w, p);
	}
	/* The skipped boundary is not made up once the job ends... */
	tick(w, T0 + 4 * MIN + 30);
	assert_int_equal(jobs_of(w, p), 4);
	/* ...and the next period runs. */
	assert_int_equal(tick(w, T0 + 5 * MIN).created, 1);
	assert_int_equal(jobs_of(w, p), 5);
	/* A job of another plan does not hold this one back. */
	finish_jobs(w, p);
	{
		char q[HBR_ID_MAX];
		plan_every(w, q, T0, "PT1H");
		begin(&w->f);
		new_job(&w->f, w->f.acc_a, j, w->c, w->v, q, "RUNNING", T0);
		commit(&w->f);
	}
	assert_int_equal(tick(w, T0 + 6 * MIN).created, 1);
}

static void test_nothing_before_the_start(void **state)
{
	struct world *w = *state;
	char p[HBR_ID_MAX];

	plan_every(w, p, T0 + 3600, "PT1M");
	for (int64_t t = T0; t < T0 + 3600; t += 7 * MIN)
		tick(w, t);
	tick(w, T0 + 3599);
	assert_int_equal(jobs_of(w, p), 0);
	/* The start itself is the first boundary. */
	assert_int_equal(tick(w, T0 + 3600).created, 1);
}

static void test_changed_schedule_counts_from_the_change(void **state)
{
	struct world *w = *state;
	char p[HBR_ID_MAX];

	/* Ran under PT1M, then changed to PT5M at T0+90. */
	plan_every(w, p, T0, "PT1M");
	assert_int_equal(tick(w, T0 + MIN).created, 1);
	finish_jobs(w, p);
	set_schedule(w, p, "I|1700000000|PT5M", T0 + 90);
	tick(w, T0 + 2 * MIN);
	tick(w, T0 + 5 * MIN - 1);
	assert_int_equal(jobs_of(w, p), 1);
	assert_int_equal(tick(w, T0 + 5 * MIN).created, 1);
	finish_jobs(w, p);
	assert_int_equal(tick(w, T0 + 10 * MIN).created, 1);
	assert_int_equal(jobs_of(w, p), 3);
}

static void test_changed_schedule_before_any_run(void **state)
{
	struct world *w = *state;
	char q[HBR_ID_MAX];

	/* P1D changed at T0+1000 to PT1M: the PT1M boundaries before the
	 * change are not made up. */
	plan_every(w, q, T0, "P1D");
	set_schedule(w, q, "I|1700000000|PT1M", T0 + 1000);
	tick(w, T0 + 1001);
	tick(w, T0 + 1019);
	assert_int_equal(jobs_of(w, q), 0);
	assert_int_equal(tick(w, T0 + 1020).created, 1);
}

static void test_changed_start_into_the_future(void **state)
{
	struct world *w = *state;
	char p[HBR_ID_MAX];

	plan_every(w, p, T0, "PT5M");
	assert_int_equal(tick(w, T0 + 5 * MIN).created, 1);
	finish_jobs(w, p);
	set_schedule(w, p, "I|1700007200|PT5M", T0 + 6 * MIN);
	tick(w, T0 + 10 * MIN);
	tick(w, T0 + 7199);
	assert_int_equal(jobs_of(w, p), 1);
	assert_int_equal(tick(w, T0 + 7200).created, 1);
}

static void test_missed_periods_make_one_run(void **state)
{
	struct world *w = *state;
	char p[HBR_ID_MAX];
	struct hbr_sched_due *due = NULL;
	size_t n = 0;

	plan_every(w, p, T0, "PT1M");
	/* hbrd was down for 50 periods. */
	assert_int_equal(
	        hbr_store_sched_scan(&due, &n, w->f.s, T0 + 50 * MIN + 5), 0);
	assert_int_equal(n, 1);
	assert_int_equal(due[0].due, T0 + 50 * MIN);
	hbr_free(due);
	assert_int_equal(tick(w, T0 + 50 * MIN + 5).created, 1);
	tick(w, T0 + 50 * MIN + 6);
	assert_int_equal(jobs_of(w, p), 1);
	finish_jobs(w, p);
	assert_int_equal(tick(w, T0 + 51 * MIN).created, 1);
}

static void test_deleted_or_unparsable_plans_do_not_run(void **state)
{
	struct world *w = *state;
	struct plan_opts o = { "", 7, 1, false };
	const char *ids[1] = { NULL };
	struct hbr_delete_counts dc;
	char p[HBR_ID_MAX], q[HBR_ID_MAX];
	struct hbr_sched_due *due = NULL;
	size_t n = 0;

	make_plan(w, p, &o); /* no schedule at all */
	plan_every(w, q, T0, "PT1M");
	ids[0] = w->c;
	/* q is due, but its client's resources are deleted first. */
	assert_int_equal(hbr_store_sched_scan(&due, &n, w->f.s, T0 + MIN), 0);
	assert_int_equal(n, 1);
	assert_int_equal(hbr_store_delete_client_resources(
	                         &dc, w->f.s, w->f.acc_a, ids, 1, NULL),
	                 0);
	{
		enum hbr_sched_outcome r;
		assert_int_equal(hbr_store_sched_fire(&r, NULL, w->f.s, &due[0],
		                                      T0 + MIN),
		                 0);
		assert_int_equal(r, HBR_SCHED_LOST);
	}
	hbr_free(due);
	tick(w, T0 + 2 * MIN);
	assert_int_equal(rows_of(&w->f, "jobs"), 0);
}

/* ---- exactly once across nodes ------------------------------------------ */

static void test_two_nodes_claim_a_boundary_once(void **state)
{
	struct world *w = *state;
	struct hbr_sched_due *da = NULL, *db = NULL;
	struct hbr_store *b = NULL;
	enum hbr_sched_outcome ra, rb;
	size_t na = 0, nb = 0;
	char p[HBR_ID_MAX];

	plan_every(w, p, T0, "PT1M");
	assert_int_equal(hbr_store_open(&b, w->f.url), 0);
	/* Both nodes see the first boundary (no plan_sched row yet), then
	 * act on what they saw. */
	for (int k = 1; k <= 3; k++) {
		int64_t now = T0 + k * MIN;
		assert_int_equal(hbr_store_sched_scan(&da, &na, w->f.s, now),
		                 0);
		assert_int_equal(hbr_store_sched_scan(&db, &nb, b, now), 0);
		assert_int_equal(na, 1);
		assert_int_equal(nb, 1);
		assert_int_equal(da[0].known, k > 1);
		/* Alternate the winner. */
		if (k % 2) {
			assert_int_equal(hbr_store_sched_fire(&ra, NULL, w->f.s,
			                                      &da[0], now),
			                 0);
			assert_int_equal(
			        hbr_store_sched_fire(&rb, NULL, b, &db[0], now),
			        0);
		} else {
			assert_int_equal(
			        hbr_store_sched_fire(&rb, NULL, b, &db[0], now),
			        0);
			assert_int_equal(hbr_store_sched_fire(&ra, NULL, w->f.s,
			                                      &da[0], now),
			                 0);
		}
		assert_int_equal(k % 2 ? ra : rb, HBR_SCHED_CREATED);
		assert_int_equal(k % 2 ? rb : ra, HBR_SCHED_LOST);
		hbr_free(da);
		hbr_free(db);
		da = db = NULL;
		/* A whole tick by either node afterwards adds nothing. */
		assert_int_equal(tick_on(b, now).created, 0);
		assert_int_equal(tick(w, now).created, 0);
		assert_int_equal(jobs_of(w, p), k);
		finish_jobs(w, p);
	}
	/* A restarted node (a new connection) catches up without
	 * repeating: one run for the boundary it missed. */
	hbr_store_close(b);
	assert_int_equal(hbr_store_open(&b, w->f.url), 0);
	assert_int_equal(tick_on(b, T0 + 3 * MIN + 30).created, 0);
	assert_int_equal(tick_on(b, T0 + 5 * MIN + 30).created, 1);
	assert_int_equal(jobs_of(w, p), 4);
	hbr_store_close(b);
}

static void test_lease(void **state)
{
	struct world *w = *state;
	struct hbr_store *s = w->f.s;
	bool held = false;

	assert_int_equal(hbr_store_sched_lease(&held, s, "a", 100, 10), 0);
	assert_true(held);
	/* B cannot take a live lease. */
	assert_int_equal(hbr_store_sched_lease(&held, s, "b", 105, 10), 0);
	assert_false(held);
	/* A renews it. */
	assert_int_equal(hbr_store_sched_lease(&held, s, "a", 105, 10), 0);
	assert_true(held);
	assert_int_equal(hbr_store_sched_lease(&held, s, "b", 114, 10), 0);
	assert_false(held);
	/* Expired: B takes it, and A has lost it. */
	assert_int_equal(hbr_store_sched_lease(&held, s, "b", 115, 10), 0);
	assert_true(held);
	assert_int_equal(hbr_store_sched_lease(&held, s, "a", 116, 10), 0);
	assert_false(held);
	/* Only the holder's release frees it. */
	assert_int_equal(hbr_store_sched_release(s, "a"), 0);
	assert_int_equal(hbr_store_sched_lease(&held, s, "a", 117, 10), 0);
	assert_false(held);
	assert_int_equal(hbr_store_sched_release(s, "b"), 0);
	assert_int_equal(hbr_store_sched_lease(&held, s, "a", 117, 10), 0);
	assert_true(held);
	assert_int_equal(rows_of(&w->f, "sched_lease"), 1);
}

/* ---- retention ---------------------------------------------------------- */

static void snap_at(struct world *w, char *id, const char *plan, int64_t t)
{
	begin(&w->f);
	new_snapshot(&w->f, w->f.acc_a, id, w->c, w->v, plan, NULL, 100, t);
	commit(&w->f);
}

static bool snap_live(struct world *w, const char *id)
{
	return get_rc(&w->f, HBR_ENT_SNAPSHOT, w->f.acc_a, id) == 0;
}

static bool snap_queued(struct world *w, const char *id)
{
	int64_t n = 0;

	assert_int_equal(hbr_store_count(&n, w->f.s,
	                                 "SELECT COUNT(*) FROM gc_queue"
	                                 " WHERE snapshot_id = ?",
	                                 "s", id),
	                 0);
	return n == 1;
}

static int64_t retain(struct world *w, const char *plan, int64_t now,
                      int64_t batch)
{
	int64_t n = -1;
	int rc = hbr_store_retention_apply(&n, w->f.s, plan, now, batch);

	if (rc != 0)
		fail_msg("retention failed (%d): %s", rc, hbr_error_msg());
	return n;
}

static void test_retention_deletes_exactly_the_expired(void **state)
{
	struct world *w = *state;
	struct plan_opts one_day = { "I|1700000000|P1D", 1, 0, false };
	struct plan_opts month = { "I|1700000000|P1D", 30, 0, false };
	struct plan_opts none = { "I|1700000000|P1D", 0, 0, false };
	const int64_t now = T0 + 100 * DAY;
	char p[HBR_ID_MAX], q[HBR_ID_MAX], z[HBR_ID_MAX];
	char s[5][HBR_ID_MAX], qs[2][HBR_ID_MAX], zs[HBR_ID_MAX];
	const int64_t age[5] = { 3 * DAY, 2 * DAY, DAY + 1, DAY, 3600 };

	make_plan(w, p, &one_day);
	make_plan(w, q, &month);
	make_plan(w, z, &none);
	for (int i = 0; i < 5; i++)
		snap_at(w, s[i], p, now - age[i]);
	snap_at(w, qs[0], q, now - 29 * DAY);
	snap_at(w, qs[1], q, now - 31 * DAY);
	snap_at(w, zs, z, now - 90 * DAY);

	assert_int_equal(retain(w, NULL, now, 500), 4);
	/* Older than one day: gone and queued for reclamation. Exactly one
	 * day old is not older. */
	for (int i = 0; i < 3; i++) {
		assert_false(snap_live(w, s[i]));
		assert_true(snap_queued(w, s[i]));
	}
	for (int i = 3; i < 5; i++) {
		assert_true(snap_live(w, s[i]));
		assert_false(snap_queued(w, s[i]));
	}
	/* Each plan by its own Retention; Retention 0 keeps all. */
	assert_true(snap_live(w, qs[0]));
	assert_false(snap_live(w, qs[1]));
	assert_true(snap_queued(w, qs[1]));
	assert_true(snap_live(w, zs));
	assert_int_equal(rows_of(&w->f, "gc_queue"), 4);
	assert_int_equal(rows_of(&w->f, "snapshots"), 4);
	/* Nothing left to do. */
	assert_int_equal(retain(w, NULL, now, 500), 0);
	assert_int_equal(rows_of(&w->f, "gc_queue"), 4);
}

static void test_retention_queue_row_is_the_snapshot(void **state)
{
	struct world *w = *state;
	struct plan_opts o = { "I|1700000000|P1D", 1, 0, false };
	struct hbr_stmt *st = NULL;
	char p[HBR_ID_MAX], s[HBR_ID_MAX];

	make_plan(w, p, &o);
	snap_at(w, s, p, T0);
	assert_int_equal(retain(w, p, T0 + 2 * DAY, 500), 1);
	assert_int_equal(
	        hbr_store_queryf(&st, w->f.s,
	                         "SELECT vault_id, client_id,"
	                         " actual_bytes, enqueued_time, doc"
	                         " FROM gc_queue WHERE snapshot_id = ?",
	                         "s", s),
	        0);
	assert_int_equal(hbr_stmt_next(st), 1);
	assert_string_equal(hbr_stmt_text(st, 0), w->v);
	assert_string_equal(hbr_stmt_text(st, 1), w->c);
	assert_int_equal(hbr_stmt_int(st, 2), 100);
	assert_int_equal(hbr_stmt_int(st, 3), T0 + 2 * DAY);
	assert_non_null(strstr(hbr_stmt_text(st, 4), s));
	hbr_stmt_done(st);
}

static void test_retention_keeps_the_latest(void **state)
{
	struct world *w = *state;
	struct plan_opts keep = { "I|1700000000|P1D", 1, 1, false };
	const int64_t now = T0 + 100 * DAY;
	char p[HBR_ID_MAX], s[3][HBR_ID_MAX];

	make_plan(w, p, &keep);
	for (int i = 0; i < 3; i++)
		snap_at(w, s[i], p, now - (10 - i) * DAY);
	assert_int_equal(retain(w, NULL, now, 500), 2);
	assert_false(snap_live(w, s[0]));
	assert_false(snap_live(w, s[1]));
	assert_true(snap_live(w, s[2]));
	/* Still kept on the next pass, however old. */
	assert_int_equal(retain(w, NULL, now + 365 * DAY, 500), 0);
	assert_true(snap_live(w, s[2]));
	/* A newer snapshot takes over; the old newest then expires. */
	{
		char n[HBR_ID_MAX];
		snap_at(w, n, p, now + 365 * DAY);
		assert_int_equal(retain(w, NULL, now + 365 * DAY, 500), 1);
		assert_false(snap_live(w, s[2]));
		assert_true(snap_live(w, n));
	}
}

static void test_retention_one_plan_only(void **state)
{
	struct world *w = *state;
	struct plan_opts o = { "I|1700000000|P1D", 1, 0, false };
	char p[HBR_ID_MAX], q[HBR_ID_MAX], sp[HBR_ID_MAX], sq[HBR_ID_MAX];

	make_plan(w, p, &o);
	make_plan(w, q, &o);
	snap_at(w, sp, p, T0);
	snap_at(w, sq, q, T0);
	assert_int_equal(retain(w, p, T0 + 5 * DAY, 500), 1);
	assert_false(snap_live(w, sp));
	assert_true(snap_live(w, sq));
}

static void test_retention_respects_the_batch(void **state)
{
	struct world *w = *state;
	struct plan_opts o = { "I|1700000000|P1D", 1, 0, false };
	char p[HBR_ID_MAX], q[HBR_ID_MAX], s[7][HBR_ID_MAX];

	make_plan(w, p, &o);
	make_plan(w, q, &o);
	for (int i = 0; i < 7; i++)
		snap_at(w, s[i], i < 4 ? p : q, T0 + i);
	assert_int_equal(retain(w, NULL, T0 + 10 * DAY, 3), 3);
	assert_int_equal(rows_of(&w->f, "snapshots"), 4);
	assert_int_equal(retain(w, NULL, T0 + 10 * DAY, 3), 3);
	assert_int_equal(rows_of(&w->f, "snapshots"), 1);
	assert_int_equal(retain(w, NULL, T0 + 10 * DAY, 3), 1);
	assert_int_equal(retain(w, NULL, T0 + 10 * DAY, 3), 0);
	assert_int_equal(rows_of(&w->f, "snapshots"), 0);
	assert_int_equal(rows_of(&w->f, "gc_queue"), 7);
}

static void test_retention_spares_snapshots_being_restored(void **state)
{
	struct world *w = *state;
	struct plan_opts o = { "I|1700000000|P1D", 1, 0, false };
	char p[HBR_ID_MAX], a[HBR_ID_MAX], b[HBR_ID_MAX], r[HBR_ID_MAX],
	        r2[HBR_ID_MAX];

	make_plan(w, p, &o);
	snap_at(w, a, p, T0);
	snap_at(w, b, p, T0 + 1);
	begin(&w->f);
	new_restore(&w->f, w->f.acc_a, r, a, w->c, w->v, "RUNNING", T0);
	new_restore(&w->f, w->f.acc_a, r2, b, w->c, w->v, "COMPLETE", T0);
	commit(&w->f);
	assert_int_equal(retain(w, NULL, T0 + 5 * DAY, 500), 1);
	assert_true(snap_live(w, a));
	assert_false(snap_live(w, b));
	assert_int_equal(hbr_store_execf(w->f.s,
	                                 "UPDATE restore_jobs SET status ="
	                                 " 'COMPLETE' WHERE restore_id = ?",
	                                 "s", r),
	                 0);
	assert_int_equal(retain(w, NULL, T0 + 5 * DAY, 500), 1);
	assert_false(snap_live(w, a));
}

static void test_retention_forgets_schedules_of_deleted_plans(void **state)
{
	struct world *w = *state;
	const char *ids[1] = { w->c };
	struct hbr_delete_counts dc;
	char p[HBR_ID_MAX];

	plan_every(w, p, T0, "PT1M");
	tick(w, T0 + MIN);
	assert_int_equal(rows_of(&w->f, "plan_sched"), 1);
	assert_int_equal(retain(w, NULL, T0 + MIN, 500), 0);
	assert_int_equal(rows_of(&w->f, "plan_sched"), 1);
	assert_int_equal(hbr_store_delete_client_resources(
	                         &dc, w->f.s, w->f.acc_a, ids, 1, NULL),
	                 0);
	assert_int_equal(retain(w, NULL, T0 + MIN, 500), 0);
	assert_int_equal(rows_of(&w->f, "plan_sched"), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_one_job_per_period),
		T(test_job_is_like_execute_backup_plan),
		T(test_disabled_plan_does_not_run_or_catch_up),
		T(test_no_run_while_previous_job_unfinished),
		T(test_nothing_before_the_start),
		T(test_changed_schedule_counts_from_the_change),
		T(test_changed_schedule_before_any_run),
		T(test_changed_start_into_the_future),
		T(test_missed_periods_make_one_run),
		T(test_deleted_or_unparsable_plans_do_not_run),
		T(test_two_nodes_claim_a_boundary_once),
		T(test_lease),
		T(test_retention_deletes_exactly_the_expired),
		T(test_retention_queue_row_is_the_snapshot),
		T(test_retention_keeps_the_latest),
		T(test_retention_one_plan_only),
		T(test_retention_respects_the_batch),
		T(test_retention_spares_snapshots_being_restored),
		T(test_retention_forgets_schedules_of_deleted_plans),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
