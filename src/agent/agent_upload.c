/* Pack uploads: a bounded queue and uploader threads (agent_upload.h). */
#include "common.h"
#include <inttypes.h>
#include <stdatomic.h>
#include <zstd.h>
#include "agent/agent_upload.h"
#include "core/pack.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

#define UPLOADERS_MAX 4
#define POOL_MAX      16
#define SAMPLE        2048 /* bytes looked at before compressing a chunk */

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
	atomic_uint_fast64_t ns_upload, ns_idle, ns_check, dropped;
	atomic_int *present_pct;
};

static void pack_free(struct hbr_agent_pack *p)
{
	if (!p)
		return;
	if (p->check) {
		hbr_agent_async_release(p->check);
		hbr_free(p->check);
	}
	hbr_pack_writer_free(&p->w);
	hbr_buf_release(&p->head);
	hbr_buf_release(&p->list);
	hbr_free(p->unchecked);
	hbr_free(p);
}

/*
 * Whether compressing the chunk is worth trying. Random data (already
 * compressed files, media, encrypted data) is most of many data sets;
 * zstd gives up on it at about 3 GB/s, but a look at two samples (the
 * start and the middle) tells it for a fraction of that: their byte
 * histogram's collision entropy, -log2(sum p^2), is 7.91 +- 0.03 bits
 * per byte for random bytes and 4-6 for text and code. Under 7.7, try.
 * This takes the same decisions as compressing the samples with zstd
 * (on the peers data set and on /usr/lib) at a quarter of the cost. A
 * chunk whose samples are random but whose other parts would compress
 * is stored raw: some bytes lost, no error.
 */
static bool worth_compressing(const uint8_t *raw, size_t len)
{
	uint32_t h[256] = { 0 };
	uint64_t sq = 0;

	if (len < 4 * SAMPLE)
		return true;
	for (size_t i = 0; i < SAMPLE; i++) {
		h[raw[i]]++;
		h[raw[len / 2 + i]]++;
	}
	for (int i = 0; i < 256; i++)
		sq += (uint64_t)h[i] * h[i];
	/* sum p^2 > 2^-7.7 (1/208) with p = h / (2 * SAMPLE) */
	return sq * 208 > (uint64_t)(2 * SAMPLE) * (2 * SAMPLE);
}

int hbr_agent_pack_add(struct hbr_agent_pack *p,
                       const uint8_t id[HBR_CHUNK_ID_LEN], const void *raw,
                       size_t raw_len, int level, bool checked)
{
	int error;

	if (level >= 0 && !worth_compressing(raw, raw_len))
		level = -1;
	if ((error = hbr_pack_writer_add(&p->w, id, raw, raw_len, level)) < 0)
		return error;
	hbr_grow((void **)&p->unchecked, &p->cap_unchecked, p->w.count,
	         sizeof(*p->unchecked));
	p->unchecked[p->w.count - 1] = !checked;
	p->n_unchecked += !checked;
	return 0;
}

/* Empty the writer for its next pack, keeping its memory (what
 * hbr_pack_writer_finish does after copying the pack out). */
static void pack_reset(struct hbr_agent_pack *p)
{
	hbr_buf_clear(&p->w.table);
	hbr_buf_clear(&p->w.data);
	p->w.count = 0;
	p->w.raw_bytes = 0;
	p->n_unchecked = 0;
	hbr_buf_clear(&p->head);
}

struct hbr_agent_pack *hbr_agent_uploader_pack(struct hbr_agent_uploader *u)
{
	struct hbr_agent_pack *p = NULL;

	pthread_mutex_lock(&u->lock);
	if (u->n_pool)
		p = u->pool[--u->n_pool];
	pthread_mutex_unlock(&u->lock);
	if (p)
		return p;
	p = hbr_calloc(1, sizeof(*p));
	hbr_buf_init(&p->head, 0);
	hbr_buf_init(&p->list, 0);
	if (hbr_pack_writer_init(&p->w) < 0) {
		hbr_buf_release(&p->head);
		hbr_free(p);
		return NULL;
	}
	return p;
}

void hbr_agent_uploader_recycle(struct hbr_agent_uploader *u,
                                struct hbr_agent_pack *p)
{
	if (!p)
		return;
	if (p->check_pending) {
		json_t *ans = NULL;

		/* An answer nobody wants: the helper must be idle again. */
		if (hbr_agent_async_wait(p->check, &ans) == 0)
			json_decref(ans);
		p->check_pending = false;
	}
	pack_reset(p);
	pthread_mutex_lock(&u->lock);
	if (u->n_pool < POOL_MAX) {
		u->pool[u->n_pool++] = p;
		p = NULL;
	}
	pthread_mutex_unlock(&u->lock);
	pack_free(p);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* The pack's header (docs/AGENT-PROTOCOL.md): magic, count, and the
 * entry table the writer has built. */
static int pack_head(struct hbr_agent_pack *p)
{
	uint8_t head[HBR_PACK_HEAD_LEN];
	int error;

	memcpy(head, HBR_PACK_MAGIC, 8);
	put_u32(head + 8, p->w.count);
	hbr_buf_clear(&p->head);
	if ((error = hbr_buf_put(&p->head, head, sizeof(head))) < 0)
		return error;
	return hbr_buf_put(&p->head, p->w.table.ptr, p->w.table.len);
}

static int abort_check(void *payload)
{
	return hbr_agent_job_stopped(payload);
}

static const uint8_t *entry_id(const struct hbr_agent_pack *p, uint32_t i)
{
	return (const uint8_t *)p->w.table.ptr + (size_t)i * HBR_PACK_ENTRY_LEN;
}

/* Ask about the unchecked entries, in the background. */
static int check_start(struct hbr_agent_uploader *u, struct hbr_agent_pack *p)
{
	struct hbr_kvlist q = HBR_KVLIST_INIT;
	int error;

	if (!p->check) {
		p->check = hbr_calloc(1, sizeof(*p->check));
		if ((error = hbr_agent_async_init(p->check, u->job)) < 0) {
			hbr_agent_async_release(p->check);
			hbr_free(p->check);
			p->check = NULL;
			return error;
		}
	}
	hbr_buf_clear(&p->list);
	for (uint32_t i = 0, n = 0; i < p->w.count; i++) {
		char hex[HBR_CHUNK_HEX_LEN];

		if (!p->unchecked[i])
			continue;
		hbr_chunk_id_hex(hex, entry_id(p, i));
		if (n++)
			(void)hbr_buf_putc(&p->list, ',');
		(void)hbr_buf_put(&p->list, hex, 64);
	}
	hbr_agent_param(&q, "JobId", u->job->id);
	hbr_agent_param(&q, "ChunkIds", hbr_buf_cstr(&p->list));
	hbr_agent_async_start(p->check, "CheckAgentChunks", &q);
	p->check_pending = true;
	return 0;
}

/* Take the answer and drop the entries the server has (the pack is
 * rebuilt from its own bytes, only when there are some). */
static int check_finish(struct hbr_agent_uploader *u, struct hbr_agent_pack *p)
{
	struct hbr_agent_job *job = u->job;
	struct hbr_pack_view v = { 0 };
	struct hbr_buf tmp = HBR_BUF_INIT;
	json_t *ans = NULL, *x;
	uint32_t n = p->n_unchecked, *idx = NULL, k = 0;
	bool *keep = NULL;
	uint64_t t0 = hbr_time_mono_ns();
	size_t i, missing = 0;
	int error;

	error = hbr_agent_async_wait(p->check, &ans);
	p->check_pending = false;
	atomic_fetch_add(&u->ns_check, hbr_time_mono_ns() - t0);
	if (error < 0)
		goto out;
	/* Missing indexes count the unchecked entries only. */
	keep = hbr_calloc(n ? n : 1, sizeof(*keep));
	json_array_foreach(json_object_get(ans, "Missing"), i, x)
	{
		json_int_t m = json_integer_value(x);

		if (!json_is_integer(x) || m < 0 || (uint64_t)m >= n) {
			error = hbr_error_set(HBR_EIO,
			                      "Missing holds what is not an"
			                      " index below %u",
			                      n);
			goto out;
		}
		missing += !keep[m];
		keep[m] = true;
	}
	if (u->present_pct)
		atomic_store(u->present_pct,
		             n ? (int)((n - missing) * 100 / n) : 0);
	if (missing == n)
		goto done;
	idx = hbr_calloc(p->w.count, sizeof(*idx));
	for (uint32_t j = 0; j < p->w.count; j++)
		idx[j] = p->unchecked[j] ? k++ : UINT32_MAX;
	if ((error = hbr_pack_writer_finish(&tmp, NULL, &p->w)) < 0 ||
	    (error = hbr_pack_parse(&v, tmp.ptr, tmp.len)) < 0)
		goto out;
	for (uint32_t j = 0; j < v.count && !error; j++)
		if (idx[j] == UINT32_MAX || keep[idx[j]])
			error = hbr_pack_writer_add_stored(
			        &p->w, &v.entries[j],
			        (const uint8_t *)v.data + v.entries[j].offset);
	atomic_fetch_add(&u->dropped, n - missing);
done:
	p->n_unchecked = 0;
	memset(p->unchecked, 0, p->w.count * sizeof(*p->unchecked));
out:
	if (error < 0 && !hbr_agent_job_stopped(job))
		(void)hbr_agent_job_fail(job, error, "CheckAgentChunks");
	hbr_pack_view_free(&v);
	hbr_buf_release(&tmp);
	hbr_free(keep);
	hbr_free(idx);
	json_decref(ans);
	return error;
}

/* One pack, retried on network errors. */
static int upload(struct hbr_agent_uploader *u, struct hbr_agent_conn *conn,
                  struct hbr_agent_pack *p)
{
	struct hbr_agent_job *job = u->job;
	struct hbr_kvlist q = HBR_KVLIST_INIT;
	unsigned backoff = 250;
	json_t *ans = NULL;
	int error = 0;

	if (p->check_pending && (error = check_finish(u, p)) < 0)
		return error;
	if (!p->w.count)
		return 0; /* the server had every chunk */
	hbr_agent_param(&q, "JobId", job->id);
	if ((error = pack_head(p)) < 0) {
		hbr_kvlist_release(&q);
		return hbr_agent_job_fail(job, error, "pack");
	}
	for (int attempt = 1; attempt <= HBR_AGENT_RETRIES; attempt++) {
		uint64_t rate = hbr_agent_speed_now(&u->speed);

		/* Several uploaders share the limit. */
		if (rate && u->n_threads > 1)
			rate = rate / (uint64_t)u->n_threads + 1;
		error = hbr_agent_conn_upload(
		        &ans, conn, "UploadAgentPack", &q, p->head.ptr,
		        p->head.len, p->w.data.ptr, p->w.data.len, rate);
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
		atomic_fetch_add(&u->bytes, p->head.len + p->w.data.len);
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
		uint64_t t0 = hbr_time_mono_ns(), t1;

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
		t1 = hbr_time_mono_ns();
		(void)upload(u, &conn, p);
		atomic_fetch_add(&u->ns_idle, t1 - t0);
		atomic_fetch_add(&u->ns_upload, hbr_time_mono_ns() - t1);
		hbr_agent_uploader_recycle(u, p);
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
                             const struct hbr_agent_speed *speed,
                             atomic_int *present_pct)
{
	struct hbr_agent_uploader *u = hbr_calloc(1, sizeof(*u));

	if (threads < 1)
		threads = 1;
	if (threads > UPLOADERS_MAX)
		threads = UPLOADERS_MAX;
	u->job = job;
	u->speed = *speed;
	u->present_pct = present_pct;
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
	int error;

	if (p->n_unchecked && !hbr_agent_job_stopped(u->job) &&
	    (error = check_start(u, p)) < 0) {
		hbr_agent_uploader_recycle(u, p);
		return hbr_agent_job_fail(u->job, error, "CheckAgentChunks");
	}
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
		hbr_agent_uploader_recycle(u, p);
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
	hbr_log_debug("job %s: uploaders spent %.2f s uploading (%.2f s of it"
	              " waiting for checks), %.2f s idle; %" PRIu64
	              " chunks dropped as present",
	              u->job->id, (double)atomic_load(&u->ns_upload) / 1e9,
	              (double)atomic_load(&u->ns_check) / 1e9,
	              (double)atomic_load(&u->ns_idle) / 1e9,
	              (uint64_t)atomic_load(&u->dropped));
	*packs = atomic_load(&u->packs);
	*bytes = atomic_load(&u->bytes);
	*new_chunks = atomic_load(&u->new_chunks);
}
