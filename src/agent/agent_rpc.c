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
/* Transfers that may be throttled or large: no total timeout, but one
 * that makes no progress for this long is dead. */
#define STALL_TIMEOUT_S 60L
#define SIGNED_HEADERS                                                    \
	"content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;" \
	"x-acs-signature-nonce;x-acs-version"
#define UPLOAD_BUFFER (512L << 10) /* libcurl's default is 64 KiB */
#define FORM_TYPE     "application/x-www-form-urlencoded"
#define BINARY_TYPE   "application/octet-stream"

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

/* The Authorization header for a request with this query (NULL: none)
 * and these headers, signed over signed_headers. */
static int authorization(char **out, const struct hbr_agent_key *key,
                         const struct hbr_kvlist *query,
                         const struct hbr_kvlist *headers,
                         const char *signed_headers)
{
	struct hbr_kvlist none = HBR_KVLIST_INIT;
	struct hbr_buf creq = HBR_BUF_INIT, auth = HBR_BUF_INIT;
	const char *hash = hbr_kvlist_get(headers, "x-acs-content-sha256");
	char sig[65];
	int error;

	if ((error = hbr_sig_v3_canonical_request(
	             &creq, "POST", query ? query : &none, headers,
	             signed_headers, hash ? hash : "")) < 0)
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

int hbr_agent_rpc_authorization(char **out, const struct hbr_agent_key *key,
                                const struct hbr_kvlist *headers,
                                const char *signed_headers)
{
	return authorization(out, key, NULL, headers, signed_headers);
}

static size_t collect(char *data, size_t size, size_t n, void *payload)
{
	struct hbr_buf *b = payload;

	if (hbr_buf_put(b, data, size * n) < 0)
		return 0; /* over the cap: libcurl aborts the transfer */
	return size * n;
}

static int xfer_check(void *payload, curl_off_t dltotal, curl_off_t dlnow,
                      curl_off_t ultotal, curl_off_t ulnow)
{
	struct hbr_agent_conn *c = payload;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return c->abort_cb && c->abort_cb(c->abort_payload) ? 1 : 0;
}

static struct curl_slist *header_list(const struct hbr_kvlist *headers,
                                      const char *auth_value)
{
	struct curl_slist *list = NULL;
	struct hbr_buf line = HBR_BUF_INIT;

	/* "Expect:" off: libcurl would otherwise wait for a 100 Continue
	 * before every body over 1 MiB, a round trip per pack. */
	for (size_t i = 0; i <= headers->n + 1; i++) {
		struct curl_slist *next;
		hbr_buf_clear(&line);
		if (i < headers->n)
			(void)hbr_buf_printf(&line, "%s: %s",
			                     headers->items[i].key,
			                     headers->items[i].val);
		else if (i == headers->n)
			(void)hbr_buf_printf(&line, "authorization: %s",
			                     auth_value);
		else
			(void)hbr_buf_puts(&line, "Expect:");
		if (!(next = curl_slist_append(list, hbr_buf_cstr(&line))))
			abort(); /* out of memory */
		list = next;
	}
	hbr_buf_release(&line);
	return list;
}

static int error_answer(struct hbr_agent_conn *c, const char *code,
                        const char *msg)
{
	int kind = HBR_ERROR;

	(void)snprintf(c->code, sizeof(c->code), "%s", code ? code : "");
	if (c->status == 409)
		kind = HBR_ECONFLICT;
	else if (code && !strcmp(code, "JobNotExist"))
		kind = HBR_ENOJOB;
	else if (code && !strcmp(code, "ChunkNotExist"))
		kind = HBR_ENOTFOUND;
	else if (c->status >= 500)
		kind = HBR_EUNAVAIL;
	return hbr_error_set(kind, "%s: %s (HTTP %ld)", code ? code : "?",
	                     msg ? msg : "", c->status);
}

static int answer(json_t **out, struct hbr_agent_conn *c,
                  const struct hbr_buf *body)
{
	json_error_t jerr;
	json_t *o = json_loadb(body->ptr ? body->ptr : "", body->len, 0, &jerr);
	int error;

	if (!json_is_object(o)) {
		json_decref(o);
		if (c->status >= 500)
			return hbr_error_set(HBR_EUNAVAIL,
			                     "the server answered HTTP %ld",
			                     c->status);
		return hbr_error_set(HBR_EIO,
		                     "the server answered HTTP %ld with what is"
		                     " not a JSON object",
		                     c->status);
	}
	if (c->status == 200 && json_is_true(json_object_get(o, "Success"))) {
		*out = o;
		return 0;
	}
	error = error_answer(c, json_string_value(json_object_get(o, "Code")),
	                     json_string_value(json_object_get(o, "Message")));
	json_decref(o);
	return error;
}

int hbr_agent_conn_init(struct hbr_agent_conn *c,
                        const struct hbr_agent_key *key)
{
	const char *ep = key->endpoint;
	size_t n = strlen(ep);
	int error;

	memset(c, 0, sizeof(*c));
	c->key = key;
	if ((error = host_of(c->host, sizeof(c->host), ep)) < 0)
		return error;
	(void)snprintf(c->url, sizeof(c->url), "%s%s", ep,
	               n && ep[n - 1] == '/' ? "" : "/");
	if (!(c->curl = curl_easy_init()))
		abort(); /* out of memory */
	return 0;
}

void hbr_agent_conn_release(struct hbr_agent_conn *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	c->curl = NULL;
}

/* What one request is made of, besides the connection. */
struct request {
	const char *action;
	const char *content_type;
	const char *payload_hash;
	const struct hbr_kvlist *query; /* NULL: none */
	const void *body;
	size_t len;
	const void *tail; /* a second part of the body (NULL: none) */
	size_t tail_len;
	bool long_transfer; /* stall timeout instead of a total one */
	uint64_t max_send_speed;
};

static int url_with_query(struct hbr_buf *out, const char *base,
                          const struct hbr_kvlist *query)
{
	int error;

	if ((error = hbr_buf_puts(out, base)) < 0)
		return error;
	if (!query || !query->n)
		return 0;
	if ((error = hbr_buf_putc(out, '?')) < 0)
		return error;
	return form_body(out, query);
}

/* A body in two parts, read by libcurl as it sends (no copy into one
 * buffer); seekable, so that a request on a reused connection that died
 * can be sent again. */
struct body_reader {
	const struct request *req;
	size_t pos;
};

static size_t read_body(char *out, size_t size, size_t n, void *payload)
{
	struct body_reader *r = payload;
	const struct request *req = r->req;
	size_t want = size * n, done = 0;

	while (done < want && r->pos < req->len + req->tail_len) {
		const char *src;
		size_t avail;

		if (r->pos < req->len) {
			src = (const char *)req->body + r->pos;
			avail = req->len - r->pos;
		} else {
			src = (const char *)req->tail + (r->pos - req->len);
			avail = req->len + req->tail_len - r->pos;
		}
		if (avail > want - done)
			avail = want - done;
		memcpy(out + done, src, avail);
		done += avail;
		r->pos += avail;
	}
	return done;
}

static int seek_body(void *payload, curl_off_t offset, int origin)
{
	struct body_reader *r = payload;

	if (origin != SEEK_SET || offset < 0 ||
	    (size_t)offset > r->req->len + r->req->tail_len)
		return CURL_SEEKFUNC_CANTSEEK;
	r->pos = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* Sign and send req; the answer's body lands in resp. */
static int perform(struct hbr_agent_conn *c, const struct request *req,
                   struct hbr_buf *resp)
{
	struct hbr_kvlist headers = HBR_KVLIST_INIT;
	struct hbr_buf url = HBR_BUF_INIT;
	struct body_reader reader = { req, 0 };
	struct curl_slist *list = NULL;
	char date[32], nonce[37], *auth = NULL;
	char curl_err[CURL_ERROR_SIZE] = "";
	CURL *h = c->curl;
	CURLcode rc;
	int error;

	c->status = 0;
	c->code[0] = '\0';
	hbr_time_format_iso8601(date, sizeof(date), hbr_time_now());
	hbr_random_uuid(nonce);
	/* Sorted by name: the canonical request's order. */
	add(&headers, "content-type", req->content_type);
	add(&headers, "host", c->host);
	add(&headers, "x-acs-action", req->action);
	add(&headers, "x-acs-content-sha256", req->payload_hash);
	add(&headers, "x-acs-date", date);
	add(&headers, "x-acs-signature-nonce", nonce);
	add(&headers, "x-acs-version", API_VERSION);
	if ((error = authorization(&auth, c->key, req->query, &headers,
	                           SIGNED_HEADERS)) < 0 ||
	    (error = url_with_query(&url, c->url, req->query)) < 0)
		goto out;
	list = header_list(&headers, auth);
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, hbr_buf_cstr(&url));
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	if (req->tail) {
		curl_easy_setopt(h, CURLOPT_READFUNCTION, read_body);
		curl_easy_setopt(h, CURLOPT_READDATA, &reader);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_body);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, &reader);
		curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, UPLOAD_BUFFER);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)(req->len + req->tail_len));
	} else {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS,
		                 req->body ? req->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)req->len);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (req->long_transfer) {
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, STALL_TIMEOUT_S);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, xfer_check);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
		if (req->max_send_speed)
			curl_easy_setopt(h, CURLOPT_MAX_SEND_SPEED_LARGE,
			                 (curl_off_t)req->max_send_speed);
	} else {
		curl_easy_setopt(h, CURLOPT_TIMEOUT, CALL_TIMEOUT_S);
	}
	if ((rc = curl_easy_perform(h)) != CURLE_OK) {
		if (rc == CURLE_WRITE_ERROR && resp->max &&
		    resp->len + CURL_MAX_WRITE_SIZE > resp->max)
			error = hbr_error_set(
			        HBR_ETOOBIG, "%s: the answer is over %zu bytes",
			        req->action, resp->max);
		else
			error = hbr_error_set(HBR_EIO, "%s: %s", req->action,
			                      curl_err[0] ?
			                              curl_err :
			                              curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
out:
	/* The handle keeps pointers to these until the next reset. */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(list);
	hbr_free(auth);
	hbr_kvlist_release(&headers);
	hbr_buf_release(&url);
	return error;
}

int hbr_agent_conn_call(json_t **out, struct hbr_agent_conn *c,
                        const char *action, const struct hbr_kvlist *params)
{
	struct hbr_buf body = HBR_BUF_INIT, resp;
	struct request req = { .action = action, .content_type = FORM_TYPE };
	char hash[65];
	int error;

	hbr_buf_init(&resp, ANSWER_MAX);
	if ((error = form_body(&body, params)) < 0)
		goto out;
	hbr_sig_sha256_hex(hash, body.ptr ? body.ptr : "", body.len);
	req.payload_hash = hash;
	req.body = body.ptr;
	req.len = body.len;
	if ((error = perform(c, &req, &resp)) < 0)
		goto out;
	error = answer(out, c, &resp);
out:
	hbr_buf_release(&body);
	hbr_buf_release(&resp);
	return error;
}

int hbr_agent_conn_upload(json_t **out, struct hbr_agent_conn *c,
                          const char *action, const struct hbr_kvlist *query,
                          const void *head, size_t head_len, const void *tail,
                          size_t tail_len, uint64_t max_send_speed)
{
	struct hbr_buf resp;
	struct request req = { .action = action,
		               .content_type = BINARY_TYPE,
		               .query = query,
		               .body = head,
		               .len = head_len,
		               .tail = tail ? tail : "",
		               .tail_len = tail_len,
		               .long_transfer = true,
		               .max_send_speed = max_send_speed };
	char hash[65];
	int error;

	hbr_buf_init(&resp, ANSWER_MAX);
	hbr_sig_sha256_hex(hash, head, head_len);
	req.payload_hash = hash;
	if ((error = perform(c, &req, &resp)) == 0)
		error = answer(out, c, &resp);
	hbr_buf_release(&resp);
	return error;
}

int hbr_agent_conn_fetch(struct hbr_buf *out, struct hbr_agent_conn *c,
                         const char *action, const struct hbr_kvlist *params,
                         size_t max)
{
	struct hbr_buf body = HBR_BUF_INIT, resp;
	struct request req = { .action = action,
		               .content_type = FORM_TYPE,
		               .long_transfer = true };
	char hash[65], *ctype = NULL;
	json_t *o = NULL;
	int error;

	hbr_buf_init(&resp, max);
	if ((error = form_body(&body, params)) < 0)
		goto out;
	hbr_sig_sha256_hex(hash, body.ptr ? body.ptr : "", body.len);
	req.payload_hash = hash;
	req.body = body.ptr;
	req.len = body.len;
	if ((error = perform(c, &req, &resp)) < 0)
		goto out;
	curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ctype);
	if (c->status == 200 && ctype &&
	    !strncmp(ctype, BINARY_TYPE, strlen(BINARY_TYPE))) {
		error = hbr_buf_put(out, resp.ptr ? resp.ptr : "", resp.len);
		goto out;
	}
	/* An error answer, or a success that is not binary. */
	if ((error = answer(&o, c, &resp)) == 0)
		error = hbr_error_set(HBR_EIO, "%s answered JSON, not data",
		                      action);
out:
	json_decref(o);
	hbr_buf_release(&body);
	hbr_buf_release(&resp);
	return error;
}

int hbr_agent_rpc_call(json_t **out, char *code_out,
                       const struct hbr_agent_key *key, const char *action,
                       const struct hbr_kvlist *params)
{
	struct hbr_agent_conn c;
	int error;

	if (code_out)
		code_out[0] = '\0';
	if ((error = hbr_agent_conn_init(&c, key)) < 0)
		return error;
	error = hbr_agent_conn_call(out, &c, action, params);
	if (error < 0 && code_out)
		(void)snprintf(code_out, HBR_AGENT_CODE_MAX, "%s", c.code);
	hbr_agent_conn_release(&c);
	return error;
}
