/*
 * A backup job, from walk to commit (docs/AGENT-PROTOCOL.md, "The
 * agent"). The pipeline:
 *
 *   walker (job thread) --files--> N workers --stages--> N packers
 *        ^                                                  |
 *        | entries, in walk order: the tree file         packs
 *        +------------------------------------------ 2 uploaders
 *
 * The walker lists and stats in walk order, matches each file against
 * the parent tree (unchanged: its chunks are reused unread) and hands
 * the rest to the workers through a window of entries. A worker takes
 * whole files: it reads into one of two stage buffers, chunks, hashes and
 * skips chunks the job already has (one id set per job: sent by another
 * worker, or named by the parent). Its packer compresses the new chunks
 * of a full stage into a pack while the worker fills the other stage;
 * CheckAgentChunks decides which chunks are sent (before compression, or
 * in the background before the upload: agent_upload.h). The walker writes
 * each entry to the tree as soon as it and all before it are done, so the
 * tree comes out in walk order while files finish in any order. Memory is
 * bounded by the window, the stages, one pack per packer and the upload
 * queue.
 */
#ifndef HBR_AGENT_BACKUP_H
#define HBR_AGENT_BACKUP_H

#include "common.h"
#include "agent/agent_job.h"

/* The zstd level of the agent's chunks: measured on the peers data set
 * (docs/AGENT-PROTOCOL.md), level 1 compresses text 1.5x faster than
 * level 3 for 9 % more bytes. */
#define HBR_AGENT_ZSTD_LEVEL 1

/*
 * Run the backup job (StartAgentJob already answered: job->start),
 * progress reports included. 0 when a snapshot was committed (COMPLETE
 * or PARTIAL_COMPLETE); otherwise the job was stopped and
 * hbr_agent_job_why() says why: a failed job has been reported with
 * FinishAgentJob FAILED; a cancelled one is left alone, and so is an
 * interrupted one (SIGTERM: the next start resumes it).
 */
int hbr_agent_backup_run(struct hbr_agent_job *job);

#endif
