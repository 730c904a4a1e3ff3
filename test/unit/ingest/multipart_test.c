/* Tests for the streaming multipart/form-data parser. Body cases are a table of Content-Type, body
 * and the expected event log; every case is fed whole, split in two at every offset, and one byte
 * at a time, and all runs must produce the same log. Each piece is copied into its own heap block
 * so that AddressSanitizer catches reads past a chunk. */
#include "ingest/multipart.h"

#include "check.h"

#include <stdlib.h>

#define STOP_RC 42

/* Test ctx: the event log being written and the stop conditions of the case. */
struct recorder {
    char log[4096];
    size_t len;
    char name[64];          /* name of the current part */
    const char *stop_begin; /* on_part_begin returns STOP_RC for a part of this name */
    const char *stop_end;   /* on_part_end returns STOP_RC for a part of this name */
    int in_data;            /* a "data" line is open and further data is appended to it */
    size_t data_calls;
};

static void log_raw(struct recorder *r, const char *s, size_t n)
{
    if (n > sizeof r->log - 1 - r->len) {
        n = sizeof r->log - 1 - r->len;
    }
    memcpy(r->log + r->len, s, n);
    r->len += n;
    r->log[r->len] = '\0';
}

static void log_str(struct recorder *r, const char *s)
{
    log_raw(r, s, strlen(s));
}

/* Logs bytes with CR, LF, quote, backslash and other unprintable bytes escaped. */
static void log_escaped(struct recorder *r, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char tmp[8];

        if (c == '\r') {
            log_str(r, "\\r");
        } else if (c == '\n') {
            log_str(r, "\\n");
        } else if (c == '"' || c == '\\') {
            snprintf(tmp, sizeof tmp, "\\%c", c);
            log_str(r, tmp);
        } else if (c < 0x20 || c >= 0x7f) {
            snprintf(tmp, sizeof tmp, "\\x%02x", c);
            log_str(r, tmp);
        } else {
            log_raw(r, (const char *)&c, 1);
        }
    }
}

/* Logs `key="value"`, or `key=-` when the value is absent. */
static void log_field(struct recorder *r, const char *key, const char *v, size_t n, int present)
{
    log_str(r, key);
    if (!present) {
        log_str(r, "=-");
        return;
    }
    log_str(r, "=\"");
    log_escaped(r, v, n);
    log_str(r, "\"");
}

static void close_data(struct recorder *r)
{
    if (r->in_data) {
        log_str(r, "\"\n");
        r->in_data = 0;
    }
}

static int on_begin(void *ctx, const struct mp_part_info *part)
{
    struct recorder *r = ctx;

    close_data(r);
    log_str(r, "begin ");
    log_field(r, "name", part->name, part->name_len, 1);
    log_field(r, " file", part->filename, part->filename_len, part->has_filename);
    log_field(r, " ct", part->content_type, part->content_type_len, part->content_type_len > 0);
    log_str(r, "\n");
    snprintf(r->name, sizeof r->name, "%.*s", (int)part->name_len, part->name);
    return r->stop_begin && strcmp(r->name, r->stop_begin) == 0 ? STOP_RC : 0;
}

static int on_data(void *ctx, const char *data, size_t len)
{
    struct recorder *r = ctx;

    CHECK(len > 0);
    r->data_calls++;
    if (!r->in_data) {
        log_str(r, "data \"");
        r->in_data = 1;
    }
    log_escaped(r, data, len);
    return 0;
}

static int on_end(void *ctx)
{
    struct recorder *r = ctx;

    close_data(r);
    log_str(r, "end\n");
    return r->stop_end && strcmp(r->name, r->stop_end) == 0 ? STOP_RC : 0;
}

static const struct mp_callbacks recorder_cb = {on_begin, on_data, on_end};

static const char *rc_name(int rc)
{
    switch (rc) {
    case MP_OK:
        return "OK";
    case MP_E_NOT_MULTIPART:
        return "NOT_MULTIPART";
    case MP_E_NO_BOUNDARY:
        return "NO_BOUNDARY";
    case MP_E_BAD_BOUNDARY:
        return "BAD_BOUNDARY";
    case MP_E_TOO_MANY_PARTS:
        return "TOO_MANY_PARTS";
    case MP_E_HEADER_TOO_LARGE:
        return "HEADER_TOO_LARGE";
    case MP_E_FIELD_TOO_LARGE:
        return "FIELD_TOO_LARGE";
    case MP_E_BAD_HEADER:
        return "BAD_HEADER";
    case MP_E_NO_FIRST_BOUNDARY:
        return "NO_FIRST_BOUNDARY";
    case MP_E_TRUNCATED:
        return "TRUNCATED";
    case MP_E_NOMEM:
        return "NOMEM";
    case MP_E_BAD_DELIMITER:
        return "BAD_DELIMITER";
    case MP_E_BARE_LF:
        return "BARE_LF";
    case STOP_RC:
        return "STOP";
    default:
        return "?";
    }
}

/* ---- Content-Type boundary extraction ---- */

struct boundary_case {
    const char *ct;
    int rc;
    const char *boundary; /* expected when rc is 0 */
};

#define B70 "0123456789012345678901234567890123456789012345678901234567890123456789"

static const struct boundary_case boundary_cases[] = {
    {"multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxk", 0,
     "----WebKitFormBoundary7MA4YWxk"},
    {"multipart/form-data;boundary=abc", 0, "abc"},
    {"multipart/form-data; boundary=\"a b:c\"", 0, "a b:c"},
    {"Multipart/Form-Data; BOUNDARY=xYz", 0, "xYz"},
    {"multipart/form-data; charset=utf-8; boundary=\"x\"", 0, "x"},
    {"multipart/form-data; boundary=x; charset=utf-8", 0, "x"},
    {"  multipart/form-data \t;  boundary = abc  ", 0, "abc"},
    {"multipart/form-data; boundary=abc;", 0, "abc"},
    {"multipart/form-data; foo=\"a\\\";b\"; boundary=z", 0, "z"},
    {"multipart/form-data; boundary=----=_Part_1(x)+,./:?'", 0, "----=_Part_1(x)+,./:?'"},
    {"multipart/form-data; boundary=" B70, 0, B70},
    {"multipart/form-data; boundary=" B70 "1", MP_E_BAD_BOUNDARY, NULL},
    {"multipart/form-data; boundary=", MP_E_BAD_BOUNDARY, NULL},
    {"multipart/form-data; boundary=\"\"", MP_E_BAD_BOUNDARY, NULL},
    {"multipart/form-data; boundary=a@b", MP_E_BAD_BOUNDARY, NULL},
    {"multipart/form-data; boundary=\"a\\\"b\"", MP_E_BAD_BOUNDARY, NULL},
    {"multipart/form-data; boundary=\"ab \"", MP_E_BAD_BOUNDARY, NULL},
    {"multipart/form-data; boundary=a; boundary=a", MP_E_BAD_BOUNDARY, NULL},
    {"multipart/form-data", MP_E_NO_BOUNDARY, NULL},
    {"multipart/form-data;", MP_E_NO_BOUNDARY, NULL},
    {"multipart/form-data; charset=utf-8", MP_E_NO_BOUNDARY, NULL},
    {"multipart/form-data; boundary=\"abc", MP_E_NO_BOUNDARY, NULL},
    {"multipart/form-data; boundary=a b", MP_E_NO_BOUNDARY, NULL},
    {"multipart/form-data; charset; boundary=a", MP_E_NO_BOUNDARY, NULL},
    {"multipart/form-data boundary=a", MP_E_NO_BOUNDARY, NULL},
    {"", MP_E_NOT_MULTIPART, NULL},
    {"application/json", MP_E_NOT_MULTIPART, NULL},
    {"multipart/mixed; boundary=abc", MP_E_NOT_MULTIPART, NULL},
    {"multipart/form-datax; boundary=abc", MP_E_NOT_MULTIPART, NULL},
    {"text/plain; boundary=abc", MP_E_NOT_MULTIPART, NULL},
};

static void test_boundary_from_content_type(void)
{
    for (size_t i = 0; i < sizeof boundary_cases / sizeof boundary_cases[0]; i++) {
        const struct boundary_case *c = &boundary_cases[i];
        /* A heap copy without NUL shows that the parser respects the length. */
        size_t n = strlen(c->ct);
        char *ct = malloc(n ? n : 1);
        const char *b = NULL;
        size_t blen = 0;
        int rc;

        memcpy(ct, c->ct, n);
        rc = multipart_boundary_from_content_type(ct, n, &b, &blen);
        CHECK_REPORT(rc == c->rc, "ct '%s': rc %s, want %s", c->ct, rc_name(rc), rc_name(c->rc));
        if (rc == 0 && c->rc == 0) {
            CHECK_MEM(b, blen, c->boundary);
        }
        free(ct);
    }
}

static void test_init_rejects_bad_boundary(void)
{
    struct multipart p;

    CHECK_INT(multipart_init(&p, "", 0, NULL, NULL, NULL), MP_E_BAD_BOUNDARY);
    multipart_free(&p);
    CHECK_INT(multipart_init(&p, "a\rb", 3, NULL, NULL, NULL), MP_E_BAD_BOUNDARY);
    CHECK_INT(multipart_feed(&p, "x", 1), MP_E_BAD_BOUNDARY);
    multipart_free(&p);
    CHECK_INT(multipart_init(&p, B70 "1", 71, NULL, NULL, NULL), MP_E_BAD_BOUNDARY);
    multipart_free(&p);
    CHECK_INT(multipart_init(&p, B70, 70, NULL, NULL, NULL), 0);
    multipart_free(&p);
    multipart_free(&p);
}

/* ---- Body cases ---- */

struct body_case {
    const char *name;
    const char *ct;
    const char *body;
    size_t body_len;
    size_t max_parts, max_header, max_field, max_preamble; /* 0: the parser's default */
    const char *stop_begin;
    const char *stop_end;
    const char *log; /* expected events, then "rc=NAME" */
};

#define CT       "multipart/form-data; boundary=AaB03x"
#define D        "--AaB03x"
#define CRLF     "\r\n"
#define CLOSE    CRLF D "--" CRLF
#define CD(name) "Content-Disposition: form-data; name=\"" name "\"\r\n"
#define CDF(name, file)                                                                            \
    "Content-Disposition: form-data; name=\"" name "\"; filename=\"" file "\"\r\n"
#define BODY(s)                             s, sizeof(s) - 1
#define LIM(parts, header, field, preamble) parts, header, field, preamble
#define NOLIM                               LIM(0, 0, 0, 0)
#define AGENT                               D CRLF CD("agentId") CRLF "ag_1"
#define AGENT_LOG                           "begin name=\"agentId\" file=- ct=-\ndata \"ag_1\"\nend\n"

static const struct body_case body_cases[] = {
    {"single file part", CT,
     BODY(D CRLF CDF("file", "c.csv") "Content-Type: text/csv" CRLF CRLF
                                      "phone_number,first_name\r\n+14155552671,Ann\r\n" CLOSE),
     NOLIM, NULL, NULL,
     "begin name=\"file\" file=\"c.csv\" ct=\"text/csv\"\n"
     "data \"phone_number,first_name\\r\\n+14155552671,Ann\\r\\n\"\nend\nrc=OK"},
    {"fields before and after the file", CT,
     BODY(AGENT CRLF D CRLF CDF("file", "c.csv") CRLF "a,b\nc,d\n" CRLF D CRLF CD("scheduledAt")
              CRLF "2026-12-01T15:00:00Z" CLOSE),
     NOLIM, NULL, NULL,
     AGENT_LOG "begin name=\"file\" file=\"c.csv\" ct=-\ndata \"a,b\\nc,d\\n\"\nend\n"
               "begin name=\"scheduledAt\" file=- ct=-\ndata \"2026-12-01T15:00:00Z\"\nend\n"
               "rc=OK"},
    {"preamble", CT,
     BODY("This is a preamble.\r\nIt has --AaB03 and \r\n--AaB0 in it.\r\n" AGENT CLOSE), NOLIM,
     NULL, NULL, AGENT_LOG "rc=OK"},
    {"body starting with CRLF", CT, BODY(CRLF AGENT CLOSE), NOLIM, NULL, NULL, AGENT_LOG "rc=OK"},
    {"preamble within the limit", CT, BODY("1234" CRLF AGENT CLOSE), LIM(0, 0, 0, 4), NULL, NULL,
     AGENT_LOG "rc=OK"},
    {"preamble over the limit", CT, BODY("12345" CRLF AGENT CLOSE), LIM(0, 0, 0, 4), NULL, NULL,
     "rc=NO_FIRST_BOUNDARY"},
    {"epilogue", CT, BODY(AGENT CRLF D "--" CRLF "epilogue " CRLF D CRLF "junk\n"), NOLIM, NULL,
     NULL, AGENT_LOG "rc=OK"},
    {"close delimiter without CRLF at the end", CT, BODY(AGENT CRLF D "--"), NOLIM, NULL, NULL,
     AGENT_LOG "rc=OK"},
    {"close delimiter only", CT, BODY(D "--" CRLF), NOLIM, NULL, NULL, "rc=OK"},
    {"transport padding", CT,
     BODY(D " \t" CRLF CD("agentId") CRLF "ag_1" CRLF D "\t \t" CRLF CD("x") CRLF "y" CLOSE), NOLIM,
     NULL, NULL, AGENT_LOG "begin name=\"x\" file=- ct=-\ndata \"y\"\nend\nrc=OK"},
    {"empty part data", CT, BODY(D CRLF CD("a") CRLF CRLF D CRLF CDF("f", "e.csv") CRLF CLOSE),
     NOLIM, NULL, NULL,
     "begin name=\"a\" file=- ct=-\nend\nbegin name=\"f\" file=\"e.csv\" ct=-\nend\nrc=OK"},
    {"CRLF-- and a partial boundary in data", CT,
     BODY(D CRLF CD("a") CRLF "x\r\n--AaB03y\r\n--AaB0\r\n--\r\n-" CLOSE), NOLIM, NULL, NULL,
     "begin name=\"a\" file=- ct=-\ndata \"x\\r\\n--AaB03y\\r\\n--AaB0\\r\\n--\\r\\n-\"\nend\n"
     "rc=OK"},
    {"CR at the very end of data", CT, BODY(D CRLF CD("a") CRLF "abc\r" CLOSE), NOLIM, NULL, NULL,
     "begin name=\"a\" file=- ct=-\ndata \"abc\\r\"\nend\nrc=OK"},
    {"CR CR LF before the delimiter", CT, BODY(D CRLF CD("a") CRLF "abc\r\r\n--AaB03x--"), NOLIM,
     NULL, NULL, "begin name=\"a\" file=- ct=-\ndata \"abc\\r\"\nend\nrc=OK"},
    {"data that is only CRs and LFs", CT, BODY(D CRLF CD("a") CRLF "\r\n\r\r\n\n\r" CLOSE), NOLIM,
     NULL, NULL, "begin name=\"a\" file=- ct=-\ndata \"\\r\\n\\r\\r\\n\\n\\r\"\nend\nrc=OK"},
    {"--boundary without CRLF inside data", CT,
     BODY(D CRLF CD("a") CRLF "x--AaB03x\n--AaB03x--" CLOSE), NOLIM, NULL, NULL,
     "begin name=\"a\" file=- ct=-\ndata \"x--AaB03x\\n--AaB03x--\"\nend\nrc=OK"},
    {"boundary string inside data", CT, BODY(D CRLF CD("a") CRLF "AaB03x\r\nAaB03x" CLOSE), NOLIM,
     NULL, NULL, "begin name=\"a\" file=- ct=-\ndata \"AaB03x\\r\\nAaB03x\"\nend\nrc=OK"},
    {"boundary followed by a bchar is data", CT,
     BODY(D CRLF CD("a") CRLF "1\r\n--AaB03xY\r\n--AaB03x0" CLOSE), NOLIM, NULL, NULL,
     "begin name=\"a\" file=- ct=-\ndata \"1\\r\\n--AaB03xY\\r\\n--AaB03x0\"\nend\nrc=OK"},
    {"binary data with NUL bytes", CT,
     BODY(D CRLF CDF("f", "b.bin") CRLF "\0\r\0\n\xff\r\n-\0" CLOSE), NOLIM, NULL, NULL,
     "begin name=\"f\" file=\"b.bin\" ct=-\ndata \"\\x00\\r\\x00\\n\\xff\\r\\n-\\x00\"\nend\n"
     "rc=OK"},
    {"delimiter followed by a single dash", CT, BODY(AGENT CRLF D "-x" CRLF), NOLIM, NULL, NULL,
     AGENT_LOG "rc=BAD_DELIMITER"},
    {"padding followed by garbage", CT, BODY(AGENT CRLF D " x" CRLF), NOLIM, NULL, NULL,
     AGENT_LOG "rc=BAD_DELIMITER"},
    {"CR without LF after a delimiter", CT, BODY(D "\rx"), NOLIM, NULL, NULL, "rc=BAD_DELIMITER"},
    {"CR without LF after a delimiter in the body", CT, BODY(AGENT CRLF D "\rx" CRLF), NOLIM, NULL,
     NULL, AGENT_LOG "rc=BAD_DELIMITER"},
    {"unquoted filename with a path", CT,
     BODY(D CRLF "Content-Disposition: form-data; name=file; filename=tmp/a.csv" CRLF CRLF CLOSE),
     NOLIM, NULL, NULL, "begin name=\"file\" file=\"a.csv\" ct=-\nend\nrc=OK"},
    {"garbage right after the first boundary", CT, BODY(D "junk" CRLF CD("a") CRLF "x"), NOLIM,
     NULL, NULL, "rc=NO_FIRST_BOUNDARY"},
    {"garbage then a close delimiter is an empty form", CT, BODY(D "junk" CLOSE), NOLIM, NULL, NULL,
     "rc=OK"},
    {"filename with a Windows path", CT,
     BODY(D CRLF CDF("file", "C:\\\\x\\\\y.csv") CRLF "1" CLOSE), NOLIM, NULL, NULL,
     "begin name=\"file\" file=\"y.csv\" ct=-\ndata \"1\"\nend\nrc=OK"},
    {"filename with a relative path", CT, BODY(D CRLF CDF("file", "../a.csv") CRLF "1" CLOSE),
     NOLIM, NULL, NULL, "begin name=\"file\" file=\"a.csv\" ct=-\ndata \"1\"\nend\nrc=OK"},
    {"empty filename", CT, BODY(D CRLF CDF("file", "") CRLF CLOSE), NOLIM, NULL, NULL,
     "begin name=\"file\" file=\"\" ct=-\nend\nrc=OK"},
    {"filename* wins over filename", CT,
     BODY(D CRLF "Content-Disposition: form-data; name=file; filename*=UTF-8''dir%2Fna%C3%AFve%20"
                 "list.csv; filename=\"naive.csv\"" CRLF CRLF "1" CLOSE),
     NOLIM, NULL, NULL,
     "begin name=\"file\" file=\"na\\xc3\\xafve list.csv\" ct=-\ndata \"1\"\nend\nrc=OK"},
    {"filename* with a language", CT,
     BODY(D CRLF
          "Content-Disposition: form-data; name=f; filename*=utf-8'en'a%2ecsv" CRLF CRLF CLOSE),
     NOLIM, NULL, NULL, "begin name=\"f\" file=\"a.csv\" ct=-\nend\nrc=OK"},
    {"filename* in another charset", CT,
     BODY(D CRLF
          "Content-Disposition: form-data; name=f; filename*=iso-8859-1''a%E9.csv" CRLF CRLF CLOSE),
     NOLIM, NULL, NULL, "rc=BAD_HEADER"},
    {"filename* with a bad percent escape", CT,
     BODY(D CRLF "Content-Disposition: form-data; name=f; filename*=UTF-8''a%2" CRLF CRLF CLOSE),
     NOLIM, NULL, NULL, "rc=BAD_HEADER"},
    {"filename* decoding to a control character", CT,
     BODY(D CRLF "Content-Disposition: form-data; name=f; filename*=UTF-8''a%00b" CRLF CRLF CLOSE),
     NOLIM, NULL, NULL, "rc=BAD_HEADER"},
    {"quoted name with ';' and an escaped quote", CT,
     BODY(
         D CRLF
         "Content-Disposition: form-data; name=\"a;b\\\"c\"; filename=\"x;\\\\y\\\".csv\"" CRLF CRLF
         "1" CLOSE),
     NOLIM, NULL, NULL, "begin name=\"a;b\\\"c\" file=\"y\\\".csv\" ct=-\ndata \"1\"\nend\nrc=OK"},
    {"header names and types in any case, unknown headers ignored", CT,
     BODY(D CRLF "X-Trace2: 1" CRLF "content-DISPOSITION:FORM-DATA;NAME=agentId ; size=3" CRLF
                 "CONTENT-TYPE:  text/plain; charset=utf-8 \t" CRLF CRLF "ag_1" CLOSE),
     NOLIM, NULL, NULL,
     "begin name=\"agentId\" file=- ct=\"text/plain; charset=utf-8\"\ndata \"ag_1\"\nend\nrc=OK"},
    {"missing name", CT,
     BODY(D CRLF "Content-Disposition: form-data; filename=\"a.csv\"" CRLF CRLF "1" CLOSE), NOLIM,
     NULL, NULL, "rc=BAD_HEADER"},
    {"empty name", CT, BODY(D CRLF CD("") CRLF "1" CLOSE), NOLIM, NULL, NULL, "rc=BAD_HEADER"},
    {"no Content-Disposition", CT, BODY(D CRLF "Content-Type: text/csv" CRLF CRLF "1" CLOSE), NOLIM,
     NULL, NULL, "rc=BAD_HEADER"},
    {"no headers at all", CT, BODY(D CRLF CRLF "1" CLOSE), NOLIM, NULL, NULL, "rc=BAD_HEADER"},
    {"disposition is not form-data", CT,
     BODY(D CRLF "Content-Disposition: attachment; name=\"a\"" CRLF CRLF "1" CLOSE), NOLIM, NULL,
     NULL, "rc=BAD_HEADER"},
    {"repeated Content-Disposition", CT, BODY(D CRLF CD("a") CD("b") CRLF "1" CLOSE), NOLIM, NULL,
     NULL, "rc=BAD_HEADER"},
    {"repeated name parameter", CT,
     BODY(D CRLF "Content-Disposition: form-data; name=a; name=b" CRLF CRLF "1" CLOSE), NOLIM, NULL,
     NULL, "rc=BAD_HEADER"},
    {"unterminated quoted name", CT,
     BODY(D CRLF "Content-Disposition: form-data; name=\"a" CRLF CRLF "1" CLOSE), NOLIM, NULL, NULL,
     "rc=BAD_HEADER"},
    {"header line without a colon", CT, BODY(D CRLF CD("a") "oops" CRLF CRLF "1" CLOSE), NOLIM,
     NULL, NULL, "rc=BAD_HEADER"},
    {"space before the colon", CT,
     BODY(D CRLF "Content-Disposition : form-data; name=a" CRLF CRLF "1" CLOSE), NOLIM, NULL, NULL,
     "rc=BAD_HEADER"},
    {"folded header line", CT,
     BODY(D CRLF "Content-Disposition: form-data;" CRLF " name=a" CRLF CRLF "1" CLOSE), NOLIM, NULL,
     NULL, "rc=BAD_HEADER"},
    {"lone CR in a header line", CT, BODY(D CRLF CD("a") "X: a\rb" CRLF CRLF "1" CLOSE), NOLIM,
     NULL, NULL, "rc=BAD_HEADER"},
    {"NUL in a header line", CT, BODY(D CRLF CD("a") "X: a\0b" CRLF CRLF "1" CLOSE), NOLIM, NULL,
     NULL, "rc=BAD_HEADER"},
    {"header block exactly at the limit", CT, BODY(D CRLF CD("a") CRLF "1" CLOSE),
     LIM(0, sizeof(CD("a") CRLF) - 1, 0, 0), NULL, NULL,
     "begin name=\"a\" file=- ct=-\ndata \"1\"\nend\nrc=OK"},
    {"header block one byte over the limit", CT, BODY(D CRLF CD("a") CRLF "1" CLOSE),
     LIM(0, sizeof(CD("a") CRLF) - 2, 0, 0), NULL, NULL, "rc=HEADER_TOO_LARGE"},
    {"header without line end over the limit", CT, BODY(D CRLF "X: 0123456789012345678901234567"),
     LIM(0, 16, 0, 0), NULL, NULL, "rc=HEADER_TOO_LARGE"},
    {"endless transport padding", CT, BODY(D "                    " CRLF), LIM(0, 16, 0, 0), NULL,
     NULL, "rc=HEADER_TOO_LARGE"},
    {"parts at the limit", CT, BODY(AGENT CRLF D CRLF CD("b") CRLF "2" CLOSE), LIM(2, 0, 0, 0),
     NULL, NULL, AGENT_LOG "begin name=\"b\" file=- ct=-\ndata \"2\"\nend\nrc=OK"},
    {"too many parts", CT,
     BODY(AGENT CRLF D CRLF CD("b") CRLF "2" CRLF D CRLF CD("c") CRLF "3" CLOSE), LIM(2, 0, 0, 0),
     NULL, NULL, AGENT_LOG "begin name=\"b\" file=- ct=-\ndata \"2\"\nend\nrc=TOO_MANY_PARTS"},
    {"field exactly at the limit", CT, BODY(D CRLF CD("a") CRLF "1234" CLOSE), LIM(0, 0, 4, 0),
     NULL, NULL, "begin name=\"a\" file=- ct=-\ndata \"1234\"\nend\nrc=OK"},
    {"field over the limit", CT, BODY(D CRLF CD("a") CRLF "12345" CLOSE), LIM(0, 0, 4, 0), NULL,
     NULL, "begin name=\"a\" file=- ct=-\ndata \"1234\"\nrc=FIELD_TOO_LARGE"},
    {"field over the limit by a delimiter look-alike", CT,
     BODY(D CRLF CD("a") CRLF "123\r\n--AaB03xy" CLOSE), LIM(0, 0, 4, 0), NULL, NULL,
     "begin name=\"a\" file=- ct=-\ndata \"123\\r\"\nrc=FIELD_TOO_LARGE"},
    {"file part larger than the field limit", CT,
     BODY(D CRLF CDF("f", "a.csv") CRLF "123456" CLOSE), LIM(0, 0, 4, 0), NULL, NULL,
     "begin name=\"f\" file=\"a.csv\" ct=-\ndata \"123456\"\nend\nrc=OK"},
    {"body without any delimiter", CT, BODY("phone_number\r\n+14155552671\r\n"), NOLIM, NULL, NULL,
     "rc=NO_FIRST_BOUNDARY"},
    {"body with another boundary", CT, BODY("--other" CRLF CD("a") CRLF "1" CRLF "--other--"),
     NOLIM, NULL, NULL, "rc=NO_FIRST_BOUNDARY"},
    {"empty body", CT, BODY(""), NOLIM, NULL, NULL, "rc=NO_FIRST_BOUNDARY"},
    {"only the boundary", CT, BODY(D), NOLIM, NULL, NULL, "rc=NO_FIRST_BOUNDARY"},
    {"truncated in data", CT, BODY(AGENT CRLF D CRLF CD("file") CRLF "abc\r\n--AaB"), NOLIM, NULL,
     NULL, AGENT_LOG "begin name=\"file\" file=- ct=-\ndata \"abc\"\nrc=TRUNCATED"},
    {"truncated right after a boundary (not yet known to be a delimiter)", CT, BODY(AGENT CRLF D),
     NOLIM, NULL, NULL, "begin name=\"agentId\" file=- ct=-\ndata \"ag_1\"\nrc=TRUNCATED"},
    {"truncated after a delimiter line", CT, BODY(AGENT CRLF D CRLF), NOLIM, NULL, NULL,
     AGENT_LOG "rc=TRUNCATED"},
    {"truncated in headers", CT, BODY(D CRLF "Content-Disp"), NOLIM, NULL, NULL, "rc=TRUNCATED"},
    {"truncated after the first dash of the close", CT, BODY(AGENT CRLF D "-"), NOLIM, NULL, NULL,
     AGENT_LOG "rc=TRUNCATED"},
    {"LF-only line ends", CT, BODY(D "\n" CD("a") "\n1\n" D "--\n"), NOLIM, NULL, NULL,
     "rc=BARE_LF"},
    {"LF-only header lines after a CRLF delimiter", CT,
     BODY(D CRLF "Content-Disposition: form-data; name=a\n\n1" CLOSE), NOLIM, NULL, NULL,
     "rc=BARE_LF"},
    {"bare LF after a delimiter in data", CT, BODY(AGENT CRLF D "\nx"), NOLIM, NULL, NULL,
     AGENT_LOG "rc=BARE_LF"},
    {"on_part_begin stops", CT, BODY(AGENT CRLF D CRLF CD("stop") CRLF "2" CLOSE), NOLIM, "stop",
     NULL, AGENT_LOG "begin name=\"stop\" file=- ct=-\nrc=STOP"},
    {"on_part_end stops", CT, BODY(AGENT CRLF D CRLF CD("b") CRLF "2" CLOSE), NOLIM, NULL,
     "agentId", AGENT_LOG "rc=STOP"},
    {"quoted boundary with a space", "multipart/form-data; boundary=\"a b\"",
     BODY("--a b" CRLF CD("x") CRLF "1\r\n--a c\r\n--a b--"), NOLIM, NULL, NULL,
     "begin name=\"x\" file=- ct=-\ndata \"1\\r\\n--a c\"\nend\nrc=OK"},
    {"one-character boundary", "multipart/form-data; boundary=-",
     BODY("---" CRLF CD("x") CRLF "-\r\n--\r\n---x\r\n-----"), NOLIM, NULL, NULL,
     "begin name=\"x\" file=- ct=-\ndata \"-\\r\\n--\\r\\n---x\"\nend\nrc=OK"},
};

/* Feeds c's body as the given pieces (cut points strictly inside the body) and returns the log. */
static void run_pieces(const struct body_case *c, const size_t *cuts, size_t ncuts,
                       struct recorder *r)
{
    struct multipart p;
    struct mp_limits lim;
    const char *b = NULL;
    size_t blen = 0, from = 0;
    int rc;

    memset(r, 0, sizeof *r);
    r->stop_begin = c->stop_begin;
    r->stop_end = c->stop_end;
    CHECK_INT(multipart_boundary_from_content_type(c->ct, strlen(c->ct), &b, &blen), 0);
    lim.max_parts = c->max_parts;
    lim.max_header_bytes = c->max_header;
    lim.max_field_bytes = c->max_field;
    lim.max_preamble_bytes = c->max_preamble;
    CHECK_INT(multipart_init(&p, b, blen, &lim, &recorder_cb, r), 0);
    rc = 0;
    for (size_t i = 0; i <= ncuts && rc == 0; i++) {
        size_t to = i < ncuts ? cuts[i] : c->body_len;
        char *piece = malloc(to - from ? to - from : 1);

        memcpy(piece, c->body + from, to - from);
        rc = multipart_feed(&p, piece, to - from);
        free(piece);
        from = to;
    }
    if (rc == 0) {
        rc = multipart_finish(&p);
    }
    /* An error is sticky. */
    if (rc != 0) {
        CHECK_INT(multipart_feed(&p, D "--", 10), rc);
        CHECK_INT(multipart_finish(&p), rc);
    }
    close_data(r);
    log_str(r, "rc=");
    log_str(r, rc_name(rc));
    multipart_free(&p);
}

static int compare_log(const struct body_case *c, const struct recorder *r, const char *how)
{
    if (strcmp(r->log, c->log) == 0) {
        return 1;
    }
    CHECK_REPORT(0, "case '%s' fed %s:\n--- want\n%s\n--- got\n%s", c->name, how, c->log, r->log);
    return 0;
}

static void test_body_cases(void)
{
    static struct recorder r;

    for (size_t i = 0; i < sizeof body_cases / sizeof body_cases[0]; i++) {
        const struct body_case *c = &body_cases[i];
        size_t n = c->body_len;
        size_t *cuts = malloc((n ? n : 1) * sizeof *cuts);
        char how[64];

        run_pieces(c, NULL, 0, &r);
        if (!compare_log(c, &r, "whole")) {
            free(cuts);
            continue;
        }
        for (size_t k = 1; k < n; k++) {
            run_pieces(c, &k, 1, &r);
            snprintf(how, sizeof how, "split at %zu", k);
            if (!compare_log(c, &r, how)) {
                break;
            }
        }
        for (size_t k = 1; k < n; k++) {
            cuts[k - 1] = k;
        }
        run_pieces(c, cuts, n ? n - 1 : 0, &r);
        compare_log(c, &r, "one byte at a time");
        free(cuts);
    }
}

/* Checks each data slice against the file bytes it should be, and counts the slices. */
struct slice_sink {
    const char *expect;
    size_t expect_len;
    size_t calls, bytes;
    int same;
};

static int sink_data(void *ctx, const char *data, size_t len)
{
    struct slice_sink *s = ctx;

    if (len > s->expect_len - s->bytes || memcmp(data, s->expect + s->bytes, len) != 0) {
        s->same = 0;
    }
    s->calls++;
    s->bytes += len;
    return 0;
}

/* A 1 MB file of CRLF-terminated CSV lines, with delimiter look-alikes sprinkled in, fed in 64 KiB
 * chunks must come out byte for byte in large slices: at most two callbacks per chunk. */
static void test_large_slices(void)
{
    static const char head[] = D CRLF CDF("file", "big.csv") "Content-Type: text/csv" CRLF CRLF;
    static const char tail[] = CLOSE;
    const size_t file_len = 1u << 20, chunk = 64u << 10;
    size_t body_len = sizeof head - 1 + file_len + sizeof tail - 1, nchunks = 0, w = 0;
    char *body = malloc(body_len), *file = body + sizeof head - 1;
    struct slice_sink sink = {file, file_len, 0, 0, 1};
    struct mp_callbacks cb = {NULL, sink_data, NULL};
    struct multipart p;
    int rc = 0;

    memcpy(body, head, sizeof head - 1);
    for (unsigned line = 0; w < file_len; line++) {
        char buf[64];
        int n = snprintf(buf, sizeof buf, "+1415555%04u,Ann,Smith\r\n%s", line % 10000,
                         line % 10 == 9 ? "\r\n--AaB03x0\r\n--AaB0\r\n" : "");
        size_t take = (size_t)n < file_len - w ? (size_t)n : file_len - w;

        memcpy(file + w, buf, take);
        w += take;
    }
    memcpy(file + file_len, tail, sizeof tail - 1);

    CHECK_INT(multipart_init(&p, "AaB03x", 6, NULL, &cb, &sink), 0);
    for (size_t off = 0; off < body_len && rc == 0; off += chunk) {
        rc = multipart_feed(&p, body + off, body_len - off < chunk ? body_len - off : chunk);
        nchunks++;
    }
    CHECK_INT(rc, 0);
    CHECK_INT(multipart_finish(&p), 0);
    CHECK_INT(sink.bytes, file_len);
    CHECK(sink.same);
    CHECK_REPORT(sink.calls <= 2 * nchunks, "%zu data calls for %zu chunks", sink.calls, nchunks);
    multipart_free(&p);
    free(body);
}

/* A callback's non-zero result stops parsing at once and stays the parser's result. */
static int stop_data(void *ctx, const char *data, size_t len)
{
    int *calls = ctx;

    (void)data;
    (void)len;
    ++*calls;
    return STOP_RC;
}

static void test_data_callback_stops(void)
{
    static const char body[] = D CRLF CD("a") CRLF "123" CRLF D CRLF CD("b") CRLF "4" CLOSE;
    struct mp_callbacks cb = {NULL, stop_data, NULL};
    struct multipart p;
    int calls = 0;

    CHECK_INT(multipart_init(&p, "AaB03x", 6, NULL, &cb, &calls), 0);
    CHECK_INT(multipart_feed(&p, body, sizeof body - 1), STOP_RC);
    CHECK_INT(calls, 1);
    CHECK_INT(multipart_feed(&p, body, sizeof body - 1), STOP_RC);
    CHECK_INT(multipart_finish(&p), STOP_RC);
    CHECK_INT(calls, 1);
    multipart_free(&p);
}

static void test_strerror(void)
{
    for (int e = MP_E_BARE_LF; e <= MP_OK; e++) {
        const char *msg = multipart_strerror(e);
        CHECK(msg && strlen(msg) > 20);
        for (int f = MP_E_BARE_LF; f < e; f++) {
            CHECK(strcmp(msg, multipart_strerror(f)) != 0);
        }
    }
    CHECK(multipart_strerror(-1000) != NULL);
    CHECK(multipart_strerror(STOP_RC) != NULL);
    /* With a parser, a message about a limit names it. */
    struct multipart p;
    struct mp_limits lim = {.max_parts = 3, .max_header_bytes = 500, .max_field_bytes = 77};
    CHECK_INT(multipart_init(&p, "b", 1, &lim, NULL, NULL), 0);
    char msg[256];
    CHECK(strstr(multipart_error_message(&p, MP_E_TOO_MANY_PARTS, msg, sizeof msg),
                 "more than 3 parts") != NULL);
    CHECK(strstr(multipart_error_message(&p, MP_E_HEADER_TOO_LARGE, msg, sizeof msg),
                 "longer than 500 bytes") != NULL);
    CHECK(strstr(multipart_error_message(&p, MP_E_FIELD_TOO_LARGE, msg, sizeof msg),
                 "longer than 77 bytes") != NULL);
    CHECK_STR(multipart_error_message(&p, MP_E_TRUNCATED, msg, sizeof msg),
              multipart_strerror(MP_E_TRUNCATED));
    multipart_free(&p);
}

CHECK_MAIN(CHECK_CASE(test_boundary_from_content_type), CHECK_CASE(test_init_rejects_bad_boundary),
           CHECK_CASE(test_body_cases), CHECK_CASE(test_large_slices),
           CHECK_CASE(test_data_callback_stops), CHECK_CASE(test_strerror))
