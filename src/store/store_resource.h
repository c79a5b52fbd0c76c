/*
 * HBR resources: vaults, clients, tasks, backup plans, backup jobs,
 * snapshots and restore jobs, exchanged as JSON objects with HBR's field
 * names (the API model). Each table keeps the fields it filters, sorts or
 * updates as columns and the whole object as a JSON document; a read
 * overlays the columns onto the document, so a status change never
 * rewrites the document.
 *
 * These functions do not open transactions: the caller brackets a whole
 * API call with hbr_store_begin/commit so it is atomic. The exception is
 * hbr_store_delete_client_resources, which is one transaction by itself.
 */
#ifndef HBR_STORE_RESOURCE_H
#define HBR_STORE_RESOURCE_H

#include <jansson.h>
#include "common.h"
#include "store/store.h"
#include "store/store_account.h"
#include "util/buf.h"

enum hbr_entity {
	HBR_ENT_VAULT,
	HBR_ENT_CLIENT,
	HBR_ENT_TASK,
	HBR_ENT_PLAN,
	HBR_ENT_JOB,
	HBR_ENT_SNAPSHOT,
	HBR_ENT_RESTORE,
};

enum hbr_cond_op {
	HBR_OP_EQ,
	HBR_OP_NE,
	HBR_OP_GT,
	HBR_OP_GE,
	HBR_OP_LT,
	HBR_OP_LE,
	HBR_OP_BETWEEN, /* values[0] <= x <= values[1] */
	HBR_OP_IN,
	HBR_OP_NOT_IN,
};

struct hbr_cond {
	const char *field; /* an API field the entity can filter on */
	enum hbr_cond_op op;
	const char *const *values;
	size_t nvalues;
};

struct hbr_list_req {
	enum hbr_entity entity;
	const char *account_id;
	const struct hbr_cond *conds;
	size_t nconds;
	const char *order_field; /* API field; NULL = CreatedTime */
	bool descending;
	int64_t offset;
	int64_t limit; /* 0 = count only */
};

/* True when the entity can filter/sort on API field `field`. */
bool hbr_store_field_known(enum hbr_entity e, const char *field);

/* Rows (a new JSON array) and the total count without paging.
 * HBR_EINVAL (param = the field) for a field the entity cannot filter. */
int hbr_store_list(json_t **rows_out, int64_t *total_out, struct hbr_store *s,
                   const struct hbr_list_req *req);

/* The same rows as JSON text, "[{...},{...}]", appended to out without
 * building JSON trees: the fast path for list responses. */
int hbr_store_list_text(struct hbr_buf *out, int64_t *total_out,
                        struct hbr_store *s, const struct hbr_list_req *req);

/* One live object by id in the account, or the entity's not-found error
 * (HBR_ENOVAULT, HBR_ENOCLIENT, ...). Caller owns *out. */
int hbr_store_get(json_t **out, struct hbr_store *s, enum hbr_entity e,
                  const char *account_id, const char *id);

/* Insert obj (which carries its id field and every column field).
 * Plans, jobs and snapshots are stamped with their client's current
 * epoch, so they are live until the client's resources are deleted. */
int hbr_store_insert(struct hbr_store *s, enum hbr_entity e,
                     const char *account_id, json_t *obj);

/* Write back obj (an object read with hbr_store_get, then changed):
 * every column and the document, UpdatedTime = now. The id field says
 * which row. */
int hbr_store_replace(struct hbr_store *s, enum hbr_entity e,
                      const char *account_id, json_t *obj);

/* Set one column field (e.g. a client's BackupStatus) and UpdatedTime.
 * value is a string for text columns, decimal for numbers. */
int hbr_store_set(struct hbr_store *s, enum hbr_entity e,
                  const char *account_id, const char *id, const char *field,
                  const char *value);

struct hbr_vault_usage {
	int64_t snapshots;
	int64_t bytes; /* ActualBytes of live snapshots */
	int64_t plans;
	/* Pack bytes in the vault (what the disk holds, dead or alive),
	 * and the bytes of chunks some snapshot references: the first
	 * falls towards the second as reclamation works. */
	int64_t stored_bytes, live_bytes;
};

int hbr_store_vault_usage(struct hbr_vault_usage *out, struct hbr_store *s,
                          const char *vault_id);

struct hbr_delete_counts {
	int64_t plans;
	int64_t jobs;
	int64_t snapshots;
	int64_t restores_cancelled;
};

/*
 * DeleteBackupClientResource, one durable transaction: every plan, job
 * (any state) and snapshot of the clients is deleted, unfinished restore
 * jobs reading from those snapshots are cancelled, and the clients become
 * UNPROTECTED. When audit is given it is written in the same transaction,
 * with the counts filled in.
 *
 * HBR_ENOCLIENT (nothing changed) when any id is not a client of the
 * account; the message names every such id.
 */
int hbr_store_delete_client_resources(struct hbr_delete_counts *out,
                                      struct hbr_store *s,
                                      const char *account_id,
                                      const char *const *client_ids, size_t n,
                                      struct hbr_audit_entry *audit);

/* The same, inside the caller's transaction and without the audit row
 * (DeleteBackupClient deletes the client in the same transaction). */
int hbr_store_delete_client_resources_tx(struct hbr_delete_counts *out,
                                         struct hbr_store *s,
                                         const char *account_id,
                                         const char *const *client_ids,
                                         size_t n);

/*
 * Resource lifecycle (store_lifecycle.c). Like the other functions here
 * these run inside the caller's transaction; on error the caller rolls
 * back, so a refusal changes nothing. Another account's id is reported
 * exactly like a missing one.
 */

/* True for the job and restore job states that are not finished. */
bool hbr_store_status_unfinished(const char *status);

/*
 * DeleteVault: HBR_ECONFLICT while a backup job of the vault or a restore
 * job reading from it is unfinished. Otherwise deletes its plans, jobs and
 * restore jobs, moves its snapshots to gc_queue, hides the vault, and
 * clients left without a live plan become UNPROTECTED. The vault's
 * directory is left to space reclamation.
 */
int hbr_store_delete_vault(struct hbr_delete_counts *out, struct hbr_store *s,
                           const char *account_id, const char *vault_id);

/*
 * DeleteBackupPlan: deletes the plan and its jobs (unfinished ones too,
 * unless require_no_running, then HBR_ECONFLICT) and keeps its snapshots.
 */
int hbr_store_delete_plan(struct hbr_delete_counts *out, struct hbr_store *s,
                          const char *account_id, const char *plan_id,
                          bool require_no_running);

/* DeleteSnapshot: the snapshot moves to gc_queue. HBR_ECONFLICT while an
 * unfinished restore job reads from it. */
int hbr_store_delete_snapshot(struct hbr_store *s, const char *account_id,
                              const char *snapshot_id);

/*
 * DeleteBackupClient: HBR_ECONFLICT for a client that sent a heartbeat in
 * the last hour unless it is NOT_INSTALLED, UNINSTALLING or STOPPED.
 * Otherwise its resources go as with DeleteBackupClientResource and the
 * client is hidden; its instance can get a new client.
 */
int hbr_store_delete_client(struct hbr_delete_counts *out, struct hbr_store *s,
                            const char *account_id, const char *client_id,
                            int64_t now);

/* CancelBackupJob / CancelRestoreJob (e = HBR_ENT_JOB or HBR_ENT_RESTORE):
 * an unfinished job becomes CANCELED; a finished one is HBR_ECONFLICT. */
int hbr_store_cancel(struct hbr_store *s, enum hbr_entity e,
                     const char *account_id, const char *id);

/* Kept out of the client's document so that no read returns it. */
int hbr_store_client_set_proxy_password(struct hbr_store *s,
                                        const char *account_id,
                                        const char *client_id,
                                        const char *password);

/*
 * Physically remove up to `batch` dead rows (deleted by an epoch bump),
 * queueing each dead snapshot in gc_queue for space reclamation, in one
 * short transaction. *done_out is the number of rows removed; 0 means
 * nothing is pending.
 */
int hbr_store_purge_step(int64_t *done_out, struct hbr_store *s, int64_t batch);

#endif
