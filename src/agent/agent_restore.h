/*
 * A restore job: fetch the snapshot's tree, then its chunks in batches
 * (FetchAgentChunks, at most 1024 ids and 32 MiB per call, every chunk's
 * hash verified), and rebuild each entry under TargetPath (empty: the
 * original paths). A file is written to a temporary name in its
 * directory and renamed into place once complete, its metadata set
 * first; sparse files get their holes back; directories get their
 * metadata last, deepest first, so writing into them does not disturb
 * their times.
 */
#ifndef HBR_AGENT_RESTORE_H
#define HBR_AGENT_RESTORE_H

#include "common.h"
#include "agent/agent_job.h"

/*
 * Where a chunk source gives the raw bytes of chunks: the server
 * (FetchAgentChunks) or, in tests, memory. fetch gets n ids and must
 * produce a pack holding exactly those chunks, in that order, in out.
 */
struct hbr_agent_chunk_source {
	int (*fetch)(struct hbr_buf *out, const uint8_t (*ids)[32], size_t n,
	             void *payload);
	void *payload;
};

/*
 * Restore from the tree file at tree_path into target (NULL or "" for the
 * original paths), with the job's Include/Exclude (JSON strings, may be
 * NULL). Counters and error files go to job. 0: every entry handled
 * (some may have failed: job->n_errors); otherwise the job stopped.
 */
int hbr_agent_restore_tree(struct hbr_agent_job *job, const char *tree_path,
                           const char *target, const char *include,
                           const char *exclude,
                           const struct hbr_agent_chunk_source *src);

/* Run the restore job (StartAgentJob already answered: job->start),
 * FinishAgentJob included unless the job was cancelled or interrupted.
 * 0 when the restore was reported COMPLETE or PARTIAL_COMPLETE. */
int hbr_agent_restore_run(struct hbr_agent_job *job);

#endif
