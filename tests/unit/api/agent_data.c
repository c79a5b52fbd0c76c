/*
 * The agent's data actions (api_agent_data.c, api_agent_job.c) called
 * directly, as the pipeline would after authentication, against a real
 * store and a real local vault in a scratch data directory: uploads are
 * verified, a snapshot's references are computed from its tree (each
 * distinct chunk once) and written to refs/<snapshot>, retries are
 * idempotent, and fetches return only the chunks a job may read.
 */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "api/api.h"
#include "api/api_agent.h"
#include "core/pack.h"
#include "core/tree.h"
#include "gc/gc_reclaim.h"
#include "store/store_data.h"
#include "util/random.h"
#include "vault/vault.h"
#include "unit/store/fixture.h"

#define NDATA 3

struct world {
	struct fx f;
	struct hbr_api *api;
	char v[HBR_ID_MAX], c[HBR_ID_MAX], d[HBR_ID_MAX], p[HBR_ID_MAX];
	char job[HBR_ID_MAX];
	/* Data chunk i is 1000 + i bytes of 'x' + i. */
	uint8_t id[NDATA][HBR_CHUNK_ID_LEN];
	char raw[NDATA][1100];
	size_t len[NDATA];
	char hex[NDATA][HBR_CHUNK_HEX_LEN];
	/* The tree, in two chunks split mid-line. */
	struct hbr_buf tree;
	uint8_t tid[2][HBR_CHUNK_ID_LEN];
	char thex[2][HBR_CHUNK_HEX_LEN];
	size_t tsplit;
};

static int setup(void **state)
{
	struct world *w = hbr_calloc(1, sizeof(*w));
	struct hbr_api_config cfg = { 0 };
	struct fx *f = &w->f;
	char dir[4200];

	fx_open(f, "api_agent_data");
	begin(f);
	new_vault(f, f->acc_a, w->v, 100);
	hbr_id_new(w->c, HBR_ID_CLIENT);
	insert(f, f->acc_a, HBR_ENT_CLIENT,
	       hbr_model_client(w->c, "i-target", "ACTIVATED", 100));
	new_client(f, f->acc_a, w->d, "ACTIVATED", 100);
	new_plan(f, f->acc_a, w->p, w->c, w->v, 100);
	new_job(f, f->acc_a, w->job, w->c, w->v, w->p, "RUNNING", 200);
	commit(f);
	/* What CreateVault makes. */
	snprintf(dir, sizeof(dir), "%s/vaults", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/vaults/%s", f->dir, w->v);
	assert_int_equal(mkdir(dir, 0700), 0);
	cfg.data_dir = f->dir;
	cfg.store_url = f->url;
	cfg.region = "cn-hangzhou";
	cfg.store_conns = 2;
	assert_int_equal(hbr_api_open(&w->api, &cfg), 0);

	for (int i = 0; i < NDATA; i++) {
		w->len[i] = 1000 + (size_t)i;
		memset(w->raw[i], 'x' + i, w->len[i]);
		assert_int_equal(hbr_chunk_id(w->id[i], w->raw[i], w->len[i]),
		                 0);
		hbr_chunk_id_hex(w->hex[i], w->id[i]);
	}
	/* Chunk 0 is named by two files: it is one reference. */
	hbr_buf_init(&w->tree, 0);
	assert_int_equal(
	        hbr_buf_printf(
	                &w->tree,
	                "{\"hbr_tree\":1,\"paths\":[\"/src\"],\"host\":\"h\","
	                "\"time\":1}\n"
	                "{\"p\":\"/src\",\"t\":\"d\",\"m\":493}\n"
	                "{\"p\":\"/src/a\",\"t\":\"f\",\"s\":2001,"
	                "\"c\":[[\"%s\",1000],[\"%s\",1001]]}\n"
	                "{\"p\":\"/src/b\",\"t\":\"f\",\"s\":1000,"
	                "\"c\":[[\"%s\",1000]]}\n",
	                w->hex[0], w->hex[1], w->hex[0]),
	        0);
	w->tsplit = w->tree.len / 2;
	assert_int_equal(hbr_chunk_id(w->tid[0], w->tree.ptr, w->tsplit), 0);
	assert_int_equal(hbr_chunk_id(w->tid[1], w->tree.ptr + w->tsplit,
	                              w->tree.len - w->tsplit),
	                 0);
	hbr_chunk_id_hex(w->thex[0], w->tid[0]);
	hbr_chunk_id_hex(w->thex[1], w->tid[1]);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	hbr_api_close(w->api);
	hbr_buf_release(&w->tree);
	fx_close(&w->f);
	hbr_free(w);
	return 0;
}

struct result {
	int rc;
	json_t *out;
	struct hbr_buf bin;
	bool binary;
};

static void result_release(struct result *r)
{
	json_decref(r->out);
	hbr_buf_release(&r->bin);
}

/* Call fn as the agent of client, with a body (or NULL) and name/value
 * parameters ending with NULL. */
static struct result call(struct world *w, hbr_api_action_fn *fn,
                          const char *client, const void *body, size_t len, ...)
{
	struct hbr_kvlist params = HBR_KVLIST_INIT;
	struct hbr_api_call c = { 0 };
	struct result r;
	const char *k;
	va_list ap;

	va_start(ap, len);
	while ((k = va_arg(ap, const char *))) {
		const char *val = va_arg(ap, const char *);
		hbr_kvlist_add(&params, k, strlen(k), val, strlen(val));
	}
	va_end(ap);
	c.api = w->api;
	c.params = &params;
	c.store = hbr_store_pool_get(w->api->pool);
	c.action = "test";
	c.out = json_object();
	c.body = body;
	c.body_len = len;
	snprintf(c.who.account_id, sizeof(c.who.account_id), "%s", w->f.acc_a);
	snprintf(c.who.client_id, sizeof(c.who.client_id), "%s", client);
	r.rc = fn(&c);
	hbr_store_rollback(c.store);
	hbr_store_pool_put(w->api->pool, c.store);
	r.out = c.out;
	r.bin = c.bin;
	r.binary = c.binary;
	hbr_buf_release(&c.raw);
	hbr_kvlist_release(&params);
	return r;
}

/* A pack of data chunks (indices, -1 ends) and, with tree, the two tree
 * chunks; zstd where it helps, as the agent does. */
static void make_pack(struct hbr_buf *out, struct world *w, const int *which,
                      bool tree)
{
	struct hbr_pack_writer pw;

	assert_int_equal(hbr_pack_writer_init(&pw), 0);
	for (; *which >= 0; which++)
		assert_int_equal(hbr_pack_writer_add(
		                         &pw, w->id[*which], w->raw[*which],
		                         w->len[*which], HBR_PACK_ZSTD_LEVEL),
		                 0);
	if (tree) {
		assert_int_equal(hbr_pack_writer_add(&pw, w->tid[0],
		                                     w->tree.ptr, w->tsplit, 3),
		                 0);
		assert_int_equal(hbr_pack_writer_add(&pw, w->tid[1],
		                                     w->tree.ptr + w->tsplit,
		                                     w->tree.len - w->tsplit,
		                                     3),
		                 0);
	}
	hbr_buf_init(out, 0);
	assert_int_equal(hbr_pack_writer_finish(out, NULL, &pw), 0);
	hbr_pack_writer_free(&pw);
}

static void upload_ok(struct world *w, const int *which, bool tree,
                      int new_chunks)
{
	struct hbr_buf body;
	struct result r;

	make_pack(&body, w, which, tree);
	r = call(w, hbr_api_upload_agent_pack, w->c, body.ptr, body.len,
	         "JobId", w->job, NULL);
	if (r.rc)
		fail_msg("upload: %d %s", r.rc, hbr_error_msg());
	assert_int_equal(
	        json_integer_value(json_object_get(r.out, "NewChunks")),
	        new_chunks);
	result_release(&r);
	hbr_buf_release(&body);
}

static char *tree_ids(struct world *w)
{
	static char ids[2 * HBR_CHUNK_HEX_LEN + 1];

	snprintf(ids, sizeof(ids), "%s,%s", w->thex[0], w->thex[1]);
	return ids;
}

static struct result commit_job(struct world *w, const char *job)
{
	return call(w, hbr_api_commit_agent_snapshot, w->c, NULL, 0, "JobId",
	            job, "TreeChunks", tree_ids(w), "Status", "COMPLETE",
	            "BytesTotal", "2001", "BytesDone", "2001", "ItemsTotal",
	            "3", "ItemsDone", "3", "ActualBytes", "99", "ErrorFiles",
	            "[\"/src/locked\"]", NULL);
}

static int64_t refs_of(struct world *w, const uint8_t *id)
{
	int64_t n = -1;

	assert_int_equal(hbr_store_count(&n, w->f.s,
	                                 "SELECT COALESCE(MAX(refs), -1) FROM"
	                                 " chunks WHERE vault_id = ? AND"
	                                 " chunk_id = ?",
	                                 "sb", w->v, id,
	                                 (size_t)HBR_CHUNK_ID_LEN),
	                 0);
	return n;
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, HBR_CHUNK_ID_LEN);
}

static int count_one(const char *key, uint64_t size, void *payload)
{
	(void)key;
	(void)size;
	(*(int *)payload)++;
	return 0;
}

static int count_refs_objects(struct world *w)
{
	struct hbr_vault *v = NULL;
	int n = 0;

	assert_int_equal(hbr_api_vault_get(&v, w->api, w->v), 0);
	assert_int_equal(hbr_vault_list(v, "refs/", count_one, &n), 0);
	hbr_api_vault_put(w->api, v);
	return n;
}

/* ---- tests ---- */

static void test_upload_check_commit(void **state)
{
	struct world *w = *state;
	static const int data[] = { 0, 1, -1 };
	struct hbr_vault *v = NULL;
	struct hbr_buf refs = HBR_BUF_INIT;
	uint8_t want[3][HBR_CHUNK_ID_LEN];
	char ask[3 * HBR_CHUNK_HEX_LEN + 3], key[64];
	const char *snap;
	struct result r;
	json_t *missing;

	upload_ok(w, data, true, 4);
	/* Chunks 0 and 1 present, 2 not. */
	snprintf(ask, sizeof(ask), "%s,%s,%s", w->hex[2], w->hex[0], w->hex[1]);
	r = call(w, hbr_api_check_agent_chunks, w->c, NULL, 0, "JobId", w->job,
	         "ChunkIds", ask, NULL);
	assert_int_equal(r.rc, 0);
	missing = json_object_get(r.out, "Missing");
	assert_int_equal(json_array_size(missing), 1);
	assert_int_equal(json_integer_value(json_array_get(missing, 0)), 0);
	result_release(&r);

	/* The same pack again: nothing new, no second pack. */
	upload_ok(w, data, true, 0);
	assert_int_equal(rows_of(&w->f, "packs"), 1);

	r = commit_job(w, w->job);
	if (r.rc)
		fail_msg("commit: %d %s", r.rc, hbr_error_msg());
	snap = json_string_value(json_object_get(r.out, "SnapshotId"));
	assert_true(hbr_id_valid(snap, HBR_ID_SNAPSHOT));
	assert_string_equal(
	        get_str(&w->f, HBR_ENT_SNAPSHOT, w->f.acc_a, snap, "Status"),
	        "COMPLETE");
	assert_string_equal(
	        get_str(&w->f, HBR_ENT_SNAPSHOT, w->f.acc_a, snap, "ErrorFile"),
	        "[\"/src/locked\"]");
	assert_string_equal(
	        get_str(&w->f, HBR_ENT_JOB, w->f.acc_a, w->job, "Status"),
	        "COMPLETE");

	/* Four distinct references, each counted once though the tree
	 * names chunk 0 twice; chunk 2 was never uploaded. */
	assert_int_equal(refs_of(w, w->id[0]), 1);
	assert_int_equal(refs_of(w, w->id[1]), 1);
	assert_int_equal(refs_of(w, w->tid[0]), 1);
	assert_int_equal(refs_of(w, w->tid[1]), 1);
	assert_int_equal(refs_of(w, w->id[2]), -1);

	/* refs/<snapshot>: the same four, sorted. */
	memcpy(want[0], w->id[0], HBR_CHUNK_ID_LEN);
	memcpy(want[1], w->id[1], HBR_CHUNK_ID_LEN);
	memcpy(want[2], w->tid[0], HBR_CHUNK_ID_LEN);
	assert_int_equal(hbr_api_vault_get(&v, w->api, w->v), 0);
	snprintf(key, sizeof(key), "refs/%s", snap);
	assert_int_equal(hbr_vault_get(&refs, v, key, 1 << 20), 0);
	assert_int_equal(refs.len, 4 * HBR_CHUNK_ID_LEN);
	for (size_t i = 1; i < 4; i++)
		assert_true(memcmp(refs.ptr + (i - 1) * HBR_CHUNK_ID_LEN,
		                   refs.ptr + i * HBR_CHUNK_ID_LEN,
		                   HBR_CHUNK_ID_LEN) < 0);
	qsort(want, 3, HBR_CHUNK_ID_LEN, cmp_id);
	for (size_t i = 0; i < 3; i++)
		assert_non_null(bsearch(want[i], refs.ptr, 4, HBR_CHUNK_ID_LEN,
		                        cmp_id));
	hbr_buf_release(&refs);
	hbr_api_vault_put(w->api, v);

	/* A retry answers the same snapshot and counts nothing again. */
	{
		struct result again = commit_job(w, w->job);
		assert_int_equal(again.rc, 0);
		assert_string_equal(json_string_value(json_object_get(
		                            again.out, "SnapshotId")),
		                    snap);
		result_release(&again);
	}
	assert_int_equal(refs_of(w, w->id[0]), 1);
	assert_int_equal(rows_of(&w->f, "snapshots"), 1);
	assert_int_equal(count_refs_objects(w), 1);
	result_release(&r);
}

static void test_corrupt_chunk_refuses_the_pack(void **state)
{
	struct world *w = *state;
	static const int data[] = { 0, 1, -1 };
	struct hbr_buf body;
	struct result r;

	make_pack(&body, w, data, false);
	/* One byte of chunk 1's stored bytes (the last in the pack). */
	body.ptr[body.len - 1] ^= 1;
	r = call(w, hbr_api_upload_agent_pack, w->c, body.ptr, body.len,
	         "JobId", w->job, NULL);
	assert_int_equal(r.rc, HBR_EINVAL);
	assert_string_equal(hbr_error_param(), "Pack");
	result_release(&r);
	/* Truncated: malformed. */
	r = call(w, hbr_api_upload_agent_pack, w->c, body.ptr, body.len - 1,
	         "JobId", w->job, NULL);
	assert_int_equal(r.rc, HBR_EINVAL);
	assert_string_equal(hbr_error_param(), "Pack");
	result_release(&r);
	hbr_buf_release(&body);
	/* Nothing was recorded. */
	assert_int_equal(rows_of(&w->f, "chunks"), 0);
	assert_int_equal(rows_of(&w->f, "packs"), 0);
}

static void test_cancelled_job_takes_no_upload_or_commit(void **state)
{
	struct world *w = *state;
	static const int data[] = { 0, 1, -1 };
	struct hbr_buf body;
	struct result r;

	upload_ok(w, data, true, 4);
	begin(&w->f);
	assert_int_equal(
	        hbr_store_cancel(w->f.s, HBR_ENT_JOB, w->f.acc_a, w->job), 0);
	commit(&w->f);
	make_pack(&body, w, (const int[]){ 2, -1 }, false);
	r = call(w, hbr_api_upload_agent_pack, w->c, body.ptr, body.len,
	         "JobId", w->job, NULL);
	assert_int_equal(r.rc, HBR_ECONFLICT);
	result_release(&r);
	hbr_buf_release(&body);
	r = commit_job(w, w->job);
	assert_int_equal(r.rc, HBR_ECONFLICT);
	result_release(&r);
	assert_int_equal(rows_of(&w->f, "snapshots"), 0);
	/* Another client's job does not exist for it. */
	r = call(w, hbr_api_check_agent_chunks, w->d, NULL, 0, "JobId", w->job,
	         "ChunkIds", w->hex[0], NULL);
	assert_int_equal(r.rc, HBR_ENOJOB);
	result_release(&r);
}

static void test_commit_refuses_a_tree_naming_missing_chunks(void **state)
{
	struct world *w = *state;
	struct result r;

	/* The tree names chunk 1, which is not uploaded. */
	upload_ok(w, (const int[]){ 0, -1 }, true, 3);
	r = commit_job(w, w->job);
	assert_int_equal(r.rc, HBR_ENOCHUNK);
	assert_non_null(strstr(hbr_error_msg(), w->hex[1]));
	result_release(&r);
	assert_int_equal(rows_of(&w->f, "snapshots"), 0);
	assert_int_equal(refs_of(w, w->id[0]), 0);
	assert_int_equal(count_refs_objects(w), 0); /* written, then removed */
	/* Tree chunks out of order do not parse. */
	{
		char ids[2 * HBR_CHUNK_HEX_LEN + 1];
		snprintf(ids, sizeof(ids), "%s,%s", w->thex[1], w->thex[0]);
		r = call(w, hbr_api_commit_agent_snapshot, w->c, NULL, 0,
		         "JobId", w->job, "TreeChunks", ids, NULL);
		assert_int_equal(r.rc, HBR_EINVAL);
		assert_string_equal(hbr_error_param(), "TreeChunks");
		result_release(&r);
	}
}

/* The pack FetchAgentChunks answered holds exactly these ids, in order,
 * and verifies. */
static void assert_fetched(struct result *r, const uint8_t *ids, size_t n)
{
	struct hbr_pack_view view;

	assert_int_equal(r->rc, 0);
	assert_true(r->binary);
	assert_int_equal(hbr_pack_parse(&view, r->bin.ptr, r->bin.len), 0);
	assert_int_equal(view.count, n);
	for (size_t i = 0; i < n; i++)
		assert_memory_equal(view.entries[i].id,
		                    ids + i * HBR_CHUNK_ID_LEN,
		                    HBR_CHUNK_ID_LEN);
	assert_int_equal(hbr_pack_verify(&view), 0);
	hbr_pack_view_free(&view);
}

static void test_fetch_reads_only_the_jobs_snapshot(void **state)
{
	struct world *w = *state;
	static const int data[] = { 0, 1, 2, -1 };
	char rid[HBR_ID_MAX], job2[HBR_ID_MAX], ask[2 * HBR_CHUNK_HEX_LEN + 1];
	uint8_t want[2 * HBR_CHUNK_ID_LEN];
	const char *snap;
	struct result r, s;

	upload_ok(w, data, true, 5);
	r = commit_job(w, w->job);
	assert_int_equal(r.rc, 0);
	snap = json_string_value(json_object_get(r.out, "SnapshotId"));

	/* A restore on c (instance i-target) of that snapshot. */
	begin(&w->f);
	new_restore(&w->f, w->f.acc_a, rid, snap, w->c, w->v, "QUEUED", 300);
	commit(&w->f);
	s = call(w, hbr_api_start_agent_job, w->c, NULL, 0, "JobId", rid,
	         "JobType", "RESTORE", NULL);
	assert_int_equal(s.rc, 0);
	assert_int_equal(json_array_size(json_object_get(s.out, "TreeChunks")),
	                 2);
	result_release(&s);
	snprintf(ask, sizeof(ask), "%s,%s", w->hex[1], w->thex[0]);
	memcpy(want, w->id[1], HBR_CHUNK_ID_LEN);
	memcpy(want + HBR_CHUNK_ID_LEN, w->tid[0], HBR_CHUNK_ID_LEN);
	s = call(w, hbr_api_fetch_agent_chunks, w->c, NULL, 0, "JobId", rid,
	         "JobType", "RESTORE", "ChunkIds", ask, NULL);
	assert_fetched(&s, want, 2);
	result_release(&s);
	/* Chunk 2 is in the vault but not in the snapshot. */
	s = call(w, hbr_api_fetch_agent_chunks, w->c, NULL, 0, "JobId", rid,
	         "JobType", "RESTORE", "ChunkIds", w->hex[2], NULL);
	assert_int_equal(s.rc, HBR_ENOCHUNK);
	result_release(&s);
	/* Not the target: no such restore job. */
	s = call(w, hbr_api_fetch_agent_chunks, w->d, NULL, 0, "JobId", rid,
	         "JobType", "RESTORE", "ChunkIds", w->hex[1], NULL);
	assert_int_equal(s.rc, HBR_ENORESTORE);
	result_release(&s);

	/* The plan's next backup reads its parent's tree. */
	begin(&w->f);
	new_job(&w->f, w->f.acc_a, job2, w->c, w->v, w->p, "QUEUED", 400);
	commit(&w->f);
	s = call(w, hbr_api_fetch_agent_chunks, w->c, NULL, 0, "JobId", job2,
	         "JobType", "BACKUP", "ChunkIds", w->thex[1], NULL);
	assert_int_equal(s.rc, HBR_ECONFLICT); /* not started */
	result_release(&s);
	s = call(w, hbr_api_start_agent_job, w->c, NULL, 0, "JobId", job2,
	         "JobType", "BACKUP", NULL);
	assert_int_equal(s.rc, 0);
	assert_string_equal(
	        json_string_value(json_object_get(s.out, "ParentSnapshotId")),
	        snap);
	result_release(&s);
	s = call(w, hbr_api_fetch_agent_chunks, w->c, NULL, 0, "JobId", job2,
	         "JobType", "BACKUP", "ChunkIds", w->thex[1], NULL);
	assert_fetched(&s, w->tid[1], 1);
	result_release(&s);
	result_release(&r);
}

/* ---- a pack rewritten by reclamation under a reader ---- */

/* The chunk's row as it is now. */
static struct hbr_chunk_row row_of(struct world *w, const uint8_t *id)
{
	struct hbr_chunk_row row;
	bool found = false;

	assert_int_equal(
	        hbr_store_chunks_get(&row, &found, w->f.s, w->v, id, 1), 0);
	assert_true(found);
	return row;
}

/*
 * The data and tree chunks of a snapshot share a pack with a large
 * chunk nothing references, so the pack is mostly dead and the next
 * reclamation pass rewrites it; *old gets chunk 0's row from before.
 */
static const char *rewritten_under_reader(struct world *w,
                                          struct hbr_chunk_row *old,
                                          struct result *commit)
{
	struct hbr_pack_writer pw;
	struct hbr_buf body;
	struct hbr_reclaim_stats st = { 0 };
	struct hbr_reclaim_config cfg = { .data_dir = w->f.dir };
	uint8_t junk_id[HBR_CHUNK_ID_LEN];
	static uint8_t junk[64 * 1024];
	struct result r;

	hbr_random_bytes(junk, sizeof(junk));
	assert_int_equal(hbr_chunk_id(junk_id, junk, sizeof(junk)), 0);
	assert_int_equal(hbr_pack_writer_init(&pw), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(hbr_pack_writer_add(&pw, w->id[i], w->raw[i],
		                                     w->len[i],
		                                     HBR_PACK_ZSTD_LEVEL),
		                 0);
	assert_int_equal(
	        hbr_pack_writer_add(&pw, w->tid[0], w->tree.ptr, w->tsplit, 3),
	        0);
	assert_int_equal(hbr_pack_writer_add(&pw, w->tid[1],
	                                     w->tree.ptr + w->tsplit,
	                                     w->tree.len - w->tsplit, 3),
	                 0);
	assert_int_equal(hbr_pack_writer_add(&pw, junk_id, junk, sizeof(junk),
	                                     HBR_PACK_ZSTD_LEVEL),
	                 0);
	hbr_buf_init(&body, 0);
	assert_int_equal(hbr_pack_writer_finish(&body, NULL, &pw), 0);
	hbr_pack_writer_free(&pw);
	r = call(w, hbr_api_upload_agent_pack, w->c, body.ptr, body.len,
	         "JobId", w->job, NULL);
	assert_int_equal(r.rc, 0);
	result_release(&r);
	hbr_buf_release(&body);
	*commit = commit_job(w, w->job);
	assert_int_equal(commit->rc, 0);
	*old = row_of(w, w->id[0]);
	/* The job is over: nothing protects the junk. */
	assert_int_equal(hbr_reclaim_pass(&st, w->f.s, &cfg), 0);
	assert_int_equal(st.packs_rewritten, 1);
	assert_string_not_equal(row_of(w, w->id[0]).pack_id, old->pack_id);
	return json_string_value(json_object_get(commit->out, "SnapshotId"));
}

static void test_reader_follows_a_rewritten_pack(void **state)
{
	struct world *w = *state;
	struct hbr_chunk_row stale, gone;
	struct hbr_vault *v = NULL;
	struct hbr_buf stored = HBR_BUF_INIT;
	struct result first, r;
	char rid[HBR_ID_MAX], job2[HBR_ID_MAX], ask[2 * HBR_CHUNK_HEX_LEN + 2];
	uint8_t want[2 * HBR_CHUNK_ID_LEN];
	const char *snap = rewritten_under_reader(w, &stale, &first);
	char old_pack[HBR_PACK_ID_HEX + 1];

	memcpy(old_pack, stale.pack_id, sizeof(old_pack));

	/* A reader holding the row from before the rewrite: the old pack
	 * is gone, the row is read again and followed to the new one. */
	assert_int_equal(hbr_api_vault_get(&v, w->api, w->v), 0);
	assert_int_equal(
	        hbr_api_read_stored(&stored, w->f.s, v, w->v, &stale, w->id[0]),
	        0);
	assert_string_equal(stale.pack_id, row_of(w, w->id[0]).pack_id);
	assert_int_equal(stored.len, stale.stored_len);
	{
		struct hbr_pack_entry e = { 0 };
		struct hbr_pack_view one = { 0 };
		struct hbr_buf raw = HBR_BUF_INIT;

		memcpy(e.id, w->id[0], HBR_CHUNK_ID_LEN);
		e.stored_len = stale.stored_len;
		e.raw_len = stale.raw_len;
		e.flags = stale.flags;
		one.data = (const uint8_t *)stored.ptr;
		one.len = stored.len;
		one.count = 1;
		one.entries = &e;
		assert_int_equal(hbr_pack_chunk(&raw, &one, 0), 0);
		assert_int_equal(raw.len, w->len[0]);
		assert_memory_equal(raw.ptr, w->raw[0], w->len[0]);
		hbr_buf_release(&raw);
	}
	/* A row that names a missing pack and stays so is damage. */
	gone = row_of(w, w->id[1]);
	assert_int_equal(hbr_store_execf(w->f.s,
	                                 "UPDATE chunks SET pack_id = ?"
	                                 " WHERE vault_id = ? AND chunk_id = ?",
	                                 "ssb", old_pack, w->v, w->id[1],
	                                 (size_t)HBR_CHUNK_ID_LEN),
	                 0);
	hbr_buf_clear(&stored);
	{
		struct hbr_chunk_row bad = row_of(w, w->id[1]);
		assert_int_equal(hbr_api_read_stored(&stored, w->f.s, v, w->v,
		                                     &bad, w->id[1]),
		                 HBR_ECORRUPT);
	}
	assert_int_equal(hbr_store_execf(w->f.s,
	                                 "UPDATE chunks SET pack_id = ?"
	                                 " WHERE vault_id = ? AND chunk_id = ?",
	                                 "ssb", gone.pack_id, w->v, w->id[1],
	                                 (size_t)HBR_CHUNK_ID_LEN),
	                 0);
	hbr_buf_release(&stored);
	hbr_api_vault_put(w->api, v);

	/* Through the actions: a restore fetches from the new pack... */
	begin(&w->f);
	new_restore(&w->f, w->f.acc_a, rid, snap, w->c, w->v, "QUEUED", 300);
	commit(&w->f);
	r = call(w, hbr_api_start_agent_job, w->c, NULL, 0, "JobId", rid,
	         "JobType", "RESTORE", NULL);
	assert_int_equal(r.rc, 0);
	result_release(&r);
	snprintf(ask, sizeof(ask), "%s,%s", w->hex[0], w->thex[1]);
	memcpy(want, w->id[0], HBR_CHUNK_ID_LEN);
	memcpy(want + HBR_CHUNK_ID_LEN, w->tid[1], HBR_CHUNK_ID_LEN);
	r = call(w, hbr_api_fetch_agent_chunks, w->c, NULL, 0, "JobId", rid,
	         "JobType", "RESTORE", "ChunkIds", ask, NULL);
	assert_fetched(&r, want, 2);
	result_release(&r);
	/* ...and the next backup commits a tree that lives there now. */
	begin(&w->f);
	new_job(&w->f, w->f.acc_a, job2, w->c, w->v, w->p, "RUNNING", 400);
	commit(&w->f);
	r = commit_job(w, job2);
	if (r.rc)
		fail_msg("commit after rewrite: %d %s", r.rc, hbr_error_msg());
	assert_int_equal(refs_of(w, w->id[0]), 2);
	assert_int_equal(refs_of(w, w->tid[0]), 2);
	result_release(&r);
	result_release(&first);
}

static void test_poll(void **state)
{
	struct world *w = *state;
	struct result r;

	r = call(w, hbr_api_poll_agent_jobs, w->c, NULL, 0, NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(json_array_size(json_object_get(r.out, "BackupJobs")),
	                 1);
	assert_int_equal(json_array_size(json_object_get(r.out, "RestoreJobs")),
	                 0);
	assert_int_equal(
	        json_integer_value(json_object_get(
	                json_object_get(r.out, "Settings"), "MaxWorker")),
	        0);
	result_release(&r);
	r = call(w, hbr_api_poll_agent_jobs, w->d, NULL, 0, NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(json_array_size(json_object_get(r.out, "BackupJobs")),
	                 0);
	result_release(&r);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_upload_check_commit),
		T(test_corrupt_chunk_refuses_the_pack),
		T(test_cancelled_job_takes_no_upload_or_commit),
		T(test_commit_refuses_a_tree_naming_missing_chunks),
		T(test_fetch_reads_only_the_jobs_snapshot),
		T(test_poll),
		T(test_reader_follows_a_rewritten_pack),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
