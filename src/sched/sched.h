/*
 * The scheduler thread (docs/SCHEDULER.md): every tick, while this hbrd
 * holds the store's scheduler lease, queue the backup jobs whose plan
 * schedules are due and apply snapshot retention. All of its state is in
 * the store (store_sched.c), so a restarted or second hbrd carries on
 * where the last tick ended, without repeating a run.
 */
#ifndef HBR_SCHED_SCHED_H
#define HBR_SCHED_SCHED_H

#include "common.h"
#include "store/store.h"

struct hbr_sched_config {
	int64_t tick_ms; /* 0 = 1000 */
	/* A test facility: when set, the clock offset (hbr_time_set_offset)
	 * is re-read from this file, decimal seconds, before every tick. */
	const char *clock_file;
};

struct hbr_sched;

int hbr_sched_start(struct hbr_sched **out, struct hbr_store_pool *pool,
                    const struct hbr_sched_config *cfg);
/* Stop, join and give the lease up; NULL is a no-op. Call before the
 * pool is closed. */
void hbr_sched_stop(struct hbr_sched *s);

/* Set the clock offset from path. A missing file leaves it unchanged
 * (returns 0); content that is not a decimal integer is HBR_EINVAL. */
int hbr_sched_clock_file_apply(const char *path);

#endif
