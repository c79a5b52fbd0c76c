/* Cryptographic randomness (getrandom) and the identifiers built on it. */
#ifndef HBR_UTIL_RANDOM_H
#define HBR_UTIL_RANDOM_H

#include "common.h"

/* Fill buf from the kernel CSPRNG; aborts if the kernel cannot supply it,
 * since every caller makes identifiers or secrets from it. */
void hbr_random_bytes(void *buf, size_t len);
/* Upper-case UUID v4 "473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E" (37 bytes). */
void hbr_random_uuid(char out[37]);
/* n characters from alphabet, uniformly (rejection sampling). */
void hbr_random_string(char *out, size_t n, const char *alphabet);

#endif
