/*
 * The store side of the scheduler (docs/SCHEDULER.md): which plan runs
 * are due, claiming each due run exactly once, the lease that picks the
 * one hbrd doing the ticks, and retention.
 *
 * Every function takes `now` (UNIX seconds) from the caller, so tests
 * drive time explicitly. Each opens and commits its own short
 * transactions; none may be called inside the caller's transaction.
 */
#ifndef HBR_STORE_SCHED_H
#define HBR_STORE_SCHED_H

#include "common.h"
#include "core/id.h"
#include "store/store.h"

#define HBR_SCHED_TEXT_MAX  257 /* CreateBackupPlan caps Schedule at 256 */
#define HBR_SCHED_OWNER_MAX 64

/*
 * One plan whose schedule needs a write, as a scan saw it. The claim is a
 * compare-and-set against what was seen (the plan_sched row, or its
 * absence), so two nodes acting on the same scan result, or one node
 * acting on a stale one, claim a boundary at most once.
 */
struct hbr_sched_due {
	char plan_id[HBR_ID_MAX];
	char account_id[HBR_ID_MAX];
	char schedule[HBR_SCHED_TEXT_MAX]; /* the plan's Schedule now */
	bool known; /* a plan_sched row existed */
	char seen_schedule[HBR_SCHED_TEXT_MAX]; /* that row, when known */
	int64_t seen_handled;
	int64_t due; /* the boundary to claim */
};

/*
 * Every live, ECS_FILE plan with a boundary in (handled, now]: *out is an
 * array of *n_out entries (hbr_free it). Reads only.
 *
 * `handled` is the latest boundary already dealt with. A plan without a
 * row counts from its UpdatedTime (its creation, or its last change); a
 * plan whose Schedule text differs from its row counts from the later of
 * the row's handled and UpdatedTime. So runs before a plan existed or
 * before its schedule changed are never made up, independent of when the
 * scan happens to see the plan.
 */
int hbr_store_sched_scan(struct hbr_sched_due **out, size_t *n_out,
                         struct hbr_store *s, int64_t now);

enum hbr_sched_outcome {
	HBR_SCHED_CREATED, /* a job was queued */
	HBR_SCHED_LOST, /* already claimed elsewhere, or the plan changed */
	HBR_SCHED_DISABLED, /* claimed, plan disabled: no job */
	HBR_SCHED_BUSY, /* claimed, a previous job still going: no job */
};

/*
 * One transaction: claim d->due for the plan by compare-and-set and, if
 * the claim wins and the plan is enabled with no unfinished job, queue a
 * job as ExecuteBackupPlan does (TriggerMode AUTO). job_id_out
 * (HBR_ID_MAX, may be NULL) gets the job's id for HBR_SCHED_CREATED.
 */
int hbr_store_sched_fire(enum hbr_sched_outcome *out, char *job_id_out,
                         struct hbr_store *s, const struct hbr_sched_due *d,
                         int64_t now);

struct hbr_sched_stats {
	int64_t created;
	int64_t skipped; /* disabled or busy */
	int64_t lost;
};

/* A scan and a fire for every due plan. */
int hbr_store_sched_tick(struct hbr_sched_stats *out, struct hbr_store *s,
                         int64_t now);

/*
 * Take or renew the single scheduler lease for `owner` until now + ttl.
 * *held_out is true when owner holds it afterwards: it was free, expired
 * (until <= now) or already owner's.
 */
int hbr_store_sched_lease(bool *held_out, struct hbr_store *s,
                          const char *owner, int64_t now, int64_t ttl);
/* Give the lease up if owner holds it, so another node need not wait
 * for it to expire. */
int hbr_store_sched_release(struct hbr_store *s, const char *owner);

/*
 * Retention, one transaction: delete up to `batch` live snapshots of
 * plan_id (NULL = every live plan) created before now - Retention days,
 * moving each into gc_queue. When the plan's KeepLatestSnapshots is 1 its
 * newest live snapshot stays, expired or not. A plan with Retention < 1
 * keeps everything; a snapshot an unfinished restore job reads from stays
 * until the restore ends. *deleted_out == batch means more may be left.
 * Also forgets plan_sched rows of plans that no longer exist.
 */
int hbr_store_retention_apply(int64_t *deleted_out, struct hbr_store *s,
                              const char *plan_id, int64_t now, int64_t batch);

#endif
