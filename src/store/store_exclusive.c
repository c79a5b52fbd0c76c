/*
 * Who holds each chunk, from scratch (store_exclusive.h): the sources of
 * a vault's counts, the comparison `hbrd vault check` makes, and the
 * recount migration 11 asks for.
 */
#include "common.h"
#include <stdarg.h>
#include "store/store_data.h"
#include "store/store_exclusive.h"
#include "store/store_reclaim_private.h"
#include "util/alloc.h"
#include "util/error.h"

static int cmp_source(const void *a, const void *b)
{
	return strcmp(((const struct hbr_excl_source *)a)->snapshot_id,
	              ((const struct hbr_excl_source *)b)->snapshot_id);
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, HBR_CHUNK_ID_LEN);
}

void hbr_excl_sources_free(struct hbr_excl_sources *src)
{
	if (!src)
		return;
	hbr_free(src->list);
	hbr_free(src->zeroed);
	memset(src, 0, sizeof(*src));
}

bool hbr_excl_applied(const struct hbr_excl_sources *src, const uint8_t *id)
{
	if (!src->batch)
		return false;
	if (src->done)
		return true;
	if (src->nzeroed &&
	    bsearch(id, src->zeroed, src->nzeroed, HBR_CHUNK_ID_LEN, cmp_id))
		return true;
	/* Phase 1's cursor says how far it looked, not what it lowered:
	 * only gc_zeroed lists that. */
	return src->phase == HBR_GC_PHASE_REST && src->has_cursor &&
	       memcmp(id, src->cursor, HBR_CHUNK_ID_LEN) <= 0;
}

static int read_batch(struct hbr_excl_sources *out, int64_t *first,
                      int64_t *last, struct hbr_store *s, const char *vault_id)
{
	struct hbr_gc_batch b = { 0 };
	bool found;
	int rc;

	if ((rc = hbr_gc_batch_row(&b, &found, s, vault_id)) < 0 || !found)
		return rc;
	out->batch = true;
	*first = b.first_id;
	*last = b.last_id;
	out->done = b.done;
	out->phase = b.phase;
	out->has_cursor = b.has_cursor;
	if (b.has_cursor)
		memcpy(out->cursor, b.cursor, HBR_CHUNK_ID_LEN);
	return 0;
}

static int read_zeroed(struct hbr_excl_sources *out, struct hbr_store *s,
                       const char *vault_id)
{
	struct hbr_stmt *st;
	size_t cap = 0;
	int rc;

	if ((rc = hbr_store_queryf(&st, s,
	                           "SELECT chunk_id FROM gc_zeroed WHERE"
	                           " vault_id = ? ORDER BY chunk_id",
	                           "s", vault_id)) < 0)
		return rc;
	while ((rc = hbr_stmt_next(st)) > 0) {
		size_t len = 0;
		const void *id = hbr_stmt_blob(st, 0, &len);

		if (!id || len != HBR_CHUNK_ID_LEN)
			continue;
		hbr_grow((void **)&out->zeroed, &cap, out->nzeroed + 1,
		         HBR_CHUNK_ID_LEN);
		memcpy(out->zeroed + out->nzeroed++ * HBR_CHUNK_ID_LEN, id,
		       HBR_CHUNK_ID_LEN);
	}
	hbr_stmt_done(st);
	return rc < 0 ? rc : 0;
}

static int read_sources(struct hbr_excl_sources *out, struct hbr_store *s,
                        const char *vault_id)
{
	int64_t first = 0, last = -1, pending = 0;
	struct hbr_stmt *st;
	size_t cap = 0;
	int rc;

	if ((rc = hbr_store_count(&pending, s,
	                          "SELECT COUNT(*) FROM exclusive_recount"
	                          " WHERE vault_id = ?",
	                          "s", vault_id)) < 0 ||
	    (rc = read_batch(out, &first, &last, s, vault_id)) < 0 ||
	    (out->batch && (rc = read_zeroed(out, s, vault_id)) < 0))
		return rc;
	out->recount = pending > 0;
	/* Moving a snapshot to gc_queue deletes its row in the same
	 * transaction: each is named once. */
	if ((rc = hbr_store_queryf(&st, s,
	                           "SELECT snapshot_id, client_id, NULL"
	                           " FROM snapshots WHERE vault_id = ?"
	                           " AND tree IS NOT NULL UNION ALL"
	                           " SELECT snapshot_id, client_id, id"
	                           " FROM gc_queue WHERE vault_id = ?",
	                           "ss", vault_id, vault_id)) < 0)
		return rc;
	while ((rc = hbr_stmt_next(st)) > 0) {
		struct hbr_excl_source *e;
		const char *snap = hbr_stmt_text(st, 0),
		           *client = hbr_stmt_text(st, 1);

		if (strlen(snap) >= HBR_ID_MAX ||
		    strlen(client) >= HBR_ID_MAX) {
			rc = hbr_error_set(HBR_ECORRUPT,
			                   "snapshot id too long in store: %s",
			                   snap);
			break;
		}
		hbr_grow((void **)&out->list, &cap, out->n + 1,
		         sizeof(*out->list));
		e = &out->list[out->n++];
		memcpy(e->snapshot_id, snap, strlen(snap) + 1);
		memcpy(e->client_id, client, strlen(client) + 1);
		e->queued = !hbr_stmt_is_null(st, 2);
		e->in_batch = e->queued && out->batch &&
		              hbr_stmt_int(st, 2) >= first &&
		              hbr_stmt_int(st, 2) <= last;
	}
	hbr_stmt_done(st);
	if (rc < 0)
		return rc;
	if (out->n)
		qsort(out->list, out->n, sizeof(*out->list), cmp_source);
	return 0;
}

int hbr_store_excl_sources(struct hbr_excl_sources *out, struct hbr_store *s,
                           const char *vault_id)
{
	bool txn;
	int rc;

	memset(out, 0, sizeof(*out));
	/* One moment's view, unless the caller's transaction is one. */
	txn = s->ops->exec(s, "BEGIN") == 0;
	rc = read_sources(out, s, vault_id);
	if (txn)
		hbr_store_rollback(s);
	if (rc < 0)
		hbr_excl_sources_free(out);
	return rc;
}

/* ---- walking the chunk rows with the references ---- */

/* A chunk row as the walk reads it. */
struct chunk_row {
	uint8_t id[HBR_CHUNK_ID_LEN];
	int64_t refs, owner_refs, stored_len;
	char owner[HBR_ID_MAX]; /* "" for none */
};

static bool alone(const struct chunk_row *r)
{
	return r->owner[0] && r->owner_refs > 0 && r->refs == r->owner_refs;
}

static int read_row(struct chunk_row *r, struct hbr_stmt *st)
{
	size_t len = 0;
	const void *id = hbr_stmt_blob(st, 0, &len);

	if (!id || len != HBR_CHUNK_ID_LEN)
		return hbr_error_set(HBR_ECORRUPT, "chunk row with a bad id");
	memcpy(r->id, id, HBR_CHUNK_ID_LEN);
	r->refs = hbr_stmt_int(st, 1);
	(void)snprintf(r->owner, sizeof(r->owner), "%s", hbr_stmt_text(st, 2));
	r->owner_refs = hbr_stmt_int(st, 3);
	r->stored_len = hbr_stmt_int(st, 4);
	return 0;
}

/* The references of truth entry i: their sum, how many clients, and
 * the last client. */
static void refs_of(int64_t *total, size_t *nclients, uint32_t *client,
                    const struct hbr_excl_truth *t, size_t i)
{
	const struct hbr_gc_dec *d = &t->refs;

	*total = 0;
	*nclients = 0;
	for (size_t k = d->first[i]; k < d->first[i + 1]; k++) {
		*total += d->by[k].count;
		*nclients += d->by[k].count > 0;
		if (d->by[k].count > 0)
			*client = d->by[k].client;
	}
}

/* Count one more finding; the first is described. */
static void note(int64_t *count, char *first, size_t size, const uint8_t *id,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void note(int64_t *count, char *first, size_t size, const uint8_t *id,
                 const char *fmt, ...)
{
	char hex[HBR_CHUNK_HEX_LEN], what[96];
	va_list ap;

	if ((*count)++)
		return;
	hbr_chunk_id_hex(hex, id);
	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	(void)snprintf(first, size, "chunk %s: %s", hex, what);
}

/* A chunk's shares as read, for one id. */
struct row_share {
	char client[HBR_ID_MAX];
	int64_t refs;
};

/* The shares (sorted by client) equal the truth's counts of entry i. */
static bool shares_match(const struct row_share *sh, size_t n,
                         const struct hbr_excl_truth *t, size_t i)
{
	const struct hbr_gc_dec *d = &t->refs;
	size_t m = 0;

	for (size_t k = d->first[i]; k < d->first[i + 1]; k++) {
		bool found = false;

		if (!d->by[k].count)
			continue;
		m++;
		for (size_t j = 0; j < n && !found; j++)
			found = !strcmp(sh[j].client,
			                d->clients[d->by[k].client]) &&
			        sh[j].refs == d->by[k].count;
		if (!found)
			return false;
	}
	return m == n;
}

struct walk {
	struct hbr_stmt *rows, *shares;
	bool rows_left, shares_left;
	struct chunk_row row;
	uint8_t share_id[HBR_CHUNK_ID_LEN];
	struct row_share share; /* the share read ahead */
	struct row_share *cur; /* the shares of the current row */
	size_t ncur, cap;
};

static int next_share(struct walk *w)
{
	size_t len = 0;
	const void *id;
	int rc;

	if ((rc = hbr_stmt_next(w->shares)) <= 0) {
		w->shares_left = false;
		return rc;
	}
	id = hbr_stmt_blob(w->shares, 0, &len);
	if (!id || len != HBR_CHUNK_ID_LEN)
		return hbr_error_set(HBR_ECORRUPT, "share row with a bad id");
	memcpy(w->share_id, id, HBR_CHUNK_ID_LEN);
	(void)snprintf(w->share.client, sizeof(w->share.client), "%s",
	               hbr_stmt_text(w->shares, 1));
	w->share.refs = hbr_stmt_int(w->shares, 2);
	w->shares_left = true;
	return 0;
}

int hbr_store_excl_verify(struct hbr_excl_verdict *out, struct hbr_store *s,
                          const char *vault_id, const struct hbr_excl_truth *t,
                          hbr_excl_client_cb *cb, void *payload)
{
	const struct hbr_gc_dec *d = &t->refs;
	struct hbr_excl_verdict v = { 0 };
	struct walk w = { 0 };
	int64_t *bytes = hbr_calloc(t->nclients + 1, sizeof(*bytes));
	int64_t vault_no = 0;
	size_t ti = 0;
	int rc;

	if ((rc = hbr_store_share_no(&vault_no, s, vault_id, false)) < 0)
		goto out;
	if ((rc = hbr_store_queryf(&w.rows, s,
	                           "SELECT chunk_id, refs, owner, owner_refs,"
	                           " stored_len FROM chunks WHERE vault_id = ?"
	                           " ORDER BY chunk_id",
	                           "s", vault_id)) < 0)
		goto out;
	/* A share whose number has no name is damage: it shows as "?". */
	if ((rc = hbr_store_queryf(&w.shares, s,
	                           "SELECT h.chunk_id, COALESCE(n.name, '?'),"
	                           " h.refs FROM chunk_shares h LEFT JOIN"
	                           " share_names n ON n.no = h.client_no"
	                           " WHERE h.vault_no = ? ORDER BY h.chunk_id",
	                           "i", vault_no)) < 0 ||
	    (rc = next_share(&w)) < 0)
		goto out;
	for (;;) {
		struct chunk_row *r = &w.row;
		int64_t total = 0;
		size_t ncl = 0;
		uint32_t holder = 0;
		bool ok;

		if ((rc = hbr_stmt_next(w.rows)) < 0)
			goto out;
		if (!rc)
			break;
		if ((rc = read_row(r, w.rows)) < 0)
			goto out;
		for (; ti < d->n && memcmp(d->ids + ti * HBR_CHUNK_ID_LEN,
		                           r->id, HBR_CHUNK_ID_LEN) < 0;
		     ti++)
			note(&v.miscounted, v.miscounted_first,
			     sizeof(v.miscounted_first),
			     d->ids + ti * HBR_CHUNK_ID_LEN,
			     "references, but no row");
		w.ncur = 0;
		while (w.shares_left &&
		       memcmp(w.share_id, r->id, HBR_CHUNK_ID_LEN) <= 0) {
			if (!memcmp(w.share_id, r->id, HBR_CHUNK_ID_LEN)) {
				hbr_grow((void **)&w.cur, &w.cap, w.ncur + 1,
				         sizeof(*w.cur));
				w.cur[w.ncur++] = w.share;
			} else {
				note(&v.misheld, v.misheld_first,
				     sizeof(v.misheld_first), w.share_id,
				     "a share, but no row");
			}
			if ((rc = next_share(&w)) < 0)
				goto out;
		}
		if (ti < d->n && !memcmp(d->ids + ti * HBR_CHUNK_ID_LEN, r->id,
		                         HBR_CHUNK_ID_LEN))
			refs_of(&total, &ncl, &holder, t, ti++);
		else
			ncl = 0;
		if (r->refs != total)
			note(&v.miscounted, v.miscounted_first,
			     sizeof(v.miscounted_first), r->id,
			     "refs %lld, but %lld references",
			     (long long)r->refs, (long long)total);
		if (ncl == 1) {
			ok = alone(r) && !w.ncur &&
			     !strcmp(r->owner, d->clients[holder]);
			bytes[holder] += r->stored_len;
		} else if (ncl > 1) {
			ok = !r->owner[0] && !r->owner_refs &&
			     shares_match(w.cur, w.ncur, t, ti - 1);
		} else {
			ok = !w.ncur;
		}
		if (!ok)
			note(&v.misheld, v.misheld_first,
			     sizeof(v.misheld_first), r->id,
			     "%zu client(s) reference it, its row and %zu"
			     " share(s) say otherwise",
			     ncl, w.ncur);
	}
	for (; ti < d->n; ti++)
		note(&v.miscounted, v.miscounted_first,
		     sizeof(v.miscounted_first), d->ids + ti * HBR_CHUNK_ID_LEN,
		     "references, but no row");
	for (; w.shares_left; rc = next_share(&w)) {
		if (rc < 0)
			goto out;
		note(&v.misheld, v.misheld_first, sizeof(v.misheld_first),
		     w.share_id, "a share, but no row");
	}
	hbr_stmt_done(w.rows);
	hbr_stmt_done(w.shares);
	w.rows = w.shares = NULL;
	/* Each client's bytes: what client_bytes keeps, what is due. */
	{
		struct hbr_stmt *st = NULL;
		bool *seen = hbr_calloc(t->nclients + 1, sizeof(*seen));

		rc = hbr_store_queryf(&st, s,
		                      "SELECT client_id, exclusive_bytes FROM"
		                      " client_bytes WHERE vault_id = ?",
		                      "s", vault_id);
		while (rc >= 0 && (rc = hbr_stmt_next(st)) > 0) {
			const char *client = hbr_stmt_text(st, 0);
			int64_t kept = hbr_stmt_int(st, 1), due = 0;

			for (size_t k = 0; k < t->nclients; k++)
				if (!strcmp(d->clients[k], client)) {
					due = bytes[k];
					seen[k] = true;
				}
			if ((kept || due) &&
			    (rc = cb(client, kept, due, payload)) < 0)
				break;
		}
		hbr_stmt_done(st);
		for (size_t k = 0; k < t->nclients && rc >= 0; k++)
			if (!seen[k] && bytes[k])
				rc = cb(d->clients[k], 0, bytes[k], payload);
		hbr_free(seen);
		if (rc < 0)
			goto out;
	}
	*out = v;
	rc = 0;
out:
	hbr_stmt_done(w.rows);
	hbr_stmt_done(w.shares);
	hbr_free(w.cur);
	hbr_free(bytes);
	return rc;
}

/* ---- the recount ---- */

static bool same_sources(const struct hbr_excl_sources *a,
                         const struct hbr_excl_sources *b)
{
	if (a->n != b->n || a->batch || b->batch)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->list[i].snapshot_id, b->list[i].snapshot_id) ||
		    strcmp(a->list[i].client_id, b->list[i].client_id))
			return false;
	return true;
}

/* A row the recount changes: its owner after ("" for none). */
struct recount_change {
	uint8_t id[HBR_CHUNK_ID_LEN];
	uint32_t holder; /* truth client index, with alone */
	bool alone;
	size_t shares; /* truth entry whose shares it takes, or SIZE_MAX */
};

/* write_change's numbers: the vault's, and each truth client's (0
 * until needed). */
struct recount_nos {
	int64_t vault;
	int64_t *clients;
};

static int write_change(struct hbr_store *s, const char *vault_id,
                        const struct hbr_excl_truth *t, struct recount_nos *nos,
                        const struct recount_change *c)
{
	const struct hbr_gc_dec *d = &t->refs;
	int rc = 0;

	if (c->alone)
		rc = hbr_store_execf(
		        s,
		        "UPDATE chunks SET owner = ?, owner_refs ="
		        " refs WHERE vault_id = ? AND chunk_id = ?",
		        "ssb", d->clients[c->holder], vault_id, c->id,
		        (size_t)HBR_CHUNK_ID_LEN);
	else if (c->shares == SIZE_MAX)
		rc = hbr_store_execf(s,
		                     "UPDATE chunks SET owner = NULL,"
		                     " owner_refs = 0 WHERE vault_id = ?"
		                     " AND chunk_id = ?",
		                     "sb", vault_id, c->id,
		                     (size_t)HBR_CHUNK_ID_LEN);
	for (size_t k = c->shares == SIZE_MAX ? 0 : d->first[c->shares];
	     c->shares != SIZE_MAX && k < d->first[c->shares + 1] && rc >= 0;
	     k++) {
		int64_t *no = &nos->clients[d->by[k].client];

		if (!d->by[k].count)
			continue;
		if (!nos->vault &&
		    (rc = hbr_store_share_no(&nos->vault, s, vault_id, true)) <
		            0)
			break;
		if (!*no &&
		    (rc = hbr_store_share_no(no, s, d->clients[d->by[k].client],
		                             true)) < 0)
			break;
		rc = hbr_store_execf(s,
		                     "INSERT INTO chunk_shares (vault_no,"
		                     " chunk_id, client_no, refs)"
		                     " VALUES (?, ?, ?, ?)",
		                     "ibii", nos->vault, c->id,
		                     (size_t)HBR_CHUNK_ID_LEN, *no,
		                     (int64_t)d->by[k].count);
	}
	return rc < 0 ? rc : 0;
}

/* The changes the rows need, and each client's exclusive bytes. */
static int plan_recount(struct recount_change **out, size_t *nout,
                        int64_t *bytes, struct hbr_store *s,
                        const char *vault_id, const struct hbr_excl_truth *t)
{
	const struct hbr_gc_dec *d = &t->refs;
	struct recount_change *list = NULL;
	struct hbr_stmt *st = NULL;
	struct chunk_row r;
	size_t n = 0, cap = 0, ti = 0;
	int rc;

	if ((rc = hbr_store_queryf(&st, s,
	                           "SELECT chunk_id, refs, owner, owner_refs,"
	                           " stored_len FROM chunks WHERE vault_id = ?"
	                           " AND refs > 0 ORDER BY chunk_id",
	                           "s", vault_id)) < 0)
		return rc;
	while ((rc = hbr_stmt_next(st)) > 0) {
		struct recount_change c = { .shares = SIZE_MAX };
		int64_t total = 0;
		size_t ncl = 0;
		uint32_t holder = 0;

		if ((rc = read_row(&r, st)) < 0)
			break;
		while (ti < d->n && memcmp(d->ids + ti * HBR_CHUNK_ID_LEN, r.id,
		                           HBR_CHUNK_ID_LEN) < 0)
			ti++;
		if (ti < d->n && !memcmp(d->ids + ti * HBR_CHUNK_ID_LEN, r.id,
		                         HBR_CHUNK_ID_LEN))
			refs_of(&total, &ncl, &holder, t, ti);
		memcpy(c.id, r.id, HBR_CHUNK_ID_LEN);
		if (ncl == 1) {
			bytes[holder] += r.stored_len;
			if (alone(&r) && !strcmp(r.owner, d->clients[holder]))
				continue;
			c.alone = true;
			c.holder = holder;
		} else {
			if (ncl > 1)
				c.shares = ti;
			else if (!r.owner[0] && !r.owner_refs)
				continue;
		}
		hbr_grow((void **)&list, &cap, n + 1, sizeof(*list));
		list[n++] = c;
	}
	hbr_stmt_done(st);
	if (rc < 0) {
		hbr_free(list);
		return rc;
	}
	*out = list;
	*nout = n;
	return 0;
}

int hbr_store_excl_recount(struct hbr_store *s, const char *vault_id,
                           const struct hbr_excl_sources *src,
                           const struct hbr_excl_truth *t)
{
	struct hbr_excl_sources now = { 0 };
	struct recount_change *changes = NULL;
	int64_t *bytes = hbr_calloc(t->nclients + 1, sizeof(*bytes));
	struct recount_nos nos = { 0, hbr_calloc(t->nclients + 1,
		                                 sizeof(*nos.clients)) };
	size_t n = 0;
	int rc;

	if ((rc = hbr_store_begin(s)) < 0)
		goto out;
	if ((rc = read_sources(&now, s, vault_id)) < 0)
		goto fail;
	if (!now.recount) {
		/* Recounted already, by another reclaimer. */
		hbr_store_rollback(s);
		goto out;
	}
	if (!same_sources(src, &now)) {
		rc = hbr_error_set(HBR_ECONFLICT,
		                   "vault %s: snapshots changed during the"
		                   " recount",
		                   vault_id);
		goto fail;
	}
	/* The shares are written anew, whatever commits and reclamation
	 * made of them since the migration. */
	if ((rc = plan_recount(&changes, &n, bytes, s, vault_id, t)) < 0 ||
	    (rc = hbr_store_share_no(&nos.vault, s, vault_id, false)) < 0 ||
	    (rc = hbr_store_execf(s,
	                          "DELETE FROM chunk_shares WHERE vault_no = ?",
	                          "i", nos.vault)) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if ((rc = write_change(s, vault_id, t, &nos, &changes[i])) < 0)
			goto fail;
	if ((rc = hbr_store_execf(s,
	                          "DELETE FROM client_bytes WHERE vault_id = ?",
	                          "s", vault_id)) < 0)
		goto fail;
	for (size_t k = 0; k < t->nclients; k++)
		if (bytes[k] &&
		    (rc = hbr_store_execf(s,
		                          "INSERT INTO client_bytes (client_id,"
		                          " vault_id, exclusive_bytes)"
		                          " VALUES (?, ?, ?)",
		                          "ssi", t->refs.clients[k], vault_id,
		                          bytes[k])) < 0)
			goto fail;
	if ((rc = hbr_store_execf(s,
	                          "DELETE FROM exclusive_recount WHERE"
	                          " vault_id = ?",
	                          "s", vault_id)) < 0 ||
	    (rc = hbr_store_commit(s)) < 0)
		goto fail;
	goto out;
fail:
	hbr_store_rollback(s);
out:
	hbr_excl_sources_free(&now);
	hbr_free(changes);
	hbr_free(bytes);
	hbr_free(nos.clients);
	return rc;
}
