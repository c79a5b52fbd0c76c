/* Crash injection (crashpoint.h). */
#include "common.h"
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>
#include "util/crashpoint.h"
#include "util/log.h"

static atomic_long target = -1; /* -1: not read yet, 0: off */
static atomic_long calls;

void hbr_crashpoint(const char *where)
{
	long t = atomic_load_explicit(&target, memory_order_relaxed);

	if (t < 0) {
		const char *env = getenv("HBR_CRASH_AT");
		t = env ? strtol(env, NULL, 10) : 0;
		if (t < 0)
			t = 0;
		atomic_store(&target, t);
	}
	if (t == 0)
		return;
	if (atomic_fetch_add(&calls, 1) + 1 == t) {
		hbr_log_warn("crashpoint %ld: %s: killing the process", t,
		             where);
		kill(getpid(), SIGKILL);
	}
}
