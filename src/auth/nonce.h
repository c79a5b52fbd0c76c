/*
 * Replay protection: a (AccessKeyId, nonce) pair is accepted once within
 * the validity window of its timestamp, also across a restart of hbrd.
 *
 * Accepted nonces live in memory (a hash set, thread-safe) and are
 * appended to a journal file in `dir` with one write() each, so they
 * survive kill -9; a background thread fdatasync()s the journal every
 * 200 ms when it changed, bounding what a power cut could forget. A nonce
 * is kept until timestamp + window: after that the timestamp check alone
 * refuses a replay. Journals rotate per window; old ones are deleted.
 */
#ifndef HBR_AUTH_NONCE_H
#define HBR_AUTH_NONCE_H

#include "common.h"

struct hbr_nonce_cache;

/* Open (creating dir if needed) and load unexpired nonces from journals.
 * HBR_EIO on filesystem errors. */
int hbr_nonce_open(struct hbr_nonce_cache **out, const char *dir,
                   int64_t window_seconds);
/* 0 if first use (now recorded), HBR_ENONCEUSED if seen, HBR_EIO if the
 * journal write failed (then the nonce is not accepted). */
int hbr_nonce_check(struct hbr_nonce_cache *c, const char *access_key_id,
                    const char *nonce, int64_t timestamp, int64_t now);
/* Flush and close; NULL is a no-op. */
void hbr_nonce_close(struct hbr_nonce_cache *c);

#endif
