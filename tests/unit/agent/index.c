/*
 * agent/agent_index.h: the parent index round-trips every field the
 * incremental match and reuse read, and a torn or altered file ends it
 * early instead of handing out a wrong entry.
 */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include "agent/agent_index.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "unit/util/tmpdir.h"

#define N_FILES 300

static int setup(void **state)
{
	char trees[4096];

	*state = test_tmpdir("agent_index");
	if (!*state)
		return -1;
	(void)snprintf(trees, sizeof(trees), "%s/trees", (char *)*state);
	return hbr_fs_mkdirs(trees, 0700) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	test_rmtree(*state);
	return 0;
}

/* File i of the test tree; every few a sparse one, a directory or a
 * symlink (which the index leaves out). */
static void make_entry(struct hbr_agent_entry *e, unsigned i)
{
	char path[128];

	hbr_agent_entry_clear(e);
	(void)snprintf(path, sizeof(path), "/data/d%02u/f%05u-\xc3\xa9", i / 50,
	               i);
	(void)hbr_buf_puts(&e->path, path);
	e->type = i % 17 == 5 ? 'd' : i % 19 == 7 ? 'l' : 'f';
	e->size = 1000003ull * i;
	e->mtime_ns = 1700000000123456789 + (int64_t)i;
	e->ctime_ns = 1700000001000000000 - (int64_t)i;
	e->ino = 4242 + i;
	e->sparse = i % 7 == 3;
	for (unsigned k = 0; e->sparse && k < 1 + i % 3; k++)
		hbr_agent_entry_add_extent(e, k * 1048576ull,
		                           4096ull * (k + 1));
	for (unsigned k = 0; k < i % 5; k++) {
		uint8_t id[HBR_CHUNK_ID_LEN];
		unsigned v = i * 10 + k;

		assert_int_equal(hbr_chunk_id(id, &v, sizeof(v)), 0);
		hbr_agent_entry_add_chunk(e, id, 65536 - k);
	}
}

static void assert_same(const struct hbr_agent_entry *a,
                        const struct hbr_agent_entry *b)
{
	assert_int_equal(a->path.len, b->path.len);
	assert_memory_equal(a->path.ptr, b->path.ptr, a->path.len);
	assert_int_equal(b->type, 'f');
	assert_true(a->size == b->size && a->ino == b->ino);
	assert_true(a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns);
	assert_int_equal(a->sparse, b->sparse);
	assert_int_equal(a->sparse ? a->n_ext : 0, b->n_ext);
	for (size_t k = 0; k < b->n_ext; k++)
		assert_true(a->ext[k].off == b->ext[k].off &&
		            a->ext[k].len == b->ext[k].len);
	assert_int_equal(a->n_chunks, b->n_chunks);
	for (size_t k = 0; k < a->n_chunks; k++) {
		assert_memory_equal(a->chunks[k].id, b->chunks[k].id,
		                    HBR_CHUNK_ID_LEN);
		assert_int_equal(a->chunks[k].len, b->chunks[k].len);
	}
}

static void write_index(const char *dir, const char *snap)
{
	struct hbr_agent_index_writer w;
	struct hbr_agent_entry e;

	hbr_agent_entry_init(&e);
	hbr_agent_index_begin(&w, dir, "job-1");
	assert_true(w.fd >= 0);
	for (unsigned i = 0; i < N_FILES; i++) {
		make_entry(&e, i);
		hbr_agent_index_add(&w, &e);
	}
	assert_int_equal(hbr_agent_index_finish(&w, dir, snap), 0);
	hbr_agent_entry_release(&e);
}

/* Read the index back; how many records came, each checked. */
static unsigned read_back(const char *path)
{
	struct hbr_agent_index_reader *r;
	struct hbr_agent_entry want, got;
	unsigned i = 0, n = 0;

	hbr_agent_entry_init(&want);
	hbr_agent_entry_init(&got);
	assert_int_equal(hbr_agent_index_open(&r, path), 0);
	while (hbr_agent_index_next(r, &got) == 1) {
		do
			make_entry(&want, i++);
		while (want.type != 'f');
		assert_same(&want, &got);
		n++;
	}
	hbr_agent_index_close(r);
	hbr_agent_entry_release(&want);
	hbr_agent_entry_release(&got);
	return n;
}

static unsigned n_files(void)
{
	struct hbr_agent_entry e;
	unsigned n = 0;

	hbr_agent_entry_init(&e);
	for (unsigned i = 0; i < N_FILES; i++) {
		make_entry(&e, i);
		n += e.type == 'f';
	}
	hbr_agent_entry_release(&e);
	return n;
}

static void round_trip(void **state)
{
	char path[4096], part[4096];
	struct hbr_agent_index_reader *r;

	write_index(*state, "s-1");
	hbr_agent_index_path(path, sizeof(path), *state, "s-1");
	assert_int_equal(read_back(path), n_files());
	(void)snprintf(part, sizeof(part), "%s/trees/job-1.idx.part",
	               (char *)*state);
	assert_int_equal(access(part, F_OK), -1);
	hbr_agent_index_path(path, sizeof(path), *state, "s-none");
	assert_int_equal(hbr_agent_index_open(&r, path), HBR_ENOTFOUND);
}

static void torn_and_altered_end_early(void **state)
{
	char path[4096];
	struct stat st;
	unsigned all = n_files(), got;
	int fd;
	uint8_t c;

	write_index(*state, "s-2");
	hbr_agent_index_path(path, sizeof(path), *state, "s-2");
	/* Torn mid-record: the records before it, not the torn one. */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size / 2), 0);
	got = read_back(path);
	assert_true(got > 0 && got < all);

	/* One byte altered in the middle: reading stops there. */
	write_index(*state, "s-2");
	assert_int_equal(stat(path, &st), 0);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, st.st_size / 2), 1);
	c ^= 0x10;
	assert_int_equal(pwrite(fd, &c, 1, st.st_size / 2), 1);
	close(fd);
	got = read_back(path);
	assert_true(got > 0 && got < all);

	/* Not an index at all. */
	assert_int_equal(
	        hbr_fs_write_atomic(path, "{\"hbr_tree\":1}\n", 15, 0600), 0);
	{
		struct hbr_agent_index_reader *r;
		assert_int_equal(hbr_agent_index_open(&r, path), HBR_ECORRUPT);
	}
}

/* Files of more chunks than a record carries continue on continuation
 * records; a damaged one never hands out part of a file's list (the
 * reads check every chunk of every entry they get). */
static void continued_records(void **state)
{
	char path[4096];
	struct stat st;
	unsigned all = n_files(), got;
	int fd;

	hbr_agent_set_line_chunks(1);
	write_index(*state, "s-3");
	hbr_agent_index_path(path, sizeof(path), *state, "s-3");
	assert_int_equal(read_back(path), all);
	assert_int_equal(stat(path, &st), 0);
	for (off_t at = st.st_size / 3; at < st.st_size; at += st.st_size / 5) {
		uint8_t c;

		write_index(*state, "s-3");
		fd = open(path, O_RDWR);
		assert_true(fd >= 0);
		assert_int_equal(pread(fd, &c, 1, at), 1);
		c ^= 0x01;
		assert_int_equal(pwrite(fd, &c, 1, at), 1);
		close(fd);
		got = read_back(path);
		assert_true(got < all);
	}
	hbr_agent_set_line_chunks(0);
}

/* An index written before continuation records (magic 01: one record a
 * file) still reads. */
static void version_1_reads(void **state)
{
	char path[4096];
	int fd;

	write_index(*state, "s-4");
	hbr_agent_index_path(path, sizeof(path), *state, "s-4");
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "HBRIDX01", 8, 0), 8);
	close(fd);
	assert_int_equal(read_back(path), n_files());
}

static void aborted_leaves_nothing(void **state)
{
	struct hbr_agent_index_writer w;
	struct hbr_agent_entry e;
	char part[4096];

	hbr_agent_entry_init(&e);
	hbr_agent_index_begin(&w, *state, "job-9");
	make_entry(&e, 1);
	hbr_agent_index_add(&w, &e);
	hbr_agent_index_abort(&w);
	(void)snprintf(part, sizeof(part), "%s/trees/job-9.idx.part",
	               (char *)*state);
	assert_int_equal(access(part, F_OK), -1);
	hbr_agent_entry_release(&e);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(round_trip),
		T(continued_records),
		T(version_1_reads),
		T(torn_and_altered_end_early),
		T(aborted_leaves_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
