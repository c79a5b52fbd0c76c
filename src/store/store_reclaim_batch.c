/*
 * Reclamation rows, the batches (store_reclaim.h, docs/RECLAMATION.md):
 * which vaults have work, opening a vault's batch of deleted snapshots,
 * and moving it from phase to phase until it is closed. The decrements
 * a batch makes are in store_reclaim.c, the packs side in
 * store_reclaim_packs.c.
 */
#include "common.h"
#include "store/store_reclaim.h"
#include "store/store_reclaim_private.h"
#include "util/alloc.h"
#include "util/error.h"

void hbr_gc_batch_free(struct hbr_gc_batch *b)
{
	if (!b)
		return;
	hbr_free(b->snapshots);
	hbr_free(b->clients);
	memset(b, 0, sizeof(*b));
}

int hbr_gc_copy_name(char *out, const char *v)
{
	size_t len = strlen(v);

	if (len >= HBR_GC_NAME_MAX)
		return hbr_error_set(HBR_ECORRUPT, "name too long in store: %s",
		                     v);
	memcpy(out, v, len + 1);
	return 0;
}

/* The first column of every row of st as names, then st is done. */
int hbr_gc_collect_names(char (**out)[HBR_GC_NAME_MAX], size_t *n,
                         struct hbr_stmt *st)
{
	char(*list)[HBR_GC_NAME_MAX] = NULL;
	size_t cap = 0, len = 0;
	int rc;

	while ((rc = hbr_stmt_next(st)) > 0) {
		hbr_grow((void **)&list, &cap, len + 1, sizeof(*list));
		if ((rc = hbr_gc_copy_name(list[len], hbr_stmt_text(st, 0))) <
		    0)
			break;
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

int hbr_store_gc_vaults(char (**out)[HBR_GC_NAME_MAX], size_t *n,
                        struct hbr_store *s, int64_t now)
{
	struct hbr_stmt *st;
	int rc;

	(void)now;
	if ((rc = hbr_store_queryf(&st, s,
	                           "SELECT vault_id FROM gc_queue"
	                           " UNION SELECT vault_id FROM gc_batch"
	                           " UNION SELECT vault_id FROM packs"
	                           " WHERE live_bytes * 2 < bytes"
	                           " UNION SELECT vault_id FROM packs"
	                           " WHERE state IN ('deleting', 'writing')"
	                           " UNION SELECT vault_id FROM"
	                           " exclusive_recount",
	                           "")) < 0)
		return rc;
	return hbr_gc_collect_names(out, n, st);
}

static int load_batch(struct hbr_gc_batch *b, struct hbr_store *s,
                      const char *vault_id)
{
	struct hbr_stmt *st;
	size_t cap = 0, ccap = 0;
	int rc;

	if ((rc = hbr_store_queryf(&st, s,
	                           "SELECT snapshot_id, client_id FROM gc_queue"
	                           " WHERE vault_id = ? AND id BETWEEN ? AND ?"
	                           " ORDER BY id",
	                           "sii", vault_id, b->first_id, b->last_id)) <
	    0)
		return rc;
	while ((rc = hbr_stmt_next(st)) > 0) {
		const char *snap = hbr_stmt_text(st, 0),
		           *client = hbr_stmt_text(st, 1);

		if (strlen(snap) >= HBR_ID_MAX ||
		    strlen(client) >= HBR_ID_MAX) {
			rc = hbr_error_set(HBR_ECORRUPT,
			                   "gc_queue: id too long: %s", snap);
			break;
		}
		hbr_grow((void **)&b->snapshots, &cap, b->n + 1,
		         sizeof(*b->snapshots));
		hbr_grow((void **)&b->clients, &ccap, b->n + 1,
		         sizeof(*b->clients));
		memcpy(b->snapshots[b->n], snap, strlen(snap) + 1);
		memcpy(b->clients[b->n], client, strlen(client) + 1);
		b->n++;
	}
	hbr_stmt_done(st);
	return rc < 0 ? rc : 0;
}

int hbr_gc_batch_row(struct hbr_gc_batch *b, bool *found, struct hbr_store *s,
                     const char *vault_id)
{
	struct hbr_stmt *st;
	int rc;

	*found = false;
	if ((rc = hbr_store_queryf(&st, s,
	                           "SELECT first_id, last_id, cursor, done,"
	                           " phase FROM gc_batch WHERE vault_id = ?",
	                           "s", vault_id)) < 0)
		return rc;
	if ((rc = hbr_stmt_next(st)) > 0) {
		size_t len = 0;
		const void *cur = hbr_stmt_blob(st, 2, &len);

		*found = true;
		b->first_id = hbr_stmt_int(st, 0);
		b->last_id = hbr_stmt_int(st, 1);
		b->done = hbr_stmt_int(st, 3) != 0;
		b->phase = (int)hbr_stmt_int(st, 4);
		b->has_cursor = cur && len == HBR_CHUNK_ID_LEN;
		if (b->has_cursor)
			memcpy(b->cursor, cur, len);
	}
	hbr_stmt_done(st);
	return rc < 0 ? rc : 0;
}

int hbr_store_gc_batch_open(struct hbr_gc_batch *b, struct hbr_store *s,
                            const char *vault_id, size_t max_items)
{
	struct hbr_stmt *st;
	bool found = false;
	int rc;

	memset(b, 0, sizeof(*b));
	if ((rc = hbr_store_begin(s)) < 0)
		return rc;
	if ((rc = hbr_gc_batch_row(b, &found, s, vault_id)) < 0)
		goto fail;
	if (!found) {
		int64_t last = -1, first = -1;

		if ((rc = hbr_store_queryf(&st, s,
		                           "SELECT id FROM gc_queue WHERE"
		                           " vault_id = ? ORDER BY id LIMIT ?",
		                           "si", vault_id,
		                           (int64_t)max_items)) < 0)
			goto fail;
		while ((rc = hbr_stmt_next(st)) > 0) {
			if (first < 0)
				first = hbr_stmt_int(st, 0);
			last = hbr_stmt_int(st, 0);
		}
		hbr_stmt_done(st);
		if (rc < 0)
			goto fail;
		if (first < 0)
			return hbr_store_commit(s);
		b->first_id = first;
		b->last_id = last;
		b->phase = HBR_GC_PHASE_ZERO;
		if ((rc = hbr_store_execf(s,
		                          "INSERT INTO gc_batch (vault_id,"
		                          " first_id, last_id, phase)"
		                          " VALUES (?, ?, ?, ?)",
		                          "siii", vault_id, first, last,
		                          (int64_t)HBR_GC_PHASE_ZERO)) < 0)
			goto fail;
	}
	if ((rc = load_batch(b, s, vault_id)) < 0 ||
	    (rc = hbr_store_commit(s)) < 0)
		goto fail;
	return 0;
fail:
	hbr_store_rollback(s);
	hbr_gc_batch_free(b);
	return rc;
}

/* In the caller's transaction: HBR_ECONFLICT unless the vault's batch
 * is still b in b's phase and (first_id given) not done, with only ids
 * below first_id done in the phase. */
int hbr_gc_batch_is(struct hbr_store *s, const char *vault_id,
                    const struct hbr_gc_batch *b, const uint8_t *first_id)
{
	struct hbr_gc_batch now = { 0 };
	bool ours = false;
	int rc;

	if ((rc = hbr_gc_batch_row(&now, &ours, s, vault_id)) < 0)
		return rc;
	ours = ours && now.first_id == b->first_id &&
	       now.last_id == b->last_id && now.phase == b->phase;
	if (ours && first_id)
		ours = !now.done &&
		       (!now.has_cursor ||
		        memcmp(now.cursor, first_id, HBR_CHUNK_ID_LEN) < 0);
	if (!ours)
		return hbr_error_set(HBR_ECONFLICT,
		                     "vault %s: another reclaimer moved the"
		                     " batch on",
		                     vault_id);
	return 0;
}

int hbr_store_gc_batch_zeroed(struct hbr_store *s, const char *vault_id,
                              struct hbr_gc_batch *b)
{
	int rc;

	HBR_ASSERT(b->phase == HBR_GC_PHASE_ZERO);
	if ((rc = hbr_store_begin(s)) < 0)
		return rc;
	if ((rc = hbr_gc_batch_is(s, vault_id, b, NULL)) < 0 ||
	    (rc = hbr_store_execf(s,
	                          "UPDATE gc_batch SET phase = ?,"
	                          " cursor = NULL WHERE vault_id = ?",
	                          "is", (int64_t)HBR_GC_PHASE_REST, vault_id)) <
	            0 ||
	    (rc = hbr_store_commit(s)) < 0) {
		hbr_store_rollback(s);
		return rc;
	}
	b->phase = HBR_GC_PHASE_REST;
	b->has_cursor = false;
	return 0;
}

int hbr_store_gc_batch_done(struct hbr_store *s, const char *vault_id,
                            const struct hbr_gc_batch *b)
{
	int rc;

	if ((rc = hbr_store_begin(s)) < 0)
		return rc;
	if ((rc = hbr_gc_batch_is(s, vault_id, b, NULL)) < 0 ||
	    (rc = hbr_store_execf(s,
	                          "UPDATE gc_batch SET done = 1"
	                          " WHERE vault_id = ?",
	                          "s", vault_id)) < 0 ||
	    (rc = hbr_store_commit(s)) < 0) {
		hbr_store_rollback(s);
		return rc;
	}
	return 0;
}

int hbr_store_gc_batch_close(struct hbr_store *s, const char *vault_id,
                             const struct hbr_gc_batch *b)
{
	int rc;

	if ((rc = hbr_store_begin(s)) < 0)
		return rc;
	if ((rc = hbr_gc_batch_is(s, vault_id, b, NULL)) == HBR_ECONFLICT) {
		/* Closed already, by another reclaimer. */
		hbr_store_rollback(s);
		return 0;
	}
	if (rc < 0 ||
	    (rc = hbr_store_execf(s,
	                          "DELETE FROM gc_queue WHERE vault_id = ?"
	                          " AND id BETWEEN ? AND ?",
	                          "sii", vault_id, b->first_id, b->last_id)) <
	            0 ||
	    (rc = hbr_store_execf(s, "DELETE FROM gc_batch WHERE vault_id = ?",
	                          "s", vault_id)) < 0 ||
	    (rc = hbr_store_execf(s, "DELETE FROM gc_zeroed WHERE vault_id = ?",
	                          "s", vault_id)) < 0 ||
	    (rc = hbr_store_commit(s)) < 0) {
		hbr_store_rollback(s);
		return rc;
	}
	return 0;
}
