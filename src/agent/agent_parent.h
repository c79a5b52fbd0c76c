/*
 * Trees on the agent's disk: fetching a snapshot's tree (restore, and an
 * incremental backup whose parent tree is not cached), the cache of the
 * trees this agent committed (STATE/trees/<snapshot-id>.tree, so an
 * incremental backup usually downloads nothing), and the parent cursor:
 * the walk and the parent tree are in the same order, so matching each
 * walked file with its parent entry is a merge, one line in memory.
 */
#ifndef HBR_AGENT_PARENT_H
#define HBR_AGENT_PARENT_H

#include "common.h"
#include <jansson.h>
#include "agent/agent_entry.h"
#include "agent/agent_job.h"
#include "core/tree.h"

#define HBR_AGENT_FETCH_IDS     1024 /* FetchAgentChunks: ids per call */
#define HBR_AGENT_FETCH_RAW_MAX (32u << 20) /* raw bytes per call */

/* STATE/trees/<snapshot-id>.tree into out (size >= 4096). */
void hbr_agent_tree_cache_path(char *out, size_t size, const char *state_dir,
                               const char *snapshot_id);

/*
 * Fetch the tree whose chunks are ids (a JSON array of hex strings)
 * into path (written to a temporary name, then renamed). Every chunk's
 * hash is verified. job_type: "BACKUP" (a parent) or "RESTORE".
 */
int hbr_agent_tree_fetch(struct hbr_agent_job *job, struct hbr_agent_conn *conn,
                         const json_t *ids, const char *path);

/* Read a tree file through cb (hbr_tree_reader). */
int hbr_agent_tree_read(const char *path, hbr_tree_entry_cb *cb, void *payload);

struct hbr_agent_parent;

/*
 * The parent of a backup: cached, or fetched and cached. tree_chunks
 * (ParentTreeChunks) are added to known: the vault has them, so
 * consecutive trees dedupe without a check (the commit verifies). The
 * caller adds the chunks of each parent entry it meets likewise.
 */
int hbr_agent_parent_open(struct hbr_agent_parent **out,
                          struct hbr_agent_job *job,
                          struct hbr_agent_conn *conn, const char *snapshot_id,
                          const json_t *tree_chunks, struct hbr_idset *known);
void hbr_agent_parent_free(struct hbr_agent_parent *p);

/*
 * The parent's entry for path, or NULL. Calls must come in walk order
 * (hbr_agent_path_cmp): the cursor only moves forward. The entry is
 * borrowed until the next call.
 */
const struct hbr_agent_entry *hbr_agent_parent_find(struct hbr_agent_parent *p,
                                                    const char *path,
                                                    size_t len);

/* Lines the cursor could not parse (logged once; not fatal: a file
 * without a parent entry is simply read again). */
size_t hbr_agent_parent_bad_lines(const struct hbr_agent_parent *p);

#endif
