/*
 * agent/agent_glob.h: Include/Exclude matching, the roots of a walk and
 * the walk order; agent/agent_throttle.h: SpeedLimit by hour.
 */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "agent/agent_glob.h"
#include "agent/agent_throttle.h"
#include "util/error.h"

static void test_exclude_matches_path_and_below(void **state)
{
	struct hbr_agent_filter f;

	(void)state;
	assert_int_equal(hbr_agent_filter_parse(&f, NULL,
	                                        "[\"/var\", \"*.tmp\","
	                                        " \"/home/*/cache\"]"),
	                 0);
	assert_true(hbr_agent_filter_excluded(&f, "/var"));
	assert_true(hbr_agent_filter_excluded(&f, "/var/log/syslog"));
	assert_false(hbr_agent_filter_excluded(&f, "/variable"));
	/* No '/': any name along the path. */
	assert_true(hbr_agent_filter_excluded(&f, "/a/b/x.tmp"));
	assert_true(hbr_agent_filter_excluded(&f, "/a/d.tmp/inside"));
	assert_false(hbr_agent_filter_excluded(&f, "/a/b/x.tmpl"));
	/* '*' stays within one name. */
	assert_true(hbr_agent_filter_excluded(&f, "/home/al/cache"));
	assert_true(hbr_agent_filter_excluded(&f, "/home/al/cache/f"));
	assert_false(hbr_agent_filter_excluded(&f, "/home/al/x/cache"));
	/* Without Include everything else is kept. */
	assert_true(hbr_agent_filter_keep(&f, "/etc/passwd"));
	assert_false(hbr_agent_filter_keep(&f, "/var/x"));
	assert_true(hbr_agent_filter_descend(&f, "/home"));
	assert_false(hbr_agent_filter_descend(&f, "/var"));
	hbr_agent_filter_release(&f);
}

static void test_include_descends_only_where_it_may_match(void **state)
{
	struct hbr_agent_filter f;

	(void)state;
	assert_int_equal(hbr_agent_filter_parse(&f,
	                                        "[\"/home/alice/*.pdf\","
	                                        " \"/srv/data\"]",
	                                        "[\"/srv/data/tmp\"]"),
	                 0);
	assert_true(hbr_agent_filter_keep(&f, "/home/alice/a.pdf"));
	assert_false(hbr_agent_filter_keep(&f, "/home/alice/a.txt"));
	assert_false(hbr_agent_filter_keep(&f, "/home/alice/sub/a.pdf"));
	assert_true(hbr_agent_filter_keep(&f, "/srv/data/x/y"));
	assert_false(hbr_agent_filter_keep(&f, "/srv/data/tmp/y"));
	assert_true(hbr_agent_filter_descend(&f, "/"));
	assert_true(hbr_agent_filter_descend(&f, "/home"));
	assert_true(hbr_agent_filter_descend(&f, "/home/alice"));
	assert_false(hbr_agent_filter_descend(&f, "/home/bob"));
	assert_false(hbr_agent_filter_descend(&f, "/home/alice/sub"));
	assert_true(hbr_agent_filter_descend(&f, "/srv"));
	assert_true(hbr_agent_filter_descend(&f, "/srv/data/x"));
	assert_false(hbr_agent_filter_descend(&f, "/srv/data/tmp"));
	assert_false(hbr_agent_filter_descend(&f, "/usr"));
	hbr_agent_filter_release(&f);
}

static void test_filter_refuses_what_is_not_an_array(void **state)
{
	struct hbr_agent_filter f;

	(void)state;
	assert_int_equal(hbr_agent_filter_parse(&f, "/home", NULL), HBR_EINVAL);
	assert_string_equal(hbr_error_param(), "Include");
	assert_int_equal(hbr_agent_filter_parse(&f, NULL, "[1]"), HBR_EINVAL);
	assert_string_equal(hbr_error_param(), "Exclude");
	assert_int_equal(hbr_agent_filter_parse(&f, "", "[]"), 0);
	assert_int_equal(f.n_include + f.n_exclude, 0);
	hbr_agent_filter_release(&f);
}

static void test_path_clean(void **state)
{
	char a[] = "//a/./b//c/", b[] = "/", c[] = "rel/x", d[] = "/a/../b",
	     e[] = "/./";

	(void)state;
	assert_int_equal(hbr_agent_path_clean(a), 0);
	assert_string_equal(a, "/a/b/c");
	assert_int_equal(hbr_agent_path_clean(b), 0);
	assert_string_equal(b, "/");
	assert_int_equal(hbr_agent_path_clean(e), 0);
	assert_string_equal(e, "/");
	assert_int_equal(hbr_agent_path_clean(c), HBR_EINVAL);
	assert_int_equal(hbr_agent_path_clean(d), HBR_EINVAL);
}

static void test_walk_order(void **state)
{
	(void)state;
	/* A directory's contents come before its next sibling. */
	assert_true(hbr_agent_path_cmp("/a/b", 4, "/a b", 4) < 0);
	assert_true(hbr_agent_path_cmp("/a", 2, "/a/b", 4) < 0);
	assert_true(hbr_agent_path_cmp("/a/z", 4, "/a.x", 4) < 0);
	assert_true(hbr_agent_path_cmp("/b", 2, "/a/z", 4) > 0);
	assert_int_equal(hbr_agent_path_cmp("/a/b", 4, "/a/b", 4), 0);
	/* Bytes above 0x7f sort after ASCII. */
	assert_true(hbr_agent_path_cmp("/\xc3\xa9", 3, "/z", 2) > 0);
}

static void test_roots(void **state)
{
	const char *paths[] = { "/srv/b/", "/srv/a/x", "/srv/a", "/srv/a b",
		                "/srv/a" };
	struct hbr_agent_filter f, g;
	char **roots;
	size_t n;

	(void)state;
	assert_int_equal(hbr_agent_filter_parse(&f, NULL, NULL), 0);
	assert_int_equal(hbr_agent_roots(&roots, &n, paths, 5, &f), 0);
	assert_int_equal(n, 3);
	assert_string_equal(roots[0], "/srv/a");
	assert_string_equal(roots[1], "/srv/a b");
	assert_string_equal(roots[2], "/srv/b");
	hbr_agent_roots_free(roots, n);
	assert_int_equal(hbr_agent_roots(&roots, &n, NULL, 0, &f),
	                 HBR_EMISSING);
	/* No Paths: the Include patterns' literal directories. */
	assert_int_equal(hbr_agent_filter_parse(&g,
	                                        "[\"/home/*/docs\","
	                                        " \"/etc/hosts\", \"*.c\"]",
	                                        NULL),
	                 0);
	assert_int_equal(hbr_agent_roots(&roots, &n, NULL, 0, &g), 0);
	assert_int_equal(n, 2);
	assert_string_equal(roots[0], "/etc/hosts");
	assert_string_equal(roots[1], "/home");
	hbr_agent_roots_free(roots, n);
	paths[0] = "relative";
	assert_int_equal(hbr_agent_roots(&roots, &n, paths, 1, &f), HBR_EINVAL);
	hbr_agent_filter_release(&f);
	hbr_agent_filter_release(&g);
}

static void test_speed_limit(void **state)
{
	struct hbr_agent_speed sp;

	(void)state;
	assert_int_equal(hbr_agent_speed_parse(&sp, ""), 0);
	assert_false(sp.limited);
	assert_int_equal(hbr_agent_speed_min(&sp), 0);
	assert_int_equal(hbr_agent_speed_parse(&sp, "0:8:1024|18:24:512"), 0);
	assert_true(sp.limited);
	assert_int_equal(hbr_agent_speed_at(&sp, 0), 1024 * 1024);
	assert_int_equal(hbr_agent_speed_at(&sp, 7), 1024 * 1024);
	assert_int_equal(hbr_agent_speed_at(&sp, 8), 0);
	assert_int_equal(hbr_agent_speed_at(&sp, 17), 0);
	assert_int_equal(hbr_agent_speed_at(&sp, 18), 512 * 1024);
	assert_int_equal(hbr_agent_speed_at(&sp, 23), 512 * 1024);
	assert_int_equal(hbr_agent_speed_at(&sp, 24), 0);
	assert_int_equal(hbr_agent_speed_min(&sp), 512 * 1024);
	assert_int_equal(hbr_agent_speed_parse(&sp, "0:24:5120"), 0);
	assert_int_equal(hbr_agent_speed_now(&sp), 5120 * 1024);
	assert_int_equal(hbr_agent_speed_parse(&sp, "8:2:10"), HBR_EINVAL);
	assert_string_equal(hbr_error_param(), "SpeedLimit");
	assert_int_equal(hbr_agent_speed_parse(&sp, "0:10:1|5:12:1"),
	                 HBR_EINVAL);
	assert_int_equal(hbr_agent_speed_parse(&sp, "0:24"), HBR_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exclude_matches_path_and_below),
		cmocka_unit_test(test_include_descends_only_where_it_may_match),
		cmocka_unit_test(test_filter_refuses_what_is_not_an_array),
		cmocka_unit_test(test_path_clean),
		cmocka_unit_test(test_walk_order),
		cmocka_unit_test(test_roots),
		cmocka_unit_test(test_speed_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
