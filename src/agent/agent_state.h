/*
 * What the agent keeps in its state directory: credentials.json (the
 * endpoint and the agent's own access key, mode 0600) and, on a machine
 * without /etc/machine-id, the instance id generated once.
 */
#ifndef HBR_AGENT_STATE_H
#define HBR_AGENT_STATE_H

#include "common.h"
#include "agent/agent_rpc.h"

#define HBR_AGENT_ID_MAX 129 /* InstanceId is 1-128 characters */

struct hbr_agent_state {
	struct hbr_agent_key key; /* the agent's credential */
	char client_id[HBR_AGENT_ID_MAX];
	char instance_id[HBR_AGENT_ID_MAX];
};

/*
 * A stable instance id for this machine: "hbr-" + the first 20 hex
 * digits of SHA-256(machine-id file's first line). Without a readable,
 * non-empty machine_id_path, one generated once and kept in
 * DIR/instance-id (the directory is created, 0700).
 */
int hbr_agent_instance_id(char out[HBR_AGENT_ID_MAX], const char *state_dir,
                          const char *machine_id_path);

/* Write DIR/credentials.json durably, mode 0600 (the directory is
 * created, 0700). */
int hbr_agent_state_save(const char *state_dir,
                         const struct hbr_agent_state *st);
/* HBR_ENOTFOUND when there is no credentials.json; HBR_EINVAL when it
 * is not what hbr_agent_state_save writes. */
int hbr_agent_state_load(struct hbr_agent_state *out, const char *state_dir);

/*
 * Remove what backups and restores cut short left in DIR/trees: a job's
 * <job>.part and <job>.idx.part (its tree and index being written),
 * <job>.restore (a restore's fetched tree) and any *.tmp (a fetch or a
 * durable write in progress). A job that runs again starts those afresh,
 * but one that never does (cancelled, deleted, failed while the agent was
 * down) would leave them for ever. The files of a job keep(id, payload)
 * says is still held are kept. Call it before any job runs. Returns how
 * many were removed.
 */
size_t hbr_agent_state_sweep(const char *state_dir,
                             bool (*keep)(const char *job_id, void *payload),
                             void *payload);

#endif
