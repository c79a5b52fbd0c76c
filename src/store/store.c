/*
 * Store front end: opening by URL, argument binding helpers shared by all
 * domain code, and the connection pool used by server threads.
 */
#include "common.h"
#include <pthread.h>
#include <stdarg.h>
#include "store/store.h"
#include "util/alloc.h"
#include "util/error.h"

int hbr_store_open(struct hbr_store **out, const char *url)
{
	struct hbr_store *s = NULL;
	int error;

	if (!strncmp(url, "postgres:", 9) || !strncmp(url, "postgresql:", 11))
		return hbr_error_set(HBR_EINVAL,
		                     "the PostgreSQL store is not built yet");
	if (!strncmp(url, "sqlite:", 7))
		url += 7;
	if ((error = hbr_store_sqlite_open(&s, url)) < 0)
		return error;
	if ((error = hbr_store_migrate(s)) < 0) {
		s->ops->close(s);
		return error;
	}
	*out = s;
	return 0;
}

void hbr_store_close(struct hbr_store *s)
{
	if (s)
		s->ops->close(s);
}

void hbr_store_hold_checkpoints(struct hbr_store *s, bool hold)
{
	if (s && s->ops->hold_checkpoints)
		s->ops->hold_checkpoints(s, hold);
}

static int vbind(struct hbr_stmt *st, struct hbr_store *s, const char *fmt,
                 va_list ap)
{
	int error = 0;

	for (int i = 0; fmt && fmt[i] && error == 0; i++) {
		const void *p;
		size_t n;

		switch (fmt[i]) {
		case 's':
			error = s->ops->bind_text(st, i + 1,
			                          va_arg(ap, const char *));
			break;
		case 'i':
			error = s->ops->bind_int64(st, i + 1,
			                           va_arg(ap, int64_t));
			break;
		case 'b':
			p = va_arg(ap, const void *);
			n = va_arg(ap, size_t);
			error = s->ops->bind_blob(st, i + 1, p, n);
			break;
		default:
			HBR_ASSERT(!"bad bind format");
		}
	}
	return error;
}

/* Prepare sql and bind the arguments fmt describes. */
static int vprepare(struct hbr_stmt **out, struct hbr_store *s, const char *sql,
                    const char *fmt, va_list ap)
{
	struct hbr_stmt *st = NULL;
	int error;

	if ((error = s->ops->prepare(&st, s, sql)) < 0)
		return error;
	if ((error = vbind(st, s, fmt, ap)) < 0) {
		s->ops->finalize(st);
		return error;
	}
	*out = st;
	return 0;
}

int hbr_store_queryf(struct hbr_stmt **out, struct hbr_store *s,
                     const char *sql, const char *fmt, ...)
{
	va_list ap;
	int error;

	va_start(ap, fmt);
	error = vprepare(out, s, sql, fmt, ap);
	va_end(ap);
	return error;
}

int hbr_store_execf(struct hbr_store *s, const char *sql, const char *fmt, ...)
{
	struct hbr_stmt *st = NULL;
	va_list ap;
	int error;

	va_start(ap, fmt);
	error = vprepare(&st, s, sql, fmt, ap);
	va_end(ap);
	if (error < 0)
		return error;
	while ((error = s->ops->step(st)) == 1)
		;
	s->ops->finalize(st);
	return error;
}

int hbr_store_count(int64_t *out, struct hbr_store *s, const char *sql,
                    const char *fmt, ...)
{
	struct hbr_stmt *st = NULL;
	va_list ap;
	int error;

	va_start(ap, fmt);
	error = vprepare(&st, s, sql, fmt, ap);
	va_end(ap);
	if (error < 0)
		return error;
	if ((error = s->ops->step(st)) == 1) {
		*out = s->ops->col_int64(st, 0);
		error = 0;
	} else if (error == 0) {
		*out = 0;
	}
	s->ops->finalize(st);
	return error;
}

int hbr_stmt_next(struct hbr_stmt *st)
{
	return st->ops->step(st);
}

const char *hbr_stmt_text(struct hbr_stmt *st, int col)
{
	const char *v = st->ops->col_text(st, col);
	return v ? v : "";
}

int64_t hbr_stmt_int(struct hbr_stmt *st, int col)
{
	return st->ops->col_int64(st, col);
}

bool hbr_stmt_is_null(struct hbr_stmt *st, int col)
{
	/* Asking for the text of a number would convert (and allocate). */
	return st->ops->col_null(st, col);
}

const void *hbr_stmt_blob(struct hbr_stmt *st, int col, size_t *len_out)
{
	return st->ops->col_blob(st, col, len_out);
}

void hbr_stmt_done(struct hbr_stmt *st)
{
	if (st)
		st->ops->finalize(st);
}

int hbr_store_begin(struct hbr_store *s)
{
	return s->ops->begin(s);
}

int hbr_store_commit(struct hbr_store *s)
{
	return s->ops->commit(s);
}

void hbr_store_rollback(struct hbr_store *s)
{
	s->ops->rollback(s);
}

struct hbr_store_pool {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	struct hbr_store **free;
	size_t nfree;
	struct hbr_store **all;
	size_t size;
};

int hbr_store_pool_open(struct hbr_store_pool **out, const char *url,
                        size_t size)
{
	struct hbr_store_pool *p = hbr_calloc(1, sizeof(*p));
	int error = 0;

	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->freed, NULL);
	p->free = hbr_calloc(size, sizeof(*p->free));
	p->all = hbr_calloc(size, sizeof(*p->all));
	for (size_t i = 0; i < size; i++) {
		if ((error = hbr_store_open(&p->all[i], url)) < 0) {
			hbr_store_pool_close(p);
			return error;
		}
		p->size++;
		p->free[p->nfree++] = p->all[i];
	}
	*out = p;
	return 0;
}

struct hbr_store *hbr_store_pool_get(struct hbr_store_pool *p)
{
	struct hbr_store *s;

	pthread_mutex_lock(&p->lock);
	while (p->nfree == 0)
		pthread_cond_wait(&p->freed, &p->lock);
	s = p->free[--p->nfree];
	pthread_mutex_unlock(&p->lock);
	return s;
}

void hbr_store_pool_put(struct hbr_store_pool *p, struct hbr_store *s)
{
	pthread_mutex_lock(&p->lock);
	p->free[p->nfree++] = s;
	pthread_cond_signal(&p->freed);
	pthread_mutex_unlock(&p->lock);
}

void hbr_store_pool_close(struct hbr_store_pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->size; i++)
		hbr_store_close(p->all[i]);
	hbr_free(p->free);
	hbr_free(p->all);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->freed);
	hbr_free(p);
}
