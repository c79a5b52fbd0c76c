/*
 * SearchHistoricalSnapshots: a JSON Query of {field, value, operation}
 * conditions, Limit/NextToken paging (hbr-api.md §4.2). NextToken is the
 * offset of the next page, written so that it is not mistaken for
 * anything else ("o" + decimal).
 */
#include "common.h"
#include <errno.h>
#include "api/api.h"
#include "api/api_params.h"
#include "store/store_resource.h"
#include "util/alloc.h"
#include "util/error.h"

#define MAX_LIMIT  100
#define MAX_CONDS  32
#define MAX_VALUES 100

static const struct {
	const char *field;
	const char *store_field;
} query_fields[] = {
	{ "VaultId", "VaultId" },
	{ "InstanceId", "InstanceId" },
	{ "PlanId", "PlanId" },
	{ "ClientId", "ClientId" },
	{ "JobId", "JobId" },
	{ "SnapshotId", "SnapshotId" },
	{ "Status", "Status" },
	{ "CreatedTime", "CreatedTime" },
	{ "CompleteTime", "CompleteTime" },
	{ "SourceType", "SourceType" },
};

static const struct {
	const char *name;
	enum hbr_cond_op op;
} query_ops[] = {
	{ "MATCH_TERM", HBR_OP_EQ },
	{ "GREATER_THAN", HBR_OP_GT },
	{ "GREATER_THAN_OR_EQUAL", HBR_OP_GE },
	{ "LESS_THAN", HBR_OP_LT },
	{ "LESS_THAN_OR_EQUAL", HBR_OP_LE },
	{ "BETWEEN", HBR_OP_BETWEEN },
	{ "IN", HBR_OP_IN },
	{ "NOT_IN", HBR_OP_NOT_IN },
};

struct query {
	struct hbr_cond conds[MAX_CONDS + 1];
	struct hbr_strlist vals[MAX_CONDS + 1];
	size_t n;
	bool has_vault;
};

static void query_release(struct query *q)
{
	for (size_t i = 0; i < q->n; i++)
		hbr_strlist_release(&q->vals[i]);
}

static int bad(const char *what, size_t i)
{
	return hbr_error_set_param(HBR_EINVAL, "Query",
	                           "Query condition %zu: %s", i + 1, what);
}

static void add_scalar(struct hbr_strlist *l, json_t *v)
{
	char num[32];
	const char *s = num;

	if (json_is_string(v))
		s = json_string_value(v);
	else
		(void)snprintf(num, sizeof(num), "%lld",
		               (long long)json_integer_value(v));
	l->items = hbr_realloc(l->items, (l->n + 1) * sizeof(*l->items));
	l->items[l->n++] = hbr_strdup(s);
}

static int parse_query(struct query *q, const char *text)
{
	json_error_t jerr;
	json_t *arr = json_loads(text, 0, &jerr), *it;
	size_t i;
	int error = 0;

	if (!json_is_array(arr)) {
		json_decref(arr);
		return hbr_error_set_param(HBR_EINVAL, "Query",
		                           "Query must be a JSON array of"
		                           " {field, value, operation}");
	}
	if (json_array_size(arr) > MAX_CONDS) {
		json_decref(arr);
		return hbr_error_set_param(HBR_EINVAL, "Query",
		                           "Query has more than %d conditions",
		                           MAX_CONDS);
	}
	json_array_foreach(arr, i, it)
	{
		const char *field =
		        json_string_value(json_object_get(it, "field"));
		const char *opname =
		        json_string_value(json_object_get(it, "operation"));
		json_t *value = json_object_get(it, "value");
		const char *sf = NULL;
		struct hbr_strlist *l = &q->vals[q->n];
		enum hbr_cond_op op = HBR_OP_EQ;
		size_t k;

		if (!field || !value) {
			error = bad("needs field and value", i);
			goto out;
		}
		for (k = 0; k < HBR_ARRAY_SIZE(query_fields) && !sf; k++)
			if (!strcmp(query_fields[k].field, field))
				sf = query_fields[k].store_field;
		if (!sf) {
			error = hbr_error_set_param(
			        HBR_EINVAL, "Query",
			        "Query field '%.64s' is not supported", field);
			goto out;
		}
		if (opname) {
			for (k = 0; k < HBR_ARRAY_SIZE(query_ops); k++)
				if (!strcmp(query_ops[k].name, opname))
					break;
			if (k == HBR_ARRAY_SIZE(query_ops)) {
				error = hbr_error_set_param(
				        HBR_EINVAL, "Query",
				        "Query operation '%.64s' is not"
				        " supported",
				        opname);
				goto out;
			}
			op = query_ops[k].op;
		}
		if (json_is_array(value)) {
			json_t *v;
			size_t j;
			if (json_array_size(value) > MAX_VALUES) {
				error = bad("too many values", i);
				goto out;
			}
			json_array_foreach(value, j, v)
			{
				if (!json_is_string(v) && !json_is_integer(v)) {
					error = bad(
					        "values must be strings or integers",
					        i);
					goto out;
				}
				add_scalar(l, v);
			}
		} else if (json_is_string(value) || json_is_integer(value)) {
			add_scalar(l, value);
		} else {
			error = bad("value must be a string, integer or array",
			            i);
			goto out;
		}
		if ((op == HBR_OP_BETWEEN && l->n != 2) ||
		    (op != HBR_OP_BETWEEN && op != HBR_OP_IN &&
		     op != HBR_OP_NOT_IN && l->n != 1) ||
		    l->n == 0) {
			hbr_strlist_release(l);
			error = bad("wrong number of values for its operation",
			            i);
			goto out;
		}
		q->conds[q->n] = (struct hbr_cond){
			sf, op, (const char *const *)l->items, l->n
		};
		q->has_vault |= !strcmp(sf, "VaultId");
		q->n++;
	}
out:
	json_decref(arr);
	return error;
}

int hbr_api_search_historical_snapshots(struct hbr_api_call *call)
{
	static const char *const orders[] = { "ASC", "DESC" };
	static const char *const sorts[] = { "CreatedTime", "CompleteTime" };
	struct query q = { 0 };
	struct hbr_list_req req = { 0 };
	const char *text, *token, *order, *sort, *src;
	int64_t limit, offset = 0, total = 0;
	json_t *rows = NULL;
	int error;

	if ((error = hbr_param_str(&text, call->params, "Query", true, 2,
	                           65536)) < 0 ||
	    (error = hbr_param_int(&limit, call->params, "Limit", false, 0,
	                           MAX_LIMIT, 10)) < 0 ||
	    (error = hbr_param_str(&token, call->params, "NextToken", false, 0,
	                           32)) < 0 ||
	    (error = hbr_param_enum(&order, call->params, "Order", orders, 2,
	                            "ASC")) < 0 ||
	    (error = hbr_param_enum(&sort, call->params, "SortBy", sorts, 2,
	                            "CreatedTime")) < 0 ||
	    (error = hbr_param_str(&src, call->params, "SourceType", false, 1,
	                           32)) < 0)
		return error;
	if (token && token[0]) {
		char *end;
		errno = 0;
		offset = token[0] == 'o' ? strtoll(token + 1, &end, 10) : -1;
		if (token[0] != 'o' || errno || *end || offset < 0)
			return hbr_error_set_param(HBR_EINVAL, "NextToken",
			                           "NextToken '%.32s' was not"
			                           " issued by this service",
			                           token);
	}
	if ((error = parse_query(&q, text)) < 0)
		goto out;
	if (!q.has_vault) {
		error = hbr_error_set_param(HBR_EINVAL, "Query",
		                            "Query must match a VaultId");
		goto out;
	}
	if (src) {
		q.vals[q.n].items = hbr_calloc(1, sizeof(char *));
		q.vals[q.n].items[0] = hbr_strdup(src);
		q.vals[q.n].n = 1;
		q.conds[q.n] = (struct hbr_cond){
			"SourceType", HBR_OP_EQ,
			(const char *const *)q.vals[q.n].items, 1
		};
		q.n++;
	}
	req.entity = HBR_ENT_SNAPSHOT;
	req.account_id = call->who.account_id;
	req.conds = q.conds;
	req.nconds = q.n;
	req.order_field = sort;
	req.descending = !strcmp(order, "DESC");
	req.offset = offset;
	req.limit = limit;
	if ((error = hbr_api_list_into(&total, call, "Snapshots", "Snapshot",
	                               &req)) < 0)
		goto out;
	json_object_set_new(call->out, "TotalCount", json_integer(total));
	json_object_set_new(call->out, "Limit", json_integer(limit));
	if (limit > 0 && offset + limit < total) {
		char next[32];
		(void)snprintf(next, sizeof(next), "o%lld",
		               (long long)(offset + limit));
		json_object_set_new(call->out, "NextToken", json_string(next));
	}
out:
	json_decref(rows);
	query_release(&q);
	return error;
}

/*
 * DeleteSnapshot. The optional SourceType, VaultId, ClientId and
 * InstanceId HBR sends along must describe the snapshot; if one does not,
 * the snapshot does not exist there.
 */
int hbr_api_delete_snapshot(struct hbr_api_call *call)
{
	static const char *const checks[] = { "SourceType", "VaultId",
		                              "ClientId", "InstanceId" };
	const char *snapshot_id, *v;
	json_t *snap = NULL;
	int error;

	if ((error = hbr_param_str(&snapshot_id, call->params, "SnapshotId",
	                           true, 1, 64)) < 0)
		return error;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(checks); i++)
		if ((error = hbr_param_str(&v, call->params, checks[i], false,
		                           1, 128)) < 0)
			return error;
	if ((error = hbr_store_begin(call->store)) < 0 ||
	    (error = hbr_store_get(&snap, call->store, HBR_ENT_SNAPSHOT,
	                           call->who.account_id, snapshot_id)) < 0)
		goto out;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(checks); i++) {
		const char *have =
		        json_string_value(json_object_get(snap, checks[i]));
		v = hbr_kvlist_get(call->params, checks[i]);
		if (v && (!have || strcmp(v, have))) {
			error = hbr_error_set(HBR_ENOSNAPSHOT,
			                      "The specified snapshot does not"
			                      " exist with %s %s: %s",
			                      checks[i], v, snapshot_id);
			goto out;
		}
	}
	if ((error = hbr_store_delete_snapshot(
	             call->store, call->who.account_id, snapshot_id)) < 0 ||
	    (error = hbr_store_commit(call->store)) < 0)
		goto out;
	call->snapshots_deleted = 1;
out:
	json_decref(snap);
	return error;
}
