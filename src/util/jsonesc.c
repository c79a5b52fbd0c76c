/* Quoted JSON strings written straight into a buffer. */
#include "common.h"
#include "util/jsonesc.h"

static bool needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

int hbr_json_escape(struct hbr_buf *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;
	int error;

	/* The usual string (an id, a status) needs no escape at all: find
	 * that out with one scan and copy it in one piece. */
	while (*s && !needs_escape((unsigned char)*s))
		s++;
	if (!*s) {
		size_t len = (size_t)(s - run);
		if ((error = hbr_buf_reserve(out, len + 2)) < 0)
			return error;
		out->ptr[out->len] = '"';
		memcpy(out->ptr + out->len + 1, run, len);
		out->ptr[out->len + 1 + len] = '"';
		out->len += len + 2;
		out->ptr[out->len] = '\0';
		return 0;
	}
	s = run;
	error = hbr_buf_putc(out, '"');
	for (; error == 0 && *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[6];
		const char *rep = esc;
		size_t replen = 2;

		if (!needs_escape(c))
			continue;
		if (c == '"') {
			rep = "\\\"";
		} else if (c == '\\') {
			rep = "\\\\";
		} else if (c == '\n') {
			rep = "\\n";
		} else if (c == '\r') {
			rep = "\\r";
		} else if (c == '\t') {
			rep = "\\t";
		} else {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			replen = 6;
		}
		if ((error = hbr_buf_put(out, run, (size_t)(s - run))) == 0)
			error = hbr_buf_put(out, rep, replen);
		run = s + 1;
	}
	if (error == 0)
		error = hbr_buf_put(out, run, (size_t)(s - run));
	if (error == 0)
		error = hbr_buf_putc(out, '"');
	return error;
}
