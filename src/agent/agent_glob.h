/*
 * Which paths a job covers: its roots (the plan's Paths) and its Include
 * and Exclude patterns, strings holding a JSON array of globs.
 *
 * A pattern with a '/' is matched with fnmatch(3) against the whole
 * absolute path (FNM_PATHNAME: '*' stays within one name); one without a
 * '/' against the last name only ("*.tmp"). Either way a pattern that
 * matches a directory matches everything under it, as HBR documents
 * ("all files under this path"). No Include means everything is
 * included; an excluded directory is not descended at all.
 */
#ifndef HBR_AGENT_GLOB_H
#define HBR_AGENT_GLOB_H

#include "common.h"

#define HBR_AGENT_PATTERNS_MAX 1024
#define HBR_AGENT_PATTERN_LEN  4096

struct hbr_agent_filter {
	char **include; /* owned */
	size_t n_include;
	char **exclude; /* owned */
	size_t n_exclude;
};

/* Parse the two JSON strings (NULL or "" = none). HBR_EINVAL naming the
 * parameter when one is not an array of strings. */
int hbr_agent_filter_parse(struct hbr_agent_filter *out, const char *include,
                           const char *exclude);
void hbr_agent_filter_release(struct hbr_agent_filter *f);

/* An Exclude pattern matches path or one of its parent directories. */
bool hbr_agent_filter_excluded(const struct hbr_agent_filter *f,
                               const char *path);
/* A non-directory at path is kept: not excluded, and included (no
 * Include, or a pattern matches it or a parent directory). */
bool hbr_agent_filter_keep(const struct hbr_agent_filter *f, const char *path);
/* The directory at path may hold something kept: not excluded, and it
 * is included or an Include pattern may match below it. */
bool hbr_agent_filter_descend(const struct hbr_agent_filter *f,
                              const char *path);

/*
 * Clean an absolute path in place: "//" and "/./" collapse, a trailing
 * '/' goes ("/" stays). HBR_EINVAL for a relative path or one with "..".
 */
int hbr_agent_path_clean(char *path);

/*
 * The roots to walk: paths (cleaned), or, when there are none, the
 * directories the Include patterns name before their first wildcard.
 * Sorted in walk order, duplicates and roots inside another root
 * dropped. *out is an array of n owned strings (free with
 * hbr_agent_roots_free). HBR_EINVAL when a path is not absolute;
 * HBR_EMISSING when there is nothing to walk.
 */
int hbr_agent_roots(char ***out, size_t *n_out, const char *const *paths,
                    size_t n_paths, const struct hbr_agent_filter *f);
void hbr_agent_roots_free(char **roots, size_t n);

/* Order of a depth-first walk with names sorted bytewise: like strcmp,
 * with '/' below every other byte (so "/a/b" < "/a b"). */
int hbr_agent_path_cmp(const char *a, size_t alen, const char *b, size_t blen);

#endif
