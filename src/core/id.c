/* Random resource ids and their validation. */
#include "common.h"
#include "core/id.h"
#include "util/random.h"

static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";

void hbr_id_new(char out[HBR_ID_MAX], const char *prefix)
{
	size_t p = strlen(prefix);

	HBR_ASSERT(p + HBR_ID_RANDOM_LEN < HBR_ID_MAX);
	memcpy(out, prefix, p);
	hbr_random_string(out + p, HBR_ID_RANDOM_LEN, alphabet);
}

bool hbr_id_valid(const char *s, const char *prefix)
{
	size_t p = strlen(prefix);

	if (strncmp(s, prefix, p) != 0 || strlen(s) != p + HBR_ID_RANDOM_LEN)
		return false;
	for (const char *c = s + p; *c; c++)
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z')))
			return false;
	return true;
}
