/* Packs: a written pack parses back, verifies, and every kind of damage
 * is refused. */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "core/pack.h"
#include "util/error.h"

/* Three chunks: compressible text, incompressible bytes, empty. */
static void build(struct hbr_buf *out, size_t *hlen, uint8_t ids[3][32],
                  struct hbr_buf raws[3])
{
	struct hbr_pack_writer w;
	uint32_t x = 12345;

	hbr_buf_init(&raws[0], 0);
	for (int i = 0; i < 4000; i++)
		hbr_buf_puts(&raws[0], "backup backup ");
	hbr_buf_init(&raws[1], 0);
	for (int i = 0; i < 50000; i++) {
		x = x * 1103515245u + 12345u;
		hbr_buf_putc(&raws[1], (char)(x >> 16));
	}
	hbr_buf_init(&raws[2], 0);
	assert_int_equal(hbr_pack_writer_init(&w), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(hbr_chunk_id(ids[i], raws[i].ptr, raws[i].len),
		                 0);
		assert_int_equal(hbr_pack_writer_add(&w, ids[i], raws[i].ptr,
		                                     raws[i].len,
		                                     HBR_PACK_ZSTD_LEVEL),
		                 0);
	}
	hbr_buf_init(out, 0);
	assert_int_equal(hbr_pack_writer_finish(out, hlen, &w), 0);
	assert_int_equal(w.count, 0); /* reset for the next pack */
	hbr_pack_writer_free(&w);
}

static void release(struct hbr_buf *pack, struct hbr_buf raws[3])
{
	hbr_buf_release(pack);
	for (int i = 0; i < 3; i++)
		hbr_buf_release(&raws[i]);
}

static void test_roundtrip(void **state)
{
	struct hbr_buf pack, raws[3], chunk;
	struct hbr_pack_view v;
	uint8_t ids[3][32];
	size_t hlen, hlen2;

	(void)state;
	build(&pack, &hlen, ids, raws);
	assert_int_equal(hlen, HBR_PACK_HEAD_LEN + 3 * HBR_PACK_ENTRY_LEN);
	assert_int_equal(hbr_pack_header_len(&hlen2, pack.ptr, pack.len), 0);
	assert_int_equal(hlen2, hlen);
	assert_int_equal(hbr_pack_parse(&v, pack.ptr, pack.len), 0);
	assert_int_equal(v.count, 3);
	/* text shrinks and is stored compressed, noise is stored raw */
	assert_true(v.entries[0].flags & HBR_PACK_FLAG_ZSTD);
	assert_true(v.entries[0].stored_len < v.entries[0].raw_len / 10);
	assert_int_equal(v.entries[1].flags, 0);
	assert_int_equal(v.entries[1].stored_len, raws[1].len);
	assert_int_equal(v.entries[2].raw_len, 0);
	assert_int_equal(hbr_pack_verify(&v), 0);
	hbr_buf_init(&chunk, 0);
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(hbr_pack_chunk(&chunk, &v, i), 0);
		assert_int_equal(chunk.len, raws[i].len);
		assert_memory_equal(chunk.ptr, raws[i].ptr, chunk.len);
		assert_memory_equal(v.entries[i].id, ids[i], 32);
	}
	hbr_buf_release(&chunk);
	hbr_pack_view_free(&v);
	release(&pack, raws);
}

static void test_stored_copy_is_identical(void **state)
{
	struct hbr_buf pack, raws[3], copy;
	struct hbr_pack_view v;
	struct hbr_pack_writer w;
	uint8_t ids[3][32];
	size_t hlen;

	(void)state;
	build(&pack, &hlen, ids, raws);
	assert_int_equal(hbr_pack_parse(&v, pack.ptr, pack.len), 0);
	assert_int_equal(hbr_pack_writer_init(&w), 0);
	for (uint32_t i = 0; i < v.count; i++)
		assert_int_equal(hbr_pack_writer_add_stored(
		                         &w, &v.entries[i],
		                         v.data + v.entries[i].offset),
		                 0);
	hbr_buf_init(&copy, 0);
	assert_int_equal(hbr_pack_writer_finish(&copy, NULL, &w), 0);
	assert_int_equal(copy.len, pack.len);
	assert_memory_equal(copy.ptr, pack.ptr, pack.len);
	hbr_buf_release(&copy);
	hbr_pack_writer_free(&w);
	hbr_pack_view_free(&v);
	release(&pack, raws);
}

static void expect_parse_fails(const struct hbr_buf *p, size_t len)
{
	struct hbr_pack_view v;

	assert_int_equal(hbr_pack_parse(&v, p->ptr, len), HBR_EINVAL);
	assert_string_equal(hbr_error_param(), "Pack");
}

static void test_damage_refused(void **state)
{
	struct hbr_buf pack, raws[3];
	struct hbr_pack_view v;
	uint8_t ids[3][32];
	size_t hlen;

	(void)state;
	build(&pack, &hlen, ids, raws);
	expect_parse_fails(&pack, pack.len - 1); /* truncated */
	expect_parse_fails(&pack, 5);
	hbr_buf_putc(&pack, 'x'); /* trailing byte */
	expect_parse_fails(&pack, pack.len);
	pack.len--;
	pack.ptr[0] = 'X'; /* magic */
	expect_parse_fails(&pack, pack.len);
	pack.ptr[0] = 'H';
	pack.ptr[HBR_PACK_HEAD_LEN + 40] = 4; /* unknown flag */
	expect_parse_fails(&pack, pack.len);
	pack.ptr[HBR_PACK_HEAD_LEN + 40] = 1;
	/* a flipped data byte parses but fails verification */
	pack.ptr[hlen + 3] ^= 1;
	assert_int_equal(hbr_pack_parse(&v, pack.ptr, pack.len), 0);
	assert_int_equal(hbr_pack_verify(&v), HBR_ECORRUPT);
	hbr_pack_view_free(&v);
	pack.ptr[hlen + 3] ^= 1;
	/* a wrong id: the raw chunk's bytes no longer hash to it */
	pack.ptr[HBR_PACK_HEAD_LEN + HBR_PACK_ENTRY_LEN] ^= 0x80;
	assert_int_equal(hbr_pack_parse(&v, pack.ptr, pack.len), 0);
	assert_int_equal(hbr_pack_verify(&v), HBR_ECORRUPT);
	hbr_pack_view_free(&v);
	release(&pack, raws);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_stored_copy_is_identical),
		cmocka_unit_test(test_damage_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
