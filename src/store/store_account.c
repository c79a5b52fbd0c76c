/* Accounts, RAM users, access keys, policies and the audit table. */
#include "common.h"
#include <jansson.h>
#include "store/store_account.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/random.h"
#include "util/timeutil.h"

static const char alnum[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* Alibaba-shaped keys: "LTAI" + 20 characters, secrets of 30. */
static void new_key(struct hbr_key_info *k)
{
	memcpy(k->access_key_id, "LTAI", 4);
	hbr_random_string(k->access_key_id + 4, 20, alnum);
	hbr_random_string(k->secret, 30, alnum);
	k->active = true;
}

static void copy(char *dst, size_t size, const char *src)
{
	(void)snprintf(dst, size, "%s", src ? src : "");
}

int hbr_store_account_create(struct hbr_key_info *out, struct hbr_store *s,
                             const char *name)
{
	struct hbr_key_info k = { 0 };
	int64_t now = hbr_time_now(), taken = 0;
	int error;

	hbr_id_new(k.account_id, HBR_ID_ACCOUNT);
	new_key(&k);
	if ((error = hbr_store_begin(s)) < 0)
		return error;
	if ((error = hbr_store_count(&taken, s,
	                             "SELECT COUNT(*) FROM accounts"
	                             " WHERE name = ?",
	                             "s", name)) < 0)
		goto fail;
	if (taken) {
		error = hbr_error_set(HBR_EEXISTS,
		                      "an account named '%s' exists", name);
		goto fail;
	}
	if ((error = hbr_store_execf(s, "INSERT INTO accounts VALUES (?,?,?)",
	                             "ssi", k.account_id, name, now)) < 0 ||
	    (error = hbr_store_execf(s,
	                             "INSERT INTO access_keys (access_key_id,"
	                             " secret, account_id, user_id, status,"
	                             " created_time) VALUES (?,?,?,NULL,"
	                             "'Active',?)",
	                             "sssi", k.access_key_id, k.secret,
	                             k.account_id, now)) < 0)
		goto fail;
	if ((error = hbr_store_commit(s)) < 0)
		goto fail;
	*out = k;
	return 0;
fail:
	hbr_store_rollback(s);
	return error;
}

int hbr_store_account_first(char out[HBR_ID_MAX], struct hbr_store *s)
{
	struct hbr_stmt *st = NULL;
	int error;

	if ((error = hbr_store_queryf(&st, s,
	                              "SELECT account_id FROM accounts"
	                              " ORDER BY created_time, rowid LIMIT 1",
	                              NULL)) < 0)
		return error;
	if ((error = hbr_stmt_next(st)) == 1) {
		copy(out, HBR_ID_MAX, hbr_stmt_text(st, 0));
		error = 0;
	} else if (error == 0) {
		error = hbr_error_set(HBR_ENOTFOUND, "no account yet");
	}
	hbr_stmt_done(st);
	return error;
}

int hbr_store_account_exists(struct hbr_store *s, const char *account_id)
{
	int64_t n = 0;
	int error = hbr_store_count(&n, s,
	                            "SELECT COUNT(*) FROM accounts"
	                            " WHERE account_id = ?",
	                            "s", account_id);
	if (error < 0)
		return error;
	return n ? 0 :
	           hbr_error_set(HBR_ENOTFOUND, "account '%s' does not exist",
	                         account_id);
}

static const char key_select[] =
        "SELECT k.access_key_id, k.secret, k.account_id,"
        " COALESCE(k.user_id, ''), COALESCE(u.name, ''), k.status,"
        " COALESCE(k.client_id, '')"
        " FROM access_keys k LEFT JOIN users u ON u.user_id = k.user_id ";

static int read_key(struct hbr_key_info *out, struct hbr_stmt *st)
{
	int error = hbr_stmt_next(st);

	if (error != 1)
		return error;
	memset(out, 0, sizeof(*out));
	copy(out->access_key_id, sizeof(out->access_key_id),
	     hbr_stmt_text(st, 0));
	copy(out->secret, sizeof(out->secret), hbr_stmt_text(st, 1));
	copy(out->account_id, sizeof(out->account_id), hbr_stmt_text(st, 2));
	copy(out->user_id, sizeof(out->user_id), hbr_stmt_text(st, 3));
	copy(out->user_name, sizeof(out->user_name), hbr_stmt_text(st, 4));
	out->active = !strcmp(hbr_stmt_text(st, 5), "Active");
	copy(out->client_id, sizeof(out->client_id), hbr_stmt_text(st, 6));
	return 1;
}

int hbr_store_account_root_key(struct hbr_key_info *out, struct hbr_store *s,
                               const char *account_id)
{
	struct hbr_stmt *st = NULL;
	char sql[512];
	int error;

	(void)snprintf(sql, sizeof(sql),
	               "%s WHERE k.account_id = ? AND k.user_id IS NULL"
	               " AND k.client_id IS NULL AND k.status = 'Active'"
	               " ORDER BY k.created_time, k.rowid LIMIT 1",
	               key_select);
	if ((error = hbr_store_queryf(&st, s, sql, "s", account_id)) < 0)
		return error;
	error = read_key(out, st);
	hbr_stmt_done(st);
	if (error == 0)
		return hbr_error_set(HBR_ENOTFOUND,
		                     "account '%s' has no active root key",
		                     account_id);
	return error < 0 ? error : 0;
}

int hbr_store_key_get(struct hbr_key_info *out, struct hbr_store *s,
                      const char *access_key_id)
{
	struct hbr_stmt *st = NULL;
	char sql[512];
	int error;

	(void)snprintf(sql, sizeof(sql), "%s WHERE k.access_key_id = ?",
	               key_select);
	if ((error = hbr_store_queryf(&st, s, sql, "s", access_key_id)) < 0)
		return error;
	error = read_key(out, st);
	hbr_stmt_done(st);
	if (error == 0)
		return hbr_error_set(HBR_EKEYNOTFOUND,
		                     "Specified access key is not found.");
	return error < 0 ? error : 0;
}

static int user_id_of(char out[HBR_ID_MAX], struct hbr_store *s,
                      const char *account_id, const char *name)
{
	struct hbr_stmt *st = NULL;
	int error;

	if ((error = hbr_store_queryf(&st, s,
	                              "SELECT user_id FROM users WHERE"
	                              " account_id = ? AND name = ?",
	                              "ss", account_id, name)) < 0)
		return error;
	if ((error = hbr_stmt_next(st)) == 1) {
		copy(out, HBR_ID_MAX, hbr_stmt_text(st, 0));
		error = 0;
	} else if (error == 0) {
		error = hbr_error_set(HBR_ENOTFOUND, "no user named '%s'",
		                      name);
	}
	hbr_stmt_done(st);
	return error;
}

int hbr_store_key_create(struct hbr_key_info *out, struct hbr_store *s,
                         const char *account_id, const char *user_name)
{
	struct hbr_key_info k = { 0 };
	int error;

	if ((error = hbr_store_begin(s)) < 0)
		return error;
	if ((error = user_id_of(k.user_id, s, account_id, user_name)) < 0)
		goto fail;
	new_key(&k);
	copy(k.account_id, sizeof(k.account_id), account_id);
	copy(k.user_name, sizeof(k.user_name), user_name);
	if ((error = hbr_store_execf(s,
	                             "INSERT INTO access_keys (access_key_id,"
	                             " secret, account_id, user_id, status,"
	                             " created_time) VALUES (?,?,?,?,"
	                             "'Active',?)",
	                             "ssssi", k.access_key_id, k.secret,
	                             account_id, k.user_id, hbr_time_now())) <
	            0 ||
	    (error = hbr_store_commit(s)) < 0)
		goto fail;
	*out = k;
	return 0;
fail:
	hbr_store_rollback(s);
	return error;
}

int hbr_store_client_keys_delete(struct hbr_store *s, const char *account_id,
                                 const char *client_id)
{
	return hbr_store_execf(s,
	                       "DELETE FROM access_keys"
	                       " WHERE account_id = ? AND client_id = ?",
	                       "ss", account_id, client_id);
}

int hbr_store_key_create_for_client(struct hbr_key_info *out,
                                    struct hbr_store *s, const char *account_id,
                                    const char *client_id)
{
	struct hbr_key_info k = { 0 };
	int error;

	new_key(&k);
	copy(k.account_id, sizeof(k.account_id), account_id);
	copy(k.client_id, sizeof(k.client_id), client_id);
	if ((error = hbr_store_client_keys_delete(s, account_id, client_id)) <
	            0 ||
	    (error = hbr_store_execf(s,
	                             "INSERT INTO access_keys (access_key_id,"
	                             " secret, account_id, user_id, client_id,"
	                             " status, created_time) VALUES (?,?,?,"
	                             "NULL,?,'Active',?)",
	                             "ssssi", k.access_key_id, k.secret,
	                             account_id, client_id, hbr_time_now())) <
	            0)
		return error;
	*out = k;
	return 0;
}

static int one_change(struct hbr_store *s, const char *sql, const char *a,
                      const char *b, const char *what)
{
	int64_t n = 0;
	int error;

	if ((error = hbr_store_begin(s)) < 0)
		return error;
	if ((error = hbr_store_count(&n, s,
	                             "SELECT COUNT(*) FROM access_keys WHERE"
	                             " access_key_id = ? AND account_id = ?",
	                             "ss", b, a)) < 0)
		goto fail;
	if (!n) {
		error = hbr_error_set(HBR_EKEYNOTFOUND,
		                      "access key '%s' is not in the account",
		                      b);
		goto fail;
	}
	if ((error = hbr_store_execf(s, sql, "ss", b, a)) < 0 ||
	    (error = hbr_store_commit(s)) < 0)
		goto fail;
	return 0;
fail:
	(void)what;
	hbr_store_rollback(s);
	return error;
}

int hbr_store_key_set_active(struct hbr_store *s, const char *account_id,
                             const char *access_key_id, bool active)
{
	return one_change(
	        s,
	        active ? "UPDATE access_keys SET status = 'Active'"
	                 " WHERE access_key_id = ? AND account_id = ?" :
	                 "UPDATE access_keys SET status = 'Inactive'"
	                 " WHERE access_key_id = ? AND account_id = ?",
	        account_id, access_key_id, "update");
}

int hbr_store_key_delete(struct hbr_store *s, const char *account_id,
                         const char *access_key_id)
{
	return one_change(s,
	                  "DELETE FROM access_keys"
	                  " WHERE access_key_id = ? AND account_id = ?",
	                  account_id, access_key_id, "delete");
}

int hbr_store_user_create(char user_id_out[HBR_ID_MAX], struct hbr_store *s,
                          const char *account_id, const char *name)
{
	char id[HBR_ID_MAX];
	int error;

	hbr_id_new(id, HBR_ID_USER);
	if ((error = hbr_store_begin(s)) < 0)
		return error;
	error = hbr_store_execf(s, "INSERT INTO users VALUES (?,?,?,?)", "sssi",
	                        id, account_id, name, hbr_time_now());
	if (error == HBR_EEXISTS)
		error = hbr_error_set(HBR_EEXISTS, "a user named '%s' exists",
		                      name);
	if (error < 0 || (error = hbr_store_commit(s)) < 0)
		goto fail;
	memcpy(user_id_out, id, HBR_ID_MAX);
	return 0;
fail:
	hbr_store_rollback(s);
	return error;
}

int hbr_store_user_list(char **json_out, struct hbr_store *s,
                        const char *account_id)
{
	struct hbr_stmt *st = NULL;
	json_t *arr = json_array();
	int error;

	if ((error = hbr_store_queryf(&st, s,
	                              "SELECT u.user_id, u.name, u.created_time,"
	                              " (SELECT group_concat(name) FROM"
	                              "  user_policies p WHERE"
	                              "  p.user_id = u.user_id)"
	                              " FROM users u WHERE u.account_id = ?"
	                              " ORDER BY u.created_time, u.rowid",
	                              "s", account_id)) < 0)
		goto out;
	while ((error = hbr_stmt_next(st)) == 1) {
		json_t *pol = json_array();
		char *names = hbr_strdup(hbr_stmt_text(st, 3)), *save = NULL;
		for (char *t = strtok_r(names, ",", &save); t;
		     t = strtok_r(NULL, ",", &save))
			json_array_append_new(pol, json_string(t));
		hbr_free(names);
		json_array_append_new(
		        arr, json_pack("{s:s, s:s, s:I, s:o}", "UserId",
		                       hbr_stmt_text(st, 0), "UserName",
		                       hbr_stmt_text(st, 1), "CreateDate",
		                       (json_int_t)hbr_stmt_int(st, 2),
		                       "Policies", pol));
	}
	if (error < 0)
		goto out;
	*json_out = json_dumps(arr, JSON_COMPACT);
	error = 0;
out:
	hbr_stmt_done(st);
	json_decref(arr);
	return error;
}

int hbr_store_policy_attach(struct hbr_store *s, const char *account_id,
                            const char *user_name, const char *name,
                            const char *document)
{
	char uid[HBR_ID_MAX];
	int error;

	if ((error = hbr_store_begin(s)) < 0)
		return error;
	if ((error = user_id_of(uid, s, account_id, user_name)) < 0 ||
	    (error = hbr_store_execf(s,
	                             "INSERT INTO user_policies VALUES (?,?,?)"
	                             " ON CONFLICT (user_id, name) DO UPDATE"
	                             " SET document = excluded.document",
	                             "sss", uid, name, document)) < 0 ||
	    (error = hbr_store_commit(s)) < 0)
		goto fail;
	return 0;
fail:
	hbr_store_rollback(s);
	return error;
}

int hbr_store_policy_detach(struct hbr_store *s, const char *account_id,
                            const char *user_name, const char *name)
{
	char uid[HBR_ID_MAX];
	int64_t n = 0;
	int error;

	if ((error = hbr_store_begin(s)) < 0)
		return error;
	if ((error = user_id_of(uid, s, account_id, user_name)) < 0 ||
	    (error = hbr_store_count(&n, s,
	                             "SELECT COUNT(*) FROM user_policies"
	                             " WHERE user_id = ? AND name = ?",
	                             "ss", uid, name)) < 0)
		goto fail;
	if (!n) {
		error = hbr_error_set(HBR_ENOTFOUND,
		                      "policy '%s' is not attached to '%s'",
		                      name, user_name);
		goto fail;
	}
	if ((error = hbr_store_execf(s,
	                             "DELETE FROM user_policies"
	                             " WHERE user_id = ? AND name = ?",
	                             "ss", uid, name)) < 0 ||
	    (error = hbr_store_commit(s)) < 0)
		goto fail;
	return 0;
fail:
	hbr_store_rollback(s);
	return error;
}

int hbr_store_policy_foreach(struct hbr_store *s, const char *user_id,
                             hbr_store_policy_cb *cb, void *payload)
{
	struct hbr_stmt *st = NULL;
	int error;

	if ((error = hbr_store_queryf(&st, s,
	                              "SELECT name, document FROM user_policies"
	                              " WHERE user_id = ? ORDER BY name",
	                              "s", user_id)) < 0)
		return error;
	while ((error = hbr_stmt_next(st)) == 1)
		if ((error = cb(hbr_stmt_text(st, 0), hbr_stmt_text(st, 1),
		                payload)) < 0)
			break;
	hbr_stmt_done(st);
	return error < 0 ? error : 0;
}

int hbr_store_audit_insert(struct hbr_store *s, const struct hbr_audit_entry *e)
{
	return hbr_store_execf(
	        s,
	        "INSERT INTO audit_log (time, request_id, account_id,"
	        " principal, access_key_id, source_ip, action, client_ids,"
	        " code, plans_deleted, jobs_deleted, snapshots_deleted)"
	        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
	        "issssssssiii", e->time, e->request_id, e->account_id,
	        e->principal, e->access_key_id, e->source_ip, e->action,
	        e->client_ids, e->code, e->plans_deleted, e->jobs_deleted,
	        e->snapshots_deleted);
}
