/*
 * agent/agent_entry.h: a tree entry's JSON line, both ways, including
 * names that are not UTF-8, xattrs, sparse extents and chunk lists.
 */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "agent/agent_entry.h"
#include "core/tree_scan.h"
#include "util/error.h"

#define ID64 "00000000000000000000000000000000000000000000000000000000000000aa"

static json_t *parse(const struct hbr_buf *line)
{
	json_error_t jerr;
	json_t *o;

	assert_true(line->len > 0);
	assert_int_equal(line->ptr[line->len - 1], '\n');
	assert_null(memchr(line->ptr, '\n', line->len - 1));
	o = json_loadb(line->ptr, line->len - 1, 0, &jerr);
	assert_non_null(o);
	return o;
}

static void test_file_round_trip(void **state)
{
	struct hbr_agent_entry e, d;
	struct hbr_buf line = HBR_BUF_INIT;
	uint8_t id[HBR_CHUNK_ID_LEN];
	json_t *o;

	(void)state;
	hbr_agent_entry_init(&e);
	hbr_agent_entry_init(&d);
	(void)hbr_buf_puts(&e.path, "/srv/\"quoted\"\n\x01 na\xc3\xafve");
	e.type = 'f';
	e.mode = 04755;
	e.uid = 1000;
	e.gid = 100;
	e.mtime_ns = 1764288000123456789;
	e.ctime_ns = -5;
	e.ino = UINT64_MAX - 1; /* above INT64_MAX: travels signed */
	e.size = 1 << 20;
	e.sparse = true;
	hbr_agent_entry_add_extent(&e, 4096, 8192);
	hbr_agent_entry_add_extent(&e, 65536, 100);
	for (int i = 0; i < 3; i++) {
		memset(id, i + 1, sizeof(id));
		hbr_agent_entry_add_chunk(&e, id, 1000u * (unsigned)(i + 1));
	}
	assert_int_equal(hbr_agent_xattr_add(&e.xattrs, "user.a", "\0\1\2", 3),
	                 1);
	assert_int_equal(hbr_agent_xattr_add(&e.xattrs, "user.\xff", "x", 1),
	                 0);
	assert_int_equal(hbr_agent_xattr_add(&e.xattrs, "user.empty", "", 0),
	                 1);
	(void)hbr_buf_putc(&e.xattrs, '}');
	assert_int_equal(hbr_agent_entry_encode(&line, &e), 0);
	o = parse(&line);
	assert_non_null(json_object_get(o, "p"));
	assert_int_equal(hbr_agent_entry_decode(&d, o), 0);
	json_decref(o);

	assert_int_equal(d.path.len, e.path.len);
	assert_memory_equal(d.path.ptr, e.path.ptr, e.path.len);
	assert_int_equal(d.type, 'f');
	assert_int_equal(d.mode, 04755);
	assert_int_equal(d.uid, 1000);
	assert_int_equal(d.gid, 100);
	assert_true(d.mtime_ns == e.mtime_ns);
	assert_true(d.ctime_ns == -5);
	assert_true(d.ino == UINT64_MAX - 1);
	assert_int_equal(d.size, 1 << 20);
	assert_true(d.sparse);
	assert_int_equal(d.n_ext, 2);
	assert_int_equal(d.ext[1].off, 65536);
	assert_int_equal(d.ext[1].len, 100);
	assert_int_equal(d.n_chunks, 3);
	assert_memory_equal(d.chunks[2].id, id, HBR_CHUNK_ID_LEN);
	assert_int_equal(d.chunks[2].len, 3000);
	assert_non_null(d.xattr_obj);
	{
		struct hbr_buf v = HBR_BUF_INIT;
		const char *b64 = json_string_value(
		        json_object_get(d.xattr_obj, "user.a"));

		assert_non_null(b64);
		assert_int_equal(
		        hbr_agent_base64_decode(&v, b64, strlen(b64), 64), 0);
		assert_int_equal(v.len, 3);
		assert_memory_equal(v.ptr, "\0\1\2", 3);
		b64 = json_string_value(
		        json_object_get(d.xattr_obj, "user.empty"));
		assert_int_equal(
		        hbr_agent_base64_decode(&v, b64, strlen(b64), 64), 0);
		assert_int_equal(v.len, 0);
		assert_int_equal(hbr_agent_base64_decode(&v, "abc", 3, 64),
		                 HBR_ECORRUPT);
		hbr_buf_release(&v);
	}
	hbr_buf_release(&line);
	hbr_agent_entry_release(&e);
	hbr_agent_entry_release(&d);
}

static void test_names_that_are_not_utf8_travel_as_hex(void **state)
{
	struct hbr_agent_entry e, d;
	struct hbr_buf line = HBR_BUF_INIT;
	json_t *o;

	(void)state;
	hbr_agent_entry_init(&e);
	hbr_agent_entry_init(&d);
	(void)hbr_buf_puts(&e.path, "/x/\xff\xfe latin1 caf\xe9");
	e.type = 'l';
	(void)hbr_buf_puts(&e.link, "target-\xe9");
	assert_int_equal(hbr_agent_entry_encode(&line, &e), 0);
	o = parse(&line);
	assert_null(json_object_get(o, "p"));
	assert_non_null(json_object_get(o, "px"));
	assert_non_null(json_object_get(o, "lx"));
	assert_int_equal(hbr_agent_entry_decode(&d, o), 0);
	json_decref(o);
	assert_string_equal(d.path.ptr, e.path.ptr);
	assert_string_equal(d.link.ptr, "target-\xe9");
	assert_int_equal(d.type, 'l');
	hbr_buf_release(&line);
	hbr_agent_entry_release(&e);
	hbr_agent_entry_release(&d);
}

static void test_decode_refuses_bad_lines(void **state)
{
	static const char *const bad[] = {
		"{\"t\":\"f\"}", /* no path */
		"{\"p\":\"rel\",\"t\":\"f\"}",
		"{\"p\":\"/a\",\"t\":\"q\"}",
		"{\"p\":\"/a\",\"t\":\"l\"}", /* a link without a target */
		"{\"p\":\"/a\",\"t\":\"f\",\"c\":[[\"00\",1]]}",
		"{\"p\":\"/a\",\"t\":\"f\",\"s\":10,\"sp\":[[5,10]]}",
		"{\"px\":\"2f00\",\"t\":\"d\"}", /* a NUL in a name */
		"{\"p\":\"/a\",\"t\":\"d\",\"x\":[]}",
	};
	struct hbr_agent_entry d;

	(void)state;
	hbr_agent_entry_init(&d);
	for (size_t i = 0; i < HBR_ARRAY_SIZE(bad); i++) {
		json_t *o = json_loads(bad[i], 0, NULL);

		assert_non_null(o);
		assert_true(hbr_agent_entry_decode(&d, o) < 0);
		json_decref(o);
	}
	hbr_agent_entry_release(&d);
}

struct server {
	struct hbr_idset set;
	enum hbr_tree_line_kind prev;
};

static int server_line(const char *text, size_t len, size_t line_no,
                       void *payload)
{
	struct server *s = payload;

	return hbr_tree_line_refs(&s->set, &s->prev, text, len, line_no);
}

/* The server's verdict on a whole tree, and the ids it collected. */
static int server_reads(size_t *nids, const char *text, size_t len)
{
	struct hbr_tree_reader r;
	struct server s = { .prev = HBR_TREE_LINE_OTHER };
	int error;

	hbr_idset_init(&s.set);
	hbr_tree_reader_init_lines(&r, server_line, &s);
	if (!(error = hbr_tree_reader_feed(&r, text, len)))
		error = hbr_tree_reader_finish(&r);
	*nids = s.set.n;
	hbr_tree_reader_free(&r);
	hbr_idset_free(&s.set);
	return error;
}

/* A file of more chunks than a line carries: its entry line and the
 * continuation lines after it, each bounded, decode to the whole list,
 * and the server collects every id. */
static void test_continuation_lines(void **state)
{
	struct hbr_agent_entry e, d, dir;
	struct hbr_buf tree = HBR_BUF_INIT;
	size_t lines = 0, nids, next = 0;
	const char *p;

	(void)state;
	hbr_agent_set_line_chunks(3);
	assert_int_equal(hbr_agent_line_chunks(), 3);
	hbr_agent_entry_init(&e);
	hbr_agent_entry_init(&d);
	hbr_agent_entry_init(&dir);
	(void)hbr_buf_puts(&e.path, "/vm/disk.img");
	e.type = 'f';
	e.size = 10 * 1000;
	for (int i = 0; i < 10; i++) {
		uint8_t id[HBR_CHUNK_ID_LEN];

		memset(id, 0x10 + i, sizeof(id));
		hbr_agent_entry_add_chunk(&e, id, 1000);
	}
	(void)hbr_buf_puts(&dir.path, "/vm/z");
	dir.type = 'd';
	assert_int_equal(hbr_agent_tree_header(&tree, NULL, 0, "h", 1), 0);
	assert_int_equal(hbr_agent_entry_encode(&tree, &e), 0);
	assert_int_equal(hbr_agent_entry_encode(&tree, &dir), 0);
	/* A directory's entry is one line, whatever it holds. */
	assert_int_equal(hbr_agent_entry_encode_line(&tree, &dir, &next), 0);
	assert_int_equal(next, 0);
	assert_int_equal(server_reads(&nids, tree.ptr, tree.len), 0);
	assert_int_equal(nids, 10);

	/* Header, entry (3 chunks), 3 + 3 + 1 more, two directories. */
	for (p = tree.ptr;
	     (p = memchr(p, '\n', tree.len - (size_t)(p - tree.ptr))); p++)
		lines++;
	assert_int_equal(lines, 1 + 1 + 3 + 2);
	p = memchr(tree.ptr, '\n', tree.len) + 1;
	for (size_t i = 0; i < 4; i++) {
		const char *nl =
		        memchr(p, '\n', tree.len - (size_t)(p - tree.ptr));
		json_t *o = json_loadb(p, (size_t)(nl - p), 0, NULL);

		assert_non_null(o);
		assert_int_equal(hbr_agent_line_is_more(o), i > 0);
		if (i == 0) {
			assert_int_equal(hbr_agent_entry_decode(&d, o), 0);
			assert_int_equal(d.n_chunks, 3);
		} else {
			/* Not an entry, and no entry after a directory. */
			assert_int_equal(hbr_agent_entry_decode(&dir, o),
			                 HBR_ECORRUPT);
			assert_int_equal(hbr_agent_entry_decode_more(&dir, o),
			                 HBR_ECORRUPT);
			assert_int_equal(hbr_agent_entry_decode_more(&d, o), 0);
		}
		json_decref(o);
		p = nl + 1;
	}
	assert_int_equal(d.n_chunks, 10);
	for (size_t i = 0; i < 10; i++)
		assert_memory_equal(d.chunks[i].id, e.chunks[i].id,
		                    HBR_CHUNK_ID_LEN);

	hbr_agent_set_line_chunks(0);
	assert_int_equal(hbr_agent_line_chunks(), HBR_AGENT_LINE_CHUNKS);
	hbr_buf_release(&tree);
	hbr_agent_entry_release(&e);
	hbr_agent_entry_release(&d);
	hbr_agent_entry_release(&dir);
}

static void test_continuation_refused(void **state)
{
	static const char *const bad[] = {
		"{\"c+\":[[\"00\",1]]}",       "{\"c+\":[[\"" ID64 "\",-1]]}",
		"{\"c+\":[[\"" ID64 "\",0]]}", "{\"c+\":5}",
		"{\"c+\":[],\"t\":\"f\"}",     "{\"c+\":[],\"c\":[]}",
	};
	struct hbr_agent_entry d;
	json_t *o;

	(void)state;
	hbr_agent_entry_init(&d);
	o = json_loads("{\"p\":\"/a\",\"t\":\"f\",\"c\":[]}", 0, NULL);
	assert_int_equal(hbr_agent_entry_decode(&d, o), 0);
	json_decref(o);
	for (size_t i = 0; i < HBR_ARRAY_SIZE(bad); i++) {
		o = json_loads(bad[i], 0, NULL);
		assert_non_null(o);
		assert_true(hbr_agent_line_is_more(o));
		assert_int_equal(hbr_agent_entry_decode_more(&d, o),
		                 HBR_ECORRUPT);
		json_decref(o);
	}
	o = json_loads("{\"c+\":[[\"" ID64 "\",7]]}", 0, NULL);
	assert_int_equal(hbr_agent_entry_decode_more(&d, o), 0);
	assert_int_equal(d.n_chunks, 1);
	json_decref(o);
	hbr_agent_entry_release(&d);
}

static void test_utf8_validity(void **state)
{
	(void)state;
	assert_true(hbr_agent_utf8_valid("plain", 5));
	assert_true(hbr_agent_utf8_valid("\xe6\x97\xa5\xf0\x9f\x98\x80", 7));
	assert_false(hbr_agent_utf8_valid("\xc0\xaf", 2)); /* overlong */
	assert_false(hbr_agent_utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
	assert_false(hbr_agent_utf8_valid("\xf4\x90\x80\x80", 4));
	assert_false(hbr_agent_utf8_valid("\xe6\x97", 2)); /* truncated */
	assert_false(hbr_agent_utf8_valid("a\0b", 3));
}

static void test_tree_header(void **state)
{
	char *roots[] = { (char *)"/a", (char *)"/b \"c\"" };
	struct hbr_buf line = HBR_BUF_INIT;
	json_t *o;

	(void)state;
	assert_int_equal(hbr_agent_tree_header(&line, roots, 2, "web-1", 17),
	                 0);
	o = parse(&line);
	assert_int_equal(json_integer_value(json_object_get(o, "hbr_tree")), 1);
	assert_string_equal(json_string_value(json_array_get(
	                            json_object_get(o, "paths"), 1)),
	                    "/b \"c\"");
	assert_string_equal(json_string_value(json_object_get(o, "host")),
	                    "web-1");
	json_decref(o);
	hbr_buf_release(&line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_round_trip),
		cmocka_unit_test(test_names_that_are_not_utf8_travel_as_hex),
		cmocka_unit_test(test_decode_refuses_bad_lines),
		cmocka_unit_test(test_continuation_lines),
		cmocka_unit_test(test_continuation_refused),
		cmocka_unit_test(test_utf8_validity),
		cmocka_unit_test(test_tree_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
