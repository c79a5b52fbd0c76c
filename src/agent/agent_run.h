/*
 * hbr-client run: the agent's loop. Every poll a heartbeat and
 * PollAgentJobs; each job the server lists for this client runs in its
 * own thread, at most MaxWorker at once (0: one per core), each within
 * MaxCpuCore computing threads (0: no limit; agent_backup.c). A job the
 * agent held RUNNING before a restart is listed again and StartAgentJob
 * answers Resumed: it is simply run again (everything uploaded before is
 * found present). SIGTERM and SIGINT stop the jobs and leave them
 * RUNNING for the next start.
 */
#ifndef HBR_AGENT_RUN_H
#define HBR_AGENT_RUN_H

#include "common.h"
#include "util/kvlist.h"

#define HBR_AGENT_POLL_MS 2000

struct hbr_agent_run_opts {
	const char *state_dir;
	bool once; /* run the jobs listed at start, then return */
	int poll_ms;
	const struct hbr_kvlist *facts; /* the heartbeat's parameters */
	const char *hostname; /* for the tree header; NULL: gethostname */
};

/* The exit status: 1 when the agent has no credentials; with once, 1
 * when a job failed, could not be started or was interrupted; otherwise
 * 0 (a daemon stopped by SIGTERM included). */
int hbr_agent_run(const struct hbr_agent_run_opts *o);

#endif
