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

/* ---- One string member of an object, without building a tree ---- */

/* The scanner below accepts a subset of what cJSON accepts (strict JSON, shallow nesting, no \u
 * escapes, numbers cJSON reads whole) and answers exactly as cJSON would for it; anything else
 * makes it give up, and json_object_string asks cJSON. Building cJSON's tree (a node and a
 * string copy per member) was most of reading a provider's answer for one field. */
#define SCAN_UNSURE    (-1) /* not in the subset: ask cJSON */
#define SCAN_MAX_DEPTH 32
/* cJSON copies at most 63 characters of a number before converting it and fails on the rest. */
#define SCAN_MAX_NUMBER 63

struct scan {
    const char *p, *end;
};

static void scan_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* A string at s->p (its opening quote). Its raw contents go to *start, *len; *escaped says
 * whether they contain an escape (so they are not the value as is). */
static int scan_string(struct scan *s, const char **start, size_t *len, int *escaped)
{
    const char *p = s->p + 1;
    *escaped = 0;
    *start = p;
    while (p < s->end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            *len = (size_t)(p - *start);
            s->p = p + 1;
            return 0;
        }
        if (c < 0x20)
            return SCAN_UNSURE;
        if (c == '\\') {
            /* \u is left to cJSON: it refuses some escapes JSON allows (lone surrogates). */
            if (p + 1 >= s->end || !memchr("\"\\/bfnrt", p[1], 8))
                return SCAN_UNSURE;
            *escaped = 1;
            p += 2;
            continue;
        }
        p++;
    }
    return SCAN_UNSURE;
}

static int scan_digits(struct scan *s)
{
    const char *from = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return s->p > from ? 0 : SCAN_UNSURE;
}

static int scan_number(struct scan *s)
{
    const char *from = s->p;
    if (*s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0')
        s->p++;
    else if (scan_digits(s))
        return SCAN_UNSURE;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (scan_digits(s))
            return SCAN_UNSURE;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (scan_digits(s))
            return SCAN_UNSURE;
    }
    return s->p - from <= SCAN_MAX_NUMBER ? 0 : SCAN_UNSURE;
}

static int scan_word(struct scan *s, const char *word, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return SCAN_UNSURE;
    s->p += n;
    return 0;
}

static int scan_value(struct scan *s, int depth);

/* An object or array at s->p; members are skipped. */
static int scan_container(struct scan *s, int depth)
{
    char close = *s->p == '{' ? '}' : ']';
    if (depth >= SCAN_MAX_DEPTH)
        return SCAN_UNSURE;
    s->p++;
    scan_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 0;
    }
    for (;;) {
        if (close == '}') {
            const char *k;
            size_t klen;
            int esc;
            if (s->p >= s->end || *s->p != '"' || scan_string(s, &k, &klen, &esc))
                return SCAN_UNSURE;
            scan_ws(s);
            if (s->p >= s->end || *s->p != ':')
                return SCAN_UNSURE;
            s->p++;
            scan_ws(s);
        }
        if (scan_value(s, depth + 1))
            return SCAN_UNSURE;
        scan_ws(s);
        if (s->p >= s->end)
            return SCAN_UNSURE;
        if (*s->p == close) {
            s->p++;
            return 0;
        }
        if (*s->p != ',')
            return SCAN_UNSURE;
        s->p++;
        scan_ws(s);
    }
}

static int scan_value(struct scan *s, int depth)
{
    if (s->p >= s->end)
        return SCAN_UNSURE;
    const char *start;
    size_t len;
    int esc;
    switch (*s->p) {
    case '"':
        return scan_string(s, &start, &len, &esc);
    case '{':
    case '[':
        return scan_container(s, depth);
    case 't':
        return scan_word(s, "true", 4);
    case 'f':
        return scan_word(s, "false", 5);
    case 'n':
        return scan_word(s, "null", 4);
    default:
        return *s->p == '-' || (*s->p >= '0' && *s->p <= '9') ? scan_number(s) : SCAN_UNSURE;
    }
}

/* The top-level object's first member called name: 1 with *value, *vlen when it is a string
 * without escapes, 0 when there is none or it is something else, SCAN_UNSURE. */
static int scan_member(const char *data, size_t len, const char *name, const char **value,
                       size_t *vlen)
{
    struct scan s = {data, data + len};
    size_t nlen = strlen(name);
    int found = 0, decided = 0;
    scan_ws(&s);
    if (s.p >= s.end || *s.p != '{')
        return SCAN_UNSURE;
    s.p++;
    scan_ws(&s);
    if (s.p < s.end && *s.p == '}')
        return 0;
    for (;;) {
        const char *k, *v;
        size_t klen, n;
        int kesc, vesc;
        if (s.p >= s.end || *s.p != '"' || scan_string(&s, &k, &klen, &kesc) || kesc)
            return SCAN_UNSURE;
        scan_ws(&s);
        if (s.p >= s.end || *s.p != ':')
            return SCAN_UNSURE;
        s.p++;
        scan_ws(&s);
        int match = !decided && klen == nlen && memcmp(k, name, nlen) == 0;
        if (match && s.p < s.end && *s.p == '"') {
            if (scan_string(&s, &v, &n, &vesc) || vesc)
                return SCAN_UNSURE;
            *value = v;
            *vlen = n;
            found = 1;
        } else if (scan_value(&s, 1)) {
            return SCAN_UNSURE;
        }
        decided |= match;
        scan_ws(&s);
        if (s.p >= s.end)
            return SCAN_UNSURE;
        if (*s.p == '}')
            return found;
        if (*s.p != ',')
            return SCAN_UNSURE;
        s.p++;
        scan_ws(&s);
    }
}

int json_object_string(const char *data, size_t len, const char *name, char *out, size_t cap)
{
    const char *v = NULL;
    size_t n = 0;
    int rc = data ? scan_member(data, len, name, &v, &n) : 0;
    if (rc == SCAN_UNSURE) {
        cJSON *j = cJSON_ParseWithLength(data, len);
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(j, name);
        rc = cJSON_IsString(item);
        if (rc) {
            v = item->valuestring;
            n = strlen(v);
        }
        if (rc && n > 0 && n < cap)
            memcpy(out, v, n + 1);
        cJSON_Delete(j);
        return rc && n > 0 && n < cap;
    }
    if (rc != 1 || n == 0 || n >= cap)
        return 0;
    memcpy(out, v, n);
    out[n] = '\0';
    return 1;
}
