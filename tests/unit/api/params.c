/*
 * api_params.h: typed parameters, the three list encodings, paging and
 * Filters, with the Missing<Param>/Invalid<Param> errors they promise.
 */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "api/api_params.h"
#include "util/error.h"
#include "util/kvlist.h"

/* ---- helpers ------------------------------------------------------------ */

struct kv {
	const char *key;
	const char *val;
};

static struct hbr_kvlist params_from(const struct kv *kv, size_t n)
{
	struct hbr_kvlist l = HBR_KVLIST_INIT;

	for (size_t i = 0; i < n; i++)
		hbr_kvlist_add(&l, kv[i].key, strlen(kv[i].key), kv[i].val,
		               strlen(kv[i].val));
	return l;
}

/* A parameter list: PARAMS({ "PageSize", "10" }, { "PageNumber", "2" }) */
#define PARAMS(...)                                              \
	params_from((const struct kv[]){ __VA_ARGS__ },          \
	            sizeof((const struct kv[]){ __VA_ARGS__ }) / \
	                    sizeof(struct kv))

/* The list's entries joined with '|', e.g. "a|b". */
static const char *joined(const struct hbr_strlist *l)
{
	static char out[4096];

	out[0] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			strcat(out, "|");
		strcat(out, l->items[i]);
	}
	return out;
}

/* Parse name from p as a list of at most max_items entries of at most
 * max_len bytes, expect success and return the joined entries. */
static const char *list_ok(struct hbr_kvlist *p, const char *name,
                           size_t max_items, size_t max_len, bool present)
{
	struct hbr_strlist l = HBR_STRLIST_INIT;
	const char *out;
	int rc = hbr_param_list(&l, p, name, max_items, max_len);

	if (rc != 0)
		fail_msg("list refused (%d): %s", rc, hbr_error_msg());
	assert_int_equal(l.present, present);
	out = joined(&l);
	hbr_strlist_release(&l);
	hbr_kvlist_release(p);
	return out;
}

/* Expect an InvalidName error whose message contains each of the
 * NULL-terminated fragments; the output list stays empty. */
static void list_bad(struct hbr_kvlist *p, const char *name, size_t max_items,
                     size_t max_len, ...)
{
	struct hbr_strlist l = HBR_STRLIST_INIT;
	const char *frag;
	va_list ap;

	assert_int_equal(hbr_param_list(&l, p, name, max_items, max_len),
	                 HBR_EINVAL);
	assert_string_equal(hbr_error_param(), name);
	assert_null(l.items);
	assert_int_equal(l.n, 0);
	va_start(ap, max_len);
	while ((frag = va_arg(ap, const char *)) != NULL)
		if (!strstr(hbr_error_msg(), frag))
			fail_msg("message '%s' lacks '%s'", hbr_error_msg(),
			         frag);
	va_end(ap);
	hbr_kvlist_release(p);
}

/* ---- hbr_param_list ----------------------------------------------------- */

static void test_list_json_form(void **state)
{
	struct hbr_kvlist p;

	(void)state;
	p = PARAMS({ "ClientIds", "[\"c-1\",\"c-2\"]" });
	assert_string_equal(list_ok(&p, "ClientIds", 100, 64, true), "c-1|c-2");
	p = PARAMS({ "ClientIds", " \n[ \"c-1\" , \"c-1\" ]" });
	assert_string_equal(list_ok(&p, "ClientIds", 100, 64, true),
	                    "c-1|c-1"); /* duplicates are kept */
	p = PARAMS({ "ClientIds", "[]" });
	assert_string_equal(list_ok(&p, "ClientIds", 100, 64, true), "");
	p = PARAMS({ "ClientIds", "[\"a\",\"b\",\"c\"]" });
	assert_string_equal(list_ok(&p, "ClientIds", 3, 1, true), "a|b|c");
	p = PARAMS({ "ClientIds", "[\"caf\\u00e9\"]" });
	assert_string_equal(list_ok(&p, "ClientIds", 3, 5, true),
	                    "caf\xc3\xa9");
}

static void test_list_flattened_form(void **state)
{
	struct hbr_kvlist p;

	(void)state;
	/* ordered by index, gaps allowed, arrival order irrelevant */
	p = PARAMS({ "ClientIds.3", "c" }, { "ClientIds.1", "a" },
	           { "Other", "x" }, { "ClientIds.10", "d" },
	           { "ClientIds.2", "b" });
	assert_string_equal(list_ok(&p, "ClientIds", 100, 64, true), "a|b|c|d");
	p = PARAMS({ "ClientIds.7", "only" });
	assert_string_equal(list_ok(&p, "ClientIds", 100, 64, true), "only");
	/* other parameters sharing the prefix are not entries */
	p = PARAMS({ "ClientIdsX.1", "no" }, { "ClientIds", "" });
	assert_string_equal(list_ok(&p, "ClientIds", 100, 64, true), "");
	p = PARAMS({ "ClientIdsX.1", "no" });
	assert_string_equal(list_ok(&p, "ClientIds", 100, 64, false), "");
}

static void test_list_flattened_repeated_index_keeps_last(void **state)
{
	struct hbr_kvlist p;

	(void)state;
	p = PARAMS({ "ClientIds.2", "x" }, { "ClientIds.1", "first" },
	           { "ClientIds.1", "second" });
	assert_string_equal(list_ok(&p, "ClientIds", 2, 64, true), "second|x");
	/* a repeated index counts once against max_items */
	p = PARAMS({ "ClientIds.1", "a" }, { "ClientIds.1", "b" });
	assert_string_equal(list_ok(&p, "ClientIds", 1, 64, true), "b");
}

static void test_list_comma_form(void **state)
{
	struct hbr_kvlist p;

	(void)state;
	p = PARAMS({ "ClientIds", "c-1, c-2 ,\tc-3" });
	assert_string_equal(list_ok(&p, "ClientIds", 100, 64, true),
	                    "c-1|c-2|c-3");
	p = PARAMS({ "ClientIds", "c-1" });
	assert_string_equal(list_ok(&p, "ClientIds", 100, 64, true), "c-1");
	p = PARAMS({ "ClientIds", "a,b,c" });
	assert_string_equal(list_ok(&p, "ClientIds", 3, 64, true), "a|b|c");
}

static void test_list_present_flag(void **state)
{
	struct hbr_kvlist p;

	(void)state;
	p = PARAMS({ "Other", "1" });
	assert_string_equal(list_ok(&p, "ClientIds", 100, 64, false), "");
	/* sent but empty: present, with no entries */
	p = PARAMS({ "ClientIds", "" });
	assert_string_equal(list_ok(&p, "ClientIds", 100, 64, true), "");
	p = PARAMS({ "ClientIds", " " });
	assert_string_equal(list_ok(&p, "ClientIds", 100, 64, true), "");
	p = PARAMS({ "ClientIds.1", "a" });
	assert_string_equal(list_ok(&p, "ClientIds", 100, 64, true), "a");
}

static void test_list_bad_json(void **state)
{
	struct hbr_kvlist p;

	(void)state;
	p = PARAMS({ "ClientIds", "[\"c-1\"," });
	list_bad(&p, "ClientIds", 100, 64, "ClientIds", "JSON", NULL);
	p = PARAMS({ "ClientIds", "[c-1]" });
	list_bad(&p, "ClientIds", 100, 64, "JSON", NULL);
	p = PARAMS({ "ClientIds", "[\"a\"] trailing" });
	list_bad(&p, "ClientIds", 100, 64, "JSON", NULL);
}

static void test_list_non_string_entry_is_named(void **state)
{
	struct hbr_kvlist p;

	(void)state;
	p = PARAMS({ "ClientIds", "[\"c-1\", 42]" });
	list_bad(&p, "ClientIds", 100, 64, "entry 2", "42", "not a string",
	         NULL);
	p = PARAMS({ "ClientIds", "[null]" });
	list_bad(&p, "ClientIds", 100, 64, "entry 1", "null", NULL);
	p = PARAMS({ "ClientIds", "[\"a\", [\"b\"]]" });
	list_bad(&p, "ClientIds", 100, 64, "entry 2", NULL);
	p = PARAMS({ "ClientIds", "[{\"id\":\"c-1\"}]" });
	list_bad(&p, "ClientIds", 100, 64, "entry 1", NULL);
}

static void test_list_empty_entry(void **state)
{
	struct hbr_kvlist p;

	(void)state;
	p = PARAMS({ "ClientIds", "[\"a\",\"\"]" });
	list_bad(&p, "ClientIds", 100, 64, "entry 2", "empty", NULL);
	p = PARAMS({ "ClientIds", "a,,b" });
	list_bad(&p, "ClientIds", 100, 64, "entry 2", "empty", NULL);
	p = PARAMS({ "ClientIds", "a, " });
	list_bad(&p, "ClientIds", 100, 64, "empty", NULL);
	p = PARAMS({ "ClientIds", ",a" });
	list_bad(&p, "ClientIds", 100, 64, "entry 1", "empty", NULL);
	p = PARAMS({ "ClientIds.1", "a" }, { "ClientIds.2", "" });
	list_bad(&p, "ClientIds", 100, 64, "empty", NULL);
}

static void test_list_too_many_entries(void **state)
{
	struct hbr_kvlist p;

	(void)state;
	p = PARAMS({ "ClientIds", "[\"a\",\"b\",\"c\",\"d\"]" });
	list_bad(&p, "ClientIds", 3, 64, "4", "3", NULL);
	p = PARAMS({ "ClientIds", "a,b,c,d" });
	list_bad(&p, "ClientIds", 3, 64, "3", NULL);
	p = PARAMS({ "ClientIds.1", "a" }, { "ClientIds.2", "b" },
	           { "ClientIds.5", "c" }, { "ClientIds.9", "d" });
	list_bad(&p, "ClientIds", 3, 64, "4", "3", NULL);
}

static void test_list_too_long_entry(void **state)
{
	struct hbr_kvlist p;

	(void)state;
	p = PARAMS({ "ClientIds", "[\"abcde\",\"abcdef\"]" });
	list_bad(&p, "ClientIds", 100, 5, "entry 2", "5", NULL);
	p = PARAMS({ "ClientIds", "abcde,abcdef" });
	list_bad(&p, "ClientIds", 100, 5, "entry 2", NULL);
	p = PARAMS({ "ClientIds.1", "abcdef" });
	list_bad(&p, "ClientIds", 100, 5, "longer", NULL);
	/* exactly max_len is fine */
	p = PARAMS({ "ClientIds", "abcde" });
	assert_string_equal(list_ok(&p, "ClientIds", 100, 5, true), "abcde");
}

static void test_list_bad_flattened_index(void **state)
{
	static const char *const keys[] = { "ClientIds.0",    "ClientIds.x",
		                            "ClientIds.1x",   "ClientIds.-1",
		                            "ClientIds.1001", "ClientIds." };

	(void)state;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(keys); i++) {
		struct hbr_kvlist p = PARAMS({ keys[i], "a" });
		list_bad(&p, "ClientIds", 100, 64, NULL);
	}
}

/* ---- scalars ------------------------------------------------------------ */

static void test_param_str(void **state)
{
	struct hbr_kvlist p = PARAMS({ "VaultName", "abc" }, { "Empty", "" });
	const char *v = "unset";

	(void)state;
	assert_int_equal(hbr_param_str(&v, &p, "VaultName", true, 1, 3), 0);
	assert_string_equal(v, "abc");
	assert_int_equal(hbr_param_str(&v, &p, "Nope", false, 1, 3), 0);
	assert_null(v);
	assert_int_equal(hbr_param_str(&v, &p, "Empty", false, 0, 3), 0);
	assert_string_equal(v, "");

	v = "unset";
	assert_int_equal(hbr_param_str(&v, &p, "Nope", true, 1, 3),
	                 HBR_EMISSING);
	assert_string_equal(hbr_error_param(), "Nope");
	assert_string_equal(hbr_error_msg(),
	                    "Nope is mandatory for this action.");
	assert_int_equal(hbr_param_str(&v, &p, "VaultName", true, 4, 10),
	                 HBR_EINVAL);
	assert_string_equal(hbr_error_param(), "VaultName");
	assert_int_equal(hbr_param_str(&v, &p, "VaultName", true, 1, 2),
	                 HBR_EINVAL);
	/* present but empty is Invalid, not Missing */
	assert_int_equal(hbr_param_str(&v, &p, "Empty", true, 1, 3),
	                 HBR_EINVAL);
	assert_string_equal(hbr_error_param(), "Empty");
	assert_string_equal(v, "unset");
	hbr_kvlist_release(&p);
}

static void test_param_int(void **state)
{
	static const char *const bad[] = {
		"abc", "", "12x", "1.5", "0x10", "99999999999999999999", "1e3"
	};
	struct hbr_kvlist p = PARAMS({ "N", "42" }, { "Neg", "-7" });
	int64_t n = 0;

	(void)state;
	assert_int_equal(hbr_param_int(&n, &p, "N", true, 0, 100, 5), 0);
	assert_int_equal(n, 42);
	assert_int_equal(hbr_param_int(&n, &p, "Neg", true, -10, 0, 5), 0);
	assert_int_equal(n, -7);
	assert_int_equal(hbr_param_int(&n, &p, "Absent", false, 0, 100, 5), 0);
	assert_int_equal(n, 5);
	/* the bounds are inclusive */
	assert_int_equal(hbr_param_int(&n, &p, "N", true, 42, 42, 5), 0);

	n = 1234;
	assert_int_equal(hbr_param_int(&n, &p, "Absent", true, 0, 100, 5),
	                 HBR_EMISSING);
	assert_string_equal(hbr_error_param(), "Absent");
	assert_int_equal(hbr_param_int(&n, &p, "N", true, 43, 100, 5),
	                 HBR_EINVAL);
	assert_string_equal(hbr_error_param(), "N");
	assert_int_equal(hbr_param_int(&n, &p, "N", true, 0, 41, 5),
	                 HBR_EINVAL);
	assert_int_equal(n, 1234);
	hbr_kvlist_release(&p);

	for (size_t i = 0; i < HBR_ARRAY_SIZE(bad); i++) {
		p = PARAMS({ "N", bad[i] });
		if (hbr_param_int(&n, &p, "N", true, INT64_MIN, INT64_MAX, 0) !=
		    HBR_EINVAL)
			fail_msg("'%s' accepted as %lld", bad[i], (long long)n);
		assert_string_equal(hbr_error_param(), "N");
		hbr_kvlist_release(&p);
	}
}

static void test_param_bool(void **state)
{
	static const char *const bad[] = { "1", "0", "yes", "", "truex" };
	struct hbr_kvlist p =
	        PARAMS({ "A", "true" }, { "B", "FALSE" }, { "C", "True" });
	bool b = false;

	(void)state;
	assert_int_equal(hbr_param_bool(&b, &p, "A", false), 0);
	assert_true(b);
	assert_int_equal(hbr_param_bool(&b, &p, "B", true), 0);
	assert_false(b);
	assert_int_equal(hbr_param_bool(&b, &p, "C", false), 0);
	assert_true(b);
	assert_int_equal(hbr_param_bool(&b, &p, "Absent", true), 0);
	assert_true(b);
	assert_int_equal(hbr_param_bool(&b, &p, "Absent", false), 0);
	assert_false(b);
	hbr_kvlist_release(&p);

	for (size_t i = 0; i < HBR_ARRAY_SIZE(bad); i++) {
		p = PARAMS({ "Flag", bad[i] });
		assert_int_equal(hbr_param_bool(&b, &p, "Flag", false),
		                 HBR_EINVAL);
		assert_string_equal(hbr_error_param(), "Flag");
		hbr_kvlist_release(&p);
	}
}

static void test_param_enum(void **state)
{
	static const char *const types[] = { "ECS_CLIENT", "CONTAINER_CLIENT" };
	struct hbr_kvlist p = PARAMS({ "ClientType", "CONTAINER_CLIENT" },
	                             { "Bad", "ecs_client" });
	const char *v = NULL;

	(void)state;
	assert_int_equal(hbr_param_enum(&v, &p, "ClientType", types, 2, NULL),
	                 0);
	assert_ptr_equal(v, types[1]); /* the table's own string */
	assert_int_equal(hbr_param_enum(&v, &p, "Absent", types, 2, "DEF"), 0);
	assert_string_equal(v, "DEF");
	v = "unset";
	assert_int_equal(hbr_param_enum(&v, &p, "Bad", types, 2, NULL),
	                 HBR_EINVAL); /* exact match only */
	assert_string_equal(hbr_error_param(), "Bad");
	assert_non_null(strstr(hbr_error_msg(), "ecs_client"));
	assert_string_equal(v, "unset");
	hbr_kvlist_release(&p);
}

static void test_param_json_strings(void **state)
{
	struct hbr_kvlist p = PARAMS(
	        { "Include", "[\"/home\",\"/etc\"]" }, { "Flat", "/home" },
	        { "Mixed", "[1, \"/a\"]" }, { "Empty", "" });
	const char *v = "unset";

	(void)state;
	assert_int_equal(hbr_param_json_strings(&v, &p, "Include", 100), 0);
	assert_string_equal(v, "[\"/home\",\"/etc\"]");
	assert_int_equal(hbr_param_json_strings(&v, &p, "Absent", 100), 0);
	assert_null(v);
	assert_int_equal(hbr_param_json_strings(&v, &p, "Empty", 100), 0);
	assert_string_equal(v, "");
	assert_int_equal(hbr_param_json_strings(&v, &p, "Flat", 100),
	                 HBR_EINVAL);
	assert_string_equal(hbr_error_param(), "Flat");
	assert_int_equal(hbr_param_json_strings(&v, &p, "Mixed", 100),
	                 HBR_EINVAL);
	assert_string_equal(hbr_error_param(), "Mixed");
	assert_int_equal(hbr_param_json_strings(&v, &p, "Include", 5),
	                 HBR_EINVAL);
	hbr_kvlist_release(&p);
}

/*
 * When list_json fails after it has added entries (a good path followed
 * by a bad one), the partial list must still be released; only
 * LeakSanitizer sees a leak here, so this matters in the ASan build.
 */
static void test_param_json_strings_bad_entry_does_not_leak(void **state)
{
	struct hbr_kvlist p = PARAMS({ "Include", "[\"/a\", 1]" });
	const char *v = "unset";

	(void)state;
	assert_int_equal(hbr_param_json_strings(&v, &p, "Include", 100),
	                 HBR_EINVAL);
	assert_string_equal(v, "unset");
	hbr_kvlist_release(&p);
}

static void test_paging(void **state)
{
	struct hbr_kvlist p = HBR_KVLIST_INIT;
	int64_t num = 0, size = 0;

	(void)state;
	assert_int_equal(hbr_param_paging(&num, &size, &p), 0);
	assert_int_equal(num, 1);
	assert_int_equal(size, 10);

	p = PARAMS({ "PageNumber", "3" }, { "PageSize", "99" });
	assert_int_equal(hbr_param_paging(&num, &size, &p), 0);
	assert_int_equal(num, 3);
	assert_int_equal(size, 99);
	hbr_kvlist_release(&p);

	p = PARAMS({ "PageSize", "1" });
	assert_int_equal(hbr_param_paging(&num, &size, &p), 0);
	assert_int_equal(size, 1);
	hbr_kvlist_release(&p);

	p = PARAMS({ "PageSize", "100" });
	assert_int_equal(hbr_param_paging(&num, &size, &p), HBR_EINVAL);
	assert_string_equal(hbr_error_param(), "PageSize");
	hbr_kvlist_release(&p);

	p = PARAMS({ "PageSize", "0" });
	assert_int_equal(hbr_param_paging(&num, &size, &p), HBR_EINVAL);
	assert_string_equal(hbr_error_param(), "PageSize");
	hbr_kvlist_release(&p);

	p = PARAMS({ "PageNumber", "0" });
	assert_int_equal(hbr_param_paging(&num, &size, &p), HBR_EINVAL);
	assert_string_equal(hbr_error_param(), "PageNumber");
	hbr_kvlist_release(&p);

	p = PARAMS({ "PageNumber", "two" });
	assert_int_equal(hbr_param_paging(&num, &size, &p), HBR_EINVAL);
	assert_string_equal(hbr_error_param(), "PageNumber");
	hbr_kvlist_release(&p);
}

/* ---- Filters ------------------------------------------------------------ */

static const struct hbr_filter_key keys[] = {
	{ "JobId", "JobId" },
	{ "Status", "Status" },
	{ "CreatedTime", "CreatedTime" },
	{ "RegionId", "" }, /* meaningless here: accepted, ignored */
	{ "instanceName", "" },
};

/* Parse Filters from p (released), expecting success. */
static struct hbr_filters filters_ok(struct hbr_kvlist *p)
{
	struct hbr_filters f = { 0 };
	int rc = hbr_param_filters(&f, p, keys, HBR_ARRAY_SIZE(keys));

	if (rc != 0)
		fail_msg("filters refused (%d): %s", rc, hbr_error_msg());
	hbr_kvlist_release(p);
	return f;
}

/* Expect InvalidFilters with a message containing frag (may be NULL). */
static void filters_bad(struct hbr_kvlist *p, const char *frag)
{
	struct hbr_filters f = { 0 };

	assert_int_equal(hbr_param_filters(&f, p, keys, HBR_ARRAY_SIZE(keys)),
	                 HBR_EINVAL);
	assert_string_equal(hbr_error_param(), "Filters");
	if (frag && !strstr(hbr_error_msg(), frag))
		fail_msg("message '%s' lacks '%s'", hbr_error_msg(), frag);
	assert_null(f.conds);
	assert_int_equal(f.n, 0);
	hbr_kvlist_release(p);
}

static void assert_cond(const struct hbr_cond *c, const char *field,
                        enum hbr_cond_op op, const char *values)
{
	char got[256] = "";

	assert_string_equal(c->field, field);
	assert_int_equal(c->op, op);
	for (size_t i = 0; i < c->nvalues; i++) {
		if (i)
			strcat(got, "|");
		strcat(got, c->values[i]);
	}
	assert_string_equal(got, values);
}

static void test_filters_default_operator_is_in(void **state)
{
	struct hbr_kvlist p = PARAMS({ "Filters.1.Key", "JobId" },
	                             { "Filters.1.Values.1", "job-1" },
	                             { "Filters.1.Values.2", "job-2" });
	struct hbr_filters f = filters_ok(&p);

	(void)state;
	assert_int_equal(f.n, 1);
	assert_cond(&f.conds[0], "JobId", HBR_OP_IN, "job-1|job-2");
	hbr_filters_release(&f);
	assert_null(f.conds);
	assert_int_equal(f.n, 0);
}

static void test_filters_every_operator(void **state)
{
	static const struct {
		const char *name;
		enum hbr_cond_op op;
		size_t nvalues;
	} ops[] = {
		{ "EQUAL", HBR_OP_EQ, 1 },
		{ "NOT_EQUAL", HBR_OP_NE, 1 },
		{ "GREATER_THAN", HBR_OP_GT, 1 },
		{ "GREATER_THAN_OR_EQUAL", HBR_OP_GE, 1 },
		{ "LESS_THAN", HBR_OP_LT, 1 },
		{ "LESS_THAN_OR_EQUAL", HBR_OP_LE, 1 },
		{ "BETWEEN", HBR_OP_BETWEEN, 2 },
		{ "IN", HBR_OP_IN, 2 },
		{ "NOT_IN", HBR_OP_NOT_IN, 2 },
	};

	(void)state;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(ops); i++) {
		struct hbr_kvlist p =
		        ops[i].nvalues == 1 ?
		                PARAMS({ "Filters.1.Key", "CreatedTime" },
		                       { "Filters.1.Operator", ops[i].name },
		                       { "Filters.1.Values.1", "100" }) :
		                PARAMS({ "Filters.1.Key", "CreatedTime" },
		                       { "Filters.1.Operator", ops[i].name },
		                       { "Filters.1.Values.1", "100" },
		                       { "Filters.1.Values.2", "200" });
		struct hbr_filters f = filters_ok(&p);
		assert_int_equal(f.n, 1);
		assert_cond(&f.conds[0], "CreatedTime", ops[i].op,
		            ops[i].nvalues == 1 ? "100" : "100|200");
		hbr_filters_release(&f);
	}
}

static void test_filters_keys_match_case_insensitively(void **state)
{
	struct hbr_kvlist p = PARAMS({ "Filters.1.Key", "jobid" },
	                             { "Filters.1.Values.1", "job-1" },
	                             { "Filters.1.Operator", "EQUAL" });
	struct hbr_filters f = filters_ok(&p);

	(void)state;
	assert_int_equal(f.n, 1);
	assert_cond(&f.conds[0], "JobId", HBR_OP_EQ, "job-1");
	hbr_filters_release(&f);
}

static void test_filters_values_as_json_text(void **state)
{
	struct hbr_kvlist p =
	        PARAMS({ "Filters.1.Key", "Status" },
	               { "Filters.1.Values", "[\"RUNNING\",\"QUEUED\"]" });
	struct hbr_filters f = filters_ok(&p);

	(void)state;
	assert_int_equal(f.n, 1);
	assert_cond(&f.conds[0], "Status", HBR_OP_IN, "RUNNING|QUEUED");
	hbr_filters_release(&f);
}

static void test_filters_between_forms(void **state)
{
	struct hbr_kvlist p;
	struct hbr_filters f;

	(void)state;
	/* two values */
	p = PARAMS({ "Filters.1.Key", "CreatedTime" },
	           { "Filters.1.Operator", "BETWEEN" },
	           { "Filters.1.Values.1", "1600000000" },
	           { "Filters.1.Values.2", "1700000000" });
	f = filters_ok(&p);
	assert_cond(&f.conds[0], "CreatedTime", HBR_OP_BETWEEN,
	            "1600000000|1700000000");
	hbr_filters_release(&f);

	/* one JSON text "[min,max]", numbers or strings */
	p = PARAMS({ "Filters.1.Key", "CreatedTime" },
	           { "Filters.1.Operator", "BETWEEN" },
	           { "Filters.1.Values.1", "[1600000000,1700000000]" });
	f = filters_ok(&p);
	assert_int_equal(f.n, 1);
	assert_cond(&f.conds[0], "CreatedTime", HBR_OP_BETWEEN,
	            "1600000000|1700000000");
	hbr_filters_release(&f);

	p = PARAMS({ "Filters.1.Key", "CreatedTime" },
	           { "Filters.1.Operator", "BETWEEN" },
	           { "Filters.1.Values.1", "[\"5\",\"9\"]" });
	f = filters_ok(&p);
	assert_cond(&f.conds[0], "CreatedTime", HBR_OP_BETWEEN, "5|9");
	hbr_filters_release(&f);
}

static void test_filters_bad_between(void **state)
{
	static const char *const one_value[] = {
		"[1]", "[1,2,3]", "[1,", "[1.5,2]", "[1,true]", "5",
	};
	struct hbr_kvlist p;

	(void)state;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(one_value); i++) {
		p = PARAMS({ "Filters.1.Key", "CreatedTime" },
		           { "Filters.1.Operator", "BETWEEN" },
		           { "Filters.1.Values.1", one_value[i] });
		filters_bad(&p, NULL);
	}
	p = PARAMS({ "Filters.1.Key", "CreatedTime" },
	           { "Filters.1.Operator", "BETWEEN" },
	           { "Filters.1.Values.1", "1" }, { "Filters.1.Values.2", "2" },
	           { "Filters.1.Values.3", "3" });
	filters_bad(&p, NULL);
}

static void test_filters_errors(void **state)
{
	struct hbr_kvlist p;

	(void)state;
	p = PARAMS({ "Filters.1.Key", "Bucket" },
	           { "Filters.1.Values.1", "b" });
	filters_bad(&p, "Bucket");
	p = PARAMS({ "Filters.1.Key", "JobId" },
	           { "Filters.1.Operator", "LIKE" },
	           { "Filters.1.Values.1", "j" });
	filters_bad(&p, "LIKE");
	p = PARAMS({ "Filters.1.Key", "JobId" },
	           { "Filters.1.Operator", "equal" },
	           { "Filters.1.Values.1", "j" });
	filters_bad(&p, "equal");
	p = PARAMS({ "Filters.1.Key", "JobId" });
	filters_bad(&p, "no values");
	p = PARAMS(
	        { "Filters.1.Key", "JobId" }, { "Filters.1.Operator", "EQUAL" },
	        { "Filters.1.Values.1", "a" }, { "Filters.1.Values.2", "b" });
	filters_bad(&p, NULL);
	/* a bad value list is reported as Filters, not Filters.1.Values */
	p = PARAMS({ "Filters.1.Key", "JobId" },
	           { "Filters.1.Values", "[1,2]" });
	filters_bad(&p, "not a string");
	p = PARAMS({ "Filters.1.Key", "JobId" },
	           { "Filters.1.Values", "[\"a\"" });
	filters_bad(&p, NULL);
	/* one bad filter fails them all, and nothing leaks */
	p = PARAMS({ "Filters.1.Key", "JobId" }, { "Filters.1.Values.1", "j" },
	           { "Filters.2.Key", "Nope" }, { "Filters.2.Values.1", "x" });
	filters_bad(&p, "Nope");
}

static void test_filters_ignored_keys(void **state)
{
	struct hbr_kvlist p = PARAMS({ "Filters.1.Key", "RegionId" },
	                             { "Filters.1.Values.1", "cn-hangzhou" },
	                             { "Filters.2.Key", "INSTANCENAME" },
	                             { "Filters.2.Operator", "WHATEVER" },
	                             { "Filters.3.Key", "Status" },
	                             { "Filters.3.Values.1", "RUNNING" });
	struct hbr_filters f = filters_ok(&p);

	(void)state;
	assert_int_equal(f.n, 1);
	assert_cond(&f.conds[0], "Status", HBR_OP_IN, "RUNNING");
	hbr_filters_release(&f);
}

static void test_filters_several_with_gaps(void **state)
{
	struct hbr_kvlist p = PARAMS({ "Filters.3.Key", "Status" },
	                             { "Filters.3.Values.1", "RUNNING" },
	                             { "Filters.1.Key", "JobId" },
	                             { "Filters.1.Values.1", "job-1" },
	                             { "Filters.1.Operator", "EQUAL" });
	struct hbr_filters f = filters_ok(&p);

	(void)state;
	assert_int_equal(f.n, 2);
	assert_cond(&f.conds[0], "JobId", HBR_OP_EQ, "job-1");
	assert_cond(&f.conds[1], "Status", HBR_OP_IN, "RUNNING");
	hbr_filters_release(&f);
}

static void test_filters_index_order_not_arrival_order(void **state)
{
	struct hbr_kvlist p = PARAMS(
	        { "Filters.10.Key", "Status" },
	        { "Filters.10.Values.1", "RUNNING" },
	        { "Filters.2.Key", "JobId" }, { "Filters.2.Values.1", "job-2" },
	        { "Filters.101.Key", "Nope" }, { "Filters.0.Key", "Nope" });
	struct hbr_filters f = filters_ok(&p);

	(void)state;
	/* 2 before 10 (numeric, not text order); 0 and 101 are not
	 * filter indexes and are ignored */
	assert_int_equal(f.n, 2);
	assert_cond(&f.conds[0], "JobId", HBR_OP_IN, "job-2");
	assert_cond(&f.conds[1], "Status", HBR_OP_IN, "RUNNING");
	hbr_filters_release(&f);
}

/*
 * "Filters.01.Key", "Filters.+1.Key" and "Filters. 1.Key" must not be
 * taken for index 1: looking up the canonical "Filters.1.Key" would then
 * find nothing, and a NULL key once crashed hbrd.
 */
static void test_filters_non_canonical_index_does_not_crash(void **state)
{
	static const char *const keys_[] = { "Filters.01.Key", "Filters.+1.Key",
		                             "Filters. 1.Key" };

	(void)state;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(keys_); i++) {
		struct hbr_kvlist p = PARAMS({ keys_[i], "JobId" });
		struct hbr_filters f = { 0 };
		int rc = hbr_param_filters(&f, &p, keys, HBR_ARRAY_SIZE(keys));
		/* ignoring it or refusing it are both fine */
		assert_true(rc == 0 || rc == HBR_EINVAL);
		if (rc == 0)
			hbr_filters_release(&f);
		hbr_kvlist_release(&p);
	}
}

static void test_filters_none(void **state)
{
	struct hbr_kvlist p = PARAMS({ "PageSize", "10" });
	struct hbr_filters f = filters_ok(&p);

	(void)state;
	assert_int_equal(f.n, 0);
	hbr_filters_release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_json_form),
		cmocka_unit_test(test_list_flattened_form),
		cmocka_unit_test(test_list_flattened_repeated_index_keeps_last),
		cmocka_unit_test(test_list_comma_form),
		cmocka_unit_test(test_list_present_flag),
		cmocka_unit_test(test_list_bad_json),
		cmocka_unit_test(test_list_non_string_entry_is_named),
		cmocka_unit_test(test_list_empty_entry),
		cmocka_unit_test(test_list_too_many_entries),
		cmocka_unit_test(test_list_too_long_entry),
		cmocka_unit_test(test_list_bad_flattened_index),
		cmocka_unit_test(test_param_str),
		cmocka_unit_test(test_param_int),
		cmocka_unit_test(test_param_bool),
		cmocka_unit_test(test_param_enum),
		cmocka_unit_test(test_param_json_strings),
		cmocka_unit_test(test_paging),
		cmocka_unit_test(test_filters_default_operator_is_in),
		cmocka_unit_test(test_filters_every_operator),
		cmocka_unit_test(test_filters_keys_match_case_insensitively),
		cmocka_unit_test(test_filters_values_as_json_text),
		cmocka_unit_test(test_filters_between_forms),
		cmocka_unit_test(test_filters_bad_between),
		cmocka_unit_test(test_filters_errors),
		cmocka_unit_test(test_filters_ignored_keys),
		cmocka_unit_test(test_filters_several_with_gaps),
		cmocka_unit_test(test_filters_index_order_not_arrival_order),
		cmocka_unit_test(test_filters_none),
		cmocka_unit_test(
		        test_param_json_strings_bad_entry_does_not_leak),
		cmocka_unit_test(
		        test_filters_non_canonical_index_does_not_crash),
	};

	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	return failed;
}
