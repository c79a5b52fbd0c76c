/* Private glue between sig_common.c, sig_v1.c and sig_v3.c. */
#ifndef HBR_AUTH_SIG_INTERNAL_H
#define HBR_AUTH_SIG_INTERNAL_H

#include "common.h"
#include "auth/sig.h"

/*
 * Cap on any text we build from a request (canonical query, string to
 * sign): V1 encodes the parameters twice, so a body of n bytes can grow
 * to about 9n. The HTTP layer caps the body well below this.
 */
#define HBR_SIG_TEXT_MAX ((size_t)32 << 20)

int hbr_sig_v1_claim(struct hbr_sig_claim *out,
                     const struct hbr_sig_request *req);
int hbr_sig_v1_check(const struct hbr_sig_claim *claim,
                     const struct hbr_sig_request *req, const char *secret);
int hbr_sig_v3_claim(struct hbr_sig_claim *out,
                     const struct hbr_sig_request *req);
int hbr_sig_v3_check(const struct hbr_sig_claim *claim,
                     const struct hbr_sig_request *req, const char *secret);

/* HMAC with digest "SHA1" or "SHA256"; out holds size >= digest bytes. */
size_t hbr_sig_hmac(unsigned char *out, size_t size, const char *digest,
                    const void *key, size_t keylen, const void *data,
                    size_t len);
/* Constant-time equality of two short strings (< 128 bytes); longer
 * strings never compare equal. */
bool hbr_sig_equal(const char *a, const char *b);
/* YYYY-MM-DDThh:mm:ssZ into UNIX seconds; HBR_ETSFORMAT naming `what`. */
int hbr_sig_parse_time(int64_t *out, const char *what, const char *s);
/* Copy s into dst[size]; HBR_ESIGINCOMPLETE naming `what` if it is empty
 * or does not fit. */
int hbr_sig_copy_field(char *dst, size_t size, const char *what, const char *s,
                       size_t len);

#endif
