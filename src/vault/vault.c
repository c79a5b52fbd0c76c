/*
 * The vault front end: picks a backend by URL and holds the policy every
 * backend shares, so backends only store bytes: key and prefix
 * validation (before any backend sees a name), the read cap, and logging
 * of storage failures (expected outcomes such as a missing object are the
 * caller's to report).
 */
#include "common.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/log.h"
#include "vault/vault.h"

static bool is_key_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
	       c == '/';
}

/*
 * Check a key, or with is_prefix a list prefix: a prefix may be empty and
 * its last component is a partial name (anything of the key alphabet,
 * empty included), since it only has to match the start of keys.
 */
static int check_name(const char *s, bool is_prefix)
{
	const char *what = is_prefix ? "vault key prefix" : "vault key";
	size_t len = strnlen(s, HBR_VAULT_KEY_MAX + 1);
	size_t start = 0;

	if (len == 0 && !is_prefix)
		return hbr_error_set(HBR_EINVAL, "empty %s", what);
	if (len > HBR_VAULT_KEY_MAX)
		return hbr_error_set(HBR_EINVAL, "%s longer than %d bytes",
		                     what, HBR_VAULT_KEY_MAX);
	/* Characters first, so the messages below can quote s safely. */
	for (size_t i = 0; i < len; i++)
		if (!is_key_char((unsigned char)s[i]))
			return hbr_error_set(HBR_EINVAL,
			                     "%s has byte 0x%02x at offset %zu",
			                     what, (unsigned char)s[i], i);
	for (size_t i = 0; i <= len; i++) {
		size_t n = i - start;

		if (i < len && s[i] != '/')
			continue;
		if (i == len && is_prefix)
			break; /* the partial last component */
		if (n == 0)
			return hbr_error_set(HBR_EINVAL,
			                     "%s '%s' has an empty component",
			                     what, s);
		if ((n == 1 && s[start] == '.') ||
		    (n == 2 && s[start] == '.' && s[start + 1] == '.'))
			return hbr_error_set(
			        HBR_EINVAL,
			        "%s '%s' has a '.' or '..' component", what, s);
		start = i + 1;
	}
	return 0;
}

int hbr_vault_key_check(const char *key)
{
	return check_name(key, false);
}

/* Storage failures are logged here once; HBR_ENOTFOUND, HBR_EINVAL,
 * HBR_ETOOBIG and HBR_ECONFLICT are answers about the caller's own keys
 * and caps, for the caller to report. */
static int logged(int error, const struct hbr_vault *v, const char *op,
                  const char *key)
{
	if (error < 0 && error != HBR_ENOTFOUND && error != HBR_EINVAL &&
	    error != HBR_ETOOBIG && error != HBR_ECONFLICT)
		hbr_log_error("vault %s: %s '%s': %s", v->ops->name, op, key,
		              hbr_error_msg());
	return error;
}

int hbr_vault_open(struct hbr_vault **out, const char *url)
{
	const char *path = url;

	if (strncmp(url, "s3://", 5) == 0)
		return hbr_error_set(
		        HBR_EINVAL,
		        "vault '%s': the S3 backend is not built yet", url);
	if (strcmp(url, "mem:") == 0)
		return hbr_vault_mem_open(out);
	if (strncmp(url, "file:", 5) == 0) {
		path = url + 5;
		/* file:///abs has an empty host; no other host means us. */
		if (strncmp(path, "//", 2) == 0) {
			path += 2;
			if (*path != '/')
				return hbr_error_set(
				        HBR_EINVAL,
				        "vault '%s': file URLs name no host",
				        url);
		}
	} else if (strstr(url, "://")) {
		return hbr_error_set(HBR_EINVAL, "vault '%s': unknown scheme",
		                     url);
	}
	if (!*path)
		return hbr_error_set(HBR_EINVAL, "vault '%s': empty path", url);
	return hbr_vault_local_open(out, path);
}

void hbr_vault_free(struct hbr_vault *v)
{
	if (v)
		v->ops->free(v);
}

const char *hbr_vault_backend(const struct hbr_vault *v)
{
	return v->ops->name;
}

int hbr_vault_put(struct hbr_vault *v, const char *key, const void *data,
                  size_t len)
{
	int error;

	HBR_ASSERT(data || len == 0);
	if ((error = hbr_vault_key_check(key)) < 0)
		return error;
	return logged(v->ops->put(v, key, data ? data : "", len), v, "put",
	              key);
}

int hbr_vault_get(struct hbr_buf *out, struct hbr_vault *v, const char *key,
                  size_t max)
{
	struct hbr_buf b;
	int error;

	HBR_ASSERT(max > 0); /* 0 would mean "no cap" to hbr_buf */
	hbr_buf_init(&b, max);
	if ((error = hbr_vault_key_check(key)) < 0)
		goto out;
	if ((error = logged(v->ops->get(&b, v, key), v, "get", key)) < 0)
		goto out;
	/* An empty object still gets memory, so ptr is "" and not NULL. */
	if (!b.ptr)
		(void)hbr_buf_put(&b, "", 0);
	*out = b;
	hbr_buf_init(&b, 0);
out:
	hbr_buf_release(&b);
	return error;
}

int hbr_vault_get_range(struct hbr_buf *out, struct hbr_vault *v,
                        const char *key, uint64_t offset, size_t len)
{
	size_t was = out->len;
	int error;

	if ((error = hbr_vault_key_check(key)) < 0)
		return error;
	if (offset > UINT64_MAX - len)
		return hbr_error_set(HBR_EINVAL,
		                     "range of %zu bytes at %ju overflows", len,
		                     (uintmax_t)offset);
	/* Room first, so a backend writes into memory it knows is there
	 * and the cap is checked before any I/O. */
	if ((error = hbr_buf_reserve(out, len)) < 0)
		return error;
	if ((error = logged(v->ops->get_range(out, v, key, offset, len), v,
	                    "get_range", key)) < 0) {
		out->len = was;
		out->ptr[was] = '\0';
		return error;
	}
	HBR_ASSERT(out->len == was + len);
	out->ptr[out->len] = '\0';
	return 0;
}

int hbr_vault_exists(struct hbr_vault *v, const char *key)
{
	int error;

	if ((error = hbr_vault_key_check(key)) < 0)
		return error;
	return logged(v->ops->exists(v, key), v, "exists", key);
}

int hbr_vault_stat(uint64_t *size_out, struct hbr_vault *v, const char *key)
{
	uint64_t size = 0;
	int error;

	if ((error = hbr_vault_key_check(key)) < 0)
		return error;
	if ((error = logged(v->ops->stat(&size, v, key), v, "stat", key)) < 0)
		return error;
	*size_out = size;
	return 0;
}

int hbr_vault_remove(struct hbr_vault *v, const char *key)
{
	int error;

	if ((error = hbr_vault_key_check(key)) < 0)
		return error;
	return logged(v->ops->remove(v, key), v, "remove", key);
}

int hbr_vault_remove_many(struct hbr_vault *v, const char *const *keys,
                          size_t n)
{
	int error;

	for (size_t i = 0; i < n; i++)
		if ((error = hbr_vault_key_check(keys[i])) < 0)
			return error;
	if (!v->ops->remove_many) {
		for (size_t i = 0; i < n; i++)
			if ((error = hbr_vault_remove(v, keys[i])) < 0)
				return error;
		return 0;
	}
	return logged(v->ops->remove_many(v, keys, n), v, "remove",
	              n ? keys[0] : "");
}

struct list_ctx {
	hbr_vault_list_cb *cb;
	void *payload;
	bool stopped; /* by the callback, not the backend */
};

static int list_one(const char *key, uint64_t size, void *payload)
{
	struct list_ctx *ctx = payload;
	int ret = ctx->cb(key, size, ctx->payload);

	if (ret != 0)
		ctx->stopped = true;
	return ret;
}

int hbr_vault_list(struct hbr_vault *v, const char *prefix,
                   hbr_vault_list_cb *cb, void *payload)
{
	struct list_ctx ctx = { cb, payload, false };
	int error;

	if ((error = check_name(prefix, true)) < 0)
		return error;
	error = v->ops->list(v, prefix, list_one, &ctx);
	/* A callback's own code is the callback's to report. */
	return ctx.stopped ? error : logged(error, v, "list", prefix);
}

int hbr_vault_sweep(size_t *removed_out, struct hbr_vault *v,
                    unsigned min_age_s)
{
	size_t removed = 0;
	int error = 0;

	if (v->ops->sweep)
		error = logged(v->ops->sweep(&removed, v, min_age_s), v,
		               "sweep", "");
	if (error == 0 && removed_out)
		*removed_out = removed;
	return error;
}
