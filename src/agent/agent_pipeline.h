/*
 * The backup pipeline's shared parts, private to agent_backup.c (the job,
 * the walk, the tree) and agent_worker.c (reading, chunking, staging,
 * packing): the constants, the state both sides touch, and the calls
 * between them. Nothing outside src/agent includes it.
 */
#ifndef HBR_AGENT_PIPELINE_H
#define HBR_AGENT_PIPELINE_H

#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <unistd.h>
#include <sys/stat.h>
#include "agent/agent_backup.h"
#include "agent/agent_fp.h"
#include "agent/agent_index.h"
#include "agent/agent_glob.h"
#include "agent/agent_parent.h"
#include "agent/agent_throttle.h"
#include "agent/agent_upload.h"
#include "agent/agent_walk.h"
#include "core/pack.h"
#include "core/tree.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/random.h"
#include "util/timeutil.h"

#define WINDOW    4096u /* entries between the walker and the tree */
#define READ_SIZE (1u << 20)
/* A worker reads into one of two stage buffers, where the chunks stay
 * until CheckAgentChunks has answered for them: no copy. */
#define STAGE_BUF   (6u << 20)
#define CHECK_MAX   4096u /* ids per CheckAgentChunks (<= 8192) */
#define PACK_CHUNKS 16384u /* chunks per pack (<= 65536) */
#define TREE_FLUSH  (1u << 20)
#define MAX_EXTENTS 65536u /* more: read the file as if dense */
/* Two uploads in flight keep both of hbrd's HTTP threads busy (one
 * leaves it idle while it writes; three measured no faster). Under a
 * SpeedLimit one is enough. */
#define UPLOADERS    2
#define UPLOAD_QUEUE 1
#define MIN_PACK     (256u << 10)

enum slot_state { SLOT_FREE, SLOT_WORK, SLOT_READY, SLOT_SKIP };

struct slot {
	struct hbr_agent_entry e;
	atomic_int state;
	/* A changed big file's chunks in the parent, which the worker
	 * tries first (agent_fp.h); pn == 0: none. */
	struct hbr_agent_chunkref *pc;
	size_t pn, pcap;
};

/*
 * A worker's walk along the parent's chunks of the file it reads. While
 * aligned, the open chunk starts where parent chunk pi started (at file
 * offset foff, maybe shifted by an insertion) and is tried by its
 * fingerprint before any scanning; otherwise the chunker runs and each
 * chunk it cuts may land on a parent boundary again (by offset, or by
 * id after an insertion).
 */
struct fp_cursor {
	bool record; /* this file's chunks get fingerprints */
	const struct hbr_agent_chunkref *pc;
	size_t pn, pi;
	bool aligned;
	uint64_t foff; /* file offset of the worker's open chunk */
	uint64_t fsize;
	uint64_t *poff; /* parent chunk i begins at poff[i] */
	size_t poff_cap;
	uint32_t *map; /* open addressing: parent chunk index + 1 by id */
	size_t map_cap;
};

struct hl_entry {
	uint64_t dev, ino;
	char *path; /* NULL: free */
};

struct backup;

/* A chunk waiting for CheckAgentChunks: its bytes are in its stage. */
struct staged {
	uint8_t id[HBR_CHUNK_ID_LEN];
	uint32_t len;
	size_t off;
};

/* A read buffer and the new chunks in it, which one CheckAgentChunks
 * asks about. */
struct stage {
	uint8_t *buf; /* STAGE_BUF bytes */
	struct staged *c;
	size_t n, cap;
};

/*
 * A worker's packer: a thread with its own connection that takes a full
 * stage, asks the server which of its chunks it lacks, compresses those
 * into its pack and queues full packs for upload, while the worker reads
 * and hashes into its other stage. The round trip and the compression so
 * overlap the reading instead of stalling it.
 */
struct packer {
	struct backup *b;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct stage *req; /* being packed; NULL: idle */
	bool done, quit;
	int error;
	struct hbr_agent_async check; /* CheckAgentChunks */
	bool *keep; /* keep[i] when the server lacks chunk i */
	size_t cap_keep;
	struct hbr_buf list; /* ChunkIds */
	struct hbr_agent_pack *pk; /* the pack being filled */
};

struct worker {
	struct backup *b;
	pthread_t thread;
	bool running;
	struct hbr_chunker ch;
	/* In stages[cur].buf: the open chunk, the next byte to scan, the
	 * end of the data read. */
	size_t start, scan, end;
	struct stage stages[2];
	int cur; /* the stage being filled */
	bool pending; /* the other one is with the packer */
	struct packer pp;
	struct fp_cursor fc;
	struct hbr_agent_fp_list fps; /* fingerprints of the chunks read */
};

struct backup {
	struct hbr_agent_job *job;
	struct hbr_agent_conn conn;
	struct hbr_agent_filter filter;
	char **roots;
	size_t n_roots;
	struct hbr_agent_speed speed;
	size_t pack_target;
	const char *parent_id; /* NULL: a full backup */

	pthread_mutex_t known_lock;
	struct hbr_idset known; /* in the vault or on its way there */

	struct hbr_agent_parent *parent;

	/* Fingerprints (agent_fp.h): off without a key. The parent's
	 * table is read-only once the walk starts. */
	bool fp_on;
	struct hbr_agent_fp_key fp_key;
	struct hbr_agent_fp_table fp_parent;
	struct hbr_agent_fp_list *fp_lists; /* the walker's, then workers' */
	size_t n_fp_lists;
	atomic_uint_fast64_t fp_matched, fp_matched_bytes;

	pthread_mutex_t lock; /* the work queue and slot hand-over */
	pthread_cond_t work_cv, done_cv;
	struct slot *slots; /* WINDOW of them; seq % WINDOW */
	uint64_t head, tail; /* next to write to the tree; next to fill */
	uint64_t *work; /* ring of seqs for the workers */
	size_t work_head, work_n;
	bool work_closed;

	struct worker *workers;
	int n_workers;
	struct hbr_agent_uploader *up;

	char tree_path[HBR_AGENT_FILE_MAX];
	int tree_fd;
	struct hbr_buf tree_out;
	struct hbr_agent_index_writer index; /* the next backup's parent */

	struct hl_entry *hl;
	size_t hl_cap, hl_n;

	pthread_t scanner;
	bool scanning;

	/* The walk's own counts: the totals the commit reports. */
	uint64_t files, reused, bytes, items;
	/* The share (percent) of the chunks checked last that the server
	 * had: packers compress before checking while it is low. */
	atomic_int present_pct;
	bool inline_pack; /* workers pack their own stages (MaxCpuCore 1) */
	/* Where the walker spends its time (ns, for the debug log). */
	uint64_t ns_walk, ns_find, ns_encode;
	/* Where the workers wait (ns, for the debug log). */
	atomic_uint_fast64_t ns_check, ns_check_wait, ns_put, ns_wait_work;
	atomic_uint_fast64_t n_checks, ns_check_rpc;
};

static inline bool stopped(const struct backup *b)
{
	return hbr_agent_job_stopped(b->job);
}

static inline int64_t ns(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* agent_worker.c: a worker thread reads, chunks and hashes the files the
 * walk queues, stages new chunks and hands full stages to its packer. */
int hbr_agent_worker_feed(struct worker *wk, struct hbr_agent_entry *e, int fd,
                          uint64_t limit, uint64_t *got);
int hbr_agent_worker_feed_end(struct worker *wk, struct hbr_agent_entry *e);
int hbr_agent_worker_flush(struct worker *wk);
int hbr_agent_worker_init(struct worker *wk, struct backup *b);
void hbr_agent_worker_release(struct worker *wk);
void *hbr_agent_worker_main(void *arg);

#endif
