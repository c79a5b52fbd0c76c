/* Signature scheme detection, the time window and shared crypto helpers. */
#include "common.h"
#include <pthread.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include "auth/sig_internal.h"
#include "util/error.h"
#include "util/timeutil.h"

/* Fetching the HMAC implementation walks OpenSSL's provider store, and
 * setting a context's digest fetches the digest by name: both cost more
 * than the MAC of a request. So each thread keeps one context per
 * digest, set up once, and a request only sets its key. */
static EVP_MAC *hmac_impl;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;
static pthread_key_t hmac_key;

enum { MAC_SHA1, MAC_SHA256, MAC_N };

struct mac_ctxs {
	EVP_MAC_CTX *ctx[MAC_N];
};

static void free_ctxs(void *p)
{
	struct mac_ctxs *m = p;

	for (int i = 0; i < MAC_N; i++)
		EVP_MAC_CTX_free(m->ctx[i]);
	OPENSSL_free(m);
}

static void hmac_fetch(void)
{
	hmac_impl = EVP_MAC_fetch(NULL, "HMAC", NULL);
	HBR_ASSERT(pthread_key_create(&hmac_key, free_ctxs) == 0);
}

static EVP_MAC_CTX *thread_ctx(const char *digest)
{
	int which = !strcmp(digest, "SHA1")   ? MAC_SHA1 :
	            !strcmp(digest, "SHA256") ? MAC_SHA256 :
	                                        -1;
	struct mac_ctxs *m;
	OSSL_PARAM params[2];

	HBR_ASSERT(which >= 0);
	(void)pthread_once(&hmac_once, hmac_fetch);
	HBR_ASSERT(hmac_impl != NULL);
	if (!(m = pthread_getspecific(hmac_key))) {
		m = OPENSSL_zalloc(sizeof(*m));
		HBR_ASSERT(m != NULL);
		HBR_ASSERT(pthread_setspecific(hmac_key, m) == 0);
	}
	if (!m->ctx[which]) {
		m->ctx[which] = EVP_MAC_CTX_new(hmac_impl);
		HBR_ASSERT(m->ctx[which] != NULL);
		params[0] = OSSL_PARAM_construct_utf8_string(
		        OSSL_MAC_PARAM_DIGEST, (char *)digest, 0);
		params[1] = OSSL_PARAM_construct_end();
		HBR_ASSERT(EVP_MAC_CTX_set_params(m->ctx[which], params));
	}
	return m->ctx[which];
}

size_t hbr_sig_hmac(unsigned char *out, size_t size, const char *digest,
                    const void *key, size_t keylen, const void *data,
                    size_t len)
{
	EVP_MAC_CTX *ctx = thread_ctx(digest);
	size_t outlen = 0;
	int ok;

	/* A non-NULL key pointer even for an empty secret: NULL would mean
	 * "reuse the previous key" to OpenSSL. Setting the key restarts
	 * the MAC, so nothing of the previous request carries over. */
	ok = EVP_MAC_init(ctx, keylen ? key : (const void *)"", keylen, NULL) &&
	     EVP_MAC_update(ctx, data, len) &&
	     EVP_MAC_final(ctx, out, &outlen, size);
	HBR_ASSERT(ok);
	return outlen;
}

void hbr_sig_sha256_hex(char out[65], const void *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	HBR_ASSERT(EVP_Digest(len ? data : "", len, md, &mdlen, EVP_sha256(),
	                      NULL) == 1);
	HBR_ASSERT(mdlen == 32);
	for (unsigned int i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

bool hbr_sig_equal(const char *a, const char *b)
{
	/* Fixed-size padded copies, so the time taken does not depend on
	 * where the first difference is (nor, much, on the lengths). */
	char pa[128] = { 0 }, pb[128] = { 0 };
	size_t la = strlen(a), lb = strlen(b);

	if (la >= sizeof(pa) || lb >= sizeof(pb))
		return false;
	memcpy(pa, a, la);
	memcpy(pb, b, lb);
	return (CRYPTO_memcmp(pa, pb, sizeof(pa)) == 0) & (la == lb);
}

int hbr_sig_parse_time(int64_t *out, const char *what, const char *s)
{
	int64_t t;

	if (hbr_time_parse_iso8601(&t, s) < 0)
		return hbr_error_set(
		        HBR_ETSFORMAT,
		        "Specified time stamp or date value is not well formatted: %s '%.64s' is not YYYY-MM-DDThh:mm:ssZ",
		        what, s);
	*out = t;
	return 0;
}

int hbr_sig_copy_field(char *dst, size_t size, const char *what, const char *s,
                       size_t len)
{
	if (len == 0)
		return hbr_error_set(
		        HBR_ESIGINCOMPLETE,
		        "The request signature does not conform to Aliyun standards: %s is empty",
		        what);
	if (len >= size)
		return hbr_error_set(
		        HBR_ESIGINCOMPLETE,
		        "The request signature does not conform to Aliyun standards: %s is longer than %zu bytes",
		        what, size - 1);
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

static bool has_param(const struct hbr_sig_request *req, const char *name)
{
	return (req->query && hbr_kvlist_get(req->query, name)) ||
	       (req->form && hbr_kvlist_get(req->form, name));
}

int hbr_sig_parse(struct hbr_sig_claim *out, const struct hbr_sig_request *req)
{
	const char *auth = NULL;

	if (req->headers)
		auth = hbr_kvlist_get(req->headers, "authorization");
	/* V3 wins when both are present: its MAC covers the headers and the
	 * body hash, so it is the stronger of the two claims. */
	if (auth && !strncmp(auth, "ACS3-", 5))
		return hbr_sig_v3_claim(out, req);
	if (has_param(req, "Signature"))
		return hbr_sig_v1_claim(out, req);
	return hbr_error_set(
	        HBR_ESIGINCOMPLETE,
	        "The request signature does not conform to Aliyun standards: no ACS3 Authorization header and no Signature parameter");
}

int hbr_sig_check_time(const struct hbr_sig_claim *claim, int64_t now,
                       int64_t window)
{
	int64_t t = claim->timestamp;
	/* Both come from timegm()/time() on 4-digit years: no overflow. */
	int64_t skew = t > now ? t - now : now - t;

	if (skew > window)
		return hbr_error_set(
		        HBR_ETSEXPIRED,
		        "Specified time stamp or date value is expired: it is %lld s from server time, more than %lld s",
		        (long long)skew, (long long)window);
	return 0;
}

int hbr_sig_verify(const struct hbr_sig_claim *claim,
                   const struct hbr_sig_request *req, const char *secret)
{
	switch (claim->kind) {
	case HBR_SIG_V1:
		return hbr_sig_v1_check(claim, req, secret);
	case HBR_SIG_V3:
		return hbr_sig_v3_check(claim, req, secret);
	}
	return hbr_error_set(HBR_ESIGINCOMPLETE, "unknown signature kind %d",
	                     (int)claim->kind);
}
