/* HTTP/1.1 request framing (RFC 9112), no I/O. */
#include "common.h"
#include <ctype.h>
#include <strings.h>
#include "http/http_parse.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/urlenc.h"

#define CHUNK_LINE_MAX 4096 /* a chunk-size line or a trailer field */

enum { CH_SIZE, CH_EXT, CH_DATA, CH_DATA_END, CH_TRAILER, CH_DONE };

static size_t skip_blank_lines(const char *data, size_t len)
{
	size_t i = 0;

	/* RFC 9112 2.2: empty lines before the request line are ignored. */
	while (i < len && (data[i] == '\r' || data[i] == '\n'))
		i++;
	return i;
}

size_t hbr_http_head_len(const char *data, size_t len)
{
	for (size_t i = skip_blank_lines(data, len); i < len; i++) {
		if (data[i] != '\n')
			continue;
		if (i + 1 < len && data[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && data[i + 1] == '\r' && data[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static bool is_tchar(unsigned char c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* One line of [p, end) without its CR LF; advances *p past it. */
static size_t next_line(const char **p, const char *end, const char **line)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n;

	*line = *p;
	if (!nl) {
		n = (size_t)(end - *p);
		*p = end;
	} else {
		n = (size_t)(nl - *p);
		*p = nl + 1;
	}
	if (n && (*line)[n - 1] == '\r')
		n--;
	return n;
}

static bool has_token(const char *list, const char *token)
{
	size_t tl = strlen(token);

	for (const char *p = list; *p;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *start = p;
		while (*p && *p != ',')
			p++;
		const char *stop = p;
		while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t'))
			stop--;
		if ((size_t)(stop - start) == tl &&
		    !strncasecmp(start, token, tl))
			return true;
	}
	return false;
}

static int bad(const char *what)
{
	return hbr_error_set(HBR_EINVAL, "malformed HTTP request: %s", what);
}

static int parse_request_line(struct hbr_http_head *h, const char *s, size_t n)
{
	size_t i = 0, m, t;

	while (i < n && is_tchar((unsigned char)s[i]))
		i++;
	if (i == 0 || i >= sizeof(h->method) || i >= n || s[i] != ' ')
		return bad("request line");
	memcpy(h->method, s, i);
	h->method[i] = '\0';
	m = ++i;
	while (i < n && s[i] != ' ') {
		/* Control bytes and raw spaces never belong in a target. */
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return bad("request target");
		i++;
	}
	t = i - m;
	if (t == 0 || i >= n)
		return bad("request line");
	i++;
	if (n - i != 8 || memcmp(s + i, "HTTP/1.", 7) ||
	    !isdigit((unsigned char)s[i + 7]))
		return bad("HTTP version");
	h->minor = s[i + 7] - '0';
	h->target = hbr_strndup(s + m, t);
	return 0;
}

static int parse_length(struct hbr_http_head *h, const char *v)
{
	uint64_t n = 0;

	if (!*v)
		return bad("Content-Length");
	for (const char *p = v; *p; p++) {
		if (!isdigit((unsigned char)*p) || n > (UINT64_MAX - 9) / 10)
			return bad("Content-Length");
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (h->has_length && h->content_length != n)
		return bad("conflicting Content-Length fields");
	h->has_length = true;
	h->content_length = n;
	return 0;
}

static int parse_field(struct hbr_http_head *h, const char *s, size_t n)
{
	char name[128];
	size_t i = 0, vs, ve;
	const char *val;
	int error = 0;

	if (s[0] == ' ' || s[0] == '\t')
		return bad("obsolete line folding");
	while (i < n && is_tchar((unsigned char)s[i]))
		i++;
	/* No space between a field name and its colon (RFC 9112 5.1). */
	if (i == 0 || i >= n || s[i] != ':')
		return bad("header field");
	if (i >= sizeof(name))
		return 0; /* no field we read is that long */
	for (size_t k = 0; k < i; k++)
		name[k] = (char)tolower((unsigned char)s[k]);
	name[i] = '\0';
	vs = i + 1;
	ve = n;
	while (vs < ve && (s[vs] == ' ' || s[vs] == '\t'))
		vs++;
	while (ve > vs && (s[ve - 1] == ' ' || s[ve - 1] == '\t'))
		ve--;
	for (size_t k = vs; k < ve; k++)
		if (s[k] == '\0' || s[k] == '\r' || s[k] == '\n')
			return bad("header field value");
	hbr_kvlist_add(&h->headers, name, i, s + vs, ve - vs);
	val = h->headers.items[h->headers.n - 1].val;
	if (!strcmp(name, "content-length"))
		error = parse_length(h, val);
	else if (!strcmp(name, "transfer-encoding"))
		h->chunked = true; /* checked once all fields are in */
	return error;
}

int hbr_http_head_parse(struct hbr_http_head *out, const char *data, size_t len)
{
	struct hbr_http_head h = { 0 };
	const char *p = data + skip_blank_lines(data, len), *end = data + len;
	const char *line, *v;
	size_t n;
	int error;

	n = next_line(&p, end, &line);
	if ((error = parse_request_line(&h, line, n)) < 0)
		goto fail;
	while (p < end) {
		n = next_line(&p, end, &line);
		if (n == 0)
			break;
		if ((error = parse_field(&h, line, n)) < 0)
			goto fail;
	}
	if (h.chunked) {
		/* Only "chunked", once: anything else we could not undo. */
		size_t count = 0;
		for (size_t i = 0; i < h.headers.n; i++)
			if (!strcmp(h.headers.items[i].key,
			            "transfer-encoding"))
				count++;
		v = hbr_kvlist_get(&h.headers, "transfer-encoding");
		if (count != 1 || strcasecmp(v, "chunked")) {
			error = bad("unsupported Transfer-Encoding");
			goto fail;
		}
		if (h.has_length) {
			error = bad("both Content-Length and chunked");
			goto fail;
		}
	}
	v = hbr_kvlist_get(&h.headers, "connection");
	h.keep_alive = h.minor >= 1 ? !(v && has_token(v, "close")) :
	                              (v && has_token(v, "keep-alive"));
	v = hbr_kvlist_get(&h.headers, "expect");
	h.expect_continue = v && !strcasecmp(v, "100-continue");
	*out = h;
	return 0;
fail:
	hbr_http_head_release(&h);
	return error;
}

void hbr_http_head_release(struct hbr_http_head *h)
{
	hbr_free(h->target);
	h->target = NULL;
	hbr_kvlist_release(&h->headers);
}

void hbr_http_chunked_init(struct hbr_http_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CH_SIZE;
}

int hbr_http_chunked_feed(struct hbr_http_chunked *c, struct hbr_buf *body,
                          const char *data, size_t len, size_t *used)
{
	size_t i = 0;
	int error;

	while (i < len && c->state != CH_DONE) {
		char ch = data[i];
		switch (c->state) {
		case CH_SIZE:
			if (hbr_hex_digit(ch) >= 0) {
				if (c->remaining > (UINT64_MAX >> 4))
					return bad("chunk size");
				c->remaining = c->remaining * 16 +
				               (uint64_t)hbr_hex_digit(ch);
				c->digits = true;
			} else if (ch == ';' || ch == ' ' || ch == '\t' ||
			           ch == '\r') {
				c->state = CH_EXT;
			} else if (ch == '\n') {
				goto size_done;
			} else {
				return bad("chunk size");
			}
			if (++c->line > CHUNK_LINE_MAX)
				return bad("chunk size line too long");
			i++;
			break;
		case CH_EXT:
			/* Chunk extensions carry nothing we use. */
			if (ch != '\n') {
				if (++c->line > CHUNK_LINE_MAX)
					return bad("chunk size line too long");
				i++;
				break;
			}
		size_done:
			i++;
			if (!c->digits)
				return bad("chunk size");
			c->line = 0;
			c->digits = false;
			c->state = c->remaining ? CH_DATA : CH_TRAILER;
			if (c->remaining && body->max &&
			    c->remaining > body->max - body->len)
				return hbr_error_set(
				        HBR_ETOOBIG,
				        "request body larger than the limit");
			break;
		case CH_DATA: {
			size_t take = len - i;
			if (take > c->remaining)
				take = (size_t)c->remaining;
			if ((error = hbr_buf_put(body, data + i, take)) < 0)
				return error;
			i += take;
			c->remaining -= take;
			if (!c->remaining)
				c->state = CH_DATA_END;
			break;
		}
		case CH_DATA_END:
			/* CRLF (or a bare LF) after the chunk's data */
			if (ch == '\r' && c->line == 0) {
				c->line = 1;
			} else if (ch == '\n') {
				c->line = 0;
				c->state = CH_SIZE;
			} else {
				return bad("chunk not followed by CRLF");
			}
			i++;
			break;
		case CH_TRAILER:
			/* Trailer fields are skipped; an empty line ends. */
			i++;
			if (ch == '\n') {
				if (c->line == 0)
					c->state = CH_DONE;
				c->line = 0;
			} else if (ch != '\r' || c->line > 0) {
				if (++c->line > CHUNK_LINE_MAX)
					return bad("trailer line too long");
			}
			break;
		}
	}
	*used = i;
	return c->state == CH_DONE;
}
