/* Growable, capped byte buffer. */
#include "common.h"
#include <stdarg.h>
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"

void hbr_buf_init(struct hbr_buf *b, size_t max)
{
	b->ptr = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void hbr_buf_release(struct hbr_buf *b)
{
	hbr_free(b->ptr);
	b->ptr = NULL;
	b->len = 0;
	b->cap = 0;
}

void hbr_buf_clear(struct hbr_buf *b)
{
	b->len = 0;
	if (b->ptr)
		b->ptr[0] = '\0';
}

static int reserve(struct hbr_buf *b, size_t extra)
{
	size_t want;

	if (extra > SIZE_MAX - b->len - 1)
		return hbr_error_set(HBR_ETOOBIG, "buffer size overflow");
	want = b->len + extra + 1;
	if (b->max && want - 1 > b->max)
		return hbr_error_set(HBR_ETOOBIG,
		                     "input larger than the limit of %zu bytes",
		                     b->max);
	if (want > b->cap) {
		size_t n = b->cap ? b->cap : 64;
		while (n < want)
			n *= 2;
		b->ptr = hbr_realloc(b->ptr, n);
		b->cap = n;
	}
	return 0;
}

int hbr_buf_reserve(struct hbr_buf *b, size_t extra)
{
	return reserve(b, extra);
}

int hbr_buf_reserve_aligned(struct hbr_buf *b, size_t size, size_t align)
{
	void *p = NULL;

	if (b->ptr || b->cap || size == SIZE_MAX)
		return reserve(b, size);
	if (b->max && size > b->max)
		return hbr_error_set(HBR_ETOOBIG,
		                     "input larger than the limit of %zu bytes",
		                     b->max);
	if (posix_memalign(&p, align, size + 1) != 0)
		return hbr_error_set(HBR_ERROR, "out of memory");
	b->ptr = p; /* free() and realloc() take it like malloc()'s */
	b->ptr[0] = '\0';
	b->cap = size + 1;
	return 0;
}

int hbr_buf_put(struct hbr_buf *b, const void *data, size_t len)
{
	int error;

	if ((error = reserve(b, len)) < 0)
		return error;
	if (len)
		memcpy(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = '\0';
	return 0;
}

int hbr_buf_puts(struct hbr_buf *b, const char *s)
{
	return hbr_buf_put(b, s, strlen(s));
}

int hbr_buf_putc(struct hbr_buf *b, char c)
{
	/* Most calls land in room already there. */
	if (b->len + 2 <= b->cap && (!b->max || b->len < b->max)) {
		b->ptr[b->len++] = c;
		b->ptr[b->len] = '\0';
		return 0;
	}
	return hbr_buf_put(b, &c, 1);
}

int hbr_buf_put_i64(struct hbr_buf *b, int64_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	/* Through unsigned, so INT64_MIN negates without overflow. */
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	return hbr_buf_put(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

int hbr_buf_printf(struct hbr_buf *b, const char *fmt, ...)
{
	size_t room = b->cap > b->len ? b->cap - b->len : 0;
	va_list ap;
	int n, error;

	/* Format once into the room there is; only an answer that did not
	 * fit is formatted again after growing. */
	va_start(ap, fmt);
	n = vsnprintf(room ? b->ptr + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return hbr_error_set(HBR_ERROR, "bad format '%s'", fmt);
	if ((size_t)n < room && (!b->max || b->len + (size_t)n <= b->max)) {
		b->len += (size_t)n;
		return 0;
	}
	if (room)
		b->ptr[b->len] = '\0';
	if ((error = reserve(b, (size_t)n)) < 0)
		return error;
	va_start(ap, fmt);
	(void)vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

const char *hbr_buf_cstr(const struct hbr_buf *b)
{
	return b->ptr ? b->ptr : "";
}

char *hbr_buf_detach(struct hbr_buf *b, size_t *len_out)
{
	char *p = b->ptr ? b->ptr : hbr_strdup("");

	if (len_out)
		*len_out = b->len;
	b->ptr = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
