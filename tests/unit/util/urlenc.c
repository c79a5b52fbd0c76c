/*
 * Percent-encoding cases not covered by tests/unit/auth/sig.c (which has
 * the RFC 3986 encode table and a mixed form_parse case): decoding on its
 * own, byte-exact lengths, the buffer cap and form edge cases.
 */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "util/buf.h"
#include "util/error.h"
#include "util/urlenc.h"

static void assert_decodes(const char *in, bool plus, const char *want)
{
	struct hbr_buf b = HBR_BUF_INIT;

	assert_int_equal(hbr_url_decode(&b, in, strlen(in), plus), 0);
	assert_string_equal(hbr_buf_cstr(&b), want);
	hbr_buf_release(&b);
}

static void test_decode_escapes_either_case(void **state)
{
	(void)state;
	assert_decodes("%2F%2f%41%6a", true, "//Aj");
	assert_decodes("%C3%A9", true, "\xc3\xa9");
	assert_decodes("", true, "");
}

static void test_decode_plus_only_in_forms(void **state)
{
	(void)state;
	assert_decodes("a+b%2B", true, "a b+");
	assert_decodes("a+b%2B", false, "a+b+");
	assert_decodes("%20", false, " ");
}

static void test_decode_keeps_malformed_escapes(void **state)
{
	(void)state;
	assert_decodes("%", true, "%");
	assert_decodes("%4", true, "%4");
	assert_decodes("a%", true, "a%");
	assert_decodes("%G1%1G", true, "%G1%1G");
	assert_decodes("%%41", true, "%A");
	assert_decodes("100%", true, "100%");
}

static void test_decode_stops_at_len(void **state)
{
	struct hbr_buf b = HBR_BUF_INIT;

	(void)state;
	/* "%41" cut after two bytes is not an escape */
	assert_int_equal(hbr_url_decode(&b, "%41", 2, true), 0);
	assert_string_equal(hbr_buf_cstr(&b), "%4");
	hbr_buf_release(&b);
}

static void test_encode_is_byte_exact(void **state)
{
	static const char in[] = { 'a', '\0', (char)0xff, ' ', '~' };
	struct hbr_buf b = HBR_BUF_INIT;

	(void)state;
	assert_int_equal(hbr_url_encode(&b, in, sizeof(in)), 0);
	assert_string_equal(hbr_buf_cstr(&b), "a%00%FF%20~");
	hbr_buf_release(&b);
}

static void test_encode_decode_round_trip(void **state)
{
	struct hbr_buf enc = HBR_BUF_INIT, dec = HBR_BUF_INIT;
	char all[255];

	(void)state;
	for (int i = 0; i < 255; i++)
		all[i] = (char)(i + 1);
	assert_int_equal(hbr_url_encode(&enc, all, sizeof(all)), 0);
	assert_int_equal(
	        hbr_url_decode(&dec, enc.ptr, enc.len, /*plus_is_space=*/true),
	        0);
	assert_int_equal(dec.len, sizeof(all));
	assert_memory_equal(dec.ptr, all, sizeof(all));
	hbr_buf_release(&enc);
	hbr_buf_release(&dec);
}

/* The one-pass double encoding equals encoding twice, for every byte
 * and for mixed strings, and respects the cap exactly. */
static void test_encode_twice_equals_encode_of_encode(void **state)
{
	struct hbr_buf once = HBR_BUF_INIT, twice = HBR_BUF_INIT,
	               fused = HBR_BUF_INIT, capped;
	char all[256];
	unsigned seed = 12345;

	(void)state;
	for (int i = 0; i < 256; i++)
		all[i] = (char)i;
	for (int round = 0; round < 200; round++) {
		size_t len = round == 0 ? sizeof(all) : (size_t)(seed % 64);
		char text[256];
		const char *in = all;
		if (round > 0) {
			for (size_t i = 0; i < len; i++) {
				seed = seed * 1103515245u + 12345u;
				text[i] = (char)(seed >> 16);
			}
			in = text;
		}
		hbr_buf_clear(&once);
		hbr_buf_clear(&twice);
		hbr_buf_clear(&fused);
		assert_int_equal(hbr_buf_puts(&fused, "keep"), 0);
		assert_int_equal(hbr_buf_puts(&twice, "keep"), 0);
		assert_int_equal(hbr_url_encode(&once, in, len), 0);
		assert_int_equal(hbr_url_encode(&twice, once.ptr, once.len), 0);
		assert_int_equal(hbr_url_encode_twice(&fused, in, len), 0);
		assert_int_equal(fused.len, twice.len);
		assert_string_equal(hbr_buf_cstr(&fused), hbr_buf_cstr(&twice));
		seed = seed * 1103515245u + 12345u;
	}
	/* "a b" becomes "a%2520b": 7 bytes fit a cap of 7, not of 6 */
	hbr_buf_init(&capped, 7);
	assert_int_equal(hbr_url_encode_twice(&capped, "a b", 3), 0);
	assert_string_equal(hbr_buf_cstr(&capped), "a%2520b");
	hbr_buf_release(&capped);
	hbr_buf_init(&capped, 6);
	assert_int_equal(hbr_url_encode_twice(&capped, "a b", 3), HBR_ETOOBIG);
	assert_int_equal(capped.len, 0);
	hbr_buf_release(&capped);
	hbr_buf_release(&once);
	hbr_buf_release(&twice);
	hbr_buf_release(&fused);
}

static void test_capped_output_fails(void **state)
{
	struct hbr_buf b;

	(void)state;
	hbr_buf_init(&b, 5);
	/* "a b" encodes to 5 bytes: fits */
	assert_int_equal(hbr_url_encode(&b, "a b", 3), 0);
	hbr_buf_clear(&b);
	assert_int_equal(hbr_url_encode(&b, "a  b", 4), HBR_ETOOBIG);
	assert_true(b.len <= 5);
	hbr_buf_clear(&b);
	assert_int_equal(hbr_url_decode(&b, "abcdef", 6, true), HBR_ETOOBIG);
	assert_true(b.len <= 5);
	hbr_buf_release(&b);
}

static void test_form_parse_edge_cases(void **state)
{
	struct hbr_kvlist l = HBR_KVLIST_INIT;
	static const char s[] = "&&=v&k=%26%3D&k=2&&";

	(void)state;
	assert_int_equal(hbr_form_parse(&l, "", 0, 10), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(hbr_form_parse(&l, "&&&", 3, 10), 0);
	assert_int_equal(l.n, 0);

	assert_int_equal(hbr_form_parse(&l, s, strlen(s), 10), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.items[0].key, "");
	assert_string_equal(l.items[0].val, "v");
	/* an escaped '&' or '=' is data, not a separator */
	assert_string_equal(l.items[1].key, "k");
	assert_string_equal(l.items[1].val, "&=");
	assert_string_equal(l.items[2].val, "2");
	hbr_kvlist_release(&l);
}

static void test_form_parse_respects_len(void **state)
{
	struct hbr_kvlist l = HBR_KVLIST_INIT;

	(void)state;
	assert_int_equal(hbr_form_parse(&l, "a=1&b=2", 3, 10), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(hbr_kvlist_get(&l, "a"), "1");
	hbr_kvlist_release(&l);
}

static void test_form_parse_limit_counts_only_real_params(void **state)
{
	struct hbr_kvlist l = HBR_KVLIST_INIT;

	(void)state;
	/* empty segments are not parameters */
	assert_int_equal(hbr_form_parse(&l, "a=1&&&b=2&", 10, 2), 0);
	assert_int_equal(l.n, 2);
	hbr_kvlist_release(&l);
	assert_int_equal(hbr_form_parse(&l, "a", 1, 0), HBR_ETOOBIG);
	hbr_kvlist_release(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_escapes_either_case),
		cmocka_unit_test(test_decode_plus_only_in_forms),
		cmocka_unit_test(test_decode_keeps_malformed_escapes),
		cmocka_unit_test(test_decode_stops_at_len),
		cmocka_unit_test(test_encode_is_byte_exact),
		cmocka_unit_test(test_encode_decode_round_trip),
		cmocka_unit_test(test_capped_output_fails),
		cmocka_unit_test(test_encode_twice_equals_encode_of_encode),
		cmocka_unit_test(test_form_parse_edge_cases),
		cmocka_unit_test(test_form_parse_respects_len),
		cmocka_unit_test(test_form_parse_limit_counts_only_real_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
