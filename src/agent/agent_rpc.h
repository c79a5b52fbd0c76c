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
#include "util/buf.h"
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
 * Call `action` with params, on a connection used for this call only.
 * On success *out is the answer (caller owns). Errors as for
 * hbr_agent_conn_call; *code_out (if not NULL, at least 128 bytes) holds
 * the Code of an error answer.
 */
int hbr_agent_rpc_call(json_t **out, char *code_out,
                       const struct hbr_agent_key *key, const char *action,
                       const struct hbr_kvlist *params);

/*
 * A persistent connection: one libcurl easy handle kept by one thread for
 * all of its calls, so keep-alive reuses the TCP connection (a backup
 * makes thousands of calls). Not shared between threads.
 */
#define HBR_AGENT_CODE_MAX 128

struct hbr_agent_conn {
	const struct hbr_agent_key *key; /* borrowed; outlives the conn */
	void *curl; /* CURL *, owned */
	char host[HBR_AGENT_ENDPOINT_MAX];
	char url[HBR_AGENT_ENDPOINT_MAX + 2]; /* endpoint + "/" */
	long status; /* HTTP status of the last answer (0: none) */
	char code[HBR_AGENT_CODE_MAX]; /* Code of the last error answer */
	/* Uploads and fetches: checked while the transfer runs; non-zero
	 * aborts it (a cancelled job must not wait out a throttled pack). */
	int (*abort_cb)(void *payload);
	void *abort_payload;
};

int hbr_agent_conn_init(struct hbr_agent_conn *c,
                        const struct hbr_agent_key *key);
void hbr_agent_conn_release(struct hbr_agent_conn *c);

/*
 * Call `action` with params in a form body. On success *out is the
 * answer (caller owns). Errors (c->status and c->code say more):
 *   HBR_EIO        the server cannot be reached, the transfer failed or
 *                  the answer is not JSON (worth a retry)
 *   HBR_EUNAVAIL   the server answered 5xx (worth a retry)
 *   HBR_ECONFLICT  409: the job is no longer RUNNING (cancelled, ...)
 *   HBR_ENOJOB     JobNotExist: the job is gone or not ours
 *   HBR_ENOTFOUND  ChunkNotExist
 *   HBR_ERROR      any other error answer: "<Code>: <Message> (HTTP n)"
 */
int hbr_agent_conn_call(json_t **out, struct hbr_agent_conn *c,
                        const char *action, const struct hbr_kvlist *params);

/*
 * POST a binary body (application/octet-stream), head then tail, with
 * the parameters in the query. x-acs-content-sha256 is the SHA-256 of the
 * head only (a pack's header, docs/AGENT-PROTOCOL.md). The two parts are
 * sent as they lie (a pack's data is never copied into one buffer).
 * max_send_speed (bytes/s, 0 = unlimited) throttles the transfer. Errors
 * as for hbr_agent_conn_call.
 */
int hbr_agent_conn_upload(json_t **out, struct hbr_agent_conn *c,
                          const char *action, const struct hbr_kvlist *query,
                          const void *head, size_t head_len, const void *tail,
                          size_t tail_len, uint64_t max_send_speed);

/*
 * Call `action` (form body) whose successful answer is binary: it is
 * appended to out, at most max bytes (HBR_ETOOBIG past it). An error
 * answer is JSON and gives the errors of hbr_agent_conn_call.
 */
int hbr_agent_conn_fetch(struct hbr_buf *out, struct hbr_agent_conn *c,
                         const char *action, const struct hbr_kvlist *params,
                         size_t max);

/* The canonical request's parts, exposed for unit tests: the
 * Authorization header value for a request with these signed headers
 * (lower-case names, sorted) and body. */
int hbr_agent_rpc_authorization(char **out, const struct hbr_agent_key *key,
                                const struct hbr_kvlist *headers,
                                const char *signed_headers);

#endif
