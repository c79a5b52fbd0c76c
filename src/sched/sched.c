/*
 * The scheduler thread. Each tick renews the lease and, while held, runs
 * the due plans and, once a minute of (possibly offset) clock time or
 * while a previous pass hit its bound, retention. Everything it decides
 * is committed per plan with a compare-and-set (store_sched.c), so the
 * lease only avoids duplicated work; it is not what makes runs unique.
 */
#include "common.h"
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include "sched/sched.h"
#include "store/store_sched.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/random.h"
#include "util/timeutil.h"

#define DEFAULT_TICK_MS 1000
/* Long enough to survive a slow tick, short enough that another node
 * takes over soon after this one dies. */
#define LEASE_S           10
#define RETENTION_EVERY_S 60
/* Snapshots per retention transaction: the write lock is held for
 * milliseconds. */
#define RETENTION_BATCH 500

struct hbr_sched {
	struct hbr_store_pool *pool;
	int64_t tick_ms;
	char *clock_file;
	char owner[HBR_SCHED_OWNER_MAX];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	/* Thread-private */
	bool held;
	int64_t last_retention;
	bool retention_left; /* the last pass hit its bound */
};

int hbr_sched_clock_file_apply(const char *path)
{
	char *text = NULL, *end;
	long long v;
	int error;

	if ((error = hbr_fs_read(&text, NULL, path, 64)) < 0) {
		/* Not written yet: keep the clock as it is. */
		hbr_error_clear();
		return 0;
	}
	errno = 0;
	v = strtoll(text, &end, 10);
	while (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t')
		end++;
	if (errno || end == text || *end)
		error = hbr_error_set(HBR_EINVAL,
		                      "clock file %s: not a number of seconds",
		                      path);
	else
		hbr_time_set_offset((int64_t)v);
	hbr_free(text);
	return error;
}

static void tick(struct hbr_sched *sc)
{
	struct hbr_sched_stats stats;
	struct hbr_store *s;
	int64_t now, deleted = 0;
	bool held = false;

	if (sc->clock_file && hbr_sched_clock_file_apply(sc->clock_file) < 0)
		hbr_log_warn("schedule: %s", hbr_error_msg());
	now = hbr_time_now();
	s = hbr_store_pool_get(sc->pool);
	if (hbr_store_sched_lease(&held, s, sc->owner, now, LEASE_S) < 0) {
		hbr_log_warn("schedule: lease: %s", hbr_error_msg());
		goto out;
	}
	if (held != sc->held)
		hbr_log_info("schedule: %s the scheduler lease (%s)",
		             held ? "took" : "lost", sc->owner);
	sc->held = held;
	if (!held)
		goto out;
	if (hbr_store_sched_tick(&stats, s, now) < 0)
		hbr_log_warn("schedule: %s", hbr_error_msg());
	if (!sc->retention_left &&
	    now - sc->last_retention < RETENTION_EVERY_S &&
	    now >= sc->last_retention)
		goto out;
	sc->last_retention = now;
	if (hbr_store_retention_apply(&deleted, s, NULL, now, RETENTION_BATCH) <
	    0) {
		hbr_log_warn("retention: %s", hbr_error_msg());
		goto out;
	}
	sc->retention_left = deleted == RETENTION_BATCH;
	if (deleted > 0)
		hbr_log_info("retention: deleted %lld expired snapshots",
		             (long long)deleted);
out:
	hbr_store_pool_put(sc->pool, s);
}

static void *run(void *arg)
{
	struct hbr_sched *sc = arg;

	for (;;) {
		struct timespec until;

		pthread_mutex_lock(&sc->lock);
		if (sc->stop) {
			pthread_mutex_unlock(&sc->lock);
			break;
		}
		pthread_mutex_unlock(&sc->lock);

		tick(sc);

		pthread_mutex_lock(&sc->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += sc->tick_ms / 1000;
		until.tv_nsec += (sc->tick_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		while (!sc->stop && pthread_cond_timedwait(&sc->wake, &sc->lock,
		                                           &until) == 0)
			;
		pthread_mutex_unlock(&sc->lock);
	}
	return NULL;
}

int hbr_sched_start(struct hbr_sched **out, struct hbr_store_pool *pool,
                    const struct hbr_sched_config *cfg)
{
	struct hbr_sched *sc = hbr_calloc(1, sizeof(*sc));
	char uuid[37];

	sc->pool = pool;
	sc->tick_ms = cfg && cfg->tick_ms > 0 ? cfg->tick_ms : DEFAULT_TICK_MS;
	sc->clock_file = cfg && cfg->clock_file && cfg->clock_file[0] ?
	                         hbr_strdup(cfg->clock_file) :
	                         NULL;
	/* A new owner per process: a restarted hbrd does not inherit its
	 * predecessor's lease, it waits for it to expire (or be released). */
	hbr_random_uuid(uuid);
	(void)snprintf(sc->owner, sizeof(sc->owner), "hbrd-%s", uuid);
	pthread_mutex_init(&sc->lock, NULL);
	pthread_cond_init(&sc->wake, NULL);
	if (pthread_create(&sc->thread, NULL, run, sc) != 0) {
		pthread_mutex_destroy(&sc->lock);
		pthread_cond_destroy(&sc->wake);
		hbr_free(sc->clock_file);
		hbr_free(sc);
		return hbr_error_set(HBR_ERROR,
		                     "cannot start scheduler thread");
	}
	*out = sc;
	return 0;
}

void hbr_sched_stop(struct hbr_sched *sc)
{
	struct hbr_store *s;

	if (!sc)
		return;
	pthread_mutex_lock(&sc->lock);
	sc->stop = true;
	pthread_cond_signal(&sc->wake);
	pthread_mutex_unlock(&sc->lock);
	pthread_join(sc->thread, NULL);
	if (sc->held) {
		s = hbr_store_pool_get(sc->pool);
		if (hbr_store_sched_release(s, sc->owner) < 0)
			hbr_log_warn("schedule: release lease: %s",
			             hbr_error_msg());
		hbr_store_pool_put(sc->pool, s);
	}
	pthread_mutex_destroy(&sc->lock);
	pthread_cond_destroy(&sc->wake);
	hbr_free(sc->clock_file);
	hbr_free(sc);
}
