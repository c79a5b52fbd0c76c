/* HBR_E* → (HTTP status, Alibaba Code). Nothing else maps errors. */
#include "common.h"
#include "api/api_error.h"
#include "util/error.h"

static const struct {
	int error;
	int status;
	const char *code;
} table[] = {
	{ HBR_ERROR, 500, "InternalError" },
	{ HBR_EINVAL, 400, "InvalidParameter" },
	{ HBR_EMISSING, 400, "MissingParameter" },
	{ HBR_ENOTFOUND, 404, "ResourceNotFound" },
	{ HBR_ENOCLIENT, 404, "ClientNotExist" },
	{ HBR_ENOVAULT, 404, "VaultNotExist" },
	{ HBR_ENOPLAN, 404, "BackupPlanNotExist" },
	{ HBR_ENOJOB, 404, "JobNotExist" },
	{ HBR_ENOTASK, 404, "TaskNotFound" },
	{ HBR_ENOSNAPSHOT, 404, "SnapshotNotExist" },
	{ HBR_EDENIED, 403, "Forbidden.RAM" },
	{ HBR_ESIGNATURE, 400, "SignatureDoesNotMatch" },
	{ HBR_ESIGINCOMPLETE, 400, "IncompleteSignature" },
	{ HBR_EKEYNOTFOUND, 404, "InvalidAccessKeyId.NotFound" },
	{ HBR_EKEYINACTIVE, 400, "InvalidAccessKeyId.Inactive" },
	{ HBR_ETSEXPIRED, 400, "InvalidTimeStamp.Expired" },
	{ HBR_ETSFORMAT, 400, "InvalidTimeStamp.Format" },
	{ HBR_ENONCEUSED, 400, "SignatureNonceUsed" },
	{ HBR_EVERSION, 400, "InvalidVersion" },
	{ HBR_EACTION, 404, "InvalidAction.NotFound" },
	{ HBR_ETOOBIG, 413, "RequestEntityTooLarge" },
	{ HBR_ECONFLICT, 409, "OperationConflict" },
	{ HBR_EEXISTS, 409, "ResourceAlreadyExists" },
	{ HBR_EIO, 500, "InternalError" },
	{ HBR_EUNAVAIL, 503, "ServiceUnavailable" },
	{ HBR_EMETHOD, 400, "UnsupportedHTTPMethod" },
	{ HBR_ECORRUPT, 500, "InternalError" },
	{ HBR_ESIGMETHOD, 400, "InvalidSignatureMethod" },
	{ HBR_ENORESTORE, 404, "RestoreJobNotExist" },
	{ HBR_ENOCHUNK, 404, "ChunkNotExist" },
};

int hbr_api_error_code(char *out, size_t size, int error, const char *param)
{
	for (size_t i = 0; i < HBR_ARRAY_SIZE(table); i++) {
		if (table[i].error != error)
			continue;
		/* Alibaba names parameter errors after the parameter:
		 * MissingClientIds, InvalidPageSize. */
		if (param && param[0] &&
		    (error == HBR_EMISSING || error == HBR_EINVAL))
			(void)snprintf(out, size, "%s%s",
			               error == HBR_EMISSING ? "Missing" :
			                                       "Invalid",
			               param);
		else
			(void)snprintf(out, size, "%s", table[i].code);
		return table[i].status;
	}
	(void)snprintf(out, size, "InternalError");
	return 500;
}
