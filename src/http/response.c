/* Responses: the status line and headers, plain and JSON error bodies, streamed (chunked) bodies,
 * and the headers a handler adds. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http/conn.h"
#include "http/response.h"
#include "http/router.h"
#include "util/json.h"
#include "util/log.h"
#include "util/num.h"

/* append_response's length for a streamed (chunked) body. */
#define STREAMED ((size_t)-1)

static const char *date_header(struct http_server *srv)
{
    time_t now = time(NULL);
    if ((uint64_t)now != srv->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(srv->date, sizeof srv->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        srv->date_sec = (uint64_t)now;
    }
    return srv->date;
}

static char *put_str(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define PUT_LIT(p, lit) put_str((p), (lit), sizeof(lit) - 1)

/* Builds the head with copies rather than printf: it is written for every response. */
static void append_response(struct http_conn *c, int status, const char *content_type,
                            const struct buf *extra, const void *body, size_t len, int close)
{
    struct buf *o = &c->out;
    const char *text = http_status_text(status), *date = date_header(c->srv);
    size_t tlen = strlen(text), dlen = strlen(date), clen = strlen(content_type);
    size_t elen = extra ? extra->len : 0, blen = len == STREAMED ? 0 : len;
    const char *fixed = c->srv->cfg.fixed_headers;
    size_t flen = fixed ? strlen(fixed) : 0;
    if (buf_reserve(o, 160 + tlen + dlen + clen + elen + flen + blen) != 0) {
        log_error("cannot buffer response", "status=%d bytes=%zu", status, len);
        c->close_after_write = 1;
        return;
    }
    char *p = o->data + o->len;
    p = PUT_LIT(p, "HTTP/1.1 ");
    p = num_put_u64(p, (uint64_t)status);
    *p++ = ' ';
    p = put_str(p, text, tlen);
    p = PUT_LIT(p, "\r\nDate: ");
    p = put_str(p, date, dlen);
    /* 204 and 304 have no body, so no type either. */
    if (status != 204 && status != 304) {
        p = PUT_LIT(p, "\r\nContent-Type: ");
        p = put_str(p, content_type, clen);
    }
    if (len == STREAMED) {
        p = PUT_LIT(p, "\r\nTransfer-Encoding: chunked");
    } else if (status != 304) {
        /* A 304's Content-Length would have to be the 200's (RFC 9110 8.6): send none. */
        p = PUT_LIT(p, "\r\nContent-Length: ");
        p = num_put_u64(p, len);
    }
    p = close ? PUT_LIT(p, "\r\nConnection: close\r\n")
              : PUT_LIT(p, "\r\nConnection: keep-alive\r\n");
    if (flen)
        p = put_str(p, fixed, flen);
    if (elen)
        p = put_str(p, extra->data, elen);
    p = PUT_LIT(p, "\r\n");
    if (blen)
        p = put_str(p, body, blen);
    o->len = (size_t)(p - o->data);
}

static void error_body(struct buf *b, const char *code, const char *message)
{
    buf_append_str(b, "{\"error\":");
    json_append_string(b, code, strlen(code));
    buf_append_str(b, ",\"message\":");
    json_append_string(b, message, strlen(message));
    buf_append_str(b, "}");
}

/* Queues a response head (and body): the part shared by plain and streamed responses. */
static void respond_head(struct http_request *req, int status, const char *content_type,
                         const void *body, size_t len)
{
    struct http_conn *c = req->conn;
    req->responded = 1;
    req->status = status;
    /* A response sent before the body was read ends the connection: the unread body would be
     * parsed as the next request otherwise. */
    if (!c->keep_alive || c->srv->draining || (req->has_body && !c->message_done))
        c->close_after_write = 1;
    append_response(c, status, content_type, &req->extra_headers, body, len, c->close_after_write);
    if (c->srv->cfg.on_response)
        c->srv->cfg.on_response(req, status, uv_hrtime() - req->start_ns);
}

void http_respond(struct http_request *req, int status, const char *content_type, const void *body,
                  size_t len)
{
    struct http_conn *c = req->conn;
    if (req->responded || c->closing)
        return;
    respond_head(req, status, content_type, body, len);
    if (c->message_done)
        conn_request_finished(c);
    if (!c->in_execute)
        conn_flush(c);
}

void http_stream_start(struct http_request *req, int status, const char *content_type,
                       const struct http_stream_ops *ops, void *state)
{
    struct http_conn *c = req->conn;
    if (req->responded || c->closing)
        return;
    respond_head(req, status, content_type, NULL, STREAMED);
    req->stream_ops = ops;
    req->stream_state = state;
    c->streaming = 1;
    /* A stream may stay open for long (live events): no request timeout applies. */
    conn_set_deadline(c, 0);
    if (!c->in_execute && !c->in_drain)
        conn_flush(c);
}

void http_stream_sndbuf(struct http_request *req, int bytes)
{
    uv_send_buffer_size((uv_handle_t *)&req->conn->tcp, &bytes);
}

int http_stream_write(struct http_request *req, const void *data, size_t len)
{
    struct http_conn *c = req->conn;
    if (!c->streaming || c->closing || len == 0)
        return 0;
    int rc = buf_printf(&c->out, "%zx\r\n", len);
    if (!rc)
        rc = buf_append(&c->out, data, len);
    if (!rc)
        rc = buf_append(&c->out, "\r\n", 2);
    if (!rc && !c->in_execute && !c->in_drain)
        conn_flush(c);
    return rc;
}

void http_stream_end(struct http_request *req)
{
    struct http_conn *c = req->conn;
    if (!c->streaming || c->closing)
        return;
    c->streaming = 0;
    req->stream_ops = NULL;
    buf_append(&c->out, "0\r\n\r\n", 5);
    if (c->message_done)
        conn_request_finished(c);
    if (!c->in_execute && !c->in_drain)
        conn_flush(c);
}

size_t http_stream_pending(const struct http_request *req)
{
    return req->conn->out.len + req->conn->wbuf.len;
}

void http_add_header(struct http_request *req, const char *name, const char *fmt, ...)
{
    char value[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    buf_printf(&req->extra_headers, "%s: %s\r\n", name, value);
}

void http_add_header_u64(struct http_request *req, const char *name, uint64_t value)
{
    size_t nlen = strlen(name);
    if (buf_reserve(&req->extra_headers, nlen + 26) != 0)
        return;
    char *p = req->extra_headers.data + req->extra_headers.len;
    p = put_str(p, name, nlen);
    p = PUT_LIT(p, ": ");
    p = num_put_u64(p, value);
    p = PUT_LIT(p, "\r\n");
    req->extra_headers.len = (size_t)(p - req->extra_headers.data);
}

void http_respond_error(struct http_request *req, int status, const char *code, const char *message)
{
    struct buf b = {0};
    error_body(&b, code, message);
    http_respond(req, status, "application/json; charset=utf-8", b.data, b.len);
    buf_free(&b);
}

void response_reject(struct http_conn *c, const char *message)
{
    struct buf body = {0}, extra = {0};
    error_body(&body, "too_many_connections", message);
    buf_append_str(&extra, "Retry-After: 1\r\n");
    append_response(c, 503, "application/json; charset=utf-8", &extra, body.data, body.len, 1);
    buf_free(&body);
    buf_free(&extra);
}
