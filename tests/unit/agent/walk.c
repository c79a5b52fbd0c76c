/*
 * agent/agent_walk.h: the walk of a generated tree: order, types, links,
 * xattrs, names that are not UTF-8, Exclude, and what cannot be read.
 */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "agent/agent_walk.h"
#include "unit/agent/fixture.h"
#include "unit/util/tmpdir.h"
#include "util/error.h"

struct ctx {
	char *dir;
	char root[1024];
	bool xattrs;
};

static int setup(void **state)
{
	struct ctx *c = hbr_calloc(1, sizeof(*c));

	c->dir = test_tmpdir("agent_walk");
	if (!c->dir)
		return -1;
	(void)snprintf(c->root, sizeof(c->root), "%s/src", c->dir);
	if (fix_make(c->root, &c->xattrs) < 0)
		return -1;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	test_rmtree(c->dir);
	hbr_free(c);
	return 0;
}

static void test_walk_order_types_and_metadata(void **state)
{
	struct ctx *c = *state;
	struct hbr_agent_filter f;
	struct hbr_agent_walker *w;
	struct hbr_agent_walk_item it;
	char *roots[] = { c->root };
	size_t n = 0;
	bool saw_xattr = false;

	assert_int_equal(
	        hbr_agent_filter_parse(&f, NULL, "[\"*.tmp\", \"/nowhere\"]"),
	        0);
	/* The exclusion of a whole directory, by absolute path. */
	{
		char ex[8192];

		(void)snprintf(ex, sizeof(ex), "%s/excluded", c->root);
		f.exclude = hbr_realloc(f.exclude, 3 * sizeof(char *));
		f.exclude[f.n_exclude++] = hbr_strdup(ex);
	}
	hbr_agent_walk_item_init(&it);
	hbr_agent_walker_new(&w, roots, 1, &f, HBR_AGENT_WALK_XATTRS);
	while (hbr_agent_walker_next(w, &it) > 0) {
		char want[8192];

		assert_false(it.error);
		assert_true(n < HBR_ARRAY_SIZE(fix_entries));
		fix_path(want, sizeof(want), c->root, fix_entries[n].rel);
		assert_string_equal(it.e.path.ptr, want);
		assert_int_equal(it.e.type, fix_entries[n].type);
		if (!strcmp(fix_entries[n].rel, "/a/lnk"))
			assert_string_equal(it.e.link.ptr, "x.txt");
		if (!strcmp(fix_entries[n].rel, "/a/secret"))
			assert_int_equal(it.e.mode, 0600);
		if (!strcmp(fix_entries[n].rel, "/a/b"))
			assert_int_equal(it.e.mode, 0750);
		if (!strcmp(fix_entries[n].rel, "/a/hard"))
			assert_int_equal(it.st.st_nlink, 2);
		if (!strcmp(fix_entries[n].rel, "/a/sparse"))
			assert_int_equal(it.e.size, FIX_SPARSE);
		if (!strcmp(fix_entries[n].rel, "/a/x.txt")) {
			assert_int_equal(it.e.size, 6);
			assert_true(it.e.mtime_ns ==
			            FIX_MTIME_S * 1000000000ll + 123456789);
			if (c->xattrs) {
				assert_non_null(strstr(it.e.xattrs.ptr,
				                       "\"user.hbr.test\":"
				                       "\"dgB4\""));
				saw_xattr = true;
			}
		}
		n++;
	}
	assert_int_equal(n, HBR_ARRAY_SIZE(fix_entries));
	assert_true(saw_xattr == c->xattrs);
	hbr_agent_walker_free(w);
	hbr_agent_walk_item_release(&it);
	hbr_agent_filter_release(&f);
}

static void test_include_narrows_the_walk(void **state)
{
	struct ctx *c = *state;
	struct hbr_agent_filter f;
	struct hbr_agent_walker *w;
	struct hbr_agent_walk_item it;
	char *roots[] = { c->root }, inc[8192];
	const char *want[] = { "", "/a", "/a/x.txt", "/c", "/c/keep.txt" };
	size_t n = 0;

	(void)snprintf(inc, sizeof(inc), "[\"%s/a/x.txt\", \"%s/c\"]", c->root,
	               c->root);
	assert_int_equal(hbr_agent_filter_parse(&f, inc, NULL), 0);
	hbr_agent_walk_item_init(&it);
	hbr_agent_walker_new(&w, roots, 1, &f, 0);
	while (hbr_agent_walker_next(w, &it) > 0) {
		char p[8192];

		assert_true(n < HBR_ARRAY_SIZE(want));
		fix_path(p, sizeof(p), c->root, want[n]);
		assert_string_equal(it.e.path.ptr, p);
		n++;
	}
	assert_int_equal(n, HBR_ARRAY_SIZE(want));
	hbr_agent_walker_free(w);
	hbr_agent_walk_item_release(&it);
	hbr_agent_filter_release(&f);
}

static void test_what_cannot_be_read_is_an_error_entry(void **state)
{
	struct ctx *c = *state;
	struct hbr_agent_filter f = { 0 };
	struct hbr_agent_walker *w;
	struct hbr_agent_walk_item it;
	char missing[8192], *roots[2];
	bool saw = false;

	(void)snprintf(missing, sizeof(missing), "%s/no-such", c->root);
	roots[0] = c->root;
	roots[1] = missing;
	hbr_agent_walk_item_init(&it);
	hbr_agent_walker_new(&w, roots, 2, &f, 0);
	while (hbr_agent_walker_next(w, &it) > 0) {
		if (!it.error)
			continue;
		assert_string_equal(it.e.path.ptr, missing);
		assert_non_null(strstr(it.message, "No such file"));
		saw = true;
	}
	assert_true(saw);
	hbr_agent_walker_free(w);
	hbr_agent_walk_item_release(&it);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk_order_types_and_metadata),
		cmocka_unit_test(test_include_narrows_the_walk),
		cmocka_unit_test(test_what_cannot_be_read_is_an_error_entry),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
