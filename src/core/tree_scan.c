/*
 * A strict, allocation-free scanner for tree lines. jansson builds every
 * entry (paths, xattrs, one allocation per value) only for the server to
 * look at "c"; this walks the bytes once instead.
 *
 * "Strict" is what the agent's reader accepts: json_loadb (jansson 2.14)
 * with JSON_REJECT_DUPLICATES, i.e. RFC 8259 plus UTF-8 per RFC 3629 (no
 * overlong forms, surrogates or code points past U+10FFFF), no \u0000,
 * no unpaired surrogate escape, integers within int64_t, reals that do not
 * overflow a double, a top-level object and nothing after it but
 * whitespace. A case whose exact answer needs jansson's own decoding is
 * answered UNSURE and left to jansson, so the two never disagree:
 *  - keys with escapes (duplicates are decided on decoded keys, and an
 *    escaped key may spell "c"), and chunk ids with escapes;
 *  - more than KEYS_MAX keys open at once, nesting deeper than DEPTH_MAX;
 *  - reals with an exponent or a long integer part (strtod overflow);
 *  - a NUL byte outside a string: jansson silently drops one that
 *    follows a number or a literal.
 * Agents write none of these, so the fallback costs nothing in practice.
 */
#include "common.h"
#include "core/tree_scan.h"
#include "util/error.h"

#define DEPTH_MAX 64
/* Keys of the objects open at once, for duplicate checks. Each key is
 * compared with its object's earlier ones, so this also bounds the work
 * per byte a hostile line can ask for. */
#define KEYS_MAX 64
/* A real without exponent overflows a double only past 308 digits. */
#define REAL_DIGITS_MAX 300

enum verdict { OK = 0, BAD = -1, FAIL = -2, UNSURE = 1 };

struct key {
	const unsigned char *s;
	size_t len;
};

struct scan {
	const unsigned char *p, *end;
	struct hbr_idset *set; /* NULL: "c" is an ordinary value */
	bool header; /* top-level "hbr_tree" is the integer 1 */
	/* Top-level keys of an entry (set not NULL): "c", "t", "c+", and
	 * whether "t" is "f". */
	bool has_c, has_t, more, file;
	unsigned depth;
	size_t nkeys;
	const char *why; /* what BAD found, at p */
	int error; /* what FAIL got */
	struct key keys[KEYS_MAX];
};

/* Bytes in a string: 0 goes on; the rest need a look (1 '"', 2 '\\',
 * 3 a control character, 4 the start of a UTF-8 sequence). */
enum { S_QUOTE = 1, S_ESC, S_CTRL, S_HIGH };

/* clang-format off */
static const uint8_t str_class[256] = {
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

/* 0x10 | the digit's value, 0 for what is not a hex digit. */
static const uint8_t hex_value[256] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* clang-format on */

static int bad(struct scan *s, const char *why)
{
	s->why = why;
	return BAD;
}

/* A byte that cannot come next. A NUL is jansson's to judge (above). */
static int unexpected(struct scan *s, const char *why)
{
	if (s->p < s->end && *s->p == 0)
		return UNSURE;
	if (s->p == s->end)
		return bad(s, "the line ends early");
	return bad(s, why);
}

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
	                         *s->p == '\r' || *s->p == '\n'))
		s->p++;
}

static bool at(struct scan *s, unsigned char c)
{
	return s->p < s->end && *s->p == c;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* The length of the UTF-8 sequence at p, 0 when it is not one (the
 * ranges of RFC 3629's table, as jansson's utf8_check_full decides). */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned lo = 0x80, hi = 0xbf;
	size_t n;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0; /* overlong */
	else if (p[0] == 0xed)
		hi = 0x9f; /* surrogates */
	else if (p[0] == 0xf0)
		lo = 0x90; /* overlong */
	else if (p[0] == 0xf4)
		hi = 0x8f; /* past U+10FFFF */
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

static long hex4(const unsigned char *p)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		if (!hex_value[p[i]])
			return -1;
		v = v << 4 | (hex_value[p[i]] & 0xf);
	}
	return v;
}

/* The length of the escape at p ('\\'), 0 when jansson refuses it. */
static size_t escape_len(const unsigned char *p, const unsigned char *end)
{
	long v, lo;

	if (end - p < 2)
		return 0;
	switch (p[1]) {
	case '"':
	case '\\':
	case '/':
	case 'b':
	case 'f':
	case 'n':
	case 'r':
	case 't':
		return 2;
	case 'u':
		break;
	default:
		return 0;
	}
	if (end - p < 6 || (v = hex4(p + 2)) < 0)
		return 0;
	if (v == 0) /* no JSON_ALLOW_NUL */
		return 0;
	if (v >= 0xdc00 && v <= 0xdfff)
		return 0;
	if (v < 0xd800 || v > 0xdbff)
		return 6;
	/* A high surrogate is only half of a character. */
	if (end - p < 12 || p[6] != '\\' || p[7] != 'u' ||
	    (lo = hex4(p + 8)) < 0xdc00 || lo > 0xdfff)
		return 0;
	return 12;
}

/* The string at p ('"'); *escaped: it holds an escape. */
static int scan_string(struct scan *s, bool *escaped)
{
	const unsigned char *p = s->p + 1, *end = s->end;
	size_t n;

	*escaped = false;
	for (;;) {
		while (p < end && !str_class[*p])
			p++;
		s->p = p;
		if (p == end)
			return bad(s, "a string is not closed");
		switch (str_class[*p]) {
		case S_QUOTE:
			s->p = p + 1;
			return OK;
		case S_CTRL:
			return bad(s, "a control character in a string");
		case S_HIGH:
			if (!(n = utf8_len(p, end)))
				return bad(s, "a string is not UTF-8");
			break;
		default:
			if (!(n = escape_len(p, end)))
				return bad(s, "an invalid escape");
			*escaped = true;
			break;
		}
		p += n;
	}
}

/* The number at p ('-' or a digit). *is_int: no fraction or exponent,
 * as json_is_integer; *negative: below zero. */
static int scan_number(struct scan *s, bool *is_int, bool *negative)
{
	const unsigned char *p = s->p, *end = s->end, *digits;
	bool minus = false, exponent = false;
	size_t n;

	*is_int = *negative = false;
	if (*p == '-') {
		minus = true;
		p++;
	}
	digits = p;
	if (p == end || !is_digit(*p)) {
		s->p = p;
		return unexpected(s, "a number without digits");
	}
	if (*p == '0' && p + 1 < end && is_digit(p[1])) {
		s->p = p;
		return bad(s, "a number with a leading zero");
	}
	while (p < end && is_digit(*p))
		p++;
	n = (size_t)(p - digits);
	*is_int = !(p < end && (*p == '.' || *p == 'e' || *p == 'E'));
	*negative = minus && !(n == 1 && *digits == '0');
	if (*is_int) {
		s->p = p;
		/* strtoll's range, or jansson refuses the line */
		if (n > 19 || (n == 19 && memcmp(digits,
		                                 minus ? "9223372036854775808" :
		                                         "9223372036854775807",
		                                 19) > 0))
			return bad(s, "an integer out of range");
		return OK;
	}
	if (*p == '.') {
		p++;
		if (p == end || !is_digit(*p)) {
			s->p = p;
			return bad(s, "a fraction without digits");
		}
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || !is_digit(*p)) {
			s->p = p;
			return bad(s, "an exponent without digits");
		}
		while (p < end && is_digit(*p))
			p++;
		exponent = true;
	}
	s->p = p;
	return exponent || n > REAL_DIGITS_MAX ? UNSURE : OK;
}

static int scan_literal(struct scan *s, const char *word, size_t len)
{
	if ((size_t)(s->end - s->p) < len || memcmp(s->p, word, len))
		return bad(s, "an invalid literal");
	s->p += len;
	return OK;
}

/* The string v[0, len) (quotes included) decodes to "f": one escape
 * spells it too. */
static bool is_f(const unsigned char *v, size_t len)
{
	return (len == 3 && v[1] == 'f') ||
	       (len == 8 && v[1] == '\\' && v[2] == 'u' && hex4(v + 3) == 'f');
}

static int scan_object(struct scan *s, bool top);
static int scan_array(struct scan *s);

static int scan_value(struct scan *s)
{
	bool flag, negative;

	if (s->p == s->end)
		return unexpected(s, "");
	switch (*s->p) {
	case '{':
		return scan_object(s, false);
	case '[':
		return scan_array(s);
	case '"':
		return scan_string(s, &flag);
	case 't':
		return scan_literal(s, "true", 4);
	case 'f':
		return scan_literal(s, "false", 5);
	case 'n':
		return scan_literal(s, "null", 4);
	default:
		if (*s->p == '-' || is_digit(*s->p))
			return scan_number(s, &flag, &negative);
		return unexpected(s, "a value expected");
	}
}

static int scan_array(struct scan *s)
{
	int rc;

	if (++s->depth > DEPTH_MAX)
		return UNSURE;
	s->p++;
	skip_ws(s);
	if (at(s, ']')) {
		s->p++;
		s->depth--;
		return OK;
	}
	for (;;) {
		if ((rc = scan_value(s)) != OK)
			return rc;
		skip_ws(s);
		if (at(s, ']'))
			break;
		if (!at(s, ','))
			return unexpected(s, "',' or ']' expected");
		s->p++;
		skip_ws(s);
	}
	s->p++;
	s->depth--;
	return OK;
}

/* The id string of a chunk at p ('"'): 64 hex digits. */
static int scan_id(struct scan *s, uint8_t id[HBR_CHUNK_ID_LEN])
{
	const unsigned char *q = s->p + 1;
	bool escaped;
	int rc;

	if (s->end - q > 2 * HBR_CHUNK_ID_LEN &&
	    q[2 * HBR_CHUNK_ID_LEN] == '"') {
		uint8_t all = 0x10;

		for (size_t i = 0; i < HBR_CHUNK_ID_LEN; i++) {
			uint8_t hi = hex_value[q[2 * i]],
			        lo = hex_value[q[2 * i + 1]];

			all &= hi & lo;
			id[i] = (uint8_t)((hi & 0xf) << 4 | (lo & 0xf));
		}
		if (all) {
			s->p = q + 2 * HBR_CHUNK_ID_LEN + 1;
			return OK;
		}
	}
	/* Not 64 plain hex digits; escapes might still spell them. */
	if ((rc = scan_string(s, &escaped)) != OK)
		return rc;
	return escaped ? UNSURE : bad(s, "a chunk id is not 64 hex digits");
}

/* The top-level "c": [[id, length], ...] as hbr_tree_entry_chunks
 * wants it; what it refuses is BAD whether or not the rest parses. */
static int scan_chunks(struct scan *s)
{
	static const char *const not_pair = "a chunk is not [hex id, length]";
	uint8_t id[HBR_CHUNK_ID_LEN];
	bool is_int, negative;
	int rc;

	if (!at(s, '['))
		return unexpected(s, "\"c\" is not an array");
	s->p++;
	skip_ws(s);
	if (at(s, ']')) {
		s->p++;
		return OK;
	}
	for (;;) {
		if (!at(s, '['))
			return unexpected(s, not_pair);
		s->p++;
		skip_ws(s);
		if (!at(s, '"'))
			return unexpected(s, not_pair);
		if ((rc = scan_id(s, id)) != OK)
			return rc;
		skip_ws(s);
		if (!at(s, ','))
			return unexpected(s, not_pair);
		s->p++;
		skip_ws(s);
		if (s->p == s->end || !(*s->p == '-' || is_digit(*s->p)))
			return unexpected(s, not_pair);
		/* A real is no length, whether or not it overflows. */
		if ((rc = scan_number(s, &is_int, &negative)) == BAD)
			return rc;
		if (!is_int || negative)
			return bad(s, not_pair);
		skip_ws(s);
		if (!at(s, ']'))
			return unexpected(s, not_pair);
		s->p++;
		if ((rc = hbr_idset_add(s->set, id)) < 0) {
			s->error = rc;
			return FAIL;
		}
		skip_ws(s);
		if (at(s, ']'))
			break;
		if (!at(s, ','))
			return unexpected(s, "',' or ']' expected");
		s->p++;
		skip_ws(s);
	}
	s->p++;
	return OK;
}

/* A key of the object whose keys start at keys[base]; jansson refuses
 * a duplicate at any level. */
static int add_key(struct scan *s, size_t base, const unsigned char *k,
                   size_t len)
{
	/* Most keys are one letter: the first byte settles most pairs (an
	 * empty key's "first byte" is its closing quote). */
	for (size_t i = base; i < s->nkeys; i++)
		if (s->keys[i].len == len && s->keys[i].s[0] == k[0] &&
		    !memcmp(s->keys[i].s, k, len))
			return bad(s, "a duplicate key");
	if (s->nkeys == KEYS_MAX)
		return UNSURE;
	s->keys[s->nkeys].s = k;
	s->keys[s->nkeys].len = len;
	s->nkeys++;
	return OK;
}

static int scan_object(struct scan *s, bool top)
{
	size_t base = s->nkeys;
	int rc;

	if (++s->depth > DEPTH_MAX)
		return UNSURE;
	s->p++;
	skip_ws(s);
	if (at(s, '}')) {
		s->p++;
		s->depth--;
		return OK;
	}
	for (;;) {
		const unsigned char *k = s->p + 1, *v;
		bool escaped;
		size_t len;

		if (!at(s, '"'))
			return unexpected(s, "a key expected");
		if ((rc = scan_string(s, &escaped)) != OK)
			return rc;
		if (escaped)
			return UNSURE;
		len = (size_t)(s->p - 1 - k);
		if ((rc = add_key(s, base, k, len)) != OK)
			return rc;
		skip_ws(s);
		if (!at(s, ':'))
			return unexpected(s, "':' expected");
		s->p++;
		skip_ws(s);
		v = s->p;
		if (top && s->set && len == 1 && k[0] == 'c') {
			s->has_c = true;
			rc = scan_chunks(s);
		} else if (top && s->set && len == 2 && !memcmp(k, "c+", 2)) {
			s->more = true;
			rc = scan_chunks(s);
		} else if (top && s->set && len == 1 && k[0] == 't' &&
		           at(s, '"')) {
			s->has_t = true;
			rc = scan_string(s, &escaped);
			s->file = is_f(v, (size_t)(s->p - v));
		} else {
			if (top && len == 1 && k[0] == 't')
				s->has_t = true;
			rc = scan_value(s);
		}
		if (rc != OK)
			return rc;
		/* The integer 1 has one spelling. */
		if (top && len == 8 && !memcmp(k, "hbr_tree", 8))
			s->header = s->p - v == 1 && *v == '1';
		skip_ws(s);
		if (at(s, '}'))
			break;
		if (!at(s, ','))
			return unexpected(s, "',' or '}' expected");
		s->p++;
		skip_ws(s);
	}
	s->p++;
	s->nkeys = base;
	s->depth--;
	if (top && s->more && (s->has_c || s->has_t))
		return bad(s, "a continuation line with \"c\" or \"t\"");
	return OK;
}

static int scan_line(struct scan *s, struct hbr_idset *set, const char *text,
                     size_t len)
{
	int rc;

	s->p = (const unsigned char *)text;
	s->end = s->p + len;
	s->set = set;
	s->header = false;
	s->has_c = s->has_t = s->more = s->file = false;
	s->depth = 0;
	s->nkeys = 0;
	s->why = NULL;
	s->error = 0;
	skip_ws(s);
	if (!at(s, '{'))
		return unexpected(s, "not a JSON object");
	if ((rc = scan_object(s, true)) != OK)
		return rc;
	skip_ws(s);
	if (s->p != s->end)
		return unexpected(s, "more after the object");
	return OK;
}

static int refused(const struct scan *s, const char *text)
{
	return hbr_error_set(HBR_ECORRUPT, "%s (byte %zu)", s->why,
	                     (size_t)((const char *)s->p - text));
}

static enum hbr_tree_line_kind kind_of(const struct scan *s)
{
	return s->more ? HBR_TREE_LINE_MORE :
	       s->file ? HBR_TREE_LINE_FILE :
	                 HBR_TREE_LINE_OTHER;
}

int hbr_tree_scan(bool *header, enum hbr_tree_line_kind *kind,
                  struct hbr_idset *set, const char *text, size_t len)
{
	struct scan s;

	switch (scan_line(&s, set, text, len)) {
	case OK:
		*header = s.header;
		*kind = kind_of(&s);
		return 0;
	case BAD:
		return refused(&s, text);
	case FAIL:
		return s.error;
	default:
		return HBR_TREE_SCAN_UNSURE;
	}
}

int hbr_tree_line_refs(struct hbr_idset *set, enum hbr_tree_line_kind *prev,
                       const char *text, size_t len, size_t line_no)
{
	enum hbr_tree_line_kind kind = HBR_TREE_LINE_OTHER;
	json_t *entry = NULL;
	struct scan s;
	int error;

	switch (scan_line(&s, line_no ? set : NULL, text, len)) {
	case OK:
		if (line_no == 0 && !s.header)
			return hbr_error_set(HBR_ECORRUPT,
			                     "not an hbr tree (no"
			                     " \"hbr_tree\":1 header)");
		kind = line_no ? kind_of(&s) : HBR_TREE_LINE_OTHER;
		if ((error = hbr_tree_line_follows(*prev, kind, line_no)) < 0)
			return error;
		*prev = kind;
		return 0;
	case BAD:
		return hbr_error_set(
		        HBR_ECORRUPT,
		        "tree line %zu is not valid: %s (byte %zu)", line_no,
		        s.why, (size_t)((const char *)s.p - text));
	case FAIL:
		return s.error;
	default:
		break;
	}
	if ((error = hbr_tree_line_parse(&entry, text, len, line_no)) < 0)
		return error;
	if (line_no) {
		kind = hbr_tree_entry_kind(entry);
		error = hbr_tree_entry_chunks(set, entry);
	}
	json_decref(entry);
	if (!error && !(error = hbr_tree_line_follows(*prev, kind, line_no)))
		*prev = kind;
	return error;
}
