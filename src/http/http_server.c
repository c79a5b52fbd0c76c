/*
 * libmicrohttpd glue. Two MHD behaviours shape this file: the raw URI is
 * only available from the URI log callback (needed because signatures are
 * computed over parameters we decode ourselves, identically for query and
 * body), and a response queued before the body is consumed makes MHD
 * close the connection, so we answer on the last callback.
 */
#include "common.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <strings.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include "http/http_server.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"
#include "util/urlenc.h"

struct hbr_http_server {
	struct MHD_Daemon *daemon;
	struct hbr_http_limits limits;
	hbr_http_handler_cb *cb;
	void *payload;
	uint16_t port;
	atomic_int in_flight;
	atomic_uint uploads; /* octet-stream bodies being buffered or served */
};

struct conn_state {
	struct hbr_http_request req;
	char *uri;
	bool started;
	bool upload_slot; /* holds one of limits.max_uploads */
};

static void *uri_log_cb(void *cls, const char *uri, struct MHD_Connection *con)
{
	struct hbr_http_server *srv = cls;
	struct conn_state *cs = hbr_calloc(1, sizeof(*cs));

	(void)con;
	cs->uri = hbr_strdup(uri ? uri : "/");
	hbr_buf_init(&cs->req.body, srv->limits.max_body);
	return cs;
}

static void completed_cb(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct hbr_http_server *srv = cls;
	struct conn_state *cs = *con_cls;

	(void)con;
	(void)toe;
	if (!cs)
		return;
	hbr_kvlist_release(&cs->req.query);
	hbr_kvlist_release(&cs->req.headers);
	hbr_buf_release(&cs->req.body);
	hbr_free((char *)cs->req.path);
	hbr_free(cs->uri);
	if (cs->started)
		atomic_fetch_sub(&srv->in_flight, 1);
	if (cs->upload_slot)
		atomic_fetch_sub(&srv->uploads, 1);
	hbr_free(cs);
	*con_cls = NULL;
}

static enum MHD_Result header_cb(void *cls, enum MHD_ValueKind kind,
                                 const char *key, const char *value)
{
	struct hbr_http_request *req = cls;
	char name[128];
	size_t n = strlen(key);

	(void)kind;
	if (n >= sizeof(name))
		return MHD_YES; /* no header we care about is that long */
	for (size_t i = 0; i < n; i++)
		name[i] = (char)tolower((unsigned char)key[i]);
	name[n] = '\0';
	hbr_kvlist_add(&req->headers, name, n, value,
	               value ? strlen(value) : 0);
	return MHD_YES;
}

static void refuse(struct hbr_http_request *req, int code, const char *msg)
{
	if (req->error)
		return;
	req->error = code;
	(void)snprintf(req->error_msg, sizeof(req->error_msg), "%s", msg);
}

static void start_request(struct hbr_http_server *srv, struct conn_state *cs,
                          struct MHD_Connection *con, const char *method)
{
	struct hbr_http_request *req = &cs->req;
	const union MHD_ConnectionInfo *ci;
	const char *q = strchr(cs->uri, '?');

	req->method = method;
	req->path = q ? hbr_strndup(cs->uri, (size_t)(q - cs->uri)) :
	                hbr_strdup(cs->uri);
	if (q && hbr_form_parse(&req->query, q + 1, strlen(q + 1),
	                        srv->limits.max_params) < 0)
		refuse(req, HBR_EINVAL, hbr_error_msg());
	MHD_get_connection_values(con, MHD_HEADER_KIND, header_cb, req);
	ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET,
			          &((const struct sockaddr_in *)sa)->sin_addr,
			          req->peer_ip, sizeof(req->peer_ip));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6,
			          &((const struct sockaddr_in6 *)sa)->sin6_addr,
			          req->peer_ip, sizeof(req->peer_ip));
	}
}

static bool is_octet_stream(const struct hbr_http_request *req)
{
	const char *ct = hbr_kvlist_get(&req->headers, "content-type");

	return ct && !strncasecmp(ct, "application/octet-stream", 24);
}

/* A big body is up to max_upload_body bytes in memory until the answer
 * is sent, so their number is bounded across the server; the client is
 * told to come back (503) rather than made to wait. */
static void take_upload_slot(struct hbr_http_server *srv, struct conn_state *cs)
{
	unsigned n = atomic_load(&srv->uploads);

	if (!srv->limits.max_uploads || !is_octet_stream(&cs->req))
		return;
	do {
		if (n >= srv->limits.max_uploads) {
			refuse(&cs->req, HBR_EUNAVAIL,
			       "too many uploads in progress; retry later");
			return;
		}
	} while (!atomic_compare_exchange_weak(&srv->uploads, &n, n + 1));
	cs->upload_slot = true;
	cs->req.body.max = srv->limits.max_upload_body;
}

static enum MHD_Result respond(struct hbr_http_server *srv,
                               struct MHD_Connection *con,
                               struct conn_state *cs)
{
	struct hbr_http_response resp = { 200, HBR_BUF_INIT,
		                          "application/json;charset=utf-8",
		                          HBR_KVLIST_INIT };
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len;
	char *body;

	srv->cb(&resp, &cs->req, srv->payload);
	body = hbr_buf_detach(&resp.body, &len);
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		hbr_free(body);
		hbr_kvlist_release(&resp.headers);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", resp.content_type);
	for (size_t i = 0; i < resp.headers.n; i++)
		MHD_add_response_header(r, resp.headers.items[i].key,
		                        resp.headers.items[i].val);
	hbr_kvlist_release(&resp.headers);
	ret = MHD_queue_response(con, (unsigned)resp.status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *con,
                                 const char *url, const char *method,
                                 const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
	struct hbr_http_server *srv = cls;
	struct conn_state *cs = *con_cls;

	(void)url;
	(void)version;
	if (!cs)
		return MHD_NO;
	if (!cs->started) {
		const char *cl;
		/* In flight from the moment the headers are complete: a
		 * graceful stop waits for these, not for connections still
		 * sending a request line. */
		cs->started = true;
		atomic_fetch_add(&srv->in_flight, 1);
		start_request(srv, cs, con, method);
		take_upload_slot(srv, cs);
		if (cs->req.error == HBR_EUNAVAIL)
			return respond(srv, con, cs);
		cl = hbr_kvlist_get(&cs->req.headers, "content-length");
		/* Refuse a declared oversize body without reading it; MHD
		 * closes the connection after the answer. */
		if (cl && strtoull(cl, NULL, 10) > cs->req.body.max) {
			refuse(&cs->req, HBR_ETOOBIG,
			       "request body larger than the limit");
			return respond(srv, con, cs);
		}
		/* One allocation for a declared upload instead of a doubling
		 * series of copies up to 40 MiB, page-aligned: a pack goes
		 * from it to an O_DIRECT write without a bounce copy. */
		if (cl && cs->upload_slot)
			(void)hbr_buf_reserve_aligned(
			        &cs->req.body, (size_t)strtoull(cl, NULL, 10),
			        HBR_HTTP_BODY_ALIGN);
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!cs->req.error && hbr_buf_put(&cs->req.body, upload_data,
		                                  *upload_data_size) < 0)
			refuse(&cs->req, HBR_ETOOBIG,
			       "request body larger than the limit");
		*upload_data_size = 0;
		return MHD_YES;
	}
	return respond(srv, con, cs);
}

int hbr_http_start(struct hbr_http_server **out, const char *host,
                   uint16_t port, const struct hbr_http_limits *limits,
                   hbr_http_handler_cb *cb, void *payload)
{
	struct hbr_http_server *srv = hbr_calloc(1, sizeof(*srv));
	struct sockaddr_in addr = { 0 };
	const union MHD_DaemonInfo *di;

	addr.sin_family = AF_INET;
	addr.sin_port = htons(port);
	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
		hbr_free(srv);
		return hbr_error_set(HBR_EINVAL,
		                     "listen address '%s' is not an IPv4"
		                     " address",
		                     host);
	}
	srv->limits = *limits;
	srv->cb = cb;
	srv->payload = payload;
	/* poll(), not epoll: with epoll, libmicrohttpd 0.9.75 leaves a
	 * connection whose headers overflow the pool hanging until the idle
	 * timeout instead of closing it. The pool (max_header_bytes) is
	 * zeroed on every request, so it is kept no larger than needed. */
	srv->daemon = MHD_start_daemon(
	        MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC |
	                MHD_USE_SUPPRESS_DATE_NO_CLOCK,
	        port, NULL, NULL, access_cb, srv, MHD_OPTION_SOCK_ADDR,
	        (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
	        (unsigned)limits->threads, MHD_OPTION_CONNECTION_TIMEOUT,
	        (unsigned)limits->idle_timeout_s,
	        MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	        (size_t)limits->max_header_bytes, MHD_OPTION_URI_LOG_CALLBACK,
	        uri_log_cb, srv, MHD_OPTION_NOTIFY_COMPLETED, completed_cb, srv,
	        MHD_OPTION_END);
	if (!srv->daemon) {
		hbr_free(srv);
		return hbr_error_set(HBR_EIO, "cannot listen on %s:%u", host,
		                     (unsigned)port);
	}
	di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = di ? di->port : port;
	*out = srv;
	return 0;
}

uint16_t hbr_http_port(const struct hbr_http_server *srv)
{
	return srv->port;
}

void hbr_http_stop(struct hbr_http_server *srv, unsigned grace_s)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	unsigned waited_ms = 0;

	if (!srv)
		return;
	MHD_quiesce_daemon(srv->daemon);
	/* in_flight counts requests begun and not yet completed; idle
	 * keep-alive connections are not waited for. */
	while (atomic_load(&srv->in_flight) > 0 && waited_ms < grace_s * 1000) {
		nanosleep(&tick, NULL);
		waited_ms += 10;
	}
	MHD_stop_daemon(srv->daemon);
	hbr_free(srv);
}
