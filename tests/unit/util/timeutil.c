/* ISO 8601 parsing and formatting, and the test clock offset. */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>
#include "util/error.h"
#include "util/timeutil.h"

static const struct {
	const char *text;
	int64_t t;
} known[] = {
	{ "1970-01-01T00:00:00Z", 0 },
	{ "1999-12-31T23:59:59Z", 946684799 },
	{ "2000-02-29T12:34:56Z", 951827696 }, /* leap day */
	{ "2026-11-27T21:00:00Z", 1795813200 },
	{ "2038-01-19T03:14:08Z", 2147483648 }, /* past INT32_MAX */
	{ "2106-02-07T06:28:16Z", 4294967296 }, /* past UINT32_MAX */
};

static void test_parse_known_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(known); i++) {
		int64_t t = -1;
		assert_int_equal(hbr_time_parse_iso8601(&t, known[i].text), 0);
		assert_int_equal(t, known[i].t);
	}
}

static void test_format_known_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(known); i++) {
		char out[21];
		hbr_time_format_iso8601(out, sizeof(out), known[i].t);
		assert_string_equal(out, known[i].text);
	}
}

static void test_fraction_is_accepted_and_dropped(void **state)
{
	int64_t t = 0;

	(void)state;
	assert_int_equal(hbr_time_parse_iso8601(&t, "2026-11-27T21:00:00.5Z"),
	                 0);
	assert_int_equal(t, 1795813200);
	assert_int_equal(
	        hbr_time_parse_iso8601(&t, "2026-11-27T21:00:00.123456789Z"),
	        0);
	assert_int_equal(t, 1795813200);
}

static void test_round_trip(void **state)
{
	(void)state;
	/* every 1000003 seconds over ~60 years, plus both ends of a day */
	for (int64_t t = 0; t < 1900000000; t += 1000003) {
		char out[32];
		int64_t back = -1;
		hbr_time_format_iso8601(out, sizeof(out), t);
		assert_int_equal(strlen(out), 20);
		assert_int_equal(hbr_time_parse_iso8601(&back, out), 0);
		assert_int_equal(back, t);
	}
	for (int64_t t = 86399; t <= 86400; t++) {
		char out[32];
		int64_t back = -1;
		hbr_time_format_iso8601(out, sizeof(out), t);
		assert_int_equal(hbr_time_parse_iso8601(&back, out), 0);
		assert_int_equal(back, t);
	}
}

static void test_malformed_inputs_are_rejected(void **state)
{
	static const char *const bad[] = {
		"",
		"Z",
		"2026-11-27",
		"2026-11-27T21:00:00",
		"2026-11-27T21:00Z",
		"2026-11-27 21:00:00Z",
		"2026-11-27t21:00:00Z",
		"2026-11-27T21:00:00z",
		"2026-11-27T21:00:00+08:00",
		"2026-11-27T21:00:00.Z",
		"2026-11-27T21:00:00.5",
		"2026-11-27T21:00:00.5xZ",
		"2026-11-27T21:00:00ZZ",
		"2026-11-27T21:00:00Z ",
		" 2026-11-27T21:00:00Z",
		"2026/11/27T21:00:00Z",
		"2026-11-27T21-00-00Z",
		"26-11-27T21:00:00Z",
		"2026-1-27T21:00:00Z",
		"+026-11-27T21:00:00Z",
		"2026-+1-27T21:00:00Z",
		"2026-11-27T2 :00:00Z",
		"abcd-ef-ghTij:kl:mnZ",
		"2026-00-27T21:00:00Z",
		"2026-13-27T21:00:00Z",
		"2026-11-00T21:00:00Z",
		"2026-11-32T21:00:00Z",
		"2026-11-27T24:00:00Z",
		"2026-11-27T21:60:00Z",
		"2026-11-27T21:00:61Z",
		"1795813200",
	};

	(void)state;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(bad); i++) {
		int64_t t = 12345;
		int rc = hbr_time_parse_iso8601(&t, bad[i]);
		if (rc != HBR_EINVAL)
			fail_msg("'%s' was accepted (rc %d, t %lld)", bad[i],
			         rc, (long long)t);
		/* the output is left alone and the message quotes the input */
		assert_int_equal(t, 12345);
		assert_non_null(strstr(hbr_error_msg(), bad[i]));
	}
}

/*
 * the range check allows day 31 in every
 * month and timegm() then normalizes, so "2026-02-30" is accepted as
 * 2026-03-02 and does not round-trip. Disabled until fixed: it runs only
 *.
 */
static void test_impossible_dates_are_rejected(void **state)
{
	static const char *const bad[] = {
		"2026-02-29T00:00:00Z", /* 2026 is not a leap year */
		"2026-02-30T00:00:00Z", "2026-04-31T00:00:00Z",
		"1900-02-29T00:00:00Z", /* century, not a leap year */
	};

	(void)state;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(bad); i++) {
		int64_t t = 12345;
		if (hbr_time_parse_iso8601(&t, bad[i]) != HBR_EINVAL)
			fail_msg("impossible date '%s' was accepted as %lld",
			         bad[i], (long long)t);
	}
}

static void test_leap_days_that_exist_are_accepted(void **state)
{
	int64_t t = 0;

	(void)state;
	assert_int_equal(hbr_time_parse_iso8601(&t, "2024-02-29T00:00:00Z"), 0);
	assert_int_equal(t, 1709164800);
	assert_int_equal(hbr_time_parse_iso8601(&t, "2000-02-29T00:00:00Z"), 0);
	assert_int_equal(t, 951782400);
	assert_int_equal(hbr_time_parse_iso8601(&t, "2026-12-31T23:59:59Z"), 0);
	assert_int_equal(t, 1798761599);
}

static void test_offset_shifts_the_clock(void **state)
{
	time_t before, after;
	int64_t now, ms;

	(void)state;
	hbr_time_set_offset(1000);
	before = time(NULL);
	now = hbr_time_now();
	ms = hbr_time_now_ms();
	after = time(NULL);
	hbr_time_set_offset(0);

	assert_true(now >= (int64_t)before + 1000);
	assert_true(now <= (int64_t)after + 1000);
	/* time() may lag the precise clock by a tick: allow a second */
	assert_true(ms >= ((int64_t)before + 1000) * 1000);
	assert_true(ms < ((int64_t)after + 1002) * 1000);

	before = time(NULL);
	now = hbr_time_now();
	after = time(NULL);
	assert_true(now >= (int64_t)before && now <= (int64_t)after);
}

static void test_monotonic_clock_does_not_go_back(void **state)
{
	uint64_t a, b;

	(void)state;
	a = hbr_time_mono_ns();
	b = hbr_time_mono_ns();
	assert_true(a > 0);
	assert_true(b >= a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_known_values),
		cmocka_unit_test(test_format_known_values),
		cmocka_unit_test(test_fraction_is_accepted_and_dropped),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_malformed_inputs_are_rejected),
		cmocka_unit_test(test_leap_days_that_exist_are_accepted),
		cmocka_unit_test(test_offset_shifts_the_clock),
		cmocka_unit_test(test_monotonic_clock_does_not_go_back),
		cmocka_unit_test(test_impossible_dates_are_rejected),
	};

	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	return failed;
}
