/* Restore: rebuild a snapshot's files from its tree (agent_restore.h). */
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include "agent/agent_entry.h"
#include "agent/agent_glob.h"
#include "agent/agent_parent.h"
#include "agent/agent_restore.h"
#include "core/pack.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/random.h"
#include "util/timeutil.h"

#define QUEUE_ITEMS 4096u /* entries waiting behind unfetched data */
#define ID_TABLE    2048u /* > 2 * HBR_AGENT_FETCH_IDS, a power of two */

struct item {
	struct hbr_agent_entry e;
	char *target; /* where it goes (owned) */
	char *tmp; /* the temporary name while written (owned) */
	int fd;
	size_t fetched; /* chunks asked for so far */
	size_t written; /* chunks written */
	size_t ext_i; /* write position: extent and offset in it */
	uint64_t ext_off, pos;
	bool failed;
};

struct dir_meta {
	char *target;
	uint32_t mode, uid, gid;
	int64_t mtime_ns;
	json_t *xattrs;
};

/* A symlink, made after everything else (see finish_links). */
struct link_later {
	char *target, *link;
	uint32_t mode, uid, gid;
	int64_t mtime_ns;
	json_t *xattrs;
};

/* One chunk of one item in a fetch batch. */
struct ref {
	struct item *it;
	uint32_t u; /* index among the batch's distinct ids */
};

struct restore {
	struct hbr_agent_job *job;
	const struct hbr_agent_chunk_source *src;
	struct hbr_agent_filter filter;
	const char *target; /* "" for the original paths */
	bool root; /* may chown and mknod */

	/* A regular file's entry, held while continuation lines add to its
	 * chunk list. */
	struct item *file;
	struct item **queue; /* ring */
	size_t q_cap, q_head, q_n;
	size_t fetch_pos; /* queue offset of the first item with chunks to ask */
	size_t pending_ids; /* chunks queued but not asked for */
	uint64_t pending_raw;

	struct dir_meta *dirs;
	size_t n_dirs, cap_dirs;
	struct link_later *links;
	size_t n_links, cap_links;

	/* The batch being fetched. */
	uint8_t (*ids)[HBR_CHUNK_ID_LEN];
	size_t n_ids;
	struct ref *refs;
	size_t n_refs, cap_refs;
	uint32_t table[ID_TABLE]; /* id -> index + 1, open addressing */
	struct hbr_buf pack, chunk;
	struct hbr_buf xval;
	int error; /* fatal: the job stops */
	uint64_t ns_fetch, n_fetches; /* for the debug log */
};

/* ---- paths --------------------------------------------------------- */

/* The tree's path, refused when it could climb out of the target. */
static int target_of(char **out, const struct restore *r, const char *path)
{
	char *clean = hbr_strdup(path);
	size_t tl = strlen(r->target);
	int error;

	if ((error = hbr_agent_path_clean(clean)) < 0 || strcmp(clean, path)) {
		hbr_free(clean);
		return error < 0 ? error :
		                   hbr_error_set(HBR_EINVAL,
		                                 "not a clean absolute path");
	}
	if (!tl) {
		*out = clean;
		return 0;
	}
	*out = hbr_malloc(tl + strlen(clean) + 2);
	/* target "/x/" + "/a/b" = "/x/a/b"; target "/" keeps the path. */
	while (tl > 1 && r->target[tl - 1] == '/')
		tl--;
	(void)sprintf(*out, "%.*s%s", (int)(tl == 1 ? 0 : tl), r->target,
	              clean);
	hbr_free(clean);
	return 0;
}

/* The directory part of path (owned). */
static char *dirname_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash && slash != path ? (size_t)(slash - path) : 1;

	return hbr_strndup(path, len);
}

/* The parent directory of path exists (created 0755 when missing: the
 * target's own ancestors, or those a filter left out). */
static int ensure_parent(const char *path)
{
	char *dir = dirname_of(path);
	struct stat st;
	int error;

	if (stat(dir, &st) == 0)
		error = S_ISDIR(st.st_mode) ?
		                0 :
		                hbr_error_set(HBR_EIO, "%s is not a directory",
		                              dir);
	else
		error = hbr_fs_mkdirs(dir, 0755);
	hbr_free(dir);
	return error;
}

static char *temp_name(const char *target)
{
	char *dir = dirname_of(target), *tmp, rnd[13];

	hbr_random_string(rnd, 12, "0123456789abcdefghijklmnopqrstuvwxyz");
	rnd[12] = '\0';
	tmp = hbr_malloc(strlen(dir) + 32);
	(void)sprintf(tmp, "%s/.hbr-restore-%s", strcmp(dir, "/") ? dir : "",
	              rnd);
	hbr_free(dir);
	return tmp;
}

/* ---- metadata ------------------------------------------------------ */

static void set_xattrs(struct restore *r, const char *path, json_t *x)
{
	const char *name;
	json_t *v;

	json_object_foreach(x, name, v)
	{
		const char *b64 = json_string_value(v);

		if (!b64 || hbr_agent_base64_decode(&r->xval, b64, strlen(b64),
		                                    HBR_AGENT_XATTR_MAX) < 0)
			continue;
		/* Best effort: the target file system may not support
		 * them, and security.* needs privileges. */
		if (lsetxattr(path, name, r->xval.ptr ? r->xval.ptr : "",
		              r->xval.len, 0) < 0 &&
		    errno != ENOTSUP && errno != EPERM)
			hbr_log_warn("job %s: xattr %s on %s: %s", r->job->id,
			             name, path, strerror(errno));
	}
}

/* Owner, mode, xattrs and times of path (not a symlink unless link). */
static int set_meta(struct restore *r, const char *path, uint32_t mode,
                    uint32_t uid, uint32_t gid, int64_t mtime_ns,
                    json_t *xattrs, bool link)
{
	struct timespec ts[2];

	/* chown first: it clears set-id bits that chmod then sets. */
	if (r->root && lchown(path, uid, gid) < 0)
		return hbr_error_set_os(HBR_EIO, "chown");
	if (!link && chmod(path, mode) < 0)
		return hbr_error_set_os(HBR_EIO, "chmod");
	if (xattrs)
		set_xattrs(r, path, xattrs);
	ts[0].tv_sec = ts[1].tv_sec = mtime_ns / 1000000000;
	ts[0].tv_nsec = ts[1].tv_nsec = mtime_ns % 1000000000;
	if (ts[0].tv_nsec < 0) {
		ts[0].tv_sec--;
		ts[0].tv_nsec += 1000000000;
		ts[1] = ts[0];
	}
	if (utimensat(AT_FDCWD, path, ts, link ? AT_SYMLINK_NOFOLLOW : 0) < 0)
		return hbr_error_set_os(HBR_EIO, "utimensat");
	return 0;
}

/* ---- entries ------------------------------------------------------- */

static void item_fail(struct restore *r, struct item *it, const char *why)
{
	if (it->failed)
		return;
	it->failed = true;
	hbr_agent_job_error_file(r->job, it->target, why);
	if (it->fd >= 0)
		close(it->fd);
	it->fd = -1;
	if (it->tmp)
		(void)unlink(it->tmp);
}

static void item_free(struct item *it)
{
	if (!it)
		return;
	if (it->fd >= 0)
		close(it->fd);
	if (it->tmp && !it->failed)
		(void)unlink(it->tmp); /* abandoned half-way */
	hbr_agent_entry_release(&it->e);
	hbr_free(it->target);
	hbr_free(it->tmp);
	hbr_free(it);
}

static int open_file(struct restore *r, struct item *it)
{
	(void)r;
	it->tmp = temp_name(it->target);
	it->fd = open(it->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (it->fd < 0 && errno == ENOENT && ensure_parent(it->target) == 0)
		it->fd = open(it->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		              0600);
	if (it->fd < 0)
		return hbr_error_set_os(HBR_EIO, "create");
	return 0;
}

/* Write the next chunk of it's data stream. */
static int write_chunk(struct restore *r, struct item *it, const char *data,
                       size_t len)
{
	struct hbr_agent_entry *e = &it->e;

	if (it->fd < 0 && open_file(r, it) < 0)
		return HBR_EIO;
	while (len) {
		uint64_t at, n = len;
		ssize_t w;

		if (e->sparse) {
			if (it->ext_i >= e->n_ext)
				return hbr_error_set(HBR_ECORRUPT,
				                     "more data than extents");
			if (n > e->ext[it->ext_i].len - it->ext_off)
				n = e->ext[it->ext_i].len - it->ext_off;
			at = e->ext[it->ext_i].off + it->ext_off;
		} else {
			at = it->pos;
		}
		w = pwrite(it->fd, data, (size_t)n, (off_t)at);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return hbr_error_set_os(HBR_EIO, "write");
		data += w;
		len -= (size_t)w;
		it->pos += (uint64_t)w;
		if (e->sparse &&
		    (it->ext_off += (uint64_t)w) == e->ext[it->ext_i].len) {
			it->ext_i++;
			it->ext_off = 0;
		}
	}
	return 0;
}

/* All data written: size the file (holes after the last extent) and
 * close it. */
static int close_file(struct restore *r, struct item *it)
{
	int error = 0;

	if (it->fd < 0 && (error = open_file(r, it)) < 0)
		return error;
	if (!it->e.sparse && it->pos != it->e.size)
		error = hbr_error_set(HBR_ECORRUPT,
		                      "its chunks hold %" PRIu64
		                      " bytes, not %" PRIu64,
		                      it->pos, it->e.size);
	else if (ftruncate(it->fd, (off_t)it->e.size) < 0)
		error = hbr_error_set_os(HBR_EIO, "truncate");
	if (close(it->fd) < 0 && !error)
		error = hbr_error_set_os(HBR_EIO, "close");
	it->fd = -1;
	return error;
}

/* Make a non-directory at tmp (links, FIFOs, devices). */
static int make_special(struct restore *r, struct item *it)
{
	const struct hbr_agent_entry *e = &it->e;
	char *first = NULL;
	int rc, error;

	it->tmp = temp_name(it->target);
	for (int attempt = 0; attempt < 2; attempt++) {
		switch (e->type) {
		case 'l':
			rc = symlink(e->link.ptr, it->tmp);
			break;
		case 'p':
			rc = mkfifo(it->tmp, 0600);
			break;
		case 'c':
		case 'b':
			if (!r->root)
				return hbr_error_set(HBR_EIO, "devices need"
				                              " root");
			rc = mknod(it->tmp,
			           (e->type == 'c' ? S_IFCHR : S_IFBLK) | 0600,
			           (dev_t)e->rdev);
			break;
		default: /* 'h' */
			if (!first &&
			    (error = target_of(&first, r, e->link.ptr)) < 0)
				return error;
			rc = link(first, it->tmp);
			break;
		}
		if (rc == 0 || errno != ENOENT || attempt ||
		    ensure_parent(it->target) < 0)
			break;
	}
	hbr_free(first);
	if (rc < 0)
		return hbr_error_set_os(HBR_EIO, "create");
	return 0;
}

/* The entry at the head of the queue, all its data written. */
static void finish_item(struct restore *r, struct item *it)
{
	const struct hbr_agent_entry *e = &it->e;
	int error = 0;

	if (it->failed)
		return;
	if (e->type == 'l') {
		struct link_later *l;

		hbr_grow((void **)&r->links, &r->cap_links, r->n_links + 1,
		         sizeof(*r->links));
		l = &r->links[r->n_links++];
		l->target = hbr_strdup(it->target);
		l->link = hbr_strdup(e->link.ptr);
		l->mode = e->mode;
		l->uid = e->uid;
		l->gid = e->gid;
		l->mtime_ns = e->mtime_ns;
		l->xattrs = json_incref(e->xattr_obj);
		return;
	}
	if (e->type == 'f')
		error = close_file(r, it);
	else
		error = make_special(r, it);
	if (!error && e->type != 'h')
		error = set_meta(r, it->tmp, e->mode, e->uid, e->gid,
		                 e->mtime_ns, e->xattr_obj, e->type == 'l');
	if (!error && rename(it->tmp, it->target) < 0) {
		/* A directory in the way cannot be replaced by a file. */
		error = hbr_error_set_os(HBR_EIO, "rename into place");
	}
	if (error) {
		item_fail(r, it, hbr_error_msg());
		return;
	}
	hbr_free(it->tmp);
	it->tmp = NULL;
}

static int add_dir(struct restore *r, const struct hbr_agent_entry *e,
                   const char *target)
{
	struct dir_meta *d;
	struct stat st;

	if (mkdir(target, 0700) < 0) {
		if (errno == ENOENT && ensure_parent(target) == 0 &&
		    mkdir(target, 0700) == 0)
			goto made;
		if (errno != EEXIST || lstat(target, &st) < 0 ||
		    !S_ISDIR(st.st_mode))
			return hbr_error_set_os(HBR_EIO, "mkdir");
		/* Restoring over an existing directory: we must be able
		 * to write into it until its metadata is set at the end. */
		if (!r->root && (st.st_mode & 0700) != 0700)
			(void)chmod(target, (st.st_mode & 07777) | 0700);
	}
made:
	hbr_grow((void **)&r->dirs, &r->cap_dirs, r->n_dirs + 1,
	         sizeof(*r->dirs));
	d = &r->dirs[r->n_dirs++];
	d->target = hbr_strdup(target);
	d->mode = e->mode;
	d->uid = e->uid;
	d->gid = e->gid;
	d->mtime_ns = e->mtime_ns;
	d->xattrs = e->xattr_obj ? json_incref(e->xattr_obj) : NULL;
	return 0;
}

/* ---- fetching ------------------------------------------------------ */

static struct item *queue_at(struct restore *r, size_t i)
{
	return r->queue[(r->q_head + i) % r->q_cap];
}

static void push(struct restore *r, struct item *it)
{
	if (r->q_n == r->q_cap) {
		size_t cap = r->q_cap ? r->q_cap * 2 : 64;
		struct item **q = hbr_calloc(cap, sizeof(*q));

		for (size_t i = 0; i < r->q_n; i++)
			q[i] = queue_at(r, i);
		hbr_free(r->queue);
		r->queue = q;
		r->q_cap = cap;
		r->q_head = 0;
	}
	r->queue[(r->q_head + r->q_n++) % r->q_cap] = it;
	if (!it->failed && it->e.type == 'f') {
		r->pending_ids += it->e.n_chunks;
		for (size_t i = 0; i < it->e.n_chunks; i++)
			r->pending_raw += it->e.chunks[i].len;
	}
}

static uint32_t distinct(struct restore *r, const uint8_t *id)
{
	uint64_t h;
	size_t i;

	memcpy(&h, id, sizeof(h));
	for (i = h & (ID_TABLE - 1); r->table[i]; i = (i + 1) & (ID_TABLE - 1))
		if (!memcmp(r->ids[r->table[i] - 1], id, HBR_CHUNK_ID_LEN))
			return r->table[i] - 1;
	memcpy(r->ids[r->n_ids], id, HBR_CHUNK_ID_LEN);
	r->table[i] = (uint32_t)++r->n_ids;
	return (uint32_t)(r->n_ids - 1);
}

/* Collect the next batch of chunks to ask for, in queue order. */
static void collect(struct restore *r)
{
	uint64_t raw = 0;

	r->n_ids = 0;
	r->n_refs = 0;
	memset(r->table, 0, sizeof(r->table));
	while (r->fetch_pos < r->q_n) {
		struct item *it = queue_at(r, r->fetch_pos);

		while (!it->failed && it->e.type == 'f' &&
		       it->fetched < it->e.n_chunks) {
			const struct hbr_agent_chunkref *c =
			        &it->e.chunks[it->fetched];

			if (r->n_ids &&
			    (r->n_ids == HBR_AGENT_FETCH_IDS ||
			     raw + c->len > HBR_AGENT_FETCH_RAW_MAX))
				return;
			size_t before = r->n_ids;

			hbr_grow((void **)&r->refs, &r->cap_refs, r->n_refs + 1,
			         sizeof(*r->refs));
			r->refs[r->n_refs].it = it;
			r->refs[r->n_refs++].u = distinct(r, c->id);
			/* Duplicates come from the one copy fetched. */
			if (r->n_ids > before)
				raw += c->len;
			it->fetched++;
			r->pending_ids--;
			r->pending_raw -= c->len;
		}
		r->fetch_pos++;
	}
}

static int fetch_and_write(struct restore *r)
{
	struct hbr_pack_view v = { 0 };
	uint64_t t0;
	int error;

	collect(r);
	if (!r->n_refs)
		return 0;
	hbr_buf_clear(&r->pack);
	t0 = hbr_time_mono_ns();
	error = r->src->fetch(&r->pack, (const uint8_t(*)[32])r->ids, r->n_ids,
	                      r->src->payload);
	r->ns_fetch += hbr_time_mono_ns() - t0;
	r->n_fetches++;
	if (error < 0 ||
	    (error = hbr_pack_parse(&v, r->pack.ptr, r->pack.len)) < 0)
		goto out;
	if (v.count != r->n_ids) {
		error = hbr_error_set(HBR_ECORRUPT,
		                      "asked for %zu chunks, got %u", r->n_ids,
		                      v.count);
		goto out;
	}
	for (size_t i = 0; i < r->n_ids; i++)
		if (memcmp(v.entries[i].id, r->ids[i], HBR_CHUNK_ID_LEN)) {
			error = hbr_error_set(HBR_ECORRUPT,
			                      "the chunks came out of order");
			goto out;
		}
	/* refs are in order of each file's stream; a chunk is decoded
	 * (and its hash checked) each time it is used. */
	for (size_t i = 0; i < r->n_refs && !hbr_agent_job_stopped(r->job);
	     i++) {
		struct item *it = r->refs[i].it;

		if ((error = hbr_pack_chunk(&r->chunk, &v, r->refs[i].u)) < 0)
			goto out;
		if (!it->failed &&
		    write_chunk(r, it, r->chunk.ptr, r->chunk.len) < 0)
			item_fail(r, it, hbr_error_msg());
		it->written++;
		atomic_fetch_add(&r->job->bytes_done, r->chunk.len);
	}
out:
	hbr_pack_view_free(&v);
	return error;
}

/* Finish what is complete at the head of the queue; fetch more when
 * enough is waiting (or always, at the end). */
static int pump(struct restore *r, bool final)
{
	int error;

	for (;;) {
		while (r->q_n) {
			struct item *it = queue_at(r, 0);

			if (!it->failed && it->e.type == 'f' &&
			    it->written < it->e.n_chunks)
				break;
			finish_item(r, it);
			if (it->e.type == 'f' && !it->failed)
				atomic_fetch_add(&r->job->bytes_done,
				                 it->e.size > it->pos ?
				                         it->e.size - it->pos :
				                         0);
			atomic_fetch_add(&r->job->items_done, 1);
			item_free(it);
			r->q_head = (r->q_head + 1) % r->q_cap;
			r->q_n--;
			if (r->fetch_pos)
				r->fetch_pos--;
		}
		if (!r->q_n || hbr_agent_job_stopped(r->job))
			return 0;
		if (!final && r->pending_ids < HBR_AGENT_FETCH_IDS &&
		    r->pending_raw < HBR_AGENT_FETCH_RAW_MAX &&
		    r->q_n < QUEUE_ITEMS)
			return 0;
		if ((error = fetch_and_write(r)) < 0)
			return error;
	}
}

/* ---- the tree ------------------------------------------------------ */

/* An entry, whole: filtered, then made or queued. */
static int place(struct restore *r, struct item *it)
{
	char *target = NULL;
	int error;

	if (it->e.type == 'd' ?
	            !hbr_agent_filter_descend(&r->filter, it->e.path.ptr) :
	            !hbr_agent_filter_keep(&r->filter, it->e.path.ptr)) {
		item_free(it);
		return 0;
	}
	if (target_of(&target, r, it->e.path.ptr) < 0) {
		hbr_agent_job_error_file(r->job, it->e.path.ptr,
		                         hbr_error_msg());
		item_free(it);
		return 0;
	}
	if (it->e.type == 'd') {
		if (add_dir(r, &it->e, target) < 0)
			hbr_agent_job_error_file(r->job, target,
			                         hbr_error_msg());
		atomic_fetch_add(&r->job->items_done, 1);
		hbr_free(target);
		item_free(it);
		return 0;
	}
	it->target = target;
	push(r, it);
	if ((error = pump(r, false)) < 0)
		return error;
	return 0;
}

static int place_file(struct restore *r)
{
	struct item *it = r->file;

	r->file = NULL;
	return it ? place(r, it) : 0;
}

static int on_entry(json_t *line, size_t line_no, void *payload)
{
	struct restore *r = payload;
	struct item *it;
	int error;

	if (line_no == 0)
		return 0;
	if (hbr_agent_job_stopped(r->job))
		return HBR_ECONFLICT;
	/* A corrupt tree fails the job. */
	if (hbr_agent_line_is_more(line))
		return r->file ?
		               hbr_agent_entry_decode_more(&r->file->e, line) :
		               hbr_error_set(HBR_ECORRUPT,
		                             "tree line %zu continues no"
		                             " regular file",
		                             line_no);
	if ((error = place_file(r)) < 0)
		return error;
	it = hbr_calloc(1, sizeof(*it));
	it->fd = -1;
	hbr_agent_entry_init(&it->e);
	if ((error = hbr_agent_entry_decode(&it->e, line)) < 0) {
		item_free(it);
		return error;
	}
	if (it->e.type == 'f') {
		r->file = it;
		return 0;
	}
	return place(r, it);
}

/* Totals for progress: one quick pass over the tree. */
struct totals {
	const struct hbr_agent_filter *f;
	uint64_t bytes, items;
};

static int count_entry(json_t *line, size_t line_no, void *payload)
{
	struct totals *t = payload;
	const char *p = json_string_value(json_object_get(line, "p"));
	const char *type = json_string_value(json_object_get(line, "t"));

	if (line_no == 0 || hbr_agent_line_is_more(line))
		return 0;
	if (p && (t->f->n_include || t->f->n_exclude) &&
	    !hbr_agent_filter_keep(t->f, p) &&
	    !(type && type[0] == 'd' && hbr_agent_filter_descend(t->f, p)))
		return 0;
	t->items++;
	if (type && type[0] == 'f')
		t->bytes += (uint64_t)json_integer_value(
		        json_object_get(line, "s"));
	return 0;
}

/*
 * Symlinks come last, after every file, link and device: a tree that
 * names a symlink and then entries below it ("/a" -> /etc, then
 * "/a/passwd") would otherwise have them written through the link, out
 * of the target. Made last, the link finds a real directory in its place
 * (the entries below it made one), fails, and is listed.
 */
static void finish_links(struct restore *r)
{
	for (size_t i = 0; i < r->n_links; i++) {
		struct link_later *l = &r->links[i];
		char *tmp = temp_name(l->target);
		int rc = symlink(l->link, tmp);

		if (rc < 0 && errno == ENOENT && ensure_parent(l->target) == 0)
			rc = symlink(l->link, tmp);
		if (rc < 0)
			(void)hbr_error_set_os(HBR_EIO, "create");
		else if (set_meta(r, tmp, l->mode, l->uid, l->gid, l->mtime_ns,
		                  l->xattrs, true) < 0)
			rc = -1;
		else if (rename(tmp, l->target) < 0) {
			(void)hbr_error_set_os(HBR_EIO, "rename into place");
			rc = -1;
		}
		if (rc < 0) {
			hbr_agent_job_error_file(r->job, l->target,
			                         hbr_error_msg());
			(void)unlink(tmp);
		}
		hbr_free(tmp);
	}
}

static void finish_dirs(struct restore *r)
{
	/* Reverse walk order: every directory after all it contains. */
	for (size_t i = r->n_dirs; i-- > 0;) {
		struct dir_meta *d = &r->dirs[i];

		if (set_meta(r, d->target, d->mode, d->uid, d->gid, d->mtime_ns,
		             d->xattrs, false) < 0)
			hbr_agent_job_error_file(r->job, d->target,
			                         hbr_error_msg());
	}
}

int hbr_agent_restore_tree(struct hbr_agent_job *job, const char *tree_path,
                           const char *target, const char *include,
                           const char *exclude,
                           const struct hbr_agent_chunk_source *src)
{
	struct restore r;
	struct totals t = { 0 };
	int error;

	memset(&r, 0, sizeof(r));
	r.job = job;
	r.src = src;
	r.target = target ? target : "";
	r.root = geteuid() == 0;
	r.ids = hbr_calloc(HBR_AGENT_FETCH_IDS, HBR_CHUNK_ID_LEN);
	hbr_buf_init(&r.pack, HBR_PACK_MAX_BYTES);
	hbr_buf_init(&r.chunk, HBR_CHUNKER_MAX_LIMIT);
	hbr_buf_init(&r.xval, HBR_AGENT_XATTR_MAX);
	if ((error = hbr_agent_filter_parse(&r.filter, include, exclude)) < 0)
		goto out;
	if (r.target[0] && r.target[0] != '/') {
		error = hbr_error_set_param(HBR_EINVAL, "TargetPath",
		                            "TargetPath '%s' is not absolute",
		                            r.target);
		goto out;
	}
	t.f = &r.filter;
	if ((error = hbr_agent_tree_read(tree_path, count_entry, &t)) < 0)
		goto out;
	atomic_store(&job->bytes_total, t.bytes);
	atomic_store(&job->items_total, t.items);
	error = hbr_agent_tree_read(tree_path, on_entry, &r);
	if (!error)
		error = place_file(&r);
	if (!error)
		error = pump(&r, true);
	if (!error && !hbr_agent_job_stopped(job)) {
		finish_links(&r);
		finish_dirs(&r);
	}
	hbr_log_debug("job %s: %" PRIu64 " fetches took %.2f s", job->id,
	              r.n_fetches, (double)r.ns_fetch / 1e9);
out:
	if (r.file)
		item_free(r.file);
	while (r.q_n) {
		item_free(queue_at(&r, 0));
		r.q_head = (r.q_head + 1) % r.q_cap;
		r.q_n--;
	}
	hbr_free(r.queue);
	for (size_t i = 0; i < r.n_dirs; i++) {
		hbr_free(r.dirs[i].target);
		json_decref(r.dirs[i].xattrs);
	}
	hbr_free(r.dirs);
	for (size_t i = 0; i < r.n_links; i++) {
		hbr_free(r.links[i].target);
		hbr_free(r.links[i].link);
		json_decref(r.links[i].xattrs);
	}
	hbr_free(r.links);
	hbr_free(r.ids);
	hbr_free(r.refs);
	hbr_buf_release(&r.pack);
	hbr_buf_release(&r.chunk);
	hbr_buf_release(&r.xval);
	hbr_agent_filter_release(&r.filter);
	if (error == HBR_ECONFLICT && hbr_agent_job_stopped(job))
		return error;
	if (error < 0)
		(void)hbr_agent_job_fail(job, error, "restore");
	return error;
}

/* ---- the job ------------------------------------------------------- */

struct server_source {
	struct hbr_agent_job *job;
	struct hbr_agent_conn conn;
	struct hbr_buf list;
};

static int fetch_from_server(struct hbr_buf *out, const uint8_t (*ids)[32],
                             size_t n, void *payload)
{
	struct server_source *s = payload;
	struct hbr_kvlist p = HBR_KVLIST_INIT;
	unsigned backoff = 250;
	int error = 0;

	hbr_buf_clear(&s->list);
	for (size_t i = 0; i < n; i++) {
		char hex[HBR_CHUNK_HEX_LEN];

		hbr_chunk_id_hex(hex, ids[i]);
		if (i)
			(void)hbr_buf_putc(&s->list, ',');
		(void)hbr_buf_put(&s->list, hex, 64);
	}
	hbr_agent_param(&p, "JobId", s->job->id);
	hbr_agent_param(&p, "JobType", s->job->type);
	hbr_agent_param(&p, "ChunkIds", hbr_buf_cstr(&s->list));
	for (int attempt = 1; attempt <= HBR_AGENT_RETRIES; attempt++) {
		hbr_buf_clear(out);
		error = hbr_agent_conn_fetch(out, &s->conn, "FetchAgentChunks",
		                             &p, HBR_PACK_MAX_BYTES);
		if (error == 0 || !hbr_agent_retryable(error) ||
		    attempt == HBR_AGENT_RETRIES ||
		    !hbr_agent_job_sleep(s->job, backoff))
			break;
		backoff *= 2;
	}
	hbr_kvlist_release(&p);
	if (error < 0 && !hbr_agent_job_stopped(s->job))
		(void)hbr_agent_job_fail(s->job, error, "FetchAgentChunks");
	return error;
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* A field of StartAgentJob's answer, else of the polled document. */
static const char *field(const struct hbr_agent_job *job, const char *key)
{
	const char *s = str(job->start, key);

	return s[0] ? s : str(job->doc, key);
}

/* ErrorMessage of a PARTIAL_COMPLETE restore: how many entries failed
 * and the first few (a restore has no ErrorFiles). */
static void summary(struct hbr_buf *out, struct hbr_agent_job *job)
{
	hbr_buf_clear(out);
	if (!job->n_errors)
		return;
	(void)hbr_buf_printf(out,
	                     "%zu entr%s could not be restored:", job->n_errors,
	                     job->n_errors == 1 ? "y" : "ies");
	for (size_t i = 0; i < job->n_error_files && out->len < 900; i++)
		(void)hbr_buf_printf(out, "%s %.200s", i ? "," : "",
		                     job->error_files[i]);
	if (job->n_errors > job->n_error_files || out->len >= 900)
		(void)hbr_buf_puts(out, ", ...");
}

int hbr_agent_restore_run(struct hbr_agent_job *job)
{
	struct server_source s = { .job = job };
	struct hbr_agent_chunk_source src = { fetch_from_server, &s };
	const char *snapshot = field(job, "SnapshotId");
	uint64_t t0 = hbr_time_mono_ns();
	char path[HBR_AGENT_FILE_MAX], dir[HBR_AGENT_DIR_MAX];
	bool cached = false;
	struct stat st;
	int error;

	hbr_buf_init(&s.list, 0);
	if ((error = hbr_agent_conn_init(&s.conn, job->key)) < 0 ||
	    (error = hbr_agent_job_start_progress(job)) < 0)
		goto out;
	(void)snprintf(dir, sizeof(dir), "%s/trees", job->state_dir);
	if ((error = hbr_fs_mkdirs(dir, 0700)) < 0)
		goto out;
	/* This agent's own snapshots are cached; others are fetched. */
	hbr_agent_tree_cache_path(path, sizeof(path), job->state_dir, snapshot);
	if (!snapshot[0] || strchr(snapshot, '/') || stat(path, &st) < 0) {
		(void)snprintf(path, sizeof(path), "%s/%s.restore", dir,
		               job->id);
		if ((error = hbr_agent_tree_fetch(
		             job, &s.conn,
		             json_object_get(job->start, "TreeChunks"), path)) <
		    0)
			goto out;
	} else {
		cached = true;
	}
	hbr_log_info("job %s: restore of %s to %s", job->id, snapshot,
	             field(job, "TargetPath")[0] ? field(job, "TargetPath") :
	                                           "the original paths");
	error = hbr_agent_restore_tree(job, path, field(job, "TargetPath"),
	                               field(job, "Include"),
	                               field(job, "Exclude"), &src);
	if (!cached)
		(void)unlink(path);
out:
	if (error < 0 && !hbr_agent_job_stopped(job))
		(void)hbr_agent_job_fail(job, error, "restore");
	if (!hbr_agent_job_stopped(job)) {
		const char *status =
		        job->n_errors ? "PARTIAL_COMPLETE" : "COMPLETE";
		double secs = (double)(hbr_time_mono_ns() - t0) / 1e9;

		atomic_store(&job->bytes_done, atomic_load(&job->bytes_total));
		hbr_log_info("job %s: restore %s: %" PRIu64 " items, %.1f MiB"
		             " in %.2f s; %zu error(s)",
		             job->id, status,
		             (uint64_t)atomic_load(&job->items_done),
		             (double)atomic_load(&job->bytes_total) / 1048576.0,
		             secs, job->n_errors);
		hbr_agent_job_stop_progress(job);
		summary(&s.list, job);
		if (hbr_agent_job_finish(job, &s.conn, status,
		                         hbr_buf_cstr(&s.list)) < 0)
			error = HBR_EIO;
	} else if (hbr_agent_job_why(job) == HBR_AGENT_FAILED) {
		hbr_agent_job_stop_progress(job);
		(void)hbr_agent_job_finish(job, &s.conn, "FAILED", job->reason);
		error = error < 0 ? error : HBR_ERROR;
	} else if (!error) {
		error = HBR_ECONFLICT;
	}
	hbr_agent_job_stop_progress(job);
	hbr_agent_conn_release(&s.conn);
	hbr_buf_release(&s.list);
	return error;
}
