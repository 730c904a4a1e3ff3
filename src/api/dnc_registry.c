#include "api/dnc_registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "http/conn.h"
#include "http/router.h"
#include "policy/registry.h"
#include "util/clock.h"
#include "util/err.h"

#define YIELD_BYTES (256u * 1024)

int dnc_registry_stale(struct store *s, uint64_t now_ms, char *msg, size_t cap)
{
    struct store_txn t;
    struct registry_meta m;
    if (store_read_begin(s, &t) != 0)
        return 0;
    int rc = registry_meta_get(&t, &m);
    store_read_end(&t);
    if (rc || !registry_stale(&m, now_ms))
        return 0;
    snprintf(msg, cap,
             "The national do-not-call registry is %lld days old (file date %s); it must be "
             "refreshed at least every %d days: import the latest file with batchcalld admin "
             "registry import or PUT /v1/admin/dnc-registry.",
             (long long)registry_age_days(&m, now_ms), m.date, REGISTRY_STALE_DAYS);
    return 1;
}

static cJSON *meta_json(const struct registry_meta *m, uint64_t now_ms)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "date", m->date);
    cJSON_AddNumberToObject(o, "count", (double)m->count);
    cJSON_AddNumberToObject(o, "badLines", (double)m->bad_lines);
    cJSON_AddNumberToObject(o, "importedAt", (double)m->imported_ms);
    cJSON_AddNumberToObject(o, "ageDays", (double)registry_age_days(m, now_ms));
    cJSON_AddBoolToObject(o, "stale", registry_stale(m, now_ms));
    return o;
}

void dnc_registry_get(struct http_request *req)
{
    struct store_txn t;
    struct registry_meta m;
    int rc = store_read_begin(&api_app(req)->store, &t);
    if (!rc) {
        rc = registry_meta_get(&t, &m);
        store_read_end(&t);
    }
    if (rc == BC_ENOTFOUND)
        api_respond_error(req, 404, "not_found",
                          "No national do-not-call registry was imported: PUT the FTC file to "
                          "/v1/admin/dnc-registry?date=YYYY-MM-DD.",
                          NULL, NULL);
    else if (rc)
        api_respond_internal(req, rc);
    else
        api_respond_json(req, 200, meta_json(&m, clock_now_ms()));
}

/* ---- the import ---- */

struct put {
    struct http_request *req;
    struct store *store;
    struct registry_import im;
    struct store_async write;
    struct registry_meta previous;
    int has_previous;
    int write_busy, ended, orphaned, switched, failed;
    size_t since_yield;
};

static void put_free(struct put *p)
{
    registry_import_free(&p->im);
    free(p);
}

static void written(struct store_async *a, int rc);

static void write_step(struct put *p, store_write_fn fn)
{
    p->write_busy = 1;
    p->write.bulk = 1;
    store_write_async(p->store, api_app(p->req)->loop, &p->write, fn, &p->im, written);
}

/* The import stops: what it wrote goes, and so does its lock. */
static void put_abort(struct put *p)
{
    if (p->im.locked)
        store_write(p->store, registry_import_abort_txn, &p->im);
    p->im.locked = 0;
}

static void put_finish(struct put *p, int status, cJSON *o)
{
    struct http_request *req = p->req;
    if (status != 200)
        put_abort(p);
    api_respond_json(req, status, o);
    api_ctx(req)->body_state = NULL;
    put_free(p);
}

static void put_error(struct put *p, int status, const char *code, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", code);
    cJSON_AddStringToObject(o, "message", msg);
    put_finish(p, status, o);
}

static void put_done(struct put *p)
{
    uint64_t now = clock_now_ms();
    cJSON *o = meta_json(&p->im.meta, now);
    cJSON *bad = cJSON_AddArrayToObject(o, "badLineSamples");
    for (size_t i = 0; i < p->im.nbad; i++) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddNumberToObject(b, "line", (double)p->im.bad[i].line);
        cJSON_AddStringToObject(b, "text", p->im.bad[i].text);
        cJSON_AddStringToObject(b, "message", p->im.bad[i].why);
        cJSON_AddItemToArray(bad, b);
    }
    if (p->has_previous) {
        cJSON *prev = cJSON_AddObjectToObject(o, "previous");
        cJSON_AddStringToObject(prev, "date", p->previous.date);
        cJSON_AddNumberToObject(prev, "count", (double)p->previous.count);
    } else {
        cJSON_AddNullToObject(o, "previous");
    }
    p->im.locked = 0;
    put_finish(p, 200, o);
}

/* After the body: the last flush, then the switch. */
static void finish_steps(struct put *p)
{
    if (p->im.n) {
        write_step(p, registry_import_flush_txn);
    } else if (p->im.meta.count == 0) {
        char msg[300];
        snprintf(msg, sizeof msg,
                 "The file holds no numbers (%llu lines were not numbers): the registry was "
                 "left as it was. Send the FTC full-list file: one 10-digit number per line.",
                 (unsigned long long)p->im.meta.bad_lines);
        put_error(p, 422, "no_numbers", msg);
    } else if (!p->switched) {
        p->switched = 1;
        write_step(p, registry_import_switch_txn);
    } else {
        put_done(p);
    }
}

static void written(struct store_async *a, int rc)
{
    struct put *p = (struct put *)((char *)a - offsetof(struct put, write));
    p->write_busy = 0;
    if (!rc && p->write.fn == registry_import_flush_txn)
        registry_import_flushed(&p->im);
    if (p->orphaned) {
        if (!rc && p->switched) /* the registry switched: it stays */
            p->im.locked = 0;
        put_abort(p);
        put_free(p);
        return;
    }
    if (rc) {
        char msg[300];
        snprintf(msg, sizeof msg,
                 "The registry could not be stored (%s); the previous one stays in force. "
                 "Retry later.",
                 err_str(rc));
        put_error(p, rc == BC_EFULL || rc == BC_ENOSPC ? 507 : 500,
                  rc == BC_EFULL || rc == BC_ENOSPC ? "insufficient_storage" : "internal_error",
                  msg);
        return;
    }
    if (p->ended)
        finish_steps(p);
    else
        http_request_resume(p->req);
}

static void put_start(struct http_request *req)
{
    char date[32];
    int n = http_query(req, "date", date, sizeof date);
    if (n < 0) {
        api_respond_error(req, 400, "invalid_parameter",
                          "Query parameter date is required: the date of the FTC file, "
                          "YYYY-MM-DD (?date=2026-12-01).",
                          "parameter", "date");
        return;
    }
    struct put *p = calloc(1, sizeof *p);
    if (!p) {
        api_respond_internal(req, BC_ENOMEM);
        return;
    }
    p->req = req;
    p->store = &api_app(req)->store;
    struct store_txn t;
    if (store_read_begin(p->store, &t) == 0) {
        p->has_previous = registry_meta_get(&t, &p->previous) == 0;
        store_read_end(&t);
    }
    uint32_t busy = 0;
    int rc = registry_import_begin(&p->im, p->store, date, (size_t)n, clock_now_ms(),
                                   (uint32_t)getpid(), &busy);
    if (rc == BC_EINVAL) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "date \"%.20s\" is not a date: write the FTC file's date as YYYY-MM-DD (not "
                 "later than tomorrow).",
                 date);
        api_respond_error(req, 400, "invalid_parameter", msg, "parameter", "date");
    } else if (rc == BC_EBUSY) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "Another registry import is running (process %u); wait until it ends.", busy);
        api_respond_error(req, 409, "conflict", msg, NULL, NULL);
    } else if (rc) {
        api_respond_internal(req, rc);
    }
    if (rc) {
        put_free(p);
        return;
    }
    api_ctx(req)->body_state = p;
}

static int put_data(struct http_request *req, const char *data, size_t len)
{
    struct put *p = api_ctx(req)->body_state;
    if (!p)
        return 1;
    if (registry_import_feed(&p->im, data, len) != 0) {
        put_error(p, 500, "internal_error", "The server is out of memory; retry later.");
        return 1;
    }
    int flush = registry_import_want_flush(&p->im);
    api_body_pace(req, flush, &p->since_yield, len, YIELD_BYTES);
    if (flush)
        write_step(p, registry_import_flush_txn);
    return 0;
}

static void put_end(struct http_request *req)
{
    struct put *p = api_ctx(req)->body_state;
    if (!p)
        return;
    registry_import_end(&p->im);
    p->ended = 1;
    if (!p->write_busy)
        finish_steps(p);
}

static void put_aborted(struct http_request *req)
{
    struct put *p = api_ctx(req)->body_state;
    if (!p)
        return;
    api_ctx(req)->body_state = NULL;
    if (p->write_busy) {
        p->orphaned = 1;
        return;
    }
    put_abort(p);
    put_free(p);
}

const struct http_body_ops dnc_registry_put_ops = {put_start, put_data, put_end, put_aborted};
