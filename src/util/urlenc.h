/*
 * Percent-encoding as the Alibaba signatures need it, and form parsing.
 */
#ifndef HBR_UTIL_URLENC_H
#define HBR_UTIL_URLENC_H

#include "common.h"
#include "util/buf.h"
#include "util/kvlist.h"

/* RFC 3986: A-Z a-z 0-9 - _ . ~ literal, everything else %XY (upper hex).
 * Space becomes %20, never '+'. */
int hbr_url_encode(struct hbr_buf *out, const char *s, size_t len);
/* hbr_url_encode applied twice (what V1's string-to-sign does to the
 * canonical query), in one pass. */
int hbr_url_encode_twice(struct hbr_buf *out, const char *s, size_t len);

/* Decode %XY escapes; '+' becomes a space (form encoding) when
 * plus_is_space. A malformed escape is kept literally, as browsers and
 * Node's querystring do. */
int hbr_url_decode(struct hbr_buf *out, const char *s, size_t len,
                   bool plus_is_space);

/* The value of one hex digit (either case), or -1. */
int hbr_hex_digit(char c);

/* Parse "a=1&b=2" (query string or x-www-form-urlencoded body) into `out`,
 * decoding keys and values. A key without '=' gets the value "". Fails
 * with HBR_ETOOBIG when the list would exceed max_params entries. */
int hbr_form_parse(struct hbr_kvlist *out, const char *s, size_t len,
                   size_t max_params);

#endif
