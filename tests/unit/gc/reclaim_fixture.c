/*
 * The world the gc suites share (reclaim_fixture.h): its setup and
 * teardown, and the helpers that drive the store and vault and read
 * the rows back.
 */
#include "common.h"
#include "unit/gc/reclaim_fixture.h"
#include "core/pack.h"
#include "core/tree.h"
#include "gc/gc_exclusive.h"
#include "util/timeutil.h"

int setup(void **state)
{
	struct world *w = hbr_calloc(1, sizeof(*w));
	struct fx *f = &w->f;
	char path[4400];

	fx_open(f, "gc_reclaim");
	begin(f);
	new_vault(f, f->acc_a, w->v, 100);
	new_client(f, f->acc_a, w->c, "ACTIVATED", 100);
	new_plan(f, f->acc_a, w->p, w->c, w->v, 100);
	commit(f);
	snprintf(path, sizeof(path), "%s/vaults/%s", f->dir, w->v);
	assert_int_equal(hbr_vault_local_open(&w->vault, path), 0);
	/* Incompressible-ish chunks of different sizes. */
	for (int i = 0; i < NCHUNK; i++) {
		uint32_t x = 7u + (uint32_t)i;
		w->len[i] = 1000 + 500 * (size_t)i;
		for (size_t k = 0; k < w->len[i]; k++) {
			x = x * 1103515245u + 12345u;
			w->raw[i][k] = (uint8_t)(x >> 16);
		}
		assert_int_equal(hbr_chunk_id(w->id[i], w->raw[i], w->len[i]),
		                 0);
	}
	*state = w;
	return 0;
}

int teardown(void **state)
{
	struct world *w = *state;

	hbr_vault_free(w->vault);
	fx_close(&w->f);
	hbr_free(w);
	return 0;
}

void running_job_of(struct world *w, const char *client, const char *plan,
                    char *job)
{
	begin(&w->f);
	new_job(&w->f, w->f.acc_a, job, client, w->v, plan, "RUNNING", 200);
	commit(&w->f);
}

/* Upload the chunks listed (-1 ends) as one pack, object and rows, for
 * a job of client. */
void upload_as(struct world *w, const char *client, const char *job,
               const char *pack_id, const int *which)
{
	struct hbr_job_ref j = { w->f.acc_a, client, HBR_JOB_BACKUP, job };
	struct hbr_pack_writer pw;
	struct hbr_pack_view view;
	struct hbr_pack_added added;
	struct hbr_buf body = HBR_BUF_INIT;
	char key[HBR_PACK_KEY_MAX];

	assert_int_equal(hbr_pack_writer_init(&pw), 0);
	for (; *which >= 0; which++)
		assert_int_equal(hbr_pack_writer_add(&pw, w->id[*which],
		                                     w->raw[*which],
		                                     w->len[*which], -1),
		                 0);
	assert_int_equal(hbr_pack_writer_finish(&body, NULL, &pw), 0);
	hbr_pack_writer_free(&pw);
	assert_int_equal(hbr_pack_parse(&view, body.ptr, body.len), 0);
	assert_int_equal(hbr_store_pack_begin(w->f.s, w->v, pack_id,
	                                      (int64_t)body.len,
	                                      hbr_time_now()),
	                 0);
	hbr_pack_key(key, pack_id);
	assert_int_equal(hbr_vault_put(w->vault, key, body.ptr, body.len), 0);
	assert_int_equal(hbr_store_pack_commit(&added, w->f.s, &j, w->v,
	                                       pack_id, &view, hbr_time_now()),
	                 0);
	hbr_pack_view_free(&view);
	hbr_buf_release(&body);
}

/* Commit a snapshot of client naming the chunks in set (freed here),
 * with its refs object. */
void commit_set(struct world *w, const char *client, const char *job,
                char *snap, struct hbr_idset *set)
{
	struct hbr_job_ref j = { w->f.acc_a, client, HBR_JOB_BACKUP, job };
	struct hbr_snapshot_commit c = { 0 };
	struct hbr_snapshot_committed out;
	struct hbr_buf refs = HBR_BUF_INIT;
	char key[sizeof("refs/") + HBR_ID_MAX];

	hbr_id_new(snap, HBR_ID_SNAPSHOT);
	assert_int_equal(hbr_idset_sorted(&refs, set), 0);
	snprintf(key, sizeof(key), "refs/%s", snap);
	assert_int_equal(hbr_vault_put(w->vault, key, refs.ptr, refs.len), 0);
	c.job = &j;
	c.snapshot_id = snap;
	c.tree = "[]";
	c.refs = (const uint8_t *)refs.ptr;
	c.nrefs = set->n;
	c.status = "COMPLETE";
	c.snapshot_hash = "";
	c.error_file = "";
	c.now = hbr_time_now();
	assert_int_equal(hbr_store_snapshot_commit(&out, w->f.s, &c), 0);
	hbr_idset_free(set);
	hbr_buf_release(&refs);
}

/* Commit a snapshot of client naming the chunks listed (indexes into
 * w->id, ending with -1). */
void commit_as(struct world *w, const char *client, const char *job, char *snap,
               const int *which)
{
	struct hbr_idset set;

	hbr_idset_init(&set);
	for (; *which >= 0; which++)
		assert_true(hbr_idset_add(&set, w->id[*which]) >= 0);
	commit_set(w, client, job, snap, &set);
}

int cmp_chunk(const void *a, const void *b)
{
	return memcmp(a, b, HBR_CHUNK_ID_LEN);
}

int64_t refs_of(struct world *w, int i)
{
	int64_t n = -1;

	assert_int_equal(hbr_store_count(&n, w->f.s,
	                                 "SELECT COALESCE(MAX(refs), -1) FROM"
	                                 " chunks WHERE vault_id = ? AND"
	                                 " chunk_id = ?",
	                                 "sb", w->v, w->id[i],
	                                 (size_t)HBR_CHUNK_ID_LEN),
	                 0);
	return n;
}

int64_t count(struct world *w, const char *sql)
{
	int64_t n = -1;

	assert_int_equal(hbr_store_count(&n, w->f.s, sql, "s", w->v), 0);
	return n;
}

void pass(struct world *w, struct hbr_reclaim_stats *st)
{
	struct hbr_reclaim_config cfg = { .data_dir = w->f.dir };

	memset(st, 0, sizeof(*st));
	assert_int_equal(hbr_reclaim_pass(st, w->f.s, &cfg), 0);
}

void delete_snapshot(struct world *w, const char *snap)
{
	assert_int_equal(hbr_store_delete_snapshot(w->f.s, w->f.acc_a, snap),
	                 0);
}

/* A second client of the vault, with its plan. */
void other_client(struct world *w, char *client, char *plan)
{
	begin(&w->f);
	new_client(&w->f, w->f.acc_a, client, "ACTIVATED", 100);
	new_plan(&w->f, w->f.acc_a, plan, client, w->v, 100);
	commit(&w->f);
}

/* A backup of client: upload the chunks the vault lacks, commit a
 * snapshot naming `which`. */
void backup_as(struct world *w, const char *client, const char *plan,
               char *snap, const int *which)
{
	char job[HBR_ID_MAX], pack[HBR_PACK_NAME_LEN + 1];
	int lacking[NCHUNK + 1], n = 0;

	running_job_of(w, client, plan, job);
	for (const int *k = which; *k >= 0; k++)
		if (refs_of(w, *k) < 0)
			lacking[n++] = *k;
	lacking[n] = -1;
	if (n) {
		hbr_pack_new_id(pack);
		upload_as(w, client, job, pack, lacking);
	}
	commit_as(w, client, job, snap, which);
}

int64_t stored_of_id(struct world *w, const uint8_t *id)
{
	int64_t n = -1;

	assert_int_equal(hbr_store_count(&n, w->f.s,
	                                 "SELECT stored_len FROM chunks WHERE"
	                                 " vault_id = ? AND chunk_id = ?",
	                                 "sb", w->v, id,
	                                 (size_t)HBR_CHUNK_ID_LEN),
	                 0);
	return n;
}

int64_t stored_of(struct world *w, int i)
{
	return stored_of_id(w, w->id[i]);
}

/* What DescribeBackupClients shows for the client. */
int64_t exclusive_of(struct world *w, const char *client)
{
	json_t *c = NULL;
	json_t *v;
	int64_t n;

	assert_int_equal(
	        hbr_store_get(&c, w->f.s, HBR_ENT_CLIENT, w->f.acc_a, client),
	        0);
	v = json_object_get(c, "ExclusiveBytes");
	assert_true(json_is_integer(v));
	n = json_integer_value(v);
	json_decref(c);
	return n;
}

int same_as_refs(const char *client_id, int64_t kept, int64_t counted,
                 void *payload)
{
	(*(int *)payload)++;
	if (kept != counted)
		fail_msg("client %s: %lld exclusive bytes kept, its snapshots'"
		         " references say %lld",
		         client_id, (long long)kept, (long long)counted);
	return 0;
}

/* The counts, holders and exclusive bytes kept equal a recount from the
 * refs objects of the snapshots left (what `hbrd vault check`
 * verifies). */
void assert_exclusive_consistent(struct world *w)
{
	struct hbr_excl_check x;
	int clients = 0;

	assert_int_equal(hbr_reclaim_check_exclusive(&x, w->f.s, w->vault, w->v,
	                                             same_as_refs, &clients),
	                 0);
	assert_true(x.verified);
	assert_false(x.pending);
	if (x.verdict.miscounted)
		fail_msg("%lld miscounted: %s", (long long)x.verdict.miscounted,
		         x.verdict.miscounted_first);
	if (x.verdict.misheld)
		fail_msg("%lld misheld: %s", (long long)x.verdict.misheld,
		         x.verdict.misheld_first);
}

/* A chunk's references of client (0 for no share row). */
int64_t share_of(struct world *w, const uint8_t *id, const char *client)
{
	int64_t n = -1;

	assert_int_equal(hbr_store_count(&n, w->f.s,
	                                 "SELECT COALESCE(MAX(refs), 0) FROM"
	                                 " chunk_shares WHERE vault_no ="
	                                 " (SELECT no FROM share_names"
	                                 " WHERE name = ?) AND client_no ="
	                                 " (SELECT no FROM share_names"
	                                 " WHERE name = ?) AND chunk_id = ?",
	                                 "ssb", w->v, client, id,
	                                 (size_t)HBR_CHUNK_ID_LEN),
	                 0);
	return n;
}

/* Chunk i's row holds what mine[] (each client's references) says:
 * one client alone is its owner with every reference, two or more have
 * a share each and no owner. */
void assert_held(struct world *w, const uint8_t *id,
                 char (*clients)[HBR_ID_MAX], const int64_t *mine, int nclients)
{
	struct hbr_stmt *q = NULL;
	int64_t refs = 0, o_r;
	int holders = 0, holder = -1;
	char owner[HBR_ID_MAX];

	for (int k = 0; k < nclients; k++) {
		refs += mine[k];
		if (mine[k]) {
			holders++;
			holder = k;
		}
	}
	assert_int_equal(hbr_store_queryf(&q, w->f.s,
	                                  "SELECT refs, owner, owner_refs"
	                                  " FROM chunks WHERE vault_id = ?"
	                                  " AND chunk_id = ?",
	                                  "sb", w->v, id,
	                                  (size_t)HBR_CHUNK_ID_LEN),
	                 0);
	if (hbr_stmt_next(q) != 1) {
		hbr_stmt_done(q);
		assert_int_equal(refs, 0); /* gone with its pack */
		return;
	}
	assert_int_equal(hbr_stmt_int(q, 0), refs);
	snprintf(owner, sizeof(owner), "%s", hbr_stmt_text(q, 1));
	o_r = hbr_stmt_int(q, 2);
	hbr_stmt_done(q);
	if (!refs)
		return;
	if (holders == 1) {
		assert_string_equal(owner, clients[holder]);
		assert_int_equal(o_r, refs);
	} else {
		assert_string_equal(owner, "");
		assert_int_equal(o_r, 0);
	}
	for (int k = 0; k < nclients; k++)
		assert_int_equal(share_of(w, id, clients[k]),
		                 holders > 1 ? mine[k] : 0);
}
