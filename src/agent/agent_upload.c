/* Pack uploads: a bounded queue and uploader threads (agent_upload.h). */
#include "common.h"
#include <stdatomic.h>
#include "agent/agent_upload.h"
#include "core/pack.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"

#define UPLOADERS_MAX 4
#define POOL_MAX      16

struct hbr_agent_uploader {
	struct hbr_agent_job *job;
	struct hbr_agent_speed speed;
	pthread_mutex_t lock;
	pthread_cond_t not_empty, not_full;
	struct hbr_agent_pack **queue; /* ring */
	size_t cap, head, n;
	bool closed;
	struct hbr_agent_pack *pool[POOL_MAX];
	size_t n_pool;
	pthread_t threads[UPLOADERS_MAX];
	int n_threads;
	atomic_uint_fast64_t packs, bytes, new_chunks;
};

static void pack_free(struct hbr_agent_pack *p)
{
	if (!p)
		return;
	hbr_buf_release(&p->body);
	hbr_free(p);
}

struct hbr_agent_pack *hbr_agent_uploader_pack(struct hbr_agent_uploader *u)
{
	struct hbr_agent_pack *p = NULL;

	pthread_mutex_lock(&u->lock);
	if (u->n_pool)
		p = u->pool[--u->n_pool];
	pthread_mutex_unlock(&u->lock);
	if (!p) {
		p = hbr_calloc(1, sizeof(*p));
		hbr_buf_init(&p->body, HBR_PACK_MAX_BYTES);
	}
	hbr_buf_clear(&p->body);
	p->header_len = 0;
	p->count = 0;
	return p;
}

static void recycle(struct hbr_agent_uploader *u, struct hbr_agent_pack *p)
{
	pthread_mutex_lock(&u->lock);
	if (u->n_pool < POOL_MAX) {
		u->pool[u->n_pool++] = p;
		p = NULL;
	}
	pthread_mutex_unlock(&u->lock);
	pack_free(p);
}

static int abort_check(void *payload)
{
	return hbr_agent_job_stopped(payload);
}

/* One pack, retried on network errors. */
static int upload(struct hbr_agent_uploader *u, struct hbr_agent_conn *conn,
                  const struct hbr_agent_pack *p)
{
	struct hbr_agent_job *job = u->job;
	struct hbr_kvlist q = HBR_KVLIST_INIT;
	unsigned backoff = 250;
	json_t *ans = NULL;
	int error = 0;

	hbr_agent_param(&q, "JobId", job->id);
	for (int attempt = 1; attempt <= HBR_AGENT_RETRIES; attempt++) {
		uint64_t rate = hbr_agent_speed_now(&u->speed);

		/* Several uploaders share the limit. */
		if (rate && u->n_threads > 1)
			rate = rate / (uint64_t)u->n_threads + 1;
		error = hbr_agent_conn_upload(&ans, conn, "UploadAgentPack", &q,
		                              p->body.ptr, p->body.len,
		                              p->header_len, rate);
		if (error == 0 || !hbr_agent_retryable(error) ||
		    attempt == HBR_AGENT_RETRIES || hbr_agent_job_stopped(job))
			break;
		hbr_log_warn("job %s: UploadAgentPack: %s; retrying in %u ms",
		             job->id, hbr_error_msg(), backoff);
		if (!hbr_agent_job_sleep(job, backoff))
			break;
		backoff *= 2;
	}
	if (error == 0) {
		json_int_t stored =
		        json_integer_value(json_object_get(ans, "StoredBytes"));
		json_int_t fresh =
		        json_integer_value(json_object_get(ans, "NewChunks"));

		atomic_fetch_add(&job->stored_bytes,
		                 (uint64_t)(stored > 0 ? stored : 0));
		atomic_fetch_add(&u->new_chunks,
		                 (uint64_t)(fresh > 0 ? fresh : 0));
		atomic_fetch_add(&u->packs, 1);
		atomic_fetch_add(&u->bytes, p->body.len);
	} else if (!hbr_agent_job_stopped(job)) {
		(void)hbr_agent_job_fail(job, error, "UploadAgentPack");
	}
	json_decref(ans);
	hbr_kvlist_release(&q);
	return error;
}

static void *uploader_main(void *arg)
{
	struct hbr_agent_uploader *u = arg;
	struct hbr_agent_conn conn;

	if (hbr_agent_conn_init(&conn, u->job->key) < 0) {
		(void)hbr_agent_job_fail(u->job, HBR_ERROR, "uploader");
		return NULL;
	}
	conn.abort_cb = abort_check;
	conn.abort_payload = u->job;
	for (;;) {
		struct hbr_agent_pack *p;

		pthread_mutex_lock(&u->lock);
		while (!u->n && !u->closed && !hbr_agent_job_stopped(u->job))
			pthread_cond_wait(&u->not_empty, &u->lock);
		if (!u->n || hbr_agent_job_stopped(u->job)) {
			pthread_mutex_unlock(&u->lock);
			break;
		}
		p = u->queue[u->head];
		u->head = (u->head + 1) % u->cap;
		u->n--;
		pthread_cond_signal(&u->not_full);
		pthread_mutex_unlock(&u->lock);
		(void)upload(u, &conn, p);
		recycle(u, p);
	}
	hbr_agent_conn_release(&conn);
	/* A stopped job: wake anyone waiting on a full queue. */
	pthread_mutex_lock(&u->lock);
	pthread_cond_broadcast(&u->not_full);
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

int hbr_agent_uploader_start(struct hbr_agent_uploader **out,
                             struct hbr_agent_job *job, int threads,
                             size_t queue_cap,
                             const struct hbr_agent_speed *speed)
{
	struct hbr_agent_uploader *u = hbr_calloc(1, sizeof(*u));

	if (threads < 1)
		threads = 1;
	if (threads > UPLOADERS_MAX)
		threads = UPLOADERS_MAX;
	u->job = job;
	u->speed = *speed;
	u->cap = queue_cap ? queue_cap : 1;
	u->queue = hbr_calloc(u->cap, sizeof(*u->queue));
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->not_empty, NULL);
	pthread_cond_init(&u->not_full, NULL);
	for (int i = 0; i < threads; i++) {
		if (pthread_create(&u->threads[i], NULL, uploader_main, u)) {
			(void)hbr_agent_job_fail(job, HBR_ERROR, "uploader");
			break;
		}
		u->n_threads++;
	}
	*out = u;
	return u->n_threads ? 0 :
	                      hbr_error_set(HBR_ERROR, "cannot start a thread");
}

int hbr_agent_uploader_put(struct hbr_agent_uploader *u,
                           struct hbr_agent_pack *p)
{
	pthread_mutex_lock(&u->lock);
	while (u->n == u->cap && !hbr_agent_job_stopped(u->job)) {
		struct timespec ts;

		/* Timed: SIGTERM sets a flag nobody signals. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&u->not_full, &u->lock, &ts);
	}
	if (hbr_agent_job_stopped(u->job)) {
		pthread_mutex_unlock(&u->lock);
		recycle(u, p);
		return hbr_error_set(HBR_ECONFLICT, "the job has stopped");
	}
	u->queue[(u->head + u->n) % u->cap] = p;
	u->n++;
	pthread_cond_signal(&u->not_empty);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

int hbr_agent_uploader_finish(struct hbr_agent_uploader *u)
{
	pthread_mutex_lock(&u->lock);
	u->closed = true;
	pthread_cond_broadcast(&u->not_empty);
	pthread_mutex_unlock(&u->lock);
	for (int i = 0; i < u->n_threads; i++)
		pthread_join(u->threads[i], NULL);
	u->n_threads = 0;
	if (hbr_agent_job_stopped(u->job))
		return hbr_error_set(HBR_ECONFLICT, "the job has stopped");
	return 0;
}

void hbr_agent_uploader_free(struct hbr_agent_uploader *u)
{
	if (!u)
		return;
	if (u->n_threads) {
		/* Not finished: the job is being abandoned. */
		(void)hbr_agent_uploader_finish(u);
	}
	while (u->n) {
		pack_free(u->queue[u->head]);
		u->head = (u->head + 1) % u->cap;
		u->n--;
	}
	while (u->n_pool)
		pack_free(u->pool[--u->n_pool]);
	hbr_free(u->queue);
	pthread_mutex_destroy(&u->lock);
	pthread_cond_destroy(&u->not_empty);
	pthread_cond_destroy(&u->not_full);
	hbr_free(u);
}

void hbr_agent_uploader_stats(const struct hbr_agent_uploader *u,
                              uint64_t *packs, uint64_t *bytes,
                              uint64_t *new_chunks)
{
	*packs = atomic_load(&u->packs);
	*bytes = atomic_load(&u->bytes);
	*new_chunks = atomic_load(&u->new_chunks);
}
