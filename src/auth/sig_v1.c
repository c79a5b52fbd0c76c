/* Signature V1: HMAC-SHA1 over the sorted parameters (hbr-api.md §3.3). */
#include "common.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "auth/sig_internal.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/urlenc.h"

static const char *const required[] = {
	"AccessKeyId",      "Signature",      "SignatureMethod",
	"SignatureVersion", "SignatureNonce", "Timestamp",
};

struct item {
	const struct hbr_kv *kv;
	size_t idx;
};

/* By name in byte order; the arrival index keeps it stable, as the JS
 * Array.sort() of the official clients is. */
static int cmp_item(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c = strcmp(x->kv->key, y->kv->key);

	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int hbr_sig_v1_string_to_sign(struct hbr_buf *out, const char *method,
                              const struct hbr_kvlist *params)
{
	struct hbr_buf sts;
	struct item *items = NULL;
	size_t n = 0;
	int error;

	hbr_buf_init(&sts, HBR_SIG_TEXT_MAX);
	if (params && params->n) {
		items = hbr_calloc(params->n, sizeof(*items));
		for (size_t i = 0; i < params->n; i++) {
			if (!strcmp(params->items[i].key, "Signature"))
				continue;
			items[n].kv = &params->items[i];
			items[n].idx = i;
			n++;
		}
		qsort(items, n, sizeof(*items), cmp_item);
	}
	/* METHOD&%2F&encode(canonical query), the canonical query being
	 * encode(key)=encode(value) joined by '&': written directly in its
	 * twice-encoded form, '&' and '=' becoming %26 and %3D. */
	if ((error = hbr_buf_puts(&sts, method)) < 0 ||
	    (error = hbr_buf_puts(&sts, "&%2F&")) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct hbr_kv *kv = items[i].kv;

		if ((i && (error = hbr_buf_put(&sts, "%26", 3)) < 0) ||
		    (error = hbr_url_encode_twice(&sts, kv->key,
		                                  strlen(kv->key))) < 0 ||
		    (error = hbr_buf_put(&sts, "%3D", 3)) < 0 ||
		    (error = hbr_url_encode_twice(&sts, kv->val,
		                                  strlen(kv->val))) < 0)
			goto out;
	}
	/* One append, so `out` is untouched if it does not fit. */
	error = hbr_buf_put(out, hbr_buf_cstr(&sts), sts.len);
out:
	hbr_free(items);
	hbr_buf_release(&sts);
	return error;
}

void hbr_sig_v1_sign(char out[64], const char *secret, const char *sts)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t slen = strlen(secret), maclen;
	char *key = hbr_malloc(slen + 2);

	memcpy(key, secret, slen);
	key[slen] = '&';
	key[slen + 1] = '\0';
	maclen = hbr_sig_hmac(mac, sizeof(mac), "SHA1", key, slen + 1, sts,
	                      strlen(sts));
	OPENSSL_cleanse(key, slen + 1);
	hbr_free(key);
	HBR_ASSERT(maclen == 20);
	/* 20 bytes are 28 base64 characters plus the NUL. */
	(void)EVP_EncodeBlock((unsigned char *)out, mac, (int)maclen);
}

/* First value of a parameter in query then form, and how often it occurs
 * in both together. */
static const char *param(const struct hbr_sig_request *req, const char *name,
                         size_t *count)
{
	const struct hbr_kvlist *lists[2] = { req->query, req->form };
	const char *first = NULL;

	*count = 0;
	for (size_t l = 0; l < 2; l++) {
		if (!lists[l])
			continue;
		for (size_t i = 0; i < lists[l]->n; i++) {
			if (strcmp(lists[l]->items[i].key, name))
				continue;
			if (!first)
				first = lists[l]->items[i].val;
			(*count)++;
		}
	}
	return first;
}

int hbr_sig_v1_claim(struct hbr_sig_claim *out,
                     const struct hbr_sig_request *req)
{
	const char *val[HBR_ARRAY_SIZE(required)];
	struct hbr_sig_claim c = { .kind = HBR_SIG_V1 };
	char missing[160] = "";
	size_t count;
	int error;

	for (size_t i = 0; i < HBR_ARRAY_SIZE(required); i++) {
		val[i] = param(req, required[i], &count);
		/* Repeating a signature field would leave two readings of
		 * which key, nonce or time the request claims. */
		if (count > 1)
			return hbr_error_set(
			        HBR_ESIGINCOMPLETE,
			        "The request signature does not conform to Aliyun standards: parameter %s occurs %zu times",
			        required[i], count);
		if (!val[i] || !*val[i]) {
			size_t len = strlen(missing);
			(void)snprintf(missing + len, sizeof(missing) - len,
			               "%s%s", len ? ", " : "", required[i]);
		}
	}
	if (missing[0])
		return hbr_error_set(
		        HBR_ESIGINCOMPLETE,
		        "The request signature does not conform to Aliyun standards: missing %s",
		        missing);
	if (strcmp(val[2], "HMAC-SHA1"))
		return hbr_error_set(
		        HBR_ESIGMETHOD,
		        "Specified signature method is not valid: '%.64s' (only HMAC-SHA1 is supported)",
		        val[2]);
	if (strcmp(val[3], "1.0"))
		return hbr_error_set(
		        HBR_ESIGINCOMPLETE,
		        "The request signature does not conform to Aliyun standards: SignatureVersion '%.64s' is not 1.0",
		        val[3]);
	if ((error = hbr_sig_copy_field(c.access_key_id,
	                                sizeof(c.access_key_id), "AccessKeyId",
	                                val[0], strlen(val[0]))) < 0 ||
	    (error = hbr_sig_copy_field(c.nonce, sizeof(c.nonce),
	                                "SignatureNonce", val[4],
	                                strlen(val[4]))) < 0 ||
	    (error = hbr_sig_parse_time(&c.timestamp, "Timestamp", val[5])) < 0)
		return error;
	*out = c;
	return 0;
}

int hbr_sig_v1_check(const struct hbr_sig_claim *claim,
                     const struct hbr_sig_request *req, const char *secret)
{
	const struct hbr_kvlist *lists[2] = { req->query, req->form };
	struct hbr_kvlist all = HBR_KVLIST_INIT;
	struct hbr_buf sts;
	const char *sent, *ak;
	char mine[64];
	size_t count;
	int error;

	sent = param(req, "Signature", &count);
	ak = param(req, "AccessKeyId", &count);
	if (!sent || !ak || strcmp(ak, claim->access_key_id))
		return hbr_error_set(
		        HBR_ESIGINCOMPLETE,
		        "The request signature does not conform to Aliyun standards: request does not match its claim");

	/* A view over both lists (borrowed pointers, only the array is
	 * ours): the signature must cover the form body too. */
	for (size_t l = 0; l < 2; l++)
		all.n += lists[l] ? lists[l]->n : 0;
	all.items = hbr_calloc(all.n ? all.n : 1, sizeof(*all.items));
	all.cap = all.n;
	for (size_t l = 0, k = 0; l < 2; l++)
		for (size_t i = 0; lists[l] && i < lists[l]->n; i++)
			all.items[k++] = lists[l]->items[i];

	hbr_buf_init(&sts, HBR_SIG_TEXT_MAX);
	if ((error = hbr_sig_v1_string_to_sign(&sts, req->method, &all)) < 0)
		goto out;
	hbr_sig_v1_sign(mine, secret, hbr_buf_cstr(&sts));
	if (!hbr_sig_equal(mine, sent))
		error = hbr_error_set(
		        HBR_ESIGNATURE,
		        "Specified signature is not matched with our calculation. server string to sign is:%s",
		        hbr_buf_cstr(&sts));
out:
	OPENSSL_cleanse(mine, sizeof(mine));
	hbr_free(all.items);
	hbr_buf_release(&sts);
	return error;
}
