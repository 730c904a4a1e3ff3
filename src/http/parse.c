/* The llhttp callbacks: collect the URL and headers within their limits, resolve the head,
 * route the request, take its body (buffered or streamed to the route) and hand it over. */
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "http/conn.h"
#include "http/parse.h"
#include "http/response.h"
#include "http/router.h"

/* Output above this stops parsing pipelined requests until the client reads what it was sent. */
#define OUT_HIGH_WATER (1024 * 1024)

/* Sets the deadline without touching the timer: conn_execute arms it only if the read left the
 * request incomplete, so a request that arrives in one read costs no timer operations. */
static void note_deadline(struct http_conn *c, uint64_t timeout_ms)
{
    c->deadline = uv_now(c->srv->loop) + timeout_ms;
}

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
    memset(r, 0, offsetof(struct http_request, headers));
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
        conn_fail(c, 414, "uri_too_long",
                  "The request URL is longer than 8192 bytes; send large parameters in the body.");
        return HPE_USER;
    }
    if (buf_append(&c->head, at, len)) {
        conn_fail(c, 500, "internal_error", "The server ran out of memory.");
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
    conn_fail(c, 431, "headers_too_large",
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
            conn_fail(c, 431, "headers_too_large",
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
        conn_fail(c, 500, "internal_error", "The server ran out of memory.");
        return HPE_USER;
    }
    c->hoff[c->nheaders - 1].name_len += (uint32_t)len;
    return 0;
}

/* RFC 9110 token characters. llhttp 8.1 lets spaces through in field names ("Bad Name",
 * "Name :"), which proxies may read differently: a request-smuggling risk, so reject them. A
 * table of all 256 bytes, one load each, rather than a search of the extra characters: every
 * byte of every header name of every request comes here. Set for digits, letters and
 * !#$%&'*+-.^_`|~ (rows of 32 bytes, from 0x00). */
static const unsigned char tchar[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static int is_token(const char *s, size_t n)
{
    unsigned char all = n != 0;
    for (size_t i = 0; i < n; i++)
        all &= tchar[(unsigned char)s[i]];
    return all;
}

static int on_header_field_complete(llhttp_t *p)
{
    struct http_conn *c = conn_of(p);
    if (c->state == CONN_BODY)
        return 0;
    struct header_offsets *h = &c->hoff[c->nheaders - 1];
    if (!is_token(c->head.data + h->name_off, h->name_len)) {
        conn_fail(c, 400, "bad_request",
                  "Malformed HTTP request: a header name contains a character that is not allowed "
                  "(such as a space before the colon).");
        return HPE_USER;
    }
    c->in_field = 0;
    c->hoff[c->nheaders - 1].value_off = (uint32_t)c->head.len;
    return 0;
}

/* Whether the bytes at `at` follow a line end, spaces and tabs between them aside. llhttp 8.1
 * accepts obs-fold (a header line that starts with a space or tab continues the previous one) and
 * hands the continuation over as more value bytes: after "Name: a\r\n b" the value span restarts
 * at the space, after "Name:\r\n b" it starts at the b. A value's first bytes otherwise follow
 * its colon, and a span cut by the end of a read starts the next read. */
static int follows_line_end(const struct http_conn *c, const char *at)
{
    const char *q = at;
    while (q > c->exec_data && (q[-1] == ' ' || q[-1] == '\t'))
        q--;
    return q > c->exec_data ? q[-1] == '\n' : c->after_lf;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = conn_of(p);
    if (c->state == CONN_BODY)
        return header_bytes_ok(c, len) ? 0 : HPE_USER;
    if (!header_bytes_ok(c, len))
        return HPE_USER;
    /* RFC 9112 5.2: a server must reject obs-fold or replace it; a proxy in front may read the
     * folded line as a header of its own, so reject it. (An empty value is reported as a span of
     * length 0 at the start of the next line: not a fold.) */
    if (len && follows_line_end(c, at)) {
        conn_fail(c, 400, "bad_request",
                  "Malformed HTTP request: a header line starts with a space or tab (obs-fold "
                  "line folding, which RFC 9112 forbids); send each header on one line.");
        return HPE_USER;
    }
    if (buf_append(&c->head, at, len)) {
        conn_fail(c, 500, "internal_error", "The server ran out of memory.");
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
        /* RFC 9110 5.5: a field value has no leading or trailing whitespace. llhttp skips the
         * leading spaces and tabs but keeps trailing ones ("x-api-key: k \r\n" gives "k "). */
        const char *v = base + h->value_off;
        size_t vlen = h->value_len;
        while (vlen && (v[0] == ' ' || v[0] == '\t')) {
            v++;
            vlen--;
        }
        while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            vlen--;
        r->headers[i].name = (struct http_slice){base + h->name_off, h->name_len};
        r->headers[i].value = (struct http_slice){v, vlen};
    }
    r->nheaders = c->nheaders;
    /* Absolute-form targets ("http://host/path") are accepted as RFC 9112 requires. Nearly all
     * requests start with '/': its first byte spares them both comparisons. */
    const char *u = r->url.ptr;
    size_t ulen = r->url.len;
    if (ulen > 7 && (u[0] | 0x20) == 'h' &&
        (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0)) {
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
    int idx = http_router_match(&srv->router, r->method, path, len, r->params, &r->nparams, allowed,
                                sizeof allowed);
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
        conn_fail(c, 400, "bad_request",
                  "Malformed HTTP request: the request line must end with HTTP/1.1 or HTTP/1.0.");
        return HPE_USER;
    }
    /* RFC 9112 3.2: an HTTP/1.1 request must carry exactly one Host header (1.0 predates it). */
    size_t hosts = 0;
    for (size_t i = 0; i < r->nheaders; i++)
        hosts += r->headers[i].name.len == 4 && strncasecmp(r->headers[i].name.ptr, "host", 4) == 0;
    if (hosts > 1 || (hosts == 0 && p->http_minor >= 1)) {
        conn_fail(c, 400, "bad_request",
                  hosts ? "Malformed HTTP request: the Host header is sent more than once; send "
                          "it once."
                        : "Malformed HTTP request: HTTP/1.1 requires a Host header, such as "
                          "Host: api.example.com.");
        return HPE_USER;
    }
    r->method = llhttp_get_method(p);
    r->has_body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length);
    c->keep_alive = llhttp_should_keep_alive(p) ? 1 : 0;
    route_request(c);
    if (c->reserve_only) {
        /* One answer, then the slot is free again for the next health check. */
        c->close_after_write = 1;
        if (!r->responded && !(r->route->flags & c->srv->cfg.reserve_flag)) {
            http_add_header(r, "Retry-After", "1");
            http_respond_error(r, 503, "too_many_connections",
                               "The server is at its connection limit: this connection is kept "
                               "for /healthz, /readyz and /metrics. Retry shortly.");
        }
    }
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
        conn_fail(c, 413, "payload_too_large", msg);
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
        conn_fail(c, 500, "internal_error", "The server ran out of memory.");
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
        conn_set_deadline(c, 0);
        if (c->stream_active) {
            c->stream_active = 0;
            c->stream_owed = 1;
            r->route->stream->end(r);
        } else {
            r->route->handler(r);
        }
    } else {
        conn_request_finished(c);
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

void parse_init(struct http_conn *c)
{
    llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
    c->parser.data = c;
    c->after_lf = 0;
    request_reset(c);
}

enum llhttp_errno parse_execute(struct http_conn *c, const char *data, size_t len)
{
    c->exec_data = data;
    enum llhttp_errno e = llhttp_execute(&c->parser, data, len);
    /* What the next bytes follow: up to where llhttp stopped (a paused parser resumes there). */
    const char *end = data + len;
    if (e != HPE_OK && llhttp_get_error_pos(&c->parser))
        end = llhttp_get_error_pos(&c->parser);
    while (end > data && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (end > data)
        c->after_lf = end[-1] == '\n';
    return e;
}
