/*
 * What every part of a running job shares: who it is, whether it must
 * stop (cancelled by the server, SIGTERM, or failed), its counters, the
 * files it could not handle, and the thread that reports progress every
 * second (docs/AGENT-PROTOCOL.md: at least every 2 s).
 */
#ifndef HBR_AGENT_JOB_H
#define HBR_AGENT_JOB_H

#include "common.h"
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include "agent/agent_rpc.h"

#define HBR_AGENT_JOB_ID_MAX  64
#define HBR_AGENT_ERROR_FILES 100 /* ErrorFiles keeps this many */
#define HBR_AGENT_PROGRESS_MS 1000
#define HBR_AGENT_RETRIES     6 /* network errors, backoff 0.25-4 s */
#define HBR_AGENT_REASON_MAX  512
/* Buffers for paths in the state directory (whose name is checked to
 * be shorter than HBR_AGENT_STATE_DIR_MAX) and for its subdirectories. */
#define HBR_AGENT_STATE_DIR_MAX 3072
#define HBR_AGENT_DIR_MAX       4096
#define HBR_AGENT_FILE_MAX      4352

enum hbr_agent_stop {
	HBR_AGENT_GOING = 0,
	HBR_AGENT_CANCELLED, /* 409 / JobNotExist: the server said stop */
	HBR_AGENT_TERMINATED, /* SIGTERM: leave the job for the next start */
	HBR_AGENT_FAILED, /* an error of ours: FinishAgentJob FAILED */
};

struct hbr_agent_job {
	char id[HBR_AGENT_JOB_ID_MAX];
	const char *type; /* "BACKUP" or "RESTORE" */
	const struct hbr_agent_key *key; /* borrowed */
	const char *state_dir; /* borrowed */
	const char *hostname; /* borrowed */
	json_t *doc; /* the job as PollAgentJobs showed it (owned ref) */
	json_t *start; /* StartAgentJob's answer (owned ref) */
	/* MaxCpuCore (0: unlimited), and the cores to use when unlimited. */
	int max_cpu, cores;
	uint64_t started_ns;

	atomic_int stop; /* enum hbr_agent_stop */
	pthread_mutex_t lock; /* reason and error files */
	char reason[HBR_AGENT_REASON_MAX];

	atomic_uint_fast64_t bytes_total, bytes_done, items_total, items_done;
	atomic_uint_fast64_t stored_bytes; /* StoredBytes of our uploads */
	atomic_bool totals_final; /* the totals are no longer estimates */

	char **error_files; /* the first HBR_AGENT_ERROR_FILES */
	size_t n_error_files, n_errors;

	pthread_t progress;
	bool progress_running;
	pthread_mutex_t progress_lock;
	pthread_cond_t progress_wake;
	bool progress_quit;
};

void hbr_agent_job_init(struct hbr_agent_job *job, const char *id,
                        const char *type, const struct hbr_agent_key *key,
                        const char *state_dir, const char *hostname);
void hbr_agent_job_release(struct hbr_agent_job *job);

/* SIGTERM: every job stops (async-signal-safe). */
void hbr_agent_terminate(void);
bool hbr_agent_terminating(void);

/* The job must stop: its own flag or SIGTERM. */
bool hbr_agent_job_stopped(const struct hbr_agent_job *job);
/* Stop the job for `why` (the first reason wins) and log it. */
void hbr_agent_job_stop(struct hbr_agent_job *job, enum hbr_agent_stop why,
                        const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Stop for an RPC error: 409 and JobNotExist cancel, anything else
 * fails. Returns error. */
int hbr_agent_job_fail(struct hbr_agent_job *job, int error, const char *what);
/* Why the job stopped (after the fact). */
enum hbr_agent_stop hbr_agent_job_why(const struct hbr_agent_job *job);

/* A file we skipped; logged, kept for ErrorFiles. */
void hbr_agent_job_error_file(struct hbr_agent_job *job, const char *path,
                              const char *why);
/* ErrorFiles: JSON text of the kept paths (caller frees with free()). */
char *hbr_agent_job_error_files_json(struct hbr_agent_job *job);

/*
 * A call retried on network errors and 5xx answers (backoff, at most
 * HBR_AGENT_RETRIES attempts, stopping early when the job stops).
 * Retrying is safe: every agent action is idempotent.
 */
int hbr_agent_job_call(json_t **out, struct hbr_agent_job *job,
                       struct hbr_agent_conn *conn, const char *action,
                       const struct hbr_kvlist *params);
/* Sleep ms in slices; false when the job stopped meanwhile. */
bool hbr_agent_job_sleep(const struct hbr_agent_job *job, unsigned ms);
/* Whether a failed call is worth another try. */
bool hbr_agent_retryable(int error);

/*
 * A call made by a helper thread, so that the caller can work while it
 * travels (a backup compresses while CheckAgentChunks is answered).
 * One call at a time; retried like hbr_agent_job_call.
 */
struct hbr_agent_async {
	struct hbr_agent_job *job;
	struct hbr_agent_conn conn;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	const char *action;
	struct hbr_kvlist params;
	json_t *ans;
	int error;
	char message[HBR_AGENT_REASON_MAX]; /* the error's, from the helper */
	int state; /* idle, pending, done, quit */
	uint64_t ns; /* time the calls took */
};

int hbr_agent_async_init(struct hbr_agent_async *a, struct hbr_agent_job *job);
/* Waits for a call still under way. */
void hbr_agent_async_release(struct hbr_agent_async *a);
/* Start action with params (moved in: params is left empty). */
void hbr_agent_async_start(struct hbr_agent_async *a, const char *action,
                           struct hbr_kvlist *params);
/* Wait for the call's answer (*out, caller owns) or error. */
int hbr_agent_async_wait(struct hbr_agent_async *a, json_t **out);

/* The progress reporter thread; stop_progress joins it. */
int hbr_agent_job_start_progress(struct hbr_agent_job *job);
void hbr_agent_job_stop_progress(struct hbr_agent_job *job);
/* Counters as parameters (BytesTotal, BytesDone, ItemsTotal, ItemsDone). */
void hbr_agent_job_add_counters(struct hbr_kvlist *params,
                                struct hbr_agent_job *job);

/* FinishAgentJob with status and message (counters included). */
int hbr_agent_job_finish(struct hbr_agent_job *job, struct hbr_agent_conn *conn,
                         const char *status, const char *message);

/* kvlist helpers shared by the agent's files. */
void hbr_agent_param(struct hbr_kvlist *l, const char *k, const char *v);
void hbr_agent_param_u64(struct hbr_kvlist *l, const char *k, uint64_t v);

#endif
