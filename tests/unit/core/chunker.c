/* FastCDC chunker: boundaries are content-defined, independent of how the
 * stream is fed, within [min, max], and frozen by a golden vector. */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "core/chunker.h"
#include "util/alloc.h"
#include "util/error.h"

#define MiB ((size_t)1 << 20)

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint8_t *random_bytes(size_t n, uint64_t seed)
{
	uint8_t *d = hbr_malloc(n);

	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = splitmix64(&seed);

		memcpy(d + i, &v, n - i < 8 ? n - i : 8);
	}
	return d;
}

/* Cut offsets (chunk ends, the last one = n) as a growable array. */
struct cuts {
	size_t *v;
	size_t n, cap;
};

static void cuts_add(struct cuts *c, size_t off)
{
	hbr_grow((void **)&c->v, &c->cap, c->n + 1, sizeof(*c->v));
	c->v[c->n++] = off;
}

static void cuts_release(struct cuts *c)
{
	hbr_free(c->v);
	memset(c, 0, sizeof(*c));
}

/*
 * Feed d in pieces of piece() bytes (0 = all at once), the last one with
 * eof, and record every boundary. With eof_alone the last piece goes
 * without eof and a final empty call with eof closes the stream, the path
 * where the pending count names the last chunk.
 */
static void chunk_stream(struct cuts *out, const struct hbr_chunker_params *p,
                         const uint8_t *d, size_t n,
                         size_t (*piece)(uint64_t *), bool eof_alone)
{
	struct hbr_chunker c;
	uint64_t seed = 99;
	size_t off = 0;

	assert_int_equal(hbr_chunker_init(&c, p), 0);
	while (off < n) {
		size_t len = piece ? piece(&seed) : n;
		size_t used = 0, k;
		bool eof;

		if (len > n - off)
			len = n - off;
		eof = off + len == n && !eof_alone;
		while (used < len &&
		       (k = hbr_chunker_next(&c, d + off + used, len - used,
		                             eof)) > 0) {
			assert_true(k <= len - used);
			used += k;
			cuts_add(out, off + used);
		}
		off += len;
	}
	if (eof_alone) {
		size_t pending = hbr_chunker_pending(&c);

		assert_int_equal(hbr_chunker_next(&c, d + n, 0, true), 0);
		assert_int_equal(hbr_chunker_pending(&c), 0);
		if (pending) {
			assert_true(!out->n ||
			            n - out->v[out->n - 1] == pending);
			cuts_add(out, n);
		}
	}
}

/*
 * The definition, one byte at a time with no phases: the hash runs from
 * 64 bytes before min, a boundary is the first length L >= min where the
 * top log2(avg)+2 bits (L < avg) or log2(avg)-2 bits (L >= avg) of the
 * hash are zero, or L == max. The optimized chunker must agree exactly.
 */
static void chunk_reference(struct cuts *out,
                            const struct hbr_chunker_params *p,
                            const uint8_t *d, size_t n)
{
	unsigned bits = 0;
	uint64_t ms, ml, h = 0;
	size_t start = 0;

	while ((1u << bits) < p->avg)
		bits++;
	ms = ~(~0ULL >> (bits + 2));
	ml = ~(~0ULL >> (bits - 2));
	for (size_t i = 0; i < n; i++) {
		size_t len = i - start + 1;

		if (len > p->min - 64)
			h = (h << 1) + hbr_chunker_gear[d[i]];
		if (len < p->min)
			continue;
		if (len == p->max || !(h & (len < p->avg ? ms : ml))) {
			cuts_add(out, i + 1);
			start = i + 1;
			h = 0;
		}
	}
	if (start < n)
		cuts_add(out, n);
}

static void assert_cuts_equal(const struct cuts *a, const struct cuts *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i] != b->v[i])
			fail_msg("cut %zu: %zu != %zu", i, a->v[i], b->v[i]);
}

/* Chunks tile the input and respect [min, max] except the last. */
static void assert_well_formed(const struct cuts *c,
                               const struct hbr_chunker_params *p, size_t n)
{
	size_t prev = 0;

	assert_true(c->n > 0);
	assert_int_equal(c->v[c->n - 1], n);
	for (size_t i = 0; i < c->n; i++) {
		size_t len = c->v[i] - prev;

		assert_true(len > 0);
		assert_true(len <= p->max);
		if (i + 1 < c->n && len < p->min)
			fail_msg("chunk %zu is %zu bytes < min %u", i, len,
			         p->min);
		prev = c->v[i];
	}
}

static const struct hbr_chunker_params small = { 4096, 16384, 65536 };

static void test_gear_table_is_splitmix64_of_hbr_gear(void **state)
{
	uint64_t s = 0x6862722d67656172ULL; /* "hbr-gear" */

	(void)state;
	for (size_t i = 0; i < 256; i++)
		assert_true(hbr_chunker_gear[i] == splitmix64(&s));
}

static void test_sizes_are_validated(void **state)
{
	static const struct hbr_chunker_params bad[] = {
		{ 0, 16384, 65536 }, /* min below the hash window */
		{ 63, 16384, 65536 },
		{ 16384, 16384, 65536 }, /* min == avg */
		{ 20000, 16384, 65536 }, /* min > avg */
		{ 4096, 16384, 16384 }, /* max == avg */
		{ 4096, 16384, 8192 }, /* max < avg */
		{ 4096, 12288, 65536 }, /* avg not a power of two */
		{ 4096, 16385, 65536 },
		{ 1 << 20, 4 << 20, (16 << 20) + 1 }, /* max above 16 MiB */
		{ 1 << 20, 16 << 20, 32 << 20 },
	};
	static const struct hbr_chunker_params good[] = {
		{ 64, 128, 129 },
		{ 4096, 16384, 65536 },
		{ 4 << 20, 8 << 20, 16 << 20 },
	};
	struct hbr_chunker c;
	struct hbr_chunker_params def;

	(void)state;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(bad); i++) {
		hbr_error_clear();
		if (hbr_chunker_init(&c, &bad[i]) != HBR_EINVAL)
			fail_msg("bad[%zu] accepted", i);
		assert_true(strstr(hbr_error_msg(), "chunk") != NULL);
	}
	for (size_t i = 0; i < HBR_ARRAY_SIZE(good); i++)
		assert_int_equal(hbr_chunker_init(&c, &good[i]), 0);
	hbr_chunker_params_default(&def);
	assert_int_equal(hbr_chunker_init(&c, &def), 0);
}

static void test_matches_reference_and_tiles_input(void **state)
{
	struct hbr_chunker_params def;
	const struct hbr_chunker_params *ps[2] = { &small, &def };
	size_t n = 8 * MiB;
	uint8_t *d = random_bytes(n, 1);

	(void)state;
	hbr_chunker_params_default(&def);
	for (size_t k = 0; k < 2; k++) {
		struct cuts got = { 0 }, want = { 0 };

		chunk_stream(&got, ps[k], d, n, NULL, false);
		chunk_reference(&want, ps[k], d, n);
		assert_cuts_equal(&got, &want);
		assert_well_formed(&got, ps[k], n);
		/* Normalized chunking keeps the mean within 1.0-1.5 avg. */
		assert_true(n / got.n >= ps[k]->avg);
		assert_true(n / got.n <= ps[k]->avg * 3 / 2);
		cuts_release(&got);
		cuts_release(&want);
	}
	hbr_free(d);
}

static size_t piece_1(uint64_t *s)
{
	(void)s;
	return 1;
}

static size_t piece_4095(uint64_t *s)
{
	(void)s;
	return 4095;
}

static size_t piece_random(uint64_t *s)
{
	uint64_t r = splitmix64(s);

	/* Mostly small, sometimes bigger than max, sometimes empty. */
	return (r & 7) == 0 ? 0 : (r & 7) == 1 ? 200000 : (r >> 8) % 9000;
}

static void test_streaming_in_any_pieces_gives_same_cuts(void **state)
{
	size_t (*pieces[])(uint64_t *) = { piece_1, piece_4095, piece_random };
	size_t n = 4 * MiB + 123; /* a tail shorter than min */
	uint8_t *d = random_bytes(n, 2);
	struct cuts whole = { 0 };

	(void)state;
	chunk_stream(&whole, &small, d, n, NULL, false);
	assert_well_formed(&whole, &small, n);
	for (size_t k = 0; k < HBR_ARRAY_SIZE(pieces); k++) {
		for (int alone = 0; alone < 2; alone++) {
			struct cuts got = { 0 };

			chunk_stream(&got, &small, d, n, pieces[k], alone);
			assert_cuts_equal(&got, &whole);
			cuts_release(&got);
		}
	}
	cuts_release(&whole);
	hbr_free(d);
}

struct idset {
	uint8_t (*v)[HBR_CHUNK_ID_LEN];
	size_t n;
};

static void ids_of(struct idset *ids, const struct cuts *c, const uint8_t *d)
{
	size_t prev = 0;

	ids->v = hbr_calloc(c->n, HBR_CHUNK_ID_LEN);
	ids->n = c->n;
	for (size_t i = 0; i < c->n; i++) {
		assert_int_equal(
		        hbr_chunk_id(ids->v[i], d + prev, c->v[i] - prev), 0);
		prev = c->v[i];
	}
}

static void test_insertion_shifts_boundaries_and_keeps_ids(void **state)
{
	struct hbr_chunker_params p = { 16384, 65536, 262144 };
	size_t n = 4 * MiB, at = 1000, shared = 0, shifted = 0;
	uint8_t *a = random_bytes(n, 3);
	uint8_t *b = hbr_malloc(n + 1);
	struct cuts ca = { 0 }, cb = { 0 };
	struct idset ia, ib;

	(void)state;
	memcpy(b, a, at);
	b[at] = 0x5a;
	memcpy(b + at + 1, a + at, n - at);
	chunk_stream(&ca, &p, a, n, NULL, false);
	chunk_stream(&cb, &p, b, n + 1, NULL, false);
	assert_true(ca.n >= 40);
	/* Every boundary of a after the first two is one of b's, shifted. */
	for (size_t i = 2; i < ca.n; i++) {
		for (size_t j = 0; j < cb.n; j++)
			if (cb.v[j] == ca.v[i] + 1) {
				shifted++;
				break;
			}
	}
	assert_int_equal(shifted, ca.n - 2);
	ids_of(&ia, &ca, a);
	ids_of(&ib, &cb, b);
	for (size_t j = 0; j < ib.n; j++)
		for (size_t i = 0; i < ia.n; i++)
			if (!memcmp(ib.v[j], ia.v[i], HBR_CHUNK_ID_LEN)) {
				shared++;
				break;
			}
	if (shared * 10 < cb.n * 9)
		fail_msg("only %zu of %zu chunks shared", shared, cb.n);
	hbr_free(ia.v);
	hbr_free(ib.v);
	cuts_release(&ca);
	cuts_release(&cb);
	hbr_free(a);
	hbr_free(b);
}

/*
 * 1 MiB of SplitMix64(seed 2026) bytes at {4, 16, 64} KiB, computed by
 * an independent Python rendering of the definition (docs/CHUNKING.md).
 * Any change to the gear table, the masks, the warm-up or the phase rules
 * moves these: that changes the chunk format and breaks dedup against
 * every existing backup, so it must be a deliberate, versioned decision.
 */
static const size_t golden[] = {
	22221,  41319,  60107,  83967,  111626,  143891,  160410,  176803,
	194971, 210743, 231213, 236036, 256708,  277221,  300297,  330171,
	347083, 359015, 377674, 392329, 414424,  427827,  451236,  468995,
	487877, 493902, 512502, 533711, 552743,  570746,  598527,  621751,
	638418, 655067, 668761, 692247, 712845,  744383,  756970,  771283,
	795917, 813575, 830577, 848555, 865456,  886422,  902913,  920381,
	938394, 967028, 976604, 995027, 1016281, 1034004, 1048576,
};

static void test_golden_cut_offsets(void **state)
{
	size_t n = MiB;
	uint8_t *d = random_bytes(n, 2026);
	struct cuts got = { 0 };

	(void)state;
	chunk_stream(&got, &small, d, n, NULL, false);
	assert_int_equal(got.n, HBR_ARRAY_SIZE(golden));
	for (size_t i = 0; i < got.n; i++)
		if (got.v[i] != golden[i])
			fail_msg("cut %zu: %zu, golden %zu", i, got.v[i],
			         golden[i]);
	cuts_release(&got);
	hbr_free(d);
}

static void test_degenerate_inputs_respect_max(void **state)
{
	size_t n = MiB + 5;
	uint8_t *d = hbr_calloc(n, 1);
	struct cuts got = { 0 };

	(void)state;
	/* Zeros: the hash settles on one value, so every cut is forced. */
	chunk_stream(&got, &small, d, n, NULL, false);
	assert_well_formed(&got, &small, n);
	for (size_t i = 0; i + 1 < got.n; i++)
		assert_int_equal(got.v[i], (i + 1) * small.max);
	cuts_release(&got);
	/* A short period: cuts repeat or are forced, never out of range. */
	for (size_t i = 0; i < n; i++)
		d[i] = "abcabcabd"[i % 9];
	chunk_stream(&got, &small, d, n, NULL, false);
	assert_well_formed(&got, &small, n);
	cuts_release(&got);
	memset(d, 0xff, n);
	d[n / 2] = 0;
	chunk_stream(&got, &small, d, n, piece_random, false);
	assert_well_formed(&got, &small, n);
	cuts_release(&got);
	hbr_free(d);
}

static void test_empty_stream_has_no_chunks(void **state)
{
	struct hbr_chunker c;

	(void)state;
	assert_int_equal(hbr_chunker_init(&c, &small), 0);
	assert_int_equal(hbr_chunker_next(&c, NULL, 0, false), 0);
	assert_int_equal(hbr_chunker_next(&c, NULL, 0, true), 0);
	assert_int_equal(hbr_chunker_pending(&c), 0);
}

static void test_sha256_vectors(void **state)
{
	uint8_t id[HBR_CHUNK_ID_LEN];
	char hex[HBR_CHUNK_HEX_LEN];

	(void)state;
	assert_int_equal(hbr_chunk_id(id, "abc", 3), 0);
	hbr_chunk_id_hex(hex, id);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
	                         "b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(hbr_chunk_id(id, "", 0), 0);
	hbr_chunk_id_hex(hex, id);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
	                         "27ae41e4649b934ca495991b7852b855");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gear_table_is_splitmix64_of_hbr_gear),
		cmocka_unit_test(test_sizes_are_validated),
		cmocka_unit_test(test_matches_reference_and_tiles_input),
		cmocka_unit_test(test_streaming_in_any_pieces_gives_same_cuts),
		cmocka_unit_test(
		        test_insertion_shifts_boundaries_and_keeps_ids),
		cmocka_unit_test(test_golden_cut_offsets),
		cmocka_unit_test(test_degenerate_inputs_respect_max),
		cmocka_unit_test(test_empty_stream_has_no_chunks),
		cmocka_unit_test(test_sha256_vectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
