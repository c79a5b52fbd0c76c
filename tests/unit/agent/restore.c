/*
 * agent/agent_restore.h: restore a generated tree from a tree file and an
 * in-memory chunk source, and compare it with the original: content,
 * holes, links, FIFOs, modes, times, xattrs; filters; a tree that tries
 * to climb out of the target; a chunk that does not match its id.
 */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "agent/agent_restore.h"
#include "agent/agent_walk.h"
#include "core/pack.h"
#include "unit/agent/fixture.h"
#include "unit/util/tmpdir.h"
#include "util/error.h"
#include "util/fsutil.h"

/* The chunks of the backed-up tree, by id. */
struct store {
	uint8_t (*ids)[HBR_CHUNK_ID_LEN];
	uint8_t **data;
	uint32_t *len;
	size_t n, cap;
	int fetches;
	bool corrupt; /* hand out a wrong byte */
};

struct ctx {
	char *dir;
	char src[1024], tree[1024];
	bool xattrs;
	struct store st;
	struct hbr_agent_key key;
};

static void store_add(struct store *s, const uint8_t *id, const void *data,
                      size_t len)
{
	for (size_t i = 0; i < s->n; i++)
		if (!memcmp(s->ids[i], id, HBR_CHUNK_ID_LEN))
			return;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->ids = hbr_realloc(s->ids, s->cap * HBR_CHUNK_ID_LEN);
		s->data = hbr_realloc(s->data, s->cap * sizeof(*s->data));
		s->len = hbr_realloc(s->len, s->cap * sizeof(*s->len));
	}
	memcpy(s->ids[s->n], id, HBR_CHUNK_ID_LEN);
	s->data[s->n] = hbr_malloc(len ? len : 1);
	memcpy(s->data[s->n], data, len);
	s->len[s->n++] = (uint32_t)len;
}

static int store_fetch(struct hbr_buf *out, const uint8_t (*ids)[32], size_t n,
                       void *payload)
{
	struct store *s = payload;
	struct hbr_pack_writer w;
	int error = 0;

	s->fetches++;
	assert_true(n >= 1 && n <= 1024);
	assert_int_equal(hbr_pack_writer_init(&w), 0);
	for (size_t i = 0; i < n && !error; i++) {
		size_t j;

		for (j = 0; j < s->n; j++)
			if (!memcmp(s->ids[j], ids[i], HBR_CHUNK_ID_LEN))
				break;
		assert_true(j < s->n);
		if (s->corrupt && s->len[j] > 100) {
			uint8_t *bad = hbr_malloc(s->len[j]);

			memcpy(bad, s->data[j], s->len[j]);
			bad[50] ^= 1;
			error = hbr_pack_writer_add(&w, ids[i], bad, s->len[j],
			                            -1);
			hbr_free(bad);
			continue;
		}
		/* Mixed: some compressed, some raw, as real packs are. */
		error = hbr_pack_writer_add(&w, ids[i], s->data[j], s->len[j],
		                            j % 2 ? 1 : -1);
	}
	if (!error)
		error = hbr_pack_writer_finish(out, NULL, &w);
	hbr_pack_writer_free(&w);
	return error;
}

/* Chunk data[0..len) as the agent does and record the chunks. */
static void chunk_into(struct ctx *c, struct hbr_agent_entry *e,
                       const uint8_t *data, size_t len)
{
	struct hbr_chunker ch;
	struct hbr_chunker_params cp;
	size_t start = 0, pos = 0;

	hbr_chunker_params_default(&cp);
	assert_int_equal(hbr_chunker_init(&ch, &cp), 0);
	while (pos < len) {
		size_t k = hbr_chunker_next(&ch, data + pos, len - pos, true);
		uint8_t id[HBR_CHUNK_ID_LEN];

		assert_true(k > 0);
		pos += k;
		assert_int_equal(hbr_chunk_id(id, data + start, pos - start),
		                 0);
		store_add(&c->st, id, data + start, pos - start);
		hbr_agent_entry_add_chunk(e, id, (uint32_t)(pos - start));
		start = pos;
	}
}

/* A file's chunks (its data extents when it has holes). */
static void back_up_file(struct ctx *c, struct hbr_agent_entry *e)
{
	char *data;
	size_t len;
	struct hbr_buf cat = HBR_BUF_INIT;
	int fd = open(e->path.ptr, O_RDONLY);
	off_t pos = 0, size = (off_t)e->size;

	assert_true(fd >= 0);
	while (pos < size) {
		off_t d = lseek(fd, pos, SEEK_DATA), h;

		if (d < 0)
			break;
		h = lseek(fd, d, SEEK_HOLE);
		hbr_agent_entry_add_extent(e, (uint64_t)d, (uint64_t)(h - d));
		pos = h;
	}
	close(fd);
	assert_int_equal(hbr_fs_read(&data, &len, e->path.ptr, 64u << 20), 0);
	e->sparse = !(e->n_ext == 1 && e->ext[0].off == 0 &&
	              e->ext[0].len == e->size) &&
	            e->size > 0;
	if (!e->sparse) {
		e->n_ext = 0;
		chunk_into(c, e, (const uint8_t *)data, len);
	} else {
		for (size_t i = 0; i < e->n_ext; i++)
			(void)hbr_buf_put(&cat, data + e->ext[i].off,
			                  e->ext[i].len);
		chunk_into(c, e, (const uint8_t *)cat.ptr, cat.len);
	}
	hbr_free(data);
	hbr_buf_release(&cat);
}

/* Walk the fixture and write its tree file, as a backup would. */
static void back_up(struct ctx *c)
{
	struct hbr_agent_filter f = { 0 };
	struct hbr_agent_walker *w;
	struct hbr_agent_walk_item it;
	struct hbr_buf tree = HBR_BUF_INIT;
	char *roots[] = { c->src }, first[8192] = "";
	uint64_t hard_ino = 0;

	assert_int_equal(hbr_agent_tree_header(&tree, roots, 1, "test", 1), 0);
	hbr_agent_walk_item_init(&it);
	hbr_agent_walker_new(&w, roots, 1, &f, HBR_AGENT_WALK_XATTRS);
	while (hbr_agent_walker_next(w, &it) > 0) {
		assert_false(it.error);
		if (it.e.type == 'f' && it.st.st_nlink > 1) {
			if (hard_ino == it.st.st_ino) {
				it.e.type = 'h';
				hbr_buf_clear(&it.e.link);
				(void)hbr_buf_puts(&it.e.link, first);
			} else {
				hard_ino = it.st.st_ino;
				(void)snprintf(first, sizeof(first), "%s",
				               it.e.path.ptr);
			}
		}
		if (it.e.type == 'f')
			back_up_file(c, &it.e);
		assert_int_equal(hbr_agent_entry_encode(&tree, &it.e), 0);
	}
	hbr_agent_walker_free(w);
	hbr_agent_walk_item_release(&it);
	assert_int_equal(hbr_fs_write_atomic(c->tree, tree.ptr, tree.len, 0600),
	                 0);
	hbr_buf_release(&tree);
}

static int setup(void **state)
{
	struct ctx *c = hbr_calloc(1, sizeof(*c));

	c->dir = test_tmpdir("agent_restore");
	if (!c->dir)
		return -1;
	(void)snprintf(c->src, sizeof(c->src), "%s/src", c->dir);
	(void)snprintf(c->tree, sizeof(c->tree), "%s/tree", c->dir);
	if (fix_make(c->src, &c->xattrs) < 0)
		return -1;
	back_up(c);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	for (size_t i = 0; i < c->st.n; i++)
		hbr_free(c->st.data[i]);
	hbr_free(c->st.ids);
	hbr_free(c->st.data);
	hbr_free(c->st.len);
	test_rmtree(c->dir);
	hbr_free(c);
	return 0;
}

static int run(struct ctx *c, struct hbr_agent_job *job, const char *target,
               const char *include, const char *exclude)
{
	struct hbr_agent_chunk_source src = { store_fetch, &c->st };

	hbr_agent_job_init(job, "r-test", "RESTORE", &c->key, c->dir, "test");
	return hbr_agent_restore_tree(job, c->tree, target, include, exclude,
	                              &src);
}

static void same_file(const char *a, const char *b)
{
	char *x, *y;
	size_t xl, yl;

	assert_int_equal(hbr_fs_read(&x, &xl, a, 64u << 20), 0);
	assert_int_equal(hbr_fs_read(&y, &yl, b, 64u << 20), 0);
	assert_int_equal(xl, yl);
	assert_memory_equal(x, y, xl);
	hbr_free(x);
	hbr_free(y);
}

static void test_restore_is_exact(void **state)
{
	struct ctx *c = *state;
	struct hbr_agent_job job;
	char target[2048], ino_of_x[8192] = "";
	struct stat hard_st = { 0 };

	(void)snprintf(target, sizeof(target), "%s/out", c->dir);
	assert_int_equal(run(c, &job, target, NULL, NULL), 0);
	assert_int_equal(job.n_errors, 0);
	/* The fixture's entries, and three the walk test excludes. */
	assert_int_equal(atomic_load(&job.items_done),
	                 HBR_ARRAY_SIZE(fix_entries) + 3);
	assert_true(c->st.fetches >= 1);
	for (size_t i = 0; i < HBR_ARRAY_SIZE(fix_entries); i++) {
		char a[2048], b[8192];
		struct stat sa, sb;

		fix_path(a, sizeof(a), c->src, fix_entries[i].rel);
		(void)snprintf(b, sizeof(b), "%s%s", target, a);
		assert_int_equal(lstat(a, &sa), 0);
		assert_int_equal(lstat(b, &sb), 0);
		assert_int_equal(sa.st_mode, sb.st_mode);
		if (!S_ISLNK(sa.st_mode)) {
			assert_int_equal(sa.st_mtim.tv_sec, sb.st_mtim.tv_sec);
			assert_int_equal(sa.st_mtim.tv_nsec,
			                 sb.st_mtim.tv_nsec);
		}
		if (S_ISREG(sa.st_mode)) {
			assert_int_equal(sa.st_size, sb.st_size);
			same_file(a, b);
		}
		if (S_ISLNK(sa.st_mode)) {
			char la[256] = "", lb[256] = "";

			assert_true(readlink(a, la, sizeof(la) - 1) > 0);
			assert_true(readlink(b, lb, sizeof(lb) - 1) > 0);
			assert_string_equal(la, lb);
		}
		if (!strcmp(fix_entries[i].rel, "/a/sparse"))
			assert_true((uint64_t)sb.st_blocks * 512 <
			            FIX_SPARSE / 4);
		if (!strcmp(fix_entries[i].rel, "/a/hard"))
			hard_st = sb;
		if (!strcmp(fix_entries[i].rel, "/a/x.txt")) {
			(void)snprintf(ino_of_x, sizeof(ino_of_x), "%s", b);
			assert_int_equal(sb.st_nlink, 2);
			assert_int_equal(sb.st_ino, hard_st.st_ino);
			if (c->xattrs) {
				char v[8];

				assert_int_equal(lgetxattr(b, "user.hbr.test",
				                           v, sizeof(v)),
				                 3);
				assert_memory_equal(v, "v\0x", 3);
			}
		}
	}
	assert_true(ino_of_x[0]);
	hbr_agent_job_release(&job);
}

/* A tree whose files' chunk lists go on over continuation lines (one
 * chunk a line) restores the same. */
static void test_continuation_lines_restore(void **state)
{
	struct ctx *c = *state;
	struct hbr_agent_job job;
	char target[2048], *text;
	size_t len;

	hbr_agent_set_line_chunks(1);
	back_up(c);
	hbr_agent_set_line_chunks(0);
	assert_int_equal(hbr_fs_read(&text, &len, c->tree, 64u << 20), 0);
	assert_non_null(strstr(text, "\n{\"c+\":[[\""));
	hbr_free(text);
	(void)snprintf(target, sizeof(target), "%s/out-more", c->dir);
	assert_int_equal(run(c, &job, target, NULL, NULL), 0);
	assert_int_equal(job.n_errors, 0);
	assert_int_equal(atomic_load(&job.items_done),
	                 HBR_ARRAY_SIZE(fix_entries) + 3);
	for (size_t i = 0; i < HBR_ARRAY_SIZE(fix_entries); i++) {
		char a[2048], b[8192];
		struct stat sa;

		fix_path(a, sizeof(a), c->src, fix_entries[i].rel);
		(void)snprintf(b, sizeof(b), "%s%s", target, a);
		assert_int_equal(lstat(a, &sa), 0);
		if (S_ISREG(sa.st_mode))
			same_file(a, b);
	}
	hbr_agent_job_release(&job);
	back_up(c); /* the other tests' tree, one line a file */
}

static void test_restore_in_place_over_changes(void **state)
{
	struct ctx *c = *state;
	struct hbr_agent_job job;
	char target[2048], p[8192];

	/* Restore once, change the copy, restore again over it. */
	(void)snprintf(target, sizeof(target), "%s/again", c->dir);
	assert_int_equal(run(c, &job, target, NULL, NULL), 0);
	hbr_agent_job_release(&job);
	(void)snprintf(p, sizeof(p), "%s%s/a/x.txt", target, c->src);
	assert_int_equal(hbr_fs_write_atomic(p, "changed", 7, 0666), 0);
	(void)snprintf(p, sizeof(p), "%s%s/a/lnk", target, c->src);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(symlink("elsewhere", p), 0);
	assert_int_equal(run(c, &job, target, NULL, NULL), 0);
	assert_int_equal(job.n_errors, 0);
	hbr_agent_job_release(&job);
	(void)snprintf(p, sizeof(p), "%s%s/a/x.txt", target, c->src);
	{
		char a[2048];

		fix_path(a, sizeof(a), c->src, "/a/x.txt");
		same_file(a, p);
	}
}

static void test_filters_apply(void **state)
{
	struct ctx *c = *state;
	struct hbr_agent_job job;
	char target[2048], p[8192];
	struct stat sb;

	(void)snprintf(target, sizeof(target), "%s/filtered", c->dir);
	assert_int_equal(run(c, &job, target, NULL, "[\"*.bin\", \"/a/b\"]"),
	                 0);
	hbr_agent_job_release(&job);
	(void)snprintf(p, sizeof(p), "%s%s/a/b/big.bin", target, c->src);
	assert_int_not_equal(lstat(p, &sb), 0);
	(void)snprintf(p, sizeof(p), "%s%s/a/x.txt", target, c->src);
	assert_int_equal(lstat(p, &sb), 0);
	(void)snprintf(p, sizeof(p), "%s%s/a/\xff\xfe.bin", target, c->src);
	assert_int_not_equal(lstat(p, &sb), 0);
}

static void test_a_path_out_of_the_target_is_refused(void **state)
{
	struct ctx *c = *state;
	struct hbr_agent_job job;
	struct hbr_agent_chunk_source src = { store_fetch, &c->st };
	char target[2048], tree[2048], esc[8192];
	static const char lines[] =
	        "{\"hbr_tree\":1,\"paths\":[\"/x\"]}\n"
	        "{\"p\":\"/x/../../escape\",\"t\":\"f\",\"s\":0,\"c\":[]}\n"
	        "{\"p\":\"/x/ok\",\"t\":\"f\",\"s\":0,\"c\":[]}\n";
	struct stat sb;

	(void)snprintf(target, sizeof(target), "%s/jail/in", c->dir);
	(void)snprintf(tree, sizeof(tree), "%s/evil.tree", c->dir);
	assert_int_equal(
	        hbr_fs_write_atomic(tree, lines, sizeof(lines) - 1, 0600), 0);
	hbr_agent_job_init(&job, "r-evil", "RESTORE", &c->key, c->dir, "t");
	assert_int_equal(
	        hbr_agent_restore_tree(&job, tree, target, NULL, NULL, &src),
	        0);
	assert_int_equal(job.n_errors, 1);
	hbr_agent_job_release(&job);
	(void)snprintf(esc, sizeof(esc), "%s/jail/escape", c->dir);
	assert_int_not_equal(lstat(esc, &sb), 0);
	(void)snprintf(esc, sizeof(esc), "%s/x/ok", target);
	assert_int_equal(lstat(esc, &sb), 0);
}

/* A tree naming a symlink to a directory outside the target and then an
 * entry below the link: nothing may be written through the link. */
static void test_nothing_is_written_through_a_restored_symlink(void **state)
{
	struct ctx *c = *state;
	struct hbr_agent_job job;
	struct hbr_agent_chunk_source src = { store_fetch, &c->st };
	char target[2048], tree[2048], outside[2048], lines[8192], p[8192];
	struct stat sb;
	int n;

	(void)snprintf(target, sizeof(target), "%s/jail2/in", c->dir);
	(void)snprintf(outside, sizeof(outside), "%s/outside", c->dir);
	(void)snprintf(tree, sizeof(tree), "%s/evil-link.tree", c->dir);
	assert_int_equal(hbr_fs_mkdirs(outside, 0700), 0);
	n = snprintf(lines, sizeof(lines),
	             "{\"hbr_tree\":1,\"paths\":[\"/x\"]}\n"
	             "{\"p\":\"/x/a\",\"t\":\"l\",\"m\":511,\"l\":\"%s\"}\n"
	             "{\"p\":\"/x/a/pwned\",\"t\":\"f\",\"s\":0,\"c\":[]}\n"
	             "{\"p\":\"/x/b\",\"t\":\"l\",\"m\":511,"
	             "\"l\":\"ok-target\"}\n"
	             "{\"p\":\"/x/ok\",\"t\":\"f\",\"s\":0,\"c\":[]}\n",
	             outside);
	assert_true(n > 0 && (size_t)n < sizeof(lines));
	assert_int_equal(hbr_fs_write_atomic(tree, lines, (size_t)n, 0600), 0);
	hbr_agent_job_init(&job, "r-evil-link", "RESTORE", &c->key, c->dir,
	                   "t");
	assert_int_equal(
	        hbr_agent_restore_tree(&job, tree, target, NULL, NULL, &src),
	        0);
	/* The link that would have led out is listed, not made. */
	assert_int_equal(job.n_errors, 1);
	hbr_agent_job_release(&job);
	(void)snprintf(p, sizeof(p), "%s/pwned", outside);
	assert_int_not_equal(lstat(p, &sb), 0);
	(void)snprintf(p, sizeof(p), "%s/x/a", target);
	assert_int_equal(lstat(p, &sb), 0);
	assert_false(S_ISLNK(sb.st_mode));
	/* Innocent links and files are restored as usual. */
	(void)snprintf(p, sizeof(p), "%s/x/b", target);
	assert_int_equal(lstat(p, &sb), 0);
	assert_true(S_ISLNK(sb.st_mode));
	(void)snprintf(p, sizeof(p), "%s/x/ok", target);
	assert_int_equal(lstat(p, &sb), 0);
}

static void test_a_bad_chunk_fails_the_restore(void **state)
{
	struct ctx *c = *state;
	struct hbr_agent_job job;
	char target[2048];

	(void)snprintf(target, sizeof(target), "%s/corrupt", c->dir);
	c->st.corrupt = true;
	assert_int_equal(run(c, &job, target, NULL, NULL), HBR_ECORRUPT);
	c->st.corrupt = false;
	assert_int_equal(hbr_agent_job_why(&job), HBR_AGENT_FAILED);
	assert_non_null(strstr(job.reason, "SHA-256"));
	hbr_agent_job_release(&job);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restore_is_exact),
		cmocka_unit_test(test_continuation_lines_restore),
		cmocka_unit_test(test_restore_in_place_over_changes),
		cmocka_unit_test(test_filters_apply),
		cmocka_unit_test(test_a_path_out_of_the_target_is_refused),
		cmocka_unit_test(
		        test_nothing_is_written_through_a_restored_symlink),
		cmocka_unit_test(test_a_bad_chunk_fails_the_restore),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
