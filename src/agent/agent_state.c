/* The agent's state directory: credentials, the instance id, and the
 * sweep of what interrupted jobs left. */
#include "common.h"
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <unistd.h>
#include <sys/stat.h>
#include "agent/agent_state.h"
#include "auth/sig.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/random.h"

#define CREDS_FILE  "credentials.json"
#define ID_FILE     "instance-id"
#define FILE_MAX    (64 << 10)
#define ID_HEX      20
#define PATH_MAX_ST 4096

static int path_in(char *out, size_t size, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, size, "%s/%s", dir, name) >= size)
		return hbr_error_set(HBR_EINVAL,
		                     "state directory path too long");
	return 0;
}

/* The first line of a small file, trimmed; "" when it is empty. */
static int first_line(char *out, size_t size, const char *path)
{
	char *text = NULL;
	size_t len = 0, n = 0;
	int error;

	if ((error = hbr_fs_read(&text, &len, path, FILE_MAX)) < 0)
		return error;
	while (n < len && text[n] != '\n' && text[n] != '\r' && text[n])
		n++;
	while (n && (text[n - 1] == ' ' || text[n - 1] == '\t'))
		n--;
	(void)snprintf(out, size, "%.*s", (int)n, text);
	hbr_free(text);
	return 0;
}

static bool valid_id(const char *id)
{
	size_t n = strlen(id);

	return n >= 1 && n < HBR_AGENT_ID_MAX;
}

int hbr_agent_instance_id(char out[HBR_AGENT_ID_MAX], const char *state_dir,
                          const char *machine_id_path)
{
	char line[256] = "", path[PATH_MAX_ST], hash[65], id[HBR_AGENT_ID_MAX];
	struct stat sb;
	int error;

	if (machine_id_path &&
	    first_line(line, sizeof(line), machine_id_path) == 0 && line[0]) {
		hbr_sig_sha256_hex(hash, line, strlen(line));
		(void)snprintf(out, HBR_AGENT_ID_MAX, "hbr-%.*s", ID_HEX, hash);
		return 0;
	}
	if ((error = path_in(path, sizeof(path), state_dir, ID_FILE)) < 0)
		return error;
	if (stat(path, &sb) == 0) {
		if ((error = first_line(id, sizeof(id), path)) < 0)
			return error;
		if (!valid_id(id))
			return hbr_error_set(HBR_EINVAL,
			                     "%s does not hold an instance id",
			                     path);
		memcpy(out, id, HBR_AGENT_ID_MAX);
		return 0;
	}
	if (errno != ENOENT)
		return hbr_error_set_os(HBR_EIO, "cannot stat %s", path);
	memcpy(id, "hbr-", 4);
	hbr_random_string(id + 4, ID_HEX, "0123456789abcdef");
	id[4 + ID_HEX] = '\n';
	if ((error = hbr_fs_mkdirs(state_dir, 0700)) < 0 ||
	    (error = hbr_fs_write_atomic(path, id, 4 + ID_HEX + 1, 0600)) < 0)
		return error;
	id[4 + ID_HEX] = '\0';
	memcpy(out, id, HBR_AGENT_ID_MAX);
	return 0;
}

int hbr_agent_state_save(const char *state_dir,
                         const struct hbr_agent_state *st)
{
	char path[PATH_MAX_ST], *text = NULL;
	json_t *o;
	int error;

	if ((error = path_in(path, sizeof(path), state_dir, CREDS_FILE)) < 0)
		return error;
	o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "Endpoint", st->key.endpoint,
	              "ClientId", st->client_id, "InstanceId", st->instance_id,
	              "AccessKeyId", st->key.access_key_id, "AccessKeySecret",
	              st->key.secret);
	if (!o || !(text = json_dumps(o, JSON_INDENT(2))))
		abort(); /* out of memory (every field is a C string) */
	json_decref(o);
	if ((error = hbr_fs_mkdirs(state_dir, 0700)) == 0)
		error = hbr_fs_write_atomic(path, text, strlen(text), 0600);
	free(text); /* jansson's allocation */
	return error;
}

static int field(char *out, size_t size, json_t *o, const char *name,
                 const char *path)
{
	const char *v = json_string_value(json_object_get(o, name));

	if (!v || !v[0] || strlen(v) >= size)
		return hbr_error_set(HBR_EINVAL,
		                     "%s: %s is missing or too long", path,
		                     name);
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

int hbr_agent_state_load(struct hbr_agent_state *out, const char *state_dir)
{
	struct hbr_agent_state st = { 0 };
	char path[PATH_MAX_ST], *text = NULL;
	json_error_t jerr;
	json_t *o = NULL;
	size_t len = 0;
	struct stat sb;
	int error;

	if ((error = path_in(path, sizeof(path), state_dir, CREDS_FILE)) < 0)
		return error;
	if (stat(path, &sb) < 0 && errno == ENOENT)
		return hbr_error_set(
		        HBR_ENOTFOUND,
		        "%s does not exist: run hbr-client register"
		        " first",
		        path);
	if ((error = hbr_fs_read(&text, &len, path, FILE_MAX)) < 0)
		return error;
	if (!(o = json_loadb(text, len, 0, &jerr)) || !json_is_object(o)) {
		error = hbr_error_set(HBR_EINVAL, "%s is not a JSON object",
		                      path);
		goto out;
	}
	if ((error = field(st.key.endpoint, sizeof(st.key.endpoint), o,
	                   "Endpoint", path)) < 0 ||
	    (error = field(st.key.access_key_id, sizeof(st.key.access_key_id),
	                   o, "AccessKeyId", path)) < 0 ||
	    (error = field(st.key.secret, sizeof(st.key.secret), o,
	                   "AccessKeySecret", path)) < 0 ||
	    (error = field(st.client_id, sizeof(st.client_id), o, "ClientId",
	                   path)) < 0 ||
	    (error = field(st.instance_id, sizeof(st.instance_id), o,
	                   "InstanceId", path)) < 0)
		goto out;
	*out = st;
out:
	json_decref(o);
	hbr_free(text);
	return error;
}

static bool ends_with(const char *s, size_t len, const char *suffix,
                      size_t *stem)
{
	size_t n = strlen(suffix);

	if (len <= n || strcmp(s + len - n, suffix))
		return false;
	*stem = len - n;
	return true;
}

size_t hbr_agent_state_sweep(const char *state_dir,
                             bool (*keep)(const char *job_id, void *payload),
                             void *payload)
{
	/* Longest first: "x.idx.part" is job x's, not job "x.idx"'s. */
	static const char *const per_job[] = { ".idx.part", ".part",
		                               ".restore" };
	char dir[PATH_MAX_ST], path[PATH_MAX_ST];
	struct dirent *d;
	size_t removed = 0;
	DIR *dh;

	if (path_in(dir, sizeof(dir), state_dir, "trees") < 0 ||
	    !(dh = opendir(dir)))
		return 0;
	while ((d = readdir(dh))) {
		size_t len = strlen(d->d_name), stem = 0;
		bool drop = ends_with(d->d_name, len, ".tmp", &stem);

		for (size_t i = 0; !drop && i < HBR_ARRAY_SIZE(per_job); i++) {
			char id[HBR_AGENT_ID_MAX];

			if (!ends_with(d->d_name, len, per_job[i], &stem))
				continue;
			if (stem < sizeof(id)) {
				memcpy(id, d->d_name, stem);
				id[stem] = '\0';
				drop = !keep || !keep(id, payload);
			} else {
				drop = true; /* no job has such an id */
			}
			break;
		}
		if (drop && path_in(path, sizeof(path), dir, d->d_name) == 0 &&
		    unlink(path) == 0)
			removed++;
	}
	closedir(dh);
	return removed;
}
