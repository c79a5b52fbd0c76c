/*
 * The agent's data (docs/AGENT-PROTOCOL.md): CheckAgentChunks,
 * UploadAgentPack, CommitAgentSnapshot and FetchAgentChunks.
 *
 * The server trusts no byte: every uploaded chunk is decompressed and
 * hashed before anything is recorded, and a snapshot's references are
 * computed here from its tree. Order gives durability: a pack object is
 * durable before its chunk rows exist, and refs/<snapshot> before the
 * snapshot row.
 */
#include "common.h"
#include "api/api_agent.h"
#include "api/api_params.h"
#include "auth/sig.h"
#include "core/id.h"
#include "core/pack.h"
#include "core/tree.h"
#include "core/tree_scan.h"
#include "store/store_data.h"
#include "store/store_sched.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/log.h"
#include "util/random.h"
#include "util/timeutil.h"
#include "vault/vault.h"

#define CHECK_MAX     8192 /* ids per CheckAgentChunks */
#define FETCH_MAX     1024 /* ids per FetchAgentChunks */
#define FETCH_RAW_MAX (32u << 20) /* raw bytes per FetchAgentChunks */
#define TREE_MAX      16384 /* tree chunks per snapshot (1 MiB form) */
/* Distinct chunks a snapshot may reference: the set is in memory while
 * the commit runs (about 64 bytes each), and each is one update in the
 * commit's transaction. 16 Mi chunks is about 1 TiB at 64 KiB chunks. */
#define REFS_MAX         HBR_SNAPSHOT_REFS_MAX
#define ERROR_FILES_MAX  100 /* paths a snapshot's ErrorFile keeps */
#define ERROR_FILES_TEXT (1u << 20)
#define RETENTION_BATCH  100
#define PACK_KEY_MAX     (sizeof("packs/hh/") + HBR_PACK_ID_HEX)

/* ids: n * 32 bytes, from a comma-separated list of 64-digit hex ids. */
static int parse_ids(uint8_t **ids_out, size_t *n_out,
                     struct hbr_api_call *call, const char *name, size_t max)
{
	const char *text = NULL, *p;
	uint8_t *ids = NULL;
	size_t n = 1, i = 0;
	int error;

	if ((error = hbr_param_str(&text, call->params, name, true, 1,
	                           max * (2 * HBR_CHUNK_ID_LEN + 1))) < 0)
		return error;
	for (p = text; *p; p++)
		n += *p == ',';
	if (n > max)
		return hbr_error_set_param(HBR_EINVAL, name,
		                           "%s holds %zu ids, more than %zu",
		                           name, n, max);
	ids = hbr_malloc(n * HBR_CHUNK_ID_LEN);
	for (p = text; i < n; i++) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (hbr_chunk_id_parse(ids + i * HBR_CHUNK_ID_LEN, p, len) <
		    0) {
			hbr_free(ids);
			return hbr_error_set_param(HBR_EINVAL, name,
			                           "%s entry %zu is not a"
			                           " 64-digit hex chunk id",
			                           name, i + 1);
		}
		p = comma ? comma + 1 : p + len;
	}
	*ids_out = ids;
	*n_out = n;
	return 0;
}

static const char *str(json_t *obj, const char *name)
{
	const char *v = json_string_value(json_object_get(obj, name));

	return v ? v : "";
}

static void pack_key(char key[PACK_KEY_MAX], const char *pack_id)
{
	(void)snprintf(key, PACK_KEY_MAX, "packs/%.2s/%s", pack_id, pack_id);
}

/* When the job started: what "present" is safe for (store_data.h). */
static int64_t job_start(json_t *job)
{
	int64_t t = json_integer_value(json_object_get(job, "StartTime"));

	return t > 0 ? t : hbr_time_now();
}

static int no_chunk(const uint8_t *id, const char *why)
{
	char hex[HBR_CHUNK_HEX_LEN];

	hbr_chunk_id_hex(hex, id);
	return hbr_error_set(HBR_ENOCHUNK, "chunk %s %s", hex, why);
}

int hbr_api_check_agent_chunks(struct hbr_api_call *call)
{
	struct hbr_job_ref j;
	uint8_t *ids = NULL;
	bool *missing = NULL;
	json_t *job = NULL, *list;
	size_t n = 0, n_missing = 0;
	int error;

	if ((error = hbr_api_job_ref(&j, call, false)) < 0 ||
	    (error = parse_ids(&ids, &n, call, "ChunkIds", CHECK_MAX)) < 0 ||
	    (error = hbr_store_agent_job_running(&job, call->store, &j)) < 0)
		goto out;
	missing = hbr_calloc(n, sizeof(*missing));
	if ((error = hbr_store_chunks_check(
	             missing, &n_missing, call->store, str(job, "VaultId"), ids,
	             n, job_start(job), hbr_time_now())) < 0)
		goto out;
	list = json_array();
	for (size_t i = 0; i < n; i++)
		if (missing[i])
			json_array_append_new(list,
			                      json_integer((json_int_t)i));
	json_object_set_new(call->out, "Missing", list);
out:
	hbr_free(ids);
	hbr_free(missing);
	json_decref(job);
	return error;
}

/* ---- UploadAgentPack ---- */

/* A chunk that does not hash to its id refuses the whole pack as the
 * caller's error, like a malformed one. */
static int invalid_pack(int error)
{
	if (error == HBR_ECORRUPT || error == HBR_EINVAL)
		return hbr_error_set_param(HBR_EINVAL, "Pack", "%s",
		                           hbr_error_msg());
	return error;
}

static void new_pack_id(char out[HBR_PACK_ID_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t rnd[HBR_PACK_ID_HEX / 2];

	hbr_random_bytes(rnd, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++) {
		out[2 * i] = hex[rnd[i] >> 4];
		out[2 * i + 1] = hex[rnd[i] & 15];
	}
	out[HBR_PACK_ID_HEX] = '\0';
}

int hbr_api_upload_agent_pack(struct hbr_api_call *call)
{
	struct hbr_pack_view view = { 0 };
	struct hbr_pack_added added = { 0 };
	struct hbr_vault *v = NULL;
	struct hbr_job_ref j;
	char pack_id[HBR_PACK_ID_HEX + 1] = "", key[PACK_KEY_MAX];
	const char *vault_id;
	json_t *job = NULL;
	uint8_t *ids = NULL;
	bool *missing = NULL;
	size_t n_missing = 0;
	int error;

	if ((error = hbr_api_job_ref(&j, call, false)) < 0)
		return error;
	if (!call->body)
		return hbr_error_set_param(HBR_EINVAL, "Pack",
		                           "UploadAgentPack takes the pack as"
		                           " an application/octet-stream body");
	/* The cheap refusals first: a job that cannot take data is not
	 * worth hashing 40 MiB for. */
	if ((error = hbr_store_agent_job_running(&job, call->store, &j)) < 0)
		goto out;
	vault_id = str(job, "VaultId");
	if ((error = invalid_pack(
	             hbr_pack_parse(&view, call->body, call->body_len))) < 0 ||
	    (error = invalid_pack(hbr_pack_verify(&view))) < 0)
		goto out;
	/* A retry whose first answer was lost finds every chunk present:
	 * nothing to store, and no dead pack left behind. */
	ids = hbr_malloc((size_t)view.count * HBR_CHUNK_ID_LEN);
	missing = hbr_calloc(view.count, sizeof(*missing));
	for (uint32_t i = 0; i < view.count; i++)
		memcpy(ids + (size_t)i * HBR_CHUNK_ID_LEN, view.entries[i].id,
		       HBR_CHUNK_ID_LEN);
	if ((error = hbr_store_chunks_check(
	             missing, &n_missing, call->store, vault_id, ids,
	             view.count, job_start(job), hbr_time_now())) < 0)
		goto out;
	added.chunks = view.count;
	if (n_missing > 0) {
		int64_t now = hbr_time_now();

		new_pack_id(pack_id);
		pack_key(key, pack_id);
		if ((error = hbr_store_pack_begin(
		             call->store, vault_id, pack_id,
		             (int64_t)call->body_len, now)) < 0 ||
		    (error = hbr_api_vault_get(&v, call->api, vault_id)) < 0 ||
		    (error = hbr_vault_put(v, key, call->body,
		                           call->body_len)) < 0 ||
		    (error = hbr_store_pack_commit(&added, call->store, &j,
		                                   vault_id, pack_id, &view,
		                                   now)) < 0)
			goto out;
	}
	json_object_set_new(call->out, "PackId", json_string(pack_id));
	json_object_set_new(call->out, "Chunks", json_integer(added.chunks));
	json_object_set_new(call->out, "NewChunks",
	                    json_integer(added.new_chunks));
	json_object_set_new(call->out, "StoredBytes",
	                    json_integer(added.new_bytes));
out:
	hbr_api_vault_put(call->api, v);
	hbr_pack_view_free(&view);
	hbr_free(ids);
	hbr_free(missing);
	json_decref(job);
	return error;
}

/* ---- reading chunks back out of packs ---- */

/* Times a reader follows a chunk's row to another pack: each move is a
 * rewrite by reclamation that finished between two of our reads. */
#define FOLLOW_MAX 4

int hbr_api_read_stored(struct hbr_buf *out, struct hbr_store *store,
                        struct hbr_vault *v, const char *vault_id,
                        struct hbr_chunk_row *row, const uint8_t *id)
{
	char key[PACK_KEY_MAX], was[HBR_PACK_ID_HEX + 1];
	bool found = false;
	int error;

	pack_key(key, row->pack_id);
	error = hbr_vault_get_range(out, v, key, row->offset, row->stored_len);
	for (int i = 0; error == HBR_ENOTFOUND && i < FOLLOW_MAX; i++) {
		memcpy(was, row->pack_id, sizeof(was));
		if ((error = hbr_store_chunks_get(row, &found, store, vault_id,
		                                  id, 1)) < 0)
			return error;
		if (!found || !strcmp(was, row->pack_id)) {
			(void)no_chunk(id, "has no stored bytes");
			return hbr_error_set(HBR_ECORRUPT, "%s",
			                     hbr_error_msg());
		}
		pack_key(key, row->pack_id);
		error = hbr_vault_get_range(out, v, key, row->offset,
		                            row->stored_len);
	}
	if (error == HBR_ENOTFOUND || error == HBR_EINVAL)
		return hbr_error_set(HBR_ECORRUPT, "%s (a chunk's pack)",
		                     hbr_error_msg());
	return error;
}

/* A chunk's raw bytes, decompressed and checked against its id. */
static int read_chunk(struct hbr_buf *raw, struct hbr_buf *stored,
                      struct hbr_store *store, struct hbr_vault *v,
                      const char *vault_id, struct hbr_chunk_row *row,
                      const uint8_t *id)
{
	struct hbr_pack_entry e = { 0 };
	struct hbr_pack_view one = { 0 };
	int error;

	hbr_buf_clear(stored);
	if ((error = hbr_api_read_stored(stored, store, v, vault_id, row, id)) <
	    0)
		return error;
	memcpy(e.id, id, HBR_CHUNK_ID_LEN);
	e.stored_len = row->stored_len;
	e.raw_len = row->raw_len;
	e.flags = row->flags;
	e.offset = 0;
	one.data = (const uint8_t *)stored->ptr;
	one.len = stored->len;
	one.count = 1;
	one.entries = &e;
	return hbr_pack_chunk(raw, &one, 0);
}

/* ---- CommitAgentSnapshot ---- */

struct refs {
	struct hbr_idset *set;
	enum hbr_tree_line_kind prev; /* continuation lines follow files */
};

static int collect_refs(const char *text, size_t len, size_t line_no,
                        void *payload)
{
	struct refs *r = payload;
	struct hbr_idset *set = r->set;
	int error;

	/* Line 0 is the header; only "c" of each entry (and "c+" of each
	 * continuation line) names chunks. The scanner validates each line
	 * as the agent's reader would without building it: a commit reads
	 * every line of the tree. */
	if ((error = hbr_tree_line_refs(set, &r->prev, text, len, line_no)) < 0)
		return error;
	if (set->n > REFS_MAX)
		return hbr_error_set(HBR_ETOOBIG,
		                     "the tree references more than %u"
		                     " chunks",
		                     REFS_MAX);
	return 0;
}

/*
 * The snapshot's references: its tree chunks and every chunk the tree
 * names, read from the vault (never taken from the agent). A tree chunk
 * the vault lacks is HBR_ENOCHUNK; a tree that does not parse is the
 * caller's InvalidTreeChunks.
 */
static int tree_refs(struct hbr_idset *set, struct hbr_store *store,
                     struct hbr_vault *v, const char *vault_id,
                     const uint8_t *tree, size_t n)
{
	struct hbr_chunk_row *rows = hbr_calloc(n, sizeof(*rows));
	bool *found = hbr_calloc(n, sizeof(*found));
	struct hbr_buf raw = HBR_BUF_INIT, stored = HBR_BUF_INIT;
	struct hbr_tree_reader reader;
	struct refs r = { set, HBR_TREE_LINE_OTHER };
	int error;

	hbr_tree_reader_init_lines(&reader, collect_refs, &r);
	if ((error = hbr_store_chunks_get(rows, found, store, vault_id, tree,
	                                  n)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (!found[i]) {
			error = no_chunk(tree + i * HBR_CHUNK_ID_LEN,
			                 "of the snapshot's tree is not in the"
			                 " vault");
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const uint8_t *id = tree + i * HBR_CHUNK_ID_LEN;

		if ((error = read_chunk(&raw, &stored, store, v, vault_id,
		                        &rows[i], id)) < 0)
			goto out;
		if (hbr_idset_add(set, id) < 0) {
			error = HBR_ERROR;
			goto out;
		}
		if ((error = hbr_tree_reader_feed(&reader, raw.ptr, raw.len)) <
		    0)
			goto bad_tree;
	}
	if ((error = hbr_tree_reader_finish(&reader)) < 0)
		goto bad_tree;
	goto out;
bad_tree:
	if (error == HBR_ECORRUPT || error == HBR_ETOOBIG)
		error = hbr_error_set_param(HBR_EINVAL, "TreeChunks",
		                            "the snapshot's tree is not valid:"
		                            " %s",
		                            hbr_error_msg());
out:
	hbr_tree_reader_free(&reader);
	hbr_buf_release(&raw);
	hbr_buf_release(&stored);
	hbr_free(rows);
	hbr_free(found);
	return error;
}

/* The JSON array text of the ids, lower-case hex, in order. */
static char *tree_text(const uint8_t *ids, size_t n)
{
	struct hbr_buf b = HBR_BUF_INIT;

	(void)hbr_buf_putc(&b, '[');
	for (size_t i = 0; i < n; i++) {
		char hex[HBR_CHUNK_HEX_LEN];
		hbr_chunk_id_hex(hex, ids + i * HBR_CHUNK_ID_LEN);
		(void)hbr_buf_printf(&b, "%s\"%s\"", i ? "," : "", hex);
	}
	(void)hbr_buf_putc(&b, ']');
	return hbr_buf_detach(&b, NULL);
}

/* ErrorFiles: a JSON array of paths; the snapshot keeps the first
 * ERROR_FILES_MAX of them, as JSON text. */
static int error_files(char **out, struct hbr_api_call *call)
{
	const char *text = NULL;
	json_t *arr, *kept;
	int error;

	*out = NULL;
	if ((error = hbr_param_str(&text, call->params, "ErrorFiles", false, 0,
	                           ERROR_FILES_TEXT)) < 0)
		return error;
	if (!text || !text[0])
		return 0;
	arr = json_loads(text, 0, NULL);
	if (!json_is_array(arr)) {
		json_decref(arr);
		return hbr_error_set_param(HBR_EINVAL, "ErrorFiles",
		                           "ErrorFiles must be a JSON array of"
		                           " paths");
	}
	kept = json_array();
	for (size_t i = 0; i < json_array_size(arr) && i < ERROR_FILES_MAX; i++)
		json_array_append(kept, json_array_get(arr, i));
	json_decref(arr);
	if (json_array_size(kept)) {
		char *dump = json_dumps(kept, JSON_COMPACT);
		*out = hbr_strdup(dump ? dump : "");
		free(dump); /* jansson's allocation */
	}
	json_decref(kept);
	return 0;
}

/* Remove an unused refs object, keeping the error being reported. */
static void forget_refs(struct hbr_vault *v, const char *key, int error)
{
	char msg[2048], param[128];

	(void)snprintf(msg, sizeof(msg), "%s", hbr_error_msg());
	(void)snprintf(param, sizeof(param), "%s", hbr_error_param());
	if (hbr_vault_remove(v, key) < 0)
		hbr_log_warn("%s left behind: %s", key, hbr_error_msg());
	if (param[0])
		(void)hbr_error_set_param(error, param, "%s", msg);
	else
		(void)hbr_error_set(error, "%s", msg);
}

int hbr_api_commit_agent_snapshot(struct hbr_api_call *call)
{
	static const char *const ends[] = { "COMPLETE", "PARTIAL_COMPLETE" };
	static const char *const counters[] = { "BytesTotal", "BytesDone",
		                                "ItemsTotal", "ItemsDone",
		                                "ActualBytes" };
	struct hbr_snapshot_commit c = { 0 };
	struct hbr_snapshot_committed done = { 0 };
	struct hbr_buf refs = HBR_BUF_INIT;
	struct hbr_idset set;
	struct hbr_vault *v = NULL;
	struct hbr_job_ref j;
	char snapshot_id[HBR_ID_MAX], key[sizeof("refs/") + HBR_ID_MAX];
	char hash[65];
	int64_t vals[HBR_ARRAY_SIZE(counters)];
	const char *vault_id, *status = NULL;
	char *tree = NULL, *errfiles = NULL;
	uint8_t *ids = NULL;
	json_t *job = NULL;
	bool refs_written = false;
	size_t n = 0;
	uint64_t t0 = hbr_time_mono_ns(), t1 = 0, t2 = 0, t3 = 0;
	int error;

	hbr_idset_init(&set);
	if ((error = hbr_api_job_ref(&j, call, false)) < 0 ||
	    (error = parse_ids(&ids, &n, call, "TreeChunks", TREE_MAX)) < 0 ||
	    (error = hbr_param_enum(&status, call->params, "Status", ends, 2,
	                            "COMPLETE")) < 0 ||
	    (error = error_files(&errfiles, call)) < 0)
		goto out;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(counters); i++)
		if ((error = hbr_param_int(&vals[i], call->params, counters[i],
		                           false, 0, INT64_MAX, 0)) < 0)
			goto out;
	if ((error = hbr_store_agent_job(&job, call->store, &j)) < 0)
		goto out;
	/* A retry whose first answer was lost: the same snapshot, without
	 * reading the tree again. */
	if ((!strcmp(str(job, "Status"), "COMPLETE") ||
	     !strcmp(str(job, "Status"), "PARTIAL_COMPLETE")) &&
	    str(job, "SnapshotId")[0]) {
		json_object_set_new(call->out, "SnapshotId",
		                    json_string(str(job, "SnapshotId")));
		goto out;
	}
	if (strcmp(str(job, "Status"), "RUNNING")) {
		error = hbr_error_set(HBR_ECONFLICT,
		                      "backup job %s is %s, not RUNNING",
		                      j.job_id, str(job, "Status"));
		goto out;
	}
	vault_id = str(job, "VaultId");
	if ((error = hbr_api_vault_get(&v, call->api, vault_id)) < 0 ||
	    (error = tree_refs(&set, call->store, v, vault_id, ids, n)) < 0 ||
	    (error = hbr_idset_sorted(&refs, &set)) < 0)
		goto out;
	t1 = hbr_time_mono_ns();
	/* Durable before the row that makes the snapshot visible: what
	 * reclamation will decrement must exist first. */
	hbr_id_new(snapshot_id, HBR_ID_SNAPSHOT);
	(void)snprintf(key, sizeof(key), "refs/%s", snapshot_id);
	if ((error = hbr_vault_put(v, key, refs.ptr, refs.len)) < 0)
		goto out;
	refs_written = true;
	t2 = hbr_time_mono_ns();
	tree = tree_text(ids, n);
	hbr_sig_sha256_hex(hash, tree, strlen(tree));
	c.job = &j;
	c.snapshot_id = snapshot_id;
	c.tree = tree;
	c.refs = (const uint8_t *)refs.ptr;
	c.nrefs = set.n;
	c.status = status;
	c.snapshot_hash = hash;
	c.error_file = errfiles;
	c.bytes_total = vals[0];
	c.bytes_done = vals[1];
	c.items_total = vals[2];
	c.items_done = vals[3];
	c.actual_bytes = vals[4];
	c.now = hbr_time_now();
	if ((error = hbr_store_snapshot_commit(&done, call->store, &c)) < 0)
		goto out;
	t3 = hbr_time_mono_ns();
	if (done.existing) {
		/* Another commit of this job won the race; our refs object
		 * names no snapshot, so it goes. */
		(void)hbr_vault_remove(v, key);
	} else if (done.plan_id[0]) {
		int64_t deleted = 0;
		if (hbr_store_retention_apply(&deleted, call->store,
		                              done.plan_id, c.now,
		                              RETENTION_BATCH) < 0)
			hbr_log_warn("retention of plan %s after %s: %s",
			             done.plan_id, snapshot_id,
			             hbr_error_msg());
	}
	json_object_set_new(call->out, "SnapshotId",
	                    json_string(done.snapshot_id));
	hbr_log_debug("commit %s: %zu references; %.3f s reading the tree,"
	              " %.3f s writing the refs object, %.3f s counting,"
	              " %.3f s retention",
	              done.snapshot_id, set.n, (double)(t1 - t0) / 1e9,
	              (double)(t2 - t1) / 1e9, (double)(t3 - t2) / 1e9,
	              (double)(hbr_time_mono_ns() - t3) / 1e9);
out:
	/* A refused commit made no snapshot: its refs object names
	 * nothing. (A failed COMMIT is rolled back, so this holds.) */
	if (error < 0 && refs_written)
		forget_refs(v, key, error);
	hbr_api_vault_put(call->api, v);
	hbr_idset_free(&set);
	hbr_buf_release(&refs);
	hbr_free(tree);
	hbr_free(errfiles);
	hbr_free(ids);
	json_decref(job);
	return error;
}

/* ---- FetchAgentChunks ---- */

int hbr_api_fetch_agent_chunks(struct hbr_api_call *call)
{
	struct hbr_pack_writer w;
	struct hbr_buf stored = HBR_BUF_INIT;
	struct hbr_chunk_row *rows = NULL;
	struct hbr_vault *v = NULL;
	struct hbr_job_ref j;
	const char *vault_id, *snapshot_id;
	uint64_t raw = 0;
	uint8_t *ids = NULL;
	bool *found = NULL, writer = false;
	json_t *job = NULL;
	size_t n = 0, first;
	int error;

	if ((error = hbr_api_job_ref(&j, call, true)) < 0 ||
	    (error = parse_ids(&ids, &n, call, "ChunkIds", FETCH_MAX)) < 0 ||
	    (error = hbr_store_agent_job_running(&job, call->store, &j)) < 0)
		goto out;
	/* What a job may read: the snapshot it restores, or the parent a
	 * backup compares against (its tree, to skip unchanged files). */
	vault_id = str(job, "VaultId");
	snapshot_id = str(job, j.type == HBR_JOB_RESTORE ? "SnapshotId" :
	                                                   "ParentSnapshotId");
	if (!snapshot_id[0]) {
		error = no_chunk(ids, "is not readable: the job has no parent"
		                      " snapshot");
		goto out;
	}
	if ((error = hbr_api_vault_get(&v, call->api, vault_id)) < 0 ||
	    (error = hbr_api_refs_find(&first, call->api, v, vault_id,
	                               snapshot_id, ids, n)) < 0)
		goto out;
	if (first < n) {
		char why[128];
		(void)snprintf(why, sizeof(why), "is not in snapshot %s",
		               snapshot_id);
		error = no_chunk(ids + first * HBR_CHUNK_ID_LEN, why);
		goto out;
	}
	rows = hbr_calloc(n, sizeof(*rows));
	found = hbr_calloc(n, sizeof(*found));
	if ((error = hbr_store_chunks_get(rows, found, call->store, vault_id,
	                                  ids, n)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (!found[i]) {
			error = no_chunk(ids + i * HBR_CHUNK_ID_LEN,
			                 "is not in the vault");
			goto out;
		}
		raw += rows[i].raw_len;
	}
	if (raw > FETCH_RAW_MAX) {
		error = hbr_error_set_param(HBR_EINVAL, "ChunkIds",
		                            "the chunks asked for hold %ju"
		                            " bytes, more than %u; ask for"
		                            " fewer at a time",
		                            (uintmax_t)raw, FETCH_RAW_MAX);
		goto out;
	}
	if ((error = hbr_pack_writer_init(&w)) < 0)
		goto out;
	writer = true;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *id = ids + i * HBR_CHUNK_ID_LEN;
		struct hbr_pack_entry e = { 0 };

		memcpy(e.id, id, HBR_CHUNK_ID_LEN);
		e.stored_len = rows[i].stored_len;
		e.raw_len = rows[i].raw_len;
		e.flags = rows[i].flags;
		hbr_buf_clear(&stored);
		if ((error = hbr_api_read_stored(&stored, call->store, v,
		                                 vault_id, &rows[i], id)) < 0 ||
		    (error = hbr_pack_writer_add_stored(&w, &e, stored.ptr)) <
		            0)
			goto out;
	}
	hbr_buf_clear(&call->bin);
	if ((error = hbr_pack_writer_finish(&call->bin, NULL, &w)) < 0)
		goto out;
	call->binary = true;
out:
	if (writer)
		hbr_pack_writer_free(&w);
	hbr_api_vault_put(call->api, v);
	hbr_buf_release(&stored);
	hbr_free(rows);
	hbr_free(found);
	hbr_free(ids);
	json_decref(job);
	return error;
}
