/* Incremental RFC 4180 CSV parser; see csv.h for the contract.
 *
 * Two phases. Until the header line is complete, bytes are buffered and scanned one at a time
 * to count candidate delimiters. Once the delimiter is known, the buffered header and everything
 * after it go through the streaming row parser.
 *
 * The row parser has two paths. The fast path takes whole rows that lie inside the current
 * chunk and need no unescaping or transcoding (nearly every row of a real file) and delivers
 * them with field pointers into the chunk, copying nothing: it marks the delimiters, quotes and
 * line ends of 64 bytes at a time in a bitmask and walks the set bits, so a field costs a few
 * instructions. Every other row goes through a small state machine that copies runs of field
 * data into the row buffer with one memcpy each, finding the end of a run sixteen or eight
 * bytes at a time. The state machine's state survives between chunks, which is what makes any
 * split point give the same rows; the unit tests check that both paths agree by feeding every
 * input whole and byte by byte. */
#include "csv.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv_scan.h"
#include "util/err.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* States of the row parser between two bytes. */
enum {
    ST_LINE_START,  /* before the first byte of a row; blank lines are skipped here */
    ST_FIELD_START, /* right after a delimiter */
    ST_UNQUOTED,
    ST_QUOTED,
    ST_QUOTE,      /* a quote inside a quoted field: either the first of "" or the closing one */
    ST_AFTER_QUOTE /* after a closing quote: only spaces/tabs may come before the delimiter */
};

/* States of the header scanner. A quote opens a quoted field after any candidate delimiter,
 * because the real one is not known yet. */
enum { HS_BLANK, HS_FIELD_START, HS_UNQUOTED, HS_QUOTED, HS_QUOTE };

#define BOM_LEN 3
static const unsigned char utf8_bom[BOM_LEN] = {0xEF, 0xBB, 0xBF};

static const char candidate_delims[3] = {',', ';', '\t'};

/* Windows-1252 code points for 0x80..0x9F; the five undefined bytes map to U+FFFD. Every other
 * byte has the same value as its code point. */
static const uint16_t cp1252_high[32] = {
    0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Non-zero if some byte of w is zero; exact as a yes/no answer. */
static uint64_t has_zero_byte(uint64_t w)
{
    return (w - ONES) & ~w & HIGHS;
}

/* Loads eight bytes so that the first one in memory is the lowest-order byte on any machine. */
static uint64_t load_le64(const unsigned char *s)
{
    uint64_t w;
    memcpy(&w, s, sizeof w);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* Returns the first byte in [s, end) that is stop, CR, LF or NUL (the bytes that end a run of
 * field data), or end. The parser spends most of its time here, so bytes are tested sixteen at a
 * time with SSE2 where the compiler targets it (every x86-64), then eight at a time in a 64-bit
 * word. Sets *high if a skipped byte is not ASCII, so that fields without such bytes need no
 * UTF-8 check. Inlined into its callers: the constants it builds are then made once per row,
 * not once per field. */
static inline __attribute__((always_inline)) const unsigned char *
span(const unsigned char *s, const unsigned char *end, unsigned char stop, int *high)
{
    const uint64_t stops = ONES * stop, crs = ONES * '\r', lfs = ONES * '\n';
    uint64_t seen = 0;
#ifdef __SSE2__
    const __m128i vstop = _mm_set1_epi8((char)stop), vcr = _mm_set1_epi8('\r'),
                  vlf = _mm_set1_epi8('\n'), vnul = _mm_setzero_si128();
    unsigned wide_high = 0;
    while (end - s >= 16) {
        __m128i w = _mm_loadu_si128((const __m128i *)(const void *)s);
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(w, vstop), _mm_cmpeq_epi8(w, vcr)),
                                   _mm_or_si128(_mm_cmpeq_epi8(w, vlf), _mm_cmpeq_epi8(w, vnul)));
        unsigned hits = (unsigned)_mm_movemask_epi8(hit), highs = (unsigned)_mm_movemask_epi8(w);
        if (hits) {
            unsigned k = (unsigned)__builtin_ctz(hits);
            wide_high |= highs & ((1u << k) - 1);
            s += k;
            if (wide_high)
                *high = 1;
            return s;
        }
        wide_high |= highs;
        s += 16;
    }
    if (wide_high)
        *high = 1;
#endif
    while (end - s >= 8) {
        uint64_t w = load_le64(s);
        uint64_t flags = has_zero_byte(w) | has_zero_byte(w ^ stops) | has_zero_byte(w ^ crs) |
                         has_zero_byte(w ^ lfs);
        if (flags) {
            /* The lowest flag is always a real match: false flags only appear above one. */
            unsigned k = (unsigned)__builtin_ctzll(flags) / 8;
            seen |= w & ((1ull << (8 * k)) - 1);
            s += k;
            goto done;
        }
        seen |= w;
        s += 8;
    }
    while (s < end && *s != stop && *s != '\r' && *s != '\n' && *s != 0)
        seen |= *s++;
done:
    if (seen & HIGHS)
        *high = 1;
    return s;
}

static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* Contact data is mostly ASCII: skip it eight bytes at a time. */
        if (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, sizeof w);
            if ((w & HIGHS) == 0) {
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        /* The bounds on the second byte reject overlong forms (E0, F0), surrogates (ED) and
         * code points above U+10FFFF (F4); C0, C1 and F5..FF never start a valid sequence. */
        size_t more;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            more = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            more = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            more = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            return 0;
        }
        if (n - i <= more || s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= more; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        }
        i += more + 1;
    }
    return 1;
}

static uint32_t cp1252_code_point(unsigned char c)
{
    return c >= 0x80 && c < 0xA0 ? cp1252_high[c - 0x80] : c;
}

static size_t utf8_length(uint32_t cp)
{
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3;
}

static void row_fail(struct csv_parser *p, int error)
{
    if (p->row_error == CSV_ROW_OK)
        p->row_error = error;
}

/* Makes room for need bytes in the row buffer, growing it up to max_row. */
static int reserve(struct csv_parser *p, size_t need)
{
    if (need <= p->cap)
        return 0;
    if (need > p->lim.max_row) {
        row_fail(p, CSV_ROW_TOO_LONG);
        return BC_ETOOBIG;
    }
    size_t cap = p->cap;
    while (cap < need)
        cap = cap > p->lim.max_row / 2 ? p->lim.max_row : cap * 2;
    char *b = realloc(p->buf, cap);
    if (!b) {
        /* Reported when the row ends; failing the row stops further copying until then. */
        p->fatal = CSV_E_NOMEM;
        row_fail(p, CSV_ROW_TOO_LONG);
        return BC_ENOMEM;
    }
    p->buf = b;
    p->cap = cap;
    return 0;
}

static void field_append(struct csv_parser *p, const unsigned char *s, size_t n)
{
    /* Once a row has failed, the rest of it is only parsed to find where it ends. */
    if (p->row_error != CSV_ROW_OK)
        return;
    size_t field_room = p->lim.max_field - (p->len - p->field_start);
    size_t row_room = p->lim.max_row - p->len;
    if (n > field_room || n > row_room) {
        /* Report the limit the bytes reach first, so that the error does not depend on how
         * the input happened to be split into chunks. */
        row_fail(p, row_room < field_room ? CSV_ROW_TOO_LONG : CSV_ROW_FIELD_TOO_LONG);
        return;
    }
    if (reserve(p, p->len + n) != 0)
        return;
    memcpy(p->buf + p->len, s, n);
    p->len += n;
}

/* Rewrites the current field from Windows-1252 to UTF-8 in place. */
static int transcode_field(struct csv_parser *p)
{
    size_t n = p->len - p->field_start, out = 0;
    for (size_t i = 0; i < n; i++)
        out += utf8_length(cp1252_code_point((unsigned char)p->buf[p->field_start + i]));
    if (reserve(p, p->field_start + out) != 0)
        return BC_ETOOBIG;
    /* Each byte becomes one to three bytes, so filling from the end backwards never
     * overwrites a byte that has not been read yet. */
    unsigned char *f = (unsigned char *)p->buf + p->field_start;
    size_t w = out;
    for (size_t i = n; i-- > 0;) {
        uint32_t cp = cp1252_code_point(f[i]);
        if (cp < 0x80) {
            f[--w] = (unsigned char)cp;
        } else if (cp < 0x800) {
            f[--w] = (unsigned char)(0x80 | (cp & 0x3F));
            f[--w] = (unsigned char)(0xC0 | (cp >> 6));
        } else {
            f[--w] = (unsigned char)(0x80 | (cp & 0x3F));
            f[--w] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            f[--w] = (unsigned char)(0xE0 | (cp >> 12));
        }
    }
    p->len = p->field_start + out;
    p->windows1252 = 1;
    return 0;
}

static void field_end(struct csv_parser *p)
{
    if (p->row_error != CSV_ROW_OK)
        return;
    if (p->nfields == p->lim.max_columns) {
        row_fail(p, CSV_ROW_TOO_MANY_COLUMNS);
        return;
    }
    const unsigned char *f = (const unsigned char *)p->buf + p->field_start;
    int fix = p->field_high && !utf8_valid(f, p->len - p->field_start);
    p->field_high = 0;
    if (fix && transcode_field(p) != 0)
        return;
    p->fields[p->nfields++].len = p->len - p->field_start;
    p->field_start = p->len;
}

static int header_error(int row_error)
{
    switch (row_error) {
    case CSV_ROW_FIELD_TOO_LONG:
        return CSV_E_HEADER_FIELD_TOO_LONG;
    case CSV_ROW_TOO_MANY_COLUMNS:
        return CSV_E_HEADER_TOO_MANY_COLUMNS;
    case CSV_ROW_NUL_BYTE:
        return CSV_E_HEADER_NUL;
    case CSV_ROW_BAD_QUOTE:
        return CSV_E_HEADER_BAD_QUOTE;
    case CSV_ROW_UNTERMINATED_QUOTE:
        return CSV_E_HEADER_UNTERMINATED_QUOTE;
    default:
        return CSV_E_HEADER_TOO_LONG;
    }
}

/* Delivers the current row, whose fields[] point at their bytes, and clears it. */
static int deliver(struct csv_parser *p)
{
    struct csv_row r;
    if (!p->have_header) {
        if (p->row_error != CSV_ROW_OK)
            return header_error(p->row_error);
        p->have_header = 1;
        p->header_nfields = p->nfields;
        r.row = 0;
    } else {
        /* A row shorter than the header lacks only empty fields at its end: spreadsheets and
         * hand-written files often drop trailing empty cells. It is read as if they were
         * there. (A longer row is still an error: which field is extra cannot be known.) */
        while (p->row_error == CSV_ROW_OK && p->nfields < p->header_nfields) {
            p->fields[p->nfields].ptr = "";
            p->fields[p->nfields++].len = 0;
        }
        if (p->row_error == CSV_ROW_OK && p->nfields != p->header_nfields)
            p->row_error = CSV_ROW_COLUMN_COUNT;
        r.row = ++p->rows;
    }
    r.line = p->row_line;
    r.fields = p->fields;
    r.nfields = p->nfields;
    r.error = p->row_error;
    int rc = p->fn(p->ctx, &r);
    p->len = 0;
    p->field_start = 0;
    p->nfields = 0;
    p->field_high = 0;
    p->row_error = CSV_ROW_OK;
    return rc;
}

/* Delivers the row built in the buffer. */
static int row_emit(struct csv_parser *p)
{
    if (p->fatal)
        return p->fatal;
    /* Fields lie back to back in the buffer, which may have moved while the row grew, so
     * pointers are only computed now. */
    size_t off = 0;
    for (size_t i = 0; i < p->nfields; i++) {
        p->fields[i].ptr = p->buf + off;
        off += p->fields[i].len;
    }
    return deliver(p);
}

/* The line end byte c has just ended a row. */
static int row_end(struct csv_parser *p, unsigned char c)
{
    p->line++;
    p->prev_cr = c == '\r';
    p->state = ST_LINE_START;
    field_end(p);
    return row_emit(p);
}

/* Whether a row's fields are within max_field each and max_row together. */
static int fields_fit(const struct csv_field *f, size_t n, size_t max_field, size_t max_row)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (f[i].len > max_field)
            return 0;
        total += f[i].len;
    }
    return total <= max_row;
}

/* The fast path for the common row: it lies wholly inside the chunk, and its fields are valid
 * UTF-8 within the limits, unquoted or quoted without "" or line breaks. Such rows are delivered
 * one after another with fields pointing into the chunk, copying nothing, together with the
 * blank lines and CRLF line ends between them, until the chunk ends or a row needs the general
 * path. *sp is then moved to that row's start (or end): nothing the general path depends on has
 * changed for that row. Returns the callback's answer for the last row delivered, or 0. */
static int fast_rows(struct csv_parser *p, const unsigned char **sp, const unsigned char *end)
{
    struct csv_scan sc = {.base = *sp, .end = end, .delim = (unsigned char)p->delim};
    const unsigned char delim = sc.delim;
    const unsigned char *s = *sp, *t, *f;
    unsigned char c;
    /* In locals: the stores into fields[] could alias them, so the compiler would reload them
     * for every field. */
    struct csv_field *const fields = p->fields, *const fields_end = fields + p->lim.max_columns;
    const size_t max_field = p->lim.max_field, max_row = p->lim.max_row;
    /* A row no longer than both limits has every field within them. */
    const size_t max_short = max_field < max_row ? max_field : max_row;
    int rc = 0;
    csv_scan_load(&sc);
    while (s < end && rc == 0) {
        if (*s == '\r' || *s == '\n') {
            /* A blank line, or the LF of the CRLF that ended the previous line. */
            csv_scan_peek(&sc);
            csv_scan_pop(&sc);
            if (*s == '\r' || !p->prev_cr)
                p->line++;
            p->prev_cr = *s++ == '\r';
            continue;
        }
        csv_scan_row_start(&sc, s);
        struct csv_field *fp = fields;
        f = s;
        for (;;) {
            const unsigned char *field = f, *fend;
            if ((t = csv_scan_peek(&sc)) == end)
                goto general;
            c = *t;
            if (c == delim) {
                /* The end of an unquoted field: a quote at f would have been found first. */
                fend = t;
            } else if (c == '"' && t == f) {
                csv_scan_pop(&sc);
                field = f + 1;
                /* Delimiters and control bytes inside quotes are data; "" and line breaks
                 * need the general path. */
                while ((t = csv_scan_peek(&sc)) != end && *t != '"' && *t != '\r' && *t != '\n' &&
                       *t != 0)
                    csv_scan_pop(&sc);
                if (t == end || *t != '"')
                    goto general;
                csv_scan_pop(&sc);
                fend = t; /* the closing quote, which must end the field right away */
                if ((t = csv_scan_peek(&sc)) != fend + 1 || t == end)
                    goto general;
                c = *t;
                if (c != delim && c != '\r' && c != '\n')
                    goto general;
            } else if (c == '\r' || c == '\n') {
                fend = t;
            } else if (c == 0) {
                goto general;
            } else {
                /* A quote inside an unquoted field, or a control byte: data. */
                csv_scan_pop(&sc);
                continue;
            }
            size_t len = (size_t)(fend - field);
            if (fp == fields_end)
                goto general;
            fp->ptr = (const char *)field;
            fp->len = len;
            fp++;
            csv_scan_pop(&sc); /* t, the delimiter or line end */
            f = t + 1;
            if (c != delim)
                break;
        }
        size_t n = (size_t)(fp - fields);
        /* The fields' bytes are at most the row's, so most rows need no sum. */
        if ((size_t)(t - s) > max_short && !fields_fit(fields, n, max_field, max_row))
            goto general;
        /* Fields end at ASCII bytes (a delimiter, a quote, a line end), which no valid
         * sequence contains, so the fields are valid UTF-8 exactly when the row is. */
        if (sc.row_high && !utf8_valid(s, (size_t)(t - s)))
            goto general;
        int cr = c == '\r';
        if (cr && f < end && *f == '\n') {
            /* The LF of a CRLF: the same line end. */
            csv_scan_peek(&sc);
            csv_scan_pop(&sc);
            f++;
            cr = 0;
        }
        p->row_line = p->line;
        p->row_ptr = s;
        p->line++;
        p->prev_cr = cr;
        p->nfields = n;
        s = f;
        rc = deliver(p);
    }
general:
    *sp = s;
    return rc;
}

static int parse(struct csv_parser *p, const unsigned char *s, const unsigned char *end)
{
    const unsigned char delim = (unsigned char)p->delim;
    const unsigned char *t;
    int rc;

    while (s < end) {
        unsigned char c = *s;
        switch (p->state) {
        case ST_LINE_START:
            if ((rc = fast_rows(p, &s, end)) != 0)
                return rc;
            if (s == end)
                return 0;
            c = *s;
            p->prev_cr = 0;
            p->row_line = p->line;
            p->row_ptr = s;
            p->state = ST_FIELD_START;
            /* fall through */
        case ST_FIELD_START:
            if (c == '"') {
                p->state = ST_QUOTED;
                s++;
                break;
            }
            p->state = ST_UNQUOTED;
            /* fall through */
        case ST_UNQUOTED:
            t = span(s, end, delim, &p->field_high);
            field_append(p, s, (size_t)(t - s));
            if (t == end)
                return 0;
            c = *t;
            s = t + 1;
            if (c == delim) {
                field_end(p);
                p->state = ST_FIELD_START;
            } else if (c == 0) {
                row_fail(p, CSV_ROW_NUL_BYTE);
            } else if ((rc = row_end(p, c)) != 0) {
                return rc;
            }
            break;
        case ST_QUOTED:
            t = span(s, end, '"', &p->field_high);
            if (t != s) {
                field_append(p, s, (size_t)(t - s));
                p->prev_cr = 0;
            }
            if (t == end)
                return 0;
            c = *t;
            s = t + 1;
            if (c == '"') {
                p->prev_cr = 0;
                p->state = ST_QUOTE;
            } else if (c == 0) {
                p->prev_cr = 0;
                row_fail(p, CSV_ROW_NUL_BYTE);
            } else {
                /* A line break inside quotes is data, yet it still starts a physical line. */
                if (c == '\r' || !p->prev_cr)
                    p->line++;
                p->prev_cr = c == '\r';
                field_append(p, t, 1);
            }
            break;
        case ST_QUOTE:
            if (c == '"') {
                /* "" inside quotes stands for one quote. */
                field_append(p, s, 1);
                s++;
                p->state = ST_QUOTED;
                break;
            }
            p->state = ST_AFTER_QUOTE;
            /* fall through */
        case ST_AFTER_QUOTE:
            s++;
            if (c == delim) {
                field_end(p);
                p->state = ST_FIELD_START;
            } else if (c == ' ' || c == '\t') {
                /* Padding after a closing quote is ignored. */
            } else if (c == '\r' || c == '\n') {
                if ((rc = row_end(p, c)) != 0)
                    return rc;
            } else {
                row_fail(p, c == 0 ? CSV_ROW_NUL_BYTE : CSV_ROW_BAD_QUOTE);
                /* The rest of the field reads as unquoted, so the row still ends where the
                 * quoting rules say and the next row is found. */
                p->state = ST_UNQUOTED;
            }
            break;
        }
    }
    return 0;
}

static int header_push(struct csv_parser *p, unsigned char c)
{
    if (p->hlen == p->hcap) {
        size_t cap = p->hcap ? p->hcap * 2 : 256;
        if (cap > p->lim.max_header + 1)
            cap = p->lim.max_header + 1;
        char *b = realloc(p->hbuf, cap);
        if (!b)
            return CSV_E_NOMEM;
        p->hbuf = b;
        p->hcap = cap;
    }
    p->hbuf[p->hlen++] = (char)c;
    return 0;
}

static void header_count(struct csv_parser *p, unsigned char c)
{
    for (int i = 0; i < 3; i++) {
        if (c == (unsigned char)candidate_delims[i])
            p->hcount[i]++;
    }
}

static int is_candidate(unsigned char c)
{
    return c == ',' || c == ';' || c == '\t';
}

/* Scans one header byte. Returns 1 once the header line is complete, 0 for more, or an error. */
static int header_byte(struct csv_parser *p, unsigned char c)
{
    int line_end = 0;
    switch (p->hstate) {
    case HS_BLANK:
        if (c == '\r' || c == '\n') {
            if (c == '\r' || !p->prev_cr)
                p->line++;
            p->prev_cr = c == '\r';
            return 0;
        }
        p->prev_cr = 0;
        p->hstate = HS_FIELD_START;
        /* fall through */
    case HS_FIELD_START:
        if (c == '"')
            p->hstate = HS_QUOTED;
        else if (is_candidate(c))
            header_count(p, c);
        else if (c == '\r' || c == '\n')
            line_end = 1;
        else
            p->hstate = HS_UNQUOTED;
        break;
    case HS_UNQUOTED:
        if (is_candidate(c)) {
            header_count(p, c);
            p->hstate = HS_FIELD_START;
        } else if (c == '\r' || c == '\n') {
            line_end = 1;
        }
        break;
    case HS_QUOTED:
        if (c == '"')
            p->hstate = HS_QUOTE;
        break;
    case HS_QUOTE:
        if (c == '"') {
            p->hstate = HS_QUOTED;
        } else if (is_candidate(c)) {
            header_count(p, c);
            p->hstate = HS_FIELD_START;
        } else if (c == '\r' || c == '\n') {
            line_end = 1;
        } else {
            p->hstate = HS_UNQUOTED;
        }
        break;
    }
    if (!line_end && p->hlen == p->lim.max_header)
        return CSV_E_HEADER_TOO_LONG;
    int rc = header_push(p, c);
    return rc ? rc : line_end;
}

/* Picks the delimiter and runs the buffered header, which ends at offset end, through the row
 * parser (a data row may begin in it: its offset is counted from the buffer's). */
static int header_done(struct csv_parser *p, uint64_t end)
{
    int best = 0;
    if (p->hcount[1] > p->hcount[0] && p->hcount[1] > p->hcount[2])
        best = 1;
    else if (p->hcount[2] > p->hcount[0] && p->hcount[2] > p->hcount[1])
        best = 2;
    p->delim = candidate_delims[best];
    p->header_scanned = 1;
    p->prev_cr = 0;
    const unsigned char *h = (const unsigned char *)p->hbuf, *feed = p->feed;
    uint64_t fed = p->fed;
    p->feed = h;
    p->fed = end - p->hlen;
    int rc = parse(p, h, h + p->hlen);
    p->row_off = csv_row_offset(p);
    p->row_ptr = NULL;
    p->feed = feed;
    p->fed = fed;
    free(p->hbuf);
    p->hbuf = NULL;
    p->hlen = p->hcap = 0;
    return rc;
}

/* The bytes that looked like the start of a BOM were data after all. */
static int bom_mismatch(struct csv_parser *p)
{
    int matched = p->bom_matched;
    p->bom_matched = BOM_LEN;
    for (int i = 0; i < matched; i++) {
        int rc = header_byte(p, utf8_bom[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Consumes bytes until the header line is complete; *used tells how many. */
static int header_feed(struct csv_parser *p, const unsigned char *s, size_t len, size_t *used)
{
    for (size_t i = 0; i < len; i++) {
        if (p->bom_matched < BOM_LEN) {
            if (s[i] == utf8_bom[p->bom_matched]) {
                p->bom_matched++;
                continue;
            }
            int rc = bom_mismatch(p);
            if (rc < 0)
                return rc;
        }
        int rc = header_byte(p, s[i]);
        if (rc < 0)
            return rc;
        if (rc > 0) {
            *used = i + 1;
            return header_done(p, p->fed + i + 1);
        }
    }
    *used = len;
    return 0;
}

int csv_init(struct csv_parser *p, const struct csv_limits *lim, csv_row_fn fn, void *ctx)
{
    memset(p, 0, sizeof *p);
    if (lim)
        p->lim = *lim;
    if (!p->lim.max_field)
        p->lim.max_field = CSV_DEFAULT_MAX_FIELD;
    if (!p->lim.max_columns)
        p->lim.max_columns = CSV_DEFAULT_MAX_COLUMNS;
    if (!p->lim.max_header)
        p->lim.max_header = CSV_DEFAULT_MAX_HEADER;
    if (!p->lim.max_row)
        p->lim.max_row = CSV_DEFAULT_MAX_ROW;
    p->fn = fn;
    p->ctx = ctx;
    p->line = 1;
    p->delim = ',';
    /* Absurd limits would overflow the size arithmetic; no real file needs them. */
    const size_t huge = SIZE_MAX / 4;
    if (!fn || p->lim.max_field > huge || p->lim.max_columns > huge || p->lim.max_header > huge ||
        p->lim.max_row > huge) {
        p->stopped = CSV_E_INVALID;
        return CSV_E_INVALID;
    }
    p->cap = p->lim.max_row < 16384 ? p->lim.max_row : 16384;
    p->buf = malloc(p->cap);
    p->fields = calloc(p->lim.max_columns, sizeof *p->fields);
    if (!p->buf || !p->fields) {
        csv_free(p);
        p->stopped = CSV_E_NOMEM;
        return CSV_E_NOMEM;
    }
    return 0;
}

int csv_feed(struct csv_parser *p, const char *data, size_t len)
{
    if (p->stopped)
        return p->stopped;
    if (p->finished)
        return CSV_E_FINISHED;
    if (len == 0)
        return 0;
    const unsigned char *s = (const unsigned char *)data;
    size_t used = 0;
    int rc = 0;
    p->feed = s;
    p->row_ptr = NULL;
    if (!p->header_scanned)
        rc = header_feed(p, s, len, &used);
    if (rc == 0 && used < len)
        rc = parse(p, s + used, s + len);
    /* A row still open continues in the next chunk (the header line: all in its buffer). */
    p->row_off = p->header_scanned ? csv_row_offset(p) : p->fed + len - p->hlen;
    p->row_ptr = NULL;
    p->fed += len;
    p->stopped = rc;
    return rc;
}

uint64_t csv_row_offset(const struct csv_parser *p)
{
    return p->row_ptr ? p->fed + (uint64_t)(p->row_ptr - p->feed) : p->row_off;
}

int csv_row_open(const struct csv_parser *p)
{
    /* The header line being scanned counts: a data row may begin in its buffer. */
    return p->header_scanned ? p->state != ST_LINE_START : p->hlen > 0;
}

int csv_resume(struct csv_parser *p, uint32_t row, uint32_t line, uint64_t offset)
{
    if (!p->have_header || p->fatal || p->stopped || row == 0)
        return CSV_E_INVALID;
    p->finished = p->prev_cr = p->field_high = p->row_error = 0; /* CSV_ROW_OK */
    p->state = ST_LINE_START;
    p->rows = row - 1;
    p->line = line;
    p->fed = p->row_off = offset;
    p->row_ptr = NULL;
    p->len = p->field_start = p->nfields = 0;
    return 0;
}

int csv_finish(struct csv_parser *p)
{
    if (p->stopped)
        return p->stopped;
    if (p->finished)
        return CSV_E_FINISHED;
    p->finished = 1;
    int rc = 0;
    if (!p->header_scanned) {
        if (p->bom_matched < BOM_LEN)
            rc = bom_mismatch(p);
        /* Input with no header line at all yields no rows and no error. */
        if (rc == 0 && p->hstate != HS_BLANK)
            rc = header_done(p, p->fed);
    }
    if (rc == 0 && p->header_scanned && p->state != ST_LINE_START) {
        if (p->state == ST_QUOTED)
            row_fail(p, CSV_ROW_UNTERMINATED_QUOTE);
        field_end(p);
        rc = row_emit(p);
    }
    p->stopped = rc;
    return rc;
}

void csv_free(struct csv_parser *p)
{
    free(p->buf);
    free(p->fields);
    free(p->hbuf);
    p->buf = NULL;
    p->fields = NULL;
    p->hbuf = NULL;
    p->cap = p->hcap = 0;
}

char csv_delimiter(const struct csv_parser *p)
{
    return p->delim;
}

const char *csv_encoding(const struct csv_parser *p)
{
    return p->windows1252 ? "windows-1252" : "utf-8";
}

/* The limits a message names: the parser's, or the defaults without one. */
static struct csv_limits limits_of(const struct csv_parser *p)
{
    struct csv_limits lim = {CSV_DEFAULT_MAX_FIELD, CSV_DEFAULT_MAX_COLUMNS, CSV_DEFAULT_MAX_HEADER,
                             CSV_DEFAULT_MAX_ROW};
    return p ? p->lim : lim;
}

const char *csv_row_error_message(const struct csv_parser *p, int error, char *out, size_t cap)
{
    struct csv_limits lim = limits_of(p);
    switch (error) {
    case CSV_ROW_OK:
        snprintf(out, cap, "The row is fine.");
        break;
    case CSV_ROW_FIELD_TOO_LONG:
        snprintf(out, cap,
                 "A field in this row is longer than %zu bytes, the most a field may hold.",
                 lim.max_field);
        break;
    case CSV_ROW_TOO_MANY_COLUMNS:
        snprintf(out, cap, "This row has more than %zu fields, the most a row may have.",
                 lim.max_columns);
        break;
    case CSV_ROW_NUL_BYTE:
        snprintf(out, cap, "This row contains a NUL byte; the file may not be plain text.");
        break;
    case CSV_ROW_COLUMN_COUNT:
        snprintf(out, cap,
                 "This row has more fields than the header has columns; quote a field "
                 "that contains the delimiter.");
        break;
    case CSV_ROW_BAD_QUOTE:
        snprintf(out, cap,
                 "A quoted field in this row has text after its closing quote; write a "
                 "quote inside a quoted field as two quotes (\"\").");
        break;
    case CSV_ROW_UNTERMINATED_QUOTE:
        snprintf(out, cap,
                 "The file ends inside a quoted field of this row; a closing quote is "
                 "missing.");
        break;
    case CSV_ROW_TOO_LONG:
        snprintf(out, cap, "This row is longer than %zu bytes, the most a row may hold.",
                 lim.max_row);
        break;
    default:
        snprintf(out, cap, "This row has an unknown problem.");
        break;
    }
    return out;
}

const char *csv_strerror(const struct csv_parser *p, int err, char *out, size_t cap)
{
    struct csv_limits lim = limits_of(p);
    switch (err) {
    case 0:
        snprintf(out, cap, "Success.");
        break;
    case CSV_E_NOMEM:
        snprintf(out, cap, "Out of memory while parsing the CSV file.");
        break;
    case CSV_E_HEADER_TOO_LONG:
        snprintf(out, cap,
                 "The header line of the CSV file is longer than %zu bytes or has no "
                 "line end.",
                 lim.max_header);
        break;
    case CSV_E_HEADER_NUL:
        snprintf(out, cap, "The header line contains a NUL byte; the file is not a CSV text file.");
        break;
    case CSV_E_HEADER_BAD_QUOTE:
        snprintf(out, cap, "A quoted column name in the header has text after its closing quote.");
        break;
    case CSV_E_HEADER_UNTERMINATED_QUOTE:
        snprintf(out, cap, "The file ends inside a quoted column name in the header.");
        break;
    case CSV_E_HEADER_FIELD_TOO_LONG:
        snprintf(out, cap, "A column name in the header is longer than %zu bytes.", lim.max_field);
        break;
    case CSV_E_HEADER_TOO_MANY_COLUMNS:
        snprintf(out, cap,
                 "The header has more than %zu columns, the most a file may have; remove "
                 "the columns the calls do not need.",
                 lim.max_columns);
        break;
    case CSV_E_NAME_TOO_LONG:
        snprintf(out, cap, "The column name does not fit in the output buffer.");
        break;
    case CSV_E_FINISHED:
        snprintf(out, cap, "The CSV parser was used after the end of its input.");
        break;
    case CSV_E_INVALID:
        snprintf(out, cap, "The CSV parser was set up with invalid arguments.");
        break;
    default:
        snprintf(out, cap, "Unknown CSV error.");
        break;
    }
    return out;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

int csv_normalize_name(const char *in, size_t len, char *out, size_t cap)
{
    size_t b = 0, e = len, n = 0;
    while (b < e && is_blank(in[b]))
        b++;
    while (e > b && is_blank(in[e - 1]))
        e--;
    for (size_t i = b; i < e; i++) {
        char c = in[i];
        if (is_blank(c)) {
            /* Only the first blank of a run becomes '_'; trimming guarantees i > b here. */
            if (is_blank(in[i - 1]))
                continue;
            c = '_';
        } else if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (n + 2 > cap || n + 1 > (size_t)INT_MAX)
            return CSV_E_NAME_TOO_LONG;
        out[n++] = c;
    }
    if (n + 1 > cap)
        return CSV_E_NAME_TOO_LONG;
    out[n] = '\0';
    return (int)n;
}
