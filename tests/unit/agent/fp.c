/*
 * agent/agent_fp.h: the fingerprint key and tables. A table that is
 * missing, torn, altered or written with another key must never be used
 * (the backup would take a chunk id for bytes it did not hash).
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
#include "agent/agent_fp.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "unit/util/tmpdir.h"

static int setup(void **state)
{
	char trees[4096];

	*state = test_tmpdir("agent_fp");
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

static void id_of(uint8_t id[HBR_CHUNK_ID_LEN], unsigned k)
{
	assert_int_equal(hbr_chunk_id(id, &k, sizeof(k)), 0);
}

static void key_is_kept_private_and_stable(void **state)
{
	struct hbr_agent_fp_key a, b;
	char path[4096];
	struct stat st;
	uint8_t f1[HBR_AGENT_FP_LEN], f2[HBR_AGENT_FP_LEN];
	static const char data[] = "some chunk bytes";

	assert_int_equal(hbr_agent_fp_key_open(&a, *state), 0);
	(void)snprintf(path, sizeof(path), "%s/fp.key", (char *)*state);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, HBR_AGENT_FP_KEY_LEN);
	assert_int_equal(hbr_agent_fp_key_open(&b, *state), 0);
	assert_memory_equal(a.secret, b.secret, HBR_AGENT_FP_KEY_LEN);
	assert_true(a.tag == b.tag);

	hbr_agent_fp_of(f1, &a, data, sizeof(data));
	hbr_agent_fp_of(f2, &b, data, sizeof(data));
	assert_memory_equal(f1, f2, HBR_AGENT_FP_LEN);
	/* Another key, another fingerprint of the same bytes. */
	b.secret[0] ^= 1;
	hbr_agent_fp_of(f2, &b, data, sizeof(data));
	assert_memory_not_equal(f1, f2, HBR_AGENT_FP_LEN);
	/* One byte more, another fingerprint. */
	hbr_agent_fp_of(f2, &a, data, sizeof(data) - 1);
	assert_memory_not_equal(f1, f2, HBR_AGENT_FP_LEN);
}

/* Three lists with overlaps, out of order: the table has each id once,
 * sorted, and finds every one with the fingerprint recorded for it. */
static void table_round_trip(void **state)
{
	struct hbr_agent_fp_key k;
	struct hbr_agent_fp_list lists[3] = { 0 };
	struct hbr_agent_fp_table t;
	char path[4096];
	uint8_t id[HBR_CHUNK_ID_LEN], fp[HBR_AGENT_FP_LEN];
	const uint8_t *got;

	assert_int_equal(hbr_agent_fp_key_open(&k, *state), 0);
	for (unsigned i = 0; i < 1000; i++) {
		id_of(id, i);
		hbr_agent_fp_of(fp, &k, &i, sizeof(i));
		hbr_agent_fp_list_add(&lists[i % 3], id, fp);
		if (i % 7 == 0) /* the same chunk seen twice */
			hbr_agent_fp_list_add(&lists[(i + 1) % 3], id, fp);
	}
	hbr_agent_fp_path(path, sizeof(path), *state, "s-1");
	assert_int_equal(hbr_agent_fp_write(path, lists, 3, &k), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(lists[i].n, 0);

	assert_int_equal(hbr_agent_fp_table_load(&t, path, &k), 0);
	assert_int_equal(t.n, 1000);
	for (size_t i = 1; i < t.n; i++)
		assert_true(memcmp(t.r[i - 1].id, t.r[i].id, HBR_CHUNK_ID_LEN) <
		            0);
	for (unsigned i = 0; i < 1000; i++) {
		id_of(id, i);
		hbr_agent_fp_of(fp, &k, &i, sizeof(i));
		got = hbr_agent_fp_table_find(&t, id);
		assert_non_null(got);
		assert_memory_equal(got, fp, HBR_AGENT_FP_LEN);
	}
	id_of(id, 5000);
	assert_null(hbr_agent_fp_table_find(&t, id));
	hbr_agent_fp_table_free(&t);
}

static void write_one(const char *path, const struct hbr_agent_fp_key *k)
{
	struct hbr_agent_fp_list l = { 0 };
	uint8_t id[HBR_CHUNK_ID_LEN], fp[HBR_AGENT_FP_LEN];

	for (unsigned i = 0; i < 10; i++) {
		id_of(id, i);
		hbr_agent_fp_of(fp, k, &i, sizeof(i));
		hbr_agent_fp_list_add(&l, id, fp);
	}
	assert_int_equal(hbr_agent_fp_write(path, &l, 1, k), 0);
}

static void flip_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t c;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, off), 1);
	c ^= 0x40;
	assert_int_equal(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

static void bad_tables_are_refused(void **state)
{
	struct hbr_agent_fp_key k, other;
	struct hbr_agent_fp_table t;
	char path[4096];
	struct stat st;

	assert_int_equal(hbr_agent_fp_key_open(&k, *state), 0);
	hbr_agent_fp_path(path, sizeof(path), *state, "s-2");
	assert_int_equal(hbr_agent_fp_table_load(&t, path, &k), HBR_ENOTFOUND);

	/* Torn: shorter than written. */
	write_one(path, &k);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size - 5), 0);
	assert_int_equal(hbr_agent_fp_table_load(&t, path, &k), HBR_ECORRUPT);
	assert_null(t.r);

	/* A record altered in place (size intact). */
	write_one(path, &k);
	flip_byte(path, 24 + 48 * 3 + 40);
	assert_int_equal(hbr_agent_fp_table_load(&t, path, &k), HBR_ECORRUPT);

	/* Another key (a state dir restored without its fp.key). */
	write_one(path, &k);
	other = k;
	other.secret[7] ^= 1;
	other.tag ^= 1;
	assert_int_equal(hbr_agent_fp_table_load(&t, path, &other),
	                 HBR_ECORRUPT);

	/* And the good one loads. */
	assert_int_equal(hbr_agent_fp_table_load(&t, path, &k), 0);
	assert_int_equal(t.n, 10);
	hbr_agent_fp_table_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(key_is_kept_private_and_stable,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(table_round_trip, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(bad_tables_are_refused, setup,
		                                teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
