/*
 * CreateVault and DescribeVaults. A local vault is a directory under
 * DATA_DIR/vaults; creating it is the whole "initialization task", so the
 * task is complete by the time CreateVault answers.
 */
#include "common.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "api/api.h"
#include "api/api_params.h"
#include "core/model.h"
#include "store/store_resource.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/timeutil.h"

#define MAX_VAULTS 100

static int make_dir_durable(const char *parent, const char *name)
{
	char path[4096];
	int fd, error = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", parent, name) >=
	    sizeof(path))
		return hbr_error_set(HBR_EINVAL, "path too long under '%s'",
		                     parent);
	if (mkdir(parent, 0700) < 0 && errno != EEXIST)
		return hbr_error_set_os(HBR_EIO, "mkdir '%s'", parent);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return hbr_error_set_os(HBR_EIO, "mkdir '%s'", path);
	/* The new entry must survive a crash before the vault row that
	 * points at it is committed. */
	if ((fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return hbr_error_set_os(HBR_EIO, "open '%s'", parent);
	if (fsync(fd) < 0)
		error = hbr_error_set_os(HBR_EIO, "fsync '%s'", parent);
	(void)close(fd);
	return error;
}

int hbr_api_create_vault(struct hbr_api_call *call)
{
	static const char *const types[] = { "STANDARD" };
	static const char *const classes[] = { "STANDARD" };
	static const char *const encrypt[] = { "HBR_PRIVATE", "NONE" };
	const char *name, *region, *desc, *type, *cls, *enc;
	char vault_id[HBR_ID_MAX], task_id[HBR_ID_MAX], dir[4096];
	int64_t now = hbr_time_now(), count = 0;
	json_t *vault = NULL, *task = NULL;
	int error;

	if ((error = hbr_param_str(&name, call->params, "VaultName", true, 1,
	                           64)) < 0 ||
	    (error = hbr_param_str(&region, call->params, "VaultRegionId", true,
	                           1, 64)) < 0 ||
	    (error = hbr_param_str(&desc, call->params, "Description", false, 0,
	                           255)) < 0 ||
	    (error = hbr_param_enum(&type, call->params, "VaultType", types, 1,
	                            "STANDARD")) < 0 ||
	    (error = hbr_param_enum(&cls, call->params, "VaultStorageClass",
	                            classes, 1, "STANDARD")) < 0 ||
	    (error = hbr_param_enum(&enc, call->params, "EncryptType", encrypt,
	                            2, "HBR_PRIVATE")) < 0)
		return error;

	hbr_id_new(vault_id, HBR_ID_VAULT);
	hbr_id_new(task_id, HBR_ID_TASK);
	(void)snprintf(dir, sizeof(dir), "%s/vaults", call->api->cfg.data_dir);
	if ((error = make_dir_durable(dir, vault_id)) < 0)
		return error;

	vault = hbr_model_vault(vault_id, name, region, now);
	json_object_set_new(vault, "Description",
	                    json_string(desc ? desc : ""));
	json_object_set_new(vault, "EncryptType", json_string(enc));
	task = json_pack("{s:s, s:s, s:s, s:i, s:s, s:I, s:I, s:I, s:s}",
	                 "TaskId", task_id, "Name", "InitVaultTask",
	                 "Description", "completed", "Progress", 100, "Result",
	                 "{}", "CreatedTime", (json_int_t)now, "UpdatedTime",
	                 (json_int_t)now, "CompletedTime", (json_int_t)now,
	                 "VaultId", vault_id);

	if ((error = hbr_store_begin(call->store)) < 0)
		goto out;
	if ((error = hbr_store_count(&count, call->store,
	                             "SELECT COUNT(*) FROM live_vaults"
	                             " WHERE account_id = ?",
	                             "s", call->who.account_id)) < 0)
		goto out;
	if (count >= MAX_VAULTS) {
		error = hbr_error_set(HBR_ECONFLICT,
		                      "an account can have at most %d vaults",
		                      MAX_VAULTS);
		goto out;
	}
	if ((error = hbr_store_insert(call->store, HBR_ENT_VAULT,
	                              call->who.account_id, vault)) < 0 ||
	    (error = hbr_store_insert(call->store, HBR_ENT_TASK,
	                              call->who.account_id, task)) < 0 ||
	    (error = hbr_store_commit(call->store)) < 0)
		goto out;
	json_object_set_new(call->out, "VaultId", json_string(vault_id));
	json_object_set_new(call->out, "TaskId", json_string(task_id));
out:
	json_decref(vault);
	json_decref(task);
	return error;
}

int hbr_api_describe_vaults(struct hbr_api_call *call)
{
	const char *fields[] = { "VaultId", "VaultName", "VaultType", "Status",
		                 "VaultRegionId" };
	struct hbr_cond conds[HBR_ARRAY_SIZE(fields)];
	const char *vals[HBR_ARRAY_SIZE(fields)];
	struct hbr_list_req req = { 0 };
	int64_t page, size, total = 0;
	json_t *rows = NULL, *row;
	size_t n = 0, i;
	int error;

	if ((error = hbr_param_paging(&page, &size, call->params)) < 0)
		return error;
	for (i = 0; i < HBR_ARRAY_SIZE(fields); i++) {
		if (!(vals[n] = hbr_kvlist_get(call->params, fields[i])))
			continue;
		conds[n] =
		        (struct hbr_cond){ fields[i], HBR_OP_EQ, &vals[n], 1 };
		n++;
	}
	req.entity = HBR_ENT_VAULT;
	req.account_id = call->who.account_id;
	req.conds = conds;
	req.nconds = n;
	req.descending = true;
	req.offset = (page - 1) * size;
	req.limit = size;
	if ((error = hbr_store_list(&rows, &total, call->store, &req)) < 0)
		return error;
	json_array_foreach(rows, i, row)
	{
		struct hbr_vault_usage u;
		const char *id =
		        json_string_value(json_object_get(row, "VaultId"));
		if ((error = hbr_store_vault_usage(&u, call->store, id)) < 0)
			goto out;
		json_object_set_new(row, "SnapshotCount",
		                    json_integer(u.snapshots));
		/* StorageSize is what the vault's disk holds: it falls as
		 * reclamation gives space back. LiveBytes (our extension) is
		 * the part live snapshots still reference. */
		json_object_set_new(row, "StorageSize",
		                    json_integer(u.stored_bytes));
		json_object_set_new(row, "LiveBytes",
		                    json_integer(u.live_bytes));
		json_object_set_new(row, "BytesDone", json_integer(u.bytes));
		json_object_set_new(
		        row, "BackupPlanStatistics",
		        json_pack("{s:I}", "EcsFile", (json_int_t)u.plans));
	}
	json_object_set_new(call->out, "Vaults",
	                    json_pack("{s:O}", "Vault", rows));
	hbr_api_answer_page(call, total, page, size);
out:
	json_decref(rows);
	return error;
}

int hbr_api_update_vault(struct hbr_api_call *call)
{
	const char *vault_id, *name, *desc;
	json_t *vault = NULL;
	int error;

	if ((error = hbr_param_str(&vault_id, call->params, "VaultId", true, 1,
	                           64)) < 0 ||
	    (error = hbr_param_str(&name, call->params, "VaultName", false, 1,
	                           64)) < 0 ||
	    (error = hbr_param_str(&desc, call->params, "Description", false, 0,
	                           255)) < 0)
		return error;
	if ((error = hbr_store_begin(call->store)) < 0 ||
	    (error = hbr_store_get(&vault, call->store, HBR_ENT_VAULT,
	                           call->who.account_id, vault_id)) < 0)
		goto out;
	if (name)
		json_object_set_new(vault, "VaultName", json_string(name));
	if (desc)
		json_object_set_new(vault, "Description", json_string(desc));
	if ((error = hbr_store_replace(call->store, HBR_ENT_VAULT,
	                               call->who.account_id, vault)) < 0 ||
	    (error = hbr_store_commit(call->store)) < 0)
		goto out;
out:
	json_decref(vault);
	return error;
}

/*
 * The vault's directory stays: its snapshots are in gc_queue, and space
 * reclamation, which owns the bytes, removes the directory once nothing
 * queued refers to the vault. Removing it here could not be made atomic
 * with the commit anyway.
 */
int hbr_api_delete_vault(struct hbr_api_call *call)
{
	struct hbr_delete_counts c = { 0 };
	const char *vault_id;
	char dir[4096];
	int error;

	if ((error = hbr_param_str(&vault_id, call->params, "VaultId", true, 1,
	                           64)) < 0)
		return error;
	if ((error = hbr_store_begin(call->store)) < 0 ||
	    (error = hbr_store_delete_vault(
	             &c, call->store, call->who.account_id, vault_id)) < 0 ||
	    (error = hbr_store_commit(call->store)) < 0)
		return error;
	call->plans_deleted = c.plans;
	call->jobs_deleted = c.jobs;
	call->snapshots_deleted = c.snapshots;
	/* A vault shares no data with another, so its storage goes whole,
	 * after the commit: a crash in between leaves a directory no live
	 * vault owns, which hbrd removes at its next start
	 * (hbr_api_sweep_vault_dirs). */
	hbr_api_vault_forget(call->api, vault_id);
	(void)snprintf(dir, sizeof(dir), "%s/vaults/%s",
	               call->api->cfg.data_dir, vault_id);
	if (hbr_fs_remove_tree(dir) < 0)
		hbr_log_warn("DeleteVault %s: %s; removed at next start",
		             vault_id, hbr_error_msg());
	return 0;
}

int hbr_api_sweep_vault_dirs(struct hbr_api *api)
{
	struct hbr_store *s = hbr_store_pool_get(api->pool);
	char path[4096];
	struct dirent *de;
	DIR *d;
	int error = 0;

	(void)snprintf(path, sizeof(path), "%s/vaults", api->cfg.data_dir);
	if (!(d = opendir(path))) {
		hbr_store_pool_put(api->pool, s);
		return 0; /* no vault yet */
	}
	while ((de = readdir(d)) != NULL && error == 0) {
		int64_t live = 0;
		if (!hbr_id_valid(de->d_name, HBR_ID_VAULT))
			continue;
		if ((error = hbr_store_count(&live, s,
		                             "SELECT COUNT(*) FROM vaults WHERE"
		                             " vault_id = ? AND deleted = 0",
		                             "s", de->d_name)) < 0)
			break;
		if (live)
			continue;
		(void)snprintf(path, sizeof(path), "%s/vaults/%s",
		               api->cfg.data_dir, de->d_name);
		hbr_log_info("removing the data of deleted vault %s",
		             de->d_name);
		error = hbr_fs_remove_tree(path);
	}
	closedir(d);
	hbr_store_pool_put(api->pool, s);
	return error;
}
