/*
 * hbr-client: the agent on a protected machine. register activates the
 * machine's client with hbrd, heartbeat sends one heartbeat, and run is
 * the agent itself: it polls for backup and restore jobs and runs them
 * (src/agent/agent_run.c).
 */
#include "common.h"
#include <getopt.h>
#include <jansson.h>
#include <unistd.h>
#include <sys/utsname.h>
#include "agent/agent_entry.h"
#include "agent/agent_rpc.h"
#include "agent/agent_run.h"
#include "agent/agent_state.h"
#include "core/model.h"
#include "util/error.h"
#include "util/kvlist.h"
#include "util/log.h"

#define DEFAULT_STATE_DIR "./hbr-client-state"
#define MACHINE_ID_FILE   "/etc/machine-id"
#define EXIT_USAGE        2

static const char usage[] =
        "usage: hbr-client register --endpoint URL --access-key-id ID\n"
        "                           --access-key-secret SECRET\n"
        "                           [--instance-id ID] [--hostname NAME]\n"
        "                           [--state-dir DIR]\n"
        "       hbr-client heartbeat [--state-dir DIR]\n"
        "       hbr-client run [--state-dir DIR] [--once] [--poll-ms N]\n"
        "                      [--hostname NAME]\n"
        "\n"
        "register  activates the client InstallBackupClients pre-registered\n"
        "          for the instance (or registers a new one) with an\n"
        "          operator's key, keeps the agent's own credential in\n"
        "          DIR/credentials.json (0600) and prints\n"
        "          {\"ClientId\":...,\"InstanceId\":...}. Without\n"
        "          --instance-id the id is derived from /etc/machine-id\n"
        "          (or generated once and kept in DIR).\n"
        "heartbeat reports this machine to hbrd once with the agent's\n"
        "          credential and prints the answer.\n"
        "run       the agent: every N ms (default 2000) a heartbeat and a\n"
        "          poll for jobs; backup and restore jobs run as they come\n"
        "          (at most MaxWorker at once, each within MaxCpuCore\n"
        "          computing threads).\n"
        "          --once runs the jobs queued at start, then exits: 0 when\n"
        "          none failed. SIGTERM stops the jobs and leaves them for\n"
        "          the next start to resume. The log goes to stderr.\n"
        "Default DIR: " DEFAULT_STATE_DIR ".\n";

struct options {
	const char *endpoint, *key_id, *secret, *instance_id, *hostname;
	const char *state_dir;
	bool once;
	int poll_ms;
};

static void add(struct hbr_kvlist *l, const char *k, const char *v)
{
	hbr_kvlist_add(l, k, strlen(k), v, strlen(v));
}

static const char *arch_type(void)
{
	static struct utsname u;

	if (uname(&u) < 0)
		return NULL;
	if (!strcmp(u.machine, "x86_64"))
		return "amd64";
	if (!strcmp(u.machine, "aarch64") || !strcmp(u.machine, "arm64"))
		return "arm64";
	if (u.machine[0] == 'i' && !strcmp(u.machine + 2, "86"))
		return "386";
	return NULL; /* not one HBR knows: not reported */
}

/* This machine's facts, as RegisterBackupClient and the heartbeat take
 * them. */
static void add_facts(struct hbr_kvlist *p, const char *hostname)
{
	char host[256] = "";
	const char *arch = arch_type();

	if (!hostname) {
		if (gethostname(host, sizeof(host) - 1) == 0)
			hostname = host;
	}
	if (hostname && hostname[0])
		add(p, "Hostname", hostname);
	add(p, "OsType", "linux");
	if (arch)
		add(p, "ArchType", arch);
	add(p, "ClientVersion", HBR_SERVER_VERSION);
}

static int fail(int error)
{
	(void)error;
	fprintf(stderr, "hbr-client: %s\n", hbr_error_msg());
	return 1;
}

static int print_json(json_t *o)
{
	char *text = json_dumps(o, JSON_COMPACT);

	if (!text)
		return 1;
	printf("%s\n", text);
	free(text); /* jansson's allocation */
	return fflush(stdout) == 0 ? 0 : 1;
}

static int cmd_register(const struct options *o)
{
	struct hbr_kvlist params = HBR_KVLIST_INIT;
	struct hbr_agent_key op = { 0 };
	struct hbr_agent_state st = { 0 };
	json_t *ans = NULL, *printed = NULL;
	const char *cid, *ak, *sk;
	int error, rc = 1;

	if (!o->endpoint || !o->key_id || !o->secret) {
		fprintf(stderr,
		        "hbr-client register: --endpoint,"
		        " --access-key-id and --access-key-secret are"
		        " required\n%s",
		        usage);
		return EXIT_USAGE;
	}
	if (strlen(o->endpoint) >= sizeof(op.endpoint) ||
	    strlen(o->key_id) >= sizeof(op.access_key_id) ||
	    strlen(o->secret) >= sizeof(op.secret) ||
	    (o->instance_id && (!o->instance_id[0] ||
	                        strlen(o->instance_id) >= HBR_AGENT_ID_MAX))) {
		fprintf(stderr, "hbr-client register: an argument is empty or"
		                " too long\n");
		return EXIT_USAGE;
	}
	(void)snprintf(op.endpoint, sizeof(op.endpoint), "%s", o->endpoint);
	(void)snprintf(op.access_key_id, sizeof(op.access_key_id), "%s",
	               o->key_id);
	(void)snprintf(op.secret, sizeof(op.secret), "%s", o->secret);
	if (o->instance_id)
		(void)snprintf(st.instance_id, sizeof(st.instance_id), "%s",
		               o->instance_id);
	else if ((error = hbr_agent_instance_id(st.instance_id, o->state_dir,
	                                        MACHINE_ID_FILE)) < 0)
		return fail(error);
	add(&params, "InstanceId", st.instance_id);
	add_facts(&params, o->hostname);
	if ((error = hbr_agent_rpc_call(&ans, NULL, &op, "RegisterBackupClient",
	                                &params)) < 0) {
		rc = fail(error);
		goto out;
	}
	cid = json_string_value(json_object_get(ans, "ClientId"));
	ak = json_string_value(json_object_get(ans, "AccessKeyId"));
	sk = json_string_value(json_object_get(ans, "AccessKeySecret"));
	if (!cid || !ak || !sk || strlen(cid) >= sizeof(st.client_id) ||
	    strlen(ak) >= sizeof(st.key.access_key_id) ||
	    strlen(sk) >= sizeof(st.key.secret)) {
		fprintf(stderr, "hbr-client: the server's answer lacks the"
		                " client's id or credential\n");
		goto out;
	}
	memcpy(st.key.endpoint, op.endpoint, sizeof(st.key.endpoint));
	(void)snprintf(st.client_id, sizeof(st.client_id), "%s", cid);
	(void)snprintf(st.key.access_key_id, sizeof(st.key.access_key_id), "%s",
	               ak);
	(void)snprintf(st.key.secret, sizeof(st.key.secret), "%s", sk);
	if ((error = hbr_agent_state_save(o->state_dir, &st)) < 0) {
		rc = fail(error);
		goto out;
	}
	printed = json_pack("{s:s, s:s}", "ClientId", st.client_id,
	                    "InstanceId", st.instance_id);
	rc = print_json(printed);
out:
	json_decref(ans);
	json_decref(printed);
	hbr_kvlist_release(&params);
	return rc;
}

static int cmd_heartbeat(const struct options *o)
{
	struct hbr_kvlist params = HBR_KVLIST_INIT;
	struct hbr_agent_state st;
	json_t *ans = NULL;
	int error, rc;

	if ((error = hbr_agent_state_load(&st, o->state_dir)) < 0)
		return fail(error);
	add_facts(&params, o->hostname);
	if ((error = hbr_agent_rpc_call(&ans, NULL, &st.key,
	                                "ReportBackupClientHeartbeat",
	                                &params)) < 0)
		rc = fail(error);
	else
		rc = print_json(ans);
	json_decref(ans);
	hbr_kvlist_release(&params);
	return rc;
}

static int cmd_run(const struct options *o)
{
	struct hbr_kvlist facts = HBR_KVLIST_INIT;
	struct hbr_agent_run_opts ro = { 0 };
	int rc;

	hbr_log_set_name("hbr-client");
	/* HBR_LOG=debug: where a job's time goes. */
	if (getenv("HBR_LOG") && !strcmp(getenv("HBR_LOG"), "debug"))
		hbr_log_set_level(HBR_LOG_DEBUG);
	/* For tests only: a few chunks a tree line, so that a small file
	 * has continuation lines. */
	if (getenv("HBR_AGENT_TREE_LINE_CHUNKS"))
		hbr_agent_set_line_chunks((size_t)strtoul(
		        getenv("HBR_AGENT_TREE_LINE_CHUNKS"), NULL, 10));
	add_facts(&facts, o->hostname);
	ro.state_dir = o->state_dir;
	ro.once = o->once;
	ro.poll_ms = o->poll_ms;
	ro.facts = &facts;
	ro.hostname = o->hostname;
	rc = hbr_agent_run(&ro);
	hbr_kvlist_release(&facts);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "access-key-id", required_argument, NULL, 'k' },
		{ "access-key-secret", required_argument, NULL, 's' },
		{ "instance-id", required_argument, NULL, 'i' },
		{ "hostname", required_argument, NULL, 'n' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "once", no_argument, NULL, 'o' },
		{ "poll-ms", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = { 0 };
	const char *cmd;
	int c, rc;

	o.state_dir = DEFAULT_STATE_DIR;
	o.poll_ms = HBR_AGENT_POLL_MS;
	if (argc >= 2 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc < 2 || argv[1][0] == '-') {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			o.endpoint = optarg;
			break;
		case 'k':
			o.key_id = optarg;
			break;
		case 's':
			o.secret = optarg;
			break;
		case 'i':
			o.instance_id = optarg;
			break;
		case 'n':
			o.hostname = optarg;
			break;
		case 'd':
			o.state_dir = optarg;
			break;
		case 'o':
			o.once = true;
			break;
		case 'p': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v < 10 || v > 3600000) {
				fprintf(stderr,
				        "hbr-client: --poll-ms takes 10 to"
				        " 3600000\n");
				return EXIT_USAGE;
			}
			o.poll_ms = (int)v;
			break;
		}
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hbr-client: unexpected argument '%s'\n%s",
		        argv[optind], usage);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "register") && strcmp(cmd, "heartbeat") &&
	    strcmp(cmd, "run")) {
		fprintf(stderr, "hbr-client: unknown command '%s'\n%s", cmd,
		        usage);
		return EXIT_USAGE;
	}
	if (hbr_agent_rpc_global_init() < 0)
		return fail(HBR_ERROR);
	if (!strcmp(cmd, "register"))
		rc = cmd_register(&o);
	else if (!strcmp(cmd, "heartbeat"))
		rc = cmd_heartbeat(&o);
	else
		rc = cmd_run(&o);
	hbr_agent_rpc_global_cleanup();
	return rc;
}
