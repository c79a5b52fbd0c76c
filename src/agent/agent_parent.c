/* Tree files: fetch, cache, and the parent cursor (agent_parent.h). */
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include "agent/agent_glob.h"
#include "agent/agent_index.h"
#include "agent/agent_parent.h"
#include "core/pack.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/random.h"

#define READ_BLOCK (1u << 20)
/* Tree chunks are cut with the default chunker (at most 256 KiB raw):
 * 128 of them stay within the 32 MiB one fetch may carry. */
#define TREE_FETCH_IDS (HBR_AGENT_FETCH_RAW_MAX / HBR_CHUNKER_DEFAULT_MAX)

void hbr_agent_tree_cache_path(char *out, size_t size, const char *state_dir,
                               const char *snapshot_id)
{
	(void)snprintf(out, size, "%s/trees/%s.tree", state_dir, snapshot_id);
}

/* One FetchAgentChunks call for ids[from, to) whose chunks are written
 * to fd in order. */
static int fetch_batch(struct hbr_agent_job *job, struct hbr_agent_conn *conn,
                       const json_t *ids, size_t from, size_t to, int fd)
{
	struct hbr_kvlist p = HBR_KVLIST_INIT;
	struct hbr_buf list = HBR_BUF_INIT, body, chunk;
	struct hbr_pack_view v = { 0 };
	unsigned backoff = 250;
	int error = 0;

	hbr_buf_init(&body, HBR_PACK_MAX_BYTES);
	hbr_buf_init(&chunk, HBR_CHUNKER_MAX_LIMIT);
	for (size_t i = from; i < to; i++) {
		const char *hex = json_string_value(json_array_get(ids, i));

		if (!hex) {
			error = hbr_error_set(
			        HBR_ECORRUPT,
			        "a tree chunk id is not a string");
			goto out;
		}
		if (i > from)
			(void)hbr_buf_putc(&list, ',');
		(void)hbr_buf_puts(&list, hex);
	}
	hbr_agent_param(&p, "JobId", job->id);
	hbr_agent_param(&p, "JobType", job->type);
	hbr_agent_param(&p, "ChunkIds", hbr_buf_cstr(&list));
	for (int attempt = 1; attempt <= HBR_AGENT_RETRIES; attempt++) {
		hbr_buf_clear(&body);
		error = hbr_agent_conn_fetch(&body, conn, "FetchAgentChunks",
		                             &p, HBR_PACK_MAX_BYTES);
		if (error == 0 || !hbr_agent_retryable(error) ||
		    attempt == HBR_AGENT_RETRIES ||
		    !hbr_agent_job_sleep(job, backoff))
			break;
		backoff *= 2;
	}
	if (error < 0 || (error = hbr_pack_parse(&v, body.ptr, body.len)) < 0)
		goto out;
	if (v.count != to - from) {
		error = hbr_error_set(HBR_ECORRUPT,
		                      "FetchAgentChunks answered %u chunks for"
		                      " %zu ids",
		                      v.count, to - from);
		goto out;
	}
	for (uint32_t i = 0; i < v.count; i++) {
		uint8_t want[HBR_CHUNK_ID_LEN];
		const char *hex =
		        json_string_value(json_array_get(ids, from + i));

		if ((error = hbr_chunk_id_parse(want, hex, strlen(hex))) < 0)
			goto out;
		if (memcmp(want, v.entries[i].id, HBR_CHUNK_ID_LEN)) {
			error = hbr_error_set(HBR_ECORRUPT,
			                      "FetchAgentChunks answered chunks"
			                      " out of order");
			goto out;
		}
		if ((error = hbr_pack_chunk(&chunk, &v, i)) < 0 ||
		    (error = hbr_fs_write_all(fd, chunk.ptr, chunk.len)) < 0)
			goto out;
	}
out:
	hbr_pack_view_free(&v);
	hbr_buf_release(&body);
	hbr_buf_release(&chunk);
	hbr_buf_release(&list);
	hbr_kvlist_release(&p);
	return error;
}

int hbr_agent_tree_fetch(struct hbr_agent_job *job, struct hbr_agent_conn *conn,
                         const json_t *ids, const char *path)
{
	char tmp[HBR_AGENT_FILE_MAX + 16], rnd[9];
	size_t n = json_array_size(ids);
	int fd, error = 0;

	if (!json_is_array(ids) || !n)
		return hbr_error_set(HBR_ECORRUPT, "the snapshot has no tree");
	hbr_random_string(rnd, 8, "0123456789abcdef");
	rnd[8] = '\0';
	(void)snprintf(tmp, sizeof(tmp), "%s.%s.tmp", path, rnd);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return hbr_error_set_os(HBR_EIO, "cannot create %s", tmp);
	for (size_t from = 0; from < n && !error; from += TREE_FETCH_IDS) {
		size_t to =
		        from + TREE_FETCH_IDS < n ? from + TREE_FETCH_IDS : n;

		error = fetch_batch(job, conn, ids, from, to, fd);
	}
	if (!error && fsync(fd) < 0)
		error = hbr_error_set_os(HBR_EIO, "fsync %s", tmp);
	close(fd);
	if (!error && rename(tmp, path) < 0)
		error = hbr_error_set_os(HBR_EIO, "rename %s", tmp);
	if (error)
		(void)unlink(tmp);
	else
		hbr_log_info("job %s: fetched a tree of %zu chunks", job->id,
		             n);
	return error;
}

int hbr_agent_tree_read(const char *path, hbr_tree_entry_cb *cb, void *payload)
{
	struct hbr_tree_reader r;
	char *block = NULL;
	int fd, error = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return hbr_error_set_os(HBR_EIO, "cannot open %s", path);
	block = hbr_malloc(READ_BLOCK);
	hbr_tree_reader_init(&r, cb, payload);
	for (;;) {
		ssize_t n = read(fd, block, READ_BLOCK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = hbr_error_set_os(HBR_EIO, "read %s", path);
			break;
		}
		if (n == 0) {
			error = hbr_tree_reader_finish(&r);
			break;
		}
		if ((error = hbr_tree_reader_feed(&r, block, (size_t)n)) != 0)
			break;
	}
	hbr_tree_reader_free(&r);
	hbr_free(block);
	close(fd);
	return error;
}

/* A pull reader of lines, or of the index's records, for the cursor. */
struct hbr_agent_parent {
	struct hbr_agent_index_reader *idx; /* NULL: the JSON tree */
	int fd;
	struct hbr_buf buf; /* unread bytes from pos */
	size_t pos;
	bool eof;
	size_t line_no;
	json_t *ahead; /* the line after a file's last, read to find it */
	struct hbr_agent_entry cur;
	bool have_cur, done;
	size_t bad;
};

static int add_ids(struct hbr_idset *known, const json_t *ids)
{
	const json_t *v;
	size_t i;

	json_array_foreach(ids, i, v)
	{
		uint8_t id[HBR_CHUNK_ID_LEN];
		const char *hex = json_string_value(v);

		if (!hex || hbr_chunk_id_parse(id, hex, strlen(hex)) < 0)
			return hbr_error_set(HBR_ECORRUPT,
			                     "ParentTreeChunks holds what is"
			                     " not a chunk id");
		(void)hbr_idset_add(known, id);
	}
	return 0;
}

int hbr_agent_parent_open(struct hbr_agent_parent **out,
                          struct hbr_agent_job *job,
                          struct hbr_agent_conn *conn, const char *snapshot_id,
                          const json_t *tree_chunks, struct hbr_idset *known)
{
	struct hbr_agent_parent *p;
	char path[HBR_AGENT_FILE_MAX], dir[HBR_AGENT_DIR_MAX];
	struct stat sb;
	int error;

	/* The parent's data chunks become known file by file, as the
	 * cursor meets them (hbr_agent_parent_find's caller): reading the
	 * whole tree first would delay the backup's start. */
	if ((error = add_ids(known, tree_chunks)) < 0)
		return error;
	p = hbr_calloc(1, sizeof(*p));
	p->fd = -1;
	hbr_agent_entry_init(&p->cur);
	hbr_agent_index_path(path, sizeof(path), job->state_dir, snapshot_id);
	if (hbr_agent_index_open(&p->idx, path) == 0) {
		hbr_log_info("job %s: parent %s's index is cached", job->id,
		             snapshot_id);
		*out = p;
		return 0;
	}
	hbr_agent_tree_cache_path(path, sizeof(path), job->state_dir,
	                          snapshot_id);
	(void)snprintf(dir, sizeof(dir), "%s/trees", job->state_dir);
	if (stat(path, &sb) < 0) {
		if ((error = hbr_fs_mkdirs(dir, 0700)) < 0 ||
		    (error = hbr_agent_tree_fetch(job, conn, tree_chunks,
		                                  path)) < 0) {
			hbr_agent_parent_free(p);
			return error;
		}
	} else {
		hbr_log_info("job %s: parent %s's tree is cached", job->id,
		             snapshot_id);
	}
	hbr_buf_init(&p->buf, HBR_TREE_LINE_MAX + READ_BLOCK);
	if ((p->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		error = hbr_error_set_os(HBR_EIO, "cannot open %s", path);
		hbr_agent_parent_free(p);
		return error;
	}
	*out = p;
	return 0;
}

void hbr_agent_parent_free(struct hbr_agent_parent *p)
{
	if (!p)
		return;
	hbr_agent_index_close(p->idx);
	if (p->fd >= 0)
		close(p->fd);
	hbr_buf_release(&p->buf);
	json_decref(p->ahead);
	hbr_agent_entry_release(&p->cur);
	hbr_free(p);
}

/* The next line (without '\n') or false at the end or on an error. */
static bool next_line(struct hbr_agent_parent *p, const char **line,
                      size_t *len)
{
	for (;;) {
		char *start = p->buf.ptr ? p->buf.ptr + p->pos : NULL;
		size_t avail = p->buf.len - p->pos;
		char *nl = avail ? memchr(start, '\n', avail) : NULL;
		ssize_t n;

		if (nl) {
			*line = start;
			*len = (size_t)(nl - start);
			p->pos += *len + 1;
			return true;
		}
		if (p->eof) {
			if (!avail)
				return false;
			*line = start;
			*len = avail;
			p->pos += avail;
			return true;
		}
		/* Keep the partial line, read more after it. */
		if (avail)
			memmove(p->buf.ptr, start, avail);
		p->buf.len = avail;
		p->pos = 0;
		if (hbr_buf_reserve(&p->buf, READ_BLOCK) < 0)
			return false; /* a line over the cap */
		n = read(p->fd, p->buf.ptr + p->buf.len, READ_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			p->eof = true;
			continue;
		}
		p->buf.len += (size_t)n;
		p->buf.ptr[p->buf.len] = '\0';
	}
}

static void note_bad(struct hbr_agent_parent *p)
{
	if (!p->bad++)
		hbr_log_warn("parent tree line %zu: %s", p->line_no,
		             hbr_error_msg());
}

/* The next line after the header, parsed (owned); NULL at the end, or
 * with *bad for a line that does not parse. */
static json_t *next_json(struct hbr_agent_parent *p, bool *bad)
{
	const char *line;
	size_t len;
	json_t *o;

	*bad = false;
	if (p->ahead) {
		o = p->ahead;
		p->ahead = NULL;
		return o;
	}
	while (next_line(p, &line, &len)) {
		json_error_t jerr;

		if (p->line_no++ == 0)
			continue; /* the header */
		if (!(o = json_loadb(line, len, 0, &jerr))) {
			(void)hbr_error_set(HBR_ECORRUPT, "%s", jerr.text);
			*bad = true;
		}
		return o;
	}
	return NULL;
}

/* The continuation lines of the file in cur, appended to it; the line
 * after them is kept for the next entry. A line that does not parse
 * might have been one of them, so the entry is refused: reusing part of
 * a file's chunk list would store a wrong file. */
static int read_more(struct hbr_agent_parent *p)
{
	int error = 0;
	json_t *o;
	bool bad;

	for (;;) {
		if (!(o = next_json(p, &bad)))
			return bad ? HBR_ECORRUPT : error;
		if (!hbr_agent_line_is_more(o)) {
			p->ahead = o;
			return error;
		}
		if (!error)
			error = hbr_agent_entry_decode_more(&p->cur, o);
		json_decref(o);
	}
}

/* Move the cursor to the next entry; false at the end. */
static bool advance(struct hbr_agent_parent *p)
{
	json_t *o;
	bool bad;

	if (p->idx) {
		if (hbr_agent_index_next(p->idx, &p->cur) == 1)
			return true;
		if (hbr_agent_index_bad(p->idx) && !p->bad++)
			hbr_log_warn("parent index: a record fails its"
			             " checksum; the files after it are read"
			             " again");
		return false;
	}
	while ((o = next_json(p, &bad)) || bad) {
		int error;

		if (!o) {
			note_bad(p);
			continue;
		}
		/* A continuation of an entry refused below: skipped with
		 * it. */
		if (hbr_agent_line_is_more(o)) {
			json_decref(o);
			continue;
		}
		error = hbr_agent_entry_decode(&p->cur, o);
		json_decref(o);
		if (error == 0 && p->cur.type == 'f')
			error = read_more(p);
		if (error == 0)
			return true;
		note_bad(p);
	}
	return false;
}

const struct hbr_agent_entry *hbr_agent_parent_find(struct hbr_agent_parent *p,
                                                    const char *path,
                                                    size_t len)
{
	while (!p->done) {
		int c;

		if (!p->have_cur) {
			if (!advance(p)) {
				p->done = true;
				break;
			}
			p->have_cur = true;
		}
		c = hbr_agent_path_cmp(p->cur.path.ptr, p->cur.path.len, path,
		                       len);
		if (c > 0)
			return NULL;
		if (c == 0)
			return &p->cur;
		p->have_cur = false;
	}
	return NULL;
}

size_t hbr_agent_parent_bad_lines(const struct hbr_agent_parent *p)
{
	return p->bad;
}
