/* CSV (src/ingest/csv.c), fed with random split points. Properties:
 * 1. The same rows (fields, row and line numbers, errors), file-level result, delimiter and
 *    encoding whether the input comes whole, cut at three points, or one byte at a time (with
 *    small limits, so the limit paths are reached by small inputs).
 * 2. The rows we return re-encode to an equivalent document: the header and every row without an
 *    error, written back with every field quoted, parse again to exactly those rows, without
 *    errors. */
#include <string.h>

#include "fuzz.h"
#include "ingest/csv.h"
#include "util/buf.h"

struct run {
    struct buf log;  /* every row, for the split property */
    struct buf good; /* the fields of rows without errors, for the re-encoding property */
    struct buf csv;  /* those rows re-encoded */
    int bad_rows;
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
    int rc = csv_init(&p, lim, on_row, r);
    if (!rc)
        rc = fuzz_feed(data, size, cuts, ncuts, feed, &p);
    if (!rc)
        rc = csv_finish(&p);
    buf_printf(&r->log, "rc %d delim %d enc %s\n", rc, csv_delimiter(&p), csv_encoding(&p));
    csv_free(&p);
    return rc;
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
