/* RFC 3986 percent-encoding and form/query parsing. */
#include "common.h"
#include "util/error.h"
#include "util/urlenc.h"

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	       c == '~';
}

int hbr_url_encode(struct hbr_buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t run = 0;
	int error = 0;

	/* Copy runs of unreserved bytes at once: signing canonicalizes
	 * every parameter of every request. */
	for (size_t i = 0; i < len && error == 0; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[3] = { '%', hex[c >> 4], hex[c & 15] };
		if (unreserved(c))
			continue;
		if ((error = hbr_buf_put(out, s + run, i - run)) == 0)
			error = hbr_buf_put(out, e, 3);
		run = i + 1;
	}
	if (error == 0)
		error = hbr_buf_put(out, s + run, len - run);
	return error;
}

int hbr_url_encode_twice(struct hbr_buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t worst;
	char *p;
	int error;

	/* The first encoding writes an unreserved byte as itself and any
	 * other as %XY; the second leaves X, Y alone and makes '%' "%25".
	 * So each byte is itself or "%25XY": at most 5 bytes, written in
	 * place without the intermediate string. */
	if (len > (SIZE_MAX - 1) / 5)
		return hbr_error_set(HBR_ETOOBIG, "text too long to encode");
	worst = len * 5;
	if (out->max && out->len + worst > out->max) {
		/* Near the cap: the exact size decides. */
		size_t need = 0;
		for (size_t i = 0; i < len; i++)
			need += unreserved((unsigned char)s[i]) ? 1 : 5;
		worst = need;
	}
	if ((error = hbr_buf_reserve(out, worst)) < 0)
		return error;
	p = out->ptr + out->len;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c)) {
			*p++ = (char)c;
			continue;
		}
		memcpy(p, "%25", 3);
		p[3] = hex[c >> 4];
		p[4] = hex[c & 15];
		p += 5;
	}
	out->len = (size_t)(p - out->ptr);
	out->ptr[out->len] = '\0';
	return 0;
}

int hbr_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hbr_url_decode(struct hbr_buf *out, const char *s, size_t len,
                   bool plus_is_space)
{
	size_t room;
	char *p;
	int error;

	/* Decoding never lengthens: reserve len at once (or what the cap
	 * leaves, failing as soon as the output would pass it) and write in
	 * place; every request decodes each of its parameters. */
	room = out->max && out->max - out->len < len ? out->max - out->len :
	                                               len;
	if ((error = hbr_buf_reserve(out, room)) < 0)
		return error;
	p = out->ptr + out->len;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int hi, lo;
		if (c == '%' && i + 2 < len &&
		    (hi = hbr_hex_digit(s[i + 1])) >= 0 &&
		    (lo = hbr_hex_digit(s[i + 2])) >= 0) {
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		if ((size_t)(p - (out->ptr + out->len)) == room) {
			out->len = (size_t)(p - out->ptr);
			out->ptr[out->len] = '\0';
			return hbr_error_set(
			        HBR_ETOOBIG,
			        "input larger than the limit of %zu"
			        " bytes",
			        out->max);
		}
		*p++ = c;
	}
	out->len = (size_t)(p - out->ptr);
	out->ptr[out->len] = '\0';
	return 0;
}

int hbr_form_parse(struct hbr_kvlist *out, const char *s, size_t len,
                   size_t max_params)
{
	struct hbr_buf k = HBR_BUF_INIT, v = HBR_BUF_INIT;
	size_t i = 0;
	int error = 0;

	while (i < len) {
		size_t end = i, eq;
		while (end < len && s[end] != '&')
			end++;
		if (end > i) {
			eq = i;
			while (eq < end && s[eq] != '=')
				eq++;
			if (out->n >= max_params) {
				error = hbr_error_set(
				        HBR_ETOOBIG, "more than %zu parameters",
				        max_params);
				goto out;
			}
			hbr_buf_clear(&k);
			hbr_buf_clear(&v);
			if ((error = hbr_url_decode(&k, s + i, eq - i, true)) <
			    0)
				goto out;
			if (eq < end &&
			    (error = hbr_url_decode(&v, s + eq + 1,
			                            end - eq - 1, true)) < 0)
				goto out;
			hbr_kvlist_add(out, hbr_buf_cstr(&k), k.len,
			               hbr_buf_cstr(&v), v.len);
		}
		i = end + 1;
	}
out:
	hbr_buf_release(&k);
	hbr_buf_release(&v);
	return error;
}
