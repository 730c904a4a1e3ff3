/* Incremental RFC 4180 CSV parser for uploaded contact lists.
 *
 * Bytes may arrive in chunks split at any point; the rows delivered are the same whatever the
 * split. The first non-blank line is the header (row 0); its delimiter (',', ';' or tab) is
 * detected and then used for the whole file. Every field is delivered as valid UTF-8: a field
 * that is not valid UTF-8 is read as Windows-1252 and transcoded. Memory is bounded by the
 * limits and allocated once per parser, never per row.
 *
 * Problems inside a data row never stop parsing: the row is delivered with an error code and
 * parsing resumes at the next row. Problems with the header are file-level errors (negative
 * codes from csv_feed/csv_finish) because nothing after a broken header can be trusted. */
#ifndef BC_INGEST_CSV_H
#define BC_INGEST_CSV_H

#include <stddef.h>
#include <stdint.h>

/* A field's bytes; valid UTF-8, not NUL-terminated, valid only during the row callback. */
struct csv_field {
    const char *ptr;
    size_t len;
};

/* Caps on the input. A zero member takes its default. */
struct csv_limits {
    size_t max_field;   /* bytes of one field as read (default 16384) */
    size_t max_columns; /* fields in one row (default 200) */
    size_t max_header;  /* bytes of the header line, without its line end (default 65536) */
    size_t max_row;     /* bytes of one delivered row after transcoding (default 262144) */
};

#define CSV_DEFAULT_MAX_FIELD   16384
#define CSV_DEFAULT_MAX_COLUMNS 200
#define CSV_DEFAULT_MAX_HEADER  65536
#define CSV_DEFAULT_MAX_ROW     262144

/* Why a row was delivered with an error. Only the first problem of a row is reported. */
enum csv_row_error {
    CSV_ROW_OK = 0,
    CSV_ROW_FIELD_TOO_LONG,     /* a field is longer than max_field */
    CSV_ROW_TOO_MANY_COLUMNS,   /* more than max_columns fields */
    CSV_ROW_NUL_BYTE,           /* a NUL byte somewhere in the row */
    CSV_ROW_COLUMN_COUNT,       /* more fields than the header (a shorter row is padded with empty
                                   fields); all fields delivered */
    CSV_ROW_BAD_QUOTE,          /* something other than spaces/tabs after a closing quote */
    CSV_ROW_UNTERMINATED_QUOTE, /* the input ended inside a quoted field */
    CSV_ROW_TOO_LONG            /* the row as a whole is longer than max_row */
};

/* File-level errors, returned (negative) by the functions below. */
enum csv_error {
    CSV_E_NOMEM = -1,                     /* out of memory */
    CSV_E_HEADER_TOO_LONG = -2,           /* no line end within max_header bytes */
    CSV_E_HEADER_NUL = -3,                /* a NUL byte in the header */
    CSV_E_HEADER_BAD_QUOTE = -4,          /* text after a closing quote in the header */
    CSV_E_HEADER_UNTERMINATED_QUOTE = -5, /* the input ended inside a quoted header field */
    CSV_E_HEADER_FIELD_TOO_LONG = -6,     /* a header name longer than max_field */
    CSV_E_HEADER_TOO_MANY_COLUMNS = -7,   /* more than max_columns header names */
    CSV_E_NAME_TOO_LONG = -8,             /* csv_normalize_name: output does not fit */
    CSV_E_FINISHED = -9,                  /* csv_feed or csv_finish after csv_finish */
    CSV_E_INVALID = -10                   /* bad arguments to csv_init */
};

struct csv_row {
    uint32_t row;  /* 0 = the header row, then 1-based data rows (blank lines are not rows) */
    uint32_t line; /* 1-based physical line where the row starts */
    const struct csv_field *fields;
    size_t nfields;
    int error; /* enum csv_row_error; fields may be partial when error != 0 */
};

/* Return 0 to continue; any non-zero value stops parsing and is returned by csv_feed/csv_finish
 * (from then on they keep returning it). A positive value cannot be confused with the parser's
 * own negative codes. */
typedef int (*csv_row_fn)(void *ctx, const struct csv_row *row);

/* Declared here so callers can embed it; every member is private to csv.c. */
struct csv_parser {
    struct csv_limits lim;
    csv_row_fn fn;
    void *ctx;
    int stopped;  /* sticky result once parsing stopped: an error or the callback's value */
    int finished; /* csv_finish was called */

    /* Header phase: the header line is buffered until its delimiter is known. */
    int header_scanned; /* the delimiter is known and rows are parsed streaming */
    int bom_matched;    /* leading bytes that matched the UTF-8 BOM so far; 3 = done */
    int hstate;
    int hcount[3]; /* ',', ';' and tab outside quotes in the header line */
    char *hbuf;
    size_t hlen, hcap;

    /* Streaming row parser. */
    char delim;
    int state;
    int prev_cr; /* the last byte consumed was a CR, so an LF right after it is not a new line */
    int windows1252;
    int have_header;
    size_t header_nfields;
    uint32_t line, row_line, rows;

    /* The current row: field contents back to back in buf, lengths in fields[]. */
    char *buf;
    size_t len, cap, field_start;
    struct csv_field *fields;
    size_t nfields;
    int field_high; /* the current field has a non-ASCII byte, so it needs a UTF-8 check */
    int row_error;
    int fatal; /* an allocation failed; reported when the row ends */
    /* Where rows begin in the input: the current chunk, the first byte of a row begun in it
     * (NULL when none has), the bytes fed before it, and a row's offset once its chunk is gone. */
    const unsigned char *feed, *row_ptr;
    uint64_t fed, row_off;
};

/* Prepares p. lim may be NULL for all defaults. Fails with CSV_E_INVALID without fn or with a
 * limit above SIZE_MAX / 4, or with CSV_E_NOMEM. On failure p is still safe to csv_free, and
 * csv_feed/csv_finish return the same error. */
int csv_init(struct csv_parser *p, const struct csv_limits *lim, csv_row_fn fn, void *ctx);
/* Parses the next chunk of input; calls fn for every row completed. */
int csv_feed(struct csv_parser *p, const char *data, size_t len);
/* End of input: flushes a last line without a line end. Returns 0 for an empty input too. */
int csv_finish(struct csv_parser *p);
void csv_free(struct csv_parser *p);

/* The offset in the input (bytes fed since csv_init, or since the offset csv_resume was given)
 * of the first byte of the row being delivered (in the callback), or of the row begun and not
 * yet ended (between two calls: see csv_row_open). */
uint64_t csv_row_offset(const struct csv_parser *p);
/* 1 while a data row (or the header line, whose buffer may hold the start of a data row) has
 * begun and not ended: the next chunk continues it, and csv_row_offset says where it began. */
int csv_row_open(const struct csv_parser *p);
/* Reads again from the first byte of data row `row` (1-based), which starts on line `line` at
 * `offset`: the next bytes fed are that row's. The header, its delimiter and the encoding found
 * so far are kept. For a parser that read its header and has not failed (csv_finish may have
 * been called); returns 0, or CSV_E_INVALID. */
int csv_resume(struct csv_parser *p, uint32_t row, uint32_t line, uint64_t offset);
char csv_delimiter(const struct csv_parser *p);       /* ',', ';' or '\t' (',' until known) */
const char *csv_encoding(const struct csv_parser *p); /* "utf-8" or "windows-1252" */
/* A sentence for a row error, or for a (negative) file-level error, into out; one about a limit
 * names the parser's limit (p NULL: the defaults). Return out. */
const char *csv_row_error_message(const struct csv_parser *p, int error, char *out, size_t cap);
const char *csv_strerror(const struct csv_parser *p, int err, char *out, size_t cap);

/* Header name normalisation: ASCII lower-case, surrounding spaces/tabs trimmed, each inner run of
 * spaces/tabs becomes one '_' ("  Phone Number " -> "phone_number"). Other bytes are kept. The
 * output is NUL-terminated. Returns the output length (without the NUL), or CSV_E_NAME_TOO_LONG
 * if the output and its NUL do not fit in cap. */
int csv_normalize_name(const char *in, size_t len, char *out, size_t cap);

#endif
