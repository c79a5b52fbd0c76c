/*
 * DeleteBackupClientResource (docs/DELETION.md): for 1 to 100 clients,
 * delete every plan, job and snapshot they own and keep the clients, in
 * one durable transaction whose cost does not grow with what they own.
 */
#include "common.h"
#include "api/api.h"
#include "api/api_params.h"
#include "core/id.h"
#include "store/store_resource.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/timeutil.h"

#define MAX_CLIENTS 100

int hbr_api_delete_backup_client_resource(struct hbr_api_call *call)
{
	struct hbr_strlist ids = HBR_STRLIST_INIT;
	struct hbr_delete_counts counts;
	struct hbr_audit_entry audit;
	const char **uniq = NULL;
	char principal[HBR_API_PRINCIPAL_MAX];
	json_t *arr = json_array();
	size_t n = 0;
	int error;

	if ((error = hbr_param_list(&ids, call->params, "ClientIds",
	                            MAX_CLIENTS, 64)) < 0)
		goto out;
	if (!ids.present) {
		error = hbr_error_set_param(HBR_EMISSING, "ClientIds",
		                            "ClientIds is mandatory for this"
		                            " action.");
		goto out;
	}
	if (ids.n == 0) {
		error = hbr_error_set_param(HBR_EINVAL, "ClientIds",
		                            "ClientIds must name 1 to %d"
		                            " clients; it is empty",
		                            MAX_CLIENTS);
		goto out;
	}
	uniq = hbr_calloc(ids.n, sizeof(*uniq));
	for (size_t i = 0; i < ids.n; i++) {
		bool dup = false;
		if (!hbr_id_valid(ids.items[i], HBR_ID_CLIENT)) {
			error = hbr_error_set_param(
			        HBR_EINVAL, "ClientIds",
			        "ClientIds entry %zu '%.64s' is not a client"
			        " ID (c- followed by 20 characters 0-9a-z)",
			        i + 1, ids.items[i]);
			goto out;
		}
		for (size_t k = 0; k < n && !dup; k++)
			dup = !strcmp(uniq[k], ids.items[i]);
		if (!dup) {
			uniq[n++] = ids.items[i];
			json_array_append_new(arr, json_string(ids.items[i]));
		}
	}
	call->audit_client_ids = json_dumps(arr, JSON_COMPACT);

	hbr_api_audit_entry(&audit, principal, call, "200");
	if ((error = hbr_store_delete_client_resources(&counts, call->store,
	                                               call->who.account_id,
	                                               uniq, n, &audit)) < 0)
		goto out;
	call->audit_done = true;
	call->plans_deleted = counts.plans;
	call->jobs_deleted = counts.jobs;
	call->snapshots_deleted = counts.snapshots;
out:
	hbr_free(uniq);
	json_decref(arr);
	hbr_strlist_release(&ids);
	return error;
}
