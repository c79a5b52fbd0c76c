/* Filesystem helpers that make writes durable. */
#ifndef HBR_UTIL_FSUTIL_H
#define HBR_UTIL_FSUTIL_H

#include "common.h"
#include <sys/types.h>

/* mkdir -p with mode for each created directory. HBR_EIO on failure. */
int hbr_fs_mkdirs(const char *path, mode_t mode);
/* Replace path with data durably: write a temporary file, fsync it,
 * rename it over path, fsync the directory. A crash leaves either the
 * old file or the new one, never a torn one. */
int hbr_fs_write_atomic(const char *path, const void *data, size_t len,
                        mode_t mode);
/* rm -rf path (symlinks are removed, never followed); a missing path is
 * fine. HBR_EIO on the first failure. */
int hbr_fs_remove_tree(const char *path);
/* Write all of data to fd (retrying short writes and EINTR). HBR_EIO
 * with a message on failure; errno is still the write's. */
int hbr_fs_write_all(int fd, const void *data, size_t len);
/* Read a whole file of at most max bytes (caller frees *out). */
int hbr_fs_read(char **out, size_t *len_out, const char *path, size_t max);

#endif
