/*
 * Typed access to request parameters, with HBR's list encodings and the
 * errors the API promises: Missing<Param> when a required one is absent,
 * Invalid<Param> with a message naming the bad value otherwise.
 */
#ifndef HBR_API_PARAMS_H
#define HBR_API_PARAMS_H

#include "common.h"
#include "store/store_resource.h"
#include "util/kvlist.h"

struct hbr_strlist {
	char **items; /* owned */
	size_t n;
	bool present; /* the parameter was sent at all */
};

#define HBR_STRLIST_INIT       \
	{                      \
		NULL, 0, false \
	}
void hbr_strlist_release(struct hbr_strlist *l);

/* A string parameter: *out is NULL (absent) or borrowed from params.
 * Length is checked against [min_len, max_len] when present. */
int hbr_param_str(const char **out, const struct hbr_kvlist *params,
                  const char *name, bool required, size_t min_len,
                  size_t max_len);
/* An integer in [min, max]; *out = def when absent. */
int hbr_param_int(int64_t *out, const struct hbr_kvlist *params,
                  const char *name, bool required, int64_t min, int64_t max,
                  int64_t def);
/* "true"/"false" (any case); *out = def when absent. */
int hbr_param_bool(bool *out, const struct hbr_kvlist *params, const char *name,
                   bool def);
/* One of the allowed values (exact); *out = def when absent. */
int hbr_param_enum(const char **out, const struct hbr_kvlist *params,
                   const char *name, const char *const *allowed, size_t n,
                   const char *def);

/*
 * A list of strings sent as one JSON array text (`["a","b"]`), as
 * flattened Name.1, Name.2, ..., or as a comma-separated list. Every
 * entry must be a non-empty string of at most max_len bytes; at most
 * max_items entries. Duplicates are kept (callers decide).
 */
int hbr_param_list(struct hbr_strlist *out, const struct hbr_kvlist *params,
                   const char *name, size_t max_items, size_t max_len);

/* A parameter holding a JSON array of non-empty strings (Include,
 * Exclude): validated, *out borrowed; NULL when absent. */
int hbr_param_json_strings(const char **out, const struct hbr_kvlist *params,
                           const char *name, size_t max_len);

/* PageNumber (>= 1, default 1) and PageSize (1..99, default 10). */
int hbr_param_paging(int64_t *page_number, int64_t *page_size,
                     const struct hbr_kvlist *params);

/* Filters.N.Key / Filters.N.Values.M / Filters.N.Operator, into
 * conditions on store fields. key_map maps request keys (as clients send
 * them; matched case-insensitively) to store fields; a key not in it is
 * an InvalidFilters error. */
struct hbr_filter_key {
	const char *key;
	const char *field;
};

struct hbr_filters {
	struct hbr_cond *conds;
	size_t n;
	struct hbr_strlist *values; /* backing store for conds[i].values */
};

int hbr_param_filters(struct hbr_filters *out, const struct hbr_kvlist *params,
                      const struct hbr_filter_key *key_map, size_t nkeys);
void hbr_filters_release(struct hbr_filters *f);
/* HBR_EINVAL when a filter on `field` uses IN or NOT_IN (HBR refuses
 * CompleteTime with IN). */
int hbr_filters_forbid_in(const struct hbr_filters *f, const char *field);

#endif
