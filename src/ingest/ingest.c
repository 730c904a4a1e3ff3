#include "ingest/ingest.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ingest/chunk.h"
#include "ingest/phone.h"
#include "model/consent.h"
#include "store/records.h"
#include "util/err.h"

/* Rows written per transaction: large enough that commits (each an fsync) are few, small enough
 * that the chunk being filled and the one being written stay about a megabyte each and a
 * chunk's transaction holds LMDB's write lock for a few milliseconds (8192 compact job records
 * are about the bytes of 4096 of the older ones: 33 fsyncs for the bench's file, not 65). */
#define CHUNK_ROWS  8192
#define CHUNK_BYTES (4u << 20)

#define PART_FILE    (-1)
#define PART_IGNORED (-2)
/* File bytes read from the spool at a time when the rows are read again. */
#define REPLAY_READ (64u * 1024)

int ingest_error_code(enum ingest_error e)
{
    switch (e) {
    case INGEST_OK:
        return 0;
    case INGEST_E_NOMEM:
        return BC_ENOMEM;
    case INGEST_E_STORE_FULL:
        return BC_EFULL;
    case INGEST_E_DISK_FULL:
        return BC_ENOSPC;
    case INGEST_E_STORE:
        return BC_EIO;
    case INGEST_E_TOO_LARGE:
    case INGEST_E_TOO_MANY_ROWS:
        return BC_ETOOBIG;
    default:
        return BC_EINVAL;
    }
}

/* Sets the upload's error (the first one wins) and returns its BC_* code. */
static int fail_field(struct ingest *in, enum ingest_error e, int field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_field(struct ingest *in, enum ingest_error e, int field, const char *fmt, ...)
{
    struct ingest_failure *f = &in->failure;
    if (f->error)
        return ingest_error_code(f->error);
    f->error = e;
    f->field = field;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->detail, sizeof f->detail, fmt, ap);
    va_end(ap);
    return ingest_error_code(e);
}

#define fail(in, e, ...) fail_field(in, e, -1, __VA_ARGS__)

const char *ingest_field_value(const struct ingest *in, enum ingest_field f)
{
    return in->field_seen[f] ? in->fields[f].data : NULL;
}

const char *ingest_column(const struct ingest *in, size_t i)
{
    const char *p = in->columns.data;
    while (i--)
        p += strlen(p) + 1;
    return p;
}

const char *ingest_encoding(const struct ingest *in)
{
    return in->csv_ready ? csv_encoding(&in->csv) : "utf-8";
}

/* ---- writing rows ---- */

static int pending_full(const struct ingest *in)
{
    return in->pending_rows >= CHUNK_ROWS || in->pending.len >= CHUNK_BYTES;
}

/* A write that did not commit: nothing of that chunk was kept. */
static void write_failed(struct ingest *in, int rc)
{
    if (rc == BC_EFULL)
        fail(in, INGEST_E_STORE_FULL,
             "The server's storage is full; nothing was stored. Retry later.");
    else if (rc == BC_ENOSPC)
        fail(in, INGEST_E_DISK_FULL,
             "The server's disk is full; nothing of this upload was stored. Retry later: the "
             "operator must free disk space where the data directory (--data-dir) is.");
    else
        fail(in, INGEST_E_STORE,
             "The upload could not be stored (%s); nothing was kept. Retry later.", err_str(rc));
}

static void chunk_written(struct store_async *a, int rc);

static void write_chunk(struct ingest *in, store_write_fn fn)
{
    in->write_busy = 1;
    /* Staged rows only count once the final commit (durable) makes the batch visible. */
    in->write.defer_durability = 1;
    in->write.bulk = 1;
    store_write_async(in->opt.store, in->opt.loop, &in->write, fn, &in->chunk, chunk_written);
}

/* Hands the pending rows to a pool thread and starts collecting the next chunk; the last chunk
 * also writes the deferred state index entries. */
static void submit(struct ingest *in, int last)
{
    struct buf t = in->writing;
    in->writing = in->pending;
    in->pending = t;
    in->pending.len = 0;
    in->writing_rows = in->pending_rows;
    in->pending_rows = 0;
    in->chunk = (struct ingest_chunk){.batch = in->opt.batch_id,
                                      .workspace = in->opt.workspace,
                                      .rows = &in->writing,
                                      .first = in->stored_rows == 0,
                                      .deferred = last ? &in->deferred : NULL};
    write_chunk(in, chunk_write);
}

/* Reading again: copies the next rows before the mark from the first staging batch. */
static void copy_rows(struct ingest *in)
{
    in->chunk = (struct ingest_chunk){.batch = in->opt.batch_id,
                                      .workspace = in->opt.workspace,
                                      .rows = &in->writing,
                                      .first = in->stored_rows == 0,
                                      .copy_from = in->copy_from,
                                      .copy_next = in->copy_next,
                                      .copy_end = in->mark.row};
    write_chunk(in, chunk_copy);
}

static void chunk_written(struct store_async *a, int rc)
{
    struct ingest *in = (struct ingest *)((char *)a - offsetof(struct ingest, write));
    in->write_busy = 0;
    if (in->chunk.copy_from) {
        in->writing_rows = in->chunk.copied;
        /* Nothing left to copy (rows are consecutive; never loop on a missing one). */
        in->copy_next = in->chunk.copied ? in->chunk.copy_next : in->mark.row;
    }
    if (rc) {
        write_failed(in, rc);
    } else {
        in->stored_rows += in->writing_rows;
        if (in->chunk.deferred)
            in->deferred.len = 0;
        /* The commit read B-tree pages through the map; a large upload would keep them all. */
        store_trim(in->opt.store);
    }
    in->writing_rows = 0;
    in->writing.len = 0;
    if (!in->failure.error && pending_full(in))
        submit(in, 0);
    in->blocked = 0;
    if (in->opt.on_written)
        in->opt.on_written(in, in->opt.ctx);
}

/* A chunk is complete: write it on a pool thread while the next one fills. */
static int chunk_full(struct ingest *in)
{
    if (in->write_busy)
        in->blocked = 1; /* the caller stops feeding until on_written */
    else
        submit(in, 0);
    return 0;
}

static int replay_next(struct ingest *in);

int ingest_drain(struct ingest *in)
{
    if (in->write_busy)
        return 1;
    if (in->failure.error)
        return 0;
    if (in->replaying) {
        if (in->opt.store && in->copy_next < in->mark.row) {
            copy_rows(in);
            return 1;
        }
        if (in->opt.store && in->replay_eof && (in->pending_rows || in->deferred.len)) {
            submit(in, 1);
            return 1;
        }
        if (in->opt.store && in->pending_rows && pending_full(in)) {
            submit(in, 0);
            return 1;
        }
        if (!in->replay_eof)
            return replay_next(in) == 0;
        in->replaying = 0;
        return 0;
    }
    if (!in->opt.store || (in->pending_rows == 0 && in->deferred.len == 0))
        return 0;
    submit(in, 1);
    return 1;
}

/* Frames a row's job into pending. cell: the field that holds the number exactly as its E.164
 * form (a waiting row read so: most rows), encoded in one pass; n (none) otherwise. Inline in
 * data_row: a call per row cost 33 instructions of an upload's 2,600 (callgrind). */
static inline int queue_row(struct ingest *in, const struct csv_row *r, struct job_head *h,
                            const char *error, size_t error_len, size_t cell)
{
    if (!in->opt.store)
        return 0;
    const char *fields[CSV_DEFAULT_MAX_COLUMNS];
    size_t lens[CSV_DEFAULT_MAX_COLUMNS], bytes = 0;
    size_t n = r->nfields < CSV_DEFAULT_MAX_COLUMNS ? r->nfields : CSV_DEFAULT_MAX_COLUMNS;
    for (size_t i = 0; i < n; i++) {
        fields[i] = r->fields[i].ptr;
        bytes += lens[i] = r->fields[i].len;
    }
    size_t at = in->pending.len;
    if (buf_reserve(&in->pending, 9 + (cell < n ? job_waiting_bound(n, bytes) : 0)))
        return fail(in, INGEST_E_NOMEM, "The server is out of memory; retry later.");
    uint8_t *frame = (uint8_t *)in->pending.data + at;
    memcpy(frame, &r->row, 4);
    frame[4] = h->state;
    in->pending.len += 9;
    int rc = 0;
    if (cell < n) {
        uint8_t *end = job_encode_waiting_at(frame + 9, cell, fields, lens, n);
        if (end)
            in->pending.len = (size_t)(end - (uint8_t *)in->pending.data);
        else /* not reached: the parser's cap on a field is below a job's */
            rc = BC_ETOOBIG;
    } else {
        if (h->state != JOB_WAITING) {
            rc = buf_append(&in->deferred, frame, 5);
            frame[4] |= CHUNK_DEFERRED;
        }
        /* A row to call whose number was written as stored: its head, from data_row, holds
         * nothing but the number and the defaults. */
        if (!rc && h->state == JOB_WAITING && !h->normalized && !error_len)
            rc = job_encode_waiting(&in->pending, h->e164, fields, lens, n);
        else if (!rc)
            rc = job_encode(&in->pending, h, error, error_len, fields, lens, n);
    }
    if (rc)
        return fail(in, INGEST_E_NOMEM, "The server is out of memory; retry later.");
    uint32_t vlen = (uint32_t)(in->pending.len - at - 9);
    memcpy(in->pending.data + at + 5, &vlen, 4);
    in->pending_rows++;
    /* Reading again runs on a pool thread: ingest_drain writes the chunk after the step. */
    return pending_full(in) && !in->replaying ? chunk_full(in) : 0;
}

/* ---- rows ---- */

static void fill_error(struct ingest_row_error *e, uint32_t row, const char *column,
                       const char *code, const char *value, size_t vlen, const char *message)
{
    e->row = row;
    snprintf(e->column, sizeof e->column, "%s", column);
    snprintf(e->code, sizeof e->code, "%s", code);
    /* A value is cut at a character boundary so the JSON stays valid UTF-8. */
    size_t n = vlen < sizeof e->value - 1 ? vlen : sizeof e->value - 1;
    while (n > 0 && n < vlen && ((unsigned char)value[n] & 0xC0) == 0x80)
        n--;
    memcpy(e->value, value, n);
    e->value[n] = '\0';
    snprintf(e->message, sizeof e->message, "%s", message);
}

static void add_error(struct ingest *in, uint32_t row, const char *column, const char *code,
                      const char *value, size_t vlen, const char *message)
{
    if (in->nerrors >= in->opt.max_errors) {
        in->errors_truncated = 1;
        return;
    }
    fill_error(&in->errors[in->nerrors++], row, column, code, value, vlen, message);
}

static void add_warning(struct ingest *in, uint32_t row, const char *column, const char *code,
                        const char *value, size_t vlen, const char *message)
{
    if (!in->warnings && !(in->warnings = calloc(in->opt.max_errors, sizeof *in->warnings)))
        return;
    if (in->nwarnings >= in->opt.max_errors) {
        in->warnings_truncated = 1;
        return;
    }
    fill_error(&in->warnings[in->nwarnings++], row, column, code, value, vlen, message);
}

static int header_row(struct ingest *in, const struct csv_row *r)
{
    int named = 0;
    for (size_t i = 0; i < r->nfields; i++)
        for (size_t k = 0; k < r->fields[i].len && !named; k++)
            named = r->fields[i].ptr[k] != ' ' && r->fields[i].ptr[k] != '\t';
    if (!named)
        return fail(in, INGEST_E_EMPTY_FILE,
                    "The file has no column names: its first line must name the columns, "
                    "such as phone_number,first_name.");
    in->have_header = 1;
    in->consent_col = -1;
    int phone = -1;
    for (size_t i = 0; i < r->nfields; i++) {
        char name[128];
        int n = csv_normalize_name(r->fields[i].ptr, r->fields[i].len, name, sizeof name);
        if (n < 0)
            return fail(in, INGEST_E_INVALID_HEADER,
                        "Column %zu's name is longer than 127 characters; shorten it.", i + 1);
        if (n == 0)
            n = snprintf(name, sizeof name, "column_%zu", i + 1);
        for (size_t k = 0; k < i; k++) {
            if (strcmp(ingest_column(in, k), name) == 0)
                return fail(in, INGEST_E_DUPLICATE_COLUMN,
                            "The header names the column \"%s\" twice (columns %zu and "
                            "%zu); column names must be unique.",
                            name, k + 1, i + 1);
        }
        if (buf_append(&in->columns, name, (size_t)n + 1))
            return fail(in, INGEST_E_NOMEM, "The server is out of memory.");
        in->ncolumns++;
        if (strcmp(name, "phone_number") == 0)
            phone = (int)i;
        if (strcmp(name, "consent_at") == 0)
            in->consent_col = (int)i;
    }
    if (phone < 0) {
        char found[256] = "";
        size_t used = 0;
        for (size_t k = 0; k < in->ncolumns && used < sizeof found - 8; k++) {
            int w = snprintf(found + used, sizeof found - used, "%s%s", k ? ", " : "",
                             ingest_column(in, k));
            used += w > 0 ? (size_t)w : 0;
        }
        return fail(in, INGEST_E_MISSING_PHONE_COLUMN,
                    "The header has no phone_number column (found: %.200s). Name the "
                    "column that holds the numbers phone_number.",
                    found);
    }
    in->phone_col = (size_t)phone;
    return 0;
}

/* The row's consent evidence (model/consent.c decides): 1 when the row must not be called for
 * want of it (msg says why), 0 when it may be called. Rows of a file without consent_at cost one
 * test when consent is not required. */
static int consent_refused(struct ingest *in, const struct csv_row *r, const char **value,
                           size_t *vlen, char *msg, size_t cap)
{
    if (in->consent_col < 0 && !in->opt.require_consent)
        return 0;
    *value = "";
    *vlen = 0;
    if (in->consent_col >= 0 && (size_t)in->consent_col < r->nfields) {
        *value = r->fields[in->consent_col].ptr;
        *vlen = r->fields[in->consent_col].len;
    }
    int v = consent_check_row(*value, *vlen, in->consent_col >= 0, in->opt.require_consent,
                              in->opt.now_ms, msg, cap);
    if (v == CONSENT_WARN) {
        /* The row may turn out to be mark_take's (a repeat): how the warnings stood before. */
        in->before_warning = (struct ingest_mark){.row = r->row,
                                                  .consent_warnings = in->consent_warnings,
                                                  .nwarnings = in->nwarnings,
                                                  .warnings_truncated = in->warnings_truncated};
        in->consent_warnings++;
        add_warning(in, r->row, "consent_at", "invalid_consent_at", *value, *vlen, msg);
    }
    return v == CONSENT_REFUSE;
}

/* Row r is the first that a late field could change: keeps how things stood before it (a
 * consent warning of r's own is not counted: before_warning) and asks for the file from its
 * first byte. Reading again resumes there. */
static void mark_take(struct ingest *in, const struct csv_row *r)
{
    in->watch = 0;
    if (in->spool.state != SPOOL_WAITING && in->spool.state != SPOOL_ON)
        return; /* no copy: a late field is refused */
    const struct ingest_mark *w = in->before_warning.row == r->row ? &in->before_warning : NULL;
    in->mark = (struct ingest_mark){
        .row = r->row,
        .line = r->line,
        .offset = csv_row_offset(&in->csv),
        .valid = in->valid,
        .invalid = in->invalid,
        .duplicates = in->duplicates,
        .normalized = in->normalized,
        .no_consent = in->no_consent,
        .consent_warnings = w ? w->consent_warnings : in->consent_warnings,
        .suppressed = in->suppressed,
        .nerrors = in->nerrors,
        .nwarnings = w ? w->nwarnings : in->nwarnings,
        .errors_truncated = in->errors_truncated,
        .warnings_truncated = w ? w->warnings_truncated : in->warnings_truncated,
    };
    spool_want(&in->spool, in->mark.offset);
}

static int data_row(struct ingest *in, const struct csv_row *r)
{
    in->rows++;
    if (in->rows > in->opt.max_records)
        return fail(in, INGEST_E_TOO_MANY_ROWS,
                    "The file has more than %llu rows, the most this workspace may upload "
                    "in one batch; split it into smaller files.",
                    (unsigned long long)in->opt.max_records);
    struct job_head h;
    memset(&h, 0, sizeof h);
    h.last_sequence = -1;
    const char *value = "";
    size_t vlen = 0;
    if (in->phone_col < r->nfields) {
        value = r->fields[in->phone_col].ptr;
        vlen = r->fields[in->phone_col].len;
    }
    char msg[INGEST_ERROR_TEXT];
    if (r->error) {
        csv_row_error_message(&in->csv, r->error, msg, sizeof msg);
        in->invalid++;
        add_error(in, r->row, "", "invalid_row", value, vlen, msg);
        h.state = JOB_FAILED;
        h.outcome = OUTCOME_INVALID_ROW;
        return queue_row(in, r, &h, msg, strlen(msg), SIZE_MAX);
    }
    size_t lead = 0;
    while (lead < vlen && (value[lead] == ' ' || value[lead] == '\t'))
        lead++;
    int bare = lead == vlen || value[lead] != '+';
    if (bare && (in->watch & INGEST_WATCH_COUNTRY))
        mark_take(in, r);
    in->bare_rows += (uint64_t)bare;
    /* Most cells are E.164 already: the number's place in the table of numbers seen starts
     * loading now, while the number is checked (and is the number if read exactly so). */
    uint64_t guess = 0;
    if (!in->allow_duplicates && lead == 0 && vlen >= 2 && vlen <= 16 && value[0] == '+')
        dedupe_prefetch(&in->seen, guess = dedupe_number(value + 1, vlen - 1));
    struct phone_number pn;
    char why[200];
    /* default_country is "" or two letters (field_end). */
    int rc = phone_parse(value, vlen, in->default_country, in->default_country[0] ? 2 : 0, &pn, why,
                         sizeof why);
    if (rc < 0) {
        snprintf(msg, sizeof msg, "Invalid phone number: %s", why);
        in->invalid++;
        add_error(in, r->row, "phone_number", "invalid_phone_number", value, vlen, why);
        h.state = JOB_FAILED;
        h.outcome = OUTCOME_INVALID_NUMBER;
        return queue_row(in, r, &h, msg, strlen(msg), SIZE_MAX);
    }
    memcpy(h.e164, pn.e164, sizeof pn.e164); /* a fixed size: no call */
    h.normalized = (uint8_t)pn.normalized;
    /* Before the duplicate check: a row that may not be called does not make a later row with
     * the same number, and with consent, a duplicate. */
    const char *cv;
    size_t cn;
    if (consent_refused(in, r, &cv, &cn, msg, sizeof msg)) {
        in->no_consent++;
        add_error(in, r->row, "consent_at", "no_consent", cv, cn, msg);
        h.state = JOB_FAILED;
        h.outcome = OUTCOME_NO_CONSENT;
        return queue_row(in, r, &h, msg, strlen(msg), SIZE_MAX);
    }
    if (!in->allow_duplicates) {
        uint64_t number = guess && !pn.normalized && pn.len == vlen
                              ? guess
                              : dedupe_number(pn.e164 + 1, pn.len - 1);
        int64_t first = dedupe_check(&in->seen, number, r->row);
        if (first < 0)
            return fail(in, INGEST_E_NOMEM, "The server is out of memory.");
        if (first > 0) {
            if (in->watch & INGEST_WATCH_DUPLICATES)
                mark_take(in, r);
            snprintf(msg, sizeof msg, "Duplicate of row %lld (%s): each number is called once",
                     (long long)first, pn.e164);
            in->duplicates++;
            add_error(in, r->row, "phone_number", "duplicate_phone_number", value, vlen, msg);
            h.state = JOB_FAILED;
            h.outcome = OUTCOME_DUPLICATE;
            h.dup_of = (uint32_t)first;
            return queue_row(in, r, &h, msg, strlen(msg), SIZE_MAX);
        }
    }
    if (in->opt.screen && !in->screen_idle) {
        rc = in->opt.screen(in->opt.screen_ctx, pn.e164, pn.len, msg, sizeof msg);
        in->screen_idle = rc == INGEST_SCREEN_IDLE;
        rc = in->screen_idle ? 0 : rc;
        if (rc < 0)
            return fail(in, INGEST_E_STORE,
                        "The do-not-call lists could not be read (%s); nothing was kept. Retry "
                        "later.",
                        err_str(rc));
        if (rc > 0) {
            in->suppressed++;
            add_error(in, r->row, "phone_number", "suppressed", value, vlen, msg);
            h.state = JOB_FAILED;
            h.outcome = OUTCOME_SUPPRESSED;
            return queue_row(in, r, &h, msg, strlen(msg), SIZE_MAX);
        }
    }
    in->valid++;
    in->normalized += pn.normalized ? 1 : 0;
    h.state = JOB_WAITING;
    /* The cell is the number as stored (read exactly so, nothing around it): most rows. */
    int exact = lead == 0 && !pn.normalized && pn.len == vlen;
    return queue_row(in, r, &h, "", 0, exact ? in->phone_col : SIZE_MAX);
}

static int on_row(void *ctx, const struct csv_row *r)
{
    struct ingest *in = ctx;
    return r->row == 0 ? header_row(in, r) : data_row(in, r);
}

/* ---- the file part ---- */

/* Recognises files that are certainly not CSV text, to say what they are instead. */
static int check_magic(struct ingest *in)
{
    static const struct {
        const char *bytes;
        size_t len;
        const char *what;
    } kinds[] = {
        {"\x89PNG", 4, "a PNG image"},
        {"\xFF\xD8\xFF", 3, "a JPEG image"},
        {"GIF8", 4, "a GIF image"},
        {"%PDF", 4, "a PDF document"},
        {"PK\x03\x04", 4, "an Excel workbook (.xlsx) or another ZIP archive"},
        {"\xD0\xCF\x11\xE0", 4, "an Excel 97-2003 workbook (.xls)"},
        {"\x1F\x8B", 2, "a gzip archive"},
        {"\xFF\xFE", 2, "UTF-16 text"},
        {"\xFE\xFF", 2, "UTF-16 text"},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (in->magic_len >= kinds[i].len && memcmp(in->magic, kinds[i].bytes, kinds[i].len) == 0)
            return fail(in, INGEST_E_INVALID_FILE,
                        "The file is %s, not a CSV file. Save the contact list as CSV "
                        "(in a spreadsheet: File > Save As > CSV UTF-8) and upload that.",
                        kinds[i].what);
    }
    return 0;
}

static int csv_error(struct ingest *in, int rc)
{
    if (in->failure.error)
        return rc;
    if (rc == CSV_E_HEADER_NUL)
        fail(in, INGEST_E_INVALID_FILE,
             "The file contains NUL bytes, so it is not a text CSV file. Save the contact "
             "list as CSV UTF-8 and upload that.");
    else if (rc == CSV_E_HEADER_TOO_LONG)
        fail(in, INGEST_E_INVALID_FILE,
             "The first line is longer than 64 KiB, so it is not a CSV header line. The "
             "first line must name the columns, such as phone_number,first_name.");
    else if (rc == CSV_E_NOMEM)
        fail(in, INGEST_E_NOMEM, "The server is out of memory; retry later.");
    else {
        char why[INGEST_ERROR_TEXT];
        fail(in, INGEST_E_INVALID_CSV, "The CSV header cannot be read. %s",
             csv_strerror(&in->csv, rc, why, sizeof why));
    }
    return rc;
}

/* The spool keeps what a late field may need of the bytes just read. */
static void keep(struct ingest *in, const char *data, size_t len, uint64_t at)
{
    if (!in->replaying)
        spool_keep(&in->spool, data, len, at, csv_row_open(&in->csv), csv_row_offset(&in->csv));
}

static int feed_csv(struct ingest *in, const char *data, size_t len)
{
    uint64_t at = in->csv_bytes;
    int rc = csv_feed(&in->csv, data, len);
    in->csv_bytes += len;
    keep(in, data, len, at);
    return rc ? csv_error(in, rc) : 0;
}

static int hashing(const struct ingest *in)
{
    return in->opt.digest || in->opt.digest_only;
}

static int file_data(struct ingest *in, const char *data, size_t len)
{
    uint64_t limit = in->opt.max_file_bytes ? in->opt.max_file_bytes : INGEST_MAX_FILE_BYTES;
    in->file_bytes += len;
    if (in->file_bytes > limit)
        return fail(in, INGEST_E_TOO_LARGE,
                    "The file is larger than %llu bytes; split it into smaller files.",
                    (unsigned long long)limit);
    /* Read again, the bytes are hashed already. */
    if (hashing(in) && !in->replaying)
        crypto_sha256_update(&in->file_hash, data, len);
    if (in->opt.digest_only)
        return 0;
    /* Hold the first bytes back until we know the file is not an image or archive. */
    if (in->magic_len < sizeof in->magic) {
        size_t take = sizeof in->magic - in->magic_len;
        if (take > len)
            take = len;
        memcpy(in->magic + in->magic_len, data, take);
        in->magic_len += take;
        data += take;
        len -= take;
        if (in->magic_len < sizeof in->magic)
            return 0;
        if (check_magic(in) || feed_csv(in, (const char *)in->magic, in->magic_len))
            return ingest_error_code(in->failure.error);
    }
    return len ? feed_csv(in, data, len) : 0;
}

static int file_end(struct ingest *in)
{
    in->file_done = 1;
    if (in->opt.digest_only)
        return 0;
    if (in->magic_len < sizeof in->magic &&
        (check_magic(in) || feed_csv(in, (const char *)in->magic, in->magic_len)))
        return ingest_error_code(in->failure.error);
    int rc = csv_finish(&in->csv);
    keep(in, NULL, 0, in->csv_bytes); /* the last row may have been the mark */
    return rc ? csv_error(in, rc) : 0;
}

/* ---- multipart callbacks ---- */

static int parse_bool(const char *v, int *out)
{
    if (!strcasecmp(v, "true") || !strcmp(v, "1")) {
        *out = 1;
        return 0;
    }
    if (!strcasecmp(v, "false") || !strcmp(v, "0") || !*v) {
        *out = 0;
        return 0;
    }
    return BC_EINVAL;
}

static int on_part_begin(void *ctx, const struct mp_part_info *part)
{
    struct ingest *in = ctx;
    const char *file = in->opt.file_field;
    if (part->name_len == strlen(file) && memcmp(part->name, file, part->name_len) == 0) {
        if (in->file_seen)
            return fail(in, INGEST_E_FILE_TWICE, "%s", "");
        in->file_seen = 1;
        in->part = PART_FILE;
        if (in->opt.digest_only)
            return 0;
        /* defaultCountry and allowDuplicates change how rows read; while one of them may still
         * come, the rows are read without it, and the file is kept from the first row it could
         * change on (mark_take), to read the rows from there again if it does. */
        in->watch = (in->field_seen[FIELD_DEFAULT_COUNTRY] ? 0 : INGEST_WATCH_COUNTRY) |
                    (in->field_seen[FIELD_ALLOW_DUPLICATES] ? 0 : INGEST_WATCH_DUPLICATES);
        spool_init(&in->spool, in->watch ? in->opt.spool_dir : NULL);
        if (!in->opt.spool_dir)
            in->watch = 0;
        struct csv_limits lim = {0};
        if (csv_init(&in->csv, &lim, on_row, in) != 0)
            return fail(in, INGEST_E_NOMEM, "The server is out of memory.");
        in->csv_ready = 1;
        return 0;
    }
    in->part = PART_IGNORED;
    for (int f = 0; f < FIELD_COUNT; f++) {
        const char *name = in->opt.field_names[f];
        if (strlen(name) != part->name_len || memcmp(name, part->name, part->name_len) != 0)
            continue;
        if (in->field_seen[f])
            return fail_field(in, INGEST_E_FIELD_TWICE, f, "%s", "");
        /* Late: accepted while the file is kept from the first row it could change, or no
         * row could. */
        if ((f == FIELD_DEFAULT_COUNTRY || f == FIELD_ALLOW_DUPLICATES) && in->file_seen &&
            !in->opt.digest_only &&
            (in->spool.state == SPOOL_OFF || in->spool.state == SPOOL_FAILED))
            return fail_field(in, INGEST_E_FIELD_AFTER_FILE, f, "%s", "");
        in->part = f;
        in->fields[f].len = 0;
        return 0;
    }
    return 0;
}

static int on_part_data(void *ctx, const char *data, size_t len)
{
    struct ingest *in = ctx;
    if (in->part == PART_FILE)
        return file_data(in, data, len);
    if (in->part >= 0 && buf_append(&in->fields[in->part], data, len))
        return fail(in, INGEST_E_NOMEM, "The server is out of memory.");
    return 0;
}

static int field_end(struct ingest *in, int f)
{
    struct buf *b = &in->fields[f];
    if (buf_append(b, "", 1))
        return fail(in, INGEST_E_NOMEM, "The server is out of memory.");
    b->len--;
    in->field_seen[f] = 1;
    if (in->opt.digest_only)
        return 0;
    if (f == FIELD_DEFAULT_COUNTRY) {
        if (b->len != 2 || !phone_country_known(b->data, 2))
            return fail_field(in, INGEST_E_FIELD_VALUE, f, "%s", b->data);
        in->default_country[0] = b->data[0];
        in->default_country[1] = b->data[1];
        in->default_country[2] = '\0';
        /* Only numbers written without '+' read differently with a country. */
        in->late_country = in->file_seen && in->bare_rows > 0;
    }
    if (f == FIELD_ALLOW_DUPLICATES && parse_bool(b->data, &in->allow_duplicates) != 0)
        return fail_field(in, INGEST_E_FIELD_VALUE, f, "%s", b->data);
    if (f == FIELD_ALLOW_DUPLICATES)
        in->late_duplicates = in->file_seen && in->allow_duplicates && in->duplicates > 0;
    if (in->opt.on_field && in->opt.on_field(in, (enum ingest_field)f, in->opt.ctx) != 0)
        return fail_field(in, INGEST_E_STOPPED, f, "%s", "");
    return 0;
}

static int on_part_end(void *ctx)
{
    struct ingest *in = ctx;
    int part = in->part;
    in->part = PART_IGNORED;
    if (part == PART_FILE)
        return file_end(in);
    if (part >= 0)
        return field_end(in, part);
    return 0;
}

static void multipart_error(struct ingest *in, int rc)
{
    char why[INGEST_ERROR_TEXT];
    multipart_error_message(&in->mp, rc, why, sizeof why);
    if (rc == MP_E_FIELD_TOO_LARGE)
        fail(in, INGEST_E_TOO_LARGE, "%s", why);
    else
        fail(in, INGEST_E_MULTIPART, "The multipart body is malformed: %s", why);
}

int ingest_begin(struct ingest *in, const struct ingest_options *opt, const char *content_type,
                 size_t ct_len)
{
    memset(in, 0, sizeof *in);
    in->opt = *opt;
    in->part = PART_IGNORED;
    /* Reading again copies the rows before the mark from this batch (ingest_replay_begin). */
    if (opt->batch_id)
        snprintf(in->copy_from, sizeof in->copy_from, "%s", opt->batch_id);
    if (!in->opt.max_errors)
        in->opt.max_errors = 20;
    in->errors = calloc(in->opt.max_errors, sizeof *in->errors);
    if (!in->errors)
        return fail(in, INGEST_E_NOMEM, "The server is out of memory.");
    const char *b;
    size_t blen;
    int rc = content_type ? multipart_boundary_from_content_type(content_type, ct_len, &b, &blen)
                          : MP_E_NOT_MULTIPART;
    if (rc == MP_E_NOT_MULTIPART)
        return fail(in, INGEST_E_NOT_MULTIPART, "%s", "");
    if (rc)
        return fail(in, INGEST_E_MULTIPART, "%s", multipart_strerror(rc));
    struct mp_limits lim = {.max_parts = 32};
    static const struct mp_callbacks cb = {on_part_begin, on_part_data, on_part_end};
    if (multipart_init(&in->mp, b, blen, &lim, &cb, in) != 0)
        return fail(in, INGEST_E_NOMEM, "The server is out of memory.");
    in->mp_ready = 1;
    if (hashing(in) && crypto_sha256_begin(&in->file_hash) != 0)
        return fail(in, INGEST_E_NOMEM, "The server is out of memory.");
    if (!in->opt.digest_only)
        dedupe_presize(&in->seen, opt->body_bytes, opt->max_records);
    return 0;
}

static void screen_done(struct ingest *in)
{
    in->screen_idle = 0;
    if (in->opt.screen_done)
        in->opt.screen_done(in->opt.screen_ctx);
}

int ingest_feed(struct ingest *in, const char *data, size_t len)
{
    if (in->failure.error)
        return ingest_error_code(in->failure.error);
    int rc = multipart_feed(&in->mp, data, len);
    screen_done(in);
    if (rc && !in->failure.error)
        multipart_error(in, rc);
    return ingest_error_code(in->failure.error);
}

int ingest_end(struct ingest *in)
{
    if (in->failure.error)
        return ingest_error_code(in->failure.error);
    int rc = multipart_finish(&in->mp);
    screen_done(in);
    if (rc && !in->failure.error)
        multipart_error(in, rc);
    if (in->failure.error || in->opt.digest_only)
        return ingest_error_code(in->failure.error);
    if (!in->file_seen)
        return fail(in, INGEST_E_MISSING_FILE, "%s", "");
    if (!in->have_header)
        return fail(in, INGEST_E_EMPTY_FILE,
                    "The file is empty. Its first line must name the columns, such as "
                    "phone_number,first_name, and each further line is one contact.");
    if (in->rows == 0)
        return fail(in, INGEST_E_NO_ROWS, "The file has a header line but no contacts below it.");
    return 0;
}

int ingest_digest(struct ingest *in, uint8_t out[SHA256_LEN])
{
    if (in->file_digest_state == 0)
        in->file_digest_state = crypto_sha256_end(&in->file_hash, in->file_digest) == 0 ? 1 : -1;
    if (in->file_digest_state < 0)
        return BC_ENOMEM;
    struct crypto_sha256_stream s;
    if (crypto_sha256_begin(&s) != 0)
        return BC_ENOMEM;
    /* A version tag first: a later change of what is hashed gives other digests. */
    static const char tag[] = "batchcalld upload v1";
    crypto_sha256_update(&s, tag, sizeof tag);
    uint8_t file = in->file_seen ? 1 : 0;
    crypto_sha256_update(&s, &file, 1);
    crypto_sha256_update(&s, in->file_digest, SHA256_LEN);
    for (int f = 0; f < FIELD_COUNT; f++) {
        /* Lengths keep "ab"+"c" apart from "a"+"bc". */
        uint64_t len = in->field_seen[f] ? in->fields[f].len : 0;
        if (f >= INGEST_FIELDS_V1) {
            /* A later field counts only when sent, tagged with its number. */
            if (len == 0)
                continue;
            uint32_t field_tag = (uint32_t)f;
            crypto_sha256_update(&s, &field_tag, sizeof field_tag);
        }
        crypto_sha256_update(&s, &len, sizeof len);
        if (len)
            crypto_sha256_update(&s, in->fields[f].data, len);
    }
    return crypto_sha256_end(&s, out);
}

void ingest_free(struct ingest *in)
{
    crypto_sha256_free(&in->file_hash);
    if (in->mp_ready)
        multipart_free(&in->mp);
    if (in->csv_ready)
        csv_free(&in->csv);
    for (int f = 0; f < FIELD_COUNT; f++)
        buf_free(&in->fields[f]);
    buf_free(&in->columns);
    buf_free(&in->pending);
    buf_free(&in->deferred);
    buf_free(&in->writing);
    dedupe_free(&in->seen);
    free(in->errors);
    free(in->warnings);
    spool_free(&in->spool);
    free(in->replay_buf);
    memset(in, 0, sizeof *in);
}

/* ---- reading the rows again (a late defaultCountry or allowDuplicates) ---- */

const char *ingest_first_batch(const struct ingest *in)
{
    return in->copy_staged ? in->copy_from : NULL;
}

int ingest_replay_needed(const struct ingest *in)
{
    return !in->failure.error && !in->replaying && in->spool.state == SPOOL_ON && in->mark.row &&
           (in->late_country || in->late_duplicates);
}

/* On a pool thread, while the loop leaves the ingest alone (write_busy): parses the spool until
 * a chunk of rows is pending or the file ends. */
static void replay_read(struct ingest *in)
{
    while (!in->failure.error && !in->replay_eof && !pending_full(in)) {
        ssize_t n = 0;
        if (in->replay_off < spool_end(&in->spool))
            n = spool_read(&in->spool, in->replay_buf, REPLAY_READ, in->replay_off);
        if (n < 0) {
            fail(in, INGEST_E_STORE, "The upload could not be read back (%s); retry it.",
                 strerror(errno));
            return;
        }
        in->replay_off += (uint64_t)n;
        if (n > 0 && file_data(in, in->replay_buf, (size_t)n) != 0)
            return;
        if (n == 0 || in->replay_off >= spool_end(&in->spool)) {
            in->replay_eof = 1;
            file_end(in);
        }
    }
}

static void replay_step(uv_work_t *w)
{
    struct ingest *in = w->data;
    replay_read(in);
    screen_done(in);
}

static void replay_stepped(uv_work_t *w, int status)
{
    struct ingest *in = w->data;
    in->write_busy = 0;
    if (status < 0)
        fail(in, INGEST_E_NOMEM, "The server is out of memory; retry later.");
    if (in->opt.on_written)
        in->opt.on_written(in, in->opt.ctx);
}

/* Queues the next step: 0, or the error it failed with (then set as the upload's failure). */
static int replay_next(struct ingest *in)
{
    in->write_busy = 1; /* the ingest must outlive the step, as it does a write */
    in->replay_work.data = in;
    if (uv_queue_work(in->opt.loop, &in->replay_work, replay_step, replay_stepped) == 0)
        return 0;
    in->write_busy = 0;
    return fail(in, INGEST_E_NOMEM, "The server is out of memory; retry later.");
}

int ingest_replay_begin(struct ingest *in)
{
    const struct ingest_mark *m = &in->mark;
    if ((!in->replay_buf && !(in->replay_buf = malloc(REPLAY_READ))) ||
        dedupe_forget_from(&in->seen, m->row) != 0) {
        fail(in, INGEST_E_NOMEM, "The server is out of memory; retry later.");
        return 0;
    }
    if (csv_resume(&in->csv, m->row, m->line, m->offset) != 0) {
        fail(in, INGEST_E_STORE, "The upload could not be read back; retry it.");
        return 0;
    }
    /* Everything as it was before the mark's row: the rows before it stay as read. */
    in->rows = m->row - 1;
    in->valid = m->valid;
    in->invalid = m->invalid;
    in->duplicates = m->duplicates;
    in->normalized = m->normalized;
    in->no_consent = m->no_consent;
    in->consent_warnings = m->consent_warnings;
    in->suppressed = m->suppressed;
    in->bare_rows = 0; /* no field can come after this reading */
    in->nerrors = m->nerrors;
    in->errors_truncated = m->errors_truncated;
    in->nwarnings = m->nwarnings;
    in->warnings_truncated = m->warnings_truncated;
    in->pending.len = 0;
    in->deferred.len = 0;
    in->pending_rows = 0;
    in->copy_staged = in->opt.store && in->stored_rows;
    in->stored_rows = 0; /* the first chunk writes the new staging marker */
    in->copy_next = 1;   /* the rows before the mark are copied from the first staging batch */
    in->csv_bytes = in->file_bytes = in->replay_off = m->offset;
    in->magic_len = sizeof in->magic; /* checked already */
    in->late_country = in->late_duplicates = 0;
    in->replay_eof = 0;
    in->replaying = 1;
    return ingest_drain(in);
}
