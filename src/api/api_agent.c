/*
 * The agent's actions (our extensions to HBR): RegisterBackupClient,
 * called with an operator's key, activates the instance's client and
 * issues the agent its own access key; ReportBackupClientHeartbeat is
 * called with that key. hbr_api_authorize keeps agent keys to the agent
 * actions and the agent actions to agent keys.
 */
#include "common.h"
#include "api/api.h"
#include "api/api_params.h"
#include "core/id.h"
#include "core/model.h"
#include "store/store_account.h"
#include "store/store_resource.h"
#include "util/error.h"
#include "util/timeutil.h"

#define INSTANCE_ID_MAX 128
#define HOSTNAME_MAX    255
#define VERSION_MAX     64

static const char *const os_types[] = { "linux", "windows" };
static const char *const arch_types[] = { "amd64", "386", "arm64" };

struct client_facts {
	const char *hostname, *os_type, *arch_type, *version;
};

static int parse_facts(struct client_facts *f, const struct hbr_kvlist *p)
{
	int error;

	if ((error = hbr_param_str(&f->hostname, p, "Hostname", false, 0,
	                           HOSTNAME_MAX)) < 0 ||
	    (error = hbr_param_enum(&f->os_type, p, "OsType", os_types,
	                            HBR_ARRAY_SIZE(os_types), NULL)) < 0 ||
	    (error = hbr_param_enum(&f->arch_type, p, "ArchType", arch_types,
	                            HBR_ARRAY_SIZE(arch_types), NULL)) < 0 ||
	    (error = hbr_param_str(&f->version, p, "ClientVersion", false, 0,
	                           VERSION_MAX)) < 0)
		return error;
	return 0;
}

/* Only what was sent changes. */
static void apply_facts(json_t *client, const struct client_facts *f)
{
	if (f->hostname)
		json_object_set_new(client, "Hostname",
		                    json_string(f->hostname));
	if (f->os_type)
		json_object_set_new(client, "OsType", json_string(f->os_type));
	if (f->arch_type)
		json_object_set_new(client, "ArchType",
		                    json_string(f->arch_type));
	if (f->version)
		json_object_set_new(client, "ClientVersion",
		                    json_string(f->version));
}

int hbr_api_register_backup_client(struct hbr_api_call *call)
{
	struct client_facts f = { 0 };
	struct hbr_key_info key;
	const char *instance_id = NULL, *client_id;
	json_t *client = NULL;
	int error;

	if ((error = hbr_param_str(&instance_id, call->params, "InstanceId",
	                           true, 1, INSTANCE_ID_MAX)) < 0 ||
	    (error = parse_facts(&f, call->params)) < 0)
		return error;
	if ((error = hbr_store_begin(call->store)) < 0)
		return error;
	error = hbr_api_client_for_instance(&client, call, instance_id);
	if (error == HBR_ENOCLIENT) {
		char cid[HBR_ID_MAX];
		hbr_id_new(cid, HBR_ID_CLIENT);
		client = hbr_model_client(cid, instance_id, "ACTIVATED",
		                          hbr_time_now());
		apply_facts(client, &f);
		error = hbr_store_insert(call->store, HBR_ENT_CLIENT,
		                         call->who.account_id, client);
	} else if (error == 0) {
		json_object_set_new(client, "Status", json_string("ACTIVATED"));
		apply_facts(client, &f);
		error = hbr_store_replace(call->store, HBR_ENT_CLIENT,
		                          call->who.account_id, client);
	}
	if (error < 0)
		goto out;
	client_id = json_string_value(json_object_get(client, "ClientId"));
	if ((error = hbr_store_key_create_for_client(
	             &key, call->store, call->who.account_id, client_id)) < 0 ||
	    (error = hbr_store_commit(call->store)) < 0)
		goto out;
	json_object_set_new(call->out, "ClientId", json_string(client_id));
	json_object_set_new(call->out, "InstanceId", json_string(instance_id));
	json_object_set_new(call->out, "AccessKeyId",
	                    json_string(key.access_key_id));
	json_object_set_new(call->out, "AccessKeySecret",
	                    json_string(key.secret));
out:
	json_decref(client);
	return error;
}

int hbr_api_report_backup_client_heartbeat(struct hbr_api_call *call)
{
	struct client_facts f = { 0 };
	json_t *client = NULL;
	int error;

	HBR_ASSERT(call->who.client_id[0]); /* hbr_api_authorize */
	if ((error = parse_facts(&f, call->params)) < 0)
		return error;
	if ((error = hbr_store_begin(call->store)) < 0)
		return error;
	if ((error = hbr_store_get(&client, call->store, HBR_ENT_CLIENT,
	                           call->who.account_id, call->who.client_id)) <
	    0)
		goto out;
	apply_facts(client, &f);
	json_object_set_new(client, "LastHeartBeatTime",
	                    json_integer(hbr_time_now()));
	if ((error = hbr_store_replace(call->store, HBR_ENT_CLIENT,
	                               call->who.account_id, client)) < 0 ||
	    (error = hbr_store_commit(call->store)) < 0)
		goto out;
	json_object_set_new(call->out, "ClientId",
	                    json_string(call->who.client_id));
	json_object_set(call->out, "Status", json_object_get(client, "Status"));
out:
	json_decref(client);
	return error;
}
