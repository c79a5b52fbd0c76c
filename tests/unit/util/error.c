/* The thread-local error: code, message, parameter, truncation. */
#include "common.h"
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "util/alloc.h"
#include "util/error.h"

#define MSG_CAP   2048 /* error.c's buffers, including the NUL */
#define PARAM_CAP 128

static void test_set_returns_code_and_formats(void **state)
{
	(void)state;
	assert_int_equal(hbr_error_set(HBR_ENOVAULT, "vault %s: %d", "v-1", 7),
	                 HBR_ENOVAULT);
	assert_string_equal(hbr_error_msg(), "vault v-1: 7");
	assert_string_equal(hbr_error_param(), "");
}

static void test_set_param_records_the_parameter(void **state)
{
	(void)state;
	assert_int_equal(hbr_error_set_param(HBR_EMISSING, "ClientIds",
	                                     "%s is mandatory", "ClientIds"),
	                 HBR_EMISSING);
	assert_string_equal(hbr_error_msg(), "ClientIds is mandatory");
	assert_string_equal(hbr_error_param(), "ClientIds");

	/* a plain set forgets the previous parameter */
	(void)hbr_error_set(HBR_EIO, "disk");
	assert_string_equal(hbr_error_param(), "");
	assert_string_equal(hbr_error_msg(), "disk");
}

static void test_set_os_appends_strerror(void **state)
{
	char want[256];

	(void)state;
	(void)hbr_error_set_param(HBR_EINVAL, "X", "stale");
	errno = ENOENT;
	assert_int_equal(hbr_error_set_os(HBR_EIO, "open '%s'", "/nope"),
	                 HBR_EIO);
	snprintf(want, sizeof(want), "open '/nope': %s", strerror(ENOENT));
	assert_string_equal(hbr_error_msg(), want);
	assert_string_equal(hbr_error_param(), "");
}

static void test_clear_empties_both(void **state)
{
	(void)state;
	(void)hbr_error_set_param(HBR_EINVAL, "PageSize", "bad");
	hbr_error_clear();
	assert_string_equal(hbr_error_msg(), "");
	assert_string_equal(hbr_error_param(), "");
}

static char *repeat(char c, size_t n)
{
	char *s = hbr_malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void test_long_message_is_truncated_safely(void **state)
{
	char *big = repeat('m', 5000);

	(void)state;
	(void)hbr_error_set(HBR_ERROR, "<%s>", big);
	assert_int_equal(strlen(hbr_error_msg()), MSG_CAP - 1);
	assert_int_equal(hbr_error_msg()[0], '<');
	assert_int_equal(hbr_error_msg()[MSG_CAP - 2], 'm');

	/* set_os on a full buffer must not write past it either */
	errno = EACCES;
	(void)hbr_error_set_os(HBR_EIO, "%s", big);
	assert_int_equal(strlen(hbr_error_msg()), MSG_CAP - 1);

	/* one byte short of full: the suffix is cut, not overflowed */
	big[MSG_CAP - 3] = '\0';
	errno = EACCES;
	(void)hbr_error_set_os(HBR_EIO, "%s", big);
	assert_int_equal(strlen(hbr_error_msg()), MSG_CAP - 1);
	assert_int_equal(hbr_error_msg()[MSG_CAP - 3], ':');

	/* and a later short message is whole again */
	(void)hbr_error_set(HBR_ERROR, "short");
	assert_string_equal(hbr_error_msg(), "short");
	hbr_free(big);
}

static void test_long_param_is_truncated_safely(void **state)
{
	char *big = repeat('p', 1000);

	(void)state;
	(void)hbr_error_set_param(HBR_EINVAL, big, "bad");
	assert_int_equal(strlen(hbr_error_param()), PARAM_CAP - 1);
	assert_memory_equal(hbr_error_param(), big, PARAM_CAP - 1);
	assert_string_equal(hbr_error_msg(), "bad");
	hbr_free(big);
}

struct peer {
	char msg[64];
	char param[64];
	char seen_before[64];
};

static void *peer_main(void *arg)
{
	struct peer *p = arg;

	/* a fresh thread starts with an empty, non-NULL error */
	snprintf(p->seen_before, sizeof(p->seen_before), "%s", hbr_error_msg());
	(void)hbr_error_set_param(HBR_EINVAL, "Other", "from the peer");
	snprintf(p->msg, sizeof(p->msg), "%s", hbr_error_msg());
	snprintf(p->param, sizeof(p->param), "%s", hbr_error_param());
	return NULL;
}

static void test_errors_are_per_thread(void **state)
{
	struct peer p;
	pthread_t t;

	(void)state;
	(void)hbr_error_set_param(HBR_EMISSING, "Mine", "from main");
	assert_int_equal(pthread_create(&t, NULL, peer_main, &p), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_string_equal(p.seen_before, "");
	assert_string_equal(p.msg, "from the peer");
	assert_string_equal(p.param, "Other");
	assert_string_equal(hbr_error_msg(), "from main");
	assert_string_equal(hbr_error_param(), "Mine");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_returns_code_and_formats),
		cmocka_unit_test(test_set_param_records_the_parameter),
		cmocka_unit_test(test_set_os_appends_strerror),
		cmocka_unit_test(test_clear_empties_both),
		cmocka_unit_test(test_long_message_is_truncated_safely),
		cmocka_unit_test(test_long_param_is_truncated_safely),
		cmocka_unit_test(test_errors_are_per_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
