/* Who is calling (signature + replay check) and may they (RAM). */
#ifndef HBR_API_AUTH_H
#define HBR_API_AUTH_H

#include "api/api.h"

/* Verify the request's signature and nonce and fill call->who.
 * Errors: the signature family (HBR_ESIG*, HBR_ETS*, HBR_EKEY*,
 * HBR_ENONCEUSED). */
int hbr_api_authenticate(struct hbr_api_call *call,
                         const struct hbr_http_request *req,
                         const struct hbr_kvlist *form);

/* Evaluate call->who's policies for "hbr:<action>". An agent key (bound
 * to a client) may call only the agent actions, and only agent keys may
 * call them; neither is subject to RAM policies. On HBR_EDENIED,
 * *detail_out is the AccessDeniedDetail object (caller owns). */
int hbr_api_authorize(json_t **detail_out, struct hbr_api_call *call,
                      bool secure);

#endif
