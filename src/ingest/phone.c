/* Phone number normalisation to E.164; the rules and the decisions behind them are described in
 * phone.h, the numbering-plan data is in phone_data.c. */
#include "ingest/phone.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ingest/phone_data.h"

/* E.164 allows at most 15 digits after the '+'. */
#define E164_DIGITS_MAX 15

/* Digits kept while scanning: 15, plus room for an international prefix ("011") and a trunk
 * prefix written after the country code. Any input with more digits is too long whatever it
 * means, so the scanner only counts beyond this. */
#define SCAN_DIGITS_MAX 20

/* Room for a candidate reading: a country code prepended to every scanned digit. */
#define READING_MAX (SCAN_DIGITS_MAX + 3)

struct digits {
    char d[SCAN_DIGITS_MAX];
    size_t n; /* digits seen; only the first SCAN_DIGITS_MAX are stored */
    int plus;
};

/* A successful reading: the E.164 digits (without '+') and the country they belong to. */
struct reading {
    char d[E164_DIGITS_MAX];
    size_t n;
    const struct phone_country *country;
};

/* Writes a message when the caller gave room for one; the attribute lets the compiler check
 * every format string against its arguments. */
static void say(char *msg, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *msg, size_t cap, const char *fmt, ...)
{
    va_list ap;

    if (msg == NULL || cap == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
}

static int starts_with(const char *p, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return k <= n && memcmp(p, prefix, k) == 0;
}

/* Byte length of the whitespace character at p (ASCII whitespace or one of the Unicode spaces
 * that spreadsheets use as digit group separators: U+00A0, U+2007, U+202F), or 0. */
static size_t space_at(const char *p, size_t n)
{
    static const char *const wide[] = {"\xC2\xA0", "\xE2\x80\x87", "\xE2\x80\xAF"};
    unsigned char c = (unsigned char)p[0];

    /* Called on most characters of every number: ASCII is decided without a library call. */
    if (c < 0x80)
        return c == ' ' || (c >= '\t' && c <= '\r');
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
        if (starts_with(p, n, wide[i]))
            return strlen(wide[i]);
    return 0;
}

/* The same test at the end of p[0..n), for trimming. */
static size_t space_before(const char *p, size_t n)
{
    for (size_t k = 1; k <= 3 && k <= n; k++)
        if (space_at(p + n - k, k) == k)
            return k;
    return 0;
}

/* Byte length of the formatting character at p, or 0: whitespace, the ASCII separators people
 * type, and the typographic dashes word processors substitute for '-' (U+2010 to U+2015,
 * U+2212). */
static size_t separator_at(const char *p, size_t n)
{
    size_t k = space_at(p, n);

    if (k > 0)
        return k;
    switch (p[0]) {
    case '-':
    case '.':
    case '(':
    case ')':
    case '/':
        return 1;
    }
    if (n >= 3 && starts_with(p, n, "\xE2\x80") && (unsigned char)p[2] >= 0x90 &&
        (unsigned char)p[2] <= 0x95)
        return 3;
    if (starts_with(p, n, "\xE2\x88\x92"))
        return 3;
    return 0;
}

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int starts_with_nocase(const char *p, size_t n, const char *word)
{
    size_t k = strlen(word);

    if (k > n)
        return 0;
    for (size_t i = 0; i < k; i++)
        if (ascii_lower(p[i]) != word[i])
            return 0;
    return 1;
}

/* Length of an extension written at p ("x123", "ext. 5", "extension: 12", "#12"), or 0. A
 * marker must be followed by digits, so "555-XXXX" is reported as a bad character instead. */
static size_t extension_at(const char *p, size_t n)
{
    static const char *const markers[] = {"extension", "ext", "x", "#"};
    size_t i = 0, start;

    for (size_t m = 0; m < sizeof markers / sizeof markers[0]; m++) {
        if (starts_with_nocase(p, n, markers[m])) {
            i = strlen(markers[m]);
            break;
        }
    }
    if (i == 0)
        return 0;
    while (i < n && p[i] != '\0' && strchr(".:= ", p[i]) != NULL)
        i++;
    start = i;
    while (i < n && p[i] >= '0' && p[i] <= '9')
        i++;
    return i > start ? i : 0;
}

/* Decodes one UTF-8 character at p; returns its length and sets *cp, or 0 if p does not start
 * with a valid (shortest-form, non-surrogate) sequence. */
static size_t utf8_decode(const unsigned char *p, size_t n, unsigned *cp)
{
    size_t len;
    unsigned min;

    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        len = 2, *cp = p[0] & 0x1Fu, min = 0x80;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        len = 3, *cp = p[0] & 0x0Fu, min = 0x800;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        len = 4, *cp = p[0] & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (p[i] & 0x3Fu);
    }
    if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
        return 0;
    return len;
}

/* Names the offending character so the user can find it in the cell. */
static int bad_char(const char *p, size_t n, char *msg, size_t cap)
{
    static const char allowed[] = "use only digits, one leading + and spaces or - . ( ) /";
    unsigned char c = (unsigned char)p[0];
    unsigned cp;
    size_t k;

    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        say(msg, cap, "contains the letter \"%c\", which is not allowed: %s", c, allowed);
    else if (c > 0x20 && c < 0x7F)
        say(msg, cap, "contains \"%c\", which is not allowed: %s", c, allowed);
    else if (c < 0x80)
        say(msg, cap, "contains the control character U+%04X, which is not allowed: %s", c,
            allowed);
    else if ((k = utf8_decode((const unsigned char *)p, n, &cp)) > 0)
        say(msg, cap, "contains \"%.*s\" (U+%04X), which is not allowed: %s", (int)k, p, cp,
            allowed);
    else
        say(msg, cap, "contains the byte 0x%02X, which is not valid UTF-8 text", c);
    return PHONE_E_BAD_CHAR;
}

/* Collects the digits of s, skipping formatting, and rejects everything else. */
static int scan(const char *s, size_t n, struct digits *out, char *msg, size_t cap)
{
    size_t i = 0, k;

    while (i < n) {
        if (s[i] >= '0' && s[i] <= '9') {
            if (out->n < SCAN_DIGITS_MAX)
                out->d[out->n] = s[i];
            out->n++;
            i++;
        } else if ((k = separator_at(s + i, n - i)) > 0) {
            i += k;
        } else if (s[i] == '+') {
            if (out->plus) {
                say(msg, cap, "has more than one \"+\": write a single + before the country code");
                return PHONE_E_BAD_CHAR;
            }
            if (out->n > 0) {
                say(msg, cap, "has a \"+\" after digits: + may only come before the country code");
                return PHONE_E_BAD_CHAR;
            }
            out->plus = 1;
            i++;
        } else if ((k = extension_at(s + i, n - i)) > 0) {
            say(msg, cap,
                "has an extension (%.*s): extensions are not supported, so keep only the "
                "main number",
                (int)k, s + i);
            return PHONE_E_EXTENSION;
        } else {
            return bad_char(s + i, n - i, msg, cap);
        }
    }
    return 0;
}

/* The main row of a calling code (the first row with that code), or NULL. */
static const struct phone_country *main_row(unsigned code)
{
    unsigned row = code < 1000 ? phone_data_code_row[code] : 0;
    return row ? &phone_data_countries[row - 1] : NULL;
}

/* The calling code that begins d. E.164 codes are prefix-free (no code is the beginning of
 * another), so the first match on 1, 2 or 3 digits is the only one. */
static const struct phone_country *find_code(const char *d, size_t n, size_t *code_len)
{
    unsigned code = 0;

    if (n == 0 || d[0] == '0')
        return NULL;
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        const struct phone_country *c;
        code = code * 10 + (unsigned)(d[k - 1] - '0');
        c = main_row(code);
        if (c != NULL) {
            *code_len = k;
            return c;
        }
    }
    return NULL;
}

/* 1 if a known calling code is longer than d[0..n) and begins with it ("+4" of "+44"). */
static int code_incomplete(const char *d, size_t n)
{
    for (size_t i = 0; i < phone_data_count; i++) {
        char code[8];
        int k = snprintf(code, sizeof code, "%u", phone_data_countries[i].code);
        if ((size_t)k > n && memcmp(code, d, n) == 0)
            return 1;
    }
    return 0;
}

static int code_error(const char *d, size_t n, char *msg, size_t cap)
{
    if (n == 0) {
        say(msg, cap, "too short: the country code is missing");
        return PHONE_E_TOO_SHORT;
    }
    if (n < 3 && code_incomplete(d, n)) {
        say(msg, cap, "too short: +%.*s is not a complete country code", (int)n, d);
        return PHONE_E_TOO_SHORT;
    }
    say(msg, cap, "+%.*s is not a country calling code", (int)(n < 3 ? n : 3), d);
    return PHONE_E_UNKNOWN_CODE;
}

/* 1 if nsn begins with one of the space-separated prefixes in list. */
static int has_prefix_in(const char *list, const char *nsn, size_t n)
{
    const char *p = list;

    while (*p == ' ')
        p++;
    while (*p != '\0') {
        size_t k = 0;
        while (k < n && p[k] == nsn[k])
            k++;
        if (p[k] == ' ' || p[k] == '\0')
            return 1;
        while (*p != ' ' && *p != '\0')
            p++;
        while (*p == ' ')
            p++;
    }
    return 0;
}

/* The country of a national significant number within its calling code's plan. The North
 * American members (every +1 number) are found by area code in an index; the few other shared
 * codes walk their members' lists. */
static const struct phone_country *find_member(const struct phone_country *plan, const char *nsn,
                                               size_t n)
{
    const struct phone_country *end = phone_data_countries + phone_data_count;

    if (plan->code == 1) {
        if (n < 3 || nsn[0] < '2')
            return plan;
        return plan + phone_data_nanp_member[(nsn[0] - '0') * 100 + (nsn[1] - '0') * 10 +
                                             (nsn[2] - '0') - 200];
    }
    for (const struct phone_country *c = plan + 1; c < end && c->code == plan->code; c++)
        if (c->prefixes != NULL && has_prefix_in(c->prefixes, nsn, n))
            return c;
    return plan;
}

/* Writes the allowed lengths as "10", "9 to 10" or "7 or 9" (lists use commas and "or"). */
static void describe_lengths(unsigned lengths, char *buf, size_t cap)
{
    unsigned lo = 0, hi = 0, count = 0, seen = 0;
    size_t used = 0;

    for (unsigned i = 0; i <= E164_DIGITS_MAX; i++) {
        if (lengths & (1u << i)) {
            if (count++ == 0)
                lo = i;
            hi = i;
        }
    }
    if (count == 1) {
        snprintf(buf, cap, "%u", lo);
        return;
    }
    if (count == hi - lo + 1) {
        snprintf(buf, cap, "%u to %u", lo, hi);
        return;
    }
    buf[0] = '\0';
    for (unsigned i = lo; i <= hi && used < cap; i++) {
        const char *sep = ", ";
        if (!(lengths & (1u << i)))
            continue;
        if (++seen == 1)
            sep = "";
        else if (seen == count)
            sep = " or ";
        used += (size_t)snprintf(buf + used, cap - used, "%s%u", sep, i);
    }
}

/* Checks a national significant number against its plan: length, then the NANP rules. */
static int check_nsn(const struct phone_country *plan, const char *nsn, size_t n,
                     const struct phone_country **country, char *msg, size_t cap)
{
    const struct phone_country *c = find_member(plan, nsn, n);

    if (n > E164_DIGITS_MAX || !(c->lengths & (1u << n))) {
        char need[48];
        int too_long = n > E164_DIGITS_MAX || (1u << n) > c->lengths;
        describe_lengths(c->lengths, need, sizeof need);
        say(msg, cap, "too %s for +%u: needs %s digits, got %zu", too_long ? "long" : "short",
            plan->code, need, n);
        return too_long ? PHONE_E_TOO_LONG : PHONE_E_TOO_SHORT;
    }
    /* The North American plan reserves area (NPA) and exchange (NXX) codes starting with 0 or 1
     * for other uses, so such a number cannot be dialled. */
    if (plan->code == 1 && nsn[0] < '2') {
        say(msg, cap, "+1 area code cannot start with 0 or 1");
        return PHONE_E_NANP;
    }
    if (plan->code == 1 && nsn[3] < '2') {
        say(msg, cap, "+1 exchange code cannot start with 0 or 1");
        return PHONE_E_NANP;
    }
    *country = c;
    return 0;
}

/* Reads d as international digits (what follows a '+'). With strip_trunk, a trunk prefix written
 * after the code of a country whose trunk prefix begins with 0 is removed (see phone.h). */
static int read_international(const char *d, size_t n, int strip_trunk, struct reading *r,
                              char *msg, size_t cap)
{
    size_t code_len = 0;
    const struct phone_country *plan = find_code(d, n, &code_len);
    const char *nsn;
    size_t nsn_len;
    int stripped = 0, rc;

    if (plan == NULL)
        return code_error(d, n, msg, cap);
    nsn = d + code_len;
    nsn_len = n - code_len;
    if (plan->trunk[0] == '0' && strip_trunk && nsn_len > 0 && nsn[0] == '0' &&
        starts_with(nsn, nsn_len, plan->trunk)) {
        nsn += strlen(plan->trunk);
        nsn_len -= strlen(plan->trunk);
        stripped = 1;
    }
    /* Where the trunk prefix begins with 0, no national significant number does. */
    if (plan->trunk[0] == '0' && nsn_len > 0 && nsn[0] == '0') {
        say(msg, cap,
            "cannot have 0 right after +%u: the 0 is only dialled inside the country, so "
            "leave it out",
            plan->code);
        return PHONE_E_TRUNK;
    }
    if (stripped) {
        char why[128];
        rc = check_nsn(plan, nsn, nsn_len, &r->country, why, sizeof why);
        if (rc < 0) {
            say(msg, cap,
                "the %s after +%u is only dialled inside the country, and without it the "
                "number is %s",
                plan->trunk, plan->code, why);
            return PHONE_E_TRUNK;
        }
    } else {
        rc = check_nsn(plan, nsn, nsn_len, &r->country, msg, cap);
        if (rc < 0)
            return rc;
    }
    /* The table keeps every code plus its longest NSN within 15 digits (the unit test checks
     * it); this guard keeps a bad edit of the table from overflowing the buffers. */
    if (code_len + nsn_len > E164_DIGITS_MAX) {
        say(msg, cap, "too long: a phone number has at most %d digits", E164_DIGITS_MAX);
        return PHONE_E_TOO_LONG;
    }
    if (stripped) {
        memcpy(r->d, d, code_len);
        memcpy(r->d + code_len, nsn, nsn_len);
    } else {
        memcpy(r->d, d, n); /* the code and the NSN as they follow each other */
    }
    r->n = code_len + nsn_len;
    return 0;
}

/* Reads digits written without '+' in the context of a default country; the order of the
 * readings is explained in phone.h. The first reading's error is the one reported, as it is
 * what the user most likely meant. */
static int read_national(const struct phone_country *home, const char *d, size_t n,
                         struct reading *r, char *msg, size_t cap)
{
    char tries[3][READING_MAX];
    size_t lens[3];
    int strip[3];
    size_t count = 0, trunk_len = strlen(home->trunk);
    char code[4];
    size_t code_len = (size_t)snprintf(code, sizeof code, "%u", home->code);
    int has_code = n > code_len && memcmp(d, code, code_len) == 0;
    int rc = 0;

    if (trunk_len > 0 && starts_with(d, n, home->trunk)) {
        memcpy(tries[count], code, code_len);
        memcpy(tries[count] + code_len, d + trunk_len, n - trunk_len);
        lens[count] = code_len + n - trunk_len;
        strip[count++] = 0;
    }
    if (trunk_len > 0 && has_code) {
        memcpy(tries[count], d, n);
        lens[count] = n;
        strip[count++] = 1;
    }
    memcpy(tries[count], code, code_len);
    memcpy(tries[count] + code_len, d, n);
    lens[count] = code_len + n;
    strip[count++] = 0;
    if (trunk_len == 0 && has_code) {
        memcpy(tries[count], d, n);
        lens[count] = n;
        strip[count++] = 1;
    }
    for (size_t i = 0; i < count; i++) {
        int this_rc = read_international(tries[i], lens[i], strip[i], r, i == 0 ? msg : NULL,
                                         i == 0 ? cap : 0);
        if (this_rc == 0)
            return 0;
        if (i == 0)
            rc = this_rc;
    }
    return rc;
}

/* Digits with neither '+' nor a default country: accepted only when they are exactly a valid
 * international number that cannot also be read as a North American national number. */
static int read_bare(const char *d, size_t n, struct reading *r, char *msg, size_t cap)
{
    char as_nanp[E164_DIGITS_MAX + 1];
    struct reading nanp;
    int is_nanp = 0, rc;

    if (n > E164_DIGITS_MAX) {
        say(msg, cap, "too long: a phone number has at most %d digits, got %zu", E164_DIGITS_MAX,
            n);
        return PHONE_E_TOO_LONG;
    }
    if (n == 10) {
        as_nanp[0] = '1';
        memcpy(as_nanp + 1, d, n);
        is_nanp = read_international(as_nanp, n + 1, 0, &nanp, NULL, 0) == 0;
    }
    rc = read_international(d, n, 0, r, NULL, 0);
    if (rc == 0 && !is_nanp)
        return 0;
    if (rc == 0)
        say(msg, cap,
            "is ambiguous without a country: it could be +1%.*s (North America) or +%.*s; "
            "write it with + and the country code, or set defaultCountry",
            (int)n, d, (int)n, d);
    else if (is_nanp)
        say(msg, cap,
            "has no country code: write it as +1%.*s if it is a US or Canadian number, or "
            "with + and its country code, or set defaultCountry",
            (int)n, d);
    else
        say(msg, cap,
            "has no country code: write it with + and the country code (like +44 20 7946 "
            "0958), or set defaultCountry to read national numbers");
    return PHONE_E_NEEDS_COUNTRY;
}

static const struct phone_country *find_country(const char *iso2, size_t len)
{
    if (iso2 == NULL || len != 2)
        return NULL;
    for (size_t i = 0; i < phone_data_count; i++) {
        const char *c = phone_data_countries[i].iso2;
        if (c[0] != '\0' && ascii_lower(iso2[0]) == ascii_lower(c[0]) &&
            ascii_lower(iso2[1]) == ascii_lower(c[1]))
            return &phone_data_countries[i];
    }
    return NULL;
}

int phone_country_known(const char *iso2, size_t len)
{
    return find_country(iso2, len) != NULL;
}

/* Reads what was written: trims it (moving *in and *len), collects its digits and reads them
 * as the '+', the international prefix or the default country say. */
static int read_written(const char **in, size_t *len, const char *default_country, size_t dc_len,
                        struct reading *r, char *msg, size_t msgcap)
{
    const struct phone_country *home = NULL;
    struct digits dg = {{0}, 0, 0};
    size_t k;
    int rc;

    while (*len > 0 && (k = space_at(*in, *len)) > 0)
        *in += k, *len -= k;
    while (*len > 0 && (k = space_before(*in, *len)) > 0)
        *len -= k;
    if (*len == 0) {
        say(msg, msgcap, "is empty");
        return PHONE_E_EMPTY;
    }
    rc = scan(*in, *len, &dg, msg, msgcap);
    if (rc < 0)
        return rc;
    if (dg.n == 0) {
        say(msg, msgcap, "contains no digits");
        return PHONE_E_EMPTY;
    }
    if (dg.n > SCAN_DIGITS_MAX) {
        say(msg, msgcap, "too long: a phone number has at most %d digits, got %zu", E164_DIGITS_MAX,
            dg.n);
        return PHONE_E_TOO_LONG;
    }
    if (dc_len > 0) {
        home = find_country(default_country, dc_len);
        if (home == NULL) {
            say(msg, msgcap,
                "defaultCountry \"%.*s\" is not a country we know: use a two-letter ISO 3166 "
                "code such as US or GB",
                (int)(dc_len < 16 ? dc_len : 16), default_country);
            return PHONE_E_DEFAULT_COUNTRY;
        }
    }

    if (dg.plus)
        return read_international(dg.d, dg.n, 1, r, msg, msgcap);
    if (starts_with(dg.d, dg.n, "00"))
        return read_international(dg.d + 2, dg.n - 2, 1, r, msg, msgcap);
    if (home != NULL && home->code == 1 && starts_with(dg.d, dg.n, "011"))
        return read_international(dg.d + 3, dg.n - 3, 1, r, msg, msgcap);
    if (home != NULL)
        return read_national(home, dg.d, dg.n, r, msg, msgcap);
    return read_bare(dg.d, dg.n, r, msg, msgcap);
}

/* 1 if the eight bytes at p are all ASCII digits (a byte outside '0'..'9' has a high nibble
 * other than 3, or becomes one when 6 is added). */
static int eight_digits(const char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return ((w & 0xF0F0F0F0F0F0F0F0ull) |
            (((w + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4)) == 0x3333333333333333ull;
}

/* 1 if in[0..len) is '+' and 1 to 15 digits: a number already written as E.164. */
static int plain_e164(const char *in, size_t len)
{
    if (len < 2 || len > E164_DIGITS_MAX + 1 || in[0] != '+')
        return 0;
    if (len > 8) /* two words that overlap cover every digit */
        return eight_digits(in + 1) && eight_digits(in + len - 8);
    for (size_t i = 1; i < len; i++)
        if (in[i] < '0' || in[i] > '9')
            return 0;
    return 1;
}

int phone_parse(const char *in, size_t len, const char *default_country, size_t dc_len,
                struct phone_number *out, char *msg, size_t msgcap)
{
    struct reading r = {{0}, 0, NULL};
    int rc, as_written = 0;

    memset(out, 0, sizeof *out);
    if (msgcap > 0)
        msg[0] = '\0';
    /* Most cells of an upload are already E.164: their digits are read as they are, which is
     * what the scanner would give. (With a default country the general path runs, since it
     * checks that country first.) */
    if (dc_len == 0 && plain_e164(in, len)) {
        rc = read_international(in + 1, len - 1, 1, &r, msg, msgcap);
        as_written = 1; /* the digits as they came, or fewer when a trunk 0 was dropped */
    } else {
        rc = read_written(&in, &len, default_country, dc_len, &r, msg, msgcap);
    }
    if (rc < 0)
        return rc;

    if (msgcap > 0)
        msg[0] = '\0'; /* a reading tried first may have left its message */
    out->e164[0] = '+';
    memcpy(out->e164 + 1, r.d, sizeof r.d); /* a fixed size: no call; the NUL cuts it */
    out->e164[r.n + 1] = '\0';
    out->len = r.n + 1;
    memcpy(out->country, r.country->iso2, sizeof out->country);
    out->normalized = out->len != len || (!as_written && memcmp(out->e164, in, len) != 0);
    return 0;
}

const char *phone_strerror(int err)
{
    switch (err) {
    case 0:
        return "ok";
    case PHONE_E_EMPTY:
        return "phone number is empty";
    case PHONE_E_BAD_CHAR:
        return "phone number contains a character that is not allowed";
    case PHONE_E_EXTENSION:
        return "phone extensions are not supported";
    case PHONE_E_NEEDS_COUNTRY:
        return "national number without a country code";
    case PHONE_E_UNKNOWN_CODE:
        return "unknown country calling code";
    case PHONE_E_TOO_SHORT:
        return "phone number too short";
    case PHONE_E_TOO_LONG:
        return "phone number too long: at most 15 digits";
    case PHONE_E_NANP:
        return "invalid North American area or exchange code";
    case PHONE_E_TRUNK:
        return "trunk prefix 0 written after the country code";
    case PHONE_E_DEFAULT_COUNTRY:
        return "unknown default country";
    }
    return "unknown phone number error";
}
