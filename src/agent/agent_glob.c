/* Include/Exclude patterns and the roots of a walk (agent_glob.h). */
#include "common.h"
#include <fnmatch.h>
#include <jansson.h>
#include "agent/agent_glob.h"
#include "util/alloc.h"
#include "util/error.h"

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hbr_free(list[i]);
	hbr_free(list);
}

static int parse_list(char ***out, size_t *n_out, const char *text,
                      const char *param)
{
	json_error_t jerr;
	json_t *arr, *v;
	char **list = NULL;
	size_t i, n = 0;

	*out = NULL;
	*n_out = 0;
	if (!text || !text[0])
		return 0;
	arr = json_loads(text, 0, &jerr);
	if (!json_is_array(arr) ||
	    json_array_size(arr) > HBR_AGENT_PATTERNS_MAX) {
		json_decref(arr);
		return hbr_error_set_param(HBR_EINVAL, param,
		                           "%s is not a JSON array of at most"
		                           " %d patterns",
		                           param, HBR_AGENT_PATTERNS_MAX);
	}
	list = hbr_calloc(json_array_size(arr) + 1, sizeof(*list));
	json_array_foreach(arr, i, v)
	{
		const char *s = json_string_value(v);

		if (!s || strlen(s) >= HBR_AGENT_PATTERN_LEN) {
			free_list(list, n);
			json_decref(arr);
			return hbr_error_set_param(HBR_EINVAL, param,
			                           "%s[%zu] is not a string of"
			                           " at most %d bytes",
			                           param, i,
			                           HBR_AGENT_PATTERN_LEN - 1);
		}
		if (s[0]) /* an empty pattern would match nothing */
			list[n++] = hbr_strdup(s);
	}
	json_decref(arr);
	*out = list;
	*n_out = n;
	return 0;
}

int hbr_agent_filter_parse(struct hbr_agent_filter *out, const char *include,
                           const char *exclude)
{
	struct hbr_agent_filter f = { 0 };
	int error;

	if ((error = parse_list(&f.include, &f.n_include, include, "Include")) <
	    0)
		return error;
	if ((error = parse_list(&f.exclude, &f.n_exclude, exclude, "Exclude")) <
	    0) {
		hbr_agent_filter_release(&f);
		return error;
	}
	*out = f;
	return 0;
}

void hbr_agent_filter_release(struct hbr_agent_filter *f)
{
	if (!f)
		return;
	free_list(f->include, f->n_include);
	free_list(f->exclude, f->n_exclude);
	memset(f, 0, sizeof(*f));
}

/* A pattern without '/' names a file or directory anywhere: it matches
 * when any name along the path matches. */
static bool match_names(const char *pat, const char *path)
{
	char name[HBR_AGENT_PATTERN_LEN];
	const char *p = path;

	while (*p) {
		const char *end;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchr(p, '/');
		len = end ? (size_t)(end - p) : strlen(p);
		if (len < sizeof(name)) {
			memcpy(name, p, len);
			name[len] = '\0';
			if (fnmatch(pat, name, 0) == 0)
				return true;
		}
		p += len;
	}
	return false;
}

/* pat matches path or one of its parent directories. */
static bool match(const char *pat, const char *path)
{
	if (!strchr(pat, '/'))
		return match_names(pat, path);
	return fnmatch(pat, path, FNM_PATHNAME | FNM_LEADING_DIR) == 0;
}

static bool match_any(char *const *pats, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (match(pats[i], path))
			return true;
	return false;
}

bool hbr_agent_filter_excluded(const struct hbr_agent_filter *f,
                               const char *path)
{
	return match_any(f->exclude, f->n_exclude, path);
}

bool hbr_agent_filter_keep(const struct hbr_agent_filter *f, const char *path)
{
	if (hbr_agent_filter_excluded(f, path))
		return false;
	return !f->n_include || match_any(f->include, f->n_include, path);
}

static size_t count_names(const char *path)
{
	size_t n = 0;

	for (const char *p = path; *p; p++)
		if (*p != '/' && (p == path || p[-1] == '/'))
			n++;
	return n;
}

/* The pattern's first k names could match dir (k = dir's depth): then
 * the rest of the pattern may match something below dir. */
static bool may_match_below(const char *pat, const char *dir)
{
	char prefix[HBR_AGENT_PATTERN_LEN];
	size_t k = count_names(dir), seen = 0, len;
	const char *p;

	if (!strchr(pat, '/') || k == 0)
		return true;
	for (p = pat; *p; p++) {
		if (*p == '/' && p != pat && p[-1] != '/' && ++seen == k)
			break;
	}
	if (!*p)
		return false; /* the pattern is no deeper than dir */
	len = (size_t)(p - pat);
	memcpy(prefix, pat, len);
	prefix[len] = '\0';
	return fnmatch(prefix, dir, FNM_PATHNAME) == 0;
}

bool hbr_agent_filter_descend(const struct hbr_agent_filter *f,
                              const char *path)
{
	if (hbr_agent_filter_excluded(f, path))
		return false;
	if (!f->n_include || match_any(f->include, f->n_include, path))
		return true;
	for (size_t i = 0; i < f->n_include; i++)
		if (may_match_below(f->include[i], path))
			return true;
	return false;
}

int hbr_agent_path_clean(char *path)
{
	char *w = path;
	const char *r = path;

	if (path[0] != '/')
		return hbr_error_set(HBR_EINVAL, "'%s' is not an absolute path",
		                     path);
	while (*r) {
		const char *end;
		size_t len;

		while (*r == '/')
			r++;
		if (!*r)
			break;
		end = strchr(r, '/');
		len = end ? (size_t)(end - r) : strlen(r);
		if (len == 1 && r[0] == '.') {
			r += len;
			continue;
		}
		if (len == 2 && r[0] == '.' && r[1] == '.')
			return hbr_error_set(HBR_EINVAL,
			                     "'%s': \"..\" is not allowed",
			                     path);
		*w++ = '/';
		memmove(w, r, len);
		w += len;
		r += len;
	}
	if (w == path)
		*w++ = '/';
	*w = '\0';
	return 0;
}

int hbr_agent_path_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;

	for (size_t i = 0; i < n; i++) {
		unsigned x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (x == y)
			continue;
		x = x == '/' ? 0 : x;
		y = y == '/' ? 0 : y;
		return x < y ? -1 : 1;
	}
	return alen < blen ? -1 : alen > blen;
}

static int cmp_roots(const void *x, const void *y)
{
	const char *a = *(const char *const *)x, *b = *(const char *const *)y;

	return hbr_agent_path_cmp(a, strlen(a), b, strlen(b));
}

/* The directories before the first wildcard of an absolute pattern. */
static char *literal_root(const char *pat)
{
	size_t stop = strcspn(pat, "*?[\\");
	char *s;

	if (!pat[stop])
		return hbr_strdup(pat);
	while (stop > 0 && pat[stop - 1] != '/')
		stop--;
	s = hbr_strndup(pat, stop ? stop : 1);
	return s;
}

/* Inside: b is a or under it. */
static bool covers(const char *a, const char *b)
{
	size_t n = strlen(a);

	if (!strcmp(a, "/"))
		return true;
	return !strncmp(a, b, n) && (b[n] == '\0' || b[n] == '/');
}

int hbr_agent_roots(char ***out, size_t *n_out, const char *const *paths,
                    size_t n_paths, const struct hbr_agent_filter *f)
{
	char **list;
	size_t n = 0, kept = 0;
	int error;

	list = hbr_calloc(n_paths + f->n_include + 1, sizeof(*list));
	for (size_t i = 0; i < n_paths; i++)
		list[n++] = hbr_strdup(paths[i]);
	if (!n) {
		for (size_t i = 0; i < f->n_include; i++)
			if (f->include[i][0] == '/')
				list[n++] = literal_root(f->include[i]);
	}
	for (size_t i = 0; i < n; i++) {
		if ((error = hbr_agent_path_clean(list[i])) < 0) {
			free_list(list, n);
			return error;
		}
	}
	if (!n) {
		hbr_free(list);
		return hbr_error_set(HBR_EMISSING,
		                     "the job names no path to back up");
	}
	qsort(list, n, sizeof(*list), cmp_roots);
	for (size_t i = 0; i < n; i++) {
		bool dup = false;

		for (size_t j = 0; j < kept && !dup; j++)
			dup = covers(list[j], list[i]);
		if (dup)
			hbr_free(list[i]);
		else
			list[kept++] = list[i];
	}
	*out = list;
	*n_out = kept;
	return 0;
}

void hbr_agent_roots_free(char **roots, size_t n)
{
	free_list(roots, n);
}
