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

#endif
