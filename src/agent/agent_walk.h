/*
 * The backup's walk: every entry under the roots, depth first, the
 * names of each directory sorted bytewise, a directory before its
 * contents (the tree's order, docs/AGENT-PROTOCOL.md), Include/Exclude
 * applied. Nothing is followed: a symlink, root or not, is recorded as a
 * symlink. Sockets are skipped (nothing can restore one).
 *
 * The walker only lstat()s and lists; it does not open regular files.
 * What it cannot read is returned as an entry with `error` set, so the
 * caller can list it (ErrorFiles) and carry on.
 */
#ifndef HBR_AGENT_WALK_H
#define HBR_AGENT_WALK_H

#include "common.h"
#include <sys/stat.h>
#include "agent/agent_entry.h"
#include "agent/agent_glob.h"

#define HBR_AGENT_WALK_XATTRS 1u /* read extended attributes */

struct hbr_agent_walker;

struct hbr_agent_walk_item {
	struct hbr_agent_entry e; /* path, type, metadata, link, xattrs */
	struct stat st;
	/* Set when the entry could not be read: e.path names it and the
	 * message says why; the other fields are not meaningful. */
	bool error;
	char message[256];
};

/* roots: absolute, clean, in walk order (hbr_agent_roots). Borrowed,
 * like f: both outlive the walker. */
void hbr_agent_walker_new(struct hbr_agent_walker **out, char *const *roots,
                          size_t n_roots, const struct hbr_agent_filter *f,
                          unsigned flags);
void hbr_agent_walker_free(struct hbr_agent_walker *w);

/* The next entry into item (whose e is reused). 1: an entry (maybe an
 * error entry); 0: the walk is over. */
int hbr_agent_walker_next(struct hbr_agent_walker *w,
                          struct hbr_agent_walk_item *item);

void hbr_agent_walk_item_init(struct hbr_agent_walk_item *item);
void hbr_agent_walk_item_release(struct hbr_agent_walk_item *item);

/* Fill item's entry from path and st (type, metadata; link target and
 * xattrs per flags). Used by the walker and by tests. 0, or an error
 * entry's reason in item (returns HBR_EIO). */
int hbr_agent_walk_stat(struct hbr_agent_walk_item *item, const char *path,
                        unsigned flags);

#endif
