/* URL rules: which callback and webhook URLs the API accepts. One validator for every caller, so
 * that a URL accepted in one place is not refused in another without a reason written here. */
#ifndef BC_MODEL_URL_H
#define BC_MODEL_URL_H

#include <stddef.h>

#define URL_MAX 2048 /* bytes */

/* Relaxations of the rule, for the upload form's webhookUrl field, which has always accepted
 * these; URLs stored that way are then ignored by webhook delivery (which checks with no flag). */
enum url_flags {
    URL_EMPTY_HOST_OK = 1, /* a '/' right after the scheme, as in "http:///path" */
    URL_DEL_OK = 2,        /* the DEL character (0x7f) */
};

/* 0 if s is an http:// or https:// URL (scheme in any case) with something after the scheme that
 * does not start with '/', at most URL_MAX bytes, without spaces or control characters. Else
 * BC_ETOOBIG (too long) or BC_EINVAL. flags (enum url_flags) relax the rule. */
int url_check(const char *s, size_t len, unsigned flags);

#endif
