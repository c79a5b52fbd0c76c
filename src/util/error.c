/* Thread-local error message storage behind util/error.h. */
#include "common.h"
#include <errno.h>
#include <stdarg.h>
#include "util/error.h"

#define MSG_MAX   2048
#define PARAM_MAX 128

static _Thread_local char msg[MSG_MAX];
static _Thread_local char param[PARAM_MAX];

__attribute__((format(printf, 1, 0))) static void vset(const char *fmt,
                                                       va_list ap)
{
	char tmp[MSG_MAX];

	/* Format into a copy first: callers may pass hbr_error_msg() itself
	 * to re-attribute an error to a parameter. A truncated message is
	 * still a useful message. */
	(void)vsnprintf(tmp, sizeof(tmp), fmt, ap);
	memcpy(msg, tmp, sizeof(msg));
}

int hbr_error_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(fmt, ap);
	va_end(ap);
	param[0] = '\0';
	return code;
}

int hbr_error_set_param(int code, const char *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(fmt, ap);
	va_end(ap);
	(void)snprintf(param, sizeof(param), "%s", p);
	return code;
}

int hbr_error_set_os(int code, const char *fmt, ...)
{
	int saved = errno;
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	vset(fmt, ap);
	va_end(ap);
	len = strlen(msg);
	(void)snprintf(msg + len, sizeof(msg) - len, ": %s", strerror(saved));
	param[0] = '\0';
	return code;
}

const char *hbr_error_msg(void)
{
	return msg;
}

const char *hbr_error_param(void)
{
	return param;
}

void hbr_error_clear(void)
{
	msg[0] = '\0';
	param[0] = '\0';
}
