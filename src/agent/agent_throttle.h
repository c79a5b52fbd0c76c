/*
 * A job's SpeedLimit, "<start hour>:<end hour>:<KB/s>[|...]" (validated
 * by core/schedule.c): the upload rate allowed in each local hour. The
 * uploader applies it per pack (libcurl paces the transfer) and sizes
 * packs so that one pack takes seconds, not minutes, at the limit.
 */
#ifndef HBR_AGENT_THROTTLE_H
#define HBR_AGENT_THROTTLE_H

#include "common.h"

struct hbr_agent_speed {
	uint64_t bytes_per_s[24]; /* by local hour; 0 = unlimited */
	bool limited; /* some hour has a limit */
};

/* NULL or "" = no limit. HBR_EINVAL (param SpeedLimit) otherwise when
 * malformed. */
int hbr_agent_speed_parse(struct hbr_agent_speed *out, const char *s);
/* The limit in bytes/s for local hour 0-23 (0 = unlimited). */
uint64_t hbr_agent_speed_at(const struct hbr_agent_speed *sp, int hour);
/* The limit now (local time). */
uint64_t hbr_agent_speed_now(const struct hbr_agent_speed *sp);
/* The lowest limit of any hour (0 when there is none). */
uint64_t hbr_agent_speed_min(const struct hbr_agent_speed *sp);

#endif
