/*
 * hbrd vault check|gc --data-dir DIR VAULT_ID: the operator's view of a
 * vault's data (docs/RECLAMATION.md). `check` reads every pack, verifies
 * every chunk against its id and every live snapshot's references
 * against the chunk rows, and reports bytes no longer needed; `gc` runs
 * one reclamation pass now, with progress on stderr. Both are safe
 * while hbrd runs: they use the same transactions it does.
 */
#include "common.h"
#include <jansson.h>
#include "cmd/hbrd.h"
#include "core/pack.h"
#include "gc/gc_exclusive.h"
#include "gc/gc_reclaim.h"
#include "store/store_data.h"
#include "store/store_reclaim.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"
#include "vault/vault.h"

#define ERRORS_SHOWN 100
#define REFS_MAX     HBR_REFS_OBJECT_MAX
#define REFS_STEP    512

struct check {
	struct hbr_store *s;
	struct hbr_vault *v;
	const char *vault_id;
	struct hbr_gc_pack *packs; /* sorted by id */
	bool *seen;
	size_t npacks, cap;
	char (*snaps)[HBR_ID_MAX]; /* live or queued, sorted */
	size_t nsnaps, snaps_cap;
	int64_t chunks, verified, snapshots, references;
	int64_t stored, dead, orphaned, pending;
	json_t *errors, *exclusive;
	int64_t nerrors;
	/* The holders are not exact until migration 11's recount ran: a
	 * difference then is expected, not an error. */
	bool excl_pending;
	/* Objects found missing while reading the rows of one moment:
	 * asked about again afterwards, since hbrd may have removed them
	 * since (a pack rewritten, a snapshot reclaimed). */
	char (*gone_packs)[HBR_GC_NAME_MAX];
	char (*gone_snaps)[HBR_ID_MAX];
	size_t ngone_packs, ngone_snaps, gp_cap, gs_cap;
};

static void problem(struct check *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void problem(struct check *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->nerrors++ < ERRORS_SHOWN)
		json_array_append_new(c->errors, json_string(msg));
}

static int cmp_pack(const void *a, const void *b)
{
	return strcmp(((const struct hbr_gc_pack *)a)->pack_id,
	              ((const struct hbr_gc_pack *)b)->pack_id);
}

static int add_pack(const struct hbr_gc_pack *p, void *payload)
{
	struct check *c = payload;

	hbr_grow((void **)&c->packs, &c->cap, c->npacks + 1, sizeof(*c->packs));
	c->packs[c->npacks++] = *p;
	return 0;
}

static int cmp_snap(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void gone_pack(struct check *c, const char *pack_id)
{
	hbr_grow((void **)&c->gone_packs, &c->gp_cap, c->ngone_packs + 1,
	         sizeof(*c->gone_packs));
	(void)snprintf(c->gone_packs[c->ngone_packs++], HBR_GC_NAME_MAX, "%s",
	               pack_id);
}

static void gone_snapshot(struct check *c, const char *snapshot_id)
{
	hbr_grow((void **)&c->gone_snaps, &c->gs_cap, c->ngone_snaps + 1,
	         sizeof(*c->gone_snaps));
	(void)snprintf(c->gone_snaps[c->ngone_snaps++], HBR_ID_MAX, "%s",
	               snapshot_id);
}

/* A live pack's object: every chunk verifies, every row matches an
 * entry; rows at zero and copies no row names are dead bytes. */
static void check_pack(struct check *c, const struct hbr_gc_pack *p,
                       const char *key)
{
	struct hbr_buf obj;
	struct hbr_pack_view view;
	struct hbr_gc_chunk *rows = NULL;
	size_t nrows = 0;
	int64_t named = 0;

	int error;

	if ((error = hbr_vault_get(&obj, c->v, key, HBR_PACK_MAX_BYTES)) < 0) {
		if (error == HBR_ENOTFOUND)
			gone_pack(c, p->pack_id);
		else
			problem(c, "pack %s: %s", p->pack_id, hbr_error_msg());
		return;
	}
	if (hbr_pack_parse(&view, obj.ptr, obj.len) < 0) {
		problem(c, "pack %s: %s", p->pack_id, hbr_error_msg());
		hbr_buf_release(&obj);
		return;
	}
	if (hbr_pack_verify(&view) < 0)
		problem(c, "pack %s: %s", p->pack_id, hbr_error_msg());
	else
		c->verified += view.count;
	if (hbr_store_gc_pack_chunks(&rows, &nrows, c->s, c->vault_id,
	                             p->pack_id) < 0) {
		problem(c, "pack %s: %s", p->pack_id, hbr_error_msg());
		nrows = 0;
	}
	for (size_t i = 0; i < nrows; i++) {
		bool match = false;

		for (uint32_t k = 0; k < view.count && !match; k++)
			match = view.entries[k].offset == rows[i].offset &&
			        !memcmp(view.entries[k].id, rows[i].id,
			                HBR_CHUNK_ID_LEN);
		if (!match) {
			char hex[HBR_CHUNK_HEX_LEN];
			hbr_chunk_id_hex(hex, rows[i].id);
			problem(c, "chunk %s: not at its offset in pack %s",
			        hex, p->pack_id);
		}
		named += rows[i].stored_len;
		if (rows[i].refs <= 0)
			c->dead += rows[i].stored_len;
	}
	c->chunks += (int64_t)nrows;
	/* Copies no row names (the same chunk uploaded twice at once) are
	 * dead too. */
	c->dead += (int64_t)obj.len - (int64_t)view.header_len - named;
	hbr_free(rows);
	hbr_pack_view_free(&view);
	hbr_buf_release(&obj);
}

static int on_pack_object(const char *key, uint64_t size, void *payload)
{
	struct check *c = payload;
	struct hbr_gc_pack want = { 0 }, *p;
	const char *slash = strrchr(key, '/');

	(void)snprintf(want.pack_id, sizeof(want.pack_id), "%s",
	               slash ? slash + 1 : key);
	p = c->npacks ? bsearch(&want, c->packs, c->npacks, sizeof(*c->packs),
	                        cmp_pack) :
	                NULL;
	if (!p) {
		c->orphaned += (int64_t)size;
		return 0;
	}
	c->seen[p - c->packs] = true;
	if (!strcmp(p->state, "live")) {
		c->stored += (int64_t)size;
		check_pack(c, p, key);
	} else {
		/* 'deleting', or 'writing' (an upload in flight, or one a
		 * crash cut: the pass removes it after an hour). */
		c->pending += (int64_t)size;
	}
	return 0;
}

static int on_snapshot(const char *snapshot_id, bool queued, void *payload)
{
	struct check *c = payload;
	char key[sizeof("refs/") + HBR_ID_MAX];
	struct hbr_buf refs;
	size_t n;
	int error;

	hbr_grow((void **)&c->snaps, &c->snaps_cap, c->nsnaps + 1,
	         sizeof(*c->snaps));
	(void)snprintf(c->snaps[c->nsnaps++], HBR_ID_MAX, "%s", snapshot_id);
	if (queued)
		return 0;
	c->snapshots++;
	(void)snprintf(key, sizeof(key), "refs/%s", snapshot_id);
	if ((error = hbr_vault_get(&refs, c->v, key, REFS_MAX)) < 0) {
		if (error == HBR_ENOTFOUND)
			gone_snapshot(c, snapshot_id);
		else
			problem(c, "snapshot %s: %s", snapshot_id,
			        hbr_error_msg());
		return 0;
	}
	n = refs.len / HBR_CHUNK_ID_LEN;
	for (size_t i = 0; i < n; i += REFS_STEP) {
		struct hbr_chunk_row rows[REFS_STEP];
		bool found[REFS_STEP];
		size_t k = n - i < REFS_STEP ? n - i : REFS_STEP;
		const uint8_t *ids =
		        (const uint8_t *)refs.ptr + i * HBR_CHUNK_ID_LEN;

		if (hbr_store_chunks_get(rows, found, c->s, c->vault_id, ids,
		                         k) < 0) {
			problem(c, "snapshot %s: %s", snapshot_id,
			        hbr_error_msg());
			break;
		}
		for (size_t j = 0; j < k; j++) {
			char hex[HBR_CHUNK_HEX_LEN];

			if (found[j] && rows[j].refs > 0)
				continue;
			hbr_chunk_id_hex(hex, ids + j * HBR_CHUNK_ID_LEN);
			problem(c, "snapshot %s: chunk %s %s", snapshot_id, hex,
			        found[j] ? "has no reference count" :
			                   "is missing");
		}
		c->references += (int64_t)k;
	}
	hbr_buf_release(&refs);
	return 0;
}

static int on_refs_object(const char *key, uint64_t size, void *payload)
{
	struct check *c = payload;
	char id[HBR_ID_MAX];

	(void)snprintf(id, sizeof(id), "%s", key + strlen("refs/"));
	if (!c->nsnaps ||
	    !bsearch(id, c->snaps, c->nsnaps, sizeof(*c->snaps), cmp_snap))
		c->orphaned += (int64_t)size;
	return 0;
}

static int on_exclusive(const char *client_id, int64_t kept, int64_t counted,
                        void *payload)
{
	struct check *c = payload;

	if (kept != counted && !c->excl_pending)
		problem(c,
		        "client %s: %lld exclusive bytes kept, but the chunks"
		        " only its snapshots reference hold %lld",
		        client_id, (long long)kept, (long long)counted);
	if (kept)
		json_object_set_new(c->exclusive, client_id,
		                    json_integer((json_int_t)kept));
	return 0;
}

/* What was found missing, if it still should be there. */
static void recheck_gone(struct check *c)
{
	int live;

	for (size_t i = 0; i < c->ngone_packs; i++) {
		const char *id = c->gone_packs[i];
		if ((live = hbr_store_gc_pack_is_live(c->s, c->vault_id, id)) <
		    0)
			problem(c, "pack %s: %s", id, hbr_error_msg());
		else if (live)
			problem(c, "pack %s: its object is missing", id);
	}
	for (size_t i = 0; i < c->ngone_snaps; i++) {
		const char *id = c->gone_snaps[i];
		if ((live = hbr_store_gc_snapshot_is_live(c->s, id)) < 0)
			problem(c, "snapshot %s: %s", id, hbr_error_msg());
		else if (live)
			problem(c, "snapshot %s: its refs object is missing",
			        id);
	}
}

/*
 * Each client's exclusive bytes, and each chunk's count and holders,
 * against a recount from the refs objects of the snapshots the counts
 * are made of: the same truth commits and reclamation keep, from
 * scratch.
 */
static void check_exclusive(struct check *c, bool *verified)
{
	struct hbr_excl_check x;
	const struct hbr_excl_verdict *v = &x.verdict;

	*verified = false;
	/* Known before the per-client callbacks run. */
	{
		struct hbr_excl_sources src;

		if (hbr_store_excl_sources(&src, c->s, c->vault_id) < 0) {
			problem(c, "exclusive bytes: %s", hbr_error_msg());
			return;
		}
		c->excl_pending = src.recount;
		hbr_excl_sources_free(&src);
	}
	if (hbr_reclaim_check_exclusive(&x, c->s, c->v, c->vault_id,
	                                on_exclusive, c) < 0) {
		problem(c, "exclusive bytes: %s", hbr_error_msg());
		return;
	}
	/* A refs object missing for this view: reclaimed since (asked
	 * about again with the others), or damage reported there. */
	if (!x.verified) {
		bool listed = false;

		for (size_t i = 0; i < c->ngone_snaps && !listed; i++)
			listed = !strcmp(c->gone_snaps[i], x.missing);
		if (!listed)
			gone_snapshot(c, x.missing);
		return;
	}
	*verified = true;
	if (v->miscounted)
		problem(c,
		        "%lld chunk rows count other than their snapshots'"
		        " references (%s)",
		        (long long)v->miscounted, v->miscounted_first);
	if (v->misheld && !x.pending)
		problem(c,
		        "%lld chunk rows say other clients hold them than"
		        " their snapshots do (%s)",
		        (long long)v->misheld, v->misheld_first);
}

static json_t *check_vault(struct check *c)
{
	int64_t stray = 0;
	bool txn, verified = false;

	c->errors = json_array();
	c->exclusive = json_object();
	/* Every row is read in one read transaction, one moment's view,
	 * while hbrd may be committing and reclaiming: what it removes
	 * afterwards is an object missing for that view, asked about
	 * again at the end. */
	txn = c->s->ops->exec(c->s, "BEGIN") == 0;
	if (!txn)
		problem(c, "read transaction: %s", hbr_error_msg());
	if (hbr_store_gc_each_pack(c->s, c->vault_id, add_pack, c) < 0)
		problem(c, "pack rows: %s", hbr_error_msg());
	if (c->npacks)
		qsort(c->packs, c->npacks, sizeof(*c->packs), cmp_pack);
	c->seen = hbr_calloc(c->npacks + 1, sizeof(*c->seen));
	if (hbr_vault_list(c->v, "packs/", on_pack_object, c) < 0)
		problem(c, "listing packs: %s", hbr_error_msg());
	for (size_t i = 0; i < c->npacks; i++) {
		const struct hbr_gc_pack *p = &c->packs[i];

		if (!c->seen[i] && !strcmp(p->state, "live"))
			gone_pack(c, p->pack_id);
		/* Under half live: the next pass rewrites or drops it. */
		if (!strcmp(p->state, "live") && p->live_bytes * 2 < p->bytes)
			c->orphaned += p->bytes - p->live_bytes;
	}
	if (hbr_store_gc_stray_chunks(&stray, c->s, c->vault_id) < 0)
		problem(c, "chunk rows: %s", hbr_error_msg());
	else if (stray)
		problem(c, "%lld chunk rows name a pack that is not live",
		        (long long)stray);
	if (hbr_store_gc_each_snapshot(c->s, c->vault_id, on_snapshot, c) < 0)
		problem(c, "snapshots: %s", hbr_error_msg());
	check_exclusive(c, &verified);
	if (c->nsnaps)
		qsort(c->snaps, c->nsnaps, sizeof(*c->snaps), cmp_snap);
	if (hbr_vault_list(c->v, "refs/", on_refs_object, c) < 0)
		problem(c, "listing refs: %s", hbr_error_msg());
	if (txn)
		hbr_store_rollback(c->s);
	recheck_gone(c);
	return json_pack(
	        "{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
	        " s:o, s:I, s:o, s:b, s:b}",
	        "VaultId", c->vault_id, "Clean", c->nerrors == 0, "Packs",
	        (json_int_t)c->npacks, "Chunks", (json_int_t)c->chunks,
	        "ChunksVerified", (json_int_t)c->verified, "Snapshots",
	        (json_int_t)c->snapshots, "References",
	        (json_int_t)c->references, "StoredBytes", (json_int_t)c->stored,
	        "DeadBytes", (json_int_t)c->dead, "OrphanedBytes",
	        (json_int_t)c->orphaned, "PendingBytes", (json_int_t)c->pending,
	        "Errors", c->errors, "ErrorCount", (json_int_t)c->nerrors,
	        "ExclusiveBytes", c->exclusive, "ExclusiveVerified", verified,
	        "ExclusiveRecountPending", c->excl_pending);
}

static void progress(const char *vault_id, const char *step,
                     const struct hbr_reclaim_stats *st, void *payload)
{
	(void)payload;
	fprintf(stderr,
	        "gc %s: %s: %lld snapshots applied, %lld references"
	        " lowered, %lld chunks freed, %lld packs removed (%lld"
	        " rewritten), %lld orphaned refs objects removed, %lld bytes"
	        " freed\n",
	        vault_id, step, (long long)st->snapshots,
	        (long long)st->decrements, (long long)st->chunks_freed,
	        (long long)st->packs_removed, (long long)st->packs_rewritten,
	        (long long)st->orphans_removed, (long long)st->bytes_freed);
}

static int print_json(json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	if (!text)
		return 1;
	puts(text);
	free(text);
	return 0;
}

int hbrd_cmd_vault(const struct hbrd_options *opts, const char *verb)
{
	struct hbr_store *s = NULL;
	const char *vault_id = opts->nargs == 1 ? opts->args[0] : NULL;
	int rc = 1, live;

	if ((strcmp(verb, "check") && strcmp(verb, "gc")) || !vault_id) {
		fprintf(stderr,
		        "usage: hbrd vault check|gc --data-dir DIR VAULT_ID\n");
		return 2;
	}
	if (hbrd_open_store(&s, opts) < 0)
		return 1;
	if ((live = hbr_store_gc_vault_live(s, vault_id)) <= 0) {
		hbrd_fail(live < 0 ? hbr_error_msg() : "no such vault");
		goto out;
	}
	if (!strcmp(verb, "gc")) {
		struct hbr_reclaim_stats st = { 0 };
		struct hbr_reclaim_config cfg = { .data_dir = opts->data_dir,
			                          .only_vault = vault_id,
			                          .progress = progress,
			                          .sweep = true };

		if (hbr_reclaim_pass(&st, s, &cfg) < 0) {
			hbrd_fail(hbr_error_msg());
			goto out;
		}
		rc = print_json(json_pack(
		        "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "VaultId",
		        vault_id, "SnapshotsApplied", (json_int_t)st.snapshots,
		        "ReferencesLowered", (json_int_t)st.decrements,
		        "ChunksFreed", (json_int_t)st.chunks_freed,
		        "PacksRemoved", (json_int_t)st.packs_removed,
		        "PacksRewritten", (json_int_t)st.packs_rewritten,
		        "OrphansRemoved", (json_int_t)st.orphans_removed,
		        "BytesFreed", (json_int_t)st.bytes_freed));
	} else {
		struct check c = { .s = s, .vault_id = vault_id };
		char path[2200];
		json_t *out;

		(void)snprintf(path, sizeof(path), "%s/vaults/%s",
		               opts->data_dir, vault_id);
		if (hbr_vault_local_open(&c.v, path) < 0) {
			hbrd_fail(hbr_error_msg());
			goto out;
		}
		out = check_vault(&c);
		rc = c.nerrors ? 1 : 0;
		if (print_json(out))
			rc = 1;
		hbr_vault_free(c.v);
		hbr_free(c.packs);
		hbr_free(c.seen);
		hbr_free(c.snaps);
		hbr_free(c.gone_packs);
		hbr_free(c.gone_snaps);
	}
out:
	hbr_store_close(s);
	return rc;
}
