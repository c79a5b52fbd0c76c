/*
 * api_vaults.c: hbrd's shared open vaults and its cache of snapshot
 * references. A vault is opened once and shared; one forgotten
 * (DeleteVault) while in use stays usable until its last user puts it
 * back. Reference lookups give the same answers from the cache, after
 * eviction, and for objects too large to cache (searched in place).
 */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "api/api.h"
#include "core/chunker.h"
#include "vault/vault.h"
#include "unit/store/fixture.h"

struct world {
	struct fx f;
	struct hbr_api *api;
	char v[HBR_ID_MAX];
};

static int setup(void **state)
{
	struct world *w = hbr_calloc(1, sizeof(*w));
	struct hbr_api_config cfg = { 0 };

	fx_open(&w->f, "api_vaults");
	hbr_id_new(w->v, HBR_ID_VAULT);
	cfg.data_dir = w->f.dir;
	cfg.store_url = w->f.url;
	cfg.region = "cn-hangzhou";
	cfg.store_conns = 1;
	assert_int_equal(hbr_api_open(&w->api, &cfg), 0);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	hbr_api_close(w->api);
	fx_close(&w->f);
	hbr_free(w);
	return 0;
}

static void test_vault_is_shared_and_outlives_forget(void **state)
{
	struct world *w = *state;
	struct hbr_vault *a = NULL, *b = NULL, *c = NULL;
	struct hbr_buf got;

	assert_int_equal(hbr_api_vault_get(&a, w->api, w->v), 0);
	assert_int_equal(hbr_api_vault_get(&b, w->api, w->v), 0);
	assert_ptr_equal(a, b);
	hbr_api_vault_put(w->api, b);
	/* Forgotten while a is held: a still works, and the next user
	 * gets a new object. */
	hbr_api_vault_forget(w->api, w->v);
	assert_int_equal(hbr_vault_put(a, "x", "1", 1), 0);
	assert_int_equal(hbr_api_vault_get(&c, w->api, w->v), 0);
	assert_ptr_not_equal(a, c);
	assert_int_equal(hbr_vault_get(&got, c, "x", 10), 0);
	assert_string_equal(got.ptr, "1");
	hbr_buf_release(&got);
	hbr_api_vault_put(w->api, a); /* frees it */
	hbr_api_vault_put(w->api, c);
	/* Not a vault id: never a path. */
	assert_int_equal(hbr_api_vault_get(&a, w->api, "../etc"), HBR_ERROR);
}

/* refs/<snap> of n ids 2k (k = 0..n-1): id i is 32 bytes of byte i. */
static void put_refs(struct hbr_vault *v, const char *snap, int n)
{
	uint8_t *ids = hbr_malloc((size_t)n * HBR_CHUNK_ID_LEN);
	char key[HBR_VAULT_KEY_MAX + 1];

	for (int i = 0; i < n; i++)
		memset(ids + i * HBR_CHUNK_ID_LEN, 2 * i, HBR_CHUNK_ID_LEN);
	snprintf(key, sizeof(key), "refs/%.40s", snap);
	assert_int_equal(hbr_vault_put(v, key, ids, (size_t)n * 32), 0);
	hbr_free(ids);
}

/* *first for the ids with the given bytes. */
static size_t find(struct world *w, struct hbr_vault *v, const char *snap,
                   const int *bytes, size_t n)
{
	uint8_t ids[8 * HBR_CHUNK_ID_LEN];
	size_t first = 99;

	for (size_t i = 0; i < n; i++)
		memset(ids + i * HBR_CHUNK_ID_LEN, bytes[i], HBR_CHUNK_ID_LEN);
	assert_int_equal(
	        hbr_api_refs_find(&first, w->api, v, w->v, snap, ids, n), 0);
	return first;
}

static void check_answers(struct world *w, struct hbr_vault *v,
                          const char *snap)
{
	static const int all_in[] = { 0, 20, 38, 2 };
	static const int third_out[] = { 4, 6, 7, 8 };
	static const int past_end[] = { 40 };

	assert_int_equal(find(w, v, snap, all_in, 4), 4);
	assert_int_equal(find(w, v, snap, third_out, 4), 2);
	assert_int_equal(find(w, v, snap, past_end, 1), 0);
}

static void test_refs_cached_evicted_and_in_place(void **state)
{
	struct world *w = *state;
	struct hbr_vault *v = NULL;
	size_t first;
	uint8_t id[HBR_CHUNK_ID_LEN] = { 0 };
	char snap[8][HBR_ID_MAX];

	assert_int_equal(hbr_api_vault_get(&v, w->api, w->v), 0);
	for (int i = 0; i < 8; i++) {
		hbr_id_new(snap[i], HBR_ID_SNAPSHOT);
		put_refs(v, snap[i], 20); /* ids 0, 2, ..., 38 */
	}
	/* Loaded, then from the cache. */
	check_answers(w, v, snap[0]);
	check_answers(w, v, snap[0]);
	/* Room for two objects of 640 bytes: the others evict each other
	 * and still answer the same. */
	hbr_api_refs_budget(w->api, 1300);
	for (int i = 0; i < 8; i++)
		check_answers(w, v, snap[i]);
	for (int i = 7; i >= 0; i--)
		check_answers(w, v, snap[i]);
	/* Too large to cache: binary search in the object. */
	hbr_api_refs_budget(w->api, 1000);
	check_answers(w, v, snap[3]);
	/* No refs object: the snapshot holds no chunk. */
	assert_int_equal(hbr_api_refs_find(&first, w->api, v, w->v,
	                                   "s-nothinghere00000000", id, 1),
	                 HBR_ENOCHUNK);
	hbr_api_vault_put(w->api, v);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_vault_is_shared_and_outlives_forget),
		T(test_refs_cached_evicted_and_in_place),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
