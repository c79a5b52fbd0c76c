/* Append-only JSON-lines audit file. */
#include "common.h"
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <unistd.h>
#include "api/api_audit.h"
#include "util/alloc.h"
#include "util/error.h"

struct hbr_audit_log {
	int fd;
	pthread_mutex_t lock;
};

int hbr_audit_open(struct hbr_audit_log **out, const char *path)
{
	struct hbr_audit_log *log;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (fd < 0)
		return hbr_error_set_os(HBR_EIO, "open '%s'", path);
	log = hbr_calloc(1, sizeof(*log));
	log->fd = fd;
	pthread_mutex_init(&log->lock, NULL);
	*out = log;
	return 0;
}

void hbr_audit_close(struct hbr_audit_log *log)
{
	if (!log)
		return;
	(void)close(log->fd);
	pthread_mutex_destroy(&log->lock);
	hbr_free(log);
}

static json_t *str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

int hbr_audit_append(struct hbr_audit_log *log, const struct hbr_audit_entry *e)
{
	json_t *ids = e->client_ids ? json_loads(e->client_ids, 0, NULL) : NULL;
	json_t *o = json_object();
	char *line;
	size_t len;
	ssize_t n;
	int error = 0;

	json_object_set_new(o, "Time", json_integer(e->time));
	json_object_set_new(o, "RequestId", json_string(e->request_id));
	json_object_set_new(o, "AccountId", str_or_null(e->account_id));
	json_object_set_new(o, "Principal", str_or_null(e->principal));
	json_object_set_new(o, "AccessKeyId", str_or_null(e->access_key_id));
	json_object_set_new(o, "SourceIp", str_or_null(e->source_ip));
	json_object_set_new(o, "Action", json_string(e->action));
	json_object_set_new(o, "ClientIds", ids ? ids : json_null());
	json_object_set_new(o, "Code", json_string(e->code));
	json_object_set_new(o, "PlansDeleted", json_integer(e->plans_deleted));
	json_object_set_new(o, "JobsDeleted", json_integer(e->jobs_deleted));
	json_object_set_new(o, "SnapshotsDeleted",
	                    json_integer(e->snapshots_deleted));
	line = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!line)
		return hbr_error_set(HBR_ERROR, "audit entry not encodable");
	len = strlen(line);
	line[len] = '\n'; /* replaces the NUL; length tracked explicitly */
	/* O_APPEND keeps lines whole; the lock only orders them. The sync
	 * runs outside it, so concurrent callers share one flush instead of
	 * queueing one fdatasync each behind an unfair mutex. */
	pthread_mutex_lock(&log->lock);
	n = write(log->fd, line, len + 1);
	pthread_mutex_unlock(&log->lock);
	if (n != (ssize_t)(len + 1))
		error = hbr_error_set_os(HBR_EIO, "write audit log");
	else if (fdatasync(log->fd) < 0)
		error = hbr_error_set_os(HBR_EIO, "fdatasync audit log");
	free(line); /* jansson's allocation */
	return error;
}
