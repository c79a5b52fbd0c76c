/*
 * Deleting a client's resources, and removing the dead rows afterwards.
 *
 * The API call bumps each client's epoch in one transaction: cost is
 * proportional to the number of clients, not to the rows they own, and
 * every plan, job and snapshot stamped with an older epoch disappears
 * from every read at once (the live_* views). A job an agent is running
 * is dead too, so nothing can report into it or commit a snapshot for it.
 * The purge then works through `purge_pending` in short transactions so
 * it never holds the write lock long enough to stall a backup.
 */
#include "common.h"
#include <jansson.h>
#include "store/store_resource.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/timeutil.h"

struct target {
	const char *id;
	int64_t epoch;
	bool unprotected;
	bool seen; /* duplicates count once */
};

static int count_live(int64_t *out, struct hbr_store *s, const char *table,
                      const char *client_id, int64_t epoch)
{
	char sql[128];

	(void)snprintf(sql, sizeof(sql),
	               "SELECT COUNT(*) FROM %s WHERE client_id = ?"
	               " AND epoch = ?",
	               table);
	return hbr_store_count(out, s, sql, "si", client_id, epoch);
}

static int missing_error(const struct target *t, size_t n)
{
	struct hbr_buf msg = HBR_BUF_INIT;
	size_t missing = 0;
	int error;

	(void)hbr_buf_puts(&msg, "The specified client does not exist: ");
	for (size_t i = 0; i < n; i++) {
		if (t[i].epoch >= 0 || t[i].seen)
			continue;
		(void)hbr_buf_printf(&msg, "%s%s", missing ? ", " : "",
		                     t[i].id);
		missing++;
	}
	error = hbr_error_set(HBR_ENOCLIENT, "%s", hbr_buf_cstr(&msg));
	hbr_buf_release(&msg);
	return error;
}

int hbr_store_delete_client_resources_tx(struct hbr_delete_counts *out,
                                         struct hbr_store *s,
                                         const char *account_id,
                                         const char *const *client_ids,
                                         size_t n)
{
	struct hbr_delete_counts c = { 0 };
	struct target *t = hbr_calloc(n ? n : 1, sizeof(*t));
	int64_t now = hbr_time_now();
	bool any_missing = false;
	int error = 0;

	for (size_t i = 0; i < n; i++) {
		struct hbr_stmt *st = NULL;
		t[i].id = client_ids[i];
		t[i].epoch = -1;
		for (size_t k = 0; k < i; k++)
			if (!strcmp(t[k].id, t[i].id))
				t[i].seen = true;
		if (t[i].seen)
			continue;
		if ((error = hbr_store_queryf(
		             &st, s,
		             "SELECT epoch, backup_status"
		             " FROM live_clients WHERE"
		             " client_id = ? AND account_id = ?",
		             "ss", t[i].id, account_id)) < 0)
			goto out;
		if ((error = hbr_stmt_next(st)) == 1) {
			t[i].epoch = hbr_stmt_int(st, 0);
			t[i].unprotected =
			        !strcmp(hbr_stmt_text(st, 1), "UNPROTECTED");
		}
		hbr_stmt_done(st);
		if (error < 0)
			goto out;
		any_missing |= t[i].epoch < 0;
	}
	if (any_missing) {
		error = missing_error(t, n);
		goto out;
	}

	for (size_t i = 0; i < n; i++) {
		int64_t p = 0, j = 0, sn = 0, r = 0;
		if (t[i].seen)
			continue;
		if ((error = count_live(&p, s, "plans", t[i].id, t[i].epoch)) <
		            0 ||
		    (error = count_live(&j, s, "jobs", t[i].id, t[i].epoch)) <
		            0 ||
		    (error = count_live(&sn, s, "snapshots", t[i].id,
		                        t[i].epoch)) < 0 ||
		    (error = hbr_store_count(
		             &r, s,
		             "SELECT COUNT(*) FROM restore_jobs"
		             " WHERE source_client_id = ? AND status IN"
		             " ('CREATED','QUEUED','RUNNING','CANCELING')",
		             "s", t[i].id)) < 0)
			goto out;
		c.plans += p;
		c.jobs += j;
		c.snapshots += sn;
		c.restores_cancelled += r;
		if (p + j + sn > 0) {
			/* One row update hides every plan, job and
			 * snapshot of the client; the purge does the rest. */
			if ((error = hbr_store_execf(
			             s,
			             "UPDATE clients SET epoch = epoch + 1,"
			             " backup_status = 'UNPROTECTED',"
			             " updated_time = ? WHERE client_id = ?",
			             "is", now, t[i].id)) < 0 ||
			    (error = hbr_store_execf(
			             s,
			             "INSERT INTO purge_pending VALUES (?, ?)"
			             " ON CONFLICT (client_id) DO UPDATE"
			             " SET below_epoch = excluded.below_epoch",
			             "si", t[i].id, t[i].epoch + 1)) < 0)
				goto out;
		} else if (!t[i].unprotected &&
		           (error = hbr_store_execf(
		                    s,
		                    "UPDATE clients SET"
		                    " backup_status = 'UNPROTECTED',"
		                    " updated_time = ? WHERE client_id = ?",
		                    "is", now, t[i].id)) < 0) {
			goto out;
		}
		if (r > 0 &&
		    (error = hbr_store_execf(
		             s,
		             "UPDATE restore_jobs SET status = 'CANCELED',"
		             " updated_time = ? WHERE source_client_id = ?"
		             " AND status IN ('CREATED','QUEUED','RUNNING',"
		             "'CANCELING')",
		             "is", now, t[i].id)) < 0)
			goto out;
	}
	*out = c;
	error = 0;
out:
	hbr_free(t);
	return error;
}

int hbr_store_delete_client_resources(struct hbr_delete_counts *out,
                                      struct hbr_store *s,
                                      const char *account_id,
                                      const char *const *client_ids, size_t n,
                                      struct hbr_audit_entry *audit)
{
	struct hbr_delete_counts c = { 0 };
	int error;

	if ((error = hbr_store_begin(s)) < 0)
		return error;
	if ((error = hbr_store_delete_client_resources_tx(&c, s, account_id,
	                                                  client_ids, n)) < 0)
		goto fail;
	if (audit) {
		audit->plans_deleted = c.plans;
		audit->jobs_deleted = c.jobs;
		audit->snapshots_deleted = c.snapshots;
		if ((error = hbr_store_audit_insert(s, audit)) < 0)
			goto fail;
	}
	if ((error = hbr_store_commit(s)) < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	hbr_store_rollback(s);
	return error;
}

/* Move up to `budget` dead snapshots of the client into gc_queue, as two
 * set statements over the same ordered prefix (the transaction holds the
 * write lock, so both see the same rows). */
static int purge_snapshots(int64_t *moved, struct hbr_store *s,
                           const char *client_id, int64_t below, int64_t budget,
                           int64_t now)
{
	int64_t n = 0;
	int error;

	/* Counting the bounded prefix keeps the step's cost proportional to
	 * the batch, whatever the size of gc_queue or of the client. */
	if ((error = hbr_store_count(&n, s,
	                             "SELECT COUNT(*) FROM (SELECT 1 FROM"
	                             " snapshots WHERE client_id = ? AND"
	                             " epoch < ? LIMIT ?)",
	                             "sii", client_id, below, budget)) < 0)
		return error;
	if (n > 0 && ((error = hbr_store_execf(
	                       s,
	                       "INSERT INTO gc_queue (vault_id, snapshot_id,"
	                       " client_id, actual_bytes, doc, enqueued_time)"
	                       " SELECT vault_id, snapshot_id, client_id,"
	                       " actual_bytes, doc, ? FROM snapshots"
	                       " WHERE client_id = ? AND epoch < ?"
	                       " ORDER BY snapshot_id LIMIT ?",
	                       "isii", now, client_id, below, budget)) < 0 ||
	              (error = hbr_store_execf(
	                       s,
	                       "DELETE FROM snapshots WHERE snapshot_id IN"
	                       " (SELECT snapshot_id FROM snapshots"
	                       " WHERE client_id = ? AND epoch < ?"
	                       " ORDER BY snapshot_id LIMIT ?)",
	                       "sii", client_id, below, budget)) < 0))
		return error;
	*moved = n;
	return 0;
}

static int purge_table(int64_t *removed, struct hbr_store *s, const char *table,
                       const char *id_col, const char *client_id, int64_t below,
                       int64_t budget)
{
	int64_t before = 0;
	char sql[256];
	int error;

	(void)snprintf(sql, sizeof(sql),
	               "SELECT COUNT(*) FROM %s WHERE client_id = ?"
	               " AND epoch < ?",
	               table);
	if ((error = hbr_store_count(&before, s, sql, "si", client_id, below)) <
	    0)
		return error;
	if (before == 0) {
		*removed = 0;
		return 0;
	}
	(void)snprintf(sql, sizeof(sql),
	               "DELETE FROM %s WHERE %s IN (SELECT %s FROM %s"
	               " WHERE client_id = ? AND epoch < ? LIMIT ?)",
	               table, id_col, id_col, table);
	if ((error = hbr_store_execf(s, sql, "sii", client_id, below, budget)) <
	    0)
		return error;
	*removed = before < budget ? before : budget;
	return 0;
}

int hbr_store_purge_step(int64_t *done_out, struct hbr_store *s, int64_t batch)
{
	struct hbr_stmt *st = NULL;
	char client_id[HBR_ID_MAX] = "";
	int64_t below = 0, moved = 0, removed = 0, budget = batch;
	int error;

	if ((error = hbr_store_begin(s)) < 0)
		return error;
	if ((error = hbr_store_queryf(&st, s,
	                              "SELECT client_id, below_epoch FROM"
	                              " purge_pending LIMIT 1",
	                              NULL)) < 0)
		goto fail;
	if ((error = hbr_stmt_next(st)) == 1) {
		(void)snprintf(client_id, sizeof(client_id), "%s",
		               hbr_stmt_text(st, 0));
		below = hbr_stmt_int(st, 1);
	}
	hbr_stmt_done(st);
	if (error < 0)
		goto fail;
	if (!client_id[0]) {
		hbr_store_rollback(s);
		*done_out = 0;
		return 0;
	}
	if ((error = purge_snapshots(&moved, s, client_id, below, budget,
	                             hbr_time_now())) < 0)
		goto fail;
	budget -= moved;
	if (budget > 0) {
		if ((error = purge_table(&removed, s, "jobs", "job_id",
		                         client_id, below, budget)) < 0)
			goto fail;
		moved += removed;
		budget -= removed;
	}
	if (budget > 0) {
		if ((error = purge_table(&removed, s, "plans", "plan_id",
		                         client_id, below, budget)) < 0)
			goto fail;
		moved += removed;
		budget -= removed;
	}
	/* Budget left over means this client has nothing dead any more.
	 * A newer deletion raised below_epoch, so only this one's row
	 * goes. */
	if (budget > 0 &&
	    (error = hbr_store_execf(s,
	                             "DELETE FROM purge_pending WHERE"
	                             " client_id = ? AND below_epoch = ?",
	                             "si", client_id, below)) < 0)
		goto fail;
	if ((error = hbr_store_commit(s)) < 0)
		goto fail;
	/* Report at least 1 while work remains so callers loop again. */
	*done_out = moved > 0 ? moved : 1;
	return 0;
fail:
	hbr_store_rollback(s);
	return error;
}
