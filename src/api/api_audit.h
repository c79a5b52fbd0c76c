/*
 * The audit log's file half: one JSON object per line in
 * DATA_DIR/audit.log, appended and fdatasync'ed per entry (audited calls
 * are writes, which already pay for an fsync). The table half is
 * store_account.c's audit_log, written in the action's own transaction
 * when it has one.
 */
#ifndef HBR_API_AUDIT_H
#define HBR_API_AUDIT_H

#include "common.h"
#include "store/store_account.h"

struct hbr_audit_log;

int hbr_audit_open(struct hbr_audit_log **out, const char *path);
void hbr_audit_close(struct hbr_audit_log *log);
/* HBR_EIO when the line could not be written. */
int hbr_audit_append(struct hbr_audit_log *log,
                     const struct hbr_audit_entry *e);

#endif
