/*
 * agent/agent_state.h: the stable instance id and credentials.json.
 */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include "agent/agent_state.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "unit/util/tmpdir.h"

static int setup(void **state)
{
	*state = test_tmpdir("agent_state");
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	test_rmtree(*state);
	return 0;
}

static void path_in(char *out, size_t size, const char *dir, const char *name)
{
	assert_true((size_t)snprintf(out, size, "%s/%s", dir, name) < size);
}

static void assert_id_shape(const char *id)
{
	assert_int_equal(strlen(id), 24);
	assert_memory_equal(id, "hbr-", 4);
	for (size_t i = 4; i < 24; i++)
		assert_non_null(strchr("0123456789abcdef", id[i]));
}

static void test_instance_id_from_machine_id(void **state)
{
	const char *dir = *state;
	char mid[4096], other[4096], sd[4096], a[HBR_AGENT_ID_MAX],
	        b[HBR_AGENT_ID_MAX], c[HBR_AGENT_ID_MAX];
	struct stat sb;

	path_in(mid, sizeof(mid), dir, "machine-id");
	path_in(other, sizeof(other), dir, "other-id");
	path_in(sd, sizeof(sd), dir, "state");
	assert_int_equal(hbr_fs_write_atomic(mid, "0123abcd\n", 9, 0644), 0);
	assert_int_equal(hbr_fs_write_atomic(other, "0123abce\n", 9, 0644), 0);
	assert_int_equal(hbr_agent_instance_id(a, sd, mid), 0);
	assert_int_equal(hbr_agent_instance_id(b, sd, mid), 0);
	assert_int_equal(hbr_agent_instance_id(c, sd, other), 0);
	assert_id_shape(a);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	/* derived ids leave nothing in the state directory */
	assert_int_not_equal(stat(sd, &sb), 0);
}

static void test_instance_id_generated_once(void **state)
{
	const char *dir = *state;
	char mid[4096], empty[4096], sd[4096], a[HBR_AGENT_ID_MAX],
	        b[HBR_AGENT_ID_MAX], c[HBR_AGENT_ID_MAX];

	path_in(mid, sizeof(mid), dir, "no-such-file");
	path_in(empty, sizeof(empty), dir, "empty");
	path_in(sd, sizeof(sd), dir, "state");
	assert_int_equal(hbr_fs_write_atomic(empty, "\n", 1, 0644), 0);
	assert_int_equal(hbr_agent_instance_id(a, sd, mid), 0);
	assert_id_shape(a);
	assert_int_equal(hbr_agent_instance_id(b, sd, empty), 0);
	assert_int_equal(hbr_agent_instance_id(c, sd, NULL), 0);
	assert_string_equal(a, b);
	assert_string_equal(a, c);
}

static void test_credentials_round_trip(void **state)
{
	const char *dir = *state;
	struct hbr_agent_state st = { 0 }, got;
	char sd[4096], file[4096];
	struct stat sb;

	path_in(sd, sizeof(sd), dir, "state/nested");
	path_in(file, sizeof(file), sd, "credentials.json");
	assert_int_equal(hbr_agent_state_load(&got, sd), HBR_ENOTFOUND);
	strcpy(st.key.endpoint, "http://127.0.0.1:8080");
	strcpy(st.key.access_key_id, "LTAIabc");
	strcpy(st.key.secret, "s3cret");
	strcpy(st.client_id, "c-0123456789abcdefghij");
	strcpy(st.instance_id, "i-a");
	assert_int_equal(hbr_agent_state_save(sd, &st), 0);
	assert_int_equal(stat(file, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(hbr_agent_state_load(&got, sd), 0);
	assert_string_equal(got.key.endpoint, st.key.endpoint);
	assert_string_equal(got.key.access_key_id, st.key.access_key_id);
	assert_string_equal(got.key.secret, st.key.secret);
	assert_string_equal(got.client_id, st.client_id);
	assert_string_equal(got.instance_id, st.instance_id);

	assert_int_equal(
	        hbr_fs_write_atomic(file, "{\"Endpoint\":\"x\"}", 16, 0600), 0);
	assert_int_equal(hbr_agent_state_load(&got, sd), HBR_EINVAL);
	assert_int_equal(hbr_fs_write_atomic(file, "nope", 4, 0600), 0);
	assert_int_equal(hbr_agent_state_load(&got, sd), HBR_EINVAL);
}

/* Not hbr_fs_write_atomic: it removes a stale "<name>.tmp" itself. */
static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	close(fd);
}

static bool held(const char *id, void *payload)
{
	return !strcmp(id, payload);
}

/* What interrupted jobs left goes, but for the job still held; cached
 * trees, indexes, fingerprints and everything outside trees/ stay. */
static void test_sweep_leftovers(void **state)
{
	static const char *const gone[] = {
		"job-cancelled.part", "job-cancelled.idx.part",
		"r-restore1.restore", "s-1.tree.0a1b2c3d.tmp",
		"s-1.fp.tmp",         "r-restore1.restore.9f8e7d6c.tmp",
		"job-other.idx.part",
	};
	static const char *const kept[] = {
		"job-held.part", "job-held.idx.part", "s-1.tree", "s-1.idx",
		"s-1.fp",        "s-1.partial",
	};
	const char *dir = *state;
	char trees[4096], file[4096], job[] = "job-held";

	/* Nothing to sweep yet: no trees/ at all. */
	assert_int_equal(hbr_agent_state_sweep(dir, held, job), 0);
	path_in(trees, sizeof(trees), dir, "trees");
	assert_int_equal(hbr_fs_mkdirs(trees, 0700), 0);
	for (size_t i = 0; i < HBR_ARRAY_SIZE(gone); i++) {
		path_in(file, sizeof(file), trees, gone[i]);
		touch(file);
	}
	for (size_t i = 0; i < HBR_ARRAY_SIZE(kept); i++) {
		path_in(file, sizeof(file), trees, kept[i]);
		touch(file);
	}
	path_in(file, sizeof(file), dir, "credentials.json.tmp");
	touch(file);

	assert_int_equal(hbr_agent_state_sweep(dir, held, job),
	                 HBR_ARRAY_SIZE(gone));
	for (size_t i = 0; i < HBR_ARRAY_SIZE(gone); i++) {
		path_in(file, sizeof(file), trees, gone[i]);
		assert_int_equal(access(file, F_OK), -1);
	}
	for (size_t i = 0; i < HBR_ARRAY_SIZE(kept); i++) {
		path_in(file, sizeof(file), trees, kept[i]);
		assert_int_equal(access(file, F_OK), 0);
	}
	path_in(file, sizeof(file), dir, "credentials.json.tmp");
	assert_int_equal(access(file, F_OK), 0);
	/* With no job held, the held one's go too. */
	assert_int_equal(hbr_agent_state_sweep(dir, NULL, NULL), 2);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_instance_id_from_machine_id),
		T(test_instance_id_generated_once),
		T(test_credentials_round_trip),
		T(test_sweep_leftovers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
