/* Packs: building, parsing and verifying (format: docs/AGENT-PROTOCOL.md). */
#include "common.h"
#include "core/pack.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/random.h"
#include <zstd.h>

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static int bad(const char *what)
{
	return hbr_error_set_param(HBR_EINVAL, "Pack", "malformed pack: %s",
	                           what);
}

int hbr_pack_header_len(size_t *out, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t count;

	if (len < HBR_PACK_HEAD_LEN || memcmp(p, HBR_PACK_MAGIC, 8))
		return bad("no HBRPACK1 magic");
	count = get_u32(p + 8);
	if (count == 0 || count > HBR_PACK_MAX_CHUNKS)
		return bad("chunk count out of range");
	*out = HBR_PACK_HEAD_LEN + (size_t)count * HBR_PACK_ENTRY_LEN;
	if (*out > len)
		return bad("truncated entry table");
	return 0;
}

int hbr_pack_parse(struct hbr_pack_view *out, const void *data, size_t len)
{
	const uint8_t *p = data;
	struct hbr_pack_view v = { .data = data, .len = len };
	uint64_t off;
	int error;

	if (len > HBR_PACK_MAX_BYTES)
		return bad("larger than 40 MiB");
	if ((error = hbr_pack_header_len(&v.header_len, data, len)) < 0)
		return error;
	v.count = get_u32(p + 8);
	v.entries = hbr_calloc(v.count, sizeof(*v.entries));
	off = v.header_len;
	for (uint32_t i = 0; i < v.count; i++) {
		const uint8_t *e =
		        p + HBR_PACK_HEAD_LEN + (size_t)i * HBR_PACK_ENTRY_LEN;
		struct hbr_pack_entry *pe = &v.entries[i];

		memcpy(pe->id, e, HBR_CHUNK_ID_LEN);
		pe->stored_len = get_u32(e + 32);
		pe->raw_len = get_u32(e + 36);
		pe->flags = get_u32(e + 40);
		pe->offset = off;
		if (pe->flags & ~HBR_PACK_FLAG_ZSTD || get_u32(e + 44)) {
			error = bad("unknown flags");
			goto fail;
		}
		if (pe->raw_len > HBR_CHUNKER_MAX_LIMIT ||
		    (!(pe->flags & HBR_PACK_FLAG_ZSTD) &&
		     pe->stored_len != pe->raw_len)) {
			error = bad("chunk sizes out of range");
			goto fail;
		}
		off += pe->stored_len;
		if (off > len) {
			error = bad("stored chunks run past the end");
			goto fail;
		}
	}
	if (off != len) {
		error = bad("bytes after the last chunk");
		goto fail;
	}
	*out = v;
	return 0;
fail:
	hbr_free(v.entries);
	return error;
}

void hbr_pack_view_free(struct hbr_pack_view *v)
{
	if (!v)
		return;
	hbr_free(v->entries);
	v->entries = NULL;
	v->count = 0;
}

static int corrupt(const struct hbr_pack_entry *e, const char *why)
{
	char hex[HBR_CHUNK_HEX_LEN];

	hbr_chunk_id_hex(hex, e->id);
	return hbr_error_set(HBR_ECORRUPT, "chunk %s: %s", hex, why);
}

int hbr_pack_chunk(struct hbr_buf *out, const struct hbr_pack_view *v,
                   uint32_t i)
{
	const struct hbr_pack_entry *e;
	const uint8_t *stored;
	uint8_t id[HBR_CHUNK_ID_LEN];
	int error;

	HBR_ASSERT(i < v->count);
	e = &v->entries[i];
	stored = v->data + e->offset;
	hbr_buf_clear(out);
	if (out->max && out->max < e->raw_len)
		out->max = e->raw_len;
	if ((error = hbr_buf_reserve(out, e->raw_len)) < 0)
		return error;
	if (e->flags & HBR_PACK_FLAG_ZSTD) {
		size_t n = ZSTD_decompress(out->ptr, e->raw_len, stored,
		                           e->stored_len);
		if (ZSTD_isError(n) || n != e->raw_len)
			return corrupt(e, "does not decompress to its size");
	} else {
		memcpy(out->ptr, stored, e->raw_len);
	}
	out->len = e->raw_len;
	out->ptr[out->len] = '\0';
	if ((error = hbr_chunk_id(id, out->ptr, out->len)) < 0)
		return error;
	if (memcmp(id, e->id, HBR_CHUNK_ID_LEN))
		return corrupt(e, "SHA-256 differs from its id");
	return 0;
}

int hbr_pack_verify(const struct hbr_pack_view *v)
{
	struct hbr_buf scratch;
	int error = 0;

	hbr_buf_init(&scratch, 0);
	for (uint32_t i = 0; i < v->count && !error; i++)
		error = hbr_pack_chunk(&scratch, v, i);
	hbr_buf_release(&scratch);
	return error;
}

int hbr_pack_writer_init(struct hbr_pack_writer *w)
{
	memset(w, 0, sizeof(*w));
	hbr_buf_init(&w->table, 0);
	hbr_buf_init(&w->data, 0);
	if (!(w->zctx = ZSTD_createCCtx()))
		return hbr_error_set(HBR_ERROR, "ZSTD_createCCtx failed");
	return 0;
}

void hbr_pack_writer_free(struct hbr_pack_writer *w)
{
	if (!w)
		return;
	hbr_buf_release(&w->table);
	hbr_buf_release(&w->data);
	ZSTD_freeCCtx(w->zctx);
	w->zctx = NULL;
}

static int add_entry(struct hbr_pack_writer *w, const uint8_t *id,
                     uint32_t stored_len, uint32_t raw_len, uint32_t flags)
{
	uint8_t e[HBR_PACK_ENTRY_LEN];

	if (w->count >= HBR_PACK_MAX_CHUNKS)
		return hbr_error_set(HBR_ETOOBIG, "pack is full (%u chunks)",
		                     HBR_PACK_MAX_CHUNKS);
	memcpy(e, id, HBR_CHUNK_ID_LEN);
	put_u32(e + 32, stored_len);
	put_u32(e + 36, raw_len);
	put_u32(e + 40, flags);
	put_u32(e + 44, 0);
	w->count++;
	w->raw_bytes += raw_len;
	return hbr_buf_put(&w->table, e, sizeof(e));
}

int hbr_pack_writer_add(struct hbr_pack_writer *w,
                        const uint8_t id[HBR_CHUNK_ID_LEN], const void *raw,
                        size_t raw_len, int level)
{
	size_t bound, n;
	int error;

	if (raw_len > HBR_CHUNKER_MAX_LIMIT)
		return hbr_error_set(HBR_ETOOBIG, "chunk of %zu bytes",
		                     raw_len);
	if (level >= 0 && raw_len > 0) {
		/* Compress straight into the pack's data buffer; a result that
		 * is not smaller is dropped by not advancing len. */
		bound = ZSTD_compressBound(raw_len);
		if ((error = hbr_buf_reserve(&w->data, bound)) < 0)
			return error;
		n = ZSTD_compressCCtx(w->zctx, w->data.ptr + w->data.len, bound,
		                      raw, raw_len, level);
		if (!ZSTD_isError(n) && n < raw_len) {
			w->data.len += n;
			w->data.ptr[w->data.len] = '\0';
			return add_entry(w, id, (uint32_t)n, (uint32_t)raw_len,
			                 HBR_PACK_FLAG_ZSTD);
		}
	}
	if ((error = hbr_buf_put(&w->data, raw, raw_len)) < 0)
		return error;
	return add_entry(w, id, (uint32_t)raw_len, (uint32_t)raw_len, 0);
}

int hbr_pack_writer_add_stored(struct hbr_pack_writer *w,
                               const struct hbr_pack_entry *e,
                               const void *stored)
{
	int error;

	if ((error = hbr_buf_put(&w->data, stored, e->stored_len)) < 0)
		return error;
	return add_entry(w, e->id, e->stored_len, e->raw_len, e->flags);
}

size_t hbr_pack_writer_size(const struct hbr_pack_writer *w)
{
	return HBR_PACK_HEAD_LEN + w->table.len + w->data.len;
}

int hbr_pack_writer_finish(struct hbr_buf *out, size_t *header_len_out,
                           struct hbr_pack_writer *w)
{
	uint8_t head[HBR_PACK_HEAD_LEN];
	int error;

	if (!w->count)
		return hbr_error_set(HBR_EINVAL, "an empty pack");
	memcpy(head, HBR_PACK_MAGIC, 8);
	put_u32(head + 8, w->count);
	if ((error = hbr_buf_reserve(out, hbr_pack_writer_size(w))) < 0 ||
	    (error = hbr_buf_put(out, head, sizeof(head))) < 0 ||
	    (error = hbr_buf_put(out, w->table.ptr, w->table.len)) < 0 ||
	    (error = hbr_buf_put(out, w->data.ptr, w->data.len)) < 0)
		return error;
	if (header_len_out)
		*header_len_out = HBR_PACK_HEAD_LEN + w->table.len;
	hbr_buf_clear(&w->table);
	hbr_buf_clear(&w->data);
	w->count = 0;
	w->raw_bytes = 0;
	return 0;
}

void hbr_pack_new_id(char out[HBR_PACK_NAME_LEN + 1])
{
	hbr_random_string(out, HBR_PACK_NAME_LEN, "0123456789abcdef");
	out[HBR_PACK_NAME_LEN] = '\0';
}

void hbr_pack_key(char out[HBR_PACK_KEY_MAX], const char *pack_id)
{
	(void)snprintf(out, HBR_PACK_KEY_MAX, "packs/%.2s/%s", pack_id,
	               pack_id);
}
