/* CSV (src/ingest/csv.c), fed with random split points. Properties:
 * 1. The same rows (fields, row and line numbers, errors), file-level result, delimiter and
 *    encoding whether the input comes whole, cut at three points, or one byte at a time (with
 *    small limits, so the limit paths are reached by small inputs).
 * 2. The rows we return re-encode to an equivalent document: the header and every row without an
 *    error, written back with every field quoted, parse again to exactly those rows, without
 *    errors.
 * 3. Each data row's offset (csv_row_offset, part of the log of property 1) grows from row to row
 *    and lies within the input; a parser resumed at one row's offset, line and number
 *    (csv_resume) and fed the input from there delivers exactly the rows from that one on. */
#include <string.h>

#include "fuzz.h"
#include "ingest/csv.h"
#include "util/buf.h"

struct run {
    struct buf log;  /* every row, for the split property */
    struct buf good; /* the fields of rows without errors, for the re-encoding property */
    struct buf csv;  /* those rows re-encoded */
    int bad_rows;
    uint32_t rows, want_row; /* data rows seen; the row whose place resume_check keeps */
    uint64_t last_off, size;
    size_t mark_log;
    uint32_t mark_line;
    uint64_t mark_off;
    char delim; /* for the re-encoding: the delimiter is known once the header is delivered */
    const struct csv_parser *p;
};

static void put_field(struct buf *b, const struct csv_field *f)
{
    buf_printf(b, "%zu:", f->len);
    buf_append(b, f->ptr, f->len);
}

static void encode(struct buf *b, char delim, const struct csv_row *row)
{
    for (size_t i = 0; i < row->nfields; i++) {
        if (i)
            buf_append(b, &delim, 1);
        buf_append(b, "\"", 1);
        const char *s = row->fields[i].ptr;
        for (size_t j = 0; j < row->fields[i].len; j++) {
            if (s[j] == '"')
                buf_append(b, "\"", 1);
            buf_append(b, s + j, 1);
        }
        buf_append(b, "\"", 1);
    }
    buf_append(b, "\r\n", 2);
}

static int on_row(void *ctx, const struct csv_row *row)
{
    struct run *r = ctx;
    if (row->row) {
        uint64_t off = csv_row_offset(r->p);
        FUZZ_CHECK(off < r->size && (r->rows == 0 || off > r->last_off),
                   "row %u at %llu (the last at %llu, of %llu bytes)", row->row,
                   (unsigned long long)off, (unsigned long long)r->last_off,
                   (unsigned long long)r->size);
        r->last_off = off;
        r->rows++;
        if (row->row == r->want_row) {
            r->mark_log = r->log.len;
            r->mark_line = row->line;
            r->mark_off = off;
        }
        buf_printf(&r->log, "at %llu ", (unsigned long long)off);
    }
    buf_printf(&r->log, "row %u line %u err %d n %zu:", row->row, row->line, row->error,
               row->nfields);
    for (size_t i = 0; i < row->nfields; i++) {
        FUZZ_CHECK(row->fields[i].len == 0 || row->fields[i].ptr, "field %zu without bytes", i);
        put_field(&r->log, &row->fields[i]);
    }
    buf_append(&r->log, "\n", 1);
    if (row->error) {
        r->bad_rows++;
        return 0;
    }
    buf_printf(&r->good, "n %zu:", row->nfields);
    for (size_t i = 0; i < row->nfields; i++)
        put_field(&r->good, &row->fields[i]);
    buf_append(&r->good, "\n", 1);
    encode(&r->csv, csv_delimiter(r->p), row);
    return 0;
}

static void run_free(struct run *r)
{
    buf_free(&r->log);
    buf_free(&r->good);
    buf_free(&r->csv);
}

static int feed(void *p, const char *data, size_t n)
{
    return csv_feed(p, data, n);
}

/* Parses data fed at the cuts (ncuts offsets, or every byte when ncuts is SIZE_MAX). */
static int parse(const char *data, size_t size, const struct csv_limits *lim, const size_t *cuts,
                 size_t ncuts, struct run *r)
{
    struct csv_parser p;
    memset(r, 0, sizeof *r);
    r->p = &p;
    r->size = size;
    int rc = csv_init(&p, lim, on_row, r);
    if (!rc)
        rc = fuzz_feed(data, size, cuts, ncuts, feed, &p);
    if (!rc)
        rc = csv_finish(&p);
    buf_printf(&r->log, "rc %d delim %d enc %s\n", rc, csv_delimiter(&p), csv_encoding(&p));
    csv_free(&p);
    return rc;
}

/* Property 3: parses the input whole, then again from row want (1-based) on. */
static void resume_check(const char *in, size_t size, const struct csv_limits *lim, uint32_t want)
{
    struct csv_parser p;
    struct run r;
    memset(&r, 0, sizeof r);
    r.p = &p;
    r.size = size;
    r.want_row = want;
    int rc = csv_init(&p, lim, on_row, &r);
    if (!rc)
        rc = csv_feed(&p, in, size);
    if (!rc)
        rc = csv_finish(&p);
    if (rc == 0 && r.rows >= want) {
        struct buf whole = r.log;
        memset(&r.log, 0, sizeof r.log);
        r.want_row = 0;
        r.rows = 0;
        FUZZ_CHECK(csv_resume(&p, want, r.mark_line, r.mark_off) == 0, "resume at row %u", want);
        rc = csv_feed(&p, in + r.mark_off, size - r.mark_off);
        if (!rc)
            rc = csv_finish(&p);
        FUZZ_CHECK(rc == 0, "resumed at row %u: %d", want, rc);
        FUZZ_CHECK(r.log.len == whole.len - r.mark_log &&
                       !memcmp(r.log.data, whole.data + r.mark_log, r.log.len),
                   "resumed at row %u (offset %llu): other rows", want,
                   (unsigned long long)r.mark_off);
        buf_free(&whole);
    }
    run_free(&r);
    csv_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const struct csv_limits small = {
        .max_field = 24, .max_columns = 6, .max_header = 64, .max_row = 96};
    const struct csv_limits big = {
        .max_field = 1 << 20, .max_columns = 200, .max_header = 1 << 20, .max_row = 1 << 22};
    size_t cuts[3];
    fuzz_cuts(fuzz_hash(data, size), size, cuts, 3);

    /* 1. Splits, with small limits. */
    struct run whole, cut, bytes;
    parse(in, size, &small, NULL, 0, &whole);
    parse(in, size, &small, cuts, 3, &cut);
    fuzz_same(&whole.log, &cut.log, "cut at three points");
    if (size <= 4096) {
        parse(in, size, &small, NULL, SIZE_MAX, &bytes);
        fuzz_same(&whole.log, &bytes.log, "one byte at a time");
        run_free(&bytes);
    }
    if (whole.rows)
        resume_check(in, size, &small, 1 + (uint32_t)(fuzz_hash(data, size) % whole.rows));
    run_free(&whole);
    run_free(&cut);

    /* 2. Re-encoding, with limits the re-encoding cannot reach. */
    struct run first, again;
    int rc = parse(in, size, &big, cuts, 3, &first);
    if (rc == 0 && first.good.len) {
        rc = parse(first.csv.data, first.csv.len, &big, NULL, 0, &again);
        FUZZ_CHECK(rc == 0 && again.bad_rows == 0,
                   "the re-encoding fails: rc %d, %d bad rows:\n%.*s", rc, again.bad_rows,
                   (int)first.csv.len, first.csv.data);
        fuzz_same(&first.good, &again.good, "re-encoded rows");
        run_free(&again);
    }
    run_free(&first);
    return 0;
}
