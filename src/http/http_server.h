/*
 * The HTTP front: an HTTP/1.1 server with one epoll loop per worker
 * thread (http_server.c; framing in http_parse.c), turning each
 * request into a struct hbr_http_request (decoded query, lower-cased
 * headers, the raw de-chunked body) and handing it to one handler.
 * No business logic and no error format lives here: when a limit is hit
 * the handler still runs, with `error` set, and answers as it likes.
 */
#ifndef HBR_HTTP_SERVER_H
#define HBR_HTTP_SERVER_H

#include "common.h"
#include "util/buf.h"
#include "util/kvlist.h"

/* An upload (octet-stream) body starts on a page boundary, so that it
 * can be written with O_DIRECT without a copy (vault_local.c). */
#define HBR_HTTP_BODY_ALIGN 4096u

struct hbr_http_request {
	const char *method; /* "GET", "POST", ... */
	const char *path; /* the URI path, without the query */
	struct hbr_kvlist query; /* decoded URL query parameters */
	struct hbr_kvlist headers; /* names lower-cased */
	struct hbr_buf body; /* raw body, capped */
	char peer_ip[64];
	bool secure; /* arrived over TLS (never, for now) */
	/* 0, or HBR_ETOOBIG / HBR_EINVAL / HBR_EUNAVAIL: input refused */
	int error;
	char error_msg[256];
};

struct hbr_http_response {
	int status;
	struct hbr_buf body; /* any bytes: its len, not strlen, is sent */
	const char *content_type; /* static string */
	struct hbr_kvlist headers; /* extra response headers */
};

typedef void hbr_http_handler_cb(struct hbr_http_response *resp,
                                 const struct hbr_http_request *req,
                                 void *payload);

struct hbr_http_limits {
	size_t max_body; /* bytes */
	/* An application/octet-stream body (UploadAgentPack) may be up to
	 * max_upload_body bytes; at most max_uploads of them are buffered
	 * at once across the server, and a request beyond that is refused
	 * with HBR_EUNAVAIL before its body is read. 0 and 0: octet-stream
	 * bodies get max_body like any other. */
	size_t max_upload_body;
	unsigned max_uploads;
	size_t max_params; /* query parameters */
	size_t max_header_bytes; /* per connection, all headers */
	unsigned idle_timeout_s; /* idle keep-alive connections close */
	unsigned threads; /* worker threads */
};

struct hbr_http_server;

/* Listen on host:port (port 0 picks one). HBR_EIO when it cannot. */
int hbr_http_start(struct hbr_http_server **out, const char *host,
                   uint16_t port, const struct hbr_http_limits *limits,
                   hbr_http_handler_cb *cb, void *payload);
uint16_t hbr_http_port(const struct hbr_http_server *srv);
/* Stop accepting, let requests in progress finish (up to grace_s
 * seconds), then close everything. NULL is a no-op. */
void hbr_http_stop(struct hbr_http_server *srv, unsigned grace_s);

#endif
