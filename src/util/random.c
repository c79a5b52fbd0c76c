/* Kernel CSPRNG access, UUIDs and random strings without modulo bias. */
#include "common.h"
#include <errno.h>
#include <sys/random.h>
#include "util/random.h"

static void fill(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "hbr: getrandom failed\n");
			abort();
		}
		p += n;
		len -= (size_t)n;
	}
}

/* Small requests (a request id, a nonce) are served from a per-thread
 * pool refilled 256 bytes at a time: one getrandom() per ~16 ids instead
 * of one per id. The bytes are the kernel CSPRNG's, used once. */
void hbr_random_bytes(void *buf, size_t len)
{
	static _Thread_local unsigned char pool[256];
	static _Thread_local size_t left;
	unsigned char *p = buf;

	if (len > sizeof(pool) / 4) {
		fill(buf, len);
		return;
	}
	if (left < len) {
		fill(pool, sizeof(pool));
		left = sizeof(pool);
	}
	memcpy(p, pool + sizeof(pool) - left, len);
	/* Forget what was handed out. */
	memset(pool + sizeof(pool) - left, 0, len);
	left -= len;
}

void hbr_random_uuid(char out[37])
{
	unsigned char b[16];

	hbr_random_bytes(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	(void)snprintf(out, 37,
	               "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-"
	               "%02X%02X%02X%02X%02X%02X",
	               b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8],
	               b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

void hbr_random_string(char *out, size_t n, const char *alphabet)
{
	size_t k = strlen(alphabet);
	unsigned limit = 256 - (256 % (unsigned)k);
	unsigned char pool[64];
	size_t have = 0, used = 0;

	HBR_ASSERT(k > 0 && k <= 256);
	for (size_t i = 0; i < n;) {
		if (used == have) {
			hbr_random_bytes(pool, sizeof(pool));
			have = sizeof(pool);
			used = 0;
		}
		unsigned v = pool[used++];
		if (v >= limit)
			continue;
		out[i++] = alphabet[v % k];
	}
	out[n] = '\0';
}
