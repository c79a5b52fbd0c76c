/*
 * store_sqlite.c's statement cache: it keeps the statements used most
 * recently, however many distinct ones the connection has seen, and never
 * evicts a statement in use. Checked by the connection's counters of
 * prepares and cache hits.
 */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include "unit/store/fixture.h"

#define MORE (HBR_STORE_SQLITE_CACHE + 64)

static int setup(void **state)
{
	struct fx *f = hbr_calloc(1, sizeof(*f));

	fx_open(f, "store-cache");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx_close(*state);
	hbr_free(*state);
	return 0;
}

static struct hbr_store_cache_stats stats(struct fx *f)
{
	struct hbr_store_cache_stats st;

	hbr_store_sqlite_stats(&st, f->s);
	return st;
}

/* Run "SELECT i" once and check its answer. */
static void select_int(struct fx *f, int i)
{
	int64_t v = -1;
	char sql[64];

	(void)snprintf(sql, sizeof(sql), "SELECT %d", i);
	assert_int_equal(hbr_store_count(&v, f->s, sql, ""), 0);
	assert_int_equal(v, i);
}

/* More distinct statements than the cache holds: the most recent are
 * still served from it, the first are prepared again. */
static void test_keeps_the_most_recent(void **state)
{
	struct fx *f = *state;
	struct hbr_store_cache_stats before, after;

	for (int i = 0; i < MORE; i++)
		select_int(f, i);
	assert_int_equal(stats(f).cached, HBR_STORE_SQLITE_CACHE);
	assert_true(stats(f).evictions >= MORE - HBR_STORE_SQLITE_CACHE);
	before = stats(f);
	for (int i = MORE - HBR_STORE_SQLITE_CACHE / 2; i < MORE; i++)
		select_int(f, i);
	after = stats(f);
	assert_int_equal(after.prepares, before.prepares);
	assert_int_equal(after.hits - before.hits, HBR_STORE_SQLITE_CACHE / 2);
	/* The first ones made room long ago. */
	before = after;
	for (int i = 0; i < 8; i++)
		select_int(f, i);
	after = stats(f);
	assert_int_equal(after.prepares - before.prepares, 8);
	/* A hit makes a statement recent again: touched now, it outlives
	 * the next cacheful of others. */
	for (int round = 0; round < 3; round++) {
		select_int(f, 0);
		for (int i = 0; i < HBR_STORE_SQLITE_CACHE / 2; i++)
			select_int(f,
			           100000 + round * HBR_STORE_SQLITE_CACHE + i);
	}
	before = stats(f);
	select_int(f, 0);
	assert_int_equal(stats(f).prepares, before.prepares);
	assert_int_equal(stats(f).cached, HBR_STORE_SQLITE_CACHE);
}

/* A statement in use while the cache turns over more than its size is
 * not evicted (its row is still readable), and it is cached again once
 * done; the same text asked for while it is in use gets a statement of
 * its own. */
static void test_never_evicts_in_use(void **state)
{
	struct fx *f = *state;
	struct hbr_stmt *held = NULL, *twin = NULL;
	struct hbr_store_cache_stats before;

	assert_int_equal(hbr_store_queryf(&held, f->s, "SELECT 'held', ? + 1",
	                                  "i", (int64_t)41),
	                 0);
	assert_int_equal(hbr_stmt_next(held), 1);
	assert_int_equal(hbr_store_queryf(&twin, f->s, "SELECT 'held', ? + 1",
	                                  "i", (int64_t)1),
	                 0);
	assert_int_equal(hbr_stmt_next(twin), 1);
	assert_int_equal(hbr_stmt_int(twin, 1), 2);
	for (int i = 0; i < 2 * MORE; i++)
		select_int(f, 200000 + i);
	assert_string_equal(hbr_stmt_text(held, 0), "held");
	assert_int_equal(hbr_stmt_int(held, 1), 42);
	assert_int_equal(hbr_stmt_next(held), 0);
	hbr_stmt_done(held);
	hbr_stmt_done(twin);
	assert_true(stats(f).cached <= HBR_STORE_SQLITE_CACHE);
	before = stats(f);
	assert_int_equal(hbr_store_queryf(&held, f->s, "SELECT 'held', ? + 1",
	                                  "i", (int64_t)9),
	                 0);
	assert_int_equal(stats(f).prepares, before.prepares);
	assert_int_equal(hbr_stmt_next(held), 1);
	assert_int_equal(hbr_stmt_int(held, 1), 10);
	hbr_stmt_done(held);
}

/* Every statement in use: a new one is prepared for its use only, and
 * the cache stays within its size. */
static void test_full_of_statements_in_use(void **state)
{
	struct fx *f = *state;
	struct hbr_stmt **open = hbr_calloc(MORE, sizeof(*open));

	for (int i = 0; i < MORE; i++) {
		char sql[64];

		(void)snprintf(sql, sizeof(sql), "SELECT %d", 300000 + i);
		assert_int_equal(hbr_store_queryf(&open[i], f->s, sql, ""), 0);
		assert_int_equal(hbr_stmt_next(open[i]), 1);
	}
	assert_int_equal(stats(f).cached, HBR_STORE_SQLITE_CACHE);
	for (int i = 0; i < MORE; i++) {
		assert_int_equal(hbr_stmt_int(open[i], 0), 300000 + i);
		hbr_stmt_done(open[i]);
	}
	assert_int_equal(stats(f).cached, HBR_STORE_SQLITE_CACHE);
	hbr_free(open);
	select_int(f, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_keeps_the_most_recent,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_never_evicts_in_use, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_full_of_statements_in_use,
		                                setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
