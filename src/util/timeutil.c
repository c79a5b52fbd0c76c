/* Clock access and ISO 8601 (UTC, seconds) parsing and formatting. */
#include "common.h"
#include <stdatomic.h>
#include <time.h>
#include "util/error.h"
#include "util/timeutil.h"

/* Atomic: the scheduler thread moves it (--clock-file) while request
 * threads read it. */
static _Atomic int64_t offset;

void hbr_time_set_offset(int64_t seconds)
{
	offset = seconds;
}

int64_t hbr_time_now(void)
{
	return (int64_t)time(NULL) + offset;
}

int64_t hbr_time_real(void)
{
	return (int64_t)time(NULL);
}

int64_t hbr_time_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + offset * 1000;
}

uint64_t hbr_time_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int days_in(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30,
		                    31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

int hbr_time_parse_iso8601(int64_t *out, const char *s)
{
	int Y, M, D, h, m, sec;
	struct tm tm = { 0 };
	const char *p = s + 19;

	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':')
		goto bad;
	if (digits(s, 4, &Y) || digits(s + 5, 2, &M) || digits(s + 8, 2, &D) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &m) ||
	    digits(s + 17, 2, &sec))
		goto bad;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			goto bad;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (strcmp(p, "Z") != 0)
		goto bad;
	if (M < 1 || M > 12 || D < 1 || D > days_in(Y, M) || h > 23 || m > 59 ||
	    sec > 60)
		goto bad;
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	*out = (int64_t)timegm(&tm);
	return 0;
bad:
	return hbr_error_set(HBR_EINVAL, "'%s' is not YYYY-MM-DDThh:mm:ssZ", s);
}

void hbr_time_format_iso8601(char *out, size_t size, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	(void)strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
