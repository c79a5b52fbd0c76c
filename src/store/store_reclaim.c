/*
 * Reclamation rows, the counts (store_reclaim.h, docs/RECLAMATION.md):
 * the steps that lower the reference counts of a batch's chunks, phase
 * 1's candidates and the holders and shares each step leaves. The
 * batches themselves are in store_reclaim_batch.c; the packs side
 * (listing, dropping, rewriting, forgetting) and the queries of `vault
 * check` are in store_reclaim_packs.c. Plain SQL that PostgreSQL also
 * takes: CASE instead of MAX(a, b), RETURNING for the counts an update
 * leaves.
 */
#include "common.h"
#include <pthread.h>
#include "store/store_data.h"
#include "store/store_idlist.h"
#include "store/store_reclaim.h"
#include "store/store_reclaim_private.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/timeutil.h"

struct pack_bytes {
	char pack_id[HBR_GC_NAME_MAX];
	int64_t bytes;
	size_t row; /* the chunk's index in its step */
};

static int cmp_pack(const void *a, const void *b)
{
	return strcmp(((const struct pack_bytes *)a)->pack_id,
	              ((const struct pack_bytes *)b)->pack_id);
}

/* Lower each pack's live bytes by what reached zero in it (stored
 * bytes and pack entry, store_data_refs.c). */
static int apply_pack_bytes(struct hbr_store *s, const char *vault_id,
                            struct pack_bytes *pb, size_t n)
{
	int rc = 0;

	if (n) /* qsort(NULL, 0) is undefined */
		qsort(pb, n, sizeof(*pb), cmp_pack);
	for (size_t i = 0; i < n && rc >= 0;) {
		size_t j = i;
		int64_t sum = 0;

		for (; j < n && !strcmp(pb[j].pack_id, pb[i].pack_id); j++)
			sum += pb[j].bytes;
		rc = hbr_store_execf(
		        s,
		        "UPDATE packs SET live_bytes = CASE WHEN live_bytes > ?"
		        " THEN live_bytes - ? ELSE 0 END"
		        " WHERE vault_id = ? AND pack_id = ?",
		        "iiss", sum, sum, vault_id, pb[i].pack_id);
		i = j;
	}
	return rc < 0 ? rc : 0;
}

/* Statements over lists of the step's ids (store_idlist.h). */
#define IN_MAX   HBR_IDLIST_MAX
#define SQL_SIZE 4096

/* A list of ids to bind, copied together. */
struct id_list {
	uint8_t ids[IN_MAX][HBR_CHUNK_ID_LEN];
};

enum list_sql {
	/* A phase 1 candidate check, outside the step's transaction. */
	SQL_REFS,
	/* The rows of a step as they are before it (in its transaction). */
	SQL_ROWS,
	/* One group of chunks that lose the same references and are left
	 * with the same holder: refs falls by `total` (clamped at 0); a
	 * chunk one client alone holds afterwards has that client as its
	 * owner and owner_refs = refs, any other chunk no owner and 0.
	 * SET's right-hand sides read the row as it was. */
	SQL_LOWER,
	/* Phase 1's list of what it takes to 0, taken from their rows
	 * (read in the step, so they exist; the padding's repeats select
	 * once). */
	SQL_LIST,
	/* The shares of the step's shared chunks that keep references. */
	SQL_SHARES,
	/* Every share of the chunks that die, or that one client alone
	 * holds after the step. */
	SQL_UNSHARE,
	/* One client's shares that reach 0 (binds: vault, client). */
	SQL_SHARE_DEL,
	/* One client's shares that lose the same references (binds: the
	 * loss, vault, client). */
	SQL_SHARE_LOWER,
	SQL_NLIST
};

static char list_sql[SQL_NLIST][HBR_IDLIST_KINDS][SQL_SIZE];
static pthread_once_t list_once = PTHREAD_ONCE_INIT;

static void build_list_sql(void)
{
	static const char *const head[SQL_NLIST] = {
		[SQL_REFS] = "SELECT chunk_id, refs FROM chunks"
		             " WHERE vault_id = ?",
		[SQL_ROWS] = "SELECT chunk_id, refs, owner_refs, owner,"
		             " pack_id, stored_len FROM chunks"
		             " WHERE vault_id = ?",
		[SQL_LOWER] = "UPDATE chunks SET refs = CASE WHEN refs > ?"
		              " THEN refs - ? ELSE 0 END,"
		              " owner_refs = CASE WHEN ? = 1 AND refs > ?"
		              " THEN refs - ? ELSE 0 END, owner = ?,"
		              " dead_since = CASE WHEN refs > ? THEN"
		              " dead_since ELSE ? END"
		              " WHERE vault_id = ? AND refs > 0",
		[SQL_LIST] = "INSERT INTO gc_zeroed (vault_id, chunk_id)"
		             " SELECT vault_id, chunk_id FROM chunks"
		             " WHERE vault_id = ?",
		/* The share statements name the vault and the client by
		 * their numbers (share_names). */
		[SQL_SHARES] = "SELECT chunk_id, client_no, refs FROM"
		               " chunk_shares WHERE vault_no = ?",
		[SQL_UNSHARE] = "DELETE FROM chunk_shares WHERE vault_no = ?",
		[SQL_SHARE_DEL] = "DELETE FROM chunk_shares WHERE vault_no = ?"
		                  " AND client_no = ?",
		[SQL_SHARE_LOWER] = "UPDATE chunk_shares SET refs = refs - ?"
		                    " WHERE vault_no = ? AND client_no = ?",
	};

	for (size_t q = 0; q < SQL_NLIST; q++)
		for (size_t k = 0; k < HBR_IDLIST_KINDS; k++)
			hbr_idlist_sql(list_sql[q][k], SQL_SIZE, head[q], k,
			               "");
}

/* Prepare list_sql[q] for a list of n ids (n <= IN_MAX) and bind them
 * from parameter idx on. */
static int prepare_list(struct hbr_stmt **out, struct hbr_store *s,
                        enum list_sql q, int idx, const struct id_list *l,
                        size_t n)
{
	struct hbr_stmt *st = NULL;
	size_t kind = hbr_idlist_kind(n);
	int rc;

	(void)pthread_once(&list_once, build_list_sql);
	if ((rc = s->ops->prepare(&st, s, list_sql[q][kind])) < 0)
		return rc;
	if ((rc = hbr_idlist_bind(s, st, idx, l->ids[0], HBR_CHUNK_ID_LEN, n,
	                          kind)) < 0) {
		hbr_stmt_done(st);
		return rc;
	}
	*out = st;
	return 0;
}

/* The index of id among ids[at[0..n)] (sorted), or n. */
static size_t find_id(const uint8_t *ids, const size_t *at, size_t n,
                      const uint8_t *id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(ids + at[mid] * HBR_CHUNK_ID_LEN, id,
		               HBR_CHUNK_ID_LEN);

		if (!c)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return n;
}

/* A chunk of a step, as read before it and as the step leaves it. */
struct dec_row {
	bool found; /* a row with refs > 0 */
	bool gone; /* deleted with its pack by the step */
	bool alone; /* its owner's alone before the step */
	bool alone_after; /* owner's alone after it */
	bool shared; /* no owner's alone, and keeps references */
	bool unshare; /* its shares go with the step */
	int64_t refs, owner_refs, stored_len;
	int64_t total; /* what the step takes off refs */
	/* Its owner as read; once planned, its owner after the step ("" for
	 * none). */
	char owner[HBR_ID_MAX];
	char pack_id[HBR_GC_NAME_MAX];
	size_t share0, nshares; /* its shares read, in dec_step.shares */
};

/* What a row callback of for_lists gets. */
typedef int row_cb(struct hbr_stmt *st, size_t i, void *payload);

/*
 * Run list statement q (its first parameter the vault: vault_no when it
 * is not 0, else vault_id) over the ids of d whose want[] is set (all
 * when want is NULL), calling cb with the index in d of each row's id
 * (column 0).
 */
static int for_lists(struct hbr_store *s, enum list_sql q, const char *vault_id,
                     int64_t vault_no, const struct hbr_gc_dec *d,
                     const bool *want, row_cb *cb, void *payload)
{
	struct id_list *list = hbr_malloc(sizeof(*list));
	size_t *at = hbr_malloc((d->n ? d->n : 1) * sizeof(*at)), n = 0;
	int rc = 0;

	for (size_t i = 0; i < d->n; i++)
		if (!want || want[i])
			at[n++] = i;
	for (size_t i = 0; i < n && rc >= 0; i += IN_MAX) {
		size_t len = n - i < IN_MAX ? n - i : IN_MAX;
		struct hbr_stmt *st = NULL;

		for (size_t k = 0; k < len; k++)
			memcpy(list->ids[k],
			       d->ids + at[i + k] * HBR_CHUNK_ID_LEN,
			       HBR_CHUNK_ID_LEN);
		if ((rc = prepare_list(&st, s, q, 2, list, len)) < 0)
			break;
		if ((rc = vault_no ? s->ops->bind_int64(st, 1, vault_no) :
		                     s->ops->bind_text(st, 1, vault_id)) < 0) {
			hbr_stmt_done(st);
			break;
		}
		while ((rc = hbr_stmt_next(st)) > 0) {
			size_t idlen = 0, k;
			const uint8_t *id = hbr_stmt_blob(st, 0, &idlen);

			if (!id || idlen != HBR_CHUNK_ID_LEN ||
			    (k = find_id(d->ids, at + i, len, id)) == len)
				continue;
			if ((rc = cb(st, at[i + k], payload)) < 0)
				break;
		}
		hbr_stmt_done(st);
	}
	hbr_free(at);
	hbr_free(list);
	return rc < 0 ? rc : 0;
}

/* The references d takes off chunk i. */
static int64_t loss_total(const struct hbr_gc_dec *d, size_t i)
{
	int64_t total = 0;

	for (size_t k = d->first[i]; k < d->first[i + 1]; k++)
		total += d->by[k].count;
	return total;
}

/* The references d takes off chunk i that are client's. */
static int64_t loss_of(const struct hbr_gc_dec *d, size_t i, const char *client)
{
	for (size_t k = d->first[i]; k < d->first[i + 1]; k++)
		if (!strcmp(client, d->clients[d->by[k].client]))
			return d->by[k].count;
	return 0;
}

struct candidates {
	bool *out;
	const struct hbr_gc_dec *d;
};

static int on_refs(struct hbr_stmt *st, size_t i, void *payload)
{
	struct candidates *c = payload;
	int64_t refs = hbr_stmt_int(st, 1);

	c->out[i] = refs > 0 && refs <= loss_total(c->d, i);
	return 0;
}

/* Rows the candidate scan reads per id it settles before it gives up
 * and seeks the rest: a row read in key order costs about a sixth of a
 * row sought (SQLite, cold page cache). */
#define SCAN_ROWS_PER_ID 6
#define SCAN_SLACK       64

/*
 * Candidates by reading the rows of d's id range in key order, merged
 * with d: when the chunks a deletion names are a good part of the
 * vault's (deleting one of a few clients), reading every row of the
 * range costs less than seeking each id. Once the rows outnumber the
 * ids settled by SCAN_ROWS_PER_ID (a small deletion in a large vault)
 * it stops; *done_out is how many of d's ids it settled.
 */
static int scan_candidates(size_t *done_out, struct candidates *c,
                           struct hbr_store *s, const char *vault_id)
{
	const struct hbr_gc_dec *d = c->d;
	struct hbr_stmt *st;
	size_t at = 0, rows = 0;
	int rc;

	if ((rc = hbr_store_queryf(&st, s,
	                           "SELECT chunk_id, refs FROM chunks"
	                           " WHERE vault_id = ? AND chunk_id >= ?"
	                           " AND chunk_id <= ? ORDER BY chunk_id",
	                           "sbb", vault_id, d->ids,
	                           (size_t)HBR_CHUNK_ID_LEN,
	                           d->ids + (d->n - 1) * HBR_CHUNK_ID_LEN,
	                           (size_t)HBR_CHUNK_ID_LEN)) < 0)
		return rc;
	while (at < d->n && (rc = hbr_stmt_next(st)) > 0) {
		size_t len = 0;
		const uint8_t *id = hbr_stmt_blob(st, 0, &len);

		if (++rows > SCAN_ROWS_PER_ID * (at + SCAN_SLACK))
			break;
		if (!id || len != HBR_CHUNK_ID_LEN)
			continue;
		/* Ids passed over have no row: not candidates. */
		while (at < d->n && memcmp(d->ids + at * HBR_CHUNK_ID_LEN, id,
		                           HBR_CHUNK_ID_LEN) < 0)
			at++;
		if (at < d->n && !memcmp(d->ids + at * HBR_CHUNK_ID_LEN, id,
		                         HBR_CHUNK_ID_LEN))
			(void)on_refs(st, at++, c);
	}
	hbr_stmt_done(st);
	if (rc < 0)
		return rc;
	*done_out = rc > 0 ? at : d->n;
	return 0;
}

int hbr_store_gc_zero_candidates(bool *out, struct hbr_store *s,
                                 const char *vault_id,
                                 const struct hbr_gc_dec *d)
{
	struct candidates c = { out, d };
	size_t done = 0;
	bool txn;
	int rc;

	memset(out, 0, d->n * sizeof(*out));
	if (!d->n)
		return 0;
	/* One read transaction: one view, and the page cache kept across
	 * the statements (a write elsewhere between two of them would
	 * empty it). */
	txn = s->ops->exec(s, "BEGIN") == 0;
	rc = scan_candidates(&done, &c, s, vault_id);
	if (rc >= 0 && done < d->n) {
		struct hbr_gc_dec rest = *d;

		rest.ids += done * HBR_CHUNK_ID_LEN;
		rest.first += done;
		rest.n -= done;
		c = (struct candidates){ out + done, &rest };
		rc = for_lists(s, SQL_REFS, vault_id, 0, &rest, NULL, on_refs,
		               &c);
	}
	if (txn)
		hbr_store_rollback(s);
	if (rc < 0)
		memset(out, 0, d->n * sizeof(*out));
	return rc;
}

static int on_row(struct hbr_stmt *st, size_t i, void *payload)
{
	struct dec_row *r = &((struct dec_row *)payload)[i];

	r->refs = hbr_stmt_int(st, 1);
	r->owner_refs = hbr_stmt_int(st, 2);
	r->stored_len = hbr_stmt_int(st, 5);
	/* A row already at 0 has nothing to lower: skipping it keeps a
	 * damaged count from taking its pack's live bytes twice. */
	r->found = r->refs > 0;
	(void)snprintf(r->owner, sizeof(r->owner), "%s", hbr_stmt_text(st, 3));
	r->alone = r->owner[0] && r->owner_refs > 0 && r->refs == r->owner_refs;
	return hbr_gc_copy_name(r->pack_id, hbr_stmt_text(st, 4));
}

/* One client's share of a chunk, as read before the step. */
struct share {
	size_t i; /* the chunk's index in the step */
	int64_t refs, no;
	char client[HBR_ID_MAX];
};

/* A change to one client's share of a chunk. */
struct share_op {
	bool lower; /* lower by `loss`; else delete */
	int64_t loss, no;
	size_t i;
};

/* A client's share number and name, as the step looked it up. */
struct share_name {
	int64_t no;
	char name[HBR_ID_MAX];
};

static int cmp_share(const void *a, const void *b)
{
	const struct share *x = a, *y = b;

	if (x->i != y->i)
		return x->i < y->i ? -1 : 1;
	return strcmp(x->client, y->client);
}

static int cmp_share_op(const void *a, const void *b)
{
	const struct share_op *x = a, *y = b;

	if (x->lower != y->lower)
		return x->lower ? 1 : -1;
	if (x->no != y->no)
		return x->no < y->no ? -1 : 1;
	if (x->loss != y->loss)
		return x->loss < y->loss ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* A chunk's place in the step, by what it loses and who holds it
 * after: equal keys share an UPDATE statement. */
struct dec_key {
	int64_t total;
	bool alone;
	const char *owner; /* the row's owner after the step */
	size_t i;
};

static int cmp_key(const void *a, const void *b)
{
	const struct dec_key *x = a, *y = b;
	int c;

	if (x->total != y->total)
		return x->total < y->total ? -1 : 1;
	if (x->alone != y->alone)
		return x->alone ? 1 : -1;
	if ((c = strcmp(x->owner, y->owner)))
		return c;
	return x->i < y->i ? -1 : x->i > y->i;
}

static bool same_group(const struct dec_key *a, const struct dec_key *b)
{
	return a->total == b->total && a->alone == b->alone &&
	       !strcmp(a->owner, b->owner);
}

/* What one transaction of decrements gathers for its last statements. */
struct dec_step {
	struct dec_row *rows;
	struct dec_key *keys; /* the chunks lowered */
	size_t nkeys;
	struct pack_bytes *pb;
	size_t npb, pcap;
	struct hbr_owner_delta *deltas;
	size_t ndeltas, dcap;
	struct share *shares;
	size_t nshares, scap;
	struct share_op *ops;
	size_t nops, ocap;
	int64_t zeroed;
	struct hbr_store *s;
	int64_t vault_no; /* 0: the vault has no shares */
	struct share_name *names; /* sorted by number */
	size_t nnames, ncap;
};

/* The name of client number no, looked up once per step. */
static int name_of(const char **out, struct dec_step *acc, int64_t no)
{
	size_t lo = 0, hi = acc->nnames;
	int rc;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (acc->names[mid].no == no) {
			*out = acc->names[mid].name;
			return 0;
		}
		if (acc->names[mid].no < no)
			lo = mid + 1;
		else
			hi = mid;
	}
	hbr_grow((void **)&acc->names, &acc->ncap, acc->nnames + 1,
	         sizeof(*acc->names));
	memmove(&acc->names[lo + 1], &acc->names[lo],
	        (acc->nnames - lo) * sizeof(*acc->names));
	acc->nnames++;
	acc->names[lo].no = no;
	if ((rc = hbr_store_share_name(acc->names[lo].name, acc->s, no)) < 0)
		return rc;
	*out = acc->names[lo].name;
	return 0;
}

static int on_share(struct hbr_stmt *st, size_t i, void *payload)
{
	struct dec_step *acc = payload;
	struct share *sh;
	const char *client = NULL;
	int64_t no = hbr_stmt_int(st, 1);
	int rc;

	if ((rc = name_of(&client, acc, no)) < 0)
		return rc;
	hbr_grow((void **)&acc->shares, &acc->scap, acc->nshares + 1,
	         sizeof(*acc->shares));
	sh = &acc->shares[acc->nshares++];
	sh->i = i;
	sh->refs = hbr_stmt_int(st, 2);
	sh->no = no;
	memcpy(sh->client, client, strlen(client) + 1);
	return 0;
}

/*
 * The shares of the step's shared chunks that keep references: only
 * they can change hands (a chunk that dies loses every share, one its
 * owner holds alone has none).
 */
static int read_shares(struct dec_step *acc, struct hbr_store *s,
                       const char *vault_id, const struct hbr_gc_dec *d,
                       bool zero_only)
{
	bool *want = hbr_calloc(d->n ? d->n : 1, sizeof(*want));
	size_t nwant = 0;
	int rc = 0;

	for (size_t i = 0; i < d->n; i++) {
		struct dec_row *r = &acc->rows[i];

		r->total = loss_total(d, i);
		r->shared = r->found && !r->alone && r->refs > r->total;
		want[i] = r->shared && !zero_only;
		nwant += want[i];
	}
	if (nwant && acc->vault_no)
		rc = for_lists(s, SQL_SHARES, vault_id, acc->vault_no, d, want,
		               on_share, acc);
	hbr_free(want);
	if (rc < 0)
		return rc;
	if (acc->nshares)
		qsort(acc->shares, acc->nshares, sizeof(*acc->shares),
		      cmp_share);
	for (size_t k = 0; k < acc->nshares;) {
		struct dec_row *r = &acc->rows[acc->shares[k].i];

		r->share0 = k;
		while (k < acc->nshares && &acc->rows[acc->shares[k].i] == r)
			k++;
		r->nshares = k - r->share0;
	}
	return 0;
}

/*
 * Who holds a shared chunk after the step: each client's share loses
 * its references; a share reaching 0 goes. When a single client's share
 * is left, and it holds every reference left (it does unless the rows
 * are damaged, or the chunk's holders were never recounted after
 * migration 11), that client becomes the owner: the chunk counts in its
 * exclusive bytes, and its shares go.
 */
static void plan_shared(struct dec_step *acc, const struct hbr_gc_dec *d,
                        size_t i, int64_t refs)
{
	struct dec_row *r = &acc->rows[i];
	const struct share *holder = NULL;
	size_t nleft = 0;

	r->owner[0] = '\0';
	for (size_t k = r->share0; k < r->share0 + r->nshares; k++) {
		const struct share *sh = &acc->shares[k];
		int64_t loss = loss_of(d, i, sh->client);

		if (sh->refs > loss) {
			holder = sh;
			nleft++;
		}
	}
	if (nleft == 1 &&
	    holder->refs - loss_of(d, i, holder->client) == refs) {
		r->alone_after = true;
		r->unshare = true;
		memcpy(r->owner, holder->client, sizeof(r->owner));
		hbr_owner_delta_add(&acc->deltas, &acc->ndeltas, &acc->dcap,
		                    r->owner, r->stored_len);
		return;
	}
	for (size_t k = r->share0; k < r->share0 + r->nshares; k++) {
		const struct share *sh = &acc->shares[k];
		int64_t loss = loss_of(d, i, sh->client);

		if (!loss)
			continue;
		hbr_grow((void **)&acc->ops, &acc->ocap, acc->nops + 1,
		         sizeof(*acc->ops));
		acc->ops[acc->nops++] =
		        (struct share_op){ sh->refs > loss, loss, sh->no, i };
	}
}

/*
 * The step's changes, from the rows as read: each chunk loses the
 * references of every client that named it; a chunk reaching 0 takes
 * its stored bytes and pack entry off its pack's live bytes, and its
 * owner's exclusive bytes if one client alone held it; a shared chunk
 * may be left to one client alone (plan_shared). With zero_only, chunks
 * that keep references are left for phase 2.
 */
static void plan_step(struct dec_step *acc, const struct hbr_gc_dec *d,
                      bool zero_only)
{
	for (size_t i = 0; i < d->n; i++) {
		struct dec_row *r = &acc->rows[i];
		int64_t refs;

		if (!r->found)
			continue;
		refs = r->refs > r->total ? r->refs - r->total : 0;
		if (zero_only && refs)
			continue;
		if (!refs) {
			if (r->alone)
				hbr_owner_delta_add(&acc->deltas, &acc->ndeltas,
				                    &acc->dcap, r->owner,
				                    -r->stored_len);
			else
				r->unshare = true;
			r->owner[0] = '\0';
			hbr_grow((void **)&acc->pb, &acc->pcap, acc->npb + 1,
			         sizeof(*acc->pb));
			memcpy(acc->pb[acc->npb].pack_id, r->pack_id,
			       sizeof(r->pack_id));
			acc->pb[acc->npb].row = i;
			acc->pb[acc->npb++].bytes =
			        r->stored_len + HBR_PACK_ENTRY_LEN;
			acc->zeroed++;
		} else if (r->alone) {
			/* Another client's losses here would be damage: the
			 * owner's alone it stays. */
			r->alone_after = true;
		} else {
			plan_shared(acc, d, i, refs);
		}
		acc->keys[acc->nkeys++] =
		        (struct dec_key){ r->total, r->alone_after, r->owner,
			                  i };
	}
}

/* One UPDATE per group of equal keys and IN_MAX ids. */
static int lower(struct hbr_store *s, const char *vault_id,
                 struct dec_step *acc, const struct hbr_gc_dec *d, int64_t now)
{
	struct id_list *list = hbr_malloc(sizeof(*list));
	int rc = 0;

	if (acc->nkeys)
		qsort(acc->keys, acc->nkeys, sizeof(*acc->keys), cmp_key);
	for (size_t i = 0; i < acc->nkeys && rc >= 0;) {
		const struct dec_key *g = &acc->keys[i];
		struct hbr_stmt *st = NULL;
		size_t n = 0, m = 0;

		while (i + m < acc->nkeys && n < IN_MAX &&
		       same_group(&acc->keys[i + m], g)) {
			size_t at = acc->keys[i + m++].i;

			if (!acc->rows[at].gone)
				memcpy(list->ids[n++],
				       d->ids + at * HBR_CHUNK_ID_LEN,
				       HBR_CHUNK_ID_LEN);
		}
		i += m;
		if (!n)
			continue;
		if ((rc = prepare_list(&st, s, SQL_LOWER, 10, list, n)) < 0)
			break;
		if ((rc = s->ops->bind_int64(st, 1, g->total)) < 0 ||
		    (rc = s->ops->bind_int64(st, 2, g->total)) < 0 ||
		    (rc = s->ops->bind_int64(st, 3, g->alone)) < 0 ||
		    (rc = s->ops->bind_int64(st, 4, g->total)) < 0 ||
		    (rc = s->ops->bind_int64(st, 5, g->total)) < 0 ||
		    (rc = s->ops->bind_text(
		             st, 6, g->owner[0] ? g->owner : NULL)) < 0 ||
		    (rc = s->ops->bind_int64(st, 7, g->total)) < 0 ||
		    (rc = s->ops->bind_int64(st, 8, now)) < 0 ||
		    (rc = s->ops->bind_text(st, 9, vault_id)) < 0 ||
		    (rc = hbr_stmt_next(st)) < 0) {
			hbr_stmt_done(st);
			break;
		}
		hbr_stmt_done(st);
	}
	hbr_free(list);
	return rc < 0 ? rc : 0;
}

/* Run list statement q over list (n ids), its other parameters first:
 * the vault's number, then the client's (when not 0) and, with loss >=
 * 0, the loss before them. */
static int run_share_list(struct hbr_store *s, enum list_sql q,
                          int64_t vault_no, int64_t client_no, int64_t loss,
                          const struct id_list *list, size_t n)
{
	struct hbr_stmt *st = NULL;
	int idx = 1, rc;

	if ((rc = prepare_list(&st, s, q,
	                       1 + (loss >= 0) + 1 + (client_no != 0), list,
	                       n)) < 0)
		return rc;
	if ((loss >= 0 && (rc = s->ops->bind_int64(st, idx++, loss)) < 0) ||
	    (rc = s->ops->bind_int64(st, idx++, vault_no)) < 0 ||
	    (client_no &&
	     (rc = s->ops->bind_int64(st, idx++, client_no)) < 0) ||
	    (rc = hbr_stmt_next(st)) < 0) {
		hbr_stmt_done(st);
		return rc;
	}
	hbr_stmt_done(st);
	return 0;
}

/* The step's changes to chunk_shares: every share of the chunks marked
 * unshare, then each client's lowered or emptied shares, one statement
 * per group and IN_MAX ids. */
static int write_shares(struct hbr_store *s, struct dec_step *acc,
                        const struct hbr_gc_dec *d)
{
	struct id_list *list = hbr_malloc(sizeof(*list));
	size_t n = 0;
	int rc = 0;

	/* No number, no shares: nothing to change. */
	if (!acc->vault_no)
		goto out;
	for (size_t i = 0; i < d->n && rc >= 0; i++) {
		if (acc->rows[i].unshare)
			memcpy(list->ids[n++], d->ids + i * HBR_CHUNK_ID_LEN,
			       HBR_CHUNK_ID_LEN);
		if (n && (n == IN_MAX || i + 1 == d->n)) {
			rc = run_share_list(s, SQL_UNSHARE, acc->vault_no, 0,
			                    -1, list, n);
			n = 0;
		}
	}
	if (acc->nops)
		qsort(acc->ops, acc->nops, sizeof(*acc->ops), cmp_share_op);
	for (size_t i = 0; i < acc->nops && rc >= 0;) {
		const struct share_op *g = &acc->ops[i];

		for (n = 0;
		     i < acc->nops && n < IN_MAX &&
		     acc->ops[i].lower == g->lower && acc->ops[i].no == g->no &&
		     acc->ops[i].loss == g->loss;
		     i++)
			memcpy(list->ids[n++],
			       d->ids + acc->ops[i].i * HBR_CHUNK_ID_LEN,
			       HBR_CHUNK_ID_LEN);
		rc = run_share_list(
		        s, g->lower ? SQL_SHARE_LOWER : SQL_SHARE_DEL,
		        acc->vault_no, g->no, g->lower ? g->loss : -1, list, n);
	}
out:
	hbr_free(list);
	return rc < 0 ? rc : 0;
}

/* Phase 1: list the chunks the step took to 0 (acc->keys). */
static int list_zeroed(struct hbr_store *s, const char *vault_id,
                       const struct dec_step *acc, const struct hbr_gc_dec *d)
{
	bool *want = hbr_calloc(d->n ? d->n : 1, sizeof(*want));
	int rc = 0;

	for (size_t i = 0; i < acc->nkeys; i++)
		want[acc->keys[i].i] = true;
	if (acc->nkeys) {
		struct id_list *list = hbr_malloc(sizeof(*list));
		size_t n = 0;

		for (size_t i = 0; i < d->n && rc >= 0; i++) {
			if (want[i])
				memcpy(list->ids[n++],
				       d->ids + i * HBR_CHUNK_ID_LEN,
				       HBR_CHUNK_ID_LEN);
			if (n && (n == IN_MAX || i + 1 == d->n)) {
				struct hbr_stmt *st = NULL;

				if ((rc = prepare_list(&st, s, SQL_LIST, 2,
				                       list, n)) < 0)
					break;
				if ((rc = s->ops->bind_text(st, 1, vault_id)) ==
				    0)
					rc = hbr_stmt_next(st);
				hbr_stmt_done(st);
				n = 0;
			}
		}
		hbr_free(list);
	}
	hbr_free(want);
	return rc < 0 ? rc : 0;
}

/* Phase 2: want[i] for the ids of d that phase 1 did not take to 0. */
static int not_listed(bool *want, struct hbr_store *s, const char *vault_id,
                      const struct hbr_gc_dec *d)
{
	struct hbr_stmt *st;
	size_t at = 0;
	int rc;

	for (size_t i = 0; i < d->n; i++)
		want[i] = true;
	/* The listed ids of the step's range, merged with d's. */
	if ((rc = hbr_store_queryf(&st, s,
	                           "SELECT chunk_id FROM gc_zeroed"
	                           " WHERE vault_id = ? AND chunk_id >= ?"
	                           " AND chunk_id <= ? ORDER BY chunk_id",
	                           "sbb", vault_id, d->ids,
	                           (size_t)HBR_CHUNK_ID_LEN,
	                           d->ids + (d->n - 1) * HBR_CHUNK_ID_LEN,
	                           (size_t)HBR_CHUNK_ID_LEN)) < 0)
		return rc;
	while ((rc = hbr_stmt_next(st)) > 0) {
		size_t len = 0;
		const uint8_t *id = hbr_stmt_blob(st, 0, &len);

		if (!id || len != HBR_CHUNK_ID_LEN)
			continue;
		while (at < d->n && memcmp(d->ids + at * HBR_CHUNK_ID_LEN, id,
		                           HBR_CHUNK_ID_LEN) < 0)
			at++;
		if (at < d->n && !memcmp(d->ids + at * HBR_CHUNK_ID_LEN, id,
		                         HBR_CHUNK_ID_LEN))
			want[at] = false;
	}
	hbr_stmt_done(st);
	return rc < 0 ? rc : 0;
}

/*
 * A pack whose every kept chunk the step takes to 0 goes in the step's
 * transaction, its rows deleted rather than lowered first: lowering
 * them and dropping the pack later would write each of their pages
 * twice, and those pages (a deleted client's chunks are spread over the
 * whole table) are most of what the step writes. Only when nothing runs
 * that chunks dying now must be kept for (the cutoff is past now). The
 * dropped packs' entries leave acc->pb; their chunks' rows are marked
 * gone.
 */
static int drop_emptied(struct dec_step *acc, struct hbr_store *s,
                        const char *vault_id, int64_t now)
{
	int64_t cutoff = 0;
	size_t kept = 0;
	int rc;

	if (!acc->npb)
		return 0;
	qsort(acc->pb, acc->npb, sizeof(*acc->pb), cmp_pack);
	if ((rc = hbr_store_gc_cutoff(&cutoff, s, vault_id, now)) < 0)
		return rc;
	for (size_t i = 0, j; i < acc->npb; i = j) {
		bool dropped = false;

		for (j = i; j < acc->npb &&
		            !strcmp(acc->pb[j].pack_id, acc->pb[i].pack_id);
		     j++)
			;
		if (cutoff > now &&
		    (rc = hbr_gc_drop_pack(&dropped, s, vault_id,
		                           acc->pb[i].pack_id, cutoff,
		                           (int64_t)(j - i))) < 0)
			return rc;
		for (size_t k = i; k < j; k++)
			if (dropped)
				acc->rows[acc->pb[k].row].gone = true;
			else
				acc->pb[kept++] = acc->pb[k];
	}
	acc->npb = kept;
	return 0;
}

int hbr_store_gc_decrement(struct hbr_gc_step *out, struct hbr_store *s,
                           const char *vault_id, const struct hbr_gc_batch *b,
                           const struct hbr_gc_dec *d, const bool *candidate,
                           int64_t now)
{
	struct dec_step acc = { 0 };
	bool zero = b->phase == HBR_GC_PHASE_ZERO;
	bool *want = NULL;
	int rc;

	if (!d->n)
		return 0;
	acc.rows = hbr_calloc(d->n, sizeof(*acc.rows));
	acc.keys = hbr_calloc(d->n, sizeof(*acc.keys));
	want = hbr_calloc(d->n, sizeof(*want));
	if ((rc = hbr_store_begin(s)) < 0)
		goto out;
	/* What dies now dies no earlier than the transaction: a backup
	 * that started while this step waited for the writer may have been
	 * told these chunks exist, and its start must protect them. */
	if (hbr_time_now() > now)
		now = hbr_time_now();
	/* Read, then write, in one write transaction: nothing changes the
	 * rows in between, so what plan_step computes is what the UPDATEs
	 * leave. */
	if ((rc = hbr_gc_batch_is(s, vault_id, b, d->ids)) < 0)
		goto fail;
	if (zero)
		for (size_t i = 0; i < d->n; i++)
			want[i] = !candidate || candidate[i];
	else if ((rc = not_listed(want, s, vault_id, d)) < 0)
		goto fail;
	acc.s = s;
	if ((rc = hbr_store_share_no(&acc.vault_no, s, vault_id, false)) < 0 ||
	    (rc = for_lists(s, SQL_ROWS, vault_id, 0, d, want, on_row,
	                    acc.rows)) < 0 ||
	    (rc = read_shares(&acc, s, vault_id, d, zero)) < 0)
		goto fail;
	plan_step(&acc, d, zero);
	/* Listed before drop_emptied deletes rows: the list is taken from
	 * them. */
	if ((zero && (rc = list_zeroed(s, vault_id, &acc, d)) < 0) ||
	    (rc = drop_emptied(&acc, s, vault_id, now)) < 0 ||
	    (rc = write_shares(s, &acc, d)) < 0 ||
	    (rc = lower(s, vault_id, &acc, d, now)) < 0 ||
	    (rc = apply_pack_bytes(s, vault_id, acc.pb, acc.npb)) < 0 ||
	    (rc = hbr_store_owner_deltas_apply(s, vault_id, acc.deltas,
	                                       acc.ndeltas)) < 0 ||
	    (rc = hbr_store_execf(s,
	                          "UPDATE gc_batch SET cursor = ?"
	                          " WHERE vault_id = ?",
	                          "bs", d->ids + (d->n - 1) * HBR_CHUNK_ID_LEN,
	                          (size_t)HBR_CHUNK_ID_LEN, vault_id)) < 0 ||
	    (rc = hbr_store_commit(s)) < 0)
		goto fail;
	out->lowered += (int64_t)acc.nkeys;
	out->zeroed += acc.zeroed;
	goto out;
fail:
	hbr_store_rollback(s);
out:
	hbr_free(want);
	hbr_free(acc.rows);
	hbr_free(acc.keys);
	hbr_free(acc.pb);
	hbr_free(acc.deltas);
	hbr_free(acc.shares);
	hbr_free(acc.ops);
	hbr_free(acc.names);
	return rc;
}
