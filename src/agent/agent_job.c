/* A running job's shared state, its stop flag and progress reports. */
#include "common.h"
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <time.h>
#include "agent/agent_entry.h"
#include "agent/agent_job.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

static volatile sig_atomic_t terminating;

void hbr_agent_terminate(void)
{
	terminating = 1;
}

bool hbr_agent_terminating(void)
{
	return terminating != 0;
}

void hbr_agent_param(struct hbr_kvlist *l, const char *k, const char *v)
{
	hbr_kvlist_add(l, k, strlen(k), v, strlen(v));
}

void hbr_agent_param_u64(struct hbr_kvlist *l, const char *k, uint64_t v)
{
	char s[24];

	(void)snprintf(s, sizeof(s), "%" PRIu64, v);
	hbr_agent_param(l, k, s);
}

void hbr_agent_job_init(struct hbr_agent_job *job, const char *id,
                        const char *type, const struct hbr_agent_key *key,
                        const char *state_dir, const char *hostname)
{
	memset(job, 0, sizeof(*job));
	(void)snprintf(job->id, sizeof(job->id), "%s", id);
	job->type = type;
	job->key = key;
	job->state_dir = state_dir;
	job->hostname = hostname;
	job->max_cpu = 0;
	job->cores = 1;
	job->started_ns = hbr_time_mono_ns();
	pthread_mutex_init(&job->lock, NULL);
	pthread_mutex_init(&job->progress_lock, NULL);
	pthread_cond_init(&job->progress_wake, NULL);
}

void hbr_agent_job_release(struct hbr_agent_job *job)
{
	if (!job)
		return;
	hbr_agent_job_stop_progress(job);
	for (size_t i = 0; i < job->n_error_files; i++)
		hbr_free(job->error_files[i]);
	hbr_free(job->error_files);
	json_decref(job->doc);
	json_decref(job->start);
	pthread_mutex_destroy(&job->lock);
	pthread_mutex_destroy(&job->progress_lock);
	pthread_cond_destroy(&job->progress_wake);
}

bool hbr_agent_job_stopped(const struct hbr_agent_job *job)
{
	return atomic_load(&job->stop) != HBR_AGENT_GOING || terminating;
}

enum hbr_agent_stop hbr_agent_job_why(const struct hbr_agent_job *job)
{
	int why = atomic_load(&job->stop);

	if (why == HBR_AGENT_GOING && terminating)
		return HBR_AGENT_TERMINATED;
	return (enum hbr_agent_stop)why;
}

void hbr_agent_job_stop(struct hbr_agent_job *job, enum hbr_agent_stop why,
                        const char *fmt, ...)
{
	int expected = HBR_AGENT_GOING;
	va_list ap;

	pthread_mutex_lock(&job->lock);
	if (atomic_compare_exchange_strong(&job->stop, &expected, (int)why)) {
		va_start(ap, fmt);
		(void)vsnprintf(job->reason, sizeof(job->reason), fmt, ap);
		va_end(ap);
		hbr_log(why == HBR_AGENT_FAILED ? HBR_LOG_ERROR : HBR_LOG_WARN,
		        "job %s: %s: %s", job->id,
		        why == HBR_AGENT_CANCELLED  ? "stopped by the server" :
		        why == HBR_AGENT_TERMINATED ? "interrupted" :
		                                      "failed",
		        job->reason);
	}
	pthread_mutex_unlock(&job->lock);
	pthread_mutex_lock(&job->progress_lock);
	pthread_cond_broadcast(&job->progress_wake);
	pthread_mutex_unlock(&job->progress_lock);
}

int hbr_agent_job_fail(struct hbr_agent_job *job, int error, const char *what)
{
	if (error == HBR_ECONFLICT || error == HBR_ENOJOB)
		hbr_agent_job_stop(job, HBR_AGENT_CANCELLED, "%s: %s", what,
		                   hbr_error_msg());
	else if (hbr_agent_terminating())
		hbr_agent_job_stop(job, HBR_AGENT_TERMINATED, "%s: %s", what,
		                   hbr_error_msg());
	else
		hbr_agent_job_stop(job, HBR_AGENT_FAILED, "%s: %s", what,
		                   hbr_error_msg());
	return error;
}

void hbr_agent_job_error_file(struct hbr_agent_job *job, const char *path,
                              const char *why)
{
	hbr_log_warn("job %s: skipped %s: %s", job->id, path, why);
	pthread_mutex_lock(&job->lock);
	job->n_errors++;
	if (job->n_error_files < HBR_AGENT_ERROR_FILES) {
		job->error_files =
		        hbr_realloc(job->error_files,
		                    (job->n_error_files + 1) * sizeof(char *));
		job->error_files[job->n_error_files++] = hbr_strdup(path);
	}
	pthread_mutex_unlock(&job->lock);
}

/* A path as a JSON string even when it is not UTF-8: invalid bytes
 * become '?' (ErrorFiles is for people to read). */
static json_t *lossy_string(const char *s)
{
	json_t *v = json_string(s);
	char *copy;

	if (v)
		return v;
	copy = hbr_strdup(s);
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	v = json_string(copy);
	hbr_free(copy);
	return v;
}

char *hbr_agent_job_error_files_json(struct hbr_agent_job *job)
{
	json_t *arr = json_array();
	char *text;

	pthread_mutex_lock(&job->lock);
	for (size_t i = 0; i < job->n_error_files; i++)
		json_array_append_new(arr, lossy_string(job->error_files[i]));
	pthread_mutex_unlock(&job->lock);
	text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	if (!text)
		abort(); /* out of memory */
	return text;
}

bool hbr_agent_job_sleep(const struct hbr_agent_job *job, unsigned ms)
{
	while (ms && !hbr_agent_job_stopped(job)) {
		unsigned slice = ms < 50 ? ms : 50;
		struct timespec ts = { 0, (long)slice * 1000000L };

		nanosleep(&ts, NULL);
		ms -= slice;
	}
	return !hbr_agent_job_stopped(job);
}

bool hbr_agent_retryable(int error)
{
	return error == HBR_EIO || error == HBR_EUNAVAIL;
}

int hbr_agent_job_call(json_t **out, struct hbr_agent_job *job,
                       struct hbr_agent_conn *conn, const char *action,
                       const struct hbr_kvlist *params)
{
	unsigned backoff = 250;
	int error = 0;

	for (int attempt = 1; attempt <= HBR_AGENT_RETRIES; attempt++) {
		error = hbr_agent_conn_call(out, conn, action, params);
		if (error == 0 || !hbr_agent_retryable(error) ||
		    attempt == HBR_AGENT_RETRIES)
			break;
		hbr_log_warn("job %s: %s: %s; retrying in %u ms", job->id,
		             action, hbr_error_msg(), backoff);
		if (!hbr_agent_job_sleep(job, backoff))
			break;
		backoff *= 2;
	}
	return error;
}

void hbr_agent_job_add_counters(struct hbr_kvlist *params,
                                struct hbr_agent_job *job)
{
	uint64_t total = atomic_load(&job->bytes_total);
	uint64_t done = atomic_load(&job->bytes_done);
	uint64_t itotal = atomic_load(&job->items_total);
	uint64_t idone = atomic_load(&job->items_done);

	/* Estimates trail the work while the count is still running. */
	if (done > total)
		total = done;
	if (idone > itotal)
		itotal = idone;
	hbr_agent_param_u64(params, "BytesTotal", total);
	hbr_agent_param_u64(params, "BytesDone", done);
	hbr_agent_param_u64(params, "ItemsTotal", itotal);
	hbr_agent_param_u64(params, "ItemsDone", idone);
}

static void report(struct hbr_agent_job *job, struct hbr_agent_conn *conn)
{
	struct hbr_kvlist p = HBR_KVLIST_INIT;
	uint64_t total = atomic_load(&job->bytes_total);
	uint64_t done = atomic_load(&job->bytes_done);
	uint64_t elapsed_ms =
	        (hbr_time_mono_ns() - job->started_ns) / 1000000 + 1;
	uint64_t pct = 0;
	json_t *ans = NULL;
	int error;

	/* 100 is for the end: the commit or FinishAgentJob says it. */
	if (total)
		pct = done >= total ? 99 : done * 100 / total;
	if (pct > 99)
		pct = 99;
	hbr_agent_param(&p, "JobId", job->id);
	hbr_agent_param(&p, "JobType", job->type);
	hbr_agent_param_u64(&p, "Progress", pct);
	hbr_agent_job_add_counters(&p, job);
	hbr_agent_param_u64(&p, "ActualBytes", atomic_load(&job->stored_bytes));
	hbr_agent_param_u64(&p, "Speed", done * 1000 / 1024 / elapsed_ms);
	error = hbr_agent_conn_call(&ans, conn, "ReportAgentJobProgress", &p);
	if (error == HBR_ECONFLICT || error == HBR_ENOJOB)
		(void)hbr_agent_job_fail(job, error, "ReportAgentJobProgress");
	else if (error < 0)
		hbr_log_warn("job %s: progress report: %s", job->id,
		             hbr_error_msg());
	json_decref(ans);
	hbr_kvlist_release(&p);
}

static void *progress_main(void *arg)
{
	struct hbr_agent_job *job = arg;
	struct hbr_agent_conn conn;

	if (hbr_agent_conn_init(&conn, job->key) < 0)
		return NULL;
	pthread_mutex_lock(&job->progress_lock);
	while (!job->progress_quit && !hbr_agent_job_stopped(job)) {
		struct timespec ts;

		pthread_mutex_unlock(&job->progress_lock);
		report(job, &conn);
		pthread_mutex_lock(&job->progress_lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += HBR_AGENT_PROGRESS_MS / 1000;
		ts.tv_nsec += (HBR_AGENT_PROGRESS_MS % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!job->progress_quit && !hbr_agent_job_stopped(job) &&
		       pthread_cond_timedwait(&job->progress_wake,
		                              &job->progress_lock, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&job->progress_lock);
	hbr_agent_conn_release(&conn);
	return NULL;
}

int hbr_agent_job_start_progress(struct hbr_agent_job *job)
{
	job->progress_quit = false;
	if (pthread_create(&job->progress, NULL, progress_main, job))
		return hbr_error_set(HBR_ERROR, "cannot start a thread");
	job->progress_running = true;
	return 0;
}

void hbr_agent_job_stop_progress(struct hbr_agent_job *job)
{
	if (!job->progress_running)
		return;
	pthread_mutex_lock(&job->progress_lock);
	job->progress_quit = true;
	pthread_cond_broadcast(&job->progress_wake);
	pthread_mutex_unlock(&job->progress_lock);
	pthread_join(job->progress, NULL);
	job->progress_running = false;
}

int hbr_agent_job_finish(struct hbr_agent_job *job, struct hbr_agent_conn *conn,
                         const char *status, const char *message)
{
	struct hbr_kvlist p = HBR_KVLIST_INIT;
	json_t *ans = NULL;
	unsigned backoff = 250;
	char *text = message ? hbr_strdup(message) : NULL;
	int error = 0;

	/* The message may name paths that are not UTF-8: it is for people
	 * to read, so such bytes become '?'. */
	if (text && !hbr_agent_utf8_valid(text, strlen(text)))
		for (char *c = text; *c; c++)
			if ((unsigned char)*c >= 0x80)
				*c = '?';
	hbr_agent_param(&p, "JobId", job->id);
	hbr_agent_param(&p, "JobType", job->type);
	hbr_agent_param(&p, "Status", status);
	hbr_agent_param(&p, "ErrorMessage", text ? text : "");
	hbr_agent_job_add_counters(&p, job);
	/* Not hbr_agent_job_call: the job is usually stopped already, and
	 * this is the call that must still get through. */
	for (int attempt = 1; attempt <= HBR_AGENT_RETRIES; attempt++) {
		struct timespec ts;

		error = hbr_agent_conn_call(&ans, conn, "FinishAgentJob", &p);
		if (error == 0 || !hbr_agent_retryable(error) ||
		    attempt == HBR_AGENT_RETRIES || hbr_agent_terminating())
			break;
		ts.tv_sec = backoff / 1000;
		ts.tv_nsec = (long)(backoff % 1000) * 1000000L;
		nanosleep(&ts, NULL);
		backoff *= 2;
	}
	if (error < 0)
		hbr_log_error("job %s: FinishAgentJob %s: %s", job->id, status,
		              hbr_error_msg());
	json_decref(ans);
	hbr_kvlist_release(&p);
	hbr_free(text);
	return error;
}

enum { ASYNC_IDLE, ASYNC_PENDING, ASYNC_DONE, ASYNC_QUIT };

static void *async_main(void *arg)
{
	struct hbr_agent_async *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		json_t *ans = NULL;
		uint64_t t0;
		int error;

		while (a->state != ASYNC_PENDING && a->state != ASYNC_QUIT)
			pthread_cond_wait(&a->cv, &a->lock);
		if (a->state == ASYNC_QUIT)
			break;
		pthread_mutex_unlock(&a->lock);
		t0 = hbr_time_mono_ns();
		error = hbr_agent_job_call(&ans, a->job, &a->conn, a->action,
		                           &a->params);
		pthread_mutex_lock(&a->lock);
		a->ns += hbr_time_mono_ns() - t0;
		a->ans = ans;
		a->error = error;
		if (error < 0)
			(void)snprintf(a->message, sizeof(a->message), "%s",
			               hbr_error_msg());
		a->state = ASYNC_DONE;
		pthread_cond_broadcast(&a->cv);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

int hbr_agent_async_init(struct hbr_agent_async *a, struct hbr_agent_job *job)
{
	int error;

	memset(a, 0, sizeof(*a));
	a->job = job;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cv, NULL);
	if ((error = hbr_agent_conn_init(&a->conn, job->key)) < 0)
		return error;
	if (pthread_create(&a->thread, NULL, async_main, a))
		return hbr_error_set(HBR_ERROR, "cannot start a thread");
	a->running = true;
	return 0;
}

void hbr_agent_async_release(struct hbr_agent_async *a)
{
	if (!a)
		return;
	if (a->running) {
		pthread_mutex_lock(&a->lock);
		while (a->state == ASYNC_PENDING)
			pthread_cond_wait(&a->cv, &a->lock);
		a->state = ASYNC_QUIT;
		pthread_cond_broadcast(&a->cv);
		pthread_mutex_unlock(&a->lock);
		pthread_join(a->thread, NULL);
		a->running = false;
	}
	json_decref(a->ans);
	a->ans = NULL;
	hbr_kvlist_release(&a->params);
	hbr_agent_conn_release(&a->conn);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->cv);
}

void hbr_agent_async_start(struct hbr_agent_async *a, const char *action,
                           struct hbr_kvlist *params)
{
	pthread_mutex_lock(&a->lock);
	HBR_ASSERT(a->state == ASYNC_IDLE);
	hbr_kvlist_release(&a->params);
	a->params = *params;
	*params = (struct hbr_kvlist)HBR_KVLIST_INIT;
	a->action = action;
	a->state = ASYNC_PENDING;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->lock);
}

int hbr_agent_async_wait(struct hbr_agent_async *a, json_t **out)
{
	int error;

	pthread_mutex_lock(&a->lock);
	HBR_ASSERT(a->state == ASYNC_PENDING || a->state == ASYNC_DONE);
	while (a->state != ASYNC_DONE)
		pthread_cond_wait(&a->cv, &a->lock);
	error = a->error;
	if (error == 0)
		*out = a->ans;
	else
		json_decref(a->ans);
	a->ans = NULL;
	a->state = ASYNC_IDLE;
	pthread_mutex_unlock(&a->lock);
	/* Error messages are thread-local: restate the helper's. */
	if (error < 0)
		return hbr_error_set(error, "%s", a->message);
	return 0;
}
