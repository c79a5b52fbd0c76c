/* What the agent's job and data actions share (api_agent_job.c,
 * api_agent_data.c). */
#ifndef HBR_API_AGENT_H
#define HBR_API_AGENT_H

#include "api/api.h"
#include "store/store_data.h"

/* JobId (required) and, when typed, JobType (BACKUP, the default, or
 * RESTORE) of the calling agent's client. Borrows from call. */
int hbr_api_job_ref(struct hbr_job_ref *out, struct hbr_api_call *call,
                    bool typed);

/* The optional counters an agent reports (Progress, BytesTotal, ...):
 * each one sent is set in *fields_out, a new object. */
int hbr_api_job_counters(json_t **fields_out, struct hbr_api_call *call);

/*
 * The stored bytes of a chunk whose row is *row, appended to out.
 * Reclamation may rewrite the pack between the read of the row and of
 * the object: the row then names the new pack, so a pack found missing
 * sends the reader to the row again (and *row is updated). A chunk
 * whose row is gone, or names the missing pack still, is damage
 * (HBR_ECORRUPT): the caller's snapshot references it.
 */
struct hbr_vault;
struct hbr_buf;
int hbr_api_read_stored(struct hbr_buf *out, struct hbr_store *store,
                        struct hbr_vault *v, const char *vault_id,
                        struct hbr_chunk_row *row, const uint8_t *id);

#endif
