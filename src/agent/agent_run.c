/* The agent's job loop (agent_run.h). */
#include "common.h"
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include "agent/agent_backup.h"
#include "agent/agent_job.h"
#include "agent/agent_restore.h"
#include "agent/agent_run.h"
#include "agent/agent_state.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

#define THREADS_MAX     64
#define FORGET_AFTER_S  600 /* a job done here is not rerun before this */
#define ONCE_POLL_TRIES 10 /* --once gives up when the server stays away */

struct run;

struct slot {
	struct run *run;
	struct hbr_agent_job job;
	pthread_t thread;
	atomic_bool finished;
	int result; /* 0 ok; 1 failed; 2 cancelled; 3 interrupted */
};

struct done {
	char id[HBR_AGENT_JOB_ID_MAX];
	int64_t when;
};

struct run {
	const struct hbr_agent_run_opts *o;
	struct hbr_agent_state st;
	int cores;
	struct slot **slots;
	size_t n_slots, cap_slots;
	struct done *done;
	size_t n_done, cap_done;
	char **wanted; /* --once: the jobs listed at start */
	size_t n_wanted;
	int rc; /* --once: 1 when a job failed */
	pthread_mutex_t lock;
	pthread_cond_t wake;
};

enum { RESULT_OK, RESULT_FAILED, RESULT_CANCELLED, RESULT_INTERRUPTED };

static void on_signal(int sig)
{
	(void)sig;
	hbr_agent_terminate();
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static const char *id_of(const json_t *doc, bool restore)
{
	return json_string_value(
	        json_object_get(doc, restore ? "RestoreId" : "JobId"));
}

static void *job_main(void *arg)
{
	struct slot *s = arg;
	struct hbr_agent_job *job = &s->job;
	struct hbr_kvlist p = HBR_KVLIST_INIT;
	struct hbr_agent_conn conn;
	json_t *ans = NULL;
	int error;

	s->result = RESULT_FAILED;
	if ((error = hbr_agent_conn_init(&conn, job->key)) < 0) {
		hbr_log_error("job %s: %s", job->id, hbr_error_msg());
		goto out;
	}
	hbr_agent_param(&p, "JobId", job->id);
	hbr_agent_param(&p, "JobType", job->type);
	error = hbr_agent_job_call(&ans, job, &conn, "StartAgentJob", &p);
	hbr_agent_conn_release(&conn);
	if (error == HBR_ECONFLICT || error == HBR_ENOJOB) {
		hbr_log_info("job %s: not started: %s", job->id,
		             hbr_error_msg());
		s->result = RESULT_CANCELLED;
		goto out;
	}
	if (error < 0) {
		hbr_log_error("job %s: StartAgentJob: %s", job->id,
		              hbr_error_msg());
		s->result = hbr_agent_terminating() ? RESULT_INTERRUPTED :
		                                      RESULT_FAILED;
		goto out;
	}
	job->start = ans;
	ans = NULL;
	/* The job's document as it is now, rather than as polled. */
	if (json_is_object(json_object_get(job->start, "Job"))) {
		json_decref(job->doc);
		job->doc = json_incref(json_object_get(job->start, "Job"));
	}
	hbr_log_info("job %s: %s %s", job->id, job->type,
	             json_is_true(json_object_get(job->start, "Resumed")) ?
	                     "resumed (run again)" :
	                     "started");
	if (!strcmp(job->type, "BACKUP"))
		error = hbr_agent_backup_run(job);
	else
		error = hbr_agent_restore_run(job);
	if (error == 0)
		s->result = RESULT_OK;
	else if (hbr_agent_job_why(job) == HBR_AGENT_CANCELLED)
		s->result = RESULT_CANCELLED;
	else if (hbr_agent_job_why(job) == HBR_AGENT_TERMINATED) {
		hbr_log_info("job %s: interrupted; left RUNNING for the next"
		             " start to resume",
		             job->id);
		s->result = RESULT_INTERRUPTED;
	} else
		s->result = RESULT_FAILED;
out:
	json_decref(ans);
	hbr_kvlist_release(&p);
	pthread_mutex_lock(&s->run->lock);
	atomic_store(&s->finished, true);
	pthread_cond_broadcast(&s->run->wake);
	pthread_mutex_unlock(&s->run->lock);
	return NULL;
}

static bool running(const struct run *r, const char *id)
{
	for (size_t i = 0; i < r->n_slots; i++)
		if (!strcmp(r->slots[i]->job.id, id))
			return true;
	return false;
}

static bool done_recently(struct run *r, const char *id)
{
	int64_t now = hbr_time_now();

	for (size_t i = 0; i < r->n_done; i++)
		if (!strcmp(r->done[i].id, id))
			return now - r->done[i].when < FORGET_AFTER_S;
	return false;
}

static void mark_done(struct run *r, const char *id)
{
	for (size_t i = 0; i < r->n_done; i++)
		if (!strcmp(r->done[i].id, id)) {
			r->done[i].when = hbr_time_now();
			return;
		}
	hbr_grow((void **)&r->done, &r->cap_done, r->n_done + 1,
	         sizeof(*r->done));
	(void)snprintf(r->done[r->n_done].id, sizeof(r->done[0].id), "%s", id);
	r->done[r->n_done++].when = hbr_time_now();
}

static bool wanted(const struct run *r, const char *id)
{
	if (!r->o->once)
		return true;
	for (size_t i = 0; i < r->n_wanted; i++)
		if (!strcmp(r->wanted[i], id))
			return true;
	return false;
}

/* Join the threads that have finished. */
static void reap(struct run *r)
{
	for (size_t i = 0; i < r->n_slots;) {
		struct slot *s = r->slots[i];

		if (!atomic_load(&s->finished)) {
			i++;
			continue;
		}
		pthread_join(s->thread, NULL);
		if (s->result == RESULT_FAILED ||
		    (r->o->once && s->result == RESULT_INTERRUPTED))
			r->rc = 1;
		/* A job that failed to start may be retried at once by a
		 * daemon; anything that ran is done for a while. */
		if (s->job.start || r->o->once)
			mark_done(r, s->job.id);
		hbr_agent_job_release(&s->job);
		hbr_free(s);
		r->slots[i] = r->slots[--r->n_slots];
	}
	/* A daemon forgets what it ran long ago (--once needs it all). */
	for (size_t i = 0; !r->o->once && i < r->n_done;) {
		if (hbr_time_now() - r->done[i].when >= FORGET_AFTER_S)
			r->done[i] = r->done[--r->n_done];
		else
			i++;
	}
}

static int limit(const json_t *settings, const char *key, int cores)
{
	json_int_t v = json_integer_value(json_object_get(settings, key));

	if (v <= 0)
		return cores;
	return v > THREADS_MAX ? THREADS_MAX : (int)v;
}

static void start(struct run *r, const json_t *doc, bool restore, int max_cpu)
{
	const char *id = id_of(doc, restore);
	struct slot *s;

	if (!id || !id[0] || strlen(id) >= HBR_AGENT_JOB_ID_MAX)
		return;
	s = hbr_calloc(1, sizeof(*s));
	s->run = r;
	hbr_agent_job_init(&s->job, id, restore ? "RESTORE" : "BACKUP",
	                   &r->st.key, r->o->state_dir, r->o->hostname);
	s->job.doc = json_incref((json_t *)doc);
	s->job.max_cpu = max_cpu;
	s->job.cores = r->cores;
	if (pthread_create(&s->thread, NULL, job_main, s)) {
		hbr_log_error("job %s: cannot start a thread", id);
		hbr_agent_job_release(&s->job);
		hbr_free(s);
		r->rc = 1;
		return;
	}
	hbr_grow((void **)&r->slots, &r->cap_slots, r->n_slots + 1,
	         sizeof(*r->slots));
	r->slots[r->n_slots++] = s;
}

static void remember_wanted(struct run *r, const json_t *list, bool restore)
{
	const json_t *doc;
	size_t i;

	json_array_foreach(list, i, doc)
	{
		const char *id = id_of(doc, restore);

		if (!id)
			continue;
		r->wanted = hbr_realloc(r->wanted,
		                        (r->n_wanted + 1) * sizeof(char *));
		r->wanted[r->n_wanted++] = hbr_strdup(id);
	}
}

static bool listed(const json_t *ans, const char *id)
{
	for (int restore = 0; restore < 2; restore++) {
		const json_t *doc;
		size_t i;

		json_array_foreach(json_object_get(ans, restore ?
		                                                "RestoreJobs" :
		                                                "BackupJobs"),
		                   i, doc)
		{
			const char *x = id_of(doc, restore);

			if (x && !strcmp(x, id))
				return true;
		}
	}
	return false;
}

static bool still_held(const char *id, void *payload)
{
	return listed(payload, id);
}

/* Start what the poll listed, within MaxWorker. */
static void schedule(struct run *r, const json_t *ans)
{
	const json_t *settings = json_object_get(ans, "Settings");
	int max_worker = limit(settings, "MaxWorker", r->cores);
	int max_cpu = limit(settings, "MaxCpuCore", 0);

	/* --once: a job listed at start that is gone now (cancelled,
	 * deleted) is not waited for. */
	for (size_t i = 0; i < r->n_wanted; i++)
		if (!running(r, r->wanted[i]) && !listed(ans, r->wanted[i]) &&
		    !done_recently(r, r->wanted[i]))
			mark_done(r, r->wanted[i]);
	for (int restore = 0; restore < 2; restore++) {
		const json_t *list = json_object_get(
		        ans, restore ? "RestoreJobs" : "BackupJobs");
		const json_t *doc;
		size_t i;

		json_array_foreach(list, i, doc)
		{
			const char *id = id_of(doc, restore);

			if ((int)r->n_slots >= max_worker)
				return;
			if (!id || running(r, id) || done_recently(r, id) ||
			    !wanted(r, id))
				continue;
			start(r, doc, restore, max_cpu);
		}
	}
}

static bool once_done(const struct run *r)
{
	for (size_t i = 0; i < r->n_wanted; i++) {
		bool seen = false;

		for (size_t j = 0; j < r->n_done && !seen; j++)
			seen = !strcmp(r->done[j].id, r->wanted[i]);
		if (!seen)
			return false;
	}
	return r->n_slots == 0;
}

/* Sleep up to ms, waking early when a job finishes or on SIGTERM. */
static void nap(struct run *r, int ms)
{
	uint64_t end = hbr_time_mono_ns() + (uint64_t)ms * 1000000;

	pthread_mutex_lock(&r->lock);
	while (hbr_time_mono_ns() < end && !hbr_agent_terminating()) {
		struct timespec ts;
		bool any = false;

		for (size_t i = 0; i < r->n_slots && !any; i++)
			any = atomic_load(&r->slots[i]->finished);
		if (any)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&r->wake, &r->lock, &ts);
	}
	pthread_mutex_unlock(&r->lock);
}

static int poll_once(json_t **out, struct run *r, struct hbr_agent_conn *conn)
{
	json_t *ans = NULL;
	int error;

	if (hbr_agent_conn_call(&ans, conn, "ReportBackupClientHeartbeat",
	                        r->o->facts) < 0)
		hbr_log_warn("heartbeat: %s", hbr_error_msg());
	json_decref(ans);
	ans = NULL;
	if ((error = hbr_agent_conn_call(&ans, conn, "PollAgentJobs", NULL)) <
	    0)
		return error;
	*out = ans;
	return 0;
}

int hbr_agent_run(const struct hbr_agent_run_opts *o)
{
	struct run r;
	struct hbr_agent_conn conn = { 0 };
	bool first = true;
	int failures = 0, error;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.cores = cores < 1           ? 1 :
	          cores > THREADS_MAX ? THREADS_MAX :
	                                (int)cores;
	pthread_mutex_init(&r.lock, NULL);
	pthread_cond_init(&r.wake, NULL);
	if (strlen(o->state_dir) >= HBR_AGENT_STATE_DIR_MAX) {
		hbr_log_error("the state directory's name is too long");
		r.rc = 1;
		goto out;
	}
	if ((error = hbr_agent_state_load(&r.st, o->state_dir)) < 0 ||
	    (error = hbr_agent_conn_init(&conn, &r.st.key)) < 0) {
		hbr_log_error("%s", hbr_error_msg());
		r.rc = 1;
		goto out;
	}
	install_signals();
	/* From here on a daemon exits 0 (it stops when told to); --once
	 * says whether its jobs went well. */
	hbr_log_info("client %s: polling %s every %d ms%s", r.st.client_id,
	             r.st.key.endpoint, o->poll_ms, o->once ? " (--once)" : "");
	while (!hbr_agent_terminating()) {
		json_t *ans = NULL;

		reap(&r);
		if (poll_once(&ans, &r, &conn) < 0) {
			hbr_log_warn("PollAgentJobs: %s", hbr_error_msg());
			if (o->once && first && ++failures >= ONCE_POLL_TRIES) {
				hbr_log_error("the server cannot be polled;"
				              " giving up");
				r.rc = 1;
				break;
			}
		} else {
			if (first && o->once) {
				remember_wanted(
				        &r, json_object_get(ans, "BackupJobs"),
				        false);
				remember_wanted(
				        &r, json_object_get(ans, "RestoreJobs"),
				        true);
				hbr_log_info("--once: %zu job(s) to run",
				             r.n_wanted);
			}
			/* Before any job runs: what an agent killed mid-job
			 * left, unless the job is listed again (it reruns and
			 * starts its files afresh). */
			if (first) {
				size_t n = hbr_agent_state_sweep(
				        o->state_dir, still_held, ans);

				if (n)
					hbr_log_info("removed %zu file(s) that"
					             " interrupted jobs left",
					             n);
			}
			first = false;
			schedule(&r, ans);
			json_decref(ans);
		}
		if (o->once && !first && once_done(&r))
			break;
		nap(&r, o->poll_ms);
		reap(&r);
		if (o->once && !first && once_done(&r))
			break;
	}
	if (hbr_agent_terminating()) {
		hbr_log_info("stopping: %zu job(s) to wind down", r.n_slots);
		if (o->once && (r.n_slots || !once_done(&r)))
			r.rc = 1;
	}
	while (r.n_slots) {
		nap(&r, 100);
		reap(&r);
	}
	if (!o->once)
		r.rc = 0;
out:
	hbr_agent_conn_release(&conn);
	for (size_t i = 0; i < r.n_wanted; i++)
		hbr_free(r.wanted[i]);
	hbr_free(r.wanted);
	hbr_free(r.done);
	hbr_free(r.slots);
	pthread_mutex_destroy(&r.lock);
	pthread_cond_destroy(&r.wake);
	return r.rc;
}
