/*
 * The vault contract: one list of behaviours every backend must show,
 * built once per backend (-DHBR_TEST_VAULT_LOCAL for the local backend,
 * none for mem) and registered as unit.vault_<backend>. A new backend
 * adds a build of this file, not a new suite. The local build adds what
 * only a filesystem has: temporary files, modes and the fsync order,
 * which it watches by wrapping fsync at link time (-Wl,--wrap=fsync).
 */
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"
#include "vault/vault.h"
#include "unit/util/tmpdir.h"

struct fx {
	struct hbr_vault *v;
	char *dir; /* scratch directory */
	char root[PATH_MAX]; /* local: the vault root inside dir */
};

static int setup(void **state)
{
	struct fx *f = hbr_calloc(1, sizeof(*f));

	*state = f;
	if (!(f->dir = test_tmpdir("vault")))
		return -1;
#ifdef HBR_TEST_VAULT_LOCAL
	/* A root that does not exist yet: open creates it. */
	(void)snprintf(f->root, sizeof(f->root), "%s/vault", f->dir);
	return hbr_vault_open(&f->v, f->root) == 0 ? 0 : -1;
#else
	return hbr_vault_open(&f->v, "mem:") == 0 ? 0 : -1;
#endif
}

static int teardown(void **state)
{
	struct fx *f = *state;

	hbr_vault_free(f->v);
	test_rmtree(f->dir);
	hbr_free(f);
	return 0;
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static void put_str(struct hbr_vault *v, const char *key, const char *s)
{
	assert_int_equal(hbr_vault_put(v, key, s, strlen(s)), 0);
}

/* The object as a string (test objects hold no NULs). Caller frees. */
static char *get_str(struct hbr_vault *v, const char *key)
{
	struct hbr_buf b;

	assert_int_equal(hbr_vault_get(&b, v, key, 1 << 20), 0);
	assert_int_equal(strlen(b.ptr), b.len);
	return hbr_buf_detach(&b, NULL);
}

static void assert_object(struct hbr_vault *v, const char *key,
                          const char *want)
{
	char *got = get_str(v, key);

	assert_string_equal(got, want);
	hbr_free(got);
}

/* ---- listing helpers: "key=size" lines, sorted, since list order is
 * unspecified ---- */

struct seen {
	char *lines[512];
	size_t n;
};

static int collect(const char *key, uint64_t size, void *payload)
{
	struct seen *s = payload;
	char line[HBR_VAULT_KEY_MAX + 32];

	assert_true(s->n < HBR_ARRAY_SIZE(s->lines));
	(void)snprintf(line, sizeof(line), "%s=%ju", key, (uintmax_t)size);
	s->lines[s->n++] = hbr_strdup(line);
	return 0;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* List prefix and compare with want, sorted lines joined by ' '. */
static void assert_list(struct hbr_vault *v, const char *prefix,
                        const char *want)
{
	struct hbr_buf got = HBR_BUF_INIT;
	struct seen s = { .n = 0 };

	assert_int_equal(hbr_vault_list(v, prefix, collect, &s), 0);
	qsort(s.lines, s.n, sizeof(*s.lines), cmp_line);
	for (size_t i = 0; i < s.n; i++) {
		assert_int_equal(
		        hbr_buf_printf(&got, "%s%s", i ? " " : "", s.lines[i]),
		        0);
		hbr_free(s.lines[i]);
	}
	assert_string_equal(hbr_buf_cstr(&got), want);
	hbr_buf_release(&got);
}

/* ---- round trips ---- */

static void test_roundtrip_binary(void **state)
{
	struct fx *f = *state;
	unsigned char data[512];
	struct hbr_buf b;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7); /* every byte, NULs too */
	assert_int_equal(
	        hbr_vault_put(f->v, "packs/00/bin.pack", data, sizeof(data)),
	        0);
	assert_int_equal(hbr_vault_get(&b, f->v, "packs/00/bin.pack", 4096), 0);
	assert_int_equal(b.len, sizeof(data));
	assert_memory_equal(b.ptr, data, sizeof(data));
	hbr_buf_release(&b);
}

static void test_roundtrip_empty(void **state)
{
	struct fx *f = *state;
	struct hbr_buf b;
	uint64_t size = 99;

	assert_int_equal(hbr_vault_put(f->v, "empty", NULL, 0), 0);
	assert_int_equal(hbr_vault_get(&b, f->v, "empty", 1), 0);
	assert_int_equal(b.len, 0);
	assert_non_null(b.ptr);
	assert_int_equal(b.ptr[0], '\0');
	hbr_buf_release(&b);
	assert_int_equal(hbr_vault_stat(&size, f->v, "empty"), 0);
	assert_int_equal(size, 0);
	assert_int_equal(hbr_vault_exists(f->v, "empty"), 1);
	assert_list(f->v, "", "empty=0");
}

static void test_roundtrip_8mib(void **state)
{
	struct fx *f = *state;
	/* Not a multiple of the block size: the local backend writes the
	 * aligned part with O_DIRECT and the tail buffered. */
	size_t len = (8u << 20) + 1234;
	unsigned char *data = hbr_malloc(len);
	uint32_t x = 2463534242u;
	struct hbr_buf b;
	uint64_t size;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		data[i] = (unsigned char)x;
	}
	assert_int_equal(hbr_vault_put(f->v, "packs/big.pack", data, len), 0);
	assert_int_equal(hbr_vault_get(&b, f->v, "packs/big.pack", len), 0);
	assert_int_equal(b.len, len);
	assert_memory_equal(b.ptr, data, len);
	hbr_buf_release(&b);
	assert_int_equal(hbr_vault_get(&b, f->v, "packs/big.pack", len - 1),
	                 HBR_ETOOBIG);
	assert_int_equal(hbr_vault_stat(&size, f->v, "packs/big.pack"), 0);
	assert_int_equal(size, len);
	hbr_free(data);
}

static void test_overwrite_replaces_whole(void **state)
{
	struct fx *f = *state;

	put_str(f->v, "idx/k", "a rather long first version");
	put_str(f->v, "idx/k", "short");
	assert_object(f->v, "idx/k", "short"); /* no tail of the old one */
	put_str(f->v, "idx/k", "longer than short again");
	assert_object(f->v, "idx/k", "longer than short again");
	assert_list(f->v, "", "idx/k=23");
}

/* ---- exists, stat, remove ---- */

static void test_exists_and_stat(void **state)
{
	struct fx *f = *state;
	uint64_t size = 77;
	struct hbr_buf b = HBR_BUF_INIT;

	assert_int_equal(hbr_vault_exists(f->v, "d/x"), 0);
	assert_int_equal(hbr_vault_stat(&size, f->v, "d/x"), HBR_ENOTFOUND);
	assert_int_equal(size, 77); /* untouched on failure */
	put_str(f->v, "d/x", "abc");
	assert_int_equal(hbr_vault_exists(f->v, "d/x"), 1);
	assert_int_equal(hbr_vault_stat(&size, f->v, "d/x"), 0);
	assert_int_equal(size, 3);
	/* "d" holds keys but is not an object itself. */
	assert_int_equal(hbr_vault_exists(f->v, "d"), 0);
	assert_int_equal(hbr_vault_stat(&size, f->v, "d"), HBR_ENOTFOUND);
	assert_int_equal(hbr_vault_get(&b, f->v, "d", 100), HBR_ENOTFOUND);
	assert_null(b.ptr);
}

static void test_remove_many(void **state)
{
	struct fx *f = *state;
	const char *const keys[] = { "packs/aa/1", "packs/bb/2", "packs/aa/3",
		                     "packs/cc/absent", "no/dir/at/all" };
	const char *const bad[] = { "packs/aa/4", "../x" };

	put_str(f->v, "packs/aa/1", "1");
	put_str(f->v, "packs/bb/2", "2");
	put_str(f->v, "packs/aa/3", "3");
	put_str(f->v, "packs/aa/4", "4");
	assert_int_equal(hbr_vault_remove_many(f->v, keys, 5), 0);
	assert_list(f->v, "", "packs/aa/4=1");
	/* A bad key refuses the whole call before anything goes. */
	assert_int_equal(hbr_vault_remove_many(f->v, bad, 2), HBR_EINVAL);
	assert_list(f->v, "", "packs/aa/4=1");
	assert_int_equal(hbr_vault_remove_many(f->v, keys, 0), 0);
}

static void test_remove_idempotent(void **state)
{
	struct fx *f = *state;
	struct hbr_buf b = HBR_BUF_INIT;

	assert_int_equal(hbr_vault_remove(f->v, "nope"), 0);
	assert_int_equal(hbr_vault_remove(f->v, "no/such/dir/x"), 0);
	put_str(f->v, "p/q/r", "x");
	put_str(f->v, "p/q/s", "y");
	/* A directory of keys is not an object: nothing to remove. */
	assert_int_equal(hbr_vault_remove(f->v, "p/q"), 0);
	assert_int_equal(hbr_vault_remove(f->v, "p/q/r"), 0);
	assert_int_equal(hbr_vault_exists(f->v, "p/q/r"), 0);
	assert_int_equal(hbr_vault_get(&b, f->v, "p/q/r", 100), HBR_ENOTFOUND);
	assert_int_equal(hbr_vault_remove(f->v, "p/q/r"), 0);
	assert_list(f->v, "", "p/q/s=1");
	/* The name is free again. */
	put_str(f->v, "p/q/r", "again");
	assert_object(f->v, "p/q/r", "again");
}

/* ---- list ---- */

static void test_list_by_prefix(void **state)
{
	struct fx *f = *state;

	put_str(f->v, "packs/ab/ab01.pack", "1");
	put_str(f->v, "packs/ab/ab02.pack", "22");
	put_str(f->v, "packs/cd/cd01.pack", "333");
	put_str(f->v, "packs-old/x", "4444");
	put_str(f->v, "index/ab.idx", "55555");
	put_str(f->v, "top", "666666");
	assert_list(f->v, "",
	            "index/ab.idx=5 packs-old/x=4 packs/ab/ab01.pack=1 "
	            "packs/ab/ab02.pack=2 packs/cd/cd01.pack=3 top=6");
	/* A string prefix, not a directory: "packs" takes packs-old too. */
	assert_list(f->v, "packs",
	            "packs-old/x=4 packs/ab/ab01.pack=1 packs/ab/ab02.pack=2 "
	            "packs/cd/cd01.pack=3");
	assert_list(f->v, "packs/",
	            "packs/ab/ab01.pack=1 packs/ab/ab02.pack=2 "
	            "packs/cd/cd01.pack=3");
	assert_list(f->v, "packs/a",
	            "packs/ab/ab01.pack=1 packs/ab/ab02.pack=2");
	assert_list(f->v, "packs/ab/",
	            "packs/ab/ab01.pack=1 packs/ab/ab02.pack=2");
	assert_list(f->v, "packs/ab/ab02", "packs/ab/ab02.pack=2");
	assert_list(f->v, "packs/ab/ab02.pack", "packs/ab/ab02.pack=2");
	assert_list(f->v, "t", "top=6");
	assert_list(f->v, "top/", "");
	assert_list(f->v, "nothing/", "");
	assert_list(f->v, "packs/zz", "");
}

static void test_list_empty_vault(void **state)
{
	struct fx *f = *state;

	assert_list(f->v, "", "");
	assert_list(f->v, "packs/", "");
}

struct stopper {
	int calls;
	int ret;
};

static int stop_at_first(const char *key, uint64_t size, void *payload)
{
	struct stopper *s = payload;

	(void)key;
	(void)size;
	s->calls++;
	return s->ret;
}

static void test_list_callback_stops(void **state)
{
	struct fx *f = *state;
	struct stopper s = { 0, 7 };

	put_str(f->v, "a/1", "x");
	put_str(f->v, "a/2", "x");
	put_str(f->v, "b/3", "x");
	assert_int_equal(hbr_vault_list(f->v, "", stop_at_first, &s), 7);
	assert_int_equal(s.calls, 1);
	s = (struct stopper){ 0, HBR_ECORRUPT };
	assert_int_equal(hbr_vault_list(f->v, "a/", stop_at_first, &s),
	                 HBR_ECORRUPT);
	assert_int_equal(s.calls, 1);
}

struct remover {
	struct hbr_vault *v;
	int calls;
};

static int remove_each(const char *key, uint64_t size, void *payload)
{
	struct remover *r = payload;

	(void)size;
	r->calls++;
	return hbr_vault_remove(r->v, key);
}

/* Reclamation lists and removes in one pass. */
static void test_list_may_remove_current(void **state)
{
	struct fx *f = *state;
	struct remover r = { f->v, 0 };
	char key[64];

	for (int i = 0; i < 60; i++) {
		(void)snprintf(key, sizeof(key), "packs/%02x/%04d.pack", i % 4,
		               i);
		put_str(f->v, key, "data");
	}
	assert_int_equal(hbr_vault_list(f->v, "packs/", remove_each, &r), 0);
	assert_int_equal(r.calls, 60);
	assert_list(f->v, "", "");
}

/* ---- errors ---- */

static void assert_bad_key(struct hbr_vault *v, const char *key)
{
	struct hbr_buf b = HBR_BUF_INIT;
	uint64_t size = 5;

	assert_int_equal(hbr_vault_put(v, key, "x", 1), HBR_EINVAL);
	assert_int_equal(hbr_vault_get(&b, v, key, 100), HBR_EINVAL);
	assert_null(b.ptr);
	assert_int_equal(hbr_vault_exists(v, key), HBR_EINVAL);
	assert_int_equal(hbr_vault_stat(&size, v, key), HBR_EINVAL);
	assert_int_equal(size, 5);
	assert_int_equal(hbr_vault_remove(v, key), HBR_EINVAL);
	assert_int_equal(hbr_vault_key_check(key), HBR_EINVAL);
}

static int count_one(const char *key, uint64_t size, void *payload)
{
	(void)key;
	(void)size;
	(*(int *)payload)++;
	return 0;
}

static void test_bad_keys_rejected(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
		"", /* empty */
		"a b",      "a\\b", "a:b",    "a\n",
		"\xc3\xa4", "a*",   "~tmp.0", /* chars */
		"/abs",     "/", /* leading '/' */
		"a//b",     "a/",   "a/b/", /* empty component */
		"..",       "../a", "a/..",   "a/../b", /* escapes */
		".",        "./a",  "a/.",    "a/./b", /* aliases */
	};
	static const char *const bad_prefix[] = {
		"/x", "a//", "../x", "a/../", "./", "x y", "a\\",
	};
	char longkey[HBR_VAULT_KEY_MAX + 2];
	int n = 0;

	for (size_t i = 0; i < HBR_ARRAY_SIZE(bad); i++)
		assert_bad_key(f->v, bad[i]);
	/* 255 bytes is a key; 256 is not. */
	memset(longkey, 'x', sizeof(longkey));
	memcpy(longkey, "k/", 2);
	longkey[HBR_VAULT_KEY_MAX + 1] = '\0';
	assert_bad_key(f->v, longkey);
	longkey[HBR_VAULT_KEY_MAX] = '\0';
	put_str(f->v, longkey, "long");
	assert_object(f->v, longkey, "long");
	/* Dots inside names are fine; only whole "." and ".." are not. */
	put_str(f->v, "..a/.b/c..", "dots");
	assert_object(f->v, "..a/.b/c..", "dots");
	put_str(f->v, "A-Z_a-z.0-9", "set");
	assert_object(f->v, "A-Z_a-z.0-9", "set");

	for (size_t i = 0; i < HBR_ARRAY_SIZE(bad_prefix); i++)
		assert_int_equal(
		        hbr_vault_list(f->v, bad_prefix[i], count_one, &n),
		        HBR_EINVAL);
	assert_int_equal(n, 0);
	/* A prefix ends in a partial name, which may be "." or "..". */
	assert_list(f->v, "..a/.", "..a/.b/c..=4");
	assert_list(f->v, "..", "..a/.b/c..=4");
	longkey[HBR_VAULT_KEY_MAX] = 'x';
	assert_int_equal(hbr_vault_list(f->v, longkey, count_one, &n),
	                 HBR_EINVAL);
}

static void test_get_missing(void **state)
{
	struct fx *f = *state;
	struct hbr_buf b = HBR_BUF_INIT;

	assert_int_equal(hbr_vault_get(&b, f->v, "missing", 100),
	                 HBR_ENOTFOUND);
	assert_int_equal(hbr_vault_get(&b, f->v, "no/dir/x", 100),
	                 HBR_ENOTFOUND);
	put_str(f->v, "file", "x");
	assert_int_equal(hbr_vault_get(&b, f->v, "file/under", 100),
	                 HBR_ENOTFOUND);
	assert_null(b.ptr);
}

static void test_size_cap(void **state)
{
	struct fx *f = *state;
	struct hbr_buf b = HBR_BUF_INIT;

	put_str(f->v, "ten", "0123456789");
	assert_int_equal(hbr_vault_get(&b, f->v, "ten", 9), HBR_ETOOBIG);
	assert_null(b.ptr); /* untouched */
	assert_int_equal(hbr_vault_get(&b, f->v, "ten", 10), 0);
	assert_string_equal(b.ptr, "0123456789");
	hbr_buf_release(&b);
	assert_int_equal(hbr_vault_get(&b, f->v, "ten", 11), 0);
	assert_int_equal(b.len, 10);
	hbr_buf_release(&b);
}

static void test_nested_keys_conflict(void **state)
{
	struct fx *f = *state;

	put_str(f->v, "a/b", "leaf");
	assert_int_equal(hbr_vault_put(f->v, "a", "x", 1), HBR_ECONFLICT);
	assert_int_equal(hbr_vault_put(f->v, "a/b/c", "x", 1), HBR_ECONFLICT);
	assert_object(f->v, "a/b", "leaf");
	assert_list(f->v, "", "a/b=4");
}

/* ---- ranges: a chunk read out of a pack ---- */

static void test_get_range(void **state)
{
	struct fx *f = *state;
	unsigned char data[1000];
	struct hbr_buf b = HBR_BUF_INIT;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 13); /* NULs too */
	assert_int_equal(hbr_vault_put(f->v, "packs/ab/p", data, sizeof(data)),
	                 0);
	/* Appends: two ranges build one buffer, NUL-terminated. */
	assert_int_equal(hbr_vault_get_range(&b, f->v, "packs/ab/p", 10, 20),
	                 0);
	assert_int_equal(hbr_vault_get_range(&b, f->v, "packs/ab/p", 990, 10),
	                 0);
	assert_int_equal(b.len, 30);
	assert_memory_equal(b.ptr, data + 10, 20);
	assert_memory_equal(b.ptr + 20, data + 990, 10);
	assert_int_equal(b.ptr[30], '\0');
	/* The whole object, and an empty range at its very end. */
	hbr_buf_clear(&b);
	assert_int_equal(
	        hbr_vault_get_range(&b, f->v, "packs/ab/p", 0, sizeof(data)),
	        0);
	assert_memory_equal(b.ptr, data, sizeof(data));
	assert_int_equal(
	        hbr_vault_get_range(&b, f->v, "packs/ab/p", sizeof(data), 0),
	        0);
	assert_int_equal(b.len, sizeof(data));
	hbr_buf_release(&b);
}

static void test_get_range_errors(void **state)
{
	struct fx *f = *state;
	struct hbr_buf b = HBR_BUF_INIT;

	put_str(f->v, "ten", "0123456789");
	assert_int_equal(hbr_vault_get_range(&b, f->v, "ten", 2, 3), 0);
	assert_string_equal(b.ptr, "234");
	/* Past the end, or overlapping it: refused, out unchanged. */
	assert_int_equal(hbr_vault_get_range(&b, f->v, "ten", 8, 3),
	                 HBR_EINVAL);
	assert_int_equal(hbr_vault_get_range(&b, f->v, "ten", 11, 0),
	                 HBR_EINVAL);
	assert_int_equal(hbr_vault_get_range(&b, f->v, "ten", UINT64_MAX, 2),
	                 HBR_EINVAL);
	assert_string_equal(b.ptr, "234");
	assert_int_equal(b.len, 3);
	assert_int_equal(hbr_vault_get_range(&b, f->v, "missing", 0, 1),
	                 HBR_ENOTFOUND);
	assert_int_equal(hbr_vault_get_range(&b, f->v, "no/dir/x", 0, 1),
	                 HBR_ENOTFOUND);
	assert_int_equal(hbr_vault_get_range(&b, f->v, "../x", 0, 1),
	                 HBR_EINVAL);
	/* The caller's cap holds, before any read. */
	b.max = 5;
	assert_int_equal(hbr_vault_get_range(&b, f->v, "ten", 0, 3),
	                 HBR_ETOOBIG);
	assert_string_equal(b.ptr, "234");
	hbr_buf_release(&b);
}

/* ---- concurrency: several writers into shared directories ---- */

struct writer {
	struct hbr_vault *v;
	int id;
	int failures;
};

static void *write_many(void *arg)
{
	struct writer *w = arg;
	char key[64], val[64];

	for (int i = 0; i < 64; i++) {
		struct hbr_buf b;

		(void)snprintf(key, sizeof(key), "shared/%02x/t%d-%d", i % 8,
		               w->id, i);
		(void)snprintf(val, sizeof(val), "%d:%d", w->id, i);
		if (hbr_vault_put(w->v, key, val, strlen(val)) < 0 ||
		    hbr_vault_get(&b, w->v, key, 64) < 0) {
			w->failures++;
			continue;
		}
		if (strcmp(b.ptr, val) != 0)
			w->failures++;
		hbr_buf_release(&b);
	}
	return NULL;
}

static void test_concurrent_puts(void **state)
{
	struct fx *f = *state;
	struct writer w[4];
	pthread_t th[4];
	int n = 0;

	for (int i = 0; i < 4; i++) {
		w[i] = (struct writer){ f->v, i, 0 };
		assert_int_equal(
		        pthread_create(&th[i], NULL, write_many, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(hbr_vault_list(f->v, "shared/", count_one, &n), 0);
	assert_int_equal(n, 4 * 64);
}

/* ---- the front end ---- */

static void test_open_urls(void **state)
{
	struct fx *f = *state;
	struct hbr_vault *v = NULL;
	char url[PATH_MAX + 16];

	assert_int_equal(hbr_vault_open(&v, "s3://bucket/prefix"), HBR_EINVAL);
	assert_int_equal(hbr_vault_open(&v, "ftp://host/x"), HBR_EINVAL);
	assert_int_equal(hbr_vault_open(&v, ""), HBR_EINVAL);
	assert_int_equal(hbr_vault_open(&v, "file:"), HBR_EINVAL);
	assert_int_equal(hbr_vault_open(&v, "file://host/x"), HBR_EINVAL);
	assert_null(v);
	assert_int_equal(hbr_vault_open(&v, "mem:"), 0);
	assert_string_equal(hbr_vault_backend(v), "mem");
	hbr_vault_free(v);
	(void)snprintf(url, sizeof(url), "file:%s/u1", f->dir);
	assert_int_equal(hbr_vault_open(&v, url), 0);
	assert_string_equal(hbr_vault_backend(v), "local");
	put_str(v, "k", "via file:");
	hbr_vault_free(v);
	(void)snprintf(url, sizeof(url), "file://%s/u1", f->dir);
	assert_int_equal(hbr_vault_open(&v, url), 0);
	assert_object(v, "k", "via file:"); /* the same directory */
	hbr_vault_free(v);
	(void)snprintf(url, sizeof(url), "%s/u1", f->dir);
	assert_int_equal(hbr_vault_open(&v, url), 0);
	assert_object(v, "k", "via file:");
	hbr_vault_free(v);
	hbr_vault_free(NULL);
}

/* ---- local only ---- */
#ifdef HBR_TEST_VAULT_LOCAL

/* Room for a scratch path plus a relative name (keeps -Wformat-truncation
 * quiet without hiding real truncation: names here are short). */
#define PATH_BUF (PATH_MAX + 300)

/* fsync, wrapped at link time: the paths synced, in order. */
int __real_fsync(int fd);
int __wrap_fsync(int fd);

static bool trace_on;
static char trace[32][PATH_MAX];
static size_t ntrace;

int __wrap_fsync(int fd)
{
	if (trace_on && ntrace < HBR_ARRAY_SIZE(trace)) {
		char link[64];
		ssize_t n;

		(void)snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, trace[ntrace], PATH_MAX - 1);
		trace[ntrace][n < 0 ? 0 : n] = '\0';
		ntrace++;
	}
	return __real_fsync(fd);
}

static void trace_start(void)
{
	ntrace = 0;
	trace_on = true;
}

/* Stop tracing and check the synced paths: each want is a path under
 * base ("" for base itself); one ending in '*' matches by prefix. */
static void trace_expect(const char *base, ...)
{
	const char *want;
	size_t i = 0;
	va_list ap;

	trace_on = false;
	va_start(ap, base);
	while ((want = va_arg(ap, const char *))) {
		char path[PATH_BUF];
		size_t n;

		(void)snprintf(path, sizeof(path), "%s%s%s", base,
		               *want ? "/" : "", want);
		n = strlen(path);
		assert_true(i < ntrace);
		if (n && path[n - 1] == '*')
			assert_int_equal(strncmp(trace[i], path, n - 1), 0);
		else
			assert_string_equal(trace[i], path);
		i++;
	}
	va_end(ap);
	assert_int_equal(ntrace, i);
}

static const char *real_root(struct fx *f)
{
	static char path[PATH_MAX];

	assert_non_null(realpath(f->root, path));
	return path;
}

static int tmp_files;

static int count_tmp(const char *path, const struct stat *sb, int flag,
                     struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	if (path[ftw->base] == '~')
		tmp_files++;
	return 0;
}

static int count_tmp_files(const char *root)
{
	tmp_files = 0;
	assert_int_equal(nftw(root, count_tmp, 16, FTW_PHYS), 0);
	return tmp_files;
}

static void test_local_no_tmp_left(void **state)
{
	struct fx *f = *state;

	put_str(f->v, "packs/ab/one.pack", "1");
	put_str(f->v, "packs/ab/one.pack", "1 again");
	put_str(f->v, "top", "t");
	/* A failed rename must clean up after itself too. */
	assert_int_equal(hbr_vault_put(f->v, "packs", "x", 1), HBR_ECONFLICT);
	assert_int_equal(count_tmp_files(f->root), 0);
}

static void plant(const char *root, const char *rel, const char *text)
{
	char path[PATH_BUF];
	int fd;

	(void)snprintf(path, sizeof(path), "%s/%s", root, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

static void age(const char *root, const char *rel, time_t seconds)
{
	char path[PATH_BUF];
	struct timespec ts[2];

	(void)snprintf(path, sizeof(path), "%s/%s", root, rel);
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - seconds;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* A crash between write and rename leaves a temporary file behind. */
static void test_local_stale_tmp(void **state)
{
	struct fx *f = *state;
	size_t removed = 99;

	put_str(f->v, "packs/ab/x.pack", "real");
	plant(f->root, "packs/ab/~tmp.0123456789abcdef", "torn");
	plant(f->root, "~tmp.fedcba9876543210", "torn too");
	assert_list(f->v, "", "packs/ab/x.pack=4");
	assert_list(f->v, "packs/ab/", "packs/ab/x.pack=4");
	assert_object(f->v, "packs/ab/x.pack", "real");
	/* Young temporaries may belong to a put in flight. */
	assert_int_equal(hbr_vault_sweep(&removed, f->v, 3600), 0);
	assert_int_equal(removed, 0);
	age(f->root, "packs/ab/~tmp.0123456789abcdef", 7200);
	assert_int_equal(hbr_vault_sweep(&removed, f->v, 3600), 0);
	assert_int_equal(removed, 1);
	assert_int_equal(count_tmp_files(f->root), 1);
	assert_int_equal(hbr_vault_sweep(&removed, f->v, 0), 0);
	assert_int_equal(removed, 1);
	assert_int_equal(count_tmp_files(f->root), 0);
	assert_object(f->v, "packs/ab/x.pack", "real");
	assert_int_equal(hbr_vault_sweep(NULL, f->v, 0), 0);
}

static mode_t mode_of(const char *root, const char *rel)
{
	char path[PATH_BUF];
	struct stat st;

	(void)snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void test_local_modes(void **state)
{
	struct fx *f = *state;
	mode_t old = umask(0); /* the loosest umask must not leak */

	put_str(f->v, "m/a/one", "1");
	(void)umask(077);
	put_str(f->v, "m/b/two", "2");
	(void)umask(old);
	assert_int_equal(mode_of(f->root, "m/a/one"), 0600);
	assert_int_equal(mode_of(f->root, "m/b/two"), 0600);
	assert_int_equal(mode_of(f->root, "m/b"), 0700);
	assert_int_equal(mode_of(f->root, ""), 0700);
}

/*
 * The durability protocol, observed: each directory a put creates is
 * fsynced into its parent before the object's own file is synced,
 * renamed, and its directory synced.
 */
static void test_local_durable_dirs(void **state)
{
	struct fx *f = *state;
	struct hbr_vault *again = NULL;
	char root[PATH_MAX];

	(void)snprintf(root, sizeof(root), "%s", real_root(f));
	trace_start();
	put_str(f->v, "a/b/c.pack", "c");
	trace_expect(root, "", "a", "a/b/~tmp.*", "a/b", NULL);
	/* Known-durable directories are not synced again... */
	trace_start();
	put_str(f->v, "a/b/d.pack", "d");
	trace_expect(root, "a/b/~tmp.*", "a/b", NULL);
	/* ...and a remove is durable in its directory. */
	trace_start();
	assert_int_equal(hbr_vault_remove(f->v, "a/b/c.pack"), 0);
	trace_expect(root, "a/b", NULL);
	/* A new handle cannot know who made a/b, or whether its entry was
	 * synced: it syncs the parents of existing directories too. */
	assert_int_equal(hbr_vault_open(&again, f->root), 0);
	trace_start();
	put_str(again, "a/b/e.pack", "e");
	trace_expect(root, "", "a", "a/b/~tmp.*", "a/b", NULL);
	hbr_vault_free(again);
	/* Deep keys work the same way. */
	trace_start();
	put_str(f->v, "a/x/y/z", "deep");
	trace_expect(root, "a", "a/x", "a/x/y/~tmp.*", "a/x/y", NULL);
	assert_int_equal(mode_of(f->root, "a/x/y"), 0700);
}

/* Opening creates missing root directories, each synced into its
 * parent, so a vault cannot vanish in a crash after open. */
static void test_local_open_creates_root(void **state)
{
	struct fx *f = *state;
	struct hbr_vault *v = NULL;
	char root[PATH_BUF], dir[PATH_MAX];

	assert_non_null(realpath(f->dir, dir));
	(void)snprintf(root, sizeof(root), "%s/new/vault", dir);
	trace_start();
	assert_int_equal(hbr_vault_open(&v, root), 0);
	trace_expect(dir, "", "new", NULL);
	assert_int_equal(mode_of(dir, "new/vault"), 0700);
	hbr_vault_free(v);
	/* A path through a file is no vault. */
	plant(dir, "plain", "x");
	(void)snprintf(root, sizeof(root), "%s/plain/vault", dir);
	assert_int_equal(hbr_vault_open(&v, root), HBR_EIO);
}

static void test_local_reopen_keeps_objects(void **state)
{
	struct fx *f = *state;

	put_str(f->v, "packs/ab/keep.pack", "kept");
	hbr_vault_free(f->v);
	f->v = NULL;
	assert_int_equal(hbr_vault_open(&f->v, f->root), 0);
	assert_object(f->v, "packs/ab/keep.pack", "kept");
	assert_list(f->v, "", "packs/ab/keep.pack=4");
}

/* Foreign entries (other names, symlinks) are not objects. */
static void test_local_foreign_entries(void **state)
{
	struct fx *f = *state;
	char path[PATH_BUF];
	struct hbr_buf b = HBR_BUF_INIT;

	put_str(f->v, "d/real", "r");
	plant(f->root, "d/has space", "foreign");
	(void)snprintf(path, sizeof(path), "%s/d/link", f->root);
	assert_int_equal(symlink("real", path), 0);
	assert_list(f->v, "", "d/real=1");
	assert_int_equal(hbr_vault_get(&b, f->v, "d/link", 100), HBR_ENOTFOUND);
	assert_int_equal(hbr_vault_exists(f->v, "d/link"), 0);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_roundtrip_binary),
		T(test_roundtrip_empty),
		T(test_roundtrip_8mib),
		T(test_overwrite_replaces_whole),
		T(test_exists_and_stat),
		T(test_remove_idempotent),
		T(test_remove_many),
		T(test_list_by_prefix),
		T(test_list_empty_vault),
		T(test_list_callback_stops),
		T(test_list_may_remove_current),
		T(test_bad_keys_rejected),
		T(test_get_missing),
		T(test_size_cap),
		T(test_nested_keys_conflict),
		T(test_get_range),
		T(test_get_range_errors),
		T(test_concurrent_puts),
		T(test_open_urls),
#ifdef HBR_TEST_VAULT_LOCAL
		T(test_local_no_tmp_left),
		T(test_local_stale_tmp),
		T(test_local_modes),
		T(test_local_durable_dirs),
		T(test_local_open_creates_root),
		T(test_local_reopen_keeps_objects),
		T(test_local_foreign_entries),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
