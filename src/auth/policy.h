/*
 * RAM policy documents (hbr-api.md §5.3):
 *   {"Version":"1","Statement":[{"Effect":"Allow"|"Deny",
 *     "Action":"hbr:X"|[...] | "NotAction":...,
 *     "Resource":"*"|[...] | "NotResource":...,
 *     "Condition":{"<Operator>":{"<key>":"v"|["v1","v2"]}}}]}
 * Action and Resource patterns use '*' and '?' wildcards; actions match
 * case-insensitively. Condition operators: StringEquals, StringNotEquals,
 * StringEqualsIgnoreCase, StringNotEqualsIgnoreCase, StringLike,
 * StringNotLike, IpAddress, NotIpAddress (IPv4/IPv6 CIDR), Bool,
 * DateEquals, DateNotEquals, DateLessThan, DateLessThanEquals,
 * DateGreaterThan, DateGreaterThanEquals; keys acs:SourceIp,
 * acs:SecureTransport, acs:CurrentTime, acs:AccessId (key names match
 * case-insensitively). Several operators/keys in a Condition are ANDed,
 * several values of one key ORed. A condition on a key we do not know
 * never matches (fail closed for Allow).
 *
 * Evaluation: an explicit Deny in any policy wins; otherwise any Allow
 * allows; otherwise it is an implicit deny.
 */
#ifndef HBR_AUTH_POLICY_H
#define HBR_AUTH_POLICY_H

#include "common.h"

struct hbr_policy; /* a parsed, validated document; immutable */

struct hbr_policy_ctx {
	const char *action; /* "hbr:DeleteBackupClientResource" */
	const char *resource; /* e.g. "acs:hbr:*:<account>:*" */
	const char *source_ip; /* textual IPv4/IPv6 */
	bool secure_transport;
	int64_t current_time; /* UNIX seconds */
	const char *access_key_id;
};

enum hbr_policy_decision {
	HBR_POLICY_IMPLICIT_DENY = 0,
	HBR_POLICY_ALLOW = 1,
	HBR_POLICY_EXPLICIT_DENY = 2,
};

/* Parse and validate; HBR_EINVAL with a message naming what is wrong
 * (bad JSON, Version not "1", Effect not Allow/Deny, both or neither of
 * Action/NotAction, unknown operator, malformed CIDR or date, ...). */
int hbr_policy_parse(struct hbr_policy **out, const char *json, size_t len);
void hbr_policy_free(struct hbr_policy *p);

enum hbr_policy_decision hbr_policy_eval(struct hbr_policy *const *policies,
                                         size_t n,
                                         const struct hbr_policy_ctx *ctx);

/* Wildcard match with '*' and '?', optionally ignoring ASCII case. */
bool hbr_policy_wildcard(const char *pattern, const char *s, bool nocase);

#endif
