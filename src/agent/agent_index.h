/*
 * The parent index: a binary copy of a committed tree's regular files,
 * what the next incremental backup matches each walked file against
 * (size, mtime, ctime, inode) and reuses (chunks, extents).
 *
 * Reading the JSON tree back costs about 8 us a file (the incremental
 * match was 0.14 s of the walk on the peers data set's 17,000 files, on
 * the critical path); these records decode by copying. The index stays
 * on the agent, next to the tree it copies: STATE/trees/<snapshot>.idx.
 * Each record carries its own checksum, so a torn or altered file only
 * ends the index early: files past that point have no parent entry and
 * are read again, exactly as without an index.
 */
#ifndef HBR_AGENT_INDEX_H
#define HBR_AGENT_INDEX_H

#include "common.h"
#include "agent/agent_entry.h"

/* STATE/trees/<snapshot-id>.idx into out (size >= 4096). */
void hbr_agent_index_path(char *out, size_t size, const char *state_dir,
                          const char *snapshot_id);

struct hbr_agent_index_writer {
	int fd; /* -1: off (nothing is written) */
	char path[4096]; /* the .part file */
	struct hbr_buf buf;
};

/* Start STATE/trees/<job-id>.idx.part. On failure the writer is off and
 * the backup goes on without an index. */
void hbr_agent_index_begin(struct hbr_agent_index_writer *w,
                           const char *state_dir, const char *job_id);
/* Add a regular file's entry (others are ignored), in tree order. */
void hbr_agent_index_add(struct hbr_agent_index_writer *w,
                         const struct hbr_agent_entry *e);
/* Keep it as the snapshot's index; 0 or an error (the index is then
 * dropped, which costs the next backup time, nothing else). */
int hbr_agent_index_finish(struct hbr_agent_index_writer *w,
                           const char *state_dir, const char *snapshot_id);
/* Drop the .part file (a backup that did not commit). */
void hbr_agent_index_abort(struct hbr_agent_index_writer *w);

struct hbr_agent_index_reader;

/* HBR_ENOTFOUND when the snapshot has no index. */
int hbr_agent_index_open(struct hbr_agent_index_reader **out, const char *path);
void hbr_agent_index_close(struct hbr_agent_index_reader *r);
/* The next record into e (cleared first): 1, or 0 at the end of the
 * index (or at the first record that fails its checksum). */
int hbr_agent_index_next(struct hbr_agent_index_reader *r,
                         struct hbr_agent_entry *e);
/* Records that failed their checksum (0 or 1: reading stops there). */
size_t hbr_agent_index_bad(const struct hbr_agent_index_reader *r);

#endif
