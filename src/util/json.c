#include "util/json.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

int json_append_string(struct buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    int rc = buf_reserve(b, len + 2);
    if (rc)
        return rc;
    b->data[b->len++] = '"';
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if ((rc = buf_append(b, s + start, i - start)))
            return rc;
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        size_t n = 6;
        if (c == '"' || c == '\\') {
            esc[1] = (char)c;
            n = 2;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            n = 2;
        }
        if ((rc = buf_append(b, esc, n)))
            return rc;
        start = i + 1;
    }
    if ((rc = buf_append(b, s + start, len - start)))
        return rc;
    return buf_append(b, "\"", 1);
}

int json_render(struct buf *b, const cJSON *obj)
{
    char *text = cJSON_PrintUnformatted(obj);
    if (!text)
        return BC_ENOMEM;
    int rc = buf_append(b, text, strlen(text));
    cJSON_free(text);
    return rc;
}

cJSON *json_add_strn(cJSON *obj, const char *name, const char *s, size_t len)
{
    char small[256];
    char *copy = len < sizeof small ? small : malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    cJSON *item = cJSON_AddStringToObject(obj, name, copy);
    if (copy != small)
        free(copy);
    return item;
}
