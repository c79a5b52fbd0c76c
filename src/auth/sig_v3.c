/* Signature V3: ACS3-HMAC-SHA256 over the canonical request (§3.4). */
#include "common.h"
#include <ctype.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "auth/sig_internal.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/urlenc.h"

#define ALGORITHM          "ACS3-HMAC-SHA256"
#define SIGNED_HEADERS_MAX 2048
#define INCOMPLETE \
	"The request signature does not conform to Aliyun standards: "

/* What the Authorization header says. */
struct auth {
	char access_key_id[128];
	char signed_headers[SIGNED_HEADERS_MAX];
	char signature[65]; /* lower-case hex */
};

/* A string that is not NUL-terminated where we need it. */
struct span {
	const char *p;
	size_t len;
};

static bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static struct span trim(const char *s, size_t len)
{
	while (len && is_ws(*s)) {
		s++;
		len--;
	}
	while (len && is_ws(s[len - 1]))
		len--;
	return (struct span){ s, len };
}

static bool span_is(struct span s, const char *lit)
{
	return s.len == strlen(lit) && !memcmp(s.p, lit, s.len);
}

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->p, y->p, n);

	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/*
 * "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=a;b,Signature=hex", the
 * three fields in any order, blanks allowed around them.
 */
static int parse_auth(struct auth *out, const char *hdr)
{
	struct auth a = { 0 };
	struct span alg;
	const char *p = hdr, *sp;
	unsigned seen = 0;
	int error;

	sp = strchr(hdr, ' ');
	alg = (struct span){ hdr, sp ? (size_t)(sp - hdr) : strlen(hdr) };
	if (!span_is(alg, ALGORITHM))
		return hbr_error_set(
		        HBR_ESIGMETHOD,
		        "Specified signature method is not valid: '%.*s' (only " ALGORITHM
		        " is supported)",
		        (int)(alg.len > 64 ? 64 : alg.len), alg.p);
	p = hdr + alg.len;
	while (*p) {
		const char *end = strchr(p, ','), *eq;
		struct span name, val;
		unsigned bit;

		if (!end)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if (!eq)
			return hbr_error_set(HBR_ESIGINCOMPLETE, INCOMPLETE
			                     "malformed Authorization header");
		name = trim(p, (size_t)(eq - p));
		val = trim(eq + 1, (size_t)(end - eq - 1));
		if (span_is(name, "Credential")) {
			bit = 1;
			error = hbr_sig_copy_field(
			        a.access_key_id, sizeof(a.access_key_id),
			        "Credential", val.p, val.len);
		} else if (span_is(name, "SignedHeaders")) {
			bit = 2;
			error = hbr_sig_copy_field(
			        a.signed_headers, sizeof(a.signed_headers),
			        "SignedHeaders", val.p, val.len);
		} else if (span_is(name, "Signature")) {
			bit = 4;
			if (val.len != 64)
				return hbr_error_set(
				        HBR_ESIGINCOMPLETE, INCOMPLETE
				        "Signature is not 64 hex digits");
			for (size_t i = 0; i < 64; i++) {
				if (!isxdigit((unsigned char)val.p[i]))
					return hbr_error_set(
					        HBR_ESIGINCOMPLETE, INCOMPLETE
					        "Signature is not 64 hex digits");
				a.signature[i] =
				        (char)tolower((unsigned char)val.p[i]);
			}
			error = 0;
		} else {
			return hbr_error_set(
			        HBR_ESIGINCOMPLETE,
			        INCOMPLETE
			        "unknown field '%.*s' in Authorization",
			        (int)(name.len > 32 ? 32 : name.len), name.p);
		}
		if (error < 0)
			return error;
		if (seen & bit)
			return hbr_error_set(
			        HBR_ESIGINCOMPLETE, INCOMPLETE
			        "a field occurs twice in Authorization");
		seen |= bit;
		p = *end ? end + 1 : end;
	}
	if (seen != 7)
		return hbr_error_set(HBR_ESIGINCOMPLETE,
		                     INCOMPLETE "Authorization lacks%s%s%s",
		                     seen & 1 ? "" : " Credential",
		                     seen & 2 ? "" : " SignedHeaders",
		                     seen & 4 ? "" : " Signature");
	*out = a;
	return 0;
}

/* The only value of header `name` (trimmed), or an error. */
static int single_header(struct span *out, const struct hbr_kvlist *headers,
                         const char *name)
{
	const char *val = NULL;
	size_t count = 0;

	for (size_t i = 0; headers && i < headers->n; i++) {
		if (!strcmp(headers->items[i].key, name)) {
			val = headers->items[i].val;
			count++;
		}
	}
	if (count != 1)
		return hbr_error_set(
		        HBR_ESIGINCOMPLETE,
		        INCOMPLETE
		        "header %s occurs %zu times, need exactly once",
		        name, count);
	*out = trim(val, strlen(val));
	return 0;
}

static bool has_header(const struct hbr_kvlist *headers, const char *name)
{
	return headers && hbr_kvlist_get(headers, name) != NULL;
}

/* Whether `name` is one of the ';'-separated names in list. */
static bool listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list;;) {
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == n && !memcmp(p, name, n))
			return true;
		if (!end)
			return false;
		p = end + 1;
	}
}

int hbr_sig_v3_claim(struct hbr_sig_claim *out,
                     const struct hbr_sig_request *req)
{
	/* Without these signed, a request could be replayed with another
	 * action, nonce, time or body, or be sent to another host. */
	static const struct {
		const char *name;
		bool always;
	} must_sign[] = {
		{ "host", true },
		{ "x-acs-action", false },
		{ "x-acs-version", false },
		{ "x-acs-date", true },
		{ "x-acs-signature-nonce", true },
		{ "x-acs-content-sha256", true },
		{ "content-type", false },
	};
	struct hbr_sig_claim c = { .kind = HBR_SIG_V3 };
	char missing[200] = "", date[64];
	struct auth a;
	struct span auth_hdr, nonce, ts;
	int error;

	if ((error = single_header(&auth_hdr, req->headers, "authorization")) <
	    0)
		return error;
	/* auth_hdr is a trimmed view into a NUL-terminated value. */
	if ((error = parse_auth(&a, auth_hdr.p)) < 0)
		return error;

	for (size_t i = 0; i < HBR_ARRAY_SIZE(must_sign); i++) {
		if (!must_sign[i].always &&
		    !has_header(req->headers, must_sign[i].name))
			continue;
		if (!listed(a.signed_headers, must_sign[i].name)) {
			size_t len = strlen(missing);
			(void)snprintf(missing + len, sizeof(missing) - len,
			               "%s%s", len ? ", " : "",
			               must_sign[i].name);
		}
	}
	if (missing[0])
		return hbr_error_set(HBR_ESIGINCOMPLETE,
		                     INCOMPLETE "SignedHeaders lacks %s",
		                     missing);
	for (const char *p = a.signed_headers;;) {
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char name[128];

		if (len == 0 || len >= sizeof(name))
			return hbr_error_set(HBR_ESIGINCOMPLETE, INCOMPLETE
			                     "malformed SignedHeaders");
		memcpy(name, p, len);
		name[len] = '\0';
		if (!has_header(req->headers, name))
			return hbr_error_set(
			        HBR_ESIGINCOMPLETE,
			        INCOMPLETE
			        "signed header %s is not in the request",
			        name);
		if (!end)
			break;
		p = end + 1;
	}

	if ((error = single_header(&nonce, req->headers,
	                           "x-acs-signature-nonce")) < 0 ||
	    (error = single_header(&ts, req->headers, "x-acs-date")) < 0 ||
	    (error = single_header(&(struct span){ 0 }, req->headers,
	                           "x-acs-content-sha256")) < 0)
		return error;
	if ((error = hbr_sig_copy_field(
	             c.access_key_id, sizeof(c.access_key_id), "Credential",
	             a.access_key_id, strlen(a.access_key_id))) < 0 ||
	    (error = hbr_sig_copy_field(c.nonce, sizeof(c.nonce),
	                                "x-acs-signature-nonce", nonce.p,
	                                nonce.len)) < 0)
		return error;
	if (ts.len >= sizeof(date))
		ts.len = sizeof(date) - 1; /* fails the parse below */
	memcpy(date, ts.p, ts.len);
	date[ts.len] = '\0';
	if ((error = hbr_sig_parse_time(&c.timestamp, "x-acs-date", date)) < 0)
		return error;
	*out = c;
	return 0;
}

struct qitem {
	const struct hbr_kv *kv;
	size_t idx;
};

static int cmp_qitem(const void *a, const void *b)
{
	const struct qitem *x = a, *y = b;
	int c = strcmp(x->kv->key, y->kv->key);

	if (!c)
		c = strcmp(x->kv->val, y->kv->val);
	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int canonical_query(struct hbr_buf *out, const struct hbr_kvlist *query)
{
	struct qitem *items;
	size_t n = query ? query->n : 0;
	int error = 0;

	if (!n)
		return 0;
	items = hbr_calloc(n, sizeof(*items));
	for (size_t i = 0; i < n; i++) {
		items[i].kv = &query->items[i];
		items[i].idx = i;
	}
	qsort(items, n, sizeof(*items), cmp_qitem);
	for (size_t i = 0; i < n; i++) {
		const struct hbr_kv *kv = items[i].kv;

		if ((i && (error = hbr_buf_putc(out, '&')) < 0) ||
		    (error = hbr_url_encode(out, kv->key, strlen(kv->key))) <
		            0 ||
		    (error = hbr_buf_putc(out, '=')) < 0 ||
		    (error = hbr_url_encode(out, kv->val, strlen(kv->val))) < 0)
			break;
	}
	hbr_free(items);
	return error;
}

/* "name:v1,v2\n" with the values of every header called name. */
static int canonical_header(struct hbr_buf *out,
                            const struct hbr_kvlist *headers, const char *name)
{
	struct span *vals;
	size_t n = 0;
	int error;

	for (size_t i = 0; headers && i < headers->n; i++)
		n += !strcmp(headers->items[i].key, name);
	if (!n)
		return hbr_error_set(
		        HBR_ESIGINCOMPLETE,
		        INCOMPLETE "signed header %.64s is not in the request",
		        name);
	vals = hbr_calloc(n, sizeof(*vals));
	n = 0;
	for (size_t i = 0; i < headers->n; i++) {
		const char *v = headers->items[i].val;

		if (!strcmp(headers->items[i].key, name))
			vals[n++] = trim(v, strlen(v));
	}
	qsort(vals, n, sizeof(*vals), cmp_span);
	if ((error = hbr_buf_puts(out, name)) < 0 ||
	    (error = hbr_buf_putc(out, ':')) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if ((i && (error = hbr_buf_putc(out, ',')) < 0) ||
		    (error = hbr_buf_put(out, vals[i].p, vals[i].len)) < 0)
			goto out;
	}
	error = hbr_buf_putc(out, '\n');
out:
	hbr_free(vals);
	return error;
}

int hbr_sig_v3_canonical_request(struct hbr_buf *out, const char *method,
                                 const struct hbr_kvlist *query,
                                 const struct hbr_kvlist *headers,
                                 const char *signed_headers,
                                 const char *payload_hash)
{
	struct hbr_buf c;
	char name[128];
	int error;

	hbr_buf_init(&c, HBR_SIG_TEXT_MAX);
	if ((error = hbr_buf_printf(&c, "%s\n/\n", method)) < 0 ||
	    (error = canonical_query(&c, query)) < 0 ||
	    (error = hbr_buf_putc(&c, '\n')) < 0)
		goto out;
	for (const char *p = signed_headers;;) {
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == 0 || len >= sizeof(name)) {
			error = hbr_error_set(HBR_ESIGINCOMPLETE, INCOMPLETE
			                      "malformed SignedHeaders");
			goto out;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		if ((error = canonical_header(&c, headers, name)) < 0)
			goto out;
		if (!end)
			break;
		p = end + 1;
	}
	if ((error = hbr_buf_printf(&c, "\n%s\n%s", signed_headers,
	                            payload_hash)) < 0)
		goto out;
	error = hbr_buf_put(out, hbr_buf_cstr(&c), c.len);
out:
	hbr_buf_release(&c);
	return error;
}

static void string_to_sign(char out[sizeof(ALGORITHM) + 65], const char *creq)
{
	char hash[65];

	hbr_sig_sha256_hex(hash, creq, strlen(creq));
	(void)snprintf(out, sizeof(ALGORITHM) + 65, ALGORITHM "\n%s", hash);
}

void hbr_sig_v3_sign(char out[65], const char *secret, const char *creq)
{
	static const char hex[] = "0123456789abcdef";
	char sts[sizeof(ALGORITHM) + 65];
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t n;

	string_to_sign(sts, creq);
	n = hbr_sig_hmac(mac, sizeof(mac), "SHA256", secret, strlen(secret),
	                 sts, strlen(sts));
	HBR_ASSERT(n == 32);
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[64] = '\0';
	OPENSSL_cleanse(mac, sizeof(mac));
}

int hbr_sig_v3_check(const struct hbr_sig_claim *claim,
                     const struct hbr_sig_request *req, const char *secret)
{
	char body_hash[65], mine[65], payload[65];
	char sts[sizeof(ALGORITHM) + 65];
	struct span auth_hdr, sent_hash;
	struct hbr_buf creq;
	struct auth a;
	int error;

	if ((error = single_header(&auth_hdr, req->headers, "authorization")) <
	            0 ||
	    (error = parse_auth(&a, auth_hdr.p)) < 0 ||
	    (error = single_header(&sent_hash, req->headers,
	                           "x-acs-content-sha256")) < 0)
		return error;
	if (strcmp(a.access_key_id, claim->access_key_id))
		return hbr_error_set(HBR_ESIGINCOMPLETE, INCOMPLETE
		                     "request does not match its claim");

	/* The MAC covers the body only through this hash, so the body
	 * must be checked against it, not just the header signed. */
	hbr_sig_sha256_hex(body_hash, req->body, req->body_len);
	if (sent_hash.len != 64 || strncasecmp(sent_hash.p, body_hash, 64) != 0)
		return hbr_error_set(
		        HBR_ESIGNATURE,
		        "Specified signature is not matched with our calculation: the payload hash in x-acs-content-sha256 (%.64s) does not match the body (%s)",
		        sent_hash.p, body_hash);
	memcpy(payload, sent_hash.p, 64);
	payload[64] = '\0';

	hbr_buf_init(&creq, HBR_SIG_TEXT_MAX);
	if ((error = hbr_sig_v3_canonical_request(
	             &creq, req->method, req->query, req->headers,
	             a.signed_headers, payload)) < 0)
		goto out;
	hbr_sig_v3_sign(mine, secret, hbr_buf_cstr(&creq));
	if (!hbr_sig_equal(mine, a.signature)) {
		string_to_sign(sts, hbr_buf_cstr(&creq));
		error = hbr_error_set(
		        HBR_ESIGNATURE,
		        "Specified signature is not matched with our calculation. server string to sign is:%s canonical request is:%s",
		        sts, hbr_buf_cstr(&creq));
	}
out:
	OPENSSL_cleanse(mine, sizeof(mine));
	hbr_buf_release(&creq);
	return error;
}
