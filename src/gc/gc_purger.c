/* Background purge of deleted rows, batched so backups never wait long. */
#include "common.h"
#include <pthread.h>
#include <time.h>
#include "gc/gc_purger.h"
#include "gc/gc_reclaim.h"
#include "store/store_resource.h"
#include "util/alloc.h"
#include "util/crashpoint.h"
#include "util/error.h"
#include "util/log.h"

/* Rows per transaction: large enough to be efficient, small enough that
 * the write lock is held for milliseconds. */
#define BATCH  250
#define IDLE_S 2

struct hbr_purger {
	struct hbr_store_pool *pool;
	struct hbr_reclaimer *next;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	bool kicked;
};

static void *run(void *arg)
{
	struct hbr_purger *p = arg;

	for (;;) {
		struct hbr_store *s;
		int64_t done = 0;
		struct timespec until;
		int error;

		pthread_mutex_lock(&p->lock);
		if (p->stop) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		p->kicked = false;
		pthread_mutex_unlock(&p->lock);

		s = hbr_store_pool_get(p->pool);
		error = hbr_store_purge_step(&done, s, BATCH);
		if (done > 0)
			hbr_crashpoint("purge: step");
		hbr_store_pool_put(p->pool, s);
		if (error < 0)
			hbr_log_warn("purge: %s", hbr_error_msg());
		if (error == 0 && done > 0) {
			hbr_reclaimer_kick(p->next);
			continue;
		}

		pthread_mutex_lock(&p->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += IDLE_S;
		while (!p->stop && !p->kicked &&
		       pthread_cond_timedwait(&p->wake, &p->lock, &until) == 0)
			;
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
}

int hbr_purger_start(struct hbr_purger **out, struct hbr_store_pool *pool,
                     struct hbr_reclaimer *next)
{
	struct hbr_purger *p = hbr_calloc(1, sizeof(*p));

	p->pool = pool;
	p->next = next;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	if (pthread_create(&p->thread, NULL, run, p) != 0) {
		hbr_free(p);
		return hbr_error_set(HBR_ERROR, "cannot start purge thread");
	}
	*out = p;
	return 0;
}

void hbr_purger_kick(struct hbr_purger *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->kicked = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

void hbr_purger_stop(struct hbr_purger *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	hbr_free(p);
}
