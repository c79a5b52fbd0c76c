/*
 * What the gc suites (reclaim.c: reclamation; exclusive.c: exclusive
 * bytes and shares) share: a world of one account's vault, client and
 * plan over a real SQLite store and a real local vault, NCHUNK chunks
 * to back up, and the helpers that commit, delete and reclaim them and
 * read back counts, holders and exclusive bytes. Every helper asserts
 * its own success (reclaim_fixture.c).
 */
#ifndef HBR_TEST_GC_RECLAIM_FIXTURE_H
#define HBR_TEST_GC_RECLAIM_FIXTURE_H

#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "core/tree.h"
#include "gc/gc_reclaim.h"
#include "store/store_data.h"
#include "vault/vault.h"
#include "unit/store/fixture.h"

#define NCHUNK 6

struct world {
	struct fx f;
	struct hbr_vault *vault;
	char v[HBR_ID_MAX], c[HBR_ID_MAX], p[HBR_ID_MAX];
	uint8_t id[NCHUNK][HBR_CHUNK_ID_LEN];
	uint8_t raw[NCHUNK][4096];
	size_t len[NCHUNK];
};

/* cmocka setup and teardown of every test of both suites. */
int setup(void **state);
int teardown(void **state);

/* Jobs, uploads, commits and deletions. */
void running_job_of(struct world *w, const char *client, const char *plan,
                    char *job);
void upload_as(struct world *w, const char *client, const char *job,
               const char *pack_id, const int *which);
void commit_set(struct world *w, const char *client, const char *job,
                char *snap, struct hbr_idset *set);
void commit_as(struct world *w, const char *client, const char *job, char *snap,
               const int *which);
void other_client(struct world *w, char *client, char *plan);
void backup_as(struct world *w, const char *client, const char *plan,
               char *snap, const int *which);
void delete_snapshot(struct world *w, const char *snap);
void pass(struct world *w, struct hbr_reclaim_stats *st);

/* What the rows say. */
int cmp_chunk(const void *a, const void *b);
int64_t refs_of(struct world *w, int i);
int64_t count(struct world *w, const char *sql);
int64_t stored_of_id(struct world *w, const uint8_t *id);
int64_t stored_of(struct world *w, int i);
int64_t exclusive_of(struct world *w, const char *client);
int64_t share_of(struct world *w, const uint8_t *id, const char *client);
void assert_held(struct world *w, const uint8_t *id,
                 char (*clients)[HBR_ID_MAX], const int64_t *mine,
                 int nclients);

/* The rows against a recount from the refs objects. */
int same_as_refs(const char *client_id, int64_t kept, int64_t counted,
                 void *payload);
void assert_exclusive_consistent(struct world *w);

#endif
