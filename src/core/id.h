/*
 * Resource identifiers as HBR writes them: a type prefix and 20 lower-case
 * base-36 characters from the kernel CSPRNG (about 103 bits), e.g.
 * "c-0001eg6mcvjs93f46s2d". Unguessable, so an id leaks nothing about
 * other tenants and cannot be enumerated.
 */
#ifndef HBR_CORE_ID_H
#define HBR_CORE_ID_H

#include "common.h"

#define HBR_ID_RANDOM_LEN 20
#define HBR_ID_MAX        32 /* longest prefix "plan-" + 20 + NUL, with room */

#define HBR_ID_CLIENT   "c-"
#define HBR_ID_VAULT    "v-"
#define HBR_ID_PLAN     "plan-"
#define HBR_ID_JOB      "job-"
#define HBR_ID_SNAPSHOT "s-"
#define HBR_ID_RESTORE  "r-"
#define HBR_ID_TASK     "t-"
#define HBR_ID_ACCOUNT  "acc-" /* ours: HBR account ids are numeric */
#define HBR_ID_USER     "u-"

/* Write prefix + 20 random characters into out[HBR_ID_MAX]. */
void hbr_id_new(char out[HBR_ID_MAX], const char *prefix);
/* True when s is prefix followed by exactly 20 [0-9a-z]. */
bool hbr_id_valid(const char *s, const char *prefix);

#endif
