/*
 * Who is calling: the account (tenant) and, for a RAM user, the user.
 * Filled by authentication, read by authorization, the API and the audit
 * log. Plain data, copied by value.
 */
#ifndef HBR_CORE_PRINCIPAL_H
#define HBR_CORE_PRINCIPAL_H

#include "common.h"
#include "core/id.h"

struct hbr_principal {
	char account_id[HBR_ID_MAX];
	char user_id[HBR_ID_MAX]; /* "" for the account's root key */
	char user_name[128]; /* "" for root */
	char access_key_id[64];
	/* An agent key's backup client: it may act only for that client
	 * and only through the agent actions. "" for operators. */
	char client_id[HBR_ID_MAX];
	bool is_root;
};

#endif
