/*
 * Exclusive bytes and chunk shares (docs/RECLAMATION.md) against a real
 * SQLite store and a real local vault: each client's exclusive bytes
 * follow its commits and their reclamation, in any order of deletions
 * and at random; whoever is left holding a chunk owns it; a step run
 * again after a kill or another reclaimer counts nothing twice; the
 * recount after migration 11; and what `hbrd vault check` finds.
 */
#include "common.h"
#include "unit/gc/reclaim_fixture.h"
#include "gc/gc_exclusive.h"
#include "store/store_reclaim.h"
#include "util/timeutil.h"

/* The stored bytes of the chunks listed (-1 ends). */
static int64_t bytes_of(struct world *w, const int *which)
{
	int64_t sum = 0;

	for (; *which >= 0; which++)
		sum += stored_of(w, *which);
	return sum;
}

static void test_exclusive_bytes_follow_commits_and_reclamation(void **state)
{
	struct world *w = *state;
	struct hbr_reclaim_stats st;
	char b[HBR_ID_MAX], bp[HBR_ID_MAX];
	char s1[HBR_ID_MAX], s2[HBR_ID_MAX], s3[HBR_ID_MAX];

	other_client(w, b, bp);
	assert_int_equal(exclusive_of(w, w->c), 0);
	/* A's first snapshot: all its chunks are A's alone. */
	backup_as(w, w->c, w->p, s1, (const int[]){ 0, 1, 2, -1 });
	assert_int_equal(exclusive_of(w, w->c),
	                 bytes_of(w, (const int[]){ 0, 1, 2, -1 }));
	/* B shares chunk 2: A no longer frees it alone. */
	backup_as(w, b, bp, s2, (const int[]){ 2, 3, 4, -1 });
	assert_int_equal(exclusive_of(w, w->c),
	                 bytes_of(w, (const int[]){ 0, 1, -1 }));
	assert_int_equal(exclusive_of(w, b),
	                 bytes_of(w, (const int[]){ 3, 4, -1 }));
	/* A's second snapshot names chunk 0 again: still A's alone. */
	backup_as(w, w->c, w->p, s3, (const int[]){ 0, 5, -1 });
	assert_int_equal(exclusive_of(w, w->c),
	                 bytes_of(w, (const int[]){ 0, 1, 5, -1 }));
	assert_exclusive_consistent(w);

	/* B's snapshot is deleted: the count falls only when reclamation
	 * applies it, and chunk 2 is A's alone again. */
	delete_snapshot(w, s2);
	assert_int_equal(exclusive_of(w, b),
	                 bytes_of(w, (const int[]){ 3, 4, -1 }));
	pass(w, &st);
	assert_int_equal(exclusive_of(w, b), 0);
	assert_int_equal(exclusive_of(w, w->c),
	                 bytes_of(w, (const int[]){ 0, 1, 2, 5, -1 }));
	assert_exclusive_consistent(w);

	/* Both of A's in one batch: nothing left. */
	delete_snapshot(w, s1);
	delete_snapshot(w, s3);
	pass(w, &st);
	assert_int_equal(st.snapshots, 2);
	assert_int_equal(exclusive_of(w, w->c), 0);
	assert_int_equal(count(w, "SELECT COUNT(*) FROM chunks"
	                          " WHERE vault_id = ?"),
	                 0);
	assert_exclusive_consistent(w);
}

static void test_exclusive_bytes_of_clients_deleted_in_one_batch(void **state)
{
	struct world *w = *state;
	struct hbr_reclaim_stats st;
	char b[HBR_ID_MAX], bp[HBR_ID_MAX], s1[HBR_ID_MAX], s2[HBR_ID_MAX];
	char s3[HBR_ID_MAX], s4[HBR_ID_MAX];

	other_client(w, b, bp);
	backup_as(w, w->c, w->p, s1, (const int[]){ 0, 1, -1 });
	backup_as(w, b, bp, s2, (const int[]){ 1, 2, -1 });
	backup_as(w, w->c, w->p, s3, (const int[]){ 1, 3, -1 });
	backup_as(w, b, bp, s4, (const int[]){ 1, 2, 4, -1 });
	assert_int_equal(exclusive_of(w, w->c),
	                 bytes_of(w, (const int[]){ 0, 3, -1 }));
	assert_int_equal(exclusive_of(w, b),
	                 bytes_of(w, (const int[]){ 2, 4, -1 }));
	/* One batch holds both clients' references to chunk 1 (A's two,
	 * B's two): counted per client, each applied in turn. */
	{
		struct hbr_delete_counts dc;
		const char *ids[2] = { w->c, b };
		int64_t moved = 1;

		assert_int_equal(hbr_store_delete_client_resources(
		                         &dc, w->f.s, w->f.acc_a, ids, 2, NULL),
		                 0);
		for (int i = 0; i < 10 && moved; i++)
			assert_int_equal(
			        hbr_store_purge_step(&moved, w->f.s, 250), 0);
	}
	assert_int_equal(count(w, "SELECT COUNT(*) FROM gc_queue"
	                          " WHERE vault_id = ?"),
	                 4);
	assert_int_equal(exclusive_of(w, w->c),
	                 bytes_of(w, (const int[]){ 0, 3, -1 }));
	pass(w, &st);
	assert_int_equal(st.snapshots, 4);
	assert_int_equal(exclusive_of(w, w->c), 0);
	assert_int_equal(exclusive_of(w, b), 0);
	assert_int_equal(count(w, "SELECT COUNT(*) FROM chunks"
	                          " WHERE vault_id = ?"),
	                 0);
	assert_exclusive_consistent(w);
}

/*
 * A, the first to name chunk 0, goes while B still names it: B alone
 * holds it now, and deleting B would free it, so it counts in B's
 * exclusive bytes (migration 8's scheme counted it for nobody). A
 * naming it again shares it again; B going leaves it to A.
 */
static void test_exclusive_bytes_when_the_owner_leaves_first(void **state)
{
	struct world *w = *state;
	struct hbr_reclaim_stats st;
	char b[HBR_ID_MAX], bp[HBR_ID_MAX], s1[HBR_ID_MAX], s2[HBR_ID_MAX];
	char s3[HBR_ID_MAX], s4[HBR_ID_MAX];

	other_client(w, b, bp);
	backup_as(w, w->c, w->p, s1, (const int[]){ 0, 1, -1 });
	backup_as(w, b, bp, s2, (const int[]){ 0, 2, -1 });
	backup_as(w, b, bp, s4, (const int[]){ 0, 2, -1 });
	assert_int_equal(share_of(w, w->id[0], w->c), 1);
	assert_int_equal(share_of(w, w->id[0], b), 2);
	assert_int_equal(exclusive_of(w, w->c),
	                 bytes_of(w, (const int[]){ 1, -1 }));
	assert_int_equal(exclusive_of(w, b),
	                 bytes_of(w, (const int[]){ 2, -1 }));
	assert_exclusive_consistent(w);
	delete_snapshot(w, s1);
	pass(w, &st);
	assert_int_equal(exclusive_of(w, w->c), 0);
	assert_int_equal(exclusive_of(w, b),
	                 bytes_of(w, (const int[]){ 0, 2, -1 }));
	/* B's alone: its two references are the owner's, no shares. */
	assert_int_equal(share_of(w, w->id[0], b), 0);
	assert_exclusive_consistent(w);
	/* A names it again, then B leaves: it is A's alone once more. */
	backup_as(w, w->c, w->p, s3, (const int[]){ 0, -1 });
	assert_int_equal(exclusive_of(w, w->c), 0);
	assert_int_equal(exclusive_of(w, b),
	                 bytes_of(w, (const int[]){ 2, -1 }));
	assert_exclusive_consistent(w);
	delete_snapshot(w, s2);
	pass(w, &st);
	/* Still shared: B's second snapshot names it. */
	assert_int_equal(exclusive_of(w, w->c), 0);
	assert_int_equal(share_of(w, w->id[0], b), 1);
	assert_exclusive_consistent(w);
	delete_snapshot(w, s4);
	pass(w, &st);
	assert_int_equal(exclusive_of(w, b), 0);
	assert_int_equal(exclusive_of(w, w->c),
	                 bytes_of(w, (const int[]){ 0, -1 }));
	assert_exclusive_consistent(w);
}

/* Random commits and deletions by three clients: after every step the
 * counts equal a recount from the rows, and after every pass each
 * chunk's refs and owner_refs equal what the live snapshots hold. */
static void test_exclusive_bytes_random(void **state)
{
	struct world *w = *state;
	enum { NCLIENT = 3, NSNAP = 40 };
	char clients[NCLIENT][HBR_ID_MAX], plans[NCLIENT][HBR_ID_MAX];
	struct {
		char id[HBR_ID_MAX];
		int client;
		unsigned set; /* bit i: chunk i */
		bool live;
	} snaps[NSNAP];
	int nsnap = 0;
	uint32_t x = 12345;

	memcpy(clients[0], w->c, HBR_ID_MAX);
	memcpy(plans[0], w->p, HBR_ID_MAX);
	for (int k = 1; k < NCLIENT; k++)
		other_client(w, clients[k], plans[k]);
	for (int step = 0; step < 80; step++) {
		uint32_t op;

		x = x * 1103515245u + 12345u;
		op = (x >> 16) % 10;
		if (op < 5 && nsnap < NSNAP) {
			int which[NCHUNK + 1], n = 0,
			                       k = (int)((x >> 8) % NCLIENT);
			unsigned set = 0;

			for (int i = 0; i < NCHUNK; i++) {
				x = x * 1103515245u + 12345u;
				if ((x >> 16) % 2) {
					which[n++] = i;
					set |= 1u << i;
				}
			}
			if (!n)
				continue;
			which[n] = -1;
			backup_as(w, clients[k], plans[k], snaps[nsnap].id,
			          which);
			snaps[nsnap].client = k;
			snaps[nsnap].set = set;
			snaps[nsnap++].live = true;
		} else if (op < 8 && nsnap) {
			int k = (int)((x >> 4) % (uint32_t)nsnap);
			if (snaps[k].live) {
				delete_snapshot(w, snaps[k].id);
				snaps[k].live = false;
			}
		} else {
			struct hbr_reclaim_stats st;

			pass(w, &st);
			int64_t due[NCLIENT] = { 0 };

			for (int i = 0; i < NCHUNK; i++) {
				int64_t mine[NCLIENT] = { 0 };
				int holders = 0, holder = 0;

				for (int j = 0; j < nsnap; j++)
					if (snaps[j].live &&
					    (snaps[j].set & (1u << i)))
						mine[snaps[j].client]++;
				for (int k = 0; k < NCLIENT; k++)
					if (mine[k]) {
						holders++;
						holder = k;
					}
				assert_held(w, w->id[i], clients, mine,
				            NCLIENT);
				if (holders == 1)
					due[holder] += stored_of(w, i);
			}
			for (int k = 0; k < NCLIENT; k++)
				assert_int_equal(exclusive_of(w, clients[k]),
				                 due[k]);
		}
		assert_exclusive_consistent(w);
	}
}

/* A fresh vault for the world (its clients and plans are the
 * caller's). */
static void fresh_vault(struct world *w)
{
	char path[4400];

	hbr_vault_free(w->vault);
	begin(&w->f);
	new_vault(&w->f, w->f.acc_a, w->v, 100);
	commit(&w->f);
	snprintf(path, sizeof(path), "%s/vaults/%s", w->f.dir, w->v);
	assert_int_equal(hbr_vault_local_open(&w->vault, path), 0);
}

/* DeleteBackupClientResource of one client, and its purge. */
static void delete_client_resources(struct world *w, const char *client)
{
	struct hbr_delete_counts dc;
	const char *ids[1] = { client };
	int64_t moved = 1;

	assert_int_equal(hbr_store_delete_client_resources(
	                         &dc, w->f.s, w->f.acc_a, ids, 1, NULL),
	                 0);
	for (int i = 0; i < 10 && moved; i++)
		assert_int_equal(hbr_store_purge_step(&moved, w->f.s, 250), 0);
}

/*
 * Three clients, chunks held by A, B, A+B, A+C, B+C and A+B+C, each
 * client with two snapshots (the second without its first chunk, so
 * shares of 1 and 2). The clients are deleted in each of the six
 * orders: after every deletion each client's exclusive bytes are the
 * stored bytes of the chunks only the clients left reference, and
 * only it of them.
 */
static void test_three_clients_every_deletion_order(void **state)
{
	static const unsigned held[NCHUNK] = { 1, 2, 3, 5, 6, 7 };
	static const int orders[6][3] = {
		{ 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 },
		{ 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 }
	};
	struct world *w = *state;

	for (int o = 0; o < 6; o++) {
		char clients[3][HBR_ID_MAX], plans[3][HBR_ID_MAX];
		char snap[HBR_ID_MAX];
		unsigned left = 7;

		fresh_vault(w);
		for (int k = 0; k < 3; k++) {
			int which[NCHUNK + 1], n = 0;

			other_client(w, clients[k], plans[k]);
			for (int i = 0; i < NCHUNK; i++)
				if (held[i] & (1u << k))
					which[n++] = i;
			which[n] = -1;
			backup_as(w, clients[k], plans[k], snap, which);
			backup_as(w, clients[k], plans[k], snap, which + 1);
		}
		for (int step = 0; step <= 3; step++) {
			struct hbr_reclaim_stats st;
			int64_t due[3] = { 0 };

			if (step) {
				int gone = orders[o][step - 1];

				delete_client_resources(w, clients[gone]);
				pass(w, &st);
				left &= ~(1u << gone);
			}
			for (int i = 0; i < NCHUNK; i++) {
				unsigned h = held[i] & left;

				if (h && !(h & (h - 1)))
					due[__builtin_ctz(h)] +=
					        stored_of(w, i);
				if (!h) /* dead, or gone with its pack */
					assert_true(refs_of(w, i) <= 0);
			}
			for (int k = 0; k < 3; k++)
				assert_int_equal(exclusive_of(w, clients[k]),
				                 due[k]);
			assert_exclusive_consistent(w);
		}
	}
}

/* A batch deleting A's two snapshots, {0, 1, 2, 3} and {0, 1}, which
 * share 0, 1 and 2 with B's {0, 1, 2, 4}: A's losses per chunk. */
struct ab_dec {
	uint8_t ids[4][HBR_CHUNK_ID_LEN];
	size_t first[5];
	struct hbr_gc_ref by[4];
	char clients[1][HBR_ID_MAX];
	struct hbr_gc_dec d;
};

static void ab_dec_of(struct ab_dec *x, struct world *w, size_t from, size_t n)
{
	struct ab_dec all;

	for (int i = 0; i < 4; i++)
		memcpy(all.ids[i], w->id[i], HBR_CHUNK_ID_LEN);
	qsort(all.ids, 4, HBR_CHUNK_ID_LEN, cmp_chunk);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *id = all.ids[from + i];

		memcpy(x->ids[i], id, HBR_CHUNK_ID_LEN);
		x->first[i] = i;
		x->by[i] = (struct hbr_gc_ref){
			0, !memcmp(id, w->id[0], HBR_CHUNK_ID_LEN) ||
			                   !memcmp(id, w->id[1],
			                           HBR_CHUNK_ID_LEN) ?
			           2u :
			           1u
		};
	}
	x->first[n] = n;
	snprintf(x->clients[0], sizeof(x->clients[0]), "%s", w->c);
	x->d = (struct hbr_gc_dec){ &x->ids[0][0], x->first, x->by,
		                    (const char(*)[HBR_ID_MAX])x->clients, n };
}

/*
 * Killed after a step of either phase, or beaten to a step by another
 * reclaimer: the step run again changes nothing (its cursor says it is
 * done), the pass resumes after it, and every holder and exclusive
 * byte ends exact: B holds 0, 1 and 2 alone once A's are applied.
 */
static void test_rerun_steps_count_nothing_twice(void **state)
{
	struct world *w = *state;
	struct hbr_reclaim_stats st;
	struct hbr_gc_batch b;
	struct hbr_gc_step step = { 0 };
	struct ab_dec x, half;
	char c2[HBR_ID_MAX], p2[HBR_ID_MAX];
	char s1[HBR_ID_MAX], s2[HBR_ID_MAX], s3[HBR_ID_MAX];
	bool cand[4];

	other_client(w, c2, p2);
	backup_as(w, w->c, w->p, s1, (const int[]){ 0, 1, 2, 3, -1 });
	backup_as(w, w->c, w->p, s2, (const int[]){ 0, 1, -1 });
	backup_as(w, c2, p2, s3, (const int[]){ 0, 1, 2, 4, -1 });
	assert_int_equal(exclusive_of(w, w->c),
	                 bytes_of(w, (const int[]){ 3, -1 }));
	delete_snapshot(w, s1);
	delete_snapshot(w, s2);
	assert_int_equal(hbr_store_gc_batch_open(&b, w->f.s, w->v, 32), 0);
	ab_dec_of(&x, w, 0, 4);
	/* Phase 1: chunk 3 alone reaches 0. */
	assert_int_equal(hbr_store_gc_zero_candidates(cand, w->f.s, w->v, &x.d),
	                 0);
	assert_int_equal(hbr_store_gc_decrement(&step, w->f.s, w->v, &b, &x.d,
	                                        cand, hbr_time_now()),
	                 0);
	assert_int_equal(step.zeroed, 1);
	assert_int_equal(exclusive_of(w, w->c), 0);
	assert_int_equal(hbr_store_gc_decrement(&step, w->f.s, w->v, &b, &x.d,
	                                        cand, hbr_time_now()),
	                 HBR_ECONFLICT);
	assert_int_equal(hbr_store_gc_batch_zeroed(w->f.s, w->v, &b), 0);
	/* Phase 2's first step, then the same step again. */
	ab_dec_of(&half, w, 0, 2);
	assert_int_equal(hbr_store_gc_decrement(&step, w->f.s, w->v, &b,
	                                        &half.d, NULL, hbr_time_now()),
	                 0);
	assert_int_equal(hbr_store_gc_decrement(&step, w->f.s, w->v, &b,
	                                        &half.d, NULL, hbr_time_now()),
	                 HBR_ECONFLICT);
	/* Half applied: the check follows the cursor. */
	assert_exclusive_consistent(w);
	hbr_gc_batch_free(&b);
	pass(w, &st);
	assert_int_equal(st.snapshots, 2);
	for (int i = 0; i <= 2; i++) {
		assert_int_equal(refs_of(w, i), 1);
		assert_int_equal(share_of(w, w->id[i], c2), 0);
		assert_int_equal(share_of(w, w->id[i], w->c), 0);
	}
	assert_int_equal(exclusive_of(w, w->c), 0);
	assert_int_equal(exclusive_of(w, c2),
	                 bytes_of(w, (const int[]){ 0, 1, 2, 4, -1 }));
	assert_exclusive_consistent(w);
}

/*
 * A vault as migration 8's scheme left it, migrated: chunks 1 and 2,
 * which A named first and B too, had A as owner with one of their two
 * references, and counted for nobody. Migration 11 makes them shared
 * with no shares known and lists the vault for its recount. Commits and
 * reclamation go on meanwhile; the next pass recounts, after its batch,
 * and every figure is exact.
 */
static void test_recount_after_migration(void **state)
{
	struct world *w = *state;
	struct hbr_reclaim_stats st;
	struct hbr_excl_check x;
	char b[HBR_ID_MAX], bp[HBR_ID_MAX], c[HBR_ID_MAX], cp[HBR_ID_MAX];
	char s1[HBR_ID_MAX], s2[HBR_ID_MAX], s3[HBR_ID_MAX];
	int clients = 0;

	other_client(w, b, bp);
	other_client(w, c, cp);
	backup_as(w, w->c, w->p, s1, (const int[]){ 0, 1, 2, -1 });
	backup_as(w, b, bp, s2, (const int[]){ 1, 2, 3, -1 });
	for (int i = 1; i <= 2; i++)
		assert_int_equal(hbr_store_execf(w->f.s,
		                                 "UPDATE chunks SET owner = ?,"
		                                 " owner_refs = 1 WHERE"
		                                 " vault_id = ? AND"
		                                 " chunk_id = ?",
		                                 "ssb", w->c, w->v, w->id[i],
		                                 (size_t)HBR_CHUNK_ID_LEN),
		                 0);
	assert_int_equal(w->f.s->ops->exec(w->f.s,
	                                   "DROP TABLE chunk_shares;"
	                                   " DROP TABLE share_names;"
	                                   " DROP TABLE exclusive_recount;"
	                                   " DELETE FROM schema_version"
	                                   " WHERE version = 11;"),
	                 0);
	assert_int_equal(hbr_store_migrate(w->f.s), 0);
	assert_int_equal(exclusive_of(w, w->c),
	                 bytes_of(w, (const int[]){ 0, -1 }));
	assert_int_equal(exclusive_of(w, b),
	                 bytes_of(w, (const int[]){ 3, -1 }));
	assert_int_equal(count(w, "SELECT COUNT(*) FROM chunks WHERE"
	                          " vault_id = ? AND owner IS NULL"
	                          " AND refs > 0"),
	                 2);
	assert_int_equal(hbr_reclaim_check_exclusive(&x, w->f.s, w->vault, w->v,
	                                             same_as_refs, &clients),
	                 0);
	assert_true(x.pending);
	assert_true(x.verified);
	assert_true(x.verdict.misheld > 0);
	/* C shares chunk 2 while nobody knows who else holds it; A goes. */
	backup_as(w, c, cp, s3, (const int[]){ 2, 4, -1 });
	delete_snapshot(w, s1);
	pass(w, &st);
	assert_int_equal(st.snapshots, 1);
	assert_int_equal(exclusive_of(w, w->c), 0);
	assert_int_equal(exclusive_of(w, b),
	                 bytes_of(w, (const int[]){ 1, 3, -1 }));
	assert_int_equal(exclusive_of(w, c),
	                 bytes_of(w, (const int[]){ 4, -1 }));
	assert_int_equal(share_of(w, w->id[2], b), 1);
	assert_int_equal(share_of(w, w->id[2], c), 1);
	assert_int_equal(count(w, "SELECT COUNT(*) FROM exclusive_recount"
	                          " WHERE vault_id = ?"),
	                 0);
	assert_exclusive_consistent(w);
}

struct diffs {
	int clients, differ;
};

static int count_diffs(const char *client_id, int64_t kept, int64_t counted,
                       void *payload)
{
	struct diffs *d = payload;

	(void)client_id;
	d->clients++;
	d->differ += kept != counted;
	return 0;
}

/* What `hbrd vault check` reports as errors: exclusive bytes kept
 * other than the references give, a count, a share. */
static void test_check_finds_every_difference(void **state)
{
	struct world *w = *state;
	struct hbr_excl_check x;
	struct diffs d = { 0 };
	char b[HBR_ID_MAX], bp[HBR_ID_MAX], s1[HBR_ID_MAX], s2[HBR_ID_MAX];

	other_client(w, b, bp);
	backup_as(w, w->c, w->p, s1, (const int[]){ 0, 1, -1 });
	backup_as(w, b, bp, s2, (const int[]){ 1, 2, -1 });
	assert_exclusive_consistent(w);
	assert_int_equal(hbr_store_execf(w->f.s,
	                                 "UPDATE client_bytes SET"
	                                 " exclusive_bytes = exclusive_bytes"
	                                 " + 1 WHERE client_id = ?",
	                                 "s", b),
	                 0);
	assert_int_equal(hbr_store_execf(w->f.s,
	                                 "UPDATE chunk_shares SET refs = 2"
	                                 " WHERE client_no = (SELECT no FROM"
	                                 " share_names WHERE name = ?)",
	                                 "s", b),
	                 0);
	assert_int_equal(hbr_store_execf(w->f.s,
	                                 "UPDATE chunks SET refs = 3"
	                                 " WHERE vault_id = ? AND"
	                                 " chunk_id = ?",
	                                 "sb", w->v, w->id[0],
	                                 (size_t)HBR_CHUNK_ID_LEN),
	                 0);
	assert_int_equal(hbr_reclaim_check_exclusive(&x, w->f.s, w->vault, w->v,
	                                             count_diffs, &d),
	                 0);
	assert_true(x.verified);
	assert_false(x.pending);
	assert_int_equal(d.clients, 2);
	assert_int_equal(d.differ, 1);
	assert_int_equal(x.verdict.miscounted, 1);
	/* Chunk 0 (owner_refs 1 of refs 3 now) and chunk 1's share. */
	assert_int_equal(x.verdict.misheld, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		        test_exclusive_bytes_follow_commits_and_reclamation,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_exclusive_bytes_of_clients_deleted_in_one_batch,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_exclusive_bytes_when_the_owner_leaves_first, setup,
		        teardown),
		cmocka_unit_test_setup_teardown(test_exclusive_bytes_random,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_three_clients_every_deletion_order, setup,
		        teardown),
		cmocka_unit_test_setup_teardown(
		        test_rerun_steps_count_nothing_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recount_after_migration,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_check_finds_every_difference, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
