/*
 * The vault: where backup data (packs, indexes) lives, as named objects
 * behind a small backend vtable. vault.c is the front end (URL → backend,
 * key validation, caps, failure logging); vault_local.c keeps objects as
 * files under a directory, vault_mem.c in memory, and vault_s3.c will
 * keep them in a bucket. docs/VAULT.md has the layout and the durability
 * argument.
 *
 * Keys are relative names like "packs/ab/abcdef….pack": 1 to
 * HBR_VAULT_KEY_MAX bytes of [A-Za-z0-9._/-], '/'-separated components
 * that are neither empty (no leading or trailing '/', no "//") nor "." or
 * ".." (the local backend maps keys to paths, and those would alias or
 * escape). A key and a key nested under it ("a" and "a/b") cannot both
 * exist; a put that would need that fails with HBR_ECONFLICT.
 *
 * Errors: a bad key is HBR_EINVAL, a missing object HBR_ENOTFOUND, an
 * object over the caller's cap HBR_ETOOBIG, storage failure HBR_EIO.
 * Every function is safe to call from several threads at once on the
 * same vault.
 */
#ifndef HBR_VAULT_H
#define HBR_VAULT_H

#include "common.h"
#include "util/buf.h"

#define HBR_VAULT_KEY_MAX 255

struct hbr_vault;

/* Called once per listed object. A non-zero return stops the walk, and
 * list returns that value (so a callback can fail with an HBR_E* code). */
typedef int hbr_vault_list_cb(const char *key, uint64_t size, void *payload);

/* The backend vtable. The front end validates keys and prefixes and sets
 * up buffers before calling in, so backends only store. */
struct hbr_vault_ops {
	const char *name; /* "local", "mem", "s3" */
	/* Store data under key, replacing any old object. Returns only once
	 * the object is durable; a reader (or a crash) sees the old object
	 * or the whole new one, never a mix. */
	int (*put)(struct hbr_vault *v, const char *key, const void *data,
	           size_t len);
	/* Append the whole object to out, an empty buffer whose max is the
	 * caller's cap: HBR_ETOOBIG (before reading) when it is larger. */
	int (*get)(struct hbr_buf *out, struct hbr_vault *v, const char *key);
	/* Append bytes [offset, offset + len) of the object to out, which
	 * has room for them already (the front end reserved it). A range
	 * that does not lie inside the object is HBR_EINVAL. */
	int (*get_range)(struct hbr_buf *out, struct hbr_vault *v,
	                 const char *key, uint64_t offset, size_t len);
	/* 1 present, 0 absent, < 0 on error. */
	int (*exists)(struct hbr_vault *v, const char *key);
	int (*stat)(uint64_t *size_out, struct hbr_vault *v, const char *key);
	/* Absent afterwards, durably; an absent key is not an error. */
	int (*remove)(struct hbr_vault *v, const char *key);
	/* Remove several, durable together when it returns: one sync per
	 * directory instead of one per object. NULL: remove one by one. */
	int (*remove_many)(struct hbr_vault *v, const char *const *keys,
	                   size_t n);
	/* Every key starting with prefix (a string prefix, "" for all), in
	 * no particular order, in memory bounded by the key length. The
	 * callback may remove the key it was given. */
	int (*list)(struct hbr_vault *v, const char *prefix,
	            hbr_vault_list_cb *cb, void *payload);
	/* Delete what interrupted puts left behind that is at least
	 * min_age_s seconds old; count it in *removed_out. NULL when the
	 * backend never leaves anything (mem). */
	int (*sweep)(size_t *removed_out, struct hbr_vault *v,
	             unsigned min_age_s);
	void (*free)(struct hbr_vault *v);
};

/* Backends embed this first in their own struct. */
struct hbr_vault {
	const struct hbr_vault_ops *ops;
};

/*
 * Open a vault by URL: "file:/path", "file:///path" or a plain path for
 * the local backend (the directory is created, 0700, if missing), "mem:"
 * for a new empty in-memory vault. "s3://…" is HBR_EINVAL until
 * vault_s3.c exists.
 */
int hbr_vault_open(struct hbr_vault **out, const char *url);
void hbr_vault_free(struct hbr_vault *v); /* NULL is a no-op */
/* The backend's name ("local", "mem"); borrowed. */
const char *hbr_vault_backend(const struct hbr_vault *v);

int hbr_vault_put(struct hbr_vault *v, const char *key, const void *data,
                  size_t len);
/* Read the object into *out (the caller releases it with
 * hbr_buf_release; *out's old contents are not released). An object
 * larger than max bytes (> 0: every read is capped) is HBR_ETOOBIG. *out is
 * written only on success, and then out->ptr is never NULL (text objects are
 * NUL-terminated, as every hbr_buf). */
int hbr_vault_get(struct hbr_buf *out, struct hbr_vault *v, const char *key,
                  size_t max);
/* Append len bytes of the object from offset on to out (a chunk out of
 * a pack; out's max caps it like any append). HBR_ENOTFOUND for a
 * missing object, HBR_EINVAL when the range does not lie inside it; out
 * is unchanged on error. */
int hbr_vault_get_range(struct hbr_buf *out, struct hbr_vault *v,
                        const char *key, uint64_t offset, size_t len);
int hbr_vault_exists(struct hbr_vault *v, const char *key); /* 1, 0, < 0 */
int hbr_vault_stat(uint64_t *size_out, struct hbr_vault *v, const char *key);
int hbr_vault_remove(struct hbr_vault *v, const char *key);
/* hbr_vault_remove of every key, durably by the time it returns, at the
 * cost of one sync per directory (reclamation removes packs by dozens). */
int hbr_vault_remove_many(struct hbr_vault *v, const char *const *keys,
                          size_t n);
/* See hbr_vault_ops.list. A key present for the whole walk is reported
 * exactly once; one put or removed during it may or may not be. */
int hbr_vault_list(struct hbr_vault *v, const char *prefix,
                   hbr_vault_list_cb *cb, void *payload);
/* See hbr_vault_ops.sweep. Never done at open, since another process
 * (the operator CLI) may open a vault hbrd is writing: hbrd is meant to
 * run it at start with an age far above any put's duration (an hour).
 * A backend without leftovers reports 0. removed_out may be NULL. */
int hbr_vault_sweep(size_t *removed_out, struct hbr_vault *v,
                    unsigned min_age_s);

/* HBR_EINVAL unless key is a valid key (the rules above). */
int hbr_vault_key_check(const char *key);

/* Backends, for callers that know which one they want. */
int hbr_vault_local_open(struct hbr_vault **out, const char *root);
int hbr_vault_mem_open(struct hbr_vault **out);

#endif
