/* hbrd option and config-file parsing, and set-up shared by verbs. */
#include "common.h"
#include <ctype.h>
#include <jansson.h>
#include <unistd.h>
#include "cmd/hbrd.h"
#include "store/store_account.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/fsutil.h"

static void set(char *dst, size_t size, const char *v)
{
	(void)snprintf(dst, size, "%s", v);
}

/* Assign one option by name; false when it is not one we know. */
static bool assign(struct hbrd_options *o, const char *name, const char *v)
{
	if (!strcmp(name, "data-dir"))
		set(o->data_dir, sizeof(o->data_dir), v);
	else if (!strcmp(name, "listen"))
		set(o->listen, sizeof(o->listen), v);
	else if (!strcmp(name, "store"))
		set(o->store_url, sizeof(o->store_url), v);
	else if (!strcmp(name, "region"))
		set(o->region, sizeof(o->region), v);
	else if (!strcmp(name, "account"))
		set(o->account, sizeof(o->account), v);
	else if (!strcmp(name, "threads"))
		o->threads = (unsigned)strtoul(v, NULL, 10);
	else if (!strcmp(name, "name"))
		set(o->name, sizeof(o->name), v);
	else if (!strcmp(name, "clients"))
		o->clients = strtoll(v, NULL, 10);
	else if (!strcmp(name, "plans"))
		o->plans = strtoll(v, NULL, 10);
	else if (!strcmp(name, "jobs"))
		o->jobs = strtoll(v, NULL, 10);
	else if (!strcmp(name, "running"))
		o->running = strtoll(v, NULL, 10);
	else if (!strcmp(name, "snapshots"))
		o->snapshots = strtoll(v, NULL, 10);
	else if (!strcmp(name, "sched-tick-ms"))
		o->sched_tick_ms = strtoll(v, NULL, 10);
	else if (!strcmp(name, "clock-file"))
		set(o->clock_file, sizeof(o->clock_file), v);
	else
		return false;
	return true;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* "name = value" lines; '#' starts a comment. */
static int read_config(struct hbrd_options *o, const char *path)
{
	char *text = NULL, *save = NULL;
	int lineno = 0;

	if (hbr_fs_read(&text, NULL, path, 1 << 20) < 0) {
		fprintf(stderr, "hbrd: config: %s\n", hbr_error_msg());
		return 2;
	}
	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *hash = strchr(line, '#'), *eq, *k;
		lineno++;
		if (hash)
			*hash = '\0';
		k = trim(line);
		if (!*k)
			continue;
		if (!(eq = strchr(k, '=')) ||
		    (*eq = '\0', !assign(o, trim(k), trim(eq + 1)))) {
			fprintf(stderr, "hbrd: %s:%d: unknown setting '%s'\n",
			        path, lineno, trim(k));
			hbr_free(text);
			return 2;
		}
	}
	hbr_free(text);
	return 0;
}

int hbrd_options_parse(struct hbrd_options *o, int argc, char **argv, int first)
{
	int rc;

	memset(o, 0, sizeof(*o));
	set(o->data_dir, sizeof(o->data_dir), "./var");
	set(o->listen, sizeof(o->listen), "127.0.0.1:8080");
	set(o->region, sizeof(o->region), "cn-local");
	/* One MHD worker per core: more only adds lock contention (SQLite's
	 * WAL locks, the nonce cache), measured 57 vs 74 us of CPU per read
	 * at 2 vs 4 threads on 2 cores. At least 2, so one slow durable
	 * write never stalls every reader. */
	o->threads = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	if (o->threads < 2)
		o->threads = 2;
	/* The config file is read first so that flags override it. */
	for (int i = first; i < argc - 1; i++)
		if (!strcmp(argv[i], "--config"))
			set(o->config, sizeof(o->config), argv[i + 1]);
	if (o->config[0] && (rc = read_config(o, o->config)) != 0)
		return rc;
	for (int i = first; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
			o->verbose = true;
		} else if (!strncmp(a, "--", 2)) {
			const char *eq = strchr(a, '=');
			char name[64];
			const char *v;
			if (eq) {
				set(name, sizeof(name), a + 2);
				name[eq - a - 2] = '\0';
				v = eq + 1;
			} else {
				set(name, sizeof(name), a + 2);
				if (i + 1 >= argc) {
					fprintf(stderr,
					        "hbrd: %s needs a value\n", a);
					return 2;
				}
				v = argv[++i];
			}
			if (!strcmp(name, "config"))
				continue;
			if (!assign(o, name, v)) {
				fprintf(stderr, "hbrd: unknown option %s\n", a);
				return 2;
			}
		} else if (o->nargs < (int)HBR_ARRAY_SIZE(o->args)) {
			o->args[o->nargs++] = a;
		} else {
			fprintf(stderr, "hbrd: too many arguments\n");
			return 2;
		}
	}
	if (o->threads < 1 || o->threads > 256) {
		fprintf(stderr, "hbrd: --threads must be 1 to 256\n");
		return 2;
	}
	if (o->sched_tick_ms < 0 || o->sched_tick_ms > 3600000) {
		fprintf(stderr, "hbrd: --sched-tick-ms must be 0 to 3600000\n");
		return 2;
	}
	if (!o->store_url[0])
		(void)snprintf(o->store_url, sizeof(o->store_url),
		               "sqlite:%s/hbr.db", o->data_dir);
	return 0;
}

void hbrd_fail(const char *what)
{
	fprintf(stderr, "hbrd: %s: %s\n", what, hbr_error_msg());
}

int hbrd_open_store(struct hbr_store **out, const struct hbrd_options *o)
{
	if (hbr_fs_mkdirs(o->data_dir, 0700) < 0 ||
	    hbr_store_open(out, o->store_url) < 0) {
		hbrd_fail("store");
		return -1;
	}
	return 0;
}

int hbrd_init_root(char **json_out, struct hbr_store *s,
                   const struct hbrd_options *o, bool *created)
{
	struct hbr_key_info key;
	char account[HBR_ID_MAX], path[1200];
	char *text;
	json_t *j;
	int error;

	*created = false;
	error = hbr_store_account_first(account, s);
	if (error == HBR_ENOTFOUND) {
		if ((error = hbr_store_account_create(&key, s, "default")) < 0)
			goto fail;
		*created = true;
	} else if (error < 0 ||
	           (error = hbr_store_account_root_key(&key, s, account)) < 0) {
		goto fail;
	}
	j = json_pack("{s:s, s:s, s:s}", "AccountId", key.account_id,
	              "AccessKeyId", key.access_key_id, "AccessKeySecret",
	              key.secret);
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	(void)snprintf(path, sizeof(path), "%s/root-credentials.json",
	               o->data_dir);
	if ((error = hbr_fs_write_atomic(path, text, strlen(text), 0600)) < 0) {
		free(text); /* jansson's allocation */
		goto fail;
	}
	*json_out = text;
	return 0;
fail:
	hbrd_fail("init");
	return -1;
}
