/* mkdir -p, atomic replacement and bounded reads on a real filesystem. */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "util/alloc.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "unit/util/tmpdir.h"

static int setup(void **state)
{
	char *dir = test_tmpdir("util_fsutil");

	if (!dir)
		return -1;
	/* modes below are checked exactly, so fix the umask */
	(void)umask(022);
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	test_rmtree(*state);
	return 0;
}

/* dir/name in a static buffer (one at a time is all the tests need). */
static const char *at(void **state, const char *name)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/%s", (const char *)*state, name);
	return path;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static void put_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

/* The whole file as a string (test helper, independent of hbr_fs_read). */
static char *slurp(const char *path)
{
	static char buf[8192];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

/* Entries of dir other than . and .. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_mkdirs_creates_nested_with_mode(void **state)
{
	char top[4096];

	snprintf(top, sizeof(top), "%s", at(state, "a"));
	assert_int_equal(hbr_fs_mkdirs(at(state, "a/b/c"), 0750), 0);
	assert_true(is_dir(at(state, "a/b/c")));
	assert_int_equal(mode_of(top), 0750);
	assert_int_equal(mode_of(at(state, "a/b")), 0750);
	assert_int_equal(mode_of(at(state, "a/b/c")), 0750);
}

static void test_mkdirs_existing_is_fine(void **state)
{
	assert_int_equal(hbr_fs_mkdirs(at(state, "x/y"), 0700), 0);
	assert_int_equal(hbr_fs_mkdirs(at(state, "x/y"), 0700), 0);
	assert_int_equal(hbr_fs_mkdirs(at(state, "x"), 0700), 0);
	assert_int_equal(hbr_fs_mkdirs(at(state, "x/y/z/"), 0700), 0);
	assert_true(is_dir(at(state, "x/y/z")));
	assert_int_equal(hbr_fs_mkdirs(*state, 0700), 0);
}

static void test_mkdirs_through_a_file_fails(void **state)
{
	put_file(at(state, "f"), "data", 0644);
	assert_int_equal(hbr_fs_mkdirs(at(state, "f/sub"), 0700), HBR_EIO);
	assert_non_null(strstr(hbr_error_msg(), "f/sub"));
}

/*
 * mkdir's EEXIST is taken as success without
 * checking that the path is a directory, so mkdirs on an existing
 * regular file returns 0 (mkdir -p fails with "File exists"). Runs only
 *.
 */
static void test_mkdirs_on_a_file_fails(void **state)
{
	put_file(at(state, "plain"), "data", 0644);
	assert_int_equal(hbr_fs_mkdirs(at(state, "plain"), 0700), HBR_EIO);
}

static void test_write_atomic_creates_file(void **state)
{
	const char *path = at(state, "state.json");

	assert_int_equal(hbr_fs_write_atomic(path, "{\"a\":1}", 7, 0600), 0);
	assert_string_equal(slurp(path), "{\"a\":1}");
	assert_int_equal(mode_of(path), 0600);
	assert_int_equal(count_entries(*state), 1); /* no .tmp left */
}

static void test_write_atomic_replaces_content(void **state)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s", at(state, "f"));
	put_file(path, "old content that is long", 0644);
	assert_int_equal(hbr_fs_write_atomic(path, "new", 3, 0644), 0);
	assert_string_equal(slurp(path), "new");
	assert_int_equal(hbr_fs_write_atomic(path, "", 0, 0644), 0);
	assert_string_equal(slurp(path), "");
	assert_false(exists(at(state, "f.tmp")));
	assert_int_equal(count_entries(*state), 1);
}

static void test_write_atomic_honours_mode(void **state)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s", at(state, "secret"));
	put_file(path, "public", 0644);
	assert_int_equal(mode_of(path), 0644);
	/* the new file replaces the old inode, so it takes the new mode */
	assert_int_equal(hbr_fs_write_atomic(path, "key", 3, 0600), 0);
	assert_int_equal(mode_of(path), 0600);
	assert_int_equal(hbr_fs_write_atomic(path, "key", 3, 0640), 0);
	assert_int_equal(mode_of(path), 0640);
	assert_string_equal(slurp(path), "key");
}

/*
 * the temporary file is opened with O_CREAT
 * but without O_EXCL or a prior unlink, so a stale "<path>.tmp" left by a
 * crash keeps its old mode, and a secret written with 0600 ends up
 * world-readable.
 */
static void test_write_atomic_mode_despite_stale_tmp(void **state)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s", at(state, "secret"));
	put_file(at(state, "secret.tmp"), "left by a crash", 0644);
	assert_int_equal(hbr_fs_write_atomic(path, "key", 3, 0600), 0);
	assert_string_equal(slurp(path), "key");
	assert_int_equal(mode_of(path), 0600);
}

static void test_write_atomic_stale_tmp_is_replaced(void **state)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s", at(state, "cfg"));
	put_file(at(state, "cfg.tmp"), "garbage from a crash, longer", 0600);
	assert_int_equal(hbr_fs_write_atomic(path, "fresh", 5, 0600), 0);
	assert_string_equal(slurp(path), "fresh");
	assert_false(exists(at(state, "cfg.tmp")));
}

static void test_write_atomic_missing_dir_fails(void **state)
{
	assert_int_equal(
	        hbr_fs_write_atomic(at(state, "no/such/file"), "x", 1, 0600),
	        HBR_EIO);
	assert_int_equal(count_entries(*state), 0);
}

static void test_read_whole_file(void **state)
{
	char *data = NULL;
	size_t len = 0;

	put_file(at(state, "r"), "hello\nworld", 0644);
	assert_int_equal(hbr_fs_read(&data, &len, at(state, "r"), 1024), 0);
	assert_int_equal(len, 11);
	assert_string_equal(data, "hello\nworld");
	hbr_free(data);

	/* len_out is optional */
	assert_int_equal(hbr_fs_read(&data, NULL, at(state, "r"), 1024), 0);
	assert_string_equal(data, "hello\nworld");
	hbr_free(data);
}

static void test_read_exactly_max_and_over(void **state)
{
	char *data = (char *)"untouched";
	size_t len = 77;

	put_file(at(state, "r"), "0123456789", 0644);
	assert_int_equal(hbr_fs_read(&data, &len, at(state, "r"), 10), 0);
	assert_int_equal(len, 10);
	assert_string_equal(data, "0123456789");
	hbr_free(data);

	data = (char *)"untouched";
	len = 77;
	assert_int_equal(hbr_fs_read(&data, &len, at(state, "r"), 9),
	                 HBR_ETOOBIG);
	assert_string_equal(data, "untouched");
	assert_int_equal(len, 77);
	assert_int_equal(hbr_fs_read(&data, &len, at(state, "r"), 0),
	                 HBR_ETOOBIG);
}

static void test_read_empty_file(void **state)
{
	char *data = NULL;
	size_t len = 5;

	put_file(at(state, "empty"), "", 0644);
	assert_int_equal(hbr_fs_read(&data, &len, at(state, "empty"), 0), 0);
	assert_int_equal(len, 0);
	assert_string_equal(data, "");
	hbr_free(data);
}

static void test_read_missing_and_directory(void **state)
{
	char *data = NULL;

	assert_int_equal(hbr_fs_read(&data, NULL, at(state, "nope"), 10),
	                 HBR_ENOTFOUND);
	assert_null(data);
	assert_int_equal(hbr_fs_read(&data, NULL, *state, 10), HBR_EIO);
	assert_null(data);
}

static void test_write_then_read_binary(void **state)
{
	static const char bin[] = { 0, 1, 2, '\n', (char)0xff, 0 };
	char *data = NULL;
	size_t len = 0;

	assert_int_equal(
	        hbr_fs_write_atomic(at(state, "b"), bin, sizeof(bin), 0600), 0);
	assert_int_equal(hbr_fs_read(&data, &len, at(state, "b"), 100), 0);
	assert_int_equal(len, sizeof(bin));
	assert_memory_equal(data, bin, sizeof(bin));
	assert_int_equal(data[len], '\0');
	hbr_free(data);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static void test_remove_tree(void **state)
{
	char outside[4096];

	put_file(at(state, "keep"), "kept", 0644);
	assert_int_equal(hbr_fs_mkdirs(at(state, "t/a/b"), 0700), 0);
	put_file(at(state, "t/a/b/f"), "x", 0600);
	put_file(at(state, "t/g"), "y", 0600);
	/* A symlink out of the tree is removed, not followed. */
	snprintf(outside, sizeof(outside), "%s", at(state, "keep"));
	assert_int_equal(symlink(outside, at(state, "t/a/link")), 0);
	assert_int_equal(hbr_fs_remove_tree(at(state, "t")), 0);
	assert_int_equal(access(at(state, "t"), F_OK), -1);
	assert_string_equal(slurp(at(state, "keep")), "kept");
	/* Missing is fine. */
	assert_int_equal(hbr_fs_remove_tree(at(state, "t")), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_mkdirs_creates_nested_with_mode),
		T(test_mkdirs_existing_is_fine),
		T(test_mkdirs_through_a_file_fails),
		T(test_remove_tree),
		T(test_write_atomic_creates_file),
		T(test_write_atomic_replaces_content),
		T(test_write_atomic_honours_mode),
		T(test_write_atomic_stale_tmp_is_replaced),
		T(test_write_atomic_missing_dir_fails),
		T(test_read_whole_file),
		T(test_read_exactly_max_and_over),
		T(test_read_empty_file),
		T(test_read_missing_and_directory),
		T(test_write_then_read_binary),
		T(test_mkdirs_on_a_file_fails),
		T(test_write_atomic_mode_despite_stale_tmp),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	return failed;
}
