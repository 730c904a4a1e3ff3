/* The small application that test/unit/http/server_test.c and test/fuzz/fuzz_http.c serve with
 * the real HTTP server: its common handlers. The test's own struct app (the server's cfg.app)
 * must begin with struct http_toy, which counts the streamed upload's calls, and
 * cfg.request_ctx_size must be at least sizeof(struct http_toy_upload). Header-only: each test
 * is one program. */
#ifndef BC_TEST_HTTP_TOY_H
#define BC_TEST_HTTP_TOY_H

#include <stdio.h>
#include <string.h>

#include "http/http.h"
#include "http/response.h"
#include "http/router.h"
#include "http/server.h"

#define HTTP_TOY_AUTH 1u /* http_toy_on_head answers 401 on routes with this flag */

struct http_toy {
    int stream_starts, stream_ends, stream_aborts;
};

/* Per-request state of the streamed upload (the server zeroes it for each request). */
struct http_toy_upload {
    size_t bytes;
};

static inline struct http_toy *http_toy_of(struct http_request *req)
{
    return http_app(req);
}

static inline void http_toy_hello(struct http_request *req)
{
    http_respond(req, 200, "text/plain", "hi", 2);
}

/* Echoes the body; an X-Echo request header comes back as a response header, which makes the
 * handler read the request's header slices. */
static inline void http_toy_echo(struct http_request *req)
{
    const struct http_slice *e = http_header(req, "x-echo");
    if (e)
        http_add_header(req, "X-Echo", "%.*s", (int)e->len, e->ptr);
    http_respond(req, 200, "text/plain", req->body.data, req->body.len);
}

/* The streamed upload counts its bytes; a request with an X-Refuse header is refused before its
 * body with 403, and a '!' in the body with 422. */
static inline void http_toy_upload_start(struct http_request *req)
{
    http_toy_of(req)->stream_starts++;
    if (http_header(req, "x-refuse"))
        http_respond_error(req, 403, "refused", "Refused by start().");
}

static inline int http_toy_upload_data(struct http_request *req, const char *p, size_t n)
{
    struct http_toy_upload *u = req->ctx;
    u->bytes += n;
    if (n && memchr(p, '!', n)) {
        http_respond_error(req, 422, "bad_upload", "The upload contains a '!'.");
        return 1;
    }
    return 0;
}

static inline void http_toy_upload_end(struct http_request *req)
{
    struct http_toy_upload *u = req->ctx;
    http_toy_of(req)->stream_ends++;
    char body[64];
    int n = snprintf(body, sizeof body, "n=%zu", u->bytes);
    http_respond(req, 200, "text/plain", body, (size_t)n);
}

static inline void http_toy_upload_abort(struct http_request *req)
{
    http_toy_of(req)->stream_aborts++;
}

static const struct http_body_ops http_toy_upload_ops = {.start = http_toy_upload_start,
                                                         .data = http_toy_upload_data,
                                                         .end = http_toy_upload_end,
                                                         .abort = http_toy_upload_abort};

static inline void http_toy_on_head(struct http_request *req)
{
    if (req->route->flags & HTTP_TOY_AUTH)
        http_respond_error(req, 401, "unauthorized", "No credentials.");
}

#endif
