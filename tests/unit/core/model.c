/*
 * Initial resource documents: field names and JSON types as the HBR
 * response models have them (hbr-api.md §9), e.g. the SourceTypes.SourceType
 * and Paths.Path wrapper objects, client Settings.MaxCpuCore as a string,
 * and every time an integer.
 */
#include "common.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "core/model.h"

#define NOW 1700000000

/* Expected JSON type of a field: 's'tring, 'i'nteger, 'b'oolean,
 * 'o'bject, 'a'rray. */
struct field {
	const char *name;
	char type;
};

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "real";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	default:
		return "null";
	}
}

static bool has_type(const json_t *v, char type)
{
	switch (type) {
	case 's':
		return json_is_string(v);
	case 'i':
		return json_is_integer(v);
	case 'b':
		return json_is_boolean(v);
	case 'o':
		return json_is_object(v);
	case 'a':
		return json_is_array(v);
	default:
		return false;
	}
}

static void check_fields(const json_t *obj, const struct field *f, size_t n)
{
	assert_true(json_is_object(obj));
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(obj, f[i].name);
		if (!v)
			fail_msg("field %s is missing", f[i].name);
		if (!has_type(v, f[i].type))
			fail_msg("field %s is %s, want '%c'", f[i].name,
			         type_name(v), f[i].type);
	}
}

/* Every *Time field is a UNIX-seconds integer (RangeStart/End are ms). */
static void check_times(const json_t *obj, int64_t now)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v)
	{
		size_t len = strlen(key);
		if (len < 4 || strcmp(key + len - 4, "Time"))
			continue;
		if (!json_is_integer(v))
			fail_msg("%s is %s, not an integer", key, type_name(v));
		if (!strcmp(key, "CreatedTime") || !strcmp(key, "UpdatedTime"))
			assert_int_equal(json_integer_value(v), now);
	}
}

static const char *str(const json_t *obj, const char *name)
{
	const char *s = json_string_value(json_object_get(obj, name));

	if (!s)
		fail_msg("%s is not a string", name);
	return s;
}

/* obj.outer.inner, which must be an array (the wrapper-object pattern). */
static json_t *wrapped(const json_t *obj, const char *outer, const char *inner)
{
	json_t *w = json_object_get(obj, outer);
	json_t *arr = json_object_get(w, inner);

	if (!json_is_object(w))
		fail_msg("%s is not a wrapper object", outer);
	if (!json_is_array(arr))
		fail_msg("%s.%s is not an array", outer, inner);
	if (json_object_size(w) != 1)
		fail_msg("%s has more than its %s member", outer, inner);
	return arr;
}

static void test_vault(void **state)
{
	static const struct field f[] = {
		{ "VaultId", 's' },
		{ "VaultName", 's' },
		{ "VaultRegionId", 's' },
		{ "VaultType", 's' },
		{ "VaultStorageClass", 's' },
		{ "Status", 's' },
		{ "Description", 's' },
		{ "CreatedTime", 'i' },
		{ "UpdatedTime", 'i' },
		{ "EncryptType", 's' },
		{ "RedundancyType", 's' },
		{ "Dedup", 'b' },
		{ "CompressionAlgorithm", 's' },
		{ "ChargeType", 's' },
		{ "IndexAvailable", 'b' },
		{ "IndexLevel", 's' },
		{ "Replication", 'b' },
		{ "SearchEnabled", 'b' },
		{ "WormEnabled", 'b' },
		{ "Retention", 'i' },
		{ "StorageSize", 'i' },
		{ "BytesDone", 'i' },
		{ "SnapshotCount", 'i' },
		{ "SourceTypes", 'o' },
		{ "Tags", 'o' },
		{ "BackupPlanStatistics", 'o' },
	};
	json_t *v = hbr_model_vault("v-1", "my vault", "cn-hangzhou", NOW);
	json_t *types;

	(void)state;
	check_fields(v, f, HBR_ARRAY_SIZE(f));
	check_times(v, NOW);
	assert_string_equal(str(v, "VaultId"), "v-1");
	assert_string_equal(str(v, "VaultName"), "my vault");
	assert_string_equal(str(v, "VaultRegionId"), "cn-hangzhou");
	assert_string_equal(str(v, "VaultType"), "STANDARD");
	assert_string_equal(str(v, "Status"), "CREATED");
	types = wrapped(v, "SourceTypes", "SourceType");
	assert_int_equal(json_array_size(types), 1);
	assert_string_equal(json_string_value(json_array_get(types, 0)),
	                    "ECS_FILE");
	assert_int_equal(json_array_size(wrapped(v, "Tags", "Tag")), 0);
	assert_true(json_is_integer(json_object_get(
	        json_object_get(v, "BackupPlanStatistics"), "EcsFile")));
	assert_int_equal(json_integer_value(json_object_get(v, "StorageSize")),
	                 0);
	json_decref(v);
}

static void test_client(void **state)
{
	static const struct field f[] = {
		{ "ClientId", 's' },      { "InstanceId", 's' },
		{ "ClientType", 's' },    { "Status", 's' },
		{ "BackupStatus", 's' },  { "CreatedTime", 'i' },
		{ "UpdatedTime", 'i' },   { "LastHeartBeatTime", 'i' },
		{ "ClientVersion", 's' }, { "MaxClientVersion", 's' },
		{ "Hostname", 's' },      { "InstanceName", 's' },
		{ "OsType", 's' },        { "ArchType", 's' },
		{ "PrivateIpV4", 's' },   { "ZoneId", 's' },
		{ "Appliance", 'b' },     { "Settings", 'o' },
		{ "Tags", 'a' }, /* Clients[].Tags is a bare array */
	};
	/* Settings.MaxCpuCore, MaxWorker and UseHttps are strings in the
	 * response even though the request takes numbers/booleans. */
	static const struct field settings[] = {
		{ "AlertOnPartialComplete", 'b' },
		{ "DataNetworkType", 's' },
		{ "DataProxySetting", 's' },
		{ "MaxCpuCore", 's' },
		{ "MaxMemory", 'i' },
		{ "MaxWorker", 's' },
		{ "ProxyHost", 's' },
		{ "ProxyPassword", 's' },
		{ "ProxyPort", 'i' },
		{ "ProxyUser", 's' },
		{ "UseHttps", 's' },
	};
	json_t *c = hbr_model_client("c-1", "i-1", "ACTIVATED", NOW);
	json_t *s;

	(void)state;
	check_fields(c, f, HBR_ARRAY_SIZE(f));
	check_times(c, NOW);
	assert_string_equal(str(c, "ClientId"), "c-1");
	assert_string_equal(str(c, "InstanceId"), "i-1");
	assert_string_equal(str(c, "Status"), "ACTIVATED");
	assert_string_equal(str(c, "ClientType"), "ECS_CLIENT");
	assert_string_equal(str(c, "BackupStatus"), "UNPROTECTED");
	assert_string_equal(str(c, "MaxClientVersion"), HBR_SERVER_VERSION);
	assert_int_equal(
	        json_integer_value(json_object_get(c, "LastHeartBeatTime")), 0);
	s = json_object_get(c, "Settings");
	check_fields(s, settings, HBR_ARRAY_SIZE(settings));
	assert_string_equal(str(s, "MaxCpuCore"), "0");
	assert_string_equal(str(s, "MaxWorker"), "0");
	assert_string_equal(str(s, "UseHttps"), "false");
	assert_string_equal(str(s, "DataProxySetting"), "USE_CONTROL_PROXY");
	assert_int_equal(json_array_size(json_object_get(c, "Tags")), 0);
	json_decref(c);
}

static void test_plan(void **state)
{
	static const struct field f[] = {
		{ "PlanId", 's' },
		{ "PlanName", 's' },
		{ "SourceType", 's' },
		{ "VaultId", 's' },
		{ "InstanceId", 's' },
		{ "ClientId", 's' },
		{ "Schedule", 's' },
		{ "Retention", 'i' },
		{ "KeepLatestSnapshots", 'i' },
		{ "Disabled", 'b' },
		{ "BackupType", 's' },
		{ "Paths", 'o' },
		{ "Include", 's' },
		{ "Exclude", 's' },
		{ "Options", 's' },
		{ "SpeedLimit", 's' },
		{ "CreatedTime", 'i' },
		{ "UpdatedTime", 'i' },
		{ "LatestExecuteJobId", 's' },
	};
	json_t *p = hbr_model_plan("plan-1", "c-1", "i-1", "v-1", NOW);

	(void)state;
	check_fields(p, f, HBR_ARRAY_SIZE(f));
	check_times(p, NOW);
	assert_string_equal(str(p, "PlanId"), "plan-1");
	assert_string_equal(str(p, "ClientId"), "c-1");
	assert_string_equal(str(p, "InstanceId"), "i-1");
	assert_string_equal(str(p, "VaultId"), "v-1");
	assert_string_equal(str(p, "SourceType"), "ECS_FILE");
	assert_string_equal(str(p, "BackupType"), "COMPLETE");
	assert_false(json_is_true(json_object_get(p, "Disabled")));
	assert_int_equal(json_array_size(wrapped(p, "Paths", "Path")), 0);
	json_decref(p);
}

static const struct field job_fields[] = {
	{ "JobId", 's' },       { "JobName", 's' },     { "SourceType", 's' },
	{ "BackupType", 's' },  { "Status", 's' },      { "VaultId", 's' },
	{ "InstanceId", 's' },  { "ClientId", 's' },    { "Progress", 'i' },
	{ "BytesTotal", 'i' },  { "BytesDone", 'i' },   { "ActualBytes", 'i' },
	{ "ItemsTotal", 'i' },  { "ItemsDone", 'i' },   { "ActualItems", 'i' },
	{ "FilesTotal", 'i' },  { "FilesDone", 'i' },   { "ActualFiles", 'i' },
	{ "Speed", 'i' },       { "CreatedTime", 'i' }, { "UpdatedTime", 'i' },
	{ "StartTime", 'i' },   { "Include", 's' },     { "Exclude", 's' },
	{ "Options", 's' },     { "SpeedLimit", 's' },  { "ErrorMessage", 's' },
	{ "TriggerMode", 's' }, { "Paths", 'o' },
};

static void test_job(void **state)
{
	json_t *j = hbr_model_job("job-1", "c-1", "i-1", "v-1", "plan-1", NOW);

	(void)state;
	check_fields(j, job_fields, HBR_ARRAY_SIZE(job_fields));
	check_times(j, NOW);
	assert_string_equal(str(j, "JobId"), "job-1");
	assert_string_equal(str(j, "PlanId"), "plan-1");
	assert_string_equal(str(j, "Status"), "QUEUED");
	assert_int_equal(json_integer_value(json_object_get(j, "Progress")), 0);
	assert_int_equal(json_array_size(wrapped(j, "Paths", "Path")), 0);
	json_decref(j);
}

static void test_job_without_plan_has_null_plan_id(void **state)
{
	json_t *j = hbr_model_job("job-2", "c-1", "i-1", "v-1", NULL, NOW);

	(void)state;
	check_fields(j, job_fields, HBR_ARRAY_SIZE(job_fields));
	assert_non_null(json_object_get(j, "PlanId"));
	assert_true(json_is_null(json_object_get(j, "PlanId")));
	json_decref(j);
}

static void test_snapshot(void **state)
{
	static const struct field f[] = {
		{ "SnapshotId", 's' },
		{ "SnapshotHash", 's' },
		{ "ParentSnapshotHash", 's' },
		{ "ClientId", 's' },
		{ "InstanceId", 's' },
		{ "VaultId", 's' },
		{ "PlanId", 's' },
		{ "JobId", 's' },
		{ "SourceType", 's' },
		{ "BackupType", 's' },
		{ "Status", 's' },
		{ "CreatedTime", 'i' },
		{ "UpdatedTime", 'i' },
		{ "StartTime", 'i' },
		{ "CompleteTime", 'i' },
		{ "RangeStart", 'i' },
		{ "RangeEnd", 'i' },
		{ "BytesTotal", 'i' },
		{ "BytesDone", 'i' },
		{ "ActualBytes", 'i' },
		{ "ItemsTotal", 'i' },
		{ "ItemsDone", 'i' },
		{ "ActualItems", 'i' },
		{ "Retention", 'i' },
		{ "Path", 's' },
		{ "Paths", 'o' },
		{ "Include", 's' },
		{ "Exclude", 's' },
		{ "StorageClass", 's' },
		{ "ErrorFile", 's' },
	};
	json_t *s = hbr_model_snapshot("s-1", "c-1", "i-1", "v-1", "plan-1",
	                               "job-1", NOW);
	json_t *bare;

	(void)state;
	check_fields(s, f, HBR_ARRAY_SIZE(f));
	check_times(s, NOW);
	assert_string_equal(str(s, "SnapshotId"), "s-1");
	assert_string_equal(str(s, "PlanId"), "plan-1");
	assert_string_equal(str(s, "JobId"), "job-1");
	assert_string_equal(str(s, "Status"), "COMPLETE");
	/* RangeStart/RangeEnd are milliseconds */
	assert_int_equal(json_integer_value(json_object_get(s, "RangeStart")),
	                 (int64_t)NOW * 1000);
	assert_int_equal(json_integer_value(json_object_get(s, "RangeEnd")),
	                 (int64_t)NOW * 1000);
	assert_int_equal(json_integer_value(json_object_get(s, "CompleteTime")),
	                 NOW);
	assert_int_equal(json_array_size(wrapped(s, "Paths", "Path")), 0);
	json_decref(s);

	/* no plan or job: empty strings, not nulls */
	bare = hbr_model_snapshot("s-2", "c-1", "i-1", "v-1", NULL, NULL, NOW);
	assert_string_equal(str(bare, "PlanId"), "");
	assert_string_equal(str(bare, "JobId"), "");
	json_decref(bare);
}

static void test_objects_are_independent(void **state)
{
	json_t *a = hbr_model_plan("plan-a", "c-1", "i-1", "v-1", NOW);
	json_t *b = hbr_model_plan("plan-b", "c-1", "i-1", "v-1", NOW);

	(void)state;
	/* filling one plan's Paths must not show up in another's */
	json_array_append_new(wrapped(a, "Paths", "Path"), json_string("/x"));
	assert_int_equal(json_array_size(wrapped(a, "Paths", "Path")), 1);
	assert_int_equal(json_array_size(wrapped(b, "Paths", "Path")), 0);
	assert_int_equal(a->refcount, 1);
	json_decref(a);
	json_decref(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vault),
		cmocka_unit_test(test_client),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_job),
		cmocka_unit_test(test_job_without_plan_has_null_plan_id),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_objects_are_independent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
