/* hbrd serve: run the API until SIGTERM/SIGINT, then drain and exit 0. */
#include "common.h"
#include <pthread.h>
#include <signal.h>
#include "api/api.h"
#include "cmd/hbrd.h"
#include "core/pack.h"
#include "gc/gc_purger.h"
#include "gc/gc_reclaim.h"
#include "http/http_server.h"
#include "sched/sched.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"

#define GRACE_S 30
/* 8 × 40 MiB of buffered uploads at most: enough to keep the disks
 * busy from several agents, bounded on a small server. */
#define HBRD_MAX_UPLOADS 8
/* A pass this often even without a kick: deletions made by another node,
 * and dead chunks a running backup protected until it ended. */
#define RECLAIM_IDLE_S 10

int hbrd_cmd_init(const struct hbrd_options *opts)
{
	struct hbr_store *s = NULL;
	char *json = NULL;
	bool created;
	int rc = 1;

	if (hbrd_open_store(&s, opts) < 0)
		return 1;
	if (hbrd_init_root(&json, s, opts, &created) == 0) {
		printf("%s\n", json);
		rc = 0;
	}
	free(json); /* jansson's allocation */
	hbr_store_close(s);
	return rc;
}

static int split_listen(char *host, size_t size, uint16_t *port,
                        const char *listen)
{
	const char *colon = strrchr(listen, ':');
	unsigned long p;
	char *end;

	if (!colon || (size_t)(colon - listen) >= size)
		return -1;
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	p = strtoul(colon + 1, &end, 10);
	if (*end || p > 65535)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

/* Who to wake when an action deleted something: the purge moves a
 * deleted client's snapshots to gc_queue, the reclaimer applies them. */
struct wake {
	struct hbr_purger *purger;
	struct hbr_reclaimer *reclaimer;
};

static void wake_up(void *payload)
{
	struct wake *w = payload;

	hbr_purger_kick(w->purger);
	hbr_reclaimer_kick(w->reclaimer);
}

int hbrd_cmd_serve(const struct hbrd_options *opts)
{
	struct hbr_api_config cfg = { 0 };
	struct hbr_http_limits limits = { 0 };
	struct hbr_http_server *http = NULL;
	struct hbr_purger *purger = NULL;
	struct hbr_reclaimer *reclaimer = NULL;
	struct wake wake = { 0 };
	struct hbr_sched_config scfg = { 0 };
	struct hbr_sched *sched = NULL;
	struct hbr_api *api = NULL;
	struct hbr_store *s = NULL;
	char host[64], *creds = NULL;
	uint16_t port;
	sigset_t sigs;
	bool created;
	int sig = 0, rc = 1;

	if (opts->verbose)
		hbr_log_set_level(HBR_LOG_DEBUG);
	if (split_listen(host, sizeof(host), &port, opts->listen) < 0) {
		fprintf(stderr, "hbrd: --listen wants HOST:PORT, not '%s'\n",
		        opts->listen);
		return 2;
	}
	/* Block the stop signals before any thread starts, so only the
	 * sigwait below receives them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (opts->clock_file[0] &&
	    hbr_sched_clock_file_apply(opts->clock_file) < 0) {
		hbrd_fail("clock-file");
		return 2;
	}

	if (hbrd_open_store(&s, opts) < 0)
		return 1;
	if (hbrd_init_root(&creds, s, opts, &created) < 0)
		goto out;
	hbr_log_info("%s root credentials: %s/root-credentials.json",
	             created ? "created the first account;" : "account ready;",
	             opts->data_dir);
	hbr_store_close(s);
	s = NULL;

	cfg.data_dir = opts->data_dir;
	cfg.store_url = opts->store_url;
	cfg.region = opts->region;
	/* One per HTTP worker, one each for the purger, the reclaimer and
	 * the scheduler. */
	cfg.store_conns = opts->threads + 3;
	if (hbr_api_open(&api, &cfg) < 0) {
		hbrd_fail("start");
		goto out;
	}
	if (hbr_api_sweep_vault_dirs(api) < 0)
		hbr_log_warn("vault sweep: %s", hbr_error_msg());
	if (hbr_reclaimer_start(&reclaimer, api->pool, opts->data_dir,
	                        RECLAIM_IDLE_S) < 0 ||
	    hbr_purger_start(&purger, api->pool, reclaimer) < 0) {
		hbrd_fail("start");
		goto out;
	}
	wake.purger = purger;
	wake.reclaimer = reclaimer;
	api->on_delete = wake_up;
	api->on_delete_payload = &wake;
	scfg.tick_ms = opts->sched_tick_ms;
	scfg.clock_file = opts->clock_file[0] ? opts->clock_file : NULL;
	if (hbr_sched_start(&sched, api->pool, &scfg) < 0) {
		hbrd_fail("start");
		goto out;
	}
	limits.max_body = 1 << 20;
	/* UploadAgentPack bodies: a whole pack, a few at a time (each is
	 * held in memory until it is verified and written). */
	limits.max_upload_body = HBR_PACK_MAX_BYTES;
	limits.max_uploads = HBRD_MAX_UPLOADS;
	limits.max_params = 1000;
	limits.max_header_bytes = 128 * 1024;
	limits.idle_timeout_s = 60;
	limits.threads = opts->threads;
	if (hbr_http_start(&http, host, port, &limits, hbr_api_handle, api) <
	    0) {
		hbrd_fail("listen");
		goto out;
	}
	hbr_log_info("listening on %s:%u (data %s, store %s)", host,
	             (unsigned)hbr_http_port(http), opts->data_dir,
	             opts->store_url);
	while (sigwait(&sigs, &sig) != 0)
		;
	hbr_log_info("signal %d: finishing requests in progress", sig);
	hbr_http_stop(http, GRACE_S);
	http = NULL;
	rc = 0;
out:
	hbr_http_stop(http, 0);
	hbr_sched_stop(sched); /* releases the lease: needs the pool */
	hbr_purger_stop(purger);
	hbr_reclaimer_stop(reclaimer);
	hbr_api_close(api);
	hbr_store_close(s);
	free(creds); /* jansson's allocation */
	if (rc == 0)
		hbr_log_info("stopped");
	return rc;
}
