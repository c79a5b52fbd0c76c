/*
 * HTTP/1.1 request parsing, without I/O (RFC 9112): the head (request
 * line and header fields) once it is complete, and a chunked body as
 * its bytes arrive. http_server.c feeds them from the sockets; the unit
 * tests feed them byte by byte.
 */
#ifndef HBR_HTTP_PARSE_H
#define HBR_HTTP_PARSE_H

#include "common.h"
#include "util/buf.h"
#include "util/kvlist.h"

/* The length of the head (through the blank line) if data holds all of
 * it, else 0. Lines may end in CRLF or a bare LF. */
size_t hbr_http_head_len(const char *data, size_t len);

struct hbr_http_head {
	char method[16];
	char *target; /* request target as sent ("/?a=b"), owned */
	int minor; /* HTTP/1.<minor> */
	struct hbr_kvlist headers; /* names lower-cased, values trimmed */
	bool has_length; /* Content-Length was sent */
	uint64_t content_length;
	bool chunked; /* Transfer-Encoding: chunked */
	bool keep_alive; /* the connection may carry another request */
	bool expect_continue; /* Expect: 100-continue */
};

/* Parse a complete head (hbr_http_head_len bytes). HBR_EINVAL, with a
 * message for the answer, when it is not a request we can frame: bad
 * request line, a field without a colon or with folding, a bad or
 * repeated Content-Length, a transfer coding other than chunked, or
 * both Content-Length and chunked (the classic smuggling ambiguity). */
int hbr_http_head_parse(struct hbr_http_head *out, const char *data,
                        size_t len);
void hbr_http_head_release(struct hbr_http_head *h);

/* A chunked body decoder. Appends the data of each chunk to body
 * (whose cap limits the whole body: HBR_ETOOBIG). */
struct hbr_http_chunked {
	int state;
	uint64_t remaining; /* of the current chunk's data */
	size_t line; /* bytes of the current size/trailer line seen */
	bool digits; /* the size line had at least one hex digit */
};

void hbr_http_chunked_init(struct hbr_http_chunked *c);
/* Feed bytes; *used says how many were taken. 1 when the body ended
 * (bytes after it are left for the next request), 0 for more,
 * HBR_EINVAL on bad framing, HBR_ETOOBIG past the body's cap. */
int hbr_http_chunked_feed(struct hbr_http_chunked *c, struct hbr_buf *body,
                          const char *data, size_t len, size_t *used);

#endif
