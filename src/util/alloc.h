/*
 * Allocation that cannot fail: an application is better off aborting on
 * OOM than carrying untested recovery paths everywhere (git xmalloc, Redis
 * zmalloc). Everything returned is owned by the caller and released with
 * hbr_free(), which accepts NULL.
 */
#ifndef HBR_UTIL_ALLOC_H
#define HBR_UTIL_ALLOC_H

#include "common.h"

void *hbr_malloc(size_t n);
void *hbr_calloc(size_t count, size_t size);
void *hbr_realloc(void *p, size_t n);
char *hbr_strdup(const char *s);
char *hbr_strndup(const char *s, size_t n);
void hbr_free(void *p);

/*
 * Give free heap memory back to the system. glibc keeps what large
 * buffers (pack uploads, up to 40 MiB) leave free in its arenas for
 * reuse: after a burst of backups hbrd held ~100 MiB it no longer used.
 * Called when the server goes idle, not on any request's path.
 */
void hbr_alloc_trim(void);

/* Grow *arr (of *cap elements of elem_size) to hold at least want. */
void hbr_grow(void **arr, size_t *cap, size_t want, size_t elem_size);

#endif
