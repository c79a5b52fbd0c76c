/* api_error.h: HBR_E* -> (HTTP status, Alibaba Code). */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "api/api_error.h"
#include "util/error.h"

/* The table of src/api/api_error.c, restated independently. */
static const struct {
	int error;
	int status;
	const char *code;
} expected[] = {
	{ HBR_ERROR, 500, "InternalError" },
	{ HBR_EINVAL, 400, "InvalidParameter" },
	{ HBR_EMISSING, 400, "MissingParameter" },
	{ HBR_ENOTFOUND, 404, "ResourceNotFound" },
	{ HBR_ENOCLIENT, 404, "ClientNotExist" },
	{ HBR_ENOVAULT, 404, "VaultNotExist" },
	{ HBR_ENOPLAN, 404, "BackupPlanNotExist" },
	{ HBR_ENOJOB, 404, "JobNotExist" },
	{ HBR_ENOTASK, 404, "TaskNotFound" },
	{ HBR_ENOSNAPSHOT, 404, "SnapshotNotExist" },
	{ HBR_EDENIED, 403, "Forbidden.RAM" },
	{ HBR_ESIGNATURE, 400, "SignatureDoesNotMatch" },
	{ HBR_ESIGINCOMPLETE, 400, "IncompleteSignature" },
	{ HBR_EKEYNOTFOUND, 404, "InvalidAccessKeyId.NotFound" },
	{ HBR_EKEYINACTIVE, 400, "InvalidAccessKeyId.Inactive" },
	{ HBR_ETSEXPIRED, 400, "InvalidTimeStamp.Expired" },
	{ HBR_ETSFORMAT, 400, "InvalidTimeStamp.Format" },
	{ HBR_ENONCEUSED, 400, "SignatureNonceUsed" },
	{ HBR_EVERSION, 400, "InvalidVersion" },
	{ HBR_EACTION, 404, "InvalidAction.NotFound" },
	{ HBR_ETOOBIG, 413, "RequestEntityTooLarge" },
	{ HBR_ECONFLICT, 409, "OperationConflict" },
	{ HBR_EEXISTS, 409, "ResourceAlreadyExists" },
	{ HBR_EIO, 500, "InternalError" },
	{ HBR_EUNAVAIL, 503, "ServiceUnavailable" },
	{ HBR_EMETHOD, 400, "UnsupportedHTTPMethod" },
	{ HBR_ECORRUPT, 500, "InternalError" },
	{ HBR_ESIGMETHOD, 400, "InvalidSignatureMethod" },
	{ HBR_ENORESTORE, 404, "RestoreJobNotExist" },
	{ HBR_ENOCHUNK, 404, "ChunkNotExist" },
};

/* Every HBR_E* code (HBR_ERROR = -1 down to HBR_ENOCHUNK = -30) maps
 * to the status and Code of the table; none falls through to the
 * default. */
static void test_every_code_maps(void **state)
{
	(void)state;
	for (int e = HBR_ERROR; e >= HBR_ENOCHUNK; e--) {
		char code[64] = "unset";
		size_t i = 0;
		int status;

		while (i < HBR_ARRAY_SIZE(expected) && expected[i].error != e)
			i++;
		if (i == HBR_ARRAY_SIZE(expected))
			fail_msg("no expectation for error %d", e);
		status = hbr_api_error_code(code, sizeof(code), e, NULL);
		if (status != expected[i].status ||
		    strcmp(code, expected[i].code))
			fail_msg("error %d -> %d %s, want %d %s", e, status,
			         code, expected[i].status, expected[i].code);
	}
}

static void test_parameter_errors_are_named_after_the_parameter(void **state)
{
	char code[64];

	(void)state;
	assert_int_equal(hbr_api_error_code(code, sizeof(code), HBR_EMISSING,
	                                    "ClientIds"),
	                 400);
	assert_string_equal(code, "MissingClientIds");
	assert_int_equal(
	        hbr_api_error_code(code, sizeof(code), HBR_EINVAL, "PageSize"),
	        400);
	assert_string_equal(code, "InvalidPageSize");
	assert_int_equal(
	        hbr_api_error_code(code, sizeof(code), HBR_EINVAL, "Filters"),
	        400);
	assert_string_equal(code, "InvalidFilters");

	/* no parameter: the generic codes */
	assert_int_equal(hbr_api_error_code(code, sizeof(code), HBR_EINVAL, ""),
	                 400);
	assert_string_equal(code, "InvalidParameter");
	assert_int_equal(
	        hbr_api_error_code(code, sizeof(code), HBR_EMISSING, NULL),
	        400);
	assert_string_equal(code, "MissingParameter");
}

static void test_param_is_ignored_for_other_errors(void **state)
{
	char code[64];

	(void)state;
	assert_int_equal(hbr_api_error_code(code, sizeof(code), HBR_ENOCLIENT,
	                                    "ClientIds"),
	                 404);
	assert_string_equal(code, "ClientNotExist");
	assert_int_equal(
	        hbr_api_error_code(code, sizeof(code), HBR_ETOOBIG, "Body"),
	        413);
	assert_string_equal(code, "RequestEntityTooLarge");
}

static void test_works_with_hbr_error_param(void **state)
{
	char code[64];
	int error;

	(void)state;
	error = hbr_error_set_param(HBR_EMISSING, "VaultId", "missing");
	assert_int_equal(hbr_api_error_code(code, sizeof(code), error,
	                                    hbr_error_param()),
	                 400);
	assert_string_equal(code, "MissingVaultId");
	error = hbr_error_set(HBR_EINVAL, "no param this time");
	assert_int_equal(hbr_api_error_code(code, sizeof(code), error,
	                                    hbr_error_param()),
	                 400);
	assert_string_equal(code, "InvalidParameter");
}

static void test_unknown_codes_are_internal_errors(void **state)
{
	static const int unknown[] = { 0, 1, -31, -1000, 400 };

	(void)state;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(unknown); i++) {
		char code[64] = "unset";
		assert_int_equal(
		        hbr_api_error_code(code, sizeof(code), unknown[i], "X"),
		        500);
		assert_string_equal(code, "InternalError");
	}
}

static void test_small_buffer_is_truncated_not_overflowed(void **state)
{
	char code[16];

	(void)state;
	memset(code, '#', sizeof(code));
	assert_int_equal(hbr_api_error_code(code, 8, HBR_EINVAL,
	                                    "AVeryLongParameterName"),
	                 400);
	assert_string_equal(code, "Invalid"); /* 7 bytes + NUL */
	assert_int_equal(code[8], '#');

	memset(code, '#', sizeof(code));
	assert_int_equal(hbr_api_error_code(code, 5, HBR_EKEYNOTFOUND, NULL),
	                 404);
	assert_string_equal(code, "Inva");
	assert_int_equal(code[5], '#');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_code_maps),
		cmocka_unit_test(
		        test_parameter_errors_are_named_after_the_parameter),
		cmocka_unit_test(test_param_is_ignored_for_other_errors),
		cmocka_unit_test(test_works_with_hbr_error_param),
		cmocka_unit_test(test_unknown_codes_are_internal_errors),
		cmocka_unit_test(test_small_buffer_is_truncated_not_overflowed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
