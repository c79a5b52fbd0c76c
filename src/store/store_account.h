/*
 * Accounts (tenants), RAM users, access keys, attached policies and the
 * audit table. Secrets are stored as given: the server needs them to
 * recompute HMACs, exactly as Alibaba's gateway does.
 */
#ifndef HBR_STORE_ACCOUNT_H
#define HBR_STORE_ACCOUNT_H

#include "common.h"
#include "core/id.h"
#include "store/store.h"

#define HBR_KEY_ID_MAX     64
#define HBR_KEY_SECRET_MAX 64

struct hbr_key_info {
	char access_key_id[HBR_KEY_ID_MAX];
	char secret[HBR_KEY_SECRET_MAX];
	char account_id[HBR_ID_MAX];
	char user_id[HBR_ID_MAX]; /* "" for an account root key */
	char user_name[128];
	char client_id[HBR_ID_MAX]; /* an agent key's client; "" otherwise */
	bool active;
};

/* New account with a root key. HBR_EEXISTS when the name is taken. */
int hbr_store_account_create(struct hbr_key_info *out, struct hbr_store *s,
                             const char *name);
/* The oldest account; HBR_ENOTFOUND when there is none. */
int hbr_store_account_first(char out[HBR_ID_MAX], struct hbr_store *s);
int hbr_store_account_exists(struct hbr_store *s, const char *account_id);
/* The account's oldest active root key. */
int hbr_store_account_root_key(struct hbr_key_info *out, struct hbr_store *s,
                               const char *account_id);

/* HBR_EKEYNOTFOUND when the key does not exist. */
int hbr_store_key_get(struct hbr_key_info *out, struct hbr_store *s,
                      const char *access_key_id);
/* A new key for user_name in the account. HBR_ENOTFOUND: no such user. */
int hbr_store_key_create(struct hbr_key_info *out, struct hbr_store *s,
                         const char *account_id, const char *user_name);
/*
 * Agent keys. Inside the caller's transaction: delete every key bound to
 * client_id in the account, then create a new one bound to it, so a
 * client has at most one credential and re-registering revokes the old.
 */
int hbr_store_key_create_for_client(struct hbr_key_info *out,
                                    struct hbr_store *s, const char *account_id,
                                    const char *client_id);
/* Inside the caller's transaction: delete the client's keys. */
int hbr_store_client_keys_delete(struct hbr_store *s, const char *account_id,
                                 const char *client_id);
/* HBR_EKEYNOTFOUND when the key is not in the account. */
int hbr_store_key_set_active(struct hbr_store *s, const char *account_id,
                             const char *access_key_id, bool active);
int hbr_store_key_delete(struct hbr_store *s, const char *account_id,
                         const char *access_key_id);

/* HBR_EEXISTS when the name is taken in the account. */
int hbr_store_user_create(char user_id_out[HBR_ID_MAX], struct hbr_store *s,
                          const char *account_id, const char *name);
/* The account's users as a JSON array text (caller frees). */
int hbr_store_user_list(char **json_out, struct hbr_store *s,
                        const char *account_id);
/* Attach (or replace) policy `name` on the user. HBR_ENOTFOUND: no user. */
int hbr_store_policy_attach(struct hbr_store *s, const char *account_id,
                            const char *user_name, const char *name,
                            const char *document);
/* HBR_ENOTFOUND when the user or the attachment does not exist. */
int hbr_store_policy_detach(struct hbr_store *s, const char *account_id,
                            const char *user_name, const char *name);

typedef int hbr_store_policy_cb(const char *name, const char *document,
                                void *payload);
/* Call cb for each policy attached to user_id; a negative return stops
 * the walk and is returned. */
int hbr_store_policy_foreach(struct hbr_store *s, const char *user_id,
                             hbr_store_policy_cb *cb, void *payload);

struct hbr_audit_entry {
	int64_t time;
	const char *request_id;
	const char *account_id;
	const char *principal;
	const char *access_key_id;
	const char *source_ip;
	const char *action;
	const char *client_ids; /* JSON array text or NULL */
	const char *code;
	int64_t plans_deleted;
	int64_t jobs_deleted;
	int64_t snapshots_deleted;
};

int hbr_store_audit_insert(struct hbr_store *s,
                           const struct hbr_audit_entry *e);

#endif
