/*
 * InstallBackupClients and DescribeBackupClients. On our own hardware
 * nothing can be installed remotely: installing pre-registers one client
 * per instance, INSTALLING until the agent on that machine activates it.
 */
#include "common.h"
#include "api/api.h"
#include "api/api_params.h"
#include "core/model.h"
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
	struct hbr_cond *conds = NULL;
	struct hbr_list_req req = { 0 };
	const char *type;
	int64_t page, size, total = 0;
	json_t *rows = NULL;
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
	conds = hbr_calloc(filters.n + 3, sizeof(*conds));
	for (size_t i = 0; i < filters.n; i++)
		conds[n++] = filters.conds[i];
	conds[n++] = (struct hbr_cond){ "ClientType", HBR_OP_EQ, &type, 1 };
	if (cids.present)
		conds[n++] = (struct hbr_cond){ "ClientId", HBR_OP_IN,
			                        (const char *const *)cids.items,
			                        cids.n };
	if (iids.present)
		conds[n++] = (struct hbr_cond){ "InstanceId", HBR_OP_IN,
			                        (const char *const *)iids.items,
			                        iids.n };
	req.entity = HBR_ENT_CLIENT;
	req.account_id = call->who.account_id;
	req.conds = conds;
	req.nconds = n;
	req.descending = true;
	req.offset = (page - 1) * size;
	req.limit = size;
	/* An empty ClientIds/InstanceIds list matches nothing. */
	if ((cids.present && cids.n == 0) || (iids.present && iids.n == 0)) {
		rows = json_array();
		json_object_set(call->out, "Clients", rows);
	} else if ((error = hbr_api_list_into(&total, call, "Clients", NULL,
	                                      &req)) < 0) {
		goto out;
	}
	json_object_set_new(call->out, "TotalCount", json_integer(total));
	json_object_set_new(call->out, "PageNumber", json_integer(page));
	json_object_set_new(call->out, "PageSize", json_integer(size));
out:
	json_decref(rows);
	hbr_free(conds);
	hbr_filters_release(&filters);
	hbr_strlist_release(&cids);
	hbr_strlist_release(&iids);
	return error;
}
