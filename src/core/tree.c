/* Snapshot trees: a streaming JSON-lines reader and chunk-id sets. */
#include "common.h"
#include "core/tree.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/urlenc.h"

void hbr_tree_reader_init(struct hbr_tree_reader *r, hbr_tree_entry_cb *cb,
                          void *payload)
{
	memset(r, 0, sizeof(*r));
	hbr_buf_init(&r->line, HBR_TREE_LINE_MAX);
	r->cb = cb;
	r->payload = payload;
}

void hbr_tree_reader_init_lines(struct hbr_tree_reader *r, hbr_tree_line_cb *cb,
                                void *payload)
{
	hbr_tree_reader_init(r, NULL, payload);
	r->line_cb = cb;
}

void hbr_tree_reader_free(struct hbr_tree_reader *r)
{
	if (r)
		hbr_buf_release(&r->line);
}

int hbr_tree_line_parse(json_t **out, const char *text, size_t len,
                        size_t line_no)
{
	json_error_t jerr;
	json_t *entry;

	entry = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!entry || !json_is_object(entry)) {
		json_decref(entry);
		return hbr_error_set(HBR_ECORRUPT,
		                     "tree line %zu is not a JSON object: %s",
		                     line_no, entry ? "" : jerr.text);
	}
	if (line_no == 0 &&
	    json_integer_value(json_object_get(entry, "hbr_tree")) != 1) {
		json_decref(entry);
		return hbr_error_set(
		        HBR_ECORRUPT,
		        "not an hbr tree (no \"hbr_tree\":1 header)");
	}
	*out = entry;
	return 0;
}

static int parse_line(struct hbr_tree_reader *r, const char *text, size_t len)
{
	json_t *entry = NULL;
	int rc;

	if (len == 0)
		return hbr_error_set(HBR_ECORRUPT, "tree line %zu is empty",
		                     r->line_no);
	if (r->line_cb) {
		rc = r->line_cb(text, len, r->line_no, r->payload);
	} else {
		if ((rc = hbr_tree_line_parse(&entry, text, len, r->line_no)) <
		    0)
			return rc;
		rc = r->cb ? r->cb(entry, r->line_no, r->payload) : 0;
		json_decref(entry);
	}
	r->line_no++;
	return rc;
}

int hbr_tree_reader_feed(struct hbr_tree_reader *r, const void *data,
                         size_t len)
{
	const char *p = data, *end = p + len;
	int error;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl) {
			/* The rest is the start of a line the next feed ends. */
			if ((error = hbr_buf_put(&r->line, p,
			                         (size_t)(end - p))) < 0)
				return error;
			return 0;
		}
		if (r->line.len) {
			if ((error = hbr_buf_put(&r->line, p,
			                         (size_t)(nl - p))) < 0)
				return error;
			error = parse_line(r, r->line.ptr, r->line.len);
			hbr_buf_clear(&r->line);
		} else {
			/* The common case: the whole line is in this piece,
			 * so it is parsed where it lies, without a copy. */
			error = parse_line(r, p, (size_t)(nl - p));
		}
		if (error)
			return error;
		p = nl + 1;
	}
	return 0;
}

int hbr_tree_reader_finish(struct hbr_tree_reader *r)
{
	int error = 0;

	if (r->line.len) {
		error = parse_line(r, r->line.ptr, r->line.len);
		hbr_buf_clear(&r->line);
	}
	if (!error && r->line_no == 0)
		error = hbr_error_set(HBR_ECORRUPT, "empty tree");
	return error;
}

/* The id's first 8 bytes as the hash: ids are SHA-256 output. */
static size_t slot_of(const uint8_t *id, size_t cap)
{
	uint64_t h;

	memcpy(&h, id, sizeof(h));
	return (size_t)(h & (cap - 1));
}

void hbr_idset_init(struct hbr_idset *s)
{
	memset(s, 0, sizeof(*s));
}

void hbr_idset_free(struct hbr_idset *s)
{
	if (!s)
		return;
	hbr_free(s->slots);
	hbr_free(s->used);
	memset(s, 0, sizeof(*s));
}

static void insert_new(uint8_t (*slots)[HBR_CHUNK_ID_LEN], uint8_t *used,
                       size_t cap, const uint8_t *id)
{
	size_t i = slot_of(id, cap);

	while (used[i])
		i = (i + 1) & (cap - 1);
	used[i] = 1;
	memcpy(slots[i], id, HBR_CHUNK_ID_LEN);
}

static void grow(struct hbr_idset *s)
{
	size_t cap = s->cap ? s->cap * 2 : 1024;
	uint8_t(*slots)[HBR_CHUNK_ID_LEN] = hbr_calloc(cap, HBR_CHUNK_ID_LEN);
	uint8_t *used = hbr_calloc(cap, 1);

	for (size_t i = 0; i < s->cap; i++)
		if (s->used[i])
			insert_new(slots, used, cap, s->slots[i]);
	hbr_free(s->slots);
	hbr_free(s->used);
	s->slots = slots;
	s->used = used;
	s->cap = cap;
}

bool hbr_idset_has(const struct hbr_idset *s,
                   const uint8_t id[HBR_CHUNK_ID_LEN])
{
	if (!s->cap)
		return false;
	for (size_t i = slot_of(id, s->cap); s->used[i];
	     i = (i + 1) & (s->cap - 1))
		if (!memcmp(s->slots[i], id, HBR_CHUNK_ID_LEN))
			return true;
	return false;
}

int hbr_idset_add(struct hbr_idset *s, const uint8_t id[HBR_CHUNK_ID_LEN])
{
	if (hbr_idset_has(s, id))
		return 0;
	/* Load factor at most 1/2 keeps probe runs short. */
	if ((s->n + 1) * 2 > s->cap)
		grow(s);
	insert_new(s->slots, s->used, s->cap, id);
	s->n++;
	return 1;
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, HBR_CHUNK_ID_LEN);
}

int hbr_idset_sorted(struct hbr_buf *out, const struct hbr_idset *s)
{
	size_t start = out->len;
	int error;

	if ((error = hbr_buf_reserve(out, s->n * HBR_CHUNK_ID_LEN)) < 0)
		return error;
	for (size_t i = 0; i < s->cap; i++)
		if (s->used[i] && (error = hbr_buf_put(out, s->slots[i],
		                                       HBR_CHUNK_ID_LEN)) < 0)
			return error;
	qsort(out->ptr + start, s->n, HBR_CHUNK_ID_LEN, cmp_id);
	return 0;
}

int hbr_chunk_id_parse(uint8_t out[HBR_CHUNK_ID_LEN], const char *hex,
                       size_t len)
{
	if (len != 2 * HBR_CHUNK_ID_LEN)
		return hbr_error_set(HBR_EINVAL,
		                     "a chunk id is 64 hex digits, not %zu",
		                     len);
	for (size_t i = 0; i < HBR_CHUNK_ID_LEN; i++) {
		int hi = hbr_hex_digit(hex[2 * i]),
		    lo = hbr_hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return hbr_error_set(
			        HBR_EINVAL, "chunk id '%.64s' is not hex", hex);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int hbr_tree_entry_chunks(struct hbr_idset *set, const json_t *entry)
{
	const json_t *c = json_object_get(entry, "c"), *pair;
	const json_t *more = json_object_get(entry, HBR_TREE_MORE_KEY);
	uint8_t id[HBR_CHUNK_ID_LEN];
	size_t i;

	if (more) {
		if (c || json_object_get(entry, "t"))
			return hbr_error_set(HBR_ECORRUPT,
			                     "a continuation line with \"c\" or"
			                     " \"t\"");
		c = more;
	}
	if (!c)
		return 0;
	if (!json_is_array(c))
		return hbr_error_set(HBR_ECORRUPT, "tree entry: \"c\" is not "
		                                   "an array");
	json_array_foreach(c, i, pair)
	{
		const json_t *hex = json_array_get(pair, 0),
		             *len = json_array_get(pair, 1);

		if (!json_is_array(pair) || json_array_size(pair) != 2 ||
		    !json_is_string(hex) || !json_is_integer(len) ||
		    json_integer_value(len) < 0 ||
		    hbr_chunk_id_parse(id, json_string_value(hex),
		                       json_string_length(hex)) < 0)
			return hbr_error_set(HBR_ECORRUPT,
			                     "tree entry: chunk %zu is not "
			                     "[hex id, length]",
			                     i);
		if (hbr_idset_add(set, id) < 0)
			return HBR_ERROR;
	}
	return 0;
}

enum hbr_tree_line_kind hbr_tree_entry_kind(const json_t *entry)
{
	const char *t = json_string_value(json_object_get(entry, "t"));

	if (json_object_get(entry, HBR_TREE_MORE_KEY))
		return HBR_TREE_LINE_MORE;
	return t && !strcmp(t, "f") ? HBR_TREE_LINE_FILE : HBR_TREE_LINE_OTHER;
}

int hbr_tree_line_follows(enum hbr_tree_line_kind prev,
                          enum hbr_tree_line_kind kind, size_t line_no)
{
	if (kind == HBR_TREE_LINE_MORE && prev == HBR_TREE_LINE_OTHER)
		return hbr_error_set(HBR_ECORRUPT,
		                     "tree line %zu continues no regular"
		                     " file's chunks",
		                     line_no);
	return 0;
}
