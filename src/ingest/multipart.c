/* Streaming multipart/form-data parser; see multipart.h for the behaviour and its decisions.
 *
 * The body is a sequence of states. Outside part headers the parser searches for the delimiter
 * CRLF "--" boundary. Because the boundary cannot contain CR, the delimiter's only CR is its first
 * byte: a candidate starts at a CR (found with memchr), and a failed candidate can only restart at
 * the byte that failed. Bytes of a candidate that straddles two chunks are always a prefix of the
 * delimiter, so no input is copied across chunks: only the number of matched bytes is kept, and
 * when the candidate fails that prefix is emitted from the stored delimiter. */
#include "ingest/multipart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

enum mp_state {
    ST_PREAMBLE,    /* skipping bytes before the first delimiter */
    ST_AFTER_DELIM, /* a delimiter matched; its next byte says close, padding or line end */
    ST_CLOSE_DASH,  /* saw '-' after a delimiter, a second '-' must follow */
    ST_PADDING,     /* transport padding (spaces, tabs) before the CRLF */
    ST_LF,          /* saw CR after a delimiter, LF must follow */
    ST_HEADERS,     /* collecting the header lines of a part */
    ST_DATA,        /* part data until the next delimiter */
    ST_EPILOGUE,    /* after the close delimiter: everything is ignored */
};

/* The search starts as if the body were preceded by CRLF, so that a delimiter at offset 0 is
 * found like any other; when that guess fails, those two imaginary bytes are counted as preamble,
 * hence this allowance on top of max_preamble_bytes. */
#define IMAGINARY_CRLF 2

static int is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 9110 token characters, used for header names, the disposition type and parameter names. */
static int is_tchar(unsigned char c)
{
    return is_alnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 2046 bchars, the characters a boundary may contain. */
static int is_bchar(unsigned char c)
{
    return is_alnum(c) || (c != 0 && strchr("'()+_,-./:=? ", c) != NULL);
}

/* Control characters have no business in header lines; HT is whitespace and allowed. */
static int is_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

static char to_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Compares (s, n) case-insensitively with a lower-case literal. */
static int ieq(const char *s, size_t n, const char *lit)
{
    if (strlen(lit) != n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (to_lower(s[i]) != lit[i]) {
            return 0;
        }
    }
    return 1;
}

static size_t skip_ows(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t')) {
        i++;
    }
    return i;
}

static size_t token_end(const char *s, size_t n, size_t i)
{
    while (i < n && is_tchar((unsigned char)s[i])) {
        i++;
    }
    return i;
}

static int valid_boundary(const char *b, size_t n)
{
    if (n == 0 || n > MP_MAX_BOUNDARY || b[n - 1] == ' ') {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_bchar((unsigned char)b[i])) {
            return 0;
        }
    }
    return 1;
}

/* One `; name=value` parameter of a header value, as offsets into the value. A quoted value's
 * span is its content between the quotes with backslash escapes still in place. */
struct param {
    size_t name, name_len;
    size_t val, val_len;
    int quoted;
};

/* Reads the parameter at s[*i] and advances *i past it. Parameters are written
 * `*(OWS ";" OWS name OWS "=" OWS value)` where value is a quoted string or runs up to ';' or
 * whitespace; a trailing ';' is tolerated. Returns 1 for a parameter, 0 at the end of the list,
 * BC_EINVAL on a syntax error. */
static int next_param(const char *s, size_t n, size_t *i, struct param *prm)
{
    size_t j = skip_ows(s, n, *i);

    if (j == n) {
        return 0;
    }
    if (s[j] != ';') {
        return BC_EINVAL;
    }
    j = skip_ows(s, n, j + 1);
    if (j == n) {
        *i = j;
        return 0;
    }
    prm->name = j;
    j = token_end(s, n, j);
    prm->name_len = j - prm->name;
    j = skip_ows(s, n, j);
    if (prm->name_len == 0 || j == n || s[j] != '=') {
        return BC_EINVAL;
    }
    j = skip_ows(s, n, j + 1);
    prm->quoted = j < n && s[j] == '"';
    if (prm->quoted) {
        prm->val = ++j;
        while (j < n && s[j] != '"') {
            j += s[j] == '\\' ? 2 : 1;
        }
        if (j >= n) {
            return BC_EINVAL;
        }
        prm->val_len = j++ - prm->val;
    } else {
        prm->val = j;
        while (j < n && s[j] != ';' && s[j] != ' ' && s[j] != '\t') {
            j++;
        }
        prm->val_len = j - prm->val;
    }
    *i = j;
    return 1;
}

int multipart_boundary_from_content_type(const char *ct, size_t len, const char **b, size_t *blen)
{
    size_t i = skip_ows(ct, len, 0), type = i;
    struct param prm;
    int found = 0, r;

    while (i < len && ct[i] != ';' && ct[i] != ' ' && ct[i] != '\t') {
        i++;
    }
    if (!ieq(ct + type, i - type, "multipart/form-data")) {
        return MP_E_NOT_MULTIPART;
    }
    while ((r = next_param(ct, len, &i, &prm)) > 0) {
        if (!ieq(ct + prm.name, prm.name_len, "boundary")) {
            continue;
        }
        /* Two boundaries would let two parsers of the same request disagree, so refuse. */
        if (found || !valid_boundary(ct + prm.val, prm.val_len)) {
            return MP_E_BAD_BOUNDARY;
        }
        found = 1;
        *b = ct + prm.val;
        *blen = prm.val_len;
    }
    return r < 0 || !found ? MP_E_NO_BOUNDARY : 0;
}

int multipart_init(struct multipart *p, const char *boundary, size_t blen,
                   const struct mp_limits *lim, const struct mp_callbacks *cb, void *ctx)
{
    memset(p, 0, sizeof *p);
    if (!valid_boundary(boundary, blen)) {
        p->err = MP_E_BAD_BOUNDARY;
        return p->err;
    }
    if (lim) {
        p->lim = *lim;
    }
    if (cb) {
        p->cb = *cb;
    }
    p->ctx = ctx;
    p->lim.max_parts = p->lim.max_parts ? p->lim.max_parts : 16;
    p->lim.max_header_bytes = p->lim.max_header_bytes ? p->lim.max_header_bytes : 8192;
    p->lim.max_field_bytes = p->lim.max_field_bytes ? p->lim.max_field_bytes : 65536;
    p->lim.max_preamble_bytes = p->lim.max_preamble_bytes ? p->lim.max_preamble_bytes : 8192;
    memcpy(p->delim, "\r\n--", 4);
    memcpy(p->delim + 4, boundary, blen);
    p->delim_len = blen + 4;
    p->state = ST_PREAMBLE;
    p->match = IMAGINARY_CRLF;
    p->hbuf = malloc(p->lim.max_header_bytes);
    if (!p->hbuf) {
        p->err = MP_E_NOMEM;
        return p->err;
    }
    return 0;
}

void multipart_free(struct multipart *p)
{
    free(p->hbuf);
    p->hbuf = NULL;
}

/* Delivers bytes that are certainly not part of a delimiter: preamble bytes are only counted,
 * part data goes to the callback within the field limit. */
static int emit_data(struct multipart *p, const char *d, size_t n)
{
    if (n == 0) {
        return 0;
    }
    if (p->state == ST_PREAMBLE) {
        p->count += n;
        return p->count > p->lim.max_preamble_bytes + IMAGINARY_CRLF ? MP_E_NO_FIRST_BOUNDARY : 0;
    }
    if (!p->part.has_filename && n > p->lim.max_field_bytes - p->count) {
        /* Deliver up to the limit first so the caller sees the same bytes however the body
         * was chunked. */
        size_t room = p->lim.max_field_bytes - p->count;
        int rc = room && p->cb.on_part_data ? p->cb.on_part_data(p->ctx, d, room) : 0;
        return rc ? rc : MP_E_FIELD_TOO_LARGE;
    }
    p->count += n;
    return p->cb.on_part_data ? p->cb.on_part_data(p->ctx, d, n) : 0;
}

/* The byte after "--boundary" decides whether it is a delimiter at all. */
static int ends_delimiter(char c)
{
    return c == '-' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int found_delimiter(struct multipart *p)
{
    int was_data = p->state == ST_DATA;

    p->state = ST_AFTER_DELIM;
    p->match = 0;
    p->count = 0;
    return was_data && p->cb.on_part_end ? p->cb.on_part_end(p->ctx) : 0;
}

/* Scans preamble or part data for the next delimiter. Sets *used to the bytes consumed; the byte
 * that confirms a delimiter is left for the delimiter-line states. */
static int scan_body(struct multipart *p, const char *buf, size_t len, size_t *used)
{
    size_t i = 0, start;
    int rc;

    *used = len;
    /* First finish a candidate carried over from the previous chunk. */
    while (p->match > 0 && i < len) {
        if (p->match == p->delim_len && ends_delimiter(buf[i])) {
            *used = i;
            return found_delimiter(p);
        }
        if (p->match < p->delim_len && buf[i] == p->delim[p->match]) {
            p->match++;
            i++;
            continue;
        }
        /* The candidate failed: its bytes were data, and buf[i] may start a new one. */
        rc = emit_data(p, p->delim, p->match);
        p->match = 0;
        if (rc) {
            return rc;
        }
    }
    start = i;
    while (i < len) {
        const char *cr = memchr(buf + i, '\r', len - i);
        size_t at, k = 1;

        if (!cr) {
            break;
        }
        at = (size_t)(cr - buf);
        while (k < p->delim_len && at + k < len && buf[at + k] == p->delim[k]) {
            k++;
        }
        if (at + k == len) {
            /* The chunk ends inside a candidate: keep only its length. */
            p->match = k;
            return emit_data(p, buf + start, at - start);
        }
        if (k == p->delim_len && ends_delimiter(buf[at + k])) {
            rc = emit_data(p, buf + start, at - start);
            *used = at + k;
            return rc ? rc : found_delimiter(p);
        }
        /* The delimiter holds no CR after its first byte, so the next candidate can start no
         * earlier than the byte that failed. */
        i = at + k;
    }
    return emit_data(p, buf + start, len - start);
}

static int begin_headers(struct multipart *p)
{
    if (++p->parts > p->lim.max_parts) {
        return MP_E_TOO_MANY_PARTS;
    }
    p->state = ST_HEADERS;
    p->hlen = 0;
    p->line_start = 0;
    memset(&p->part, 0, sizeof p->part);
    return 0;
}

/* Handles one byte of the rest of a delimiter line: "--", or padding then CRLF. */
static int delimiter_line(struct multipart *p, char c)
{
    switch (p->state) {
    case ST_AFTER_DELIM:
        if (c == '-') {
            p->state = ST_CLOSE_DASH;
            return 0;
        }
        p->state = ST_PADDING;
        return delimiter_line(p, c);
    case ST_CLOSE_DASH:
        if (c != '-') {
            return MP_E_BAD_DELIMITER;
        }
        p->state = ST_EPILOGUE;
        return 0;
    case ST_PADDING:
        if (c == ' ' || c == '\t') {
            return ++p->count > p->lim.max_header_bytes ? MP_E_HEADER_TOO_LARGE : 0;
        }
        if (c == '\r') {
            p->state = ST_LF;
            return 0;
        }
        return c == '\n' ? MP_E_BARE_LF : MP_E_BAD_DELIMITER;
    default: /* ST_LF */
        return c == '\n' ? begin_headers(p) : MP_E_BAD_DELIMITER;
    }
}

/* Replaces backslash escapes of a quoted string in place and returns the new length. */
static size_t unescape(char *s, size_t n)
{
    size_t w = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\') {
            i++;
        }
        s[w++] = s[i];
    }
    return w;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = to_lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes an RFC 5987 ext-value (charset'language'percent-encoded) in place. Only UTF-8 is
 * accepted because every current client uses it, and decoding other charsets would need room
 * to grow. Returns 0 or BC_EINVAL. */
static int decode_ext_value(char *s, size_t *n)
{
    char *q1 = memchr(s, '\'', *n), *q2, *end = s + *n, *w = s;

    if (!q1 || !ieq(s, (size_t)(q1 - s), "utf-8")) {
        return BC_EINVAL;
    }
    q2 = memchr(q1 + 1, '\'', (size_t)(end - q1 - 1));
    if (!q2) {
        return BC_EINVAL;
    }
    for (const char *r = q2 + 1; r < end; r++) {
        unsigned char c = (unsigned char)*r;

        if (c == '%') {
            int hi = end - r > 2 ? hex_value(r[1]) : -1, lo = hi >= 0 ? hex_value(r[2]) : -1;
            if (lo < 0) {
                return BC_EINVAL;
            }
            c = (unsigned char)(hi * 16 + lo);
            r += 2;
        }
        if (is_ctl(c)) {
            return BC_EINVAL;
        }
        *w++ = (char)c;
    }
    *n = (size_t)(w - s);
    return 0;
}

/* Clients may send the whole path of the file; only its last component is meaningful here. */
static void strip_directories(const char **s, size_t *n)
{
    size_t i = *n;

    while (i > 0 && (*s)[i - 1] != '/' && (*s)[i - 1] != '\\') {
        i--;
    }
    *s += i;
    *n -= i;
}

/* Parses `form-data; name="..."; filename="..."` into p->part, decoding values in place. */
static int parse_disposition(struct multipart *p, char *s, size_t n)
{
    size_t i = token_end(s, n, 0);
    const char *plain = NULL, *ext = NULL;
    size_t plain_len = 0, ext_len = 0;
    struct param prm;
    int r;

    if (!ieq(s, i, "form-data")) {
        return MP_E_BAD_HEADER;
    }
    while ((r = next_param(s, n, &i, &prm)) > 0) {
        const char *name = s + prm.name;
        char *val = s + prm.val;

        if (prm.quoted) {
            prm.val_len = unescape(val, prm.val_len);
        }
        if (ieq(name, prm.name_len, "name")) {
            if (p->part.name) {
                return MP_E_BAD_HEADER;
            }
            p->part.name = val;
            p->part.name_len = prm.val_len;
        } else if (ieq(name, prm.name_len, "filename")) {
            if (plain) {
                return MP_E_BAD_HEADER;
            }
            plain = val;
            plain_len = prm.val_len;
        } else if (ieq(name, prm.name_len, "filename*")) {
            if (ext || decode_ext_value(val, &prm.val_len) != 0) {
                return MP_E_BAD_HEADER;
            }
            ext = val;
            ext_len = prm.val_len;
        }
    }
    if (r < 0 || !p->part.name || p->part.name_len == 0) {
        return MP_E_BAD_HEADER;
    }
    /* RFC 6266: filename* is preferred because it can carry any character. */
    p->part.has_filename = plain || ext;
    p->part.filename = ext ? ext : plain ? plain : "";
    p->part.filename_len = ext ? ext_len : plain_len;
    strip_directories(&p->part.filename, &p->part.filename_len);
    return 0;
}

/* Handles one complete header line without its CRLF. */
static int header_line(struct multipart *p, char *line, size_t n)
{
    const char *colon = memchr(line, ':', n);
    size_t name_len, v, end = n;

    if (!colon) {
        return MP_E_BAD_HEADER;
    }
    name_len = (size_t)(colon - line);
    if (name_len == 0 || token_end(line, name_len, 0) != name_len) {
        return MP_E_BAD_HEADER;
    }
    v = skip_ows(line, n, name_len + 1);
    while (end > v && (line[end - 1] == ' ' || line[end - 1] == '\t')) {
        end--;
    }
    if (ieq(line, name_len, "content-disposition")) {
        /* A repeated header would make the part's identity ambiguous. */
        return p->part.name ? MP_E_BAD_HEADER : parse_disposition(p, line + v, end - v);
    }
    if (ieq(line, name_len, "content-type")) {
        if (p->part.content_type) {
            return MP_E_BAD_HEADER;
        }
        p->part.content_type = line + v;
        p->part.content_type_len = end - v;
    }
    return 0;
}

static int begin_data(struct multipart *p)
{
    if (!p->part.name) {
        return MP_E_BAD_HEADER;
    }
    if (!p->part.content_type) {
        p->part.content_type = "";
    }
    p->state = ST_DATA;
    p->count = 0;
    p->match = 0;
    return p->cb.on_part_begin ? p->cb.on_part_begin(p->ctx, &p->part) : 0;
}

/* Called when hbuf ends with LF: checks the line and acts on it. */
static int end_of_line(struct multipart *p)
{
    char *line = p->hbuf + p->line_start;
    size_t n = p->hlen - p->line_start;

    if (n < 2 || line[n - 2] != '\r') {
        return MP_E_BARE_LF;
    }
    n -= 2;
    for (size_t i = 0; i < n; i++) {
        if (is_ctl((unsigned char)line[i])) {
            return MP_E_BAD_HEADER;
        }
    }
    p->line_start = p->hlen;
    return n == 0 ? begin_data(p) : header_line(p, line, n);
}

/* Collects header bytes up to and including the next LF. */
static int read_headers(struct multipart *p, const char *buf, size_t len, size_t *used)
{
    const char *lf = memchr(buf, '\n', len);
    size_t n = lf ? (size_t)(lf - buf) + 1 : len;

    *used = n;
    if (n > p->lim.max_header_bytes - p->hlen) {
        return MP_E_HEADER_TOO_LARGE;
    }
    memcpy(p->hbuf + p->hlen, buf, n);
    p->hlen += n;
    return lf ? end_of_line(p) : 0;
}

int multipart_feed(struct multipart *p, const char *data, size_t len)
{
    size_t i = 0;

    while (i < len && p->err == 0) {
        size_t used = 1;
        int rc = 0;

        switch (p->state) {
        case ST_PREAMBLE:
        case ST_DATA:
            rc = scan_body(p, data + i, len - i, &used);
            break;
        case ST_HEADERS:
            rc = read_headers(p, data + i, len - i, &used);
            break;
        case ST_EPILOGUE:
            used = len - i;
            break;
        default:
            rc = delimiter_line(p, data[i]);
            break;
        }
        i += used;
        p->err = rc;
    }
    return p->err;
}

int multipart_finish(struct multipart *p)
{
    if (p->err == 0 && p->state != ST_EPILOGUE) {
        p->err = p->state == ST_PREAMBLE ? MP_E_NO_FIRST_BOUNDARY : MP_E_TRUNCATED;
    }
    return p->err;
}

const char *multipart_strerror(int err)
{
    switch (err) {
    case MP_OK:
        return "The multipart body is valid.";
    case MP_E_NOT_MULTIPART:
        return "The upload must be sent as Content-Type: multipart/form-data (an HTML form with "
               "enctype=\"multipart/form-data\", or curl -F).";
    case MP_E_NO_BOUNDARY:
        return "The Content-Type header needs a well-formed boundary parameter, for example "
               "multipart/form-data; boundary=XyZ123 (quote it if it contains spaces).";
    case MP_E_BAD_BOUNDARY:
        return "The multipart boundary must be given once and be 1 to 70 characters of letters, "
               "digits, spaces and '()+_,-./:=? and must not end with a space.";
    case MP_E_TOO_MANY_PARTS:
        return "The form has too many parts; send only the file and the documented fields.";
    case MP_E_HEADER_TOO_LARGE:
        return "The headers of a form part are too long; send only Content-Disposition and "
               "Content-Type with short values.";
    case MP_E_FIELD_TOO_LARGE:
        return "A text form field is too long; only a file part (one with a filename) may carry "
               "large data.";
    case MP_E_BAD_HEADER:
        return "A form part has malformed headers: each part needs one header line "
               "'Content-Disposition: form-data; name=\"...\"' and header lines ending in CRLF.";
    case MP_E_NO_FIRST_BOUNDARY:
        return "The body does not start with the multipart boundary named in the Content-Type "
               "header; send a multipart/form-data body whose boundary matches the header.";
    case MP_E_TRUNCATED:
        return "The multipart body ended before its closing boundary (--boundary--); send the "
               "complete body.";
    case MP_E_NOMEM:
        return "The server is out of memory while reading the upload; try again later.";
    case MP_E_BAD_DELIMITER:
        return "A boundary line in the body is followed by unexpected characters; each boundary "
               "line must be --boundary followed by CRLF, or --boundary-- at the end.";
    case MP_E_BARE_LF:
        return "The multipart body uses bare LF line ends; boundary and header lines must end "
               "with CRLF.";
    default:
        return "The multipart body could not be parsed.";
    }
}

const char *multipart_error_message(const struct multipart *p, int err, char *out, size_t cap)
{
    switch (err) {
    case MP_E_TOO_MANY_PARTS:
        snprintf(out, cap,
                 "The form has more than %zu parts, the most an upload may have; send only the "
                 "file and the documented fields.",
                 p->lim.max_parts);
        break;
    case MP_E_HEADER_TOO_LARGE:
        snprintf(out, cap,
                 "The headers of a form part are longer than %zu bytes; send only "
                 "Content-Disposition and Content-Type with short values.",
                 p->lim.max_header_bytes);
        break;
    case MP_E_FIELD_TOO_LARGE:
        snprintf(out, cap,
                 "A text form field is longer than %zu bytes; only a file part (one with a "
                 "filename) may carry large data.",
                 p->lim.max_field_bytes);
        break;
    default:
        snprintf(out, cap, "%s", multipart_strerror(err));
        break;
    }
    return out;
}
