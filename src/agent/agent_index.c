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
 *   path length (u16) and path bytes, sparse (u8), size, mtime_ns,
 *   ctime_ns, inode (u64 each), extent count (u32) and extents
 *   (offset, length: u64 each), chunk count (u32) and chunks (32-byte
 *   id, u32 length), and XXH3-64 of everything from the path length on.
 * The file starts with magic[].
 */
static const char magic[8] = { 'H', 'B', 'R', 'I', 'D', 'X', '0', '1' };
#define FLUSH_AT   (1u << 20)
#define RECORD_MAX HBR_TREE_LINE_MAX
#define READ_BLOCK (1u << 20)

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

void hbr_agent_index_add(struct hbr_agent_index_writer *w,
                         const struct hbr_agent_entry *e)
{
	size_t at, len;

	if (w->fd < 0 || e->type != 'f' || e->path.len > UINT16_MAX)
		return;
	at = w->buf.len;
	put_u(&w->buf, 0, 4); /* the length, below */
	put_u(&w->buf, e->path.len, 2);
	(void)hbr_buf_put(&w->buf, e->path.ptr, e->path.len);
	put_u(&w->buf, e->sparse, 1);
	put_u(&w->buf, e->size, 8);
	put_u(&w->buf, (uint64_t)e->mtime_ns, 8);
	put_u(&w->buf, (uint64_t)e->ctime_ns, 8);
	put_u(&w->buf, e->ino, 8);
	put_u(&w->buf, e->sparse ? e->n_ext : 0, 4);
	for (size_t i = 0; e->sparse && i < e->n_ext; i++) {
		put_u(&w->buf, e->ext[i].off, 8);
		put_u(&w->buf, e->ext[i].len, 8);
	}
	put_u(&w->buf, e->n_chunks, 4);
	for (size_t i = 0; i < e->n_chunks; i++) {
		(void)hbr_buf_put(&w->buf, e->chunks[i].id, HBR_CHUNK_ID_LEN);
		put_u(&w->buf, e->chunks[i].len, 4);
	}
	len = w->buf.len - at - 4;
	put_u(&w->buf, XXH3_64bits(w->buf.ptr + at + 4, len), 8);
	len += 8;
	if (len > RECORD_MAX) { /* never read back: leave it out */
		w->buf.len = at;
		return;
	}
	for (int i = 0; i < 4; i++)
		w->buf.ptr[at + (size_t)i] = (char)(len >> (8 * i));
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
	    memcmp(head, magic, sizeof(magic))) {
		close(fd);
		return hbr_error_set(HBR_ECORRUPT, "%s is not an index", path);
	}
	r = hbr_calloc(1, sizeof(*r));
	r->fd = fd;
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

/* Decode a record whose checksum held; false if its counts overrun it. */
static bool decode(struct hbr_agent_entry *e, const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;
	size_t plen, n;

	hbr_agent_entry_clear(e);
	e->type = 'f';
	plen = (size_t)get_u(p, 2);
	p += 2;
	if ((size_t)(end - p) < plen + 1 + 32 + 4)
		return false;
	(void)hbr_buf_put(&e->path, p, plen);
	p += plen;
	e->sparse = *p++ != 0;
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

int hbr_agent_index_next(struct hbr_agent_index_reader *r,
                         struct hbr_agent_entry *e)
{
	const uint8_t *p;
	size_t len;

	if (r->bad || !fill(r, 4))
		return 0;
	len = (size_t)get_u(r->buf + r->pos, 4);
	if (len < 8 + 2 || len > RECORD_MAX || !fill(r, 4 + len)) {
		r->bad++;
		return 0;
	}
	p = r->buf + r->pos + 4;
	if (get_u(p + len - 8, 8) != XXH3_64bits(p, len - 8) ||
	    !decode(e, p, len - 8)) {
		r->bad++;
		return 0;
	}
	r->pos += 4 + len;
	return 1;
}

size_t hbr_agent_index_bad(const struct hbr_agent_index_reader *r)
{
	return r->bad;
}
