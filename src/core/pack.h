/*
 * Packs: the unit in which chunks travel and are stored (format in
 * docs/AGENT-PROTOCOL.md). The agent builds them with the writer; the
 * server parses and verifies what it receives, and the same format is
 * what FetchAgentChunks answers, so one reader serves both directions.
 */
#ifndef HBR_CORE_PACK_H
#define HBR_CORE_PACK_H

#include "common.h"
#include "core/chunker.h"
#include "util/buf.h"

#define HBR_PACK_MAGIC      "HBRPACK1"
#define HBR_PACK_HEAD_LEN   12u /* magic + count */
#define HBR_PACK_ENTRY_LEN  48u
#define HBR_PACK_MAX_CHUNKS 65536u
#define HBR_PACK_MAX_BYTES  (40u << 20) /* a whole pack, header included */
#define HBR_PACK_TARGET     (8u << 20) /* agents close a pack here */
#define HBR_PACK_FLAG_ZSTD  1u
#define HBR_PACK_ZSTD_LEVEL 3
#define HBR_PACK_NAME_LEN   32 /* random hex digits of a pack id */
#define HBR_PACK_KEY_MAX    (sizeof("packs/hh/") + HBR_PACK_NAME_LEN)

struct hbr_pack_entry {
	uint8_t id[HBR_CHUNK_ID_LEN];
	uint32_t stored_len;
	uint32_t raw_len; /* <= HBR_CHUNKER_MAX_LIMIT */
	uint32_t flags;
	uint64_t offset; /* of the stored bytes, from the start of the pack */
};

/* A parsed pack: entries point into the caller's bytes (borrowed). */
struct hbr_pack_view {
	const uint8_t *data;
	size_t len;
	size_t header_len; /* HEAD_LEN + ENTRY_LEN * count */
	uint32_t count;
	struct hbr_pack_entry *entries; /* owned; count of them */
};

/* Parse and check the structure of data[0..len): magic, count, the
 * entry table, that the stored bytes add up to len exactly, flags known,
 * sizes within caps. It does not decompress or hash (see verify).
 * HBR_EINVAL naming what is wrong. */
int hbr_pack_parse(struct hbr_pack_view *out, const void *data, size_t len);
void hbr_pack_view_free(struct hbr_pack_view *v);
/* The header length a body of len bytes claims (to hash it before the
 * whole pack is parsed); HBR_EINVAL when len cannot hold one. */
int hbr_pack_header_len(size_t *out, const void *data, size_t len);

/* Decompress entry i into out (cleared first; its max is raised to
 * raw_len) and check its SHA-256 against the id. HBR_ECORRUPT naming
 * the chunk when it does not decompress to raw_len bytes or the hash
 * differs. */
int hbr_pack_chunk(struct hbr_buf *out, const struct hbr_pack_view *v,
                   uint32_t i);
/* hbr_pack_chunk for every entry, with one scratch buffer. */
int hbr_pack_verify(const struct hbr_pack_view *v);

/*
 * The writer: add chunks (already hashed), then finish. A chunk is
 * compressed with zstd at HBR_PACK_ZSTD_LEVEL unless that does not make
 * it smaller. Single-threaded; one writer per pack being built.
 */
struct hbr_pack_writer {
	struct hbr_buf table; /* entry table being built */
	struct hbr_buf data; /* stored chunks */
	uint32_t count;
	void *zctx; /* ZSTD_CCtx, owned */
	uint64_t raw_bytes;
};

int hbr_pack_writer_init(struct hbr_pack_writer *w);
void hbr_pack_writer_free(struct hbr_pack_writer *w);
/* Compress (or not) and append one chunk. level < 0: store raw. */
int hbr_pack_writer_add(struct hbr_pack_writer *w,
                        const uint8_t id[HBR_CHUNK_ID_LEN], const void *raw,
                        size_t raw_len, int level);
/* Append a chunk already in stored form (what FetchAgentChunks does
 * with bytes read from a pack). */
int hbr_pack_writer_add_stored(struct hbr_pack_writer *w,
                               const struct hbr_pack_entry *e,
                               const void *stored);
/* Bytes the pack would have if finished now. */
size_t hbr_pack_writer_size(const struct hbr_pack_writer *w);
/* The whole pack into out (appended); the writer is reset for the next
 * pack. *header_len_out (may be NULL) is the header's length. */
int hbr_pack_writer_finish(struct hbr_buf *out, size_t *header_len_out,
                           struct hbr_pack_writer *w);

/* A new pack id: 32 random lower-case hex digits. */
void hbr_pack_new_id(char out[HBR_PACK_NAME_LEN + 1]);
/* The vault key of a pack: "packs/<first two digits>/<id>", spreading
 * packs over 256 directories. */
void hbr_pack_key(char out[HBR_PACK_KEY_MAX], const char *pack_id);

#endif
