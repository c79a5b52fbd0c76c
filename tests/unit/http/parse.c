/* HTTP request framing: heads and chunked bodies, fed whole and byte by
 * byte, good and malformed. */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "http/http_parse.h"
#include "util/error.h"

static void test_head_len_needs_the_blank_line(void **state)
{
	static const char req[] = "GET /?a=b HTTP/1.1\r\nHost: x\r\n\r\nBODY";
	size_t full = strlen(req) - 4;

	(void)state;
	for (size_t n = 0; n < full; n++)
		assert_int_equal(hbr_http_head_len(req, n), 0);
	assert_int_equal(hbr_http_head_len(req, full), full);
	assert_int_equal(hbr_http_head_len(req, strlen(req)), full);
	/* bare LF line ends, and blank lines before the request line */
	assert_int_equal(hbr_http_head_len("GET / HTTP/1.1\n\n", 16), 16);
	assert_int_equal(
	        hbr_http_head_len("\r\n\r\nGET / HTTP/1.1\r\n\r\n", 22), 22);
	assert_int_equal(hbr_http_head_len("\r\n\r\n", 4), 0);
}

static void test_head_parse_fields(void **state)
{
	static const char req[] =
	        "POST /?Action=X&b=%20 HTTP/1.1\r\n"
	        "Host: 127.0.0.1\r\n"
	        "Content-Type:  application/x-www-form-urlencoded \r\n"
	        "X-Acs-Action: DescribeVaults\r\n"
	        "Content-Length: 12\r\n"
	        "Expect: 100-continue\r\n"
	        "\r\n";
	struct hbr_http_head h;

	(void)state;
	assert_int_equal(hbr_http_head_parse(&h, req, strlen(req)), 0);
	assert_string_equal(h.method, "POST");
	assert_string_equal(h.target, "/?Action=X&b=%20");
	assert_int_equal(h.minor, 1);
	assert_true(h.has_length);
	assert_int_equal(h.content_length, 12);
	assert_false(h.chunked);
	assert_true(h.keep_alive);
	assert_true(h.expect_continue);
	assert_string_equal(hbr_kvlist_get(&h.headers, "content-type"),
	                    "application/x-www-form-urlencoded");
	assert_string_equal(hbr_kvlist_get(&h.headers, "x-acs-action"),
	                    "DescribeVaults");
	hbr_http_head_release(&h);
}

static void test_keep_alive_by_version_and_connection(void **state)
{
	static const struct {
		const char *req;
		bool keep;
	} cases[] = {
		{ "GET / HTTP/1.1\r\n\r\n", true },
		{ "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nConnection: TE, Close\r\n\r\n", false },
		{ "GET / HTTP/1.0\r\n\r\n", false },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true },
	};
	struct hbr_http_head h;

	(void)state;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(cases); i++) {
		assert_int_equal(hbr_http_head_parse(&h, cases[i].req,
		                                     strlen(cases[i].req)),
		                 0);
		assert_int_equal(h.keep_alive, cases[i].keep);
		hbr_http_head_release(&h);
	}
}

static void test_bad_heads_are_refused(void **state)
{
	static const char *const bad[] = {
		"GET\r\n\r\n",
		"GET  / HTTP/1.1\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"GET / HTTP/1.1 \r\n\r\n",
		"G(T / HTTP/1.1\r\n\r\n",
		"GET /a\x01 HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nNo-Colon\r\n\r\n",
		"GET / HTTP/1.1\r\nSpace : x\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
		"Transfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
		"Content-Length: 3\r\n\r\n",
	};
	struct hbr_http_head h;

	(void)state;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(bad); i++) {
		int r = hbr_http_head_parse(&h, bad[i], strlen(bad[i]));
		if (r != HBR_EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(strstr(hbr_error_msg(), "malformed HTTP"));
	}
	/* the same Content-Length twice is one length */
	assert_int_equal(
	        hbr_http_head_parse(&h,
	                            "POST / HTTP/1.1\r\nContent-Length: 2\r\n"
	                            "Content-Length: 2\r\n\r\n",
	                            57),
	        0);
	assert_int_equal(h.content_length, 2);
	hbr_http_head_release(&h);
}

/* Feed all at once, then one byte at a time: the same body, the same
 * number of bytes used, and what follows the body left alone. */
static void decode(const char *in, const char *want_body, size_t want_used)
{
	struct hbr_http_chunked c;
	struct hbr_buf body = HBR_BUF_INIT;
	size_t used = 0, total = 0;
	int r = 0;

	hbr_http_chunked_init(&c);
	assert_int_equal(
	        hbr_http_chunked_feed(&c, &body, in, strlen(in), &used), 1);
	assert_int_equal(used, want_used);
	assert_string_equal(hbr_buf_cstr(&body), want_body);
	hbr_buf_release(&body);

	hbr_http_chunked_init(&c);
	for (size_t i = 0; i < strlen(in) && r == 0; i++) {
		r = hbr_http_chunked_feed(&c, &body, in + i, 1, &used);
		total += used;
	}
	assert_int_equal(r, 1);
	assert_int_equal(total, want_used);
	assert_string_equal(hbr_buf_cstr(&body), want_body);
	hbr_buf_release(&body);
}

static void test_chunked_bodies(void **state)
{
	(void)state;
	decode("5\r\nhello\r\n0\r\n\r\nNEXT", "hello", 15);
	decode("3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n",
	       "abc0123456789", 34);
	decode("0\r\nTrailer: x\r\nOther: y\r\n\r\nGET", "", 27);
	decode("2\nab\n0\n\n", "ab", 8);
	decode("a \r\n0123456789\r\n0\r\n\r\n", "0123456789", 21);
}

static void test_chunked_errors(void **state)
{
	static const char *const bad[] = {
		"\r\n", /* no size */
		"x\r\n", /* not hex */
		"3\r\nabcX", /* data not followed by CRLF */
		"11111111111111111\r\n", /* size overflow */
	};
	struct hbr_http_chunked c;
	struct hbr_buf body = HBR_BUF_INIT, capped;
	size_t used;

	(void)state;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(bad); i++) {
		hbr_http_chunked_init(&c);
		assert_int_equal(hbr_http_chunked_feed(&c, &body, bad[i],
		                                       strlen(bad[i]), &used),
		                 HBR_EINVAL);
		hbr_buf_clear(&body);
	}
	hbr_buf_release(&body);
	/* past the body's cap, at the size line, before any data */
	hbr_buf_init(&capped, 8);
	hbr_http_chunked_init(&c);
	assert_int_equal(hbr_http_chunked_feed(
	                         &c, &capped, "5\r\nhello\r\n4\r\n", 13, &used),
	                 HBR_ETOOBIG);
	assert_int_equal(capped.len, 5);
	hbr_buf_release(&capped);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head_len_needs_the_blank_line),
		cmocka_unit_test(test_head_parse_fields),
		cmocka_unit_test(test_keep_alive_by_version_and_connection),
		cmocka_unit_test(test_bad_heads_are_refused),
		cmocka_unit_test(test_chunked_bodies),
		cmocka_unit_test(test_chunked_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
