/* hbrd ram VERB: accounts, users, keys and policies, printed as JSON. */
#include "common.h"
#include <jansson.h>
#include <libgen.h>
#include "auth/policy.h"
#include "cmd/hbrd.h"
#include "store/store_account.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/fsutil.h"

#define POLICY_MAX (64 * 1024)

static int print_json(json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);

	printf("%s\n", text);
	free(text); /* jansson's allocation */
	json_decref(j);
	return 0;
}

static int need(const struct hbrd_options *o, int n, const char *usage)
{
	if (o->nargs == n)
		return 0;
	fprintf(stderr, "usage: hbrd ram %s\n", usage);
	return 2;
}

/* The account the verb works on: --account, else the first one. */
static int account_of(char out[HBR_ID_MAX], struct hbr_store *s,
                      const struct hbrd_options *o)
{
	out[0] = '\0';
	if (o->account[0]) {
		if (hbr_store_account_exists(s, o->account) < 0)
			return -1;
		if ((size_t)snprintf(out, HBR_ID_MAX, "%s", o->account) >=
		    HBR_ID_MAX)
			return hbr_error_set(HBR_EINVAL, "bad account id");
		return 0;
	}
	if (hbr_store_account_first(out, s) == HBR_ENOTFOUND) {
		hbr_error_set(HBR_ENOTFOUND,
		              "no account in %s yet; run 'hbrd init --data-dir"
		              " %s' (or start hbrd) first",
		              o->data_dir, o->data_dir);
		return -1;
	}
	return out[0] ? 0 : -1;
}

/* --name, else FILE's base name without ".json". */
static const char *policy_name(char *buf, size_t size, const char *file,
                               const struct hbrd_options *o)
{
	char *copy, *base, *dot;

	if (o->name[0])
		return o->name;
	copy = hbr_strdup(file);
	base = basename(copy);
	(void)snprintf(buf, size, "%s", base);
	hbr_free(copy);
	if ((dot = strrchr(buf, '.')) && !strcmp(dot, ".json"))
		*dot = '\0';
	return buf;
}

static int attach(struct hbr_store *s, const char *account,
                  const struct hbrd_options *o)
{
	struct hbr_policy *p = NULL;
	char namebuf[256], *doc = NULL;
	const char *name;
	size_t len;
	int rc = 1;

	if (o->nargs != 2) {
		fprintf(stderr, "usage: hbrd ram attach-policy USER FILE"
		                " [--name NAME]\n");
		return 2;
	}
	name = policy_name(namebuf, sizeof(namebuf), o->args[1], o);
	if (hbr_fs_read(&doc, &len, o->args[1], POLICY_MAX) < 0 ||
	    hbr_policy_parse(&p, doc, len) < 0) {
		hbrd_fail("policy");
		goto out;
	}
	if (hbr_store_policy_attach(s, account, o->args[0], name, doc) < 0) {
		hbrd_fail("attach-policy");
		goto out;
	}
	rc = print_json(json_pack("{s:s, s:s}", "UserName", o->args[0],
	                          "PolicyName", name));
out:
	hbr_policy_free(p);
	hbr_free(doc);
	return rc;
}

int hbrd_cmd_ram(const struct hbrd_options *o, const char *verb)
{
	struct hbr_store *s = NULL;
	struct hbr_key_info key;
	char account[HBR_ID_MAX], uid[HBR_ID_MAX], *text = NULL;
	int rc = 1, error = 0;

	static const char *const verbs[] = {
		"create-account",     "create-user",       "create-access-key",
		"attach-policy",      "detach-policy",     "list-users",
		"disable-access-key", "enable-access-key", "delete-access-key",
	};
	bool known = false;

	for (size_t i = 0; i < HBR_ARRAY_SIZE(verbs); i++)
		known |= !strcmp(verb, verbs[i]);
	if (!known) {
		fprintf(stderr,
		        "hbrd: unknown ram verb '%s' (see hbrd"
		        " --help)\n",
		        verb);
		return 2;
	}
	if (hbrd_open_store(&s, o) < 0)
		return 1;
	if (!strcmp(verb, "create-account")) {
		if ((rc = need(o, 1, "create-account NAME")))
			goto out;
		rc = 1;
		if ((error = hbr_store_account_create(&key, s, o->args[0])) ==
		    0)
			rc = print_json(json_pack(
			        "{s:s, s:s, s:s}", "AccountId", key.account_id,
			        "AccessKeyId", key.access_key_id,
			        "AccessKeySecret", key.secret));
		goto done;
	}
	if (account_of(account, s, o) < 0) {
		hbrd_fail("account");
		goto out;
	}
	if (!strcmp(verb, "create-user")) {
		if ((rc = need(o, 1, "create-user NAME")))
			goto out;
		rc = 1;
		if ((error = hbr_store_user_create(uid, s, account,
		                                   o->args[0])) == 0)
			rc = print_json(json_pack("{s:s, s:s}", "UserName",
			                          o->args[0], "UserId", uid));
	} else if (!strcmp(verb, "create-access-key")) {
		if ((rc = need(o, 1, "create-access-key USER")))
			goto out;
		rc = 1;
		if ((error = hbr_store_key_create(&key, s, account,
		                                  o->args[0])) == 0)
			rc = print_json(json_pack(
			        "{s:s, s:s}", "AccessKeyId", key.access_key_id,
			        "AccessKeySecret", key.secret));
	} else if (!strcmp(verb, "attach-policy")) {
		rc = attach(s, account, o);
		goto out;
	} else if (!strcmp(verb, "detach-policy")) {
		if ((rc = need(o, 2, "detach-policy USER NAME")))
			goto out;
		rc = 1;
		if ((error = hbr_store_policy_detach(s, account, o->args[0],
		                                     o->args[1])) == 0)
			rc = print_json(json_pack("{s:s, s:s}", "UserName",
			                          o->args[0], "PolicyName",
			                          o->args[1]));
	} else if (!strcmp(verb, "list-users")) {
		if ((rc = need(o, 0, "list-users")))
			goto out;
		rc = 1;
		if ((error = hbr_store_user_list(&text, s, account)) == 0) {
			printf("{\"Users\":%s}\n", text);
			rc = 0;
		}
	} else if (!strcmp(verb, "disable-access-key") ||
	           !strcmp(verb, "enable-access-key")) {
		if ((rc = need(o, 1,
		               "disable-access-key|enable-access-key ID")))
			goto out;
		rc = 1;
		if ((error = hbr_store_key_set_active(s, account, o->args[0],
		                                      verb[0] == 'e')) == 0)
			rc = print_json(json_pack("{s:s, s:s}", "AccessKeyId",
			                          o->args[0], "Status",
			                          verb[0] == 'e' ? "Active" :
			                                           "Inactive"));
	} else if (!strcmp(verb, "delete-access-key")) {
		if ((rc = need(o, 1, "delete-access-key ID")))
			goto out;
		rc = 1;
		if ((error = hbr_store_key_delete(s, account, o->args[0])) == 0)
			rc = print_json(json_pack("{s:s, s:b}", "AccessKeyId",
			                          o->args[0], "Deleted", 1));
	} else {
		fprintf(stderr,
		        "hbrd: unknown ram verb '%s' (see hbrd"
		        " --help)\n",
		        verb);
		rc = 2;
		goto out;
	}
done:
	if (error < 0)
		hbrd_fail(verb);
out:
	hbr_free(text);
	hbr_store_close(s);
	return rc;
}
