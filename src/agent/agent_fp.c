/* Chunk fingerprints (agent_fp.h). */
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <xxhash.h>
#include "agent/agent_fp.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/random.h"

/*
 * A table file: magic, the key's tag, the record count (little-endian
 * 64-bit), the records sorted by id, then XXH3-64 of everything before
 * it, so that a file torn by a crash is told from a good one.
 */
static const char magic[8] = { 'H', 'B', 'R', 'F', 'P', '0', '0', '1' };
#define HEAD_LEN 24u
#define TAIL_LEN 8u

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int hbr_agent_fp_key_open(struct hbr_agent_fp_key *k, const char *state_dir)
{
	char path[4096];
	char *data = NULL;
	size_t len = 0;
	int error;

	(void)snprintf(path, sizeof(path), "%s/fp.key", state_dir);
	error = hbr_fs_read(&data, &len, path, HBR_AGENT_FP_KEY_LEN);
	if (error == 0 && len == HBR_AGENT_FP_KEY_LEN) {
		memcpy(k->secret, data, HBR_AGENT_FP_KEY_LEN);
	} else if (error == HBR_ENOTFOUND || error == 0) {
		/* Missing or short: a new key, which only makes the tables
		 * written with the old one unusable. */
		hbr_random_bytes(k->secret, HBR_AGENT_FP_KEY_LEN);
		error = hbr_fs_write_atomic(path, k->secret,
		                            HBR_AGENT_FP_KEY_LEN, 0600);
	}
	hbr_free(data);
	if (error < 0)
		return error;
	k->tag = XXH3_64bits(k->secret, HBR_AGENT_FP_KEY_LEN);
	return 0;
}

void hbr_agent_fp_of(uint8_t out[HBR_AGENT_FP_LEN],
                     const struct hbr_agent_fp_key *k, const void *data,
                     size_t len)
{
	XXH128_hash_t h = XXH3_128bits_withSecret(data, len, k->secret,
	                                          HBR_AGENT_FP_KEY_LEN);

	put64(out, h.low64);
	put64(out + 8, h.high64);
}

void hbr_agent_fp_path(char *out, size_t size, const char *state_dir,
                       const char *snapshot_id)
{
	(void)snprintf(out, size, "%s/trees/%s.fp", state_dir, snapshot_id);
}

static int rec_cmp(const void *a, const void *b)
{
	return memcmp(a, b, HBR_CHUNK_ID_LEN);
}

int hbr_agent_fp_table_load(struct hbr_agent_fp_table *t, const char *path,
                            const struct hbr_agent_fp_key *k)
{
	uint8_t *data = NULL;
	struct stat st;
	size_t len, got = 0, n;
	int fd, error = 0;

	t->r = NULL;
	t->n = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hbr_error_set_os(errno == ENOENT ? HBR_ENOTFOUND :
		                                          HBR_EIO,
		                        "open '%s'", path);
	if (fstat(fd, &st) < 0) {
		error = hbr_error_set_os(HBR_EIO, "stat '%s'", path);
		goto out;
	}
	len = (size_t)st.st_size;
	if (st.st_size < HEAD_LEN + TAIL_LEN ||
	    (uint64_t)st.st_size > HBR_AGENT_FP_FILE_MAX ||
	    (len - HEAD_LEN - TAIL_LEN) % sizeof(struct hbr_agent_fp_rec)) {
		error = hbr_error_set(HBR_ECORRUPT, "'%s' has a bad size",
		                      path);
		goto out;
	}
	data = hbr_malloc(len);
	while (got < len) {
		ssize_t r = read(fd, data + got, len - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			error = hbr_error_set_os(HBR_EIO, "read '%s'", path);
			goto out;
		}
		got += (size_t)r;
	}
	n = (len - HEAD_LEN - TAIL_LEN) / sizeof(struct hbr_agent_fp_rec);
	if (memcmp(data, magic, sizeof(magic)) || get64(data + 8) != k->tag ||
	    get64(data + 16) != n ||
	    get64(data + len - TAIL_LEN) != XXH3_64bits(data, len - TAIL_LEN)) {
		error = hbr_error_set(HBR_ECORRUPT,
		                      "'%s' is torn or from another key", path);
		goto out;
	}
	/* Records are moved to the front of the same allocation. */
	memmove(data, data + HEAD_LEN, n * sizeof(struct hbr_agent_fp_rec));
	for (size_t i = 1; i < n; i++) {
		if (rec_cmp(data + (i - 1) * sizeof(struct hbr_agent_fp_rec),
		            data + i * sizeof(struct hbr_agent_fp_rec)) >= 0) {
			error = hbr_error_set(HBR_ECORRUPT,
			                      "'%s' is not sorted", path);
			goto out;
		}
	}
	t->r = (struct hbr_agent_fp_rec *)data;
	t->n = n;
	data = NULL;
out:
	hbr_free(data);
	close(fd);
	return error;
}

void hbr_agent_fp_table_free(struct hbr_agent_fp_table *t)
{
	hbr_free(t->r);
	t->r = NULL;
	t->n = 0;
}

const uint8_t *hbr_agent_fp_table_find(const struct hbr_agent_fp_table *t,
                                       const uint8_t id[HBR_CHUNK_ID_LEN])
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(t->r[mid].id, id, HBR_CHUNK_ID_LEN);

		if (!c)
			return t->r[mid].fp;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void hbr_agent_fp_list_add(struct hbr_agent_fp_list *l,
                           const uint8_t id[HBR_CHUNK_ID_LEN],
                           const uint8_t fp[HBR_AGENT_FP_LEN])
{
	hbr_grow((void **)&l->r, &l->cap, l->n + 1, sizeof(*l->r));
	memcpy(l->r[l->n].id, id, HBR_CHUNK_ID_LEN);
	memcpy(l->r[l->n].fp, fp, HBR_AGENT_FP_LEN);
	l->n++;
}

void hbr_agent_fp_list_release(struct hbr_agent_fp_list *l)
{
	hbr_free(l->r);
	l->r = NULL;
	l->n = l->cap = 0;
}

int hbr_agent_fp_write(const char *path, struct hbr_agent_fp_list *lists,
                       size_t n_lists, const struct hbr_agent_fp_key *k)
{
	struct hbr_agent_fp_rec *all;
	size_t total = 0, n = 0, len;
	uint8_t *data;
	int error;

	for (size_t i = 0; i < n_lists; i++)
		total += lists[i].n;
	len = HEAD_LEN + total * sizeof(*all) + TAIL_LEN;
	if (len > HBR_AGENT_FP_FILE_MAX)
		return hbr_error_set(HBR_ETOOBIG, "too many fingerprints");
	data = hbr_malloc(len);
	all = (struct hbr_agent_fp_rec *)(data + HEAD_LEN);
	for (size_t i = 0; i < n_lists; i++) {
		if (lists[i].n)
			memcpy(all + n, lists[i].r, lists[i].n * sizeof(*all));
		n += lists[i].n;
		hbr_agent_fp_list_release(&lists[i]);
	}
	qsort(all, n, sizeof(*all), rec_cmp);
	total = 0;
	for (size_t i = 0; i < n; i++)
		if (!total || rec_cmp(&all[total - 1], &all[i]))
			all[total++] = all[i];
	len = HEAD_LEN + total * sizeof(*all) + TAIL_LEN;
	memcpy(data, magic, sizeof(magic));
	put64(data + 8, k->tag);
	put64(data + 16, total);
	put64(data + len - TAIL_LEN, XXH3_64bits(data, len - TAIL_LEN));
	error = hbr_fs_write_atomic(path, data, len, 0600);
	hbr_free(data);
	return error;
}
