/*
 * The backup's upload stage: finished packs wait in a bounded queue (the
 * memory bound: a worker that gets ahead blocks) and 1-2 threads, each
 * with its own persistent connection, send them with UploadAgentPack.
 * SpeedLimit is applied here, per pack. Pack buffers are recycled so the
 * steady state allocates nothing.
 *
 * A pack may hold chunks not yet checked (compressed while nobody knew
 * whether the server has them): queueing it starts CheckAgentChunks for
 * them in the background, and the uploader drops the ones the server has
 * before sending. The round trip so overlaps the previous upload instead
 * of stalling anyone.
 */
#ifndef HBR_AGENT_UPLOAD_H
#define HBR_AGENT_UPLOAD_H

#include "common.h"
#include "agent/agent_job.h"
#include "agent/agent_throttle.h"
#include "core/pack.h"
#include "util/buf.h"

struct hbr_agent_uploader;

/* A pack travels as its writer: the uploader sends the writer's header
 * and data as they lie, so packs are never copied into a body. */
struct hbr_agent_pack {
	struct hbr_pack_writer w;
	struct hbr_buf head; /* magic, count and entry table, to send */
	/* unchecked[i]: entry i has not been checked with the server. */
	bool *unchecked;
	size_t cap_unchecked;
	uint32_t n_unchecked;
	struct hbr_agent_async *check; /* made on first use */
	bool check_pending;
	struct hbr_buf list; /* its ChunkIds */
};

/* Add a chunk to p (compressed at level); checked says whether the
 * server is known to lack it. */
int hbr_agent_pack_add(struct hbr_agent_pack *p,
                       const uint8_t id[HBR_CHUNK_ID_LEN], const void *raw,
                       size_t raw_len, int level, bool checked);

/* threads uploaders, a queue of queue_cap packs. speed is copied. The
 * share (percent) of checked chunks the server had is stored in
 * *present_pct after each check of a pack. */
int hbr_agent_uploader_start(struct hbr_agent_uploader **out,
                             struct hbr_agent_job *job, int threads,
                             size_t queue_cap,
                             const struct hbr_agent_speed *speed,
                             atomic_int *present_pct);
/* An empty pack to fill (recycled when one is free); NULL when a zstd
 * context cannot be made. */
struct hbr_agent_pack *hbr_agent_uploader_pack(struct hbr_agent_uploader *u);
/* Give back a pack that will not be sent. */
void hbr_agent_uploader_recycle(struct hbr_agent_uploader *u,
                                struct hbr_agent_pack *p);
/* Queue p, which holds at least one chunk (the uploader owns it from
 * now on), starting the check of its unchecked chunks; blocks while the
 * queue is full. HBR_ECONFLICT when the job has stopped (p is dropped). */
int hbr_agent_uploader_put(struct hbr_agent_uploader *u,
                           struct hbr_agent_pack *p);
/* No more packs: wait for the queue to drain and the threads to end.
 * 0 when every pack was stored; otherwise the job has been stopped. */
int hbr_agent_uploader_finish(struct hbr_agent_uploader *u);
void hbr_agent_uploader_free(struct hbr_agent_uploader *u);

/* Totals for the log. */
void hbr_agent_uploader_stats(const struct hbr_agent_uploader *u,
                              uint64_t *packs, uint64_t *bytes,
                              uint64_t *new_chunks);

#endif
