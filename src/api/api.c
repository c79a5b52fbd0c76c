/*
 * The request pipeline every action goes through, in the order the
 * Alibaba gateway checks things: input limits, Action and Version,
 * signature, replay, RAM, then the action; and the one response
 * envelope for success and error.
 */
#include "common.h"
#include <strings.h>
#include <sys/stat.h>
#include "api/api.h"
#include "api/api_audit.h"
#include "api/api_auth.h"
#include "api/api_error.h"
#include "api/api_params.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"
#include "util/random.h"
#include "util/timeutil.h"
#include "util/urlenc.h"

#define MAX_PARAMS 1000

/* Action flags. */
#define AUDIT   1u /* audited, allowed or not (writes) */
#define OWN_TXN 2u /* opens its own transactions (writes, long reads) */
#define WRITE   (AUDIT | OWN_TXN)
#define RECLAIM 4u /* may queue snapshots for reclamation: wake it */

struct action {
	const char *name;
	hbr_api_action_fn *fn;
	unsigned flags; /* 0: a read, run in one read transaction */
};

/*
 * The agent's data actions are not audited: they come at the rate of
 * uploads (one per 8 MiB). Upload and Fetch do seconds of vault I/O that
 * must not hold a transaction open, and Check may write (it protects the
 * chunks it reports present from reclamation), so those run outside the
 * read transaction. Starting, committing and finishing a job happen once
 * per job and change what operators see, so they are audited.
 */
static const struct action actions[] = {
	{ "CreateVault", hbr_api_create_vault, WRITE },
	{ "DescribeVaults", hbr_api_describe_vaults, 0 },
	{ "InstallBackupClients", hbr_api_install_backup_clients, WRITE },
	{ "DescribeTask", hbr_api_describe_task, 0 },
	{ "DescribeBackupClients", hbr_api_describe_backup_clients, 0 },
	{ "CreateBackupPlan", hbr_api_create_backup_plan, WRITE },
	{ "DescribeBackupPlans", hbr_api_describe_backup_plans, 0 },
	{ "ExecuteBackupPlan", hbr_api_execute_backup_plan, WRITE },
	{ "CreateBackupJob", hbr_api_create_backup_job, WRITE },
	{ "DescribeBackupJobs2", hbr_api_describe_backup_jobs2, 0 },
	{ "SearchHistoricalSnapshots", hbr_api_search_historical_snapshots, 0 },
	{ "DeleteBackupClientResource", hbr_api_delete_backup_client_resource,
	  WRITE | RECLAIM },
	{ "UpdateVault", hbr_api_update_vault, WRITE },
	{ "DeleteVault", hbr_api_delete_vault, WRITE | RECLAIM },
	{ "DeleteBackupClient", hbr_api_delete_backup_client, WRITE | RECLAIM },
	{ "UpdateClientSettings", hbr_api_update_client_settings, WRITE },
	{ "UninstallBackupClients", hbr_api_uninstall_backup_clients, WRITE },
	{ "UpdateBackupPlan", hbr_api_update_backup_plan, WRITE },
	{ "DeleteBackupPlan", hbr_api_delete_backup_plan, WRITE | RECLAIM },
	{ "EnableBackupPlan", hbr_api_enable_backup_plan, WRITE },
	{ "DisableBackupPlan", hbr_api_disable_backup_plan, WRITE },
	{ "CancelBackupJob", hbr_api_cancel_backup_job, WRITE | RECLAIM },
	{ "DeleteSnapshot", hbr_api_delete_snapshot, WRITE | RECLAIM },
	{ "CreateRestoreJob", hbr_api_create_restore_job, WRITE },
	{ "DescribeRestoreJobs2", hbr_api_describe_restore_jobs2, 0 },
	{ "CancelRestoreJob", hbr_api_cancel_restore_job, WRITE },
	{ "RegisterBackupClient", hbr_api_register_backup_client, WRITE },
	{ "ReportBackupClientHeartbeat", hbr_api_report_backup_client_heartbeat,
	  WRITE },
	{ "PollAgentJobs", hbr_api_poll_agent_jobs, 0 },
	{ "StartAgentJob", hbr_api_start_agent_job, WRITE },
	{ "CheckAgentChunks", hbr_api_check_agent_chunks, OWN_TXN },
	{ "UploadAgentPack", hbr_api_upload_agent_pack, OWN_TXN },
	{ "ReportAgentJobProgress", hbr_api_report_agent_job_progress,
	  OWN_TXN },
	{ "CommitAgentSnapshot", hbr_api_commit_agent_snapshot,
	  WRITE | RECLAIM },
	{ "FinishAgentJob", hbr_api_finish_agent_job, WRITE },
	{ "FetchAgentChunks", hbr_api_fetch_agent_chunks, OWN_TXN },
};

static const struct action *find_action(const char *name)
{
	for (size_t i = 0; i < HBR_ARRAY_SIZE(actions); i++)
		if (!strcmp(actions[i].name, name))
			return &actions[i];
	return NULL;
}

int hbr_api_open(struct hbr_api **out, const struct hbr_api_config *cfg)
{
	struct hbr_api *api = hbr_calloc(1, sizeof(*api));
	char path[4096];
	int error;

	api->cfg = *cfg;
	(void)snprintf(api->host_id, sizeof(api->host_id), "hbr.%s.hbrd",
	               cfg->region);
	if ((error = hbr_store_pool_open(&api->pool, cfg->store_url,
	                                 cfg->store_conns)) < 0)
		goto fail;
	(void)snprintf(path, sizeof(path), "%s/nonces", cfg->data_dir);
	if ((error = hbr_nonce_open(&api->nonces, path, HBR_SIG_WINDOW_S)) < 0)
		goto fail;
	(void)snprintf(path, sizeof(path), "%s/audit.log", cfg->data_dir);
	if ((error = hbr_audit_open(&api->audit, path)) < 0)
		goto fail;
	api->vaults = hbr_api_vaults_new();
	*out = api;
	return 0;
fail:
	hbr_api_close(api);
	return error;
}

void hbr_api_close(struct hbr_api *api)
{
	if (!api)
		return;
	hbr_api_vaults_free(api->vaults);
	hbr_audit_close(api->audit);
	hbr_nonce_close(api->nonces);
	hbr_store_pool_close(api->pool);
	hbr_free(api);
}

static bool is_form(const struct hbr_http_request *req)
{
	const char *ct = hbr_kvlist_get(&req->headers, "content-type");

	return ct && !strncasecmp(ct, "application/x-www-form-urlencoded", 33);
}

static bool is_octet_stream(const struct hbr_http_request *req)
{
	const char *ct = hbr_kvlist_get(&req->headers, "content-type");

	return ct && !strncasecmp(ct, "application/octet-stream", 24);
}

/* Query parameters win over body parameters of the same name. */
static void merge(struct hbr_kvlist *out, const struct hbr_kvlist *a,
                  const struct hbr_kvlist *b)
{
	for (size_t i = 0; i < a->n; i++)
		hbr_kvlist_add(out, a->items[i].key, strlen(a->items[i].key),
		               a->items[i].val, strlen(a->items[i].val));
	for (size_t i = 0; i < b->n; i++)
		if (!hbr_kvlist_get(a, b->items[i].key))
			hbr_kvlist_add(out, b->items[i].key,
			               strlen(b->items[i].key), b->items[i].val,
			               strlen(b->items[i].val));
}

static const char *param_or_header(const struct hbr_kvlist *params,
                                   const struct hbr_http_request *req,
                                   const char *param, const char *header)
{
	const char *v = hbr_kvlist_get(params, param);

	return v ? v : hbr_kvlist_get(&req->headers, header);
}

struct pipeline {
	struct hbr_kvlist form;
	struct hbr_kvlist params;
	const struct action *action;
	json_t *denied;
};

static int run(struct pipeline *p, struct hbr_api_call *call,
               const struct hbr_http_request *req)
{
	const char *action, *version, *format;
	int error;

	if (req->error)
		return hbr_error_set(req->error, "%s", req->error_msg);
	if (strcmp(req->method, "GET") && strcmp(req->method, "POST"))
		return hbr_error_set(HBR_EMETHOD,
		                     "This http method is not supported.");
	/* RPC style: everything is on "/", and V3 signs "/" as the path,
	 * so another path would be unauthenticated. */
	if (strcmp(req->path, "/"))
		return hbr_error_set(HBR_EACTION,
		                     "Specified api is not found, please check"
		                     " your url and method.");
	/* A binary body is the action's data, never parameters. An empty
	 * one is no body (a client may label any request octet-stream). */
	if (req->body.len && is_octet_stream(req)) {
		call->body = req->body.ptr;
		call->body_len = req->body.len;
	}
	if (req->body.len && is_form(req) &&
	    (error = hbr_form_parse(&p->form, req->body.ptr, req->body.len,
	                            MAX_PARAMS)) < 0)
		return hbr_error_set(HBR_EINVAL,
		                     "the request has more than %d"
		                     " parameters",
		                     MAX_PARAMS);
	if (req->query.n + p->form.n > MAX_PARAMS)
		return hbr_error_set(HBR_EINVAL,
		                     "the request has more than %d"
		                     " parameters",
		                     MAX_PARAMS);
	/* Most requests carry their parameters in one place only; copy
	 * into a merged list just when both the query and the body do. */
	if (!p->form.n) {
		call->params = &req->query;
	} else if (!req->query.n) {
		call->params = &p->form;
	} else {
		merge(&p->params, &req->query, &p->form);
		call->params = &p->params;
	}

	action = param_or_header(call->params, req, "Action", "x-acs-action");
	version =
	        param_or_header(call->params, req, "Version", "x-acs-version");
	if (!action || !action[0])
		return hbr_error_set_param(HBR_EMISSING, "Action",
		                           "Action is mandatory.");
	if (!version || !version[0])
		return hbr_error_set_param(HBR_EMISSING, "Version",
		                           "Version is mandatory.");
	if (strcmp(version, HBR_API_VERSION))
		return hbr_error_set(HBR_EVERSION,
		                     "Specified parameter Version is not"
		                     " valid: this service speaks %s.",
		                     HBR_API_VERSION);
	format = hbr_kvlist_get(call->params, "Format");
	if (format && strcasecmp(format, "JSON") && strcasecmp(format, "XML"))
		return hbr_error_set(HBR_EINVAL,
		                     "Specified parameter Format is not"
		                     " valid.");
	if (!(p->action = find_action(action)))
		return hbr_error_set(HBR_EACTION,
		                     "Specified api is not found, please check"
		                     " your url and method.");
	call->action = p->action->name;
	if (call->body && strcmp(call->action, "UploadAgentPack"))
		return hbr_error_set(HBR_EINVAL,
		                     "%s takes no application/octet-stream"
		                     " body",
		                     call->action);
	call->store = hbr_store_pool_get(call->api->pool);
	/* A read-only call runs in one read transaction: one consistent
	 * view, and one lock acquisition instead of one per query. Writes
	 * open their own write transaction inside the action. */
	if (!(p->action->flags & OWN_TXN) &&
	    (error = call->store->ops->exec(call->store, "BEGIN")) < 0)
		return error;
	if ((error = hbr_api_authenticate(call, req, &p->form)) < 0 ||
	    (error = hbr_api_authorize(&p->denied, call, req->secure)) < 0)
		goto out;
	if (p->action->flags & OWN_TXN) {
		error = p->action->fn(call);
		/* Deletions reach gc_queue (at once, or through the purge):
		 * the space should start coming back now, not at the next
		 * idle tick. */
		if (error == 0 && (p->action->flags & RECLAIM) &&
		    call->api->on_delete)
			call->api->on_delete(call->api->on_delete_payload);
		return error;
	}
	error = p->action->fn(call);
out:
	if (!(p->action->flags & OWN_TXN))
		hbr_store_rollback(call->store);
	return error;
}

void hbr_api_principal_name(char *out, size_t size,
                            const struct hbr_api_call *call)
{
	if (call->who.is_root)
		(void)snprintf(out, size, "root");
	else if (call->who.client_id[0])
		(void)snprintf(out, size, "client/%s", call->who.client_id);
	else if (call->who.user_name[0])
		(void)snprintf(out, size, "user/%s", call->who.user_name);
	else if (size)
		out[0] = '\0';
}

int hbr_api_list_into(int64_t *total_out, struct hbr_api_call *call,
                      const char *field, const char *wrapper,
                      const struct hbr_list_req *req)
{
	int error;

	hbr_buf_clear(&call->raw);
	/* A page of rows is a few KiB: one allocation, not a doubling
	 * series from 64 bytes. */
	if ((error = hbr_buf_reserve(&call->raw,
	                             (size_t)(req->limit > 0 ? req->limit : 1) *
	                                     1024)) < 0)
		return error;
	if (wrapper &&
	    (error = hbr_buf_printf(&call->raw, "{\"%s\":", wrapper)) < 0)
		return error;
	if ((error = hbr_store_list_text(&call->raw, total_out, call->store,
	                                 req)) < 0 ||
	    (wrapper && (error = hbr_buf_putc(&call->raw, '}')) < 0))
		return error;
	call->raw_field = field;
	return 0;
}

void hbr_api_answer_page(struct hbr_api_call *call, int64_t total, int64_t page,
                         int64_t size)
{
	call->paged = true;
	call->total_count = total;
	call->page_number = page;
	call->page_size = size;
}

int hbr_api_describe_page(struct hbr_api_call *call, enum hbr_entity entity,
                          const char *field, const char *wrapper,
                          const struct hbr_filters *filters,
                          const struct hbr_cond *extra, size_t nextra,
                          bool descending, int64_t page, int64_t size)
{
	struct hbr_cond *conds =
	        hbr_calloc(filters->n + nextra + 1, sizeof(*conds));
	struct hbr_list_req req = { 0 };
	int64_t total = 0;
	int error;

	/* memcpy from NULL is undefined even for 0 bytes. */
	if (filters->n)
		memcpy(conds, filters->conds, filters->n * sizeof(*conds));
	if (nextra)
		memcpy(conds + filters->n, extra, nextra * sizeof(*conds));
	req.entity = entity;
	req.account_id = call->who.account_id;
	req.conds = conds;
	req.nconds = filters->n + nextra;
	req.descending = descending;
	req.offset = (page - 1) * size;
	req.limit = size;
	if ((error = hbr_api_list_into(&total, call, field, wrapper, &req)) ==
	    0)
		hbr_api_answer_page(call, total, page, size);
	hbr_free(conds);
	return error;
}

void hbr_api_audit_entry(struct hbr_audit_entry *e,
                         char principal[HBR_API_PRINCIPAL_MAX],
                         const struct hbr_api_call *call, const char *code)
{
	memset(e, 0, sizeof(*e));
	hbr_api_principal_name(principal, HBR_API_PRINCIPAL_MAX, call);
	e->time = hbr_time_now();
	e->request_id = call->request_id;
	e->account_id = call->who.account_id;
	e->principal = principal;
	e->access_key_id = call->who.access_key_id;
	e->source_ip = call->source_ip;
	e->action = call->action;
	e->client_ids = call->audit_client_ids;
	e->code = code;
	e->plans_deleted = call->plans_deleted;
	e->jobs_deleted = call->jobs_deleted;
	e->snapshots_deleted = call->snapshots_deleted;
}

static void audit(struct hbr_api_call *call, const char *code)
{
	struct hbr_audit_entry e;
	char principal[HBR_API_PRINCIPAL_MAX];

	hbr_api_audit_entry(&e, principal, call, code);
	/* An action that committed wrote its own row in its transaction. */
	if (!call->audit_done && call->store &&
	    hbr_store_audit_insert(call->store, &e) < 0)
		hbr_log_error("audit table: %s", hbr_error_msg());
	if (hbr_audit_append(call->api->audit, &e) < 0)
		hbr_log_error("audit log: %s", hbr_error_msg());
}

/* The success answer is written as text: the four envelope fields, the
 * page fields, whatever the action put in call->out, and a pre-built
 * list (call->raw). On the hot listing path out is empty, so jansson
 * builds and dumps nothing. The request id is an upper-case UUID and
 * the field names are ours: nothing here needs escaping. */
static void success_envelope(struct hbr_http_response *resp,
                             struct hbr_api_call *call)
{
	struct hbr_buf *b = &resp->body;
	char *text = NULL;

	resp->status = 200;
	if (json_object_size(call->out))
		text = json_dumps(call->out, JSON_COMPACT);
	(void)hbr_buf_reserve(
	        b, (text ? strlen(text) : 0) + call->raw.len +
	                   (call->raw_field ? strlen(call->raw_field) : 0) +
	                   192);
	(void)hbr_buf_puts(b, "{\"RequestId\":\"");
	(void)hbr_buf_puts(b, call->request_id);
	(void)hbr_buf_puts(b, "\",\"Code\":\"200\",\"Message\":\"successful\","
	                      "\"Success\":true");
	if (call->paged) {
		(void)hbr_buf_puts(b, ",\"TotalCount\":");
		(void)hbr_buf_put_i64(b, call->total_count);
		(void)hbr_buf_puts(b, ",\"PageNumber\":");
		(void)hbr_buf_put_i64(b, call->page_number);
		(void)hbr_buf_puts(b, ",\"PageSize\":");
		(void)hbr_buf_put_i64(b, call->page_size);
	}
	/* text is "{...}" (or "{}", when dumping failed: out of memory) */
	if (text && text[1] != '}') {
		(void)hbr_buf_putc(b, ',');
		(void)hbr_buf_put(b, text + 1, strlen(text + 1) - 1);
	}
	free(text); /* jansson's allocation */
	if (call->raw_field) {
		(void)hbr_buf_puts(b, ",\"");
		(void)hbr_buf_puts(b, call->raw_field);
		(void)hbr_buf_puts(b, "\":");
		(void)hbr_buf_put(b, call->raw.ptr, call->raw.len);
	}
	(void)hbr_buf_putc(b, '}');
}

static void envelope(struct hbr_http_response *resp, struct hbr_api_call *call,
                     int error, json_t *denied)
{
	json_t *o = call->out;
	char code[160];
	char *text;

	if (error == 0 && call->binary) {
		resp->status = 200;
		resp->content_type = "application/octet-stream";
		hbr_buf_release(&resp->body);
		resp->body = call->bin;
		hbr_buf_init(&call->bin, 0);
		/* No envelope to carry it, so the request id travels as a
		 * header, as Alibaba's gateway sends it. */
		hbr_kvlist_add(&resp->headers, "x-acs-request-id", 16,
		               call->request_id, strlen(call->request_id));
		return;
	}
	if (error == 0) {
		success_envelope(resp, call);
		return;
	}
	json_object_clear(o);
	resp->status = hbr_api_error_code(code, sizeof(code), error,
	                                  hbr_error_param());
	json_object_set_new(o, "RequestId", json_string(call->request_id));
	json_object_set_new(o, "HostId", json_string(call->api->host_id));
	json_object_set_new(o, "Code", json_string(code));
	/* Server-side failures are logged in detail but reported
	 * without internals (paths, SQL) to the caller. */
	json_object_set_new(
	        o, "Message",
	        json_string(resp->status >= 500 ?
	                            "The request processing has"
	                            " failed due to some unknown"
	                            " error, exception or failure." :
	                            hbr_error_msg()));
	json_object_set_new(o, "Success", json_false());
	if (denied)
		json_object_set(o, "AccessDeniedDetail", denied);
	if (resp->status >= 500)
		hbr_log_error("%s %s: %s", call->request_id,
		              call->action ? call->action : "-",
		              hbr_error_msg());
	text = json_dumps(o, JSON_COMPACT);
	(void)hbr_buf_puts(&resp->body, text ? text : "{}");
	free(text); /* jansson's allocation */
}

void hbr_api_handle(struct hbr_http_response *resp,
                    const struct hbr_http_request *req, void *payload)
{
	struct pipeline p = { HBR_KVLIST_INIT, HBR_KVLIST_INIT, NULL, NULL };
	struct hbr_api_call call = { 0 };
	int error;

	call.api = payload;
	call.source_ip = req->peer_ip;
	call.out = json_object();
	call.params = &p.params;
	hbr_random_uuid(call.request_id);
	hbr_error_clear();

	error = run(&p, &call, req);
	if (call.store)
		hbr_store_rollback(call.store); /* no-op unless left open */
	envelope(resp, &call, error, p.denied);
	if (p.action && (p.action->flags & AUDIT)) {
		char code[160] = "200";
		if (error)
			(void)hbr_api_error_code(code, sizeof(code), error,
			                         hbr_error_param());
		audit(&call, code);
	}
	if (call.store)
		hbr_store_pool_put(call.api->pool, call.store);
	json_decref(call.out);
	hbr_buf_release(&call.raw);
	hbr_buf_release(&call.bin);
	json_decref(p.denied);
	hbr_free((char *)call.audit_client_ids);
	hbr_kvlist_release(&p.form);
	hbr_kvlist_release(&p.params);
}
