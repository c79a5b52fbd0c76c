/*
 * The in-memory vault backend: objects in an array sorted by key, behind
 * one mutex. It is the fast backend of unit tests and the base a
 * fault-injecting wrapper will build on, so it keeps every rule of the
 * contract the local backend keeps (nested-key conflicts included), not
 * just the easy ones. Nothing is durable: "mem:" is for tests and tools.
 *
 * A put is a pointer swap under the lock, so readers see the old bytes
 * or the new ones. Insertion and removal move the array tail: fine for
 * the thousands of objects tests hold, not meant for millions.
 */
#include "common.h"
#include <pthread.h>
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"
#include "vault/vault.h"

struct mem_obj {
	char *key;
	char *data;
	size_t len;
};

struct mem_vault {
	struct hbr_vault base; /* must be first */
	pthread_mutex_t mu; /* everything below */
	struct mem_obj *objs; /* sorted by strcmp of key */
	size_t n, cap;
};

static struct mem_vault *mem_of(struct hbr_vault *v)
{
	return (struct mem_vault *)v;
}

/* The first index whose key is >= key (n when none). Lock held. */
static size_t lower_bound(const struct mem_vault *mv, const char *key)
{
	size_t lo = 0, hi = mv->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(mv->objs[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The object named key, or NULL. Lock held. */
static struct mem_obj *find(struct mem_vault *mv, const char *key)
{
	size_t i = lower_bound(mv, key);

	return i < mv->n && strcmp(mv->objs[i].key, key) == 0 ? &mv->objs[i] :
	                                                        NULL;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Whether key would sit beside a key nested in it, or inside a key: the
 * local backend cannot have a file and a directory of one name, and a
 * backend that allowed it would pass tests the others fail. Lock held. */
static bool nests(struct mem_vault *mv, const char *key)
{
	char buf[HBR_VAULT_KEY_MAX + 2];
	size_t len = strlen(key), i;

	for (i = 0; i < len; i++) {
		if (key[i] != '/')
			continue;
		memcpy(buf, key, i);
		buf[i] = '\0';
		if (find(mv, buf))
			return true;
	}
	memcpy(buf, key, len);
	memcpy(buf + len, "/", 2);
	i = lower_bound(mv, buf);
	return i < mv->n && has_prefix(mv->objs[i].key, buf);
}

static int mem_put(struct hbr_vault *v, const char *key, const void *data,
                   size_t len)
{
	struct mem_vault *mv = mem_of(v);
	char *copy = hbr_malloc(len ? len : 1); /* copied outside the lock */
	struct mem_obj *o;
	int error = 0;

	memcpy(copy, data, len);
	pthread_mutex_lock(&mv->mu);
	if (nests(mv, key)) {
		error = hbr_error_set(HBR_ECONFLICT,
		                      "vault key '%s' nests with another key",
		                      key);
	} else if ((o = find(mv, key))) {
		char *old = o->data;

		o->data = copy;
		o->len = len;
		copy = old;
	} else {
		size_t i = lower_bound(mv, key);

		hbr_grow((void **)&mv->objs, &mv->cap, mv->n + 1,
		         sizeof(*mv->objs));
		memmove(mv->objs + i + 1, mv->objs + i,
		        (mv->n - i) * sizeof(*mv->objs));
		mv->objs[i] = (struct mem_obj){ hbr_strdup(key), copy, len };
		mv->n++;
		copy = NULL;
	}
	pthread_mutex_unlock(&mv->mu);
	hbr_free(copy); /* the replaced bytes, or ours on error */
	return error;
}

static int mem_get(struct hbr_buf *out, struct hbr_vault *v, const char *key)
{
	struct mem_vault *mv = mem_of(v);
	struct mem_obj *o;
	int error;

	pthread_mutex_lock(&mv->mu);
	if (!(o = find(mv, key)))
		error = hbr_error_set(HBR_ENOTFOUND, "no object '%s'", key);
	else if (o->len > out->max)
		error = hbr_error_set(HBR_ETOOBIG,
		                      "object '%s' has %zu bytes, over the "
		                      "limit of %zu",
		                      key, o->len, out->max);
	else
		error = hbr_buf_put(out, o->data, o->len);
	pthread_mutex_unlock(&mv->mu);
	return error;
}

static int mem_get_range(struct hbr_buf *out, struct hbr_vault *v,
                         const char *key, uint64_t offset, size_t len)
{
	struct mem_vault *mv = mem_of(v);
	struct mem_obj *o;
	int error = 0;

	pthread_mutex_lock(&mv->mu);
	if (!(o = find(mv, key))) {
		error = hbr_error_set(HBR_ENOTFOUND, "no object '%s'", key);
	} else if (offset > o->len || len > o->len - offset) {
		error = hbr_error_set(HBR_EINVAL,
		                      "object '%s' has %zu bytes: %zu at %ju is"
		                      " past its end",
		                      key, o->len, len, (uintmax_t)offset);
	} else {
		/* The front end reserved the room. */
		memcpy(out->ptr + out->len, o->data + offset, len);
		out->len += len;
	}
	pthread_mutex_unlock(&mv->mu);
	return error;
}

static int mem_exists(struct hbr_vault *v, const char *key)
{
	struct mem_vault *mv = mem_of(v);
	bool found;

	pthread_mutex_lock(&mv->mu);
	found = find(mv, key) != NULL;
	pthread_mutex_unlock(&mv->mu);
	return found ? 1 : 0;
}

static int mem_stat(uint64_t *size_out, struct hbr_vault *v, const char *key)
{
	struct mem_vault *mv = mem_of(v);
	struct mem_obj *o;
	int error = 0;

	pthread_mutex_lock(&mv->mu);
	if ((o = find(mv, key)))
		*size_out = o->len;
	else
		error = hbr_error_set(HBR_ENOTFOUND, "no object '%s'", key);
	pthread_mutex_unlock(&mv->mu);
	return error;
}

static int mem_remove(struct hbr_vault *v, const char *key)
{
	struct mem_vault *mv = mem_of(v);
	struct mem_obj gone = { NULL, NULL, 0 };
	struct mem_obj *o;

	pthread_mutex_lock(&mv->mu);
	if ((o = find(mv, key))) {
		size_t i = (size_t)(o - mv->objs);

		gone = *o;
		memmove(mv->objs + i, mv->objs + i + 1,
		        (mv->n - i - 1) * sizeof(*mv->objs));
		mv->n--;
	}
	pthread_mutex_unlock(&mv->mu);
	hbr_free(gone.key);
	hbr_free(gone.data);
	return 0;
}

/*
 * One key per lock hold, found again by binary search after the last
 * one reported: the callback runs unlocked (so it may put or remove),
 * and memory stays one key however many objects match.
 */
static int mem_list(struct hbr_vault *v, const char *prefix,
                    hbr_vault_list_cb *cb, void *payload)
{
	struct mem_vault *mv = mem_of(v);
	char key[HBR_VAULT_KEY_MAX + 1];
	bool started = false;

	for (;;) {
		uint64_t size = 0;
		bool found = false;
		size_t i;
		int ret;

		pthread_mutex_lock(&mv->mu);
		i = lower_bound(mv, started ? key : prefix);
		if (started && i < mv->n && strcmp(mv->objs[i].key, key) == 0)
			i++;
		if (i < mv->n && has_prefix(mv->objs[i].key, prefix)) {
			/* Keys were validated on put, so they fit. */
			memcpy(key, mv->objs[i].key,
			       strlen(mv->objs[i].key) + 1);
			size = mv->objs[i].len;
			found = true;
		}
		pthread_mutex_unlock(&mv->mu);
		if (!found)
			return 0;
		started = true;
		if ((ret = cb(key, size, payload)) != 0)
			return ret;
	}
}

static void mem_free(struct hbr_vault *v)
{
	struct mem_vault *mv = mem_of(v);

	for (size_t i = 0; i < mv->n; i++) {
		hbr_free(mv->objs[i].key);
		hbr_free(mv->objs[i].data);
	}
	hbr_free(mv->objs);
	pthread_mutex_destroy(&mv->mu);
	hbr_free(mv);
}

static const struct hbr_vault_ops mem_ops = {
	.name = "mem",
	.put = mem_put,
	.get = mem_get,
	.get_range = mem_get_range,
	.exists = mem_exists,
	.stat = mem_stat,
	.remove = mem_remove,
	.list = mem_list,
	.sweep = NULL, /* a put is never half done */
	.free = mem_free,
};

int hbr_vault_mem_open(struct hbr_vault **out)
{
	struct mem_vault *mv = hbr_calloc(1, sizeof(*mv));

	mv->base.ops = &mem_ops;
	pthread_mutex_init(&mv->mu, NULL);
	*out = &mv->base;
	return 0;
}
