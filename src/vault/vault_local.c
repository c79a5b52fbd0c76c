/*
 * The local vault backend: each object is a file named by its key under a
 * root directory ("packs/ab/abcd.pack" is ROOT/packs/ab/abcd.pack), mode
 * 0600 in directories of mode 0700. All access is relative to a
 * descriptor of the root, so the root is resolved once, at open.
 *
 * A put writes "~tmp.<random>" in the object's directory, fsyncs it,
 * renames it over the final name and fsyncs the directory; directories a
 * put creates are fsynced into their parents first. '~' is not a key
 * character, so a temporary file left by a crash is never a key: get
 * cannot name it, list skips it, and sweep deletes it (docs/VAULT.md).
 *
 * Directories are never removed, even when empty: a put may be about to
 * use one it has already made durable (the cache below).
 */
#include "common.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "util/alloc.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/error.h"
#include "util/random.h"
#include "vault/vault.h"

#define TMP_PREFIX   "~tmp."
#define TMP_NAME_MAX (sizeof(TMP_PREFIX) + 16)
/* Past this many cached directories the cache starts over: forgetting
 * only costs a few fsyncs of clean directories. */
#define DIR_CACHE_MAX 4096

struct local_vault {
	struct hbr_vault base; /* must be first */
	char *root;
	int root_fd;
	pthread_mutex_t mu; /* dirs, ndirs, dirs_cap */
	/* Directories (relative to root, sorted) this process has seen to
	 * exist with their entry fsynced into the parent, so later puts
	 * into them need no mkdir and no parent fsync. */
	char **dirs;
	size_t ndirs, dirs_cap;
};

static struct local_vault *local_of(struct hbr_vault *v)
{
	return (struct local_vault *)v;
}

/* ---- paths ---- */

/* Split key at its last '/': *base_out is the file name, dir (a buffer
 * of HBR_VAULT_KEY_MAX + 1) gets the directory, "" for the root. */
static void split_key(char *dir, const char **base_out, const char *key)
{
	const char *slash = strrchr(key, '/');
	size_t n = slash ? (size_t)(slash - key) : 0;

	memcpy(dir, key, n);
	dir[n] = '\0';
	*base_out = slash ? slash + 1 : key;
}

/* A descriptor of directory dir ("" = the root), for *at() calls and
 * fsync. Sets errno and returns -1 when it cannot be opened. */
static int open_dir(struct local_vault *lv, const char *dir)
{
	/* "." and not dup(): a dup shares its file offset, and two
	 * threads listing the root would read one directory stream. */
	return openat(lv->root_fd, *dir ? dir : ".",
	              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static int fsync_dir(struct local_vault *lv, const char *dir)
{
	int fd = open_dir(lv, dir);
	int error = 0;

	if (fd < 0)
		return hbr_error_set_os(HBR_EIO, "open '%s/%s'", lv->root, dir);
	if (fsync(fd) < 0)
		error = hbr_error_set_os(HBR_EIO, "fsync '%s/%s'", lv->root,
		                         dir);
	(void)close(fd);
	return error;
}

/* ---- the durable-directory cache ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool dir_cached(struct local_vault *lv, const char *dir)
{
	bool found;

	pthread_mutex_lock(&lv->mu);
	found = lv->ndirs &&
	        bsearch(&dir, lv->dirs, lv->ndirs, sizeof(*lv->dirs), cmp_str);
	pthread_mutex_unlock(&lv->mu);
	return found;
}

static void dir_cache_clear(struct local_vault *lv)
{
	for (size_t i = 0; i < lv->ndirs; i++)
		hbr_free(lv->dirs[i]);
	lv->ndirs = 0;
}

static void dir_cache_add(struct local_vault *lv, const char *dir)
{
	size_t lo = 0, hi;

	pthread_mutex_lock(&lv->mu);
	if (lv->ndirs >= DIR_CACHE_MAX)
		dir_cache_clear(lv);
	hi = lv->ndirs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(lv->dirs[mid], dir);

		if (c == 0)
			goto out; /* another put got here first */
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	hbr_grow((void **)&lv->dirs, &lv->dirs_cap, lv->ndirs + 1,
	         sizeof(*lv->dirs));
	memmove(lv->dirs + lo + 1, lv->dirs + lo,
	        (lv->ndirs - lo) * sizeof(*lv->dirs));
	lv->dirs[lo] = hbr_strdup(dir);
	lv->ndirs++;
out:
	pthread_mutex_unlock(&lv->mu);
}

/* mkdir path (relative to the root; its parent exists and is durable),
 * then fsync the parent so the entry is durable too. */
static int make_dir(struct local_vault *lv, char *path)
{
	struct stat st;
	char *slash;
	int error;

	if (mkdirat(lv->root_fd, path, 0700) < 0 && errno != EEXIST)
		return errno == ENOTDIR ?
		               hbr_error_set(HBR_ECONFLICT,
		                             "'%s/%s': a parent is an object",
		                             lv->root, path) :
		               hbr_error_set_os(HBR_EIO, "mkdir '%s/%s'",
		                                lv->root, path);
	if (fstatat(lv->root_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return hbr_error_set_os(HBR_EIO, "stat '%s/%s'", lv->root,
		                        path);
	if (!S_ISDIR(st.st_mode))
		return hbr_error_set(HBR_ECONFLICT,
		                     "'%s/%s' is an object, not a directory",
		                     lv->root, path);
	slash = strrchr(path, '/');
	if (slash)
		*slash = '\0';
	error = fsync_dir(lv, slash ? path : "");
	if (slash)
		*slash = '/';
	return error;
}

/*
 * Make every directory of dir ("packs/ab") exist with its entry durable,
 * top down. The parent is fsynced even when mkdir finds the directory
 * already there, because another thread may have created it and not yet
 * fsynced: returning before that fsync could acknowledge an object whose
 * directory a crash then loses.
 */
static int make_dirs(struct local_vault *lv, const char *dir)
{
	char path[HBR_VAULT_KEY_MAX + 1];
	size_t len = strlen(dir);
	int error = 0;

	if (!*dir || dir_cached(lv, dir))
		return 0;
	memcpy(path, dir, len + 1);
	for (size_t i = 0; i <= len && error == 0; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (!dir_cached(lv, path)) {
			error = make_dir(lv, path);
			if (error == 0)
				dir_cache_add(lv, path);
		}
		if (i < len)
			path[i] = '/';
	}
	return error;
}

/* ---- objects ---- */

/*
 * Large objects (packs) bypass the page cache. On this class of machine
 * (docs/BENCHMARKS.md) a buffered write of fresh data runs at 0.3-0.6
 * GB/s, most of it the kernel copying into new page-cache pages, while
 * O_DIRECT runs at 1.3 GB/s, fsync included; nobody reads a pack again
 * soon after writing it. O_DIRECT needs an aligned buffer, so the data
 * goes through an aligned bounce buffer; the unaligned tail, and every
 * filesystem that refuses O_DIRECT (tmpfs), take the buffered path.
 */
#define DIRECT_MIN    (256u << 10)
#define DIRECT_ALIGN  4096u
#define DIRECT_BOUNCE (1u << 20)

static int write_direct(int fd, const char *p, size_t len)
{
	size_t aligned = len & ~(size_t)(DIRECT_ALIGN - 1), done = 0;
	int flags = fcntl(fd, F_GETFL);
	void *bounce = NULL;

	if (len < DIRECT_MIN || flags < 0 ||
	    fcntl(fd, F_SETFL, flags | O_DIRECT) < 0)
		return hbr_fs_write_all(fd, p, len);
	/* Data already aligned (an upload body, http_server.c) is written
	 * from where it is. */
	while (done < aligned && (uintptr_t)p % DIRECT_ALIGN == 0) {
		ssize_t w = pwrite(fd, p + done, aligned - done, (off_t)done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EINVAL)
			break;
		if (w <= 0)
			return -1;
		done += (size_t)w;
	}
	if (done < aligned && (uintptr_t)p % DIRECT_ALIGN == 0)
		aligned = done; /* refused: buffered from here */
	if (done < aligned &&
	    posix_memalign(&bounce, DIRECT_ALIGN, DIRECT_BOUNCE) != 0)
		aligned = done;
	while (done < aligned) {
		size_t n = aligned - done < DIRECT_BOUNCE ? aligned - done :
		                                            DIRECT_BOUNCE;
		ssize_t w;

		memcpy(bounce, p + done, n);
		w = pwrite(fd, bounce, n, (off_t)done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EINVAL)
			break; /* not supported after all: buffered from here */
		if (w <= 0) {
			free(bounce);
			return -1;
		}
		done += (size_t)w;
	}
	free(bounce);
	if (fcntl(fd, F_SETFL, flags) < 0 ||
	    lseek(fd, (off_t)done, SEEK_SET) < 0)
		return -1;
	return hbr_fs_write_all(fd, p + done, len - done);
}

/* Create a new temporary file in dfd; O_EXCL so two puts (or a stale
 * file) never share one. */
static int create_tmp(int *fd_out, char *name, int dfd)
{
	for (int tries = 0; tries < 8; tries++) {
		unsigned char rnd[8];
		int fd;

		hbr_random_bytes(rnd, sizeof(rnd));
		(void)snprintf(name, TMP_NAME_MAX,
		               TMP_PREFIX "%02x%02x%02x%02x%02x%02x%02x%02x",
		               rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5],
		               rnd[6], rnd[7]);
		fd = openat(dfd, name,
		            O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
		                    O_NOFOLLOW,
		            0600);
		if (fd >= 0) {
			*fd_out = fd;
			return 0;
		}
		if (errno != EEXIST)
			break;
	}
	return -1;
}

static int local_put(struct hbr_vault *v, const char *key, const void *data,
                     size_t len)
{
	struct local_vault *lv = local_of(v);
	char dir[HBR_VAULT_KEY_MAX + 1], tmp[TMP_NAME_MAX];
	const char *base;
	int dfd = -1, fd = -1, error;
	bool have_tmp = false;

	split_key(dir, &base, key);
	if ((error = make_dirs(lv, dir)) < 0)
		goto out;
	if ((dfd = open_dir(lv, dir)) < 0) {
		error = hbr_error_set_os(HBR_EIO, "open '%s/%s'", lv->root,
		                         dir);
		goto out;
	}
	if (create_tmp(&fd, tmp, dfd) < 0) {
		error = hbr_error_set_os(HBR_EIO, "create a file in '%s/%s'",
		                         lv->root, dir);
		goto out;
	}
	have_tmp = true;
	/* The mode must not depend on the umask hbrd was started with. */
	if (fchmod(fd, 0600) < 0 || write_direct(fd, data, len) < 0 ||
	    fsync(fd) < 0) {
		error = hbr_error_set_os(HBR_EIO, "write '%s/%s'", lv->root,
		                         key);
		goto out;
	}
	error = close(fd);
	fd = -1;
	if (error < 0) {
		error = hbr_error_set_os(HBR_EIO, "close '%s/%s'", lv->root,
		                         key);
		goto out;
	}
	if (renameat(dfd, tmp, dfd, base) < 0) {
		error = errno == EISDIR ?
		                hbr_error_set(HBR_ECONFLICT,
		                              "'%s/%s' is a directory of keys",
		                              lv->root, key) :
		                hbr_error_set_os(HBR_EIO, "rename to '%s/%s'",
		                                 lv->root, key);
		goto out;
	}
	have_tmp = false;
	/* The rename is only durable once the directory is. */
	if (fsync(dfd) < 0)
		error = hbr_error_set_os(HBR_EIO, "fsync '%s/%s'", lv->root,
		                         dir);
out:
	if (fd >= 0)
		(void)close(fd);
	if (have_tmp)
		(void)unlinkat(dfd, tmp, 0);
	if (dfd >= 0)
		(void)close(dfd);
	return error;
}

/* Whether errno from resolving key means "no such object". */
static bool is_absent(int err)
{
	return err == ENOENT || err == ENOTDIR;
}

/* Open key for reading: the fd (st filled), or HBR_ENOTFOUND when no
 * regular file has the name, HBR_EIO on failure. */
static int open_object(struct stat *st, struct local_vault *lv, const char *key)
{
	/* O_NONBLOCK: opening a FIFO someone left here must not hang;
	 * it does nothing to reads of a regular file. */
	int fd = openat(lv->root_fd, key,
	                O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	if (fd < 0)
		return is_absent(errno) || errno == ELOOP ?
		               hbr_error_set(HBR_ENOTFOUND,
		                             "no object '%s' in '%s'", key,
		                             lv->root) :
		               hbr_error_set_os(HBR_EIO, "open '%s/%s'",
		                                lv->root, key);
	if (fstat(fd, st) < 0) {
		int error = hbr_error_set_os(HBR_EIO, "stat '%s/%s'", lv->root,
		                             key);
		(void)close(fd);
		return error;
	}
	if (!S_ISREG(st->st_mode)) {
		(void)close(fd);
		return hbr_error_set(HBR_ENOTFOUND, "no object '%s' in '%s'",
		                     key, lv->root);
	}
	return fd;
}

static int local_get(struct hbr_buf *out, struct hbr_vault *v, const char *key)
{
	struct local_vault *lv = local_of(v);
	struct stat st;
	char *data = NULL;
	size_t size, got = 0;
	int fd, error = 0;

	if ((fd = open_object(&st, lv, key)) < 0)
		return fd;
	/* Objects are never written in place (a put renames a new file
	 * over the name), so the size cannot change under us. */
	if ((uint64_t)st.st_size > out->max) {
		error = hbr_error_set(HBR_ETOOBIG,
		                      "object '%s' has %jd bytes, over the "
		                      "limit of %zu",
		                      key, (intmax_t)st.st_size, out->max);
		goto out;
	}
	size = (size_t)st.st_size;
	data = hbr_malloc(size + 1);
	while (got < size) {
		ssize_t n = read(fd, data + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			error = n < 0 ? hbr_error_set_os(HBR_EIO,
			                                 "read '%s/%s'",
			                                 lv->root, key) :
			                hbr_error_set(
			                        HBR_EIO,
			                        "'%s/%s' shrank while read",
			                        lv->root, key);
			goto out;
		}
		got += (size_t)n;
	}
	data[size] = '\0';
	out->ptr = data;
	out->len = size;
	out->cap = size + 1;
	data = NULL;
out:
	hbr_free(data);
	(void)close(fd);
	return error;
}

static int local_get_range(struct hbr_buf *out, struct hbr_vault *v,
                           const char *key, uint64_t offset, size_t len)
{
	struct local_vault *lv = local_of(v);
	char *dst = out->ptr + out->len;
	struct stat st;
	size_t got = 0;
	int fd, error = 0;

	if ((fd = open_object(&st, lv, key)) < 0)
		return fd;
	if (offset > (uint64_t)st.st_size ||
	    len > (uint64_t)st.st_size - offset) {
		error = hbr_error_set(HBR_EINVAL,
		                      "object '%s' has %jd bytes: %zu at %ju is"
		                      " past its end",
		                      key, (intmax_t)st.st_size, len,
		                      (uintmax_t)offset);
		goto out;
	}
	while (got < len) {
		ssize_t n =
		        pread(fd, dst + got, len - got, (off_t)(offset + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			error = n < 0 ? hbr_error_set_os(HBR_EIO,
			                                 "read '%s/%s'",
			                                 lv->root, key) :
			                hbr_error_set(
			                        HBR_EIO,
			                        "'%s/%s' shrank while read",
			                        lv->root, key);
			goto out;
		}
		got += (size_t)n;
	}
	out->len += len;
out:
	(void)close(fd);
	return error;
}

/* 1 and the size for an object, 0 when there is none. */
static int stat_object(uint64_t *size_out, struct local_vault *lv,
                       const char *key)
{
	struct stat st;

	if (fstatat(lv->root_fd, key, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return is_absent(errno) ?
		               0 :
		               hbr_error_set_os(HBR_EIO, "stat '%s/%s'",
		                                lv->root, key);
	if (!S_ISREG(st.st_mode))
		return 0;
	*size_out = (uint64_t)st.st_size;
	return 1;
}

static int local_exists(struct hbr_vault *v, const char *key)
{
	uint64_t size;

	return stat_object(&size, local_of(v), key);
}

static int local_stat(uint64_t *size_out, struct hbr_vault *v, const char *key)
{
	struct local_vault *lv = local_of(v);
	int found = stat_object(size_out, lv, key);

	if (found == 0)
		return hbr_error_set(HBR_ENOTFOUND, "no object '%s' in '%s'",
		                     key, lv->root);
	return found < 0 ? found : 0;
}

static int local_remove(struct hbr_vault *v, const char *key)
{
	struct local_vault *lv = local_of(v);
	char dir[HBR_VAULT_KEY_MAX + 1];
	const char *base;
	int dfd, error = 0;

	split_key(dir, &base, key);
	if ((dfd = open_dir(lv, dir)) < 0)
		return is_absent(errno) ?
		               0 :
		               hbr_error_set_os(HBR_EIO, "open '%s/%s'",
		                                lv->root, dir);
	/* EISDIR: the name is a directory of keys, so no object has it. */
	if (unlinkat(dfd, base, 0) < 0 && errno != ENOENT && errno != EISDIR)
		error = hbr_error_set_os(HBR_EIO, "remove '%s/%s'", lv->root,
		                         key);
	/* Also on ENOENT: the unlink may be another remove's that has not
	 * reached its fsync yet, and "absent" must survive a crash. */
	else if (fsync(dfd) < 0)
		error = hbr_error_set_os(HBR_EIO, "fsync '%s/%s'", lv->root,
		                         dir);
	(void)close(dfd);
	return error;
}

/* Unlink them all, then fsync each directory once: a journaling file
 * system commits all the unlinks with the first sync, so removing 50
 * packs costs about one sync, not 50. */
static int local_remove_many(struct hbr_vault *v, const char *const *keys,
                             size_t n)
{
	struct local_vault *lv = local_of(v);
	char **dirs = hbr_calloc(n ? n : 1, sizeof(*dirs));
	size_t nd = 0;
	int error = 0;

	for (size_t i = 0; i < n && !error; i++) {
		char dir[HBR_VAULT_KEY_MAX + 1];
		const char *base;

		int dfd;

		split_key(dir, &base, keys[i]);
		/* Through open_dir, like every access: no symlink in the
		 * vault leads a removal outside it. */
		if ((dfd = open_dir(lv, dir)) < 0) {
			if (!is_absent(errno))
				error = hbr_error_set_os(
				        HBR_EIO, "open '%s/%s'", lv->root, dir);
			continue;
		}
		if (unlinkat(dfd, base, 0) < 0 && errno != ENOENT &&
		    errno != EISDIR)
			error = hbr_error_set_os(HBR_EIO, "remove '%s/%s'",
			                         lv->root, keys[i]);
		(void)close(dfd);
		dirs[nd++] = hbr_strdup(dir);
	}
	qsort(dirs, nd, sizeof(*dirs), cmp_str);
	for (size_t i = 0; i < nd && !error; i++) {
		int dfd;

		if (i > 0 && !strcmp(dirs[i], dirs[i - 1]))
			continue;
		/* Also when nothing was unlinked here: "absent" must survive
		 * a crash even if another remove did the unlink. */
		if ((dfd = open_dir(lv, dirs[i])) < 0) {
			if (!is_absent(errno))
				error = hbr_error_set_os(HBR_EIO,
				                         "open '%s/%s'",
				                         lv->root, dirs[i]);
			continue;
		}
		if (fsync(dfd) < 0)
			error = hbr_error_set_os(HBR_EIO, "fsync '%s/%s'",
			                         lv->root, dirs[i]);
		(void)close(dfd);
	}
	for (size_t i = 0; i < nd; i++)
		hbr_free(dirs[i]);
	hbr_free(dirs);
	return error;
}

/* ---- walking the tree: list and sweep ---- */

struct walk {
	struct local_vault *lv;
	hbr_vault_list_cb *cb; /* NULL: sweeping */
	void *payload;
	time_t older_than; /* sweep: temporaries modified before this */
	size_t removed;
	char path[HBR_VAULT_KEY_MAX + 1]; /* the directory being read */
};

/* A name that can be one component of a key (so not a temporary). */
static bool is_key_component(const char *name)
{
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
		      *p == '-'))
			return false;
	return true;
}

static int sweep_one(struct walk *w, int dfd, const char *name,
                     const struct stat *st)
{
	if (!S_ISREG(st->st_mode) || st->st_mtime >= w->older_than)
		return 0;
	/* Not fsynced: a temporary that comes back after a crash is
	 * swept again next time. */
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		return hbr_error_set_os(HBR_EIO, "remove '%s/%s/%s'",
		                        w->lv->root, w->path, name);
	w->removed++;
	return 0;
}

/*
 * Read directory dfd (w->path, which is len bytes long), taking
 * ownership of dfd. At the top of a list only names starting with filter
 * count; below it, everything. Memory is one DIR per level, and levels
 * are bounded by the key length.
 */
static int walk_dir(struct walk *w, int dfd, size_t len, const char *filter)
{
	size_t flen = filter ? strlen(filter) : 0;
	struct dirent *de;
	DIR *d;
	int error = 0;

	if (!(d = fdopendir(dfd))) {
		(void)close(dfd);
		return hbr_error_set_os(HBR_EIO, "read '%s/%s'", w->lv->root,
		                        w->path);
	}
	for (;;) {
		const char *name;
		size_t nlen, sub_len;
		struct stat st;
		int sub;

		errno = 0;
		if (!(de = readdir(d))) {
			if (errno != 0)
				error = hbr_error_set_os(HBR_EIO,
				                         "read '%s/%s'",
				                         w->lv->root, w->path);
			break;
		}
		name = de->d_name;
		if (strncmp(name, filter ? filter : "", flen) != 0)
			continue;
		if (!w->cb &&
		    strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0) {
			if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) ==
			    0)
				error = sweep_one(w, dirfd(d), name, &st);
			if (error < 0)
				break;
			continue;
		}
		nlen = strlen(name);
		sub_len = len + (len ? 1 : 0) + nlen;
		/* Foreign names and paths too long to be keys are not
		 * ours: neither listed nor descended into. */
		if (!is_key_component(name) || sub_len > HBR_VAULT_KEY_MAX)
			continue;
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue; /* removed since readdir */
			error = hbr_error_set_os(HBR_EIO, "stat '%s/%s/%s'",
			                         w->lv->root, w->path, name);
			break;
		}
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			continue;
		if (len)
			w->path[len] = '/';
		memcpy(w->path + sub_len - nlen, name, nlen + 1);
		if (S_ISREG(st.st_mode)) {
			if (w->cb)
				error = w->cb(w->path, (uint64_t)st.st_size,
				              w->payload);
		} else if ((sub = openat(dirfd(d), name,
		                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		                                 O_CLOEXEC)) >= 0) {
			error = walk_dir(w, sub, sub_len, NULL);
		} else if (errno != ENOENT) {
			error = hbr_error_set_os(HBR_EIO, "open '%s/%s'",
			                         w->lv->root, w->path);
		}
		w->path[len] = '\0';
		if (error != 0)
			break;
	}
	(void)closedir(d);
	return error;
}

/* Walk from the directory part of prefix, filtering its first level by
 * the rest ("packs/a" reads packs/ for names starting with "a"). */
static int walk_prefix(struct walk *w, const char *prefix)
{
	const char *filter;
	int dfd;

	split_key(w->path, &filter, prefix);
	if ((dfd = open_dir(w->lv, w->path)) < 0)
		return is_absent(errno) ?
		               0 :
		               hbr_error_set_os(HBR_EIO, "open '%s/%s'",
		                                w->lv->root, w->path);
	return walk_dir(w, dfd, strlen(w->path), filter);
}

static int local_list(struct hbr_vault *v, const char *prefix,
                      hbr_vault_list_cb *cb, void *payload)
{
	struct walk w = { .lv = local_of(v), .cb = cb, .payload = payload };

	return walk_prefix(&w, prefix);
}

static int local_sweep(size_t *removed_out, struct hbr_vault *v,
                       unsigned min_age_s)
{
	struct walk w = { .lv = local_of(v) };
	int error;

	/* "At least min_age_s old": modified strictly before now - age + 1,
	 * so an age of 0 takes everything up to this second. */
	w.older_than = time(NULL) - (time_t)min_age_s + 1;
	error = walk_prefix(&w, "");
	*removed_out = w.removed;
	return error;
}

static void local_free(struct hbr_vault *v)
{
	struct local_vault *lv = local_of(v);

	dir_cache_clear(lv);
	hbr_free(lv->dirs);
	(void)close(lv->root_fd);
	pthread_mutex_destroy(&lv->mu);
	hbr_free(lv->root);
	hbr_free(lv);
}

static const struct hbr_vault_ops local_ops = {
	.name = "local",
	.put = local_put,
	.get = local_get,
	.get_range = local_get_range,
	.exists = local_exists,
	.stat = local_stat,
	.remove = local_remove,
	.remove_many = local_remove_many,
	.list = local_list,
	.sweep = local_sweep,
	.free = local_free,
};

/* fsync the directory that holds path (path has no trailing '/'). */
static int fsync_parent(const char *path)
{
	char *copy = hbr_strdup(path);
	char *slash = strrchr(copy, '/');
	const char *parent = ".";
	int fd, error = 0;

	if (slash) {
		*slash = '\0';
		parent = slash == copy ? "/" : copy;
	}
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		error = hbr_error_set_os(HBR_EIO, "fsync '%s'", parent);
	if (fd >= 0)
		(void)close(fd);
	hbr_free(copy);
	return error;
}

/* mkdir -p root, fsyncing each directory it creates into its parent
 * (like a put's directories: a vault must not vanish in a crash). */
static int make_root(const char *root)
{
	char *path = hbr_strdup(root);
	size_t len = strlen(path);
	int error = 0;

	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	for (size_t i = 1; i <= len && error == 0; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) == 0)
			error = fsync_parent(path);
		else if (errno != EEXIST)
			error = hbr_error_set_os(HBR_EIO, "mkdir '%s'", path);
		if (i < len)
			path[i] = '/';
	}
	hbr_free(path);
	return error;
}

int hbr_vault_local_open(struct hbr_vault **out, const char *root)
{
	struct local_vault *lv;
	int fd, error;

	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if ((error = make_root(root)) < 0)
			return error;
		fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0)
		return hbr_error_set_os(HBR_EIO, "open vault '%s'", root);
	lv = hbr_calloc(1, sizeof(*lv));
	lv->base.ops = &local_ops;
	lv->root = hbr_strdup(root);
	lv->root_fd = fd;
	pthread_mutex_init(&lv->mu, NULL);
	*out = &lv->base;
	return 0;
}
