/* Request parameter parsing: scalars, lists in three encodings, filters. */
#include "common.h"
#include <errno.h>
#include <jansson.h>
#include <strings.h>
#include "api/api_params.h"
#include "util/alloc.h"
#include "util/error.h"

#define MAX_FLAT_INDEX 1000

void hbr_strlist_release(struct hbr_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		hbr_free(l->items[i]);
	hbr_free(l->items);
	l->items = NULL;
	l->n = 0;
	l->present = false;
}

static void strlist_add(struct hbr_strlist *l, const char *s, size_t len)
{
	l->items = hbr_realloc(l->items, (l->n + 1) * sizeof(*l->items));
	l->items[l->n++] = hbr_strndup(s, len);
}

int hbr_param_str(const char **out, const struct hbr_kvlist *params,
                  const char *name, bool required, size_t min_len,
                  size_t max_len)
{
	const char *v = hbr_kvlist_get(params, name);
	size_t len;

	if (!v) {
		if (required)
			return hbr_error_set_param(
			        HBR_EMISSING, name,
			        "%s is mandatory for this action.", name);
		*out = NULL;
		return 0;
	}
	len = strlen(v);
	if (len < min_len || len > max_len)
		return hbr_error_set_param(
		        HBR_EINVAL, name,
		        "%s must be %zu to %zu characters long, not %zu", name,
		        min_len, max_len, len);
	*out = v;
	return 0;
}

int hbr_param_int(int64_t *out, const struct hbr_kvlist *params,
                  const char *name, bool required, int64_t min, int64_t max,
                  int64_t def)
{
	const char *v = hbr_kvlist_get(params, name);
	char *end;
	long long n;

	if (!v) {
		if (required)
			return hbr_error_set_param(
			        HBR_EMISSING, name,
			        "%s is mandatory for this action.", name);
		*out = def;
		return 0;
	}
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || end == v || *end)
		return hbr_error_set_param(HBR_EINVAL, name,
		                           "%s must be an integer, not '%.64s'",
		                           name, v);
	if (n < min || n > max)
		return hbr_error_set_param(
		        HBR_EINVAL, name, "%s must be between %lld and %lld",
		        name, (long long)min, (long long)max);
	*out = n;
	return 0;
}

int hbr_param_bool(bool *out, const struct hbr_kvlist *params, const char *name,
                   bool def)
{
	const char *v = hbr_kvlist_get(params, name);

	if (!v) {
		*out = def;
		return 0;
	}
	if (!strcasecmp(v, "true")) {
		*out = true;
		return 0;
	}
	if (!strcasecmp(v, "false")) {
		*out = false;
		return 0;
	}
	return hbr_error_set_param(HBR_EINVAL, name,
	                           "%s must be true or false, not '%.64s'",
	                           name, v);
}

int hbr_param_enum(const char **out, const struct hbr_kvlist *params,
                   const char *name, const char *const *allowed, size_t n,
                   const char *def)
{
	const char *v = hbr_kvlist_get(params, name);

	if (!v) {
		*out = def;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(v, allowed[i])) {
			*out = allowed[i];
			return 0;
		}
	}
	return hbr_error_set_param(HBR_EINVAL, name,
	                           "%s '%.64s' is not supported here", name, v);
}

static int check_item(const char *name, size_t idx, size_t len, size_t max_len)
{
	if (len == 0)
		return hbr_error_set_param(HBR_EINVAL, name,
		                           "%s entry %zu is empty", name,
		                           idx + 1);
	if (len > max_len)
		return hbr_error_set_param(HBR_EINVAL, name,
		                           "%s entry %zu is longer than %zu",
		                           name, idx + 1, max_len);
	return 0;
}

static int list_json(struct hbr_strlist *l, const char *name, const char *v,
                     size_t max_items, size_t max_len)
{
	json_error_t jerr;
	json_t *arr = json_loads(v, JSON_REJECT_DUPLICATES, &jerr);
	size_t i;
	json_t *it;
	int error = 0;

	if (!arr)
		return hbr_error_set_param(HBR_EINVAL, name,
		                           "%s is not valid JSON: %s at"
		                           " position %d",
		                           name, jerr.text, jerr.position);
	if (!json_is_array(arr)) {
		error = hbr_error_set_param(HBR_EINVAL, name,
		                            "%s must be a JSON array", name);
		goto out;
	}
	if (json_array_size(arr) > max_items) {
		error = hbr_error_set_param(
		        HBR_EINVAL, name, "%s has %zu entries; at most %zu",
		        name, json_array_size(arr), max_items);
		goto out;
	}
	json_array_foreach(arr, i, it)
	{
		if (!json_is_string(it)) {
			char *txt = json_dumps(it, JSON_ENCODE_ANY);
			error = hbr_error_set_param(
			        HBR_EINVAL, name,
			        "%s entry %zu (%.64s) is not a string", name,
			        i + 1, txt ? txt : "?");
			free(txt); /* jansson's allocation */
			goto out;
		}
		if ((error = check_item(name, i, json_string_length(it),
		                        max_len)) < 0)
			goto out;
		strlist_add(l, json_string_value(it), json_string_length(it));
	}
out:
	json_decref(arr);
	return error;
}

static int list_comma(struct hbr_strlist *l, const char *name, const char *v,
                      size_t max_items, size_t max_len)
{
	const char *p = v;
	int error;

	for (;;) {
		const char *end = strchr(p, ',');
		const char *e = end ? end : p + strlen(p);
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((error = check_item(name, l->n, (size_t)(e - p), max_len)) <
		    0)
			return error;
		if (l->n >= max_items)
			return hbr_error_set_param(
			        HBR_EINVAL, name,
			        "%s has more than %zu entries; at most %zu",
			        name, max_items, max_items);
		strlist_add(l, p, (size_t)(e - p));
		if (!end)
			return 0;
		p = end + 1;
	}
}

struct flat {
	long idx;
	size_t pos; /* arrival order, so a repeated N keeps the last */
	const char *val;
};

static int cmp_flat(const void *a, const void *b)
{
	const struct flat *x = a, *y = b;

	if (x->idx != y->idx)
		return x->idx < y->idx ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Name.N entries, ordered by N; a repeated N keeps the last value. Most
 * requests have none, so nothing is allocated until one is seen. */
static int list_flat(struct hbr_strlist *l, const struct hbr_kvlist *params,
                     const char *name, size_t max_items, size_t max_len)
{
	size_t nlen = strlen(name), n = 0, cap = 0, found = 0;
	struct flat *f = NULL;
	int error = 0;

	for (size_t i = 0; i < params->n; i++) {
		const char *k = params->items[i].key;
		char *end;
		long idx;
		if (strncmp(k, name, nlen) || k[nlen] != '.')
			continue;
		errno = 0;
		idx = strtol(k + nlen + 1, &end, 10);
		if (errno || *end || idx < 1 || idx > MAX_FLAT_INDEX) {
			error = hbr_error_set_param(
			        HBR_EINVAL, name,
			        "%s index in '%.64s' must be 1 to %d", name, k,
			        MAX_FLAT_INDEX);
			goto out;
		}
		hbr_grow((void **)&f, &cap, n + 1, sizeof(*f));
		f[n].idx = idx;
		f[n].pos = i;
		f[n].val = params->items[i].val;
		n++;
	}
	if (n == 0)
		return 0;
	qsort(f, n, sizeof(*f), cmp_flat);
	for (size_t i = 0; i < n; i++) {
		/* qsort is not stable; the kvlist keeps arrival order, so
		 * for duplicates take the one that arrived last. */
		if (i + 1 < n && f[i + 1].idx == f[i].idx)
			continue;
		found++;
	}
	if (found > max_items) {
		error = hbr_error_set_param(HBR_EINVAL, name,
		                            "%s has %zu entries; at most %zu",
		                            name, found, max_items);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n && f[i + 1].idx == f[i].idx)
			continue;
		if ((error = check_item(name, l->n, strlen(f[i].val),
		                        max_len)) < 0)
			goto out;
		strlist_add(l, f[i].val, strlen(f[i].val));
	}
	l->present = true;
out:
	hbr_free(f);
	return error;
}

int hbr_param_list(struct hbr_strlist *out, const struct hbr_kvlist *params,
                   const char *name, size_t max_items, size_t max_len)
{
	struct hbr_strlist l = HBR_STRLIST_INIT;
	const char *v = hbr_kvlist_get(params, name);
	int error;

	if (v) {
		const char *p = v;
		l.present = true;
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (*p == '[')
			error = list_json(&l, name, v, max_items, max_len);
		else if (*p == '\0')
			error = 0; /* empty: present but no entries */
		else
			error = list_comma(&l, name, v, max_items, max_len);
	} else {
		error = list_flat(&l, params, name, max_items, max_len);
	}
	if (error < 0) {
		hbr_strlist_release(&l);
		return error;
	}
	*out = l;
	return 0;
}

int hbr_param_json_strings(const char **out, const struct hbr_kvlist *params,
                           const char *name, size_t max_len)
{
	struct hbr_strlist l = HBR_STRLIST_INIT;
	const char *v;
	int error;

	if ((error = hbr_param_str(&v, params, name, false, 0, max_len)) < 0)
		return error;
	if (v && v[0]) {
		while (*v == ' ')
			v++;
		if (*v != '[')
			return hbr_error_set_param(HBR_EINVAL, name,
			                           "%s must be a JSON array of"
			                           " paths",
			                           name);
		error = list_json(&l, name, v, 1000, 4096);
		hbr_strlist_release(&l);
		if (error < 0)
			return error;
	}
	*out = v;
	return 0;
}

int hbr_param_paging(int64_t *page_number, int64_t *page_size,
                     const struct hbr_kvlist *params)
{
	int error;

	if ((error = hbr_param_int(page_number, params, "PageNumber", false, 1,
	                           INT32_MAX, 1)) < 0)
		return error;
	return hbr_param_int(page_size, params, "PageSize", false, 1, 99, 10);
}

static const struct {
	const char *name;
	enum hbr_cond_op op;
} operators[] = {
	{ "EQUAL", HBR_OP_EQ },        { "NOT_EQUAL", HBR_OP_NE },
	{ "GREATER_THAN", HBR_OP_GT }, { "GREATER_THAN_OR_EQUAL", HBR_OP_GE },
	{ "LESS_THAN", HBR_OP_LT },    { "LESS_THAN_OR_EQUAL", HBR_OP_LE },
	{ "BETWEEN", HBR_OP_BETWEEN }, { "IN", HBR_OP_IN },
	{ "NOT_IN", HBR_OP_NOT_IN },
};

int hbr_filters_forbid_in(const struct hbr_filters *f, const char *field)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->conds[i].field, field) &&
		    (f->conds[i].op == HBR_OP_IN ||
		     f->conds[i].op == HBR_OP_NOT_IN))
			return hbr_error_set_param(HBR_EINVAL, "Filters",
			                           "%s cannot be used with IN",
			                           field);
	return 0;
}

void hbr_filters_release(struct hbr_filters *f)
{
	for (size_t i = 0; i < f->n; i++)
		hbr_strlist_release(&f->values[i]);
	hbr_free(f->values);
	hbr_free(f->conds);
	f->values = NULL;
	f->conds = NULL;
	f->n = 0;
}

static int add_filter(struct hbr_filters *f, const char *key,
                      const char *op_name, struct hbr_strlist *vals,
                      const struct hbr_filter_key *map, size_t nkeys)
{
	const char *field = NULL;
	enum hbr_cond_op op = HBR_OP_IN;
	size_t i;

	for (i = 0; i < nkeys && !field; i++)
		if (!strcasecmp(map[i].key, key))
			field = map[i].field;
	if (!field)
		return hbr_error_set_param(HBR_EINVAL, "Filters",
		                           "filter key '%.64s' is not"
		                           " supported",
		                           key);
	/* Keys HBR defines that mean nothing here (one region, no
	 * instance names) are accepted and match everything. */
	if (!field[0])
		return 0;
	if (op_name) {
		for (i = 0; i < HBR_ARRAY_SIZE(operators); i++)
			if (!strcmp(operators[i].name, op_name))
				break;
		if (i == HBR_ARRAY_SIZE(operators))
			return hbr_error_set_param(HBR_EINVAL, "Filters",
			                           "filter operator '%.64s' is"
			                           " not supported",
			                           op_name);
		op = operators[i].op;
	}
	if (vals->n == 0)
		return hbr_error_set_param(HBR_EINVAL, "Filters",
		                           "filter '%.64s' has no values", key);
	/* BETWEEN may come as one JSON text "[min,max]". */
	if (op == HBR_OP_BETWEEN && vals->n == 1 && vals->items[0][0] == '[') {
		struct hbr_strlist pair = HBR_STRLIST_INIT;
		json_t *arr = json_loads(vals->items[0], 0, NULL);
		int error = 0;
		if (json_is_array(arr) && json_array_size(arr) == 2) {
			for (size_t k = 0; k < 2; k++) {
				json_t *it = json_array_get(arr, k);
				char num[32];
				if (json_is_integer(it)) {
					(void)snprintf(
					        num, sizeof(num), "%lld",
					        (long long)json_integer_value(
					                it));
					strlist_add(&pair, num, strlen(num));
				} else if (json_is_string(it)) {
					strlist_add(&pair,
					            json_string_value(it),
					            json_string_length(it));
				}
			}
		}
		json_decref(arr);
		if (pair.n != 2)
			error = hbr_error_set_param(HBR_EINVAL, "Filters",
			                            "BETWEEN needs [min,max]");
		if (error < 0) {
			hbr_strlist_release(&pair);
			return error;
		}
		hbr_strlist_release(vals);
		*vals = pair;
	}
	if ((op == HBR_OP_BETWEEN && vals->n != 2) ||
	    (op != HBR_OP_BETWEEN && op != HBR_OP_IN && op != HBR_OP_NOT_IN &&
	     vals->n != 1))
		return hbr_error_set_param(HBR_EINVAL, "Filters",
		                           "filter '%.64s': wrong number of"
		                           " values for its operator",
		                           key);
	f->conds = hbr_realloc(f->conds, (f->n + 1) * sizeof(*f->conds));
	f->values = hbr_realloc(f->values, (f->n + 1) * sizeof(*f->values));
	f->values[f->n] = *vals;
	*vals = (struct hbr_strlist)HBR_STRLIST_INIT;
	f->conds[f->n].field = field;
	f->conds[f->n].op = op;
	f->conds[f->n].values = (const char *const *)f->values[f->n].items;
	f->conds[f->n].nvalues = f->values[f->n].n;
	f->n++;
	return 0;
}

/* The N of every "Filters.N.Key", ascending, without duplicates. */
static size_t filter_indexes(long *out, size_t max,
                             const struct hbr_kvlist *params)
{
	size_t n = 0;

	for (size_t i = 0; i < params->n; i++) {
		const char *k = params->items[i].key;
		char *end;
		long idx;
		size_t j;
		if (strncmp(k, "Filters.", 8))
			continue;
		/* Only canonical indexes: "Filters.01.Key" must not alias
		 * "Filters.1.Key". */
		if (k[8] < '1' || k[8] > '9')
			continue;
		idx = strtol(k + 8, &end, 10);
		if (idx < 1 || idx > 100 || strcmp(end, ".Key"))
			continue;
		for (j = 0; j < n && out[j] < idx; j++)
			;
		if (j < n && out[j] == idx)
			continue;
		if (n == max)
			break;
		memmove(out + j + 1, out + j, (n - j) * sizeof(*out));
		out[j] = idx;
		n++;
	}
	return n;
}

int hbr_param_filters(struct hbr_filters *out, const struct hbr_kvlist *params,
                      const struct hbr_filter_key *key_map, size_t nkeys)
{
	struct hbr_filters f = { 0 };
	long idx[100];
	size_t n = filter_indexes(idx, HBR_ARRAY_SIZE(idx), params);
	int error = 0;

	for (size_t i = 0; i < n && error == 0; i++) {
		struct hbr_strlist vals = HBR_STRLIST_INIT;
		char name[64];
		const char *key, *op;

		(void)snprintf(name, sizeof(name), "Filters.%ld.Key", idx[i]);
		if (!(key = hbr_kvlist_get(params, name)))
			continue;
		(void)snprintf(name, sizeof(name), "Filters.%ld.Operator",
		               idx[i]);
		op = hbr_kvlist_get(params, name);
		(void)snprintf(name, sizeof(name), "Filters.%ld.Values",
		               idx[i]);
		if ((error = hbr_param_list(&vals, params, name, 100, 1024)) ==
		    0)
			error = add_filter(&f, key, op, &vals, key_map, nkeys);
		hbr_strlist_release(&vals);
	}
	if (error < 0) {
		/* Report the parameter as Filters, not Filters.N.Values. */
		if (strncmp(hbr_error_param(), "Filters", 7) == 0) {
			char msg[512];
			(void)snprintf(msg, sizeof(msg), "%s", hbr_error_msg());
			error = hbr_error_set_param(error, "Filters", "%s",
			                            msg);
		}
		hbr_filters_release(&f);
		return error;
	}
	*out = f;
	return 0;
}
