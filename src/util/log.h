/* Log lines to stderr: "2026-11-27T21:00:00Z hbrd info: message". */
#ifndef HBR_UTIL_LOG_H
#define HBR_UTIL_LOG_H

#include "common.h"

enum hbr_log_level { HBR_LOG_DEBUG, HBR_LOG_INFO, HBR_LOG_WARN, HBR_LOG_ERROR };

void hbr_log_set_level(enum hbr_log_level level);
/* The program named in each line ("hbrd" unless set; a static string). */
void hbr_log_set_name(const char *name);
void hbr_log(enum hbr_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

#define hbr_log_info(...)  hbr_log(HBR_LOG_INFO, __VA_ARGS__)
#define hbr_log_warn(...)  hbr_log(HBR_LOG_WARN, __VA_ARGS__)
#define hbr_log_error(...) hbr_log(HBR_LOG_ERROR, __VA_ARGS__)
#define hbr_log_debug(...) hbr_log(HBR_LOG_DEBUG, __VA_ARGS__)

#endif
