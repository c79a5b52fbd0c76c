/*
 * The one place that turns HBR_E* codes into Alibaba error `Code`s and
 * HTTP statuses (hbr-api.md §5).
 */
#ifndef HBR_API_ERROR_H
#define HBR_API_ERROR_H

#include "common.h"
#include "util/buf.h"

/* The Alibaba Code for error (param: for Missing<Param>/Invalid<Param>)
 * into out, and the HTTP status. */
int hbr_api_error_code(char *out, size_t size, int error, const char *param);

#endif
