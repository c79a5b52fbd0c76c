/*
 * Authentication (which key signed this, and is it fresh) and RAM
 * authorization (may that principal call this action).
 */
#include "common.h"
#include "api/api_auth.h"
#include "auth/policy.h"
#include "auth/sig.h"
#include "core/pack.h"
#include "store/store_account.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timeutil.h"

int hbr_api_authenticate(struct hbr_api_call *call,
                         const struct hbr_http_request *req,
                         const struct hbr_kvlist *form)
{
	struct hbr_sig_request sr = { req->method,   &req->query,
		                      form,          &req->headers,
		                      req->body.ptr, req->body.len };
	struct hbr_sig_claim claim;
	struct hbr_key_info key;
	int64_t now = hbr_time_real();
	int error;

	if ((error = hbr_sig_parse(&claim, &sr)) < 0)
		return error;
	/* A pack body (UploadAgentPack, the only action run() lets one
	 * through to) is signed over its header alone: the header names
	 * every chunk's id and size, and the action hashes every chunk
	 * against its id, so the MAC still covers every byte that matters
	 * while the 40 MiB are hashed once, not twice
	 * (docs/AGENT-PROTOCOL.md). Only V3 hashes a body at all. */
	if (call->body) {
		if (claim.kind != HBR_SIG_V3)
			return hbr_error_set(HBR_ESIGMETHOD,
			                     "an application/octet-stream body"
			                     " must be signed with"
			                     " ACS3-HMAC-SHA256");
		if ((error = hbr_pack_header_len(&sr.body_len, req->body.ptr,
		                                 req->body.len)) < 0)
			return error;
	}
	if ((error = hbr_store_key_get(&key, call->store,
	                               claim.access_key_id)) < 0)
		return error;
	if (!key.active)
		return hbr_error_set(HBR_EKEYINACTIVE,
		                     "Specified access key is disabled.");
	if ((error = hbr_sig_check_time(&claim, now, HBR_SIG_WINDOW_S)) < 0 ||
	    (error = hbr_sig_verify(&claim, &sr, key.secret)) < 0)
		return error;
	/* After the MAC check, so unsigned requests cannot burn nonces. */
	if ((error = hbr_nonce_check(call->api->nonces, claim.access_key_id,
	                             claim.nonce, claim.timestamp, now)) < 0)
		return error;
	memset(&call->who, 0, sizeof(call->who));
	memcpy(call->who.account_id, key.account_id, HBR_ID_MAX);
	memcpy(call->who.user_id, key.user_id, HBR_ID_MAX);
	memcpy(call->who.user_name, key.user_name, sizeof(key.user_name));
	(void)snprintf(call->who.access_key_id, sizeof(call->who.access_key_id),
	               "%s", key.access_key_id);
	memcpy(call->who.client_id, key.client_id, HBR_ID_MAX);
	call->who.is_root = key.user_id[0] == '\0' && key.client_id[0] == '\0';
	return 0;
}

struct policy_set {
	struct hbr_policy **items;
	size_t n;
	bool broken;
};

static int collect_policy(const char *name, const char *doc, void *payload)
{
	struct policy_set *set = payload;
	struct hbr_policy *p = NULL;

	/* Documents were validated when attached. One that no longer
	 * parses may have held a Deny, so it denies everything rather than
	 * silently widening what the user may do. */
	if (hbr_policy_parse(&p, doc, strlen(doc)) < 0) {
		hbr_log_warn("policy '%s' is unreadable: %s", name,
		             hbr_error_msg());
		set->broken = true;
		return 0;
	}
	set->items =
	        hbr_realloc(set->items, (set->n + 1) * sizeof(*set->items));
	set->items[set->n++] = p;
	return 0;
}

/* The actions an agent key may call; nothing else may call them. */
static const char *const agent_actions[] = {
	"ReportBackupClientHeartbeat",
	"PollAgentJobs",
	"StartAgentJob",
	"CheckAgentChunks",
	"UploadAgentPack",
	"ReportAgentJobProgress",
	"CommitAgentSnapshot",
	"FinishAgentJob",
	"FetchAgentChunks",
};

static bool is_agent_action(const char *action)
{
	for (size_t i = 0; i < HBR_ARRAY_SIZE(agent_actions); i++)
		if (!strcmp(agent_actions[i], action))
			return true;
	return false;
}

/* Agent actions and agent keys are outside RAM: an agent key holds no
 * policies and may only speak for its own client, and an operator key
 * must not pose as an agent. */
static int deny_fixed(json_t **detail_out, struct hbr_api_call *call,
                      const char *action)
{
	const struct hbr_principal *w = &call->who;
	const char *type = w->client_id[0] ? "BackupClient" :
	                   w->is_root      ? "Account" :
	                                     "SubUser";
	const char *name = w->client_id[0] ? w->client_id :
	                   w->is_root      ? w->account_id :
	                                     w->user_name;

	*detail_out = json_pack(
	        "{s:s, s:s, s:s, s:s, s:s, s:s}", "AuthAction", action,
	        "NoPermissionType", "ImplicitDeny", "AuthPrincipalType", type,
	        "AuthPrincipalDisplayName", name, "AuthPrincipalOwnerId",
	        w->account_id, "PolicyType", "AccountLevelIdentityBasedPolicy");
	if (w->client_id[0])
		return hbr_error_set(HBR_EDENIED,
		                     "A backup client's access key may not call"
		                     " %s.",
		                     action);
	return hbr_error_set(HBR_EDENIED,
	                     "%s is called by the backup client (hbr-client)"
	                     " with its own access key.",
	                     action);
}

int hbr_api_authorize(json_t **detail_out, struct hbr_api_call *call,
                      bool secure)
{
	struct policy_set set = { NULL, 0, false };
	char action[128], resource[256];
	struct hbr_policy_ctx ctx;
	enum hbr_policy_decision d;
	bool agent_action = is_agent_action(call->action);
	int error;

	(void)snprintf(action, sizeof(action), "hbr:%s", call->action);
	if (call->who.client_id[0] || agent_action) {
		if (call->who.client_id[0] && agent_action)
			return 0;
		return deny_fixed(detail_out, call, action);
	}
	/* An account's root key may do everything in its account. */
	if (call->who.is_root)
		return 0;
	(void)snprintf(resource, sizeof(resource), "acs:hbr:%s:%s:*",
	               call->api->cfg.region, call->who.account_id);
	if ((error = hbr_store_policy_foreach(call->store, call->who.user_id,
	                                      collect_policy, &set)) < 0)
		goto out;
	ctx.action = action;
	ctx.resource = resource;
	ctx.source_ip = call->source_ip;
	ctx.secure_transport = secure;
	ctx.current_time = hbr_time_now();
	ctx.access_key_id = call->who.access_key_id;
	d = set.broken ? HBR_POLICY_EXPLICIT_DENY :
	                 hbr_policy_eval(set.items, set.n, &ctx);
	if (d != HBR_POLICY_ALLOW) {
		*detail_out = json_pack(
		        "{s:s, s:s, s:s, s:s, s:s, s:s}", "AuthAction", action,
		        "NoPermissionType",
		        d == HBR_POLICY_EXPLICIT_DENY ? "ExplicitDeny" :
		                                        "ImplicitDeny",
		        "AuthPrincipalType", "SubUser",
		        "AuthPrincipalDisplayName", call->who.user_name,
		        "AuthPrincipalOwnerId", call->who.account_id,
		        "PolicyType", "AccountLevelIdentityBasedPolicy");
		error = hbr_error_set(HBR_EDENIED,
		                      "User not authorized to operate on the"
		                      " specified resource: %s is %s for %s.",
		                      action,
		                      d == HBR_POLICY_EXPLICIT_DENY ?
		                              "explicitly denied" :
		                              "not allowed",
		                      call->who.user_name);
	}
out:
	for (size_t i = 0; i < set.n; i++)
		hbr_policy_free(set.items[i]);
	hbr_free(set.items);
	return error;
}
