/* application/x-www-form-urlencoded encoding and decoding, as Twilio sends and expects it. */
#ifndef BC_PROVIDER_FORM_H
#define BC_PROVIDER_FORM_H

#include <stddef.h>

#include "util/buf.h"

/* Appends name=value, both percent-encoded (unreserved characters as they are, space as %20),
 * preceded by '&' unless b is empty. A NULL value is sent as an empty one. */
int form_append(struct buf *b, const char *name, const char *value);
/* Finds name in a form body and percent-decodes its value into out (NUL-terminated). Returns the
 * length, BC_ENOTFOUND when absent, BC_ETOOBIG when it does not fit. */
int form_get(const char *body, size_t len, const char *name, char *out, size_t cap);
/* A name looked for in a form body by form_find, and the value of its first pair, still encoded
 * (value NULL when the body has none). */
struct form_field {
    const char *name;
    const char *value;
    size_t value_len;
    size_t name_len; /* set by form_find */
    int decoded;     /* value is already decoded (form_find leaves it 0) */
};
/* Finds the first pair of each of n names in one pass over the body (form_get for each would read
 * the body once per name). */
void form_find(const char *body, size_t len, struct form_field *fields, size_t n);
/* Decodes a field form_find looked for into out, as form_get does (or copies a value already
 * decoded): the length, BC_ENOTFOUND, BC_ETOOBIG. */
int form_value(const struct form_field *f, char *out, size_t cap);
/* Appends s percent-encoded, as form_append encodes names and values (for query strings). */
int form_escape(struct buf *b, const char *s, size_t len);
/* One name=value pair of a form body, still encoded. */
struct form_pair {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
/* Iterates the pairs of a form body: start with *pos = 0; returns 1 with the next pair in p, 0 at
 * the end. Empty segments ("a=1&&b=2") are skipped and a pair without '=' has an empty value. */
int form_next(const char *body, size_t len, size_t *pos, struct form_pair *p);
/* Percent-decodes s ('+' is a space; a '%' not followed by two hex digits stays as it is) into
 * out, which needs room for len bytes. Returns the decoded length (never more than len). */
size_t form_decode(const char *s, size_t len, char *out);

#endif
