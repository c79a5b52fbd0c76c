/*
 * Chunker benchmark (issue 4): single-core throughput of FastCDC alone and
 * with SHA-256 ids, and what a 10 % change costs in new chunks for each
 * candidate average size. The numbers behind the defaults in
 * src/core/chunker.h; docs/CHUNKING.md has a run and the reasoning.
 *
 * Usage: hbr-chunker-bench [MiB]   (default 256)
 *
 * The data set is made from SplitMix64 with fixed seeds, so every run
 * chunks the same bytes:
 *   v1  segments of 64 KiB-4 MiB, 60 % random bytes (incompressible) and
 *       40 % text-like lines drawn from a 4096-word vocabulary;
 *   v2  "scattered": v1 with 10 % of its 4 KiB blocks (chosen uniformly)
 *       overwritten, then 32 insertions and 32 deletions of 1-256 bytes;
 *   v3  "regional": v1 with 10 % of its bytes overwritten in runs of
 *       64 KiB-1 MiB (the shape of bench/peers.sh's edits), plus the same
 *       insertions and deletions.
 * "new" is the bytes of v2 (v3) in chunks whose id is not among v1's,
 * each distinct chunk counted once: what an incremental backup uploads
 * before compression. "x changed" divides it by the bytes actually
 * changed (overwritten + inserted).
 */
#include "common.h"
#include "core/chunker.h"
#include "util/alloc.h"
#include "util/timeutil.h"
#include <math.h>
#ifdef HBR_BENCH_ZSTD
#include <zstd.h>
#endif

#define MiB       (1024.0 * 1024.0)
#define READ_SIZE ((size_t)1 << 20) /* the agent's read buffer */

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint64_t rng_below(struct rng *r, uint64_t n)
{
	return rng_next(r) % n;
}

static void fill_random(struct rng *r, uint8_t *p, size_t n)
{
	while (n >= 8) {
		uint64_t v = rng_next(r);

		memcpy(p, &v, 8);
		p += 8;
		n -= 8;
	}
	while (n--)
		*p++ = (uint8_t)rng_next(r);
}

/* Lines of words from a fixed vocabulary: compresses about 3x, like
 * source code and logs, and has the short repeats text has. */
static void fill_text(struct rng *r, uint8_t *p, size_t n, char vocab[][12])
{
	size_t col = 0;

	while (n) {
		const char *w = vocab[rng_below(r, 4096)];

		for (size_t k = 0; w[k] && n; k++, n--, col++)
			*p++ = (uint8_t)w[k];
		if (!n)
			break;
		*p++ = col > 72 ? '\n' : ' ';
		col = col > 72 ? 0 : col + 1;
		n--;
	}
}

static uint8_t *make_v1(size_t size)
{
	static char vocab[4096][12];
	struct rng r = { 20261127 };
	uint8_t *d = hbr_malloc(size);

	for (size_t i = 0; i < 4096; i++) {
		size_t len = 2 + rng_below(&r, 9);

		for (size_t k = 0; k < len; k++)
			vocab[i][k] = (char)('a' + rng_below(&r, 26));
		vocab[i][len] = '\0';
	}
	for (size_t off = 0; off < size;) {
		size_t n = ((size_t)64 << 10) + rng_below(&r, (size_t)4 << 20);

		if (n > size - off)
			n = size - off;
		if (rng_below(&r, 10) < 6)
			fill_random(&r, d + off, n);
		else
			fill_text(&r, d + off, n, vocab);
		off += n;
	}
	return d;
}

/* 32 insertions and 32 deletions of 1-256 bytes at random places. */
static uint8_t *shift_edits(struct rng *r, uint8_t *d, size_t *size,
                            size_t *changed)
{
	uint8_t *out = hbr_malloc(*size + 32 * 256);
	size_t ins[64];
	size_t len = *size, o = 0, prev = 0;

	for (size_t k = 0; k < 64; k++)
		ins[k] = rng_below(r, len - 512);
	for (size_t a = 1; a < 64; a++) /* insertion sort: 64 entries */
		for (size_t b = a; b > 0 && ins[b - 1] > ins[b]; b--) {
			size_t t = ins[b];
			ins[b] = ins[b - 1];
			ins[b - 1] = t;
		}
	for (size_t k = 0; k < 64; k++) {
		size_t at = ins[k] < prev ? prev : ins[k];
		size_t n = 1 + rng_below(r, 256);

		memcpy(out + o, d + prev, at - prev);
		o += at - prev;
		if (k & 1) { /* delete n bytes */
			prev = at + n;
		} else { /* insert n bytes */
			fill_random(r, out + o, n);
			o += n;
			*changed += n;
			prev = at;
		}
	}
	memcpy(out + o, d + prev, len - prev);
	o += len - prev;
	hbr_free(d);
	*size = o;
	return out;
}

static uint8_t *make_scattered(const uint8_t *v1, size_t size, size_t *out_len,
                               size_t *changed)
{
	struct rng r = { 4242 };
	uint8_t *d = hbr_malloc(size);
	size_t blocks = size / 4096, want = blocks / 10, done = 0;
	uint8_t *hit = hbr_calloc(blocks, 1);

	memcpy(d, v1, size);
	while (done < want) {
		size_t b = rng_below(&r, blocks);

		if (hit[b])
			continue;
		hit[b] = 1;
		fill_random(&r, d + b * 4096, 4096);
		done++;
	}
	hbr_free(hit);
	*changed = want * 4096;
	*out_len = size;
	return shift_edits(&r, d, out_len, changed);
}

static uint8_t *make_regional(const uint8_t *v1, size_t size, size_t *out_len,
                              size_t *changed)
{
	struct rng r = { 777 };
	uint8_t *d = hbr_malloc(size);
	uint8_t *hit = hbr_calloc(size / 4096, 1);
	size_t want = size / 10, done = 0;

	memcpy(d, v1, size);
	/* Count changed 4 KiB pages once even where runs overlap. */
	while (done < want) {
		size_t n =
		        ((size_t)64 << 10) + rng_below(&r, (size_t)960 << 10);
		size_t at = rng_below(&r, size - n) & ~(size_t)4095;

		n &= ~(size_t)4095;
		fill_random(&r, d + at, n);
		for (size_t p = at / 4096; p < (at + n) / 4096; p++)
			if (!hit[p]) {
				hit[p] = 1;
				done += 4096;
			}
	}
	hbr_free(hit);
	*changed = done;
	*out_len = size;
	return shift_edits(&r, d, out_len, changed);
}

struct chunk {
	uint8_t id[HBR_CHUNK_ID_LEN];
	uint32_t len;
};

struct chunks {
	struct chunk *v;
	size_t n, cap;
	double seconds;
};

/* Stream d through the chunker in READ_SIZE reads, as the agent will;
 * with ids, hash each chunk as it closes. */
static void run(struct chunks *out, const struct hbr_chunker_params *p,
                const uint8_t *d, size_t size, bool ids)
{
	struct hbr_chunker c;
	size_t start = 0;
	uint64_t t0;

	out->n = 0;
	if (hbr_chunker_init(&c, p) < 0)
		abort();
	t0 = hbr_time_mono_ns();
	for (size_t off = 0; off < size;) {
		size_t n = size - off < READ_SIZE ? size - off : READ_SIZE;
		bool eof = off + n == size;
		size_t k, used = 0;

		while (used < n && (k = hbr_chunker_next(&c, d + off + used,
		                                         n - used, eof)) > 0) {
			struct chunk *ch;

			used += k;
			hbr_grow((void **)&out->v, &out->cap, out->n + 1,
			         sizeof(*out->v));
			ch = &out->v[out->n++];
			ch->len = (uint32_t)(off + used - start);
			if (ids && hbr_chunk_id(ch->id, d + start, ch->len) < 0)
				abort();
			start = off + used;
		}
		off += n;
	}
	out->seconds = (double)(hbr_time_mono_ns() - t0) / 1e9;
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, HBR_CHUNK_ID_LEN);
}

/* Bytes of `b` in distinct chunks that are not in `a` (a sorted). */
static size_t new_bytes(const struct chunks *a, struct chunks *b)
{
	size_t sum = 0;

	qsort(b->v, b->n, sizeof(*b->v), cmp_id);
	for (size_t i = 0; i < b->n; i++) {
		if (i && !memcmp(b->v[i].id, b->v[i - 1].id, HBR_CHUNK_ID_LEN))
			continue;
		if (!bsearch(&b->v[i], a->v, a->n, sizeof(*a->v), cmp_id))
			sum += b->v[i].len;
	}
	return sum;
}

#ifdef HBR_BENCH_ZSTD
/* v1's size after zstd -1 of each chunk on its own, as the agent will
 * store it: smaller chunks give the compressor less context. */
static double zstd_ratio(const struct chunks *c, const uint8_t *d)
{
	size_t cap = ZSTD_compressBound(HBR_CHUNKER_MAX_LIMIT), in = 0, out = 0;
	uint8_t *buf = hbr_malloc(cap);
	ZSTD_CCtx *cx = ZSTD_createCCtx();

	for (size_t i = 0; i < c->n; i++) {
		size_t z =
		        ZSTD_compressCCtx(cx, buf, cap, d + in, c->v[i].len, 1);

		if (ZSTD_isError(z))
			abort();
		in += c->v[i].len;
		out += z;
	}
	ZSTD_freeCCtx(cx);
	hbr_free(buf);
	return (double)in / out;
}
#else
static double zstd_ratio(const struct chunks *c, const uint8_t *d)
{
	(void)c;
	(void)d;
	return 0;
}
#endif

static double median3(double a, double b, double c)
{
	if (a > b) {
		double t = a;
		a = b;
		b = t;
	}
	return c < a ? a : c > b ? b : c;
}

int main(int argc, char **argv)
{
	static const uint32_t avgs[] = { 4 << 10,   8 << 10,   16 << 10,
		                         32 << 10,  64 << 10,  128 << 10,
		                         256 << 10, 512 << 10, 1 << 20,
		                         2 << 20 };
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
	size_t size = mib << 20, len2, len3, ch2, ch3;
	struct chunks a = { 0 }, b = { 0 };
	uint8_t *v1, *v2, *v3;

	v1 = make_v1(size);
	v2 = make_scattered(v1, size, &len2, &ch2);
	v3 = make_regional(v1, size, &len3, &ch3);
	printf("data: %zu MiB; v2 scattered: %.1f MiB changed; v3 regional: "
	       "%.1f MiB changed\n\n",
	       mib, ch2 / MiB, ch3 / MiB);
	printf("| min / avg / max KiB | chunks | mean KiB | stddev KiB "
	       "| at max | chunks/TiB | CDC GB/s | CDC+SHA-256 GB/s "
	       "| zstd-1 ratio | v2 new MiB | v2 x changed | v3 new MiB "
	       "| v3 x changed |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < HBR_ARRAY_SIZE(avgs); i++) {
		for (uint32_t mul = 4; mul <= 8; mul += 4) {
			struct hbr_chunker_params p = { avgs[i] / 4, avgs[i],
				                        avgs[i] * mul };
			double t[3], mean, var = 0, cdc, sha, zr;
			size_t atmax = 0, n2, n3;

			if (mul == 8 && avgs[i] != (1u << 20))
				continue;
			for (int r = 0; r < 3; r++) {
				run(&a, &p, v1, size, false);
				t[r] = a.seconds;
			}
			cdc = size / median3(t[0], t[1], t[2]) / 1e9;
			for (int r = 0; r < 3; r++) {
				run(&a, &p, v1, size, true);
				t[r] = a.seconds;
			}
			sha = size / median3(t[0], t[1], t[2]) / 1e9;
			mean = (double)size / a.n;
			for (size_t k = 0; k < a.n; k++) {
				double dlt = a.v[k].len - mean;

				var += dlt * dlt;
				atmax += a.v[k].len == p.max;
			}
			zr = zstd_ratio(&a, v1);
			qsort(a.v, a.n, sizeof(*a.v), cmp_id);
			run(&b, &p, v2, len2, true);
			n2 = new_bytes(&a, &b);
			run(&b, &p, v3, len3, true);
			n3 = new_bytes(&a, &b);
			printf("| %u / %u / %u | %zu | %.1f | %.1f | %zu "
			       "| %.1f M | %.2f | %.2f | %.2f | %.1f | %.2f "
			       "| %.1f | %.2f |\n",
			       p.min >> 10, p.avg >> 10, p.max >> 10, a.n,
			       mean / 1024, sqrt(var / a.n) / 1024, atmax,
			       1099511627776.0 / mean / 1e6, cdc, sha, zr,
			       n2 / MiB, (double)n2 / ch2, n3 / MiB,
			       (double)n3 / ch3);
			fflush(stdout);
		}
	}
	hbr_free(a.v);
	hbr_free(b.v);
	hbr_free(v1);
	hbr_free(v2);
	hbr_free(v3);
	return 0;
}
