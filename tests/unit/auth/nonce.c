/* Nonce cache tests: replay refusal, restart, expiry, concurrency. */
#include "common.h"
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "auth/nonce.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/timeutil.h"

#define WINDOW 900

static int make_dir(void **state)
{
	const char *base = getenv("HBR_TEST_TMP");
	char *tmpl;

	if (!base || !*base)
		base = "/tmp";
	(void)mkdir(base, 0700);
	tmpl = hbr_malloc(strlen(base) + 32);
	sprintf(tmpl, "%s/auth_nonce.XXXXXX", base);
	assert_non_null(mkdtemp(tmpl));
	*state = tmpl;
	return 0;
}

static int remove_dir(void **state)
{
	char *dir = *state;
	char path[4096];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
	hbr_free(dir);
	return 0;
}

static size_t count_journals(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += !strncmp(de->d_name, "nonce-", 6);
	closedir(d);
	return n;
}

static void test_basic(void **state)
{
	struct hbr_nonce_cache *c;
	int64_t now = hbr_time_now();

	assert_int_equal(hbr_nonce_open(&c, *state, WINDOW), 0);
	assert_int_equal(hbr_nonce_check(c, "ak1", "n1", now, now), 0);
	assert_int_equal(hbr_nonce_check(c, "ak1", "n1", now, now),
	                 HBR_ENONCEUSED);
	/* the timestamp is not part of the key */
	assert_int_equal(hbr_nonce_check(c, "ak1", "n1", now - 5, now),
	                 HBR_ENONCEUSED);
	assert_int_equal(hbr_nonce_check(c, "ak2", "n1", now, now), 0);
	assert_int_equal(hbr_nonce_check(c, "ak1", "n2", now, now), 0);
	/* no confusion between where the key ends and the nonce starts */
	assert_int_equal(hbr_nonce_check(c, "ak1n", "1", now, now), 0);
	/* bytes that need escaping in the journal */
	assert_int_equal(hbr_nonce_check(c, "ak 1", "n\n1%", now, now), 0);
	assert_int_equal(hbr_nonce_check(c, "", "n", now, now), HBR_EINVAL);
	hbr_nonce_close(c);
	hbr_nonce_close(NULL);
}

static void test_restart(void **state)
{
	struct hbr_nonce_cache *c;
	int64_t now = hbr_time_now();

	assert_int_equal(hbr_nonce_open(&c, *state, WINDOW), 0);
	assert_int_equal(hbr_nonce_check(c, "ak1", "n1", now, now), 0);
	assert_int_equal(hbr_nonce_check(c, "ak 1", "n\n1%", now, now), 0);
	/* a second process must not share the journals */
	struct hbr_nonce_cache *c2;
	assert_int_equal(hbr_nonce_open(&c2, *state, WINDOW), HBR_EIO);
	hbr_nonce_close(c);

	assert_int_equal(hbr_nonce_open(&c, *state, WINDOW), 0);
	assert_int_equal(hbr_nonce_check(c, "ak1", "n1", now, now + 1),
	                 HBR_ENONCEUSED);
	assert_int_equal(hbr_nonce_check(c, "ak 1", "n\n1%", now, now + 1),
	                 HBR_ENONCEUSED);
	assert_int_equal(hbr_nonce_check(c, "ak1", "n2", now, now + 1), 0);
	hbr_nonce_close(c);

	/* a torn last line (power cut) is dropped, the rest survives */
	struct dirent *de;
	DIR *d = opendir(*state);
	char path[4096];
	FILE *f;

	while ((de = readdir(d)) != NULL)
		if (!strncmp(de->d_name, "nonce-", 6))
			snprintf(path, sizeof(path), "%s/%s", (char *)*state,
			         de->d_name);
	closedir(d);
	f = fopen(path, "a");
	assert_non_null(f);
	fputs("123 torn", f);
	fclose(f);
	assert_int_equal(hbr_nonce_open(&c, *state, WINDOW), 0);
	assert_int_equal(hbr_nonce_check(c, "ak1", "n2", now, now),
	                 HBR_ENONCEUSED);
	assert_int_equal(hbr_nonce_check(c, "ak1", "n3", now, now), 0);
	hbr_nonce_close(c);
	assert_int_equal(hbr_nonce_open(&c, *state, WINDOW), 0);
	assert_int_equal(hbr_nonce_check(c, "ak1", "n3", now, now),
	                 HBR_ENONCEUSED);
	hbr_nonce_close(c);
}

/*
 * kill -9 while a journal is mapped leaves its zero tail (and perhaps a
 * line without its newline) in the file. A copy of the directory taken
 * while the cache is open is exactly that state: every nonce recorded so
 * far must be refused after "restart", and new ones must land after the
 * old lines, not after the zeros.
 */
static void test_crash_leaves_zero_tail(void **state)
{
	struct hbr_nonce_cache *c;
	int64_t now = hbr_time_now();
	char copy[4096], cmd[8400];
	struct dirent *de;
	DIR *d;
	size_t journals = 0;

	assert_int_equal(hbr_nonce_open(&c, *state, WINDOW), 0);
	assert_int_equal(hbr_nonce_check(c, "ak", "before-1", now, now), 0);
	assert_int_equal(hbr_nonce_check(c, "ak", "before-2", now, now), 0);
	snprintf(copy, sizeof(copy), "%s/crashed", (char *)*state);
	assert_int_equal(mkdir(copy, 0700), 0);
	d = opendir(*state);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "nonce-", 6))
			continue;
		snprintf(cmd, sizeof(cmd), "cp '%s/%s' '%s/'", (char *)*state,
		         de->d_name, copy);
		assert_int_equal(system(cmd), 0);
		journals++;
	}
	closedir(d);
	assert_true(journals > 0);
	hbr_nonce_close(c);

	for (int round = 0; round < 2; round++) {
		assert_int_equal(hbr_nonce_open(&c, copy, WINDOW), 0);
		assert_int_equal(hbr_nonce_check(c, "ak", "before-1", now, now),
		                 HBR_ENONCEUSED);
		assert_int_equal(hbr_nonce_check(c, "ak", "before-2", now, now),
		                 HBR_ENONCEUSED);
		/* The first round records "after"; the second must see it. */
		assert_int_equal(hbr_nonce_check(c, "ak", "after", now, now),
		                 round == 0 ? 0 : HBR_ENONCEUSED);
		hbr_nonce_close(c);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", copy);
	assert_int_equal(system(cmd), 0);
}

static void test_expiry(void **state)
{
	struct hbr_nonce_cache *c;
	int64_t now = hbr_time_now(), old = now - 10 * WINDOW;

	assert_int_equal(hbr_nonce_open(&c, *state, WINDOW), 0);
	/* accepted while its window is open (as far as `now` says) ... */
	assert_int_equal(hbr_nonce_check(c, "ak1", "old", old, old), 0);
	assert_int_equal(hbr_nonce_check(c, "ak1", "old", old, old + 1),
	                 HBR_ENONCEUSED);
	/* ... and forgotten once it has closed */
	assert_int_equal(
	        hbr_nonce_check(c, "ak1", "old", old, old + WINDOW + 1), 0);
	assert_int_equal(hbr_nonce_check(c, "ak1", "old2", old, old), 0);
	assert_int_equal(hbr_nonce_check(c, "ak1", "fresh", now, now), 0);
	hbr_nonce_close(c);
	assert_int_equal(count_journals(*state), 2);

	/* after a restart at real time the old journal is gone */
	assert_int_equal(hbr_nonce_open(&c, *state, WINDOW), 0);
	assert_int_equal(count_journals(*state), 1);
	assert_int_equal(hbr_nonce_check(c, "ak1", "old2", old, old), 0);
	assert_int_equal(hbr_nonce_check(c, "ak1", "fresh", now, now),
	                 HBR_ENONCEUSED);
	/* moving into a later period deletes the journals that ran out */
	assert_int_equal(hbr_nonce_check(c, "ak1", "late", now + 3 * WINDOW,
	                                 now + 3 * WINDOW),
	                 0);
	assert_int_equal(count_journals(*state), 1);
	hbr_nonce_close(c);
}

struct worker {
	struct hbr_nonce_cache *c;
	int id;
	int64_t now;
	int accepted_own;
	int accepted_shared;
	int errors;
};

#define PER_THREAD 2000

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char nonce[64];

	for (int i = 0; i < PER_THREAD; i++) {
		int r;

		snprintf(nonce, sizeof(nonce), "t%d-%d", w->id, i);
		r = hbr_nonce_check(w->c, "ak", nonce, w->now, w->now);
		w->accepted_own += r == 0;
		w->errors += r != 0;
		snprintf(nonce, sizeof(nonce), "shared-%d", i % 100);
		r = hbr_nonce_check(w->c, "ak", nonce, w->now, w->now);
		if (r == 0)
			w->accepted_shared++;
		else if (r != HBR_ENONCEUSED)
			w->errors++;
	}
	return NULL;
}

static void test_concurrency(void **state)
{
	struct hbr_nonce_cache *c;
	struct worker w[4];
	pthread_t t[4];
	int shared = 0;

	assert_int_equal(hbr_nonce_open(&c, *state, WINDOW), 0);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ .c = c,
			                .id = i,
			                .now = hbr_time_now() };
		assert_int_equal(
		        pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].accepted_own, PER_THREAD);
		assert_int_equal(w[i].errors, 0);
		shared += w[i].accepted_shared;
	}
	/* each of the 100 shared nonces was accepted exactly once */
	assert_int_equal(shared, 100);
	/* let the syncer run at least once */
	usleep(300 * 1000);
	hbr_nonce_close(c);

	assert_int_equal(hbr_nonce_open(&c, *state, WINDOW), 0);
	assert_int_equal(
	        hbr_nonce_check(c, "ak", "t3-1999", w[3].now, w[3].now),
	        HBR_ENONCEUSED);
	assert_int_equal(
	        hbr_nonce_check(c, "ak", "shared-99", w[0].now, w[0].now),
	        HBR_ENONCEUSED);
	hbr_nonce_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_basic, make_dir,
		                                remove_dir),
		cmocka_unit_test_setup_teardown(test_restart, make_dir,
		                                remove_dir),
		cmocka_unit_test_setup_teardown(test_crash_leaves_zero_tail,
		                                make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_expiry, make_dir,
		                                remove_dir),
		cmocka_unit_test_setup_teardown(test_concurrency, make_dir,
		                                remove_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
