/*
 * CreateRestoreJob, DescribeRestoreJobs2 and CancelRestoreJob. A restore
 * job reads one snapshot and waits, QUEUED, for the agent of the target
 * instance. It records the snapshot's client as SourceClientId so that
 * DeleteBackupClientResource can cancel it (store_purge.c).
 */
#include "common.h"
#include "api/api.h"
#include "api/api_params.h"
#include "core/id.h"
#include "core/model.h"
#include "store/store_resource.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/timeutil.h"

#define JSON_PARAM_MAX 8192
#define PATH_MAX_LEN   4096

static const char *str(json_t *obj, const char *name)
{
	const char *v = json_string_value(json_object_get(obj, name));

	return v ? v : "";
}

int hbr_api_create_restore_job(struct hbr_api_call *call)
{
	static const char *const types[] = { "ECS_FILE" };
	const char *type, *src, *snapshot_id, *vault_id, *target, *path,
	        *include, *exclude, *options;
	char restore_id[HBR_ID_MAX];
	json_t *snap = NULL, *client = NULL, *job = NULL;
	int64_t now = hbr_time_now();
	int error;

	if (!hbr_kvlist_get(call->params, "RestoreType"))
		return hbr_error_set_param(HBR_EMISSING, "RestoreType",
		                           "RestoreType is mandatory for this"
		                           " action.");
	if ((error = hbr_param_enum(&type, call->params, "RestoreType", types,
	                            1, NULL)) < 0 ||
	    (error = hbr_param_enum(&src, call->params, "SourceType", types, 1,
	                            "ECS_FILE")) < 0 ||
	    (error = hbr_param_str(&snapshot_id, call->params, "SnapshotId",
	                           true, 1, 64)) < 0 ||
	    (error = hbr_param_str(&vault_id, call->params, "VaultId", false, 1,
	                           64)) < 0 ||
	    (error = hbr_param_str(&target, call->params, "TargetInstanceId",
	                           true, 1, 128)) < 0 ||
	    (error = hbr_param_str(&path, call->params, "TargetPath", true, 1,
	                           PATH_MAX_LEN)) < 0 ||
	    (error = hbr_param_json_strings(&include, call->params, "Include",
	                                    JSON_PARAM_MAX)) < 0 ||
	    (error = hbr_param_json_strings(&exclude, call->params, "Exclude",
	                                    JSON_PARAM_MAX)) < 0 ||
	    (error = hbr_param_str(&options, call->params, "Options", false, 0,
	                           JSON_PARAM_MAX)) < 0)
		return error;

	if ((error = hbr_store_begin(call->store)) < 0 ||
	    (error = hbr_store_get(&snap, call->store, HBR_ENT_SNAPSHOT,
	                           call->who.account_id, snapshot_id)) < 0)
		goto out;
	if (vault_id && strcmp(vault_id, str(snap, "VaultId"))) {
		error = hbr_error_set(HBR_ENOSNAPSHOT,
		                      "The specified snapshot does not exist in"
		                      " vault %s: %s",
		                      vault_id, snapshot_id);
		goto out;
	}
	if ((error = hbr_api_client_for_instance(&client, call, target)) < 0)
		goto out;
	hbr_id_new(restore_id, HBR_ID_RESTORE);
	job = hbr_model_restore_job(restore_id, type, snapshot_id,
	                            str(snap, "VaultId"), target, now);
	json_object_set_new(job, "SourceType", json_string(src));
	json_object_set(job, "SnapshotHash",
	                json_object_get(snap, "SnapshotHash"));
	json_object_set(job, "SourceClientId",
	                json_object_get(snap, "ClientId"));
	json_object_set(job, "SourceInstanceId",
	                json_object_get(snap, "InstanceId"));
	json_object_set(job, "TargetClientId",
	                json_object_get(client, "ClientId"));
	json_object_set_new(job, "TargetPath", json_string(path));
	json_object_set_new(job, "Include",
	                    json_string(include ? include : ""));
	json_object_set_new(job, "Exclude",
	                    json_string(exclude ? exclude : ""));
	json_object_set_new(job, "Options",
	                    json_string(options ? options : ""));
	if ((error = hbr_store_insert(call->store, HBR_ENT_RESTORE,
	                              call->who.account_id, job)) < 0 ||
	    (error = hbr_store_commit(call->store)) < 0)
		goto out;
	json_object_set_new(call->out, "RestoreId", json_string(restore_id));
out:
	json_decref(snap);
	json_decref(client);
	json_decref(job);
	return error;
}

/* HBR documents the backup-job keys for this call; JobId and InstanceId
 * mean the restore job and its target here. */
static const struct hbr_filter_key restore_filter_keys[] = {
	{ "RestoreId", "RestoreId" },
	{ "JobId", "RestoreId" },
	{ "VaultId", "VaultId" },
	{ "SnapshotId", "SnapshotId" },
	{ "InstanceId", "TargetInstanceId" },
	{ "TargetInstanceId", "TargetInstanceId" },
	{ "Status", "Status" },
	{ "CreatedTime", "CreatedTime" },
	{ "CompleteTime", "CompleteTime" },
	{ "RestoreType", "RestoreType" },
	{ "RegionId", "" },
};

int hbr_api_describe_restore_jobs2(struct hbr_api_call *call)
{
	static const char *const dirs[] = { "DESCEND", "ASCEND" };
	struct hbr_filters filters = { 0 };
	struct hbr_cond extra[1];
	const char *type, *dir;
	int64_t page, size;
	size_t n = 0;
	int error;

	if ((error = hbr_param_paging(&page, &size, call->params)) < 0 ||
	    (error = hbr_param_str(&type, call->params, "RestoreType", false, 1,
	                           32)) < 0 ||
	    (error = hbr_param_enum(&dir, call->params, "SortDirection", dirs,
	                            2, "DESCEND")) < 0 ||
	    (error = hbr_param_filters(
	             &filters, call->params, restore_filter_keys,
	             HBR_ARRAY_SIZE(restore_filter_keys))) < 0 ||
	    (error = hbr_filters_forbid_in(&filters, "CompleteTime")) < 0)
		goto out;
	if (type)
		extra[n++] =
		        (struct hbr_cond){ "RestoreType", HBR_OP_EQ, &type, 1 };
	error = hbr_api_describe_page(call, HBR_ENT_RESTORE, "RestoreJobs",
	                              "RestoreJob", &filters, extra, n,
	                              !strcmp(dir, "DESCEND"), page, size);
out:
	hbr_filters_release(&filters);
	return error;
}

int hbr_api_cancel_restore_job(struct hbr_api_call *call)
{
	const char *restore_id, *vault_id;
	json_t *job = NULL;
	int error;

	if ((error = hbr_param_str(&restore_id, call->params, "RestoreId", true,
	                           1, 64)) < 0 ||
	    (error = hbr_param_str(&vault_id, call->params, "VaultId", false, 1,
	                           64)) < 0)
		return error;
	if ((error = hbr_store_begin(call->store)) < 0 ||
	    (error = hbr_store_get(&job, call->store, HBR_ENT_RESTORE,
	                           call->who.account_id, restore_id)) < 0)
		goto out;
	if (vault_id && strcmp(vault_id, str(job, "VaultId"))) {
		error = hbr_error_set(HBR_ENORESTORE,
		                      "The specified restore job does not exist"
		                      " in vault %s: %s",
		                      vault_id, restore_id);
		goto out;
	}
	if ((error = hbr_store_cancel(call->store, HBR_ENT_RESTORE,
	                              call->who.account_id, restore_id)) < 0 ||
	    (error = hbr_store_commit(call->store)) < 0)
		goto out;
out:
	json_decref(job);
	return error;
}
