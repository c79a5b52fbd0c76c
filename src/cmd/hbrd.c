/* hbrd: the server, and the administrative verbs that work on its data
 * directory directly. */
#include "common.h"
#include "util/log.h"
#include <sys/stat.h>
#include "cmd/hbrd.h"

static const char usage[] =
        "usage: hbrd [serve] [--data-dir DIR] [--listen HOST:PORT] [--config FILE]\n"
        "            [--store URL] [--threads N (default: cores)] [--region ID]\n"
        "            [--sched-tick-ms MS (default: 1000)] [--clock-file FILE]\n"
        "       hbrd init --data-dir DIR\n"
        "       hbrd ram VERB --data-dir DIR [--account ACCOUNT_ID] ARGS...\n"
        "       hbrd admin VERB --data-dir DIR [...]\n"
        "       hbrd vault check|gc --data-dir DIR VAULT_ID\n"
        "\n"
        "Serves the Alibaba Cloud HBR 2017-09-08 API (RPC style, both V1 and\n"
        "ACS3 signatures). Defaults: --data-dir ./var, --listen 127.0.0.1:8080,\n"
        "--store sqlite:DATA_DIR/hbr.db. Flags override the config file, whose\n"
        "lines are 'name = value' with the flag names (data-dir, listen, ...).\n"
        "--clock-file is a test facility: the clock is offset by the seconds\n"
        "the file holds, re-read every scheduler tick (docs/SCHEDULER.md).\n"
        "\n"
        "ram verbs (each prints one JSON object):\n"
        "  create-account NAME        a new isolated tenant and its root key\n"
        "  create-user NAME           a RAM user in the account\n"
        "  create-access-key USER     a key for the user\n"
        "  attach-policy USER FILE [--name NAME]\n"
        "                             attach a RAM policy document (name:\n"
        "                             FILE's base name without .json)\n"
        "  detach-policy USER NAME    detach it\n"
        "  list-users\n"
        "  disable-access-key ID | enable-access-key ID | delete-access-key ID\n"
        "\n"
        "admin verbs:\n"
        "  seed --clients N [--plans P] [--jobs J] [--running R]\n"
        "       [--snapshots S] [--vault-name NAME]\n"
        "                             fill a new vault with N clients and their\n"
        "                             plans, jobs and snapshots (tests, bench)\n"
        "  purge                      remove deleted rows now and report\n"
        "\n"
        "vault verbs (each prints one JSON object; docs/RECLAMATION.md):\n"
        "  check VAULT_ID             verify every chunk of every pack and\n"
        "                             every live snapshot's references; report\n"
        "                             stored, dead and orphaned bytes (exit 1\n"
        "                             when something is wrong)\n"
        "  gc VAULT_ID                run a reclamation pass now, progress on\n"
        "                             stderr\n";

int main(int argc, char **argv)
{
	struct hbrd_options opts;
	const char *verb = argc > 1 ? argv[1] : "serve";
	int first = 2, rc;

	/* The database and credential files hold secrets. */
	umask(077);
	/* HBR_LOG=debug: where requests and passes spend their time. */
	if (getenv("HBR_LOG") && !strcmp(getenv("HBR_LOG"), "debug"))
		hbr_log_set_level(HBR_LOG_DEBUG);

	if (argc > 1 && (!strcmp(verb, "--help") || !strcmp(verb, "-h") ||
	                 !strcmp(verb, "help"))) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strncmp(verb, "--", 2)) {
		verb = "serve";
		first = 1;
	}
	if (!strcmp(verb, "ram") || !strcmp(verb, "admin") ||
	    !strcmp(verb, "vault")) {
		const char *sub = argc > 2 ? argv[2] : "";
		if ((rc = hbrd_options_parse(&opts, argc, argv, 3)) != 0)
			return rc;
		if (!strcmp(verb, "vault"))
			return hbrd_cmd_vault(&opts, sub);
		return !strcmp(verb, "ram") ? hbrd_cmd_ram(&opts, sub) :
		                              hbrd_cmd_admin(&opts, sub);
	}
	if ((rc = hbrd_options_parse(&opts, argc, argv, first)) != 0)
		return rc;
	if (!strcmp(verb, "serve"))
		return hbrd_cmd_serve(&opts);
	if (!strcmp(verb, "init"))
		return hbrd_cmd_init(&opts);
	fprintf(stderr, "hbrd: unknown command '%s'\n\n%s", verb, usage);
	return 2;
}
