/*
 * Store test fixture: a fresh SQLite database in a scratch directory
 * with two accounts (A and B), and small helpers to create resources
 * from the core/model.h documents and to count rows. Header-only; every
 * helper asserts its own success so tests read as a list of facts.
 */
#ifndef HBR_TEST_STORE_FIXTURE_H
#define HBR_TEST_STORE_FIXTURE_H

#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "core/id.h"
#include "core/model.h"
#include "store/store.h"
#include "store/store_account.h"
#include "store/store_resource.h"
#include "util/alloc.h"
#include "util/error.h"
#include "unit/util/tmpdir.h"

struct fx {
	char *dir;
	char url[4200];
	struct hbr_store *s;
	char acc_a[HBR_ID_MAX]; /* account "alpha" */
	char acc_b[HBR_ID_MAX]; /* account "beta" */
};

static inline void fx_open(struct fx *f, const char *tag)
{
	struct hbr_key_info k;

	memset(f, 0, sizeof(*f));
	f->dir = test_tmpdir(tag);
	assert_non_null(f->dir);
	snprintf(f->url, sizeof(f->url), "sqlite:%s/hbr.db", f->dir);
	assert_int_equal(hbr_store_open(&f->s, f->url), 0);
	assert_int_equal(hbr_store_account_create(&k, f->s, "alpha"), 0);
	memcpy(f->acc_a, k.account_id, HBR_ID_MAX);
	assert_int_equal(hbr_store_account_create(&k, f->s, "beta"), 0);
	memcpy(f->acc_b, k.account_id, HBR_ID_MAX);
}

static inline void fx_close(struct fx *f)
{
	hbr_store_close(f->s);
	f->s = NULL;
	test_rmtree(f->dir);
	f->dir = NULL;
}

static inline void begin(struct fx *f)
{
	assert_int_equal(hbr_store_begin(f->s), 0);
}

static inline void commit(struct fx *f)
{
	assert_int_equal(hbr_store_commit(f->s), 0);
}

/* Insert obj (consumed) for account acc. */
static inline void insert(struct fx *f, const char *acc, enum hbr_entity e,
                          json_t *obj)
{
	int rc = hbr_store_insert(f->s, e, acc, obj);

	if (rc != 0)
		fail_msg("insert failed (%d): %s", rc, hbr_error_msg());
	json_decref(obj);
}

static inline void new_vault(struct fx *f, const char *acc, char *id, int64_t t)
{
	hbr_id_new(id, HBR_ID_VAULT);
	insert(f, acc, HBR_ENT_VAULT,
	       hbr_model_vault(id, "vault", "cn-hangzhou", t));
}

/* A client on a fresh instance "i-<random>". */
static inline void new_client(struct fx *f, const char *acc, char *id,
                              const char *status, int64_t t)
{
	char inst[HBR_ID_MAX];

	hbr_id_new(id, HBR_ID_CLIENT);
	hbr_id_new(inst, "i-");
	insert(f, acc, HBR_ENT_CLIENT, hbr_model_client(id, inst, status, t));
}

static inline void new_plan(struct fx *f, const char *acc, char *id,
                            const char *client, const char *vault, int64_t t)
{
	hbr_id_new(id, HBR_ID_PLAN);
	insert(f, acc, HBR_ENT_PLAN,
	       hbr_model_plan(id, client, "i-x", vault, t));
}

static inline void new_job(struct fx *f, const char *acc, char *id,
                           const char *client, const char *vault,
                           const char *plan, const char *status, int64_t t)
{
	json_t *j;

	hbr_id_new(id, HBR_ID_JOB);
	j = hbr_model_job(id, client, "i-x", vault, plan, t);
	json_object_set_new(j, "Status", json_string(status));
	insert(f, acc, HBR_ENT_JOB, j);
}

static inline void new_snapshot(struct fx *f, const char *acc, char *id,
                                const char *client, const char *vault,
                                const char *plan, const char *job,
                                int64_t bytes, int64_t t)
{
	json_t *s;

	hbr_id_new(id, HBR_ID_SNAPSHOT);
	s = hbr_model_snapshot(id, client, "i-x", vault, plan, job, t);
	json_object_set_new(s, "ActualBytes", json_integer(bytes));
	insert(f, acc, HBR_ENT_SNAPSHOT, s);
}

/* A restore job as CreateRestoreJob would store it. */
static inline void new_restore(struct fx *f, const char *acc, char *id,
                               const char *snapshot, const char *client,
                               const char *vault, const char *status, int64_t t)
{
	hbr_id_new(id, HBR_ID_RESTORE);
	insert(f, acc, HBR_ENT_RESTORE,
	       json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I}",
	                 "RestoreId", id, "RestoreType", "ECS_FILE",
	                 "SnapshotId", snapshot, "SourceClientId", client,
	                 "VaultId", vault, "TargetInstanceId", "i-target",
	                 "Status", status, "CreatedTime", (json_int_t)t,
	                 "UpdatedTime", (json_int_t)t));
}

static inline void set_field(struct fx *f, enum hbr_entity e, const char *acc,
                             const char *id, const char *field,
                             const char *value)
{
	int rc = hbr_store_set(f->s, e, acc, id, field, value);

	if (rc != 0)
		fail_msg("set %s failed (%d): %s", field, rc, hbr_error_msg());
}

/* hbr_store_get's result code, dropping the object. */
static inline int get_rc(struct fx *f, enum hbr_entity e, const char *acc,
                         const char *id)
{
	json_t *obj = NULL;
	int rc = hbr_store_get(&obj, f->s, e, acc, id);

	json_decref(obj);
	return rc;
}

/* A string field of a live object, copied into a static buffer; fails
 * the test if the object cannot be read. */
static inline const char *get_str(struct fx *f, enum hbr_entity e,
                                  const char *acc, const char *id,
                                  const char *field)
{
	static char buf[256];
	json_t *obj = NULL;
	int rc = hbr_store_get(&obj, f->s, e, acc, id);

	if (rc != 0)
		fail_msg("get %s failed (%d): %s", id, rc, hbr_error_msg());
	snprintf(buf, sizeof(buf), "%s",
	         json_string_value(json_object_get(obj, field)) ?
	                 json_string_value(json_object_get(obj, field)) :
	                 "<not a string>");
	json_decref(obj);
	return buf;
}

/* The total hbr_store_list reports for field == value in acc. */
static inline int64_t live_count(struct fx *f, enum hbr_entity e,
                                 const char *acc, const char *field,
                                 const char *value)
{
	const char *vals[1] = { value };
	struct hbr_cond c = { field, HBR_OP_EQ, vals, 1 };
	struct hbr_list_req req = { e, acc, &c, 1, NULL, false, 0, 0 };
	json_t *rows = NULL;
	int64_t total = -1;

	assert_int_equal(hbr_store_list(&rows, &total, f->s, &req), 0);
	json_decref(rows);
	return total;
}

/* COUNT(*) of a base table's rows for one client, dead or alive. */
static inline int64_t rows_of_client(struct fx *f, const char *table,
                                     const char *client)
{
	char sql[128];
	int64_t n = -1;

	snprintf(sql, sizeof(sql),
	         "SELECT COUNT(*) FROM %s WHERE client_id = ?", table);
	assert_int_equal(hbr_store_count(&n, f->s, sql, "s", client), 0);
	return n;
}

/* COUNT(*) of a whole table. */
static inline int64_t rows_of(struct fx *f, const char *table)
{
	char sql[128];
	int64_t n = -1;

	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
	assert_int_equal(hbr_store_count(&n, f->s, sql, NULL), 0);
	return n;
}

#endif
