/*
 * A growable byte buffer, always NUL-terminated so text can be used as a
 * C string. `max` (0 = unlimited) caps growth for buffers fed from outside:
 * an append past it fails with HBR_ETOOBIG and leaves the buffer as it was.
 */
#ifndef HBR_UTIL_BUF_H
#define HBR_UTIL_BUF_H

#include "common.h"

struct hbr_buf {
	char *ptr; /* owned; "" when empty, never NULL after first use */
	size_t len;
	size_t cap;
	size_t max;
};

#define HBR_BUF_INIT          \
	{                     \
		NULL, 0, 0, 0 \
	}

void hbr_buf_init(struct hbr_buf *b, size_t max);
void hbr_buf_release(struct hbr_buf *b);
void hbr_buf_clear(struct hbr_buf *b); /* keeps memory and max */
/* Make room for `extra` more bytes now (one allocation instead of a
 * doubling series when the final size is roughly known). */
int hbr_buf_reserve(struct hbr_buf *b, size_t extra);
/* hbr_buf_reserve for a buffer not used yet, with ptr aligned to align
 * (a power of two, a multiple of sizeof(void *)): a body that goes to an
 * O_DIRECT write as it is. Growing past size drops the alignment. */
int hbr_buf_reserve_aligned(struct hbr_buf *b, size_t size, size_t align);
int hbr_buf_put(struct hbr_buf *b, const void *data, size_t len);
int hbr_buf_puts(struct hbr_buf *b, const char *s);
int hbr_buf_putc(struct hbr_buf *b, char c);
/* v in decimal, as printf("%" PRId64) writes it. */
int hbr_buf_put_i64(struct hbr_buf *b, int64_t v);
int hbr_buf_printf(struct hbr_buf *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* The contents as a C string; "" for an untouched buffer. Borrowed. */
const char *hbr_buf_cstr(const struct hbr_buf *b);
/* Hand the memory to the caller (who frees it); the buffer is reset. */
char *hbr_buf_detach(struct hbr_buf *b, size_t *len_out);

#endif
