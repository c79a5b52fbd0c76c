/* hbr_buf: growth, NUL termination, the `max` cap, clear and detach. */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"

/* The buffer's observable state, to prove a failed append changed
 * nothing. */
struct snap {
	char *copy;
	const char *ptr;
	size_t len;
	size_t cap;
	size_t max;
};

static struct snap take(const struct hbr_buf *b)
{
	struct snap s = { hbr_strndup(hbr_buf_cstr(b), b->len), b->ptr, b->len,
		          b->cap, b->max };
	return s;
}

static void assert_unchanged(const struct hbr_buf *b, struct snap *s)
{
	assert_ptr_equal(b->ptr, s->ptr);
	assert_int_equal(b->len, s->len);
	assert_int_equal(b->cap, s->cap);
	assert_int_equal(b->max, s->max);
	assert_memory_equal(hbr_buf_cstr(b), s->copy, s->len);
	assert_int_equal(hbr_buf_cstr(b)[b->len], '\0');
	hbr_free(s->copy);
}

static void test_untouched_buffer_is_empty_string(void **state)
{
	struct hbr_buf b = HBR_BUF_INIT;
	struct hbr_buf c;
	size_t len = 99;
	char *p;

	(void)state;
	assert_null(b.ptr);
	assert_int_equal(b.max, 0);
	assert_string_equal(hbr_buf_cstr(&b), "");

	hbr_buf_init(&c, 10);
	assert_null(c.ptr);
	assert_int_equal(c.len, 0);
	assert_int_equal(c.max, 10);

	/* detaching an untouched buffer still hands out a C string */
	p = hbr_buf_detach(&b, &len);
	assert_non_null(p);
	assert_string_equal(p, "");
	assert_int_equal(len, 0);
	hbr_free(p);
	hbr_buf_release(&b);
}

static void test_appends_concatenate(void **state)
{
	struct hbr_buf b = HBR_BUF_INIT;

	(void)state;
	assert_int_equal(hbr_buf_puts(&b, "abc"), 0);
	assert_int_equal(hbr_buf_putc(&b, '-'), 0);
	assert_int_equal(hbr_buf_put(&b, "xyz123", 3), 0);
	assert_int_equal(hbr_buf_printf(&b, "[%d:%s]", 42, "q"), 0);
	assert_int_equal(hbr_buf_puts(&b, ""), 0);
	assert_string_equal(hbr_buf_cstr(&b), "abc-xyz[42:q]");
	assert_int_equal(b.len, strlen("abc-xyz[42:q]"));
	hbr_buf_release(&b);
	assert_null(b.ptr);
	assert_int_equal(b.len, 0);

	/* usable again after release */
	assert_int_equal(hbr_buf_puts(&b, "again"), 0);
	assert_string_equal(hbr_buf_cstr(&b), "again");
	hbr_buf_release(&b);
}

static void test_empty_printf_allocates_a_string(void **state)
{
	struct hbr_buf b = HBR_BUF_INIT;

	(void)state;
	assert_int_equal(hbr_buf_printf(&b, "%s", ""), 0);
	assert_non_null(b.ptr);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.ptr, "");
	hbr_buf_release(&b);
}

static void test_binary_data_keeps_length(void **state)
{
	static const char data[] = { 'a', '\0', 'b', '\0', 'c' };
	struct hbr_buf b = HBR_BUF_INIT;

	(void)state;
	assert_int_equal(hbr_buf_put(&b, data, sizeof(data)), 0);
	assert_int_equal(b.len, sizeof(data));
	assert_memory_equal(b.ptr, data, sizeof(data));
	assert_int_equal(b.ptr[sizeof(data)], '\0');
	hbr_buf_release(&b);
}

static void test_grows_through_many_appends(void **state)
{
	struct hbr_buf b = HBR_BUF_INIT;

	(void)state;
	for (int i = 0; i < 5000; i++)
		assert_int_equal(hbr_buf_putc(&b, (char)('a' + i % 26)), 0);
	assert_int_equal(b.len, 5000);
	assert_true(b.cap > b.len);
	for (int i = 0; i < 5000; i++)
		assert_int_equal(b.ptr[i], 'a' + i % 26);
	assert_int_equal(b.ptr[5000], '\0');
	hbr_buf_release(&b);
}

static void test_cap_allows_exactly_max(void **state)
{
	struct hbr_buf b;

	(void)state;
	hbr_buf_init(&b, 8);
	assert_int_equal(hbr_buf_puts(&b, "12345"), 0);
	assert_int_equal(hbr_buf_puts(&b, "678"), 0);
	assert_int_equal(b.len, 8);
	assert_string_equal(hbr_buf_cstr(&b), "12345678");
	/* an empty append at the limit is fine */
	assert_int_equal(hbr_buf_put(&b, "", 0), 0);
	hbr_buf_release(&b);
}

static void test_cap_refuses_and_leaves_buffer_unchanged(void **state)
{
	struct hbr_buf b;
	struct snap s;

	(void)state;
	hbr_buf_init(&b, 8);
	assert_int_equal(hbr_buf_puts(&b, "123456"), 0);

	s = take(&b);
	assert_int_equal(hbr_buf_puts(&b, "789"), HBR_ETOOBIG);
	assert_non_null(strstr(hbr_error_msg(), "8"));
	assert_unchanged(&b, &s);

	s = take(&b);
	assert_int_equal(hbr_buf_put(&b, "abc", 3), HBR_ETOOBIG);
	assert_unchanged(&b, &s);

	s = take(&b);
	assert_int_equal(hbr_buf_printf(&b, "%d", 123), HBR_ETOOBIG);
	assert_unchanged(&b, &s);

	/* two more bytes still fit, then not one more */
	assert_int_equal(hbr_buf_printf(&b, "%d", 78), 0);
	s = take(&b);
	assert_int_equal(hbr_buf_putc(&b, 'x'), HBR_ETOOBIG);
	assert_unchanged(&b, &s);
	assert_string_equal(hbr_buf_cstr(&b), "12345678");
	hbr_buf_release(&b);
}

static void test_put_i64_writes_decimal(void **state)
{
	struct hbr_buf b = HBR_BUF_INIT;

	(void)state;
	assert_int_equal(hbr_buf_put_i64(&b, 0), 0);
	assert_int_equal(hbr_buf_putc(&b, ' '), 0);
	assert_int_equal(hbr_buf_put_i64(&b, -1), 0);
	assert_int_equal(hbr_buf_putc(&b, ' '), 0);
	assert_int_equal(hbr_buf_put_i64(&b, 1234567890123), 0);
	assert_int_equal(hbr_buf_putc(&b, ' '), 0);
	assert_int_equal(hbr_buf_put_i64(&b, INT64_MAX), 0);
	assert_int_equal(hbr_buf_putc(&b, ' '), 0);
	assert_int_equal(hbr_buf_put_i64(&b, INT64_MIN), 0);
	assert_string_equal(hbr_buf_cstr(&b),
	                    "0 -1 1234567890123 9223372036854775807"
	                    " -9223372036854775808");
	assert_int_equal(b.len, strlen(hbr_buf_cstr(&b)));
	hbr_buf_release(&b);
}

/* printf formats into the room there is and again after growing when
 * it did not fit: both paths give the same text, NUL-terminated. */
static void test_printf_fits_room_or_grows(void **state)
{
	struct hbr_buf b = HBR_BUF_INIT;
	char want[400];

	(void)state;
	assert_int_equal(hbr_buf_puts(&b, "x"), 0); /* cap 64 now */
	assert_int_equal(b.cap, 64);
	/* 62 more bytes: exactly what fits with the NUL */
	assert_int_equal(hbr_buf_printf(&b, "%062d", 7), 0);
	assert_int_equal(b.len, 63);
	assert_int_equal(b.cap, 64);
	assert_int_equal(hbr_buf_cstr(&b)[63], '\0');
	/* one byte more than the room: grows and formats again */
	assert_int_equal(hbr_buf_printf(&b, "%s-%300d", "y", 5), 0);
	(void)snprintf(want, sizeof(want), "x%062d%s-%300d", 7, "y", 5);
	assert_string_equal(hbr_buf_cstr(&b), want);
	assert_int_equal(b.len, strlen(want));
	hbr_buf_release(&b);
}

/* putc's fast path stops at the cap like every other append. */
static void test_putc_respects_cap_with_room_left(void **state)
{
	struct hbr_buf b;

	(void)state;
	hbr_buf_init(&b, 3);
	assert_int_equal(hbr_buf_reserve(&b, 60), HBR_ETOOBIG);
	assert_int_equal(hbr_buf_putc(&b, 'a'), 0); /* cap 64 > max */
	assert_int_equal(hbr_buf_putc(&b, 'b'), 0);
	assert_int_equal(hbr_buf_putc(&b, 'c'), 0);
	assert_int_equal(hbr_buf_putc(&b, 'd'), HBR_ETOOBIG);
	assert_string_equal(hbr_buf_cstr(&b), "abc");
	hbr_buf_release(&b);
}

static void test_cap_refuses_first_append_too(void **state)
{
	struct hbr_buf b;

	(void)state;
	hbr_buf_init(&b, 3);
	assert_int_equal(hbr_buf_puts(&b, "abcd"), HBR_ETOOBIG);
	assert_int_equal(b.len, 0);
	assert_string_equal(hbr_buf_cstr(&b), "");
	hbr_buf_release(&b);
}

static void test_size_overflow_is_refused(void **state)
{
	struct hbr_buf b = HBR_BUF_INIT;
	struct snap s;

	(void)state;
	assert_int_equal(hbr_buf_puts(&b, "ab"), 0);
	s = take(&b);
	/* the length alone makes it fail: the data is never read */
	assert_int_equal(hbr_buf_put(&b, "x", SIZE_MAX), HBR_ETOOBIG);
	assert_int_equal(hbr_buf_put(&b, "x", SIZE_MAX - 2), HBR_ETOOBIG);
	assert_unchanged(&b, &s);
	hbr_buf_release(&b);
}

static void test_clear_keeps_memory_and_max(void **state)
{
	struct hbr_buf b;
	const char *ptr;
	size_t cap;

	(void)state;
	hbr_buf_init(&b, 4);
	assert_int_equal(hbr_buf_puts(&b, "abcd"), 0);
	ptr = b.ptr;
	cap = b.cap;
	hbr_buf_clear(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(hbr_buf_cstr(&b), "");
	assert_ptr_equal(b.ptr, ptr);
	assert_int_equal(b.cap, cap);
	assert_int_equal(b.max, 4);
	/* the cap still applies to the cleared buffer */
	assert_int_equal(hbr_buf_puts(&b, "wxyz!"), HBR_ETOOBIG);
	assert_int_equal(hbr_buf_puts(&b, "wxyz"), 0);
	assert_string_equal(hbr_buf_cstr(&b), "wxyz");
	hbr_buf_release(&b);

	/* clearing an untouched buffer is harmless */
	hbr_buf_init(&b, 0);
	hbr_buf_clear(&b);
	assert_string_equal(hbr_buf_cstr(&b), "");
}

static void test_detach_hands_over_and_resets(void **state)
{
	struct hbr_buf b;
	size_t len = 0;
	char *p;

	(void)state;
	hbr_buf_init(&b, 100);
	assert_int_equal(hbr_buf_printf(&b, "%s=%d", "k", 7), 0);
	p = hbr_buf_detach(&b, &len);
	assert_string_equal(p, "k=7");
	assert_int_equal(len, 3);
	assert_null(b.ptr);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_string_equal(hbr_buf_cstr(&b), "");

	/* the buffer is reusable and independent of the detached memory */
	assert_int_equal(hbr_buf_puts(&b, "new"), 0);
	assert_string_equal(p, "k=7");
	assert_string_equal(hbr_buf_cstr(&b), "new");
	hbr_free(p);

	p = hbr_buf_detach(&b, NULL); /* len_out is optional */
	assert_string_equal(p, "new");
	hbr_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_untouched_buffer_is_empty_string),
		cmocka_unit_test(test_appends_concatenate),
		cmocka_unit_test(test_empty_printf_allocates_a_string),
		cmocka_unit_test(test_binary_data_keeps_length),
		cmocka_unit_test(test_grows_through_many_appends),
		cmocka_unit_test(test_cap_allows_exactly_max),
		cmocka_unit_test(test_cap_refuses_and_leaves_buffer_unchanged),
		cmocka_unit_test(test_cap_refuses_first_append_too),
		cmocka_unit_test(test_put_i64_writes_decimal),
		cmocka_unit_test(test_printf_fits_room_or_grows),
		cmocka_unit_test(test_putc_respects_cap_with_room_left),
		cmocka_unit_test(test_size_overflow_is_refused),
		cmocka_unit_test(test_clear_keeps_memory_and_max),
		cmocka_unit_test(test_detach_hands_over_and_resets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
