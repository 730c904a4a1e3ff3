/* Connections: accept, read, parse with llhttp, route, write, time out, close. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http/http.h"
#include "util/err.h"
#include "util/json.h"
#include "util/log.h"

/* Output above this stops parsing pipelined requests until the client reads what it was sent. */
#define OUT_HIGH_WATER (1024 * 1024)
/* Connections refused because of the cap still get a short 503; beyond this many at once they are
 * closed without one. */
#define MAX_REJECTING 64
/* append_response's length for a streamed (chunked) body. */
#define STREAMED ((size_t)-1)

struct header_offsets {
    uint32_t name_off, name_len, value_off, value_len;
};

struct http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    struct http_server *srv;
    struct http_conn *prev, *next;
    llhttp_t parser;
    enum conn_state state;
    uint64_t deadline; /* uv_now() milliseconds; 0 when no timeout applies */
    uint64_t timer_at; /* when the timer is armed to fire */
    struct buf head;   /* URL, then header names and values, of the current request */
    uint32_t url_len;
    struct header_offsets hoff[HTTP_MAX_HEADERS];
    size_t nheaders;
    size_t header_bytes;
    int in_field;
    struct buf out;     /* responses not yet handed to the socket */
    struct buf wbuf;    /* bytes of the write in flight */
    struct buf pending; /* input that arrived behind a request still being answered */
    struct http_request req;
    int handles; /* open libuv handles; the struct is freed when the last one closes */
    unsigned writing : 1;
    unsigned closing : 1;
    unsigned close_after_write : 1;
    unsigned paused : 1;
    unsigned in_execute : 1;
    unsigned rejected : 1;
    unsigned keep_alive : 1;
    unsigned shutdown_sent : 1;
    unsigned message_done : 1;
    unsigned stream_active : 1;
    unsigned stream_owed : 1; /* the body ended, its consumer has yet to answer: tell it if the
                                 connection goes first (abort), as it may hold work in flight */
    unsigned eof : 1;
    unsigned streaming : 1; /* a streamed response is open */
    unsigned yield : 1;     /* the body consumer asked to let the loop run before more */
    unsigned held : 1;      /* ... and to wait for http_request_resume before more */
    unsigned in_yield_list : 1;
    struct http_conn *next_yielded;
    unsigned in_drain : 1; /* inside the stream's drain callback */
};

static void conn_close(struct http_conn *c);
static void conn_flush(struct http_conn *c);
static void conn_execute(struct http_conn *c, const char *data, size_t len);
static void start_reading(struct http_conn *c);

/* ---- timers ---- */

static void on_timer(uv_timer_t *t);

/* Makes sure the timer fires by c->deadline. */
static void arm_deadline(struct http_conn *c)
{
    if (c->closing || c->deadline == 0)
        return;
    uint64_t now = uv_now(c->srv->loop);
    if (uv_is_active((uv_handle_t *)&c->timer) && c->timer_at <= c->deadline && c->timer_at > now)
        return;
    c->timer_at = c->deadline;
    uv_timer_start(&c->timer, on_timer, c->deadline > now ? c->deadline - now : 1, 0);
}

/* Sets the deadline without touching the timer: conn_execute arms it only if the read left the
 * request incomplete, so a request that arrives in one read costs no timer operations. */
static void note_deadline(struct http_conn *c, uint64_t timeout_ms)
{
    c->deadline = uv_now(c->srv->loop) + timeout_ms;
}

static void set_deadline(struct http_conn *c, uint64_t timeout_ms)
{
    if (c->closing)
        return;
    if (timeout_ms == 0) {
        c->deadline = 0;
        uv_timer_stop(&c->timer);
        return;
    }
    uint64_t now = uv_now(c->srv->loop);
    c->deadline = now + timeout_ms;
    /* A later deadline needs no timer call: the armed timer fires first, sees the new deadline
     * and re-arms. Requests on a kept-alive connection move it later every time. */
    if (uv_is_active((uv_handle_t *)&c->timer) && c->timer_at <= c->deadline && c->timer_at > now)
        return;
    c->timer_at = c->deadline;
    uv_timer_start(&c->timer, on_timer, timeout_ms, 0);
}

/* ---- responses ---- */

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

/* Decimal digits of v at p; returns the end. */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
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
    if (buf_reserve(o, 160 + tlen + dlen + clen + elen + blen) != 0) {
        log_error("cannot buffer response", "status=%d bytes=%zu", status, len);
        c->close_after_write = 1;
        return;
    }
    char *p = o->data + o->len;
    p = PUT_LIT(p, "HTTP/1.1 ");
    p = put_u64(p, (uint64_t)status);
    *p++ = ' ';
    p = put_str(p, text, tlen);
    p = PUT_LIT(p, "\r\nDate: ");
    p = put_str(p, date, dlen);
    /* 204 has no body, so no type either. */
    if (status != 204) {
        p = PUT_LIT(p, "\r\nContent-Type: ");
        p = put_str(p, content_type, clen);
    }
    if (len == STREAMED) {
        p = PUT_LIT(p, "\r\nTransfer-Encoding: chunked");
    } else {
        p = PUT_LIT(p, "\r\nContent-Length: ");
        p = put_u64(p, len);
    }
    p = close ? PUT_LIT(p, "\r\nConnection: close\r\n")
              : PUT_LIT(p, "\r\nConnection: keep-alive\r\n");
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

/* Called when a request has both been parsed completely and answered. */
static void request_finished(struct http_conn *c)
{
    if (c->close_after_write) {
        c->state = CONN_LINGER;
        c->pending.len = 0;
        if (c->paused) {
            c->paused = 0;
            start_reading(c);
        }
        /* The response must get out first; the linger clock starts once it has. */
        set_deadline(c, c->srv->cfg.body_timeout_ms + c->srv->cfg.linger_ms);
        return;
    }
    c->state = CONN_IDLE;
    set_deadline(c, c->srv->cfg.idle_timeout_ms);
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
        request_finished(c);
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
    set_deadline(c, 0);
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
        request_finished(c);
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
    p = put_u64(p, value);
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

void *http_app(const struct http_request *req)
{
    return req->srv->cfg.app;
}

const char *http_route_name(const struct http_request *req)
{
    return req->route ? req->route->pattern : "unmatched";
}

/* Ends the request with an error decided by the server itself (limits, timeouts, bad syntax):
 * the connection closes after the response. */
static void fail(struct http_conn *c, int status, const char *code, const char *message)
{
    c->close_after_write = 1;
    if (c->stream_active) {
        c->stream_active = 0;
        c->req.route->stream->abort(&c->req);
    }
    if (!c->req.responded)
        http_respond_error(&c->req, status, code, message);
}

/* ---- writing ---- */

static void on_shutdown(uv_shutdown_t *r, int status)
{
    struct http_conn *c = r->data;
    if (status < 0)
        conn_close(c);
}

static void after_drain(struct http_conn *c)
{
    if (c->streaming) {
        struct http_request *r = &c->req;
        c->in_drain = 1;
        if (r->stream_ops && r->stream_ops->drain)
            r->stream_ops->drain(r);
        c->in_drain = 0;
        /* What the producer wrote goes out with an asynchronous write, whose completion asks
         * for more: one piece per loop pass, however fast the client reads. */
        if (c->out.len)
            conn_flush(c);
        else if (!c->streaming)
            after_drain(c);
        return;
    }
    if (c->state == CONN_LINGER) {
        if (c->eof) {
            conn_close(c);
            return;
        }
        if (!c->shutdown_sent && !c->closing) {
            c->shutdown_sent = 1;
            c->sreq.data = c;
            if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
                conn_close(c);
                return;
            }
            set_deadline(c, c->srv->cfg.linger_ms);
        }
        return;
    }
    if (c->paused && c->state == CONN_IDLE) {
        c->paused = 0;
        llhttp_resume(&c->parser);
        if (c->pending.len) {
            conn_execute(c, c->pending.data, c->pending.len);
            conn_flush(c);
        }
        if (!c->paused && !c->closing && c->state != CONN_LINGER)
            start_reading(c);
        return;
    }
    if (c->srv->draining && c->state == CONN_IDLE && !c->paused)
        conn_close(c);
}

static void on_write(uv_write_t *w, int status)
{
    struct http_conn *c = w->data;
    c->writing = 0;
    c->wbuf.len = 0;
    if (status < 0) {
        conn_close(c);
        return;
    }
    conn_flush(c);
}

static void conn_flush(struct http_conn *c)
{
    if (c->writing || c->closing)
        return;
    if (c->out.len == 0) {
        after_drain(c);
        return;
    }
    uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
    int n = c->streaming ? UV_EAGAIN : uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == (int)c->out.len) {
        c->out.len = 0;
        after_drain(c);
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        conn_close(c);
        return;
    }
    if (n > 0)
        buf_consume(&c->out, (size_t)n);
    /* Hand the rest to libuv and keep collecting new output in the other buffer. */
    struct buf tmp = c->wbuf;
    c->wbuf = c->out;
    c->out = tmp;
    c->out.len = 0;
    c->writing = 1;
    c->wreq.data = c;
    b = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
        c->writing = 0;
        conn_close(c);
    }
}

/* ---- llhttp callbacks ---- */

static struct http_conn *conn_of(llhttp_t *p)
{
    return p->data;
}

static void request_reset(struct http_conn *c)
{
    struct http_request *r = &c->req;
    void *ctx = r->ctx;
    struct buf body = r->body, extra = r->extra_headers;
    /* Keep small buffers for the next request; give large ones back. */
    body.len = 0;
    if (body.cap > 65536)
        buf_free(&body);
    extra.len = 0;
    memset(r, 0, sizeof *r);
    r->conn = c;
    r->srv = c->srv;
    r->ctx = ctx;
    r->body = body;
    r->extra_headers = extra;
    r->route_index = -1;
    if (ctx)
        memset(ctx, 0, c->srv->cfg.request_ctx_size);
    c->head.len = 0;
    if (c->head.cap > 65536)
        buf_free(&c->head);
    c->url_len = 0;
    c->nheaders = 0;
    c->header_bytes = 0;
    c->in_field = 0;
    c->message_done = 0;
    c->stream_active = 0;
    c->stream_owed = 0;
}

static int on_message_begin(llhttp_t *p)
{
    struct http_conn *c = conn_of(p);
    request_reset(c);
    c->req.start_ns = uv_hrtime();
    c->state = CONN_HEAD;
    note_deadline(c, c->srv->cfg.header_timeout_ms);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = conn_of(p);
    if (c->head.len + len > HTTP_MAX_URL) {
        fail(c, 414, "uri_too_long",
             "The request URL is longer than 8192 bytes; send large parameters in the body.");
        return HPE_USER;
    }
    if (buf_append(&c->head, at, len)) {
        fail(c, 500, "internal_error", "The server ran out of memory.");
        return HPE_USER;
    }
    return 0;
}

static int on_url_complete(llhttp_t *p)
{
    struct http_conn *c = conn_of(p);
    c->url_len = (uint32_t)c->head.len;
    return 0;
}

static int header_bytes_ok(struct http_conn *c, size_t len)
{
    c->header_bytes += len;
    if (c->header_bytes <= HTTP_MAX_HEADER_SIZE)
        return 1;
    fail(c, 431, "headers_too_large",
         "The request headers exceed 16384 bytes; remove large or repeated headers.");
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = conn_of(p);
    if (c->state == CONN_BODY)
        return header_bytes_ok(c, len) ? 0 : HPE_USER;
    if (!c->in_field) {
        if (c->nheaders == HTTP_MAX_HEADERS) {
            fail(c, 431, "headers_too_large",
                 "The request has more than 100 header fields; remove unneeded headers.");
            return HPE_USER;
        }
        struct header_offsets *h = &c->hoff[c->nheaders++];
        h->name_off = (uint32_t)c->head.len;
        h->name_len = 0;
        h->value_off = (uint32_t)c->head.len;
        h->value_len = 0;
        c->in_field = 1;
    }
    /* ": " and CRLF count towards the limit too, as they would on the wire. */
    if (!header_bytes_ok(c, len + (c->hoff[c->nheaders - 1].name_len == 0 ? 4 : 0)))
        return HPE_USER;
    if (buf_append(&c->head, at, len)) {
        fail(c, 500, "internal_error", "The server ran out of memory.");
        return HPE_USER;
    }
    c->hoff[c->nheaders - 1].name_len += (uint32_t)len;
    return 0;
}

/* RFC 9110 token characters. llhttp 8.1 lets spaces through in field names ("Bad Name",
 * "Name :"), which proxies may read differently: a request-smuggling risk, so reject them. */
static int is_token(const char *s, size_t n)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!(ch >= '0' && ch <= '9') && !((ch | 32) >= 'a' && (ch | 32) <= 'z') &&
            !memchr(extra, ch, sizeof extra - 1))
            return 0;
    }
    return 1;
}

static int on_header_field_complete(llhttp_t *p)
{
    struct http_conn *c = conn_of(p);
    if (c->state == CONN_BODY)
        return 0;
    struct header_offsets *h = &c->hoff[c->nheaders - 1];
    if (!is_token(c->head.data + h->name_off, h->name_len)) {
        fail(c, 400, "bad_request",
             "Malformed HTTP request: a header name contains a character that is not allowed "
             "(such as a space before the colon).");
        return HPE_USER;
    }
    c->in_field = 0;
    c->hoff[c->nheaders - 1].value_off = (uint32_t)c->head.len;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = conn_of(p);
    if (c->state == CONN_BODY)
        return header_bytes_ok(c, len) ? 0 : HPE_USER;
    if (!header_bytes_ok(c, len))
        return HPE_USER;
    if (buf_append(&c->head, at, len)) {
        fail(c, 500, "internal_error", "The server ran out of memory.");
        return HPE_USER;
    }
    c->hoff[c->nheaders - 1].value_len += (uint32_t)len;
    return 0;
}

/* Turns the offsets collected while streaming into slices, now that the buffer stops moving. */
static void resolve_head(struct http_conn *c)
{
    struct http_request *r = &c->req;
    const char *base = c->head.data;
    r->url.ptr = base;
    r->url.len = c->url_len;
    for (size_t i = 0; i < c->nheaders; i++) {
        struct header_offsets *h = &c->hoff[i];
        r->headers[i].name = (struct http_slice){base + h->name_off, h->name_len};
        r->headers[i].value = (struct http_slice){base + h->value_off, h->value_len};
    }
    r->nheaders = c->nheaders;
    /* Absolute-form targets ("http://host/path") are accepted as RFC 9112 requires. */
    const char *u = r->url.ptr;
    size_t ulen = r->url.len;
    if (ulen > 7 && (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0)) {
        const char *auth = (const char *)memchr(u, ':', ulen) + 3;
        size_t rest = ulen - (size_t)(auth - u), a = 0;
        while (a < rest && auth[a] != '/' && auth[a] != '?')
            a++;
        u = auth + a;
        ulen = rest - a;
    }
    const char *q = memchr(u, '?', ulen);
    r->path.ptr = u;
    r->path.len = q ? (size_t)(q - u) : ulen;
    r->query.ptr = q ? q + 1 : u + ulen;
    r->query.len = q ? ulen - r->path.len - 1 : 0;
    if (r->path.len == 0)
        r->path = (struct http_slice){"/", 1};
}

/* Routes the request, answering 404/405 itself. Paths under the alias prefix are matched as if
 * they were under the canonical prefix. */
static void route_request(struct http_conn *c)
{
    struct http_server *srv = c->srv;
    struct http_request *r = &c->req;
    const char *path = r->path.ptr;
    size_t len = r->path.len;
    char alias[HTTP_MAX_URL + 64];
    const struct http_server_config *cfg = &srv->cfg;
    if (cfg->alias_from) {
        size_t flen = strlen(cfg->alias_from), tlen = strlen(cfg->alias_to);
        if (len >= flen && memcmp(path, cfg->alias_from, flen) == 0 &&
            (len == flen || path[flen] == '/') && tlen + len - flen < sizeof alias) {
            memcpy(alias, cfg->alias_to, tlen);
            memcpy(alias + tlen, path + flen, len - flen);
            len = tlen + len - flen;
            path = alias;
        }
    }
    char allowed[128];
    int idx = http_route_match(cfg->routes, cfg->nroutes, r->method, path, len, r->params,
                               &r->nparams, allowed, sizeof allowed);
    if (idx >= 0) {
        r->route_index = idx;
        r->route = &cfg->routes[idx];
        /* Params must outlive the local alias buffer: point them into the original path. */
        if (path == alias) {
            for (size_t i = 0; i < r->nparams; i++) {
                size_t off = (size_t)(r->params[i].ptr - alias) - strlen(cfg->alias_to) +
                             strlen(cfg->alias_from);
                r->params[i].ptr = r->path.ptr + off;
            }
        }
        return;
    }
    if (idx == -405) {
        http_add_header(r, "Allow", "%s", allowed);
        char msg[256];
        snprintf(msg, sizeof msg, "%s is not supported on this path; use %s.",
                 llhttp_method_name((llhttp_method_t)r->method), allowed);
        http_respond_error(r, 405, "method_not_allowed", msg);
        return;
    }
    http_respond_error(r, 404, "not_found",
                       "No such route; see the API documentation for the available paths.");
}

static int expects_continue(const struct http_request *r)
{
    const struct http_slice *e = http_header(r, "expect");
    return e && e->len == 12 && strncasecmp(e->ptr, "100-continue", 12) == 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct http_conn *c = conn_of(p);
    struct http_request *r = &c->req;
    resolve_head(c);
    /* llhttp takes a request line without a version as HTTP/0.9; this server speaks 1.x only. */
    if (p->http_major != 1) {
        fail(c, 400, "bad_request",
             "Malformed HTTP request: the request line must end with HTTP/1.1 or HTTP/1.0.");
        return -1;
    }
    r->method = llhttp_get_method(p);
    r->has_body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length);
    c->keep_alive = llhttp_should_keep_alive(p) ? 1 : 0;
    route_request(c);
    if (!r->responded) {
        size_t limit = r->route->body_limit ? r->route->body_limit : HTTP_DEFAULT_BODY;
        if ((p->flags & F_CONTENT_LENGTH) && p->content_length > limit) {
            char msg[160];
            snprintf(msg, sizeof msg, "The request body is larger than the %zu bytes allowed here.",
                     limit);
            http_respond_error(r, 413, "payload_too_large", msg);
        }
    }
    if (!r->responded && c->srv->cfg.on_head)
        c->srv->cfg.on_head(r);
    if (!r->responded && r->route->stream && r->route->stream->start)
        r->route->stream->start(r);
    if (r->responded) {
        if (!r->has_body)
            return 0;
        /* The body is not wanted: stop parsing; the connection closes after the response. */
        c->close_after_write = 1;
        return HPE_PAUSED;
    }
    /* From here a streaming route's end() or abort() runs exactly once. */
    c->stream_active = r->route->stream != NULL;
    if (r->has_body) {
        if (expects_continue(r))
            buf_append_str(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
        c->state = CONN_BODY;
        note_deadline(c, c->srv->cfg.body_timeout_ms);
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = conn_of(p);
    struct http_request *r = &c->req;
    size_t limit = r->route->body_limit ? r->route->body_limit : HTTP_DEFAULT_BODY;
    r->body_bytes += len;
    if (r->body_bytes > limit) {
        char msg[160];
        snprintf(msg, sizeof msg, "The request body is larger than the %zu bytes allowed here.",
                 limit);
        fail(c, 413, "payload_too_large", msg);
        return HPE_USER;
    }
    /* The body clock restarts with every read; the timer callback re-arms lazily. */
    c->deadline = uv_now(c->srv->loop) + c->srv->cfg.body_timeout_ms;
    if (r->route->stream) {
        c->yield = 0;
        c->held = 0;
        if (r->route->stream->data(r, at, len) != 0) {
            c->stream_active = 0;
            r->route->stream->abort(r);
            c->close_after_write = 1;
            if (!r->responded)
                http_respond_error(r, 500, "internal_error", "The upload could not be processed.");
            return HPE_USER;
        }
        /* Pausing here stops llhttp after this span; the rest waits in pending. */
        return c->yield ? HPE_PAUSED : 0;
    }
    if (buf_append(&r->body, at, len)) {
        fail(c, 500, "internal_error", "The server ran out of memory.");
        return HPE_USER;
    }
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct http_conn *c = conn_of(p);
    struct http_request *r = &c->req;
    c->message_done = 1;
    if (!r->responded) {
        c->state = CONN_HANDLING;
        set_deadline(c, 0);
        if (c->stream_active) {
            c->stream_active = 0;
            c->stream_owed = 1;
            r->route->stream->end(r);
        } else {
            r->route->handler(r);
        }
    } else {
        request_finished(c);
    }
    if (!r->responded || c->streaming) {
        /* Answered (or still streaming) later: hold pipelined requests until then. */
        c->paused = 1;
        return HPE_PAUSED;
    }
    if (c->close_after_write)
        return HPE_PAUSED;
    if (c->out.len > OUT_HIGH_WATER) {
        c->paused = 1;
        return HPE_PAUSED;
    }
    return 0;
}

static const llhttp_settings_t parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- reading ---- */

static void enter_linger(struct http_conn *c)
{
    c->close_after_write = 1;
    c->pending.len = 0;
    if (c->state != CONN_LINGER) {
        c->state = CONN_LINGER;
        set_deadline(c, c->srv->cfg.body_timeout_ms + c->srv->cfg.linger_ms);
    }
    if (c->paused) {
        c->paused = 0;
        start_reading(c);
    }
}

void http_request_yield(struct http_request *req)
{
    req->conn->yield = 1;
}

void http_request_pause(struct http_request *req)
{
    req->conn->yield = 1;
    req->conn->held = 1;
}

static void schedule_resume(struct http_conn *c);

void http_request_resume(struct http_request *req)
{
    struct http_conn *c = req->conn;
    if (!c->held)
        return;
    c->held = 0;
    if (c->paused && c->yield)
        schedule_resume(c);
}

/* Runs once per loop pass while connections have yielded: each continues with the input it
 * holds, then reads again. An idle handle (not a 0 ms timer) so the loop polls in between. */
static void on_resume(uv_idle_t *h)
{
    struct http_server *srv = h->data;
    struct http_conn *list = srv->yielded;
    srv->yielded = NULL;
    uv_idle_stop(h);
    while (list) {
        struct http_conn *c = list;
        list = c->next_yielded;
        c->in_yield_list = 0;
        c->next_yielded = NULL;
        if (c->closing || !c->paused)
            continue;
        c->paused = 0;
        c->yield = 0;
        llhttp_resume(&c->parser);
        /* Even with nothing pending: the pause may have come on the body's last bytes, and only
         * running the parser again completes the message. */
        conn_execute(c, c->pending.len ? c->pending.data : "", c->pending.len);
        conn_flush(c);
        if (!c->paused && !c->closing && c->state != CONN_LINGER)
            start_reading(c);
    }
}

/* A paused body continues on the next loop pass. */
static void schedule_resume(struct http_conn *c)
{
    if (c->state != CONN_BODY || c->in_yield_list || c->closing)
        return;
    /* The idle handle exists only once some connection yields, so servers that never need it
     * own one handle fewer. */
    if (!c->srv->resume_ready) {
        uv_idle_init(c->srv->loop, &c->srv->resume);
        c->srv->resume.data = c->srv;
        c->srv->resume_ready = 1;
        c->srv->open_handles++;
    }
    c->in_yield_list = 1;
    c->next_yielded = c->srv->yielded;
    c->srv->yielded = c;
    uv_idle_start(&c->srv->resume, on_resume);
}

static void conn_execute(struct http_conn *c, const char *data, size_t len)
{
    c->in_execute = 1;
    enum llhttp_errno e = llhttp_execute(&c->parser, data, len);
    c->in_execute = 0;
    /* A request still arriving needs its head or body deadline armed. */
    if (c->state == CONN_HEAD || c->state == CONN_BODY)
        arm_deadline(c);
    if (e == HPE_OK && data == c->pending.data)
        c->pending.len = 0;
    if (c->closing || e == HPE_OK)
        return;
    if (e == HPE_PAUSED && !c->close_after_write) {
        size_t used = (size_t)(llhttp_get_error_pos(&c->parser) - data);
        if (data == c->pending.data) {
            buf_consume(&c->pending, used);
        } else if (buf_append(&c->pending, data + used, len - used)) {
            conn_close(c);
            return;
        }
        c->paused = 1;
        uv_read_stop((uv_stream_t *)&c->tcp);
        if (c->yield && !c->held)
            schedule_resume(c);
        return;
    }
    if (e != HPE_PAUSED && !c->req.responded && e != HPE_CLOSED_CONNECTION) {
        char msg[256];
        snprintf(msg, sizeof msg, "Malformed HTTP request: %s.",
                 llhttp_get_error_reason(&c->parser));
        fail(c, 400, "bad_request", msg);
    }
    enter_linger(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    struct http_conn *c = h->data;
    b->base = c->srv->readbuf;
    b->len = sizeof c->srv->readbuf;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

static void start_reading(struct http_conn *c)
{
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct http_conn *c = s->data;
    if (nread == 0 || c->closing)
        return;
    if (nread < 0) {
        /* A client that half-closes after sending a request still gets the answer. */
        if (nread == UV_EOF && c->state == CONN_HANDLING) {
            c->eof = 1;
            c->close_after_write = 1;
            uv_read_stop(s);
            return;
        }
        conn_close(c);
        return;
    }
    if (c->state == CONN_LINGER)
        return;
    conn_execute(c, b->base, (size_t)nread);
    conn_flush(c);
}

/* ---- connection lifecycle ---- */

static void on_close(uv_handle_t *h)
{
    struct http_conn *c = h->data;
    if (--c->handles > 0)
        return;
    buf_free(&c->head);
    buf_free(&c->out);
    buf_free(&c->wbuf);
    buf_free(&c->pending);
    buf_free(&c->req.body);
    buf_free(&c->req.extra_headers);
    free(c->req.ctx);
    free(c);
}

static void conn_close(struct http_conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    struct http_server *srv = c->srv;
    if (c->in_yield_list) {
        struct http_conn **pp = &srv->yielded;
        while (*pp && *pp != c)
            pp = &(*pp)->next_yielded;
        if (*pp)
            *pp = c->next_yielded;
        c->in_yield_list = 0;
    }
    if (c->stream_active || (c->stream_owed && !c->req.responded)) {
        c->stream_active = 0;
        c->stream_owed = 0;
        c->req.route->stream->abort(&c->req);
    }
    if (c->streaming) {
        c->streaming = 0;
        const struct http_stream_ops *ops = c->req.stream_ops;
        c->req.stream_ops = NULL;
        if (ops && ops->closed)
            ops->closed(&c->req);
    }
    if (c->rejected) {
        srv->nrejected--;
    } else {
        if (c->prev)
            c->prev->next = c->next;
        else
            srv->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        srv->nconns--;
    }
    uv_close((uv_handle_t *)&c->timer, on_close);
    uv_close((uv_handle_t *)&c->tcp, on_close);
    if (srv->draining && srv->nconns == 0 && srv->drained_cb) {
        void (*cb)(struct http_server *) = srv->drained_cb;
        srv->drained_cb = NULL;
        cb(srv);
    }
}

static void on_timer(uv_timer_t *t)
{
    struct http_conn *c = t->data;
    uint64_t now = uv_now(c->srv->loop);
    if (c->deadline == 0 || c->closing)
        return;
    if (now < c->deadline) {
        c->timer_at = c->deadline;
        uv_timer_start(&c->timer, on_timer, c->deadline - now, 0);
        return;
    }
    switch (c->state) {
    case CONN_HEAD:
    case CONN_BODY:
        fail(c, 408, "request_timeout",
             "The request was not received in time; send the whole request without pauses.");
        enter_linger(c);
        conn_flush(c);
        break;
    default:
        conn_close(c);
        break;
    }
}

/* Sets up a connection whose tcp handle is initialised; accept_from is the listener to accept
 * from, or NULL when the socket is already open (http_server_adopt). */
static void conn_start(struct http_server *srv, uv_stream_t *accept_from, uv_os_sock_t fd)
{
    struct http_conn *c = calloc(1, sizeof *c);
    void *ctx = srv->cfg.request_ctx_size ? calloc(1, srv->cfg.request_ctx_size) : NULL;
    if (!c || (srv->cfg.request_ctx_size && !ctx)) {
        free(c);
        free(ctx);
        log_error("out of memory accepting a connection", "%s", "");
        return;
    }
    c->srv = srv;
    c->req.ctx = ctx;
    uv_tcp_init(srv->loop, &c->tcp);
    uv_timer_init(srv->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles = 2;
    c->rejected = srv->nconns >= srv->cfg.max_connections;
    if (c->rejected) {
        srv->nrejected++;
    } else {
        c->next = srv->conns;
        if (srv->conns)
            srv->conns->prev = c;
        srv->conns = c;
        srv->nconns++;
    }
    int rc =
        accept_from ? uv_accept(accept_from, (uv_stream_t *)&c->tcp) : uv_tcp_open(&c->tcp, fd);
    if (rc != 0 || srv->nrejected > MAX_REJECTING) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
    c->parser.data = c;
    request_reset(c);
    if (c->rejected) {
        struct buf body = {0};
        error_body(&body, "too_many_connections",
                   "The server is at its connection limit; retry shortly.");
        append_response(c, 503, "application/json; charset=utf-8", NULL, body.data, body.len, 1);
        buf_free(&body);
        c->state = CONN_LINGER;
        c->close_after_write = 1;
        set_deadline(c, srv->cfg.linger_ms);
    } else {
        c->state = CONN_IDLE;
        /* A new connection must start its request promptly, unlike a kept-alive one. */
        set_deadline(c, srv->cfg.header_timeout_ms);
    }
    start_reading(c);
    conn_flush(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0) {
        log_warn("accept failed", "reason=\"%s\"", uv_strerror(status));
        return;
    }
    conn_start(server->data, server, -1);
}

void http_server_adopt(struct http_server *srv, uv_os_sock_t fd)
{
    conn_start(srv, NULL, fd);
}

static void on_server_handle_closed(uv_handle_t *h)
{
    struct http_server *srv = h->data;
    if (--srv->open_handles == 0 && srv->closed_cb)
        srv->closed_cb(srv);
}

int http_server_init(struct http_server *srv, uv_loop_t *loop, const struct http_server_config *cfg)
{
    memset(srv, 0, sizeof *srv);
    srv->loop = loop;
    srv->cfg = *cfg;
    int rc = uv_tcp_init(loop, &srv->listener);
    srv->listener.data = srv;
    srv->open_handles = 1;
    return rc;
}

int http_server_listen(struct http_server *srv, const char *host, int port)
{
    struct sockaddr_storage addr;
    int rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
    if (rc != 0)
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr);
    if (rc != 0)
        return rc;
    rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, 1024, on_connection);
    if (rc == 0)
        srv->listening = 1;
    return rc;
}

void http_server_drain(struct http_server *srv, void (*drained_cb)(struct http_server *srv))
{
    srv->draining = 1;
    srv->drained_cb = drained_cb;
    if (!uv_is_closing((uv_handle_t *)&srv->listener))
        uv_close((uv_handle_t *)&srv->listener, on_server_handle_closed);
    srv->listening = 0;
    struct http_conn *next;
    for (struct http_conn *c = srv->conns; c; c = next) {
        next = c->next;
        if (c->state == CONN_IDLE && !c->writing && !c->paused && c->out.len == 0)
            conn_close(c);
    }
    if (srv->nconns == 0 && srv->drained_cb) {
        srv->drained_cb = NULL;
        drained_cb(srv);
    }
}

void http_server_close_all(struct http_server *srv)
{
    struct http_conn *next;
    for (struct http_conn *c = srv->conns; c; c = next) {
        next = c->next;
        conn_close(c);
    }
}

void http_server_close(struct http_server *srv, void (*closed_cb)(struct http_server *srv))
{
    srv->draining = 1;
    srv->drained_cb = NULL;
    srv->closed_cb = closed_cb;
    http_server_close_all(srv);
    if (!uv_is_closing((uv_handle_t *)&srv->listener))
        uv_close((uv_handle_t *)&srv->listener, on_server_handle_closed);
    if (srv->resume_ready && !uv_is_closing((uv_handle_t *)&srv->resume))
        uv_close((uv_handle_t *)&srv->resume, on_server_handle_closed);
}
