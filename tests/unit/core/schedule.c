/* Plan schedules, ISO 8601 durations and speed limits. */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "core/schedule.h"
#include "util/error.h"

#define MINUTE 60
#define HOUR   3600
#define DAY    86400
#define WEEK   (7 * DAY)

static void assert_duration(const char *s, int64_t want)
{
	int64_t got = -1;
	int rc = hbr_duration_parse(&got, s);

	if (rc != 0)
		fail_msg("'%s' refused: %s", s, hbr_error_msg());
	if (got != want)
		fail_msg("'%s' = %lld, want %lld", s, (long long)got,
		         (long long)want);
}

/* Refused with HBR_EINVAL, output untouched, message quoting s. */
static void assert_bad_duration(const char *s)
{
	int64_t got = 777;
	int rc = hbr_duration_parse(&got, s);

	if (rc != HBR_EINVAL)
		fail_msg("'%s' accepted (rc %d) as %lld", s, rc,
		         (long long)got);
	assert_int_equal(got, 777);
	assert_non_null(strstr(hbr_error_msg(), s));
}

static void test_schedule_documented_example(void **state)
{
	struct hbr_schedule sch = { 0, 0 };

	(void)state;
	assert_int_equal(hbr_schedule_parse(&sch, "I|1602673264|PT2H"), 0);
	assert_int_equal(sch.start, 1602673264);
	assert_int_equal(sch.interval, 7200);

	assert_int_equal(hbr_schedule_parse(&sch, "I|1631685600|P1D"), 0);
	assert_int_equal(sch.start, 1631685600);
	assert_int_equal(sch.interval, DAY);

	assert_int_equal(hbr_schedule_parse(&sch, "I|0|PT1M"), 0);
	assert_int_equal(sch.start, 0);
	assert_int_equal(sch.interval, MINUTE);
}

static void test_schedule_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"I",
		"I|",
		"I||PT1H",
		"I|1602673264",
		"I|1602673264|",
		"I|1602673264PT1H",
		"X|1602673264|PT1H",
		"i|1602673264|PT1H",
		"|1602673264|PT1H",
		"I|-1602673264|PT1H",
		"I|+1602673264|PT1H",
		"I| 1602673264|PT1H",
		"I|16026x73264|PT1H",
		"I|1602673264|PT1H|",
		"I|1602673264|1H",
		"I|1602673264|P1M",
		"I|1602673264|P1Y",
		"I|99999999999999999999999|PT1H",
		"I|1602673264|PT1H ",
	};

	(void)state;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(bad); i++) {
		struct hbr_schedule sch = { 5, 6 };
		int rc = hbr_schedule_parse(&sch, bad[i]);
		if (rc != HBR_EINVAL)
			fail_msg("'%s' accepted (rc %d)", bad[i], rc);
		assert_int_equal(sch.start, 5);
		assert_int_equal(sch.interval, 6);
		assert_true(hbr_error_msg()[0] != '\0');
	}
}

static void test_durations(void **state)
{
	(void)state;
	assert_duration("PT2H", 2 * HOUR);
	assert_duration("PT1M", MINUTE);
	assert_duration("PT30S", 30);
	assert_duration("P1D", DAY);
	assert_duration("P1W", WEEK);
	assert_duration("P2W", 2 * WEEK);
	assert_duration("P1DT12H", DAY + 12 * HOUR);
	assert_duration("PT1H30M", HOUR + 30 * MINUTE);
	assert_duration("P1DT1H1M1S", DAY + HOUR + MINUTE + 1);
	assert_duration("PT0H1M", MINUTE); /* a zero part is fine */
	assert_duration("P365D", 365 * DAY);
	assert_duration("PT86400S", DAY);
}

static void test_years_and_months_are_refused(void **state)
{
	(void)state;
	assert_bad_duration("P1Y");
	assert_non_null(strstr(hbr_error_msg(), "year"));
	assert_bad_duration("P1M");
	assert_non_null(strstr(hbr_error_msg(), "month"));
	assert_bad_duration("P1Y2M3D");
	assert_bad_duration("P2MT1H");
}

static void test_malformed_durations(void **state)
{
	static const char *const bad[] = {
		"",
		"P",
		"PT",
		"T1H",
		"1H",
		"p1d",
		"P1d",
		"pt1h",
		/* designators on the wrong side of T */
		"P1H",
		"P1S",
		"PT1D",
		"PT1W",
		/* zero, negative, fractional, signs, spaces */
		"P0D",
		"PT0S",
		"PT0H0M",
		"P-1D",
		"PT-1H",
		"P+1D",
		"P1.5D",
		"PT1,5H",
		"P 1D",
		"PT1H ",
		" PT1H",
		/* missing numbers or designators, garbage */
		"PD",
		"PTH",
		"P1",
		"PT1",
		"P1DT1",
		"PTT1H",
		"PT1HT1M",
		"PXD",
		"P1X",
		"hourly",
		"P1D;",
		"P1DT12Hx",
		/* a number too large to be a sane interval */
		"PT99999999999999999999S",
	};

	(void)state;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(bad); i++)
		assert_bad_duration(bad[i]);
}

/*
 * "P1DT" (a T with no time part after
 * it) is accepted as one day; ISO 8601 requires at least one time
 * element after T.
 */
static void test_dangling_t_is_refused(void **state)
{
	(void)state;
	assert_bad_duration("P1DT");
	assert_bad_duration("P1WT");
}

/*
 * each part is capped at 2^40
 * but the sum is not, so repeated parts overflow int64_t `total` (signed
 * overflow, undefined behaviour; UBSan aborts). A Schedule of 256
 * characters (the API's limit) is enough.
 */
static void test_huge_sum_is_refused_not_overflowed(void **state)
{
	char s[256] = "P";

	(void)state;
	for (int i = 0; i < 16; i++)
		strcat(s, "1099511627776W");
	assert_bad_duration(s);
}

static void test_speed_limit_valid(void **state)
{
	static const char *const good[] = {
		"0:24:5120",
		"0:8:100|8:24:200",
		"8:24:200|0:8:100", /* order does not matter */
		"0:1:1",
		"23:24:1",
		"1:2:10|3:4:10|22:23:99999",
	};

	(void)state;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(good); i++)
		if (hbr_speed_limit_validate(good[i]) != 0)
			fail_msg("'%s' refused: %s", good[i], hbr_error_msg());
}

static void test_speed_limit_invalid(void **state)
{
	static const char *const bad[] = {
		"",
		/* overlapping */
		"0:8:100|7:24:200",
		"0:24:1|0:24:1",
		"2:5:1|3:4:1",
		/* start >= end */
		"8:8:100",
		"9:8:100",
		/* past 24 */
		"0:25:100",
		"24:25:100",
		/* zero or missing rate */
		"0:24:0",
		"0:24:",
		"0:24",
		/* not numbers, signs, wrong separators, trailing junk */
		"-1:8:100",
		"0:8:-100",
		"a:8:100",
		"0|8|100",
		"0:8:100,8:24:200",
		"0:8:100|",
		"|0:8:100",
		"0:8:100||8:24:200",
		"0:8:100 ",
		"0:8:1.5",
	};

	(void)state;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(bad); i++) {
		int rc = hbr_speed_limit_validate(bad[i]);
		if (rc != HBR_EINVAL)
			fail_msg("'%s' accepted (rc %d)", bad[i], rc);
	}
	(void)hbr_speed_limit_validate("0:8:100|7:24:200");
	assert_non_null(strstr(hbr_error_msg(), "overlap"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schedule_documented_example),
		cmocka_unit_test(test_schedule_malformed),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_years_and_months_are_refused),
		cmocka_unit_test(test_malformed_durations),
		cmocka_unit_test(test_speed_limit_valid),
		cmocka_unit_test(test_speed_limit_invalid),
		cmocka_unit_test(test_dangling_t_is_refused),
		cmocka_unit_test(test_huge_sum_is_refused_not_overflowed),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	return failed;
}
