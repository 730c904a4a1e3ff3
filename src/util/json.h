/* Small JSON helpers on top of cJSON. */
#ifndef BC_UTIL_JSON_H
#define BC_UTIL_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "util/buf.h"

/* Appends s as a quoted, escaped JSON string. */
int json_append_string(struct buf *b, const char *s, size_t len);
/* Renders obj compactly, appending to b. */
int json_render(struct buf *b, const cJSON *obj);
/* cJSON_AddStringToObject for a (ptr, len) string. */
cJSON *json_add_strn(cJSON *obj, const char *name, const char *s, size_t len);

/* What reading data with cJSON and taking the top-level object's string member name would give:
 * 1 and the string copied to out when there is one, not empty and shorter than cap, else 0.
 * Valid JSON of the usual kind is read without building cJSON's tree. */
int json_object_string(const char *data, size_t len, const char *name, char *out, size_t cap);

#endif
