/*
 * The HTTP/1.1 server: one epoll loop per worker thread, all sharing
 * one listening socket (EPOLLEXCLUSIVE wakes one of them per
 * connection). A request is read (head, then body), handed to the
 * handler in the worker's thread, and its answer written with one
 * writev; keep-alive connections then wait for the next request.
 *
 * This replaced libmicrohttpd (docs/ARCHITECTURE.md, "http"): in its
 * poll mode it zeroed its whole per-connection pool after every
 * request, kept parsed query arguments in that pool (so 1000 GET
 * parameters needed 128 KiB of it), closed connections whose headers
 * did not fit without an answer, and with epoll left such connections
 * hanging; together about a tenth of a listing call's CPU.
 */
#include "common.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "http/http_parse.h"
#include "http/http_server.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"
#include "util/urlenc.h"

#define READ_CHUNK (64u << 10) /* bytes asked of one read() */
/* A head is read 16 KiB at a time: its buffer then stays at 32 KiB
 * and is kept between requests, while a body read through it (64 KiB
 * reads) grows it past IDLE_BUF_MAX and it is dropped afterwards.
 * Dropping and re-allocating the buffer on every request cost ~15 % of
 * a listing call's CPU (glibc serves 128 KiB with mmap). */
#define READ_HEAD    (16u << 10)
#define ACCEPT_BATCH 64
#define MAX_EVENTS   64
#define IDLE_BUF_MAX (64u << 10) /* read buffer kept between requests */
/* A connection closed after an answer (an error, Connection: close)
 * first shuts down its sending side and reads what the client still
 * sends, for at most this long: closing a socket with unread bytes
 * makes the kernel send a reset, which can reach the client before it
 * has read the answer (a 413 for an oversize head arrived as
 * ECONNRESET). nginx calls this lingering close. */
#define LINGER_MS 2000
/* Releasing a buffer this big asks for a heap trim (hbr_alloc_trim)
 * once no request has begun for TRIM_QUIET_MS. Not sooner: a backup's
 * uploads reuse the freed buffers, and trimming between them made each
 * upload fault its buffer in again (a third slower backups). */
#define TRIM_AFTER    (1u << 20)
#define TRIM_QUIET_MS 1000

enum phase { P_HEAD, P_BODY, P_CHUNKED, P_WRITE, P_LINGER };

struct worker;

struct conn {
	int fd;
	struct worker *w;
	/* the worker's list, oldest activity first: busy, or lingering */
	struct conn *prev, *next;
	int64_t active_ms; /* last byte in or out; lingering: since when */
	uint32_t events; /* registered with epoll */
	enum phase phase;
	char peer_ip[64];
	struct hbr_buf in; /* read, not yet consumed */
	struct hbr_http_head head;
	struct hbr_http_chunked chunked;
	uint64_t body_left; /* of a Content-Length body */
	struct hbr_http_request req;
	bool started; /* counted in in_flight */
	bool upload_slot; /* holds one of limits.max_uploads */
	bool close_after; /* close once the answer is out */
	struct hbr_buf out_head, out_body;
	size_t out_off; /* of head + body, written */
};

struct worker {
	struct hbr_http_server *srv;
	pthread_t thread;
	int ep, wake;
	struct conn_list {
		struct conn *first, *last;
	} busy, lingering;
	size_t nconns;
	bool listening;
	_Atomic int64_t last_start_ms; /* a request began; read by others */
};

struct hbr_http_server {
	int listen_fd;
	uint16_t port;
	struct hbr_http_limits limits;
	hbr_http_handler_cb *cb;
	void *payload;
	struct worker *workers;
	unsigned nworkers;
	atomic_int in_flight;
	atomic_uint uploads; /* octet-stream bodies being buffered or served */
	atomic_bool stopping; /* no new connections or requests */
	atomic_bool exit_now; /* close everything and return */
	atomic_bool trim_wanted; /* a big buffer was freed since the trim */
};

/* Tags for the two non-connection fds in a worker's epoll set. */
static char listen_tag, wake_tag;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void list_remove(struct conn_list *l, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->first = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->last = c->prev;
	c->prev = c->next = NULL;
}

static void list_append(struct conn_list *l, struct conn *c)
{
	c->prev = l->last;
	c->next = NULL;
	if (l->last)
		l->last->next = c;
	else
		l->first = c;
	l->last = c;
}

static struct conn_list *list_of(struct conn *c)
{
	return c->phase == P_LINGER ? &c->w->lingering : &c->w->busy;
}

/* Activity moves a connection to the tail, so the idle sweep only ever
 * looks at the head of the list. */
static void touch(struct conn *c)
{
	c->active_ms = now_ms();
	if (c->w->busy.last != c) {
		list_remove(&c->w->busy, c);
		list_append(&c->w->busy, c);
	}
}

static void watch(struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (events == c->events)
		return;
	if (epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = events;
}

static void reset_request(struct conn *c)
{
	struct hbr_http_server *srv = c->w->srv;

	hbr_http_head_release(&c->head);
	hbr_kvlist_release(&c->req.query);
	hbr_kvlist_release(&c->req.headers);
	if (c->req.body.cap >= TRIM_AFTER || c->out_body.cap >= TRIM_AFTER)
		atomic_store(&srv->trim_wanted, true);
	hbr_buf_release(&c->req.body);
	hbr_free((char *)c->req.path);
	hbr_buf_release(&c->out_head);
	hbr_buf_release(&c->out_body);
	if (c->started)
		atomic_fetch_sub(&srv->in_flight, 1);
	if (c->upload_slot)
		atomic_fetch_sub(&srv->uploads, 1);
	memset(&c->req, 0, sizeof(c->req));
	memset(&c->head, 0, sizeof(c->head));
	c->started = c->upload_slot = false;
	c->out_off = 0;
	c->body_left = 0;
	c->phase = P_HEAD;
}

static void conn_close(struct conn *c)
{
	struct worker *w = c->w;

	list_remove(list_of(c), c);
	reset_request(c);
	w->nconns--;
	(void)epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	hbr_buf_release(&c->in);
	hbr_free(c);
}

static void refuse(struct hbr_http_request *req, int code, const char *msg)
{
	if (req->error)
		return;
	req->error = code;
	(void)snprintf(req->error_msg, sizeof(req->error_msg), "%s", msg);
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return status < 400 ? "OK" : "Error";
	}
}

/* Half-close and discard what still comes (see LINGER_MS). The request
 * is over: it no longer counts as in flight, so a stop does not wait
 * for a lingering connection. */
static void linger(struct conn *c)
{
	struct worker *w = c->w;

	if (shutdown(c->fd, SHUT_WR) < 0) {
		conn_close(c);
		return;
	}
	reset_request(c);
	hbr_buf_release(&c->in);
	list_remove(&w->busy, c);
	c->phase = P_LINGER;
	c->active_ms = now_ms();
	list_append(&w->lingering, c);
	watch(c, EPOLLIN);
}

/* Read and drop until the client closes, errs or has nothing more. */
static void drain(struct conn *c)
{
	char sink[16384];
	ssize_t n;
	int reads = 0;

	/* Bounded, so a client that keeps sending cannot hold the loop;
	 * level-triggered epoll brings the rest, and the sweep ends it
	 * after LINGER_MS whatever comes. */
	do {
		n = recv(c->fd, sink, sizeof(sink), 0);
	} while ((n > 0 && ++reads < 64) || (n < 0 && errno == EINTR));
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
		conn_close(c);
}

/* Returns false when the connection was closed or is lingering. */
static bool flush(struct conn *c)
{
	size_t hl = c->out_head.len, total = hl + c->out_body.len;

	while (c->out_off < total) {
		struct iovec iov[2];
		struct msghdr m = { .msg_iov = iov };
		ssize_t n;
		if (c->out_off < hl) {
			iov[0].iov_base = c->out_head.ptr + c->out_off;
			iov[0].iov_len = hl - c->out_off;
			iov[1].iov_base = c->out_body.ptr;
			iov[1].iov_len = c->out_body.len;
			m.msg_iovlen = c->out_body.len ? 2 : 1;
		} else {
			iov[0].iov_base = c->out_body.ptr + (c->out_off - hl);
			iov[0].iov_len = total - c->out_off;
			m.msg_iovlen = 1;
		}
		n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			watch(c, EPOLLOUT);
			return true;
		}
		if (n <= 0) {
			conn_close(c);
			return false;
		}
		c->out_off += (size_t)n;
		touch(c);
	}
	/* The whole answer is out. */
	if (c->close_after || atomic_load(&c->w->srv->stopping)) {
		linger(c);
		return false;
	}
	reset_request(c);
	/* A big request's read buffer is not kept for an idle connection. */
	if (!c->in.len && c->in.cap > IDLE_BUF_MAX)
		hbr_buf_release(&c->in);
	watch(c, EPOLLIN);
	return true;
}

static bool is_octet_stream(const struct hbr_http_request *req)
{
	const char *ct = hbr_kvlist_get(&req->headers, "content-type");

	return ct && !strncasecmp(ct, "application/octet-stream", 24);
}

/* Run the handler and start writing its answer. A request refused
 * before its body was read closes the connection afterwards: the
 * unread body would otherwise be taken for the next request. */
static bool answer(struct conn *c)
{
	struct hbr_http_server *srv = c->w->srv;
	struct hbr_http_response resp = { 200, HBR_BUF_INIT,
		                          "application/json;charset=utf-8",
		                          HBR_KVLIST_INIT };
	struct hbr_buf *h = &c->out_head;

	if (!c->req.method)
		c->req.method = "";
	if (!c->req.path)
		c->req.path = hbr_strdup("");
	srv->cb(&resp, &c->req, srv->payload);
	if (c->req.error || !c->head.keep_alive)
		c->close_after = true;
	(void)hbr_buf_reserve(h, 256);
	(void)hbr_buf_puts(h, "HTTP/1.1 ");
	(void)hbr_buf_put_i64(h, resp.status);
	(void)hbr_buf_putc(h, ' ');
	(void)hbr_buf_puts(h, reason(resp.status));
	(void)hbr_buf_puts(h, "\r\nContent-Type: ");
	(void)hbr_buf_puts(h, resp.content_type);
	(void)hbr_buf_puts(h, "\r\nContent-Length: ");
	(void)hbr_buf_put_i64(h, (int64_t)resp.body.len);
	(void)hbr_buf_puts(h, "\r\n");
	for (size_t i = 0; i < resp.headers.n; i++) {
		(void)hbr_buf_puts(h, resp.headers.items[i].key);
		(void)hbr_buf_puts(h, ": ");
		(void)hbr_buf_puts(h, resp.headers.items[i].val);
		(void)hbr_buf_puts(h, "\r\n");
	}
	hbr_kvlist_release(&resp.headers);
	if (c->close_after)
		(void)hbr_buf_puts(h, "Connection: close\r\n");
	else if (c->head.minor == 0)
		(void)hbr_buf_puts(h, "Connection: keep-alive\r\n");
	(void)hbr_buf_puts(h, "\r\n");
	if (strcmp(c->req.method, "HEAD"))
		c->out_body = resp.body;
	else
		hbr_buf_release(&resp.body);
	c->phase = P_WRITE;
	c->out_off = 0;
	return flush(c);
}

/* A big body is up to max_upload_body bytes in memory until the answer
 * is sent, so their number is bounded across the server; the client is
 * told to come back (503) rather than made to wait. */
static void take_upload_slot(struct hbr_http_server *srv, struct conn *c)
{
	unsigned n = atomic_load(&srv->uploads);

	if (!srv->limits.max_uploads || !is_octet_stream(&c->req))
		return;
	do {
		if (n >= srv->limits.max_uploads) {
			refuse(&c->req, HBR_EUNAVAIL,
			       "too many uploads in progress; retry later");
			return;
		}
	} while (!atomic_compare_exchange_weak(&srv->uploads, &n, n + 1));
	c->upload_slot = true;
	c->req.body.max = srv->limits.max_upload_body;
}

static void consume_in(struct conn *c, size_t n)
{
	memmove(c->in.ptr, c->in.ptr + n, c->in.len - n);
	c->in.len -= n;
	if (c->in.ptr)
		c->in.ptr[c->in.len] = '\0';
}

/* The head is complete (head_len bytes of c->in): set up the request
 * and decide how its body, if any, is read. False: connection closed. */
static bool start_request(struct conn *c, size_t head_len)
{
	struct hbr_http_server *srv = c->w->srv;
	struct hbr_http_request *req = &c->req;
	const char *q;
	int error;

	c->started = true;
	atomic_fetch_add(&srv->in_flight, 1);
	atomic_store_explicit(&c->w->last_start_ms, c->active_ms,
	                      memory_order_relaxed);
	hbr_buf_init(&req->body, srv->limits.max_body);
	(void)snprintf(req->peer_ip, sizeof(req->peer_ip), "%s", c->peer_ip);
	error = hbr_http_head_parse(&c->head, c->in.ptr, head_len);
	consume_in(c, head_len);
	if (error < 0) {
		c->head.keep_alive = false;
		refuse(req, HBR_EINVAL, hbr_error_msg());
		return answer(c);
	}
	req->method = c->head.method;
	q = strchr(c->head.target, '?');
	req->path =
	        q ? hbr_strndup(c->head.target, (size_t)(q - c->head.target)) :
	            hbr_strdup(c->head.target);
	if (q && hbr_form_parse(&req->query, q + 1, strlen(q + 1),
	                        srv->limits.max_params) < 0)
		refuse(req, HBR_EINVAL, hbr_error_msg());
	/* The request owns the headers from here on. */
	req->headers = c->head.headers;
	memset(&c->head.headers, 0, sizeof(c->head.headers));
	take_upload_slot(srv, c);
	if (req->error == HBR_EUNAVAIL)
		return answer(c);
	if (c->head.chunked) {
		hbr_http_chunked_init(&c->chunked);
		c->phase = P_CHUNKED;
	} else if (c->head.has_length && c->head.content_length) {
		/* Refuse a declared oversize body without reading it. */
		if (c->head.content_length > req->body.max) {
			refuse(req, HBR_ETOOBIG,
			       "request body larger than the limit");
			return answer(c);
		}
		/* One allocation for a declared body; an upload's is
		 * page-aligned: a pack goes from it to an O_DIRECT write
		 * without a bounce copy. */
		if (c->upload_slot)
			(void)hbr_buf_reserve_aligned(
			        &req->body, (size_t)c->head.content_length,
			        HBR_HTTP_BODY_ALIGN);
		else
			(void)hbr_buf_reserve(&req->body,
			                      (size_t)c->head.content_length);
		c->body_left = c->head.content_length;
		c->phase = P_BODY;
	} else {
		return answer(c);
	}
	if (c->head.expect_continue && !c->in.len) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		/* A fresh connection's send buffer takes these 25 bytes;
		 * if it does not, the client sends the body after its own
		 * wait anyway. */
		(void)send(c->fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL);
	}
	return true;
}

/* Move what has been read on into the request. False: closed. */
static bool process(struct conn *c)
{
	struct hbr_http_server *srv = c->w->srv;

	for (;;) {
		if (c->phase == P_HEAD) {
			size_t n;
			if (!c->in.len)
				return true;
			if (atomic_load(&srv->stopping)) {
				conn_close(c);
				return false;
			}
			n = hbr_http_head_len(c->in.ptr, c->in.len);
			if (!n) {
				if (c->in.len <= srv->limits.max_header_bytes)
					return true;
				c->started = true;
				atomic_fetch_add(&srv->in_flight, 1);
				c->head.keep_alive = false;
				refuse(&c->req, HBR_ETOOBIG,
				       "request line and headers larger than"
				       " the limit");
				c->in.len = 0;
				return answer(c);
			}
			if (!start_request(c, n))
				return false;
		} else if (c->phase == P_BODY) {
			size_t take = c->in.len < c->body_left ?
			                      c->in.len :
			                      (size_t)c->body_left;
			if (take) {
				if (!c->req.error &&
				    hbr_buf_put(&c->req.body, c->in.ptr, take) <
				            0)
					refuse(&c->req, HBR_ETOOBIG,
					       "request body larger than the"
					       " limit");
				consume_in(c, take);
				c->body_left -= take;
			}
			if (c->body_left)
				return true;
			if (!answer(c))
				return false;
		} else if (c->phase == P_CHUNKED) {
			size_t used = 0;
			int r;
			if (!c->in.len)
				return true;
			r = hbr_http_chunked_feed(&c->chunked, &c->req.body,
			                          c->in.ptr, c->in.len, &used);
			consume_in(c, used);
			if (r == 0)
				return true;
			if (r < 0) {
				refuse(&c->req, r, hbr_error_msg());
				c->head.keep_alive = false;
			}
			if (!answer(c))
				return false;
		} else {
			return true; /* P_WRITE: the answer goes first */
		}
	}
}

/* Read what the socket has. A body of known length goes straight into
 * the request's buffer, not through c->in. */
static void on_readable(struct conn *c)
{
	struct hbr_http_server *srv = c->w->srv;

	for (;;) {
		char *dst;
		size_t room;
		ssize_t n;
		if (c->phase == P_WRITE)
			return;
		if (c->phase == P_LINGER) {
			drain(c);
			return;
		}
		if (c->phase == P_BODY && !c->in.len && !c->req.error &&
		    c->req.body.cap > c->req.body.len + 1) {
			dst = c->req.body.ptr + c->req.body.len;
			room = c->req.body.cap - c->req.body.len - 1;
			if (room > c->body_left)
				room = (size_t)c->body_left;
		} else {
			/* Heads are capped; bodies and pipelined requests
			 * pass through in pieces. */
			size_t want = READ_CHUNK;
			if (c->phase == P_HEAD &&
			    c->in.len <= srv->limits.max_header_bytes) {
				want = srv->limits.max_header_bytes + 1 -
				       c->in.len;
				if (want > READ_HEAD)
					want = READ_HEAD;
			}
			if (want > READ_CHUNK)
				want = READ_CHUNK;
			if (hbr_buf_reserve(&c->in, want) < 0) {
				conn_close(c);
				return;
			}
			dst = c->in.ptr + c->in.len;
			room = want;
		}
		n = recv(c->fd, dst, room, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		touch(c);
		if (dst == c->in.ptr + c->in.len) {
			c->in.len += (size_t)n;
			c->in.ptr[c->in.len] = '\0';
		} else {
			c->req.body.len += (size_t)n;
			c->req.body.ptr[c->req.body.len] = '\0';
			c->body_left -= (size_t)n;
			if (c->body_left)
				continue;
		}
		if (!process(c))
			return;
		if ((size_t)n < room)
			return; /* drained; level-triggered epoll says more */
	}
}

/* Out of file descriptors, the pending connection stays queued and the
 * listening socket stays readable: without a pause the loop would spin
 * on it (and the log fill) until a descriptor is free. */
static void out_of_fds(int err)
{
	static _Atomic int64_t last_log_ms;
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	int64_t now = now_ms(), last = atomic_load(&last_log_ms);

	if (now - last >= 1000 &&
	    atomic_compare_exchange_strong(&last_log_ms, &last, now))
		hbr_log_warn("accept: %s; new connections wait", strerror(err));
	nanosleep(&pause, NULL);
}

static void accept_some(struct worker *w)
{
	struct hbr_http_server *srv = w->srv;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage sa;
		socklen_t salen = sizeof(sa);
		struct epoll_event ev;
		struct conn *c;
		int one = 1;
		int fd = accept4(srv->listen_fd, (struct sockaddr *)&sa, &salen,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				out_of_fds(errno);
			return;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		                 sizeof(one));
		c = hbr_calloc(1, sizeof(*c));
		c->fd = fd;
		c->w = w;
		c->phase = P_HEAD;
		hbr_buf_init(&c->in, 0);
		if (sa.ss_family == AF_INET)
			inet_ntop(AF_INET,
			          &((const struct sockaddr_in *)&sa)->sin_addr,
			          c->peer_ip, sizeof(c->peer_ip));
		else if (sa.ss_family == AF_INET6)
			inet_ntop(
			        AF_INET6,
			        &((const struct sockaddr_in6 *)&sa)->sin6_addr,
			        c->peer_ip, sizeof(c->peer_ip));
		ev.events = c->events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			hbr_free(c);
			continue;
		}
		c->active_ms = now_ms();
		list_append(&w->busy, c);
		w->nconns++;
	}
}

/* No request in flight, and none begun for TRIM_QUIET_MS. */
static bool quiet(struct hbr_http_server *srv)
{
	int64_t since = now_ms() - TRIM_QUIET_MS;

	if (atomic_load(&srv->in_flight))
		return false;
	for (unsigned i = 0; i < srv->nworkers; i++)
		if (atomic_load_explicit(&srv->workers[i].last_start_ms,
		                         memory_order_relaxed) > since)
			return false;
	return true;
}

/* Idle connections close after idle_timeout_s; on a stop, the ones
 * between requests close at once. An idle server gives back what big
 * buffers left free in the heap. */
static void sweep(struct worker *w)
{
	struct hbr_http_server *srv = w->srv;
	int64_t limit = now_ms() - (int64_t)srv->limits.idle_timeout_s * 1000;
	bool stopping = atomic_load(&srv->stopping);

	if (quiet(srv) && atomic_exchange(&srv->trim_wanted, false))
		hbr_alloc_trim();
	for (struct conn *c = w->lingering.first, *next; c; c = next) {
		next = c->next;
		if (c->active_ms > now_ms() - LINGER_MS)
			break; /* the rest began lingering later */
		conn_close(c);
	}
	for (struct conn *c = w->busy.first, *next; c; c = next) {
		next = c->next;
		if (c->active_ms <= limit)
			conn_close(c);
		else if (stopping && c->phase == P_HEAD && !c->in.len)
			conn_close(c);
		else if (!stopping)
			break; /* the rest were active later */
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct hbr_http_server *srv = w->srv;
	struct epoll_event evs[MAX_EVENTS];
	int64_t last_sweep = now_ms();

	while (!atomic_load(&srv->exit_now)) {
		int n = epoll_wait(w->ep, evs, MAX_EVENTS, 1000);
		bool stopping = atomic_load(&srv->stopping);

		/* Only an event's own connection may be closed while the
		 * batch is walked: the others' pointers are still in evs. */
		for (int i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;
			struct conn *c = tag;
			if (tag == &wake_tag) {
				uint64_t v;
				(void)!read(w->wake, &v, sizeof(v));
				continue;
			}
			if (tag == &listen_tag) {
				if (!stopping)
					accept_some(w);
				continue;
			}
			if (c->phase == P_WRITE &&
			    (evs[i].events &
			     (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
				/* A pipelined request read meanwhile waits in
				 * c->in; no new event would announce it. */
				if (flush(c) && c->phase == P_HEAD && c->in.len)
					(void)process(c);
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				on_readable(c);
		}
		if (stopping && w->listening) {
			(void)epoll_ctl(w->ep, EPOLL_CTL_DEL, srv->listen_fd,
			                NULL);
			w->listening = false;
			sweep(w);
		}
		if (now_ms() - last_sweep >= 1000) {
			sweep(w);
			last_sweep = now_ms();
		}
	}
	while (w->busy.first)
		conn_close(w->busy.first);
	while (w->lingering.first)
		conn_close(w->lingering.first);
	return NULL;
}

static void wake_all(struct hbr_http_server *srv)
{
	uint64_t one = 1;

	for (unsigned i = 0; i < srv->nworkers; i++)
		(void)!write(srv->workers[i].wake, &one, sizeof(one));
}

static void free_server(struct hbr_http_server *srv, unsigned started)
{
	for (unsigned i = 0; i < started; i++)
		pthread_join(srv->workers[i].thread, NULL);
	for (unsigned i = 0; i < srv->nworkers; i++) {
		if (srv->workers[i].ep >= 0)
			close(srv->workers[i].ep);
		if (srv->workers[i].wake >= 0)
			close(srv->workers[i].wake);
	}
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	hbr_free(srv->workers);
	hbr_free(srv);
}

static int open_listener(struct hbr_http_server *srv, const char *host,
                         uint16_t port)
{
	struct sockaddr_in addr = { 0 };
	socklen_t alen = sizeof(addr);
	int one = 1;

	addr.sin_family = AF_INET;
	addr.sin_port = htons(port);
	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
		return hbr_error_set(HBR_EINVAL,
		                     "listen address '%s' is not an IPv4"
		                     " address",
		                     host);
	srv->listen_fd =
	        socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->listen_fd < 0 ||
	    setsockopt(srv->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one,
	               sizeof(one)) < 0 ||
	    bind(srv->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(srv->listen_fd, 1024) < 0 ||
	    getsockname(srv->listen_fd, (struct sockaddr *)&addr, &alen) < 0)
		return hbr_error_set(HBR_EIO, "cannot listen on %s:%u: %s",
		                     host, (unsigned)port, strerror(errno));
	srv->port = ntohs(addr.sin_port);
	return 0;
}

int hbr_http_start(struct hbr_http_server **out, const char *host,
                   uint16_t port, const struct hbr_http_limits *limits,
                   hbr_http_handler_cb *cb, void *payload)
{
	struct hbr_http_server *srv = hbr_calloc(1, sizeof(*srv));
	unsigned started = 0;
	int error;

	srv->listen_fd = -1;
	srv->limits = *limits;
	srv->cb = cb;
	srv->payload = payload;
	srv->nworkers = limits->threads ? limits->threads : 1;
	srv->workers = hbr_calloc(srv->nworkers, sizeof(*srv->workers));
	for (unsigned i = 0; i < srv->nworkers; i++)
		srv->workers[i].ep = srv->workers[i].wake = -1;
	if ((error = open_listener(srv, host, port)) < 0)
		goto fail;
	for (unsigned i = 0; i < srv->nworkers; i++) {
		struct worker *w = &srv->workers[i];
		struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE,
			                  .data.ptr = &listen_tag };
		struct epoll_event wev = { .events = EPOLLIN,
			                   .data.ptr = &wake_tag };
		w->srv = srv;
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		w->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (w->ep < 0 || w->wake < 0 ||
		    epoll_ctl(w->ep, EPOLL_CTL_ADD, srv->listen_fd, &ev) < 0 ||
		    epoll_ctl(w->ep, EPOLL_CTL_ADD, w->wake, &wev) < 0) {
			error = hbr_error_set(HBR_EIO, "epoll: %s",
			                      strerror(errno));
			goto fail;
		}
		w->listening = true;
	}
	for (; started < srv->nworkers; started++) {
		if (pthread_create(&srv->workers[started].thread, NULL,
		                   worker_main, &srv->workers[started]) != 0) {
			error = hbr_error_set(HBR_EIO,
			                      "cannot start HTTP threads");
			goto fail;
		}
	}
	*out = srv;
	return 0;
fail:
	atomic_store(&srv->exit_now, true);
	wake_all(srv);
	free_server(srv, started);
	return error;
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
	atomic_store(&srv->stopping, true);
	wake_all(srv);
	/* in_flight counts requests begun and not yet answered; idle
	 * keep-alive connections are closed, not waited for. */
	while (atomic_load(&srv->in_flight) > 0 && waited_ms < grace_s * 1000) {
		nanosleep(&tick, NULL);
		waited_ms += 10;
	}
	atomic_store(&srv->exit_now, true);
	wake_all(srv);
	free_server(srv, srv->nworkers);
}
