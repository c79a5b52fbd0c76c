/*
 * Who holds each chunk, counted from the refs objects
 * (docs/RECLAMATION.md, "What deleting a client would free"): the truth
 * `hbrd vault check` compares the rows with, and the one-time recount
 * of a vault migration 11 could not bring up to date in SQL.
 */
#ifndef HBR_GC_EXCLUSIVE_H
#define HBR_GC_EXCLUSIVE_H

#include "common.h"
#include "store/store_exclusive.h"
#include "vault/vault.h"

/*
 * The references src's snapshots hold in the counts, from their refs
 * objects, less what the batch in progress has applied. A queued
 * snapshot without a refs object named nothing (as for reclamation);
 * one with a tree but no object makes *complete_out false, and is named
 * in missing (HBR_ID_MAX).
 */
int hbr_excl_truth_count(struct hbr_excl_truth *out, bool *complete_out,
                         char *missing, struct hbr_vault *v,
                         const struct hbr_excl_sources *src);
void hbr_excl_truth_free(struct hbr_excl_truth *t);

/*
 * Recount the vault's holders if it waits for that (exclusive_recount)
 * and no batch is in progress; *done_out says whether it is exact now.
 * Commits and reclamation go on meanwhile: the write checks that the
 * snapshots are still those counted, and counts again if not.
 */
int hbr_reclaim_recount(bool *done_out, struct hbr_store *s,
                        struct hbr_vault *v, const char *vault_id);

/* What hbr_reclaim_check_exclusive found. */
struct hbr_excl_check {
	bool pending; /* the recount has yet to run: holders not exact */
	bool verified; /* every refs object could be read */
	char missing[HBR_ID_MAX]; /* the first that could not */
	struct hbr_excl_verdict verdict;
};

/* Count the truth and compare the rows with it (hbr_store_excl_verify),
 * in the caller's read transaction if it has one. */
int hbr_reclaim_check_exclusive(struct hbr_excl_check *out, struct hbr_store *s,
                                struct hbr_vault *v, const char *vault_id,
                                hbr_excl_client_cb *cb, void *payload);

#endif
