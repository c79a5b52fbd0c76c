/* The server's tree scanner: hand-picked lines, then thousands of random
 * and damaged ones, each judged against the jansson path it replaces
 * (hbr_tree_line_parse + hbr_tree_entry_chunks). */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include "core/tree.h"
#include "core/tree_scan.h"
#include "util/buf.h"
#include "util/error.h"

#define ID_A  "00000000000000000000000000000000000000000000000000000000000000aa"
#define ID_B  "00000000000000000000000000000000000000000000000000000000000000bb"
#define ID_U  "00000000000000000000000000000000000000000000000000000000000000AA"
#define ID_63 "0000000000000000000000000000000000000000000000000000000000000aa"
#define ID_65 \
	"00000000000000000000000000000000000000000000000000000000000000aaa"
#define ID_G "00000000000000000000000000000000000000000000000000000000000000ag"
/* ID_A with its first digit written as an escape. */
#define ID_ESC \
	"\\u00300000000000000000000000000000000000000000000000000000000000000aa"

/* The jansson path, as the server took it before the scanner. */
static int reference(struct hbr_idset *set, enum hbr_tree_line_kind *kind,
                     const char *text, size_t len, size_t line_no)
{
	json_t *entry = NULL;
	int error;

	*kind = HBR_TREE_LINE_OTHER;
	if ((error = hbr_tree_line_parse(&entry, text, len, line_no)) < 0)
		return error;
	if (line_no) {
		*kind = hbr_tree_entry_kind(entry);
		error = hbr_tree_entry_chunks(set, entry);
	}
	json_decref(entry);
	return error;
}

static void sorted(struct hbr_buf *out, const struct hbr_idset *set)
{
	hbr_buf_init(out, 0);
	assert_int_equal(hbr_idset_sorted(out, set), 0);
}

static void same_ids(const struct hbr_idset *a, const struct hbr_idset *b)
{
	struct hbr_buf x, y;

	sorted(&x, a);
	sorted(&y, b);
	assert_int_equal(x.len, y.len);
	assert_memory_equal(x.ptr, y.ptr, x.len);
	hbr_buf_release(&x);
	hbr_buf_release(&y);
}

static void show(const char *text, size_t len, size_t line_no)
{
	char esc[4096];
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < sizeof(esc); i++) {
		unsigned char c = (unsigned char)text[i];

		if (c >= 0x20 && c < 0x7f)
			esc[o++] = (char)c;
		else
			o += (size_t)snprintf(esc + o, sizeof(esc) - o,
			                      "<%02x>", c);
	}
	esc[o] = 0;
	print_message("line %zu: %s\n", line_no, esc);
}

struct stats {
	size_t lines, unsure, accepted;
};

/*
 * Line line_no judged three ways: the jansson path, the scanner alone
 * (which may say UNSURE) and hbr_tree_line_refs (the scanner with its
 * fallback): the same verdict and, when accepted, the same ids and the
 * same kind of line. The line is judged as following a regular file's
 * entry, where a continuation line may come. Returns the scanner's own
 * answer.
 */
static int check(struct stats *st, const char *text, size_t len, size_t line_no)
{
	struct hbr_idset want, got, scanned;
	enum hbr_tree_line_kind rkind, skind = HBR_TREE_LINE_OTHER,
	                               prev = HBR_TREE_LINE_FILE;
	bool header = false;
	int ref, full, scan;

	hbr_idset_init(&want);
	hbr_idset_init(&got);
	hbr_idset_init(&scanned);
	ref = reference(&want, &rkind, text, len, line_no);
	full = hbr_tree_line_refs(&got, &prev, text, len, line_no);
	scan = hbr_tree_scan(&header, &skind, line_no ? &scanned : NULL, text,
	                     len);
	if (scan == 0 && line_no == 0 && !header)
		scan = HBR_ECORRUPT;
	if (ref != full || (scan != HBR_TREE_SCAN_UNSURE && scan != ref))
		show(text, len, line_no);
	assert_true(ref == 0 || ref == HBR_ECORRUPT);
	assert_int_equal(full, ref);
	if (scan != HBR_TREE_SCAN_UNSURE)
		assert_int_equal(scan, ref);
	if (ref == 0) {
		same_ids(&want, &got);
		assert_int_equal(prev, rkind);
		if (scan == 0)
			same_ids(&want, &scanned);
		if (scan == 0 && line_no)
			assert_int_equal(skind, rkind);
	}
	if (st) {
		st->lines++;
		st->unsure += scan == HBR_TREE_SCAN_UNSURE;
		st->accepted += ref == 0;
	}
	hbr_idset_free(&want);
	hbr_idset_free(&got);
	hbr_idset_free(&scanned);
	return scan;
}

enum { DECIDED, FALLBACK, EITHER };

struct tcase {
	size_t line_no;
	const char *text;
	size_t len;
	int want; /* 0 or HBR_ECORRUPT */
	size_t nids;
	int path; /* whether the scanner answers alone */
};

#define C(no, lit, want, nids, path)                       \
	{                                                  \
		no, lit, sizeof(lit) - 1, want, nids, path \
	}
#define E HBR_ECORRUPT

static const struct tcase cases[] = {
	/* Every key of the format. */
	C(1,
	  "{\"p\":\"/src/a/x.bin\",\"t\":\"f\",\"m\":420,\"u\":1000,"
	  "\"g\":1000,\"mt\":1764288000000000000,\"ct\":1764288000000000001,"
	  "\"i\":1234,\"s\":70000,\"sp\":[[0,4096],[8192,65904]],"
	  "\"c\":[[\"" ID_A "\",65536],[\"" ID_B "\",4464]],"
	  "\"x\":{\"user.a\":\"dmFsdWU=\",\"user.b\":\"\"},\"rd\":0}",
	  0, 2, DECIDED),
	C(1, "{\"px\":\"2f61ff\",\"t\":\"l\",\"lx\":\"ff\",\"l\":\"/a\"}", 0, 0,
	  DECIDED),
	C(1, "{\"p\":\"/a\",\"t\":\"h\",\"l\":\"/b\",\"c\":[]}", 0, 0, DECIDED),
	C(1, "{\"c\":[[\"" ID_A "\",1],[\"" ID_U "\",2]]}", 0, 1, DECIDED),
	C(1, "{}", 0, 0, DECIDED),
	C(1, " \t{ \"c\" : [ [ \"" ID_A "\" , 1 ] , [\"" ID_B "\",0] ] }\r ", 0,
	  2, DECIDED),
	C(1, "{\"zz\":[1.5,-0.25,true,false,null,{},[],\"\"],\"t\":\"f\"}", 0,
	  0, DECIDED),
	/* Escapes and unicode. */
	C(1,
	  "{\"p\":\"/a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00"
	  "\\uFFFF\\u2028\"}",
	  0, 0, DECIDED),
	C(1, "{\"p\":\"/\xc3\xa9/\xe4\xb8\xad/\xf0\x9f\x98\x80/\x7f\"}", 0, 0,
	  DECIDED),
	C(1, "{\"p\":\"\\ud83d\"}", E, 0, DECIDED),
	C(1, "{\"p\":\"\\ude00\"}", E, 0, DECIDED),
	C(1, "{\"p\":\"\\ud83d\\u0041\"}", E, 0, DECIDED),
	C(1, "{\"p\":\"\\ud83d\\n\"}", E, 0, DECIDED),
	C(1, "{\"p\":\"\\u0000\"}", E, 0, DECIDED),
	C(1, "{\"p\":\"\\x41\"}", E, 0, DECIDED),
	C(1, "{\"p\":\"\\u12\"}", E, 0, DECIDED),
	C(1, "{\"p\":\"\\u12g4\"}", E, 0, DECIDED),
	C(1, "{\"p\":\"\\\"}", E, 0, DECIDED),
	/* Bytes that are not UTF-8, and raw control characters. */
	C(1, "{\"p\":\"/a\xff\"}", E, 0, DECIDED),
	C(1, "{\"p\":\"/a\x80\"}", E, 0, DECIDED),
	C(1, "{\"p\":\"\xc0\xaf\"}", E, 0, DECIDED),
	C(1, "{\"p\":\"\xe0\x80\xaf\"}", E, 0, DECIDED),
	C(1, "{\"p\":\"\xed\xa0\x80\"}", E, 0, DECIDED),
	C(1, "{\"p\":\"\xf4\x90\x80\x80\"}", E, 0, DECIDED),
	C(1, "{\"p\":\"\xf5\x80\x80\x80\"}", E, 0, DECIDED),
	C(1, "{\"p\":\"\xe4\xb8\"}", E, 0, DECIDED),
	C(1, "{\"p\":\"\xe4\xb8", E, 0, DECIDED),
	C(1, "{\"p\":\"a\x01\"}", E, 0, DECIDED),
	C(1, "{\"p\":\"a\tb\"}", E, 0, DECIDED),
	C(1, "{\"p\":\"a\"}\xc3\xa9", E, 0, DECIDED),
	C(1, "{\"p\xc3\xa9\":1,\"p\xc3\xa8\":1}", 0, 0, DECIDED),
	/* Numbers. */
	C(1, "{\"s\":01}", E, 0, DECIDED),
	C(1, "{\"s\":1.}", E, 0, DECIDED),
	C(1, "{\"s\":-}", E, 0, DECIDED),
	C(1, "{\"s\":.5}", E, 0, DECIDED),
	C(1, "{\"s\":1e}", E, 0, DECIDED),
	C(1, "{\"s\":1e+}", E, 0, DECIDED),
	C(1, "{\"s\":+1}", E, 0, DECIDED),
	C(1, "{\"s\":0x1}", E, 0, DECIDED),
	C(1, "{\"s\":1a}", E, 0, DECIDED),
	C(1, "{\"s\":-0}", 0, 0, DECIDED),
	C(1, "{\"s\":9223372036854775807}", 0, 0, DECIDED),
	C(1, "{\"s\":9223372036854775808}", E, 0, DECIDED),
	C(1, "{\"s\":-9223372036854775808}", 0, 0, DECIDED),
	C(1, "{\"s\":-9223372036854775809}", E, 0, DECIDED),
	C(1, "{\"s\":123456789012345678901234567890}", E, 0, DECIDED),
	C(1, "{\"s\":1.5}", 0, 0, DECIDED),
	C(1, "{\"s\":1e5}", 0, 0, FALLBACK),
	C(1, "{\"s\":1E-400}", 0, 0, FALLBACK),
	C(1, "{\"s\":1e400}", E, 0, FALLBACK),
	C(1, "{\"s\":tru}", E, 0, DECIDED),
	C(1, "{\"s\":truex}", E, 0, DECIDED),
	C(1, "{\"s\":nul}", E, 0, DECIDED),
	/* Truncated lines. */
	C(1, "{", E, 0, DECIDED),
	C(1, "{\"p\"", E, 0, DECIDED),
	C(1, "{\"p\":", E, 0, DECIDED),
	C(1, "{\"p\":\"/a\"", E, 0, DECIDED),
	C(1, "{\"p\":\"/a\",", E, 0, DECIDED),
	C(1, "{\"c\":[[\"" ID_A "\",1]", E, 0, DECIDED),
	C(1, "{\"c\":[[\"" ID_A "\",1],", E, 0, DECIDED),
	C(1, "{\"c\":[[\"" ID_A "\",", E, 0, DECIDED),
	C(1, "{\"c\":[[\"" ID_A, E, 0, DECIDED),
	C(1, "", E, 0, DECIDED),
	C(1, "   ", E, 0, DECIDED),
	/* Only the top level's "c" names chunks. */
	C(1, "{\"x\":{\"c\":[[\"" ID_A "\",1]]}}", 0, 0, DECIDED),
	C(1, "{\"zz\":[{\"c\":[[\"" ID_A "\",1]]}],\"c\":[[\"" ID_B "\",1]]}",
	  0, 1, DECIDED),
	C(1, "{\"x\":{\"c\":5}}", 0, 0, DECIDED),
	C(1, "{\"C\":5,\"cc\":5}", 0, 0, DECIDED),
	C(0, "{\"hbr_tree\":1,\"c\":5}", 0, 0, DECIDED),
	/* "c" that is not an array of [hex id, length]. */
	C(1, "{\"c\":5}", E, 0, DECIDED),
	C(1, "{\"c\":{}}", E, 0, DECIDED),
	C(1, "{\"c\":\"" ID_A "\"}", E, 0, DECIDED),
	C(1, "{\"c\":null}", E, 0, DECIDED),
	C(1, "{\"c\":[\"" ID_A "\"]}", E, 0, DECIDED),
	C(1, "{\"c\":[[]]}", E, 0, DECIDED),
	C(1, "{\"c\":[[\"" ID_A "\"]]}", E, 0, DECIDED),
	C(1, "{\"c\":[[\"" ID_A "\",1,2]]}", E, 0, DECIDED),
	C(1, "{\"c\":[[1,\"" ID_A "\"]]}", E, 0, DECIDED),
	C(1, "{\"c\":[{\"" ID_A "\":1}]}", E, 0, DECIDED),
	C(1, "{\"c\":[[\"" ID_63 "\",1]]}", E, 0, DECIDED),
	C(1, "{\"c\":[[\"" ID_65 "\",1]]}", E, 0, DECIDED),
	C(1, "{\"c\":[[\"" ID_G "\",1]]}", E, 0, DECIDED),
	C(1, "{\"c\":[[\"\",1]]}", E, 0, DECIDED),
	C(1, "{\"c\":[[\"" ID_A "\",-1]]}", E, 0, DECIDED),
	C(1, "{\"c\":[[\"" ID_A "\",-0]]}", 0, 1, DECIDED),
	C(1, "{\"c\":[[\"" ID_A "\",1.0]]}", E, 0, DECIDED),
	C(1, "{\"c\":[[\"" ID_A "\",1e3]]}", E, 0, DECIDED),
	C(1, "{\"c\":[[\"" ID_A "\",\"1\"]]}", E, 0, DECIDED),
	C(1, "{\"c\":[[\"" ID_A "\",null]]}", E, 0, DECIDED),
	C(1, "{\"c\":[[\"" ID_A "\",9223372036854775808]]}", E, 0, DECIDED),
	C(1, "{\"c\":[[\"" ID_A "\",1]],\"s\":01}", E, 0, DECIDED),
	C(1, "{\"c\":[[\"" ID_ESC "\",1]]}", 0, 1, FALLBACK),
	/* Duplicate keys, at any level, and only within one object. */
	C(1, "{\"p\":\"/a\",\"p\":\"/b\"}", E, 0, DECIDED),
	C(1, "{\"c\":[],\"c\":[]}", E, 0, DECIDED),
	C(1, "{\"c\":[[\"" ID_A "\",1]],\"t\":\"f\",\"c\":[[\"" ID_B "\",1]]}",
	  E, 0, DECIDED),
	C(0, "{\"hbr_tree\":1,\"c\":[],\"c\":[]}", E, 0, DECIDED),
	C(1, "{\"x\":{\"a\":\"1\",\"a\":\"2\"}}", E, 0, DECIDED),
	C(1, "{\"zz\":[{\"a\":1,\"b\":{\"a\":1},\"a\":2}]}", E, 0, DECIDED),
	C(1, "{\"x\":{\"a\":1},\"y\":{\"a\":1},\"a\":{\"a\":{\"a\":1}}}", 0, 0,
	  DECIDED),
	C(1, "{\"c\":[],\"\\u0063\":[]}", E, 0, FALLBACK),
	C(1, "{\"\\u0063\":[[\"" ID_A "\",1]]}", 0, 1, FALLBACK),
	C(1, "{\"x\":{\"user.\\u00e9\":\"AA==\"}}", 0, 0, FALLBACK),
	C(1, "{\"a\\u0000\":1}", E, 0, DECIDED),
	/* Nothing after the object but whitespace. */
	C(1, "{\"p\":\"/a\"}x", E, 0, DECIDED),
	C(1, "{\"p\":\"/a\"}}", E, 0, DECIDED),
	C(1, "{\"p\":\"/a\"}{}", E, 0, DECIDED),
	C(1, "{\"p\":\"/a\"},", E, 0, DECIDED),
	C(1, "{\"p\":\"/a\"} \t\r", 0, 0, DECIDED),
	C(1, "{\"p\":\"/a\",}", E, 0, DECIDED),
	C(1, "{\"zz\":[1,]}", E, 0, DECIDED),
	C(1, "{\"zz\":[,1]}", E, 0, DECIDED),
	C(1, "{\"p\" \"/a\"}", E, 0, DECIDED),
	C(1, "{,}", E, 0, DECIDED),
	C(1, "{p:1}", E, 0, DECIDED),
	C(1, "[1]", E, 0, DECIDED),
	C(1, "[{\"p\":\"/a\"}]", E, 0, DECIDED),
	C(1, "\"p\"", E, 0, DECIDED),
	C(1, "5", E, 0, DECIDED),
	/* The header: "hbr_tree" is the integer 1, at the top level. */
	C(0,
	  "{\"hbr_tree\":1,\"paths\":[\"/src/a\",\"/src/b\"],"
	  "\"host\":\"web-1\",\"time\":1764288000}",
	  0, 0, DECIDED),
	C(0, "{\"hbr_tree\":2}", E, 0, DECIDED),
	C(0, "{\"hbr_tree\":10}", E, 0, DECIDED),
	C(0, "{\"hbr_tree\":\"1\"}", E, 0, DECIDED),
	C(0, "{\"hbr_tree\":1.0}", E, 0, DECIDED),
	C(0, "{\"hbr_tree\":true}", E, 0, DECIDED),
	C(0, "{\"hbr_tree\":[1]}", E, 0, DECIDED),
	C(0, "{\"paths\":[]}", E, 0, DECIDED),
	C(0, "{\"x\":{\"hbr_tree\":1}}", E, 0, DECIDED),
	C(0, "{\"hbr_tree\":1,\"x\":{\"hbr_tree\":2}}", 0, 0, DECIDED),
	C(0, "{\"hbr_tree\" : 1 }", 0, 0, DECIDED),
	C(0, "{\"hbr_\\u0074ree\":1}", 0, 0, FALLBACK),
	C(0, "{\"hbr_tree\":1,\"hbr_tree\":1}", E, 0, DECIDED),
	C(1, "{\"hbr_tree\":2,\"c\":[[\"" ID_A "\",1]]}", 0, 1, DECIDED),
	/* NUL bytes: in a string never; outside one, jansson's call. */
	C(1, "{\"p\":\"a\0\"}", E, 0, DECIDED),
	C(1, "{\"s\":1\0}", 0, 0, FALLBACK),
	C(1, "{\"s\":true\0}", 0, 0, FALLBACK),
	C(1, "{\"c\":[[\"" ID_A "\",1\0]]}", 0, 1, FALLBACK),
	C(1, "{\"s\":1\0\0}", E, 0, FALLBACK),
	C(1, "{\"p\":\"a\"\0}", E, 0, FALLBACK),
	C(1, "\0{}", E, 0, FALLBACK),
	/* Continuation lines: "c+" carries more of a file's chunks, and the
	 * line is no entry ("c" and "t" are refused beside it). */
	C(1, "{\"c+\":[[\"" ID_A "\",65536],[\"" ID_B "\",7]]}", 0, 2, DECIDED),
	C(1, "{\"c+\":[]}", 0, 0, DECIDED),
	C(1, "{\"c+\":[[\"" ID_A "\",1]],\"zz\":1,\"p\":\"/a\"}", 0, 1,
	  DECIDED),
	C(1, "{\"c+\":[[\"" ID_A "\",-1]]}", E, 0, DECIDED),
	C(1, "{\"c+\":[[\"" ID_A "\",1.5]]}", E, 0, DECIDED),
	C(1, "{\"c+\":[[\"" ID_G "\",1]]}", E, 0, DECIDED),
	C(1, "{\"c+\":[[\"" ID_63 "\",1]]}", E, 0, DECIDED),
	C(1, "{\"c+\":[[\"" ID_A "\"]]}", E, 0, DECIDED),
	C(1, "{\"c+\":5}", E, 0, DECIDED),
	C(1, "{\"c+\":null}", E, 0, DECIDED),
	C(1, "{\"c+\":[],\"c\":[]}", E, 0, DECIDED),
	C(1, "{\"c\":[[\"" ID_A "\",1]],\"c+\":[]}", E, 0, DECIDED),
	C(1, "{\"t\":\"f\",\"c+\":[]}", E, 0, DECIDED),
	C(1, "{\"c+\":[],\"t\":\"d\"}", E, 0, DECIDED),
	C(1, "{\"c+\":[],\"t\":5}", E, 0, DECIDED),
	C(1, "{\"c+\":[],\"c+\":[]}", E, 0, DECIDED),
	C(1, "{\"t\":\"\\u0066\",\"c+\":[]}", E, 0, DECIDED),
	C(1, "{\"c\\u002b\":[[\"" ID_A "\",1]]}", 0, 1, FALLBACK),
	C(1, "{\"x\":{\"c+\":5}}", 0, 0, DECIDED),
	C(1, "{\"t\":\"\\u0066\"}", 0, 0, DECIDED),
	C(1, "{\"t\":\"\\u0046\",\"c+\":[]}", E, 0, DECIDED),
	C(1, "{\"t\":\"\\u0066x\"}", 0, 0, DECIDED),
	C(0, "{\"hbr_tree\":1,\"c+\":5}", 0, 0, DECIDED),
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < HBR_ARRAY_SIZE(cases); i++) {
		const struct tcase *t = &cases[i];
		struct hbr_idset set;
		/* As if after a file: a continuation line may come. */
		enum hbr_tree_line_kind prev = HBR_TREE_LINE_FILE;
		int scan;

		hbr_idset_init(&set);
		if (hbr_tree_line_refs(&set, &prev, t->text, t->len,
		                       t->line_no) != t->want) {
			print_message("case %zu: %s\n", i, hbr_error_msg());
			show(t->text, t->len, t->line_no);
			fail();
		}
		if (!t->want)
			assert_int_equal(set.n, t->nids);
		hbr_idset_free(&set);
		scan = check(NULL, t->text, t->len, t->line_no);
		if ((t->path == DECIDED) != (scan != HBR_TREE_SCAN_UNSURE) &&
		    t->path != EITHER)
			print_message("case %zu: scanner %d\n", i, scan);
		if (t->path == DECIDED)
			assert_int_not_equal(scan, HBR_TREE_SCAN_UNSURE);
		else if (t->path == FALLBACK)
			assert_int_equal(scan, HBR_TREE_SCAN_UNSURE);
	}
}

/* Past the scanner's own limits, jansson decides. */
static void test_limits(void **state)
{
	struct hbr_buf b;

	(void)state;
	hbr_buf_init(&b, 0);
	for (size_t depth = 60; depth <= 3000; depth += 970) {
		hbr_buf_clear(&b);
		(void)hbr_buf_puts(&b, "{\"zz\":");
		for (size_t i = 0; i < depth; i++)
			(void)hbr_buf_putc(&b, '[');
		for (size_t i = 0; i < depth; i++)
			(void)hbr_buf_putc(&b, ']');
		(void)hbr_buf_puts(&b, ",\"c\":[[\"" ID_A "\",1]]}");
		(void)check(NULL, b.ptr, b.len, 1);
	}
	assert_int_equal(check(NULL, b.ptr, b.len, 1), HBR_TREE_SCAN_UNSURE);
	/* Many keys, then one of them again. */
	for (int dup = 0; dup < 2; dup++) {
		hbr_buf_clear(&b);
		(void)hbr_buf_puts(&b, "{\"c\":[[\"" ID_A "\",1]]");
		for (int i = 0; i < 400; i++)
			(void)hbr_buf_printf(&b, ",\"k%d\":%d", i, i);
		if (dup)
			(void)hbr_buf_puts(&b, ",\"k7\":0");
		(void)hbr_buf_putc(&b, '}');
		(void)check(NULL, b.ptr, b.len, 1);
	}
	hbr_buf_release(&b);
}

/* What the server does: a tree fed in pieces, lines through the scanner. */
struct server {
	struct hbr_idset *set;
	enum hbr_tree_line_kind prev;
};

static int on_line(const char *text, size_t len, size_t line_no, void *payload)
{
	struct server *s = payload;

	return hbr_tree_line_refs(s->set, &s->prev, text, len, line_no);
}

static const char tree[] =
        "{\"hbr_tree\":1,\"paths\":[\"/a\"]}\n"
        "{\"p\":\"/a\",\"t\":\"d\"}\n"
        "{\"p\":\"/a/x\",\"t\":\"f\",\"s\":3,\"c\":[[\"" ID_A "\",1],[\"" ID_B
        "\",2]]}\n"
        "{\"p\":\"/a/y\",\"t\":\"f\",\"s\":1,\"c\":[[\"" ID_U "\",1]]}";

static int read_tree(struct hbr_idset *set, const char *text, size_t len,
                     size_t cut)
{
	struct hbr_tree_reader r;
	struct server s = { set, HBR_TREE_LINE_OTHER };
	int error;

	hbr_tree_reader_init_lines(&r, on_line, &s);
	if ((error = hbr_tree_reader_feed(&r, text, cut)) == 0 &&
	    (error = hbr_tree_reader_feed(&r, text + cut, len - cut)) == 0)
		error = hbr_tree_reader_finish(&r);
	hbr_tree_reader_free(&r);
	return error;
}

static void test_reader(void **state)
{
	struct hbr_idset set;

	(void)state;
	for (size_t cut = 0; cut <= sizeof(tree) - 1; cut++) {
		hbr_idset_init(&set);
		assert_int_equal(read_tree(&set, tree, sizeof(tree) - 1, cut),
		                 0);
		assert_int_equal(set.n, 2);
		hbr_idset_free(&set);
	}
	hbr_idset_init(&set);
	assert_int_equal(read_tree(&set, "", 0, 0), HBR_ECORRUPT);
	assert_int_equal(read_tree(&set, "{\"hbr_tree\":1}\n\n{}", 18, 5),
	                 HBR_ECORRUPT);
	assert_int_equal(read_tree(&set, "{\"p\":\"/a\"}\n", 11, 3),
	                 HBR_ECORRUPT);
	hbr_idset_free(&set);
}

static int read_whole(size_t *nids, const char *text)
{
	struct hbr_idset set;
	int error;

	hbr_idset_init(&set);
	error = read_tree(&set, text, strlen(text), strlen(text) / 2);
	*nids = set.n;
	hbr_idset_free(&set);
	return error;
}

#define HEAD  "{\"hbr_tree\":1,\"paths\":[\"/a\"]}\n"
#define FILE1 "{\"p\":\"/a/x\",\"t\":\"f\",\"c\":[[\"" ID_A "\",1]]}\n"
#define MORE1 "{\"c+\":[[\"" ID_B "\",2]]}\n"
#define MORE2 "{\"c+\":[[\"" ID_U "\",2],[\"" ID_63 "0\",3]]}\n"

/* A continuation line follows a regular file's entry or another
 * continuation line, and nothing else; on both of the server's paths. */
static void test_continuation(void **state)
{
	size_t n;

	(void)state;
	assert_int_equal(
	        read_whole(&n, HEAD FILE1 MORE1 MORE2
	                   "{\"p\":\"/a/y\",\"t\":\"d\"}\n" FILE1 MORE1),
	        0);
	assert_int_equal(n, 3);
	/* An escaped "f" (jansson's path) is a file too. */
	assert_int_equal(read_whole(&n, HEAD "{\"p\":\"/a/x\",\"t\":"
	                                     "\"\\u0066\"}\n" MORE1),
	                 0);
	assert_int_equal(n, 1);
	/* A file without "c" may be continued (its list is all "c+"). */
	assert_int_equal(
	        read_whole(&n, HEAD "{\"p\":\"/a/x\",\"t\":\"f\"}\n" MORE1), 0);
	assert_int_equal(read_whole(&n, HEAD MORE1), HBR_ECORRUPT);
	assert_int_equal(
	        read_whole(&n, HEAD "{\"p\":\"/a\",\"t\":\"d\"}\n" MORE1),
	        HBR_ECORRUPT);
	assert_int_equal(
	        read_whole(&n, HEAD
	                   "{\"p\":\"/a\",\"t\":\"l\",\"l\":\"/b\"}\n" MORE1),
	        HBR_ECORRUPT);
	assert_int_equal(read_whole(&n, HEAD FILE1 "{\"p\":\"/a\",\"t\":\"h\","
	                                           "\"l\":\"/a/x\"}\n" MORE1),
	                 HBR_ECORRUPT);
	assert_int_equal(read_whole(&n, HEAD "{\"p\":\"/a\",\"t\":\"\\u0064\"}"
	                                     "\n" MORE1),
	                 HBR_ECORRUPT);
	assert_int_equal(read_whole(&n, HEAD "{}\n" MORE1), HBR_ECORRUPT);
	/* Bad ids and lengths are refused on a continuation line too. */
	assert_int_equal(
	        read_whole(&n, HEAD FILE1 "{\"c+\":[[\"" ID_G "\",1]]}"),
	        HBR_ECORRUPT);
	assert_int_equal(
	        read_whole(&n, HEAD FILE1 "{\"c+\":[[\"" ID_A "\",-5]]}"),
	        HBR_ECORRUPT);
	assert_int_equal(read_whole(&n, HEAD FILE1 "{\"c+\":[[\"" ID_A
	                                           "\",1]],\"t\":\"f\"}"),
	                 HBR_ECORRUPT);
}

/* ---- random lines ---- */

static uint64_t seed;

static uint64_t rnd(void)
{
	uint64_t z = (seed += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static size_t below(size_t n)
{
	return (size_t)(rnd() % n);
}

static void ws(struct hbr_buf *b)
{
	static const char spaces[] = " \t\r";

	while (below(12) == 0)
		(void)hbr_buf_putc(b, spaces[below(3)]);
}

static void gen_string(struct hbr_buf *b)
{
	static const char *const pieces[] = {
		"a",
		"src",
		"/",
		"x.bin",
		" ",
		"\xc3\xa9",
		"\xe4\xb8\xad",
		"\xf0\x9f\x98\x80",
		"\\\"",
		"\\\\",
		"\\/",
		"\\b",
		"\\f",
		"\\n",
		"\\r",
		"\\t",
		"\\u00e9",
		"\\ud83d\\ude00",
		"\\u2028",
		"\\u0041",
		"~",
		"\x7f",
		"dmFsdWU=",
		"c",
	};

	(void)hbr_buf_putc(b, '"');
	for (size_t n = below(6); n > 0; n--)
		(void)hbr_buf_puts(b, pieces[below(HBR_ARRAY_SIZE(pieces))]);
	(void)hbr_buf_putc(b, '"');
}

static void gen_int(struct hbr_buf *b, bool length)
{
	/* int64_t's edges, and what lies past them */
	static const char *const edges[] = {
		"9223372036854775807",  "9223372036854775808",
		"-9223372036854775808", "-9223372036854775809",
		"18446744073709551616", "-1",
	};

	switch (below(length ? 40 : 24)) {
	case 0:
		(void)hbr_buf_puts(b, "0");
		break;
	case 1:
		(void)hbr_buf_puts(b, "-0");
		break;
	case 2:
		(void)hbr_buf_puts(b, edges[below(HBR_ARRAY_SIZE(edges))]);
		break;
	case 3:
		(void)hbr_buf_printf(b, "-%" PRIu64, rnd() >> (1 + below(63)));
		break;
	case 4:
		(void)hbr_buf_printf(b, "%" PRIu64, rnd() >> 1);
		break;
	default:
		(void)hbr_buf_printf(b, "%zu", below(100000));
		break;
	}
}

static void gen_id(struct hbr_buf *b)
{
	static const char digits[] = "0123456789abcdefABCDEF";
	bool upper = below(4) == 0;

	(void)hbr_buf_putc(b, '"');
	for (int i = 0; i < 64; i++)
		(void)hbr_buf_putc(b, digits[below(upper ? 22 : 16)]);
	(void)hbr_buf_putc(b, '"');
}

/* Ids repeat across lines and within one, as in real trees. */
static void gen_chunks(struct hbr_buf *b)
{
	(void)hbr_buf_putc(b, '[');
	ws(b);
	for (size_t i = 0, n = below(5); i < n; i++) {
		if (i)
			(void)hbr_buf_putc(b, ',');
		(void)hbr_buf_putc(b, '[');
		ws(b);
		if (below(4) == 0)
			(void)hbr_buf_puts(b, below(2) ? "\"" ID_A "\"" :
			                                 "\"" ID_U "\"");
		else
			gen_id(b);
		ws(b);
		(void)hbr_buf_putc(b, ',');
		ws(b);
		gen_int(b, true);
		ws(b);
		(void)hbr_buf_putc(b, ']');
		ws(b);
	}
	(void)hbr_buf_putc(b, ']');
}

static void gen_value(struct hbr_buf *b, int depth);

static void gen_object(struct hbr_buf *b, int depth)
{
	static const char *const keys[] = { "user.a", "user.b",   "c",
		                            "k",      "\xc3\xa9", "" };
	size_t n = below(4), used = 0;

	(void)hbr_buf_putc(b, '{');
	ws(b);
	for (size_t i = 0; i < n; i++) {
		size_t k = below(HBR_ARRAY_SIZE(keys));

		/* Mostly distinct keys; a rare duplicate. */
		if ((used & (1u << k)) && below(8))
			continue;
		used |= 1u << k;
		if (i)
			(void)hbr_buf_putc(b, ',');
		(void)hbr_buf_printf(b, "\"%s\"", keys[k]);
		ws(b);
		(void)hbr_buf_putc(b, ':');
		ws(b);
		if (!strcmp(keys[k], "c") && below(2))
			gen_chunks(b);
		else
			gen_value(b, depth + 1);
		ws(b);
	}
	(void)hbr_buf_putc(b, '}');
}

static void gen_value(struct hbr_buf *b, int depth)
{
	static const char *const reals[] = { "1.5",  "-0.25", "0.0",
		                             "12.5", "-3.0",  "0.125" };
	/* Exponents are rare: jansson decides those. */
	static const char *const exps[] = { "1e5", "-1.0e+2", "2E-3" };

	switch (below(depth > 3 ? 5 : 7)) {
	case 0:
		gen_int(b, false);
		break;
	case 1:
		gen_string(b);
		break;
	case 2:
		(void)hbr_buf_puts(b, below(3) == 0 ? "true" :
		                      below(2) == 0 ? "false" :
		                                      "null");
		break;
	case 3:
		if (below(30))
			(void)hbr_buf_puts(b,
			                   reals[below(HBR_ARRAY_SIZE(reals))]);
		else
			(void)hbr_buf_puts(b,
			                   exps[below(HBR_ARRAY_SIZE(exps))]);
		break;
	case 4:
		gen_string(b);
		break;
	case 5:
		gen_object(b, depth);
		break;
	default:
		(void)hbr_buf_putc(b, '[');
		for (size_t i = 0, n = below(4); i < n; i++) {
			if (i)
				(void)hbr_buf_putc(b, ',');
			ws(b);
			gen_value(b, depth + 1);
			ws(b);
		}
		(void)hbr_buf_putc(b, ']');
		break;
	}
}

/* A tree line: the header's keys or an entry's, in a random order. */
static void gen_line(struct hbr_buf *b, bool header)
{
	static const char *const entry_keys[] = { "p",  "t",  "m", "u",  "g",
		                                  "mt", "ct", "i", "s",  "c",
		                                  "sp", "l",  "x", "rd", "px",
		                                  "zz", "c+" };
	static const char *const header_keys[] = { "hbr_tree", "paths", "host",
		                                   "time", "c" };
	static const char *const not_one[] = { "2",  "10",    "1.0",
		                               "-1", "\"1\"", "true" };
	const char *const *keys = header ? header_keys : entry_keys;
	size_t nkeys = header ? HBR_ARRAY_SIZE(header_keys) :
	                        HBR_ARRAY_SIZE(entry_keys);
	size_t order[HBR_ARRAY_SIZE(entry_keys)], n = 0;
	/* A continuation line mostly without the keys it may not have. */
	bool more = !header && below(6) == 0;

	for (size_t i = 0; i < nkeys; i++) {
		bool ct = !header &&
		          (!strcmp(keys[i], "c") || !strcmp(keys[i], "t"));

		if (!header && !strcmp(keys[i], "c+") ? more :
		    more && ct                        ? below(5) == 0 :
		                 below(3) || (header && i == 0))
			order[n++] = i;
	}
	for (size_t i = n; i > 1; i--) {
		size_t j = below(i), t = order[i - 1];

		order[i - 1] = order[j];
		order[j] = t;
	}
	ws(b);
	(void)hbr_buf_putc(b, '{');
	for (size_t i = 0; i < n; i++) {
		const char *k = keys[order[i]];

		if (i)
			(void)hbr_buf_putc(b, ',');
		ws(b);
		(void)hbr_buf_printf(b, "\"%s\"", k);
		ws(b);
		(void)hbr_buf_putc(b, ':');
		ws(b);
		if (!strcmp(k, "c") || !strcmp(k, "c+"))
			below(20) ? gen_chunks(b) : gen_value(b, 1);
		else if (!strcmp(k, "t") && below(2))
			(void)hbr_buf_puts(b,
			                   below(8) ? "\"f\"" : "\"\\u0066\"");
		else if (!strcmp(k, "x") || !strcmp(k, "zz"))
			gen_object(b, 1);
		else if (!strcmp(k, "sp") || !strcmp(k, "paths"))
			gen_value(b, 3);
		else if (!strcmp(k, "hbr_tree"))
			(void)hbr_buf_puts(b,
			                   below(8) ? "1" : not_one[below(6)]);
		else if (strchr("ptlh", k[0]) && strlen(k) <= 2 &&
		         strcmp(k, "mt"))
			gen_string(b);
		else
			gen_int(b, false);
		ws(b);
	}
	(void)hbr_buf_putc(b, '}');
	ws(b);
}

/* Damage of the kinds a torn or tampered tree has. */
static void mutate(struct hbr_buf *b)
{
	static const char bytes[] = { '"',    '[',   ']',    '{',    '}',
		                      '\\',   ',',   ':',    '\0',   ' ',
		                      '0',    '-',   'e',    '.',    'u',
		                      'c',    'd',   '\x80', '\xc3', '\xed',
		                      '\xff', '\x01' };
	size_t at = b->len ? below(b->len + 1) : 0;
	char c = below(3) ? bytes[below(sizeof(bytes))] : (char)rnd();

	switch (below(6)) {
	case 0: /* flip */
		if (at < b->len)
			b->ptr[at] = c;
		break;
	case 1: /* truncate */
		b->len = at;
		break;
	case 2: /* insert */
		(void)hbr_buf_putc(b, 0);
		memmove(b->ptr + at + 1, b->ptr + at, b->len - at - 1);
		b->ptr[at] = c;
		break;
	case 3: /* delete */
		if (at < b->len) {
			memmove(b->ptr + at, b->ptr + at + 1, b->len - at - 1);
			b->len--;
		}
		break;
	case 4: { /* repeat a span: keys twice, brackets unbalanced */
		size_t len = below(b->len - at + 1) % 40;

		(void)hbr_buf_reserve(b, len);
		memmove(b->ptr + at + len, b->ptr + at, b->len - at);
		b->len += len;
		break;
	}
	default: /* a second key before the end */
		if (b->len && b->ptr[b->len - 1] == '}') {
			static const char *const extra[] = {
				",\"c\":[]",
				",\"p\":\"/x\"",
				",\"t\":1",
				",\"hbr_tree\":1",
				",\"c\":[[\"" ID_A "\",1]]",
				",\"x\":{}",
				",\"\\u0063\":[]",
				",\"c+\":[]",
				",\"t\":\"f\"",
			};
			const char *e = extra[below(HBR_ARRAY_SIZE(extra))];

			b->len--;
			(void)hbr_buf_puts(b, e);
			(void)hbr_buf_putc(b, '}');
		}
		break;
	}
}

static void test_differential(void **state)
{
	struct stats st = { 0 };
	struct hbr_buf base, b;

	(void)state;
	seed = 20260601;
	hbr_buf_init(&base, 0);
	hbr_buf_init(&b, 0);
	for (int round = 0; round < 8000; round++) {
		bool header = below(8) == 0;
		/* Mostly at its place in a tree, sometimes at the other. */
		size_t no = header == (below(8) != 0) ? 0 : 1;

		hbr_buf_clear(&base);
		gen_line(&base, header);
		(void)check(&st, base.ptr, base.len, no);
		for (int m = 0; m < 3; m++) {
			hbr_buf_clear(&b);
			(void)hbr_buf_put(&b, base.ptr, base.len);
			for (size_t k = 1 + below(3); k > 0; k--)
				mutate(&b);
			(void)check(&st, b.ptr, b.len, no);
		}
	}
	print_message("%zu lines: %zu accepted, %zu left to jansson\n",
	              st.lines, st.accepted, st.unsure);
	/* The scanner itself must be what is tested, on both verdicts. */
	assert_true(st.unsure * 10 < st.lines);
	assert_true(st.accepted * 5 > st.lines);
	assert_true((st.lines - st.accepted) * 5 > st.lines);
	hbr_buf_release(&base);
	hbr_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_reader),
		cmocka_unit_test(test_continuation),
		cmocka_unit_test(test_differential),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
