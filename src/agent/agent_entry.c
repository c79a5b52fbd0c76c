/* Tree entries and their JSON lines (agent_entry.h). */
#include "common.h"
#include <inttypes.h>
#include <openssl/evp.h>
#include "agent/agent_entry.h"
#include "core/tree.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/urlenc.h"
#include "util/jsonesc.h"

static const char hexd[] = "0123456789abcdef";

static size_t line_chunks = HBR_AGENT_LINE_CHUNKS;

void hbr_agent_set_line_chunks(size_t n)
{
	line_chunks =
	        n == 0 || n > HBR_AGENT_LINE_CHUNKS ? HBR_AGENT_LINE_CHUNKS : n;
}

size_t hbr_agent_line_chunks(void)
{
	return line_chunks;
}

void hbr_agent_entry_init(struct hbr_agent_entry *e)
{
	memset(e, 0, sizeof(*e));
	hbr_buf_init(&e->path, 0);
	hbr_buf_init(&e->link, 0);
	hbr_buf_init(&e->xattrs, 0);
}

void hbr_agent_entry_clear(struct hbr_agent_entry *e)
{
	hbr_buf_clear(&e->path);
	hbr_buf_clear(&e->link);
	hbr_buf_clear(&e->xattrs);
	json_decref(e->xattr_obj);
	e->xattr_obj = NULL;
	e->type = 0;
	e->mode = e->uid = e->gid = 0;
	e->mtime_ns = e->ctime_ns = 0;
	e->ino = e->size = e->rdev = 0;
	e->sparse = false;
	e->n_ext = 0;
	e->n_chunks = 0;
}

void hbr_agent_entry_release(struct hbr_agent_entry *e)
{
	if (!e)
		return;
	hbr_buf_release(&e->path);
	hbr_buf_release(&e->link);
	hbr_buf_release(&e->xattrs);
	json_decref(e->xattr_obj);
	hbr_free(e->ext);
	hbr_free(e->chunks);
	memset(e, 0, sizeof(*e));
}

void hbr_agent_entry_add_chunk(struct hbr_agent_entry *e,
                               const uint8_t id[HBR_CHUNK_ID_LEN], uint32_t len)
{
	hbr_grow((void **)&e->chunks, &e->cap_chunks, e->n_chunks + 1,
	         sizeof(*e->chunks));
	memcpy(e->chunks[e->n_chunks].id, id, HBR_CHUNK_ID_LEN);
	e->chunks[e->n_chunks++].len = len;
}

void hbr_agent_entry_add_extent(struct hbr_agent_entry *e, uint64_t off,
                                uint64_t len)
{
	hbr_grow((void **)&e->ext, &e->cap_ext, e->n_ext + 1, sizeof(*e->ext));
	e->ext[e->n_ext].off = off;
	e->ext[e->n_ext++].len = len;
}

bool hbr_agent_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		unsigned c = *p, n;
		uint32_t cp;

		if (c == 0)
			return false;
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return false;
		if ((size_t)(end - p) <= n)
			return false;
		for (unsigned i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		/* Overlong forms, surrogates and past U+10FFFF. */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		p += n + 1;
	}
	return true;
}

static int put_hex(struct hbr_buf *out, const void *data, size_t len)
{
	const unsigned char *p = data;
	int error = 0;

	for (size_t i = 0; i < len && !error; i++) {
		char two[2] = { hexd[p[i] >> 4], hexd[p[i] & 15] };
		error = hbr_buf_put(out, two, 2);
	}
	return error;
}

/* ,"key":"text" or ,"keyx":"hex" when the bytes are not UTF-8. */
static int put_bytes(struct hbr_buf *out, const char *key, const char *s,
                     size_t len)
{
	int error;

	if (hbr_agent_utf8_valid(s, len)) {
		if ((error = hbr_buf_printf(out, "\"%s\":", key)) < 0)
			return error;
		return hbr_json_escape(out, s);
	}
	if ((error = hbr_buf_printf(out, "\"%sx\":\"", key)) < 0 ||
	    (error = put_hex(out, s, len)) < 0)
		return error;
	return hbr_buf_putc(out, '"');
}

/* ,"key":[[id, length], ...] of chunks [from, to), or the same opening
 * a continuation line. */
static int put_chunks(struct hbr_buf *out, const char *key,
                      const struct hbr_agent_entry *e, size_t from, size_t to)
{
	int error;

	if ((error = hbr_buf_reserve(out, 8 + (to - from) * 78)) < 0 ||
	    (error = hbr_buf_printf(out, "\"%s\":[", key)) < 0)
		return error;
	for (size_t i = from; i < to; i++) {
		char hex[HBR_CHUNK_HEX_LEN];

		hbr_chunk_id_hex(hex, e->chunks[i].id);
		if ((error = hbr_buf_printf(out, "%s[\"%s\",%" PRIu32 "]",
		                            i > from ? "," : "", hex,
		                            e->chunks[i].len)) < 0)
			return error;
	}
	return hbr_buf_putc(out, ']');
}

static size_t line_end(const struct hbr_agent_entry *e, size_t from)
{
	return e->n_chunks - from > line_chunks ? from + line_chunks :
	                                          e->n_chunks;
}

int hbr_agent_entry_encode(struct hbr_buf *out, const struct hbr_agent_entry *e)
{
	size_t next = 0;
	int error;

	do {
		if ((error = hbr_agent_entry_encode_line(out, e, &next)) < 0)
			return error;
	} while (next < e->n_chunks);
	return 0;
}

int hbr_agent_entry_encode_line(struct hbr_buf *out,
                                const struct hbr_agent_entry *e, size_t *next)
{
	char type[2] = { e->type, 0 };
	size_t to;
	int error;

	if (*next) {
		to = line_end(e, *next);
		if ((error = hbr_buf_putc(out, '{')) < 0 ||
		    (error = put_chunks(out, HBR_TREE_MORE_KEY, e, *next, to)) <
		            0 ||
		    (error = hbr_buf_puts(out, "}\n")) < 0)
			return error;
		*next = to;
		return 0;
	}

	if ((error = hbr_buf_putc(out, '{')) < 0 ||
	    (error = put_bytes(out, "p", e->path.ptr ? e->path.ptr : "",
	                       e->path.len)) < 0 ||
	    (error = hbr_buf_printf(out,
	                            ",\"t\":\"%s\",\"m\":%" PRIu32
	                            ",\"u\":%" PRIu32 ",\"g\":%" PRIu32
	                            ",\"mt\":%" PRId64 ",\"ct\":%" PRId64,
	                            type, e->mode, e->uid, e->gid, e->mtime_ns,
	                            e->ctime_ns)) < 0)
		return error;
	if (e->type == 'l' || e->type == 'h') {
		if ((error = hbr_buf_putc(out, ',')) < 0 ||
		    (error = put_bytes(out, "l", e->link.ptr ? e->link.ptr : "",
		                       e->link.len)) < 0)
			return error;
	}
	if ((e->type == 'c' || e->type == 'b') &&
	    (error = hbr_buf_printf(out, ",\"rd\":%" PRId64,
	                            (int64_t)e->rdev)) < 0)
		return error;
	if (e->xattrs.len &&
	    (error = hbr_buf_printf(out, ",\"x\":%s", e->xattrs.ptr)) < 0)
		return error;
	if (e->type == 'f') {
		/* Inodes print signed: a 64-bit inode above INT64_MAX must
		 * survive jansson, whose integers are signed. */
		if ((error = hbr_buf_printf(out,
		                            ",\"i\":%" PRId64 ",\"s\":%" PRIu64,
		                            (int64_t)e->ino, e->size)) < 0)
			return error;
		if (e->sparse) {
			if ((error = hbr_buf_puts(out, ",\"sp\":[")) < 0)
				return error;
			for (size_t i = 0; i < e->n_ext; i++)
				if ((error = hbr_buf_printf(
				             out, "%s[%" PRIu64 ",%" PRIu64 "]",
				             i ? "," : "", e->ext[i].off,
				             e->ext[i].len)) < 0)
					return error;
			if ((error = hbr_buf_putc(out, ']')) < 0)
				return error;
		}
		to = line_end(e, 0);
		if ((error = hbr_buf_putc(out, ',')) < 0 ||
		    (error = put_chunks(out, "c", e, 0, to)) < 0)
			return error;
		*next = to;
	} else {
		*next = e->n_chunks; /* only files carry chunks */
	}
	return hbr_buf_puts(out, "}\n");
}

static int corrupt(const struct hbr_agent_entry *e, const char *what)
{
	return hbr_error_set(HBR_ECORRUPT, "tree entry '%.200s': %s",
	                     e->path.len ? e->path.ptr : "?", what);
}

/* "key" as text or "keyx" as hex into out. 0 absent, 1 present. */
static int get_bytes(struct hbr_buf *out, const json_t *line, const char *key)
{
	char xkey[8];
	const json_t *v = json_object_get(line, key);
	const char *s;
	size_t len;
	int error;

	if (json_is_string(v)) {
		if ((error = hbr_buf_put(out, json_string_value(v),
		                         json_string_length(v))) < 0)
			return error;
		return 1;
	}
	(void)snprintf(xkey, sizeof(xkey), "%sx", key);
	v = json_object_get(line, xkey);
	if (!json_is_string(v))
		return 0;
	s = json_string_value(v);
	len = json_string_length(v);
	if (len % 2)
		return hbr_error_set(HBR_ECORRUPT, "\"%s\" is not hex", xkey);
	for (size_t i = 0; i < len; i += 2) {
		int hi = hbr_hex_digit((char)s[i]),
		    lo = hbr_hex_digit((char)s[i + 1]);
		char c;

		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return hbr_error_set(HBR_ECORRUPT,
			                     "\"%s\" is not hex of a name",
			                     xkey);
		c = (char)(hi << 4 | lo);
		if ((error = hbr_buf_putc(out, c)) < 0)
			return error;
	}
	return 1;
}

static int64_t get_int(const json_t *line, const char *key)
{
	return json_integer_value(json_object_get(line, key));
}

static int decode_chunks(struct hbr_agent_entry *e, const json_t *c)
{
	const json_t *pair;
	size_t i;

	if (!c)
		return 0;
	if (!json_is_array(c))
		return corrupt(e, "\"c\" is not an array");
	json_array_foreach(c, i, pair)
	{
		const json_t *hex = json_array_get(pair, 0);
		json_int_t len = json_integer_value(json_array_get(pair, 1));
		uint8_t id[HBR_CHUNK_ID_LEN];

		if (json_array_size(pair) != 2 || !json_is_string(hex) ||
		    len <= 0 || len > HBR_CHUNKER_MAX_LIMIT ||
		    hbr_chunk_id_parse(id, json_string_value(hex),
		                       json_string_length(hex)) < 0)
			return corrupt(e, "a chunk is not [hex id, length]");
		hbr_agent_entry_add_chunk(e, id, (uint32_t)len);
	}
	return 0;
}

static int decode_extents(struct hbr_agent_entry *e, const json_t *sp)
{
	const json_t *pair;
	size_t i;

	if (!sp)
		return 0;
	if (!json_is_array(sp))
		return corrupt(e, "\"sp\" is not an array");
	e->sparse = true;
	json_array_foreach(sp, i, pair)
	{
		json_int_t off = json_integer_value(json_array_get(pair, 0));
		json_int_t len = json_integer_value(json_array_get(pair, 1));

		if (json_array_size(pair) != 2 || off < 0 || len < 0 ||
		    (uint64_t)off + (uint64_t)len > e->size)
			return corrupt(e, "an extent is not [offset, length]"
			                  " within the file");
		hbr_agent_entry_add_extent(e, (uint64_t)off, (uint64_t)len);
	}
	return 0;
}

int hbr_agent_entry_decode(struct hbr_agent_entry *e, const json_t *line)
{
	const char *t = json_string_value(json_object_get(line, "t"));
	const json_t *x;
	int rc;

	hbr_agent_entry_clear(e);
	if (hbr_agent_line_is_more(line))
		return corrupt(e, "a continuation line where an entry belongs");
	if ((rc = get_bytes(&e->path, line, "p")) < 0)
		return rc;
	if (rc == 0 || e->path.len == 0 || e->path.ptr[0] != '/')
		return corrupt(e, "no absolute path");
	if (!t || strlen(t) != 1 || !strchr("dflhcbp", t[0]))
		return corrupt(e, "unknown type");
	e->type = t[0];
	e->mode = (uint32_t)get_int(line, "m") & 07777;
	e->uid = (uint32_t)get_int(line, "u");
	e->gid = (uint32_t)get_int(line, "g");
	e->mtime_ns = get_int(line, "mt");
	e->ctime_ns = get_int(line, "ct");
	e->ino = (uint64_t)get_int(line, "i");
	e->rdev = (uint64_t)get_int(line, "rd");
	if (get_int(line, "s") < 0)
		return corrupt(e, "negative size");
	e->size = (uint64_t)get_int(line, "s");
	if (e->type == 'l' || e->type == 'h') {
		if ((rc = get_bytes(&e->link, line, "l")) < 0)
			return rc;
		if (rc == 0 || !e->link.len)
			return corrupt(e, "a link without a target");
	}
	x = json_object_get(line, "x");
	if (x) {
		if (!json_is_object(x))
			return corrupt(e, "\"x\" is not an object");
		e->xattr_obj = json_incref((json_t *)x);
	}
	if (e->type == 'f') {
		if ((rc = decode_extents(e, json_object_get(line, "sp"))) < 0 ||
		    (rc = decode_chunks(e, json_object_get(line, "c"))) < 0)
			return rc;
	}
	return 0;
}

bool hbr_agent_line_is_more(const json_t *line)
{
	return json_object_get(line, HBR_TREE_MORE_KEY) != NULL;
}

int hbr_agent_entry_decode_more(struct hbr_agent_entry *e, const json_t *line)
{
	if (e->type != 'f')
		return corrupt(e, "a continuation line after what is not a"
		                  " regular file");
	if (json_object_get(line, "c") || json_object_get(line, "t"))
		return corrupt(e, "a continuation line with \"c\" or \"t\"");
	return decode_chunks(e, json_object_get(line, HBR_TREE_MORE_KEY));
}

int hbr_agent_tree_header(struct hbr_buf *out, char *const *roots, size_t n,
                          const char *host, int64_t time)
{
	int error;

	if ((error = hbr_buf_puts(out, "{\"hbr_tree\":1,\"paths\":[")) < 0)
		return error;
	for (size_t i = 0; i < n; i++) {
		if (i && (error = hbr_buf_putc(out, ',')) < 0)
			return error;
		/* Roots come from the job (JSON strings): valid UTF-8. */
		if ((error = hbr_json_escape(out, roots[i])) < 0)
			return error;
	}
	if ((error = hbr_buf_puts(out, "],\"host\":")) < 0 ||
	    (error = hbr_json_escape(out, host ? host : "")) < 0)
		return error;
	return hbr_buf_printf(out, ",\"time\":%" PRId64 "}\n", time);
}

int hbr_agent_xattr_add(struct hbr_buf *obj, const char *name,
                        const void *value, size_t len)
{
	size_t b64 = 4 * ((len + 2) / 3);
	int error;

	if (!hbr_agent_utf8_valid(name, strlen(name)))
		return 0;
	if ((error = hbr_buf_putc(obj, obj->len ? ',' : '{')) < 0 ||
	    (error = hbr_json_escape(obj, name)) < 0 ||
	    (error = hbr_buf_puts(obj, ":\"")) < 0 ||
	    (error = hbr_buf_reserve(obj, b64 + 2)) < 0)
		return error;
	(void)EVP_EncodeBlock((unsigned char *)obj->ptr + obj->len, value,
	                      (int)len);
	obj->len += b64;
	obj->ptr[obj->len] = '\0';
	if ((error = hbr_buf_putc(obj, '"')) < 0)
		return error;
	return 1;
}

int hbr_agent_base64_decode(struct hbr_buf *out, const char *s, size_t len,
                            size_t max)
{
	size_t pad = 0;
	int n;
	int error;

	hbr_buf_clear(out);
	if (len % 4 || len / 4 * 3 > max + 2)
		return hbr_error_set(HBR_ECORRUPT, "an xattr value is not"
		                                   " base64 or too long");
	if (len == 0)
		return 0;
	if ((error = hbr_buf_reserve(out, len / 4 * 3 + 1)) < 0)
		return error;
	n = EVP_DecodeBlock((unsigned char *)out->ptr, (const unsigned char *)s,
	                    (int)len);
	if (n < 0)
		return hbr_error_set(HBR_ECORRUPT, "an xattr value is not"
		                                   " base64");
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	while (pad < 2 && len > pad && s[len - 1 - pad] == '=')
		pad++;
	out->len = (size_t)n - pad;
	out->ptr[out->len] = '\0';
	return 0;
}
