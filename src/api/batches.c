/* Batch reads (A2, A3), the workspace's batches (B3), the CSV template (A7), and the background
 * removal of uploads that never became batches. */
#include "api/batches.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/agents.h"
#include "api/api.h"
#include "dispatch/jobs.h"
#include "http/response.h"
#include "http/router.h"
#include "ingest/ingest.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/json.h"
#include "util/log.h"
#include "model/agent.h"
#include "model/batch.h"
#include "store/jobindex.h"

/* ---- time ---- */

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return BC_EINVAL;
        v = v * 10 + (**p - '0');
    }
    *out = v;
    return 0;
}

int batches_parse_time(const char *s, uint64_t *ms)
{
    int y, mo, d, h, mi, sec, frac_ms = 0;
    const char *p = s;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
        digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' ') || !*p++ || digits(&p, 2, &h) ||
        *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &sec))
        return BC_EINVAL;
    if (*p == '.') {
        p++;
        int scale = 100, any = 0;
        while (*p >= '0' && *p <= '9') {
            frac_ms += (*p++ - '0') * scale;
            scale /= 10;
            any = 1;
        }
        if (!any)
            return BC_EINVAL;
    }
    long offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (digits(&p, 2, &oh))
            return BC_EINVAL;
        if (*p == ':')
            p++;
        if (digits(&p, 2, &om) || oh > 23 || om > 59)
            return BC_EINVAL;
        offset_s = sign * (oh * 3600L + om * 60L);
    } else {
        return BC_EINVAL; /* a time without a zone is ambiguous */
    }
    if (*p)
        return BC_EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return BC_ENOTFOUND;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    /* timegm normalises 31 February into March: reject dates that moved. */
    struct tm back;
    gmtime_r(&t, &back);
    if (t == (time_t)-1 || y < 1970)
        return BC_EINVAL;
    if (back.tm_mday != d)
        return BC_ENOTFOUND;
    *ms = (uint64_t)(t - offset_s) * 1000u + (uint64_t)frac_ms;
    return 0;
}

/* ---- loading ---- */

int batches_load(struct http_request *req, struct store_txn *t, struct batch_rec *b)
{
    struct api_ctx *ctx = api_ctx(req);
    const struct http_slice *id = &req->params[0];
    int rc = BC_ENOTFOUND;
    if (id_valid("batch_", id->ptr, id->len))
        rc = batch_get(t, id->ptr, id->len, b);
    if (rc == 0 && (b->status == BATCH_STAGING || strcmp(b->ws, ctx->ws) != 0))
        rc = BC_ENOTFOUND;
    if (rc == BC_ENOTFOUND) {
        char idz[ID_MAX] = "";
        if (id->len < sizeof idz)
            memcpy(idz, id->ptr, id->len);
        api_respond_error(req, 404, "not_found", "No batch with this id in this workspace.", "id",
                          idz);
    } else if (rc) {
        api_respond_internal(req, rc);
    }
    return rc;
}

int batches_begin(struct http_request *req, struct store_txn *t, struct batch_rec *b)
{
    int rc = api_read_begin(req, t);
    if (rc)
        return rc;
    rc = batches_load(req, t, b);
    if (rc)
        store_read_end(t);
    return rc;
}

/* ---- status ---- */

static void add_time(cJSON *o, const char *name, uint64_t ms)
{
    if (ms)
        cJSON_AddNumberToObject(o, name, (double)ms);
    else
        cJSON_AddNullToObject(o, name);
}

static cJSON *recent_calls(struct store_txn *t, const struct batch_rec *b)
{
    cJSON *arr = cJSON_CreateArray();
    for (uint32_t i = 0; i < b->recent_count; i++) {
        uint32_t row = b->recent[i];
        uint8_t key[JOB_KEY_MAX];
        struct store_val v;
        struct job_view jv;
        if (store_get(t, DB_JOB, key, job_key(key, b->id, row), &v) != 0 ||
            job_decode(v.ptr, v.len, &jv) != 0)
            continue;
        cJSON *o = cJSON_CreateObject();
        char job[24];
        snprintf(job, sizeof job, "call_%u", row);
        cJSON_AddStringToObject(o, "jobId", job);
        cJSON_AddStringToObject(o, "status", job_state_name(jv.head.state));
        cJSON_AddStringToObject(o, "phone_number", jv.head.e164);
        if (jv.head.state == JOB_COMPLETED) {
            cJSON_AddNumberToObject(o, "completedAt", (double)jv.head.end_ms);
            cJSON_AddNumberToObject(o, "duration", jv.head.duration);
        } else {
            cJSON_AddNumberToObject(o, "failedAt", (double)jv.head.end_ms);
            json_add_strn(o, "error", jv.error, jv.error_len);
            if (jobs_has_duration(&jv.head)) /* a voicemail connected */
                cJSON_AddNumberToObject(o, "duration", jv.head.duration);
        }
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* When the earliest scheduled retry of the batch is due (ms), or 0 when none is: the first key
 * of the batch in DB_DUE, which is ordered by time. */
static uint64_t next_attempt_ms(struct store_txn *t, const struct batch_rec *b)
{
    size_t blen = strlen(b->id);
    struct store_iter it;
    uint64_t due = 0;
    uint32_t row;
    store_iter_open(&it, t, DB_DUE, b->id, blen, NULL, 0);
    if (store_iter_next(&it) != 1 || due_key_decode(&it.key, blen, &due, &row) != 0)
        due = 0;
    store_iter_close(&it);
    return due;
}

/* The progress facts shared by A2 (nested) and A3 (flat). */
static void add_progress(cJSON *o, struct store_txn *t, const struct batch_rec *b)
{
    cJSON_AddNumberToObject(o, "waiting", (double)b->waiting);
    /* Waiting calls a calling window or a frequency cap holds back (counted inside waiting). */
    cJSON_AddNumberToObject(o, "held", (double)(b->held_window + b->held_cap));
    cJSON_AddNumberToObject(o, "active", (double)b->active);
    cJSON_AddNumberToObject(o, "completed", (double)b->completed);
    cJSON_AddNumberToObject(o, "failed", (double)b->failed);
    cJSON_AddNumberToObject(o, "cancelled", (double)b->cancelled);
    cJSON_AddNumberToObject(o, "total", (double)b->total);
    add_time(o, "startTime", b->started_ms);
    add_time(o, "lastCompletedTime", b->last_completed_ms);
    add_time(o, "completedTime", b->completed_ms);
    /* A waiting call that was busy (or not answered, with smartCallbackConfig) is retried at
     * this time: without it a batch that waits for a retry looks stuck. */
    add_time(o, "nextAttemptAt", batch_is_final(b->status) ? 0 : next_attempt_ms(t, b));
    cJSON_AddNumberToObject(o, "averageCallDuration",
                            b->connected ? b->duration_sum / (double)b->connected : 0);
    cJSON_AddItemToObject(o, "recent_calls", recent_calls(t, b));
}

static void add_extras(cJSON *o, const struct batch_rec *b)
{
    cJSON_AddStringToObject(o, "agentId", b->agent);
    cJSON_AddNumberToObject(o, "createdAt", (double)b->created_ms);
    add_time(o, "scheduledAt", b->scheduled_ms);
    cJSON_AddNumberToObject(o, "billableCalls", (double)b->billable);
    cJSON_AddNumberToObject(o, "attempts", (double)b->attempts);
    cJSON_AddNumberToObject(o, "validCalls", (double)b->valid_rows);
    cJSON_AddNumberToObject(o, "invalidRows", (double)b->invalid_rows);
    cJSON_AddNumberToObject(o, "duplicateRows", (double)b->duplicate_rows);
    cJSON_AddNumberToObject(o, "normalizedRows", (double)b->normalized_rows);
    cJSON_AddNumberToObject(o, "noConsentRows", (double)b->no_consent);
    cJSON_AddBoolToObject(o, "paused", b->paused);
    if (b->message[0])
        cJSON_AddStringToObject(o, "statusMessage", b->message);
    cJSON_AddNumberToObject(o, "emptyVariables", (double)b->empty_variables);
}

/* A URL as it may be shown again: a user:password@ part is replaced, never echoed. */
static void add_url(cJSON *o, const char *name, const char *url)
{
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    size_t auth_len = strcspn(host, "/?#");
    const char *at = NULL; /* the last @ of the authority ends the user information */
    for (size_t i = 0; i < auth_len; i++)
        if (host[i] == '@')
            at = host + i;
    if (!at) {
        cJSON_AddStringToObject(o, name, url);
        return;
    }
    struct buf shown = {0};
    buf_printf(&shown, "%.*sredacted%s", (int)(host - url), url, at);
    json_add_strn(o, name, shown.data, shown.len);
    buf_free(&shown);
}

static void add_meta_value(cJSON *o, const cJSON *meta, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, name);
    if (v && !cJSON_IsNull(v))
        cJSON_AddItemToObject(o, name, cJSON_Duplicate(v, 1));
    else
        cJSON_AddNullToObject(o, name);
}

/* The upload's settings, as the batch uses them (null: not given, the default applies). */
static void add_settings(cJSON *o, struct store_txn *t, const struct batch_rec *b)
{
    struct store_val mv;
    cJSON *meta = NULL;
    if (store_get(t, DB_BATCHMETA, b->id, strlen(b->id), &mv) == 0)
        meta = cJSON_ParseWithLength(mv.ptr, mv.len);
    add_meta_value(o, meta, "name");
    if (b->max_concurrency)
        cJSON_AddNumberToObject(o, "maxConcurrency", (double)b->max_concurrency);
    else
        cJSON_AddNullToObject(o, "maxConcurrency");
    if (b->calls_per_second > 0)
        cJSON_AddNumberToObject(o, "callsPerSecond", b->calls_per_second);
    else
        cJSON_AddNullToObject(o, "callsPerSecond");
    const cJSON *hook = cJSON_GetObjectItemCaseSensitive(meta, "webhookUrl");
    if (cJSON_IsString(hook))
        add_url(o, "webhookUrl", hook->valuestring);
    else
        cJSON_AddNullToObject(o, "webhookUrl");
    add_meta_value(o, meta, "smartCallbackConfig");
    add_meta_value(o, meta, "defaultCountry");
    add_meta_value(o, meta, "callingWindow");
    const cJSON *dup = cJSON_GetObjectItemCaseSensitive(meta, "allowDuplicates");
    cJSON_AddBoolToObject(o, "allowDuplicates", cJSON_IsTrue(dup));
    cJSON_Delete(meta);
}

cJSON *batches_status_json(struct store_txn *t, const struct batch_rec *b, int with_recent)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", b->id);
    cJSON_AddStringToObject(o, "status", batch_status_name(b->status));
    cJSON_AddBoolToObject(o, "isComplete", batch_is_final(b->status));
    cJSON_AddNumberToObject(o, "totalCalls", (double)b->total);
    cJSON *progress = cJSON_AddObjectToObject(o, "progress");
    add_progress(progress, t, b);
    if (!with_recent)
        cJSON_DeleteItemFromObjectCaseSensitive(progress, "recent_calls");
    add_extras(o, b);
    add_settings(o, t, b);
    return o;
}

cJSON *batches_progress_json(struct store_txn *t, const struct batch_rec *b)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", batch_status_name(b->status));
    cJSON_AddBoolToObject(o, "isComplete", batch_is_final(b->status));
    add_progress(o, t, b);
    add_extras(o, b);
    return o;
}

static void respond_status(struct http_request *req, int flat)
{
    struct store_txn t;
    struct batch_rec b;
    if (batches_begin(req, &t, &b) != 0)
        return;
    cJSON *o;
    if (flat) {
        o = batches_progress_json(&t, &b);
    } else {
        o = batches_status_json(&t, &b, 1);
        cJSON_AddNumberToObject(o, "timestamp", (double)clock_now_ms());
    }
    store_read_end(&t);
    api_respond_json(req, 200, o);
}

void batches_get(struct http_request *req)
{
    respond_status(req, 0);
}

void batches_status(struct http_request *req)
{
    respond_status(req, 1);
}

/* ---- the workspace's batches ---- */

static const char *const batch_statuses[] = {"queued", "processing", "completed", "cancelled",
                                             "failed"};

void batches_list(struct http_request *req)
{
    struct api_ctx *ctx = api_ctx(req);
    struct api_page page;
    if (api_parse_page(req, &page) != 0)
        return;
    char sv[16];
    int want = -1;
    int sn = http_query(req, "status", sv, sizeof sv);
    for (int i = 0; sn >= 0 && i < 5; i++)
        if (!strcmp(sv, batch_statuses[i]))
            want = i + BATCH_QUEUED;
    if (sn != BC_ENOTFOUND && want < 0 && !(sn > 0 && !strcmp(sv, "all"))) {
        api_respond_error(req, 400, "invalid_parameter",
                          "Query parameter status must be all, queued, processing, completed, "
                          "cancelled or failed.",
                          "parameter", "status");
        return;
    }
    struct store_txn t;
    int rc = api_read_begin(req, &t);
    if (rc)
        return;
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "batches");
    uint64_t total = 0;
    struct store_iter it;
    store_iter_open(&it, &t, DB_WS2BATCH, ctx->ws, ctx->ws_len, NULL, 0);
    while ((rc = store_iter_next(&it)) == 1) {
        char id[ID_MAX];
        size_t idlen = ws2batch_batch(&it.key, ctx->ws_len, id);
        struct batch_rec b;
        if (!idlen || batch_get(&t, id, idlen, &b) != 0 || b.status == BATCH_STAGING)
            continue;
        if (want >= 0 && b.status != want)
            continue;
        if (api_page_holds(&page, total))
            cJSON_AddItemToArray(arr, batches_status_json(&t, &b, 0));
        total++;
    }
    store_iter_close(&it);
    store_read_end(&t);
    api_respond_page(req, rc, o, &page, total);
}

/* ---- template ---- */

struct template_vars {
    struct buf *out;
    const char *const *standard;
    size_t nstandard;
    struct buf seen; /* names already written, NUL-separated */
};

static void add_template_column(void *ctx, const char *name, size_t len)
{
    struct template_vars *tv = ctx;
    char lower[128];
    if (len >= sizeof lower)
        return;
    for (size_t i = 0; i < len; i++)
        lower[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
    lower[len] = '\0';
    for (size_t i = 0; i < tv->nstandard; i++)
        if (!strcmp(tv->standard[i], lower))
            return;
    for (const char *p = tv->seen.data; p && p < tv->seen.data + tv->seen.len; p += strlen(p) + 1)
        if (!strcmp(p, lower))
            return;
    buf_append(&tv->seen, lower, len + 1);
    buf_printf(tv->out, ",%s", lower);
}

void batches_template(struct http_request *req)
{
    static const char *const standard[] = {"phone_number", "first_name", "last_name", "email"};
    struct app *app = api_app(req);
    struct api_ctx *ctx = api_ctx(req);
    char agent_id[ID_MAX + 1];
    int n = http_query(req, "agentId", agent_id, sizeof agent_id);
    cJSON *agent = NULL;
    if (n == BC_ETOOBIG || n == 0 || (n > 0 && !id_valid("agent_", agent_id, (size_t)n))) {
        api_respond_error(req, 404, "not_found", "No agent with this id in this workspace.", "id",
                          n > 0 ? agent_id : "");
        return;
    }
    if (n > 0) {
        struct store_txn t;
        int rc = store_read_begin(&app->store, &t);
        if (!rc) {
            rc = agent_get(&t, ctx->ws, ctx->ws_len, agent_id, (size_t)n, &agent);
            store_read_end(&t);
        }
        if (rc == BC_ENOTFOUND) {
            api_respond_error(req, 404, "not_found", "No agent with this id in this workspace.",
                              "id", agent_id);
            return;
        }
        if (rc || !agent) {
            api_respond_internal(req, rc ? rc : BC_ECORRUPT);
            return;
        }
    }
    struct buf header = {0}, out = {0};
    buf_append_str(&header, "phone_number,first_name,last_name,email");
    struct template_vars tv = {&header, standard, 4, {0}};
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(agent, "prompt");
    if (cJSON_IsString(prompt))
        agent_prompt_variables(prompt->valuestring, strlen(prompt->valuestring),
                               add_template_column, &tv);
    /* The example row: a fictional number (555-01xx is reserved for fiction), then one
     * placeholder per extra column so the file stays rectangular. */
    buf_printf(&out, "%.*s\r\n+14155550123,Ada,Lovelace,ada@example.com", (int)header.len,
               header.data);
    for (const char *p = tv.seen.data; p && p < tv.seen.data + tv.seen.len; p += strlen(p) + 1)
        buf_printf(&out, ",example %s", p);
    buf_append_str(&out, "\r\n");
    http_add_header(req, "Content-Disposition",
                    "attachment; filename=\"batch-calls-template.csv\"");
    http_respond(req, 200, "text/csv; charset=utf-8", out.data, out.len);
    buf_free(&header);
    buf_free(&out);
    buf_free(&tv.seen);
    cJSON_Delete(agent);
}

void batches_purge_later(struct app *app, const char *batch_id)
{
    sweep_add(&app->sweeper, SWEEP_PURGE, batch_id);
}

/* The batches whose background work a stop interrupted, as NUL-separated ids. */
struct interrupted {
    struct store_txn *t;
    struct buf staging, cancelled, retried;
};

static int collect_interrupted(const struct batch_rec *b, void *arg)
{
    struct interrupted *in = arg;
    if (b->status == BATCH_STAGING)
        buf_append(&in->staging, b->id, strlen(b->id) + 1);
    else if (b->status == BATCH_CANCELLED && jobindex_any(in->t, b, JOB_WAITING))
        buf_append(&in->cancelled, b->id, strlen(b->id) + 1);
    else if (batch_is_live(b->status) && b->requeue_pending)
        buf_append(&in->retried, b->id, strlen(b->id) + 1);
    return 0;
}

int batches_resume_background(struct app *app)
{
    struct store_txn t;
    int rc = store_read_begin(&app->store, &t);
    if (rc)
        return rc;
    struct interrupted in = {.t = &t};
    rc = batch_scan(&t, collect_interrupted, &in);
    store_read_end(&t);
    const struct buf *staging = &in.staging, *cancelled = &in.cancelled, *retried = &in.retried;
    for (const char *p = staging->data; p && p < staging->data + staging->len; p += strlen(p) + 1) {
        log_info("removing an upload interrupted by a restart", "batch=%s", p);
        batches_purge_later(app, p);
    }
    /* The cancel moved the counters at once; its rewrite of the jobs stopped with the server. */
    for (const char *p = cancelled->data; p && p < cancelled->data + cancelled->len;
         p += strlen(p) + 1) {
        log_info("finishing a cancel interrupted by a restart", "batch=%s", p);
        sweep_add(&app->sweeper, SWEEP_CANCEL, p);
    }
    /* A retry's move of the failed calls back to waiting stopped with the server. */
    for (const char *p = retried->data; p && p < retried->data + retried->len; p += strlen(p) + 1) {
        log_info("finishing a retry interrupted by a restart", "batch=%s", p);
        sweep_add(&app->sweeper, SWEEP_RETRY, p);
    }
    buf_free(&in.staging);
    buf_free(&in.cancelled);
    buf_free(&in.retried);
    return rc;
}
