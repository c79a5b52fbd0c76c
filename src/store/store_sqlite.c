/*
 * The SQLite driver: WAL mode, synchronous=FULL so a commit is on disk
 * before it returns, a busy timeout so concurrent writers queue instead
 * of failing, and a per-connection statement cache because preparing is a
 * large part of a point query's cost.
 *
 * The cache keeps the statements used most recently: a long-running
 * hbrd prepares more distinct statements on a connection than one
 * request does (up to 124 in a full `make test`), and a cache that
 * kept the first 96 it saw prepared every later one on each use. A
 * hash of the text finds a statement; idle statements are listed from
 * most to least recently used, and when the cache is full the least
 * recently used idle one makes room. A statement in use is never on
 * that list, so never evicted; when all are in use a new one is
 * prepared for that use only.
 */
#include "common.h"
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include "store/store.h"
#include "util/alloc.h"
#include "util/error.h"

#define CACHE_SIZE      HBR_STORE_SQLITE_CACHE
#define CACHE_BUCKETS   (2 * CACHE_SIZE) /* a power of two */
#define BUSY_TIMEOUT_MS 30000

struct sqlite_stmt;

struct sqlite_store {
	struct hbr_store base; /* must be first */
	sqlite3 *db;
	struct sqlite_stmt *buckets[CACHE_BUCKETS];
	/* The idle cached statements, most recently used first. */
	struct sqlite_stmt *idle_head, *idle_tail;
	size_t ncache;
	struct hbr_store_cache_stats stats;
	bool writing; /* holds the process writer mutex */
};

struct sqlite_stmt {
	struct hbr_stmt base; /* must be first */
	struct sqlite_store *owner;
	sqlite3_stmt *st;
	char *sql; /* cache key */
	uint64_t hash;
	bool in_use, cached;
	struct sqlite_stmt *chain; /* next in its bucket */
	struct sqlite_stmt *newer, *older; /* on the idle list */
};

static const struct hbr_store_ops sqlite_ops;

static int fail(struct sqlite_store *s, const char *what)
{
	int rc = sqlite3_extended_errcode(s->db);
	int code = HBR_EIO;

	if (rc == SQLITE_CONSTRAINT_UNIQUE ||
	    rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		code = HBR_EEXISTS;
	else if ((rc & 0xff) == SQLITE_BUSY)
		code = HBR_EUNAVAIL;
	return hbr_error_set(code, "sqlite %s: %s", what,
	                     sqlite3_errmsg(s->db));
}

static int lite_prepare(struct hbr_stmt **out, struct hbr_store *base,
                        const char *sql);
static int lite_step(struct hbr_stmt *st);
static void lite_finalize(struct hbr_stmt *st);

static int lite_exec(struct hbr_store *base, const char *sql)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	struct hbr_stmt *st = NULL;
	int error;

	/* Scripts (migrations, pragmas) go through sqlite3_exec. Single
	 * statements -- BEGIN, COMMIT, ROLLBACK on every call -- use the
	 * statement cache instead of being parsed each time. */
	if (strchr(sql, ';')) {
		if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
			return fail(s, "exec");
		return 0;
	}
	if ((error = lite_prepare(&st, base, sql)) < 0)
		return error;
	while ((error = lite_step(st)) == 1)
		;
	lite_finalize(st);
	return error;
}

/* FNV-1a: cheap, and most cached statements share long prefixes that
 * make plain strcmp lookups slow. */
static uint64_t hash_sql(const char *sql)
{
	uint64_t h = 14695981039346656037u;

	for (; *sql; sql++)
		h = (h ^ (unsigned char)*sql) * 1099511628211u;
	return h;
}

static void idle_unlink(struct sqlite_store *s, struct sqlite_stmt *c)
{
	if (c->newer)
		c->newer->older = c->older;
	else
		s->idle_head = c->older;
	if (c->older)
		c->older->newer = c->newer;
	else
		s->idle_tail = c->newer;
	c->newer = c->older = NULL;
}

static void idle_push(struct sqlite_store *s, struct sqlite_stmt *c)
{
	c->newer = NULL;
	c->older = s->idle_head;
	if (s->idle_head)
		s->idle_head->newer = c;
	else
		s->idle_tail = c;
	s->idle_head = c;
}

static void stmt_free(struct sqlite_stmt *c)
{
	sqlite3_finalize(c->st);
	hbr_free(c->sql);
	hbr_free(c);
}

/* Take c (idle, cached) out of the cache and free it. */
static void evict(struct sqlite_store *s, struct sqlite_stmt *c)
{
	struct sqlite_stmt **at = &s->buckets[c->hash & (CACHE_BUCKETS - 1)];

	while (*at != c)
		at = &(*at)->chain;
	*at = c->chain;
	idle_unlink(s, c);
	s->ncache--;
	s->stats.evictions++;
	stmt_free(c);
}

static int lite_prepare(struct hbr_stmt **out, struct hbr_store *base,
                        const char *sql)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	uint64_t h = hash_sql(sql);
	struct sqlite_stmt **bucket = &s->buckets[h & (CACHE_BUCKETS - 1)];
	struct sqlite_stmt *c;
	sqlite3_stmt *st;

	for (c = *bucket; c; c = c->chain) {
		if (!c->in_use && c->hash == h && !strcmp(c->sql, sql)) {
			idle_unlink(s, c);
			c->in_use = true;
			s->stats.hits++;
			*out = (struct hbr_stmt *)c;
			return 0;
		}
	}
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return fail(s, "prepare");
	s->stats.prepares++;
	c = hbr_calloc(1, sizeof(*c));
	c->base.ops = &sqlite_ops;
	c->owner = s;
	c->st = st;
	c->sql = hbr_strdup(sql);
	c->hash = h;
	c->in_use = true;
	if (s->ncache == CACHE_SIZE && s->idle_tail)
		evict(s, s->idle_tail);
	if (s->ncache < CACHE_SIZE) {
		c->cached = true;
		c->chain = *bucket;
		*bucket = c;
		s->ncache++;
	}
	*out = (struct hbr_stmt *)c;
	return 0;
}

void hbr_store_sqlite_stats(struct hbr_store_cache_stats *out,
                            const struct hbr_store *base)
{
	const struct sqlite_store *s = (const struct sqlite_store *)base;

	HBR_ASSERT(base->ops == &sqlite_ops);
	*out = s->stats;
	out->cached = s->ncache;
}

static int lite_bind_text(struct hbr_stmt *st, int idx, const char *v)
{
	struct sqlite_stmt *c = (struct sqlite_stmt *)st;
	int rc = v ? sqlite3_bind_text(c->st, idx, v, -1, SQLITE_TRANSIENT) :
	             sqlite3_bind_null(c->st, idx);

	return rc == SQLITE_OK ? 0 : fail(c->owner, "bind");
}

static int lite_bind_int64(struct hbr_stmt *st, int idx, int64_t v)
{
	struct sqlite_stmt *c = (struct sqlite_stmt *)st;

	if (sqlite3_bind_int64(c->st, idx, v) != SQLITE_OK)
		return fail(c->owner, "bind");
	return 0;
}

static int lite_bind_null(struct hbr_stmt *st, int idx)
{
	struct sqlite_stmt *c = (struct sqlite_stmt *)st;

	if (sqlite3_bind_null(c->st, idx) != SQLITE_OK)
		return fail(c->owner, "bind");
	return 0;
}

static int lite_bind_blob(struct hbr_stmt *st, int idx, const void *v,
                          size_t len)
{
	struct sqlite_stmt *c = (struct sqlite_stmt *)st;

	if (len > INT_MAX)
		return hbr_error_set(HBR_ETOOBIG, "blob of %zu bytes", len);
	/* An empty blob is still a blob, not NULL: SQLite needs a non-NULL
	 * pointer for that. */
	if (sqlite3_bind_blob(c->st, idx, len ? v : "", (int)len,
	                      SQLITE_TRANSIENT) != SQLITE_OK)
		return fail(c->owner, "bind");
	return 0;
}

static int lite_step(struct hbr_stmt *st)
{
	struct sqlite_stmt *c = (struct sqlite_stmt *)st;
	int rc = sqlite3_step(c->st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return fail(c->owner, "step");
}

static const char *lite_col_text(struct hbr_stmt *st, int col)
{
	struct sqlite_stmt *c = (struct sqlite_stmt *)st;

	return (const char *)sqlite3_column_text(c->st, col);
}

static int64_t lite_col_int64(struct hbr_stmt *st, int col)
{
	struct sqlite_stmt *c = (struct sqlite_stmt *)st;

	return sqlite3_column_int64(c->st, col);
}

static bool lite_col_null(struct hbr_stmt *st, int col)
{
	struct sqlite_stmt *c = (struct sqlite_stmt *)st;

	return sqlite3_column_type(c->st, col) == SQLITE_NULL;
}

static const void *lite_col_blob(struct hbr_stmt *st, int col, size_t *len_out)
{
	struct sqlite_stmt *c = (struct sqlite_stmt *)st;
	const void *p = sqlite3_column_blob(c->st, col);

	/* Length after the pointer, as SQLite's documentation asks. */
	*len_out = p ? (size_t)sqlite3_column_bytes(c->st, col) : 0;
	return p;
}

static void lite_finalize(struct hbr_stmt *st)
{
	struct sqlite_stmt *c = (struct sqlite_stmt *)st;
	struct sqlite_store *s;

	if (!c)
		return;
	s = c->owner;
	if (!c->cached) {
		stmt_free(c);
		return;
	}
	sqlite3_reset(c->st);
	sqlite3_clear_bindings(c->st);
	c->in_use = false;
	idle_push(s, c);
}

/*
 * Writers in this process queue before asking SQLite for its write lock.
 * SQLite's own busy handler polls with sleeps of up to 100 ms, which under
 * many concurrent writers turns a 1 ms transaction into a 500 ms tail.
 * Other processes (hbrd ram/admin) still meet the busy timeout.
 *
 * The queue is FIFO: a plain mutex lets a thread that just unlocked take
 * it again before the woken waiter runs, which under 64 concurrent
 * writers gave some calls half-second waits behind hundreds of others.
 * Each waiter sleeps on its own condition variable and is handed the
 * lock in arrival order.
 */
struct waiter {
	pthread_cond_t cond;
	struct waiter *next;
	bool granted;
};

static pthread_mutex_t writer_mu = PTHREAD_MUTEX_INITIALIZER;
static struct waiter *queue_head, *queue_tail;
static bool writer_busy;

static void writer_lock(void)
{
	struct waiter me = { .next = NULL, .granted = false };

	pthread_mutex_lock(&writer_mu);
	if (!writer_busy) {
		writer_busy = true;
		pthread_mutex_unlock(&writer_mu);
		return;
	}
	pthread_cond_init(&me.cond, NULL);
	if (queue_tail)
		queue_tail->next = &me;
	else
		queue_head = &me;
	queue_tail = &me;
	while (!me.granted)
		pthread_cond_wait(&me.cond, &writer_mu);
	pthread_mutex_unlock(&writer_mu);
	pthread_cond_destroy(&me.cond);
}

static void writer_unlock(void)
{
	struct waiter *next;

	pthread_mutex_lock(&writer_mu);
	if ((next = queue_head) != NULL) {
		/* Ownership passes straight to the oldest waiter. */
		queue_head = next->next;
		if (!queue_head)
			queue_tail = NULL;
		next->granted = true;
		pthread_cond_signal(&next->cond);
	} else {
		writer_busy = false;
	}
	pthread_mutex_unlock(&writer_mu);
}

static void end_write(struct sqlite_store *s)
{
	if (s->writing) {
		s->writing = false;
		writer_unlock();
	}
}

static int lite_begin(struct hbr_store *base)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	int error;

	HBR_ASSERT(!s->writing);
	writer_lock();
	s->writing = true;
	/* IMMEDIATE takes the write lock now, so a transaction never fails
	 * half-way with SQLITE_BUSY on its first write. */
	if ((error = lite_exec(base, "BEGIN IMMEDIATE")) < 0)
		end_write(s);
	return error;
}

static int lite_commit(struct hbr_store *base)
{
	struct sqlite_store *s = (struct sqlite_store *)base;
	int error = lite_exec(base, "COMMIT");

	/* A failed COMMIT leaves the transaction open for the caller's
	 * rollback, which releases the mutex. */
	if (error == 0 || sqlite3_get_autocommit(s->db))
		end_write(s);
	return error;
}

static void lite_rollback(struct hbr_store *base)
{
	struct sqlite_store *s = (struct sqlite_store *)base;

	if (!sqlite3_get_autocommit(s->db))
		(void)lite_exec(base, "ROLLBACK");
	end_write(s);
}

static void lite_close(struct hbr_store *base)
{
	struct sqlite_store *s = (struct sqlite_store *)base;

	lite_rollback(base);
	/* Statements still in use are their callers' to finalize; none
	 * should be when the store closes. */
	for (size_t b = 0; b < CACHE_BUCKETS; b++)
		for (struct sqlite_stmt *c = s->buckets[b], *next; c;
		     c = next) {
			next = c->chain;
			stmt_free(c);
		}
	sqlite3_close(s->db);
	hbr_free(s);
}

/* SQLite's default is 1000 pages; held, the log may reach 64 MiB
 * before a commit checkpoints anyway. */
#define CHECKPOINT_PAGES      1000
#define CHECKPOINT_HELD_PAGES 16384

static void lite_hold_checkpoints(struct hbr_store *base, bool hold)
{
	struct sqlite_store *s = (struct sqlite_store *)base;

	(void)sqlite3_wal_autocheckpoint(s->db, hold ? CHECKPOINT_HELD_PAGES :
	                                               CHECKPOINT_PAGES);
	if (!hold)
		(void)sqlite3_wal_checkpoint_v2(
		        s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

static const struct hbr_store_ops sqlite_ops = {
	.name = "sqlite",
	.exec = lite_exec,
	.prepare = lite_prepare,
	.bind_text = lite_bind_text,
	.bind_int64 = lite_bind_int64,
	.bind_null = lite_bind_null,
	.bind_blob = lite_bind_blob,
	.step = lite_step,
	.col_text = lite_col_text,
	.col_int64 = lite_col_int64,
	.col_null = lite_col_null,
	.col_blob = lite_col_blob,
	.finalize = lite_finalize,
	.begin = lite_begin,
	.commit = lite_commit,
	.rollback = lite_rollback,
	.close = lite_close,
	.hold_checkpoints = lite_hold_checkpoints,
};

int hbr_store_sqlite_open(struct hbr_store **out, const char *path)
{
	struct sqlite_store *s = hbr_calloc(1, sizeof(*s));
	int error;

	s->base.ops = &sqlite_ops;
	if (sqlite3_open_v2(path, &s->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                            SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		error = hbr_error_set(HBR_EIO, "open database '%s': %s", path,
		                      sqlite3_errmsg(s->db));
		goto out;
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	/* WAL lets readers run beside the one writer; FULL makes every
	 * commit durable before the API answers. */
	if ((error = lite_exec(&s->base, "PRAGMA journal_mode=WAL;"
	                                 "PRAGMA synchronous=FULL;"
	                                 "PRAGMA foreign_keys=ON;"
	                                 "PRAGMA temp_store=MEMORY;"
	                                 "PRAGMA cache_size=-16384;")) < 0)
		goto out;
	*out = &s->base;
	return 0;
out:
	lite_close(&s->base);
	return error;
}
