#include "api/supp_import.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/suppressions.h"
#include "http/conn.h"
#include "http/router.h"
#include "ingest/csv.h"
#include "ingest/multipart.h"
#include "ingest/phone.h"
#include "policy/suppress.h"
#include "util/clock.h"
#include "util/err.h"

#define MAX_ERRORS 100

#define PART_IGNORED (-1)
#define PART_FILE    0
#define PART_COUNTRY 1
#define PART_SOURCE  2

struct row_error {
    uint64_t row;
    const char *column; /* NULL: the row itself */
    const char *code;
    char value[96];
    char message[300];
};

/* One write transaction's rows: entry length (u8), entry, reason length (u16), reason. */
struct chunk {
    struct store_async write;
    const char *ws;
    size_t wslen;
    const char *source;
    struct buf rows;
    uint64_t now;
    uint64_t added, refreshed; /* set by the transaction */
};

struct import {
    struct http_request *req;
    struct app *app;
    char ws[ID_MAX];
    size_t wslen;
    struct multipart mp;
    struct csv_parser csv;
    int mp_ready, csv_ready;
    int part;
    struct buf field;
    char country[3];
    char source[SUPPRESS_SOURCE_MAX + 1];
    int file_seen, have_header;
    long phone_col, reason_col;
    uint64_t rows, valid, invalid, added, refreshed;
    struct row_error errors[MAX_ERRORS];
    size_t nerrors;
    int errors_truncated;
    struct buf pending;
    size_t pending_rows;
    struct chunk chunk;
    int write_busy, blocked, ended, orphaned;
    size_t since_yield;
    /* The first problem that stops the import, as answered. */
    struct api_failure failure;
};

static void import_free(struct import *im)
{
    if (im->mp_ready)
        multipart_free(&im->mp);
    if (im->csv_ready)
        csv_free(&im->csv);
    buf_free(&im->field);
    buf_free(&im->pending);
    buf_free(&im->chunk.rows);
    free(im);
}

static void add_error(struct import *im, uint64_t row, const char *column, const char *code,
                      const char *value, size_t vlen, const char *message)
{
    im->invalid++;
    if (im->nerrors == MAX_ERRORS) {
        im->errors_truncated = 1;
        return;
    }
    struct row_error *e = &im->errors[im->nerrors++];
    e->row = row;
    e->column = column;
    e->code = code;
    size_t n = vlen < sizeof e->value - 1 ? vlen : sizeof e->value - 1;
    while (n > 0 && n < vlen && ((unsigned char)value[n] & 0xC0) == 0x80)
        n--; /* cut at a character boundary: the JSON stays valid UTF-8 */
    memcpy(e->value, value, n);
    e->value[n] = '\0';
    snprintf(e->message, sizeof e->message, "%s", message);
}

/* ---- writing ---- */

static int chunk_txn(struct store_txn *t, void *arg)
{
    struct chunk *c = arg;
    c->added = c->refreshed = 0;
    const uint8_t *p = (const uint8_t *)c->rows.data, *end = p + c->rows.len;
    int rc = 0;
    char entry[SUPPRESS_ENTRY_MAX + 1], reason[SUPPRESS_REASON_MAX + 1];
    while (p < end && rc >= 0) {
        size_t elen = p[0];
        memcpy(entry, p + 1, elen);
        entry[elen] = '\0';
        size_t rlen = (size_t)p[1 + elen] << 8 | p[2 + elen];
        memcpy(reason, p + 3 + elen, rlen);
        reason[rlen] = '\0';
        p += 3 + elen + rlen;
        rc = suppress_add(t, c->ws, c->wslen, entry, elen, reason, c->source, NULL, c->now);
        if (rc == SUPPRESS_REFRESHED)
            c->refreshed++;
        else if (rc == 0)
            c->added++;
    }
    return rc < 0 ? rc : 0;
}

static void respond(struct import *im);
static void chunk_written(struct store_async *a, int rc);

static void submit(struct import *im)
{
    struct buf t = im->chunk.rows;
    im->chunk.rows = im->pending;
    im->pending = t;
    im->pending.len = 0;
    im->pending_rows = 0;
    im->chunk.ws = im->ws;
    im->chunk.wslen = im->wslen;
    im->chunk.source = im->source;
    im->chunk.now = clock_now_ms();
    im->write_busy = 1;
    im->chunk.write.bulk = 1;
    store_write_async(&im->app->store, im->app->loop, &im->chunk.write, chunk_txn, &im->chunk,
                      chunk_written);
}

static void chunk_written(struct store_async *a, int rc)
{
    struct import *im = (struct import *)((char *)a - offsetof(struct import, chunk.write));
    im->write_busy = 0;
    if (rc == BC_EFULL || rc == BC_ENOSPC)
        api_fail(&im->failure, 507, "insufficient_storage", NULL,
                 "The server's storage is full; the rows of this import read after row %llu were "
                 "not stored. Retry later.",
                 (unsigned long long)(im->added + im->refreshed));
    else if (rc)
        api_fail(&im->failure, 500, "internal_error", NULL,
                 "Rows could not be stored (%s); retry the import.", err_str(rc));
    else {
        im->added += im->chunk.added;
        im->refreshed += im->chunk.refreshed;
    }
    im->chunk.rows.len = 0;
    if (im->orphaned) {
        import_free(im);
        return;
    }
    if (!im->failure.status && im->pending_rows >= SUPP_IMPORT_CHUNK)
        submit(im);
    else if (im->ended && !im->failure.status && im->pending_rows)
        submit(im);
    if (im->write_busy)
        return;
    if (im->ended || im->failure.status)
        respond(im);
    else if (im->blocked) {
        im->blocked = 0;
        http_request_resume(im->req);
    }
}

/* ---- rows ---- */

static int header_row(struct import *im, const struct csv_row *r)
{
    im->have_header = 1;
    im->phone_col = im->reason_col = -1;
    for (size_t i = 0; i < r->nfields; i++) {
        char name[128];
        if (csv_normalize_name(r->fields[i].ptr, r->fields[i].len, name, sizeof name) < 0)
            continue;
        if (im->phone_col < 0 && (!strcmp(name, "phone") || !strcmp(name, "phone_number")))
            im->phone_col = (long)i;
        else if (im->reason_col < 0 && !strcmp(name, "reason"))
            im->reason_col = (long)i;
    }
    if (im->phone_col < 0)
        return api_fail(&im->failure, 422, "missing_phone_column", NULL,
                        "The file's first line must name its columns and one of them must be phone "
                        "(or phone_number): numbers such as +14155550123, or +1 area codes such as "
                        "+1415. An optional reason column says why.");
    return 0;
}

static int data_row(struct import *im, const struct csv_row *r)
{
    im->rows++;
    const char *value = "";
    size_t vlen = 0;
    if ((size_t)im->phone_col < r->nfields) {
        value = r->fields[im->phone_col].ptr;
        vlen = r->fields[im->phone_col].len;
    }
    char msg[300], why[300], entry[SUPPRESS_ENTRY_MAX + 1];
    if (r->error) {
        add_error(im, r->row, NULL, "invalid_row", value, vlen,
                  csv_row_error_message(&im->csv, r->error, msg, sizeof msg));
        return 0;
    }
    size_t elen = suppressions_normalize(value, vlen, -1, im->country[0] ? im->country : NULL,
                                         entry, why, sizeof why);
    if (!elen) {
        snprintf(msg, sizeof msg, "The value %.250s (nor a +1 area code such as +1415)", why);
        add_error(im, r->row, "phone", "invalid_phone_number", value, vlen, msg);
        return 0;
    }
    const char *reason = "";
    size_t rlen = 0;
    if (im->reason_col >= 0 && (size_t)im->reason_col < r->nfields) {
        reason = r->fields[im->reason_col].ptr;
        rlen = r->fields[im->reason_col].len;
    }
    if (rlen > SUPPRESS_REASON_MAX) {
        add_error(im, r->row, "reason", "invalid_reason", reason, rlen,
                  "The reason is longer than 500 bytes; shorten it.");
        return 0;
    }
    uint8_t head[1] = {(uint8_t)elen}, rl[2] = {(uint8_t)(rlen >> 8), (uint8_t)rlen};
    if (buf_append(&im->pending, head, 1) || buf_append(&im->pending, entry, elen) ||
        buf_append(&im->pending, rl, 2) || buf_append(&im->pending, reason, rlen))
        return api_fail(&im->failure, 500, "internal_error", NULL,
                        "The server is out of memory; retry later.");
    im->valid++;
    if (++im->pending_rows >= SUPP_IMPORT_CHUNK) {
        if (im->write_busy)
            im->blocked = 1;
        else
            submit(im);
    }
    return 0;
}

/* The CSV and multipart parsers' callbacks stop them with a positive value: their own errors are
 * negative, and api_fail's BC_EINVAL would read as one of them. */
static int parser_stop(int rc)
{
    return rc ? 1 : 0;
}

static int on_row(void *ctx, const struct csv_row *r)
{
    struct import *im = ctx;
    if (im->failure.status)
        return 1;
    return parser_stop(r->row == 0 ? header_row(im, r) : data_row(im, r));
}

/* ---- the form ---- */

static int on_part_begin(void *ctx, const struct mp_part_info *part)
{
    struct import *im = ctx;
    static const char *const names[] = {"file", "defaultCountry", "source"};
    im->part = PART_IGNORED;
    for (int i = 0; i < 3; i++)
        if (part->name_len == strlen(names[i]) && !memcmp(part->name, names[i], part->name_len))
            im->part = i;
    if (im->part == PART_FILE) {
        if (im->file_seen)
            return parser_stop(api_fail(&im->failure, 400, "invalid_field", "file",
                                        "Send one file (field file), not two."));
        im->file_seen = 1;
        if (csv_init(&im->csv, NULL, on_row, im) != 0)
            return parser_stop(api_fail(&im->failure, 500, "internal_error", NULL,
                                        "The server is out of memory."));
        im->csv_ready = 1;
    } else if (im->part != PART_IGNORED && im->file_seen) {
        return parser_stop(
            api_fail(&im->failure, 400, "invalid_field", names[im->part],
                     "%s came after the file: send the form fields before the file, as curl does "
                     "when -F file=@... comes last.",
                     names[im->part]));
    }
    im->field.len = 0;
    return 0;
}

/* What the multipart parser is told after the CSV parser's result rc: go on (0), or stop (1),
 * with the CSV's own problem (in the header, or at the file's end) unless the import failed
 * first (the row callback stopped it). */
static int csv_stopped(struct import *im, int rc, const char *what)
{
    if (rc && !im->failure.status) {
        char why[300];
        api_fail(&im->failure, 422, "invalid_csv", NULL, "The CSV %s cannot be read. %s", what,
                 csv_strerror(&im->csv, rc, why, sizeof why));
    }
    return rc ? 1 : 0;
}

static int on_part_data(void *ctx, const char *data, size_t len)
{
    struct import *im = ctx;
    if (im->part == PART_FILE) {
        return csv_stopped(im, csv_feed(&im->csv, data, len), "header");
    }
    if (im->part != PART_IGNORED && buf_append(&im->field, data, len))
        return parser_stop(
            api_fail(&im->failure, 500, "internal_error", NULL, "The server is out of memory."));
    return 0;
}

static int on_part_end(void *ctx)
{
    struct import *im = ctx;
    int part = im->part;
    im->part = PART_IGNORED;
    if (part == PART_FILE) {
        return csv_stopped(im, csv_finish(&im->csv), "file");
    }
    const char *v = im->field.data ? im->field.data : "";
    size_t n = im->field.len;
    if (part == PART_COUNTRY) {
        if (n != 2 || !phone_country_known(v, 2))
            return parser_stop(
                api_fail(&im->failure, 400, "invalid_field", "defaultCountry",
                         "defaultCountry must be a two-letter country code such as US."));
        memcpy(im->country, v, 2);
    } else if (part == PART_SOURCE) {
        if (!suppress_source_valid(v, n))
            return parser_stop(
                api_fail(&im->failure, 400, "invalid_field", "source",
                         "source must be 1 to 32 lowercase letters, digits, '_' or '-'."));
        memcpy(im->source, v, n);
        im->source[n] = '\0';
    }
    return 0;
}

/* ---- the request ---- */

static cJSON *result_json(const struct import *im)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "totalRows", (double)im->rows);
    cJSON_AddNumberToObject(o, "importedRows", (double)(im->added + im->refreshed));
    cJSON_AddNumberToObject(o, "addedRows", (double)im->added);
    cJSON_AddNumberToObject(o, "refreshedRows", (double)im->refreshed);
    cJSON_AddNumberToObject(o, "invalidRows", (double)im->invalid);
    cJSON *arr = cJSON_AddArrayToObject(o, "errors");
    for (size_t i = 0; i < im->nerrors; i++) {
        const struct row_error *e = &im->errors[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "row", (double)e->row);
        if (e->column)
            cJSON_AddStringToObject(x, "column", e->column);
        else
            cJSON_AddNullToObject(x, "column");
        cJSON_AddStringToObject(x, "code", e->code);
        cJSON_AddStringToObject(x, "value", e->value);
        cJSON_AddStringToObject(x, "message", e->message);
        cJSON_AddItemToArray(arr, x);
    }
    cJSON_AddBoolToObject(o, "errorsTruncated", im->errors_truncated);
    return o;
}

/* Answers and lets go of the request; the import is freed now, or when its write lands. */
static void respond(struct import *im)
{
    struct http_request *req = im->req;
    cJSON *o = result_json(im);
    if (im->failure.status)
        api_failure_add(o, &im->failure);
    api_respond_json(req, im->failure.status ? im->failure.status : 200, o);
    api_ctx(req)->body_state = NULL;
    if (im->write_busy)
        im->orphaned = 1;
    else
        import_free(im);
}

static struct import *import_of(struct http_request *req)
{
    return api_ctx(req)->body_state;
}

static void import_start(struct http_request *req)
{
    struct import *im = calloc(1, sizeof *im);
    if (!im) {
        api_respond_internal(req, BC_ENOMEM);
        return;
    }
    struct api_ctx *ctx = api_ctx(req);
    im->req = req;
    im->app = api_app(req);
    memcpy(im->ws, ctx->ws, ctx->ws_len);
    im->wslen = ctx->ws_len;
    strcpy(im->source, "import");
    im->part = PART_IGNORED;
    const struct http_slice *ct = http_header(req, "content-type");
    const char *b;
    size_t blen;
    int rc =
        ct ? multipart_boundary_from_content_type(ct->ptr, ct->len, &b, &blen) : MP_E_NOT_MULTIPART;
    if (rc == MP_E_NOT_MULTIPART) {
        api_respond_error(req, 415, "unsupported_media_type",
                          "Send the CSV as multipart/form-data with the file in the field file: "
                          "curl -F file=@numbers.csv ...",
                          NULL, NULL);
        free(im);
        return;
    }
    struct mp_limits lim = {0};
    static const struct mp_callbacks cb = {on_part_begin, on_part_data, on_part_end};
    if (rc || multipart_init(&im->mp, b, blen, &lim, &cb, im) != 0) {
        api_respond_error(req, 400, "invalid_multipart", multipart_strerror(rc ? rc : MP_E_NOMEM),
                          NULL, NULL);
        free(im);
        return;
    }
    im->mp_ready = 1;
    ctx->body_state = im;
}

static int import_data(struct http_request *req, const char *p, size_t n)
{
    struct import *im = import_of(req);
    if (!im)
        return 1;
    int rc = n ? multipart_feed(&im->mp, p, n) : 0;
    if (rc && !im->failure.status) {
        char why[300];
        api_fail(&im->failure, 400, "invalid_multipart", NULL,
                 "The multipart body is malformed: %s",
                 multipart_error_message(&im->mp, rc, why, sizeof why));
    }
    if (im->failure.status) {
        /* Rows already written stay: a longer do-not-call list is never wrong. */
        respond(im);
        return 1;
    }
    api_body_pace(req, im->blocked, &im->since_yield, n, API_YIELD_BYTES);
    return 0;
}

static void import_end(struct http_request *req)
{
    struct import *im = import_of(req);
    if (!im)
        return;
    int rc = multipart_finish(&im->mp);
    if (rc && !im->failure.status) {
        char why[300];
        api_fail(&im->failure, 400, "invalid_multipart", NULL,
                 "The multipart body is malformed: %s",
                 multipart_error_message(&im->mp, rc, why, sizeof why));
    }
    if (!im->failure.status && !im->file_seen)
        api_fail(&im->failure, 400, "missing_file", "file",
                 "No file: send the CSV in the form field file (curl -F file=@numbers.csv).");
    else if (!im->failure.status && !im->have_header)
        api_fail(&im->failure, 422, "empty_file", NULL,
                 "The file is empty. Its first line must name the columns, such as phone,reason.");
    else if (!im->failure.status && im->rows == 0)
        api_fail(&im->failure, 422, "no_rows", NULL,
                 "The file has a header line but no numbers below it.");
    else if (!im->failure.status && im->valid == 0)
        api_fail(&im->failure, 422, "no_valid_rows", NULL,
                 "None of the %llu rows holds a phone number or +1 area code; see errors.",
                 (unsigned long long)im->rows);
    im->ended = 1;
    if (im->failure.status)
        respond(im);
    else if (im->pending_rows && !im->write_busy)
        submit(im);
    else if (!im->write_busy)
        respond(im);
}

static void import_abort(struct http_request *req)
{
    struct import *im = import_of(req);
    if (!im)
        return;
    api_ctx(req)->body_state = NULL;
    if (im->write_busy)
        im->orphaned = 1; /* freed when the write lands */
    else
        import_free(im);
}

const struct http_body_ops supp_import_ops = {import_start, import_data, import_end, import_abort};
