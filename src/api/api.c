/* Helpers shared by every handler. */
#include "api/api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/conn.h"
#include "http/response.h"
#include "http/router.h"
#include "http/server.h"
#include "util/err.h"
#include "util/json.h"
#include "util/log.h"

#define JSON_TYPE "application/json; charset=utf-8"

void api_respond_json(struct http_request *req, int status, cJSON *obj)
{
    struct buf b = {0};
    if (!obj || json_render(&b, obj) != 0) {
        cJSON_Delete(obj);
        buf_free(&b);
        http_respond_error(req, 500, "internal_error", "The server ran out of memory.");
        return;
    }
    cJSON_Delete(obj);
    http_respond(req, status, JSON_TYPE, b.data, b.len);
    buf_free(&b);
}

void api_respond_error(struct http_request *req, int status, const char *code, const char *message,
                       const char *extra_name, const char *extra_value)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", code);
    cJSON_AddStringToObject(o, "message", message);
    if (extra_name)
        cJSON_AddStringToObject(o, extra_name, extra_value);
    api_respond_json(req, status, o);
}

void api_respond_internal(struct http_request *req, int err)
{
    switch (err) {
    case BC_ENOTFOUND:
        api_respond_error(req, 404, "not_found", "The requested object does not exist.", NULL,
                          NULL);
        return;
    case BC_EFULL:
        log_error("store is full", "route=%s", http_route_name(req));
        api_respond_error(req, 507, "insufficient_storage",
                          "The server's storage is full; nothing was changed. Retry later or ask "
                          "the operator to raise --map-size-max-mb or free disk space.",
                          NULL, NULL);
        return;
    case BC_ENOSPC:
        log_error("request failed: the disk is full", "route=%s", http_route_name(req));
        api_respond_error(req, 507, "insufficient_storage", API_DISK_FULL_MESSAGE, NULL, NULL);
        return;
    case BC_ENOMEM:
        api_respond_error(req, 503, "unavailable", "The server is out of memory; retry shortly.",
                          NULL, NULL);
        return;
    default:
        log_error("request failed", "route=%s error=\"%s\"", http_route_name(req), err_str(err));
        api_respond_error(req, 500, "internal_error",
                          "The server failed to complete the request; it was logged. Retry later.",
                          NULL, NULL);
        return;
    }
}

cJSON *api_parse_body(struct http_request *req)
{
    const char *end = NULL;
    cJSON *obj =
        cJSON_ParseWithLengthOpts(req->body.data ? req->body.data : "", req->body.len, &end, 0);
    if (!obj) {
        api_respond_error(req, 400, "invalid_json",
                          req->body.len ? "The request body is not valid JSON."
                                        : "The request needs a JSON object body.",
                          NULL, NULL);
        return NULL;
    }
    /* Only whitespace may follow the value. */
    const char *stop = req->body.data + req->body.len;
    while (end && end < stop && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
        end++;
    if (!cJSON_IsObject(obj) || (end && end != stop)) {
        cJSON_Delete(obj);
        api_respond_error(req, 400, "invalid_json", "The request body must be one JSON object.",
                          NULL, NULL);
        return NULL;
    }
    return obj;
}

/* Reads a positive integer query parameter; returns 0 (absent: *out unchanged), or BC_EINVAL after
 * responding 400. */
static int query_uint(struct http_request *req, const char *name, uint64_t max, uint64_t *out)
{
    char v[32];
    int n = http_query(req, name, v, sizeof v);
    if (n == BC_ENOTFOUND)
        return 0;
    char *end = v;
    errno = 0;
    unsigned long long x = n > 0 && v[0] >= '0' && v[0] <= '9' ? strtoull(v, &end, 10) : 0;
    if (n <= 0 || end == v || *end || errno || x < 1 || x > max) {
        char msg[160];
        snprintf(msg, sizeof msg, "Query parameter %s must be a whole number from 1 to %llu.", name,
                 (unsigned long long)max);
        api_respond_error(req, 400, "invalid_parameter", msg, "parameter", name);
        return BC_EINVAL;
    }
    *out = x;
    return 0;
}

int api_parse_page(struct http_request *req, struct api_page *p)
{
    p->page = 1;
    p->limit = 20;
    if (query_uint(req, "page", 1000000000ull, &p->page) != 0)
        return BC_EINVAL;
    return query_uint(req, "limit", 100, &p->limit);
}

int api_page_holds(const struct api_page *p, uint64_t i)
{
    uint64_t first = (p->page - 1) * p->limit;
    return i >= first && i < first + p->limit;
}

void api_respond_page(struct http_request *req, int rc, cJSON *obj, const struct api_page *p,
                      uint64_t total)
{
    if (rc < 0) {
        cJSON_Delete(obj);
        api_respond_internal(req, rc);
        return;
    }
    api_add_pagination(obj, p, total);
    api_respond_json(req, 200, obj);
}

void api_add_pagination(cJSON *obj, const struct api_page *p, uint64_t total)
{
    uint64_t pages = (total + p->limit - 1) / p->limit;
    cJSON *pg = cJSON_AddObjectToObject(obj, "pagination");
    cJSON_AddNumberToObject(pg, "page", (double)p->page);
    cJSON_AddNumberToObject(pg, "limit", (double)p->limit);
    cJSON_AddNumberToObject(pg, "total", (double)total);
    cJSON_AddNumberToObject(pg, "totalPages", (double)pages);
    cJSON_AddBoolToObject(pg, "hasNext", p->page < pages);
    cJSON_AddBoolToObject(pg, "hasPrev", p->page > 1);
}

void api_export_free(struct api_export *x)
{
    buf_free(&x->out);
    x->release(x);
}

static void export_drain(struct http_request *req)
{
    struct api_export *x = req->stream_state;
    x->out.len = 0;
    int done = x->step(x);
    if (x->out.len)
        http_stream_write(req, x->out.data, x->out.len);
    if (done) {
        http_stream_end(req);
        api_export_free(x);
        req->stream_state = NULL;
    }
}

static void export_closed(struct http_request *req)
{
    if (req->stream_state)
        api_export_free(req->stream_state);
    req->stream_state = NULL;
}

static const struct http_stream_ops export_ops = {export_drain, export_closed};

/* Spreadsheets run cells that begin with these as formulas: a leading ' keeps them text. */
static int formula_like(const char *p, size_t n)
{
    return n > 0 && (p[0] == '=' || p[0] == '+' || p[0] == '-' || p[0] == '@' || p[0] == '\t' ||
                     p[0] == '\r');
}

void api_csv_cell(struct buf *b, const char *p, size_t n, int neutralize, int first)
{
    if (!first)
        buf_append(b, ",", 1);
    int quote = memchr(p, ',', n) || memchr(p, '"', n) || memchr(p, '\n', n) ||
                memchr(p, '\r', n) || (neutralize && formula_like(p, n));
    if (quote)
        buf_append(b, "\"", 1);
    if (neutralize && formula_like(p, n))
        buf_append(b, "'", 1);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"')
            buf_append(b, "\"", 1);
        buf_append(b, p + i, 1);
    }
    if (quote)
        buf_append(b, "\"", 1);
}

void api_export_start(struct http_request *req, struct api_export *x, const char *filename)
{
    http_add_header(req, "Content-Disposition", "attachment; filename=\"%s\"", filename);
    http_stream_start(req, 200, "text/csv; charset=utf-8", &export_ops, x);
    http_stream_write(req, x->out.data, x->out.len);
}

int api_fail(struct api_failure *f, int status, const char *code, const char *field,
             const char *fmt, ...)
{
    if (f->status)
        return BC_EINVAL;
    f->status = status;
    snprintf(f->code, sizeof f->code, "%s", code);
    f->field = field;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
    va_end(ap);
    return BC_EINVAL;
}

void api_failure_add(cJSON *obj, const struct api_failure *f)
{
    cJSON_AddStringToObject(obj, "error", f->code);
    cJSON_AddStringToObject(obj, "message", f->message);
    if (f->field)
        cJSON_AddStringToObject(obj, "field", f->field);
}

void api_body_pace(struct http_request *req, int blocked, size_t *since_yield, size_t n,
                   size_t every)
{
    if (blocked) {
        http_request_pause(req);
    } else if ((*since_yield += n) >= every) {
        *since_yield = 0;
        http_request_yield(req);
    }
}

int api_read_begin(struct http_request *req, struct store_txn *t)
{
    int rc = store_read_begin(&api_app(req)->store, t);
    if (rc)
        api_respond_internal(req, rc);
    return rc;
}

struct store_txn *api_head_txn(struct http_request *req, struct store_txn *own)
{
    struct store_txn *head = &api_ctx(req)->head_txn;
    if (head->txn)
        return head;
    return api_read_begin(req, own) ? NULL : own;
}
