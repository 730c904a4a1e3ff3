/* application/x-www-form-urlencoded encoding and decoding, as Twilio sends and expects it. */
#include "provider/form.h"

#include <limits.h>
#include <string.h>

#include "util/err.h"
#include "util/num.h"

/* RFC 3986 unreserved characters pass through; everything else is escaped, so the encoding is
 * the same whichever decoder reads it. A table: form_escape asks for every byte of a create
 * request's TwiML and callback URL. */
static const unsigned char unreserved[256] = {
    ['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1,
    ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['A'] = 1, ['B'] = 1,
    ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1,
    ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

/* Decodes the character at s[i], storing it in *c. Returns how many input bytes it used. */
static size_t decode_at(const char *s, size_t len, size_t i, char *c)
{
    if (s[i] == '+') {
        *c = ' ';
        return 1;
    }
    if (s[i] == '%' && i + 2 < len) {
        int hi = num_hex_digit(s[i + 1]), lo = num_hex_digit(s[i + 2]);
        if (hi >= 0 && lo >= 0) {
            *c = (char)(hi << 4 | lo);
            return 3;
        }
    }
    *c = s[i];
    return 1;
}

int form_escape(struct buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    /* Worst case every byte becomes %XX; reserving once keeps the loop free of error paths. */
    int rc = buf_reserve_each(b, len, 3);
    if (rc || len == 0)
        return rc;
    char *out = b->data + b->len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved[c]) {
            *out++ = (char)c;
        } else {
            out[0] = '%';
            out[1] = hex[c >> 4];
            out[2] = hex[c & 15];
            out += 3;
        }
    }
    b->len = (size_t)(out - b->data);
    return 0;
}

int form_append(struct buf *b, const char *name, const char *value)
{
    int rc = 0;
    if (b->len > 0)
        rc = buf_append(b, "&", 1);
    if (!rc)
        rc = form_escape(b, name, strlen(name));
    if (!rc)
        rc = buf_append(b, "=", 1);
    if (!rc && value)
        rc = form_escape(b, value, strlen(value));
    return rc;
}

int form_next(const char *body, size_t len, size_t *pos, struct form_pair *p)
{
    while (*pos < len) {
        const char *start = body + *pos;
        const char *amp = memchr(start, '&', len - *pos);
        size_t seg = amp ? (size_t)(amp - start) : len - *pos;
        *pos += seg + (amp ? 1 : 0);
        if (seg == 0)
            continue;
        const char *eq = memchr(start, '=', seg);
        p->name = start;
        p->name_len = eq ? (size_t)(eq - start) : seg;
        p->value = eq ? eq + 1 : start + seg;
        p->value_len = eq ? seg - p->name_len - 1 : 0;
        return 1;
    }
    return 0;
}

size_t form_decode(const char *s, size_t len, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len;)
        i += decode_at(s, len, i, &out[n++]);
    return n;
}

static size_t decoded_len(const char *s, size_t len)
{
    size_t n = 0;
    char c;
    for (size_t i = 0; i < len; n++)
        i += decode_at(s, len, i, &c);
    return n;
}

/* Compares an encoded name with a plain one without decoding into a buffer. */
static int name_matches(const char *raw, size_t len, const char *name)
{
    size_t j = 0;
    for (size_t i = 0; i < len; j++) {
        char c;
        i += decode_at(raw, len, i, &c);
        if (name[j] == '\0' || name[j] != c)
            return 0;
    }
    return name[j] == '\0';
}

/* Whether an encoded name decodes to itself: no escape and no '+'. */
static int is_plain(const char *raw, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (raw[i] == '%' || raw[i] == '+')
            return 0;
    return 1;
}

void form_find(const char *body, size_t len, struct form_field *fields, size_t n)
{
    size_t pos = 0, left = n;
    struct form_pair p;
    for (size_t i = 0; i < n; i++) {
        fields[i].value = NULL;
        fields[i].name_len = strlen(fields[i].name);
        fields[i].decoded = 0;
    }
    while (left > 0 && form_next(body, len, &pos, &p)) {
        /* A plain name (the usual case) matches only a name of its length, compared as bytes. */
        int plain = is_plain(p.name, p.name_len);
        for (size_t i = 0; i < n; i++) {
            struct form_field *f = &fields[i];
            if (f->value)
                continue;
            if (plain ? f->name_len != p.name_len || memcmp(f->name, p.name, p.name_len)
                      : !name_matches(p.name, p.name_len, f->name))
                continue;
            f->value = p.value;
            f->value_len = p.value_len;
            left--;
        }
    }
}

int form_value(const struct form_field *f, char *out, size_t cap)
{
    if (!f->value)
        return BC_ENOTFOUND;
    if (f->decoded) {
        if (f->value_len >= cap || f->value_len > INT_MAX)
            return BC_ETOOBIG;
        memcpy(out, f->value, f->value_len);
        out[f->value_len] = '\0';
        return (int)f->value_len;
    }
    /* Measure first so an oversized value never writes past cap. */
    size_t n = decoded_len(f->value, f->value_len);
    if (n >= cap || n > INT_MAX)
        return BC_ETOOBIG;
    out[form_decode(f->value, f->value_len, out)] = '\0';
    return (int)n;
}

int form_get(const char *body, size_t len, const char *name, char *out, size_t cap)
{
    struct form_field f = {.name = name};
    form_find(body, len, &f, 1);
    return form_value(&f, out, cap);
}
