/*
 * Wall-clock time. All API times are UNIX seconds; the clock can be
 * offset for tests (hbrd --clock-file, docs/SCHEDULER.md) so that expiry
 * and schedules are tested without waiting.
 */
#ifndef HBR_UTIL_TIMEUTIL_H
#define HBR_UTIL_TIMEUTIL_H

#include "common.h"

int64_t hbr_time_now(void); /* UNIX seconds, offset applied */
/* UNIX seconds without the offset: what a client's clock says, for
 * request signatures and their nonces (a test moving hbrd's clock by
 * days still talks to real clients). */
int64_t hbr_time_real(void);
int64_t hbr_time_now_ms(void); /* UNIX milliseconds, offset applied */
uint64_t hbr_time_mono_ns(void); /* monotonic, for durations only */
void hbr_time_set_offset(int64_t seconds);

/* Parse "YYYY-MM-DDThh:mm:ssZ" (optionally with .fraction before Z) into
 * UNIX seconds. Returns HBR_EINVAL if s is not exactly that shape. */
int hbr_time_parse_iso8601(int64_t *out, const char *s);
/* Format as "YYYY-MM-DDThh:mm:ssZ" into out (>= 21 bytes). */
void hbr_time_format_iso8601(char *out, size_t size, int64_t t);

#endif
