/* hbr_kvlist: owned copies, first-match lookups, stable byte-order sort. */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "util/kvlist.h"

static void add(struct hbr_kvlist *l, const char *k, const char *v)
{
	hbr_kvlist_add(l, k, strlen(k), v, v ? strlen(v) : 0);
}

static void test_add_copies_key_and_value(void **state)
{
	struct hbr_kvlist l = HBR_KVLIST_INIT;
	char key[] = "Action", val[] = "DescribeVaults";

	(void)state;
	add(&l, key, val);
	/* the list owns copies: changing the originals changes nothing */
	key[0] = 'X';
	val[0] = 'X';
	assert_int_equal(l.n, 1);
	assert_string_equal(l.items[0].key, "Action");
	assert_string_equal(hbr_kvlist_get(&l, "Action"), "DescribeVaults");
	assert_null(hbr_kvlist_get(&l, "Xction"));
	hbr_kvlist_release(&l);
}

static void test_add_honours_lengths_and_null_value(void **state)
{
	struct hbr_kvlist l = HBR_KVLIST_INIT;

	(void)state;
	hbr_kvlist_add(&l, "PageSizeXXX", 8, "10abc", 2);
	hbr_kvlist_add(&l, "flag", 4, NULL, 123);
	assert_string_equal(hbr_kvlist_get(&l, "PageSize"), "10");
	assert_null(hbr_kvlist_get(&l, "PageSizeXXX"));
	assert_string_equal(hbr_kvlist_get(&l, "flag"), "");
	hbr_kvlist_release(&l);
}

static void test_get_returns_first_duplicate(void **state)
{
	struct hbr_kvlist l = HBR_KVLIST_INIT;

	(void)state;
	add(&l, "a", "1");
	add(&l, "b", "x");
	add(&l, "a", "2");
	assert_int_equal(l.n, 3);
	assert_string_equal(hbr_kvlist_get(&l, "a"), "1");
	assert_string_equal(l.items[2].val, "2");
	hbr_kvlist_release(&l);
}

static void test_get_is_exact_get_ci_ignores_case(void **state)
{
	struct hbr_kvlist l = HBR_KVLIST_INIT;

	(void)state;
	add(&l, "Content-Type", "text/plain");
	add(&l, "content-type", "application/json");
	assert_null(hbr_kvlist_get(&l, "CONTENT-TYPE"));
	assert_null(hbr_kvlist_get(&l, "Content-Typ"));
	assert_null(hbr_kvlist_get(&l, "Content-Type2"));
	assert_string_equal(hbr_kvlist_get(&l, "content-type"),
	                    "application/json");
	/* case-insensitive lookups also return the first match */
	assert_string_equal(hbr_kvlist_get_ci(&l, "CONTENT-TYPE"),
	                    "text/plain");
	assert_null(hbr_kvlist_get_ci(&l, "Content-Length"));
	hbr_kvlist_release(&l);
}

static void test_empty_list_lookups(void **state)
{
	struct hbr_kvlist l = HBR_KVLIST_INIT;

	(void)state;
	assert_null(hbr_kvlist_get(&l, "a"));
	assert_null(hbr_kvlist_get_ci(&l, "a"));
	hbr_kvlist_sort(&l);
	assert_int_equal(l.n, 0);
	hbr_kvlist_release(&l);
}

static void test_sort_is_byte_order_and_stable(void **state)
{
	struct hbr_kvlist l = HBR_KVLIST_INIT;
	static const char *const want[][2] = {
		{ "AccessKeyId", "k" }, { "Action", "1" }, { "Action", "2" },
		{ "Format", "JSON" },   { "a", "lower" },  { "b", "first" },
		{ "b", "second" },      { "b", "third" },
	};

	(void)state;
	add(&l, "b", "first");
	add(&l, "a", "lower");
	add(&l, "Format", "JSON");
	add(&l, "Action", "1");
	add(&l, "b", "second");
	add(&l, "AccessKeyId", "k");
	add(&l, "Action", "2");
	add(&l, "b", "third");
	hbr_kvlist_sort(&l);
	assert_int_equal(l.n, HBR_ARRAY_SIZE(want));
	for (size_t i = 0; i < l.n; i++) {
		assert_string_equal(l.items[i].key, want[i][0]);
		assert_string_equal(l.items[i].val, want[i][1]);
	}
	hbr_kvlist_release(&l);
}

static void test_many_entries_and_reuse_after_release(void **state)
{
	struct hbr_kvlist l = HBR_KVLIST_INIT;
	char k[16], v[16];

	(void)state;
	for (int i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		snprintf(v, sizeof(v), "v%d", i);
		add(&l, k, v);
	}
	assert_int_equal(l.n, 1000);
	assert_true(l.cap >= 1000);
	assert_string_equal(hbr_kvlist_get(&l, "k0"), "v0");
	assert_string_equal(hbr_kvlist_get(&l, "k999"), "v999");
	hbr_kvlist_release(&l);
	assert_null(l.items);
	assert_int_equal(l.n, 0);
	assert_int_equal(l.cap, 0);

	add(&l, "x", "y");
	assert_string_equal(hbr_kvlist_get(&l, "x"), "y");
	hbr_kvlist_release(&l);
}

static void test_set_and_del_touch_the_first_match(void **state)
{
	struct hbr_kvlist l = HBR_KVLIST_INIT;

	(void)state;
	add(&l, "a", "1");
	add(&l, "b", "2");
	add(&l, "a", "3");
	assert_true(hbr_kvlist_set(&l, "a", "a much longer value than before"));
	assert_string_equal(l.items[0].key, "a");
	assert_string_equal(l.items[0].val, "a much longer value than before");
	assert_string_equal(l.items[2].val, "3");
	assert_false(hbr_kvlist_set(&l, "zz", "x"));
	assert_true(hbr_kvlist_del(&l, "a"));
	assert_int_equal(l.n, 2);
	assert_string_equal(hbr_kvlist_get(&l, "a"), "3");
	assert_string_equal(l.items[0].key, "b");
	assert_false(hbr_kvlist_del(&l, "zz"));
	hbr_kvlist_release(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_copies_key_and_value),
		cmocka_unit_test(test_add_honours_lengths_and_null_value),
		cmocka_unit_test(test_get_returns_first_duplicate),
		cmocka_unit_test(test_get_is_exact_get_ci_ignores_case),
		cmocka_unit_test(test_empty_list_lookups),
		cmocka_unit_test(test_sort_is_byte_order_and_stable),
		cmocka_unit_test(test_many_entries_and_reuse_after_release),
		cmocka_unit_test(test_set_and_del_touch_the_first_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
