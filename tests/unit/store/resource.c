/*
 * store_resource.h: insert/get/set of every entity with the core/model.h
 * documents, list filtering with every operator, paging, ordering, and
 * tenant isolation.
 */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "unit/store/fixture.h"

static int setup(void **state)
{
	struct fx *f = hbr_calloc(1, sizeof(*f));

	fx_open(f, "store_resource");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx_close(*state);
	hbr_free(*state);
	return 0;
}

/* ---- insert / get / set ------------------------------------------------ */

static json_t *must_get(struct fx *f, enum hbr_entity e, const char *acc,
                        const char *id)
{
	json_t *obj = NULL;
	int rc = hbr_store_get(&obj, f->s, e, acc, id);

	if (rc != 0)
		fail_msg("get %s: %d %s", id, rc, hbr_error_msg());
	return obj;
}

static const char *s_of(json_t *obj, const char *field)
{
	const char *v = json_string_value(json_object_get(obj, field));

	if (!v)
		fail_msg("%s is not a string", field);
	return v;
}

static int64_t i_of(json_t *obj, const char *field)
{
	json_t *v = json_object_get(obj, field);

	if (!json_is_integer(v))
		fail_msg("%s is not an integer", field);
	return json_integer_value(v);
}

static void test_vault_round_trip(void **state)
{
	struct fx *f = *state;
	char v[HBR_ID_MAX];
	json_t *obj;

	begin(f);
	new_vault(f, f->acc_a, v, 1111);
	commit(f);
	obj = must_get(f, HBR_ENT_VAULT, f->acc_a, v);
	assert_string_equal(s_of(obj, "VaultId"), v);
	assert_string_equal(s_of(obj, "VaultName"), "vault");
	assert_string_equal(s_of(obj, "Status"), "CREATED");
	assert_int_equal(i_of(obj, "CreatedTime"), 1111);
	/* the document keeps the nested shapes */
	assert_string_equal(
	        json_string_value(json_array_get(
	                json_object_get(json_object_get(obj, "SourceTypes"),
	                                "SourceType"),
	                0)),
	        "ECS_FILE");
	assert_true(json_is_array(
	        json_object_get(json_object_get(obj, "Tags"), "Tag")));
	assert_true(json_is_boolean(json_object_get(obj, "Dedup")));
	json_decref(obj);
}

static void test_client_round_trip(void **state)
{
	struct fx *f = *state;
	char c[HBR_ID_MAX];
	json_t *obj, *settings;

	begin(f);
	new_client(f, f->acc_a, c, "ACTIVATED", 2222);
	commit(f);
	obj = must_get(f, HBR_ENT_CLIENT, f->acc_a, c);
	assert_string_equal(s_of(obj, "ClientId"), c);
	assert_string_equal(s_of(obj, "Status"), "ACTIVATED");
	assert_string_equal(s_of(obj, "BackupStatus"), "UNPROTECTED");
	assert_int_equal(i_of(obj, "CreatedTime"), 2222);
	assert_int_equal(i_of(obj, "LastHeartBeatTime"), 0);
	settings = json_object_get(obj, "Settings");
	assert_string_equal(s_of(settings, "MaxCpuCore"), "0");
	assert_string_equal(s_of(settings, "UseHttps"), "false");
	json_decref(obj);
}

static void test_plan_job_snapshot_round_trip(void **state)
{
	struct fx *f = *state;
	char v[HBR_ID_MAX], c[HBR_ID_MAX], p[HBR_ID_MAX], j[HBR_ID_MAX],
	        j2[HBR_ID_MAX], s[HBR_ID_MAX];
	json_t *obj;

	begin(f);
	new_vault(f, f->acc_a, v, 10);
	new_client(f, f->acc_a, c, "ACTIVATED", 10);
	new_plan(f, f->acc_a, p, c, v, 20);
	new_job(f, f->acc_a, j, c, v, p, "RUNNING", 30);
	new_job(f, f->acc_a, j2, c, v, NULL, "QUEUED", 31);
	new_snapshot(f, f->acc_a, s, c, v, p, j, 4096, 40);
	commit(f);

	obj = must_get(f, HBR_ENT_PLAN, f->acc_a, p);
	assert_string_equal(s_of(obj, "ClientId"), c);
	assert_string_equal(s_of(obj, "VaultId"), v);
	assert_true(json_is_false(json_object_get(obj, "Disabled")));
	assert_true(json_is_array(
	        json_object_get(json_object_get(obj, "Paths"), "Path")));
	assert_int_equal(i_of(obj, "CreatedTime"), 20);
	json_decref(obj);

	obj = must_get(f, HBR_ENT_JOB, f->acc_a, j);
	assert_string_equal(s_of(obj, "Status"), "RUNNING");
	assert_string_equal(s_of(obj, "PlanId"), p);
	/* no completion yet: the NULL column hides the field */
	assert_null(json_object_get(obj, "CompleteTime"));
	json_decref(obj);

	obj = must_get(f, HBR_ENT_JOB, f->acc_a, j2);
	assert_true(json_is_null(json_object_get(obj, "PlanId")));
	json_decref(obj);

	obj = must_get(f, HBR_ENT_SNAPSHOT, f->acc_a, s);
	assert_string_equal(s_of(obj, "JobId"), j);
	assert_int_equal(i_of(obj, "ActualBytes"), 4096);
	assert_int_equal(i_of(obj, "RangeStart"), 40000);
	json_decref(obj);
}

static void test_task_and_restore_round_trip(void **state)
{
	struct fx *f = *state;
	char t[HBR_ID_MAX], r[HBR_ID_MAX];
	json_t *obj;

	hbr_id_new(t, HBR_ID_TASK);
	begin(f);
	insert(f, f->acc_a, HBR_ENT_TASK,
	       json_pack("{s:s, s:s, s:s, s:i, s:s, s:I, s:I, s:[s]}", "TaskId",
	                 t, "Name", "CreateVaultTask", "Description", "created",
	                 "Progress", 0, "Result", "", "CreatedTime",
	                 (json_int_t)50, "UpdatedTime", (json_int_t)50, "Extra",
	                 "kept"));
	new_restore(f, f->acc_a, r, "s-x", "c-x", "v-x", "RUNNING", 60);
	commit(f);

	obj = must_get(f, HBR_ENT_TASK, f->acc_a, t);
	assert_string_equal(s_of(obj, "Name"), "CreateVaultTask");
	assert_int_equal(i_of(obj, "Progress"), 0);
	assert_null(json_object_get(obj, "CompletedTime"));
	assert_string_equal(json_string_value(json_array_get(
	                            json_object_get(obj, "Extra"), 0)),
	                    "kept");
	json_decref(obj);

	set_field(f, HBR_ENT_TASK, f->acc_a, t, "Progress", "100");
	set_field(f, HBR_ENT_TASK, f->acc_a, t, "CompletedTime", "70");
	obj = must_get(f, HBR_ENT_TASK, f->acc_a, t);
	assert_int_equal(i_of(obj, "Progress"), 100);
	assert_int_equal(i_of(obj, "CompletedTime"), 70);
	json_decref(obj);

	obj = must_get(f, HBR_ENT_RESTORE, f->acc_a, r);
	assert_string_equal(s_of(obj, "SourceClientId"), "c-x");
	assert_string_equal(s_of(obj, "Status"), "RUNNING");
	assert_string_equal(s_of(obj, "RestoreType"), "ECS_FILE");
	json_decref(obj);
}

static void test_duplicate_id_is_refused(void **state)
{
	struct fx *f = *state;
	char v[HBR_ID_MAX];
	json_t *dup;

	begin(f);
	new_vault(f, f->acc_a, v, 1);
	commit(f);
	/* even from another account, an id is taken once */
	dup = hbr_model_vault(v, "other", "r", 2);
	begin(f);
	assert_int_equal(hbr_store_insert(f->s, HBR_ENT_VAULT, f->acc_b, dup),
	                 HBR_EEXISTS);
	hbr_store_rollback(f->s);
	json_decref(dup);
	assert_string_equal(get_str(f, HBR_ENT_VAULT, f->acc_a, v, "VaultName"),
	                    "vault");
	assert_int_equal(get_rc(f, HBR_ENT_VAULT, f->acc_b, v), HBR_ENOVAULT);
}

static void test_plan_for_unknown_client_is_refused(void **state)
{
	struct fx *f = *state;
	json_t *p = hbr_model_plan("plan-0000000000000000000x", "c-nope", "i",
	                           "v", 1);

	begin(f);
	assert_true(hbr_store_insert(f->s, HBR_ENT_PLAN, f->acc_a, p) < 0);
	hbr_store_rollback(f->s);
	json_decref(p);
}

static void test_get_unknown_gives_the_entity_code(void **state)
{
	static const struct {
		enum hbr_entity e;
		int code;
	} cases[] = {
		{ HBR_ENT_VAULT, HBR_ENOVAULT },
		{ HBR_ENT_CLIENT, HBR_ENOCLIENT },
		{ HBR_ENT_TASK, HBR_ENOTASK },
		{ HBR_ENT_PLAN, HBR_ENOPLAN },
		{ HBR_ENT_JOB, HBR_ENOJOB },
		{ HBR_ENT_SNAPSHOT, HBR_ENOSNAPSHOT },
		{ HBR_ENT_RESTORE, HBR_ENORESTORE },
	};
	struct fx *f = *state;

	for (size_t i = 0; i < HBR_ARRAY_SIZE(cases); i++) {
		assert_int_equal(get_rc(f, cases[i].e, f->acc_a, "x-unknown-1"),
		                 cases[i].code);
		assert_non_null(strstr(hbr_error_msg(), "x-unknown-1"));
	}
}

static void test_set_updates_column_and_time(void **state)
{
	struct fx *f = *state;
	char v[HBR_ID_MAX], c[HBR_ID_MAX], p[HBR_ID_MAX], j[HBR_ID_MAX];
	json_t *obj;

	begin(f);
	new_vault(f, f->acc_a, v, 100);
	new_client(f, f->acc_a, c, "INSTALLING", 100);
	new_plan(f, f->acc_a, p, c, v, 100);
	new_job(f, f->acc_a, j, c, v, p, "QUEUED", 100);
	commit(f);

	set_field(f, HBR_ENT_CLIENT, f->acc_a, c, "BackupStatus", "PROTECTED");
	set_field(f, HBR_ENT_CLIENT, f->acc_a, c, "LastHeartBeatTime", "12345");
	obj = must_get(f, HBR_ENT_CLIENT, f->acc_a, c);
	assert_string_equal(s_of(obj, "BackupStatus"), "PROTECTED");
	assert_int_equal(i_of(obj, "LastHeartBeatTime"), 12345);
	assert_true(i_of(obj, "UpdatedTime") > 100); /* stamped now */
	assert_int_equal(i_of(obj, "CreatedTime"), 100);
	json_decref(obj);

	/* booleans are stored as booleans */
	set_field(f, HBR_ENT_PLAN, f->acc_a, p, "Disabled", "true");
	obj = must_get(f, HBR_ENT_PLAN, f->acc_a, p);
	assert_true(json_is_true(json_object_get(obj, "Disabled")));
	json_decref(obj);

	set_field(f, HBR_ENT_JOB, f->acc_a, j, "Status", "COMPLETE");
	set_field(f, HBR_ENT_JOB, f->acc_a, j, "CompleteTime", "999");
	obj = must_get(f, HBR_ENT_JOB, f->acc_a, j);
	assert_string_equal(s_of(obj, "Status"), "COMPLETE");
	assert_int_equal(i_of(obj, "CompleteTime"), 999);
	json_decref(obj);

	/* a number column refuses text, naming the field */
	assert_int_equal(hbr_store_set(f->s, HBR_ENT_JOB, f->acc_a, j,
	                               "CompleteTime", "soon"),
	                 HBR_EINVAL);
	assert_string_equal(hbr_error_param(), "CompleteTime");
	assert_int_equal(hbr_store_set(f->s, HBR_ENT_JOB, f->acc_a, j,
	                               "CompleteTime", "12x"),
	                 HBR_EINVAL);
}

/* ---- list -------------------------------------------------------------- */

#define NCL 6

/* Six clients of account A created at 1000, 2000, ... 6000; even ones
 * (index 0, 2, 4) ACTIVATED, odd ones REGISTERED. Two in account B. */
struct listing {
	struct fx *f;
	char cl[NCL][HBR_ID_MAX];
	char other[2][HBR_ID_MAX];
};

static struct listing *make_listing(struct fx *f)
{
	static struct listing l;

	memset(&l, 0, sizeof(l));
	l.f = f;
	begin(f);
	for (int i = 0; i < NCL; i++)
		new_client(f, f->acc_a, l.cl[i],
		           i % 2 ? "REGISTERED" : "ACTIVATED",
		           (int64_t)(i + 1) * 1000);
	for (int i = 0; i < 2; i++)
		new_client(f, f->acc_b, l.other[i], "ACTIVATED",
		           (int64_t)(i + 1) * 1000);
	commit(f);
	return &l;
}

/*
 * Run the listing and describe the rows as indexes into l->cl, e.g.
 * "0,2,4" ("?" for a row that is not one of them); *total gets the
 * unpaged count.
 */
static const char *run(struct listing *l, const struct hbr_list_req *req,
                       int64_t *total)
{
	static char out[256];
	json_t *rows = NULL, *row;
	size_t i;
	int rc = hbr_store_list(&rows, total, l->f->s, req);

	if (rc != 0)
		fail_msg("list failed (%d): %s", rc, hbr_error_msg());
	out[0] = '\0';
	json_array_foreach(rows, i, row)
	{
		const char *id =
		        json_string_value(json_object_get(row, "ClientId"));
		char idx[8] = "?";
		for (int k = 0; k < NCL; k++)
			if (id && !strcmp(id, l->cl[k]))
				snprintf(idx, sizeof(idx), "%d", k);
		if (i)
			strcat(out, ",");
		strcat(out, idx);
	}
	json_decref(rows);
	return out;
}

/* A one-condition client listing of account A, all rows, ascending. */
static const char *filter(struct listing *l, const char *field,
                          enum hbr_cond_op op, const char *const *vals,
                          size_t n, int64_t *total)
{
	struct hbr_cond c = { field, op, vals, n };
	struct hbr_list_req req = { HBR_ENT_CLIENT, l->f->acc_a, &c, 1,
		                    NULL,           false,       0,  100 };

	return run(l, &req, total);
}

static void test_list_every_operator(void **state)
{
	struct listing *l = make_listing(*state);
	const char *t3000[] = { "3000" };
	const char *range[] = { "2000", "4000" };
	const char *act[] = { "ACTIVATED" };
	int64_t total = -1;

	assert_string_equal(filter(l, "Status", HBR_OP_EQ, act, 1, &total),
	                    "0,2,4");
	assert_int_equal(total, 3);
	assert_string_equal(filter(l, "Status", HBR_OP_NE, act, 1, &total),
	                    "1,3,5");
	assert_string_equal(
	        filter(l, "CreatedTime", HBR_OP_GT, t3000, 1, &total), "3,4,5");
	assert_int_equal(total, 3);
	assert_string_equal(
	        filter(l, "CreatedTime", HBR_OP_GE, t3000, 1, &total),
	        "2,3,4,5");
	assert_string_equal(
	        filter(l, "CreatedTime", HBR_OP_LT, t3000, 1, &total), "0,1");
	assert_string_equal(
	        filter(l, "CreatedTime", HBR_OP_LE, t3000, 1, &total), "0,1,2");
	assert_string_equal(
	        filter(l, "CreatedTime", HBR_OP_BETWEEN, range, 2, &total),
	        "1,2,3");
	assert_int_equal(total, 3);
	{
		const char *in[] = { l->cl[1], l->cl[4], "c-unknown",
			             l->other[0] };
		assert_string_equal(
		        filter(l, "ClientId", HBR_OP_IN, in, 4, &total), "1,4");
		assert_int_equal(total, 2);
		assert_string_equal(
		        filter(l, "ClientId", HBR_OP_NOT_IN, in, 4, &total),
		        "0,2,3,5");
		assert_int_equal(total, 4);
	}
}

static void test_list_conditions_are_anded(void **state)
{
	struct listing *l = make_listing(*state);
	const char *ge[] = { "2000" };
	const char *act[] = { "ACTIVATED" };
	struct hbr_cond c[2] = { { "CreatedTime", HBR_OP_GE, ge, 1 },
		                 { "Status", HBR_OP_EQ, act, 1 } };
	struct hbr_list_req req = { HBR_ENT_CLIENT, l->f->acc_a, c, 2,
		                    NULL,           false,       0, 100 };
	int64_t total = -1;

	assert_string_equal(run(l, &req, &total), "2,4");
	assert_int_equal(total, 2);
}

static void test_list_paging_and_total(void **state)
{
	struct listing *l = make_listing(*state);
	struct hbr_list_req req = { HBR_ENT_CLIENT, l->f->acc_a, NULL, 0,
		                    NULL,           false,       0,    2 };
	int64_t total = -1;

	assert_string_equal(run(l, &req, &total), "0,1");
	assert_int_equal(total, NCL);
	req.offset = 2;
	assert_string_equal(run(l, &req, &total), "2,3");
	req.offset = 4;
	assert_string_equal(run(l, &req, &total), "4,5");
	req.offset = 5;
	assert_string_equal(run(l, &req, &total), "5");
	req.offset = 6; /* past the end: no rows, same total */
	assert_string_equal(run(l, &req, &total), "");
	assert_int_equal(total, NCL);
	req.offset = 0;
	req.limit = 0; /* count only */
	assert_string_equal(run(l, &req, &total), "");
	assert_int_equal(total, NCL);
}

static void test_list_ordering(void **state)
{
	struct listing *l = make_listing(*state);
	struct hbr_list_req req = { HBR_ENT_CLIENT, l->f->acc_a, NULL, 0,
		                    NULL,           true,        0,    100 };
	int64_t total = -1;
	char want[64] = "";
	int order[NCL];

	assert_string_equal(run(l, &req, &total), "5,4,3,2,1,0");
	req.offset = 1;
	req.limit = 2;
	assert_string_equal(run(l, &req, &total), "4,3");

	/* by another field: ClientId ascending is string order */
	for (int i = 0; i < NCL; i++)
		order[i] = i;
	for (int i = 1; i < NCL; i++)
		for (int k = i;
		     k > 0 && strcmp(l->cl[order[k - 1]], l->cl[order[k]]) > 0;
		     k--) {
			int tmp = order[k];
			order[k] = order[k - 1];
			order[k - 1] = tmp;
		}
	for (int i = 0; i < NCL; i++)
		snprintf(want + strlen(want), sizeof(want) - strlen(want),
		         "%s%d", i ? "," : "", order[i]);
	req.order_field = "ClientId";
	req.descending = false;
	req.offset = 0;
	req.limit = 100;
	assert_string_equal(run(l, &req, &total), want);
}

static void test_list_ties_are_broken_by_id(void **state)
{
	struct fx *f = *state;
	char a[HBR_ID_MAX], b[HBR_ID_MAX];
	struct hbr_list_req req = { HBR_ENT_VAULT, f->acc_a, NULL, 0,
		                    NULL,          false,    0,    10 };
	json_t *rows = NULL;
	int64_t total = 0;
	const char *first, *second;

	begin(f);
	new_vault(f, f->acc_a, a, 500);
	new_vault(f, f->acc_a, b, 500);
	commit(f);
	for (int desc = 0; desc < 2; desc++) {
		req.descending = desc;
		assert_int_equal(hbr_store_list(&rows, &total, f->s, &req), 0);
		assert_int_equal(json_array_size(rows), 2);
		first = json_string_value(
		        json_object_get(json_array_get(rows, 0), "VaultId"));
		second = json_string_value(
		        json_object_get(json_array_get(rows, 1), "VaultId"));
		if (desc)
			assert_true(strcmp(first, second) > 0);
		else
			assert_true(strcmp(first, second) < 0);
		json_decref(rows);
	}
}

static void test_list_rejects_unknown_fields(void **state)
{
	struct listing *l = make_listing(*state);
	struct fx *f = l->f;
	static const char *const bad[] = {
		"VaultName", /* a field of another entity */
		"account_id", /* SQL column names are not API fields */
		"doc",        "epoch", "CreatedTime; DROP TABLE clients", "",
	};
	const char *one[] = { "x" };
	json_t *rows = NULL;
	int64_t total = 0;

	for (size_t i = 0; i < HBR_ARRAY_SIZE(bad); i++) {
		struct hbr_cond c = { bad[i], HBR_OP_EQ, one, 1 };
		struct hbr_list_req req = { HBR_ENT_CLIENT, f->acc_a, &c, 1,
			                    NULL,           false,    0,  10 };
		assert_false(hbr_store_field_known(HBR_ENT_CLIENT, bad[i]));
		rows = NULL;
		assert_int_equal(hbr_store_list(&rows, &total, f->s, &req),
		                 HBR_EINVAL);
		assert_null(rows);
		assert_string_equal(hbr_error_param(), bad[i]);

		req.nconds = 0;
		req.order_field = bad[i];
		assert_int_equal(hbr_store_list(&rows, &total, f->s, &req),
		                 HBR_EINVAL);
		assert_string_equal(hbr_error_param(), bad[i]);
	}
	assert_true(hbr_store_field_known(HBR_ENT_CLIENT, "ClientId"));
	assert_true(hbr_store_field_known(HBR_ENT_VAULT, "VaultName"));
	assert_int_equal(rows_of(f, "clients"), NCL + 2);
}

static void test_list_rejects_wrong_value_counts(void **state)
{
	struct listing *l = make_listing(*state);
	const char *two[] = { "1000", "2000" };
	const char *three[] = { "1", "2", "3" };
	const char *word[] = { "yesterday" };
	static const struct {
		const char *field;
		enum hbr_cond_op op;
		size_t n;
	} bad[] = {
		{ "CreatedTime", HBR_OP_EQ, 2 },
		{ "CreatedTime", HBR_OP_GT, 2 },
		{ "CreatedTime", HBR_OP_BETWEEN, 1 },
		{ "CreatedTime", HBR_OP_BETWEEN, 3 },
		{ "ClientId", HBR_OP_IN, 0 },
		{ "ClientId", HBR_OP_NOT_IN, 0 },
		{ "ClientId", HBR_OP_EQ, 0 },
	};
	json_t *rows = NULL;
	int64_t total = 0;

	for (size_t i = 0; i < HBR_ARRAY_SIZE(bad); i++) {
		struct hbr_cond c = { bad[i].field, bad[i].op,
			              bad[i].n == 3 ? three : two, bad[i].n };
		struct hbr_list_req req = {
			HBR_ENT_CLIENT, l->f->acc_a, &c, 1, NULL, false, 0, 10
		};
		if (hbr_store_list(&rows, &total, l->f->s, &req) != HBR_EINVAL)
			fail_msg("case %zu accepted", i);
		assert_string_equal(hbr_error_param(), bad[i].field);
	}
	{
		/* a number field refuses a word */
		struct hbr_cond c = { "CreatedTime", HBR_OP_GT, word, 1 };
		struct hbr_list_req req = {
			HBR_ENT_CLIENT, l->f->acc_a, &c, 1, NULL, false, 0, 10
		};
		assert_int_equal(hbr_store_list(&rows, &total, l->f->s, &req),
		                 HBR_EINVAL);
		assert_string_equal(hbr_error_param(), "CreatedTime");
	}
}

static void test_list_values_are_data_not_sql(void **state)
{
	struct listing *l = make_listing(*state);
	const char *evil[] = { "x' OR '1'='1" };
	int64_t total = -1;

	assert_string_equal(filter(l, "ClientId", HBR_OP_EQ, evil, 1, &total),
	                    "");
	assert_int_equal(total, 0);
	assert_int_equal(rows_of(l->f, "clients"), NCL + 2);
}

static void test_list_boolean_and_other_entities(void **state)
{
	struct fx *f = *state;
	char v1[HBR_ID_MAX], v2[HBR_ID_MAX], c[HBR_ID_MAX], p[3][HBR_ID_MAX],
	        j[3][HBR_ID_MAX], s[3][HBR_ID_MAX];
	const char *yes[] = { "true" };
	const char *no[] = { "false" };
	const char *v1s[] = { v1 };
	const char *running[] = { "RUNNING", "QUEUED" };

	begin(f);
	new_vault(f, f->acc_a, v1, 1);
	new_vault(f, f->acc_a, v2, 1);
	new_client(f, f->acc_a, c, "ACTIVATED", 1);
	for (int i = 0; i < 3; i++) {
		new_plan(f, f->acc_a, p[i], c, i ? v2 : v1, 10 + i);
		new_job(f, f->acc_a, j[i], c, v1, p[i],
		        i == 0 ? "RUNNING" :
		        i == 1 ? "QUEUED" :
		                 "COMPLETE",
		        10 + i);
		new_snapshot(f, f->acc_a, s[i], c, i < 2 ? v1 : v2, p[i], j[i],
		             100, 10 + i);
	}
	commit(f);
	set_field(f, HBR_ENT_PLAN, f->acc_a, p[1], "Disabled", "true");

	{
		struct hbr_cond cd = { "Disabled", HBR_OP_EQ, yes, 1 };
		struct hbr_list_req req = { HBR_ENT_PLAN, f->acc_a, &cd, 1,
			                    NULL,         false,    0,   10 };
		json_t *rows = NULL;
		int64_t total = 0;
		assert_int_equal(hbr_store_list(&rows, &total, f->s, &req), 0);
		assert_int_equal(total, 1);
		assert_string_equal(json_string_value(json_object_get(
		                            json_array_get(rows, 0), "PlanId")),
		                    p[1]);
		json_decref(rows);
		cd.values = no;
		assert_int_equal(hbr_store_list(&rows, &total, f->s, &req), 0);
		assert_int_equal(total, 2);
		json_decref(rows);
	}
	{
		struct hbr_cond cv = { "VaultId", HBR_OP_EQ, v1s, 1 };
		struct hbr_list_req req = { HBR_ENT_PLAN, f->acc_a, &cv, 1,
			                    NULL,         false,    0,   10 };
		json_t *rows = NULL;
		int64_t total = 0;
		assert_int_equal(hbr_store_list(&rows, &total, f->s, &req), 0);
		assert_int_equal(total, 1);
		json_decref(rows);
		req.entity = HBR_ENT_SNAPSHOT;
		assert_int_equal(hbr_store_list(&rows, &total, f->s, &req), 0);
		assert_int_equal(total, 2);
		json_decref(rows);
	}
	{
		struct hbr_cond cs = { "Status", HBR_OP_IN, running, 2 };
		struct hbr_list_req req = { HBR_ENT_JOB, f->acc_a, &cs, 1,
			                    NULL,        false,    0,   10 };
		json_t *rows = NULL;
		int64_t total = 0;
		assert_int_equal(hbr_store_list(&rows, &total, f->s, &req), 0);
		assert_int_equal(total, 2);
		json_decref(rows);
	}
}

/* ---- list as text ------------------------------------------------------- */

/* hbr_store_list_text's rows parsed (duplicate keys refused) must equal
 * hbr_store_list's, with the same total. */
static void assert_text_matches(struct fx *f, const struct hbr_list_req *req)
{
	struct hbr_buf text = HBR_BUF_INIT;
	json_t *rows = NULL, *parsed;
	json_error_t jerr;
	int64_t t1 = -1, t2 = -2;
	char msg[4096] = "";

	assert_int_equal(hbr_store_list(&rows, &t1, f->s, req), 0);
	assert_int_equal(hbr_store_list_text(&text, &t2, f->s, req), 0);
	parsed = json_loads(hbr_buf_cstr(&text), JSON_REJECT_DUPLICATES, &jerr);
	if (!parsed) {
		snprintf(msg, sizeof(msg), "entity %d: not JSON (%s): %s",
		         (int)req->entity, jerr.text, hbr_buf_cstr(&text));
	} else if (!json_equal(parsed, rows)) {
		char *want = json_dumps(rows, JSON_COMPACT | JSON_SORT_KEYS);
		char *got = json_dumps(parsed, JSON_COMPACT | JSON_SORT_KEYS);
		snprintf(msg, sizeof(msg), "entity %d:\n text %s\n json %s",
		         (int)req->entity, got, want);
		free(want);
		free(got);
	}
	/* free before failing, so a failure leaks nothing */
	json_decref(parsed);
	json_decref(rows);
	hbr_buf_release(&text);
	if (msg[0])
		fail_msg("%s", msg);
	assert_int_equal(t1, t2);
}

static void test_list_text_matches_list(void **state)
{
	struct fx *f = *state;
	char v[HBR_ID_MAX], c[HBR_ID_MAX], c2[HBR_ID_MAX], p[HBR_ID_MAX],
	        j[HBR_ID_MAX], j2[HBR_ID_MAX], s[HBR_ID_MAX], r[HBR_ID_MAX],
	        t[HBR_ID_MAX];

	hbr_id_new(t, HBR_ID_TASK);
	begin(f);
	new_vault(f, f->acc_a, v, 1);
	new_client(f, f->acc_a, c, "ACTIVATED", 2);
	new_client(f, f->acc_a, c2, "INSTALLING", 3);
	new_plan(f, f->acc_a, p, c, v, 4);
	new_job(f, f->acc_a, j, c, v, p, "RUNNING", 5);
	new_job(f, f->acc_a, j2, c, v, NULL, "QUEUED", 6);
	new_snapshot(f, f->acc_a, s, c, v, p, j, 99, 7);
	new_restore(f, f->acc_a, r, s, c, v, "RUNNING", 8);
	insert(f, f->acc_a, HBR_ENT_TASK,
	       json_pack("{s:s, s:s, s:s, s:i, s:s, s:I, s:I}", "TaskId", t,
	                 "Name", "n", "Description", "d", "Progress", 0,
	                 "Result", "", "CreatedTime", (json_int_t)9,
	                 "UpdatedTime", (json_int_t)9));
	commit(f);
	/* overlays of every type, including text that needs escaping */
	set_field(f, HBR_ENT_CLIENT, f->acc_a, c, "BackupStatus", "PROTECTED");
	set_field(f, HBR_ENT_CLIENT, f->acc_a, c2, "Status",
	          "we\"ird\\ \n\x01 caf\xc3\xa9");
	set_field(f, HBR_ENT_PLAN, f->acc_a, p, "Disabled", "true");
	set_field(f, HBR_ENT_JOB, f->acc_a, j, "CompleteTime", "1234");
	set_field(f, HBR_ENT_VAULT, f->acc_a, v, "Status", "ERROR");

	for (int e = HBR_ENT_VAULT; e <= HBR_ENT_RESTORE; e++) {
		struct hbr_list_req req = { (enum hbr_entity)e,
			                    f->acc_a,
			                    NULL,
			                    0,
			                    NULL,
			                    false,
			                    0,
			                    10 };
		assert_text_matches(f, &req);
		req.descending = true;
		req.offset = 1;
		req.limit = 1;
		assert_text_matches(f, &req);
		req.limit = 0;
		assert_text_matches(f, &req);
	}
}

static void test_list_text_appends_and_handles_empty(void **state)
{
	struct fx *f = *state;
	struct hbr_list_req req = { HBR_ENT_CLIENT, f->acc_b, NULL, 0,
		                    NULL,           false,    0,    10 };
	struct hbr_buf text = HBR_BUF_INIT;
	int64_t total = -1;

	assert_int_equal(hbr_buf_puts(&text, "{\"Clients\":"), 0);
	assert_int_equal(hbr_store_list_text(&text, &total, f->s, &req), 0);
	assert_string_equal(hbr_buf_cstr(&text), "{\"Clients\":[]");
	assert_int_equal(total, 0);
	hbr_buf_release(&text);
}

static void test_list_text_rejects_unknown_fields(void **state)
{
	struct fx *f = *state;
	const char *one[] = { "x" };
	struct hbr_cond c = { "doc", HBR_OP_EQ, one, 1 };
	struct hbr_list_req req = { HBR_ENT_CLIENT, f->acc_a, &c, 1,
		                    NULL,           false,    0,  10 };
	struct hbr_buf text = HBR_BUF_INIT;
	int64_t total = 0;

	assert_int_equal(hbr_store_list_text(&text, &total, f->s, &req),
	                 HBR_EINVAL);
	assert_string_equal(hbr_error_param(), "doc");
	hbr_buf_release(&text);
}

/* ---- tenant isolation --------------------------------------------------- */

static void test_tenant_isolation(void **state)
{
	struct fx *f = *state;
	char v[HBR_ID_MAX], c[HBR_ID_MAX], p[HBR_ID_MAX], j[HBR_ID_MAX],
	        s[HBR_ID_MAX], r[HBR_ID_MAX], t[HBR_ID_MAX];
	const char *ids[] = { c };
	struct hbr_cond cond = { "ClientId", HBR_OP_IN, ids, 1 };
	json_t *rows = NULL;
	int64_t total = -1;

	hbr_id_new(t, HBR_ID_TASK);
	begin(f);
	new_vault(f, f->acc_a, v, 1);
	new_client(f, f->acc_a, c, "ACTIVATED", 1);
	new_plan(f, f->acc_a, p, c, v, 1);
	new_job(f, f->acc_a, j, c, v, p, "RUNNING", 1);
	new_snapshot(f, f->acc_a, s, c, v, p, j, 1, 1);
	new_restore(f, f->acc_a, r, s, c, v, "RUNNING", 1);
	insert(f, f->acc_a, HBR_ENT_TASK,
	       json_pack("{s:s, s:s, s:s, s:i, s:s, s:I, s:I}", "TaskId", t,
	                 "Name", "n", "Description", "d", "Progress", 0,
	                 "Result", "", "CreatedTime", (json_int_t)1,
	                 "UpdatedTime", (json_int_t)1));
	commit(f);

	/* B gets each entity's not-found code for A's ids */
	assert_int_equal(get_rc(f, HBR_ENT_VAULT, f->acc_b, v), HBR_ENOVAULT);
	assert_int_equal(get_rc(f, HBR_ENT_CLIENT, f->acc_b, c), HBR_ENOCLIENT);
	assert_int_equal(get_rc(f, HBR_ENT_PLAN, f->acc_b, p), HBR_ENOPLAN);
	assert_int_equal(get_rc(f, HBR_ENT_JOB, f->acc_b, j), HBR_ENOJOB);
	assert_int_equal(get_rc(f, HBR_ENT_SNAPSHOT, f->acc_b, s),
	                 HBR_ENOSNAPSHOT);
	assert_int_equal(get_rc(f, HBR_ENT_RESTORE, f->acc_b, r),
	                 HBR_ENORESTORE);
	assert_int_equal(get_rc(f, HBR_ENT_TASK, f->acc_b, t), HBR_ENOTASK);

	/* and lists nothing, even when naming them */
	for (int e = HBR_ENT_VAULT; e <= HBR_ENT_RESTORE; e++) {
		struct hbr_list_req req = { (enum hbr_entity)e,
			                    f->acc_b,
			                    NULL,
			                    0,
			                    NULL,
			                    false,
			                    0,
			                    10 };
		assert_int_equal(hbr_store_list(&rows, &total, f->s, &req), 0);
		assert_int_equal(total, 0);
		assert_int_equal(json_array_size(rows), 0);
		json_decref(rows);
	}
	{
		struct hbr_list_req req = { HBR_ENT_PLAN, f->acc_b, &cond, 1,
			                    NULL,         false,    0,     10 };
		assert_int_equal(hbr_store_list(&rows, &total, f->s, &req), 0);
		assert_int_equal(total, 0);
		json_decref(rows);
	}

	/* B cannot change A's rows either */
	assert_int_equal(hbr_store_set(f->s, HBR_ENT_CLIENT, f->acc_b, c,
	                               "BackupStatus", "PROTECTED"),
	                 0);
	assert_string_equal(
	        get_str(f, HBR_ENT_CLIENT, f->acc_a, c, "BackupStatus"),
	        "UNPROTECTED");
	assert_int_equal(hbr_store_set(f->s, HBR_ENT_JOB, f->acc_b, j, "Status",
	                               "FAILED"),
	                 0);
	assert_string_equal(get_str(f, HBR_ENT_JOB, f->acc_a, j, "Status"),
	                    "RUNNING");

	/* while A sees all of them */
	assert_int_equal(get_rc(f, HBR_ENT_SNAPSHOT, f->acc_a, s), 0);
	assert_int_equal(live_count(f, HBR_ENT_PLAN, f->acc_a, "ClientId", c),
	                 1);
}

static void test_vault_usage(void **state)
{
	struct fx *f = *state;
	char v[HBR_ID_MAX], v2[HBR_ID_MAX], c[HBR_ID_MAX], p[HBR_ID_MAX],
	        id[HBR_ID_MAX];
	struct hbr_vault_usage u;

	begin(f);
	new_vault(f, f->acc_a, v, 1);
	new_vault(f, f->acc_a, v2, 1);
	new_client(f, f->acc_a, c, "ACTIVATED", 1);
	new_plan(f, f->acc_a, p, c, v, 1);
	new_plan(f, f->acc_a, id, c, v2, 1);
	new_snapshot(f, f->acc_a, id, c, v, p, NULL, 100, 1);
	new_snapshot(f, f->acc_a, id, c, v, p, NULL, 23, 1);
	new_snapshot(f, f->acc_a, id, c, v2, p, NULL, 7, 1);
	commit(f);

	assert_int_equal(hbr_store_vault_usage(&u, f->s, v), 0);
	assert_int_equal(u.snapshots, 2);
	assert_int_equal(u.bytes, 123);
	assert_int_equal(u.plans, 1);
	assert_int_equal(hbr_store_vault_usage(&u, f->s, "v-empty"), 0);
	assert_int_equal(u.snapshots, 0);
	assert_int_equal(u.bytes, 0);
	assert_int_equal(u.plans, 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_vault_round_trip),
		T(test_client_round_trip),
		T(test_plan_job_snapshot_round_trip),
		T(test_task_and_restore_round_trip),
		T(test_duplicate_id_is_refused),
		T(test_plan_for_unknown_client_is_refused),
		T(test_get_unknown_gives_the_entity_code),
		T(test_set_updates_column_and_time),
		T(test_list_every_operator),
		T(test_list_conditions_are_anded),
		T(test_list_paging_and_total),
		T(test_list_ordering),
		T(test_list_ties_are_broken_by_id),
		T(test_list_rejects_unknown_fields),
		T(test_list_rejects_wrong_value_counts),
		T(test_list_values_are_data_not_sql),
		T(test_list_boolean_and_other_entities),
		T(test_list_text_matches_list),
		T(test_list_text_appends_and_handles_empty),
		T(test_list_text_rejects_unknown_fields),
		T(test_tenant_isolation),
		T(test_vault_usage),
	};

	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	return failed;
}
