/* POST /v1/api/batch-calls (A1) and POST /v1/api/batch-calls/validate (A8).
 *
 * The body streams through the ingest pipeline. Each form field is checked as soon as it has
 * arrived, so a wrong agentId sent before the file rejects the upload before the file is read.
 * Rows of a real upload are written to a staging batch while they stream in; one final
 * transaction makes the batch visible as queued with its counters. A failed or abandoned upload
 * leaves its staging rows to the background purge. */
#include "api/upload.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "api/batches.h"
#include "api/idempotency.h"
#include "api/upload_fields.h"
#include "policy/rules.h"
#include "api/api.h"
#include "api/supp_screen.h"
#include "model/workspace.h"
#include "http/conn.h"
#include "http/response.h"
#include "http/router.h"
#include "ingest/ingest.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/json.h"
#include "util/log.h"
#include "model/agent.h"
#include "model/batch.h"

#define A1_ERRORS 20
#define A8_ERRORS 1000

static void on_written(struct ingest *in, void *ctx);
static void upload_end(struct http_request *req);
static void validate_end(struct http_request *req);

static void upload_free(struct upload *up)
{
    if (!up)
        return;
    const char *first = ingest_first_batch(&up->in);
    if (first && !up->validate_only)
        batches_purge_later(up->app, first);
    ingest_free(&up->in);
    supp_screen_close(up->screen);
    cJSON_Delete(up->agent);
    cJSON_Delete(up->smart);
    free(up);
}

/* ---- errors ---- */

static const struct {
    int status;
    const char *code;
} ingest_statuses[] = {
    [INGEST_E_NOMEM] = {503, "unavailable"},
    [INGEST_E_STORE_FULL] = {507, "insufficient_storage"},
    [INGEST_E_STORE] = {500, "internal_error"},
    [INGEST_E_DISK_FULL] = {507, "insufficient_storage"},
    [INGEST_E_NOT_MULTIPART] = {415, "unsupported_media_type"},
    [INGEST_E_MULTIPART] = {400, "invalid_multipart"},
    [INGEST_E_TOO_LARGE] = {413, "payload_too_large"},
    [INGEST_E_FILE_TWICE] = {400, "invalid_field"},
    [INGEST_E_FIELD_TWICE] = {400, "invalid_field"},
    [INGEST_E_FIELD_AFTER_FILE] = {400, "invalid_field"},
    [INGEST_E_FIELD_VALUE] = {400, "invalid_field"},
    [INGEST_E_MISSING_FILE] = {400, "missing_file"},
    [INGEST_E_EMPTY_FILE] = {422, "empty_file"},
    [INGEST_E_INVALID_HEADER] = {422, "invalid_header"},
    [INGEST_E_DUPLICATE_COLUMN] = {422, "duplicate_column"},
    [INGEST_E_MISSING_PHONE_COLUMN] = {422, "missing_phone_column"},
    [INGEST_E_TOO_MANY_ROWS] = {422, "too_many_rows"},
    [INGEST_E_INVALID_FILE] = {422, "invalid_file"},
    [INGEST_E_INVALID_CSV] = {422, "invalid_csv"},
    [INGEST_E_NO_ROWS] = {422, "no_rows"},
    [INGEST_E_STOPPED] = {500, "internal_error"},
};

/* The answer to an ingest failure, unless the upload set its own (on_field stops ingest). */
static void take_ingest_failure(struct upload *up)
{
    const struct ingest_failure *f = &up->in.failure;
    if (up->failure.status || f->error == INGEST_OK)
        return;
    int status = ingest_statuses[f->error].status;
    const char *code = ingest_statuses[f->error].code;
    const char *field = f->field >= 0 ? upload_fields_names[f->field] : NULL;
    switch (f->error) {
    case INGEST_E_NOT_MULTIPART:
        api_fail(&up->failure, status, code, NULL,
                 "Send the upload as multipart/form-data, for example: curl -F "
                 "file=@contacts.csv -F agentId=agent_...");
        return;
    case INGEST_E_MISSING_FILE:
        api_fail(&up->failure, status, code, NULL,
                 "The upload has no file. Send the CSV as a form field named file: "
                 "curl -F file=@contacts.csv -F agentId=agent_...");
        return;
    case INGEST_E_FILE_TWICE:
        api_fail(&up->failure, status, code, UPLOAD_FIELDS_FILE,
                 "The upload has more than one file part; send one CSV per batch.");
        return;
    case INGEST_E_FIELD_TWICE:
        api_fail(&up->failure, status, code, field, "The field %s was sent twice; send it once.",
                 field);
        return;
    case INGEST_E_FIELD_AFTER_FILE:
        api_fail(&up->failure, status, code, field,
                 "The field %s changes how rows are read, and the server could not keep a "
                 "copy of the file to read it again: send it before the file part.",
                 field);
        return;
    case INGEST_E_FIELD_VALUE:
        if (f->field == FIELD_DEFAULT_COUNTRY)
            api_fail(&up->failure, status, code, field,
                     "defaultCountry must be an ISO 3166 two-letter country code such as US "
                     "or GB, got \"%.40s\".",
                     f->detail);
        else
            api_fail(&up->failure, status, code, field,
                     "allowDuplicates must be true or false, got "
                     "\"%.40s\".",
                     f->detail);
        return;
    default:
        api_fail(&up->failure, status, code, NULL, "%s", f->detail);
        return;
    }
}

/* ---- responses ---- */

static cJSON *rows_json(const struct ingest_row_error *list, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        const struct ingest_row_error *e = &list[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "row", e->row);
        if (e->column[0])
            cJSON_AddStringToObject(o, "column", e->column);
        else
            cJSON_AddNullToObject(o, "column");
        cJSON_AddStringToObject(o, "code", e->code);
        cJSON_AddStringToObject(o, "value", e->value);
        cJSON_AddStringToObject(o, "message", e->message);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static cJSON *errors_json(const struct ingest *in)
{
    return rows_json(in->errors, in->nerrors);
}

/* Rows that are called but whose data has a problem (an invalid consent_at while consent is not
 * required). */
static cJSON *warnings_json(const struct ingest *in)
{
    return rows_json(in->warnings, in->nwarnings);
}

static void respond_upload_error(struct http_request *req, struct upload *up)
{
    struct ingest *in = &up->in;
    take_ingest_failure(up);
    /* The server's own failures are logged: the client's message alone reaches no operator. */
    if (up->failure.status >= 500)
        log_error("upload failed", "status=%d error=%s message=\"%s\"", up->failure.status,
                  up->failure.code, up->failure.message);
    cJSON *o = cJSON_CreateObject();
    api_failure_add(o, &up->failure);
    /* (A 404's field is NULL: "id" never stands beside "field".) */
    if (up->failure.status == 404 && ingest_field_value(in, FIELD_AGENT_ID))
        cJSON_AddStringToObject(o, "id", ingest_field_value(in, FIELD_AGENT_ID));
    if (up->header)
        cJSON_AddStringToObject(o, "header", up->header);
    if (in->nerrors && up->failure.status == 422) {
        cJSON_AddItemToObject(o, "errors", errors_json(in));
        cJSON_AddBoolToObject(o, "errorsTruncated", in->errors_truncated);
    }
    api_respond_json(req, up->failure.status, o);
}

/* Frees an upload that failed or was abandoned, once no write of it is in flight (the pool
 * thread still reads its rows), and hands whatever it staged to the background purge. */
static void upload_release(struct upload *up)
{
    if (up->in.write_busy) {
        up->orphaned = 1;
        return;
    }
    if (!up->validate_only && up->in.stored_rows)
        batches_purge_later(up->app, up->batch_id);
    upload_free(up);
}

/* A failed upload: answer, and release it. */
static void upload_failed(struct http_request *req, struct upload *up)
{
    respond_upload_error(req, up);
    api_ctx(req)->upload = NULL;
    upload_release(up);
}

static cJSON *created_body(const struct batch_rec *b)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "batchId", b->id);
    cJSON_AddNumberToObject(o, "totalCalls", (double)b->total);
    cJSON_AddStringToObject(o, "status", batch_status_name(b->status));
    cJSON_AddStringToObject(o, "message", "Batch calls initiated successfully");
    cJSON_AddNumberToObject(o, "validCalls", (double)b->valid_rows);
    cJSON_AddNumberToObject(o, "invalidRows", (double)b->invalid_rows);
    cJSON_AddNumberToObject(o, "duplicateRows", (double)b->duplicate_rows);
    cJSON_AddNumberToObject(o, "normalizedRows", (double)b->normalized_rows);
    cJSON_AddNumberToObject(o, "noConsentRows", (double)b->no_consent);
    cJSON_AddNumberToObject(o, "suppressedRows", (double)b->suppressed_upload);
    return o;
}

/* ---- the final commit ---- */

struct commit_args {
    struct upload *up;
    struct batch_rec b;
    struct buf meta;
    char replay[ID_MAX]; /* set when another upload already claimed the Idempotency-Key */
    int reused;          /* ... with a different request */
};

/* A key reused for a different request: answered 422. */
static void idem_reused(struct upload *up, const char *batch)
{
    char msg[sizeof up->failure.message];
    idempotency_reused_message(msg, sizeof msg, up->idem_key, batch);
    api_fail(&up->failure, 422, "idempotency_key_reused", NULL, "%s", msg);
    up->header = "Idempotency-Key";
}

static int commit_txn(struct store_txn *t, void *arg)
{
    struct commit_args *a = arg;
    struct upload *up = a->up;
    if (up->idem_key[0]) {
        struct idem_rec r;
        int rc = idempotency_find(t, up->ws, up->idem_key, &r);
        if (rc == 0) {
            memcpy(a->replay, r.batch, ID_MAX);
            a->reused = !idempotency_same_request(&r, up->digest);
            return 0;
        }
        if (rc != BC_ENOTFOUND)
            return rc;
        rc = idempotency_put(t, up->ws, up->idem_key, up->batch_id, a->b.created_ms, up->digest);
        if (rc)
            return rc;
    }
    uint8_t key[WS2BATCH_KEY_MAX];
    size_t blen = strlen(up->batch_id);
    size_t klen = ws2batch_key(key, up->ws, strlen(up->ws), a->b.created_ms, up->batch_id, blen);
    store_put(t, DB_WS2BATCH, key, klen, "", 0, 0);
    store_put(t, DB_BATCHMETA, up->batch_id, blen, a->meta.data, a->meta.len, 0);
    return batch_put(t, &a->b);
}

static void build_meta(struct upload *up, struct buf *out)
{
    struct ingest *in = &up->in;
    cJSON *m = cJSON_CreateObject();
    const char *name = ingest_field_value(in, FIELD_NAME);
    const char *webhook = ingest_field_value(in, FIELD_WEBHOOK_URL);
    const char *dc = ingest_field_value(in, FIELD_DEFAULT_COUNTRY);
    if (name && *name)
        cJSON_AddStringToObject(m, "name", name);
    else
        cJSON_AddNullToObject(m, "name");
    cJSON *cols = cJSON_AddArrayToObject(m, "columns");
    for (size_t i = 0; i < in->ncolumns; i++)
        cJSON_AddItemToArray(cols, cJSON_CreateString(ingest_column(in, i)));
    cJSON_AddNumberToObject(m, "phoneColumn", (double)in->phone_col);
    cJSON_AddStringToObject(m, "encoding", ingest_encoding(in));
    if (dc)
        cJSON_AddStringToObject(m, "defaultCountry", dc);
    cJSON_AddBoolToObject(m, "allowDuplicates", in->allow_duplicates);
    if (up->smart && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(up->smart, "enabled")))
        cJSON_AddItemToObject(m, "smartCallbackConfig", cJSON_Duplicate(up->smart, 1));
    else
        cJSON_AddNullToObject(m, "smartCallbackConfig");
    if (webhook && *webhook)
        cJSON_AddStringToObject(m, "webhookUrl", webhook);
    cJSON *window = upload_fields_window_json(up);
    if (window)
        cJSON_AddItemToObject(m, "callingWindow", window);
    /* The agent as it was at upload: later edits do not change a running campaign. */
    cJSON_AddItemToObject(m, "agent", cJSON_Duplicate(up->agent, 1));
    /* The 201's row errors, so a replayed Idempotency-Key answers exactly the same. */
    cJSON_AddItemToObject(m, "uploadErrors", errors_json(in));
    if (in->nwarnings)
        cJSON_AddItemToObject(m, "uploadWarnings", warnings_json(in));
    json_render(out, m);
    cJSON_Delete(m);
}

static void respond_replayed(struct http_request *req, const char *batch_id)
{
    struct store_txn t;
    struct batch_rec b;
    struct store_val mv;
    cJSON *errors = NULL, *warnings = NULL;
    int rc = store_read_begin(&api_app(req)->store, &t);
    if (!rc)
        rc = batch_get(&t, batch_id, strlen(batch_id), &b);
    if (!rc && store_get(&t, DB_BATCHMETA, batch_id, strlen(batch_id), &mv) == 0) {
        cJSON *meta = cJSON_ParseWithLength(mv.ptr, mv.len);
        errors = cJSON_DetachItemFromObjectCaseSensitive(meta, "uploadErrors");
        warnings = cJSON_DetachItemFromObjectCaseSensitive(meta, "uploadWarnings");
        cJSON_Delete(meta);
    }
    store_read_end(&t);
    if (rc) {
        cJSON_Delete(errors);
        cJSON_Delete(warnings);
        api_respond_internal(req, rc);
        return;
    }
    /* The first answer, as it was: the status is the batch's status at upload. */
    b.status = BATCH_QUEUED;
    cJSON *o = created_body(&b);
    cJSON_AddItemToObject(o, "errors", errors ? errors : cJSON_CreateArray());
    cJSON_AddItemToObject(o, "warnings", warnings ? warnings : cJSON_CreateArray());
    http_add_header(req, "Idempotent-Replayed", "true");
    api_respond_json(req, 201, o);
}

static void commit_upload(struct http_request *req, struct upload *up)
{
    struct ingest *in = &up->in;
    struct commit_args a = {.up = up};
    struct batch_rec *b = &a.b;
    memset(b, 0, sizeof *b);
    b->version = RECORD_VERSION;
    b->status = BATCH_QUEUED;
    b->retryable_kept = 1; /* no call has been dialled: none is retryable */
    b->unindexed_from = 1; /* its waiting jobs went in without index entries (chunk.c) */
    b->created_ms = clock_now_ms();
    b->scheduled_ms = up->scheduled_ms;
    b->max_concurrency = up->max_concurrency;
    b->calls_per_second = up->calls_per_second;
    b->total = in->rows;
    b->waiting = in->valid;
    b->failed = in->invalid + in->duplicates + in->no_consent + in->suppressed;
    b->no_consent = in->no_consent;
    b->suppressed_upload = in->suppressed;
    b->valid_rows = in->valid;
    b->invalid_rows = in->invalid;
    b->duplicate_rows = in->duplicates;
    b->normalized_rows = in->normalized;
    snprintf(b->id, sizeof b->id, "%s", up->batch_id);
    snprintf(b->ws, sizeof b->ws, "%s", up->ws);
    cJSON *aid = cJSON_GetObjectItemCaseSensitive(up->agent, "id");
    snprintf(b->agent, sizeof b->agent, "%s", cJSON_GetStringValue(aid));
    if (up->idem_key[0] && ingest_digest(in, up->digest) != 0) {
        api_fail(&up->failure, 503, "unavailable", NULL,
                 "The server is out of memory; retry later.");
        upload_failed(req, up);
        return;
    }
    build_meta(up, &a.meta);
    int rc = store_write(&api_app(req)->store, commit_txn, &a);
    buf_free(&a.meta);
    if (rc == BC_ENOSPC) {
        api_fail(&up->failure, 507, "insufficient_storage", NULL, "%s", API_DISK_FULL_MESSAGE);
        upload_failed(req, up);
        return;
    }
    if (rc) {
        api_fail(&up->failure, rc == BC_EFULL ? 507 : 500,
                 rc == BC_EFULL ? "insufficient_storage" : "internal_error", NULL,
                 "The batch could not be stored (%s); nothing was kept. Retry later.", err_str(rc));
        upload_failed(req, up);
        return;
    }
    api_ctx(req)->upload = NULL;
    if (a.replay[0]) {
        /* Another upload with the same key won the race: ours is dropped. */
        batches_purge_later(api_app(req), up->batch_id);
        if (a.reused) {
            idem_reused(up, a.replay);
            respond_upload_error(req, up);
        } else {
            respond_replayed(req, a.replay);
        }
        upload_free(up);
        return;
    }
    struct app *app = api_app(req);
    if (app->dispatch && dispatch_add_batch(app->dispatch, b->id) != 0)
        log_error("the new batch could not be scheduled; it starts after a restart", "batch=%s",
                  b->id);
    cJSON *o = created_body(b);
    cJSON_AddItemToObject(o, "errors", errors_json(in));
    cJSON_AddItemToObject(o, "warnings", warnings_json(in));
    supp_screen_warnings(o, &app->store);
    upload_free(up);
    api_respond_json(req, 201, o);
}

/* ---- the stream callbacks ---- */

static uint64_t content_length(const struct http_request *req)
{
    const struct http_slice *cl = http_header(req, "content-length");
    uint64_t n = 0;
    for (size_t i = 0; cl && i < cl->len && cl->ptr[i] >= '0' && cl->ptr[i] <= '9'; i++)
        n = n * 10 + (uint64_t)(cl->ptr[i] - '0');
    return n;
}

static void upload_begin(struct http_request *req, int validate_only)
{
    struct app *app = api_app(req);
    struct api_ctx *ctx = api_ctx(req);
    struct upload *up = calloc(1, sizeof *up);
    if (!up) {
        api_respond_internal(req, BC_ENOMEM);
        return;
    }
    up->validate_only = validate_only;
    up->app = app;
    memcpy(up->ws, ctx->ws, ctx->ws_len + 1);
    struct store_txn t;
    int rc = store_read_begin(&app->store, &t);
    if (!rc)
        rc = workspace_get(&t, ctx->ws, ctx->ws_len, &up->ws_settings);
    struct rules rules;
    if (!rc && (rc = rules_get(&t, ctx->ws, ctx->ws_len, &rules)) == 0) {
        up->require_consent = rules.require_consent;
        rules_free(&rules);
    }
    int ik = validate_only ? 0 : idempotency_header(req, up->idem_key);
    if (!rc && ik < 0) {
        store_read_end(&t);
        upload_free(up);
        idempotency_respond_bad_header(req);
        return;
    }
    if (!rc && ik > 0) {
        int found = idempotency_find(&t, up->ws, up->idem_key, &up->idem_found);
        if (found == 0)
            up->idem_check = 1;
        else if (found != BC_ENOTFOUND)
            rc = found;
    }
    store_read_end(&t);
    if (rc) {
        upload_free(up);
        api_respond_internal(req, rc);
        return;
    }
    if (up->idem_check && !up->idem_found.has_hash) {
        /* Stored before requests were fingerprinted: replayed from the head, as then. */
        char batch[ID_MAX];
        memcpy(batch, up->idem_found.batch, ID_MAX);
        upload_free(up);
        respond_replayed(req, batch);
        return;
    }
    if (!validate_only && !up->idem_check &&
        id_new(&app->ids, "batch_", clock_now_ms(), up->batch_id) < 0) {
        upload_free(up);
        api_respond_internal(req, BC_EIO);
        return;
    }
    struct ingest_options opt = {
        .store = validate_only || up->idem_check ? NULL : &app->store,
        .batch_id = up->batch_id,
        .workspace = up->ws,
        .max_records = up->ws_settings.max_records,
        .max_errors = validate_only ? A8_ERRORS : A1_ERRORS,
        .field_names = upload_fields_names,
        .file_field = UPLOAD_FIELDS_FILE,
        .on_field = upload_fields_check,
        .ctx = req,
        .body_bytes = content_length(req),
        .loop = app->loop,
        .on_written = on_written,
        .digest = up->idem_key[0] != 0,
        .digest_only = up->idem_check,
        .spool_dir = app->cfg.data_dir,
        .require_consent = up->require_consent,
        .now_ms = (int64_t)clock_now_ms(),
    };
    supp_screen_attach(&opt, &up->screen, &app->store, ctx->ws, ctx->ws_len);
    const struct http_slice *ct = http_header(req, "content-type");
    ctx->upload = up;
    if (ingest_begin(&up->in, &opt, ct ? ct->ptr : NULL, ct ? ct->len : 0) != 0) {
        respond_upload_error(req, up);
        ctx->upload = NULL;
        upload_free(up);
    }
}

/* A write of the upload's rows landed (on the loop thread). */
static void on_written(struct ingest *in, void *ctx)
{
    struct upload *up = (struct upload *)((char *)in - offsetof(struct upload, in));
    if (up->orphaned) {
        upload_release(up);
        return;
    }
    struct http_request *req = ctx;
    if (up->ended && up->validate_only)
        validate_end(req);
    else if (up->ended)
        upload_end(req);
    else if (!in->blocked)
        http_request_resume(req);
}

static void upload_start(struct http_request *req)
{
    upload_begin(req, 0);
}

static void validate_start(struct http_request *req)
{
    upload_begin(req, 1);
}

static int upload_data(struct http_request *req, const char *p, size_t n)
{
    struct upload *up = api_ctx(req)->upload;
    if (ingest_feed(&up->in, p, n) != 0) {
        upload_failed(req, up);
        return 1;
    }
    /* Blocked: a chunk is full while the previous one is still being written. */
    api_body_pace(req, up->in.blocked, &up->since_yield, n, API_YIELD_BYTES);
    return 0;
}

static void upload_abort(struct http_request *req)
{
    struct upload *up = api_ctx(req)->upload;
    if (!up)
        return;
    api_ctx(req)->upload = NULL;
    upload_release(up);
}

/* The checks that need the whole upload (after ingest_end): required fields, strict mode,
 * usable rows. */
static int check_complete(struct upload *up)
{
    struct ingest *in = &up->in;
    if (in->failure.error)
        return ingest_error_code(in->failure.error);
    if (!up->validate_only && !ingest_field_value(in, FIELD_AGENT_ID))
        return api_fail(&up->failure, 400, "missing_field", upload_fields_names[FIELD_AGENT_ID],
                        "agentId is required: add -F agentId=agent_... to the upload.");
    uint64_t bad = in->invalid + in->duplicates + in->no_consent;
    if (up->validate_only)
        return 0;
    if (up->strict && bad)
        return api_fail(&up->failure, 422, "invalid_rows", NULL,
                        "strict=true and %llu of %llu rows cannot be called; nothing was "
                        "stored. Fix the rows listed in errors, or upload without strict.",
                        (unsigned long long)bad, (unsigned long long)in->rows);
    if (in->valid == 0 && in->no_consent > 0 && in->consent_col < 0)
        return api_fail(&up->failure, 422, "no_valid_rows", NULL,
                        "This workspace requires consent evidence (requireConsent) and the "
                        "file has no consent_at column, so none of its %llu rows may be "
                        "called; nothing was stored. Add a consent_at column with the date "
                        "each contact gave consent (such as 2026-05-01), or turn "
                        "requireConsent off with PUT /v1/api/compliance/settings.",
                        (unsigned long long)in->rows);
    if (in->valid == 0)
        return api_fail(&up->failure, 422, "no_valid_rows", NULL,
                        "None of the %llu rows can be called (see errors); nothing was stored.",
                        (unsigned long long)in->rows);
    return 0;
}

/* The end of a request whose Idempotency-Key was used before: the first answer again if it is
 * the same request, 422 if not. */
static void idem_answer(struct http_request *req, struct upload *up)
{
    if (up->in.failure.error) {
        upload_failed(req, up);
        return;
    }
    if (ingest_digest(&up->in, up->digest) != 0) {
        api_fail(&up->failure, 503, "unavailable", NULL,
                 "The server is out of memory; retry later.");
        upload_failed(req, up);
        return;
    }
    if (!idempotency_same_request(&up->idem_found, up->digest)) {
        idem_reused(up, up->idem_found.batch);
        upload_failed(req, up);
        return;
    }
    char batch[ID_MAX];
    memcpy(batch, up->idem_found.batch, ID_MAX);
    api_ctx(req)->upload = NULL;
    upload_free(up);
    respond_replayed(req, batch);
}

static void upload_end(struct http_request *req)
{
    struct upload *up = api_ctx(req)->upload;
    /* The last rows are written on the thread pool before the final commit; on_written calls
     * this again each time a write lands. */
    if (!up->ended) {
        up->ended = 1;
        if (ingest_end(&up->in) == 0 && ingest_drain(&up->in))
            return;
    } else if (ingest_drain(&up->in)) {
        return;
    }
    if (up->idem_check) {
        idem_answer(req, up);
        return;
    }
    if (ingest_replay_needed(&up->in)) {
        /* A late defaultCountry or allowDuplicates: the rows are staged again under a new id
         * (those before the first row it changes copied from the first batch, which the
         * background purge removes once the upload is over: upload_free). */
        if (id_new(&up->app->ids, "batch_", clock_now_ms(), up->batch_id) < 0) {
            api_fail(&up->failure, 500, "internal_error", NULL,
                     "No batch id could be made; retry.");
            upload_failed(req, up);
            return;
        }
        if (ingest_replay_begin(&up->in))
            return;
    }
    if (check_complete(up) != 0) {
        upload_failed(req, up);
        return;
    }
    commit_upload(req, up);
}

struct var_check {
    struct upload *up;
    cJSON *missing;
    char *used; /* one flag per column */
};

static void check_variable(void *ctx, const char *name, size_t len)
{
    struct var_check *vc = ctx;
    struct ingest *in = &vc->up->in;
    char lower[AGENT_VARIABLE_MAX + 1];
    agent_variable_key(name, len, lower);
    for (size_t i = 0; i < in->ncolumns; i++) {
        if (strcmp(ingest_column(in, i), lower) == 0) {
            vc->used[i] = 1;
            return;
        }
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, vc->missing)
    {
        if (strcmp(m->valuestring, lower) == 0)
            return;
    }
    cJSON_AddItemToArray(vc->missing, cJSON_CreateString(lower));
}

/* Why the upload is not valid, in words (null when it is): errors lists only rows, so a file
 * whose rows are all fine but which lacks a column the prompt uses would otherwise answer
 * valid:false with no error at all. */
static void add_reason(cJSON *o, const struct ingest *in, const cJSON *missing)
{
    struct buf b = {0};
    if (in->invalid)
        buf_printf(&b, "%llu of %llu rows cannot be called (see errors)",
                   (unsigned long long)in->invalid, (unsigned long long)in->rows);
    if (in->duplicates)
        buf_printf(&b, "%s%llu %s an earlier row's number (see errors)", b.len ? "; " : "",
                   (unsigned long long)in->duplicates,
                   in->duplicates == 1 ? "row repeats" : "rows repeat");
    if (in->no_consent)
        buf_printf(&b, "%s%llu %s no valid consent_at, which this workspace requires (see errors)",
                   b.len ? "; " : "", (unsigned long long)in->no_consent,
                   in->no_consent == 1 ? "row has" : "rows have");
    int nmissing = cJSON_GetArraySize(missing);
    if (nmissing) {
        buf_printf(&b, "%sthe agent's prompt uses ", b.len ? "; " : "");
        const cJSON *m;
        int i = 0;
        cJSON_ArrayForEach(m, missing)
        {
            buf_printf(&b, "%s{%s}",
                       i == 0              ? ""
                       : i == nmissing - 1 ? " and "
                                           : ", ",
                       m->valuestring);
            i++;
        }
        buf_printf(&b,
                   " but the file has no such column (see missingVariables): add %s, or "
                   "the calls will say nothing in %s place",
                   nmissing == 1 ? "the column" : "the columns", nmissing == 1 ? "its" : "their");
    }
    if (b.len) {
        buf_append(&b, ".", 2);
        b.data[0] = (char)(b.data[0] >= 'a' && b.data[0] <= 'z' ? b.data[0] - 32 : b.data[0]);
        cJSON_AddStringToObject(o, "reason", b.data);
    } else {
        cJSON_AddNullToObject(o, "reason");
    }
    buf_free(&b);
}

static void validate_end(struct http_request *req)
{
    struct upload *up = api_ctx(req)->upload;
    struct ingest *in = &up->in;
    /* With a late defaultCountry or allowDuplicates the rows are read again first (on the thread
     * pool; on_written calls this again when that is done). */
    if (!up->ended) {
        up->ended = 1;
        if (ingest_end(in) == 0 && ingest_replay_needed(in) && ingest_replay_begin(in))
            return;
    } else if (ingest_drain(in)) {
        return;
    }
    if (check_complete(up) != 0) {
        upload_failed(req, up);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *cols = cJSON_CreateArray();
    for (size_t i = 0; i < in->ncolumns; i++)
        cJSON_AddItemToArray(cols, cJSON_CreateString(ingest_column(in, i)));
    struct var_check vc = {up, cJSON_CreateArray(), calloc(in->ncolumns + 1, 1)};
    cJSON *unused = cJSON_CreateArray();
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(up->agent, "prompt");
    if (cJSON_IsString(prompt) && vc.used) {
        agent_prompt_variables(prompt->valuestring, strlen(prompt->valuestring), check_variable,
                               &vc);
        for (size_t i = 0; i < in->ncolumns; i++)
            if (!vc.used[i] && i != in->phone_col)
                cJSON_AddItemToArray(unused, cJSON_CreateString(ingest_column(in, i)));
    }
    free(vc.used);
    int valid = in->invalid == 0 && in->duplicates == 0 && in->no_consent == 0 &&
                cJSON_GetArraySize(vc.missing) == 0;
    cJSON_AddBoolToObject(o, "valid", valid);
    add_reason(o, in, vc.missing);
    cJSON_AddNumberToObject(o, "totalRows", (double)in->rows);
    cJSON_AddNumberToObject(o, "validRows", (double)in->valid);
    cJSON_AddNumberToObject(o, "invalidRows", (double)in->invalid);
    cJSON_AddNumberToObject(o, "duplicateRows", (double)in->duplicates);
    cJSON_AddNumberToObject(o, "normalizedRows", (double)in->normalized);
    cJSON_AddNumberToObject(o, "noConsentRows", (double)in->no_consent);
    cJSON_AddNumberToObject(o, "suppressedRows", (double)in->suppressed);
    cJSON_AddItemToObject(o, "columns", cols);
    cJSON_AddStringToObject(o, "encoding", ingest_encoding(in));
    char delim[2] = {csv_delimiter(&in->csv), '\0'};
    cJSON_AddStringToObject(o, "delimiter", delim);
    cJSON_AddItemToObject(o, "missingVariables", vc.missing);
    cJSON_AddItemToObject(o, "unusedColumns", unused);
    cJSON_AddItemToObject(o, "errors", errors_json(in));
    cJSON_AddBoolToObject(o, "errorsTruncated", in->errors_truncated);
    cJSON_AddItemToObject(o, "warnings", warnings_json(in));
    cJSON_AddBoolToObject(o, "warningsTruncated", in->warnings_truncated);
    api_ctx(req)->upload = NULL;
    upload_free(up);
    api_respond_json(req, 200, o);
}

const struct http_body_ops upload_ops = {upload_start, upload_data, upload_end, upload_abort};
const struct http_body_ops upload_validate_ops = {validate_start, upload_data, validate_end,
                                                  upload_abort};
