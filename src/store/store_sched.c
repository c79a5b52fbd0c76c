/*
 * Scheduled runs, the scheduler lease and retention (store_sched.h,
 * docs/SCHEDULER.md).
 *
 * plan_sched(plan_id, schedule, handled) remembers, per plan, the latest
 * boundary dealt with and the Schedule text it was computed under. A run
 * is claimed by a compare-and-set on that row in the same transaction
 * that queues the job, so a boundary yields at most one job however many
 * hbrd nodes (or restarts) look at it. A scan only reads; steady state
 * (nothing due) writes nothing.
 */
#include "common.h"
#include <jansson.h>
#include "core/model.h"
#include "core/schedule.h"
#include "store/store_resource.h"
#include "store/store_sched.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"

/* Job states that mean the previous run is still going. */
#define UNFINISHED "('CREATED','QUEUED','RUNNING','CANCELING')"
#define DAY_S      86400

/* The latest boundary start + k*interval <= now, or INT64_MIN before the
 * first one. */
static int64_t latest_boundary(const struct hbr_schedule *sch, int64_t now)
{
	if (now < sch->start)
		return INT64_MIN;
	return sch->start + (now - sch->start) / sch->interval * sch->interval;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static void copy_text(char *dst, size_t size, const char *src)
{
	(void)snprintf(dst, size, "%s", src ? src : "");
}

/* Decide for one scanned row; true when d has work. */
static bool plan_due(struct hbr_sched_due *d, struct hbr_stmt *st, int64_t now)
{
	struct hbr_schedule sch;
	const char *text = hbr_stmt_text(st, 3);
	int64_t updated = hbr_stmt_int(st, 2), base;
	bool ok = false;

	/* CreateBackupPlan validated it; a plan that still does not parse
	 * (seeded, or from an older hbrd) simply never runs by itself. */
	if (!text || strlen(text) >= sizeof(d->schedule) ||
	    hbr_schedule_parse(&sch, text) < 0)
		goto out;
	copy_text(d->plan_id, sizeof(d->plan_id), hbr_stmt_text(st, 0));
	copy_text(d->account_id, sizeof(d->account_id), hbr_stmt_text(st, 1));
	copy_text(d->schedule, sizeof(d->schedule), text);
	d->known = !hbr_stmt_is_null(st, 5);
	copy_text(d->seen_schedule, sizeof(d->seen_schedule),
	          d->known ? hbr_stmt_text(st, 4) : "");
	d->seen_handled = d->known ? hbr_stmt_int(st, 5) : 0;
	/* UpdatedTime is when the plan got its current schedule (or a
	 * later change): counting from it, not from when a tick first saw
	 * the plan, makes the result independent of tick timing. */
	if (!d->known)
		base = min64(now, updated);
	else if (strcmp(d->seen_schedule, text))
		base = max64(d->seen_handled, min64(now, updated));
	else
		base = d->seen_handled;
	d->due = latest_boundary(&sch, now);
	ok = d->due != INT64_MIN && d->due > base;
out:
	return ok;
}

int hbr_store_sched_scan(struct hbr_sched_due **out, size_t *n_out,
                         struct hbr_store *s, int64_t now)
{
	struct hbr_sched_due *arr = NULL;
	struct hbr_stmt *st = NULL;
	size_t n = 0, cap = 0;
	int error;

	if ((error = hbr_store_queryf(&st, s,
	                              "SELECT p.plan_id, p.account_id,"
	                              " p.updated_time, p.schedule, ps.schedule,"
	                              " ps.handled FROM live_plans p"
	                              " LEFT JOIN plan_sched ps"
	                              " ON ps.plan_id = p.plan_id"
	                              " WHERE p.source_type = 'ECS_FILE'",
	                              NULL)) < 0)
		return error;
	while ((error = hbr_stmt_next(st)) == 1) {
		hbr_grow((void **)&arr, &cap, n + 1, sizeof(*arr));
		if (plan_due(&arr[n], st, now))
			n++;
	}
	hbr_stmt_done(st);
	if (error < 0) {
		hbr_free(arr);
		return error;
	}
	*out = arr;
	*n_out = n;
	return 0;
}

/* The compare-and-set: true when this transaction moved handled from
 * what the scan saw to d->due. */
static int claim(bool *won, struct hbr_store *s, const struct hbr_sched_due *d)
{
	struct hbr_stmt *st = NULL;
	int error;

	if (d->known)
		error = hbr_store_queryf(
		        &st, s,
		        "UPDATE plan_sched SET schedule = ?, handled = ?"
		        " WHERE plan_id = ? AND schedule = ? AND handled = ?"
		        " RETURNING plan_id",
		        "sissi", d->schedule, d->due, d->plan_id,
		        d->seen_schedule, d->seen_handled);
	else
		error = hbr_store_queryf(
		        &st, s,
		        "INSERT INTO plan_sched (plan_id, schedule, handled)"
		        " VALUES (?, ?, ?) ON CONFLICT (plan_id) DO NOTHING"
		        " RETURNING plan_id",
		        "ssi", d->plan_id, d->schedule, d->due);
	if (error < 0)
		return error;
	error = hbr_stmt_next(st);
	hbr_stmt_done(st);
	if (error < 0)
		return error;
	*won = error == 1;
	return 0;
}

int hbr_store_sched_fire(enum hbr_sched_outcome *out, char *job_id_out,
                         struct hbr_store *s, const struct hbr_sched_due *d,
                         int64_t now)
{
	enum hbr_sched_outcome r = HBR_SCHED_LOST;
	char job_id[HBR_ID_MAX] = "";
	json_t *plan = NULL, *job = NULL;
	const char *text;
	int64_t busy = 0;
	bool won = false;
	int error;

	if ((error = hbr_store_begin(s)) < 0)
		return error;
	error = hbr_store_get(&plan, s, HBR_ENT_PLAN, d->account_id,
	                      d->plan_id);
	if (error == HBR_ENOPLAN) {
		/* Deleted since the scan: nothing to run. */
		error = 0;
		goto done;
	}
	if (error < 0)
		goto fail;
	/* Changed since the scan: the next scan computes it afresh. */
	text = json_string_value(json_object_get(plan, "Schedule"));
	if (!text || strcmp(text, d->schedule))
		goto done;
	if ((error = claim(&won, s, d)) < 0)
		goto fail;
	if (!won)
		goto done;
	if (json_is_true(json_object_get(plan, "Disabled"))) {
		/* The claim still advances handled, so enabling the plan
		 * later does not make up the runs it missed. */
		r = HBR_SCHED_DISABLED;
		goto done;
	}
	if ((error = hbr_store_count(&busy, s,
	                             "SELECT COUNT(*) FROM live_jobs"
	                             " WHERE plan_id = ? AND status IN"
	                             " " UNFINISHED,
	                             "s", d->plan_id)) < 0)
		goto fail;
	if (busy > 0) {
		r = HBR_SCHED_BUSY;
		goto done;
	}
	hbr_id_new(job_id, HBR_ID_JOB);
	job = hbr_model_job_for_plan(job_id, plan, "AUTO", now);
	if ((error = hbr_store_insert(s, HBR_ENT_JOB, d->account_id, job)) < 0)
		goto fail;
	r = HBR_SCHED_CREATED;
done:
	/* LOST wrote nothing; committing it is as cheap as a rollback. */
	if ((error = hbr_store_commit(s)) < 0)
		goto fail;
	*out = r;
	if (job_id_out && r == HBR_SCHED_CREATED)
		memcpy(job_id_out, job_id, HBR_ID_MAX);
	goto out;
fail:
	hbr_store_rollback(s);
out:
	json_decref(plan);
	json_decref(job);
	return error;
}

int hbr_store_sched_tick(struct hbr_sched_stats *out, struct hbr_store *s,
                         int64_t now)
{
	struct hbr_sched_stats st = { 0 };
	struct hbr_sched_due *due = NULL;
	size_t n = 0;
	int error, first = 0;

	if ((error = hbr_store_sched_scan(&due, &n, s, now)) < 0)
		return error;
	for (size_t i = 0; i < n; i++) {
		enum hbr_sched_outcome r;
		char job_id[HBR_ID_MAX];
		/* One plan that cannot be run must not hold back the rest;
		 * it is retried at the next tick. */
		if ((error = hbr_store_sched_fire(&r, job_id, s, &due[i],
		                                  now)) < 0) {
			hbr_log_warn("schedule: plan %s: %s", due[i].plan_id,
			             hbr_error_msg());
			if (!first)
				first = error;
			continue;
		}
		if (r == HBR_SCHED_CREATED) {
			st.created++;
			hbr_log_info("schedule: plan %s: queued job %s",
			             due[i].plan_id, job_id);
		} else if (r == HBR_SCHED_LOST) {
			st.lost++;
		} else if (r == HBR_SCHED_BUSY) {
			st.skipped++;
			hbr_log_info("schedule: plan %s: run skipped, the"
			             " previous job is unfinished",
			             due[i].plan_id);
		} else {
			st.skipped++;
			hbr_log_debug("schedule: plan %s: disabled",
			              due[i].plan_id);
		}
	}
	if (!first)
		*out = st;
	hbr_free(due);
	return first;
}

int hbr_store_sched_lease(bool *held_out, struct hbr_store *s,
                          const char *owner, int64_t now, int64_t ttl)
{
	struct hbr_stmt *st = NULL;
	bool held = false;
	int error;

	if ((error = hbr_store_begin(s)) < 0)
		return error;
	if ((error = hbr_store_execf(
	             s,
	             "INSERT INTO sched_lease (id, owner, until)"
	             " VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE"
	             " SET owner = excluded.owner, until = excluded.until"
	             " WHERE sched_lease.owner = excluded.owner"
	             " OR sched_lease.until <= ?",
	             "sii", owner, now + ttl, now)) < 0 ||
	    (error = hbr_store_queryf(&st, s,
	                              "SELECT owner FROM sched_lease"
	                              " WHERE id = 1",
	                              NULL)) < 0)
		goto fail;
	if ((error = hbr_stmt_next(st)) == 1)
		held = !strcmp(hbr_stmt_text(st, 0), owner);
	hbr_stmt_done(st);
	if (error < 0 || (error = hbr_store_commit(s)) < 0)
		goto fail;
	*held_out = held;
	return 0;
fail:
	hbr_store_rollback(s);
	return error;
}

int hbr_store_sched_release(struct hbr_store *s, const char *owner)
{
	return hbr_store_execf(s,
	                       "UPDATE sched_lease SET until = 0"
	                       " WHERE id = 1 AND owner = ?",
	                       "s", owner);
}

struct keep_rule {
	char plan_id[HBR_ID_MAX];
	int64_t cutoff; /* snapshots created before it are expired */
	bool keep_latest;
	int64_t expired; /* counted before the write transaction */
};

/* The expired snapshots of one plan, in deletion order; the same text in
 * the count, the copy and the delete so all three see one prefix. */
#define EXPIRED_WHERE                                                      \
	" FROM live_snapshots WHERE plan_id = ? AND created_time < ?"      \
	" AND snapshot_id <> ? AND snapshot_id NOT IN (SELECT snapshot_id" \
	" FROM restore_jobs WHERE status IN " UNFINISHED ")"
#define EXPIRED_ORDER " ORDER BY created_time, snapshot_id LIMIT ?"

/* Rules for plan_id (NULL = every live plan) with a Retention. */
static int load_rules(struct keep_rule **out, size_t *n_out,
                      struct hbr_store *s, const char *plan_id, int64_t now)
{
	struct keep_rule *arr = NULL;
	struct hbr_stmt *st = NULL;
	size_t n = 0, cap = 0;
	int error;

	if (plan_id)
		error = hbr_store_queryf(&st, s,
		                         "SELECT plan_id, doc FROM live_plans"
		                         " WHERE plan_id = ?",
		                         "s", plan_id);
	else
		error = hbr_store_queryf(
		        &st, s, "SELECT plan_id, doc FROM live_plans", NULL);
	if (error < 0)
		return error;
	while ((error = hbr_stmt_next(st)) == 1) {
		json_t *doc = json_loads(hbr_stmt_text(st, 1), 0, NULL);
		json_int_t days =
		        json_integer_value(json_object_get(doc, "Retention"));
		bool keep = json_integer_value(json_object_get(
		                    doc, "KeepLatestSnapshots")) == 1;
		json_decref(doc);
		/* Retention < 1 cannot come from the API; a plan without one
		 * (seeded, older documents) keeps everything. The cap keeps
		 * the product far from overflow. */
		if (days < 1 || days > 1000000)
			continue;
		hbr_grow((void **)&arr, &cap, n + 1, sizeof(*arr));
		copy_text(arr[n].plan_id, sizeof(arr[n].plan_id),
		          hbr_stmt_text(st, 0));
		arr[n].cutoff = now - (int64_t)days * DAY_S;
		arr[n].keep_latest = keep;
		arr[n].expired = 0;
		n++;
	}
	hbr_stmt_done(st);
	if (error < 0) {
		hbr_free(arr);
		return error;
	}
	*out = arr;
	*n_out = n;
	return 0;
}

/* The newest live snapshot of a plan that keeps one, else "" (no
 * snapshot id is empty, so "<> ''" excludes nothing). */
static int newest_kept(char *out, struct hbr_store *s,
                       const struct keep_rule *r)
{
	struct hbr_stmt *st = NULL;
	int error;

	out[0] = '\0';
	if (!r->keep_latest)
		return 0;
	if ((error = hbr_store_queryf(&st, s,
	                              "SELECT snapshot_id FROM live_snapshots"
	                              " WHERE plan_id = ? ORDER BY"
	                              " created_time DESC, snapshot_id DESC"
	                              " LIMIT 1",
	                              "s", r->plan_id)) < 0)
		return error;
	if ((error = hbr_stmt_next(st)) == 1)
		copy_text(out, HBR_ID_MAX, hbr_stmt_text(st, 0));
	hbr_stmt_done(st);
	return error < 0 ? error : 0;
}

static int count_expired(int64_t *out, struct hbr_store *s,
                         const struct keep_rule *r, int64_t limit)
{
	char keep[HBR_ID_MAX];
	int error;

	if ((error = newest_kept(keep, s, r)) < 0)
		return error;
	return hbr_store_count(out, s,
	                       "SELECT COUNT(*) FROM (SELECT 1" EXPIRED_WHERE
	                       " LIMIT ?)",
	                       "sisi", r->plan_id, r->cutoff, keep, limit);
}

static int delete_expired(int64_t *out, struct hbr_store *s,
                          const struct keep_rule *r, int64_t limit, int64_t now)
{
	char keep[HBR_ID_MAX];
	int64_t n = 0;
	int error;

	if ((error = newest_kept(keep, s, r)) < 0 ||
	    (error = hbr_store_count(
	             &n, s,
	             "SELECT COUNT(*) FROM (SELECT 1" EXPIRED_WHERE " LIMIT ?)",
	             "sisi", r->plan_id, r->cutoff, keep, limit)) < 0)
		return error;
	if (n > 0 &&
	    ((error = hbr_store_execf(
	              s,
	              "INSERT INTO gc_queue (vault_id, snapshot_id,"
	              " client_id, actual_bytes, doc, enqueued_time)"
	              " SELECT vault_id, snapshot_id, client_id,"
	              " actual_bytes, doc, ?" EXPIRED_WHERE EXPIRED_ORDER,
	              "isisi", now, r->plan_id, r->cutoff, keep, limit)) < 0 ||
	     (error = hbr_store_execf(
	              s,
	              "DELETE FROM snapshots WHERE snapshot_id IN"
	              " (SELECT snapshot_id" EXPIRED_WHERE EXPIRED_ORDER ")",
	              "sisi", r->plan_id, r->cutoff, keep, limit)) < 0))
		return error;
	*out = n;
	return 0;
}

int hbr_store_retention_apply(int64_t *deleted_out, struct hbr_store *s,
                              const char *plan_id, int64_t now, int64_t batch)
{
	struct keep_rule *rules = NULL;
	int64_t budget = batch, found = 0, deleted = 0;
	size_t n = 0;
	int error;

	HBR_ASSERT(batch > 0);
	/* Find the work with reads first, so the write lock is held only
	 * for plans that have something to delete. */
	if ((error = load_rules(&rules, &n, s, plan_id, now)) < 0)
		return error;
	for (size_t i = 0; i < n && found < batch; i++) {
		if ((error = count_expired(&rules[i].expired, s, &rules[i],
		                           batch - found)) < 0)
			goto out;
		found += rules[i].expired;
	}
	if (found == 0 && plan_id)
		goto done;

	if ((error = hbr_store_begin(s)) < 0)
		goto out;
	for (size_t i = 0; i < n && budget > 0; i++) {
		int64_t k = 0;
		if (rules[i].expired == 0)
			continue;
		if ((error = delete_expired(&k, s, &rules[i], budget, now)) < 0)
			goto fail;
		deleted += k;
		budget -= k;
	}
	/* A whole pass also forgets the schedule state of plans that are
	 * gone; bounded like the rest. */
	if (!plan_id &&
	    (error = hbr_store_execf(
	             s,
	             "DELETE FROM plan_sched WHERE plan_id IN"
	             " (SELECT ps.plan_id FROM plan_sched ps"
	             " LEFT JOIN live_plans p ON p.plan_id = ps.plan_id"
	             " WHERE p.plan_id IS NULL LIMIT ?)",
	             "i", batch)) < 0)
		goto fail;
	if ((error = hbr_store_commit(s)) < 0)
		goto fail;
done:
	*deleted_out = deleted;
	goto out;
fail:
	hbr_store_rollback(s);
out:
	hbr_free(rules);
	return error;
}
