/*
 * CreateBackupPlan, DescribeBackupPlans, ExecuteBackupPlan. A plan names
 * the protected machine by InstanceId; the client that has that instance
 * does the work. Only ECS_FILE exists on our own hardware.
 */
#include "common.h"
#include "api/api.h"
#include "api/api_params.h"
#include "core/model.h"
#include "core/schedule.h"
#include "store/store_resource.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/timeutil.h"

#define PATH_MAX_LEN   4096
#define JSON_PARAM_MAX 8192

static const char *const source_types[] = { "ECS_FILE" };

/* The vault must exist in the account and be ready for data. */
static int usable_vault(struct hbr_api_call *call, const char *vault_id)
{
	json_t *vault = NULL;
	int error = hbr_store_get(&vault, call->store, HBR_ENT_VAULT,
	                          call->who.account_id, vault_id);

	if (error == 0 &&
	    strcmp(json_string_value(json_object_get(vault, "Status")),
	           "CREATED"))
		error = hbr_error_set(
		        HBR_ECONFLICT, "vault %s is not ready (status %s)",
		        vault_id,
		        json_string_value(json_object_get(vault, "Status")));
	json_decref(vault);
	return error;
}

static bool has(struct hbr_api_call *call, const char *name)
{
	return hbr_kvlist_get(call->params, name) != NULL;
}

static void set_str(json_t *obj, const char *field, const char *v)
{
	if (v)
		json_object_set_new(obj, field, json_string(v));
}

/*
 * The settings CreateBackupPlan and UpdateBackupPlan share, validated the
 * same way. On create the required ones must be present and absent ones
 * take their defaults; on update only what the request carries changes.
 * VaultId and InstanceId are the callers' (they need the store).
 */
static int apply_plan_params(json_t *plan, struct hbr_api_call *call,
                             bool create)
{
	static const char *const backup_types[] = { "COMPLETE" };
	const char *src, *name, *schedule, *include, *exclude, *options, *speed,
	        *backup_type;
	struct hbr_strlist paths = HBR_STRLIST_INIT;
	struct hbr_schedule sch;
	int64_t retention, keep;
	bool disabled;
	json_t *parr;
	int error;

	if (create && !has(call, "SourceType"))
		return hbr_error_set_param(HBR_EMISSING, "SourceType",
		                           "SourceType is mandatory for this"
		                           " action.");
	if ((error = hbr_param_enum(&src, call->params, "SourceType",
	                            source_types, 1, NULL)) < 0 ||
	    (error = hbr_param_str(&name, call->params, "PlanName", create, 1,
	                           64)) < 0 ||
	    (error = hbr_param_str(&schedule, call->params, "Schedule", create,
	                           1, 256)) < 0 ||
	    (error = hbr_param_int(&retention, call->params, "Retention", false,
	                           1, 365000, 7)) < 0 ||
	    (error = hbr_param_int(&keep, call->params, "KeepLatestSnapshots",
	                           false, 0, 1, 1)) < 0 ||
	    (error = hbr_param_bool(&disabled, call->params, "Disabled",
	                            false)) < 0 ||
	    (error = hbr_param_enum(&backup_type, call->params, "BackupType",
	                            backup_types, 1, "COMPLETE")) < 0 ||
	    (error = hbr_param_json_strings(&include, call->params, "Include",
	                                    JSON_PARAM_MAX)) < 0 ||
	    (error = hbr_param_json_strings(&exclude, call->params, "Exclude",
	                                    JSON_PARAM_MAX)) < 0 ||
	    (error = hbr_param_str(&options, call->params, "Options", false, 0,
	                           JSON_PARAM_MAX)) < 0 ||
	    (error = hbr_param_str(&speed, call->params, "SpeedLimit", false, 0,
	                           1024)) < 0 ||
	    (error = hbr_param_list(&paths, call->params, "Path", 100,
	                            PATH_MAX_LEN)) < 0)
		goto out;
	if (schedule && hbr_schedule_parse(&sch, schedule) < 0) {
		error = hbr_error_set_param(HBR_EINVAL, "Schedule", "%s",
		                            hbr_error_msg());
		goto out;
	}
	if (speed && speed[0] && hbr_speed_limit_validate(speed) < 0) {
		error = hbr_error_set_param(HBR_EINVAL, "SpeedLimit", "%s",
		                            hbr_error_msg());
		goto out;
	}
	if ((create || paths.present) && paths.n == 0) {
		error = hbr_error_set_param(HBR_EMISSING, "Path",
		                            "an ECS_FILE plan needs at least"
		                            " one Path.N");
		goto out;
	}
	for (size_t i = 0; i < paths.n; i++)
		if (paths.items[i][0] != '/') {
			error = hbr_error_set_param(
			        HBR_EINVAL, "Path",
			        "Path.%zu '%.128s' is not an absolute path",
			        i + 1, paths.items[i]);
			goto out;
		}

	set_str(plan, "PlanName", name);
	set_str(plan, "SourceType", src);
	set_str(plan, "Schedule", schedule);
	if (create || has(call, "Retention"))
		json_object_set_new(plan, "Retention", json_integer(retention));
	if (create || has(call, "KeepLatestSnapshots"))
		json_object_set_new(plan, "KeepLatestSnapshots",
		                    json_integer(keep));
	if (create || has(call, "Disabled"))
		json_object_set_new(plan, "Disabled", json_boolean(disabled));
	if (create || has(call, "BackupType"))
		json_object_set_new(plan, "BackupType",
		                    json_string(backup_type));
	set_str(plan, "Include", include);
	set_str(plan, "Exclude", exclude);
	set_str(plan, "Options", options);
	set_str(plan, "SpeedLimit", speed);
	if (paths.present) {
		parr = json_array();
		for (size_t i = 0; i < paths.n; i++)
			json_array_append_new(parr,
			                      json_string(paths.items[i]));
		json_object_set_new(plan, "Paths",
		                    json_pack("{s:o}", "Path", parr));
	}
out:
	hbr_strlist_release(&paths);
	return error;
}

int hbr_api_create_backup_plan(struct hbr_api_call *call)
{
	const char *src, *vault_id, *instance_id;
	char plan_id[HBR_ID_MAX];
	int64_t now = hbr_time_now();
	json_t *client = NULL, *plan = NULL;
	int error;

	if (!has(call, "SourceType"))
		return hbr_error_set_param(HBR_EMISSING, "SourceType",
		                           "SourceType is mandatory for this"
		                           " action.");
	if ((error = hbr_param_enum(&src, call->params, "SourceType",
	                            source_types, 1, NULL)) < 0 ||
	    (error = hbr_param_str(&vault_id, call->params, "VaultId", true, 1,
	                           64)) < 0 ||
	    (error = hbr_param_str(&instance_id, call->params, "InstanceId",
	                           true, 1, 128)) < 0)
		return error;
	hbr_id_new(plan_id, HBR_ID_PLAN);
	/* The client id is filled in once the instance is looked up. */
	plan = hbr_model_plan(plan_id, "", instance_id, vault_id, now);
	if ((error = apply_plan_params(plan, call, true)) < 0)
		goto out;

	if ((error = hbr_store_begin(call->store)) < 0 ||
	    (error = usable_vault(call, vault_id)) < 0 ||
	    (error = hbr_api_client_for_instance(&client, call, instance_id)) <
	            0)
		goto out;
	json_object_set(plan, "ClientId", json_object_get(client, "ClientId"));
	if ((error = hbr_store_insert(call->store, HBR_ENT_PLAN,
	                              call->who.account_id, plan)) < 0 ||
	    (error = hbr_store_set(
	             call->store, HBR_ENT_CLIENT, call->who.account_id,
	             json_string_value(json_object_get(client, "ClientId")),
	             "BackupStatus", "PROTECTED")) < 0 ||
	    (error = hbr_store_commit(call->store)) < 0)
		goto out;
	json_object_set_new(call->out, "PlanId", json_string(plan_id));
out:
	json_decref(client);
	json_decref(plan);
	return error;
}

/* The plan named by PlanId; a VaultId sent along must be the plan's
 * (HBR's calls carry it), otherwise the plan does not exist there. */
static int get_plan(json_t **out, struct hbr_api_call *call)
{
	const char *plan_id, *vault_id;
	json_t *plan = NULL;
	int error;

	if ((error = hbr_param_str(&plan_id, call->params, "PlanId", true, 1,
	                           64)) < 0 ||
	    (error = hbr_param_str(&vault_id, call->params, "VaultId", false, 1,
	                           64)) < 0 ||
	    (error = hbr_store_get(&plan, call->store, HBR_ENT_PLAN,
	                           call->who.account_id, plan_id)) < 0)
		return error;
	if (vault_id && strcmp(vault_id, json_string_value(json_object_get(
	                                         plan, "VaultId")))) {
		json_decref(plan);
		return hbr_error_set(HBR_ENOPLAN,
		                     "The specified backup plan does not exist"
		                     " in vault %s: %s",
		                     vault_id, plan_id);
	}
	*out = plan;
	return 0;
}

/* HBR's UpdateBackupPlan cannot move a plan to another vault: VaultId
 * only names where the plan is (get_plan checks it). */
int hbr_api_update_backup_plan(struct hbr_api_call *call)
{
	json_t *plan = NULL;
	int error;

	if ((error = hbr_store_begin(call->store)) < 0 ||
	    (error = get_plan(&plan, call)) < 0 ||
	    (error = apply_plan_params(plan, call, false)) < 0 ||
	    (error = hbr_store_replace(call->store, HBR_ENT_PLAN,
	                               call->who.account_id, plan)) < 0 ||
	    (error = hbr_store_commit(call->store)) < 0)
		goto out;
out:
	json_decref(plan);
	return error;
}

int hbr_api_delete_backup_plan(struct hbr_api_call *call)
{
	struct hbr_delete_counts c = { 0 };
	json_t *plan = NULL;
	bool require;
	int error;

	if ((error = hbr_param_bool(&require, call->params,
	                            "RequireNoRunningJobs", false)) < 0)
		return error;
	if ((error = hbr_store_begin(call->store)) < 0 ||
	    (error = get_plan(&plan, call)) < 0 ||
	    (error = hbr_store_delete_plan(
	             &c, call->store, call->who.account_id,
	             json_string_value(json_object_get(plan, "PlanId")),
	             require)) < 0 ||
	    (error = hbr_store_commit(call->store)) < 0)
		goto out;
	call->plans_deleted = c.plans;
	call->jobs_deleted = c.jobs;
out:
	json_decref(plan);
	return error;
}

static int set_disabled(struct hbr_api_call *call, const char *value)
{
	json_t *plan = NULL;
	int error;

	if ((error = hbr_store_begin(call->store)) < 0 ||
	    (error = get_plan(&plan, call)) < 0 ||
	    (error = hbr_store_set(
	             call->store, HBR_ENT_PLAN, call->who.account_id,
	             json_string_value(json_object_get(plan, "PlanId")),
	             "Disabled", value)) < 0 ||
	    (error = hbr_store_commit(call->store)) < 0)
		goto out;
out:
	json_decref(plan);
	return error;
}

int hbr_api_enable_backup_plan(struct hbr_api_call *call)
{
	return set_disabled(call, "false");
}

int hbr_api_disable_backup_plan(struct hbr_api_call *call)
{
	return set_disabled(call, "true");
}

/* Lower camel case, as Terraform sends them (hbr-api.md §4.2). */
static const struct hbr_filter_key plan_filter_keys[] = {
	{ "planId", "PlanId" },
	{ "vaultId", "VaultId" },
	{ "instanceId", "InstanceId" },
	{ "planName", "PlanName" },
	{ "sourceType", "SourceType" },
	{ "clientId", "ClientId" },
	{ "regionId", "" },
	{ "instanceName", "" },
};

int hbr_api_describe_backup_plans(struct hbr_api_call *call)
{
	struct hbr_filters filters = { 0 };
	struct hbr_cond extra[1];
	const char *src;
	int64_t page, size;
	size_t n = 0;
	int error;

	if ((error = hbr_param_paging(&page, &size, call->params)) < 0 ||
	    (error = hbr_param_str(&src, call->params, "SourceType", false, 1,
	                           32)) < 0 ||
	    (error = hbr_param_filters(&filters, call->params, plan_filter_keys,
	                               HBR_ARRAY_SIZE(plan_filter_keys))) < 0)
		goto out;
	if (src)
		extra[n++] =
		        (struct hbr_cond){ "SourceType", HBR_OP_EQ, &src, 1 };
	error = hbr_api_describe_page(call, HBR_ENT_PLAN, "BackupPlans",
	                              "BackupPlan", &filters, extra, n, true,
	                              page, size);
out:
	hbr_filters_release(&filters);
	return error;
}

int hbr_api_execute_backup_plan(struct hbr_api_call *call)
{
	const char *plan_id;
	char job_id[HBR_ID_MAX];
	json_t *plan = NULL, *job = NULL;
	int64_t now = hbr_time_now();
	int error;

	if ((error = hbr_param_str(&plan_id, call->params, "PlanId", true, 1,
	                           64)) < 0)
		return error;
	if ((error = hbr_store_begin(call->store)) < 0 ||
	    (error = hbr_store_get(&plan, call->store, HBR_ENT_PLAN,
	                           call->who.account_id, plan_id)) < 0)
		goto out;
	hbr_id_new(job_id, HBR_ID_JOB);
	job = hbr_model_job_for_plan(job_id, plan, "MANUAL", now);
	if ((error = hbr_store_insert(call->store, HBR_ENT_JOB,
	                              call->who.account_id, job)) < 0 ||
	    (error = hbr_store_commit(call->store)) < 0)
		goto out;
	json_object_set_new(call->out, "JobId", json_string(job_id));
out:
	json_decref(plan);
	json_decref(job);
	return error;
}
