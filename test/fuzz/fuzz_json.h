/* The JSON body rule of api_parse_body (src/api/api.c), for the JSON harnesses: one object,
 * parsed with cJSON, followed only by whitespace. */
#ifndef BC_FUZZ_JSON_H
#define BC_FUZZ_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

static inline cJSON *fuzz_parse_body(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = NULL, *stop = p + size;
    cJSON *obj = cJSON_ParseWithLengthOpts(size ? p : "", size, &end, 0);
    if (!obj)
        return NULL;
    while (end && end < stop && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
        end++;
    if (!cJSON_IsObject(obj) || (end && end != stop)) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

#endif
