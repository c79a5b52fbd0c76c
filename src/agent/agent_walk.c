/* The backup's file-system walk (agent_walk.h). */
#include "common.h"
#include <dirent.h>
#include <errno.h>
#include <unistd.h>
#include <sys/xattr.h>
#include "agent/agent_walk.h"
#include "util/alloc.h"
#include "util/error.h"

#define XATTR_LIST_MAX_BYTES (64u << 10)
#define LINK_MAX_BYTES       (64u << 10)

struct level {
	char *dir; /* owned */
	char **names; /* owned, sorted */
	size_t n, next;
};

struct hbr_agent_walker {
	char *const *roots;
	size_t n_roots, next_root;
	const struct hbr_agent_filter *f;
	unsigned flags;
	struct level *stack;
	size_t depth, cap;
	char *descend; /* the directory returned last, to list next */
	struct hbr_buf path;
};

void hbr_agent_walker_new(struct hbr_agent_walker **out, char *const *roots,
                          size_t n_roots, const struct hbr_agent_filter *f,
                          unsigned flags)
{
	struct hbr_agent_walker *w = hbr_calloc(1, sizeof(*w));

	w->roots = roots;
	w->n_roots = n_roots;
	w->f = f;
	w->flags = flags;
	hbr_buf_init(&w->path, 0);
	*out = w;
}

static void pop(struct hbr_agent_walker *w)
{
	struct level *l = &w->stack[--w->depth];

	for (size_t i = 0; i < l->n; i++)
		hbr_free(l->names[i]);
	hbr_free(l->names);
	hbr_free(l->dir);
}

void hbr_agent_walker_free(struct hbr_agent_walker *w)
{
	if (!w)
		return;
	while (w->depth)
		pop(w);
	hbr_free(w->stack);
	hbr_free(w->descend);
	hbr_buf_release(&w->path);
	hbr_free(w);
}

void hbr_agent_walk_item_init(struct hbr_agent_walk_item *item)
{
	memset(item, 0, sizeof(*item));
	hbr_agent_entry_init(&item->e);
}

void hbr_agent_walk_item_release(struct hbr_agent_walk_item *item)
{
	if (item)
		hbr_agent_entry_release(&item->e);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names in dir; errno-based error on failure. */
static int list_dir(struct level *out, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct level l = { 0 };
	size_t cap = 0;

	if (!d)
		return hbr_error_set_os(HBR_EIO, "cannot open directory");
	for (;;) {
		errno = 0;
		if (!(de = readdir(d)))
			break;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		hbr_grow((void **)&l.names, &cap, l.n + 1, sizeof(*l.names));
		l.names[l.n++] = hbr_strdup(de->d_name);
	}
	if (errno) {
		int error = hbr_error_set_os(HBR_EIO, "cannot list directory");
		for (size_t i = 0; i < l.n; i++)
			hbr_free(l.names[i]);
		hbr_free(l.names);
		closedir(d);
		return error;
	}
	closedir(d);
	if (l.n > 1)
		qsort(l.names, l.n, sizeof(*l.names), cmp_names);
	l.dir = hbr_strdup(dir);
	*out = l;
	return 0;
}

static int read_link(struct hbr_buf *out, const char *path, size_t hint)
{
	size_t size = hint + 1 > 256 ? hint + 1 : 256;

	for (;;) {
		ssize_t n;
		int error;

		hbr_buf_clear(out);
		if ((error = hbr_buf_reserve(out, size)) < 0)
			return error;
		n = readlink(path, out->ptr, size);
		if (n < 0)
			return hbr_error_set_os(HBR_EIO, "cannot read link");
		if ((size_t)n < size) {
			out->len = (size_t)n;
			out->ptr[n] = '\0';
			return 0;
		}
		if (size >= LINK_MAX_BYTES)
			return hbr_error_set(HBR_ETOOBIG,
			                     "link target too long");
		size *= 2;
	}
}

/* The "x" object of path into out ("" when there are none). Attributes
 * that vanish or the file system does not support are not errors. */
static int read_xattrs(struct hbr_buf *out, const char *path)
{
	char *list = NULL, *value = NULL;
	ssize_t n, vn;
	int error = 0;

	hbr_buf_clear(out);
	n = llistxattr(path, NULL, 0);
	if (n <= 0)
		return 0;
	if ((size_t)n > XATTR_LIST_MAX_BYTES)
		return hbr_error_set(HBR_ETOOBIG, "too many xattrs");
	list = hbr_malloc((size_t)n + 1);
	n = llistxattr(path, list, (size_t)n);
	if (n < 0) {
		/* Changed between the calls: the walk is best effort. */
		hbr_free(list);
		return 0;
	}
	list[n] = '\0';
	value = hbr_malloc(HBR_AGENT_XATTR_MAX);
	for (char *name = list; name < list + n && !error;
	     name += strlen(name) + 1) {
		vn = lgetxattr(path, name, value, HBR_AGENT_XATTR_MAX);
		if (vn < 0) {
			if (errno == ERANGE)
				error = hbr_error_set(HBR_ETOOBIG,
				                      "xattr %s is over 64 KiB",
				                      name);
			continue; /* ENODATA: removed meanwhile */
		}
		if ((error = hbr_agent_xattr_add(out, name, value,
		                                 (size_t)vn)) > 0)
			error = 0;
	}
	if (!error && out->len)
		error = hbr_buf_putc(out, '}');
	hbr_free(list);
	hbr_free(value);
	return error;
}

static int64_t ns(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char type_of(mode_t m)
{
	if (S_ISREG(m))
		return 'f';
	if (S_ISDIR(m))
		return 'd';
	if (S_ISLNK(m))
		return 'l';
	if (S_ISCHR(m))
		return 'c';
	if (S_ISBLK(m))
		return 'b';
	if (S_ISFIFO(m))
		return 'p';
	return 0; /* a socket */
}

static int item_error(struct hbr_agent_walk_item *item, int error)
{
	item->error = true;
	(void)snprintf(item->message, sizeof(item->message), "%s",
	               hbr_error_msg());
	return error;
}

int hbr_agent_walk_stat(struct hbr_agent_walk_item *item, const char *path,
                        unsigned flags)
{
	struct hbr_agent_entry *e = &item->e;
	struct stat *st = &item->st;
	int error;

	hbr_agent_entry_clear(e);
	item->error = false;
	item->message[0] = '\0';
	(void)hbr_buf_puts(&e->path, path);
	if (lstat(path, st) < 0)
		return item_error(item, hbr_error_set_os(HBR_EIO, "lstat"));
	e->type = type_of(st->st_mode);
	e->mode = st->st_mode & 07777;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->mtime_ns = ns(st->st_mtim);
	e->ctime_ns = ns(st->st_ctim);
	e->ino = st->st_ino;
	if (e->type == 'f')
		e->size = (uint64_t)st->st_size;
	if (e->type == 'c' || e->type == 'b')
		e->rdev = st->st_rdev;
	if (e->type == 'l' &&
	    (error = read_link(&e->link, path, (size_t)st->st_size)) < 0)
		return item_error(item, error);
	if ((flags & HBR_AGENT_WALK_XATTRS) && e->type &&
	    (error = read_xattrs(&e->xattrs, path)) < 0)
		return item_error(item, error);
	return 0;
}

/* Fill item for path; 1 to return it, 0 to skip it. */
static int visit(struct hbr_agent_walker *w, struct hbr_agent_walk_item *item,
                 const char *path)
{
	if (hbr_agent_filter_excluded(w->f, path))
		return 0;
	if (hbr_agent_walk_stat(item, path, w->flags) < 0)
		return 1; /* an error entry */
	if (!item->e.type)
		return 0;
	if (item->e.type == 'd') {
		if (!hbr_agent_filter_descend(w->f, path))
			return 0;
		hbr_free(w->descend);
		w->descend = hbr_strdup(path);
		return 1;
	}
	return hbr_agent_filter_keep(w->f, path) ? 1 : 0;
}

int hbr_agent_walker_next(struct hbr_agent_walker *w,
                          struct hbr_agent_walk_item *item)
{
	for (;;) {
		if (w->descend) {
			struct level l;
			char *dir = w->descend;

			w->descend = NULL;
			if (list_dir(&l, dir) < 0) {
				hbr_agent_entry_clear(&item->e);
				(void)hbr_buf_puts(&item->e.path, dir);
				hbr_free(dir);
				(void)item_error(item, HBR_EIO);
				return 1;
			}
			hbr_free(dir);
			hbr_grow((void **)&w->stack, &w->cap, w->depth + 1,
			         sizeof(*w->stack));
			w->stack[w->depth++] = l;
		}
		if (w->depth) {
			struct level *l = &w->stack[w->depth - 1];
			const char *sep;

			if (l->next >= l->n) {
				pop(w);
				continue;
			}
			sep = strcmp(l->dir, "/") ? "/" : "";
			hbr_buf_clear(&w->path);
			(void)hbr_buf_printf(&w->path, "%s%s%s", l->dir, sep,
			                     l->names[l->next++]);
			if (visit(w, item, w->path.ptr))
				return 1;
			continue;
		}
		if (w->next_root >= w->n_roots)
			return 0;
		if (visit(w, item, w->roots[w->next_root++]))
			return 1;
	}
}
