/* Resource ids: prefix + 20 [0-9a-z], validation, uniqueness. */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "core/id.h"
#include "util/alloc.h"

static const char *const prefixes[] = {
	HBR_ID_CLIENT, HBR_ID_VAULT,    HBR_ID_PLAN,
	HBR_ID_JOB,    HBR_ID_SNAPSHOT, HBR_ID_RESTORE,
	HBR_ID_TASK,   HBR_ID_ACCOUNT,  HBR_ID_USER,
};

static bool base36(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
}

static void test_new_ids_have_prefix_and_20_base36(void **state)
{
	(void)state;
	for (size_t p = 0; p < HBR_ARRAY_SIZE(prefixes); p++) {
		size_t plen = strlen(prefixes[p]);
		for (int i = 0; i < 200; i++) {
			char id[HBR_ID_MAX];
			memset(id, '#', sizeof(id));
			hbr_id_new(id, prefixes[p]);
			assert_int_equal(strlen(id), plen + HBR_ID_RANDOM_LEN);
			assert_memory_equal(id, prefixes[p], plen);
			for (size_t k = plen; id[k]; k++)
				if (!base36(id[k]))
					fail_msg("'%s' has '%c'", id, id[k]);
			assert_true(hbr_id_valid(id, prefixes[p]));
		}
	}
}

static void test_valid_accepts_exactly_the_format(void **state)
{
	(void)state;
	assert_true(hbr_id_valid("c-0001eg6mcvjs93f46s2d", HBR_ID_CLIENT));
	assert_true(hbr_id_valid("c-00000000000000000000", HBR_ID_CLIENT));
	assert_true(hbr_id_valid("c-zzzzzzzzzzzzzzzzzzzz", HBR_ID_CLIENT));
	assert_true(hbr_id_valid("plan-0001eg6mcvjs93f46s2d", HBR_ID_PLAN));
	assert_true(hbr_id_valid("job-000csy09q50a2jdcbwbo", HBR_ID_JOB));
}

static void test_valid_rejects_everything_else(void **state)
{
	static const struct {
		const char *id;
		const char *prefix;
	} bad[] = {
		/* wrong or missing prefix */
		{ "v-0001eg6mcvjs93f46s2d", HBR_ID_CLIENT },
		{ "C-0001eg6mcvjs93f46s2d", HBR_ID_CLIENT },
		{ "0001eg6mcvjs93f46s2dxx", HBR_ID_CLIENT },
		{ "c_0001eg6mcvjs93f46s2d", HBR_ID_CLIENT },
		{ "p-0001eg6mcvjs93f46s2d", HBR_ID_PLAN },
		{ "plan0001eg6mcvjs93f46s2d", HBR_ID_PLAN },
		/* 19 and 21 characters, and nothing at all */
		{ "c-0001eg6mcvjs93f46s2", HBR_ID_CLIENT },
		{ "c-0001eg6mcvjs93f46s2dx", HBR_ID_CLIENT },
		{ "c-", HBR_ID_CLIENT },
		{ "", HBR_ID_CLIENT },
		/* upper case and punctuation */
		{ "c-0001EG6mcvjs93f46s2d", HBR_ID_CLIENT },
		{ "c-0001eg6mcvjs93f46s2D", HBR_ID_CLIENT },
		{ "c-0001eg6mcvjs93f46s-d", HBR_ID_CLIENT },
		{ "c-0001eg6mcvjs93f46s_d", HBR_ID_CLIENT },
		{ "c-0001eg6mcvjs93f46s.d", HBR_ID_CLIENT },
		{ "c-0001eg6mcvjs93f46s d", HBR_ID_CLIENT },
		{ "c-0001eg6mcvjs93f46s*d", HBR_ID_CLIENT },
		{ "c-\"001eg6mcvjs93f46s2d", HBR_ID_CLIENT },
		{ " c-0001eg6mcvjs93f46s2", HBR_ID_CLIENT },
		{ "c-0001eg6mcvjs93f46s2\n", HBR_ID_CLIENT },
		{ "c-0001eg6mcvjs93f46s\xc3\xa9", HBR_ID_CLIENT },
		/* the documented masked form */
		{ "c-0007kyu045r0********", HBR_ID_CLIENT },
	};

	(void)state;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(bad); i++)
		if (hbr_id_valid(bad[i].id, bad[i].prefix))
			fail_msg("'%s' accepted for prefix '%s'", bad[i].id,
			         bad[i].prefix);
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_ten_thousand_ids_are_distinct(void **state)
{
	enum { N = 10000 };
	char(*ids)[HBR_ID_MAX] = hbr_calloc(N, HBR_ID_MAX);

	(void)state;
	for (int i = 0; i < N; i++)
		hbr_id_new(ids[i], HBR_ID_CLIENT);
	qsort(ids, N, HBR_ID_MAX, cmp_id);
	for (int i = 1; i < N; i++)
		if (!strcmp(ids[i - 1], ids[i]))
			fail_msg("duplicate id %s", ids[i]);
	hbr_free(ids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_ids_have_prefix_and_20_base36),
		cmocka_unit_test(test_valid_accepts_exactly_the_format),
		cmocka_unit_test(test_valid_rejects_everything_else),
		cmocka_unit_test(test_ten_thousand_ids_are_distinct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
