/*
 * Request signatures as the official Alibaba clients make them
 * (hbr-api.md §3.3, §3.4):
 *   V1: HMAC-SHA1 over the sorted, RFC 3986-encoded query ∪ form-body
 *       parameters (Signature excluded), key = secret + "&", base64.
 *   V3: ACS3-HMAC-SHA256 over the canonical request (method, "/", the
 *       canonical query, the signed headers, the payload hash), hex.
 *
 * Verification is split in two so that the caller can look the key up
 * between the steps: hbr_sig_parse() reads what the request claims (which
 * key, nonce, time) without any secret; hbr_sig_verify() checks the MAC.
 *
 * A V1 signature must cover the form body too. Terraform's tea-rpc client
 * signs only the query while sending parameters in the body; accepting
 * that would leave the body unauthenticated, so it is refused.
 */
#ifndef HBR_AUTH_SIG_H
#define HBR_AUTH_SIG_H

#include "common.h"
#include "util/buf.h"
#include "util/kvlist.h"

/* The parts of a received request that signatures cover. All borrowed. */
struct hbr_sig_request {
	const char *method; /* "GET", "POST" */
	const struct hbr_kvlist *query; /* decoded URL query parameters */
	const struct hbr_kvlist *form; /* decoded form-body parameters */
	const struct hbr_kvlist *headers; /* names lower-case, values raw */
	const char *body; /* raw (de-chunked) body bytes */
	size_t body_len;
};

enum hbr_sig_kind { HBR_SIG_V1 = 1, HBR_SIG_V3 = 3 };

/* What a request claims about itself, before any secret is known. */
struct hbr_sig_claim {
	enum hbr_sig_kind kind;
	char access_key_id[128];
	char nonce[128];
	int64_t timestamp; /* UNIX seconds from Timestamp / x-acs-date */
};

/*
 * Work out the scheme and read AccessKeyId, nonce and timestamp.
 * V3 when an "authorization" header starts with "ACS3-"; V1 when a
 * Signature parameter is present. Errors:
 *   HBR_ESIGINCOMPLETE  no signature at all, or required fields missing or
 *                       malformed (e.g. SignedHeaders lacks host, x-acs-date,
 *                       x-acs-signature-nonce, x-acs-content-sha256,
 *                       x-acs-action or x-acs-version when those headers are
 *                       sent; SignatureVersion not 1.0)
 *   HBR_ESIGMETHOD      SignatureMethod or ACS3 algorithm we do not support
 *   HBR_ETSFORMAT       Timestamp / x-acs-date not YYYY-MM-DDThh:mm:ssZ
 */
int hbr_sig_parse(struct hbr_sig_claim *out, const struct hbr_sig_request *req);

/* HBR_ETSEXPIRED when |timestamp - now| > window seconds. */
int hbr_sig_check_time(const struct hbr_sig_claim *claim, int64_t now,
                       int64_t window);

/*
 * Recompute the signature with `secret` and compare in constant time.
 * For V3 also checks that x-acs-content-sha256 equals the SHA-256 of the
 * body (HBR_ESIGNATURE, message says the payload hash differs).
 * HBR_ESIGNATURE on mismatch; the message carries the server's string to
 * sign, as Alibaba's gateway does, so client authors can debug.
 */
int hbr_sig_verify(const struct hbr_sig_claim *claim,
                   const struct hbr_sig_request *req, const char *secret);

/* --- building blocks, also used by clients we ship (bench, tests) --- */

/* V1 StringToSign for method over params (already merged; any
 * "Signature" entry is skipped). */
int hbr_sig_v1_string_to_sign(struct hbr_buf *out, const char *method,
                              const struct hbr_kvlist *params);
/* base64(HMAC-SHA1(secret + "&", sts)) into out (NUL-terminated). */
void hbr_sig_v1_sign(char out[64], const char *secret, const char *sts);

/* V3 canonical request. signed_headers is the ';'-joined lower-case list;
 * headers supplies their values (several values of one name are sorted
 * and comma-joined, values trimmed). payload_hash is lower-case hex. */
int hbr_sig_v3_canonical_request(struct hbr_buf *out, const char *method,
                                 const struct hbr_kvlist *query,
                                 const struct hbr_kvlist *headers,
                                 const char *signed_headers,
                                 const char *payload_hash);
/* hex(HMAC-SHA256(secret, "ACS3-HMAC-SHA256\n" + hex(SHA256(creq)))). */
void hbr_sig_v3_sign(char out[65], const char *secret, const char *creq);
/* Lower-case hex SHA-256 of data. */
void hbr_sig_sha256_hex(char out[65], const void *data, size_t len);

#endif
