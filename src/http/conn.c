/* One connection: read, run the parser over what arrived, write the responses, time out, close.
 * server.c accepts connections, parse.c turns their bytes into requests and response.c queues
 * the answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/conn.h"
#include "http/parse.h"
#include "http/response.h"
#include "util/log.h"

/* Connections refused because of the cap still get a short 503; beyond this many at once they are
 * closed without one. */
#define MAX_REJECTING 64

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

void conn_set_deadline(struct http_conn *c, uint64_t timeout_ms)
{
    if (c->closing)
        return;
    if (timeout_ms == 0) {
        /* The timer is left as it is: when it fires it finds no deadline and stops. Every
         * request clears the deadline while it is handled and sets the idle one after, which
         * then costs no timer call. */
        c->deadline = 0;
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

/* Called when a request has both been parsed completely and answered. */
void conn_request_finished(struct http_conn *c)
{
    if (c->close_after_write) {
        c->state = CONN_LINGER;
        c->pending.len = 0;
        if (c->paused) {
            c->paused = 0;
            start_reading(c);
        }
        /* The response must get out first; the linger clock starts once it has. */
        conn_set_deadline(c, c->srv->cfg.body_timeout_ms + c->srv->cfg.linger_ms);
        return;
    }
    c->state = CONN_IDLE;
    conn_set_deadline(c, c->srv->cfg.idle_timeout_ms);
}

/* Ends the request with an error decided by the server itself (limits, timeouts, bad syntax):
 * the connection closes after the response. */
void conn_fail(struct http_conn *c, int status, const char *code, const char *message)
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
            conn_set_deadline(c, c->srv->cfg.linger_ms);
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

void conn_flush(struct http_conn *c)
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

/* ---- reading ---- */

static void enter_linger(struct http_conn *c)
{
    c->close_after_write = 1;
    c->pending.len = 0;
    if (c->state != CONN_LINGER) {
        c->state = CONN_LINGER;
        conn_set_deadline(c, c->srv->cfg.body_timeout_ms + c->srv->cfg.linger_ms);
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
    enum llhttp_errno e = parse_execute(c, data, len);
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
        conn_fail(c, 400, "bad_request", msg);
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

void conn_close(struct http_conn *c)
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
        conn_fail(c, 408, "request_timeout",
                  "The request was not received in time; send the whole request without pauses.");
        enter_linger(c);
        conn_flush(c);
        break;
    default:
        conn_close(c);
        break;
    }
}

/* The address a connection is counted under: IPv4 (also IPv4-mapped IPv6) as it is, IPv6 by its
 * /64, which one host or site usually owns whole. Stays zero for other sockets. */
static void peer_key(struct http_conn *c)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        c->peer[0] = 4;
        memcpy(c->peer + 1, &((const struct sockaddr_in *)&ss)->sin_addr, 4);
    } else if (ss.ss_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr;
        int v4 = memcmp(a, mapped, sizeof mapped) == 0;
        c->peer[0] = v4 ? 4 : 6;
        memcpy(c->peer + 1, v4 ? a + 12 : a, v4 ? 4 : 8);
    }
}

/* Open connections from c's address. A walk over the list: it is at most max_connections long,
 * and comparing a few bytes per connection costs less than the accept itself. */
static size_t conns_from(const struct http_server *srv, const struct http_conn *c)
{
    size_t n = 0;
    for (const struct http_conn *o = srv->conns; o; o = o->next)
        n += memcmp(o->peer, c->peer, sizeof c->peer) == 0;
    return n;
}

/* The reserved connection that has waited longest without sending a byte, or NULL. The list
 * is newest first. */
static struct http_conn *oldest_idle_reserved(const struct http_server *srv)
{
    struct http_conn *found = NULL;
    for (struct http_conn *o = srv->conns; o; o = o->next)
        if (o->reserve_only && o->state == CONN_IDLE && !o->writing && !o->out.len && !o->closing)
            found = o;
    return found;
}

/* Decides whether the accepted connection c is served, kept for reserve_flag routes only, or
 * refused (the 503's message; NULL when served). */
static const char *admit(struct http_server *srv, struct http_conn *c)
{
    const struct http_server_config *cfg = &srv->cfg;
    size_t reserve = cfg->reserved_connections;
    if (reserve > cfg->max_connections / 4)
        reserve = cfg->max_connections / 4;
    if (c->peer[0] && cfg->max_connections_per_ip &&
        conns_from(srv, c) >= cfg->max_connections_per_ip)
        return "Your address has as many connections open as one client may have "
               "(--max-connections-per-ip); reuse them (keep-alive) or close some, then retry.";
    if (srv->nconns >= cfg->max_connections) {
        /* Sockets that sit in reserved slots without asking anything must not keep a health
         * check out: the newcomer takes the slot of the one that has waited longest. */
        struct http_conn *idle = reserve ? oldest_idle_reserved(srv) : NULL;
        if (!idle)
            return "The server is at its connection limit; retry shortly.";
        conn_close(idle);
    }
    c->reserve_only = srv->nconns >= cfg->max_connections - reserve;
    return NULL;
}

/* Sets up a connection whose tcp handle is initialised; accept_from is the listener to accept
 * from, or NULL when the socket is already open (http_server_adopt). */
void conn_start(struct http_server *srv, uv_stream_t *accept_from, uv_os_sock_t fd)
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
    int rc =
        accept_from ? uv_accept(accept_from, (uv_stream_t *)&c->tcp) : uv_tcp_open(&c->tcp, fd);
    if (rc == 0)
        peer_key(c);
    const char *refusal = rc == 0 ? admit(srv, c) : NULL;
    c->rejected = rc != 0 || refusal != NULL;
    if (c->rejected) {
        srv->nrejected++;
    } else {
        c->next = srv->conns;
        if (srv->conns)
            srv->conns->prev = c;
        srv->conns = c;
        srv->nconns++;
    }
    if (rc != 0 || srv->nrejected > MAX_REJECTING) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    parse_init(c);
    if (c->rejected) {
        response_reject(c, refusal);
        c->state = CONN_LINGER;
        c->close_after_write = 1;
        conn_set_deadline(c, srv->cfg.linger_ms);
    } else {
        c->state = CONN_IDLE;
        /* A new connection must start its request promptly, unlike a kept-alive one. */
        conn_set_deadline(c, srv->cfg.header_timeout_ms);
    }
    start_reading(c);
    conn_flush(c);
}
