/* CreateBackupJob and DescribeBackupJobs2. Jobs wait, QUEUED, for the
 * agent of their instance to take them. */
#include "common.h"
#include "api/api.h"
#include "api/api_params.h"
#include "core/model.h"
#include "core/schedule.h"
#include "store/store_resource.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/timeutil.h"

#define JSON_PARAM_MAX 8192

int hbr_api_create_backup_job(struct hbr_api_call *call)
{
	static const char *const source_types[] = { "ECS_FILE" };
	const char *src, *vault_id, *instance_id, *include, *exclude, *name,
	        *options, *speed;
	char job_id[HBR_ID_MAX];
	json_t *client = NULL, *vault = NULL, *job = NULL;
	int64_t retention, now = hbr_time_now();
	int error;

	if (!hbr_kvlist_get(call->params, "SourceType"))
		return hbr_error_set_param(HBR_EMISSING, "SourceType",
		                           "SourceType is mandatory for this"
		                           " action.");
	if ((error = hbr_param_enum(&src, call->params, "SourceType",
	                            source_types, 1, NULL)) < 0 ||
	    (error = hbr_param_str(&vault_id, call->params, "VaultId", true, 1,
	                           64)) < 0 ||
	    (error = hbr_param_str(&instance_id, call->params, "InstanceId",
	                           true, 1, 128)) < 0 ||
	    (error = hbr_param_json_strings(&include, call->params, "Include",
	                                    JSON_PARAM_MAX)) < 0 ||
	    (error = hbr_param_json_strings(&exclude, call->params, "Exclude",
	                                    JSON_PARAM_MAX)) < 0 ||
	    (error = hbr_param_str(&name, call->params, "JobName", false, 0,
	                           128)) < 0 ||
	    (error = hbr_param_str(&options, call->params, "Options", false, 0,
	                           JSON_PARAM_MAX)) < 0 ||
	    (error = hbr_param_str(&speed, call->params, "SpeedLimit", false, 0,
	                           1024)) < 0 ||
	    (error = hbr_param_int(&retention, call->params, "Retention", false,
	                           1, 365000, 7)) < 0)
		return error;
	if (!include || !include[0])
		return hbr_error_set_param(HBR_EMISSING, "Include",
		                           "an ECS_FILE job needs Include, a"
		                           " JSON array of paths");
	if (speed && speed[0] && hbr_speed_limit_validate(speed) < 0)
		return hbr_error_set_param(HBR_EINVAL, "SpeedLimit", "%s",
		                           hbr_error_msg());

	if ((error = hbr_store_begin(call->store)) < 0 ||
	    (error = hbr_store_get(&vault, call->store, HBR_ENT_VAULT,
	                           call->who.account_id, vault_id)) < 0 ||
	    (error = hbr_api_client_for_instance(&client, call, instance_id)) <
	            0)
		goto out;
	hbr_id_new(job_id, HBR_ID_JOB);
	job = hbr_model_job(
	        job_id, json_string_value(json_object_get(client, "ClientId")),
	        instance_id, vault_id, NULL, now);
	json_object_set_new(job, "Include", json_string(include));
	json_object_set_new(job, "Exclude",
	                    json_string(exclude ? exclude : ""));
	json_object_set_new(job, "JobName", json_string(name ? name : ""));
	json_object_set_new(job, "Options",
	                    json_string(options ? options : ""));
	json_object_set_new(job, "SpeedLimit", json_string(speed ? speed : ""));
	json_object_set_new(job, "Retention", json_integer(retention));
	if ((error = hbr_store_insert(call->store, HBR_ENT_JOB,
	                              call->who.account_id, job)) < 0 ||
	    (error = hbr_store_commit(call->store)) < 0)
		goto out;
	json_object_set_new(call->out, "JobId", json_string(job_id));
out:
	json_decref(client);
	json_decref(vault);
	json_decref(job);
	return error;
}

static const struct hbr_filter_key job_filter_keys[] = {
	{ "JobId", "JobId" },
	{ "PlanId", "PlanId" },
	{ "VaultId", "VaultId" },
	{ "InstanceId", "InstanceId" },
	{ "Status", "Status" },
	{ "CreatedTime", "CreatedTime" },
	{ "CompleteTime", "CompleteTime" },
	{ "ClientId", "ClientId" },
	{ "RegionId", "" },
	{ "instanceName", "" },
};

int hbr_api_describe_backup_jobs2(struct hbr_api_call *call)
{
	static const char *const dirs[] = { "DESCEND", "ASCEND" };
	struct hbr_filters filters = { 0 };
	struct hbr_cond extra[1];
	const char *src, *dir;
	int64_t page, size;
	size_t n = 0;
	int error;

	if ((error = hbr_param_paging(&page, &size, call->params)) < 0 ||
	    (error = hbr_param_str(&src, call->params, "SourceType", false, 1,
	                           32)) < 0 ||
	    (error = hbr_param_enum(&dir, call->params, "SortDirection", dirs,
	                            2, "DESCEND")) < 0 ||
	    (error = hbr_param_filters(&filters, call->params, job_filter_keys,
	                               HBR_ARRAY_SIZE(job_filter_keys))) < 0 ||
	    (error = hbr_filters_forbid_in(&filters, "CompleteTime")) < 0)
		goto out;
	if (src)
		extra[n++] =
		        (struct hbr_cond){ "SourceType", HBR_OP_EQ, &src, 1 };
	error = hbr_api_describe_page(call, HBR_ENT_JOB, "BackupJobs",
	                              "BackupJob", &filters, extra, n,
	                              !strcmp(dir, "DESCEND"), page, size);
out:
	hbr_filters_release(&filters);
	return error;
}

/* CancelBackupJob: QUEUED and RUNNING jobs go straight to CANCELED
 * (store_lifecycle.c); a running agent learns it from the 409 its next
 * call gets. */
int hbr_api_cancel_backup_job(struct hbr_api_call *call)
{
	const char *job_id, *vault_id;
	json_t *job = NULL;
	int error;

	if ((error = hbr_param_str(&job_id, call->params, "JobId", true, 1,
	                           64)) < 0 ||
	    (error = hbr_param_str(&vault_id, call->params, "VaultId", false, 1,
	                           64)) < 0)
		return error;
	if ((error = hbr_store_begin(call->store)) < 0 ||
	    (error = hbr_store_get(&job, call->store, HBR_ENT_JOB,
	                           call->who.account_id, job_id)) < 0)
		goto out;
	if (vault_id && strcmp(vault_id, json_string_value(json_object_get(
	                                         job, "VaultId")))) {
		error = hbr_error_set(HBR_ENOJOB,
		                      "The specified backup job does not exist"
		                      " in vault %s: %s",
		                      vault_id, job_id);
		goto out;
	}
	if ((error = hbr_store_cancel(call->store, HBR_ENT_JOB,
	                              call->who.account_id, job_id)) < 0 ||
	    (error = hbr_store_commit(call->store)) < 0)
		goto out;
out:
	json_decref(job);
	return error;
}
