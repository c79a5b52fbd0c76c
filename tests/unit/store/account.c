/*
 * Store basics and store_account.h: schema migration, accounts, access
 * keys, RAM users, attached policies, the audit table and the pool.
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

	fx_open(f, "store_account");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx_close(*state);
	hbr_free(*state);
	return 0;
}

static void assert_key_shape(const struct hbr_key_info *k)
{
	assert_int_equal(strlen(k->access_key_id), 24);
	assert_memory_equal(k->access_key_id, "LTAI", 4);
	assert_int_equal(strlen(k->secret), 30);
}

static void test_migrate_is_idempotent(void **state)
{
	struct fx *f = *state;
	int64_t v1 = 0, v2 = 0;

	assert_int_equal(hbr_store_schema_version(&v1, f->s), 0);
	assert_true(v1 >= 1);
	assert_int_equal(rows_of(f, "schema_version"), v1);

	/* migrating an up-to-date database again changes nothing */
	assert_int_equal(hbr_store_migrate(f->s), 0);
	assert_int_equal(hbr_store_schema_version(&v2, f->s), 0);
	assert_int_equal(v2, v1);

	/* and neither does reopening it; the data survives */
	hbr_store_close(f->s);
	assert_int_equal(hbr_store_open(&f->s, f->url), 0);
	assert_int_equal(hbr_store_schema_version(&v2, f->s), 0);
	assert_int_equal(v2, v1);
	assert_int_equal(rows_of(f, "schema_version"), v1);
	assert_int_equal(hbr_store_account_exists(f->s, f->acc_a), 0);
}

static void test_open_refuses_a_newer_schema(void **state)
{
	struct fx *f = *state;
	struct hbr_store *s2 = NULL;
	int64_t v = 0;

	assert_int_equal(hbr_store_schema_version(&v, f->s), 0);
	assert_int_equal(hbr_store_execf(f->s,
	                                 "INSERT INTO schema_version"
	                                 " VALUES (?, 0)",
	                                 "i", v + 1),
	                 0);
	assert_int_equal(hbr_store_open(&s2, f->url), HBR_EIO);
	assert_null(s2);
	assert_non_null(strstr(hbr_error_msg(), "newer"));
}

static void test_open_bad_path_fails(void **state)
{
	struct fx *f = *state;
	struct hbr_store *s2 = NULL;
	char url[4300];

	snprintf(url, sizeof(url), "sqlite:%s/no/such/dir/x.db", f->dir);
	assert_int_equal(hbr_store_open(&s2, url), HBR_EIO);
	assert_null(s2);
	assert_int_equal(hbr_store_open(&s2, "postgres://localhost/hbr"),
	                 HBR_EINVAL);
}

static void test_account_create_and_root_key(void **state)
{
	struct fx *f = *state;
	struct hbr_key_info k, root, got;

	assert_int_equal(hbr_store_account_create(&k, f->s, "gamma"), 0);
	assert_true(hbr_id_valid(k.account_id, HBR_ID_ACCOUNT));
	assert_key_shape(&k);
	assert_string_equal(k.user_id, "");
	assert_true(k.active);

	assert_int_equal(hbr_store_account_root_key(&root, f->s, k.account_id),
	                 0);
	assert_string_equal(root.access_key_id, k.access_key_id);
	assert_string_equal(root.secret, k.secret);

	assert_int_equal(hbr_store_key_get(&got, f->s, k.access_key_id), 0);
	assert_string_equal(got.secret, k.secret);
	assert_string_equal(got.account_id, k.account_id);
	assert_string_equal(got.user_id, "");
	assert_string_equal(got.user_name, "");
	assert_true(got.active);

	assert_int_equal(hbr_store_account_exists(f->s, k.account_id), 0);
	assert_int_equal(hbr_store_account_exists(f->s, "acc-nope"),
	                 HBR_ENOTFOUND);
}

static void test_account_first_is_the_oldest(void **state)
{
	struct fx *f = *state;
	char first[HBR_ID_MAX];

	assert_int_equal(hbr_store_account_first(first, f->s), 0);
	assert_string_equal(first, f->acc_a);
}

static void test_account_first_on_empty_database(void **state)
{
	struct fx *f = *state;
	char first[HBR_ID_MAX];

	assert_int_equal(hbr_store_execf(f->s, "DELETE FROM access_keys", NULL),
	                 0);
	assert_int_equal(hbr_store_execf(f->s, "DELETE FROM accounts", NULL),
	                 0);
	assert_int_equal(hbr_store_account_first(first, f->s), HBR_ENOTFOUND);
}

static void test_duplicate_account_name(void **state)
{
	struct fx *f = *state;
	struct hbr_key_info k;

	assert_int_equal(hbr_store_account_create(&k, f->s, "alpha"),
	                 HBR_EEXISTS);
	assert_non_null(strstr(hbr_error_msg(), "alpha"));
	/* nothing half-created */
	assert_int_equal(rows_of(f, "accounts"), 2);
	assert_int_equal(rows_of(f, "access_keys"), 2);
}

static void test_key_get_unknown(void **state)
{
	struct fx *f = *state;
	struct hbr_key_info k;

	assert_int_equal(hbr_store_key_get(&k, f->s, "LTAInope"),
	                 HBR_EKEYNOTFOUND);
	assert_int_equal(hbr_store_key_get(&k, f->s, ""), HBR_EKEYNOTFOUND);
}

static void test_users_and_their_keys(void **state)
{
	struct fx *f = *state;
	char bob[HBR_ID_MAX], bob_b[HBR_ID_MAX];
	struct hbr_key_info k, got;

	assert_int_equal(hbr_store_user_create(bob, f->s, f->acc_a, "bob"), 0);
	assert_true(hbr_id_valid(bob, HBR_ID_USER));
	assert_int_equal(hbr_store_user_create(bob_b, f->s, f->acc_a, "bob"),
	                 HBR_EEXISTS);
	/* names are per account */
	assert_int_equal(hbr_store_user_create(bob_b, f->s, f->acc_b, "bob"),
	                 0);
	assert_string_not_equal(bob, bob_b);

	assert_int_equal(hbr_store_key_create(&k, f->s, f->acc_a, "bob"), 0);
	assert_key_shape(&k);
	assert_string_equal(k.user_id, bob);
	assert_string_equal(k.user_name, "bob");
	assert_string_equal(k.account_id, f->acc_a);
	assert_true(k.active);

	assert_int_equal(hbr_store_key_get(&got, f->s, k.access_key_id), 0);
	assert_string_equal(got.user_id, bob);
	assert_string_equal(got.user_name, "bob");
	assert_string_equal(got.account_id, f->acc_a);
	assert_string_equal(got.secret, k.secret);

	assert_int_equal(hbr_store_key_create(&k, f->s, f->acc_a, "carol"),
	                 HBR_ENOTFOUND);
	/* a user key is never the account's root key */
	assert_int_equal(hbr_store_account_root_key(&got, f->s, f->acc_a), 0);
	assert_string_equal(got.user_id, "");
}

static void test_user_list(void **state)
{
	struct fx *f = *state;
	char id[HBR_ID_MAX];
	char *text = NULL;
	json_t *arr, *u;

	assert_int_equal(hbr_store_user_create(id, f->s, f->acc_a, "bob"), 0);
	assert_int_equal(hbr_store_user_create(id, f->s, f->acc_b, "eve"), 0);
	assert_int_equal(hbr_store_policy_attach(f->s, f->acc_a, "bob", "p1",
	                                         "{\"Version\":\"1\"}"),
	                 0);
	assert_int_equal(hbr_store_user_list(&text, f->s, f->acc_a), 0);
	arr = json_loads(text, 0, NULL);
	free(text);
	assert_true(json_is_array(arr));
	assert_int_equal(json_array_size(arr), 1); /* not eve */
	u = json_array_get(arr, 0);
	assert_string_equal(json_string_value(json_object_get(u, "UserName")),
	                    "bob");
	assert_true(hbr_id_valid(
	        json_string_value(json_object_get(u, "UserId")), HBR_ID_USER));
	assert_true(json_is_integer(json_object_get(u, "CreateDate")));
	assert_int_equal(json_array_size(json_object_get(u, "Policies")), 1);
	assert_string_equal(json_string_value(json_array_get(
	                            json_object_get(u, "Policies"), 0)),
	                    "p1");
	json_decref(arr);
}

static void test_key_set_active(void **state)
{
	struct fx *f = *state;
	struct hbr_key_info root, got;

	assert_int_equal(hbr_store_account_root_key(&root, f->s, f->acc_a), 0);
	assert_int_equal(hbr_store_key_set_active(f->s, f->acc_a,
	                                          root.access_key_id, false),
	                 0);
	assert_int_equal(hbr_store_key_get(&got, f->s, root.access_key_id), 0);
	assert_false(got.active);
	/* an inactive root key is not "the root key" */
	assert_int_equal(hbr_store_account_root_key(&got, f->s, f->acc_a),
	                 HBR_ENOTFOUND);

	assert_int_equal(hbr_store_key_set_active(f->s, f->acc_a,
	                                          root.access_key_id, true),
	                 0);
	assert_int_equal(hbr_store_key_get(&got, f->s, root.access_key_id), 0);
	assert_true(got.active);

	/* another account cannot touch it, and unknown keys are errors */
	assert_int_equal(hbr_store_key_set_active(f->s, f->acc_b,
	                                          root.access_key_id, false),
	                 HBR_EKEYNOTFOUND);
	assert_int_equal(hbr_store_key_get(&got, f->s, root.access_key_id), 0);
	assert_true(got.active);
	assert_int_equal(
	        hbr_store_key_set_active(f->s, f->acc_a, "LTAInope", false),
	        HBR_EKEYNOTFOUND);
}

static void test_key_delete(void **state)
{
	struct fx *f = *state;
	struct hbr_key_info k, got;
	char uid[HBR_ID_MAX];

	assert_int_equal(hbr_store_user_create(uid, f->s, f->acc_a, "u"), 0);
	assert_int_equal(hbr_store_key_create(&k, f->s, f->acc_a, "u"), 0);

	assert_int_equal(hbr_store_key_delete(f->s, f->acc_b, k.access_key_id),
	                 HBR_EKEYNOTFOUND);
	assert_int_equal(hbr_store_key_get(&got, f->s, k.access_key_id), 0);

	assert_int_equal(hbr_store_key_delete(f->s, f->acc_a, k.access_key_id),
	                 0);
	assert_int_equal(hbr_store_key_get(&got, f->s, k.access_key_id),
	                 HBR_EKEYNOTFOUND);
	assert_int_equal(hbr_store_key_delete(f->s, f->acc_a, k.access_key_id),
	                 HBR_EKEYNOTFOUND);
}

struct seen {
	char names[8][32];
	char docs[8][64];
	int n;
	int stop_after; /* return -99 after this many calls (0 = never) */
};

static int collect(const char *name, const char *doc, void *payload)
{
	struct seen *s = payload;

	if (s->n < 8) {
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
		snprintf(s->docs[s->n], sizeof(s->docs[0]), "%s", doc);
	}
	s->n++;
	return s->stop_after && s->n >= s->stop_after ? -99 : 0;
}

static void test_policies_attach_replace_detach(void **state)
{
	struct fx *f = *state;
	char uid[HBR_ID_MAX];
	struct seen s;

	assert_int_equal(hbr_store_user_create(uid, f->s, f->acc_a, "bob"), 0);
	assert_int_equal(hbr_store_policy_attach(f->s, f->acc_a, "bob", "zeta",
	                                         "{\"z\":1}"),
	                 0);
	assert_int_equal(hbr_store_policy_attach(f->s, f->acc_a, "bob", "alpha",
	                                         "{\"a\":1}"),
	                 0);

	memset(&s, 0, sizeof(s));
	assert_int_equal(hbr_store_policy_foreach(f->s, uid, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "alpha"); /* by name */
	assert_string_equal(s.docs[0], "{\"a\":1}");
	assert_string_equal(s.names[1], "zeta");

	/* attaching the same name again replaces the document */
	assert_int_equal(hbr_store_policy_attach(f->s, f->acc_a, "bob", "alpha",
	                                         "{\"a\":2}"),
	                 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(hbr_store_policy_foreach(f->s, uid, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.docs[0], "{\"a\":2}");

	assert_int_equal(
	        hbr_store_policy_detach(f->s, f->acc_a, "bob", "alpha"), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(hbr_store_policy_foreach(f->s, uid, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.names[0], "zeta");

	assert_int_equal(
	        hbr_store_policy_detach(f->s, f->acc_a, "bob", "alpha"),
	        HBR_ENOTFOUND);
	assert_int_equal(hbr_store_policy_detach(f->s, f->acc_a, "nobody", "x"),
	                 HBR_ENOTFOUND);
	assert_int_equal(
	        hbr_store_policy_attach(f->s, f->acc_a, "nobody", "x", "{}"),
	        HBR_ENOTFOUND);
	/* bob exists only in account A */
	assert_int_equal(
	        hbr_store_policy_attach(f->s, f->acc_b, "bob", "x", "{}"),
	        HBR_ENOTFOUND);
	assert_int_equal(hbr_store_policy_detach(f->s, f->acc_b, "bob", "zeta"),
	                 HBR_ENOTFOUND);
}

static void test_policy_foreach_stops_on_negative(void **state)
{
	struct fx *f = *state;
	char uid[HBR_ID_MAX];
	struct seen s;

	assert_int_equal(hbr_store_user_create(uid, f->s, f->acc_a, "bob"), 0);
	for (int i = 0; i < 3; i++) {
		char name[8];
		snprintf(name, sizeof(name), "p%d", i);
		assert_int_equal(hbr_store_policy_attach(f->s, f->acc_a, "bob",
		                                         name, "{}"),
		                 0);
	}
	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	assert_int_equal(hbr_store_policy_foreach(f->s, uid, collect, &s), -99);
	assert_int_equal(s.n, 2);

	/* a user with no policies: no calls */
	memset(&s, 0, sizeof(s));
	assert_int_equal(hbr_store_policy_foreach(f->s, "u-none", collect, &s),
	                 0);
	assert_int_equal(s.n, 0);
}

static void test_audit_insert(void **state)
{
	struct fx *f = *state;
	struct hbr_audit_entry e = {
		.time = 1700000000,
		.request_id = "REQ-1",
		.account_id = f->acc_a,
		.principal = "root",
		.access_key_id = "LTAIx",
		.source_ip = "127.0.0.1",
		.action = "DeleteBackupClientResource",
		.client_ids = "[\"c-1\"]",
		.code = "200",
		.plans_deleted = 1,
		.jobs_deleted = 2,
		.snapshots_deleted = 3,
	};
	int64_t n = 0;

	assert_int_equal(hbr_store_audit_insert(f->s, &e), 0);
	assert_int_equal(hbr_store_count(&n, f->s,
	                                 "SELECT COUNT(*) FROM audit_log WHERE"
	                                 " request_id = 'REQ-1' AND time = ?"
	                                 " AND client_ids = ? AND"
	                                 " plans_deleted = 1 AND"
	                                 " jobs_deleted = 2 AND"
	                                 " snapshots_deleted = 3",
	                                 "is", (int64_t)1700000000,
	                                 "[\"c-1\"]"),
	                 0);
	assert_int_equal(n, 1);

	/* NULL optional fields are fine; a missing request id is not */
	e.client_ids = NULL;
	e.principal = NULL;
	assert_int_equal(hbr_store_audit_insert(f->s, &e), 0);
	e.request_id = NULL;
	assert_true(hbr_store_audit_insert(f->s, &e) < 0);
	assert_int_equal(rows_of(f, "audit_log"), 2);
}

static void test_transactions_commit_and_rollback(void **state)
{
	struct fx *f = *state;
	char v1[HBR_ID_MAX], v2[HBR_ID_MAX];

	begin(f);
	new_vault(f, f->acc_a, v1, 100);
	hbr_store_rollback(f->s);
	assert_int_equal(get_rc(f, HBR_ENT_VAULT, f->acc_a, v1), HBR_ENOVAULT);

	begin(f);
	new_vault(f, f->acc_a, v2, 100);
	commit(f);
	assert_int_equal(get_rc(f, HBR_ENT_VAULT, f->acc_a, v2), 0);
	/* rollback outside a transaction is harmless */
	hbr_store_rollback(f->s);
	assert_int_equal(get_rc(f, HBR_ENT_VAULT, f->acc_a, v2), 0);
}

static void test_pool_connections_share_the_database(void **state)
{
	struct fx *f = *state;
	struct hbr_store_pool *pool = NULL;
	struct hbr_store *a, *b;
	char vid[HBR_ID_MAX];
	json_t *obj = NULL;

	assert_int_equal(hbr_store_pool_open(&pool, f->url, 2), 0);
	a = hbr_store_pool_get(pool);
	b = hbr_store_pool_get(pool);
	assert_ptr_not_equal(a, b);

	hbr_id_new(vid, HBR_ID_VAULT);
	obj = hbr_model_vault(vid, "pooled", "cn-hangzhou", 5);
	assert_int_equal(hbr_store_begin(a), 0);
	assert_int_equal(hbr_store_insert(a, HBR_ENT_VAULT, f->acc_a, obj), 0);
	assert_int_equal(hbr_store_commit(a), 0);
	json_decref(obj);
	obj = NULL;
	assert_int_equal(hbr_store_get(&obj, b, HBR_ENT_VAULT, f->acc_a, vid),
	                 0);
	assert_string_equal(
	        json_string_value(json_object_get(obj, "VaultName")), "pooled");
	json_decref(obj);

	hbr_store_pool_put(pool, a);
	/* a connection handed back is handed out again */
	assert_ptr_equal(hbr_store_pool_get(pool), a);
	hbr_store_pool_put(pool, a);
	hbr_store_pool_put(pool, b);
	hbr_store_pool_close(pool);
}

static void test_client_keys(void **state)
{
	struct fx *f = *state;
	struct hbr_key_info k1, k2, other, got, root, rootb;
	char c1[HBR_ID_MAX], c2[HBR_ID_MAX];

	assert_int_equal(hbr_store_account_root_key(&root, f->s, f->acc_a), 0);
	new_client(f, f->acc_a, c1, "ACTIVATED", 100);
	new_client(f, f->acc_a, c2, "ACTIVATED", 100);

	begin(f);
	assert_int_equal(
	        hbr_store_key_create_for_client(&k1, f->s, f->acc_a, c1), 0);
	assert_int_equal(
	        hbr_store_key_create_for_client(&other, f->s, f->acc_a, c2), 0);
	commit(f);
	assert_key_shape(&k1);
	assert_string_equal(k1.client_id, c1);
	assert_string_equal(k1.user_id, "");
	assert_int_equal(hbr_store_key_get(&got, f->s, k1.access_key_id), 0);
	assert_string_equal(got.client_id, c1);
	assert_string_equal(got.account_id, f->acc_a);
	assert_string_equal(got.user_id, "");
	assert_true(got.active);

	/* an operator key has no client, and an agent key is never taken
	 * for the account's root key */
	assert_int_equal(hbr_store_key_get(&got, f->s, root.access_key_id), 0);
	assert_string_equal(got.client_id, "");
	assert_int_equal(hbr_store_account_root_key(&got, f->s, f->acc_a), 0);
	assert_string_equal(got.access_key_id, root.access_key_id);
	assert_int_equal(
	        hbr_store_key_delete(f->s, f->acc_a, root.access_key_id), 0);
	assert_int_equal(hbr_store_account_root_key(&got, f->s, f->acc_a),
	                 HBR_ENOTFOUND);

	/* a new key for the client replaces its old one, only its own */
	begin(f);
	assert_int_equal(
	        hbr_store_key_create_for_client(&k2, f->s, f->acc_a, c1), 0);
	commit(f);
	assert_string_not_equal(k2.access_key_id, k1.access_key_id);
	assert_int_equal(hbr_store_key_get(&got, f->s, k1.access_key_id),
	                 HBR_EKEYNOTFOUND);
	assert_int_equal(hbr_store_key_get(&got, f->s, k2.access_key_id), 0);
	assert_int_equal(hbr_store_key_get(&got, f->s, other.access_key_id), 0);

	/* deleting is per account */
	begin(f);
	assert_int_equal(hbr_store_client_keys_delete(f->s, f->acc_b, c1), 0);
	commit(f);
	assert_int_equal(hbr_store_key_get(&got, f->s, k2.access_key_id), 0);
	begin(f);
	assert_int_equal(hbr_store_client_keys_delete(f->s, f->acc_a, c1), 0);
	commit(f);
	assert_int_equal(hbr_store_key_get(&got, f->s, k2.access_key_id),
	                 HBR_EKEYNOTFOUND);
	assert_int_equal(hbr_store_key_get(&got, f->s, other.access_key_id), 0);
	assert_int_equal(hbr_store_account_root_key(&rootb, f->s, f->acc_b), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_migrate_is_idempotent),
		T(test_open_refuses_a_newer_schema),
		T(test_open_bad_path_fails),
		T(test_account_create_and_root_key),
		T(test_account_first_is_the_oldest),
		T(test_account_first_on_empty_database),
		T(test_duplicate_account_name),
		T(test_key_get_unknown),
		T(test_users_and_their_keys),
		T(test_user_list),
		T(test_key_set_active),
		T(test_key_delete),
		T(test_policies_attach_replace_detach),
		T(test_policy_foreach_stops_on_negative),
		T(test_audit_insert),
		T(test_transactions_commit_and_rollback),
		T(test_pool_connections_share_the_database),
		T(test_client_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
