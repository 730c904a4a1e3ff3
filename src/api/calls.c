/* Reading calls: one call (A5), the calls of a batch (A4, by page or by cursor), and the CSV
 * export (B5).
 *
 * A page of a status filter is found without walking the rows before it: jobs are indexed by
 * (state, row) and counted per block of 1024 rows, so page 5,000 costs a sum over block counts
 * plus at most one block's worth of steps. */
#include "api/calls.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/batches.h"
#include "api/api.h"
#include "dispatch/jobs.h"
#include "http/response.h"
#include "http/router.h"
#include "model/batch.h"
#include "store/jobindex.h"
#include "util/err.h"
#include "util/json.h"

#define EXPORT_ROWS_PER_DRAIN 256

/* ---- one call as JSON ---- */

struct calls_meta {
    cJSON *json;
    const cJSON *columns;
    int phone_col;
};

static int meta_load(struct store_txn *t, const char *batch, struct calls_meta *m)
{
    struct store_val v;
    memset(m, 0, sizeof *m);
    m->phone_col = -1;
    int rc = store_get(t, DB_BATCHMETA, batch, strlen(batch), &v);
    if (rc)
        return rc;
    m->json = cJSON_ParseWithLength(v.ptr, v.len);
    if (!m->json)
        return BC_ECORRUPT;
    m->columns = cJSON_GetObjectItemCaseSensitive(m->json, "columns");
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(m->json, "phoneColumn");
    m->phone_col = cJSON_IsNumber(pc) ? pc->valueint : -1;
    return 0;
}

/* A cancelled batch's waiting jobs are rewritten in the background; until then they read as
 * what they already are: cancelled. */
static void view_fixup(const struct batch_rec *b, struct job_view *jv)
{
    if (b->status == BATCH_CANCELLED && jv->head.state == JOB_WAITING) {
        jobs_cancel_head(&jv->head);
        jv->error = JOBS_CANCELLED_MSG;
        jv->error_len = sizeof JOBS_CANCELLED_MSG - 1;
    }
}

static cJSON *metadata(const struct job_view *jv, const struct calls_meta *m)
{
    cJSON *o = cJSON_CreateObject();
    size_t pos = 0, n;
    const char *p;
    for (int i = 0; job_field_next(jv, &pos, &p, &n); i++) {
        const cJSON *name = cJSON_GetArrayItem(m->columns, i);
        if (i != m->phone_col && cJSON_IsString(name))
            json_add_strn(o, name->valuestring, p, n);
    }
    return o;
}

/* The number as dialled, or as the customer wrote it when it could not be read. */
static void add_phone(cJSON *o, const struct job_view *jv, const struct calls_meta *m)
{
    if (jv->head.e164[0]) {
        cJSON_AddStringToObject(o, "phone_number", jv->head.e164);
        return;
    }
    size_t pos = 0, n = 0;
    const char *p = "";
    for (int i = 0; job_field_next(jv, &pos, &p, &n); i++)
        if (i == m->phone_col)
            break;
    json_add_strn(o, "phone_number", p, m->phone_col >= 0 ? n : 0);
}

/* The consent evidence the file gave for the call (its consent_at and consent_source columns,
 * as written), or null when the file had neither column. */
static void add_consent(cJSON *o, const cJSON *md)
{
    static const char *const cols[2][2] = {{"consent_at", "at"}, {"consent_source", "source"}};
    const cJSON *v[2];
    for (int i = 0; i < 2; i++)
        v[i] = cJSON_GetObjectItemCaseSensitive(md, cols[i][0]);
    if (!v[0] && !v[1]) {
        cJSON_AddNullToObject(o, "consent");
        return;
    }
    cJSON *c = cJSON_AddObjectToObject(o, "consent");
    for (int i = 0; i < 2; i++) {
        if (cJSON_IsString(v[i]) && v[i]->valuestring[0])
            cJSON_AddStringToObject(c, cols[i][1], v[i]->valuestring);
        else
            cJSON_AddNullToObject(c, cols[i][1]);
    }
}

/* The transcript stored with a completed call, or NULL. */
static cJSON *transcript(struct store_txn *t, const char *batch, uint32_t row)
{
    uint8_t key[JOB_KEY_MAX];
    struct store_val v;
    if (!t || store_get(t, DB_TRANSCRIPT, key, job_key(key, batch, row), &v) != 0)
        return NULL;
    char *text = strndup(v.ptr, v.len);
    cJSON *s = text ? cJSON_CreateString(text) : NULL;
    free(text);
    return s;
}

/* A waiting call a compliance rule holds back: until when and why (null otherwise). */
static void add_held(cJSON *o, const struct job_head *h)
{
    const char *why = h->state == JOB_WAITING ? job_held_name(h->held) : NULL;
    if (why && h->next_attempt_ms) {
        cJSON_AddNumberToObject(o, "heldUntil", (double)h->next_attempt_ms);
        cJSON_AddStringToObject(o, "heldReason", why);
    } else {
        cJSON_AddNullToObject(o, "heldUntil");
        cJSON_AddNullToObject(o, "heldReason");
    }
}

static cJSON *call_json(struct store_txn *t, const struct batch_rec *b, const struct calls_meta *m,
                        uint32_t row, struct job_view *jv, int detail)
{
    view_fixup(b, jv);
    cJSON *o = cJSON_CreateObject();
    char job[24];
    snprintf(job, sizeof job, "call_%u", row);
    cJSON_AddStringToObject(o, "jobId", job);
    cJSON_AddStringToObject(o, "status", job_state_name(jv->head.state));
    add_phone(o, jv, m);
    if (jv->head.start_ms)
        cJSON_AddNumberToObject(o, "startTime", (double)jv->head.start_ms);
    if (jv->head.end_ms)
        cJSON_AddNumberToObject(o, "endTime", (double)jv->head.end_ms);
    /* Every call that connected, voicemail too: averageCallDuration is the mean of these. */
    if (jobs_has_duration(&jv->head))
        cJSON_AddNumberToObject(o, "duration", jv->head.duration);
    if (jv->head.state == JOB_FAILED || jv->head.state == JOB_CANCELLED || jv->error_len)
        json_add_strn(o, "error", jv->error, jv->error_len);
    cJSON_AddNumberToObject(o, "attempts", jv->head.attempts);
    const char *outcome = job_outcome_name(jv->head.outcome);
    if (outcome)
        cJSON_AddStringToObject(o, "outcome", outcome);
    else
        cJSON_AddNullToObject(o, "outcome");
    add_held(o, &jv->head);
    cJSON *md = metadata(jv, m);
    if (detail) {
        add_consent(o, md);
        if (jv->head.next_attempt_ms)
            cJSON_AddNumberToObject(o, "nextAttemptAt", (double)jv->head.next_attempt_ms);
        else
            cJSON_AddNullToObject(o, "nextAttemptAt");
        if (jv->head.state == JOB_COMPLETED) {
            cJSON *result = cJSON_AddObjectToObject(o, "result");
            cJSON_AddStringToObject(result, "callId", jv->head.call_id);
            cJSON_AddStringToObject(result, "outcome", outcome ? outcome : "answered");
            cJSON *tr = transcript(t, b->id, row);
            if (tr)
                cJSON_AddItemToObject(result, "transcript", tr);
            cJSON_AddItemToObject(result, "metadata", cJSON_Duplicate(md, 1));
        }
    }
    cJSON_AddItemToObject(o, "metadata", md);
    return o;
}

static int load_job(struct store_txn *t, const char *batch, uint32_t row, struct job_view *jv)
{
    uint8_t key[JOB_KEY_MAX];
    struct store_val v;
    int rc = store_get(t, DB_JOB, key, job_key(key, batch, row), &v);
    return rc ? rc : job_decode(v.ptr, v.len, jv);
}

cJSON *calls_json(struct store_txn *t, const char *batch, uint32_t row, struct calls_meta **meta)
{
    struct batch_rec b;
    struct job_view jv;
    if (batch_get(t, batch, strlen(batch), &b) != 0 || load_job(t, batch, row, &jv) != 0)
        return NULL;
    if (!*meta) {
        /* Written once with the batch: parsed once for every call rendered after. */
        struct calls_meta *m = malloc(sizeof *m);
        if (!m || meta_load(t, batch, m) != 0) {
            if (m)
                cJSON_Delete(m->json);
            free(m);
            return NULL;
        }
        *meta = m;
    }
    return call_json(t, &b, *meta, row, &jv, 0);
}

void calls_meta_free(struct calls_meta *m)
{
    if (!m)
        return;
    cJSON_Delete(m->json);
    free(m);
}

void calls_get(struct http_request *req)
{
    struct store_txn t;
    struct batch_rec b;
    if (batches_begin(req, &t, &b) != 0)
        return;
    uint32_t row;
    struct job_view jv;
    struct calls_meta m;
    const struct http_slice *job = &req->params[1];
    if (batch_job_id_parse(job->ptr, job->len, &row) != 0 || load_job(&t, b.id, row, &jv) != 0) {
        store_read_end(&t);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", "not_found");
        cJSON_AddStringToObject(o, "message",
                                "No call with this jobId in the batch; jobIds are call_<row>, the "
                                "1-based data row of the CSV.");
        cJSON_AddStringToObject(o, "status", "not_found");
        json_add_strn(o, "jobId", job->ptr, job->len);
        api_respond_json(req, 404, o);
        return;
    }
    int rc = meta_load(&t, b.id, &m);
    cJSON *o = rc ? NULL : call_json(&t, &b, &m, row, &jv, 1);
    cJSON_Delete(m.json);
    store_read_end(&t);
    if (rc)
        api_respond_internal(req, rc);
    else
        api_respond_json(req, 200, o);
}

/* ---- the calls of a batch ---- */

struct filter {
    const char *name;
    uint8_t states[2];
    int nstates; /* 0: every row */
};

static const struct filter filters[] = {
    {"all", {0}, 0},
    {"waiting", {JOB_WAITING}, 1},
    {"active", {JOB_DIALING, JOB_ACTIVE}, 2},
    {"completed", {JOB_COMPLETED}, 1},
    {"failed", {JOB_FAILED}, 1},
    {"cancelled", {JOB_CANCELLED}, 1},
};

static uint64_t filter_total(const struct batch_rec *b, const struct filter *f)
{
    if (f->nstates == 0)
        return b->total;
    /* Dialing and active share one counter ("active"): count it once. */
    return *jobs_counter((struct batch_rec *)b, f->states[0]);
}

/* An iterator over one state's per-block counts, merged with another state's by block. */
struct state_iter {
    struct store_iter it;
    uint8_t prefix[JOB_KEY_MAX], start[JOB_KEY_MAX];
    size_t plen;
    int more; /* 1: it.key and it.val hold the next entry */
};

static int state_iter_open(struct state_iter *s, struct store_txn *t, const char *batch,
                           uint8_t state, uint32_t from)
{
    s->plen = statecount_key(s->prefix, batch, state, 0) - 4;
    size_t slen = statecount_key(s->start, batch, state, from);
    store_iter_open(&s->it, t, DB_STATECOUNT, s->prefix, s->plen, s->start, slen);
    int rc = store_iter_next(&s->it);
    s->more = rc == 1;
    return rc < 0 ? rc : 0;
}

static int state_iter_next(struct state_iter *s)
{
    int rc = store_iter_next(&s->it);
    s->more = rc == 1;
    return rc < 0 ? rc : 0;
}

/* The iterator whose next entry has the smallest u32 (block or row), or -1 when all ended. */
static int state_iter_min(struct state_iter *s, int n, uint32_t *v)
{
    int best = -1;
    for (int i = 0; i < n; i++) {
        if (!s[i].more)
            continue;
        uint32_t x = key_u32(&s[i].it.key, s[i].plen);
        if (best < 0 || x < *v) {
            best = i;
            *v = x;
        }
    }
    return best;
}

static void state_iters_close(struct state_iter *s, int n)
{
    for (int i = 0; i < n; i++)
        store_iter_close(&s[i].it);
}

/* The row at which the skip-th job in the states begins (0-based), using the block counts.
 * Returns the first row of the block holding it and how many jobs of the block come before it. */
static int seek_states(struct store_txn *t, const char *batch, const uint8_t *states, int nstates,
                       uint64_t skip, uint32_t *block_row, uint64_t *left)
{
    struct state_iter s[2];
    int rc = 0, opened = 0;
    *block_row = 0;
    for (; opened < nstates && !rc; opened++)
        rc = state_iter_open(&s[opened], t, batch, states[opened], 0);
    uint32_t block = 0;
    while (!rc && state_iter_min(s, opened, &block) >= 0) {
        uint64_t n = 0;
        for (int i = 0; i < opened && !rc; i++) {
            uint32_t c = 0;
            if (!s[i].more || key_u32(&s[i].it.key, s[i].plen) != block)
                continue;
            if (s[i].it.val.len == sizeof c)
                memcpy(&c, s[i].it.val.ptr, sizeof c);
            n += c;
            rc = state_iter_next(&s[i]);
        }
        *block_row = block << STATE_BLOCK_SHIFT;
        if (skip < n)
            break;
        skip -= n;
        *block_row = (block + 1) << STATE_BLOCK_SHIFT;
    }
    state_iters_close(s, opened);
    *left = skip;
    return rc;
}

/* Collects up to limit rows in any of the states, in row order, starting after skip jobs
 * (offset mode) or at rows > after (cursor mode). */
static int rows_in_states(struct store_txn *t, const struct batch_rec *b, const uint8_t *states,
                          int nstates, uint64_t skip, uint32_t after, size_t limit, uint32_t *rows,
                          size_t *n)
{
    uint32_t from = after ? after + 1 : 0;
    uint64_t left = 0;
    if (!after && skip) {
        int rc = seek_states(t, b->id, states, nstates, skip, &from, &left);
        if (rc)
            return rc;
    }
    struct batch_key k;
    batch_key_init(&k, b->id);
    struct jobindex_iter s[2];
    int more[2] = {0, 0}, rc = 0, opened = 0;
    for (; opened < nstates && rc >= 0; opened++) {
        jobindex_open(&s[opened], t, &k, states[opened], jobindex_unindexed_from(b), from);
        more[opened] = rc = jobindex_next(&s[opened]);
    }
    while (rc >= 0 && *n < limit) {
        int i = -1;
        for (int j = 0; j < opened; j++)
            if (more[j] == 1 && (i < 0 || s[j].row < s[i].row))
                i = j;
        if (i < 0)
            break;
        uint32_t row = s[i].row;
        more[i] = rc = jobindex_next(&s[i]);
        if (left) {
            left--;
            continue;
        }
        rows[(*n)++] = row;
    }
    for (int j = 0; j < opened; j++)
        jobindex_close(&s[j]);
    return rc < 0 ? rc : 0;
}

/* The index states a filter lists. A cancelled batch's waiting jobs are cancelled: the cancel
 * moved its counters at once and rewrites the jobs in the background, and reads show them
 * cancelled meanwhile (view_fixup). So its waiting filter lists none of them and its cancelled
 * filter lists them too, as its counters (the filter's total) count them. */
static int filter_states(const struct batch_rec *b, const struct filter *f, uint8_t states[2])
{
    int cancelled = b->status == BATCH_CANCELLED && f->nstates == 1;
    if (cancelled && f->states[0] == JOB_WAITING)
        return 0;
    if (cancelled && f->states[0] == JOB_CANCELLED) {
        states[0] = JOB_CANCELLED;
        states[1] = JOB_WAITING;
        return 2;
    }
    memcpy(states, f->states, sizeof f->states);
    return f->nstates;
}

/* The rows of a page, in row order. */
static int page_rows(struct store_txn *t, const struct batch_rec *b, const struct filter *f,
                     uint64_t skip, uint32_t after, size_t limit, uint32_t *rows, size_t *n)
{
    *n = 0;
    if (f->nstates == 0) {
        /* Every row exists: the page is a plain range. */
        uint64_t first = after ? (uint64_t)after + 1 : skip + 1;
        for (uint64_t r = first; r <= b->total && *n < limit; r++)
            rows[(*n)++] = (uint32_t)r;
        return 0;
    }
    uint8_t states[2];
    int nstates = filter_states(b, f, states);
    return nstates ? rows_in_states(t, b, states, nstates, skip, after, limit, rows, n) : 0;
}

static const struct filter *parse_filter(struct http_request *req)
{
    char v[16];
    int n = http_query(req, "status", v, sizeof v);
    if (n == BC_ENOTFOUND)
        return &filters[0];
    for (size_t i = 0; n >= 0 && i < sizeof filters / sizeof filters[0]; i++)
        if (!strcmp(v, filters[i].name))
            return &filters[i];
    api_respond_error(req, 400, "invalid_parameter",
                      "Query parameter status must be all, waiting, active, completed, failed or "
                      "cancelled.",
                      "parameter", "status");
    return NULL;
}

static void add_summary(cJSON *o, const struct batch_rec *b)
{
    cJSON *s = cJSON_AddObjectToObject(o, "summary");
    cJSON_AddNumberToObject(s, "total", (double)b->total);
    cJSON_AddNumberToObject(s, "waiting", (double)b->waiting);
    cJSON_AddNumberToObject(s, "held", (double)(b->held_window + b->held_cap));
    cJSON_AddNumberToObject(s, "active", (double)b->active);
    cJSON_AddNumberToObject(s, "completed", (double)b->completed);
    cJSON_AddNumberToObject(s, "failed", (double)b->failed);
    cJSON_AddNumberToObject(s, "cancelled", (double)b->cancelled);
}

void calls_list(struct http_request *req)
{
    struct api_page page;
    const struct filter *f = parse_filter(req);
    if (!f || api_parse_page(req, &page) != 0)
        return;
    char after_s[24];
    uint32_t after = 0;
    int an = http_query(req, "after", after_s, sizeof after_s);
    if (an != BC_ENOTFOUND && (an < 0 || batch_job_id_parse(after_s, (size_t)an, &after) != 0)) {
        api_respond_error(req, 400, "invalid_parameter",
                          "Query parameter after must be a jobId such as call_20 (the last call "
                          "of the previous page).",
                          "parameter", "after");
        return;
    }
    /* A cursor says where the page starts; a page number too would be silently ignored. */
    char page_s[24];
    if (after && http_query(req, "page", page_s, sizeof page_s) != BC_ENOTFOUND) {
        api_respond_error(req, 400, "invalid_parameter",
                          "Query parameters after and page cannot both be given: walk the calls "
                          "with after (and limit), or ask for a page by number without after.",
                          "parameter", "page");
        return;
    }
    struct store_txn t;
    struct batch_rec b;
    if (batches_begin(req, &t, &b) != 0)
        return;
    struct calls_meta m;
    uint32_t rows[100];
    size_t n = 0;
    int rc = meta_load(&t, b.id, &m);
    if (!rc)
        rc = page_rows(&t, &b, f, after ? 0 : (page.page - 1) * page.limit, after, page.limit, rows,
                       &n);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "calls");
    for (size_t i = 0; !rc && i < n; i++) {
        struct job_view jv;
        if (load_job(&t, b.id, rows[i], &jv) == 0)
            cJSON_AddItemToArray(arr, call_json(&t, &b, &m, rows[i], &jv, 0));
    }
    cJSON_Delete(m.json);
    store_read_end(&t);
    if (rc) {
        cJSON_Delete(o);
        api_respond_internal(req, rc);
        return;
    }
    uint64_t total = filter_total(&b, f);
    if (after) {
        cJSON *pg = cJSON_AddObjectToObject(o, "pagination");
        cJSON_AddNumberToObject(pg, "limit", (double)page.limit);
        cJSON_AddNumberToObject(pg, "total", (double)total);
        cJSON_AddBoolToObject(pg, "hasNext", n == page.limit);
    } else {
        api_add_pagination(o, &page, total);
    }
    /* The cursor for the next page: walking a whole batch this way sees every call once, even
     * while calls change state. */
    cJSON *pg = cJSON_GetObjectItemCaseSensitive(o, "pagination");
    if (n == page.limit) {
        char next[24];
        snprintf(next, sizeof next, "call_%u", rows[n - 1]);
        cJSON_AddStringToObject(pg, "nextCursor", next);
    } else {
        cJSON_AddNullToObject(pg, "nextCursor");
    }
    add_summary(o, &b);
    api_respond_json(req, 200, o);
}

/* ---- export ---- */

struct export
{
    struct api_export x; /* first: the stream's state */
    struct app *app;
    char batch[ID_MAX];
    uint32_t next_row;
    uint64_t total;
    struct calls_meta meta;
};

static void csv_text(struct buf *b, const char *s)
{
    api_csv_cell(b, s, strlen(s), 1, 0);
}

static void csv_number(struct buf *b, uint64_t v, int present)
{
    if (present)
        buf_printf(b, ",%llu", (unsigned long long)v);
    else
        buf_append(b, ",", 1);
}

/* A phone cell is written as it was uploaded, which only a number in E.164 (+ and digits, as
 * the server read it) may do unguarded: anything else the file held in that column, "=1+2",
 * "@SUM(...)", "-2+3+cmd|...", gets the formula guard like every other cell. */
static int phone_cell_safe(const struct job_view *jv, const char *p, size_t n)
{
    if (!jv->head.e164[0] || strlen(jv->head.e164) != n || memcmp(jv->head.e164, p, n) != 0)
        return 0;
    for (size_t i = 1; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return n > 1 && p[0] == '+';
}

static void export_row(struct export *e, const struct batch_rec *b, uint32_t row,
                       struct job_view *jv)
{
    view_fixup(b, jv);
    struct buf *o = &e->x.out;
    size_t pos = 0, n;
    const char *p;
    int ncols = cJSON_GetArraySize(e->meta.columns);
    int i = 0;
    for (; i < ncols && job_field_next(jv, &pos, &p, &n); i++)
        api_csv_cell(o, p, n, i != e->meta.phone_col || !phone_cell_safe(jv, p, n), i == 0);
    for (; i < ncols; i++)
        buf_append(o, i ? "," : "", i ? 1 : 0);
    char job[24];
    snprintf(job, sizeof job, "call_%u", row);
    csv_text(o, job);
    csv_text(o, job_state_name(jv->head.state));
    const char *outcome = job_outcome_name(jv->head.outcome);
    csv_text(o, outcome ? outcome : "");
    csv_number(o, jv->head.attempts, 1);
    if (jobs_has_duration(&jv->head))
        buf_printf(o, ",%g", jv->head.duration);
    else
        buf_append(o, ",", 1);
    api_csv_cell(o, jv->error, jv->error_len, 1, 0);
    csv_number(o, jv->head.start_ms, jv->head.start_ms != 0);
    csv_number(o, jv->head.end_ms, jv->head.end_ms != 0);
    buf_append(o, "\r\n", 2);
}

static void export_release(struct api_export *x)
{
    struct export *e = (struct export *)x;
    cJSON_Delete(e->meta.json);
    free(e);
}

static int export_step(struct api_export *x)
{
    struct export *e = (struct export *)x;
    struct store_txn t;
    struct batch_rec b;
    int rc = store_read_begin(&e->app->store, &t);
    if (!rc)
        rc = batch_get(&t, e->batch, strlen(e->batch), &b);
    for (int k = 0; !rc && k < EXPORT_ROWS_PER_DRAIN && e->next_row <= e->total; k++) {
        struct job_view jv;
        if (load_job(&t, e->batch, e->next_row, &jv) == 0)
            export_row(e, &b, e->next_row, &jv);
        e->next_row++;
    }
    store_read_end(&t);
    /* Every 32k rows, let go of the map pages read so far: an export touches the whole batch. */
    if ((e->next_row & 0x7FFF) < EXPORT_ROWS_PER_DRAIN)
        store_trim(&e->app->store);
    return rc || e->next_row > e->total;
}

/* The result columns after the file's own. When the file has a column of the same name (its
 * own "status", say), every result column is renamed result_status, result_job_id, ...: the
 * file's columns keep their names and a spreadsheet or a CSV reader never sees a name twice.
 * (Again, if the file has result_status too.) */
#define RESULT_PREFIX "result_"
static const char *const result_columns[] = {"job_id",   "status", "outcome",    "attempts",
                                             "duration", "error",  "start_time", "end_time"};

static int name_taken(const cJSON *columns, int prefixes, const char *name)
{
    size_t plen = strlen(RESULT_PREFIX) * (size_t)prefixes;
    const cJSON *c;
    cJSON_ArrayForEach(c, columns)
    {
        const char *s = cJSON_GetStringValue(c);
        if (!s || strlen(s) != plen + strlen(name) || strcasecmp(s + plen, name) != 0)
            continue;
        int same = 1;
        for (int r = 0; r < prefixes && same; r++)
            same = strncasecmp(s + r * strlen(RESULT_PREFIX), RESULT_PREFIX,
                               strlen(RESULT_PREFIX)) == 0;
        if (same)
            return 1;
    }
    return 0;
}

/* How many times the result columns carry RESULT_PREFIX. */
static int result_prefixes(const cJSON *columns)
{
    int prefixes = 0;
    for (size_t k = 0; k < sizeof result_columns / sizeof result_columns[0]; k++) {
        if (name_taken(columns, prefixes, result_columns[k])) {
            prefixes++;
            k = (size_t)-1; /* check every name again with the longer prefix */
        }
    }
    return prefixes;
}

void calls_export(struct http_request *req)
{
    struct store_txn t;
    struct batch_rec b;
    if (batches_begin(req, &t, &b) != 0)
        return;
    struct export *e = calloc(1, sizeof *e);
    int rc = BC_ENOMEM;
    if (e) {
        e->x.step = export_step;
        e->x.release = export_release;
        rc = meta_load(&t, b.id, &e->meta);
    }
    store_read_end(&t);
    if (rc) {
        if (e)
            api_export_free(&e->x);
        api_respond_internal(req, rc);
        return;
    }
    e->app = api_app(req);
    snprintf(e->batch, sizeof e->batch, "%s", b.id);
    e->next_row = 1;
    e->total = b.total;
    /* The header: the original columns, then the results. */
    const cJSON *c;
    int first = 1;
    cJSON_ArrayForEach(c, e->meta.columns)
    {
        if (cJSON_IsString(c))
            api_csv_cell(&e->x.out, c->valuestring, strlen(c->valuestring), 1, first);
        first = 0;
    }
    int prefixes = result_prefixes(e->meta.columns);
    for (size_t k = 0; k < sizeof result_columns / sizeof result_columns[0]; k++) {
        buf_append_str(&e->x.out, first && k == 0 ? "" : ",");
        for (int r = 0; r < prefixes; r++)
            buf_append_str(&e->x.out, RESULT_PREFIX);
        buf_append_str(&e->x.out, result_columns[k]);
    }
    buf_append_str(&e->x.out, "\r\n");
    char filename[ID_MAX + 8];
    snprintf(filename, sizeof filename, "%s.csv", b.id);
    api_export_start(req, &e->x, filename);
}
