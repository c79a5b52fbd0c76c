/*
 * Deleting and cancelling single resources: vaults, plans, snapshots,
 * clients, backup and restore jobs. Each function is a few set-based
 * statements inside the caller's transaction.
 *
 * Deleted snapshots always go through gc_queue, like the purge's
 * (store_purge.c), so space reclamation has one input. Vaults and clients
 * are hidden (`deleted`) rather than removed: gc_queue entries still name
 * the vault, and the client's dead rows reference it until the purge.
 */
#include "common.h"
#include <jansson.h>
#include "store/store_resource.h"
#include "util/error.h"
#include "util/timeutil.h"

#define UNFINISHED "('CREATED','QUEUED','RUNNING','CANCELING')"

/* An hour without a heartbeat: the agent is no longer running. */
#define HEARTBEAT_WINDOW_S 3600

bool hbr_store_status_unfinished(const char *status)
{
	static const char *const unfinished[] = { "CREATED", "QUEUED",
		                                  "RUNNING", "CANCELING" };

	for (size_t i = 0; i < HBR_ARRAY_SIZE(unfinished); i++)
		if (status && !strcmp(status, unfinished[i]))
			return true;
	return false;
}

static const char *field(json_t *obj, const char *name)
{
	const char *v = json_string_value(json_object_get(obj, name));

	return v ? v : "";
}

/* Clients whose last live plan went become UNPROTECTED again. */
static int unprotect_idle(struct hbr_store *s, const char *account_id,
                          const char *client_id, int64_t now)
{
	return hbr_store_execf(s,
	                       "UPDATE clients SET backup_status ="
	                       " 'UNPROTECTED', updated_time = ?"
	                       " WHERE account_id = ? AND deleted = 0"
	                       " AND backup_status = 'PROTECTED'"
	                       " AND (? IS NULL OR client_id = ?)"
	                       " AND NOT EXISTS (SELECT 1 FROM live_plans p"
	                       " WHERE p.client_id = clients.client_id)",
	                       "isss", now, account_id, client_id, client_id);
}

int hbr_store_delete_vault(struct hbr_delete_counts *out, struct hbr_store *s,
                           const char *account_id, const char *vault_id)
{
	struct hbr_delete_counts c = { 0 };
	int64_t busy = 0, restores = 0, now = hbr_time_now();
	json_t *vault = NULL;
	int error;

	if ((error = hbr_store_get(&vault, s, HBR_ENT_VAULT, account_id,
	                           vault_id)) < 0)
		return error;
	json_decref(vault);
	if ((error = hbr_store_count(&busy, s,
	                             "SELECT COUNT(*) FROM live_jobs WHERE"
	                             " vault_id = ? AND status IN " UNFINISHED,
	                             "s", vault_id)) < 0 ||
	    (error = hbr_store_count(&restores, s,
	                             "SELECT COUNT(*) FROM restore_jobs WHERE"
	                             " vault_id = ? AND status IN " UNFINISHED,
	                             "s", vault_id)) < 0)
		return error;
	if (busy + restores > 0)
		return hbr_error_set(
		        HBR_ECONFLICT,
		        "vault %s has %lld unfinished backup job(s)"
		        " and %lld unfinished restore job(s); cancel"
		        " them (CancelBackupJob, CancelRestoreJob)"
		        " before deleting the vault",
		        vault_id, (long long)busy, (long long)restores);
	if ((error = hbr_store_count(&c.plans, s,
	                             "SELECT COUNT(*) FROM live_plans"
	                             " WHERE vault_id = ?",
	                             "s", vault_id)) < 0 ||
	    (error = hbr_store_count(&c.jobs, s,
	                             "SELECT COUNT(*) FROM live_jobs"
	                             " WHERE vault_id = ?",
	                             "s", vault_id)) < 0 ||
	    (error = hbr_store_count(&c.snapshots, s,
	                             "SELECT COUNT(*) FROM live_snapshots"
	                             " WHERE vault_id = ?",
	                             "s", vault_id)) < 0)
		return error;
	/* Dead rows of the vault (older epochs) go too: the purge then
	 * simply finds less to do. */
	if ((error = hbr_store_execf(
	             s,
	             "INSERT INTO gc_queue (vault_id, snapshot_id, client_id,"
	             " actual_bytes, doc, enqueued_time) SELECT vault_id,"
	             " snapshot_id, client_id, actual_bytes, doc, ? FROM"
	             " snapshots WHERE vault_id = ?",
	             "is", now, vault_id)) < 0 ||
	    (error = hbr_store_execf(s,
	                             "DELETE FROM snapshots WHERE vault_id = ?",
	                             "s", vault_id)) < 0 ||
	    (error = hbr_store_execf(s, "DELETE FROM jobs WHERE vault_id = ?",
	                             "s", vault_id)) < 0 ||
	    (error = hbr_store_execf(s, "DELETE FROM plans WHERE vault_id = ?",
	                             "s", vault_id)) < 0 ||
	    (error = hbr_store_execf(s,
	                             "DELETE FROM restore_jobs WHERE"
	                             " vault_id = ?",
	                             "s", vault_id)) < 0 ||
	    /* Its data goes whole, and nobody's exclusive bytes are in
	     * it any more. */
	    (error = hbr_store_execf(s,
	                             "DELETE FROM client_bytes WHERE"
	                             " vault_id = ?",
	                             "s", vault_id)) < 0 ||
	    (error = hbr_store_execf(s,
	                             "UPDATE vaults SET deleted = 1,"
	                             " updated_time = ? WHERE vault_id = ?"
	                             " AND account_id = ?",
	                             "iss", now, vault_id, account_id)) < 0 ||
	    (error = unprotect_idle(s, account_id, NULL, now)) < 0)
		return error;
	*out = c;
	return 0;
}

int hbr_store_delete_plan(struct hbr_delete_counts *out, struct hbr_store *s,
                          const char *account_id, const char *plan_id,
                          bool require_no_running)
{
	struct hbr_delete_counts c = { 0 };
	int64_t busy = 0, now = hbr_time_now();
	json_t *plan = NULL;
	int error;

	if ((error = hbr_store_get(&plan, s, HBR_ENT_PLAN, account_id,
	                           plan_id)) < 0)
		return error;
	if ((error = hbr_store_count(&busy, s,
	                             "SELECT COUNT(*) FROM live_jobs WHERE"
	                             " plan_id = ? AND status IN " UNFINISHED,
	                             "s", plan_id)) < 0)
		goto out;
	if (require_no_running && busy > 0) {
		error = hbr_error_set(
		        HBR_ECONFLICT,
		        "backup plan %s has %lld queued or running"
		        " job(s) and RequireNoRunningJobs is true",
		        plan_id, (long long)busy);
		goto out;
	}
	c.plans = 1;
	if ((error = hbr_store_count(&c.jobs, s,
	                             "SELECT COUNT(*) FROM live_jobs"
	                             " WHERE plan_id = ?",
	                             "s", plan_id)) < 0 ||
	    (error = hbr_store_execf(s,
	                             "DELETE FROM jobs WHERE plan_id = ?"
	                             " AND account_id = ?",
	                             "ss", plan_id, account_id)) < 0 ||
	    (error = hbr_store_execf(s,
	                             "DELETE FROM plans WHERE plan_id = ?"
	                             " AND account_id = ?",
	                             "ss", plan_id, account_id)) < 0 ||
	    (error = unprotect_idle(s, account_id, field(plan, "ClientId"),
	                            now)) < 0)
		goto out;
	*out = c;
out:
	json_decref(plan);
	return error;
}

int hbr_store_delete_snapshot(struct hbr_store *s, const char *account_id,
                              const char *snapshot_id)
{
	int64_t restores = 0;
	json_t *snap = NULL;
	int error;

	if ((error = hbr_store_get(&snap, s, HBR_ENT_SNAPSHOT, account_id,
	                           snapshot_id)) < 0)
		return error;
	json_decref(snap);
	if ((error = hbr_store_count(
	             &restores, s,
	             "SELECT COUNT(*) FROM restore_jobs WHERE"
	             " snapshot_id = ? AND status IN " UNFINISHED,
	             "s", snapshot_id)) < 0)
		return error;
	if (restores > 0)
		return hbr_error_set(HBR_ECONFLICT,
		                     "snapshot %s is being restored by %lld"
		                     " unfinished restore job(s); cancel them"
		                     " first",
		                     snapshot_id, (long long)restores);
	if ((error = hbr_store_execf(
	             s,
	             "INSERT INTO gc_queue (vault_id, snapshot_id, client_id,"
	             " actual_bytes, doc, enqueued_time) SELECT vault_id,"
	             " snapshot_id, client_id, actual_bytes, doc, ? FROM"
	             " snapshots WHERE snapshot_id = ?",
	             "is", hbr_time_now(), snapshot_id)) < 0)
		return error;
	return hbr_store_execf(s,
	                       "DELETE FROM snapshots WHERE snapshot_id = ?"
	                       " AND account_id = ?",
	                       "ss", snapshot_id, account_id);
}

int hbr_store_delete_client(struct hbr_delete_counts *out, struct hbr_store *s,
                            const char *account_id, const char *client_id,
                            int64_t now)
{
	static const char *const idle[] = { "NOT_INSTALLED", "UNINSTALLING",
		                            "STOPPED" };
	struct hbr_delete_counts c = { 0 };
	const char *ids[1] = { client_id };
	json_t *client = NULL;
	const char *status;
	int64_t beat;
	bool quiet = false;
	int error;

	if ((error = hbr_store_get(&client, s, HBR_ENT_CLIENT, account_id,
	                           client_id)) < 0)
		return error;
	status = field(client, "Status");
	beat = json_integer_value(json_object_get(client, "LastHeartBeatTime"));
	for (size_t i = 0; i < HBR_ARRAY_SIZE(idle); i++)
		quiet |= !strcmp(status, idle[i]);
	if (!quiet && beat > 0 && now - beat < HEARTBEAT_WINDOW_S) {
		error = hbr_error_set(HBR_ECONFLICT,
		                      "client %s (status %s) sent a heartbeat"
		                      " %llds ago; uninstall it first"
		                      " (UninstallBackupClients) or wait until"
		                      " it has been silent for an hour",
		                      client_id, status,
		                      (long long)(now - beat));
		goto out;
	}
	if ((error = hbr_store_delete_client_resources_tx(&c, s, account_id,
	                                                  ids, 1)) < 0)
		goto out;
	/* The instance id is unique per account: renaming the hidden row
	 * frees it for a new install (the document keeps the original). */
	if ((error = hbr_store_execf(
	             s,
	             "UPDATE clients SET deleted = 1,"
	             " backup_status = 'UNPROTECTED', proxy_password = '',"
	             " instance_id = instance_id || '#deleted#' || client_id,"
	             " updated_time = ? WHERE client_id = ? AND account_id = ?",
	             "iss", now, client_id, account_id)) < 0)
		goto out;
	*out = c;
out:
	json_decref(client);
	return error;
}

int hbr_store_cancel(struct hbr_store *s, enum hbr_entity e,
                     const char *account_id, const char *id)
{
	json_t *job = NULL;
	char now[32];
	int error;

	HBR_ASSERT(e == HBR_ENT_JOB || e == HBR_ENT_RESTORE);
	if ((error = hbr_store_get(&job, s, e, account_id, id)) < 0)
		return error;
	if (!hbr_store_status_unfinished(field(job, "Status"))) {
		error = hbr_error_set(HBR_ECONFLICT,
		                      "%s %s is already %s; only a queued or"
		                      " running job can be cancelled",
		                      e == HBR_ENT_JOB ? "backup job" :
		                                         "restore job",
		                      id, field(job, "Status"));
		goto out;
	}
	/* Nothing waits for the agent to acknowledge: every upload,
	 * progress report and commit re-checks the job's status in the
	 * transaction that would record it (store_data.c), so the agent's
	 * next call is refused (409 naming CANCELED) and it stops. */
	(void)snprintf(now, sizeof(now), "%lld", (long long)hbr_time_now());
	if ((error = hbr_store_set(s, e, account_id, id, "Status",
	                           "CANCELED")) < 0 ||
	    (error = hbr_store_set(s, e, account_id, id, "CompleteTime", now)) <
	            0)
		goto out;
out:
	json_decref(job);
	return error;
}

int hbr_store_client_set_proxy_password(struct hbr_store *s,
                                        const char *account_id,
                                        const char *client_id,
                                        const char *password)
{
	return hbr_store_execf(s,
	                       "UPDATE clients SET proxy_password = ?"
	                       " WHERE client_id = ? AND account_id = ?"
	                       " AND deleted = 0",
	                       "sss", password, client_id, account_id);
}
