/* Tests for the llhttp glue in src/http/server.c, driven through a real libuv loop.
 *
 * Each connection is one end of a socketpair adopted by the server; the test keeps the other end
 * (non-blocking) and plays the client. A request is written in pieces, and after each piece the
 * loop runs until the server has read it, so the parser really sees the pieces separately. The
 * responses are then parsed (status line, headers, Content-Length body) and summarised as one
 * line of text, e.g. "200 keep-alive hi | 404 keep-alive err=not_found || open", which the
 * tables compare. Every table case runs whole, split in two at every byte offset, and one byte
 * at a time; all runs must give the same summary. The /pause route's tests pause a streamed body
 * (http_request_pause) and resume it from a timer (http_request_resume). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "http/conn.h"
#include "http/http.h"
#include "http/response.h"
#include "http/router.h"
#include "http/server.h"
#include "util/buf.h"
#include "util/log.h"

#include "http_toy.h"
#include "sockpeer.h"

#define ECHO_LIMIT   64
#define UPLOAD_LIMIT 32
#define LONG_TIMEOUT 600000

/* ---- the application under test ---- */

struct app {
    struct http_toy toy; /* first: the toy's handlers find their counters there */
    int secret_calls;
    int responses; /* on_response calls */
    int drained;
    struct http_request *later; /* a request whose response the test sends */
    struct pause_test *pause;   /* the /pause route's state */
};

static struct app *app_of(struct http_request *req)
{
    return http_app(req);
}

static void h_item(struct http_request *req)
{
    http_respond(req, 200, "text/plain", req->params[0].ptr, req->params[0].len);
}

static void h_batch(struct http_request *req)
{
    char body[128];
    int n = snprintf(body, sizeof body, "batch %.*s", (int)req->params[0].len, req->params[0].ptr);
    http_respond(req, 200, "text/plain", body, (size_t)n);
}

static void h_secret(struct http_request *req)
{
    app_of(req)->secret_calls++;
    http_respond(req, 200, "text/plain", "secret", 6);
}

/* A 64 KiB response: a few pipelined requests for it pass the server's output high-water mark. */
static void h_big(struct http_request *req)
{
    static char body[65536];
    memset(body, 'x', sizeof body);
    http_respond(req, 200, "text/plain", body, sizeof body);
}

static void h_later(struct http_request *req)
{
    app_of(req)->later = req;
}

/* A streaming route that pauses its body (http_request_pause) and resumes it from a timer
 * (http_request_resume); the test sets app->pause. */
enum pause_mode {
    PAUSE_FIRST, /* pause in the first data callback */
    PAUSE_LAST,  /* pause in the data callback that receives the body's last bytes */
};

struct pause_test {
    enum pause_mode mode;
    size_t body_len;          /* the body's length, to know its last bytes */
    uint64_t resume_ms;       /* the timer's delay */
    uv_timer_t timer;         /* calls http_request_resume */
    struct http_request *req; /* valid from the pause until end() or abort() */
    struct buf got;           /* the body as the data callbacks saw it */
    int data_calls, empty_calls, calls_while_paused;
    int pauses, paused, resumes, resume_skipped, timer_fired;
    int ends, aborts, abort_before_timer;
    uint64_t resumed_ns, first_data_after_resume_ns;
};

static void on_pause_timer(uv_timer_t *t)
{
    struct pause_test *pt = t->data;
    pt->timer_fired++;
    if (!pt->req) {
        pt->resume_skipped++;
        return;
    }
    pt->paused = 0;
    pt->resumes++;
    pt->resumed_ns = uv_hrtime();
    http_request_resume(pt->req);
}

static int pause_data(struct http_request *req, const char *p, size_t n)
{
    struct pause_test *pt = app_of(req)->pause;
    if (!pt) /* a failed test left the connection open until harness_free */
        return 0;
    if (pt->paused)
        pt->calls_while_paused++;
    /* The parser may report an empty span when it runs again after a pause. */
    if (n == 0) {
        pt->empty_calls++;
        return 0;
    }
    if (pt->resumes && !pt->first_data_after_resume_ns)
        pt->first_data_after_resume_ns = uv_hrtime();
    pt->data_calls++;
    buf_append(&pt->got, p, n);
    int last = pt->got.len == pt->body_len;
    if (pt->pauses == 0 && (pt->mode == PAUSE_FIRST || last)) {
        pt->pauses++;
        pt->paused = 1;
        pt->req = req;
        http_request_pause(req);
        uv_timer_start(&pt->timer, on_pause_timer, pt->resume_ms, 0);
    }
    return 0;
}

static void pause_end(struct http_request *req)
{
    struct pause_test *pt = app_of(req)->pause;
    if (!pt) {
        http_respond(req, 200, "text/plain", "", 0);
        return;
    }
    pt->ends++;
    pt->req = NULL;
    char body[64];
    int n = snprintf(body, sizeof body, "n=%zu", pt->got.len);
    http_respond(req, 200, "text/plain", body, (size_t)n);
}

static void pause_abort(struct http_request *req)
{
    struct pause_test *pt = app_of(req)->pause;
    if (!pt)
        return;
    pt->aborts++;
    if (!pt->timer_fired)
        pt->abort_before_timer = 1;
    pt->req = NULL;
}

static const struct http_body_ops pause_ops = {
    .start = NULL, .data = pause_data, .end = pause_end, .abort = pause_abort};

static const struct http_route test_routes[] = {
    {HTTP_GET, "/hello", http_toy_hello, NULL, 0, 0},
    {HTTP_POST, "/echo", http_toy_echo, NULL, ECHO_LIMIT, 0},
    {HTTP_GET, "/items/:id", h_item, NULL, 0, 0},
    {HTTP_GET, "/v1/api/batch-calls/:id", h_batch, NULL, 0, 0},
    {HTTP_GET, "/secret", h_secret, NULL, 0, HTTP_TOY_AUTH},
    {HTTP_POST, "/secret", h_secret, NULL, 0, HTTP_TOY_AUTH},
    {HTTP_POST, "/upload", NULL, &http_toy_upload_ops, UPLOAD_LIMIT, 0},
    {HTTP_GET, "/later", h_later, NULL, 0, 0},
    {HTTP_GET, "/big", h_big, NULL, 0, 0},
    {HTTP_POST, "/pause", NULL, &pause_ops, 1024 * 1024, 0},
};

static void on_response(struct http_request *req, int status, uint64_t duration_ns)
{
    (void)status;
    (void)duration_ns;
    app_of(req)->responses++;
}

static void on_drained(struct http_server *srv)
{
    ((struct app *)srv->cfg.app)->drained++;
}

/* ---- harness: loop, server, clients ---- */

struct harness {
    uv_loop_t loop;
    struct http_server srv;
    struct app app;
    uv_timer_t guard; /* bounds the waits that block in the loop */
    int guard_fired;
};

static struct http_server_config base_config(struct harness *h)
{
    struct http_server_config cfg = {
        .max_connections = 16,
        .header_timeout_ms = LONG_TIMEOUT,
        .idle_timeout_ms = LONG_TIMEOUT,
        .body_timeout_ms = LONG_TIMEOUT,
        .linger_ms = LONG_TIMEOUT,
        .routes = test_routes,
        .nroutes = sizeof test_routes / sizeof test_routes[0],
        .alias_from = "/v1/batch-calls",
        .alias_to = "/v1/api/batch-calls",
        .request_ctx_size = sizeof(struct http_toy_upload),
        .on_head = http_toy_on_head,
        .on_response = on_response,
        .app = &h->app,
    };
    return cfg;
}

/* The harness is on the heap: struct http_server holds a 64 KiB read buffer. Tests change
 * h->srv.cfg afterwards for other limits. */
static struct harness *harness_new(void)
{
    struct harness *h = calloc(1, sizeof *h);
    CHECK_INT(uv_loop_init(&h->loop), 0);
    struct http_server_config c = base_config(h);
    CHECK_INT(http_server_init(&h->srv, &h->loop, &c), 0);
    uv_timer_init(&h->loop, &h->guard);
    h->guard.data = h;
    return h;
}

static void on_leftover(uv_handle_t *handle, void *arg)
{
    int *n = arg;
    if (uv_is_closing(handle))
        return;
    (*n)++;
    fprintf(stderr, "leftover libuv handle: %s\n", uv_handle_type_name(handle->type));
    uv_close(handle, NULL);
}

/* Closes the server's handles (the listener, and the idle handle of yielded bodies if one was
 * needed) and the guard, then checks that nothing else is open: every connection must have been
 * closed by the test already. */
static void harness_free(struct harness *h)
{
    CHECK_INT(h->srv.nconns, 0);
    CHECK_INT(h->srv.nrejected, 0);
    http_server_close(&h->srv, NULL);
    uv_close((uv_handle_t *)&h->guard, NULL);
    for (int i = 0; i < 4; i++)
        uv_run(&h->loop, UV_RUN_NOWAIT);
    int leftovers = 0;
    uv_walk(&h->loop, on_leftover, &leftovers);
    CHECK_INT(leftovers, 0);
    for (int i = 0; i < 4; i++)
        uv_run(&h->loop, UV_RUN_NOWAIT);
    CHECK_INT(uv_loop_close(&h->loop), 0);
    free(h);
}

/* Runs the loop without blocking until the server has read what the client sent (a server that
 * stopped reading on purpose is given a bounded number of rounds). */
static void pump(struct harness *h, struct sockpeer *cl)
{
    for (int i = 0; i < 40; i++) {
        uv_run(&h->loop, UV_RUN_NOWAIT);
        if (cl) {
            sockpeer_read(cl);
            if (i >= 1 && sockpeer_unread(cl) == 0)
                return;
        }
    }
}

static void client_open(struct harness *h, struct sockpeer *cl)
{
    int fd = -1;
    CHECK_INT(sockpeer_pair(cl, &fd), 0);
    http_server_adopt(&h->srv, fd);
    pump(h, cl);
}

static void client_send(struct harness *h, struct sockpeer *cl, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(cl->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            pump(h, cl);
            continue;
        }
        if (w < 0) {
            cl->eof = 1;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
    pump(h, cl);
}

/* Closes the client's end and lets the server notice and close its own. */
static void client_close(struct harness *h, struct sockpeer *cl)
{
    close(cl->fd);
    buf_free(&cl->in);
    for (int i = 0; i < 100 && h->srv.nconns + h->srv.nrejected > 0; i++)
        uv_run(&h->loop, UV_RUN_NOWAIT);
    uv_run(&h->loop, UV_RUN_NOWAIT);
}

/* ---- response parsing ---- */

/* Finds header `name` in the head [p, end) and copies its value into out. */
static int find_header(const char *p, const char *end, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        size_t llen = (size_t)(eol - p);
        if (llen > 0 && p[llen - 1] == '\r')
            llen--;
        if (llen > nlen + 1 && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            while (v < p + llen && *v == ' ')
                v++;
            snprintf(out, cap, "%.*s", (int)(p + llen - v), v);
            return 1;
        }
        p = eol + 1;
    }
    out[0] = '\0';
    return 0;
}

/* Appends a summary of every complete response in in to out; returns how many there were, and
 * how many of them were final (not 1xx) in *finals. The bytes of an incomplete response at the
 * end are reported as "partial(N)". */
static int summarise_responses(const struct buf *in, struct buf *out, int *finals)
{
    const char *p = in->data, *end = in->data + in->len;
    int count = 0;
    *finals = 0;
    while (p < end) {
        const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hend)
            break;
        if (hend - p < 13 || memcmp(p, "HTTP/1.1 ", 9) != 0 || !isdigit((unsigned char)p[9]) ||
            !isdigit((unsigned char)p[10]) || !isdigit((unsigned char)p[11]) || p[12] != ' ') {
            buf_printf(out, "%sgarbage", count ? " | " : "");
            return count;
        }
        int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
        const char *headers = memchr(p, '\n', (size_t)(hend - p)) + 1;
        const char *body = hend + 4;
        char conn[32], allow[64], echo[64], type[64], date[64], len[32];
        if (status < 200) {
            buf_printf(out, "%s%d", count ? " | " : "", status);
            count++;
            p = body;
            continue;
        }
        int has_len = find_header(headers, hend + 2, "Content-Length", len, sizeof len);
        size_t blen = has_len ? strtoul(len, NULL, 10) : 0;
        if ((size_t)(end - body) < blen)
            break;
        find_header(headers, hend + 2, "Connection", conn, sizeof conn);
        buf_printf(out, "%s%d %s", count ? " | " : "", status, conn);
        if (find_header(headers, hend + 2, "Allow", allow, sizeof allow))
            buf_printf(out, " allow=%s", allow);
        if (find_header(headers, hend + 2, "X-Echo", echo, sizeof echo))
            buf_printf(out, " x-echo=%s", echo);
        int has_type = find_header(headers, hend + 2, "Content-Type", type, sizeof type);
        if (!has_len || !has_type || !find_header(headers, hend + 2, "Date", date, sizeof date))
            buf_printf(out, " BAD-HEAD");
        static const char json_error[] = "{\"error\":\"";
        if (strncmp(type, "application/json", 16) == 0 && blen > sizeof json_error - 1 &&
            memcmp(body, json_error, sizeof json_error - 1) == 0) {
            const char *code = body + sizeof json_error - 1;
            const char *q = memchr(code, '"', blen - (sizeof json_error - 1));
            buf_printf(out, " err=%.*s", q ? (int)(q - code) : 0, code);
        } else if (blen > 100) {
            buf_printf(out, " <%zu bytes>", blen);
        } else if (blen) {
            buf_printf(out, " %.*s", (int)blen, body);
        }
        count++;
        (*finals)++;
        p = body + blen;
    }
    if (p < end)
        buf_printf(out, "%spartial(%zu)", count ? " | " : "", (size_t)(end - p));
    return count;
}

static int count_responses(const struct buf *in)
{
    struct buf tmp = {0};
    int finals;
    int n = summarise_responses(in, &tmp, &finals);
    buf_free(&tmp);
    return n;
}

/* Runs the loop until want responses have arrived (or a bounded number of rounds passed), then a
 * few more rounds so that a closing server is seen closing and extra output is seen too. */
static void collect(struct harness *h, struct sockpeer *cl, int want)
{
    for (int i = 0; i < 200 && count_responses(&cl->in) < want && !cl->eof; i++)
        pump(h, cl);
    for (int i = 0; i < 8; i++)
        pump(h, cl);
}

static void on_guard(uv_timer_t *t)
{
    struct harness *h = t->data;
    h->guard_fired = 1;
    uv_stop(&h->loop);
}

/* Runs the loop, blocking, until the client has want responses and (if want_eof) has seen the
 * server close, or until ms milliseconds have passed. Returns the milliseconds waited. */
static uint64_t wait_for(struct harness *h, struct sockpeer *cl, int want, int want_eof,
                         uint64_t ms)
{
    uint64_t start = uv_hrtime();
    h->guard_fired = 0;
    uv_timer_start(&h->guard, on_guard, ms, 0);
    while (!h->guard_fired) {
        sockpeer_read(cl);
        if (count_responses(&cl->in) >= want && (!want_eof || cl->eof))
            break;
        uv_run(&h->loop, UV_RUN_ONCE);
    }
    uv_timer_stop(&h->guard);
    sockpeer_read(cl);
    return (uv_hrtime() - start) / 1000000;
}

/* The client's view so far: the responses and whether the server closed. With check_hook, a
 * count of on_response calls different from the final responses received is shown too. */
static void summarise_client(struct harness *h, const struct sockpeer *cl, int check_hook,
                             struct buf *out)
{
    int finals;
    summarise_responses(&cl->in, out, &finals);
    buf_printf(out, " || %s", cl->eof ? "closed" : "open");
    if (check_hook && h->app.responses != finals)
        buf_printf(out, " [on_response=%d]", h->app.responses);
}

/* Milliseconds since t0 (uv_hrtime). A timeout is measured from before the action that arms
 * it: counted from when the wait began, a test descheduled in between would see it fire early. */
static uint64_t ms_since(uint64_t t0)
{
    return (uv_hrtime() - t0) / 1000000;
}

/* ---- the table ---- */

/* The expected summary ends with the counts of application callbacks when any is not zero:
 * " [starts=S ends=E aborts=A secret=C]". */
struct server_case {
    const char *name;
    const char *request;         /* NULL: built by make */
    void (*make)(struct buf *b); /* builds a request too large for a literal */
    const char *expect;
};

static void repeat(struct buf *b, char ch, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_append(b, &ch, 1);
}

/* A URL of exactly len bytes: "/hello?q=aaa...". */
static void make_url(struct buf *b, size_t len)
{
    buf_append_str(b, "GET /hello?q=");
    repeat(b, 'a', len - 9);
    buf_append_str(b, " HTTP/1.1\r\nHost: x\r\n\r\n");
}

static void make_url_max(struct buf *b)
{
    make_url(b, HTTP_MAX_URL);
}

static void make_url_over(struct buf *b)
{
    make_url(b, HTTP_MAX_URL + 1);
}

/* n header fields in all, Host included. */
static void make_headers(struct buf *b, int n)
{
    buf_append_str(b, "GET /hello HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < n - 1; i++)
        buf_printf(b, "H%d: v\r\n", i);
    buf_append_str(b, "\r\n");
}

static void make_headers_max(struct buf *b)
{
    make_headers(b, HTTP_MAX_HEADERS);
}

static void make_headers_over(struct buf *b)
{
    make_headers(b, HTTP_MAX_HEADERS + 1);
}

/* Host and one big header whose names, values and ": " plus CRLF come to total bytes, the size
 * the server counts against HTTP_MAX_HEADER_SIZE ("Host: x\r\n" counts 9). */
static void make_big_header(struct buf *b, size_t total)
{
    buf_append_str(b, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: ");
    repeat(b, 'b', total - 9 - 9);
    buf_append_str(b, "\r\n\r\n");
}

static void make_header_size_max(struct buf *b)
{
    make_big_header(b, HTTP_MAX_HEADER_SIZE);
}

static void make_header_size_over(struct buf *b)
{
    make_big_header(b, HTTP_MAX_HEADER_SIZE + 1);
}

/* Many small headers that together pass the size limit well before the count limit. */
static void make_header_size_many(struct buf *b)
{
    buf_append_str(b, "GET /hello HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 90; i++) {
        buf_printf(b, "X-H%02d: ", i);
        repeat(b, 'v', 200);
        buf_append_str(b, "\r\n");
    }
    buf_append_str(b, "\r\n");
}

/* A NUL byte cannot be in a string literal request. */
static void make_nul_url(struct buf *b)
{
    buf_append(b, "GET /hel\0lo HTTP/1.1\r\nHost: x\r\n\r\n", 25);
}

static const struct server_case server_cases[] = {
    {"simple GET", "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", NULL, "200 keep-alive hi || open"},
    {"GET without headers", "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", NULL,
     "200 keep-alive hi || open"},
    {"pipelined",
     "GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /items/42 HTTP/1.1\r\nHost: x\r\n\r\n"
     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
     NULL, "200 keep-alive hi | 200 keep-alive 42 | 200 keep-alive abc || open"},
    {"params and query", "GET /items/a%20b?x=1&y=2 HTTP/1.1\r\nHost: x\r\n\r\n", NULL,
     "200 keep-alive a%20b || open"},
    {"Content-Length echo",
     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world", NULL,
     "200 keep-alive hello world || open"},
    {"Content-Length 0", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", NULL,
     "200 keep-alive || open"},
    {"body at the limit",
     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 64\r\n\r\n"
     "0123456789012345678901234567890123456789012345678901234567890123",
     NULL,
     "200 keep-alive 0123456789012345678901234567890123456789012345678901234567890123 || open"},
    {"request headers readable",
     "POST /echo HTTP/1.1\r\nHost: x\r\nX-Echo: yes\r\nContent-Length: 2\r\n\r\nok", NULL,
     "200 keep-alive x-echo=yes ok || open"},
    {"chunked echo",
     "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
     NULL, "200 keep-alive hello world || open"},
    {"chunk extensions",
     "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     "5;a=b\r\nhello\r\n6;name=\"v\";x\r\n world\r\n0;last\r\n\r\n",
     NULL, "200 keep-alive hello world || open"},
    {"chunked then pipelined",
     "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     "3\r\nabc\r\n0\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
     NULL, "200 keep-alive abc | 200 keep-alive hi || open"},
    {"100-continue",
     "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
     NULL, "100 | 200 keep-alive hello || open"},
    {"100-continue refused by size",
     "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 65\r\n\r\n", NULL,
     "413 close err=payload_too_large || closed"},
    {"100-continue without body", "GET /hello HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n",
     NULL, "200 keep-alive hi || open"},
    {"URL at the limit", NULL, make_url_max, "200 keep-alive hi || open"},
    {"URL too long", NULL, make_url_over, "414 close err=uri_too_long || closed"},
    {"100 headers", NULL, make_headers_max, "200 keep-alive hi || open"},
    {"101 headers", NULL, make_headers_over, "431 close err=headers_too_large || closed"},
    {"headers at 16 KiB", NULL, make_header_size_max, "200 keep-alive hi || open"},
    {"headers over 16 KiB", NULL, make_header_size_over,
     "431 close err=headers_too_large || closed"},
    {"many headers over 16 KiB", NULL, make_header_size_many,
     "431 close err=headers_too_large || closed"},
    {"Content-Length over limit",
     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 65\r\n\r\n"
     "01234567890123456789012345678901234567890123456789012345678901234",
     NULL, "413 close err=payload_too_large || closed"},
    {"Content-Length over limit, no body",
     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n", NULL,
     "413 close err=payload_too_large || closed"},
    {"chunked over limit",
     "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     "20\r\n01234567890123456789012345678901\r\n"
     "21\r\n012345678901234567890123456789012\r\n0\r\n\r\n",
     NULL, "413 close err=payload_too_large || closed"},
    {"chunked at limit",
     "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     "20\r\n01234567890123456789012345678901\r\n"
     "20\r\n01234567890123456789012345678901\r\n0\r\n\r\n",
     NULL,
     "200 keep-alive 0123456789012345678901234567890101234567890123456789012345678901 || open"},
    {"bad method", "NOPE /hello HTTP/1.1\r\nHost: x\r\n\r\n", NULL,
     "400 close err=bad_request || closed"},
    {"bad request line", "GET /hello HTTP/1.1 x\r\n\r\n", NULL,
     "400 close err=bad_request || closed"},
    {"bad version", "GET /hello HTTP/x.y\r\n\r\n", NULL, "400 close err=bad_request || closed"},
    {"garbage", "\x01\x02\x03 hello\r\n\r\n", NULL, "400 close err=bad_request || closed"},
    {"bad header token", "GET /hello HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n", NULL,
     "400 close err=bad_request || closed"},
    {"header without colon", "GET /hello HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", NULL,
     "400 close err=bad_request || closed"},
    {"control byte in value", "GET /hello HTTP/1.1\r\nHost: x\r\nX-A: a\x01z\r\n\r\n", NULL,
     "400 close err=bad_request || closed"},
    {"bad request after a good one",
     "GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1 x\r\n\r\n", NULL,
     "200 keep-alive hi | 400 close err=bad_request || closed"},
    {"Content-Length with Transfer-Encoding",
     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
     "5\r\nhello\r\n0\r\n\r\n",
     NULL, "400 close err=bad_request || closed"},
    {"Transfer-Encoding with Content-Length",
     "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
     "5\r\nhello\r\n0\r\n\r\n",
     NULL, "400 close err=bad_request || closed"},
    {"two Content-Lengths",
     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", NULL,
     "400 close err=bad_request || closed"},
    {"Transfer-Encoding not chunked",
     "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nab", NULL,
     "400 close err=bad_request || closed"},
    {"bad chunk size",
     "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n", NULL,
     "400 close err=bad_request || closed"},
    {"404", "GET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n", NULL,
     "404 keep-alive err=not_found | 200 keep-alive hi || open"},
    {"405 with Allow",
     "DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n", NULL,
     "405 keep-alive allow=GET err=method_not_allowed | 200 keep-alive hi || open"},
    {"405 with Allow, two methods", "PUT /secret HTTP/1.1\r\nHost: x\r\n\r\n", NULL,
     "405 keep-alive allow=GET, POST err=method_not_allowed || open"},
    {"405 with a body",
     "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /hello HTTP/1.1\r\nHost: "
     "x\r\n\r\n",
     NULL, "405 close allow=GET err=method_not_allowed || closed"},
    {"alias", "GET /v1/batch-calls/b7 HTTP/1.1\r\nHost: x\r\n\r\n", NULL,
     "200 keep-alive batch b7 || open"},
    {"alias with query and slash", "GET /v1/batch-calls/b7/?a=1 HTTP/1.1\r\nHost: x\r\n\r\n", NULL,
     "200 keep-alive batch b7 || open"},
    {"canonical path", "GET /v1/api/batch-calls/b8 HTTP/1.1\r\nHost: x\r\n\r\n", NULL,
     "200 keep-alive batch b8 || open"},
    {"alias is a whole segment", "GET /v1/batch-callsx/b7 HTTP/1.1\r\nHost: x\r\n\r\n", NULL,
     "404 keep-alive err=not_found || open"},
    {"HTTP/1.0", "GET /hello HTTP/1.0\r\n\r\nGET /hello HTTP/1.0\r\n\r\n", NULL,
     "200 close hi || closed"},
    {"HTTP/1.0 keep-alive", "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", NULL,
     "200 keep-alive hi || open"},
    {"Connection: close",
     "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /hello HTTP/1.1\r\nHost: "
     "x\r\n\r\n",
     NULL, "200 close hi || closed"},
    {"absolute-form", "GET http://example.org/hello HTTP/1.1\r\nHost: example.org\r\n\r\n", NULL,
     "200 keep-alive hi || open"},
    {"absolute-form with port and query",
     "GET HTTP://example.org:8080/items/9?x=/y HTTP/1.1\r\nHost: x\r\n\r\n", NULL,
     "200 keep-alive 9 || open"},
    {"absolute-form without path", "GET http://example.org HTTP/1.1\r\nHost: x\r\n\r\n", NULL,
     "404 keep-alive err=not_found || open"},
    {"absolute-form with query only",
     "GET http://example.org?next=/hello HTTP/1.1\r\nHost: x\r\n\r\n", NULL,
     "404 keep-alive err=not_found || open"},
    {"on_head 401 without body",
     "GET /secret HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n", NULL,
     "401 keep-alive err=unauthorized | 200 keep-alive hi || open"},
    {"on_head 401 with body",
     "POST /secret HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /hello "
     "HTTP/1.1\r\nHost: x\r\n\r\n",
     NULL, "401 close err=unauthorized || closed"},
    {"on_head 401 with chunked body",
     "POST /secret HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
     "chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
     NULL, "401 close err=unauthorized || closed"},
    {"on_head 401 with 100-continue",
     "POST /secret HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
     NULL, "401 close err=unauthorized || closed"},
    {"stream", "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789", NULL,
     "200 keep-alive n=10 || open [starts=1 ends=1 aborts=0 secret=0]"},
    {"stream chunked then pipelined",
     "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
     "chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
     "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
     NULL, "200 keep-alive n=7 | 200 keep-alive hi || open [starts=1 ends=1 aborts=0 secret=0]"},
    {"stream 100-continue",
     "POST /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nab",
     NULL, "100 | 200 keep-alive n=2 || open [starts=1 ends=1 aborts=0 secret=0]"},
    {"two streams pipelined",
     "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcPOST /upload "
     "HTTP/1.1\r\nHost: x\r\n"
     "Content-Length: 4\r\n\r\ndefg",
     NULL, "200 keep-alive n=3 | 200 keep-alive n=4 || open [starts=2 ends=2 aborts=0 secret=0]"},
    {"stream Content-Length over limit",
     "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 33\r\n\r\n", NULL,
     "413 close err=payload_too_large || closed"},
    {"stream chunked over limit",
     "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     "20\r\n01234567890123456789012345678901\r\n1\r\nx\r\n0\r\n\r\n",
     NULL, "413 close err=payload_too_large || closed [starts=1 ends=0 aborts=1 secret=0]"},
    {"stream refused by data()",
     "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab!cd", NULL,
     "422 close err=bad_upload || closed [starts=1 ends=0 aborts=1 secret=0]"},
    {"stream client gone", "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234",
     NULL, " || open [starts=1 ends=0 aborts=1 secret=0]"},
    {"stream client gone before body",
     "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n", NULL,
     " || open [starts=1 ends=0 aborts=1 secret=0]"},
    {"stream without body", "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", NULL,
     "200 keep-alive n=0 || open [starts=1 ends=1 aborts=0 secret=0]"},
    {"stream refused by start()",
     "POST /upload HTTP/1.1\r\nHost: x\r\nX-Refuse: 1\r\nExpect: 100-continue\r\nContent-Length: "
     "3\r\n\r\nabc",
     NULL, "403 close err=refused || closed [starts=1 ends=0 aborts=0 secret=0]"},
    {"stream refused by start(), no body",
     "POST /upload HTTP/1.1\r\nHost: x\r\nX-Refuse: 1\r\n\r\n"
     "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
     NULL,
     "403 keep-alive err=refused | 200 keep-alive hi || open [starts=1 ends=0 aborts=0 secret=0]"},
    {"negative Content-Length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
     NULL, "400 close err=bad_request || closed"},
    {"Content-Length overflow",
     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", NULL,
     "400 close err=bad_request || closed"},
    {"empty header name", "GET /hello HTTP/1.1\r\nHost: x\r\n: x\r\n\r\n", NULL,
     "400 close err=bad_request || closed"},
    {"NUL in URL", NULL, make_nul_url, "400 close err=bad_request || closed"},
    {"HTTP/0.9 request line", "GET /hello\r\n\r\n", NULL, "400 close err=bad_request || closed"},
    {"incomplete head", "GET /hello HTTP/1.1\r\nHost: x\r\n", NULL, " || open"},
    /* RFC 9112 3.2: exactly one Host in HTTP/1.1 (HTTP/1.0 has none). */
    {"HTTP/1.1 without Host", "GET /hello HTTP/1.1\r\n\r\n", NULL,
     "400 close err=bad_request || closed"},
    {"HTTP/1.1 with two Hosts", "GET /hello HTTP/1.1\r\nHost: x\r\nhost: y\r\n\r\n", NULL,
     "400 close err=bad_request || closed"},
    /* RFC 9112 5.2: obs-fold is rejected, wherever the reads split it. */
    {"obs-fold", "GET /hello HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", NULL,
     "400 close err=bad_request || closed"},
    {"obs-fold with a tab", "GET /hello HTTP/1.1\r\nX-A: a\r\n\tb\r\nHost: x\r\n\r\n", NULL,
     "400 close err=bad_request || closed"},
    {"obs-fold of an empty value", "GET /hello HTTP/1.1\r\nHost: x\r\nX-A:\r\n  b\r\n\r\n", NULL,
     "400 close err=bad_request || closed"},
    {"obs-fold of Host", "GET /hello HTTP/1.1\r\nHost: x\r\n y\r\n\r\n", NULL,
     "400 close err=bad_request || closed"},
    {"empty values and inner spaces are not folds",
     "GET /hello HTTP/1.1\r\nX-A:\r\nX-B: \r\nX-C: a  b \t c\r\nHost: x\r\n\r\n", NULL,
     "200 keep-alive hi || open"},
    /* RFC 9110 5.5: a field value has no surrounding whitespace. */
    {"header value trimmed",
     "POST /echo HTTP/1.1\r\nHost: x\r\nX-Echo: \t yes \t \r\nContent-Length: 2\r\n\r\nok", NULL,
     "200 keep-alive x-echo=yes ok || open"},
};

/* One run: a fresh connection gets the request in the given pieces. The summary also records the
 * application callbacks that happened, counted after the client has gone. */
static void run_once(struct harness *h, const struct buf *req, size_t split, int bytewise, int want,
                     struct buf *out)
{
    memset(&h->app, 0, sizeof h->app);
    struct sockpeer cl;
    client_open(h, &cl);
    if (bytewise) {
        for (size_t i = 0; i < req->len; i++)
            client_send(h, &cl, req->data + i, 1);
    } else if (split) {
        client_send(h, &cl, req->data, split);
        client_send(h, &cl, req->data + split, req->len - split);
    } else {
        client_send(h, &cl, req->data, req->len);
    }
    collect(h, &cl, want);
    out->len = 0;
    summarise_client(h, &cl, 1, out);
    client_close(h, &cl);
    struct app *a = &h->app;
    if (a->toy.stream_starts || a->toy.stream_ends || a->toy.stream_aborts || a->secret_calls)
        buf_printf(out, " [starts=%d ends=%d aborts=%d secret=%d]", a->toy.stream_starts,
                   a->toy.stream_ends, a->toy.stream_aborts, a->secret_calls);
    sockpeer_cstr(out);
}

static int expected_responses(const char *expect)
{
    if (strncmp(expect, " ||", 3) == 0)
        return 0;
    int n = 1;
    for (const char *p = expect; (p = strstr(p, " | ")) != NULL; p += 3)
        n++;
    return n;
}

static void run_case(const struct server_case *sc)
{
    struct buf req = {0}, want = {0}, got = {0};
    if (sc->make)
        sc->make(&req);
    else
        buf_append_str(&req, sc->request);
    buf_append_str(&want, sc->expect);
    sockpeer_cstr(&want);
    int nresp = expected_responses(sc->expect);
    struct harness *h = harness_new();

    run_once(h, &req, 0, 0, nresp, &got);
    CHECK_REPORT(strcmp(got.data, want.data) == 0, "%s, whole: got \"%s\", want \"%s\"", sc->name,
                 got.data, want.data);

    size_t bad = 0, first = 0;
    struct buf first_got = {0};
    for (size_t k = 1; k < req.len; k++) {
        run_once(h, &req, k, 0, nresp, &got);
        if (strcmp(got.data, want.data) != 0 && bad++ == 0) {
            first = k;
            buf_append(&first_got, got.data, got.len);
            sockpeer_cstr(&first_got);
        }
    }
    CHECK_REPORT(bad == 0, "%s, split: %zu of %zu offsets differ, first at %zu: got \"%s\"",
                 sc->name, bad, req.len - 1, first, first_got.data);

    run_once(h, &req, 0, 1, nresp, &got);
    CHECK_REPORT(strcmp(got.data, want.data) == 0, "%s, bytewise: got \"%s\", want \"%s\"",
                 sc->name, got.data, want.data);

    harness_free(h);
    buf_free(&first_got);
    buf_free(&req);
    buf_free(&want);
    buf_free(&got);
}

static void test_table(void)
{
    for (size_t i = 0; i < sizeof server_cases / sizeof server_cases[0]; i++)
        run_case(&server_cases[i]);
}

/* Every byte in a header name: the RFC 9110 token characters are taken, any other is a 400
 * (':' ends the name, CR and LF the line, so they cannot be tried there). */
static void test_header_name_bytes(void)
{
    static const char tchars[] = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    struct harness *h = harness_new();
    struct buf req = {0}, got = {0};
    size_t taken = 0;
    for (int ch = 0; ch < 256; ch++) {
        if (ch == ':' || ch == '\r' || ch == '\n')
            continue;
        int token = ch != 0 && memchr(tchars, ch, sizeof tchars - 1) != NULL;
        req.len = 0;
        buf_append_str(&req, "GET /hello HTTP/1.1\r\nHost: x\r\nX");
        buf_append(&req, (char[]){(char)ch}, 1);
        buf_append_str(&req, "y: 1\r\n\r\n");
        run_once(h, &req, 0, 0, 1, &got);
        const char *want =
            token ? "200 keep-alive hi || open" : "400 close err=bad_request || closed";
        CHECK_REPORT(strcmp(got.data, want) == 0, "byte 0x%02x: got \"%s\", want \"%s\"", ch,
                     got.data, want);
        taken += token;
    }
    CHECK_INT(taken, sizeof tchars - 1);
    harness_free(h);
    buf_free(&req);
    buf_free(&got);
}

/* Chunked trailers arrive after the head was routed; the handler must still see valid request
 * headers and params. A long trailer makes the server's head buffer grow. (This test is last in
 * CHECK_MAIN because, while the server keeps trailers in that buffer, ASan stops the program
 * here.) */
static void make_trailers(struct buf *b)
{
    buf_append_str(
        b, "POST /echo HTTP/1.1\r\nHost: x\r\nX-Echo: yes\r\nTransfer-Encoding: chunked\r\n\r\n"
           "3\r\nabc\r\n0\r\nX-Trailer: ");
    repeat(b, 't', 3000);
    buf_append_str(b, "\r\n\r\n");
}

static const struct server_case trailer_case = {"chunked trailers", NULL, make_trailers,
                                                "200 keep-alive x-echo=yes abc || open"};

static void test_trailers(void)
{
    run_case(&trailer_case);
}

/* ---- connection-level tests ---- */

static void summary_is(struct harness *h, struct sockpeer *cl, const char *expect)
{
    struct buf got = {0};
    summarise_client(h, cl, 0, &got);
    CHECK_STR(sockpeer_cstr(&got), expect);
    buf_free(&got);
}

/* A request answered later holds the pipelined requests behind it; each of them is answered once,
 * in order, and nothing is parsed twice. */
static void test_pipelined_behind_deferred(void)
{
    struct harness *h = harness_new();
    struct sockpeer cl;
    client_open(h, &cl);
    static const char round1[] =
        "GET /later HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    client_send(h, &cl, round1, sizeof round1 - 1);
    collect(h, &cl, 1);
    CHECK(h->app.later != NULL);
    CHECK_INT(cl.in.len, 0);
    if (h->app.later) {
        http_respond(h->app.later, 200, "text/plain", "later", 5);
        h->app.later = NULL;
    }
    collect(h, &cl, 2);
    summary_is(h, &cl, "200 keep-alive later | 200 keep-alive hi || open");

    cl.in.len = 0;
    h->app.responses = 0;
    static const char round2[] =
        "GET /later HTTP/1.1\r\nHost: x\r\n\r\nGET /items/7 HTTP/1.1\r\nHost: x\r\n\r\n";
    client_send(h, &cl, round2, sizeof round2 - 1);
    collect(h, &cl, 1);
    CHECK(h->app.later != NULL);
    if (h->app.later) {
        http_respond(h->app.later, 200, "text/plain", "later", 5);
        h->app.later = NULL;
    }
    collect(h, &cl, 2);
    summary_is(h, &cl, "200 keep-alive later | 200 keep-alive 7 || open");
    client_close(h, &cl);
    harness_free(h);
}

/* A deferred request on a connection that is not kept alive: once answered, the server notices
 * the client closing and closes too, without waiting for the linger timeout. */
static void test_deferred_close_notices_eof(void)
{
    struct harness *h = harness_new();
    struct sockpeer cl;
    client_open(h, &cl);
    static const char req[] = "GET /later HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    client_send(h, &cl, req, sizeof req - 1);
    CHECK(h->app.later != NULL);
    if (h->app.later)
        http_respond(h->app.later, 200, "text/plain", "later", 5);
    collect(h, &cl, 1);
    summary_is(h, &cl, "200 close later || closed");
    client_close(h, &cl);
    CHECK_INT(h->srv.nconns, 0);
    /* Clean up whatever the failure above left open, so the next checks stay meaningful. */
    http_server_close_all(&h->srv);
    uv_run(&h->loop, UV_RUN_NOWAIT);
    harness_free(h);
}

/* Output over the high-water mark pauses parsing until the client has read it; the requests held
 * back meanwhile are answered once each, in order, in this round and the next. */
static void test_output_high_water(void)
{
    struct harness *h = harness_new();
    struct buf req = {0}, want = {0};
    for (int i = 0; i < 20; i++) {
        buf_append_str(&req, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
        buf_printf(&want, "%s200 keep-alive <65536 bytes>", i ? " | " : "");
    }
    buf_append_str(&want, " || open");
    sockpeer_cstr(&want);
    struct sockpeer cl;
    client_open(h, &cl);
    for (int round = 0; round < 3; round++) {
        cl.in.len = 0;
        client_send(h, &cl, req.data, req.len);
        collect(h, &cl, 20);
        int n = count_responses(&cl.in);
        CHECK_REPORT(n == 20, "round %d: %d responses to 20 requests", round, n);
        if (n == 20)
            summary_is(h, &cl, want.data);
    }
    client_close(h, &cl);
    buf_free(&req);
    buf_free(&want);
    harness_free(h);
}

/* A client that half-closes after its request still gets the deferred answer. (Reading is
 * stopped while the handler works, so the server learns of the half-close only after answering,
 * and the answer still says keep-alive.) */
static void test_half_close_while_handling(void)
{
    struct harness *h = harness_new();
    struct sockpeer cl;
    client_open(h, &cl);
    static const char req[] = "GET /later HTTP/1.1\r\nHost: x\r\n\r\n";
    client_send(h, &cl, req, sizeof req - 1);
    shutdown(cl.fd, SHUT_WR);
    pump(h, &cl);
    CHECK(h->app.later != NULL);
    if (h->app.later)
        http_respond(h->app.later, 200, "text/plain", "later", 5);
    collect(h, &cl, 1);
    summary_is(h, &cl, "200 keep-alive later || closed");
    CHECK_INT(h->srv.nconns, 0);
    client_close(h, &cl);
    harness_free(h);
}

static void test_connection_cap(void)
{
    struct harness *h = harness_new();
    h->srv.cfg.max_connections = 1;
    struct sockpeer a, b, c;
    client_open(h, &a);
    client_open(h, &b);
    collect(h, &b, 1);
    summary_is(h, &b, "503 close err=too_many_connections || closed");
    CHECK_INT(h->srv.nconns, 1);
    CHECK_INT(h->srv.nrejected, 1);

    static const char req[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    client_send(h, &a, req, sizeof req - 1);
    collect(h, &a, 1);
    summary_is(h, &a, "200 keep-alive hi || open");
    client_close(h, &b);
    CHECK_INT(h->srv.nrejected, 0);
    client_close(h, &a);
    CHECK_INT(h->srv.nconns, 0);

    /* The slot is free again. */
    h->app.responses = 0;
    client_open(h, &c);
    client_send(h, &c, req, sizeof req - 1);
    collect(h, &c, 1);
    summary_is(h, &c, "200 keep-alive hi || open");
    client_close(h, &c);
    harness_free(h);
}

static void test_header_timeout(void)
{
    struct harness *h = harness_new();
    h->srv.cfg.header_timeout_ms = 50;
    struct sockpeer cl;
    uint64_t t0 = uv_hrtime();
    client_open(h, &cl);
    static const char part[] = "GET /hello HTTP/1.1\r\nHost: x\r\nHo";
    client_send(h, &cl, part, sizeof part - 1);
    wait_for(h, &cl, 1, 1, 3000);
    uint64_t waited = ms_since(t0);
    summary_is(h, &cl, "408 close err=request_timeout || closed");
    CHECK(waited >= 40 && waited < 2000);
    client_close(h, &cl);

    /* A new connection that sends nothing is closed without a response. */
    t0 = uv_hrtime();
    client_open(h, &cl);
    h->app.responses = 0;
    wait_for(h, &cl, 0, 1, 3000);
    waited = ms_since(t0);
    summary_is(h, &cl, " || closed");
    CHECK(waited >= 40 && waited < 2000);
    client_close(h, &cl);
    harness_free(h);
}

static void test_body_timeout(void)
{
    struct harness *h = harness_new();
    h->srv.cfg.body_timeout_ms = 50;
    struct sockpeer cl;
    client_open(h, &cl);
    static const char part[] = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123";
    client_send(h, &cl, part, sizeof part - 1);
    wait_for(h, &cl, 1, 1, 3000);
    summary_is(h, &cl, "408 close err=request_timeout || closed");
    CHECK_INT(h->app.toy.stream_aborts, 1);
    CHECK_INT(h->app.toy.stream_ends, 0);
    client_close(h, &cl);
    CHECK_INT(h->app.toy.stream_aborts, 1);
    harness_free(h);
}

static void test_idle_timeout(void)
{
    struct harness *h = harness_new();
    h->srv.cfg.idle_timeout_ms = 50;
    struct sockpeer cl;
    client_open(h, &cl);
    static const char req[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    uint64_t t0 = uv_hrtime();
    client_send(h, &cl, req, sizeof req - 1);
    collect(h, &cl, 1);
    summary_is(h, &cl, "200 keep-alive hi || open");
    wait_for(h, &cl, 1, 1, 3000);
    uint64_t waited = ms_since(t0);
    summary_is(h, &cl, "200 keep-alive hi || closed");
    CHECK(waited >= 20 && waited < 2000);
    CHECK_INT(h->srv.nconns, 0);
    client_close(h, &cl);
    harness_free(h);
}

/* Drain closes idle connections at once; requests in progress (head or body still arriving)
 * finish with Connection: close; the drained callback runs once, after the last connection. */
static void test_drain(void)
{
    struct harness *h = harness_new();
    struct sockpeer idle, fresh, partial, upload;
    static const char hello[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char head[] = "GET /hello HTTP/1.1\r\nHost: x\r\n";
    static const char body[] =
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234";
    client_open(h, &idle);
    client_send(h, &idle, hello, sizeof hello - 1);
    collect(h, &idle, 1);
    client_open(h, &fresh);
    client_open(h, &partial);
    client_send(h, &partial, head, sizeof head - 1);
    client_open(h, &upload);
    client_send(h, &upload, body, sizeof body - 1);
    CHECK_INT(h->srv.nconns, 4);

    http_server_drain(&h->srv, on_drained);
    pump(h, &idle);
    pump(h, &fresh);
    CHECK_INT(h->srv.nconns, 2);
    CHECK(idle.eof);
    CHECK(fresh.eof);
    CHECK_INT(h->app.drained, 0);

    client_send(h, &partial, "\r\n", 2);
    collect(h, &partial, 1);
    summary_is(h, &partial, "200 close hi || closed");
    client_send(h, &upload, "56789", 5);
    collect(h, &upload, 1);
    summary_is(h, &upload, "200 close n=10 || closed");
    CHECK_INT(h->app.toy.stream_ends, 1);
    CHECK_INT(h->app.drained, 0);
    client_close(h, &idle);
    client_close(h, &fresh);
    client_close(h, &partial);
    CHECK_INT(h->app.drained, 0);
    client_close(h, &upload);
    CHECK_INT(h->srv.nconns, 0);
    CHECK_INT(h->app.drained, 1);
    harness_free(h);
}

/* Runs the loop, blocking, until the server has no connection left or ms have passed. */
static void wait_until_no_connections(struct harness *h, uint64_t ms)
{
    h->guard_fired = 0;
    uv_timer_start(&h->guard, on_guard, ms, 0);
    while (!h->guard_fired && h->srv.nconns + h->srv.nrejected > 0)
        uv_run(&h->loop, UV_RUN_ONCE);
    uv_timer_stop(&h->guard);
}

/* Drain with a request whose handler answers later: the answer goes out with Connection: close,
 * and when the client then closes, the connection and the drain end at once. */
static void test_drain_deferred(void)
{
    struct harness *h = harness_new();
    h->srv.cfg.linger_ms = 100;
    struct sockpeer busy;
    static const char later[] = "GET /later HTTP/1.1\r\nHost: x\r\n\r\n";
    client_open(h, &busy);
    client_send(h, &busy, later, sizeof later - 1);
    CHECK(h->app.later != NULL);
    http_server_drain(&h->srv, on_drained);
    pump(h, &busy);
    CHECK_INT(h->srv.nconns, 1);
    CHECK_INT(h->app.drained, 0);
    if (h->app.later)
        http_respond(h->app.later, 200, "text/plain", "later", 5);
    collect(h, &busy, 1);
    summary_is(h, &busy, "200 close later || closed");
    client_close(h, &busy);
    CHECK_INT(h->srv.nconns, 0);
    CHECK_INT(h->app.drained, 1);
    /* Whatever happened above, the linger timeout closes the connection in the end. */
    wait_until_no_connections(h, 3000);
    CHECK_INT(h->srv.nconns, 0);
    CHECK_INT(h->app.drained, 1);
    harness_free(h);
}

/* Drain with nothing open calls back at once. */
static void test_drain_empty(void)
{
    struct harness *h = harness_new();
    http_server_drain(&h->srv, on_drained);
    CHECK_INT(h->app.drained, 1);
    harness_free(h);
}

/* close_all ends a streaming upload in progress: abort() runs once. */
static void test_close_all_aborts_stream(void)
{
    struct harness *h = harness_new();
    struct sockpeer cl;
    client_open(h, &cl);
    static const char part[] = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123";
    client_send(h, &cl, part, sizeof part - 1);
    http_server_close_all(&h->srv);
    pump(h, &cl);
    CHECK_INT(h->app.toy.stream_aborts, 1);
    CHECK_INT(h->app.toy.stream_ends, 0);
    CHECK(cl.eof);
    CHECK_INT(h->srv.nconns, 0);
    client_close(h, &cl);
    CHECK_INT(h->app.toy.stream_aborts, 1);
    harness_free(h);
}

/* Many pipelined requests in one write come back complete and in order. */
static void test_many_pipelined(void)
{
    struct harness *h = harness_new();
    struct buf req = {0}, want = {0};
    for (int i = 0; i < 500; i++) {
        buf_printf(&req, "GET /items/%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
        buf_printf(&want, "%s200 keep-alive %d", i ? " | " : "", i);
    }
    buf_append_str(&want, " || open");
    sockpeer_cstr(&want);
    struct sockpeer cl;
    client_open(h, &cl);
    client_send(h, &cl, req.data, req.len);
    collect(h, &cl, 500);
    summary_is(h, &cl, want.data);
    client_close(h, &cl);
    buf_free(&req);
    buf_free(&want);
    harness_free(h);
}

/* ---- pausing a streamed body (http_request_pause / http_request_resume) ---- */

static void pause_setup(struct harness *h, struct pause_test *pt, enum pause_mode mode,
                        size_t body_len, uint64_t resume_ms)
{
    memset(pt, 0, sizeof *pt);
    pt->mode = mode;
    pt->body_len = body_len;
    pt->resume_ms = resume_ms;
    uv_timer_init(&h->loop, &pt->timer);
    pt->timer.data = pt;
    h->app.pause = pt;
}

/* Waits (bounded) for the resume timer if it has not fired yet, then closes it. */
static void pause_teardown(struct harness *h, struct pause_test *pt)
{
    h->guard_fired = 0;
    uv_timer_start(&h->guard, on_guard, 3000, 0);
    while (!h->guard_fired && uv_is_active((uv_handle_t *)&pt->timer))
        uv_run(&h->loop, UV_RUN_ONCE);
    uv_timer_stop(&h->guard);
    uv_close((uv_handle_t *)&pt->timer, NULL);
    uv_run(&h->loop, UV_RUN_NOWAIT);
    buf_free(&pt->got);
    h->app.pause = NULL;
}

/* A body byte that depends on its position, so reordered or repeated bytes show. */
static void make_body(struct buf *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = (char)('a' + (i * 7 + i / 26) % 26);
        buf_append(b, &ch, 1);
    }
}

/* Paused after the first piece: the rest, sent meanwhile, is not delivered until the timer
 * resumes the request; then all of it arrives once, in order, and the response goes out. */
static void test_pause_resume(void)
{
    struct harness *h = harness_new();
    struct pause_test pt;
    enum { BODY = 48 * 1024, FIRST = 1000 };
    pause_setup(h, &pt, PAUSE_FIRST, BODY, 40);
    struct buf body = {0}, head = {0};
    make_body(&body, BODY);
    buf_printf(&head, "POST /pause HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", BODY);
    buf_append(&head, body.data, FIRST);
    struct sockpeer cl;
    client_open(h, &cl);
    uint64_t t0 = uv_hrtime();
    client_send(h, &cl, head.data, head.len);
    CHECK_INT(pt.pauses, 1);
    CHECK_INT(pt.data_calls, 1);
    CHECK_INT(pt.got.len, FIRST);
    /* The rest arrives while paused: it stays unread (checked only if the machine was quick
     * enough that the timer has not fired yet; calls_while_paused holds either way). */
    client_send(h, &cl, body.data + FIRST, BODY - FIRST);
    pump(h, &cl);
    CHECK_INT(pt.calls_while_paused, 0);
    if (pt.resumes == 0) {
        CHECK_INT(pt.data_calls, 1);
        CHECK_INT(pt.ends, 0);
        CHECK_INT(cl.in.len, 0);
        CHECK(sockpeer_unread(&cl) > 0);
    }

    wait_for(h, &cl, 1, 0, 3000);
    summary_is(h, &cl, "200 keep-alive n=49152 || open");
    CHECK_INT(pt.resumes, 1);
    CHECK_INT(pt.calls_while_paused, 0);
    CHECK(pt.data_calls >= 2);
    CHECK_INT(pt.got.len, BODY);
    CHECK(pt.got.len == BODY && memcmp(pt.got.data, body.data, BODY) == 0);
    CHECK_INT(pt.ends, 1);
    CHECK_INT(pt.aborts, 0);
    CHECK(pt.first_data_after_resume_ns >= pt.resumed_ns);
    CHECK((pt.resumed_ns - t0) / 1000000 >= 35);
    /* The connection goes on: a next request is served. */
    static const char hello[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    client_send(h, &cl, hello, sizeof hello - 1);
    collect(h, &cl, 2);
    summary_is(h, &cl, "200 keep-alive n=49152 | 200 keep-alive hi || open");
    client_close(h, &cl);
    pause_teardown(h, &pt);
    buf_free(&body);
    buf_free(&head);
    harness_free(h);
}

/* Paused on the body's last bytes: the message completes only after the resume, and end() runs
 * once. A request pipelined behind it is answered after it. */
static void pause_on_last(const char *request, size_t body_len, const char *expect)
{
    struct harness *h = harness_new();
    struct pause_test pt;
    pause_setup(h, &pt, PAUSE_LAST, body_len, 20);
    struct sockpeer cl;
    client_open(h, &cl);
    client_send(h, &cl, request, strlen(request));
    CHECK_INT(pt.pauses, 1);
    CHECK_INT(pt.got.len, body_len);
    if (pt.resumes == 0) {
        CHECK_INT(pt.ends, 0);
        CHECK_INT(cl.in.len, 0);
    }
    wait_for(h, &cl, expected_responses(expect), 0, 3000);
    collect(h, &cl, expected_responses(expect));
    summary_is(h, &cl, expect);
    CHECK_INT(pt.resumes, 1);
    CHECK_INT(pt.ends, 1);
    CHECK_INT(pt.aborts, 0);
    CHECK_INT(pt.calls_while_paused, 0);
    CHECK_INT(pt.got.len, body_len);
    client_close(h, &cl);
    CHECK_INT(pt.ends, 1);
    CHECK_INT(pt.aborts, 0);
    pause_teardown(h, &pt);
    harness_free(h);
}

static void test_pause_on_last_bytes(void)
{
    pause_on_last("POST /pause HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789", 10,
                  "200 keep-alive n=10 || open");
    pause_on_last("POST /pause HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789"
                  "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
                  10, "200 keep-alive n=10 | 200 keep-alive hi || open");
    pause_on_last("POST /pause HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
                  7, "200 keep-alive n=7 | 200 keep-alive hi || open");

    /* The last bytes in a read of their own. */
    struct harness *h = harness_new();
    struct pause_test pt;
    pause_setup(h, &pt, PAUSE_LAST, 10, 20);
    struct sockpeer cl;
    client_open(h, &cl);
    static const char part1[] = "POST /pause HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123";
    client_send(h, &cl, part1, sizeof part1 - 1);
    CHECK_INT(pt.pauses, 0);
    client_send(h, &cl, "456789", 6);
    CHECK_INT(pt.pauses, 1);
    if (pt.resumes == 0)
        CHECK_INT(pt.ends, 0);
    wait_for(h, &cl, 1, 0, 3000);
    summary_is(h, &cl, "200 keep-alive n=10 || open");
    CHECK_INT(pt.ends, 1);
    CHECK_INT(pt.aborts, 0);
    CHECK_INT(pt.calls_while_paused, 0);
    client_close(h, &cl);
    pause_teardown(h, &pt);
    harness_free(h);
}

/* The client goes away while the body is paused: abort() runs once, end() never, and the timer's
 * resume (made only while the request is valid) does not touch a freed request. */
static void test_pause_client_gone(void)
{
    struct harness *h = harness_new();
    struct pause_test pt;
    pause_setup(h, &pt, PAUSE_FIRST, 10, 20);
    struct sockpeer cl;
    client_open(h, &cl);
    static const char part[] = "POST /pause HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234";
    client_send(h, &cl, part, sizeof part - 1);
    CHECK_INT(pt.pauses, 1);
    close(cl.fd);
    buf_free(&cl.in);
    wait_until_no_connections(h, 3000);
    CHECK_INT(h->srv.nconns, 0);
    pause_teardown(h, &pt);
    CHECK_INT(pt.aborts, 1);
    CHECK_INT(pt.ends, 0);
    CHECK_INT(pt.timer_fired, 1);
    CHECK_INT(pt.resumes + pt.resume_skipped, 1);
    CHECK_INT(pt.calls_while_paused, 0);
    harness_free(h);
}

/* The server ends a paused request before the timer fires (shutdown, body timeout): abort() runs
 * once and the timer then finds no request to resume. */
static void test_pause_ended_by_server(void)
{
    static const char part[] = "POST /pause HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234";
    /* Shutdown. */
    struct harness *h = harness_new();
    struct pause_test pt;
    pause_setup(h, &pt, PAUSE_FIRST, 10, 20);
    struct sockpeer cl;
    client_open(h, &cl);
    client_send(h, &cl, part, sizeof part - 1);
    CHECK_INT(pt.pauses, 1);
    http_server_close_all(&h->srv);
    pump(h, &cl);
    CHECK_INT(pt.aborts, 1);
    CHECK_INT(pt.abort_before_timer, 1);
    CHECK(cl.eof);
    CHECK_INT(h->srv.nconns, 0);
    pause_teardown(h, &pt);
    CHECK_INT(pt.resume_skipped, 1);
    CHECK_INT(pt.resumes, 0);
    CHECK_INT(pt.aborts, 1);
    CHECK_INT(pt.ends, 0);
    client_close(h, &cl);
    harness_free(h);

    /* The body timeout applies while paused. */
    h = harness_new();
    h->srv.cfg.body_timeout_ms = 30;
    pause_setup(h, &pt, PAUSE_FIRST, 10, 150);
    client_open(h, &cl);
    client_send(h, &cl, part, sizeof part - 1);
    CHECK_INT(pt.pauses, 1);
    wait_for(h, &cl, 1, 1, 3000);
    summary_is(h, &cl, "408 close err=request_timeout || closed");
    CHECK_INT(pt.aborts, 1);
    CHECK_INT(pt.abort_before_timer, 1);
    client_close(h, &cl);
    pause_teardown(h, &pt);
    CHECK_INT(pt.resume_skipped, 1);
    CHECK_INT(pt.resumes, 0);
    CHECK_INT(pt.aborts, 1);
    CHECK_INT(pt.ends, 0);
    harness_free(h);
}

static void setup_quiet_logs(void)
{
    log_set_level(LOG_ERROR);
}

CHECK_MAIN(CHECK_CASE(setup_quiet_logs), CHECK_CASE(test_table), CHECK_CASE(test_header_name_bytes),
           CHECK_CASE(test_pipelined_behind_deferred), CHECK_CASE(test_deferred_close_notices_eof),
           CHECK_CASE(test_output_high_water), CHECK_CASE(test_half_close_while_handling),
           CHECK_CASE(test_connection_cap), CHECK_CASE(test_header_timeout),
           CHECK_CASE(test_body_timeout), CHECK_CASE(test_idle_timeout), CHECK_CASE(test_drain),
           CHECK_CASE(test_drain_deferred), CHECK_CASE(test_drain_empty),
           CHECK_CASE(test_close_all_aborts_stream), CHECK_CASE(test_many_pipelined),
           CHECK_CASE(test_pause_resume), CHECK_CASE(test_pause_on_last_bytes),
           CHECK_CASE(test_pause_client_gone), CHECK_CASE(test_pause_ended_by_server),
           CHECK_CASE(test_trailers))
