/*
 * The metadata of the agent data plane (docs/AGENT-PROTOCOL.md): chunk
 * and pack rows, and the job transitions the agent drives (start,
 * progress, finish, snapshot commit).
 *
 * Every write here re-checks, in the transaction that records it, that
 * the job is the calling client's, is live (its client's epoch) and is
 * RUNNING, so CancelBackupJob and DeleteBackupClientResource refuse a
 * job's next upload or commit from the instant they commit. Functions
 * that write open and commit their own transaction; the reads run in
 * the caller's (or none).
 *
 * Job errors: a job that does not exist, is dead or is another client's
 * is HBR_ENOJOB (backup) or HBR_ENORESTORE (restore); a job that is not
 * RUNNING is HBR_ECONFLICT naming its status.
 */
#ifndef HBR_STORE_DATA_H
#define HBR_STORE_DATA_H

#include <jansson.h>
#include "common.h"
#include "core/chunker.h"
#include "core/id.h"
#include "core/pack.h"
#include "store/store.h"

#define HBR_PACK_ID_HEX 32 /* random hex digits of a pack id */
/* Distinct chunks one snapshot may reference (CommitAgentSnapshot), so
 * its refs object is at most this many 32-byte ids: about 1 TiB of data
 * at 64 KiB chunks. Reclamation and `hbrd vault check` read any object
 * the commit may write. */
#define HBR_SNAPSHOT_REFS_MAX (16u << 20)
#define HBR_REFS_OBJECT_MAX   ((size_t)HBR_SNAPSHOT_REFS_MAX * HBR_CHUNK_ID_LEN)

enum hbr_job_type { HBR_JOB_BACKUP, HBR_JOB_RESTORE };

/* The job an agent call is about, and who is asking. */
struct hbr_job_ref {
	const char *account_id;
	const char *client_id; /* the calling agent's client */
	enum hbr_job_type type;
	const char *job_id; /* a backup JobId or a RestoreId */
};

/* The job's document (overlays applied) if it is the caller's: a live
 * backup job of client_id, or a restore job whose target instance is
 * client_id's. Any status. */
int hbr_store_agent_job(json_t **out, struct hbr_store *s,
                        const struct hbr_job_ref *j);
/* The same, and HBR_ECONFLICT unless it is RUNNING. */
int hbr_store_agent_job_running(json_t **out, struct hbr_store *s,
                                const struct hbr_job_ref *j);

/* PollAgentJobs: the client's live QUEUED/RUNNING backup jobs and the
 * QUEUED/RUNNING restore jobs that target its instance (new arrays, at
 * most `limit` each, oldest first). */
int hbr_store_agent_poll(json_t **backups_out, json_t **restores_out,
                         struct hbr_store *s, const char *account_id,
                         const char *client_id, int64_t limit);

/*
 * StartAgentJob, one transaction: QUEUED becomes RUNNING with StartTime
 * = now; RUNNING stays and *resumed_out is true; anything else is
 * HBR_ECONFLICT. A backup job gets ParentSnapshotId, the newest live
 * COMPLETE/PARTIAL_COMPLETE snapshot with a tree of the same plan, client
 * and vault (kept in the job, so a resumed job keeps its parent while it
 * lives). *job_out is the job's document afterwards; *tree_out (may be
 * NULL) the parent's tree (backup) or the snapshot's tree (restore), as
 * JSON array text, "[]" when there is none. hbr_free it.
 */
int hbr_store_agent_start(json_t **job_out, char **tree_out, bool *resumed_out,
                          struct hbr_store *s, const struct hbr_job_ref *j,
                          int64_t now);

/* ReportAgentJobProgress: set every member of `fields` (Progress,
 * BytesDone, ...) in a RUNNING job's document; one transaction. */
int hbr_store_agent_progress(struct hbr_store *s, const struct hbr_job_ref *j,
                             json_t *fields);

/*
 * FinishAgentJob: a RUNNING job ends with `status` (a finished status),
 * ErrorMessage and `fields` set, CompleteTime = now. A job already in
 * exactly that status is left alone and succeeds (a retried call).
 */
int hbr_store_agent_finish(struct hbr_store *s, const struct hbr_job_ref *j,
                           const char *status, const char *error_message,
                           json_t *fields, int64_t now);

/* A snapshot's tree (JSON array text of hex ids) if it is live in the
 * account and has one; NULL otherwise. hbr_free it. */
int hbr_store_snapshot_tree(char **out, struct hbr_store *s,
                            const char *account_id, const char *snapshot_id);

/* A chunk's place: which pack of the vault holds it, and where. */
struct hbr_chunk_row {
	char pack_id[HBR_PACK_ID_HEX + 1];
	uint64_t offset;
	uint32_t stored_len, raw_len, flags;
	int64_t refs;
};

/* For each of the n ids (32 bytes each): missing[i] true when the vault
 * has no row for it; *n_missing counts them. Reads only. */
int hbr_store_chunks_missing(bool *missing, size_t *n_missing,
                             struct hbr_store *s, const char *vault_id,
                             const uint8_t *ids, size_t n);

/*
 * CheckAgentChunks' answer for a job that started at job_start, safe
 * against space reclamation (docs/RECLAMATION.md): like
 * hbr_store_chunks_missing, but a present chunk no snapshot references
 * whose dead_since is before job_start gets dead_since = now (one write
 * transaction, only when there is such a chunk), so reclamation keeps it
 * until every job running now has ended; one reclaimed meanwhile is
 * reported missing. A job may then deduplicate against every chunk
 * reported present.
 */
int hbr_store_chunks_check(bool *missing, size_t *n_missing,
                           struct hbr_store *s, const char *vault_id,
                           const uint8_t *ids, size_t n, int64_t job_start,
                           int64_t now);
/* The rows of n ids; found[i] false (rows[i] untouched) when absent. */
int hbr_store_chunks_get(struct hbr_chunk_row *rows, bool *found,
                         struct hbr_store *s, const char *vault_id,
                         const uint8_t *ids, size_t n);

/* UploadAgentPack, before the object is written: a 'writing' pack row,
 * one transaction. The job is checked again by hbr_store_pack_commit. */
int hbr_store_pack_begin(struct hbr_store *s, const char *vault_id,
                         const char *pack_id, int64_t bytes, int64_t now);

struct hbr_pack_added {
	uint32_t chunks; /* entries in the pack */
	uint32_t new_chunks; /* of which the vault had no row */
	int64_t new_bytes; /* their stored bytes */
};

/*
 * UploadAgentPack, after the object is durable; one transaction: the job
 * is still the caller's, live and RUNNING (else the error, and the
 * 'writing' row stays for reclamation), then a row for every chunk the
 * vault lacks (refs 0, dead_since = now: reclamation keeps it while any
 * job running now runs) and the pack becomes 'live'. Its live_bytes stay
 * 0: they count chunks some snapshot references, which commits raise.
 */
int hbr_store_pack_commit(struct hbr_pack_added *out, struct hbr_store *s,
                          const struct hbr_job_ref *j, const char *vault_id,
                          const char *pack_id, const struct hbr_pack_view *v,
                          int64_t now);

/* CommitAgentSnapshot's record. */
struct hbr_snapshot_commit {
	const struct hbr_job_ref *job; /* a BACKUP job */
	const char *snapshot_id; /* a new id */
	const char *tree; /* JSON array text of the tree chunk ids */
	const uint8_t *refs; /* sorted distinct ids, 32 bytes each */
	size_t nrefs;
	const char *status; /* COMPLETE or PARTIAL_COMPLETE */
	const char *snapshot_hash;
	const char *error_file; /* the snapshot's ErrorFile text */
	int64_t bytes_total, bytes_done, items_total, items_done, actual_bytes;
	int64_t now;
};

struct hbr_snapshot_committed {
	char snapshot_id[HBR_ID_MAX];
	char plan_id[HBR_ID_MAX]; /* "" for a job without a plan */
	bool existing; /* the job had committed already: its snapshot */
	int64_t stored_bytes; /* stored bytes it made referenced again */
};

/*
 * One transaction: a job already COMPLETE/PARTIAL_COMPLETE with a
 * SnapshotId answers that snapshot (existing, nothing changes);
 * otherwise the job must be RUNNING, every ref must have a chunk row
 * (HBR_ENOCHUNK naming the first few otherwise), each ref's count goes
 * up by one (a chunk going from 0 to 1 adds its stored bytes to its
 * pack's live_bytes), the snapshot row is inserted (fields from the
 * job), and the job becomes `status` with its SnapshotId. Retention is not
 * applied here (hbr_store_retention_apply opens its own transaction).
 */
int hbr_store_snapshot_commit(struct hbr_snapshot_committed *out,
                              struct hbr_store *s,
                              const struct hbr_snapshot_commit *c);

/*
 * Exclusive bytes (docs/RECLAMATION.md): a chunk is exclusive to its
 * owner, the client whose snapshot took it from 0 references to 1,
 * while every reference is the owner's (refs = owner_refs > 0). Writers
 * of the counts gather per-owner changes of a vault and apply them once
 * per owner in their transaction.
 */
struct hbr_owner_delta {
	char client_id[HBR_ID_MAX];
	int64_t bytes;
};
/* Append a change (merged into the last entry when it is the same
 * owner's). */
void hbr_owner_delta_add(struct hbr_owner_delta **d, size_t *n, size_t *cap,
                         const char *client_id, int64_t bytes);
/* Add each owner's total to client_bytes, in the caller's transaction;
 * sorts d. */
int hbr_store_owner_deltas_apply(struct hbr_store *s, const char *vault_id,
                                 struct hbr_owner_delta *d, size_t n);

/*
 * The number chunk_shares names a vault or client by (share_names): *out
 * is 0 when name has none yet, unless create, which gives it one (in the
 * caller's write transaction). A name keeps its number for good.
 */
int hbr_store_share_no(int64_t *out, struct hbr_store *s, const char *name,
                       bool create);
/* The name of share number no; HBR_ECORRUPT when it has none. */
int hbr_store_share_name(char out[HBR_ID_MAX], struct hbr_store *s, int64_t no);

#endif
