/* JSON string escaping for the few places that write JSON as text
 * (hot list responses), where building and dumping jansson trees costs
 * more than the rest of the request. */
#ifndef HBR_UTIL_JSONESC_H
#define HBR_UTIL_JSONESC_H

#include "common.h"
#include "util/buf.h"

/* Append s as a quoted JSON string ("...", with \" \\ and control
 * characters escaped; UTF-8 passes through). */
int hbr_json_escape(struct hbr_buf *out, const char *s);

#endif
