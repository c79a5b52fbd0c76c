/* hbrd's subcommands and the options they share. */
#ifndef HBR_CMD_HBRD_H
#define HBR_CMD_HBRD_H

#include "common.h"
#include "store/store.h"

struct hbrd_options {
	char data_dir[1024];
	char listen[128];
	char store_url[1200];
	char region[64];
	char account[64]; /* --account, for ram/admin verbs */
	char config[1024];
	unsigned threads;
	bool verbose;
	char name[256]; /* --name (attach-policy, seed vault name) */
	/* admin seed */
	int64_t clients, plans, jobs, running, snapshots;
	/* scheduler: tick period, and the test clock (docs/SCHEDULER.md) */
	int64_t sched_tick_ms;
	char clock_file[1024];
	/* Positional arguments after the verb, borrowed from argv. */
	const char *args[16];
	int nargs;
};

/* Parse argv[first..] into opts (config file first, flags override).
 * Unknown options are an error; `extra` lists verb-specific ones of the
 * form "--name" that take a value, returned as positional "--name=v".
 * Returns 0, or prints the problem and returns 2 (the exit status). */
int hbrd_options_parse(struct hbrd_options *opts, int argc, char **argv,
                       int first);
/* Open the store for opts, creating the data dir. Prints errors. */
int hbrd_open_store(struct hbr_store **out, const struct hbrd_options *opts);
/* First account and its root key; create both on first use, and keep a
 * copy in DATA_DIR/root-credentials.json (0600). Prints errors. */
int hbrd_init_root(char **json_out, struct hbr_store *s,
                   const struct hbrd_options *opts, bool *created);
/* Print an error as a JSON object on stderr-friendly one line. */
void hbrd_fail(const char *what);

int hbrd_cmd_serve(const struct hbrd_options *opts);
int hbrd_cmd_init(const struct hbrd_options *opts);
int hbrd_cmd_ram(const struct hbrd_options *opts, const char *verb);
int hbrd_cmd_admin(const struct hbrd_options *opts, const char *verb);
int hbrd_cmd_vault(const struct hbrd_options *opts, const char *verb);

#endif
