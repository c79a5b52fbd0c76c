/* Trees: lines split across feeds, references collected once, damage
 * refused; the id set. */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "core/tree.h"
#include "util/error.h"

#define ID_A "00000000000000000000000000000000000000000000000000000000000000aa"

static const char tree[] =
        "{\"hbr_tree\":1,\"paths\":[\"/a\"]}\n"
        "{\"p\":\"/a\",\"t\":\"d\"}\n"
        "{\"p\":\"/a/x\",\"t\":\"f\",\"s\":3,\"c\":[[\""
        "00000000000000000000000000000000000000000000000000000000000000aa"
        "\",1],[\""
        "00000000000000000000000000000000000000000000000000000000000000bb"
        "\",2]]}\n"
        "{\"p\":\"/a/y\",\"t\":\"f\",\"s\":1,\"c\":[[\""
        "00000000000000000000000000000000000000000000000000000000000000AA"
        "\",1]]}";

struct collect {
	struct hbr_idset set;
	size_t lines;
};

static int on_entry(json_t *entry, size_t line_no, void *payload)
{
	struct collect *c = payload;

	assert_int_equal(line_no, c->lines);
	c->lines++;
	return hbr_tree_entry_chunks(&c->set, entry);
}

static void test_refs_from_any_split(void **state)
{
	(void)state;
	/* Every split point: a line carried between feeds parses the same. */
	for (size_t cut = 0; cut <= sizeof(tree) - 1; cut += 7) {
		struct hbr_tree_reader r;
		struct collect c = { .lines = 0 };

		hbr_idset_init(&c.set);
		hbr_tree_reader_init(&r, on_entry, &c);
		assert_int_equal(hbr_tree_reader_feed(&r, tree, cut), 0);
		assert_int_equal(hbr_tree_reader_feed(&r, tree + cut,
		                                      sizeof(tree) - 1 - cut),
		                 0);
		assert_int_equal(hbr_tree_reader_finish(&r), 0);
		assert_int_equal(c.lines, 4);
		assert_int_equal(c.set.n, 2); /* aa counted once */
		hbr_tree_reader_free(&r);
		hbr_idset_free(&c.set);
	}
}

static int parse_all(const char *text)
{
	struct hbr_tree_reader r;
	struct collect c = { .lines = 0 };
	int error;

	hbr_idset_init(&c.set);
	hbr_tree_reader_init(&r, on_entry, &c);
	error = hbr_tree_reader_feed(&r, text, strlen(text));
	if (!error)
		error = hbr_tree_reader_finish(&r);
	hbr_tree_reader_free(&r);
	hbr_idset_free(&c.set);
	return error;
}

static void test_damage_refused(void **state)
{
	(void)state;
	assert_int_equal(parse_all(""), HBR_ECORRUPT);
	assert_int_equal(parse_all("{\"p\":\"/a\"}\n"), HBR_ECORRUPT);
	assert_int_equal(parse_all("{\"hbr_tree\":1}\n[1]\n"), HBR_ECORRUPT);
	assert_int_equal(parse_all("{\"hbr_tree\":1}\n\n"), HBR_ECORRUPT);
	assert_int_equal(parse_all("{\"hbr_tree\":1}\n{\"c\":[[\"zz\",1]]}"),
	                 HBR_ECORRUPT);
	assert_int_equal(parse_all("{\"hbr_tree\":1}\n{\"c\":5}"),
	                 HBR_ECORRUPT);
	/* A length below zero names no chunk the agent could restore. */
	assert_int_equal(
	        parse_all("{\"hbr_tree\":1}\n{\"c\":[[\"" ID_A "\",-1]]}"),
	        HBR_ECORRUPT);
	assert_int_equal(
	        parse_all("{\"hbr_tree\":1}\n{\"c\":[[\"" ID_A "\",0]]}"), 0);
	assert_int_equal(parse_all("{\"hbr_tree\":1}\n{\"p\":\"/x\"}"), 0);
}

static void test_idset(void **state)
{
	struct hbr_idset s;
	struct hbr_buf sorted;
	uint8_t id[32];

	(void)state;
	hbr_idset_init(&s);
	memset(id, 0, sizeof(id));
	assert_false(hbr_idset_has(&s, id));
	for (uint32_t i = 0; i < 5000; i++) {
		uint32_t k = i * 2654435761u;
		memcpy(id, &k, sizeof(k));
		memcpy(id + 28, &i, sizeof(i));
		assert_int_equal(hbr_idset_add(&s, id), 1);
		assert_int_equal(hbr_idset_add(&s, id), 0);
	}
	assert_int_equal(s.n, 5000);
	hbr_buf_init(&sorted, 0);
	assert_int_equal(hbr_idset_sorted(&sorted, &s), 0);
	assert_int_equal(sorted.len, 5000 * 32);
	for (size_t i = 1; i < 5000; i++) {
		assert_true(memcmp(sorted.ptr + (i - 1) * 32,
		                   sorted.ptr + i * 32, 32) < 0);
		assert_true(hbr_idset_has(&s, (const uint8_t *)sorted.ptr +
		                                      i * 32));
	}
	hbr_buf_release(&sorted);
	hbr_idset_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refs_from_any_split),
		cmocka_unit_test(test_damage_refused),
		cmocka_unit_test(test_idset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
