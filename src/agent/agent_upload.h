/*
 * The backup's upload stage: finished packs wait in a bounded queue (the
 * memory bound: a worker that gets ahead blocks) and 1-2 threads, each
 * with its own persistent connection, send them with UploadAgentPack.
 * SpeedLimit is applied here, per pack. Pack buffers are recycled so the
 * steady state allocates nothing.
 */
#ifndef HBR_AGENT_UPLOAD_H
#define HBR_AGENT_UPLOAD_H

#include "common.h"
#include "agent/agent_job.h"
#include "agent/agent_throttle.h"
#include "util/buf.h"

struct hbr_agent_uploader;

struct hbr_agent_pack {
	struct hbr_buf body; /* the whole pack */
	size_t header_len; /* what the signature covers */
	uint32_t count;
};

/* threads uploaders, a queue of queue_cap packs. speed is copied. */
int hbr_agent_uploader_start(struct hbr_agent_uploader **out,
                             struct hbr_agent_job *job, int threads,
                             size_t queue_cap,
                             const struct hbr_agent_speed *speed);
/* An empty pack to fill (recycled when one is free). */
struct hbr_agent_pack *hbr_agent_uploader_pack(struct hbr_agent_uploader *u);
/* Queue p (the uploader owns it from now on); blocks while the queue is
 * full. HBR_ECONFLICT when the job has stopped (p is dropped). */
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
