/*
 * DescribeTask. An install task's result is computed when asked: it
 * reports each client's current status, so it completes when every
 * agent has activated (hbr-api.md §4.5; Terraform polls clientStatus).
 */
#include "common.h"
#include "api/api.h"
#include "api/api_params.h"
#include "store/store_resource.h"
#include "util/error.h"
#include "util/timeutil.h"

static int install_result(json_t *task, struct hbr_api_call *call)
{
	json_t *pairs = json_object_get(task, "Clients"), *pair;
	json_t *result = json_array();
	/* Install tasks wait for INSTALLING to end, uninstall tasks for
	 * UNINSTALLING (the agent reports NOT_INSTALLED when it is gone). */
	const char *pending =
	        json_string_value(json_object_get(task, "Pending"));
	size_t i, done = 0, n = json_array_size(pairs);
	char *text;
	int error = 0;

	json_array_foreach(pairs, i, pair)
	{
		const char *iid = json_string_value(json_array_get(pair, 0));
		const char *cid = json_string_value(json_array_get(pair, 1));
		json_t *client = NULL;
		const char *status = "NOT_INSTALLED";
		error = hbr_store_get(&client, call->store, HBR_ENT_CLIENT,
		                      call->who.account_id, cid);
		if (error == HBR_ENOCLIENT)
			error = 0; /* deleted since: report it as gone */
		else if (error < 0)
			break;
		else
			status = json_string_value(
			        json_object_get(client, "Status"));
		if (strcmp(status, pending ? pending : "INSTALLING"))
			done++;
		json_array_append_new(
		        result, json_pack("{s:s, s:s, s:s, s:s}", "instanceId",
		                          iid, "clientId", cid, "clientStatus",
		                          status, "errorCode", ""));
		json_decref(client);
	}
	if (error == 0) {
		text = json_dumps(result, JSON_COMPACT);
		json_object_set_new(task, "Result", json_string(text));
		free(text); /* jansson's allocation */
		json_object_set_new(
		        task, "Progress",
		        json_integer(n ? (json_int_t)(done * 100 / n) : 100));
		json_object_set_new(
		        task, "Description",
		        json_string(done == n ? "completed" : "created"));
	}
	json_decref(result);
	return error;
}

int hbr_api_describe_task(struct hbr_api_call *call)
{
	static const char *const fields[] = { "Name",         "Description",
		                              "Progress",     "Result",
		                              "CreatedTime",  "UpdatedTime",
		                              "CompletedTime" };
	const char *task_id;
	json_t *task = NULL;
	int error;

	if ((error = hbr_param_str(&task_id, call->params, "TaskId", true, 1,
	                           64)) < 0)
		return error;
	if ((error = hbr_store_get(&task, call->store, HBR_ENT_TASK,
	                           call->who.account_id, task_id)) < 0)
		return error;
	if (json_object_get(task, "Clients") &&
	    (error = install_result(task, call)) < 0)
		goto out;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(fields); i++) {
		json_t *v = json_object_get(task, fields[i]);
		if (v)
			json_object_set(call->out, fields[i], v);
	}
out:
	json_decref(task);
	return error;
}
