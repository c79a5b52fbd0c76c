/*
 * HBR resources as the API shows them: constructors that return a new
 * JSON object with every field HBR clients read, set to its initial value
 * (hbr-api.md §9). Callers fill in the rest; the store keeps the object
 * as the resource's document.
 */
#ifndef HBR_CORE_MODEL_H
#define HBR_CORE_MODEL_H

#include <jansson.h>
#include "common.h"

#define HBR_SERVER_VERSION "0.1.0"

json_t *hbr_model_vault(const char *vault_id, const char *name,
                        const char *region, int64_t now);
json_t *hbr_model_client(const char *client_id, const char *instance_id,
                         const char *status, int64_t now);
json_t *hbr_model_plan(const char *plan_id, const char *client_id,
                       const char *instance_id, const char *vault_id,
                       int64_t now);
json_t *hbr_model_job(const char *job_id, const char *client_id,
                      const char *instance_id, const char *vault_id,
                      const char *plan_id, int64_t now);
/* The job a run of `plan` queues: it carries the plan's settings as they
 * are now, so a later UpdateBackupPlan does not change a job already
 * queued. trigger is "MANUAL" (ExecuteBackupPlan) or "AUTO" (schedule). */
json_t *hbr_model_job_for_plan(const char *job_id, const json_t *plan,
                               const char *trigger, int64_t now);
json_t *hbr_model_snapshot(const char *snapshot_id, const char *client_id,
                           const char *instance_id, const char *vault_id,
                           const char *plan_id, const char *job_id,
                           int64_t now);
json_t *hbr_model_restore_job(const char *restore_id, const char *restore_type,
                              const char *snapshot_id, const char *vault_id,
                              const char *target_instance_id, int64_t now);

#endif
