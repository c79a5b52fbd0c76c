/*
 * The server's reading of a tree (docs/AGENT-PROTOCOL.md): each line is
 * validated as strictly as the agent's jansson reader would, but only the
 * top-level "c" is extracted, without building the entry. A commit reads
 * every line of a snapshot's tree, so this is on its critical path.
 */
#ifndef HBR_CORE_TREE_SCAN_H
#define HBR_CORE_TREE_SCAN_H

#include "common.h"
#include "core/tree.h"

/* hbr_tree_scan could not decide the line exactly (see tree_scan.c). */
#define HBR_TREE_SCAN_UNSURE 1

/*
 * Scan one line (without its '\n'). 0: it is a JSON object that
 * json_loadb(JSON_REJECT_DUPLICATES) accepts; *header is whether its
 * top-level "hbr_tree" is the integer 1, and unless set is NULL every id
 * of its top-level "c" (or "c+") was added to set and *kind is what
 * hbr_tree_entry_kind says. HBR_ECORRUPT: jansson would refuse it, or
 * (set not NULL) hbr_tree_entry_chunks would. HBR_TREE_SCAN_UNSURE: a
 * rare case left to jansson. On anything but 0, set may hold some of the
 * line's ids.
 */
int hbr_tree_scan(bool *header, enum hbr_tree_line_kind *kind,
                  struct hbr_idset *set, const char *text, size_t len);

/*
 * Line line_no of a tree as the server reads it: line 0 must be the
 * header, a later line's "c" (or "c+") ids are added to set. *prev is the
 * kind of the line before (HBR_TREE_LINE_OTHER before line 0), updated
 * on success. Accepts, refuses (HBR_ECORRUPT) and collects exactly as
 * hbr_tree_line_parse, hbr_tree_entry_chunks and hbr_tree_line_follows
 * would (a refused line may have added some ids).
 */
int hbr_tree_line_refs(struct hbr_idset *set, enum hbr_tree_line_kind *prev,
                       const char *text, size_t len, size_t line_no);

#endif
