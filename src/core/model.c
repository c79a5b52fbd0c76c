/* Initial JSON shape of each HBR resource. */
#include "common.h"
#include "core/model.h"

static json_t *wrapped(const char *member, json_t *arr)
{
	return json_pack("{s:o}", member, arr);
}

json_t *hbr_model_vault(const char *vault_id, const char *name,
                        const char *region, int64_t now)
{
	return json_pack(
	        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s,"
	        " s:b, s:s, s:s, s:b, s:s, s:b, s:b, s:b, s:I, s:I, s:I,"
	        " s:I, s:o, s:o, s:o}",
	        "VaultId", vault_id, "VaultName", name, "VaultRegionId", region,
	        "VaultType", "STANDARD", "VaultStorageClass", "STANDARD",
	        "Status", "CREATED", "Description", "", "CreatedTime",
	        (json_int_t)now, "UpdatedTime", (json_int_t)now, "EncryptType",
	        "NONE", "RedundancyType", "LRS", "Dedup", 1,
	        "CompressionAlgorithm", "ZSTD", "ChargeType", "FREE",
	        "IndexAvailable", 0, "IndexLevel", "OFF", "Replication", 0,
	        "SearchEnabled", 0, "WormEnabled", 0, "Retention",
	        (json_int_t)0, "StorageSize", (json_int_t)0, "BytesDone",
	        (json_int_t)0, "SnapshotCount", (json_int_t)0, "SourceTypes",
	        wrapped("SourceType", json_pack("[s]", "ECS_FILE")), "Tags",
	        wrapped("Tag", json_array()), "BackupPlanStatistics",
	        json_pack("{s:i}", "EcsFile", 0));
}

json_t *hbr_model_client(const char *client_id, const char *instance_id,
                         const char *status, int64_t now)
{
	json_t *settings = json_pack(
	        "{s:b, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:i, s:s, s:s}",
	        "AlertOnPartialComplete", 0, "DataNetworkType", "VPC",
	        "DataProxySetting", "USE_CONTROL_PROXY", "MaxCpuCore", "0",
	        "MaxMemory", (json_int_t)0, "MaxWorker", "0", "ProxyHost", "",
	        "ProxyPassword", "", "ProxyPort", 0, "ProxyUser", "",
	        "UseHttps", "false");

	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s,"
	                 " s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:o, s:o}",
	                 "ClientId", client_id, "InstanceId", instance_id,
	                 "ClientType", "ECS_CLIENT", "Status", status,
	                 "BackupStatus", "UNPROTECTED", "CreatedTime",
	                 (json_int_t)now, "UpdatedTime", (json_int_t)now,
	                 "LastHeartBeatTime", (json_int_t)0, "ClientVersion",
	                 "", "MaxClientVersion", HBR_SERVER_VERSION, "Hostname",
	                 "", "InstanceName", "", "OsType", "", "ArchType", "",
	                 "PrivateIpV4", "", "ZoneId", "", "Appliance", 0,
	                 "Settings", settings, "Tags", json_array());
}

json_t *hbr_model_plan(const char *plan_id, const char *client_id,
                       const char *instance_id, const char *vault_id,
                       int64_t now)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:b,"
	                 " s:s, s:o, s:s, s:s, s:s, s:s, s:I, s:I, s:s}",
	                 "PlanId", plan_id, "PlanName", "", "SourceType",
	                 "ECS_FILE", "VaultId", vault_id, "InstanceId",
	                 instance_id, "ClientId", client_id, "Schedule", "",
	                 "Retention", (json_int_t)0, "KeepLatestSnapshots",
	                 (json_int_t)0, "Disabled", 0, "BackupType", "COMPLETE",
	                 "Paths", wrapped("Path", json_array()), "Include", "",
	                 "Exclude", "", "Options", "", "SpeedLimit", "",
	                 "CreatedTime", (json_int_t)now, "UpdatedTime",
	                 (json_int_t)now, "LatestExecuteJobId", "");
}

json_t *hbr_model_job(const char *job_id, const char *client_id,
                      const char *instance_id, const char *vault_id,
                      const char *plan_id, int64_t now)
{
	json_t *j = json_pack(
	        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I,"
	        " s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
	        " s:s, s:s, s:s, s:s, s:s, s:s, s:o}",
	        "JobId", job_id, "JobName", "", "SourceType", "ECS_FILE",
	        "BackupType", "COMPLETE", "Status", "QUEUED", "VaultId",
	        vault_id, "InstanceId", instance_id, "ClientId", client_id,
	        "Progress", (json_int_t)0, "BytesTotal", (json_int_t)0,
	        "BytesDone", (json_int_t)0, "ActualBytes", (json_int_t)0,
	        "ItemsTotal", (json_int_t)0, "ItemsDone", (json_int_t)0,
	        "ActualItems", (json_int_t)0, "FilesTotal", (json_int_t)0,
	        "FilesDone", (json_int_t)0, "ActualFiles", (json_int_t)0,
	        "Speed", (json_int_t)0, "CreatedTime", (json_int_t)now,
	        "UpdatedTime", (json_int_t)now, "StartTime", (json_int_t)0,
	        "Include", "", "Exclude", "", "Options", "", "SpeedLimit", "",
	        "ErrorMessage", "", "TriggerMode", "MANUAL", "Paths",
	        wrapped("Path", json_array()));

	json_object_set_new(j, "PlanId",
	                    plan_id ? json_string(plan_id) : json_null());
	return j;
}

json_t *hbr_model_job_for_plan(const char *job_id, const json_t *plan,
                               const char *trigger, int64_t now)
{
	static const char *const copy[] = { "SourceType", "BackupType",
		                            "Include",    "Exclude",
		                            "Options",    "SpeedLimit",
		                            "Retention",  "Paths" };
	json_t *job = hbr_model_job(
	        job_id, json_string_value(json_object_get(plan, "ClientId")),
	        json_string_value(json_object_get(plan, "InstanceId")),
	        json_string_value(json_object_get(plan, "VaultId")),
	        json_string_value(json_object_get(plan, "PlanId")), now);

	for (size_t i = 0; i < HBR_ARRAY_SIZE(copy); i++) {
		json_t *v = json_object_get(plan, copy[i]);
		if (v)
			json_object_set(job, copy[i], v);
	}
	json_object_set_new(job, "JobName",
	                    json_string(json_string_value(
	                            json_object_get(plan, "PlanName"))));
	json_object_set_new(job, "TriggerMode", json_string(trigger));
	return job;
}

json_t *hbr_model_snapshot(const char *snapshot_id, const char *client_id,
                           const char *instance_id, const char *vault_id,
                           const char *plan_id, const char *job_id, int64_t now)
{
	return json_pack(
	        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
	        " s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
	        " s:I, s:I, s:s, s:o, s:s, s:s, s:s, s:s}",
	        "SnapshotId", snapshot_id, "SnapshotHash", "",
	        "ParentSnapshotHash", "", "ClientId", client_id, "InstanceId",
	        instance_id, "VaultId", vault_id, "PlanId",
	        plan_id ? plan_id : "", "JobId", job_id ? job_id : "",
	        "SourceType", "ECS_FILE", "BackupType", "COMPLETE", "Status",
	        "COMPLETE", "CreatedTime", (json_int_t)now, "UpdatedTime",
	        (json_int_t)now, "StartTime", (json_int_t)now, "CompleteTime",
	        (json_int_t)now, "RangeStart", (json_int_t)now * 1000,
	        "RangeEnd", (json_int_t)now * 1000, "BytesTotal", (json_int_t)0,
	        "BytesDone", (json_int_t)0, "ActualBytes", (json_int_t)0,
	        "ItemsTotal", (json_int_t)0, "ItemsDone", (json_int_t)0,
	        "ActualItems", (json_int_t)0, "Retention", (json_int_t)0,
	        "Path", "", "Paths", wrapped("Path", json_array()), "Include",
	        "", "Exclude", "", "StorageClass", "STANDARD", "ErrorFile", "");
}

json_t *hbr_model_restore_job(const char *restore_id, const char *restore_type,
                              const char *snapshot_id, const char *vault_id,
                              const char *target_instance_id, int64_t now)
{
	return json_pack(
	        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
	        " s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I,"
	        " s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	        "RestoreId", restore_id, "RestoreType", restore_type,
	        "SourceType", "ECS_FILE", "Status", "QUEUED", "SnapshotId",
	        snapshot_id, "SnapshotHash", "", "VaultId", vault_id,
	        "SourceClientId", "", "SourceInstanceId", "",
	        "TargetInstanceId", target_instance_id, "TargetClientId", "",
	        "TargetPath", "", "Include", "", "Exclude", "", "Options", "",
	        "ErrorMessage", "", "ErrorFile", "", "StorageClass", "STANDARD",
	        "CreatedTime", (json_int_t)now, "UpdatedTime", (json_int_t)now,
	        "StartTime", (json_int_t)0, "CompleteTime", (json_int_t)0,
	        "ExpireTime", (json_int_t)0, "Progress", (json_int_t)0,
	        "BytesTotal", (json_int_t)0, "BytesDone", (json_int_t)0,
	        "ActualBytes", (json_int_t)0, "ItemsTotal", (json_int_t)0,
	        "ItemsDone", (json_int_t)0, "ActualItems", (json_int_t)0,
	        "Speed", (json_int_t)0);
}
