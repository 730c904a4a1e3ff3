/* Tests for the curl-multi client in src/http/client.c, against a real peer.
 *
 * The peer is the project's own HTTP server listening on 127.0.0.1 (an ephemeral port) on the
 * same libuv loop as the client, so one uv_run drives both ends. Its routes answer at once, later
 * (/slow, from a timer), with a large body, or with Retry-After headers. Every test ends by
 * closing the client and the server and checking that no libuv handle is left on the loop. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "http/client.h"
#include "http/http.h"
#include "http/response.h"
#include "http/router.h"
#include "http/server.h"
#include "util/buf.h"
#include "util/err.h"

#define SLOW_MS      300
#define BIG_BYTES    (2 * 1024 * 1024)
#define INSPECT_BODY (1536 * 1024)
#define WAIT_MS      10000 /* bound on every wait, so a broken client fails instead of hanging */

struct harness {
    uv_loop_t loop;
    struct http_server srv;
    struct client d;
    uv_timer_t guard;
    int guard_fired;
    int port;
    int slow_started;  /* /slow requests the peer received */
    int slow_answered; /* and answered */
    int completed;     /* done() calls of requests whose user is the harness */
    int client_closed;
    int close_in_done; /* done() closes the client */
    int start_in_done; /* done() tries to start another request; the result goes here */
    int restart_rc;
};

/* ---- the peer ---- */

struct slow {
    uv_timer_t timer;
    struct http_request *req;
    struct harness *h;
};

static void h_ok(struct http_request *req)
{
    http_respond(req, 200, "text/plain", "hello", 5);
}

static void h_echo(struct http_request *req)
{
    http_respond(req, 200, "text/plain", req->body.data, req->body.len);
}

/* Reports the request headers the client is responsible for: "-" when one is absent. */
static void h_inspect(struct http_request *req)
{
    static const char *const names[] = {"content-type", "authorization", "x-test", "expect"};
    struct buf out = {0};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const struct http_slice *v = http_header(req, names[i]);
        buf_printf(&out, "%s%s=%.*s", i ? " " : "", names[i], v ? (int)v->len : 1,
                   v ? v->ptr : "-");
    }
    http_respond(req, 200, "text/plain", out.data, out.len);
    buf_free(&out);
}

static void slow_closed(uv_handle_t *h)
{
    free(h->data);
}

static void slow_fire(uv_timer_t *t)
{
    struct slow *s = t->data;
    http_respond(s->req, 200, "text/plain", "slow", 4);
    s->h->slow_answered++;
    uv_close((uv_handle_t *)&s->timer, slow_closed);
}

/* Answers SLOW_MS later: the connection waits for the response meanwhile, even when the client
 * has gone (it half-closes), so the request stays valid until the timer fires. */
static void h_slow(struct http_request *req)
{
    struct harness *h = http_app(req);
    struct slow *s = calloc(1, sizeof *s);
    s->req = req;
    s->h = h;
    uv_timer_init(&h->loop, &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, slow_fire, SLOW_MS, 0);
    h->slow_started++;
}

static void h_big(struct http_request *req)
{
    char *body = malloc(BIG_BYTES);
    memset(body, 'x', BIG_BYTES);
    http_respond(req, 200, "text/plain", body, BIG_BYTES);
    free(body);
}

/* 429 with the Retry-After value given in the query parameter v. */
static void h_retry(struct http_request *req)
{
    char v[128];
    if (http_query(req, "v", v, sizeof v) >= 0)
        http_add_header(req, "Retry-After", "%s", v);
    http_respond(req, 429, "text/plain", "slow down", 9);
}

/* 503 with an HTTP-date Retry-After two minutes ahead. */
static void h_date(struct http_request *req)
{
    char date[64];
    time_t t = time(NULL) + 120;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    http_add_header(req, "Retry-After", "%s", date);
    http_respond(req, 503, "text/plain", "later", 5);
}

static const struct http_route routes[] = {
    {HTTP_GET, "/ok", h_ok, NULL, 0, 0},
    {HTTP_POST, "/echo", h_echo, NULL, 0, 0},
    {HTTP_POST, "/inspect", h_inspect, NULL, 2 * INSPECT_BODY, 0},
    {HTTP_GET, "/inspect", h_inspect, NULL, 0, 0},
    {HTTP_GET, "/slow", h_slow, NULL, 0, 0},
    {HTTP_GET, "/big", h_big, NULL, 0, 0},
    {HTTP_GET, "/retry", h_retry, NULL, 0, 0},
    {HTTP_GET, "/date", h_date, NULL, 0, 0},
};

/* ---- harness ---- */

static void on_guard(uv_timer_t *t)
{
    struct harness *h = t->data;
    h->guard_fired = 1;
}

/* Runs the loop until *value reaches target, or WAIT_MS passed. Returns whether it did. */
static int run_until(struct harness *h, const int *value, int target)
{
    h->guard_fired = 0;
    uv_timer_start(&h->guard, on_guard, WAIT_MS, 0);
    while (*value < target && !h->guard_fired)
        uv_run(&h->loop, UV_RUN_ONCE);
    uv_timer_stop(&h->guard);
    return *value >= target;
}

/* The harness is on the heap: struct http_server holds a 64 KiB read buffer. */
static struct harness *harness_new(size_t max_in_flight)
{
    struct harness *h = calloc(1, sizeof *h);
    CHECK_INT(uv_loop_init(&h->loop), 0);
    struct http_server_config cfg = {
        .max_connections = 256,
        .header_timeout_ms = 60000,
        .idle_timeout_ms = 60000,
        .body_timeout_ms = 60000,
        .linger_ms = 1000,
        .routes = routes,
        .nroutes = sizeof routes / sizeof routes[0],
        .app = h,
    };
    CHECK_INT(http_server_init(&h->srv, &h->loop, &cfg), 0);
    CHECK_INT(http_server_listen(&h->srv, "127.0.0.1", 0), 0);
    struct sockaddr_in addr;
    int len = sizeof addr;
    CHECK_INT(uv_tcp_getsockname(&h->srv.listener, (struct sockaddr *)&addr, &len), 0);
    h->port = ntohs(addr.sin_port);
    uv_timer_init(&h->loop, &h->guard);
    h->guard.data = h;
    CHECK_INT(client_init(&h->d, &h->loop, max_in_flight), 0);
    return h;
}

static void on_client_closed(struct client *d)
{
    struct harness *h = (struct harness *)((char *)d - offsetof(struct harness, d));
    h->client_closed++;
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

/* Closes the client (if the test did not), lets the peer answer what it still holds, closes the
 * peer and checks that the loop is empty. */
static void harness_free(struct harness *h)
{
    if (!h->d.closing)
        client_close(&h->d, on_client_closed);
    CHECK(run_until(h, &h->client_closed, 1));
    CHECK_INT(h->client_closed, 1);
    CHECK(run_until(h, &h->slow_answered, h->slow_started));
    http_server_close_all(&h->srv);
    uv_close((uv_handle_t *)&h->srv.listener, NULL);
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

static void url_for(const struct harness *h, const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "http://127.0.0.1:%d%s", h->port, path);
}

static void on_done(struct client_request *r)
{
    struct harness *h = r->user;
    h->completed++;
    if (h->start_in_done)
        h->restart_rc = client_start(&h->d, r);
    if (h->close_in_done)
        client_close(&h->d, on_client_closed);
}

/* Prepares r for a request to path on the peer (the URL is copied by client_start, so the
 * buffer only has to live until then). */
static void request_init(struct client_request *r, struct harness *h, const char *method,
                         const char *path, char *url, size_t cap)
{
    memset(r, 0, sizeof *r);
    url_for(h, path, url, cap);
    r->url = url;
    r->method = method;
    r->done = on_done;
    r->user = h;
}

/* Starts one request and runs the loop until it is done. */
static void run_one(struct harness *h, struct client_request *r)
{
    int before = h->completed;
    CHECK_INT(client_start(&h->d, r), 0);
    CHECK(run_until(h, &h->completed, before + 1));
}

/* A port nothing listens on: bound by a socket that is then closed. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    CHECK_INT(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    CHECK_INT(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    close(fd);
    return ntohs(addr.sin_port);
}

/* ---- a driver that keeps the client full ---- */

struct driver {
    struct harness *h;
    struct client_request reqs[100];
    int n;
    int started;
    int completed;
    int good; /* 200 "hello" */
    size_t max_in_flight_seen;
    char url[128];
};

static void driver_fill(struct driver *dr)
{
    while (dr->started < dr->n) {
        struct client_request *r = &dr->reqs[dr->started];
        int rc = client_start(&dr->h->d, r);
        if (rc == BC_EBUSY)
            break;
        CHECK_INT(rc, 0);
        dr->started++;
        if (dr->h->d.in_flight > dr->max_in_flight_seen)
            dr->max_in_flight_seen = dr->h->d.in_flight;
    }
}

static void driver_done(struct client_request *r)
{
    struct driver *dr = r->user;
    if (r->result == CLIENT_OK && r->status == 200 && r->response.len == 5 &&
        memcmp(r->response.data, "hello", 5) == 0)
        dr->good++;
    client_request_free(r);
    dr->completed++;
    driver_fill(dr);
}

static struct driver *driver_new(struct harness *h, int n)
{
    struct driver *dr = calloc(1, sizeof *dr);
    dr->h = h;
    dr->n = n;
    url_for(h, "/ok", dr->url, sizeof dr->url);
    for (int i = 0; i < n; i++) {
        dr->reqs[i].url = dr->url;
        dr->reqs[i].method = "GET";
        dr->reqs[i].done = driver_done;
        dr->reqs[i].user = dr;
    }
    return dr;
}

/* ---- a peer that breaks its connections ---- */

/* Reads the start of a request and hangs up, with nothing or with half a response, while the
 * client's socket is watched for the answer. */
struct rude {
    uv_tcp_t listener;
    int port;
    int truncate; /* a status line and half the body before hanging up, rather than nothing */
    int accepted;
    int open; /* connections not closed yet */
};

struct rude_conn {
    uv_tcp_t tcp;
    uv_write_t write;
    struct rude *p;
};

static void rude_alloc(uv_handle_t *h, size_t size, uv_buf_t *b)
{
    (void)size;
    static char mem[4096];
    (void)h;
    *b = uv_buf_init(mem, sizeof mem);
}

static void rude_closed(uv_handle_t *h)
{
    struct rude_conn *c = h->data;
    c->p->open--;
    free(c);
}

static void rude_written(uv_write_t *w, int status)
{
    (void)status;
    struct rude_conn *c = w->data;
    uv_close((uv_handle_t *)&c->tcp, rude_closed);
}

static void rude_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    struct rude_conn *c = s->data;
    if (n == 0)
        return;
    uv_read_stop(s);
    if (n > 0 && c->p->truncate) {
        static const char part[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf";
        uv_buf_t out = uv_buf_init((char *)part, sizeof part - 1);
        c->write.data = c;
        if (uv_write(&c->write, s, &out, 1, rude_written) == 0)
            return;
    }
    uv_close((uv_handle_t *)s, rude_closed);
}

static void rude_accept(uv_stream_t *listener, int status)
{
    struct rude *p = listener->data;
    CHECK_INT(status, 0);
    struct rude_conn *c = calloc(1, sizeof *c);
    c->p = p;
    uv_tcp_init(listener->loop, &c->tcp);
    c->tcp.data = c;
    p->open++;
    CHECK_INT(uv_accept(listener, (uv_stream_t *)&c->tcp), 0);
    p->accepted++;
    CHECK_INT(uv_read_start((uv_stream_t *)&c->tcp, rude_alloc, rude_read), 0);
}

static void rude_listen(struct rude *p, uv_loop_t *loop, int truncate)
{
    memset(p, 0, sizeof *p);
    p->truncate = truncate;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(loop, &p->listener);
    p->listener.data = p;
    CHECK_INT(uv_tcp_bind(&p->listener, (const struct sockaddr *)&addr, 0), 0);
    CHECK_INT(uv_listen((uv_stream_t *)&p->listener, 128, rude_accept), 0);
    int len = sizeof addr;
    CHECK_INT(uv_tcp_getsockname(&p->listener, (struct sockaddr *)&addr, &len), 0);
    p->port = ntohs(addr.sin_port);
}

/* Open descriptors of the process, so that a test can see that the client leaves none open. */
static int open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    CHECK(dir != NULL);
    int n = 0;
    while (readdir(dir))
        n++;
    closedir(dir);
    return n;
}

/* ---- tests ---- */

static void test_get(void)
{
    struct harness *h = harness_new(4);
    struct client_request r;
    char url[128];
    request_init(&r, h, "GET", "/ok", url, sizeof url);
    run_one(h, &r);
    CHECK_INT(r.result, CLIENT_OK);
    CHECK_INT(r.status, 200);
    CHECK_MEM(r.response.data, r.response.len, "hello");
    CHECK_INT(r.retry_after_ms, 0);
    CHECK_STR(r.error, "");
    CHECK(r.seconds > 0 && r.seconds < 5);
    CHECK(r.priv == NULL);
    CHECK_INT(h->d.in_flight, 0);
    client_request_free(&r);
    harness_free(h);
}

/* A POST body comes back; an empty body is sent as such (not read from stdin); content type,
 * extra headers and Basic credentials arrive, and no Expect header does. */
static void test_post(void)
{
    struct harness *h = harness_new(4);
    struct client_request r;
    char url[128];
    request_init(&r, h, "POST", "/echo", url, sizeof url);
    r.content_type = "application/x-www-form-urlencoded";
    buf_append_str(&r.body, "To=%2B14155550100&From=%2B14155550199");
    run_one(h, &r);
    CHECK_INT(r.result, CLIENT_OK);
    CHECK_INT(r.status, 200);
    CHECK_MEM(r.response.data, r.response.len, "To=%2B14155550100&From=%2B14155550199");
    client_request_free(&r);

    request_init(&r, h, "POST", "/echo", url, sizeof url);
    run_one(h, &r);
    CHECK_INT(r.result, CLIENT_OK);
    CHECK_INT(r.status, 200);
    CHECK_INT(r.response.len, 0);
    client_request_free(&r);

    static const char *const extra[] = {"X-Test: yes", NULL};
    request_init(&r, h, "POST", "/inspect", url, sizeof url);
    r.content_type = "application/x-www-form-urlencoded";
    r.headers = extra;
    r.userpwd = "user:pass";
    /* Over 1 MiB: curl 7.88 would otherwise send Expect: 100-continue for this body. */
    buf_reserve(&r.body, INSPECT_BODY);
    memset(r.body.data, 'x', INSPECT_BODY);
    r.body.len = INSPECT_BODY;
    run_one(h, &r);
    CHECK_INT(r.status, 200);
    CHECK_MEM(r.response.data, r.response.len,
              "content-type=application/x-www-form-urlencoded authorization=Basic dXNlcjpwYXNz "
              "x-test=yes expect=-");
    client_request_free(&r);

    /* The next request runs on the same easy handle, reset: nothing of the last one's
     * credentials, headers or body goes with it. */
    CHECK_INT(h->d.spares, 1);
    request_init(&r, h, "GET", "/inspect", url, sizeof url);
    run_one(h, &r);
    CHECK_INT(h->d.spares, 1);
    CHECK_INT(r.status, 200);
    CHECK_MEM(r.response.data, r.response.len, "content-type=- authorization=- x-test=- expect=-");
    client_request_free(&r);
    harness_free(h);
}

/* 100 requests through 10 slots: the 11th start is refused while 10 run, done() refills, all
 * complete, and keep-alive keeps the connections to about one per slot. */
static void test_many_capped(void)
{
    struct harness *h = harness_new(10);
    struct driver *dr = driver_new(h, 100);
    driver_fill(dr);
    CHECK_INT(dr->started, 10);
    CHECK_INT(h->d.in_flight, 10);
    CHECK_INT(client_start(&h->d, &dr->reqs[10]), BC_EBUSY);
    CHECK(run_until(h, &dr->completed, 100));
    CHECK_INT(dr->good, 100);
    CHECK_INT(dr->max_in_flight_seen, 10);
    CHECK_INT(h->d.in_flight, 0);
    CHECK_INT(h->d.spares, 10); /* one handle per slot, used again and again */
    CHECK(h->d.connects >= 1 && h->d.connects <= 10);
    CHECK(h->srv.nconns <= 10);
    fprintf(stderr, "  100 requests, 10 in flight: %llu connections, %llu idle kicks\n",
            (unsigned long long)h->d.connects, (unsigned long long)h->d.kicks);
    free(dr);
    harness_free(h);
}

/* Requests to more addresses than the client keeps parsed, interleaved, 10 at a time: every one
 * gets its answer, and no kept address is left marked in use. A URL curl cannot parse still ends
 * with curl's own error. */
static void test_many_urls(void)
{
    struct harness *h = harness_new(10);
    struct driver *dr = driver_new(h, 100);
    char urls[CLIENT_URLS + 3][128];
    for (int k = 0; k < CLIENT_URLS + 3; k++) {
        char path[32];
        snprintf(path, sizeof path, "/ok?v=%d", k);
        url_for(h, path, urls[k], sizeof urls[k]);
    }
    for (int i = 0; i < 100; i++)
        dr->reqs[i].url = urls[(i * 3) % (CLIENT_URLS + 3)];
    driver_fill(dr);
    CHECK(run_until(h, &dr->completed, 100));
    CHECK_INT(dr->good, 100);
    for (int k = 0; k < CLIENT_URLS; k++)
        CHECK_INT(h->d.urls[k].users, 0);
    free(dr);

    struct client_request r;
    char url[128];
    request_init(&r, h, "GET", "/ok", url, sizeof url);
    snprintf(url, sizeof url, "http://127.0.0.1:99999999/ok");
    run_one(h, &r);
    CHECK_INT(r.result, CLIENT_E_OTHER);
    CHECK(r.error[0] != '\0');
    fprintf(stderr, "  unparsable URL: %s\n", r.error);
    client_request_free(&r);
    harness_free(h);
}

/* One request at a time: every request after the first reuses the first connection. */
static void test_keep_alive(void)
{
    struct harness *h = harness_new(4);
    struct client_request r;
    char url[128];
    for (int i = 0; i < 20; i++) {
        request_init(&r, h, "GET", "/ok", url, sizeof url);
        run_one(h, &r);
        CHECK_INT(r.status, 200);
        client_request_free(&r);
    }
    CHECK_INT(h->d.connects, 1);
    CHECK_INT(h->srv.nconns, 1);
    harness_free(h);
}

static void test_timeout(void)
{
    struct harness *h = harness_new(4);
    struct client_request r;
    char url[128];
    request_init(&r, h, "GET", "/slow", url, sizeof url);
    r.timeout_ms = 100;
    run_one(h, &r);
    CHECK_INT(r.result, CLIENT_E_TIMEOUT);
    CHECK_INT(r.status, 0);
    CHECK(r.error[0] != '\0');
    CHECK(r.seconds >= 0.09 && r.seconds < 0.29);
    CHECK_INT(h->slow_answered, 0);
    client_request_free(&r);
    harness_free(h);
}

static void test_refused(void)
{
    struct harness *h = harness_new(4);
    struct client_request r;
    char url[128];
    request_init(&r, h, "GET", "/ok", url, sizeof url);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", closed_port());
    run_one(h, &r);
    CHECK_INT(r.result, CLIENT_E_CONNECT);
    CHECK_INT(r.status, 0);
    CHECK(r.error[0] != '\0');
    client_request_free(&r);
    harness_free(h);
}

/* A 2 MiB body is cut at the cap and reported; the client stays usable. */
static void test_too_large(void)
{
    struct harness *h = harness_new(4);
    struct client_request r;
    char url[128];
    request_init(&r, h, "GET", "/big", url, sizeof url);
    run_one(h, &r);
    CHECK_INT(r.result, CLIENT_E_TOO_LARGE);
    CHECK(r.response.len <= CLIENT_MAX_RESPONSE);
    CHECK(r.error[0] != '\0');
    client_request_free(&r);

    request_init(&r, h, "GET", "/ok", url, sizeof url);
    run_one(h, &r);
    CHECK_INT(r.status, 200);
    client_request_free(&r);
    harness_free(h);
}

static uint64_t retry_after_for(struct harness *h, const char *path, long *status)
{
    struct client_request r;
    char url[256];
    request_init(&r, h, "GET", path, url, sizeof url);
    run_one(h, &r);
    CHECK_INT(r.result, CLIENT_OK);
    *status = r.status;
    uint64_t ms = r.retry_after_ms;
    client_request_free(&r);
    return ms;
}

static void test_retry_after(void)
{
    struct harness *h = harness_new(4);
    long status = 0;
    CHECK_INT(retry_after_for(h, "/retry?v=7", &status), 7000);
    CHECK_INT(status, 429);
    CHECK_INT(retry_after_for(h, "/retry?v=%20120%20", &status), 120000);
    uint64_t ms = retry_after_for(h, "/date", &status);
    CHECK_INT(status, 503);
    CHECK(ms >= 118000 && ms <= 120000);
    /* A date in the past, a malformed value and no header at all give no hint. */
    CHECK_INT(retry_after_for(h, "/retry?v=Sun%2C%2006%20Nov%201994%2008%3A49%3A37%20GMT", &status),
              0);
    CHECK_INT(retry_after_for(h, "/retry?v=soon", &status), 0);
    CHECK_INT(retry_after_for(h, "/retry?v=7s", &status), 0);
    CHECK_INT(retry_after_for(h, "/retry", &status), 0);
    CHECK_INT(status, 429);
    harness_free(h);
}

/* Closing with requests in flight runs done() for each, at once, with CLIENT_E_CANCELLED; done()
 * cannot start anything new; closed_cb runs once the handles are closed, and the loop ends empty
 * (checked by harness_free). */
static void test_close_in_flight(void)
{
    struct harness *h = harness_new(8);
    struct client_request r[5];
    char url[128];
    for (int i = 0; i < 5; i++) {
        request_init(&r[i], h, "GET", "/slow", url, sizeof url);
        CHECK_INT(client_start(&h->d, &r[i]), 0);
    }
    CHECK(run_until(h, &h->slow_started, 5));
    CHECK_INT(h->completed, 0);
    h->start_in_done = 1;
    client_close(&h->d, on_client_closed);
    CHECK_INT(h->completed, 5);
    CHECK_INT(h->restart_rc, BC_EINVAL);
    CHECK_INT(h->d.in_flight, 0);
    CHECK_INT(h->client_closed, 0);
    for (int i = 0; i < 5; i++) {
        CHECK_INT(r[i].result, CLIENT_E_CANCELLED);
        CHECK(r[i].error[0] != '\0');
        client_request_free(&r[i]);
    }
    CHECK_INT(client_start(&h->d, &r[0]), BC_EINVAL);
    harness_free(h);
}

/* done() may close the client: the other requests are cancelled and nothing is reported twice. */
static void test_close_from_done(void)
{
    struct harness *h = harness_new(8);
    struct client_request r[4];
    char url[128];
    for (int i = 0; i < 3; i++) {
        request_init(&r[i], h, "GET", "/slow", url, sizeof url);
        CHECK_INT(client_start(&h->d, &r[i]), 0);
    }
    CHECK(run_until(h, &h->slow_started, 3));
    request_init(&r[3], h, "GET", "/ok", url, sizeof url);
    h->close_in_done = 1;
    CHECK_INT(client_start(&h->d, &r[3]), 0);
    CHECK(run_until(h, &h->completed, 4));
    CHECK_INT(r[3].result, CLIENT_OK);
    for (int i = 0; i < 3; i++)
        CHECK_INT(r[i].result, CLIENT_E_CANCELLED);
    CHECK(run_until(h, &h->client_closed, 1));
    CHECK_INT(h->completed, 4);
    for (int i = 0; i < 4; i++)
        client_request_free(&r[i]);
    harness_free(h);
}

/* curl asks for 0 ms timeouts all the time; they must cost one idle run each, not a spin. */
static void test_zero_timeout_no_spin(void)
{
    struct harness *h = harness_new(10);
    struct driver *dr = driver_new(h, 50);
    driver_fill(dr);
    CHECK(run_until(h, &dr->completed, 50));
    CHECK_INT(dr->good, 50);
    CHECK(h->d.kicks > 0);
    CHECK(h->d.kicks <= 200);
    fprintf(stderr, "  50 requests: %llu idle kicks\n", (unsigned long long)h->d.kicks);
    free(dr);
    harness_free(h);
}

/* Requests the client refuses never reach done(). */
static void test_invalid(void)
{
    struct client d;
    uv_loop_t loop;
    CHECK_INT(uv_loop_init(&loop), 0);
    CHECK_INT(client_init(&d, &loop, 0), BC_EINVAL);

    struct harness *h = harness_new(2);
    struct client_request r;
    char url[128];
    request_init(&r, h, "PUT", "/ok", url, sizeof url);
    CHECK_INT(client_start(&h->d, &r), BC_EINVAL);
    request_init(&r, h, "GET", "/ok", url, sizeof url);
    r.url = NULL;
    CHECK_INT(client_start(&h->d, &r), BC_EINVAL);
    request_init(&r, h, "GET", "/ok", url, sizeof url);
    r.done = NULL;
    CHECK_INT(client_start(&h->d, &r), BC_EINVAL);
    CHECK_INT(h->d.in_flight, 0);
    CHECK_INT(h->completed, 0);
    CHECK_STR(client_strerror(CLIENT_E_TIMEOUT), "timed out");
    CHECK_STR(client_strerror(BC_EBUSY), "resource busy");
    harness_free(h);
    CHECK_INT(uv_loop_close(&loop), 0);
}

/* HTTP Basic credentials become the Authorization line curl's CURLOPT_USERPWD sends (no colon:
 * an empty password), built once and rebuilt when the credentials change. */
static void test_credentials(void)
{
    static const char *const cases[][2] = {
        {"user:pass", "Basic dXNlcjpwYXNz"}, {"user:pass", "Basic dXNlcjpwYXNz"},
        {"user", "Basic dXNlcjo="},          {"a:b:c", "Basic YTpiOmM="},
        {"user:pass", "Basic dXNlcjpwYXNz"}, {"", "Basic Og=="},
    };
    struct harness *h = harness_new(4);
    struct client_request r;
    char url[128], want[128];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        request_init(&r, h, "GET", "/inspect", url, sizeof url);
        r.userpwd = cases[i][0];
        run_one(h, &r);
        CHECK_INT(r.status, 200);
        snprintf(want, sizeof want, "content-type=- authorization=%s x-test=- expect=-",
                 cases[i][1]);
        CHECK_MEM(r.response.data, r.response.len, want);
        client_request_free(&r);
        if (i == 1) /* the same credentials: the same line, not a new one */
            CHECK_STR(h->d.auth_userpwd, "user:pass");
    }
    request_init(&r, h, "GET", "/inspect", url, sizeof url);
    run_one(h, &r);
    CHECK_MEM(r.response.data, r.response.len, "content-type=- authorization=- x-test=- expect=-");
    client_request_free(&r);
    harness_free(h);
}

/* Each socket curl watches is one epoll_ctl per change of what curl wants, not a stop and
 * restart. An idle connection's socket stays in the epoll set, parked, so a request over a kept
 * connection costs one call (watched for the answer again); when the peer closes the idle
 * connection its socket leaves the set, and the next request opens a new connection. Closing
 * the client closes its epoll descriptor (no descriptor is left open). */
static void test_socket_changes(void)
{
    int fds = open_fds();
    struct harness *h = harness_new(4);
    struct client_request r;
    char url[128];
    request_init(&r, h, "GET", "/slow", url, sizeof url);
    CHECK_INT(client_start(&h->d, &r), 0);
    CHECK(run_until(h, &h->slow_started, 1));
    CHECK_INT(h->d.socks, 1); /* watched for the answer */
    CHECK(run_until(h, &h->completed, 1));
    CHECK_INT(r.status, 200);
    client_request_free(&r);
    CHECK_INT(h->d.socks, 0);
    CHECK_INT(h->d.parked, 1);
    uint64_t first = h->d.sock_ctls;
    CHECK(first >= 1); /* added (and changed for the answer) */
    for (int i = 0; i < 20; i++) {
        request_init(&r, h, "GET", "/ok", url, sizeof url);
        run_one(h, &r);
        CHECK_INT(r.status, 200);
        client_request_free(&r);
        CHECK_INT(h->d.socks, 0);
        CHECK_INT(h->d.parked, 1);
    }
    CHECK_INT(h->d.connects, 1);
    uint64_t per20 = h->d.sock_ctls - first;
    fprintf(stderr, "  first request %llu epoll_ctl, next 20 on its connection %llu\n",
            (unsigned long long)first, (unsigned long long)per20);
    CHECK_INT(per20, 20);

    /* The peer closes the idle connection: its parked socket leaves the set, and the next
     * request connects anew. */
    http_server_close_all(&h->srv);
    uint64_t before = h->d.sock_ctls;
    for (int i = 0; i < 50 && h->d.parked > 0; i++)
        uv_run(&h->loop, UV_RUN_ONCE);
    CHECK_INT(h->d.parked, 0);
    CHECK_INT(h->d.sock_ctls, before + 1);
    request_init(&r, h, "GET", "/ok", url, sizeof url);
    run_one(h, &r);
    CHECK_INT(r.status, 200);
    client_request_free(&r);
    CHECK_INT(h->d.connects, 2);
    CHECK_INT(h->d.parked, 1);
    harness_free(h);
    CHECK_INT(open_fds(), fds);
}

/* More sockets ready at once than one wake-up takes from the epoll set (64): 100 requests whose
 * answers come at about the same time; the rest wait for the next loop pass, and every one is
 * answered. */
static void test_socket_batches(void)
{
    struct harness *h = harness_new(100);
    struct client_request *r = calloc(100, sizeof *r);
    char url[128];
    for (int i = 0; i < 100; i++) {
        request_init(&r[i], h, "GET", "/slow", url, sizeof url);
        CHECK_INT(client_start(&h->d, &r[i]), 0);
    }
    CHECK(run_until(h, &h->slow_started, 100));
    CHECK_INT(h->d.socks, 100);
    CHECK(run_until(h, &h->completed, 100));
    for (int i = 0; i < 100; i++) {
        CHECK_INT(r[i].status, 200);
        CHECK_MEM(r[i].response.data, r[i].response.len, "slow");
        client_request_free(&r[i]);
    }
    CHECK_INT(h->d.socks, 0);
    CHECK_INT(h->d.connects, 100);
    free(r);
    harness_free(h);
}

/* Many requests at once, with sockets coming and going under the epoll set: answered ones over
 * kept connections, ones that close their connection after the answer (so socket numbers are
 * closed and used again between two wake-ups), ones whose peer hangs up while the socket is
 * watched for the answer (with nothing, or with half a body), and ones that time out. Each ends
 * with its own result, the set is empty at the end, and nothing is left open. */
enum mix_kind { MIX_OK, MIX_CLOSE, MIX_HANGUP, MIX_TRUNCATED, MIX_TIMEOUT, MIX_KINDS };

struct mix {
    struct harness *h;
    struct client_request reqs[200];
    int kind[200];
    int n, started, completed, wrong;
    char urls[MIX_KINDS][128];
};

static const char *const close_headers[] = {"Connection: close", NULL};

static void mix_fill(struct mix *m);

static void mix_done(struct client_request *r)
{
    struct mix *m = r->user;
    int k = m->kind[r - m->reqs];
    int ok = 0;
    switch (k) {
    case MIX_OK:
    case MIX_CLOSE:
        ok = r->result == CLIENT_OK && r->status == 200 && r->response.len == 5;
        break;
    case MIX_HANGUP:
    case MIX_TRUNCATED:
        ok = r->result == CLIENT_E_NETWORK && r->error[0] != '\0';
        break;
    case MIX_TIMEOUT:
        ok = r->result == CLIENT_E_TIMEOUT;
        break;
    }
    if (!ok) {
        fprintf(stderr, "request %d (kind %d): result %d status %ld: %s\n", (int)(r - m->reqs), k,
                r->result, r->status, r->error);
        m->wrong++;
    }
    client_request_free(r);
    m->completed++;
    mix_fill(m);
}

static void mix_fill(struct mix *m)
{
    while (m->started < m->n) {
        int rc = client_start(&m->h->d, &m->reqs[m->started]);
        if (rc == BC_EBUSY)
            break;
        CHECK_INT(rc, 0);
        m->started++;
    }
}

static void test_socket_churn(void)
{
    int fds = open_fds();
    struct harness *h = harness_new(24);
    struct rude hangup, truncated;
    rude_listen(&hangup, &h->loop, 0);
    rude_listen(&truncated, &h->loop, 1);
    struct mix *m = calloc(1, sizeof *m);
    m->h = h;
    m->n = 200;
    url_for(h, "/ok", m->urls[MIX_OK], sizeof m->urls[MIX_OK]);
    url_for(h, "/ok?close=1", m->urls[MIX_CLOSE], sizeof m->urls[MIX_CLOSE]);
    snprintf(m->urls[MIX_HANGUP], 128, "http://127.0.0.1:%d/hangup", hangup.port);
    snprintf(m->urls[MIX_TRUNCATED], 128, "http://127.0.0.1:%d/half", truncated.port);
    url_for(h, "/slow", m->urls[MIX_TIMEOUT], sizeof m->urls[MIX_TIMEOUT]);
    for (int i = 0; i < m->n; i++) {
        /* Mostly answered ones, in an order that mixes the kinds in every window of 24. */
        int k = (i * 7) % 10;
        k = k < 4   ? MIX_OK
            : k < 7 ? MIX_CLOSE
            : k < 8 ? MIX_HANGUP
            : k < 9 ? MIX_TRUNCATED
                    : MIX_TIMEOUT;
        struct client_request *r = &m->reqs[i];
        m->kind[i] = k;
        r->url = m->urls[k];
        r->method = "GET";
        r->headers = k == MIX_CLOSE ? close_headers : NULL;
        r->timeout_ms = k == MIX_TIMEOUT ? 50 : 0;
        r->done = mix_done;
        r->user = m;
    }
    mix_fill(m);
    CHECK_INT(m->started, 24);
    CHECK(run_until(h, &m->completed, m->n));
    CHECK_INT(m->wrong, 0);
    CHECK_INT(h->d.in_flight, 0);
    CHECK_INT(h->d.socks, 0);
    /* Every connection curl closed after its answer was parked first: its mark stays until the
     * number comes back, where a MOD finds out that it is a new socket. */
    CHECK(h->d.parked >= 1 && h->d.parked <= h->d.connects);
    CHECK(hangup.accepted >= 20 && truncated.accepted >= 20);
    fprintf(stderr, "  200 mixed requests: %llu connections, %llu epoll_ctl\n",
            (unsigned long long)h->d.connects, (unsigned long long)h->d.sock_ctls);
    uv_close((uv_handle_t *)&hangup.listener, NULL);
    uv_close((uv_handle_t *)&truncated.listener, NULL);
    free(m);
    harness_free(h);
    CHECK_INT(hangup.open + truncated.open, 0);
    CHECK_INT(open_fds(), fds);
}

static void global_init(void)
{
    CHECK_INT(client_global_init(), 0);
}

static void global_cleanup(void)
{
    client_global_cleanup();
}

CHECK_MAIN(CHECK_CASE(global_init), CHECK_CASE(test_get), CHECK_CASE(test_post),
           CHECK_CASE(test_many_capped), CHECK_CASE(test_many_urls), CHECK_CASE(test_keep_alive),
           CHECK_CASE(test_timeout), CHECK_CASE(test_refused), CHECK_CASE(test_too_large),
           CHECK_CASE(test_retry_after), CHECK_CASE(test_close_in_flight),
           CHECK_CASE(test_close_from_done), CHECK_CASE(test_zero_timeout_no_spin),
           CHECK_CASE(test_socket_changes), CHECK_CASE(test_socket_batches),
           CHECK_CASE(test_socket_churn), CHECK_CASE(test_credentials), CHECK_CASE(test_invalid),
           CHECK_CASE(global_cleanup))
