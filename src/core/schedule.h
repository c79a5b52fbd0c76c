/*
 * Plan schedules "I|<unix start>|<ISO 8601 duration>" (hbr-api.md §4.3)
 * and speed limits "<start hour>:<end hour>:<KB/s>[|...]".
 */
#ifndef HBR_CORE_SCHEDULE_H
#define HBR_CORE_SCHEDULE_H

#include "common.h"

struct hbr_schedule {
	int64_t start; /* UNIX seconds */
	int64_t interval; /* seconds, > 0 */
};

/* Durations: PnW, PnD, PTnH, PTnM, PTnS and combinations (P1DT12H).
 * Years and months have no fixed length and are refused. HBR_EINVAL
 * with a message saying what is wrong. */
int hbr_schedule_parse(struct hbr_schedule *out, const char *s);
int hbr_duration_parse(int64_t *seconds_out, const char *s);

/* Validate "h:h:kbps(|h:h:kbps)*" with 0 <= start < end <= 24 and no
 * overlapping ranges. */
int hbr_speed_limit_validate(const char *s);

#endif
