/*
 * HBR resources as JSON documents with column overlays, and
 * DeleteBackupClientResource. See store_resource.h for the model and
 * store_schema.c for the tables.
 */
#include "common.h"
#include <errno.h>
#include "store/store_resource.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/jsonesc.h"
#include "util/timeutil.h"

enum coltype { T_TEXT, T_INT, T_BOOL };

struct column {
	const char *field; /* API field name */
	const char *column; /* SQL column */
	enum coltype type;
	/* The column, not the document, is the truth. A `column` in
	 * parentheses is an expression computed at read time: an overlay
	 * nothing writes. */
	bool overlay;
};

static bool computed(const struct column *c)
{
	return c->column[0] == '(';
}

struct entity {
	const char *table;
	const char *view; /* what reads use: live_* for epoch entities */
	int notfound; /* error code when an id is unknown */
	const char *what; /* "client", for messages */
	bool epoch; /* stamped with its client's epoch */
	const struct column *cols; /* cols[0] is the id */
	size_t ncols;
};

static const struct column vault_cols[] = {
	{ "VaultId", "vault_id", T_TEXT, false },
	{ "VaultName", "name", T_TEXT, false },
	{ "VaultRegionId", "region", T_TEXT, false },
	{ "VaultType", "vault_type", T_TEXT, false },
	{ "Status", "status", T_TEXT, true },
	{ "CreatedTime", "created_time", T_INT, false },
	{ "UpdatedTime", "updated_time", T_INT, true },
};

static const struct column client_cols[] = {
	{ "ClientId", "client_id", T_TEXT, false },
	{ "InstanceId", "instance_id", T_TEXT, false },
	{ "ClientType", "client_type", T_TEXT, false },
	{ "Status", "status", T_TEXT, true },
	{ "BackupStatus", "backup_status", T_TEXT, true },
	{ "CreatedTime", "created_time", T_INT, false },
	{ "UpdatedTime", "updated_time", T_INT, true },
	{ "LastHeartBeatTime", "last_heartbeat", T_INT, true },
	/* Our extension: what deleting the client's resources would free
	 * (client_bytes, kept by commits and reclamation; a sum over its
	 * vaults, found through the primary key). The list is read from
	 * live_clients. */
	{ "ExclusiveBytes",
	  "(SELECT COALESCE(SUM(CASE WHEN b.exclusive_bytes > 0 THEN"
	  " b.exclusive_bytes ELSE 0 END), 0) FROM client_bytes b"
	  " WHERE b.client_id = live_clients.client_id)",
	  T_INT, true },
};

static const struct column task_cols[] = {
	{ "TaskId", "task_id", T_TEXT, false },
	{ "Name", "name", T_TEXT, false },
	{ "Description", "description", T_TEXT, true },
	{ "Progress", "progress", T_INT, true },
	{ "Result", "result", T_TEXT, true },
	{ "CreatedTime", "created_time", T_INT, false },
	{ "UpdatedTime", "updated_time", T_INT, true },
	{ "CompletedTime", "completed_time", T_INT, true },
};

static const struct column plan_cols[] = {
	{ "PlanId", "plan_id", T_TEXT, false },
	{ "ClientId", "client_id", T_TEXT, false },
	{ "VaultId", "vault_id", T_TEXT, false },
	{ "InstanceId", "instance_id", T_TEXT, false },
	{ "SourceType", "source_type", T_TEXT, false },
	{ "PlanName", "plan_name", T_TEXT, false },
	{ "Schedule", "schedule", T_TEXT, false },
	{ "Disabled", "disabled", T_BOOL, true },
	{ "CreatedTime", "created_time", T_INT, false },
	{ "UpdatedTime", "updated_time", T_INT, true },
};

static const struct column job_cols[] = {
	{ "JobId", "job_id", T_TEXT, false },
	{ "ClientId", "client_id", T_TEXT, false },
	{ "PlanId", "plan_id", T_TEXT, false },
	{ "VaultId", "vault_id", T_TEXT, false },
	{ "InstanceId", "instance_id", T_TEXT, false },
	{ "SourceType", "source_type", T_TEXT, false },
	{ "Status", "status", T_TEXT, true },
	{ "CreatedTime", "created_time", T_INT, false },
	{ "UpdatedTime", "updated_time", T_INT, true },
	{ "CompleteTime", "complete_time", T_INT, true },
	/* Read by reclamation: the oldest running job's start protects
	 * what it may have deduplicated against (docs/RECLAMATION.md). */
	{ "StartTime", "start_time", T_INT, false },
};

static const struct column snapshot_cols[] = {
	{ "SnapshotId", "snapshot_id", T_TEXT, false },
	{ "ClientId", "client_id", T_TEXT, false },
	{ "VaultId", "vault_id", T_TEXT, false },
	{ "PlanId", "plan_id", T_TEXT, false },
	{ "JobId", "job_id", T_TEXT, false },
	{ "InstanceId", "instance_id", T_TEXT, false },
	{ "SourceType", "source_type", T_TEXT, false },
	{ "Status", "status", T_TEXT, true },
	{ "CreatedTime", "created_time", T_INT, false },
	{ "CompleteTime", "complete_time", T_INT, false },
	{ "ActualBytes", "actual_bytes", T_INT, false },
};

static const struct column restore_cols[] = {
	{ "RestoreId", "restore_id", T_TEXT, false },
	{ "SnapshotId", "snapshot_id", T_TEXT, false },
	{ "SourceClientId", "source_client_id", T_TEXT, false },
	{ "VaultId", "vault_id", T_TEXT, false },
	{ "TargetInstanceId", "target_instance_id", T_TEXT, false },
	{ "RestoreType", "restore_type", T_TEXT, false },
	{ "Status", "status", T_TEXT, true },
	{ "CreatedTime", "created_time", T_INT, false },
	{ "UpdatedTime", "updated_time", T_INT, true },
	{ "CompleteTime", "complete_time", T_INT, true },
};

#define ENT(t, v, nf, w, ep, c)                       \
	{                                             \
		t, v, nf, w, ep, c, HBR_ARRAY_SIZE(c) \
	}

static const struct entity entities[] = {
	[HBR_ENT_VAULT] = ENT("vaults", "live_vaults", HBR_ENOVAULT, "vault",
	                      false, vault_cols),
	[HBR_ENT_CLIENT] = ENT("clients", "live_clients", HBR_ENOCLIENT,
	                       "client", false, client_cols),
	[HBR_ENT_TASK] =
	        ENT("tasks", "tasks", HBR_ENOTASK, "task", false, task_cols),
	[HBR_ENT_PLAN] = ENT("plans", "live_plans", HBR_ENOPLAN, "backup plan",
	                     true, plan_cols),
	[HBR_ENT_JOB] = ENT("jobs", "live_jobs", HBR_ENOJOB, "backup job", true,
	                    job_cols),
	[HBR_ENT_SNAPSHOT] = ENT("snapshots", "live_snapshots", HBR_ENOSNAPSHOT,
	                         "snapshot", true, snapshot_cols),
	[HBR_ENT_RESTORE] = ENT("restore_jobs", "restore_jobs", HBR_ENORESTORE,
	                        "restore job", false, restore_cols),
};

static const struct column *find_col(const struct entity *e, const char *field)
{
	for (size_t i = 0; i < e->ncols; i++)
		if (!strcmp(e->cols[i].field, field))
			return &e->cols[i];
	return NULL;
}

bool hbr_store_field_known(enum hbr_entity e, const char *field)
{
	return find_col(&entities[e], field) != NULL;
}

static int parse_int(int64_t *out, const char *field, const char *v)
{
	char *end;
	long long n;

	if (!strcmp(v, "true") || !strcmp(v, "false")) {
		*out = v[0] == 't';
		return 0;
	}
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || end == v || *end)
		return hbr_error_set_param(HBR_EINVAL, field,
		                           "'%s' is not a number for %s", v,
		                           field);
	*out = n;
	return 0;
}

/* Bind one value for column c at position idx. */
static int bind_value(struct hbr_store *s, struct hbr_stmt *st, int idx,
                      const struct column *c, const char *v)
{
	int64_t n;
	int error;

	if (c->type == T_TEXT)
		return s->ops->bind_text(st, idx, v);
	if ((error = parse_int(&n, c->field, v)) < 0)
		return error;
	return s->ops->bind_int64(st, idx, n);
}

static const char *op_sql(enum hbr_cond_op op)
{
	switch (op) {
	case HBR_OP_EQ:
		return " = ?";
	case HBR_OP_NE:
		return " <> ?";
	case HBR_OP_GT:
		return " > ?";
	case HBR_OP_GE:
		return " >= ?";
	case HBR_OP_LT:
		return " < ?";
	case HBR_OP_LE:
		return " <= ?";
	default:
		return NULL;
	}
}

/* Append the WHERE clause for req to sql. */
static int build_where(struct hbr_buf *sql, const struct entity *e,
                       const struct hbr_list_req *req)
{
	int error = hbr_buf_puts(sql, " WHERE account_id = ?");

	for (size_t i = 0; i < req->nconds && error == 0; i++) {
		const struct hbr_cond *c = &req->conds[i];
		const struct column *col = find_col(e, c->field);

		if (!col)
			return hbr_error_set_param(
			        HBR_EINVAL, c->field,
			        "%s cannot be filtered by '%s'", e->what,
			        c->field);
		if ((c->op == HBR_OP_BETWEEN && c->nvalues != 2) ||
		    (c->op != HBR_OP_IN && c->op != HBR_OP_NOT_IN &&
		     c->op != HBR_OP_BETWEEN && c->nvalues != 1) ||
		    c->nvalues == 0)
			return hbr_error_set_param(
			        HBR_EINVAL, c->field,
			        "wrong number of values (%zu) for %s",
			        c->nvalues, c->field);
		error = hbr_buf_printf(sql, " AND %s", col->column);
		if (error < 0)
			break;
		if (c->op == HBR_OP_BETWEEN) {
			error = hbr_buf_puts(sql, " BETWEEN ? AND ?");
		} else if (c->op == HBR_OP_IN || c->op == HBR_OP_NOT_IN) {
			error = hbr_buf_puts(sql, c->op == HBR_OP_IN ?
			                                  " IN (?" :
			                                  " NOT IN (?");
			for (size_t k = 1; k < c->nvalues && error == 0; k++)
				error = hbr_buf_puts(sql, ",?");
			if (error == 0)
				error = hbr_buf_puts(sql, ")");
		} else {
			error = hbr_buf_puts(sql, op_sql(c->op));
		}
	}
	return error;
}

static int bind_where(struct hbr_store *s, struct hbr_stmt *st, int *idx,
                      const struct entity *e, const struct hbr_list_req *req)
{
	int error = s->ops->bind_text(st, (*idx)++, req->account_id);

	for (size_t i = 0; i < req->nconds && error == 0; i++) {
		const struct hbr_cond *c = &req->conds[i];
		const struct column *col = find_col(e, c->field);
		for (size_t k = 0; k < c->nvalues && error == 0; k++)
			error = bind_value(s, st, (*idx)++, col, c->values[k]);
	}
	return error;
}

static json_t *row_to_json(struct hbr_stmt *st, const struct entity *e)
{
	json_t *obj = json_loads(hbr_stmt_text(st, (int)e->ncols), 0, NULL);

	if (!json_is_object(obj)) {
		json_decref(obj);
		obj = json_object();
	}
	for (size_t i = 0; i < e->ncols; i++) {
		const struct column *c = &e->cols[i];
		int col = (int)i;
		if (!c->overlay)
			continue;
		if (hbr_stmt_is_null(st, col)) {
			json_object_del(obj, c->field);
			continue;
		}
		if (c->type == T_TEXT)
			json_object_set_new(
			        obj, c->field,
			        json_string(hbr_stmt_text(st, col)));
		else if (c->type == T_INT)
			json_object_set_new(
			        obj, c->field,
			        json_integer(hbr_stmt_int(st, col)));
		else
			json_object_set_new(
			        obj, c->field,
			        json_boolean(hbr_stmt_int(st, col)));
	}
	return obj;
}

/* Called for each row of a list; a negative return stops the walk. */
typedef int row_cb(struct hbr_stmt *st, const struct entity *e, void *payload);

static int list_rows(int64_t *total_out, struct hbr_store *s,
                     const struct hbr_list_req *req, row_cb *cb, void *payload)
{
	const struct entity *e = &entities[req->entity];
	const struct column *order = find_col(
	        e, req->order_field ? req->order_field : "CreatedTime");
	struct hbr_buf where = HBR_BUF_INIT, sql = HBR_BUF_INIT;
	struct hbr_stmt *st = NULL;
	int64_t total = 0, fetched = 0;
	int error, idx;

	if (!order) {
		error = hbr_error_set_param(HBR_EINVAL, req->order_field,
		                            "%s cannot be sorted by '%s'",
		                            e->what, req->order_field);
		goto out;
	}
	if ((error = build_where(&where, e, req)) < 0)
		goto out;

	/* The page first, asking for one row more than fits: a first page
	 * that is not full is the whole result, and its size the total, so
	 * the usual small listing needs no COUNT(*). */
	if (req->limit > 0) {
		if ((error = hbr_buf_puts(&sql, "SELECT ")) < 0)
			goto out;
		for (size_t i = 0; i < e->ncols && error == 0; i++)
			if ((error = hbr_buf_puts(&sql, e->cols[i].column)) ==
			    0)
				error = hbr_buf_put(&sql, ", ", 2);
		if (error < 0 ||
		    (error = hbr_buf_printf(
		             &sql,
		             "doc FROM %s%s ORDER BY %s %s, %s %s"
		             " LIMIT ? OFFSET ?",
		             e->view, hbr_buf_cstr(&where), order->column,
		             req->descending ? "DESC" : "ASC",
		             e->cols[0].column,
		             req->descending ? "DESC" : "ASC")) < 0 ||
		    (error = s->ops->prepare(&st, s, hbr_buf_cstr(&sql))) < 0)
			goto out;
		idx = 1;
		if ((error = bind_where(s, st, &idx, e, req)) < 0 ||
		    (error = s->ops->bind_int64(st, idx++, req->limit + 1)) <
		            0 ||
		    (error = s->ops->bind_int64(st, idx++, req->offset)) < 0)
			goto out;
		while ((error = hbr_stmt_next(st)) == 1)
			if (++fetched <= req->limit &&
			    (error = cb(st, e, payload)) < 0)
				break;
		if (error < 0)
			goto out;
		hbr_stmt_done(st);
		st = NULL;
	}
	if (req->limit > 0 && req->offset == 0 && fetched <= req->limit) {
		total = fetched;
	} else {
		hbr_buf_clear(&sql);
		if ((error = hbr_buf_printf(&sql, "SELECT COUNT(*) FROM %s%s",
		                            e->view, hbr_buf_cstr(&where))) <
		            0 ||
		    (error = s->ops->prepare(&st, s, hbr_buf_cstr(&sql))) < 0)
			goto out;
		idx = 1;
		if ((error = bind_where(s, st, &idx, e, req)) < 0 ||
		    (error = hbr_stmt_next(st)) < 0)
			goto out;
		total = hbr_stmt_int(st, 0);
	}
	*total_out = total;
	error = 0;
out:
	hbr_stmt_done(st);
	hbr_buf_release(&where);
	hbr_buf_release(&sql);
	return error;
}

static int append_json(struct hbr_stmt *st, const struct entity *e,
                       void *payload)
{
	json_array_append_new(payload, row_to_json(st, e));
	return 0;
}

int hbr_store_list(json_t **rows_out, int64_t *total_out, struct hbr_store *s,
                   const struct hbr_list_req *req)
{
	json_t *rows = json_array();
	int error = list_rows(total_out, s, req, append_json, rows);

	if (error < 0) {
		json_decref(rows);
		return error;
	}
	*rows_out = rows;
	return 0;
}

struct text_rows {
	struct hbr_buf *out;
	bool first;
};

/* The overlay columns, then the stored document (which holds none of
 * them), spliced as text. */
static int append_text(struct hbr_stmt *st, const struct entity *e,
                       void *payload)
{
	struct text_rows *t = payload;
	struct hbr_buf *out = t->out;
	const char *doc = hbr_stmt_text(st, (int)e->ncols);
	bool first = true;
	int error;

	if (doc[0] != '{')
		return hbr_error_set(HBR_ECORRUPT,
		                     "%s document is not an object", e->what);
	if ((error = hbr_buf_puts(out, t->first ? "{" : ",{")) < 0)
		return error;
	t->first = false;
	for (size_t i = 0; i < e->ncols && error == 0; i++) {
		const struct column *c = &e->cols[i];
		int col = (int)i;
		if (!c->overlay || hbr_stmt_is_null(st, col))
			continue;
		if ((!first && (error = hbr_buf_putc(out, ',')) < 0) ||
		    (error = hbr_buf_putc(out, '"')) < 0 ||
		    (error = hbr_buf_puts(out, c->field)) < 0 ||
		    (error = hbr_buf_put(out, "\":", 2)) < 0)
			break;
		first = false;
		if (c->type == T_TEXT) {
			error = hbr_json_escape(out, hbr_stmt_text(st, col));
		} else if (c->type == T_INT) {
			/* Read as a number: asking SQLite for an integer
			 * column's text makes it allocate the conversion. */
			error = hbr_buf_put_i64(out, hbr_stmt_int(st, col));
		} else {
			error = hbr_buf_puts(
			        out, hbr_stmt_int(st, col) ? "true" : "false");
		}
	}
	if (error < 0)
		return error;
	/* doc is "{...}": its opening brace is already written. */
	if (!first && doc[1] != '}' && (error = hbr_buf_putc(out, ',')) < 0)
		return error;
	return hbr_buf_puts(out, doc + 1);
}

int hbr_store_list_text(struct hbr_buf *out, int64_t *total_out,
                        struct hbr_store *s, const struct hbr_list_req *req)
{
	struct text_rows t = { out, true };
	int error;

	if ((error = hbr_buf_putc(out, '[')) < 0 ||
	    (error = list_rows(total_out, s, req, append_text, &t)) < 0)
		return error;
	return hbr_buf_putc(out, ']');
}

int hbr_store_get(json_t **out, struct hbr_store *s, enum hbr_entity e,
                  const char *account_id, const char *id)
{
	const struct entity *ent = &entities[e];
	const char *vals[1] = { id };
	struct hbr_cond cond = { ent->cols[0].field, HBR_OP_EQ, vals, 1 };
	struct hbr_list_req req = { e, account_id, &cond, 1, NULL, false, 0, 1 };
	json_t *rows = NULL;
	int64_t total = 0;
	int error;

	if ((error = hbr_store_list(&rows, &total, s, &req)) < 0)
		return error;
	if (json_array_size(rows) == 0) {
		json_decref(rows);
		return hbr_error_set(ent->notfound,
		                     "The specified %s does not exist: %s",
		                     ent->what, id);
	}
	*out = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	return 0;
}

/* Bind obj's value of column c (SQL NULL when absent or null). */
static int bind_field(struct hbr_store *s, struct hbr_stmt *st, int idx,
                      const struct column *c, json_t *obj)
{
	json_t *v = json_object_get(obj, c->field);

	if (!v || json_is_null(v))
		return s->ops->bind_null(st, idx);
	if (c->type == T_TEXT)
		return s->ops->bind_text(st, idx, json_string_value(v));
	if (c->type == T_BOOL)
		return s->ops->bind_int64(st, idx, json_is_true(v) ? 1 : 0);
	return s->ops->bind_int64(st, idx, json_integer_value(v));
}

/* The columns are the truth for overlay fields; keeping them out of the
 * document lets reads splice them in as text. Released with free(). */
static char *dump_doc(const struct entity *ent, json_t *obj)
{
	json_t *copy = json_copy(obj);
	char *doc;

	for (size_t i = 0; i < ent->ncols; i++)
		if (ent->cols[i].overlay)
			json_object_del(copy, ent->cols[i].field);
	doc = json_dumps(copy, JSON_COMPACT);
	json_decref(copy);
	return doc;
}

int hbr_store_insert(struct hbr_store *s, enum hbr_entity e,
                     const char *account_id, json_t *obj)
{
	const struct entity *ent = &entities[e];
	struct hbr_buf sql = HBR_BUF_INIT;
	struct hbr_stmt *st = NULL;
	char *doc = NULL;
	int error, idx = 1;

	if ((error = hbr_buf_printf(&sql, "INSERT INTO %s (account_id",
	                            ent->table)) < 0)
		goto out;
	for (size_t i = 0; i < ent->ncols && error == 0; i++)
		if (!computed(&ent->cols[i]))
			error = hbr_buf_printf(&sql, ", %s",
			                       ent->cols[i].column);
	if (error < 0 ||
	    (error = hbr_buf_puts(&sql, ent->epoch ? ", epoch, doc) VALUES (?" :
	                                             ", doc) VALUES (?")) < 0)
		goto out;
	for (size_t i = 0; i < ent->ncols && error == 0; i++)
		if (!computed(&ent->cols[i]))
			error = hbr_buf_puts(&sql, ", ?");
	if (error < 0 ||
	    (ent->epoch &&
	     (error = hbr_buf_puts(&sql, ", (SELECT epoch FROM clients"
	                                 " WHERE client_id = ?)")) < 0) ||
	    (error = hbr_buf_puts(&sql, ", ?)")) < 0)
		goto out;
	if ((error = s->ops->prepare(&st, s, hbr_buf_cstr(&sql))) < 0 ||
	    (error = s->ops->bind_text(st, idx++, account_id)) < 0)
		goto out;
	for (size_t i = 0; i < ent->ncols && error == 0; i++)
		if (!computed(&ent->cols[i]))
			error = bind_field(s, st, idx++, &ent->cols[i], obj);
	if (error < 0)
		goto out;
	if (ent->epoch &&
	    (error = s->ops->bind_text(
	             st, idx++,
	             json_string_value(json_object_get(obj, "ClientId")))) < 0)
		goto out;
	doc = dump_doc(ent, obj);
	if ((error = s->ops->bind_text(st, idx++, doc)) < 0)
		goto out;
	error = hbr_stmt_next(st);
	if (error == HBR_EEXISTS)
		error = hbr_error_set(HBR_EEXISTS, "%s id already exists",
		                      ent->what);
out:
	hbr_stmt_done(st);
	hbr_buf_release(&sql);
	free(doc); /* from jansson's allocator (malloc) */
	return error < 0 ? error : 0;
}

int hbr_store_replace(struct hbr_store *s, enum hbr_entity e,
                      const char *account_id, json_t *obj)
{
	const struct entity *ent = &entities[e];
	const char *id =
	        json_string_value(json_object_get(obj, ent->cols[0].field));
	struct hbr_buf sql = HBR_BUF_INIT;
	struct hbr_stmt *st = NULL;
	char *doc = NULL;
	int error, idx = 1;

	HBR_ASSERT(id);
	if (find_col(ent, "UpdatedTime"))
		json_object_set_new(obj, "UpdatedTime",
		                    json_integer(hbr_time_now()));
	if ((error = hbr_buf_printf(&sql, "UPDATE %s SET doc = ?",
	                            ent->table)) < 0)
		goto out;
	for (size_t i = 1; i < ent->ncols && error == 0; i++)
		if (!computed(&ent->cols[i]))
			error = hbr_buf_printf(&sql, ", %s = ?",
			                       ent->cols[i].column);
	if (error < 0 ||
	    (error = hbr_buf_printf(&sql, " WHERE account_id = ? AND %s = ?",
	                            ent->cols[0].column)) < 0 ||
	    (error = s->ops->prepare(&st, s, hbr_buf_cstr(&sql))) < 0)
		goto out;
	doc = dump_doc(ent, obj);
	if ((error = s->ops->bind_text(st, idx++, doc)) < 0)
		goto out;
	for (size_t i = 1; i < ent->ncols && error == 0; i++)
		if (!computed(&ent->cols[i]))
			error = bind_field(s, st, idx++, &ent->cols[i], obj);
	if (error < 0 ||
	    (error = s->ops->bind_text(st, idx++, account_id)) < 0 ||
	    (error = s->ops->bind_text(st, idx++, id)) < 0)
		goto out;
	error = hbr_stmt_next(st);
out:
	hbr_stmt_done(st);
	hbr_buf_release(&sql);
	free(doc); /* from jansson's allocator (malloc) */
	return error < 0 ? error : 0;
}

int hbr_store_set(struct hbr_store *s, enum hbr_entity e,
                  const char *account_id, const char *id, const char *field,
                  const char *value)
{
	const struct entity *ent = &entities[e];
	const struct column *c = find_col(ent, field);
	bool has_updated = find_col(ent, "UpdatedTime") != NULL;
	struct hbr_stmt *st = NULL;
	char sql[256];
	int error, idx = 1;

	HBR_ASSERT(c && c->overlay && !computed(c));
	(void)snprintf(sql, sizeof(sql),
	               "UPDATE %s SET %s = ?%s"
	               " WHERE account_id = ? AND %s = ?",
	               ent->table, c->column,
	               has_updated ? ", updated_time = ?" : "",
	               ent->cols[0].column);
	if ((error = s->ops->prepare(&st, s, sql)) < 0)
		return error;
	if ((error = bind_value(s, st, idx++, c, value)) < 0 ||
	    (has_updated &&
	     (error = s->ops->bind_int64(st, idx++, hbr_time_now())) < 0) ||
	    (error = s->ops->bind_text(st, idx++, account_id)) < 0 ||
	    (error = s->ops->bind_text(st, idx++, id)) < 0)
		goto out;
	error = hbr_stmt_next(st);
out:
	hbr_stmt_done(st);
	return error < 0 ? error : 0;
}

int hbr_store_vault_usage(struct hbr_vault_usage *out, struct hbr_store *s,
                          const char *vault_id)
{
	struct hbr_vault_usage u = { 0 };
	struct hbr_stmt *st = NULL;
	int error;

	if ((error = hbr_store_queryf(&st, s,
	                              "SELECT COUNT(*), COALESCE(SUM("
	                              "actual_bytes), 0) FROM live_snapshots"
	                              " WHERE vault_id = ?",
	                              "s", vault_id)) < 0)
		return error;
	if ((error = hbr_stmt_next(st)) == 1) {
		u.snapshots = hbr_stmt_int(st, 0);
		u.bytes = hbr_stmt_int(st, 1);
	}
	hbr_stmt_done(st);
	if (error < 0)
		return error;
	if ((error = hbr_store_count(&u.plans, s,
	                             "SELECT COUNT(*) FROM live_plans"
	                             " WHERE vault_id = ?",
	                             "s", vault_id)) < 0 ||
	    (error = hbr_store_queryf(&st, s,
	                              "SELECT COALESCE(SUM(bytes), 0),"
	                              " COALESCE(SUM(live_bytes), 0)"
	                              " FROM packs WHERE vault_id = ?",
	                              "s", vault_id)) < 0)
		return error;
	if ((error = hbr_stmt_next(st)) == 1) {
		u.stored_bytes = hbr_stmt_int(st, 0);
		u.live_bytes = hbr_stmt_int(st, 1);
	}
	hbr_stmt_done(st);
	if (error < 0)
		return error;
	*out = u;
	return 0;
}
