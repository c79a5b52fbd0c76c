/* SpeedLimit: KB/s by local hour (agent_throttle.h). */
#include "common.h"
#include <time.h>
#include "agent/agent_throttle.h"
#include "core/schedule.h"
#include "util/error.h"

int hbr_agent_speed_parse(struct hbr_agent_speed *out, const char *s)
{
	struct hbr_agent_speed sp = { { 0 }, false };
	const char *p = s;

	if (!s || !s[0]) {
		*out = sp;
		return 0;
	}
	if (hbr_speed_limit_validate(s) < 0)
		return hbr_error_set_param(HBR_EINVAL, "SpeedLimit", "%s",
		                           hbr_error_msg());
	/* Validated: every rule is three decimal numbers. */
	while (*p) {
		char *end;
		unsigned long a = strtoul(p, &end, 10);
		unsigned long b = strtoul(end + 1, &end, 10);
		unsigned long long kbps = strtoull(end + 1, &end, 10);

		for (unsigned long h = a; h < b && h < 24; h++)
			sp.bytes_per_s[h] = kbps > UINT64_MAX / 1024 ?
			                            UINT64_MAX :
			                            (uint64_t)kbps * 1024;
		sp.limited = true;
		p = *end == '|' ? end + 1 : end;
	}
	*out = sp;
	return 0;
}

uint64_t hbr_agent_speed_at(const struct hbr_agent_speed *sp, int hour)
{
	if (hour < 0 || hour > 23)
		return 0;
	return sp->bytes_per_s[hour];
}

uint64_t hbr_agent_speed_now(const struct hbr_agent_speed *sp)
{
	time_t now = time(NULL);
	struct tm tm;

	if (!sp->limited || !localtime_r(&now, &tm))
		return 0;
	return hbr_agent_speed_at(sp, tm.tm_hour);
}

uint64_t hbr_agent_speed_min(const struct hbr_agent_speed *sp)
{
	uint64_t min = 0;

	for (int h = 0; h < 24; h++)
		if (sp->bytes_per_s[h] && (!min || sp->bytes_per_s[h] < min))
			min = sp->bytes_per_s[h];
	return min;
}
