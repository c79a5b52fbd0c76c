/*
 * hbrd admin VERB: operations on the data directory for operators,
 * tests and benchmarks. `seed` builds realistic volumes of clients,
 * plans, jobs and snapshots through the same store calls the API uses.
 */
#include "common.h"
#include <jansson.h>
#include "cmd/hbrd.h"
#include "core/id.h"
#include "core/model.h"
#include "store/store_resource.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

static int seed(struct hbr_store *s, const char *account,
                const struct hbrd_options *o)
{
	char vault_id[HBR_ID_MAX], dir[1200];
	int64_t now = hbr_time_now();
	json_t *out_ids = json_array(), *out_inst = json_array(), *j;
	int error;

	if (o->clients < 1 || o->clients > 100000 || o->plans < 0 ||
	    o->jobs < 0 || o->running < 0 || o->running > o->jobs ||
	    o->snapshots < 0) {
		fprintf(stderr,
		        "usage: hbrd admin seed --clients N [--plans P]"
		        " [--jobs J] [--running R<=J] [--snapshots S]\n");
		return 2;
	}
	hbr_id_new(vault_id, HBR_ID_VAULT);
	(void)snprintf(dir, sizeof(dir), "%s/vaults/%s", o->data_dir, vault_id);
	if ((error = hbr_fs_mkdirs(dir, 0700)) < 0 ||
	    (error = hbr_store_begin(s)) < 0)
		goto fail;
	j = hbr_model_vault(vault_id, o->name[0] ? o->name : "seed", o->region,
	                    now);
	error = hbr_store_insert(s, HBR_ENT_VAULT, account, j);
	json_decref(j);
	for (int64_t c = 0; c < o->clients && error == 0; c++) {
		char cid[HBR_ID_MAX], inst[64], plan_id[HBR_ID_MAX] = "";
		hbr_id_new(cid, HBR_ID_CLIENT);
		(void)snprintf(inst, sizeof(inst), "i-seed-%s", cid + 2);
		j = hbr_model_client(cid, inst, "ACTIVATED", now);
		json_object_set_new(
		        j, "BackupStatus",
		        json_string(o->plans ? "PROTECTED" : "UNPROTECTED"));
		error = hbr_store_insert(s, HBR_ENT_CLIENT, account, j);
		json_decref(j);
		json_array_append_new(out_ids, json_string(cid));
		json_array_append_new(out_inst, json_string(inst));
		for (int64_t p = 0; p < o->plans && error == 0; p++) {
			hbr_id_new(plan_id, HBR_ID_PLAN);
			j = hbr_model_plan(plan_id, cid, inst, vault_id, now);
			json_object_set_new(j, "PlanName", json_string("seed"));
			json_object_set_new(j, "Schedule",
			                    json_string("I|1700000000|P1D"));
			error = hbr_store_insert(s, HBR_ENT_PLAN, account, j);
			json_decref(j);
		}
		for (int64_t k = 0; k < o->jobs && error == 0; k++) {
			char jid[HBR_ID_MAX];
			hbr_id_new(jid, HBR_ID_JOB);
			j = hbr_model_job(jid, cid, inst, vault_id,
			                  plan_id[0] ? plan_id : NULL, now - k);
			json_object_set_new(j, "Status",
			                    json_string(k < o->running ?
			                                        "RUNNING" :
			                                        "COMPLETE"));
			if (k >= o->running)
				json_object_set_new(j, "CompleteTime",
				                    json_integer(now - k));
			error = hbr_store_insert(s, HBR_ENT_JOB, account, j);
			json_decref(j);
		}
		for (int64_t k = 0; k < o->snapshots && error == 0; k++) {
			char sid[HBR_ID_MAX];
			hbr_id_new(sid, HBR_ID_SNAPSHOT);
			j = hbr_model_snapshot(sid, cid, inst, vault_id,
			                       plan_id[0] ? plan_id : NULL,
			                       NULL, now - k);
			json_object_set_new(j, "ActualBytes",
			                    json_integer(1 << 20));
			error = hbr_store_insert(s, HBR_ENT_SNAPSHOT, account,
			                         j);
			json_decref(j);
		}
	}
	if (error < 0 || (error = hbr_store_commit(s)) < 0)
		goto fail;
	j = json_pack("{s:s, s:o, s:o}", "VaultId", vault_id, "ClientIds",
	              out_ids, "InstanceIds", out_inst);
	out_ids = out_inst = NULL;
	{
		char *text = json_dumps(j, JSON_COMPACT);
		printf("%s\n", text);
		free(text); /* jansson's allocation */
	}
	json_decref(j);
	return 0;
fail:
	hbr_store_rollback(s);
	json_decref(out_ids);
	json_decref(out_inst);
	hbrd_fail("seed");
	return 1;
}

static int purge(struct hbr_store *s)
{
	int64_t done = 0, total = 0;
	int error;

	while ((error = hbr_store_purge_step(&done, s, 5000)) == 0 && done)
		total += done;
	if (error < 0) {
		hbrd_fail("purge");
		return 1;
	}
	printf("{\"RowsPurged\":%lld}\n", (long long)total);
	return 0;
}

int hbrd_cmd_admin(const struct hbrd_options *o, const char *verb)
{
	struct hbr_store *s = NULL;
	char account[HBR_ID_MAX];
	bool created;
	char *creds = NULL;
	int rc = 1;

	if (hbrd_open_store(&s, o) < 0)
		return 1;
	if (!strcmp(verb, "seed")) {
		/* Seeding a fresh data dir also initializes it, as serve
		 * would. */
		if (o->account[0]) {
			if ((size_t)snprintf(account, sizeof(account), "%s",
			                     o->account) >= sizeof(account)) {
				fprintf(stderr, "hbrd: bad --account\n");
				goto out;
			}
		} else if (hbrd_init_root(&creds, s, o, &created) < 0 ||
		           hbr_store_account_first(account, s) < 0)
			goto out;
		if (o->account[0] && hbr_store_account_exists(s, account) < 0) {
			hbrd_fail("seed");
			goto out;
		}
		rc = seed(s, account, o);
	} else if (!strcmp(verb, "purge")) {
		rc = purge(s);
	} else {
		fprintf(stderr,
		        "hbrd: unknown admin verb '%s' (see hbrd"
		        " --help)\n",
		        verb);
		rc = 2;
	}
out:
	free(creds); /* jansson's allocation */
	hbr_store_close(s);
	return rc;
}
