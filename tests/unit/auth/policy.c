/* RAM policy tests: matching, deny precedence, conditions, validation. */
#include "common.h"
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>
#include "auth/policy.h"
#include "util/error.h"

#define ACCT "1234567890"
#define RES  "acs:hbr:*:" ACCT ":*"

/* 2026-01-01T00:00:00Z */
#define T2026 1767225600

static struct hbr_policy *load(const char *json)
{
	struct hbr_policy *p = NULL;

	if (hbr_policy_parse(&p, json, strlen(json)) != 0)
		fail_msg("policy rejected: %s\n%s", hbr_error_msg(), json);
	return p;
}

static struct hbr_policy_ctx ctx_for(const char *action)
{
	return (struct hbr_policy_ctx){
		.action = action,
		.resource = RES,
		.source_ip = "192.168.1.20",
		.secure_transport = true,
		.current_time = T2026,
		.access_key_id = "LTAI-user-key",
	};
}

static enum hbr_policy_decision eval1(const char *json,
                                      const struct hbr_policy_ctx *ctx)
{
	struct hbr_policy *p = load(json);
	enum hbr_policy_decision d = hbr_policy_eval(&p, 1, ctx);

	hbr_policy_free(p);
	return d;
}

/* An Allow statement for `action` with the given extra members. */
static enum hbr_policy_decision allow(const char *action_json,
                                      const char *extra,
                                      const struct hbr_policy_ctx *ctx)
{
	char json[2048];

	snprintf(
	        json, sizeof(json),
	        "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",%s,\"Resource\":\"*\"%s%s}]}",
	        action_json, extra[0] ? "," : "", extra);
	return eval1(json, ctx);
}

static void test_wildcard(void **state)
{
	(void)state;
	assert_true(hbr_policy_wildcard("*", "", false));
	assert_true(hbr_policy_wildcard("a*c", "abbbc", false));
	assert_true(hbr_policy_wildcard("a?c", "abc", false));
	assert_false(hbr_policy_wildcard("a?c", "ac", false));
	assert_true(hbr_policy_wildcard("*b*b*", "abxbx", false));
	assert_false(hbr_policy_wildcard("*b*b*c", "abxbx", false));
	assert_false(hbr_policy_wildcard("abc", "ABC", false));
	assert_true(hbr_policy_wildcard("abc", "ABC", true));
	assert_false(hbr_policy_wildcard("ab", "abc", false));
	assert_false(hbr_policy_wildcard("abc", "ab", false));
	assert_true(hbr_policy_wildcard("a**", "a", false));
}

static void test_actions(void **state)
{
	struct hbr_policy_ctx c = ctx_for("hbr:DescribeBackupClients");
	struct hbr_policy_ctx d = ctx_for("hbr:DeleteBackupClientResource");

	(void)state;
	assert_int_equal(
	        allow("\"Action\":\"hbr:DescribeBackupClients\"", "", &c),
	        HBR_POLICY_ALLOW);
	assert_int_equal(
	        allow("\"Action\":\"hbr:DescribeBackupClients\"", "", &d),
	        HBR_POLICY_IMPLICIT_DENY);
	assert_int_equal(allow("\"Action\":\"hbr:Describe*\"", "", &c),
	                 HBR_POLICY_ALLOW);
	assert_int_equal(allow("\"Action\":\"hbr:Describe*\"", "", &d),
	                 HBR_POLICY_IMPLICIT_DENY);
	assert_int_equal(allow("\"Action\":\"hbr:*\"", "", &d),
	                 HBR_POLICY_ALLOW);
	assert_int_equal(allow("\"Action\":\"*\"", "", &d), HBR_POLICY_ALLOW);
	assert_int_equal(allow("\"Action\":\"ecs:*\"", "", &d),
	                 HBR_POLICY_IMPLICIT_DENY);
	assert_int_equal(
	        allow("\"Action\":\"hbr:DescribeBackupClient?\"", "", &c),
	        HBR_POLICY_ALLOW);
	assert_int_equal(
	        allow("\"Action\":\"hbr:DescribeBackupClient?\"", "", &d),
	        HBR_POLICY_IMPLICIT_DENY);
	assert_int_equal(
	        allow("\"Action\":\"HBR:describebackupclients\"", "", &c),
	        HBR_POLICY_ALLOW);
	assert_int_equal(
	        allow("\"Action\":[\"ecs:*\",\"hbr:Delete*\"]", "", &d),
	        HBR_POLICY_ALLOW);
	/* NotAction: everything but the listed */
	assert_int_equal(allow("\"NotAction\":\"hbr:Delete*\"", "", &c),
	                 HBR_POLICY_ALLOW);
	assert_int_equal(allow("\"NotAction\":[\"hbr:Delete*\"]", "", &d),
	                 HBR_POLICY_IMPLICIT_DENY);
}

static void test_deny_wins(void **state)
{
	struct hbr_policy_ctx c = ctx_for("hbr:DeleteBackupClientResource");
	struct hbr_policy *ps[2];

	(void)state;
	ps[0] = load(
	        "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"hbr:*\",\"Resource\":\"*\"}]}");
	ps[1] = load(
	        "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"hbr:Delete*\",\"Resource\":\"*\"}]}");
	assert_int_equal(hbr_policy_eval(ps, 2, &c), HBR_POLICY_EXPLICIT_DENY);
	/* order does not matter */
	struct hbr_policy *rev[2] = { ps[1], ps[0] };
	assert_int_equal(hbr_policy_eval(rev, 2, &c), HBR_POLICY_EXPLICIT_DENY);
	c.action = "hbr:DescribeVaults";
	assert_int_equal(hbr_policy_eval(ps, 2, &c), HBR_POLICY_ALLOW);
	assert_int_equal(hbr_policy_eval(&ps[1], 1, &c),
	                 HBR_POLICY_IMPLICIT_DENY);
	assert_int_equal(hbr_policy_eval(ps, 0, &c), HBR_POLICY_IMPLICIT_DENY);
	hbr_policy_free(ps[0]);
	hbr_policy_free(ps[1]);

	/* and within one document */
	c.action = "hbr:DeleteVault";
	assert_int_equal(
	        eval1("{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"},{\"Effect\":\"Deny\",\"Action\":\"hbr:DeleteVault\",\"Resource\":\"*\"}]}",
	              &c),
	        HBR_POLICY_EXPLICIT_DENY);
	/* no statement at all */
	assert_int_equal(eval1("{\"Version\":\"1\",\"Statement\":[]}", &c),
	                 HBR_POLICY_IMPLICIT_DENY);
}

static void test_resources(void **state)
{
	struct hbr_policy_ctx c = ctx_for("hbr:DescribeVaults");
	struct hbr_policy_ctx other = c;

	(void)state;
	other.resource = "acs:hbr:*:999:*";
	const char *mine =
	        "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"hbr:*\",\"Resource\":\"acs:hbr:*:" ACCT
	        ":*\"}]}";
	assert_int_equal(eval1(mine, &c), HBR_POLICY_ALLOW);
	assert_int_equal(eval1(mine, &other), HBR_POLICY_IMPLICIT_DENY);
	const char *list =
	        "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"hbr:*\",\"Resource\":[\"acs:ecs:*\",\"acs:hbr:*:999:*\"]}]}";
	assert_int_equal(eval1(list, &other), HBR_POLICY_ALLOW);
	assert_int_equal(eval1(list, &c), HBR_POLICY_IMPLICIT_DENY);
	const char *notres =
	        "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"hbr:*\",\"NotResource\":\"acs:hbr:*:999:*\"}]}";
	assert_int_equal(eval1(notres, &c), HBR_POLICY_ALLOW);
	assert_int_equal(eval1(notres, &other), HBR_POLICY_IMPLICIT_DENY);
	/* resources compare case-sensitively */
	const char *upper =
	        "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"hbr:*\",\"Resource\":\"ACS:HBR:*:" ACCT
	        ":*\"}]}";
	assert_int_equal(eval1(upper, &c), HBR_POLICY_IMPLICIT_DENY);
}

/* One operator/key/value condition, with the ctx of ctx_for(). */
static enum hbr_policy_decision cond(const char *op, const char *key,
                                     const char *vals)
{
	struct hbr_policy_ctx c = ctx_for("hbr:DescribeVaults");
	char extra[512];

	snprintf(extra, sizeof(extra), "\"Condition\":{\"%s\":{\"%s\":%s}}", op,
	         key, vals);
	return allow("\"Action\":\"hbr:*\"", extra, &c);
}

#define YES(op, key, vals) \
	assert_int_equal(cond(op, key, vals), HBR_POLICY_ALLOW)
#define NO(op, key, vals) \
	assert_int_equal(cond(op, key, vals), HBR_POLICY_IMPLICIT_DENY)

static void test_string_conditions(void **state)
{
	(void)state;
	YES("StringEquals", "acs:AccessId", "\"LTAI-user-key\"");
	NO("StringEquals", "acs:AccessId", "\"ltai-user-key\"");
	YES("StringNotEquals", "acs:AccessId", "\"other\"");
	NO("StringNotEquals", "acs:AccessId", "\"LTAI-user-key\"");
	YES("StringEqualsIgnoreCase", "acs:AccessId", "\"ltai-USER-key\"");
	NO("StringEqualsIgnoreCase", "acs:AccessId", "\"ltai-user\"");
	YES("StringNotEqualsIgnoreCase", "acs:AccessId", "\"ltai-user\"");
	NO("StringNotEqualsIgnoreCase", "acs:AccessId", "\"ltai-USER-key\"");
	YES("StringLike", "acs:AccessId", "\"LTAI-*-k?y\"");
	NO("StringLike", "acs:AccessId", "\"LTAI-*-x\"");
	YES("StringNotLike", "acs:AccessId", "\"X*\"");
	NO("StringNotLike", "acs:AccessId", "\"LTAI*\"");
	/* key names match case-insensitively */
	YES("StringEquals", "ACS:accessid", "\"LTAI-user-key\"");
	/* several values are ORed; negated: none may match */
	YES("StringEquals", "acs:AccessId", "[\"a\",\"LTAI-user-key\"]");
	NO("StringEquals", "acs:AccessId", "[\"a\",\"b\"]");
	NO("StringNotEquals", "acs:AccessId", "[\"a\",\"LTAI-user-key\"]");
	/* an unknown key never matches, whatever the operator */
	NO("StringEquals", "acs:SourceVpc", "\"vpc-1\"");
	NO("StringNotEquals", "acs:SourceVpc", "\"vpc-1\"");
	/* CurrentTime reads as ISO 8601 for string operators */
	YES("StringLike", "acs:CurrentTime", "\"2026-01-01T*\"");
}

static void test_ip_conditions(void **state)
{
	struct hbr_policy_ctx c = ctx_for("hbr:DescribeVaults");
	const char *v6 =
	        "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"IpAddress\":{\"acs:SourceIp\":[\"2001:db8::/32\",\"10.0.0.1\"]}}}]}";

	(void)state;
	YES("IpAddress", "acs:SourceIp", "\"192.168.1.0/24\"");
	YES("IpAddress", "acs:SourceIp", "\"192.168.1.20\"");
	YES("IpAddress", "acs:SourceIp", "\"192.168.1.20/32\"");
	YES("IpAddress", "acs:SourceIp", "\"0.0.0.0/0\"");
	YES("IpAddress", "acs:SourceIp", "\"192.168.0.0/23\"");
	NO("IpAddress", "acs:SourceIp", "\"192.168.2.0/24\"");
	NO("IpAddress", "acs:SourceIp", "\"192.168.1.21\"");
	NO("IpAddress", "acs:SourceIp", "\"::/0\"");
	YES("IpAddress", "acs:SourceIp",
	    "[\"10.0.0.0/8\",\"192.168.1.16/28\"]");
	YES("NotIpAddress", "acs:SourceIp", "\"10.0.0.0/8\"");
	NO("NotIpAddress", "acs:SourceIp", "\"192.168.0.0/16\"");

	c.source_ip = "2001:db8:1::5";
	assert_int_equal(eval1(v6, &c), HBR_POLICY_ALLOW);
	c.source_ip = "2001:db9::5";
	assert_int_equal(eval1(v6, &c), HBR_POLICY_IMPLICIT_DENY);
	c.source_ip = "10.0.0.1";
	assert_int_equal(eval1(v6, &c), HBR_POLICY_ALLOW);
	/* as a dual-stack socket reports an IPv4 peer */
	c.source_ip = "::ffff:10.0.0.1";
	assert_int_equal(eval1(v6, &c), HBR_POLICY_ALLOW);
	c.source_ip = NULL;
	assert_int_equal(eval1(v6, &c), HBR_POLICY_IMPLICIT_DENY);
	c.source_ip = "not-an-ip";
	assert_int_equal(eval1(v6, &c), HBR_POLICY_IMPLICIT_DENY);
}

static void test_bool_conditions(void **state)
{
	struct hbr_policy_ctx c = ctx_for("hbr:DescribeVaults");
	const char *https =
	        "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"Bool\":{\"acs:SecureTransport\":\"TRUE\"}}}]}";

	(void)state;
	YES("Bool", "acs:SecureTransport", "\"true\"");
	YES("Bool", "acs:SecureTransport", "\"True\"");
	YES("Bool", "acs:SecureTransport", "true");
	NO("Bool", "acs:SecureTransport", "\"false\"");
	NO("Bool", "acs:SecureTransport", "false");
	c.secure_transport = false;
	assert_int_equal(eval1(https, &c), HBR_POLICY_IMPLICIT_DENY);
	c.secure_transport = true;
	assert_int_equal(eval1(https, &c), HBR_POLICY_ALLOW);
}

static void test_date_conditions(void **state)
{
	(void)state;
	/* current time is exactly 2026-01-01T00:00:00Z */
	YES("DateEquals", "acs:CurrentTime", "\"2026-01-01T00:00:00Z\"");
	YES("DateEquals", "acs:CurrentTime", "\"1767225600\"");
	YES("DateEquals", "acs:CurrentTime", "1767225600");
	NO("DateEquals", "acs:CurrentTime", "\"2026-01-01T00:00:01Z\"");
	YES("DateNotEquals", "acs:CurrentTime", "\"2026-01-01T00:00:01Z\"");
	NO("DateNotEquals", "acs:CurrentTime", "\"2026-01-01T00:00:00Z\"");
	YES("DateLessThan", "acs:CurrentTime", "\"2026-01-01T00:00:01Z\"");
	NO("DateLessThan", "acs:CurrentTime", "\"2026-01-01T00:00:00Z\"");
	YES("DateLessThanEquals", "acs:CurrentTime",
	    "\"2026-01-01T00:00:00Z\"");
	NO("DateLessThanEquals", "acs:CurrentTime", "\"2025-12-31T23:59:59Z\"");
	YES("DateGreaterThan", "acs:CurrentTime", "\"2025-12-31T23:59:59Z\"");
	NO("DateGreaterThan", "acs:CurrentTime", "\"2026-01-01T00:00:00Z\"");
	YES("DateGreaterThanEquals", "acs:CurrentTime", "\"1767225600\"");
	NO("DateGreaterThanEquals", "acs:CurrentTime", "\"1767225601\"");
	/* a date operator on a key that holds no date */
	NO("DateLessThan", "acs:AccessId", "\"2030-01-01T00:00:00Z\"");
}

static void test_condition_logic(void **state)
{
	struct hbr_policy_ctx c = ctx_for("hbr:DescribeVaults");
	const char *both =
	        "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{"
	        "\"IpAddress\":{\"acs:SourceIp\":\"192.168.0.0/16\"},"
	        "\"DateLessThan\":{\"acs:CurrentTime\":\"2026-06-01T00:00:00Z\"}}}]}";
	const char *two_keys =
	        "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{"
	        "\"StringEquals\":{\"acs:AccessId\":\"LTAI-user-key\",\"acs:SourceIp\":\"192.168.1.20\"}}}]}";
	const char *deny_http =
	        "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"},"
	        "{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"Bool\":{\"acs:SecureTransport\":\"false\"}}}]}";

	(void)state;
	assert_int_equal(eval1(both, &c), HBR_POLICY_ALLOW);
	c.source_ip = "10.1.1.1";
	assert_int_equal(eval1(both, &c), HBR_POLICY_IMPLICIT_DENY);
	c.source_ip = "192.168.1.20";
	c.current_time = T2026 + 200 * 86400;
	assert_int_equal(eval1(both, &c), HBR_POLICY_IMPLICIT_DENY);

	c = ctx_for("hbr:DescribeVaults");
	assert_int_equal(eval1(two_keys, &c), HBR_POLICY_ALLOW);
	c.access_key_id = "other";
	assert_int_equal(eval1(two_keys, &c), HBR_POLICY_IMPLICIT_DENY);

	c = ctx_for("hbr:DescribeVaults");
	assert_int_equal(eval1(deny_http, &c), HBR_POLICY_ALLOW);
	c.secure_transport = false;
	assert_int_equal(eval1(deny_http, &c), HBR_POLICY_EXPLICIT_DENY);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[]",
		"{\"Version\":\"1\",\"Statement\":[",
		"{\"Statement\":[]}",
		"{\"Version\":\"2\",\"Statement\":[]}",
		"{\"Version\":1,\"Statement\":[]}",
		"{\"Version\":\"1\"}",
		"{\"Version\":\"1\",\"Statement\":{}}",
		"{\"Version\":\"1\",\"Statement\":[],\"Extra\":1}",
		"{\"Version\":\"1\",\"Version\":\"1\",\"Statement\":[]}",
		"{\"Version\":\"1\",\"Statement\":[\"x\"]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Action\":\"*\",\"Resource\":\"*\"}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Resource\":\"*\"}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"NotAction\":\"x\",\"Resource\":\"*\"}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\"}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"NotResource\":\"*\"}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[],\"Resource\":\"*\"}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"a\",1],\"Resource\":\"*\"}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"\",\"Resource\":\"*\"}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Conditon\":{}}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":[]}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"StringEqualz\":{\"acs:AccessId\":\"a\"}}}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"NumericEquals\":{\"acs:AccessId\":\"1\"}}}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"StringEquals\":\"a\"}}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"StringEquals\":{}}}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"StringEquals\":{\"acs:AccessId\":[]}}}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"StringEquals\":{\"acs:AccessId\":{\"a\":1}}}}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"IpAddress\":{\"acs:SourceIp\":\"10.0.0.0/33\"}}}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"IpAddress\":{\"acs:SourceIp\":\"10.0.0/8\"}}}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"IpAddress\":{\"acs:SourceIp\":\"2001:db8::/129\"}}}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"IpAddress\":{\"acs:SourceIp\":[\"10.0.0.1\",\"x\"]}}}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"DateLessThan\":{\"acs:CurrentTime\":\"2026-01-01\"}}}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"DateLessThan\":{\"acs:CurrentTime\":\"tomorrow\"}}}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"Bool\":{\"acs:SecureTransport\":\"yes\"}}}]}",
		"{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Principal\":\"*\"}]}",
	};
	struct hbr_policy *p;

	(void)state;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(bad); i++) {
		p = NULL;
		if (hbr_policy_parse(&p, bad[i], strlen(bad[i])) != HBR_EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_null(p);
		assert_true(strlen(hbr_error_msg()) > 0);
	}
	hbr_policy_free(NULL);
}

static void test_accepted_shapes(void **state)
{
	(void)state;
	hbr_policy_free(load(
	        "{\"Version\":\"1\",\"Statement\":[{\"Sid\":\"x\",\"Effect\":\"Deny\",\"NotAction\":[\"hbr:Describe*\"],\"NotResource\":[\"acs:hbr:*:1:*\"],"
	        "\"Condition\":{\"NotIpAddress\":{\"acs:SourceIp\":[\"10.0.0.0/8\",\"fd00::/8\"]},\"StringLike\":{\"acs:Unknown\":\"x\"}}}]}"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wildcard),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_deny_wins),
		cmocka_unit_test(test_resources),
		cmocka_unit_test(test_string_conditions),
		cmocka_unit_test(test_ip_conditions),
		cmocka_unit_test(test_bool_conditions),
		cmocka_unit_test(test_date_conditions),
		cmocka_unit_test(test_condition_logic),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_accepted_shapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
