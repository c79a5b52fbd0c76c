/*
 * InstallBackupClients and DescribeBackupClients. On our own hardware
 * nothing can be installed remotely: installing pre-registers one client
 * per instance, INSTALLING until the agent on that machine activates it.
 */
#include "common.h"
#include "api/api.h"
#include "api/api_params.h"
#include "core/model.h"
#include "store/store_account.h"
#include "store/store_resource.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/timeutil.h"

#define MAX_INSTALL     20
#define INSTANCE_ID_MAX 128

int hbr_api_client_for_instance(json_t **out, struct hbr_api_call *call,
                                const char *instance_id)
{
	const char *vals[1] = { instance_id };
	struct hbr_cond c = { "InstanceId", HBR_OP_EQ, vals, 1 };
	struct hbr_list_req req = {
		HBR_ENT_CLIENT, call->who.account_id, &c, 1, NULL, false, 0, 1
	};
	json_t *rows = NULL;
	int64_t total;
	int error;

	if ((error = hbr_store_list(&rows, &total, call->store, &req)) < 0)
		return error;
	if (json_array_size(rows) == 0) {
		json_decref(rows);
		return hbr_error_set(HBR_ENOCLIENT,
		                     "No backup client is installed for"
		                     " instance %s; call InstallBackupClients"
		                     " first.",
		                     instance_id);
	}
	*out = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	return 0;
}

/* A client that was uninstalled (or whose install or uninstall failed)
 * waits for its agent again when it is installed again. */
static bool needs_install(json_t *client)
{
	static const char *const gone[] = { "NOT_INSTALLED", "UNINSTALLING",
		                            "UNINSTALL_FAILED",
		                            "INSTALL_FAILED" };
	const char *status =
	        json_string_value(json_object_get(client, "Status"));

	for (size_t i = 0; i < HBR_ARRAY_SIZE(gone); i++)
		if (status && !strcmp(status, gone[i]))
			return true;
	return false;
}

int hbr_api_install_backup_clients(struct hbr_api_call *call)
{
	struct hbr_strlist ids = HBR_STRLIST_INIT;
	char task_id[HBR_ID_MAX];
	json_t *statuses = json_array(), *pairs = json_array(), *task = NULL;
	int64_t now = hbr_time_now();
	int error;

	if ((error = hbr_param_list(&ids, call->params, "InstanceIds",
	                            MAX_INSTALL, INSTANCE_ID_MAX)) < 0)
		goto out;
	if (!ids.present) {
		error = hbr_error_set_param(HBR_EMISSING, "InstanceIds",
		                            "InstanceIds is mandatory for this"
		                            " action.");
		goto out;
	}
	if (ids.n == 0) {
		error = hbr_error_set_param(HBR_EINVAL, "InstanceIds",
		                            "InstanceIds must name 1 to %d"
		                            " instances",
		                            MAX_INSTALL);
		goto out;
	}
	if ((error = hbr_store_begin(call->store)) < 0)
		goto out;
	for (size_t i = 0; i < ids.n; i++) {
		json_t *client = NULL;
		bool dup = false;
		for (size_t k = 0; k < i; k++)
			dup |= !strcmp(ids.items[k], ids.items[i]);
		if (dup)
			continue;
		error = hbr_api_client_for_instance(&client, call,
		                                    ids.items[i]);
		if (error == HBR_ENOCLIENT) {
			char cid[HBR_ID_MAX];
			hbr_id_new(cid, HBR_ID_CLIENT);
			client = hbr_model_client(cid, ids.items[i],
			                          "INSTALLING", now);
			error = hbr_store_insert(call->store, HBR_ENT_CLIENT,
			                         call->who.account_id, client);
		} else if (error == 0 && needs_install(client)) {
			error = hbr_store_set(call->store, HBR_ENT_CLIENT,
			                      call->who.account_id,
			                      json_string_value(json_object_get(
			                              client, "ClientId")),
			                      "Status", "INSTALLING");
		}
		if (error < 0) {
			json_decref(client);
			goto out;
		}
		json_array_append_new(
		        pairs, json_pack("[s, O]", ids.items[i],
		                         json_object_get(client, "ClientId")));
		json_array_append_new(statuses,
		                      json_pack("{s:s, s:b, s:s}", "InstanceId",
		                                ids.items[i], "ValidInstance",
		                                1, "ErrorCode", ""));
		json_decref(client);
	}
	hbr_id_new(task_id, HBR_ID_TASK);
	task = json_pack("{s:s, s:s, s:s, s:i, s:s, s:I, s:I, s:O}", "TaskId",
	                 task_id, "Name", "InstallBackupClientsTask",
	                 "Description", "created", "Progress", 0, "Result", "",
	                 "CreatedTime", (json_int_t)now, "UpdatedTime",
	                 (json_int_t)now, "Clients", pairs);
	if ((error = hbr_store_insert(call->store, HBR_ENT_TASK,
	                              call->who.account_id, task)) < 0 ||
	    (error = hbr_store_commit(call->store)) < 0)
		goto out;
	json_object_set_new(call->out, "TaskId", json_string(task_id));
	json_object_set(call->out, "InstanceStatuses", statuses);
out:
	hbr_strlist_release(&ids);
	json_decref(statuses);
	json_decref(pairs);
	json_decref(task);
	return error;
}

static const struct hbr_filter_key client_filter_keys[] = {
	{ "ClientId", "ClientId" },     { "InstanceId", "InstanceId" },
	{ "Status", "Status" },         { "BackupStatus", "BackupStatus" },
	{ "ClientType", "ClientType" },
};

int hbr_api_describe_backup_clients(struct hbr_api_call *call)
{
	static const char *const types[] = { "ECS_CLIENT", "CONTAINER_CLIENT",
		                             "LOCAL_CLIENT" };
	struct hbr_strlist cids = HBR_STRLIST_INIT, iids = HBR_STRLIST_INIT;
	struct hbr_filters filters = { 0 };
	struct hbr_cond extra[3];
	const char *type;
	int64_t page, size;
	size_t n = 0;
	int error;

	if (!hbr_kvlist_get(call->params, "ClientType"))
		return hbr_error_set_param(HBR_EMISSING, "ClientType",
		                           "ClientType is mandatory for this"
		                           " action.");
	if ((error = hbr_param_enum(&type, call->params, "ClientType", types,
	                            HBR_ARRAY_SIZE(types), NULL)) < 0 ||
	    (error = hbr_param_paging(&page, &size, call->params)) < 0 ||
	    (error = hbr_param_list(&cids, call->params, "ClientIds", 100,
	                            64)) < 0 ||
	    (error = hbr_param_list(&iids, call->params, "InstanceIds", 100,
	                            INSTANCE_ID_MAX)) < 0 ||
	    (error = hbr_param_filters(&filters, call->params,
	                               client_filter_keys,
	                               HBR_ARRAY_SIZE(client_filter_keys))) < 0)
		goto out;
	extra[n++] = (struct hbr_cond){ "ClientType", HBR_OP_EQ, &type, 1 };
	if (cids.present)
		extra[n++] = (struct hbr_cond){ "ClientId", HBR_OP_IN,
			                        (const char *const *)cids.items,
			                        cids.n };
	if (iids.present)
		extra[n++] = (struct hbr_cond){ "InstanceId", HBR_OP_IN,
			                        (const char *const *)iids.items,
			                        iids.n };
	/* An empty ClientIds/InstanceIds list matches nothing. */
	if ((cids.present && cids.n == 0) || (iids.present && iids.n == 0)) {
		json_object_set_new(call->out, "Clients", json_array());
		hbr_api_answer_page(call, 0, page, size);
	} else {
		error = hbr_api_describe_page(call, HBR_ENT_CLIENT, "Clients",
		                              NULL, &filters, extra, n, true,
		                              page, size);
	}
out:
	hbr_filters_release(&filters);
	hbr_strlist_release(&cids);
	hbr_strlist_release(&iids);
	return error;
}

int hbr_api_delete_backup_client(struct hbr_api_call *call)
{
	struct hbr_delete_counts c = { 0 };
	const char *client_id;
	int error;

	json_t *ids;

	if ((error = hbr_param_str(&client_id, call->params, "ClientId", true,
	                           1, 64)) < 0)
		return error;
	/* The audit record names the client, allowed or refused. */
	ids = json_pack("[s]", client_id);
	call->audit_client_ids = json_dumps(ids, JSON_COMPACT);
	json_decref(ids);
	if ((error = hbr_store_begin(call->store)) < 0 ||
	    (error = hbr_store_delete_client(&c, call->store,
	                                     call->who.account_id, client_id,
	                                     hbr_time_now())) < 0 ||
	    /* A deleted client's agent loses its credential with it. */
	    (error = hbr_store_client_keys_delete(
	             call->store, call->who.account_id, client_id)) < 0 ||
	    (error = hbr_store_commit(call->store)) < 0)
		return error;
	call->plans_deleted = c.plans;
	call->jobs_deleted = c.jobs;
	call->snapshots_deleted = c.snapshots;
	return 0;
}

/* An Integer request parameter that HBR answers as a string (§4.1). */
static int set_int_as_string(json_t *settings, struct hbr_api_call *call,
                             const char *name, int64_t max)
{
	char text[32];
	int64_t v;
	int error;

	if (!hbr_kvlist_get(call->params, name))
		return 0;
	if ((error = hbr_param_int(&v, call->params, name, false, 0, max, 0)) <
	    0)
		return error;
	(void)snprintf(text, sizeof(text), "%lld", (long long)v);
	json_object_set_new(settings, name, json_string(text));
	return 0;
}

static int set_enum(json_t *settings, struct hbr_api_call *call,
                    const char *name, const char *const *allowed, size_t n)
{
	const char *v;
	int error;

	if ((error = hbr_param_enum(&v, call->params, name, allowed, n, NULL)) <
	    0)
		return error;
	if (v)
		json_object_set_new(settings, name, json_string(v));
	return 0;
}

static int set_str(json_t *settings, struct hbr_api_call *call,
                   const char *name)
{
	const char *v;
	int error;

	if ((error = hbr_param_str(&v, call->params, name, false, 0, 255)) < 0)
		return error;
	if (v)
		json_object_set_new(settings, name, json_string(v));
	return 0;
}

int hbr_api_update_client_settings(struct hbr_api_call *call)
{
	static const char *const networks[] = { "PUBLIC", "VPC", "CLASSIC" };
	static const char *const proxies[] = { "DISABLE", "USE_CONTROL_PROXY",
		                               "CUSTOM" };
	const char *client_id, *password;
	json_t *client = NULL, *settings;
	int64_t memory, port;
	bool b;
	int error;

	if ((error = hbr_param_str(&client_id, call->params, "ClientId", true,
	                           1, 64)) < 0 ||
	    (error = hbr_param_str(&password, call->params, "ProxyPassword",
	                           false, 0, 255)) < 0)
		return error;
	if ((error = hbr_store_begin(call->store)) < 0 ||
	    (error = hbr_store_get(&client, call->store, HBR_ENT_CLIENT,
	                           call->who.account_id, client_id)) < 0)
		goto out;
	settings = json_object_get(client, "Settings");
	if (!json_is_object(settings)) {
		settings = json_object();
		json_object_set_new(client, "Settings", settings);
	}
	if ((error = set_int_as_string(settings, call, "MaxCpuCore", 1024)) <
	            0 ||
	    (error = set_int_as_string(settings, call, "MaxWorker", 1024)) <
	            0 ||
	    (error = set_enum(settings, call, "DataNetworkType", networks,
	                      HBR_ARRAY_SIZE(networks))) < 0 ||
	    (error = set_enum(settings, call, "DataProxySetting", proxies,
	                      HBR_ARRAY_SIZE(proxies))) < 0 ||
	    (error = set_str(settings, call, "ProxyHost")) < 0 ||
	    (error = set_str(settings, call, "ProxyUser")) < 0)
		goto out;
	if (hbr_kvlist_get(call->params, "MaxMemory")) {
		if ((error = hbr_param_int(&memory, call->params, "MaxMemory",
		                           false, 0, INT64_MAX, 0)) < 0)
			goto out;
		json_object_set_new(settings, "MaxMemory",
		                    json_integer(memory));
	}
	if (hbr_kvlist_get(call->params, "ProxyPort")) {
		if ((error = hbr_param_int(&port, call->params, "ProxyPort",
		                           false, 0, 65535, 0)) < 0)
			goto out;
		json_object_set_new(settings, "ProxyPort", json_integer(port));
	}
	if (hbr_kvlist_get(call->params, "UseHttps")) {
		if ((error = hbr_param_bool(&b, call->params, "UseHttps",
		                            false)) < 0)
			goto out;
		json_object_set_new(settings, "UseHttps",
		                    json_string(b ? "true" : "false"));
	}
	if (hbr_kvlist_get(call->params, "AlertOnPartialComplete")) {
		if ((error = hbr_param_bool(&b, call->params,
		                            "AlertOnPartialComplete", false)) <
		    0)
			goto out;
		json_object_set_new(settings, "AlertOnPartialComplete",
		                    json_boolean(b));
	}
	/* The password itself is stored outside the document; reads show
	 * only whether one is set. */
	if (password)
		json_object_set_new(settings, "ProxyPassword",
		                    json_string(password[0] ? "******" : ""));
	if ((error = hbr_store_replace(call->store, HBR_ENT_CLIENT,
	                               call->who.account_id, client)) < 0 ||
	    (password && (error = hbr_store_client_set_proxy_password(
	                          call->store, call->who.account_id, client_id,
	                          password)) < 0) ||
	    (error = hbr_store_commit(call->store)) < 0)
		goto out;
out:
	json_decref(client);
	return error;
}

static bool seen_before(json_t *pairs, const char *client_id)
{
	json_t *pair;
	size_t i;

	json_array_foreach(
	        pairs, i,
	        pair) if (!strcmp(json_string_value(json_array_get(pair, 1)),
	                          client_id)) return true;
	return false;
}

/* One client to uninstall: it goes UNINSTALLING unless no agent is
 * installed to act on it. */
static int uninstall_one(json_t *pairs, struct hbr_api_call *call,
                         json_t *client)
{
	const char *cid =
	        json_string_value(json_object_get(client, "ClientId"));
	const char *iid =
	        json_string_value(json_object_get(client, "InstanceId"));
	const char *status =
	        json_string_value(json_object_get(client, "Status"));
	int error = 0;

	if (seen_before(pairs, cid))
		return 0;
	if (strcmp(status, "NOT_INSTALLED") &&
	    (error = hbr_store_set(call->store, HBR_ENT_CLIENT,
	                           call->who.account_id, cid, "Status",
	                           "UNINSTALLING")) < 0)
		return error;
	json_array_append_new(pairs, json_pack("[s, s]", iid, cid));
	return 0;
}

int hbr_api_uninstall_backup_clients(struct hbr_api_call *call)
{
	struct hbr_strlist cids = HBR_STRLIST_INIT, iids = HBR_STRLIST_INIT;
	json_t *statuses = json_array(), *pairs = json_array(), *task = NULL;
	char task_id[HBR_ID_MAX];
	int64_t now = hbr_time_now();
	int error;

	if ((error = hbr_param_list(&cids, call->params, "ClientIds",
	                            MAX_INSTALL, 64)) < 0 ||
	    (error = hbr_param_list(&iids, call->params, "InstanceIds",
	                            MAX_INSTALL, INSTANCE_ID_MAX)) < 0)
		goto out;
	if (cids.n + iids.n == 0) {
		error = hbr_error_set_param(HBR_EMISSING, "ClientIds",
		                            "name the clients to uninstall in"
		                            " ClientIds or InstanceIds");
		goto out;
	}
	if (cids.n + iids.n > MAX_INSTALL) {
		error = hbr_error_set_param(HBR_EINVAL, "ClientIds",
		                            "ClientIds and InstanceIds together"
		                            " may name at most %d clients",
		                            MAX_INSTALL);
		goto out;
	}
	if ((error = hbr_store_begin(call->store)) < 0)
		goto out;
	for (size_t i = 0; i < cids.n; i++) {
		json_t *client = NULL;
		if ((error = hbr_store_get(&client, call->store, HBR_ENT_CLIENT,
		                           call->who.account_id,
		                           cids.items[i])) < 0)
			goto out;
		error = uninstall_one(pairs, call, client);
		json_array_append_new(
		        statuses,
		        json_pack("{s:O, s:b, s:s}", "InstanceId",
		                  json_object_get(client, "InstanceId"),
		                  "ValidInstance", 1, "ErrorCode", ""));
		json_decref(client);
		if (error < 0)
			goto out;
	}
	/* HBR reports an unknown instance per entry rather than failing the
	 * call (§4.5 InstanceNotExists). */
	for (size_t i = 0; i < iids.n; i++) {
		json_t *client = NULL;
		error = hbr_api_client_for_instance(&client, call,
		                                    iids.items[i]);
		if (error == HBR_ENOCLIENT) {
			json_array_append_new(
			        statuses,
			        json_pack("{s:s, s:b, s:s}", "InstanceId",
			                  iids.items[i], "ValidInstance", 0,
			                  "ErrorCode", "InstanceNotExists"));
			error = 0;
			continue;
		}
		if (error < 0)
			goto out;
		error = uninstall_one(pairs, call, client);
		json_decref(client);
		if (error < 0)
			goto out;
		json_array_append_new(statuses,
		                      json_pack("{s:s, s:b, s:s}", "InstanceId",
		                                iids.items[i], "ValidInstance",
		                                1, "ErrorCode", ""));
	}
	hbr_id_new(task_id, HBR_ID_TASK);
	task = json_pack("{s:s, s:s, s:s, s:i, s:s, s:I, s:I, s:O, s:s}",
	                 "TaskId", task_id, "Name",
	                 "UninstallBackupClientsTask", "Description", "created",
	                 "Progress", 0, "Result", "", "CreatedTime",
	                 (json_int_t)now, "UpdatedTime", (json_int_t)now,
	                 "Clients", pairs, "Pending", "UNINSTALLING");
	if ((error = hbr_store_insert(call->store, HBR_ENT_TASK,
	                              call->who.account_id, task)) < 0 ||
	    (error = hbr_store_commit(call->store)) < 0)
		goto out;
	json_object_set_new(call->out, "TaskId", json_string(task_id));
	json_object_set(call->out, "InstanceStatuses", statuses);
out:
	hbr_strlist_release(&cids);
	hbr_strlist_release(&iids);
	json_decref(statuses);
	json_decref(pairs);
	json_decref(task);
	return error;
}
