/* RAM policy documents: parsing, validation and evaluation (§5.3). */
#include "common.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <strings.h>
#include <jansson.h>
#include "auth/policy.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/timeutil.h"

/* RAM itself caps a custom policy at 6144 characters; leave room. */
#define POLICY_MAX ((size_t)64 << 10)

enum family { FAM_STRING, FAM_IP, FAM_BOOL, FAM_DATE };

enum op {
	OP_EQ, /* string/date equality, Bool, IpAddress */
	OP_EQ_CI,
	OP_LIKE,
	OP_LT,
	OP_LE,
	OP_GT,
	OP_GE,
};

static const struct opdef {
	const char *name;
	enum family fam;
	enum op op;
	bool negated;
} opdefs[] = {
	{ "StringEquals", FAM_STRING, OP_EQ, false },
	{ "StringNotEquals", FAM_STRING, OP_EQ, true },
	{ "StringEqualsIgnoreCase", FAM_STRING, OP_EQ_CI, false },
	{ "StringNotEqualsIgnoreCase", FAM_STRING, OP_EQ_CI, true },
	{ "StringLike", FAM_STRING, OP_LIKE, false },
	{ "StringNotLike", FAM_STRING, OP_LIKE, true },
	{ "IpAddress", FAM_IP, OP_EQ, false },
	{ "NotIpAddress", FAM_IP, OP_EQ, true },
	{ "Bool", FAM_BOOL, OP_EQ, false },
	{ "DateEquals", FAM_DATE, OP_EQ, false },
	{ "DateNotEquals", FAM_DATE, OP_EQ, true },
	{ "DateLessThan", FAM_DATE, OP_LT, false },
	{ "DateLessThanEquals", FAM_DATE, OP_LE, false },
	{ "DateGreaterThan", FAM_DATE, OP_GT, false },
	{ "DateGreaterThanEquals", FAM_DATE, OP_GE, false },
};

enum key {
	KEY_UNKNOWN,
	KEY_SOURCE_IP,
	KEY_SECURE_TRANSPORT,
	KEY_CURRENT_TIME,
	KEY_ACCESS_ID,
};

static const struct {
	const char *name;
	enum key key;
} keydefs[] = {
	{ "acs:SourceIp", KEY_SOURCE_IP },
	{ "acs:SecureTransport", KEY_SECURE_TRANSPORT },
	{ "acs:CurrentTime", KEY_CURRENT_TIME },
	{ "acs:AccessId", KEY_ACCESS_ID },
};

struct addr {
	int family; /* AF_INET or AF_INET6 */
	unsigned char bytes[16];
	unsigned bits; /* prefix length; the full length for an address */
};

/* A condition value, pre-parsed for its operator family at load time so
 * that evaluation cannot fail on it. */
struct value {
	char *s;
	struct addr net;
	int64_t time;
	bool b;
};

struct cond {
	const struct opdef *def;
	enum key key;
	struct value *vals;
	size_t n;
};

struct stmt {
	bool deny;
	bool not_action;
	bool not_resource;
	char **actions;
	size_t nactions;
	char **resources;
	size_t nresources;
	struct cond *conds;
	size_t nconds;
};

struct hbr_policy {
	struct stmt *stmts;
	size_t n;
};

bool hbr_policy_wildcard(const char *pattern, const char *s, bool nocase)
{
	const char *p = pattern, *star = NULL, *resume = NULL;

	/* Greedy with one backtrack point: the last '*' seen is the only
	 * one worth retrying, so this stays O(len(p) * len(s)). */
	while (*s) {
		if (*p == '*') {
			star = p++;
			resume = s;
		} else if (*p &&
		           (*p == '?' || *p == *s ||
		            (nocase && tolower((unsigned char)*p) ==
		                               tolower((unsigned char)*s)))) {
			p++;
			s++;
		} else if (star) {
			p = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* "a.b.c.d", "a.b.c.d/n", IPv6 likewise. IPv4-mapped IPv6 addresses are
 * folded to IPv4, since a dual-stack listener reports them that way. */
static bool parse_addr(struct addr *out, const char *s, bool allow_prefix)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t hlen = slash ? (size_t)(slash - s) : strlen(s);
	struct addr a = { 0 };
	unsigned max;

	if (hlen == 0 || hlen >= sizeof(host) || (slash && !allow_prefix))
		return false;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, a.bytes) == 1) {
		a.family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, a.bytes) == 1) {
		static const unsigned char mapped[12] = {
			[10] = 0xff, [11] = 0xff
		};
		a.family = AF_INET6;
		max = 128;
		if (!slash && !memcmp(a.bytes, mapped, sizeof(mapped))) {
			memmove(a.bytes, a.bytes + 12, 4);
			memset(a.bytes + 4, 0, 12);
			a.family = AF_INET;
			max = 32;
		}
	} else {
		return false;
	}
	a.bits = max;
	if (slash) {
		const char *d = slash + 1;
		unsigned bits = 0;

		if (!*d || strlen(d) > 3)
			return false;
		for (; *d; d++) {
			if (*d < '0' || *d > '9')
				return false;
			bits = bits * 10 + (unsigned)(*d - '0');
		}
		if (bits > max)
			return false;
		a.bits = bits;
	}
	*out = a;
	return true;
}

static bool net_contains(const struct addr *net, const struct addr *ip)
{
	unsigned full = net->bits / 8, rest = net->bits % 8;

	if (net->family != ip->family)
		return false;
	if (memcmp(net->bytes, ip->bytes, full))
		return false;
	if (rest) {
		unsigned char mask = (unsigned char)(0xff << (8 - rest));
		return (net->bytes[full] & mask) == (ip->bytes[full] & mask);
	}
	return true;
}

/* ISO 8601 UTC or UNIX seconds. */
static bool parse_date(int64_t *out, const char *s)
{
	int64_t v = 0;
	const char *p = s;

	if (!*s)
		return false;
	if (strchr(s, 'T'))
		return hbr_time_parse_iso8601(out, s) == 0;
	if (strlen(s) > 15) /* far beyond year 9999 */
		return false;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
	}
	*out = v;
	return true;
}

static bool parse_bool(bool *out, const char *s)
{
	if (!strcasecmp(s, "true"))
		*out = true;
	else if (!strcasecmp(s, "false"))
		*out = false;
	else
		return false;
	return true;
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hbr_free(v[i]);
	hbr_free(v);
}

static void free_stmt(struct stmt *st)
{
	free_strings(st->actions, st->nactions);
	free_strings(st->resources, st->nresources);
	for (size_t i = 0; i < st->nconds; i++) {
		for (size_t j = 0; j < st->conds[i].n; j++)
			hbr_free(st->conds[i].vals[j].s);
		hbr_free(st->conds[i].vals);
	}
	hbr_free(st->conds);
}

void hbr_policy_free(struct hbr_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		free_stmt(&p->stmts[i]);
	hbr_free(p->stmts);
	hbr_free(p);
}

/* A pattern list: one non-empty string or a non-empty array of them. */
static int parse_patterns(char ***out, size_t *n, json_t *v, size_t si,
                          const char *what)
{
	size_t count = json_is_array(v) ? json_array_size(v) : 1;
	char **list;

	if (!json_is_string(v) && !(json_is_array(v) && count))
		return hbr_error_set(
		        HBR_EINVAL,
		        "policy: Statement[%zu].%s must be a string or a non-empty array of strings",
		        si, what);
	list = hbr_calloc(count, sizeof(*list));
	for (size_t i = 0; i < count; i++) {
		json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
		const char *s = json_string_value(e);

		if (!s || !*s) {
			free_strings(list, i);
			return hbr_error_set(
			        HBR_EINVAL,
			        "policy: Statement[%zu].%s holds an empty or non-string entry",
			        si, what);
		}
		list[i] = hbr_strdup(s);
	}
	*out = list;
	*n = count;
	return 0;
}

static int parse_value(struct value *out, json_t *v, const struct opdef *def,
                       size_t si, const char *key)
{
	char num[32];
	const char *s;
	struct value val = { 0 };
	bool ok = true;

	if (json_is_string(v)) {
		s = json_string_value(v);
	} else if (json_is_boolean(v)) {
		s = json_is_true(v) ? "true" : "false";
	} else if (json_is_integer(v)) {
		(void)snprintf(num, sizeof(num), "%lld",
		               (long long)json_integer_value(v));
		s = num;
	} else {
		return hbr_error_set(
		        HBR_EINVAL,
		        "policy: Statement[%zu].Condition.%s.%s: values must be strings",
		        si, def->name, key);
	}
	switch (def->fam) {
	case FAM_STRING:
		break;
	case FAM_IP:
		ok = parse_addr(&val.net, s, true);
		break;
	case FAM_BOOL:
		ok = parse_bool(&val.b, s);
		break;
	case FAM_DATE:
		ok = parse_date(&val.time, s);
		break;
	}
	if (!ok)
		return hbr_error_set(
		        HBR_EINVAL,
		        "policy: Statement[%zu].Condition.%s.%s: '%.64s' is not a valid %s",
		        si, def->name, key, s,
		        def->fam == FAM_IP   ? "IP address or CIDR" :
		        def->fam == FAM_BOOL ? "boolean" :
		                               "date");
	val.s = hbr_strdup(s);
	*out = val;
	return 0;
}

static enum key lookup_key(const char *name)
{
	for (size_t i = 0; i < HBR_ARRAY_SIZE(keydefs); i++)
		if (!strcasecmp(keydefs[i].name, name))
			return keydefs[i].key;
	return KEY_UNKNOWN;
}

static int parse_conditions(struct stmt *st, json_t *cobj, size_t si)
{
	const char *opname, *key;
	json_t *keys, *vals;
	size_t total = 0;

	if (!json_is_object(cobj))
		return hbr_error_set(
		        HBR_EINVAL,
		        "policy: Statement[%zu].Condition must be an object",
		        si);
	json_object_foreach(cobj, opname, keys)
	{
		if (!json_is_object(keys) || !json_object_size(keys))
			return hbr_error_set(
			        HBR_EINVAL,
			        "policy: Statement[%zu].Condition.%s must be a non-empty object",
			        si, opname);
		total += json_object_size(keys);
	}
	st->conds = hbr_calloc(total ? total : 1, sizeof(*st->conds));
	json_object_foreach(cobj, opname, keys)
	{
		const struct opdef *def = NULL;

		for (size_t i = 0; i < HBR_ARRAY_SIZE(opdefs); i++)
			if (!strcmp(opdefs[i].name, opname))
				def = &opdefs[i];
		if (!def)
			return hbr_error_set(
			        HBR_EINVAL,
			        "policy: Statement[%zu].Condition: unknown operator '%.64s'",
			        si, opname);
		json_object_foreach(keys, key, vals)
		{
			struct cond *c = &st->conds[st->nconds];
			size_t n =
			        json_is_array(vals) ? json_array_size(vals) : 1;
			int error;

			if (json_is_array(vals) && !n)
				return hbr_error_set(
				        HBR_EINVAL,
				        "policy: Statement[%zu].Condition.%s.%s is an empty array",
				        si, opname, key);
			c->def = def;
			c->key = lookup_key(key);
			c->vals = hbr_calloc(n, sizeof(*c->vals));
			/* Counted before filling so free_stmt() sees the
			 * values parsed so far. */
			st->nconds++;
			for (size_t i = 0; i < n; i++) {
				json_t *v = json_is_array(vals) ?
				                    json_array_get(vals, i) :
				                    vals;
				if ((error = parse_value(&c->vals[i], v, def,
				                         si, key)) < 0)
					return error;
				c->n++;
			}
		}
	}
	return 0;
}

static int parse_stmt(struct stmt *st, json_t *obj, size_t si)
{
	json_t *effect, *action, *naction, *res, *nres, *cond, *v;
	const char *key;
	int error;

	if (!json_is_object(obj))
		return hbr_error_set(HBR_EINVAL,
		                     "policy: Statement[%zu] must be an object",
		                     si);
	json_object_foreach(obj, key, v)
	{
		/* A misspelt "Conditon" must not silently widen a grant. */
		static const char *const known[] = {
			"Effect",      "Action",    "NotAction", "Resource",
			"NotResource", "Condition", "Sid",
		};
		bool ok = false;

		for (size_t i = 0; i < HBR_ARRAY_SIZE(known); i++)
			ok |= !strcmp(key, known[i]);
		if (!ok)
			return hbr_error_set(
			        HBR_EINVAL,
			        "policy: Statement[%zu]: unknown element '%.64s'",
			        si, key);
	}
	effect = json_object_get(obj, "Effect");
	if (!json_is_string(effect) ||
	    (strcmp(json_string_value(effect), "Allow") &&
	     strcmp(json_string_value(effect), "Deny")))
		return hbr_error_set(
		        HBR_EINVAL,
		        "policy: Statement[%zu].Effect must be \"Allow\" or \"Deny\"",
		        si);
	st->deny = !strcmp(json_string_value(effect), "Deny");

	action = json_object_get(obj, "Action");
	naction = json_object_get(obj, "NotAction");
	if (!action == !naction)
		return hbr_error_set(
		        HBR_EINVAL,
		        "policy: Statement[%zu] needs exactly one of Action and NotAction",
		        si);
	st->not_action = naction != NULL;
	if ((error = parse_patterns(&st->actions, &st->nactions,
	                            action ? action : naction, si,
	                            action ? "Action" : "NotAction")) < 0)
		return error;

	res = json_object_get(obj, "Resource");
	nres = json_object_get(obj, "NotResource");
	if (!res == !nres)
		return hbr_error_set(
		        HBR_EINVAL,
		        "policy: Statement[%zu] needs exactly one of Resource and NotResource",
		        si);
	st->not_resource = nres != NULL;
	if ((error = parse_patterns(&st->resources, &st->nresources,
	                            res ? res : nres, si,
	                            res ? "Resource" : "NotResource")) < 0)
		return error;

	v = json_object_get(obj, "Sid");
	if (v && !json_is_string(v))
		return hbr_error_set(
		        HBR_EINVAL,
		        "policy: Statement[%zu].Sid must be a string", si);
	cond = json_object_get(obj, "Condition");
	if (cond && (error = parse_conditions(st, cond, si)) < 0)
		return error;
	return 0;
}

int hbr_policy_parse(struct hbr_policy **out, const char *json, size_t len)
{
	struct hbr_policy *p = NULL;
	json_t *root = NULL, *version, *stmts, *v;
	json_error_t jerr;
	const char *key;
	int error = 0;

	if (len > POLICY_MAX)
		return hbr_error_set(
		        HBR_EINVAL, "policy: document is larger than %zu bytes",
		        POLICY_MAX);
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return hbr_error_set(HBR_EINVAL,
		                     "policy: not valid JSON: %s (line %d)",
		                     jerr.text, jerr.line);
	if (!json_is_object(root)) {
		error = hbr_error_set(HBR_EINVAL,
		                      "policy: document must be a JSON object");
		goto out;
	}
	json_object_foreach(root, key, v)
	{
		if (strcmp(key, "Version") && strcmp(key, "Statement")) {
			error = hbr_error_set(HBR_EINVAL,
			                      "policy: unknown element '%.64s'",
			                      key);
			goto out;
		}
	}
	version = json_object_get(root, "Version");
	if (!json_is_string(version) ||
	    strcmp(json_string_value(version), "1")) {
		error = hbr_error_set(HBR_EINVAL,
		                      "policy: Version must be \"1\"");
		goto out;
	}
	stmts = json_object_get(root, "Statement");
	if (!json_is_array(stmts)) {
		error = hbr_error_set(HBR_EINVAL,
		                      "policy: Statement must be an array");
		goto out;
	}
	p = hbr_calloc(1, sizeof(*p));
	p->stmts = hbr_calloc(json_array_size(stmts) + 1, sizeof(*p->stmts));
	for (size_t i = 0; i < json_array_size(stmts); i++) {
		/* Counted first so that hbr_policy_free() releases a
		 * half-parsed statement too. */
		p->n++;
		if ((error = parse_stmt(&p->stmts[i], json_array_get(stmts, i),
		                        i)) < 0)
			goto out;
	}
	*out = p;
	p = NULL;
out:
	hbr_policy_free(p);
	json_decref(root);
	return error;
}

/* The context value of a key as text; NULL when unknown or absent. */
static const char *key_text(enum key key, const struct hbr_policy_ctx *ctx,
                            char buf[32])
{
	switch (key) {
	case KEY_SOURCE_IP:
		return ctx->source_ip;
	case KEY_SECURE_TRANSPORT:
		return ctx->secure_transport ? "true" : "false";
	case KEY_CURRENT_TIME:
		hbr_time_format_iso8601(buf, 32, ctx->current_time);
		return buf;
	case KEY_ACCESS_ID:
		return ctx->access_key_id;
	case KEY_UNKNOWN:
		break;
	}
	return NULL;
}

/* Whether one policy value v matches the context's reading cv. */
static bool value_matches(const struct cond *c, const struct value *v,
                          const struct value *cv)
{
	switch (c->def->fam) {
	case FAM_STRING:
		if (c->def->op == OP_EQ_CI)
			return !strcasecmp(cv->s, v->s);
		if (c->def->op == OP_LIKE)
			return hbr_policy_wildcard(v->s, cv->s, false);
		return !strcmp(cv->s, v->s);
	case FAM_IP:
		return net_contains(&v->net, &cv->net);
	case FAM_BOOL:
		return cv->b == v->b;
	case FAM_DATE:
		switch (c->def->op) {
		case OP_LT:
			return cv->time < v->time;
		case OP_LE:
			return cv->time <= v->time;
		case OP_GT:
			return cv->time > v->time;
		case OP_GE:
			return cv->time >= v->time;
		default:
			return cv->time == v->time;
		}
	}
	return false;
}

/*
 * Values of one key are ORed; a negated operator is true when none
 * matches. A key we cannot read (unknown, absent, or not of the
 * operator's type) makes the condition false either way.
 */
static bool cond_holds(const struct cond *c, const struct hbr_policy_ctx *ctx)
{
	char buf[32];
	struct value cv = { .s = (char *)key_text(c->key, ctx, buf) };
	bool any = false;

	if (!cv.s)
		return false;
	if (c->def->fam == FAM_IP && !parse_addr(&cv.net, cv.s, false))
		return false;
	if (c->def->fam == FAM_BOOL && !parse_bool(&cv.b, cv.s))
		return false;
	if (c->def->fam == FAM_DATE) {
		if (c->key == KEY_CURRENT_TIME)
			cv.time = ctx->current_time;
		else if (!parse_date(&cv.time, cv.s))
			return false;
	}
	for (size_t i = 0; i < c->n && !any; i++)
		any = value_matches(c, &c->vals[i], &cv);
	return c->def->negated ? !any : any;
}

static bool any_match(char *const *patterns, size_t n, const char *s,
                      bool nocase)
{
	for (size_t i = 0; i < n; i++)
		if (hbr_policy_wildcard(patterns[i], s, nocase))
			return true;
	return false;
}

static bool stmt_applies(const struct stmt *st,
                         const struct hbr_policy_ctx *ctx)
{
	const char *resource = ctx->resource ? ctx->resource : "";

	if (any_match(st->actions, st->nactions, ctx->action, true) ==
	    st->not_action)
		return false;
	if (any_match(st->resources, st->nresources, resource, false) ==
	    st->not_resource)
		return false;
	for (size_t i = 0; i < st->nconds; i++)
		if (!cond_holds(&st->conds[i], ctx))
			return false;
	return true;
}

enum hbr_policy_decision hbr_policy_eval(struct hbr_policy *const *policies,
                                         size_t n,
                                         const struct hbr_policy_ctx *ctx)
{
	bool allowed = false;

	HBR_ASSERT(ctx->action != NULL);
	for (size_t i = 0; i < n; i++) {
		const struct hbr_policy *p = policies[i];

		for (size_t j = 0; p && j < p->n; j++) {
			if (!stmt_applies(&p->stmts[j], ctx))
				continue;
			if (p->stmts[j].deny)
				return HBR_POLICY_EXPLICIT_DENY;
			allowed = true;
		}
	}
	return allowed ? HBR_POLICY_ALLOW : HBR_POLICY_IMPLICIT_DENY;
}
