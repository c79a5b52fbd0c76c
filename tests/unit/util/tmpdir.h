/*
 * Scratch directories for unit tests: a fresh mkdtemp directory under
 * $HBR_TEST_TMP (set by CTest; /tmp when unset or unusable), removed
 * with everything in it by test_rmtree(). Header-only, shared by the util
 * and store suites.
 */
#ifndef HBR_TEST_TMPDIR_H
#define HBR_TEST_TMPDIR_H

#include "common.h"
#include <ftw.h>
#include <sys/stat.h>
#include "util/alloc.h"
#include "util/fsutil.h"

/* A new empty directory named <base>/<tag>.XXXXXX; caller frees with
 * test_rmtree(). NULL if even /tmp fails. */
static inline char *test_tmpdir(const char *tag)
{
	const char *base = getenv("HBR_TEST_TMP");
	char *dir;

	if (!base || !*base || hbr_fs_mkdirs(base, 0700) < 0)
		base = "/tmp";
	dir = hbr_malloc(strlen(base) + strlen(tag) + 16);
	(void)sprintf(dir, "%s/%s.XXXXXX", base, tag);
	if (!mkdtemp(dir)) {
		hbr_free(dir);
		return NULL;
	}
	return dir;
}

static inline int test_rm_entry(const char *path, const struct stat *sb,
                                int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

/* rm -rf dir, then free the string. */
static inline void test_rmtree(char *dir)
{
	if (!dir)
		return;
	(void)nftw(dir, test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	hbr_free(dir);
}

#endif
