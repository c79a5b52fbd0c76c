/* The parent index (agent_index.h). */
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>
#include "agent/agent_index.h"
#include "core/tree.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/fsutil.h"

/*
 * A record, little-endian: its length (u32, what follows), then
 *   path length (u16) and path bytes, flags (u8: SPARSE, MORE), size,
 *   mtime_ns, ctime_ns, inode (u64 each), extent count (u32) and extents
 *   (offset, length: u64 each), chunk count (u32) and chunks (32-byte
 *   id, u32 length), and XXH3-64 of everything from the path length on.
 * A file's record holds at most hbr_agent_line_chunks() chunks, like its
 * tree line; with MORE, a continuation record follows: path length 0,
 * flags (MORE when yet another follows), chunk count and chunks, and the
 * XXH3-64. So records stay small whatever the file's size.
 * The file starts with magic[]; a version 1 index (one record a file,
 * flags only SPARSE, records up to HBR_TREE_LINE_MAX) reads the same.
 */
static const char magic[8] = { 'H', 'B', 'R', 'I', 'D', 'X', '0', '2' };
static const char magic_v1[8] = { 'H', 'B', 'R', 'I', 'D', 'X', '0', '1' };
#define FLAG_SPARSE 1u
#define FLAG_MORE   2u
#define FLUSH_AT    (1u << 20)
/* Path, 65,536 extents and a line's chunks fit, with room. */
#define RECORD_MAX    (4u << 20)
#define RECORD_MAX_V1 HBR_TREE_LINE_MAX
#define READ_BLOCK    (1u << 20)

void hbr_agent_index_path(char *out, size_t size, const char *state_dir,
                          const char *snapshot_id)
{
	(void)snprintf(out, size, "%s/trees/%s.idx", state_dir, snapshot_id);
}

static void put_u(struct hbr_buf *b, uint64_t v, int bytes)
{
	uint8_t p[8];

	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	(void)hbr_buf_put(b, p, (size_t)bytes);
}

static uint64_t get_u(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = bytes - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void flush(struct hbr_agent_index_writer *w)
{
	if (w->fd >= 0 && w->buf.len &&
	    hbr_fs_write_all(w->fd, w->buf.ptr, w->buf.len) < 0)
		hbr_agent_index_abort(w); /* the backup goes on without */
	hbr_buf_clear(&w->buf);
}

void hbr_agent_index_begin(struct hbr_agent_index_writer *w,
                           const char *state_dir, const char *job_id)
{
	hbr_buf_init(&w->buf, 0);
	(void)snprintf(w->path, sizeof(w->path), "%s/trees/%s.idx.part",
	               state_dir, job_id);
	w->fd = open(w->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (w->fd >= 0)
		(void)hbr_buf_put(&w->buf, magic, sizeof(magic));
}

static void put_chunks(struct hbr_buf *b, const struct hbr_agent_entry *e,
                       size_t from, size_t to)
{
	put_u(b, to - from, 4);
	for (size_t i = from; i < to; i++) {
		(void)hbr_buf_put(b, e->chunks[i].id, HBR_CHUNK_ID_LEN);
		put_u(b, e->chunks[i].len, 4);
	}
}

/* The record begun at at gets its checksum and length; false when it
 * is too big to be read back. */
static bool close_record(struct hbr_agent_index_writer *w, size_t at)
{
	size_t len = w->buf.len - at - 4;

	put_u(&w->buf, XXH3_64bits(w->buf.ptr + at + 4, len), 8);
	len += 8;
	if (len > RECORD_MAX)
		return false;
	for (int i = 0; i < 4; i++)
		w->buf.ptr[at + (size_t)i] = (char)(len >> (8 * i));
	return true;
}

static size_t chunks_end(const struct hbr_agent_entry *e, size_t from)
{
	size_t k = hbr_agent_line_chunks();

	return e->n_chunks - from > k ? from + k : e->n_chunks;
}

void hbr_agent_index_add(struct hbr_agent_index_writer *w,
                         const struct hbr_agent_entry *e)
{
	size_t at, to;

	if (w->fd < 0 || e->type != 'f' || !e->path.len ||
	    e->path.len > UINT16_MAX)
		return;
	at = w->buf.len;
	to = chunks_end(e, 0);
	put_u(&w->buf, 0, 4); /* the length, below */
	put_u(&w->buf, e->path.len, 2);
	(void)hbr_buf_put(&w->buf, e->path.ptr, e->path.len);
	put_u(&w->buf,
	      (e->sparse ? FLAG_SPARSE : 0) |
	              (to < e->n_chunks ? FLAG_MORE : 0),
	      1);
	put_u(&w->buf, e->size, 8);
	put_u(&w->buf, (uint64_t)e->mtime_ns, 8);
	put_u(&w->buf, (uint64_t)e->ctime_ns, 8);
	put_u(&w->buf, e->ino, 8);
	put_u(&w->buf, e->sparse ? e->n_ext : 0, 4);
	for (size_t i = 0; e->sparse && i < e->n_ext; i++) {
		put_u(&w->buf, e->ext[i].off, 8);
		put_u(&w->buf, e->ext[i].len, 8);
	}
	put_chunks(&w->buf, e, 0, to);
	if (!close_record(w, at)) { /* never read back: leave it out */
		w->buf.len = at;
		return;
	}
	while (to < e->n_chunks) {
		size_t from = to;

		/* Flushed as it goes: a huge file's records are never all
		 * in memory. */
		if (w->buf.len >= FLUSH_AT)
			flush(w);
		if (w->fd < 0)
			return;
		at = w->buf.len;
		to = chunks_end(e, from);
		put_u(&w->buf, 0, 4);
		put_u(&w->buf, 0, 2); /* no path: a continuation */
		put_u(&w->buf, to < e->n_chunks ? FLAG_MORE : 0, 1);
		put_chunks(&w->buf, e, from, to);
		if (!close_record(w, at)) {
			/* Cannot be (a line's chunks fit), and the file's
			 * first records may be out already. */
			hbr_agent_index_abort(w);
			return;
		}
	}
	if (w->buf.len >= FLUSH_AT)
		flush(w);
}

int hbr_agent_index_finish(struct hbr_agent_index_writer *w,
                           const char *state_dir, const char *snapshot_id)
{
	char path[4096];
	int error = 0;

	flush(w);
	if (w->fd < 0) {
		hbr_buf_release(&w->buf);
		return hbr_error_set(HBR_EIO, "the index could not be written");
	}
	hbr_agent_index_path(path, sizeof(path), state_dir, snapshot_id);
	/* No fsync: a record torn by a crash fails its checksum. */
	if (close(w->fd) < 0 || rename(w->path, path) < 0) {
		error = hbr_error_set_os(HBR_EIO, "keep %s", path);
		(void)unlink(w->path);
	}
	w->fd = -1;
	hbr_buf_release(&w->buf);
	return error;
}

void hbr_agent_index_abort(struct hbr_agent_index_writer *w)
{
	if (w->fd >= 0) {
		close(w->fd);
		(void)unlink(w->path);
	}
	w->fd = -1;
	hbr_buf_release(&w->buf);
}

struct hbr_agent_index_reader {
	int fd;
	uint8_t *buf; /* unread bytes: buf[pos, len) */
	size_t pos, len, cap;
	size_t record_max; /* by the version */
	bool eof;
	size_t bad;
};

int hbr_agent_index_open(struct hbr_agent_index_reader **out, const char *path)
{
	struct hbr_agent_index_reader *r;
	char head[sizeof(magic)];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return hbr_error_set_os(errno == ENOENT ? HBR_ENOTFOUND :
		                                          HBR_EIO,
		                        "open %s", path);
	if (read(fd, head, sizeof(head)) != (ssize_t)sizeof(head) ||
	    (memcmp(head, magic, sizeof(magic)) &&
	     memcmp(head, magic_v1, sizeof(magic_v1)))) {
		close(fd);
		return hbr_error_set(HBR_ECORRUPT, "%s is not an index", path);
	}
	r = hbr_calloc(1, sizeof(*r));
	r->fd = fd;
	r->record_max =
	        memcmp(head, magic, sizeof(magic)) ? RECORD_MAX_V1 : RECORD_MAX;
	*out = r;
	return 0;
}

void hbr_agent_index_close(struct hbr_agent_index_reader *r)
{
	if (!r)
		return;
	close(r->fd);
	hbr_free(r->buf);
	hbr_free(r);
}

/* Make want bytes readable at buf + pos; false at the end. */
static bool fill(struct hbr_agent_index_reader *r, size_t want)
{
	while (r->len - r->pos < want) {
		ssize_t n;

		if (r->eof)
			return false;
		if (r->pos) {
			memmove(r->buf, r->buf + r->pos, r->len - r->pos);
			r->len -= r->pos;
			r->pos = 0;
		}
		if (r->cap < want + READ_BLOCK) {
			r->cap = want + READ_BLOCK;
			r->buf = hbr_realloc(r->buf, r->cap);
		}
		n = read(r->fd, r->buf + r->len, r->cap - r->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			r->eof = true;
		else
			r->len += (size_t)n;
	}
	return true;
}

/* The chunk count and chunks at p, up to end, appended to e. */
static bool decode_chunks(struct hbr_agent_entry *e, const uint8_t *p,
                          const uint8_t *end)
{
	size_t n;

	if (end - p < 4)
		return false;
	n = (size_t)get_u(p, 4);
	p += 4;
	if ((size_t)(end - p) / (HBR_CHUNK_ID_LEN + 4) < n)
		return false;
	for (size_t i = 0; i < n; i++, p += HBR_CHUNK_ID_LEN + 4)
		hbr_agent_entry_add_chunk(
		        e, p, (uint32_t)get_u(p + HBR_CHUNK_ID_LEN, 4));
	return p == end;
}

/* Decode a record whose checksum held, a file's (e cleared first) or a
 * continuation (appended to e) as want_more says; false if it is the
 * other kind or its counts overrun it. */
static bool decode(struct hbr_agent_entry *e, bool *more, const uint8_t *p,
                   size_t len, bool want_more)
{
	const uint8_t *end = p + len;
	size_t plen, n;
	unsigned flags;

	plen = (size_t)get_u(p, 2);
	p += 2;
	if ((plen == 0) != want_more || (size_t)(end - p) < plen + 1)
		return false;
	if (want_more) {
		*more = (*p & FLAG_MORE) != 0;
		return decode_chunks(e, p + 1, end);
	}
	hbr_agent_entry_clear(e);
	e->type = 'f';
	if ((size_t)(end - p) < plen + 1 + 32 + 4)
		return false;
	(void)hbr_buf_put(&e->path, p, plen);
	p += plen;
	flags = *p++;
	e->sparse = (flags & FLAG_SPARSE) != 0;
	*more = (flags & FLAG_MORE) != 0;
	e->size = get_u(p, 8);
	e->mtime_ns = (int64_t)get_u(p + 8, 8);
	e->ctime_ns = (int64_t)get_u(p + 16, 8);
	e->ino = get_u(p + 24, 8);
	n = (size_t)get_u(p + 32, 4);
	p += 36;
	if ((size_t)(end - p) / 16 < n)
		return false;
	for (size_t i = 0; i < n; i++, p += 16)
		hbr_agent_entry_add_extent(e, get_u(p, 8), get_u(p + 8, 8));
	return decode_chunks(e, p, end);
}

/* The next record, as decode says; false at the end (*eof) or at a bad
 * record. */
static bool next_record(struct hbr_agent_index_reader *r,
                        struct hbr_agent_entry *e, bool *more, bool want_more,
                        bool *eof)
{
	const uint8_t *p;
	size_t len;

	/* Less than a length left is the end, as a crash leaves it. */
	*eof = !fill(r, 4);
	if (*eof)
		return false;
	len = (size_t)get_u(r->buf + r->pos, 4);
	if (len < 8 + 2 + 1 || len > r->record_max || !fill(r, 4 + len))
		return false;
	p = r->buf + r->pos + 4;
	if (get_u(p + len - 8, 8) != XXH3_64bits(p, len - 8) ||
	    !decode(e, more, p, len - 8, want_more))
		return false;
	r->pos += 4 + len;
	return true;
}

int hbr_agent_index_next(struct hbr_agent_index_reader *r,
                         struct hbr_agent_entry *e)
{
	bool more, eof;

	if (r->bad)
		return 0;
	if (!next_record(r, e, &more, false, &eof)) {
		r->bad += !eof;
		return 0;
	}
	/* A file whose continuation is missing or bad has no entry: a
	 * partial chunk list must never be taken for the file's. */
	while (more) {
		if (!next_record(r, e, &more, true, &eof)) {
			r->bad++;
			hbr_agent_entry_clear(e);
			return 0;
		}
	}
	return 1;
}

size_t hbr_agent_index_bad(const struct hbr_agent_index_reader *r)
{
	return r->bad;
}
