/*
 * The HBR RPC API: from a parsed HTTP request to a JSON answer.
 * api.c runs every call through the same steps (parameters, Action and
 * Version, signature, replay check, RAM authorization, the action, the
 * envelope, the audit log); each resource's actions live in api_<x>.c.
 */
#ifndef HBR_API_H
#define HBR_API_H

#include <jansson.h>
#include "common.h"
#include "auth/nonce.h"
#include "core/principal.h"
#include "http/http_server.h"
#include "store/store.h"
#include "store/store_resource.h"
#include "util/buf.h"
#include "util/kvlist.h"

#define HBR_API_VERSION  "2017-09-08"
#define HBR_SIG_WINDOW_S (15 * 60)

struct hbr_api_config {
	const char *data_dir;
	const char *store_url;
	const char *region; /* used in RAM resource names and HostId */
	size_t store_conns; /* connections in the pool */
};

struct hbr_audit_log;
struct hbr_api_vaults;
struct hbr_vault;

struct hbr_api {
	struct hbr_api_config cfg;
	struct hbr_store_pool *pool;
	struct hbr_nonce_cache *nonces;
	struct hbr_audit_log *audit;
	struct hbr_api_vaults *vaults; /* open vaults, refs cache */
	char host_id[128];
	/* Called after an action that may have queued snapshots for
	 * reclamation (cmd wires it to the purger and the reclaimer, which
	 * api may not include). NULL: nobody to wake. */
	void (*on_delete)(void *payload);
	void *on_delete_payload;
};

/* One call in progress; what an action handler sees. */
struct hbr_api_call {
	struct hbr_api *api;
	const struct hbr_kvlist *params; /* query ∪ form body, decoded */
	struct hbr_principal who;
	struct hbr_store *store; /* borrowed from the pool for this call */
	const char *action;
	const char *source_ip;
	char request_id[37];
	json_t *out; /* the action adds its response fields here */
	/* Optionally one more field whose value is JSON text already
	 * (list responses built by hbr_store_list_text). */
	const char *raw_field;
	struct hbr_buf raw;
	/* TotalCount, PageNumber, PageSize of a paged answer, written as
	 * text with the envelope (hbr_api_answer_page). */
	bool paged;
	int64_t total_count, page_number, page_size;
	/* An application/octet-stream request body (only UploadAgentPack
	 * accepts one); NULL otherwise. Its parameters are the query's. */
	const void *body;
	size_t body_len;
	/* An action that answers bytes (FetchAgentChunks) fills bin and
	 * sets binary: success is then 200 application/octet-stream with
	 * bin as the body; errors are the usual JSON. */
	struct hbr_buf bin;
	bool binary;
	/* Filled by actions that delete, for the audit log. */
	int64_t plans_deleted, jobs_deleted, snapshots_deleted;
	const char *audit_client_ids; /* JSON text, owned by the action */
	bool audit_done; /* the action wrote the audit row */
};

typedef int hbr_api_action_fn(struct hbr_api_call *call);

/* Open the store pool, the nonce cache and the audit log under
 * cfg->data_dir. */
int hbr_api_open(struct hbr_api **out, const struct hbr_api_config *cfg);
void hbr_api_close(struct hbr_api *api);
/* Remove vault directories that no live vault owns (left by a crash
 * between DeleteVault's commit and its removal). */
int hbr_api_sweep_vault_dirs(struct hbr_api *api);

/* The HTTP handler (payload = struct hbr_api *). */
void hbr_api_handle(struct hbr_http_response *resp,
                    const struct hbr_http_request *req, void *payload);

#define HBR_API_PRINCIPAL_MAX 192

/* The audit log's name for the caller: "root", "user/<name>" or "". */
void hbr_api_principal_name(char *out, size_t size,
                            const struct hbr_api_call *call);
/* An audit entry for this call with result `code`; principal is the
 * storage the entry's principal name points into. */
struct hbr_audit_entry;
void hbr_api_audit_entry(struct hbr_audit_entry *e,
                         char principal[HBR_API_PRINCIPAL_MAX],
                         const struct hbr_api_call *call, const char *code);
/* The live client that has instance_id in the caller's account;
 * HBR_ENOCLIENT naming the instance when there is none. */
int hbr_api_client_for_instance(json_t **out, struct hbr_api_call *call,
                                const char *instance_id);

/* Answer with the rows of req as field `field`, wrapped as
 * {"<wrapper>": [...]} when wrapper is not NULL (HBR's Vaults.Vault[]
 * shape) or as a bare array. *total_out is the count without paging. */
int hbr_api_list_into(int64_t *total_out, struct hbr_api_call *call,
                      const char *field, const char *wrapper,
                      const struct hbr_list_req *req);

struct hbr_filters;

/* A paged Describe: the rows of `entity` in the caller's account that
 * match `filters` and the `extra` conditions, page `page` of `size`,
 * answered as `field` (wrapped as for hbr_api_list_into) with
 * TotalCount, PageNumber and PageSize. */
int hbr_api_describe_page(struct hbr_api_call *call, enum hbr_entity entity,
                          const char *field, const char *wrapper,
                          const struct hbr_filters *filters,
                          const struct hbr_cond *extra, size_t nextra,
                          bool descending, int64_t page, int64_t size);
/* Add TotalCount, PageNumber and PageSize to the answer. */
void hbr_api_answer_page(struct hbr_api_call *call, int64_t total, int64_t page,
                         int64_t size);

/*
 * The vault of each HBR vault: DATA_DIR/vaults/<VaultId>, opened once
 * and shared by every thread (api_vaults.c). hbr_api_vault_get takes a
 * reference that hbr_api_vault_put gives back; hbr_api_vault_forget
 * (DeleteVault) drops the cached one, which is freed when its last user
 * is done.
 */
struct hbr_api_vaults *hbr_api_vaults_new(void);
void hbr_api_vaults_free(struct hbr_api_vaults *vs);
int hbr_api_vault_get(struct hbr_vault **out, struct hbr_api *api,
                      const char *vault_id);
void hbr_api_vault_put(struct hbr_api *api, struct hbr_vault *v);
void hbr_api_vault_forget(struct hbr_api *api, const char *vault_id);
/*
 * Whether each of the n ids (32 bytes each) is among snapshot_id's
 * references (the vault object refs/<snapshot_id>, cached): *first_out
 * is the index of the first one that is not, or n when all are.
 * HBR_ENOCHUNK when the snapshot has no refs object.
 */
int hbr_api_refs_find(size_t *first_out, struct hbr_api *api,
                      struct hbr_vault *v, const char *vault_id,
                      const char *snapshot_id, const uint8_t *ids, size_t n);
/* The refs cache's byte budget (256 MiB); an object over half of it is
 * searched in place instead of cached. For tests. */
void hbr_api_refs_budget(struct hbr_api *api, size_t bytes);

/* Actions, one per resource file. */
hbr_api_action_fn hbr_api_create_vault, hbr_api_describe_vaults,
        hbr_api_update_vault, hbr_api_delete_vault;
hbr_api_action_fn hbr_api_install_backup_clients,
        hbr_api_describe_backup_clients, hbr_api_delete_backup_client,
        hbr_api_update_client_settings, hbr_api_uninstall_backup_clients;
hbr_api_action_fn hbr_api_describe_task;
hbr_api_action_fn hbr_api_create_backup_plan, hbr_api_describe_backup_plans,
        hbr_api_execute_backup_plan, hbr_api_update_backup_plan,
        hbr_api_delete_backup_plan, hbr_api_enable_backup_plan,
        hbr_api_disable_backup_plan;
hbr_api_action_fn hbr_api_create_backup_job, hbr_api_describe_backup_jobs2,
        hbr_api_cancel_backup_job;
hbr_api_action_fn hbr_api_search_historical_snapshots, hbr_api_delete_snapshot;
hbr_api_action_fn hbr_api_create_restore_job, hbr_api_describe_restore_jobs2,
        hbr_api_cancel_restore_job;
hbr_api_action_fn hbr_api_delete_backup_client_resource;
/* Our extensions for the agent (hbr-client), api_agent.c. */
hbr_api_action_fn hbr_api_register_backup_client,
        hbr_api_report_backup_client_heartbeat;
/* The agent's jobs (api_agent_job.c) and data (api_agent_data.c):
 * docs/AGENT-PROTOCOL.md. */
hbr_api_action_fn hbr_api_poll_agent_jobs, hbr_api_start_agent_job,
        hbr_api_report_agent_job_progress, hbr_api_finish_agent_job;
hbr_api_action_fn hbr_api_check_agent_chunks, hbr_api_upload_agent_pack,
        hbr_api_commit_agent_snapshot, hbr_api_fetch_agent_chunks;

#endif
