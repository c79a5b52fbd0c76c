/*
 * The agent's side of the HBR RPC protocol: one POST / per call, its
 * parameters in a form body, signed ACS3-HMAC-SHA256 with the agent's
 * (or, to register, the operator's) access key, as hbrd verifies it
 * (docs/API.md, hbr-api.md §3.4).
 */
#ifndef HBR_AGENT_RPC_H
#define HBR_AGENT_RPC_H

#include <jansson.h>
#include "common.h"
#include "util/kvlist.h"

#define HBR_AGENT_ENDPOINT_MAX 512
#define HBR_AGENT_KEY_MAX      128

struct hbr_agent_key {
	char endpoint[HBR_AGENT_ENDPOINT_MAX]; /* "http://host:port" */
	char access_key_id[HBR_AGENT_KEY_MAX];
	char secret[HBR_AGENT_KEY_MAX];
};

/* Process-wide libcurl setup; call once before any thread starts. */
int hbr_agent_rpc_global_init(void);
void hbr_agent_rpc_global_cleanup(void);

/*
 * Call `action` with params. On success *out is the answer (caller
 * owns). HBR_EIO when the server cannot be reached or answers what is
 * not JSON; HBR_ERROR when it answers an error: the message is
 * "<Code>: <Message>" and *code_out (if not NULL, at least 128 bytes)
 * holds the Code.
 */
int hbr_agent_rpc_call(json_t **out, char *code_out,
                       const struct hbr_agent_key *key, const char *action,
                       const struct hbr_kvlist *params);

/* The canonical request's parts, exposed for unit tests: the
 * Authorization header value for a request with these signed headers
 * (lower-case names, sorted) and body. */
int hbr_agent_rpc_authorization(char **out, const struct hbr_agent_key *key,
                                const struct hbr_kvlist *headers,
                                const char *signed_headers);

#endif
