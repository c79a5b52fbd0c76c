/* hbr_json_escape: quoted JSON strings that jansson reads back exactly. */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <jansson.h>
#include <cmocka.h>
#include "util/buf.h"
#include "util/error.h"
#include "util/jsonesc.h"

static void assert_escapes(const char *in, const char *want)
{
	struct hbr_buf b = HBR_BUF_INIT;

	assert_int_equal(hbr_json_escape(&b, in), 0);
	assert_string_equal(hbr_buf_cstr(&b), want);
	hbr_buf_release(&b);
}

static void test_plain_text_is_quoted(void **state)
{
	(void)state;
	assert_escapes("", "\"\"");
	assert_escapes("ACTIVATED", "\"ACTIVATED\"");
	assert_escapes("a/b c'd", "\"a/b c'd\"");
}

static void test_specials_are_escaped(void **state)
{
	(void)state;
	assert_escapes("say \"hi\"", "\"say \\\"hi\\\"\"");
	assert_escapes("C:\\dir\\", "\"C:\\\\dir\\\\\"");
	assert_escapes("a\nb\rc\td", "\"a\\nb\\rc\\td\"");
	assert_escapes("\x01\x1f", "\"\\u0001\\u001f\"");
	assert_escapes("\b\f", "\"\\u0008\\u000c\"");
	assert_escapes("\"", "\"\\\"\"");
}

static void test_utf8_and_del_pass_through(void **state)
{
	(void)state;
	assert_escapes("caf\xc3\xa9 \xe4\xb8\xad",
	               "\"caf\xc3\xa9 \xe4\xb8\xad\"");
	assert_escapes("\x7f", "\"\x7f\"");
}

static void test_appends_to_existing_content(void **state)
{
	struct hbr_buf b = HBR_BUF_INIT;

	(void)state;
	assert_int_equal(hbr_buf_puts(&b, "{\"k\":"), 0);
	assert_int_equal(hbr_json_escape(&b, "v\""), 0);
	assert_int_equal(hbr_buf_putc(&b, '}'), 0);
	assert_string_equal(hbr_buf_cstr(&b), "{\"k\":\"v\\\"\"}");
	hbr_buf_release(&b);
}

static void test_every_ascii_byte_round_trips(void **state)
{
	char in[128];
	struct hbr_buf b = HBR_BUF_INIT;
	json_error_t jerr;
	json_t *v;

	(void)state;
	for (int i = 1; i < 128; i++)
		in[i - 1] = (char)i;
	in[127] = '\0';
	assert_int_equal(hbr_json_escape(&b, in), 0);
	v = json_loads(hbr_buf_cstr(&b), JSON_DECODE_ANY, &jerr);
	if (!v)
		fail_msg("not JSON: %s (%s)", jerr.text, hbr_buf_cstr(&b));
	assert_true(json_is_string(v));
	assert_string_equal(json_string_value(v), in);
	json_decref(v);
	hbr_buf_release(&b);
}

static void test_capped_buffer_fails(void **state)
{
	struct hbr_buf b;

	(void)state;
	hbr_buf_init(&b, 6);
	assert_int_equal(hbr_json_escape(&b, "abcd"), 0); /* "abcd" = 6 */
	hbr_buf_clear(&b);
	assert_int_equal(hbr_json_escape(&b, "abcde"), HBR_ETOOBIG);
	hbr_buf_clear(&b);
	assert_int_equal(hbr_json_escape(&b, "a\"bc"), HBR_ETOOBIG); /* 7 */
	hbr_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text_is_quoted),
		cmocka_unit_test(test_specials_are_escaped),
		cmocka_unit_test(test_utf8_and_del_pass_through),
		cmocka_unit_test(test_appends_to_existing_content),
		cmocka_unit_test(test_every_ascii_byte_round_trips),
		cmocka_unit_test(test_capped_buffer_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
