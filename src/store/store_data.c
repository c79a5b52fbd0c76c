/*
 * The agent data plane's rows (store_data.h). Jobs are read through
 * hbr_store_get, which reads the live_* views, so "is the job still the
 * caller's, live and RUNNING" is one read inside the writing
 * transaction; chunk rows are point queries on (vault_id, chunk_id).
 * The counts a snapshot commit raises are store_data_refs.c's.
 */
#include "common.h"
#include <jansson.h>
#include "core/model.h"
#include "store/store_data.h"
#include "store/store_data_private.h"
#include "store/store_resource.h"
#include "util/alloc.h"
#include "util/error.h"

static const char *str(json_t *obj, const char *name)
{
	const char *v = json_string_value(json_object_get(obj, name));

	return v ? v : "";
}

static const char *what(const struct hbr_job_ref *j)
{
	return j->type == HBR_JOB_BACKUP ? "backup job" : "restore job";
}

static int not_found(const struct hbr_job_ref *j)
{
	return hbr_error_set(
	        j->type == HBR_JOB_BACKUP ? HBR_ENOJOB : HBR_ENORESTORE,
	        "The specified %s does not exist: %s", what(j), j->job_id);
}

int hbr_store_agent_job(json_t **out, struct hbr_store *s,
                        const struct hbr_job_ref *j)
{
	bool backup = j->type == HBR_JOB_BACKUP;
	json_t *job = NULL;
	int64_t mine = 0;
	int error;

	if ((error = hbr_store_get(&job, s,
	                           backup ? HBR_ENT_JOB : HBR_ENT_RESTORE,
	                           j->account_id, j->job_id)) < 0)
		return error;
	/* Another client's job is reported exactly like a missing one. A
	 * restore job is its target instance's; a deleted client's row has
	 * a renamed instance_id, so it matches nothing. */
	if (backup)
		mine = !strcmp(str(job, "ClientId"), j->client_id);
	else if ((error = hbr_store_count(
	                  &mine, s,
	                  "SELECT COUNT(*) FROM live_clients WHERE"
	                  " client_id = ? AND account_id = ?"
	                  " AND instance_id = ?",
	                  "sss", j->client_id, j->account_id,
	                  str(job, "TargetInstanceId"))) < 0)
		goto out;
	if (!mine) {
		error = not_found(j);
		goto out;
	}
	*out = job;
	job = NULL;
out:
	json_decref(job);
	return error;
}

static int check_running(json_t *job, const struct hbr_job_ref *j)
{
	const char *status = str(job, "Status");

	if (!strcmp(status, "RUNNING"))
		return 0;
	return hbr_error_set(HBR_ECONFLICT, "%s %s is %s, not RUNNING", what(j),
	                     j->job_id, status);
}

int hbr_store_agent_job_running(json_t **out, struct hbr_store *s,
                                const struct hbr_job_ref *j)
{
	json_t *job = NULL;
	int error;

	if ((error = hbr_store_agent_job(&job, s, j)) < 0)
		return error;
	if ((error = check_running(job, j)) < 0) {
		json_decref(job);
		return error;
	}
	*out = job;
	return 0;
}

int hbr_store_agent_poll(json_t **backups_out, json_t **restores_out,
                         struct hbr_store *s, const char *account_id,
                         const char *client_id, int64_t limit)
{
	static const char *const active[] = { "QUEUED", "RUNNING" };
	const char *mine[1] = { client_id };
	struct hbr_cond conds[2] = {
		{ "ClientId", HBR_OP_EQ, mine, 1 },
		{ "Status", HBR_OP_IN, active, 2 },
	};
	struct hbr_list_req req = { HBR_ENT_JOB, account_id, conds, 2,
		                    NULL,        false,      0,     limit };
	json_t *backups = NULL, *restores = NULL;
	struct hbr_stmt *st = NULL;
	char instance[256] = "";
	int64_t total;
	int error;

	if ((error = hbr_store_list(&backups, &total, s, &req)) < 0)
		goto out;
	if ((error = hbr_store_queryf(&st, s,
	                              "SELECT instance_id FROM live_clients"
	                              " WHERE client_id = ? AND"
	                              " account_id = ?",
	                              "ss", client_id, account_id)) < 0)
		goto out;
	if ((error = hbr_stmt_next(st)) == 1)
		(void)snprintf(instance, sizeof(instance), "%s",
		               hbr_stmt_text(st, 0));
	hbr_stmt_done(st);
	if (error < 0)
		goto out;
	if (!instance[0]) {
		restores = json_array();
	} else {
		const char *inst[1] = { instance };
		conds[0] = (struct hbr_cond){ "TargetInstanceId", HBR_OP_EQ,
			                      inst, 1 };
		req.entity = HBR_ENT_RESTORE;
		if ((error = hbr_store_list(&restores, &total, s, &req)) < 0)
			goto out;
	}
	*backups_out = backups;
	*restores_out = restores;
	return 0;
out:
	json_decref(backups);
	json_decref(restores);
	return error;
}

int hbr_store_snapshot_tree(char **out, struct hbr_store *s,
                            const char *account_id, const char *snapshot_id)
{
	struct hbr_stmt *st = NULL;
	int error;

	*out = NULL;
	if ((error = hbr_store_queryf(&st, s,
	                              "SELECT tree FROM live_snapshots"
	                              " WHERE snapshot_id = ? AND"
	                              " account_id = ? AND tree IS NOT NULL",
	                              "ss", snapshot_id, account_id)) < 0)
		return error;
	if ((error = hbr_stmt_next(st)) == 1)
		*out = hbr_strdup(hbr_stmt_text(st, 0));
	hbr_stmt_done(st);
	return error < 0 ? error : 0;
}

/* The newest live snapshot with a tree of the job's plan, client and
 * vault, into parent[HBR_ID_MAX] ("" when there is none: the first run,
 * or a job without a plan). Times are in seconds, so two backups within
 * one second tie: the later insert (rowid) is the newer one, as the
 * agent's tree cache assumes. */
static int find_parent(char *parent, struct hbr_store *s, const char *account,
                       json_t *job)
{
	const char *plan = json_string_value(json_object_get(job, "PlanId"));
	struct hbr_stmt *st = NULL;
	int error;

	parent[0] = '\0';
	if (!plan || !plan[0])
		return 0;
	if ((error = hbr_store_queryf(
	             &st, s,
	             "SELECT s.snapshot_id FROM snapshots s JOIN clients c"
	             " ON c.client_id = s.client_id AND c.epoch = s.epoch"
	             " WHERE s.plan_id = ? AND s.account_id = ?"
	             " AND s.client_id = ? AND s.vault_id = ?"
	             " AND s.tree IS NOT NULL AND s.status IN"
	             " ('COMPLETE', 'PARTIAL_COMPLETE')"
	             " ORDER BY s.created_time DESC, s.rowid DESC LIMIT 1",
	             "ssss", plan, account, str(job, "ClientId"),
	             str(job, "VaultId"))) < 0)
		return error;
	if ((error = hbr_stmt_next(st)) == 1)
		(void)snprintf(parent, HBR_ID_MAX, "%s", hbr_stmt_text(st, 0));
	hbr_stmt_done(st);
	return error < 0 ? error : 0;
}

/* A restore of a snapshot without a tree (made before the data plane,
 * or seeded) can never run: it fails now rather than being offered to
 * the agent on every poll. */
static int fail_restore(struct hbr_store *s, const struct hbr_job_ref *j,
                        json_t *job, int64_t now)
{
	char msg[256];
	int error;

	(void)snprintf(msg, sizeof(msg),
	               "snapshot %s holds no data an agent can restore",
	               str(job, "SnapshotId"));
	json_object_set_new(job, "Status", json_string("FAILED"));
	json_object_set_new(job, "ErrorMessage", json_string(msg));
	json_object_set_new(job, "CompleteTime", json_integer(now));
	if ((error = hbr_store_replace(s, HBR_ENT_RESTORE, j->account_id,
	                               job)) < 0 ||
	    (error = hbr_store_commit(s)) < 0)
		return error;
	return hbr_error_set(HBR_ECONFLICT, "restore job %s failed: %s",
	                     j->job_id, msg);
}

int hbr_store_agent_start(json_t **job_out, char **tree_out, bool *resumed_out,
                          struct hbr_store *s, const struct hbr_job_ref *j,
                          int64_t now)
{
	enum hbr_entity e =
	        j->type == HBR_JOB_BACKUP ? HBR_ENT_JOB : HBR_ENT_RESTORE;
	char parent[HBR_ID_MAX] = "";
	const char *status;
	json_t *job = NULL;
	char *tree = NULL;
	bool resumed, dirty = false;
	int error;

	if ((error = hbr_store_begin(s)) < 0)
		return error;
	if ((error = hbr_store_agent_job(&job, s, j)) < 0)
		goto fail;
	status = str(job, "Status");
	resumed = !strcmp(status, "RUNNING");
	if (!resumed && strcmp(status, "QUEUED")) {
		error = hbr_error_set(HBR_ECONFLICT,
		                      "%s %s is %s; only a QUEUED or RUNNING"
		                      " job can be started",
		                      what(j), j->job_id, status);
		goto fail;
	}
	if (!resumed) {
		json_object_set_new(job, "Status", json_string("RUNNING"));
		json_object_set_new(job, "StartTime", json_integer(now));
		dirty = true;
		if (e == HBR_ENT_JOB) {
			if ((error = find_parent(parent, s, j->account_id,
			                         job)) < 0)
				goto fail;
			json_object_set_new(job, "ParentSnapshotId",
			                    json_string(parent));
		}
	} else if (e == HBR_ENT_JOB) {
		(void)snprintf(parent, sizeof(parent), "%s",
		               str(job, "ParentSnapshotId"));
	}
	if (e == HBR_ENT_JOB && parent[0]) {
		if ((error = hbr_store_snapshot_tree(&tree, s, j->account_id,
		                                     parent)) < 0)
			goto fail;
		/* Deleted since the job started: the rerun reads everything
		 * instead of trusting a tree nothing protects any more. */
		if (!tree) {
			json_object_set_new(job, "ParentSnapshotId",
			                    json_string(""));
			dirty = true;
		}
	} else if (e == HBR_ENT_RESTORE) {
		if ((error = hbr_store_snapshot_tree(&tree, s, j->account_id,
		                                     str(job, "SnapshotId"))) <
		    0)
			goto fail;
		if (!tree) {
			error = fail_restore(s, j, job, now);
			if (error == HBR_ECONFLICT)
				goto out; /* committed: the job FAILED */
			goto fail;
		}
	}
	if (dirty && (error = hbr_store_replace(s, e, j->account_id, job)) < 0)
		goto fail;
	/* Reclamation keeps every chunk that died after the start of a
	 * running backup of the vault (docs/RECLAMATION.md): it reads the
	 * start from this column. Set once; a job resumed from before the
	 * column gets its document's. */
	if (e == HBR_ENT_JOB &&
	    (error = hbr_store_execf(
	             s,
	             "UPDATE jobs SET start_time = COALESCE(start_time, ?)"
	             " WHERE job_id = ? AND account_id = ?",
	             "iss",
	             json_integer_value(json_object_get(job, "StartTime")),
	             j->job_id, j->account_id)) < 0)
		goto fail;
	if ((error = hbr_store_commit(s)) < 0)
		goto fail;
	if (tree_out) {
		*tree_out = tree ? tree : hbr_strdup("[]");
		tree = NULL;
	}
	*resumed_out = resumed;
	*job_out = job;
	job = NULL;
	goto out;
fail:
	hbr_store_rollback(s);
out:
	hbr_free(tree);
	json_decref(job);
	return error;
}

int hbr_store_agent_progress(struct hbr_store *s, const struct hbr_job_ref *j,
                             json_t *fields)
{
	json_t *job = NULL;
	int error;

	if ((error = hbr_store_begin(s)) < 0)
		return error;
	if ((error = hbr_store_agent_job_running(&job, s, j)) < 0)
		goto fail;
	(void)json_object_update(job, fields);
	if ((error = hbr_store_replace(
	             s,
	             j->type == HBR_JOB_BACKUP ? HBR_ENT_JOB : HBR_ENT_RESTORE,
	             j->account_id, job)) < 0 ||
	    (error = hbr_store_commit(s)) < 0)
		goto fail;
	json_decref(job);
	return 0;
fail:
	hbr_store_rollback(s);
	json_decref(job);
	return error;
}

int hbr_store_agent_finish(struct hbr_store *s, const struct hbr_job_ref *j,
                           const char *status, const char *error_message,
                           json_t *fields, int64_t now)
{
	json_t *job = NULL;
	int error;

	HBR_ASSERT(!hbr_store_status_unfinished(status));
	if ((error = hbr_store_begin(s)) < 0)
		return error;
	if ((error = hbr_store_agent_job(&job, s, j)) < 0)
		goto fail;
	/* The answer to an earlier identical call was lost. */
	if (!strcmp(str(job, "Status"), status)) {
		error = 0;
		goto fail;
	}
	if ((error = check_running(job, j)) < 0)
		goto fail;
	if (fields)
		(void)json_object_update(job, fields);
	json_object_set_new(job, "Status", json_string(status));
	json_object_set_new(job, "CompleteTime", json_integer(now));
	if (error_message)
		json_object_set_new(job, "ErrorMessage",
		                    json_string(error_message));
	if ((error = hbr_store_replace(
	             s,
	             j->type == HBR_JOB_BACKUP ? HBR_ENT_JOB : HBR_ENT_RESTORE,
	             j->account_id, job)) < 0 ||
	    (error = hbr_store_commit(s)) < 0)
		goto fail;
	json_decref(job);
	return 0;
fail:
	hbr_store_rollback(s);
	json_decref(job);
	return error;
}

/* ---- chunks and packs ---- */

int hbr_store_chunks_missing(bool *missing, size_t *n_missing,
                             struct hbr_store *s, const char *vault_id,
                             const uint8_t *ids, size_t n)
{
	size_t count = 0;
	int error;

	for (size_t i = 0; i < n; i++) {
		int64_t have = 0;

		if ((error = hbr_store_count(
		             &have, s,
		             "SELECT COUNT(*) FROM chunks WHERE vault_id = ?"
		             " AND chunk_id = ?",
		             "sb", vault_id, ids + i * HBR_CHUNK_ID_LEN,
		             (size_t)HBR_CHUNK_ID_LEN)) < 0)
			return error;
		missing[i] = have == 0;
		count += have == 0;
	}
	*n_missing = count;
	return 0;
}

int hbr_store_chunks_check(bool *missing, size_t *n_missing,
                           struct hbr_store *s, const char *vault_id,
                           const uint8_t *ids, size_t n, int64_t job_start,
                           int64_t now)
{
	bool *stale = hbr_calloc(n ? n : 1, sizeof(*stale));
	size_t count = 0, nstale = 0;
	int error = 0;

	/* Reads first: most checks find nothing to protect, and take no
	 * write lock. */
	for (size_t i = 0; i < n && error >= 0; i++) {
		struct hbr_stmt *st = NULL;

		if ((error = hbr_store_queryf(
		             &st, s,
		             "SELECT refs, dead_since FROM chunks WHERE"
		             " vault_id = ? AND chunk_id = ?",
		             "sb", vault_id, ids + i * HBR_CHUNK_ID_LEN,
		             (size_t)HBR_CHUNK_ID_LEN)) < 0)
			break;
		if ((error = hbr_stmt_next(st)) == 1) {
			/* Dead before the job started: reclamation may take
			 * it. Since then (an upload of this job, say): it
			 * keeps it while the job runs. */
			stale[i] = hbr_stmt_int(st, 0) == 0 &&
			           (hbr_stmt_is_null(st, 1) ||
			            hbr_stmt_int(st, 1) < job_start);
			nstale += stale[i];
		}
		missing[i] = error == 0;
		hbr_stmt_done(st);
	}
	if (error < 0 || !nstale)
		goto count;
	if ((error = hbr_store_begin(s)) < 0)
		goto out;
	for (size_t i = 0; i < n && error >= 0; i++) {
		struct hbr_stmt *st = NULL;

		if (!stale[i])
			continue;
		if ((error = hbr_store_queryf(
		             &st, s,
		             "UPDATE chunks SET dead_since = CASE WHEN refs = 0"
		             " THEN ? ELSE dead_since END WHERE vault_id = ?"
		             " AND chunk_id = ? RETURNING 1",
		             "isb", now, vault_id, ids + i * HBR_CHUNK_ID_LEN,
		             (size_t)HBR_CHUNK_ID_LEN)) < 0)
			break;
		/* Reclaimed since the read: missing after all. */
		if ((error = hbr_stmt_next(st)) == 0)
			missing[i] = true;
		hbr_stmt_done(st);
	}
	if (error < 0 || (error = hbr_store_commit(s)) < 0) {
		hbr_store_rollback(s);
		goto out;
	}
count:
	for (size_t i = 0; i < n && error >= 0; i++)
		count += missing[i];
	if (error >= 0) {
		*n_missing = count;
		error = 0;
	}
out:
	hbr_free(stale);
	return error;
}

int hbr_store_chunks_get(struct hbr_chunk_row *rows, bool *found,
                         struct hbr_store *s, const char *vault_id,
                         const uint8_t *ids, size_t n)
{
	int error = 0;

	for (size_t i = 0; i < n && error >= 0; i++) {
		struct hbr_stmt *st = NULL;

		if ((error = hbr_store_queryf(
		             &st, s,
		             "SELECT pack_id, pack_offset, stored_len, raw_len,"
		             " flags, refs FROM chunks WHERE vault_id = ?"
		             " AND chunk_id = ?",
		             "sb", vault_id, ids + i * HBR_CHUNK_ID_LEN,
		             (size_t)HBR_CHUNK_ID_LEN)) < 0)
			break;
		found[i] = (error = hbr_stmt_next(st)) == 1;
		if (found[i]) {
			struct hbr_chunk_row *r = &rows[i];
			(void)snprintf(r->pack_id, sizeof(r->pack_id), "%s",
			               hbr_stmt_text(st, 0));
			r->offset = (uint64_t)hbr_stmt_int(st, 1);
			r->stored_len = (uint32_t)hbr_stmt_int(st, 2);
			r->raw_len = (uint32_t)hbr_stmt_int(st, 3);
			r->flags = (uint32_t)hbr_stmt_int(st, 4);
			r->refs = hbr_stmt_int(st, 5);
		}
		hbr_stmt_done(st);
	}
	return error < 0 ? error : 0;
}

int hbr_store_pack_begin(struct hbr_store *s, const char *vault_id,
                         const char *pack_id, int64_t bytes, int64_t now)
{
	int error;

	if ((error = hbr_store_begin(s)) < 0)
		return error;
	if ((error = hbr_store_execf(s,
	                             "INSERT INTO packs (vault_id, pack_id,"
	                             " state, bytes, live_bytes, created_time)"
	                             " VALUES (?, ?, 'writing', ?, 0, ?)",
	                             "ssii", vault_id, pack_id, bytes, now)) <
	            0 ||
	    (error = hbr_store_commit(s)) < 0) {
		hbr_store_rollback(s);
		return error;
	}
	return 0;
}

int hbr_store_pack_commit(struct hbr_pack_added *out, struct hbr_store *s,
                          const struct hbr_job_ref *j, const char *vault_id,
                          const char *pack_id, const struct hbr_pack_view *v,
                          int64_t now)
{
	struct hbr_pack_added a = { v->count, 0, 0 };
	json_t *job = NULL;
	int error;

	HBR_ASSERT(j->type == HBR_JOB_BACKUP);
	if ((error = hbr_store_begin(s)) < 0)
		return error;
	if ((error = hbr_store_agent_job_running(&job, s, j)) < 0)
		goto fail;
	if (strcmp(str(job, "VaultId"), vault_id)) {
		error = hbr_error_set(
		        HBR_ERROR, "backup job %s writes to vault %s, not %s",
		        j->job_id, str(job, "VaultId"), vault_id);
		goto fail;
	}
	for (uint32_t i = 0; i < v->count; i++) {
		const struct hbr_pack_entry *e = &v->entries[i];
		struct hbr_stmt *st = NULL;

		/* A chunk the vault has keeps its row: this copy is dead
		 * bytes of the pack. A new one is unreferenced since now,
		 * which reclamation leaves alone while this job runs. */
		if ((error = hbr_store_queryf(
		             &st, s,
		             "INSERT INTO chunks (vault_id, chunk_id, pack_id,"
		             " pack_offset, stored_len, raw_len, flags, refs,"
		             " dead_since) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)"
		             " ON CONFLICT (vault_id, chunk_id) DO NOTHING"
		             " RETURNING 1",
		             "sbsiiiii", vault_id, e->id,
		             (size_t)HBR_CHUNK_ID_LEN, pack_id,
		             (int64_t)e->offset, (int64_t)e->stored_len,
		             (int64_t)e->raw_len, (int64_t)e->flags, now)) < 0)
			goto fail;
		error = hbr_stmt_next(st);
		hbr_stmt_done(st);
		if (error < 0)
			goto fail;
		if (error == 1) {
			a.new_chunks++;
			a.new_bytes += e->stored_len;
		}
	}
	if ((error = hbr_store_execf(s,
	                             "UPDATE packs SET state = 'live'"
	                             " WHERE vault_id = ? AND pack_id = ?",
	                             "ss", vault_id, pack_id)) < 0 ||
	    (error = hbr_store_commit(s)) < 0)
		goto fail;
	json_decref(job);
	*out = a;
	return 0;
fail:
	hbr_store_rollback(s);
	json_decref(job);
	return error;
}

/* ---- the snapshot commit ---- */

static json_t *snapshot_doc(const struct hbr_snapshot_commit *c, json_t *job,
                            const char *parent_hash)
{
	static const char *const copied[] = { "Paths", "Include", "Exclude",
		                              "Retention", "BackupType" };
	const char *plan = json_string_value(json_object_get(job, "PlanId"));
	int64_t start = json_integer_value(json_object_get(job, "StartTime"));
	json_t *snap = hbr_model_snapshot(
	        c->snapshot_id, str(job, "ClientId"), str(job, "InstanceId"),
	        str(job, "VaultId"), plan, c->job->job_id, c->now);

	for (size_t i = 0; i < HBR_ARRAY_SIZE(copied); i++) {
		json_t *v = json_object_get(job, copied[i]);
		if (v && !json_is_null(v))
			json_object_set(snap, copied[i], v);
	}
	if (start <= 0)
		start = c->now;
	/* HBR shows when retention will take the snapshot; 0: never. */
	{
		int64_t days =
		        json_integer_value(json_object_get(job, "Retention"));
		json_object_set_new(snap, "ExpireTime",
		                    json_integer(days > 0 && days < 1000000 ?
		                                         c->now + days * 86400 :
		                                         0));
	}
	json_object_set_new(snap, "StartTime", json_integer(start));
	json_object_set_new(snap, "RangeStart", json_integer(start * 1000));
	json_object_set_new(snap, "Status", json_string(c->status));
	json_object_set_new(
	        snap, "SnapshotHash",
	        json_string(c->snapshot_hash ? c->snapshot_hash : ""));
	json_object_set_new(snap, "ParentSnapshotHash",
	                    json_string(parent_hash));
	json_object_set_new(snap, "BytesTotal", json_integer(c->bytes_total));
	json_object_set_new(snap, "BytesDone", json_integer(c->bytes_done));
	json_object_set_new(snap, "ItemsTotal", json_integer(c->items_total));
	json_object_set_new(snap, "ItemsDone", json_integer(c->items_done));
	json_object_set_new(snap, "ActualItems", json_integer(c->items_done));
	json_object_set_new(snap, "ActualBytes", json_integer(c->actual_bytes));
	json_object_set_new(snap, "ErrorFile",
	                    json_string(c->error_file ? c->error_file : ""));
	/* "Path": HBR's older field, the Paths as one JSON text. */
	{
		json_t *paths =
		        json_object_get(json_object_get(snap, "Paths"), "Path");
		char *text = json_is_array(paths) ?
		                     json_dumps(paths, JSON_COMPACT) :
		                     NULL;
		if (text)
			json_object_set_new(snap, "Path", json_string(text));
		free(text); /* jansson's allocation */
	}
	return snap;
}

int hbr_store_snapshot_commit(struct hbr_snapshot_committed *out,
                              struct hbr_store *s,
                              const struct hbr_snapshot_commit *c)
{
	struct hbr_snapshot_committed r = { 0 };
	const struct hbr_job_ref *j = c->job;
	json_t *job = NULL, *snap = NULL, *parent = NULL;
	const char *status, *plan;
	int error;

	HBR_ASSERT(j->type == HBR_JOB_BACKUP);
	if ((error = hbr_store_begin(s)) < 0)
		return error;
	if ((error = hbr_store_agent_job(&job, s, j)) < 0)
		goto fail;
	status = str(job, "Status");
	plan = json_string_value(json_object_get(job, "PlanId"));
	(void)snprintf(r.plan_id, sizeof(r.plan_id), "%s", plan ? plan : "");
	/* A retry whose first answer was lost. */
	if ((!strcmp(status, "COMPLETE") ||
	     !strcmp(status, "PARTIAL_COMPLETE")) &&
	    str(job, "SnapshotId")[0]) {
		(void)snprintf(r.snapshot_id, sizeof(r.snapshot_id), "%s",
		               str(job, "SnapshotId"));
		r.existing = true;
		hbr_store_rollback(s);
		goto done;
	}
	if ((error = check_running(job, j)) < 0 ||
	    (error = hbr_store_refs_add(&r.stored_bytes, s, str(job, "VaultId"),
	                                str(job, "ClientId"), c->refs,
	                                c->nrefs)) < 0)
		goto fail;
	if (str(job, "ParentSnapshotId")[0] &&
	    hbr_store_get(&parent, s, HBR_ENT_SNAPSHOT, j->account_id,
	                  str(job, "ParentSnapshotId")) < 0)
		parent = NULL; /* deleted meanwhile: no parent hash */
	snap = snapshot_doc(c, job, str(parent, "SnapshotHash"));
	if ((error = hbr_store_insert(s, HBR_ENT_SNAPSHOT, j->account_id,
	                              snap)) < 0 ||
	    (error = hbr_store_execf(s,
	                             "UPDATE snapshots SET tree = ?,"
	                             " stored_bytes = ? WHERE snapshot_id = ?",
	                             "sis", c->tree, r.stored_bytes,
	                             c->snapshot_id)) < 0)
		goto fail;
	json_object_set_new(job, "Status", json_string(c->status));
	json_object_set_new(job, "CompleteTime", json_integer(c->now));
	json_object_set_new(job, "Progress", json_integer(100));
	json_object_set_new(job, "SnapshotId", json_string(c->snapshot_id));
	json_object_set_new(job, "BytesTotal", json_integer(c->bytes_total));
	json_object_set_new(job, "BytesDone", json_integer(c->bytes_done));
	json_object_set_new(job, "ItemsTotal", json_integer(c->items_total));
	json_object_set_new(job, "ItemsDone", json_integer(c->items_done));
	json_object_set_new(job, "ActualBytes", json_integer(c->actual_bytes));
	if ((error = hbr_store_replace(s, HBR_ENT_JOB, j->account_id, job)) <
	            0 ||
	    (error = hbr_store_commit(s)) < 0)
		goto fail;
	(void)snprintf(r.snapshot_id, sizeof(r.snapshot_id), "%s",
	               c->snapshot_id);
done:
	*out = r;
	goto out;
fail:
	hbr_store_rollback(s);
out:
	json_decref(job);
	json_decref(snap);
	json_decref(parent);
	return error;
}
