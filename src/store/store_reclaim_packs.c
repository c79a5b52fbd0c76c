/*
 * Reclamation rows, the packs side (store_reclaim.h, docs/RECLAMATION.md):
 * which packs a pass looks at, dropping and forgetting emptied ones,
 * switching a rewritten pack's chunks, forgetting a deleted vault, and
 * the read-only queries of `hbrd vault check`. The batches are in
 * store_reclaim_batch.c, the counts in store_reclaim.c.
 */
#include "common.h"
#include "store/store_reclaim.h"
#include "store/store_reclaim_private.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/timeutil.h"

/*
 * "The chunks of one pack" for a query that reads columns the pack index
 * lacks. Written as `vault_id = ? AND pack_id = ?`, SQLite without table
 * statistics scans every chunk of the vault by primary key instead of
 * following the index back into the table: each emptied pack cost a scan
 * of the whole vault. Through the index's chunk ids it is a lookup per
 * chunk of the pack (binds: vault_id, pack_id).
 */
#define IN_PACK                                                        \
	" chunk_id IN (SELECT chunk_id FROM chunks WHERE vault_id = ?" \
	" AND pack_id = ?)"

int hbr_store_gc_packs(struct hbr_gc_pack **out, size_t *n, struct hbr_store *s,
                       const char *vault_id, int64_t live_before,
                       int64_t stale_before, size_t max)
{
	struct hbr_stmt *st;
	struct hbr_gc_pack *list = NULL;
	size_t cap = 0, len = 0;
	int rc;

	/* Leftovers first: removing them is all that is left to do, and
	 * a pass that only gives space back (gc_reclaim.c) must reach them
	 * whatever the number of sparse packs. */
	if ((rc = hbr_store_queryf(
	             &st, s,
	             "SELECT pack_id, state, bytes, live_bytes"
	             " FROM packs WHERE vault_id = ? AND (state = 'deleting'"
	             " OR (state = 'writing' AND created_time < ?))"
	             " UNION ALL SELECT pack_id, state, bytes, live_bytes"
	             " FROM packs WHERE vault_id = ? AND live_bytes * 2 < bytes"
	             " AND state = 'live' AND created_time < ?"
	             " LIMIT ?",
	             "sisii", vault_id, stale_before, vault_id, live_before,
	             (int64_t)max)) < 0)
		return rc;
	while ((rc = hbr_stmt_next(st)) > 0) {
		struct hbr_gc_pack *p;

		hbr_grow((void **)&list, &cap, len + 1, sizeof(*list));
		p = &list[len];
		memset(p, 0, sizeof(*p));
		if ((rc = hbr_gc_copy_name(p->pack_id, hbr_stmt_text(st, 0))) <
		    0)
			break;
		(void)snprintf(p->state, sizeof(p->state), "%s",
		               hbr_stmt_text(st, 1));
		p->bytes = hbr_stmt_int(st, 2);
		p->live_bytes = hbr_stmt_int(st, 3);
		len++;
	}
	hbr_stmt_done(st);
	if (rc < 0) {
		hbr_free(list);
		return rc;
	}
	*out = list;
	*n = len;
	return 0;
}

int hbr_store_gc_cutoff(int64_t *out, struct hbr_store *s, const char *vault_id,
                        int64_t now)
{
	struct hbr_stmt *st;
	int64_t cutoff = now + 1;
	int rc;

	/* Without a running backup nothing can have deduplicated against a
	 * dead chunk, so everything dead so far may go. A RUNNING job that
	 * never recorded its start protects everything (COALESCE to 0). */
	if ((rc = hbr_store_queryf(&st, s,
	                           "SELECT MIN(COALESCE(start_time, 0))"
	                           " FROM live_jobs WHERE vault_id = ?"
	                           " AND status = 'RUNNING'",
	                           "s", vault_id)) < 0)
		return rc;
	if ((rc = hbr_stmt_next(st)) > 0 && !hbr_stmt_is_null(st, 0) &&
	    hbr_stmt_int(st, 0) < cutoff)
		cutoff = hbr_stmt_int(st, 0);
	hbr_stmt_done(st);
	if (rc < 0)
		return rc;
	*out = cutoff;
	return 0;
}

/* Chunks of the pack that must stay: referenced, or dead too recently
 * (a running backup may have deduplicated against them). */
static int count_kept(int64_t *out, struct hbr_store *s, const char *vault_id,
                      const char *pack_id, int64_t cutoff)
{
	return hbr_store_count(out, s,
	                       "SELECT COUNT(*) FROM chunks WHERE vault_id = ?"
	                       " AND" IN_PACK " AND (refs > 0"
	                       " OR COALESCE(dead_since, 0) >= ?)",
	                       "sssi", vault_id, vault_id, pack_id, cutoff);
}

/* Inside a transaction: drop the pack unless something in it is kept,
 * but for `taking` chunks the caller takes to 0 in the transaction. */
int hbr_gc_drop_pack(bool *dropped_out, struct hbr_store *s,
                     const char *vault_id, const char *pack_id, int64_t cutoff,
                     int64_t taking)
{
	int64_t kept = 0;
	int rc;

	*dropped_out = false;
	if ((rc = count_kept(&kept, s, vault_id, pack_id, cutoff)) < 0 ||
	    kept != taking)
		return rc;
	if ((rc = hbr_store_execf(s,
	                          "DELETE FROM chunks WHERE vault_id = ?"
	                          " AND pack_id = ?",
	                          "ss", vault_id, pack_id)) < 0 ||
	    (rc = hbr_store_execf(s,
	                          "UPDATE packs SET state = 'deleting',"
	                          " live_bytes = 0 WHERE vault_id = ?"
	                          " AND pack_id = ? AND state = 'live'",
	                          "ss", vault_id, pack_id)) < 0)
		return rc;
	*dropped_out = true;
	return 0;
}

int hbr_store_gc_packs_drop(bool *dropped, struct hbr_store *s,
                            const char *vault_id,
                            const struct hbr_gc_pack *packs, size_t n,
                            int64_t now)
{
	int64_t cutoff = 0;
	int rc;

	memset(dropped, 0, n * sizeof(*dropped));
	if ((rc = hbr_store_begin(s)) < 0)
		return rc;
	/* The cutoff is read inside the transaction that drops: a job that
	 * starts, or a check that revives a chunk, is either before it
	 * (and seen) or after it (and finds the rows gone). */
	if ((rc = hbr_store_gc_cutoff(&cutoff, s, vault_id, now)) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if ((rc = hbr_gc_drop_pack(&dropped[i], s, vault_id,
		                           packs[i].pack_id, cutoff, 0)) < 0)
			goto fail;
	if ((rc = hbr_store_commit(s)) < 0)
		goto fail;
	return 0;
fail:
	hbr_store_rollback(s);
	memset(dropped, 0, n * sizeof(*dropped));
	return rc;
}

int hbr_store_gc_packs_forget(struct hbr_store *s, const char *vault_id,
                              const struct hbr_gc_pack *packs,
                              const bool *which, size_t n)
{
	int rc;

	if ((rc = hbr_store_begin(s)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (which[i] && (rc = hbr_store_execf(
		                         s,
		                         "DELETE FROM packs WHERE vault_id = ?"
		                         " AND pack_id = ? AND state <> 'live'",
		                         "ss", vault_id, packs[i].pack_id)) < 0)
			goto fail;
	if ((rc = hbr_store_commit(s)) < 0)
		goto fail;
	return 0;
fail:
	hbr_store_rollback(s);
	return rc;
}

int hbr_store_gc_pack_drop(bool *dropped_out, struct hbr_store *s,
                           const char *vault_id, const char *pack_id,
                           int64_t now)
{
	struct hbr_gc_pack p = { 0 };

	(void)snprintf(p.pack_id, sizeof(p.pack_id), "%s", pack_id);
	return hbr_store_gc_packs_drop(dropped_out, s, vault_id, &p, 1, now);
}

int hbr_store_gc_pack_chunks(struct hbr_gc_chunk **out, size_t *n,
                             struct hbr_store *s, const char *vault_id,
                             const char *pack_id)
{
	struct hbr_stmt *st;
	struct hbr_gc_chunk *list = NULL;
	size_t cap = 0, len = 0;
	int rc;

	if ((rc = hbr_store_queryf(&st, s,
	                           "SELECT chunk_id, pack_offset, stored_len,"
	                           " refs, COALESCE(dead_since, 0) FROM chunks"
	                           " WHERE vault_id = ? AND" IN_PACK,
	                           "sss", vault_id, vault_id, pack_id)) < 0)
		return rc;
	while ((rc = hbr_stmt_next(st)) > 0) {
		size_t idlen = 0;
		const void *id = hbr_stmt_blob(st, 0, &idlen);
		struct hbr_gc_chunk *c;

		if (!id || idlen != HBR_CHUNK_ID_LEN) {
			rc = hbr_error_set(HBR_ECORRUPT,
			                   "chunk row of pack %s has a bad id",
			                   pack_id);
			break;
		}
		hbr_grow((void **)&list, &cap, len + 1, sizeof(*list));
		c = &list[len++];
		memcpy(c->id, id, HBR_CHUNK_ID_LEN);
		c->offset = (uint64_t)hbr_stmt_int(st, 1);
		c->stored_len = (uint32_t)hbr_stmt_int(st, 2);
		c->refs = hbr_stmt_int(st, 3);
		c->dead_since = hbr_stmt_int(st, 4);
	}
	hbr_stmt_done(st);
	if (rc < 0) {
		hbr_free(list);
		return rc;
	}
	*out = list;
	*n = len;
	return 0;
}

int hbr_store_gc_pack_switch(bool *switched_out, struct hbr_store *s,
                             const char *vault_id, const char *old_pack,
                             const char *new_pack,
                             const struct hbr_gc_chunk *copied, size_t n,
                             int64_t now)
{
	int64_t kept = 0, live = 0, cutoff = 0;
	int rc;

	*switched_out = false;
	if ((rc = hbr_store_begin(s)) < 0)
		return rc;
	/* Another reclaimer may have rewritten or dropped the pack since
	 * it was listed: then this copy is not needed. */
	if ((rc = hbr_store_gc_cutoff(&cutoff, s, vault_id, now)) < 0 ||
	    (rc = hbr_store_gc_pack_is_live(s, vault_id, old_pack)) < 0)
		goto fail;
	if (!rc) {
		hbr_store_rollback(s);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		/* A row no longer in the old pack (another rewrite got there
		 * first) is left alone by the pack_id condition. */
		if ((rc = hbr_store_execf(
		             s,
		             "UPDATE chunks SET pack_id = ?,"
		             " pack_offset = ? WHERE vault_id = ?"
		             " AND chunk_id = ? AND pack_id = ?",
		             "sisbs", new_pack, (int64_t)copied[i].offset,
		             vault_id, copied[i].id, (size_t)HBR_CHUNK_ID_LEN,
		             old_pack)) < 0)
			goto fail;
	}
	/* What is left in the old pack was not copied: it must all be
	 * droppable, or the pack is looked at again next pass. */
	if ((rc = count_kept(&kept, s, vault_id, old_pack, cutoff)) < 0)
		goto fail;
	if (kept) {
		hbr_store_rollback(s);
		return 0;
	}
	if ((rc = hbr_store_execf(s,
	                          "DELETE FROM chunks WHERE vault_id = ?"
	                          " AND pack_id = ?",
	                          "ss", vault_id, old_pack)) < 0 ||
	    (rc = hbr_store_count(&live, s,
	                          "SELECT COALESCE(SUM(stored_len + ?), 0)"
	                          " FROM chunks WHERE vault_id = ?"
	                          " AND" IN_PACK " AND refs > 0",
	                          "isss", (int64_t)HBR_PACK_ENTRY_LEN, vault_id,
	                          vault_id, new_pack)) < 0)
		goto fail;
	if (!live) {
		/* Nothing referenced moved: it all died meanwhile. The old
		 * pack is dropped whole by a later pass; the copy goes. */
		hbr_store_rollback(s);
		return 0;
	}
	if ((rc = hbr_store_execf(s,
	                          "UPDATE packs SET state = 'live',"
	                          " live_bytes = ? WHERE vault_id = ?"
	                          " AND pack_id = ?",
	                          "iss", live, vault_id, new_pack)) < 0 ||
	    (rc = hbr_store_execf(s,
	                          "UPDATE packs SET state = 'deleting',"
	                          " live_bytes = 0 WHERE vault_id = ?"
	                          " AND pack_id = ?",
	                          "ss", vault_id, old_pack)) < 0 ||
	    (rc = hbr_store_commit(s)) < 0)
		goto fail;
	*switched_out = true;
	return 0;
fail:
	hbr_store_rollback(s);
	return rc;
}

int hbr_store_gc_pack_forget(struct hbr_store *s, const char *vault_id,
                             const char *pack_id)
{
	return hbr_store_execf(s,
	                       "DELETE FROM packs WHERE vault_id = ?"
	                       " AND pack_id = ? AND state <> 'live'",
	                       "ss", vault_id, pack_id);
}

int hbr_store_gc_vault_live(struct hbr_store *s, const char *vault_id)
{
	int64_t n = 0;
	int rc = hbr_store_count(&n, s,
	                         "SELECT COUNT(*) FROM live_vaults"
	                         " WHERE vault_id = ?",
	                         "s", vault_id);

	return rc < 0 ? rc : n > 0;
}

int hbr_store_gc_forget_vault(int64_t *left_out, struct hbr_store *s,
                              const char *vault_id, int64_t limit)
{
	int64_t left = 0;
	int rc;

	if ((rc = hbr_store_begin(s)) < 0)
		return rc;
	/* Bounded steps: a large vault's rows go in many short
	 * transactions, never one that holds the writer for seconds. */
	if ((rc = hbr_store_execf(s,
	                          "DELETE FROM chunk_shares WHERE vault_no ="
	                          " (SELECT no FROM share_names WHERE"
	                          " name = ?) AND chunk_id IN (SELECT"
	                          " chunk_id FROM chunks WHERE vault_id = ?"
	                          " LIMIT ?)",
	                          "ssi", vault_id, vault_id, limit)) < 0 ||
	    (rc = hbr_store_execf(s,
	                          "DELETE FROM chunks WHERE vault_id = ? AND"
	                          " chunk_id IN (SELECT chunk_id FROM chunks"
	                          " WHERE vault_id = ? LIMIT ?)",
	                          "ssi", vault_id, vault_id, limit)) < 0 ||
	    (rc = hbr_store_count(&left, s,
	                          "SELECT COUNT(*) FROM (SELECT 1 FROM chunks"
	                          " WHERE vault_id = ? LIMIT 1) t",
	                          "s", vault_id)) < 0)
		goto fail;
	if (!left &&
	    ((rc = hbr_store_execf(s, "DELETE FROM packs WHERE vault_id = ?",
	                           "s", vault_id)) < 0 ||
	     (rc = hbr_store_execf(s, "DELETE FROM gc_queue WHERE vault_id = ?",
	                           "s", vault_id)) < 0 ||
	     (rc = hbr_store_execf(s, "DELETE FROM gc_batch WHERE vault_id = ?",
	                           "s", vault_id)) < 0 ||
	     (rc = hbr_store_execf(s, "DELETE FROM gc_zeroed WHERE vault_id = ?",
	                           "s", vault_id)) < 0 ||
	     (rc = hbr_store_execf(s,
	                           "DELETE FROM client_bytes WHERE"
	                           " vault_id = ?",
	                           "s", vault_id)) < 0 ||
	     (rc = hbr_store_execf(s,
	                           "DELETE FROM chunk_shares WHERE"
	                           " vault_no = (SELECT no FROM share_names"
	                           " WHERE name = ?)",
	                           "s", vault_id)) < 0 ||
	     (rc = hbr_store_execf(s,
	                           "DELETE FROM exclusive_recount WHERE"
	                           " vault_id = ?",
	                           "s", vault_id)) < 0))
		goto fail;
	if ((rc = hbr_store_commit(s)) < 0)
		goto fail;
	*left_out = left;
	return 0;
fail:
	hbr_store_rollback(s);
	return rc;
}

int hbr_store_gc_each_pack(struct hbr_store *s, const char *vault_id,
                           hbr_gc_pack_cb *cb, void *payload)
{
	struct hbr_stmt *st;
	int rc;

	if ((rc = hbr_store_queryf(&st, s,
	                           "SELECT pack_id, state, bytes, live_bytes"
	                           " FROM packs WHERE vault_id = ?",
	                           "s", vault_id)) < 0)
		return rc;
	while ((rc = hbr_stmt_next(st)) > 0) {
		struct hbr_gc_pack p = { .bytes = hbr_stmt_int(st, 2),
			                 .live_bytes = hbr_stmt_int(st, 3) };

		if ((rc = hbr_gc_copy_name(p.pack_id, hbr_stmt_text(st, 0))) <
		    0)
			break;
		(void)snprintf(p.state, sizeof(p.state), "%s",
		               hbr_stmt_text(st, 1));
		if ((rc = cb(&p, payload)) != 0)
			break;
	}
	hbr_stmt_done(st);
	return rc < 0 ? rc : 0;
}

int hbr_store_gc_each_snapshot(struct hbr_store *s, const char *vault_id,
                               hbr_gc_snapshot_cb *cb, void *payload)
{
	struct hbr_stmt *st;
	int rc;

	if ((rc = hbr_store_queryf(&st, s,
	                           "SELECT snapshot_id, 0 FROM live_snapshots"
	                           " WHERE vault_id = ? AND tree IS NOT NULL"
	                           " UNION ALL SELECT snapshot_id, 1"
	                           " FROM gc_queue WHERE vault_id = ?",
	                           "ss", vault_id, vault_id)) < 0)
		return rc;
	while ((rc = hbr_stmt_next(st)) > 0)
		if ((rc = cb(hbr_stmt_text(st, 0), hbr_stmt_int(st, 1) != 0,
		             payload)) != 0)
			break;
	hbr_stmt_done(st);
	return rc < 0 ? rc : 0;
}

int hbr_store_gc_stray_chunks(int64_t *out, struct hbr_store *s,
                              const char *vault_id)
{
	return hbr_store_count(out, s,
	                       "SELECT COUNT(*) FROM chunks c WHERE"
	                       " c.vault_id = ? AND NOT EXISTS (SELECT 1"
	                       " FROM packs p WHERE p.vault_id = c.vault_id"
	                       " AND p.pack_id = c.pack_id"
	                       " AND p.state = 'live')",
	                       "s", vault_id);
}

int hbr_store_gc_pack_is_live(struct hbr_store *s, const char *vault_id,
                              const char *pack_id)
{
	int64_t n = 0;
	int rc = hbr_store_count(&n, s,
	                         "SELECT COUNT(*) FROM packs WHERE"
	                         " vault_id = ? AND pack_id = ?"
	                         " AND state = 'live'",
	                         "ss", vault_id, pack_id);

	return rc < 0 ? rc : n > 0;
}

int hbr_store_gc_snapshot_is_live(struct hbr_store *s, const char *snapshot_id)
{
	int64_t n = 0;
	int rc = hbr_store_count(&n, s,
	                         "SELECT COUNT(*) FROM live_snapshots WHERE"
	                         " snapshot_id = ? AND tree IS NOT NULL",
	                         "s", snapshot_id);

	return rc < 0 ? rc : n > 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

int hbr_store_gc_orphan_refs(bool *orphan, bool *running_out,
                             struct hbr_store *s, const char *vault_id,
                             const char (*ids)[HBR_ID_MAX], size_t n)
{
	char(*queued)[HBR_ID_MAX] = NULL;
	size_t nq = 0, cap = 0;
	int64_t running = 0;
	struct hbr_stmt *st;
	bool txn;
	int rc;

	*running_out = false;
	for (size_t i = 0; i < n; i++)
		orphan[i] = false;
	/* One moment's view: the RUNNING jobs and the rows agree. */
	txn = s->ops->exec(s, "BEGIN") == 0;
	if ((rc = hbr_store_count(&running, s,
	                          "SELECT COUNT(*) FROM live_jobs WHERE"
	                          " vault_id = ? AND status = 'RUNNING'",
	                          "s", vault_id)) < 0)
		goto out;
	*running_out = running > 0;
	if (running)
		goto out;
	if ((rc = hbr_store_queryf(&st, s,
	                           "SELECT snapshot_id FROM gc_queue"
	                           " WHERE vault_id = ?",
	                           "s", vault_id)) < 0)
		goto out;
	while ((rc = hbr_stmt_next(st)) > 0) {
		hbr_grow((void **)&queued, &cap, nq + 1, sizeof(*queued));
		(void)snprintf(queued[nq++], HBR_ID_MAX, "%s",
		               hbr_stmt_text(st, 0));
	}
	hbr_stmt_done(st);
	if (rc < 0)
		goto out;
	if (nq)
		qsort(queued, nq, sizeof(*queued), cmp_name);
	for (size_t i = 0; i < n; i++) {
		int64_t rows = 0;

		if ((rc = hbr_store_count(&rows, s,
		                          "SELECT COUNT(*) FROM snapshots"
		                          " WHERE snapshot_id = ?",
		                          "s", ids[i])) < 0)
			goto out;
		orphan[i] =
		        !rows && !(nq && bsearch(ids[i], queued, nq,
		                                 sizeof(*queued), cmp_name));
	}
out:
	if (txn)
		hbr_store_rollback(s);
	hbr_free(queued);
	if (rc < 0) {
		for (size_t i = 0; i < n; i++)
			orphan[i] = false;
		return rc;
	}
	return 0;
}

int hbr_store_gc_live_vaults(char (**out)[HBR_GC_NAME_MAX], size_t *n,
                             struct hbr_store *s)
{
	struct hbr_stmt *st;
	int rc;

	if ((rc = hbr_store_queryf(&st, s, "SELECT vault_id FROM live_vaults",
	                           "")) < 0)
		return rc;
	return hbr_gc_collect_names(out, n, st);
}

int hbr_store_gc_purge_pending(int64_t *out, struct hbr_store *s)
{
	return hbr_store_count(out, s, "SELECT COUNT(*) FROM purge_pending",
	                       "");
}
