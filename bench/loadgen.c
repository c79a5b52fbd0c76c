/*
 * hbr-loadgen: a closed-loop HTTP load generator that signs every request
 * (V1 HMAC-SHA1, as pop-core does) with its own nonce and timestamp, over
 * keep-alive connections driven by epoll from a few threads.
 *
 *   hbr-loadgen --host 127.0.0.1 --port 8080 --key ID --secret S
 *               --action DescribeBackupClients --param ClientType=ECS_CLIENT
 *               --connections 16 --threads 2 --seconds 10 [--requests N]
 *
 * Prints one JSON line: requests, errors (non-2xx), rps, latency
 * percentiles in microseconds, and the size of the last response body.
 * The target may be any HTTP server (nginx serves a static file and
 * ignores the query): the client does the same work either way.
 */
#include "common.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "auth/sig.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/kvlist.h"
#include "util/random.h"
#include "util/timeutil.h"
#include "util/urlenc.h"

#define MAX_PARAMS 32
#define RESP_MAX   (4 << 20)

struct config {
	const char *host;
	int port;
	const char *key, *secret, *action, *path;
	const char *params[MAX_PARAMS];
	int nparams;
	int connections, threads;
	double seconds;
	long requests; /* total, 0 = run for `seconds` */
	/* --cycle K=FILE: each request takes the next line of FILE as K */
	const char *cycle_key;
	char **cycle;
	size_t ncycle;
};

static atomic_size_t cycle_next;

struct conn {
	int fd;
	struct hbr_buf out;
	size_t sent;
	struct hbr_buf in;
	uint64_t started;
	uint32_t events; /* registered with epoll */
};

struct worker {
	const struct config *cfg;
	pthread_t thread;
	int nconns;
	uint64_t *lat; /* microseconds */
	size_t nlat, caplat;
	long errors;
	size_t last_body;
	long quota; /* requests this worker may start, -1 = unlimited */
};

static uint64_t now_us(void)
{
	return hbr_time_mono_ns() / 1000;
}

static void build_request(struct hbr_buf *out, const struct config *cfg)
{
	struct hbr_kvlist p = HBR_KVLIST_INIT;
	struct hbr_buf sts = HBR_BUF_INIT, q = HBR_BUF_INIT;
	char nonce[33], ts[32], sig[64];

	hbr_random_string(nonce, 32, "0123456789abcdef");
	hbr_time_format_iso8601(ts, sizeof(ts), hbr_time_now());
#define ADD(k, v) hbr_kvlist_add(&p, k, strlen(k), v, strlen(v))
	ADD("AccessKeyId", cfg->key);
	ADD("Action", cfg->action);
	ADD("Format", "JSON");
	ADD("SignatureMethod", "HMAC-SHA1");
	ADD("SignatureNonce", nonce);
	ADD("SignatureVersion", "1.0");
	ADD("Timestamp", ts);
	ADD("Version", "2017-09-08");
	for (int i = 0; i < cfg->nparams; i++) {
		const char *eq = strchr(cfg->params[i], '=');
		hbr_kvlist_add(&p, cfg->params[i],
		               (size_t)(eq - cfg->params[i]), eq + 1,
		               strlen(eq + 1));
	}
	if (cfg->ncycle) {
		size_t i = atomic_fetch_add(&cycle_next, 1) % cfg->ncycle;
		ADD(cfg->cycle_key, cfg->cycle[i]);
	}
#undef ADD
	(void)hbr_sig_v1_string_to_sign(&sts, "GET", &p);
	hbr_sig_v1_sign(sig, cfg->secret, hbr_buf_cstr(&sts));
	for (size_t i = 0; i < p.n; i++) {
		(void)hbr_buf_puts(&q, i ? "&" : "");
		(void)hbr_url_encode(&q, p.items[i].key,
		                     strlen(p.items[i].key));
		(void)hbr_buf_putc(&q, '=');
		(void)hbr_url_encode(&q, p.items[i].val,
		                     strlen(p.items[i].val));
	}
	(void)hbr_buf_puts(&q, "&Signature=");
	(void)hbr_url_encode(&q, sig, strlen(sig));
	hbr_buf_clear(out);
	(void)hbr_buf_printf(out,
	                     "GET %s?%s HTTP/1.1\r\nHost: %s:%d\r\n"
	                     "Connection: keep-alive\r\n\r\n",
	                     cfg->path, hbr_buf_cstr(&q), cfg->host, cfg->port);
	hbr_kvlist_release(&p);
	hbr_buf_release(&sts);
	hbr_buf_release(&q);
}

static int connect_to(const struct config *cfg)
{
	struct sockaddr_in a = { 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)cfg->port);
	if (fd < 0 || inet_pton(AF_INET, cfg->host, &a.sin_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("hbr-loadgen: connect");
		exit(1);
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* A whole response in c->in? Returns its length, 0 if not yet. */
static size_t complete(struct conn *c, int *status, size_t *body)
{
	const char *h = hbr_buf_cstr(&c->in);
	const char *end = strstr(h, "\r\n\r\n"), *cl;
	size_t hlen, blen;

	if (!end)
		return 0;
	hlen = (size_t)(end - h) + 4;
	cl = strcasestr(h, "\r\ncontent-length:");
	if (!cl || cl > end) {
		fprintf(stderr, "hbr-loadgen: response without length\n");
		exit(1);
	}
	blen = strtoul(cl + 17, NULL, 10);
	if (c->in.len < hlen + blen)
		return 0;
	*status = atoi(h + 9);
	*body = blen;
	return hlen + blen;
}

static bool start(struct worker *w, struct conn *c)
{
	if (w->quota == 0)
		return false;
	if (w->quota > 0)
		w->quota--;
	build_request(&c->out, w->cfg);
	c->sent = 0;
	c->started = now_us();
	return true;
}

/* Write what the socket takes; wait for EPOLLOUT only while a request
 * is partly sent. A connection always registered for EPOLLOUT makes
 * epoll_wait return at once forever, and the load generator then spins
 * a core that the server it measures shares. */
static void send_more(int ep, struct conn *c)
{
	struct epoll_event ev;
	ssize_t k = 0;

	if (c->sent < c->out.len)
		k = write(c->fd, c->out.ptr + c->sent, c->out.len - c->sent);
	if (k > 0)
		c->sent += (size_t)k;
	ev.events = EPOLLIN | (c->sent < c->out.len ? EPOLLOUT : 0);
	ev.data.ptr = c;
	if (ev.events != c->events) {
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		c->events = ev.events;
	}
}

static void *run(void *arg)
{
	struct worker *w = arg;
	struct conn *conns = hbr_calloc((size_t)w->nconns, sizeof(*conns));
	struct epoll_event ev, evs[64];
	uint64_t deadline = now_us() + (uint64_t)(w->cfg->seconds * 1e6);
	int ep = epoll_create1(EPOLL_CLOEXEC), active = 0;
	char buf[65536];

	for (int i = 0; i < w->nconns; i++) {
		conns[i].fd = connect_to(w->cfg);
		hbr_buf_init(&conns[i].in, RESP_MAX);
		ev.events = conns[i].events = EPOLLIN;
		ev.data.ptr = &conns[i];
		epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
		if (start(w, &conns[i])) {
			active++;
			send_more(ep, &conns[i]);
		}
	}
	while (active > 0) {
		int n = epoll_wait(ep, evs, 64, 1000);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (evs[i].events & EPOLLOUT)
				send_more(ep, c);
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				ssize_t k = read(c->fd, buf, sizeof(buf));
				int status;
				size_t body, used;
				if (k <= 0 && errno != EAGAIN) {
					fprintf(stderr,
					        "hbr-loadgen: connection"
					        " closed by server\n");
					exit(1);
				}
				if (k > 0)
					(void)hbr_buf_put(&c->in, buf,
					                  (size_t)k);
				if (!(used = complete(c, &status, &body)))
					continue;
				hbr_grow((void **)&w->lat, &w->caplat,
				         w->nlat + 1, sizeof(*w->lat));
				w->lat[w->nlat++] = now_us() - c->started;
				if (status < 200 || status > 299)
					w->errors++;
				w->last_body = body;
				memmove(c->in.ptr, c->in.ptr + used,
				        c->in.len - used);
				c->in.len -= used;
				if ((w->cfg->requests == 0 &&
				     now_us() >= deadline) ||
				    !start(w, c))
					active--, c->sent = c->out.len = 0;
				else
					send_more(ep, c);
			}
		}
	}
	for (int i = 0; i < w->nconns; i++) {
		close(conns[i].fd);
		hbr_buf_release(&conns[i].in);
		hbr_buf_release(&conns[i].out);
	}
	close(ep);
	hbr_free(conns);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void load_cycle(struct config *cfg, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char line[8192];
	FILE *f = fopen(eq + 1, "r");

	if (!f) {
		perror("hbr-loadgen: --cycle");
		exit(2);
	}
	cfg->cycle_key = hbr_strndup(arg, (size_t)(eq - arg));
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		cfg->cycle = hbr_realloc(cfg->cycle,
		                         (cfg->ncycle + 1) * sizeof(char *));
		cfg->cycle[cfg->ncycle++] = hbr_strdup(line);
	}
	(void)fclose(f);
}

static void usage(void)
{
	fputs("usage: hbr-loadgen --port N --key ID --secret S --action A\n"
	      "       [--host 127.0.0.1] [--path /] [--param K=V]...\n"
	      "       [--cycle K=FILE] (each request: next line of FILE)\n"
	      "       [--connections 1] [--threads 1] [--seconds 5]"
	      " [--requests N]\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	struct config cfg = { .host = "127.0.0.1",
		              .key = "",
		              .secret = "",
		              .action = "",
		              .path = "/",
		              .connections = 1,
		              .threads = 1,
		              .seconds = 5 };
	struct worker *ws;
	uint64_t *all, t0, elapsed;
	size_t n = 0;
	long errors = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--host"))
			cfg.host = v;
		else if (!strcmp(a, "--port"))
			cfg.port = atoi(v);
		else if (!strcmp(a, "--key"))
			cfg.key = v;
		else if (!strcmp(a, "--secret"))
			cfg.secret = v;
		else if (!strcmp(a, "--action"))
			cfg.action = v;
		else if (!strcmp(a, "--path"))
			cfg.path = v;
		else if (!strcmp(a, "--param") && cfg.nparams < MAX_PARAMS &&
		         strchr(v, '='))
			cfg.params[cfg.nparams++] = v;
		else if (!strcmp(a, "--connections"))
			cfg.connections = atoi(v);
		else if (!strcmp(a, "--threads"))
			cfg.threads = atoi(v);
		else if (!strcmp(a, "--seconds"))
			cfg.seconds = atof(v);
		else if (!strcmp(a, "--requests"))
			cfg.requests = atol(v);
		else if (!strcmp(a, "--cycle") && strchr(v, '='))
			load_cycle(&cfg, v);
		else
			usage();
	}
	if (!cfg.port || !cfg.action[0] || cfg.connections < 1 ||
	    cfg.threads < 1 || cfg.seconds <= 0 || cfg.seconds > 600)
		usage();
	if (cfg.threads > cfg.connections)
		cfg.threads = cfg.connections;
	ws = hbr_calloc((size_t)cfg.threads, sizeof(*ws));
	t0 = now_us();
	for (int i = 0; i < cfg.threads; i++) {
		ws[i].cfg = &cfg;
		ws[i].nconns = cfg.connections / cfg.threads +
		               (i < cfg.connections % cfg.threads);
		ws[i].quota = cfg.requests ?
		                      cfg.requests / cfg.threads +
		                              (i < cfg.requests % cfg.threads) :
		                      -1;
		pthread_create(&ws[i].thread, NULL, run, &ws[i]);
	}
	for (int i = 0; i < cfg.threads; i++)
		pthread_join(ws[i].thread, NULL);
	elapsed = now_us() - t0;
	for (int i = 0; i < cfg.threads; i++)
		n += ws[i].nlat;
	all = hbr_calloc(n ? n : 1, sizeof(*all));
	n = 0;
	for (int i = 0; i < cfg.threads; i++) {
		memcpy(all + n, ws[i].lat, ws[i].nlat * sizeof(*all));
		n += ws[i].nlat;
		errors += ws[i].errors;
	}
	qsort(all, n, sizeof(*all), cmp_u64);
#define PCT(p) (n ? all[(size_t)((double)(n - 1) * (p))] : 0)
	printf("{\"requests\":%zu,\"errors\":%ld,\"seconds\":%.3f,"
	       "\"rps\":%.0f,\"p50_us\":%llu,\"p90_us\":%llu,"
	       "\"p99_us\":%llu,\"max_us\":%llu,\"body_bytes\":%zu}\n",
	       n, errors, (double)elapsed / 1e6,
	       (double)n / ((double)elapsed / 1e6),
	       (unsigned long long)PCT(0.50), (unsigned long long)PCT(0.90),
	       (unsigned long long)PCT(0.99),
	       (unsigned long long)(n ? all[n - 1] : 0), ws[0].last_body);
	return errors ? 3 : 0;
}
