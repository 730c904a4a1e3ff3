/* Table-driven tests for the CSV parser. Each case is input bytes and the expected event log;
 * every case runs whole, split into two feeds at every byte offset, and one byte at a time, and
 * all runs must produce the same log. */
#include "ingest/csv.h"

#include "check.h"
#include "util/buf.h"

#include <stdint.h>
#include <stdlib.h>

/* The callback asks the parser to stop with this value in the "stop" cases. */
#define STOP_VALUE 42

struct csv_case {
    const char *name;
    const char *input;
    size_t len;
    struct csv_limits lim;
    int stop_after; /* the callback stops after this many rows; 0 = never */
    const char *expect;
};

/* Input as (bytes, length) so that NUL bytes can be part of it. */
#define IN(s) s, sizeof(s) - 1

struct log {
    char text[8192];
    size_t len;
    int overflow;
    int rows;
    int stop_after;
    int bad_utf8;
};

static void log_put(struct log *lg, const char *s, size_t n)
{
    if (n > sizeof lg->text - 1 - lg->len) {
        lg->overflow = 1;
        return;
    }
    memcpy(lg->text + lg->len, s, n);
    lg->len += n;
    lg->text[lg->len] = '\0';
}

static void log_str(struct log *lg, const char *s)
{
    log_put(lg, s, strlen(s));
}

/* Line breaks, brackets and control bytes are escaped so a log is one line per row. */
static void log_bytes(struct log *lg, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        char tmp[8];
        if (c == '\r')
            log_str(lg, "\\r");
        else if (c == '\n')
            log_str(lg, "\\n");
        else if (c == '\t')
            log_str(lg, "\\t");
        else if (c == '[' || c == ']' || c == '\\')
            snprintf(tmp, sizeof tmp, "\\%c", c), log_str(lg, tmp);
        else if (c < 0x20)
            snprintf(tmp, sizeof tmp, "\\x%02x", c), log_str(lg, tmp);
        else
            log_put(lg, (const char *)&c, 1);
    }
}

/* A long field is shown as its length and its first and last three bytes. */
static void log_field(struct log *lg, const char *p, size_t n)
{
    log_str(lg, "[");
    if (n > 64) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "{%zu ", n);
        log_str(lg, tmp);
        log_bytes(lg, p, 3);
        log_str(lg, "...");
        log_bytes(lg, p + n - 3, 3);
        log_str(lg, "}");
    } else {
        log_bytes(lg, p, n);
    }
    log_str(lg, "]");
}

static const char *row_error_name(int e)
{
    static const char *const names[] = {
        "OK",           "FIELD_TOO_LONG", "TOO_MANY_COLUMNS",   "NUL_BYTE",
        "COLUMN_COUNT", "BAD_QUOTE",      "UNTERMINATED_QUOTE", "TOO_LONG"};
    return e >= 0 && e < (int)(sizeof names / sizeof names[0]) ? names[e] : "?";
}

static const char *result_name(int rc)
{
    switch (rc) {
    case 0:
        return "0";
    case STOP_VALUE:
        return "STOP";
    case CSV_E_NOMEM:
        return "NOMEM";
    case CSV_E_HEADER_TOO_LONG:
        return "HEADER_TOO_LONG";
    case CSV_E_HEADER_NUL:
        return "HEADER_NUL";
    case CSV_E_HEADER_BAD_QUOTE:
        return "HEADER_BAD_QUOTE";
    case CSV_E_HEADER_UNTERMINATED_QUOTE:
        return "HEADER_UNTERMINATED_QUOTE";
    case CSV_E_HEADER_FIELD_TOO_LONG:
        return "HEADER_FIELD_TOO_LONG";
    case CSV_E_HEADER_TOO_MANY_COLUMNS:
        return "HEADER_TOO_MANY_COLUMNS";
    default:
        return "?";
    }
}

/* An independent UTF-8 check: decode each sequence and reject what the standard forbids. */
static int valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t more = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : 3;
        if ((c >= 0x80 && c < 0xC0) || c >= 0xF8 || (more > 0 && i + more >= n))
            return 0;
        uint32_t cp = more == 0 ? c : c & (0x3F >> more);
        for (size_t k = 1; k <= more; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[more] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += more + 1;
    }
    return 1;
}

static int on_row(void *ctx, const struct csv_row *r)
{
    struct log *lg = ctx;
    char head[64];
    snprintf(head, sizeof head, "%u@%u", (unsigned)r->row, (unsigned)r->line);
    log_str(lg, head);
    if (r->error) {
        log_str(lg, " ");
        log_str(lg, row_error_name(r->error));
    }
    log_str(lg, " ");
    for (size_t i = 0; i < r->nfields; i++) {
        log_field(lg, r->fields[i].ptr, r->fields[i].len);
        if (!valid_utf8((const unsigned char *)r->fields[i].ptr, r->fields[i].len))
            lg->bad_utf8 = 1;
    }
    log_str(lg, "\n");
    lg->rows++;
    return lg->stop_after && lg->rows >= lg->stop_after ? STOP_VALUE : 0;
}

/* Feeds input[0, first) as one chunk, then the rest in chunks of step bytes (0: all at once),
 * then finishes, and renders everything that happened into lg. */
static void run(const struct csv_limits *lim, int stop_after, const char *input, size_t len,
                size_t first, size_t step, struct log *lg)
{
    struct csv_parser p;
    memset(lg, 0, sizeof *lg);
    lg->stop_after = stop_after;
    int rc = csv_init(&p, lim, on_row, lg);
    if (rc == 0)
        rc = csv_feed(&p, input, first);
    size_t off = first;
    while (rc == 0 && off < len) {
        size_t n = step && step < len - off ? step : len - off;
        rc = csv_feed(&p, input + off, n);
        off += n;
    }
    if (rc == 0)
        rc = csv_finish(&p);
    else
        CHECK_INT(csv_finish(&p), rc); /* a stopped parser keeps reporting why */
    char tail[128];
    char d = csv_delimiter(&p);
    snprintf(tail, sizeof tail, "end=%s delim=%s enc=%s\n", result_name(rc),
             d == '\t'  ? "\\t"
             : d == ',' ? ","
                        : ";",
             csv_encoding(&p));
    log_str(lg, tail);
    csv_free(&p);
}

static void check_case(const struct csv_case *c)
{
    struct log whole, split;
    run(&c->lim, c->stop_after, c->input, c->len, c->len, 0, &whole);
    CHECK(!whole.overflow);
    CHECK(!whole.bad_utf8);
    CHECK_REPORT(strcmp(whole.text, c->expect) == 0, "case %s:\n--- expected\n%s--- got\n%s",
                 c->name, c->expect, whole.text);
    for (size_t k = 0; k <= c->len; k++) {
        run(&c->lim, c->stop_after, c->input, c->len, k, 0, &split);
        if (strcmp(split.text, whole.text) != 0) {
            CHECK_REPORT(0, "case %s split at %zu:\n%s", c->name, k, split.text);
            break;
        }
    }
    run(&c->lim, c->stop_after, c->input, c->len, 0, 1, &split);
    CHECK_REPORT(strcmp(split.text, whole.text) == 0, "case %s byte by byte:\n%s", c->name,
                 split.text);
}

static const struct csv_case csv_cases[] = {
    {"lf",
     IN("phone,name\n+1415,Ada\n+1416,Bob\n"),
     {0},
     0,
     "0@1 [phone][name]\n1@2 [+1415][Ada]\n2@3 [+1416][Bob]\nend=0 delim=, enc=utf-8\n"},
    {"crlf", IN("a,b\r\n1,2\r\n"), {0}, 0, "0@1 [a][b]\n1@2 [1][2]\nend=0 delim=, enc=utf-8\n"},
    {"lone cr",
     IN("a,b\r1,2\r3,4\r"),
     {0},
     0,
     "0@1 [a][b]\n1@2 [1][2]\n2@3 [3][4]\nend=0 delim=, enc=utf-8\n"},
    {"mixed line ends, last line without end",
     IN("a,b\r\n1,2\n3,4\r5,6"),
     {0},
     0,
     "0@1 [a][b]\n1@2 [1][2]\n2@3 [3][4]\n3@4 [5][6]\nend=0 delim=, enc=utf-8\n"},
    {"bom",
     IN("\xEF\xBB\xBFphone,name\n1,2\n"),
     {0},
     0,
     "0@1 [phone][name]\n1@2 [1][2]\nend=0 delim=, enc=utf-8\n"},
    {"bom only", IN("\xEF\xBB\xBF"), {0}, 0, "end=0 delim=, enc=utf-8\n"},
    {"partial bom is data",
     IN("\xEF\xBBx,y\n1,2\n"),
     {0},
     0,
     "0@1 [\xC3\xAF\xC2\xBBx][y]\n1@2 [1][2]\nend=0 delim=, enc=windows-1252\n"},
    {"bom not at start is data",
     IN("a\n\xEF\xBB\xBF\n"),
     {0},
     0,
     "0@1 [a]\n1@2 [\xEF\xBB\xBF]\nend=0 delim=, enc=utf-8\n"},
    {"quoted commas",
     IN("name,note\n\"Doe, Jane\",\"a,b,c\"\n"),
     {0},
     0,
     "0@1 [name][note]\n1@2 [Doe, Jane][a,b,c]\nend=0 delim=, enc=utf-8\n"},
    {"escaped quotes",
     IN("a,b\n\"say \"\"hi\"\"\",\"\"\"\"\n\"\",x\n\"\"\"a\"\"\",\"\"\n"),
     {0},
     0,
     "0@1 [a][b]\n1@2 [say \"hi\"][\"]\n2@3 [][x]\n3@4 [\"a\"][]\nend=0 delim=, enc=utf-8\n"},
    {"quoted line breaks",
     IN("a,b\n\"x\r\ny\",1\n\"p\nq\",2\n\"r\rs\",3\n4,5\n"),
     {0},
     0,
     "0@1 [a][b]\n1@2 [x\\r\\ny][1]\n2@4 [p\\nq][2]\n3@6 [r\\rs][3]\n4@8 [4][5]\n"
     "end=0 delim=, enc=utf-8\n"},
    {"line breaks in two quoted fields",
     IN("a,b\n\"x\r\",\"\ny\"\n1,2\n"),
     {0},
     0,
     "0@1 [a][b]\n1@2 [x\\r][\\ny]\n2@5 [1][2]\nend=0 delim=, enc=utf-8\n"},
    {"blank lines",
     IN("\n\r\n\ra,b\n\n1,2\r\n\r\n\n3,4\n\n\n"),
     {0},
     0,
     "0@4 [a][b]\n1@6 [1][2]\n2@9 [3][4]\nend=0 delim=, enc=utf-8\n"},
    {"only blank lines", IN("\n\r\n\r\r\n"), {0}, 0, "end=0 delim=, enc=utf-8\n"},
    {"empty input", IN(""), {0}, 0, "end=0 delim=, enc=utf-8\n"},
    {"delimiters only",
     IN("a,b,c,d\n,,,\n"),
     {0},
     0,
     "0@1 [a][b][c][d]\n1@2 [][][][]\nend=0 delim=, enc=utf-8\n"},
    {"semicolon",
     IN("a;b;c\n1;2,5;3\n"),
     {0},
     0,
     "0@1 [a][b][c]\n1@2 [1][2,5][3]\nend=0 delim=; enc=utf-8\n"},
    {"tab",
     IN("a\tb\n1\t2\n\"x\"\t\"y\"\n"),
     {0},
     0,
     "0@1 [a][b]\n1@2 [1][2]\n2@3 [x][y]\nend=0 delim=\\t enc=utf-8\n"},
    {"tie picks comma",
     IN("a,b;c\n1,2;3\n"),
     {0},
     0,
     "0@1 [a][b;c]\n1@2 [1][2;3]\nend=0 delim=, enc=utf-8\n"},
    {"tie between semicolon and tab picks comma",
     IN("a;b\tc,d\n"),
     {0},
     0,
     "0@1 [a;b\\tc][d]\nend=0 delim=, enc=utf-8\n"},
    {"no delimiter picks comma",
     IN("phone\n+1\n"),
     {0},
     0,
     "0@1 [phone]\n1@2 [+1]\nend=0 delim=, enc=utf-8\n"},
    {"delimiters inside quotes are not counted",
     IN("\"a,b,c\";d;e\n1;2;3\n"),
     {0},
     0,
     "0@1 [a,b,c][d][e]\n1@2 [1][2][3]\nend=0 delim=; enc=utf-8\n"},
    {"quoted header with line break",
     IN("\"a\nb\",c\n1,2\n"),
     {0},
     0,
     "0@1 [a\\nb][c]\n1@3 [1][2]\nend=0 delim=, enc=utf-8\n"},
    {"trailing delimiter",
     IN("a,b,\n1,2,\n"),
     {0},
     0,
     "0@1 [a][b][]\n1@2 [1][2][]\nend=0 delim=, enc=utf-8\n"},
    {"ragged rows",
     IN("a,b,c\n1,2\n1,2,3,4\n5,6,7\n"),
     {0},
     0,
     "0@1 [a][b][c]\n1@2 [1][2][]\n2@3 COLUMN_COUNT [1][2][3][4]\n3@4 [5][6][7]\n"
     "end=0 delim=, enc=utf-8\n"},
    {"short rows: the missing fields are empty ones at the end",
     IN("a;b;c;d\n1;2\n\"x\"\n1;;\n"),
     {0},
     0,
     "0@1 [a][b][c][d]\n1@2 [1][2][][]\n2@3 [x][][][]\n3@4 [1][][][]\n"
     "end=0 delim=; enc=utf-8\n"},
    {"nul byte",
     IN("a,b\n+1,x\0y\n3,4\n\"q\0\",z\n\0\n5,6\n"),
     {0},
     0,
     "0@1 [a][b]\n1@2 NUL_BYTE [+1]\n2@3 [3][4]\n3@4 NUL_BYTE \n4@5 NUL_BYTE \n5@6 [5][6]\n"
     "end=0 delim=, enc=utf-8\n"},
    {"field too long",
     IN("a,b\n12345,x\n\"toolong,\n\",y\nabcd,e\n1,2\n"),
     {.max_field = 4},
     0,
     "0@1 [a][b]\n1@2 FIELD_TOO_LONG \n2@3 FIELD_TOO_LONG \n3@5 [abcd][e]\n4@6 [1][2]\n"
     "end=0 delim=, enc=utf-8\n"},
    {"too many columns",
     IN("a,b,c\n1,2,3,4,5\n6,7,8\n1,2,3,\n"),
     {.max_columns = 3},
     0,
     "0@1 [a][b][c]\n1@2 TOO_MANY_COLUMNS [1][2][3]\n2@3 [6][7][8]\n"
     "3@4 TOO_MANY_COLUMNS [1][2][3]\nend=0 delim=, enc=utf-8\n"},
    {"row too long",
     IN("a,b\n1234,5678\n12345,6789\n1,2\n"),
     {.max_row = 8},
     0,
     "0@1 [a][b]\n1@2 [1234][5678]\n2@3 TOO_LONG [12345]\n3@4 [1][2]\n"
     "end=0 delim=, enc=utf-8\n"},
    {"row too long after transcoding",
     IN("x\n\x80\x80\x80\n\x80\x80\n"),
     {.max_row = 8},
     0,
     "0@1 [x]\n1@2 TOO_LONG \n2@3 [\xE2\x82\xAC\xE2\x82\xAC]\nend=0 delim=, enc=windows-1252\n"},
    {"bad quote",
     IN("a,b\n\"abc\"x,\"d\ne\"\n1,2\n\"ok\"  ,\"ok2\"\t\n"),
     {0},
     0,
     "0@1 [a][b]\n1@2 BAD_QUOTE \n2@4 [1][2]\n3@5 [ok][ok2]\nend=0 delim=, enc=utf-8\n"},
    {"quote inside unquoted field is data",
     IN("h,w\n5'11\",ab\"c\n"),
     {0},
     0,
     "0@1 [h][w]\n1@2 [5'11\"][ab\"c]\nend=0 delim=, enc=utf-8\n"},
    {"unquoted fields keep spaces",
     IN("a,b\n  x , y\n \"q\",z\n"),
     {0},
     0,
     "0@1 [a][b]\n1@2 [  x ][ y]\n2@3 [ \"q\"][z]\nend=0 delim=, enc=utf-8\n"},
    {"unterminated quote at end",
     IN("a,b\n1,\"abc\n"),
     {0},
     0,
     "0@1 [a][b]\n1@2 UNTERMINATED_QUOTE [1]\nend=0 delim=, enc=utf-8\n"},
    {"closing quote as last byte",
     IN("a,b\n1,\"abc\""),
     {0},
     0,
     "0@1 [a][b]\n1@2 [1][abc]\nend=0 delim=, enc=utf-8\n"},
    {"header only", IN("a,b\n"), {0}, 0, "0@1 [a][b]\nend=0 delim=, enc=utf-8\n"},
    {"header only without line end", IN("a;b"), {0}, 0, "0@1 [a][b]\nend=0 delim=; enc=utf-8\n"},
    {"header too long",
     IN("abcdefghi,x\n1,2\n"),
     {.max_header = 8},
     0,
     "end=HEADER_TOO_LONG delim=, enc=utf-8\n"},
    {"header at the length limit",
     IN("\n\nabcdefgh\r\n1\n"),
     {.max_header = 8},
     0,
     "0@3 [abcdefgh]\n1@4 [1]\nend=0 delim=, enc=utf-8\n"},
    {"header nul", IN("a,\0b\n1,2\n"), {0}, 0, "end=HEADER_NUL delim=, enc=utf-8\n"},
    {"header bad quote", IN("\"a\"x,b\n1,2\n"), {0}, 0, "end=HEADER_BAD_QUOTE delim=, enc=utf-8\n"},
    {"header unterminated quote",
     IN("\"a,b\n"),
     {0},
     0,
     "end=HEADER_UNTERMINATED_QUOTE delim=, enc=utf-8\n"},
    {"header field too long",
     IN("abcde,b\n1,2\n"),
     {.max_field = 4},
     0,
     "end=HEADER_FIELD_TOO_LONG delim=, enc=utf-8\n"},
    {"header too many columns",
     IN("a,b,c,d\n"),
     {.max_columns = 3},
     0,
     "end=HEADER_TOO_MANY_COLUMNS delim=, enc=utf-8\n"},
    {"callback stops",
     IN("a,b\n1,2\n3,4\n"),
     {0},
     2,
     "0@1 [a][b]\n1@2 [1][2]\nend=STOP delim=, enc=utf-8\n"},
    {"callback stops at the header",
     IN("a,b\n1,2\n"),
     {0},
     1,
     "0@1 [a][b]\nend=STOP delim=, enc=utf-8\n"},
    {"windows-1252",
     IN("name,price\nJos\xe9,\x80 5\n"),
     {0},
     0,
     "0@1 [name][price]\n1@2 [Jos\xC3\xA9][\xE2\x82\xAC 5]\nend=0 delim=, enc=windows-1252\n"},
    {"valid utf-8 untouched",
     IN("name\nJos\xC3\xA9\n\xE2\x82\xAC\n\xF0\x9F\x98\x80\n"),
     {0},
     0,
     "0@1 [name]\n1@2 [Jos\xC3\xA9]\n2@3 [\xE2\x82\xAC]\n3@4 [\xF0\x9F\x98\x80]\n"
     "end=0 delim=, enc=utf-8\n"},
    {"utf-8 and windows-1252 fields in one row",
     IN("a,b\nJos\xC3\xA9,Jos\xE9\n"),
     {0},
     0,
     "0@1 [a][b]\n1@2 [Jos\xC3\xA9][Jos\xC3\xA9]\nend=0 delim=, enc=windows-1252\n"},
    {"invalid utf-8 read as windows-1252",
     IN("f\n\xC0\x80\n\xED\xA0\x80\n\xE2\x82\n\x81\x8D\x8F\x90\x9D\n\xF4\x90\x80\x80\n"
        "\"\xE9, \"\"x\"\"\"\n"),
     {0},
     0,
     "0@1 [f]\n1@2 [\xC3\x80\xE2\x82\xAC]\n2@3 [\xC3\xAD\xC2\xA0\xE2\x82\xAC]\n"
     "3@4 [\xC3\xA2\xE2\x80\x9A]\n"
     "4@5 [\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD]\n"
     "5@6 [\xC3\xB4\xEF\xBF\xBD\xE2\x82\xAC\xE2\x82\xAC]\n6@7 [\xC3\xA9, \"x\"]\n"
     "end=0 delim=, enc=windows-1252\n"},
    {"utf-8 boundaries",
     IN("f\n\xC2\x80\n\xE0\xA0\x80\n\xF4\x8F\xBF\xBF\n\xE0\x80\x80\n\xF0\x80\x80\x80\n"),
     {0},
     0,
     "0@1 [f]\n1@2 [\xC2\x80]\n2@3 [\xE0\xA0\x80]\n3@4 [\xF4\x8F\xBF\xBF]\n"
     "4@5 [\xC3\xA0\xE2\x82\xAC\xE2\x82\xAC]\n5@6 [\xC3\xB0\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC]\n"
     "end=0 delim=, enc=windows-1252\n"},
    {"long ascii and utf-8 fields",
     IN("n\nabcdefghijklmnop\xC3\xA9qrstuvwxyz0123456789\n"),
     {0},
     0,
     "0@1 [n]\n1@2 [abcdefghijklmnop\xC3\xA9qrstuvwxyz0123456789]\nend=0 delim=, enc=utf-8\n"},
};

static void test_cases(void)
{
    for (size_t i = 0; i < sizeof csv_cases / sizeof csv_cases[0]; i++)
        check_case(&csv_cases[i]);
}

/* A small deterministic generator so the random test is reproducible. */
static uint32_t next_random(uint32_t *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 16;
}

/* Random documents, parsed whole, in random chunks and byte by byte: every run must agree and
 * every field must be valid UTF-8. Half the documents are dense in the bytes the parser treats
 * specially; the other half are mostly letters, so that long runs take the eight-byte path and
 * whole rows take the fast path. */
static void test_random_splits(void)
{
    static const char special[] = "ab,;\t\"\"\r\n\n \xE9\xC3\xA9\x80\xED";
    static const char letters[] = "abcdefghijklmnopqrstuvwxyz0123456789+@.abcdefghijklmnopqrstuvw"
                                  ",,,,,,\n\n\n\"\xC3\xA9";
    const struct csv_limits lims[2] = {{0}, {.max_field = 9, .max_columns = 4, .max_row = 24}};
    uint32_t seed = 1;
    char doc[256];
    struct log whole, split;
    for (int iter = 0; iter < 4000; iter++) {
        const char *alphabet = iter % 4 < 2 ? special : letters;
        size_t alphabet_len = iter % 4 < 2 ? sizeof special - 1 : sizeof letters - 1;
        size_t len = next_random(&seed) % sizeof doc;
        for (size_t i = 0; i < len; i++) {
            uint32_t r = next_random(&seed);
            doc[i] = r % 97 == 0 ? '\0' : alphabet[r % alphabet_len];
        }
        const struct csv_limits *lim = &lims[iter % 2];
        run(lim, 0, doc, len, len, 0, &whole);
        CHECK(!whole.bad_utf8);
        size_t first = len ? next_random(&seed) % len : 0;
        size_t step = 1 + next_random(&seed) % 7;
        run(lim, 0, doc, len, first, step, &split);
        CHECK_REPORT(strcmp(whole.text, split.text) == 0, "iteration %d differs", iter);
        run(lim, 0, doc, len, 0, 1, &split);
        CHECK_REPORT(strcmp(whole.text, split.text) == 0, "iteration %d differs", iter);
    }
}

/* Whole rows inside a chunk take the fast path, which classifies the input 64 bytes at a time
 * and walks those bits across fields, rows and blocks; fed byte by byte, no row does. A first
 * row of every length from 0 to 64 moves the rows after it to every offset within a block, so
 * each kind of byte (delimiter, quote, CR, LF, other control bytes, non-ASCII and invalid UTF-8)
 * lands at every offset, and next to every block boundary. Every run must agree. */
static void test_block_offsets(void)
{
    static const char rows[] = "+14155550100,Ada,\"Lovelace, Ada\",x\x01y\r\n"
                               "1,\"q\"\"q\",\"\xC3\xA9\",\x0b\x0c\x08\r\n"
                               "a\"b,\t,\xE9,\"line\nbreak\"\n"
                               "\r\n\n"
                               "\"\",,\"z\"  ,\n"
                               "\xF0\x9F\x98\x80,\x80\x81,\"\",letters-and-digits-0123456789\r"
                               "\"a,b\",\"c\",\"\xC3\xA9\xC3\xA9\",-\r\n"
                               "x,y,z,\xC3\r\n"
                               "ab\0c,d,e,f\n";
    const struct csv_limits lims[2] = {{0}, {.max_field = 20, .max_columns = 4, .max_row = 40}};
    char doc[1024];
    struct log whole, split;
    for (size_t lead = 0; lead <= 64; lead++) {
        size_t len = (size_t)sprintf(doc, "h1,h2,h3,h4\n");
        memset(doc + len, 'p', lead);
        len += lead;
        doc[len++] = '\n';
        for (int copy = 0; copy < 3; copy++) {
            memcpy(doc + len, rows, sizeof rows - 1);
            len += sizeof rows - 1;
        }
        for (int l = 0; l < 2; l++) {
            run(&lims[l], 0, doc, len, len, 0, &whole);
            CHECK(!whole.overflow);
            CHECK(!whole.bad_utf8);
            run(&lims[l], 0, doc, len, 0, 1, &split);
            CHECK_REPORT(strcmp(whole.text, split.text) == 0, "lead %zu byte by byte:\n%s\n%s",
                         lead, whole.text, split.text);
            run(&lims[l], 0, doc, len, lead + 1, 61, &split);
            CHECK_REPORT(strcmp(whole.text, split.text) == 0, "lead %zu in chunks of 61", lead);
        }
    }
}

/* Fields far larger than the row buffer's first allocation, so it has to grow; too large for
 * the every-offset run, so they are fed whole, byte by byte and in odd-sized chunks. */
static void test_large_fields(void)
{
    const struct csv_limits lim = {.max_field = 40000};
    const size_t big = 30000;
    size_t len = 0;
    char *doc = malloc(2 * big + lim.max_field + 64);
    struct log whole, split;
    CHECK(doc != NULL);
    if (!doc)
        return;
    len += (size_t)sprintf(doc, "a,b\n");
    memset(doc + len, 'x', big);
    len += big;
    doc[len++] = ',';
    doc[len++] = '"';
    memset(doc + len, '\xE9', big); /* Windows-1252: each byte becomes two in UTF-8 */
    len += big;
    len += (size_t)sprintf(doc + len, "\"\n1,2\n");
    memset(doc + len, 'y', lim.max_field + 1);
    len += lim.max_field + 1;
    len += (size_t)sprintf(doc + len, ",z\n3,4");

    run(&lim, 0, doc, len, len, 0, &whole);
    CHECK(!whole.bad_utf8);
    CHECK_STR(whole.text, "0@1 [a][b]\n"
                          "1@2 [{30000 xxx...xxx}][{60000 \xC3\xA9\xC3...\xA9\xC3\xA9}]\n"
                          "2@3 [1][2]\n3@4 FIELD_TOO_LONG \n4@5 [3][4]\n"
                          "end=0 delim=, enc=windows-1252\n");
    run(&lim, 0, doc, len, 0, 1, &split);
    CHECK_STR(split.text, whole.text);
    run(&lim, 0, doc, len, 7, 4093, &split);
    CHECK_STR(split.text, whole.text);
    free(doc);
}

static void test_sticky_and_finished(void)
{
    struct csv_parser p;
    struct log lg;
    memset(&lg, 0, sizeof lg);
    CHECK_INT(csv_init(&p, NULL, on_row, &lg), 0);
    CHECK_INT(csv_feed(&p, "a\n1\n", 4), 0);
    CHECK_INT(csv_finish(&p), 0);
    CHECK_INT(csv_feed(&p, "2\n", 2), CSV_E_FINISHED);
    CHECK_INT(csv_finish(&p), CSV_E_FINISHED);
    csv_free(&p);

    memset(&lg, 0, sizeof lg);
    CHECK_INT(csv_init(&p, &(struct csv_limits){.max_header = 4}, on_row, &lg), 0);
    CHECK_INT(csv_feed(&p, "abcde", 5), CSV_E_HEADER_TOO_LONG);
    CHECK_INT(csv_feed(&p, "\n", 1), CSV_E_HEADER_TOO_LONG);
    CHECK_INT(lg.rows, 0);
    csv_free(&p);

    CHECK_INT(csv_init(&p, NULL, NULL, NULL), CSV_E_INVALID);
    CHECK_INT(csv_feed(&p, "a\n", 2), CSV_E_INVALID);
    csv_free(&p);
    CHECK_INT(csv_init(&p, &(struct csv_limits){.max_header = SIZE_MAX}, on_row, &lg),
              CSV_E_INVALID);
    CHECK_INT(csv_finish(&p), CSV_E_INVALID);
    csv_free(&p);
}

/* The delimiter is ',' until the header line has been seen, then the detected one; the
 * encoding switches once a field needed transcoding and stays switched. */
static void test_accessors(void)
{
    struct csv_parser p;
    struct log lg;
    memset(&lg, 0, sizeof lg);
    CHECK_INT(csv_init(&p, NULL, on_row, &lg), 0);
    CHECK_INT(csv_delimiter(&p), ',');
    CHECK_STR(csv_encoding(&p), "utf-8");
    CHECK_INT(csv_feed(&p, "x;y", 3), 0);
    CHECK_INT(csv_delimiter(&p), ',');
    CHECK_INT(csv_feed(&p, "\n\xE9;2\n", 5), 0);
    CHECK_INT(csv_delimiter(&p), ';');
    CHECK_STR(csv_encoding(&p), "windows-1252");
    CHECK_INT(csv_feed(&p, "3;4\n", 4), 0);
    CHECK_STR(csv_encoding(&p), "windows-1252");
    CHECK_INT(csv_finish(&p), 0);
    CHECK_STR(lg.text, "0@1 [x][y]\n1@2 [\xC3\xA9][2]\n2@3 [3][4]\n");
    csv_free(&p);
}

static void test_messages(void)
{
    char a[256], b[256];
    for (int e = CSV_ROW_OK; e <= CSV_ROW_TOO_LONG + 1; e++)
        CHECK(csv_row_error_message(NULL, e, a, sizeof a) == a && a[0]);
    for (int e = 0; e >= CSV_E_INVALID - 1; e--)
        CHECK(csv_strerror(NULL, e, a, sizeof a) == a && a[0]);
    CHECK(strcmp(csv_strerror(NULL, CSV_E_HEADER_TOO_LONG, a, sizeof a),
                 csv_strerror(NULL, CSV_E_NOMEM, b, sizeof b)) != 0);
    CHECK(strcmp(csv_row_error_message(NULL, CSV_ROW_BAD_QUOTE, a, sizeof a),
                 csv_row_error_message(NULL, CSV_ROW_NUL_BYTE, b, sizeof b)) != 0);
    /* A message about a limit names it: the parser's own, or the default without a parser. */
    struct csv_parser p;
    struct csv_limits lim = {.max_field = 7, .max_columns = 3, .max_header = 11, .max_row = 13};
    CHECK(csv_init(&p, &lim, on_row, NULL) == 0);
    const struct {
        int error, row;
        const char *own, *dflt;
    } limits[] = {
        {CSV_ROW_FIELD_TOO_LONG, 1, "longer than 7 bytes", "longer than 16384 bytes"},
        {CSV_ROW_TOO_MANY_COLUMNS, 1, "more than 3 fields", "more than 200 fields"},
        {CSV_ROW_TOO_LONG, 1, "longer than 13 bytes", "longer than 262144 bytes"},
        {CSV_E_HEADER_TOO_LONG, 0, "longer than 11 bytes", "longer than 65536 bytes"},
        {CSV_E_HEADER_FIELD_TOO_LONG, 0, "longer than 7 bytes", "longer than 16384 bytes"},
        {CSV_E_HEADER_TOO_MANY_COLUMNS, 0, "more than 3 columns", "more than 200 columns"},
    };
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        const char *own = limits[i].row ? csv_row_error_message(&p, limits[i].error, a, sizeof a)
                                        : csv_strerror(&p, limits[i].error, a, sizeof a);
        const char *dflt = limits[i].row ? csv_row_error_message(NULL, limits[i].error, b, sizeof b)
                                         : csv_strerror(NULL, limits[i].error, b, sizeof b);
        CHECK_REPORT(strstr(own, limits[i].own) != NULL, "%s", own);
        CHECK_REPORT(strstr(dflt, limits[i].dflt) != NULL, "%s", dflt);
        /* One sentence: no doubled full stop. */
        CHECK_REPORT(strstr(own, "..") == NULL, "%s", own);
    }
    csv_free(&p);
}

struct name_case {
    const char *in;
    size_t cap;
    int expect_len;
    const char *expect;
};

static void test_normalize_name(void)
{
    static const struct name_case names[] = {
        {"  Phone Number ", 64, 12, "phone_number"},
        {"\tFIRST\t \tNAME\t", 64, 10, "first_name"},
        {"phone_number", 64, 12, "phone_number"},
        {"E-Mail", 64, 6, "e-mail"},
        {"", 64, 0, ""},
        {" \t ", 64, 0, ""},
        {"a  b   c", 64, 5, "a_b_c"},
        {"\xC3\x89mail Address", 64, 14, "\xC3\x89mail_address"},
        {"abc", 4, 3, "abc"},
        {"abc", 3, CSV_E_NAME_TOO_LONG, NULL},
        {"", 0, CSV_E_NAME_TOO_LONG, NULL},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char out[64];
        memset(out, 'Z', sizeof out);
        int n = csv_normalize_name(names[i].in, strlen(names[i].in), out, names[i].cap);
        CHECK_INT(n, names[i].expect_len);
        if (names[i].expect) {
            CHECK_STR(out, names[i].expect);
        }
    }
    /* The input is a slice: bytes past len must not be read. */
    char out[8];
    CHECK_INT(csv_normalize_name("Ab Cd", 4, out, sizeof out), 4);
    CHECK_STR(out, "ab_c");
}

/* Each row's offset (csv_row_offset in the callback) and the parser resumed there. */
struct offsets {
    struct csv_parser *p;
    struct buf log;
    uint64_t at[16];
    uint32_t line[16];
    size_t logged[16]; /* the log's length before the row */
    size_t n;
};

static int log_offset(void *ctx, const struct csv_row *r)
{
    struct offsets *o = ctx;
    uint64_t at = csv_row_offset(o->p);
    if (r->row && o->n < 16) {
        o->at[o->n] = at;
        o->logged[o->n] = o->log.len;
        o->line[o->n++] = r->line;
    }
    buf_printf(&o->log, "%u@%u+%llu:", (unsigned)r->row, (unsigned)r->line, (unsigned long long)at);
    for (size_t i = 0; i < r->nfields; i++)
        buf_printf(&o->log, "[%.*s]", (int)r->fields[i].len, r->fields[i].ptr);
    buf_printf(&o->log, "%d\n", r->error);
    return 0;
}

static void test_row_offsets_and_resume(void)
{
    static const char in[] = "\xEF\xBB\xBFphone,note\r\n\r\n+1,a\r\n\"+2\",\"x\r\n\"\"y\"\"\"\r\n"
                             "\n+3,\xE9\xE9\r\n+4,0123456789012345678901234567890123456789"
                             "0123456789012345678901234567890123456789\r\n+5,\"b\" ,c\n+6,z";
    static const uint64_t want[] = {17, 23, 41, 48, 133, 143};
    size_t len = sizeof in - 1;
    for (size_t split = 0; split <= len; split++) {
        struct csv_parser p;
        struct offsets o = {.p = &p};
        CHECK_INT(csv_init(&p, NULL, log_offset, &o), 0);
        /* split 0: a byte at a time */
        for (size_t at = 0; at < len; at += split ? (at ? len - at : split) : 1)
            CHECK_INT(csv_feed(&p, in + at, split ? (at ? len - at : split) : 1), 0);
        CHECK_INT(csv_finish(&p), 0);
        CHECK_INT(o.n, 6);
        for (size_t i = 0; i < o.n && i < 6; i++)
            CHECK_REPORT(o.at[i] == want[i], "split %zu: row %zu at %llu", split, i + 1,
                         (unsigned long long)o.at[i]);
        /* Resumed at each row: the rows from there are read as the first time. */
        struct buf whole = o.log;
        for (size_t k = 0; k < o.n; k++) {
            struct offsets r = {.p = &p};
            p.ctx = &r;
            CHECK_INT(csv_resume(&p, (uint32_t)k + 1, o.line[k], o.at[k]), 0);
            CHECK_INT(csv_feed(&p, in + o.at[k], len - o.at[k]), 0);
            CHECK_INT(csv_finish(&p), 0);
            const char *from = whole.data + o.logged[k];
            CHECK_REPORT(r.log.len == whole.len - (size_t)(from - whole.data) &&
                             !memcmp(r.log.data, from, r.log.len),
                         "split %zu, resumed at row %zu: %.*s", split, k + 1, (int)r.log.len,
                         r.log.data);
            buf_free(&r.log);
        }
        CHECK_INT(strcmp(csv_encoding(&p), "windows-1252"), 0);
        buf_free(&whole);
        csv_free(&p);
    }
    /* Not before a header. */
    struct csv_parser p;
    struct offsets o = {.p = &p};
    CHECK_INT(csv_init(&p, NULL, log_offset, &o), 0);
    CHECK_INT(csv_resume(&p, 1, 1, 0), CSV_E_INVALID);
    csv_free(&p);
    buf_free(&o.log);
}

CHECK_MAIN(CHECK_CASE(test_cases), CHECK_CASE(test_row_offsets_and_resume),
           CHECK_CASE(test_random_splits), CHECK_CASE(test_block_offsets),
           CHECK_CASE(test_large_fields), CHECK_CASE(test_sticky_and_finished),
           CHECK_CASE(test_accessors), CHECK_CASE(test_messages), CHECK_CASE(test_normalize_name))
