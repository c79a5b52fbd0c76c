/*
 * hbr_store_hold_checkpoints: while held, commits let the write-ahead
 * log grow past SQLite's default of 1000 pages; released, the log is
 * checkpointed and the default is back, so the next commits reuse the
 * log from its start instead of growing it further. Read off the size
 * of the -wal file, which SQLite never shrinks by itself.
 */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "unit/store/fixture.h"

#define PAGE        4096
#define COMMITS     30
#define ROWS        50 /* of ~PAGE bytes each: ~50 pages per commit */
#define DEFAULT_MAX 1000

static int setup(void **state)
{
	struct fx *f = hbr_calloc(1, sizeof(*f));

	fx_open(f, "store-checkpoint");
	assert_int_equal(
	        hbr_store_execf(f->s, "CREATE TABLE t (x BLOB NOT NULL)", ""),
	        0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx_close(*state);
	hbr_free(*state);
	return 0;
}

/* COMMITS transactions of ROWS new rows, each row on a page of its own. */
static void write_pages(struct fx *f)
{
	for (int c = 0; c < COMMITS; c++) {
		begin(f);
		for (int r = 0; r < ROWS; r++)
			assert_int_equal(hbr_store_execf(f->s,
			                                 "INSERT INTO t VALUES"
			                                 " (zeroblob(?))",
			                                 "i",
			                                 (int64_t)PAGE - 200),
			                 0);
		assert_int_equal(hbr_store_commit(f->s), 0);
	}
}

static int64_t wal_pages(const struct fx *f)
{
	char path[4300];
	struct stat st;

	(void)snprintf(path, sizeof(path), "%s/hbr.db-wal", f->dir);
	assert_int_equal(stat(path, &st), 0);
	return (int64_t)st.st_size / PAGE;
}

static void test_not_held_the_log_stays_bounded(void **state)
{
	struct fx *f = *state;

	write_pages(f);
	write_pages(f);
	assert_true(wal_pages(f) < DEFAULT_MAX + 2 * ROWS);
}

static void test_held_the_log_grows_released_it_is_reused(void **state)
{
	struct fx *f = *state;
	int64_t held;

	hbr_store_hold_checkpoints(f->s, true);
	write_pages(f);
	held = wal_pages(f);
	assert_true(held >= COMMITS * ROWS);
	hbr_store_hold_checkpoints(f->s, false);
	/* Checkpointed at the release: the next commits start the log
	 * over, and checkpoint again at the default, so it grows no more. */
	write_pages(f);
	assert_int_equal(wal_pages(f), held);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		        test_not_held_the_log_stays_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_held_the_log_grows_released_it_is_reused, setup,
		        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
