/*
 * First include of every .c file: feature macros, the standard headers
 * almost every file needs, and the assert macro. Kept tiny on purpose (no
 * god header): anything module-specific lives in that module's header.
 */
#ifndef HBR_COMMON_H
#define HBR_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* getrandom, memmem, strcasestr, pipe2 */
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Programming errors abort in every build; they are never error codes. */
#define HBR_ASSERT(cond)                                            \
	do {                                                        \
		if (!(cond))                                        \
			hbr_assert_fail(#cond, __FILE__, __LINE__); \
	} while (0)

_Noreturn void hbr_assert_fail(const char *expr, const char *file, int line);

#define HBR_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
