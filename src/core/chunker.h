/*
 * Content-defined chunking for the agent (FastCDC with normalized
 * chunking, docs/CHUNKING.md) and SHA-256 chunk ids.
 *
 * Boundaries depend only on the bytes, never on how they were delivered:
 * the chunker is a small state machine fed buffers of any size, so the
 * agent streams a file through it and never holds more than one chunk
 * (at most `max` bytes) of it.
 */
#ifndef HBR_CORE_CHUNKER_H
#define HBR_CORE_CHUNKER_H

#include "common.h"

#define HBR_CHUNK_ID_LEN  32
#define HBR_CHUNK_HEX_LEN 65 /* 64 hex digits + NUL */

/* Hard cap on `max`: an in-flight chunk buffer is at most this big. */
#define HBR_CHUNKER_MAX_LIMIT (16u << 20)
/* `min` must cover the 64-byte hash window (see chunker.c). */
#define HBR_CHUNKER_MIN_LIMIT 64u

/*
 * The defaults, chosen by measurement (docs/CHUNKING.md): 64 KiB is the
 * largest average that keeps a 10 % change made in 64 KiB-1 MiB runs under
 * 1.5x its size in new chunks (1.46x; 128 KiB gives 1.88x), at 15 M
 * chunks per TiB. max = 4 avg is never reached on real data (normalized
 * chunking), so it only bounds the agent's in-flight buffers.
 */
#define HBR_CHUNKER_DEFAULT_MIN (16u << 10)
#define HBR_CHUNKER_DEFAULT_AVG (64u << 10)
#define HBR_CHUNKER_DEFAULT_MAX (256u << 10)

struct hbr_chunker_params {
	uint32_t min; /* no boundary before this many bytes */
	uint32_t avg; /* the normalization point; a power of two */
	uint32_t max; /* forced boundary here; <= HBR_CHUNKER_MAX_LIMIT */
};

struct hbr_chunker {
	uint64_t hash;
	uint64_t mask_s; /* stricter mask, used before avg */
	uint64_t mask_l; /* looser mask, used from avg on */
	uint32_t min, avg, max;
	uint32_t warm; /* hashing starts here, 64 bytes before min */
	uint32_t pos; /* bytes of the current chunk seen so far */
};

/* The 256-entry gear table (a format constant; chunker.c says how it was
 * made). Exported so the tests can check it against its generator. */
extern const uint64_t hbr_chunker_gear[256];

/* The defaults above, for callers that have no configuration. */
void hbr_chunker_params_default(struct hbr_chunker_params *p);

/* Check p (64 <= min < avg < max <= 16 MiB, avg a power of two) and
 * start a stream. HBR_EINVAL with a message naming the bad size. */
int hbr_chunker_init(struct hbr_chunker *c, const struct hbr_chunker_params *p);

/* Forget the current chunk and start a new stream (the next file). */
void hbr_chunker_reset(struct hbr_chunker *c);

/*
 * Feed the next len bytes of the stream. Returns k in [1, len] when a
 * chunk ends after data[k - 1]: the chunk is every byte given since the
 * last boundary up to there, and the caller calls again with data + k.
 * Returns 0 when data holds no boundary: all of it belongs to the current
 * chunk, which stays open.
 *
 * eof says data is the end of the stream: the last chunk is then closed at
 * the end of data (returns len) if no content-defined boundary comes
 * first, and the chunker is reset for the next stream. With eof and
 * len == 0 there is nothing to point into: the bytes given since the last
 * boundary (hbr_chunker_pending, read before the call) are the last chunk.
 */
size_t hbr_chunker_next(struct hbr_chunker *c, const uint8_t *data, size_t len,
                        bool eof);

/* Bytes of the current, still open chunk given so far. */
static inline uint32_t hbr_chunker_pending(const struct hbr_chunker *c)
{
	return c->pos;
}

/* SHA-256 of one chunk (one shot, OpenSSL EVP: SHA-NI when present).
 * HBR_ERROR only if libcrypto fails. */
int hbr_chunk_id(uint8_t out[HBR_CHUNK_ID_LEN], const void *data, size_t len);
/* Lower-case hex of an id into out[65]. */
void hbr_chunk_id_hex(char out[HBR_CHUNK_HEX_LEN],
                      const uint8_t id[HBR_CHUNK_ID_LEN]);

#endif
