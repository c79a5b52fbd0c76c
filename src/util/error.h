/*
 * The one error convention: a function that can fail returns 0 or a
 * negative HBR_E* code and leaves a one-line message in thread-local state,
 * so callers write `return hbr_error_set(HBR_EINVAL, "bad '%s'", s);`.
 * Callers propagate the code unchanged; they do not repaint the message.
 *
 * The codes are the distinctions the API has to make. api/api_error.c is
 * the only place that turns them into Alibaba `Code` strings and HTTP
 * statuses; no other file knows either.
 */
#ifndef HBR_UTIL_ERROR_H
#define HBR_UTIL_ERROR_H

#include "common.h"

enum hbr_error {
	HBR_OK = 0,
	HBR_ERROR = -1, /* unexpected; message says what */
	HBR_EINVAL = -2, /* bad parameter value (param set) */
	HBR_EMISSING = -3, /* required parameter absent (param set) */
	HBR_ENOTFOUND = -4, /* generic resource not found */
	HBR_ENOCLIENT = -5, /* client id(s) not in the account */
	HBR_ENOVAULT = -6,
	HBR_ENOPLAN = -7,
	HBR_ENOJOB = -8,
	HBR_ENOTASK = -9,
	HBR_ENOSNAPSHOT = -10,
	HBR_EDENIED = -11, /* RAM policy said no */
	HBR_ESIGNATURE = -12, /* signature does not match */
	HBR_ESIGINCOMPLETE = -13, /* signature fields missing/malformed */
	HBR_EKEYNOTFOUND = -14,
	HBR_EKEYINACTIVE = -15,
	HBR_ETSEXPIRED = -16,
	HBR_ETSFORMAT = -17,
	HBR_ENONCEUSED = -18,
	HBR_EVERSION = -19,
	HBR_EACTION = -20, /* unknown action */
	HBR_ETOOBIG = -21, /* a configured input limit was hit */
	HBR_ECONFLICT = -22, /* state forbids it now (e.g. vault busy) */
	HBR_EEXISTS = -23, /* name or id already taken */
	HBR_EIO = -24, /* disk or database failure */
	HBR_EUNAVAIL = -25, /* temporarily unavailable */
	HBR_EMETHOD = -26, /* HTTP method not supported */
	HBR_ECORRUPT = -27, /* stored bytes fail verification */
	HBR_ESIGMETHOD = -28, /* unsupported signature algorithm */
	HBR_ENORESTORE = -29, /* restore job not in the account */
	HBR_ENOCHUNK = -30, /* a chunk the vault (or snapshot) does not hold */
};

/* Set the thread's error and return `code`. */
int hbr_error_set(int code, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* Like hbr_error_set, for an error about request parameter `param`
 * (HBR_EINVAL/HBR_EMISSING): the API turns it into Invalid<Param> or
 * Missing<Param>. */
int hbr_error_set_param(int code, const char *param, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Like hbr_error_set, appending ": strerror(errno)". */
int hbr_error_set_os(int code, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Borrowed; valid until the next set on this thread. Never NULL. */
const char *hbr_error_msg(void);
/* The parameter named by the last hbr_error_set_param, or "". */
const char *hbr_error_param(void);
void hbr_error_clear(void);

#endif
