/*
 * A generated file tree with every kind of entry the agent keeps, for
 * the walk and restore suites. Header-only, like tests/unit/util/tmpdir.h.
 */
#ifndef HBR_TEST_AGENT_FIXTURE_H
#define HBR_TEST_AGENT_FIXTURE_H

#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include "util/alloc.h"

#define FIX_BIG     (300u << 10) /* a few chunks */
#define FIX_SPARSE  (4u << 20)
#define FIX_ISLAND  (64u << 10)
#define FIX_MTIME_S 1700000000

/* Names in walk order under root (the fixture's own root first).
 * 'h' marks the second name of a hard link (the walker says 'f'). */
struct fix_entry {
	const char *rel;
	char type;
};

static const struct fix_entry fix_entries[] = {
	{ "", 'd' },
	{ "/a", 'd' },
	{ "/a/b", 'd' },
	{ "/a/b/big.bin", 'f' },
	{ "/a/empty", 'f' },
	{ "/a/fifo", 'p' },
	{ "/a/hard", 'f' },
	{ "/a/lnk", 'l' },
	{ "/a/missing-link", 'l' },
	{ "/a/na\xc3\xafve \xe6\x97\xa5.txt", 'f' },
	{ "/a/secret", 'f' },
	{ "/a/sparse", 'f' },
	{ "/a/x.txt", 'f' },
	{ "/a/\xff\xfe.bin", 'f' },
	{ "/c", 'd' },
	{ "/c/keep.txt", 'f' },
};

static inline void fix_path(char *out, size_t size, const char *root,
                            const char *rel)
{
	(void)snprintf(out, size, "%s%s", root, rel);
}

static inline int fix_write(const char *root, const char *rel, const void *data,
                            size_t len, mode_t mode)
{
	char p[4096];
	int fd;
	ssize_t n;

	fix_path(p, sizeof(p), root, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		return -1;
	n = len ? write(fd, data, len) : 0;
	close(fd);
	return n == (ssize_t)len && chmod(p, mode) == 0 ? 0 : -1;
}

static inline void fix_bytes(uint8_t *out, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		out[i] = (uint8_t)(seed >> 56);
	}
}

/* Build the tree; *xattrs says whether user xattrs could be set. Skipped
 * entries for the walk test (excluded): /a/b/skip.tmp, /excluded/. */
static inline int fix_make(const char *root, bool *xattrs)
{
	uint8_t *big = hbr_malloc(FIX_BIG), island[FIX_ISLAND];
	char p[4096], q[4096];
	struct timespec ts[2];
	int fd, rc = -1;

	fix_bytes(big, FIX_BIG, 7);
	fix_bytes(island, sizeof(island), 11);
	fix_path(p, sizeof(p), root, "/a");
	if (mkdir(root, 0755) < 0 && errno != EEXIST)
		goto out;
	if (mkdir(p, 0755) < 0)
		goto out;
	fix_path(p, sizeof(p), root, "/a/b");
	if (mkdir(p, 0750) < 0)
		goto out;
	fix_path(p, sizeof(p), root, "/c");
	if (mkdir(p, 0700) < 0)
		goto out;
	fix_path(p, sizeof(p), root, "/excluded");
	if (mkdir(p, 0755) < 0)
		goto out;
	if (fix_write(root, "/a/b/big.bin", big, FIX_BIG, 0644) < 0 ||
	    fix_write(root, "/a/b/skip.tmp", "tmp", 3, 0644) < 0 ||
	    fix_write(root, "/excluded/f", "f", 1, 0644) < 0 ||
	    fix_write(root, "/a/empty", "", 0, 0644) < 0 ||
	    fix_write(root, "/a/x.txt", "hello\n", 6, 0644) < 0 ||
	    fix_write(root, "/a/secret", "k3y", 3, 0600) < 0 ||
	    fix_write(root, "/a/na\xc3\xafve \xe6\x97\xa5.txt", "u", 1, 0644) <
	            0 ||
	    fix_write(root, "/a/\xff\xfe.bin", "latin1", 6, 0640) < 0 ||
	    fix_write(root, "/c/keep.txt", "keep", 4, 0644) < 0)
		goto out;
	fix_path(p, sizeof(p), root, "/a/x.txt");
	fix_path(q, sizeof(q), root, "/a/hard");
	if (link(p, q) < 0)
		goto out;
	fix_path(q, sizeof(q), root, "/a/lnk");
	if (symlink("x.txt", q) < 0)
		goto out;
	fix_path(q, sizeof(q), root, "/a/missing-link");
	if (symlink("does/not/exist", q) < 0)
		goto out;
	fix_path(q, sizeof(q), root, "/a/fifo");
	if (mkfifo(q, 0640) < 0)
		goto out;
	fix_path(q, sizeof(q), root, "/a/sparse");
	if ((fd = open(q, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
		goto out;
	if (pwrite(fd, island, sizeof(island), 1 << 20) != sizeof(island) ||
	    pwrite(fd, island, sizeof(island), 3 << 20) != sizeof(island) ||
	    ftruncate(fd, FIX_SPARSE) < 0) {
		close(fd);
		goto out;
	}
	close(fd);
	*xattrs = setxattr(p, "user.hbr.test", "v\0x", 3, 0) == 0;
	fix_path(q, sizeof(q), root, "/a");
	if (*xattrs && setxattr(q, "user.hbr.dir", "d", 1, 0) < 0)
		*xattrs = false;
	/* Fixed times in the past, last (a write would change them). */
	ts[0].tv_sec = ts[1].tv_sec = FIX_MTIME_S;
	ts[0].tv_nsec = ts[1].tv_nsec = 123456789;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(fix_entries); i++) {
		fix_path(p, sizeof(p), root, fix_entries[i].rel);
		(void)utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW);
	}
	rc = 0;
out:
	hbr_free(big);
	return rc;
}

#endif
