/*
 * Deterministic crash injection for the crash tests: with
 * HBR_CRASH_AT=N in the environment, the Nth call of hbr_crashpoint in
 * the process kills it with SIGKILL (after logging where), exactly as a
 * power cut or kill -9 would at that instant. Without the variable a
 * call is one relaxed atomic load. Places that call it: between every
 * transaction and object operation of reclamation and of the purge.
 */
#ifndef HBR_UTIL_CRASHPOINT_H
#define HBR_UTIL_CRASHPOINT_H

#include "common.h"

void hbr_crashpoint(const char *where);

#endif
