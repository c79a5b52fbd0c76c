/* A minimal signed ACS3 RPC client over libcurl. */
#include "common.h"
#include <curl/curl.h>
#include "agent/agent_rpc.h"
#include "auth/sig.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/random.h"
#include "util/timeutil.h"
#include "util/urlenc.h"

#define API_VERSION     "2017-09-08"
#define ANSWER_MAX      (4 << 20)
#define CALL_TIMEOUT_S  60L
#define CONNECT_TIMEOUT 10L
#define SIGNED_HEADERS                                                    \
	"content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;" \
	"x-acs-signature-nonce;x-acs-version"
#define FORM_TYPE "application/x-www-form-urlencoded"

int hbr_agent_rpc_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return hbr_error_set(HBR_ERROR, "libcurl failed to initialise");
	return 0;
}

void hbr_agent_rpc_global_cleanup(void)
{
	curl_global_cleanup();
}

static void add(struct hbr_kvlist *l, const char *k, const char *v)
{
	hbr_kvlist_add(l, k, strlen(k), v, strlen(v));
}

static int form_body(struct hbr_buf *out, const struct hbr_kvlist *params)
{
	int error = 0;

	for (size_t i = 0; params && i < params->n && error == 0; i++) {
		const struct hbr_kv *kv = &params->items[i];
		if ((i && (error = hbr_buf_putc(out, '&')) < 0) ||
		    (error = hbr_url_encode(out, kv->key, strlen(kv->key))) <
		            0 ||
		    (error = hbr_buf_putc(out, '=')) < 0)
			break;
		error = hbr_url_encode(out, kv->val, strlen(kv->val));
	}
	return error;
}

/* "host[:port]" of the endpoint, as libcurl sends it in Host. */
static int host_of(char *out, size_t size, const char *endpoint)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;
	int error = 0;

	if (!u)
		abort(); /* out of memory */
	if (curl_url_set(u, CURLUPART_URL, endpoint, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		error = hbr_error_set(HBR_EINVAL, "'%s' is not a URL",
		                      endpoint);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
		(void)snprintf(out, size, "%s:%s", host, port);
	else
		(void)snprintf(out, size, "%s", host);
out:
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return error;
}

int hbr_agent_rpc_authorization(char **out, const struct hbr_agent_key *key,
                                const struct hbr_kvlist *headers,
                                const char *signed_headers)
{
	struct hbr_kvlist query = HBR_KVLIST_INIT;
	struct hbr_buf creq = HBR_BUF_INIT, auth = HBR_BUF_INIT;
	const char *hash = hbr_kvlist_get(headers, "x-acs-content-sha256");
	char sig[65];
	int error;

	if ((error = hbr_sig_v3_canonical_request(&creq, "POST", &query,
	                                          headers, signed_headers,
	                                          hash ? hash : "")) < 0)
		goto out;
	hbr_sig_v3_sign(sig, key->secret, hbr_buf_cstr(&creq));
	if ((error = hbr_buf_printf(&auth,
	                            "ACS3-HMAC-SHA256 Credential=%s,"
	                            "SignedHeaders=%s,Signature=%s",
	                            key->access_key_id, signed_headers, sig)) <
	    0)
		goto out;
	*out = hbr_buf_detach(&auth, NULL);
out:
	hbr_buf_release(&creq);
	hbr_buf_release(&auth);
	return error;
}

static size_t collect(char *data, size_t size, size_t n, void *payload)
{
	struct hbr_buf *b = payload;

	if (hbr_buf_put(b, data, size * n) < 0)
		return 0; /* over ANSWER_MAX: libcurl aborts the transfer */
	return size * n;
}

static struct curl_slist *header_list(const struct hbr_kvlist *headers,
                                      const char *authorization)
{
	struct curl_slist *list = NULL;
	struct hbr_buf line = HBR_BUF_INIT;

	for (size_t i = 0; i <= headers->n; i++) {
		struct curl_slist *next;
		hbr_buf_clear(&line);
		if (i < headers->n)
			(void)hbr_buf_printf(&line, "%s: %s",
			                     headers->items[i].key,
			                     headers->items[i].val);
		else
			(void)hbr_buf_printf(&line, "authorization: %s",
			                     authorization);
		if (!(next = curl_slist_append(list, hbr_buf_cstr(&line))))
			abort(); /* out of memory */
		list = next;
	}
	hbr_buf_release(&line);
	return list;
}

static int answer(json_t **out, char *code_out, long status,
                  const struct hbr_buf *body)
{
	json_error_t jerr;
	json_t *o = json_loadb(body->ptr ? body->ptr : "", body->len, 0, &jerr);
	const char *code, *msg;

	if (!json_is_object(o)) {
		json_decref(o);
		return hbr_error_set(HBR_EIO,
		                     "the server answered HTTP %ld with what is"
		                     " not a JSON object",
		                     status);
	}
	if (status == 200 && json_is_true(json_object_get(o, "Success"))) {
		*out = o;
		return 0;
	}
	code = json_string_value(json_object_get(o, "Code"));
	msg = json_string_value(json_object_get(o, "Message"));
	if (code_out)
		(void)snprintf(code_out, 128, "%s", code ? code : "");
	hbr_error_set(HBR_ERROR, "%s: %s (HTTP %ld)", code ? code : "?",
	              msg ? msg : "", status);
	json_decref(o);
	return HBR_ERROR;
}

int hbr_agent_rpc_call(json_t **out, char *code_out,
                       const struct hbr_agent_key *key, const char *action,
                       const struct hbr_kvlist *params)
{
	struct hbr_kvlist headers = HBR_KVLIST_INIT;
	struct hbr_buf body = HBR_BUF_INIT, resp = HBR_BUF_INIT;
	struct curl_slist *list = NULL;
	char host[HBR_AGENT_ENDPOINT_MAX], hash[65], date[32], nonce[37];
	char url[HBR_AGENT_ENDPOINT_MAX + 2], *authorization = NULL;
	char curl_err[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURL *c = NULL;
	CURLcode rc;
	int error;

	if (code_out)
		code_out[0] = '\0';
	hbr_buf_init(&resp, ANSWER_MAX);
	if ((error = host_of(host, sizeof(host), key->endpoint)) < 0 ||
	    (error = form_body(&body, params)) < 0)
		goto out;
	hbr_sig_sha256_hex(hash, body.ptr ? body.ptr : "", body.len);
	hbr_time_format_iso8601(date, sizeof(date), hbr_time_now());
	hbr_random_uuid(nonce);
	/* Sorted by name: the canonical request's order. */
	add(&headers, "content-type", FORM_TYPE);
	add(&headers, "host", host);
	add(&headers, "x-acs-action", action);
	add(&headers, "x-acs-content-sha256", hash);
	add(&headers, "x-acs-date", date);
	add(&headers, "x-acs-signature-nonce", nonce);
	add(&headers, "x-acs-version", API_VERSION);
	if ((error = hbr_agent_rpc_authorization(&authorization, key, &headers,
	                                         SIGNED_HEADERS)) < 0)
		goto out;
	list = header_list(&headers, authorization);
	(void)snprintf(
	        url, sizeof(url), "%s%s", key->endpoint,
	        key->endpoint[0] && key->endpoint[strlen(key->endpoint) - 1] ==
	                                    '/' ?
	                "" :
	                "/");
	if (!(c = curl_easy_init()))
		abort(); /* out of memory */
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.ptr ? body.ptr : "");
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body.len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, CALL_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if ((rc = curl_easy_perform(c)) != CURLE_OK) {
		error = hbr_error_set(HBR_EIO, "%s: %s", url,
		                      curl_err[0] ? curl_err :
		                                    curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	error = answer(out, code_out, status, &resp);
out:
	curl_easy_cleanup(c);
	curl_slist_free_all(list);
	hbr_free(authorization);
	hbr_kvlist_release(&headers);
	hbr_buf_release(&body);
	hbr_buf_release(&resp);
	return error;
}
