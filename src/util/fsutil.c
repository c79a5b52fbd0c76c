/* mkdir -p, atomic durable file replacement, bounded whole-file reads. */
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util/alloc.h"
#include "util/error.h"
#include "util/fsutil.h"

/* mkdir that accepts an existing directory, and only a directory. */
static int mkdir_one(const char *p, const char *full, mode_t mode)
{
	struct stat st;

	if (mkdir(p, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return hbr_error_set_os(HBR_EIO, "mkdir '%s'", full);
	if (stat(p, &st) < 0)
		return hbr_error_set_os(HBR_EIO, "stat '%s'", p);
	if (!S_ISDIR(st.st_mode))
		return hbr_error_set(HBR_EIO,
		                     "mkdir '%s': '%s' is not a directory",
		                     full, p);
	return 0;
}

int hbr_fs_mkdirs(const char *path, mode_t mode)
{
	char *p = hbr_strdup(path);
	int error = 0;

	for (char *s = p + 1; *s && error == 0; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		error = mkdir_one(p, path, mode);
		*s = '/';
	}
	if (error == 0)
		error = mkdir_one(p, path, mode);
	hbr_free(p);
	return error;
}

static int fsync_dir_of(const char *path)
{
	char *copy = hbr_strdup(path);
	int fd, error = 0;

	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		error = hbr_error_set_os(HBR_EIO, "open directory of '%s'",
		                         path);
	} else {
		if (fsync(fd) < 0)
			error = hbr_error_set_os(
			        HBR_EIO, "fsync directory of '%s'", path);
		(void)close(fd);
	}
	hbr_free(copy);
	return error;
}

int hbr_fs_write_atomic(const char *path, const void *data, size_t len,
                        mode_t mode)
{
	size_t plen = strlen(path) + 16;
	char *tmp = hbr_malloc(plen);
	const char *p = data;
	int fd, error = 0;

	(void)snprintf(tmp, plen, "%s.tmp", path);
	/* A leftover temporary from a crash would keep its old mode (a
	 * secret written 0600 could stay 0644): always start a new one. */
	if (unlink(tmp) < 0 && errno != ENOENT) {
		error = hbr_error_set_os(HBR_EIO, "remove stale '%s'", tmp);
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		error = hbr_error_set_os(HBR_EIO, "create '%s'", tmp);
		goto out;
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			error = hbr_error_set_os(HBR_EIO, "write '%s'", tmp);
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (error == 0 && fsync(fd) < 0)
		error = hbr_error_set_os(HBR_EIO, "fsync '%s'", tmp);
	if (close(fd) < 0 && error == 0)
		error = hbr_error_set_os(HBR_EIO, "close '%s'", tmp);
	if (error == 0 && rename(tmp, path) < 0)
		error = hbr_error_set_os(HBR_EIO, "rename to '%s'", path);
	if (error == 0)
		error = fsync_dir_of(path);
	if (error < 0)
		(void)unlink(tmp);
out:
	hbr_free(tmp);
	return error;
}

int hbr_fs_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);
		int error, saved;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			saved = errno;
			error = hbr_error_set_os(HBR_EIO, "write");
			errno = saved;
			return error;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int hbr_fs_read(char **out, size_t *len_out, const char *path, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return hbr_error_set_os(errno == ENOENT ? HBR_ENOTFOUND :
		                                          HBR_EIO,
		                        "open '%s'", path);
	buf = hbr_malloc(max + 1);
	while ((n = read(fd, buf + len, max + 1 - len)) > 0) {
		len += (size_t)n;
		if (len > max)
			break;
	}
	(void)close(fd);
	if (n < 0 || len > max) {
		hbr_free(buf);
		return n < 0 ? hbr_error_set_os(HBR_EIO, "read '%s'", path) :
		               hbr_error_set(HBR_ETOOBIG,
		                             "'%s' is larger than %zu bytes",
		                             path, max);
	}
	buf[len] = '\0';
	*out = buf;
	if (len_out)
		*len_out = len;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 ? -1 : 0;
}

int hbr_fs_remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ?
		               0 :
		               hbr_error_set_os(HBR_EIO, "stat '%s'", path);
	/* FTW_DEPTH: contents before their directory; FTW_PHYS: a
	 * symlink is removed, not followed out of the tree. */
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
		return hbr_error_set_os(HBR_EIO, "remove '%s'", path);
	return 0;
}
