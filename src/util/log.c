/* Whole-line logging to stderr; one write per line so threads don't mix. */
#include "common.h"
#include <stdarg.h>
#include <unistd.h>
#include "util/log.h"
#include "util/timeutil.h"

static enum hbr_log_level min_level = HBR_LOG_INFO;
static const char *prog = "hbrd";

void hbr_log_set_level(enum hbr_log_level level)
{
	min_level = level;
}

void hbr_log_set_name(const char *name)
{
	prog = name;
}

void hbr_log(enum hbr_log_level level, const char *fmt, ...)
{
	static const char *names[] = { "debug", "info", "warn", "error" };
	char line[4096], ts[32];
	va_list ap;
	int n;

	if (level < min_level)
		return;
	hbr_time_format_iso8601(ts, sizeof(ts), hbr_time_now());
	n = snprintf(line, sizeof(line), "%s %s %s: ", ts, prog, names[level]);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* stderr logging is best effort: nothing to do if it fails. */
	(void)!write(2, line, (size_t)n);
}
