/* Quoted JSON strings written straight into a buffer. */
#include "common.h"
#include "util/jsonesc.h"

int hbr_json_escape(struct hbr_buf *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;
	int error = hbr_buf_putc(out, '"');

	for (; error == 0 && *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
		const char *rep = NULL;
		size_t replen = 2;

		if (c == '"')
			rep = "\\\"";
		else if (c == '\\')
			rep = "\\\\";
		else if (c == '\n')
			rep = "\\n";
		else if (c == '\r')
			rep = "\\r";
		else if (c == '\t')
			rep = "\\t";
		else if (c < 0x20)
			rep = esc, replen = 6;
		if (!rep)
			continue;
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
