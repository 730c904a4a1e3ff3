/* The HTTP request glue (src/http/: server.c, conn.c, parse.c, response.c, router.c): bytes in,
 * responses out, through the real server on a private libuv loop. Each input is one connection:
 * the harness adopts one end of a socketpair into the server (http_server_adopt, as
 * test/unit/http/server_test.c does, with the same client end, test/support/sockpeer.h), writes the
 * input into the other end, closes its writing side, and reads everything the server answers until
 * it closes the connection or has nothing more to say.
 *
 * The routes cover what the server does for the application: buffered bodies (an echo with a small
 * limit), path parameters, an authentication hook that answers before the body, a streamed upload
 * (with a small limit, refused on a '!' byte), a chunked streamed response, and the path alias.
 * Properties:
 * - everything the server writes parses as a sequence of HTTP/1.1 responses (llhttp in response
 *   mode), each final one with a Date and a Content-Type;
 * - the same final statuses, in the same order, whether the input arrives whole or cut at three
 *   points (the loop runs between the pieces);
 * - every connection is closed once the client has gone, and the streamed routes' owners were
 *   told (end or abort) for every start. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "http/conn.h"
#include "http/http.h"
#include "http/response.h"
#include "http/router.h"
#include "http/server.h"
#include "util/buf.h"
#include "util/log.h"

#include "http_toy.h"
#include "sockpeer.h"

struct app {
    struct http_toy toy; /* the toy's handlers count the upload's calls there */
};

static void h_item(struct http_request *req)
{
    char q[32];
    int n = http_query(req, "q", q, sizeof q);
    if (n >= 0)
        http_add_header(req, "X-Q", "%d", n);
    http_respond(req, 200, "text/plain", req->params[0].ptr, req->params[0].len);
}

static void h_secret(struct http_request *req)
{
    http_respond(req, 200, "text/plain", "secret", 6);
}

static void stream_drain(struct http_request *req)
{
    (void)req;
}

static void stream_closed(struct http_request *req)
{
    (void)req;
}

static const struct http_stream_ops stream_ops = {stream_drain, stream_closed};

static void h_stream(struct http_request *req)
{
    http_stream_start(req, 200, "text/plain", &stream_ops, NULL);
    http_stream_write(req, "one,", 4);
    http_stream_write(req, "two", 3);
    http_stream_end(req);
}

static const struct http_route routes[] = {
    {HTTP_GET, "/hello", http_toy_hello, NULL, 0, 0},
    {HTTP_POST, "/echo", http_toy_echo, NULL, 64, 0},
    {HTTP_GET, "/items/:id", h_item, NULL, 0, 0},
    {HTTP_GET, "/v1/api/batch-calls/:id", h_item, NULL, 0, 0},
    {HTTP_GET, "/secret", h_secret, NULL, 0, HTTP_TOY_AUTH},
    {HTTP_POST, "/secret", h_secret, NULL, 0, HTTP_TOY_AUTH},
    {HTTP_POST, "/upload", NULL, &http_toy_upload_ops, 32, 0},
    {HTTP_GET, "/stream", h_stream, NULL, 0, 0},
};

static uv_loop_t loop;
static struct http_server *srv;
static struct app app;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level((enum log_level)(LOG_ERROR + 1));
    uv_loop_init(&loop);
    srv = calloc(1, sizeof *srv);
    struct http_server_config cfg = {
        .max_connections = 4,
        .header_timeout_ms = 600000,
        .idle_timeout_ms = 600000,
        .body_timeout_ms = 600000,
        .linger_ms = 600000,
        .routes = routes,
        .nroutes = sizeof routes / sizeof routes[0],
        .alias_from = "/v1/batch-calls",
        .alias_to = "/v1/api/batch-calls",
        .request_ctx_size = sizeof(struct http_toy_upload),
        .on_head = http_toy_on_head,
        .app = &app,
    };
    if (http_server_init(srv, &loop, &cfg) != 0)
        abort();
    return 0;
}

/* Runs the loop until the server has read what was sent and nothing new arrives. */
static void pump(struct sockpeer *cl)
{
    size_t quiet = 0, seen = cl->in.len;
    for (int i = 0; i < 200 && quiet < 3; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        sockpeer_read(cl);
        if (cl->in.len == seen && sockpeer_unread(cl) == 0)
            quiet++;
        else
            quiet = 0;
        seen = cl->in.len;
        if (cl->eof)
            break;
    }
}

static void client_send(struct sockpeer *cl, const char *p, size_t n)
{
    while (n > 0 && !cl->eof) {
        ssize_t w = send(cl->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            pump(cl);
            continue;
        }
        if (w < 0)
            return; /* the server closed: the rest is not read */
        p += w;
        n -= (size_t)w;
    }
    pump(cl);
}

struct summary {
    struct buf statuses;
    int nfinal;
    int missing_head; /* a final response without Date or Content-Type */
    int in_date, in_type;
    const char *field;
    size_t field_len;
};

static int on_field(llhttp_t *p, const char *at, size_t len)
{
    struct summary *s = p->data;
    s->field = at;
    s->field_len = len;
    return 0;
}

static int on_field_done(llhttp_t *p)
{
    struct summary *s = p->data;
    if (s->field_len == 4 && !strncasecmp(s->field, "date", 4))
        s->in_date = 1;
    if (s->field_len == 12 && !strncasecmp(s->field, "content-type", 12))
        s->in_type = 1;
    return 0;
}

static int on_begin(llhttp_t *p)
{
    struct summary *s = p->data;
    s->in_date = s->in_type = 0;
    return 0;
}

static int on_headers(llhttp_t *p)
{
    struct summary *s = p->data;
    if (p->status_code >= 200) {
        buf_printf(&s->statuses, "%d ", p->status_code);
        s->nfinal++;
        if (!s->in_date || !s->in_type)
            s->missing_head++;
    }
    return 0;
}

/* Checks that out is a sequence of complete HTTP/1.1 responses and lists their final statuses. */
static void summarise(const struct buf *out, struct summary *s)
{
    llhttp_settings_t st;
    llhttp_settings_init(&st);
    st.on_message_begin = on_begin;
    st.on_header_field = on_field;
    st.on_header_field_complete = on_field_done;
    st.on_headers_complete = on_headers;
    llhttp_t p;
    llhttp_init(&p, HTTP_RESPONSE, &st);
    p.data = s;
    llhttp_errno_t err = out->len ? llhttp_execute(&p, out->data, out->len) : HPE_OK;
    FUZZ_CHECK(err == HPE_OK, "the server's output is not HTTP: %s (%s) at byte %zu of:\n%.*s",
               llhttp_errno_name(err), llhttp_get_error_reason(&p),
               (size_t)(llhttp_get_error_pos(&p) - out->data), (int)out->len, out->data);
    err = llhttp_finish(&p);
    FUZZ_CHECK(err == HPE_OK, "the output ends inside a response (%s):\n%.*s",
               llhttp_errno_name(err), (int)out->len, out->data);
    FUZZ_CHECK(s->missing_head == 0, "a response without Date or Content-Type:\n%.*s",
               (int)out->len, out->data);
}

/* One connection: the input in pieces (ncuts offsets), then EOF; returns what the server said. */
static void run(const char *data, size_t size, const size_t *cuts, size_t ncuts, struct buf *out)
{
    struct sockpeer cl;
    int fd = -1;
    if (sockpeer_pair(&cl, &fd) != 0)
        abort();
    int starts = app.toy.stream_starts, ends = app.toy.stream_ends, aborts = app.toy.stream_aborts;
    http_server_adopt(srv, fd);
    pump(&cl);
    size_t at = 0;
    for (size_t i = 0; i < ncuts; i++) {
        client_send(&cl, data + at, cuts[i] - at);
        at = cuts[i];
    }
    client_send(&cl, data + at, size - at);
    shutdown(cl.fd, SHUT_WR);
    pump(&cl);
    close(cl.fd);
    for (int i = 0; i < 200 && srv->nconns + srv->nrejected > 0; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    FUZZ_CHECK(srv->nconns == 0 && srv->nrejected == 0, "%zu connections still open", srv->nconns);
    const struct http_toy *t = &app.toy;
    FUZZ_CHECK(t->stream_starts - starts == (t->stream_ends - ends) + (t->stream_aborts - aborts),
               "%d uploads started, %d ended, %d aborted", t->stream_starts - starts,
               t->stream_ends - ends, t->stream_aborts - aborts);
    *out = cl.in;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cuts[3];
    fuzz_cuts(fuzz_hash(data, size), size, cuts, 3);
    struct buf whole, split;
    struct summary a = {0}, b = {0};
    run((const char *)data, size, NULL, 0, &whole);
    summarise(&whole, &a);
    run((const char *)data, size, cuts, 3, &split);
    summarise(&split, &b);
    FUZZ_CHECK(
        a.statuses.len == b.statuses.len &&
            (a.statuses.len == 0 || memcmp(a.statuses.data, b.statuses.data, a.statuses.len) == 0),
        "whole: %.*s; cut at %zu %zu %zu: %.*s", (int)a.statuses.len, a.statuses.data, cuts[0],
        cuts[1], cuts[2], (int)b.statuses.len, b.statuses.data);
    buf_free(&whole);
    buf_free(&split);
    buf_free(&a.statuses);
    buf_free(&b.statuses);
    return 0;
}
