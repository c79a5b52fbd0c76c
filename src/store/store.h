/*
 * The metadata store: one connection to a SQL database behind a small
 * driver vtable (SQLite now, PostgreSQL next), and the domain operations
 * written once on top of it in portable SQL (store_account.c,
 * store_resource.c, store_purge.c).
 *
 * A struct hbr_store is one connection and is used by one thread at a
 * time; hbr_store_pool hands connections to server threads.
 *
 * Every mutating domain operation is one transaction, committed durably
 * (synchronous=FULL on SQLite) before it returns.
 */
#ifndef HBR_STORE_H
#define HBR_STORE_H

#include "common.h"

struct hbr_store;
struct hbr_stmt;

/* The driver vtable. Placeholders are '?', 1-based. */
struct hbr_store_ops {
	const char *name;
	int (*exec)(struct hbr_store *s, const char *sql);
	/* Prepared statements may come from a per-connection cache; every
	 * prepare is paired with finalize. */
	int (*prepare)(struct hbr_stmt **out, struct hbr_store *s,
	               const char *sql);
	int (*bind_text)(struct hbr_stmt *st, int idx, const char *v);
	int (*bind_int64)(struct hbr_stmt *st, int idx, int64_t v);
	int (*bind_null)(struct hbr_stmt *st, int idx);
	/* Bytes (chunk ids); copied, so v may go away after the call. */
	int (*bind_blob)(struct hbr_stmt *st, int idx, const void *v,
	                 size_t len);
	/* 1 when a row is ready, 0 when done, < 0 on error. */
	int (*step)(struct hbr_stmt *st);
	/* NULL for SQL NULL; borrowed until the next step/finalize. */
	const char *(*col_text)(struct hbr_stmt *st, int col);
	int64_t (*col_int64)(struct hbr_stmt *st, int col);
	bool (*col_null)(struct hbr_stmt *st, int col);
	/* NULL for SQL NULL (or an empty blob); *len_out its size.
	 * Borrowed until the next step/finalize. */
	const void *(*col_blob)(struct hbr_stmt *st, int col, size_t *len_out);
	void (*finalize)(struct hbr_stmt *st);
	int (*begin)(struct hbr_store *s); /* a write transaction */
	int (*commit)(struct hbr_store *s);
	void (*rollback)(struct hbr_store *s);
	void (*close)(struct hbr_store *s);
	/* Optional (NULL: nothing to defer); see hbr_store_hold_checkpoints. */
	void (*hold_checkpoints)(struct hbr_store *s, bool hold);
};

struct hbr_store {
	const struct hbr_store_ops *ops;
};

/* Drivers embed this first in their statement type. */
struct hbr_stmt {
	const struct hbr_store_ops *ops;
};

/* Open by URL ("sqlite:/path/to/hbr.db" or a plain path) and bring the
 * schema up to date. HBR_EIO on failure. */
int hbr_store_open(struct hbr_store **out, const char *url);
void hbr_store_close(struct hbr_store *s);

/*
 * While held, this connection's commits leave the write-ahead log to
 * grow (up to a bound) instead of copying it into the database: for a
 * stretch where latency counts, such as reclamation until the space is
 * back. Releasing restores the default and checkpoints what it can
 * without waiting for readers. Connections from a pool must be released
 * before they are put back.
 */
void hbr_store_hold_checkpoints(struct hbr_store *s, bool hold);

/* Run sql with arguments described by fmt: 's' text (NULL = SQL NULL),
 * 'i' int64_t, 'b' a blob as two arguments (const void *, size_t),
 * until done. */
int hbr_store_execf(struct hbr_store *s, const char *sql, const char *fmt, ...);
/* Prepare and bind like hbr_store_execf; iterate with hbr_stmt_next,
 * then hbr_stmt_done. */
int hbr_store_queryf(struct hbr_stmt **out, struct hbr_store *s,
                     const char *sql, const char *fmt, ...);
int hbr_stmt_next(struct hbr_stmt *st); /* 1 row, 0 done, < 0 error */
const char *hbr_stmt_text(struct hbr_stmt *st, int col); /* "" for NULL */
int64_t hbr_stmt_int(struct hbr_stmt *st, int col);
bool hbr_stmt_is_null(struct hbr_stmt *st, int col);
/* The bytes of a blob column (NULL and 0 for SQL NULL). */
const void *hbr_stmt_blob(struct hbr_stmt *st, int col, size_t *len_out);
void hbr_stmt_done(struct hbr_stmt *st); /* NULL is a no-op */
/* Run a query expected to give one int64 (COUNT(*) etc.). */
int hbr_store_count(int64_t *out, struct hbr_store *s, const char *sql,
                    const char *fmt, ...);

int hbr_store_begin(struct hbr_store *s);
int hbr_store_commit(struct hbr_store *s);
void hbr_store_rollback(struct hbr_store *s);

/* Bring the schema to the newest version (store_schema.c). */
int hbr_store_migrate(struct hbr_store *s);
int hbr_store_schema_version(int64_t *out, struct hbr_store *s);

/* A fixed set of connections for server threads. get() blocks while all
 * are in use. */
struct hbr_store_pool;
int hbr_store_pool_open(struct hbr_store_pool **out, const char *url,
                        size_t size);
struct hbr_store *hbr_store_pool_get(struct hbr_store_pool *p);
void hbr_store_pool_put(struct hbr_store_pool *p, struct hbr_store *s);
void hbr_store_pool_close(struct hbr_store_pool *p);

/* SQLite driver (store_sqlite.c). */
int hbr_store_sqlite_open(struct hbr_store **out, const char *path);

/* Statements a SQLite connection keeps prepared, least recently used
 * out first: twice the most distinct statements one connection prepared
 * in a full `make test` (124). */
#define HBR_STORE_SQLITE_CACHE 256

/* What a connection's statement cache did, for tests and tuning. */
struct hbr_store_cache_stats {
	uint64_t prepares; /* statements SQLite had to prepare */
	uint64_t hits; /* prepares the cache answered */
	uint64_t evictions;
	size_t cached; /* statements kept now */
};

/* The counters of s, a SQLite store. */
void hbr_store_sqlite_stats(struct hbr_store_cache_stats *out,
                            const struct hbr_store *s);

#endif
