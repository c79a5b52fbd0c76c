/*
 * hbrd's open vaults and its cache of snapshot references.
 *
 * A local vault is opened once and shared: the backend caches which of
 * its directories are durable, so reopening it per request would cost
 * an fsync per upload. Entries are reference-counted because DeleteVault
 * may forget a vault while an upload is still writing to it.
 *
 * refs/<snapshot-id> objects never change once written (snapshot ids are
 * not reused), so FetchAgentChunks keeps the last few it read in memory,
 * up to a byte budget, and binary-searches them. One larger than the
 * budget is searched in place, 32 bytes per probe, with get_range.
 */
#include "common.h"
#include <pthread.h>
#include "api/api.h"
#include "core/chunker.h"
#include "core/id.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"
#include "vault/vault.h"

/* Vaults kept open with nobody using them; past this, idle ones close. */
#define VAULTS_MAX   1024
#define REFS_ENTRIES 16
#define REFS_BUDGET  (256u << 20)
#define REFS_KEY_MAX (sizeof("refs/") + HBR_ID_MAX)

struct vault_slot {
	char vault_id[HBR_ID_MAX];
	struct hbr_vault *v;
	unsigned users;
	bool forgotten; /* freed by its last user */
};

struct refs_entry {
	char vault_id[HBR_ID_MAX];
	char snapshot_id[HBR_ID_MAX];
	uint8_t *ids; /* sorted, n * 32 bytes; NULL: slot empty */
	size_t n;
	uint64_t used; /* LRU clock */
};

struct hbr_api_vaults {
	pthread_mutex_t mu; /* everything below */
	struct vault_slot **slots;
	size_t n, cap;
	struct refs_entry refs[REFS_ENTRIES];
	size_t refs_bytes, refs_budget;
	uint64_t clock;
};

struct hbr_api_vaults *hbr_api_vaults_new(void)
{
	struct hbr_api_vaults *vs = hbr_calloc(1, sizeof(*vs));

	pthread_mutex_init(&vs->mu, NULL);
	vs->refs_budget = REFS_BUDGET;
	return vs;
}

void hbr_api_vaults_free(struct hbr_api_vaults *vs)
{
	if (!vs)
		return;
	for (size_t i = 0; i < vs->n; i++) {
		hbr_vault_free(vs->slots[i]->v);
		hbr_free(vs->slots[i]);
	}
	for (size_t i = 0; i < REFS_ENTRIES; i++)
		hbr_free(vs->refs[i].ids);
	hbr_free(vs->slots);
	pthread_mutex_destroy(&vs->mu);
	hbr_free(vs);
}

/* Lock held. */
static struct vault_slot *find_slot(struct hbr_api_vaults *vs,
                                    const char *vault_id)
{
	for (size_t i = 0; i < vs->n; i++)
		if (!vs->slots[i]->forgotten &&
		    !strcmp(vs->slots[i]->vault_id, vault_id))
			return vs->slots[i];
	return NULL;
}

/* Remove slot i from the table (lock held); the caller frees it. */
static struct vault_slot *take_slot(struct hbr_api_vaults *vs, size_t i)
{
	struct vault_slot *slot = vs->slots[i];

	vs->slots[i] = vs->slots[--vs->n];
	return slot;
}

int hbr_api_vault_get(struct hbr_vault **out, struct hbr_api *api,
                      const char *vault_id)
{
	struct hbr_api_vaults *vs = api->vaults;
	struct vault_slot *slot, *idle[VAULTS_MAX];
	struct hbr_vault *v = NULL;
	size_t nidle = 0;
	char dir[4096];
	int error;

	/* Vault ids come from the store, but they become a path here. */
	if (!hbr_id_valid(vault_id, HBR_ID_VAULT))
		return hbr_error_set(HBR_ERROR, "'%s' is not a vault id",
		                     vault_id);
	pthread_mutex_lock(&vs->mu);
	if ((slot = find_slot(vs, vault_id))) {
		slot->users++;
		*out = slot->v;
		pthread_mutex_unlock(&vs->mu);
		return 0;
	}
	pthread_mutex_unlock(&vs->mu);

	/* Opened outside the lock: it is a few syscalls, and another
	 * thread opening the same vault meanwhile just wins the race. */
	(void)snprintf(dir, sizeof(dir), "%s/vaults/%s", api->cfg.data_dir,
	               vault_id);
	if ((error = hbr_vault_local_open(&v, dir)) < 0)
		return error;
	pthread_mutex_lock(&vs->mu);
	if ((slot = find_slot(vs, vault_id))) {
		slot->users++;
		*out = slot->v;
		pthread_mutex_unlock(&vs->mu);
		hbr_vault_free(v);
		return 0;
	}
	if (vs->n >= VAULTS_MAX)
		for (size_t i = vs->n; i-- > 0;)
			if (!vs->slots[i]->users)
				idle[nidle++] = take_slot(vs, i);
	slot = hbr_calloc(1, sizeof(*slot));
	(void)snprintf(slot->vault_id, sizeof(slot->vault_id), "%s", vault_id);
	slot->v = v;
	slot->users = 1;
	hbr_grow((void **)&vs->slots, &vs->cap, vs->n + 1, sizeof(*vs->slots));
	vs->slots[vs->n++] = slot;
	*out = v;
	pthread_mutex_unlock(&vs->mu);
	for (size_t i = 0; i < nidle; i++) {
		hbr_vault_free(idle[i]->v);
		hbr_free(idle[i]);
	}
	return 0;
}

void hbr_api_vault_put(struct hbr_api *api, struct hbr_vault *v)
{
	struct hbr_api_vaults *vs = api->vaults;
	struct vault_slot *gone = NULL;

	if (!v)
		return;
	pthread_mutex_lock(&vs->mu);
	for (size_t i = 0; i < vs->n; i++) {
		struct vault_slot *slot = vs->slots[i];
		if (slot->v != v)
			continue;
		HBR_ASSERT(slot->users > 0);
		if (--slot->users == 0 && slot->forgotten)
			gone = take_slot(vs, i);
		break;
	}
	pthread_mutex_unlock(&vs->mu);
	if (gone) {
		hbr_vault_free(gone->v);
		hbr_free(gone);
	}
}

void hbr_api_vault_forget(struct hbr_api *api, const char *vault_id)
{
	struct hbr_api_vaults *vs = api->vaults;
	struct vault_slot *gone = NULL, *slot;

	pthread_mutex_lock(&vs->mu);
	if ((slot = find_slot(vs, vault_id))) {
		slot->forgotten = true;
		for (size_t i = 0; i < vs->n && slot->users == 0; i++) {
			if (vs->slots[i] == slot) {
				gone = take_slot(vs, i);
				break;
			}
		}
	}
	for (size_t i = 0; i < REFS_ENTRIES; i++) {
		struct refs_entry *e = &vs->refs[i];
		if (e->ids && !strcmp(e->vault_id, vault_id)) {
			vs->refs_bytes -= e->n * HBR_CHUNK_ID_LEN;
			hbr_free(e->ids);
			e->ids = NULL;
		}
	}
	pthread_mutex_unlock(&vs->mu);
	if (gone) {
		hbr_vault_free(gone->v);
		hbr_free(gone);
	}
}

/* ---- snapshot references ---- */

void hbr_api_refs_budget(struct hbr_api *api, size_t bytes)
{
	pthread_mutex_lock(&api->vaults->mu);
	api->vaults->refs_budget = bytes;
	pthread_mutex_unlock(&api->vaults->mu);
}

static bool sorted_has(const uint8_t *ids, size_t n, const uint8_t *id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(ids + mid * HBR_CHUNK_ID_LEN, id,
		               HBR_CHUNK_ID_LEN);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Lock held. */
static struct refs_entry *refs_lookup(struct hbr_api_vaults *vs,
                                      const char *vault_id,
                                      const char *snapshot_id)
{
	for (size_t i = 0; i < REFS_ENTRIES; i++) {
		struct refs_entry *e = &vs->refs[i];
		if (e->ids && !strcmp(e->snapshot_id, snapshot_id) &&
		    !strcmp(e->vault_id, vault_id)) {
			e->used = ++vs->clock;
			return e;
		}
	}
	return NULL;
}

/* Keep ids (taken over) in the cache, evicting the least recently used
 * entries to make room. Lock held. */
static void refs_insert(struct hbr_api_vaults *vs, const char *vault_id,
                        const char *snapshot_id, uint8_t *ids, size_t n)
{
	size_t bytes = n * HBR_CHUNK_ID_LEN;
	struct refs_entry *slot;

	if (refs_lookup(vs, vault_id, snapshot_id)) {
		hbr_free(ids); /* another thread loaded it meanwhile */
		return;
	}
	for (;;) {
		struct refs_entry *old = NULL;
		bool free_slot = false;

		for (size_t i = 0; i < REFS_ENTRIES; i++) {
			struct refs_entry *e = &vs->refs[i];
			if (!e->ids) {
				free_slot = true;
				continue;
			}
			if (!old || e->used < old->used)
				old = e;
		}
		if (free_slot && vs->refs_bytes + bytes <= vs->refs_budget)
			break;
		HBR_ASSERT(old);
		vs->refs_bytes -= old->n * HBR_CHUNK_ID_LEN;
		hbr_free(old->ids);
		old->ids = NULL;
	}
	for (slot = vs->refs; slot->ids; slot++)
		;
	(void)snprintf(slot->vault_id, sizeof(slot->vault_id), "%s", vault_id);
	(void)snprintf(slot->snapshot_id, sizeof(slot->snapshot_id), "%s",
	               snapshot_id);
	slot->ids = ids;
	slot->n = n;
	slot->used = ++vs->clock;
	vs->refs_bytes += bytes;
}

/* Binary search in the object itself, for refs too large to cache. */
static int search_object(bool *found, struct hbr_vault *v, const char *key,
                         uint64_t n, const uint8_t *id)
{
	struct hbr_buf b = HBR_BUF_INIT;
	uint64_t lo = 0, hi = n;
	int error = 0;

	*found = false;
	while (lo < hi && !*found) {
		uint64_t mid = lo + (hi - lo) / 2;
		int c;

		hbr_buf_clear(&b);
		if ((error = hbr_vault_get_range(&b, v, key,
		                                 mid * HBR_CHUNK_ID_LEN,
		                                 HBR_CHUNK_ID_LEN)) < 0)
			break;
		c = memcmp(b.ptr, id, HBR_CHUNK_ID_LEN);
		*found = c == 0;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	hbr_buf_release(&b);
	return error;
}

int hbr_api_refs_find(size_t *first_out, struct hbr_api *api,
                      struct hbr_vault *v, const char *vault_id,
                      const char *snapshot_id, const uint8_t *ids, size_t n)
{
	struct hbr_api_vaults *vs = api->vaults;
	char key[REFS_KEY_MAX];
	struct refs_entry *e;
	struct hbr_buf b = HBR_BUF_INIT;
	uint64_t size = 0;
	size_t first = n, budget;
	int error;

	(void)snprintf(key, sizeof(key), "refs/%s", snapshot_id);
	pthread_mutex_lock(&vs->mu);
	budget = vs->refs_budget;
	if ((e = refs_lookup(vs, vault_id, snapshot_id))) {
		for (first = 0; first < n; first++)
			if (!sorted_has(e->ids, e->n,
			                ids + first * HBR_CHUNK_ID_LEN))
				break;
		pthread_mutex_unlock(&vs->mu);
		*first_out = first;
		return 0;
	}
	pthread_mutex_unlock(&vs->mu);

	if ((error = hbr_vault_stat(&size, v, key)) < 0)
		goto missing;
	if (size % HBR_CHUNK_ID_LEN)
		return hbr_error_set(
		        HBR_ECORRUPT,
		        "vault %s: %s has %ju bytes, not a multiple"
		        " of %d",
		        vault_id, key, (uintmax_t)size, HBR_CHUNK_ID_LEN);
	if (size > budget / 2) {
		for (first = 0; first < n; first++) {
			bool found;
			if ((error = search_object(
			             &found, v, key, size / HBR_CHUNK_ID_LEN,
			             ids + first * HBR_CHUNK_ID_LEN)) < 0)
				goto missing;
			if (!found)
				break;
		}
		*first_out = first;
		return 0;
	}
	if ((error = hbr_vault_get(&b, v, key, size ? size : 1)) < 0)
		goto missing;
	pthread_mutex_lock(&vs->mu);
	for (first = 0; first < n; first++)
		if (!sorted_has((const uint8_t *)b.ptr,
		                b.len / HBR_CHUNK_ID_LEN,
		                ids + first * HBR_CHUNK_ID_LEN))
			break;
	refs_insert(vs, vault_id, snapshot_id,
	            (uint8_t *)hbr_buf_detach(&b, NULL),
	            size / HBR_CHUNK_ID_LEN);
	pthread_mutex_unlock(&vs->mu);
	*first_out = first;
	return 0;
missing:
	hbr_buf_release(&b);
	if (error == HBR_ENOTFOUND)
		return hbr_error_set(HBR_ENOCHUNK,
		                     "snapshot %s has no references in its"
		                     " vault",
		                     snapshot_id);
	return error;
}
