/* Kernel randomness, UUID v4 shape and alphabet-restricted strings. */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "util/alloc.h"
#include "util/random.h"

static bool is_upper_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* "473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E": 8-4-4-4-12 upper-case hex,
 * version nibble 4, RFC 4122 variant (8, 9, A or B). */
static void assert_uuid_v4(const char *u)
{
	assert_int_equal(strlen(u), 36);
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			assert_int_equal(u[i], '-');
			continue;
		}
		if (!is_upper_hex(u[i]))
			fail_msg("'%s': byte %zu is not upper-case hex", u, i);
	}
	assert_int_equal(u[14], '4');
	assert_non_null(strchr("89AB", u[19]));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_uuid_format(void **state)
{
	(void)state;
	for (int i = 0; i < 2000; i++) {
		char u[37];
		memset(u, 'x', sizeof(u));
		hbr_random_uuid(u);
		assert_uuid_v4(u);
	}
}

static void test_uuids_are_distinct(void **state)
{
	enum { N = 2000 };
	char **all = hbr_calloc(N, sizeof(*all));

	(void)state;
	for (int i = 0; i < N; i++) {
		all[i] = hbr_malloc(37);
		hbr_random_uuid(all[i]);
	}
	qsort(all, N, sizeof(*all), cmp_str);
	for (int i = 1; i < N; i++)
		assert_string_not_equal(all[i - 1], all[i]);
	for (int i = 0; i < N; i++)
		hbr_free(all[i]);
	hbr_free(all);
}

static void test_string_uses_only_the_alphabet(void **state)
{
	static const char *const alphabets[] = {
		"0123456789abcdefghijklmnopqrstuvwxyz",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		"01",
		"xyz",
	};
	char out[4002];

	(void)state;
	for (size_t a = 0; a < HBR_ARRAY_SIZE(alphabets); a++) {
		const char *alpha = alphabets[a];
		size_t k = strlen(alpha);
		bool seen[256] = { false };
		size_t distinct = 0;

		memset(out, '#', sizeof(out));
		hbr_random_string(out, 4000, alpha);
		assert_int_equal(out[4000], '\0');
		assert_int_equal(out[4001], '#'); /* nothing written past n */
		for (size_t i = 0; i < 4000; i++) {
			unsigned char c = (unsigned char)out[i];
			if (!strchr(alpha, c) || c == '\0')
				fail_msg("'%c' is not in '%s'", c, alpha);
			if (!seen[c]) {
				seen[c] = true;
				distinct++;
			}
		}
		/* 4000 draws miss a character with probability < 1e-18 */
		assert_int_equal(distinct, k);
	}
}

static void test_string_of_one_character_alphabet(void **state)
{
	char out[17];

	(void)state;
	hbr_random_string(out, 16, "q");
	assert_string_equal(out, "qqqqqqqqqqqqqqqq");
}

static void test_empty_string(void **state)
{
	char out[2] = { '#', '#' };

	(void)state;
	hbr_random_string(out, 0, "abc");
	assert_int_equal(out[0], '\0');
	assert_int_equal(out[1], '#');
}

static void test_bytes_fill_the_buffer(void **state)
{
	unsigned char a[64], b[64], tail[4];
	unsigned char buf[68];

	(void)state;
	hbr_random_bytes(a, sizeof(a));
	hbr_random_bytes(b, sizeof(b));
	/* equal 512-bit draws would mean the generator is not random */
	assert_memory_not_equal(a, b, sizeof(a));

	memset(buf, 0xA5, sizeof(buf));
	memcpy(tail, buf + 64, sizeof(tail));
	hbr_random_bytes(buf, 64);
	assert_memory_equal(buf + 64, tail, sizeof(tail));
	hbr_random_bytes(buf, 0); /* a no-op, not a crash */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uuid_format),
		cmocka_unit_test(test_uuids_are_distinct),
		cmocka_unit_test(test_string_uses_only_the_alphabet),
		cmocka_unit_test(test_string_of_one_character_alphabet),
		cmocka_unit_test(test_empty_string),
		cmocka_unit_test(test_bytes_fill_the_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
