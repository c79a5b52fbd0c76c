/* Allocation wrappers: abort on OOM so no caller has to handle it. */
#include "common.h"
#include "util/alloc.h"
#ifdef __GLIBC__
#include <malloc.h>
#endif

static _Noreturn void oom(size_t n)
{
	fprintf(stderr, "hbr: out of memory allocating %zu bytes\n", n);
	abort();
}

void hbr_assert_fail(const char *expr, const char *file, int line)
{
	fprintf(stderr, "hbr: assertion failed: %s (%s:%d)\n", expr, file,
	        line);
	abort();
}

void hbr_alloc_trim(void)
{
#ifdef __GLIBC__
	(void)malloc_trim(0);
#endif
}

void *hbr_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *hbr_calloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	if (!p)
		oom(count * size);
	return p;
}

void *hbr_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *hbr_strndup(const char *s, size_t n)
{
	char *p = hbr_malloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *hbr_strdup(const char *s)
{
	return hbr_strndup(s, strlen(s));
}

void hbr_free(void *p)
{
	free(p);
}

void hbr_grow(void **arr, size_t *cap, size_t want, size_t elem_size)
{
	size_t n = *cap ? *cap : 8;

	if (want <= *cap)
		return;
	while (n < want) {
		HBR_ASSERT(n < SIZE_MAX / 2);
		n *= 2;
	}
	HBR_ASSERT(n <= SIZE_MAX / elem_size);
	*arr = hbr_realloc(*arr, n * elem_size);
	*cap = n;
}
