/*
 * The agent's side of a job's life (docs/AGENT-PROTOCOL.md):
 * PollAgentJobs, StartAgentJob, ReportAgentJobProgress and
 * FinishAgentJob. Every action here is called with an agent key
 * (hbr_api_authorize), so call->who.client_id is the caller's client;
 * the store checks the job is that client's.
 */
#include "common.h"
#include <errno.h>
#include "api/api_agent.h"
#include "api/api_params.h"
#include "store/store_data.h"
#include "store/store_resource.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/timeutil.h"

#define JOB_ID_MAX        64
#define POLL_MAX          100 /* jobs of each kind per poll */
#define ERROR_MESSAGE_MAX 4096

int hbr_api_job_ref(struct hbr_job_ref *out, struct hbr_api_call *call,
                    bool typed)
{
	static const char *const types[] = { "BACKUP", "RESTORE" };
	const char *id = NULL, *type = "BACKUP";
	int error;

	HBR_ASSERT(call->who.client_id[0]); /* hbr_api_authorize */
	if ((error = hbr_param_str(&id, call->params, "JobId", true, 1,
	                           JOB_ID_MAX)) < 0 ||
	    (typed && (error = hbr_param_enum(&type, call->params, "JobType",
	                                      types, 2, "BACKUP")) < 0))
		return error;
	out->account_id = call->who.account_id;
	out->client_id = call->who.client_id;
	out->type = strcmp(type, "RESTORE") ? HBR_JOB_BACKUP : HBR_JOB_RESTORE;
	out->job_id = id;
	return 0;
}

int hbr_api_job_counters(json_t **fields_out, struct hbr_api_call *call)
{
	static const struct {
		const char *name;
		int64_t max;
	} counters[] = {
		{ "Progress", 100 },        { "BytesTotal", INT64_MAX },
		{ "BytesDone", INT64_MAX }, { "ItemsTotal", INT64_MAX },
		{ "ItemsDone", INT64_MAX }, { "ActualBytes", INT64_MAX },
		{ "Speed", INT64_MAX },
	};
	json_t *fields = json_object();
	int error;

	for (size_t i = 0; i < HBR_ARRAY_SIZE(counters); i++) {
		int64_t v;
		if (!hbr_kvlist_get(call->params, counters[i].name))
			continue;
		if ((error = hbr_param_int(&v, call->params, counters[i].name,
		                           false, 0, counters[i].max, 0)) < 0) {
			json_decref(fields);
			return error;
		}
		json_object_set_new(fields, counters[i].name, json_integer(v));
	}
	*fields_out = fields;
	return 0;
}

/* The client's Settings hold integers as strings (HBR's shape); the
 * agent gets numbers. */
static json_t *setting_int(json_t *settings, const char *name)
{
	json_t *v = json_object_get(settings, name);
	const char *s = json_string_value(v);
	long long n = 0;
	char *end;

	if (json_is_integer(v))
		n = json_integer_value(v);
	else if (s) {
		errno = 0;
		n = strtoll(s, &end, 10);
		if (errno || end == s || *end || n < 0)
			n = 0;
	}
	return json_integer(n < 0 ? 0 : n);
}

int hbr_api_poll_agent_jobs(struct hbr_api_call *call)
{
	json_t *client = NULL, *backups = NULL, *restores = NULL, *settings;
	int error;

	HBR_ASSERT(call->who.client_id[0]);
	if ((error = hbr_store_get(&client, call->store, HBR_ENT_CLIENT,
	                           call->who.account_id, call->who.client_id)) <
	            0 ||
	    (error = hbr_store_agent_poll(&backups, &restores, call->store,
	                                  call->who.account_id,
	                                  call->who.client_id, POLL_MAX)) < 0)
		goto out;
	settings = json_object_get(client, "Settings");
	json_object_set_new(call->out, "BackupJobs", backups);
	json_object_set_new(call->out, "RestoreJobs", restores);
	backups = restores = NULL;
	json_object_set_new(call->out, "Settings",
	                    json_pack("{s:o, s:o}", "MaxWorker",
	                              setting_int(settings, "MaxWorker"),
	                              "MaxCpuCore",
	                              setting_int(settings, "MaxCpuCore")));
out:
	json_decref(client);
	json_decref(backups);
	json_decref(restores);
	return error;
}

/* A JSON array text of ids, as an array (the store wrote it). */
static json_t *tree_array(const char *text)
{
	json_t *a = json_loads(text, 0, NULL);

	if (!json_is_array(a)) {
		json_decref(a);
		a = json_array();
	}
	return a;
}

static void copy_field(json_t *out, json_t *job, const char *name)
{
	json_t *v = json_object_get(job, name);

	json_object_set_new(out, name, v ? json_incref(v) : json_string(""));
}

int hbr_api_start_agent_job(struct hbr_api_call *call)
{
	struct hbr_job_ref j;
	json_t *job = NULL;
	char *tree = NULL;
	bool resumed = false;
	int error;

	if ((error = hbr_api_job_ref(&j, call, true)) < 0 ||
	    (error = hbr_store_agent_start(&job, &tree, &resumed, call->store,
	                                   &j, hbr_time_now())) < 0)
		goto out;
	json_object_set_new(call->out, "JobId", json_string(j.job_id));
	json_object_set(call->out, "Status", json_object_get(job, "Status"));
	json_object_set_new(call->out, "Resumed", json_boolean(resumed));
	if (j.type == HBR_JOB_BACKUP) {
		copy_field(call->out, job, "ParentSnapshotId");
		json_object_set_new(call->out, "ParentTreeChunks",
		                    tree_array(tree));
	} else {
		copy_field(call->out, job, "SnapshotId");
		json_object_set_new(call->out, "TreeChunks", tree_array(tree));
		copy_field(call->out, job, "TargetPath");
		copy_field(call->out, job, "Include");
		copy_field(call->out, job, "Exclude");
	}
	/* The whole job too (Paths, Include, SpeedLimit, ...), so an agent
	 * resuming a job needs no second call. */
	json_object_set(call->out, "Job", job);
out:
	hbr_free(tree);
	json_decref(job);
	return error;
}

int hbr_api_report_agent_job_progress(struct hbr_api_call *call)
{
	struct hbr_job_ref j;
	json_t *fields = NULL;
	int error;

	if ((error = hbr_api_job_ref(&j, call, true)) < 0 ||
	    (error = hbr_api_job_counters(&fields, call)) < 0 ||
	    (error = hbr_store_agent_progress(call->store, &j, fields)) < 0)
		goto out;
	json_object_set_new(call->out, "Status", json_string("RUNNING"));
out:
	json_decref(fields);
	return error;
}

int hbr_api_finish_agent_job(struct hbr_api_call *call)
{
	static const char *const backup_ends[] = { "FAILED" };
	static const char *const restore_ends[] = { "COMPLETE",
		                                    "PARTIAL_COMPLETE",
		                                    "FAILED" };
	struct hbr_job_ref j;
	const char *status = NULL, *message = NULL;
	json_t *fields = NULL;
	int error;

	if ((error = hbr_api_job_ref(&j, call, true)) < 0)
		return error;
	if (j.type == HBR_JOB_BACKUP)
		error = hbr_param_enum(&status, call->params, "Status",
		                       backup_ends, 1, NULL);
	else
		error = hbr_param_enum(&status, call->params, "Status",
		                       restore_ends, 3, NULL);
	if (error < 0)
		return error;
	if (!status)
		return hbr_error_set_param(HBR_EMISSING, "Status",
		                           "Status is mandatory for this"
		                           " action.");
	if ((error = hbr_param_str(&message, call->params, "ErrorMessage",
	                           false, 0, ERROR_MESSAGE_MAX)) < 0 ||
	    (error = hbr_api_job_counters(&fields, call)) < 0)
		return error;
	if ((error = hbr_store_agent_finish(call->store, &j, status, message,
	                                    fields, hbr_time_now())) == 0)
		json_object_set_new(call->out, "Status", json_string(status));
	json_decref(fields);
	return error;
}
