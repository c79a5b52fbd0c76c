/* Statements over lists of chunk ids (store_idlist.h). */
#include "common.h"
#include "store/store_idlist.h"

static const size_t sizes[HBR_IDLIST_KINDS] = { 8, 64, HBR_IDLIST_MAX };

size_t hbr_idlist_kind(size_t n)
{
	size_t i = 0;

	HBR_ASSERT(n >= 1 && n <= HBR_IDLIST_MAX);
	while (sizes[i] < n)
		i++;
	return i;
}

size_t hbr_idlist_size(size_t kind)
{
	return sizes[kind];
}

void hbr_idlist_sql(char *out, size_t size, const char *head, size_t kind,
                    const char *tail)
{
	char *p = out, *end = out + size;

	p += snprintf(p, (size_t)(end - p), "%s AND chunk_id IN (?", head);
	for (size_t k = 1; k < sizes[kind] && p < end; k++)
		p += snprintf(p, (size_t)(end - p), ", ?");
	if (p < end)
		p += snprintf(p, (size_t)(end - p), ")%s", tail);
	HBR_ASSERT(p < end);
}

int hbr_idlist_bind(struct hbr_store *s, struct hbr_stmt *st, int idx,
                    const uint8_t *ids, size_t stride, size_t n, size_t kind)
{
	int rc = 0;

	for (size_t k = 0; k < sizes[kind] && rc == 0; k++)
		rc = s->ops->bind_blob(st, idx++,
		                       ids + (k < n ? k : n - 1) * stride,
		                       HBR_CHUNK_ID_LEN);
	return rc;
}
