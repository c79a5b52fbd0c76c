/* Parsing of plan schedules, ISO 8601 durations and speed limits. */
#include "common.h"
#include <errno.h>
#include "core/schedule.h"
#include "util/error.h"

static int number(int64_t *out, const char **p)
{
	char *end;
	long long v;

	if (**p < '0' || **p > '9')
		return -1;
	errno = 0;
	v = strtoll(*p, &end, 10);
	if (errno || v > (int64_t)1 << 40)
		return -1;
	*out = v;
	*p = end;
	return 0;
}

int hbr_duration_parse(int64_t *seconds_out, const char *s)
{
	const char *p = s;
	int64_t total = 0, n, unit;
	bool time_part = false, any = false, after_t = false;

	if (*p++ != 'P')
		goto bad;
	while (*p) {
		if (*p == 'T') {
			if (time_part)
				goto bad;
			time_part = true;
			p++;
			continue;
		}
		if (number(&n, &p) < 0)
			goto bad;
		switch (*p) {
		case 'W':
			unit = 7 * 86400;
			break;
		case 'D':
			unit = 86400;
			break;
		case 'H':
			unit = 3600;
			break;
		case 'M':
			if (!time_part)
				return hbr_error_set(
				        HBR_EINVAL,
				        "months have no fixed"
				        " length; use days in '%s'",
				        s);
			unit = 60;
			break;
		case 'S':
			unit = 1;
			break;
		case 'Y':
			return hbr_error_set(HBR_EINVAL,
			                     "years have no fixed length; use"
			                     " days in '%s'",
			                     s);
		default:
			goto bad;
		}
		/* W and D belong before T, H M S after it. */
		if ((unit >= 86400) == time_part)
			goto bad;
		/* n <= 2^40, so n * unit cannot overflow; the sum can. */
		if (n * unit > INT64_MAX / 4 - total)
			goto bad;
		total += n * unit;
		after_t |= time_part;
		p++;
		any = true;
	}
	/* "P1DT": a T must be followed by a time component. */
	if (!any || total <= 0 || (time_part && !after_t))
		goto bad;
	*seconds_out = total;
	return 0;
bad:
	return hbr_error_set(HBR_EINVAL,
	                     "'%s' is not an ISO 8601 duration such as PT1H,"
	                     " P1D or P1W",
	                     s);
}

int hbr_schedule_parse(struct hbr_schedule *out, const char *s)
{
	const char *p = s;
	struct hbr_schedule sch;

	if (strncmp(p, "I|", 2))
		goto bad;
	p += 2;
	if (number(&sch.start, &p) < 0 || *p != '|')
		goto bad;
	p++;
	if (hbr_duration_parse(&sch.interval, p) < 0)
		return HBR_EINVAL;
	*out = sch;
	return 0;
bad:
	return hbr_error_set(HBR_EINVAL,
	                     "schedule '%.128s' is not I|<unix start"
	                     " seconds>|<ISO 8601 duration>",
	                     s);
}

int hbr_speed_limit_validate(const char *s)
{
	bool hours[24] = { false };
	const char *p = s;

	for (;;) {
		int64_t a, b, kbps;
		if (number(&a, &p) < 0 || *p++ != ':' || number(&b, &p) < 0 ||
		    *p++ != ':' || number(&kbps, &p) < 0)
			goto bad;
		if (a < 0 || b > 24 || a >= b || kbps <= 0)
			goto bad;
		for (int64_t h = a; h < b; h++) {
			if (hours[h])
				return hbr_error_set(HBR_EINVAL,
				                     "speed limit '%.128s' has"
				                     " overlapping hours",
				                     s);
			hours[h] = true;
		}
		if (*p == '\0')
			return 0;
		if (*p++ != '|')
			goto bad;
	}
bad:
	return hbr_error_set(HBR_EINVAL,
	                     "speed limit '%.128s' is not <start hour>:<end"
	                     " hour>:<KB/s>[|...] with 0 <= start < end <= 24",
	                     s);
}
