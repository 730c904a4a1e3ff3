/* An app with a real LMDB store in a temp dir and the real HTTP server on a private libuv loop,
 * serving the routes a test gives: test/unit/api/events_test.c and auth_test.c play the client
 * with sockpeer.h. A guard timer bounds every wait on the loop (no sleeps). Header-only: each
 * test is one program. */
#ifndef BC_TEST_API_SERVER_H
#define BC_TEST_API_SERVER_H

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tmpstore.h"

#include "api/api.h"
#include "app.h"
#include "http/router.h"
#include "http/server.h"

struct api_server {
    uv_loop_t loop;
    struct tmpdir dir;
    struct app *app; /* on the heap: the server holds a 64 KiB read buffer */
    uv_timer_t guard;
    int guard_fired;
};

static inline void api_server_open(struct api_server *h, const struct http_route *routes,
                                   size_t nroutes, void (*on_head)(struct http_request *req))
{
    memset(h, 0, sizeof *h);
    CHECK_INT(uv_loop_init(&h->loop), 0);
    tmpdir_make(&h->dir);
    struct app *app = h->app = calloc(1, sizeof *app);
    app->loop = &h->loop;
    CHECK_INT(open_store(&app->store, h->dir.path, 4 * 1024 * 1024, 64 * 1024 * 1024), 0);
    struct http_server_config c = {
        .max_connections = 16,
        .header_timeout_ms = 60000,
        .idle_timeout_ms = 60000,
        .body_timeout_ms = 60000,
        .linger_ms = 60000,
        .routes = routes,
        .nroutes = nroutes,
        .request_ctx_size = sizeof(struct api_ctx),
        .on_head = on_head,
        .app = app,
    };
    CHECK_INT(http_server_init(&app->http, &h->loop, &c), 0);
    uv_timer_init(&h->loop, &h->guard);
    h->guard.data = h;
}

static inline void api_server_close(struct api_server *h)
{
    http_server_close(&h->app->http, NULL);
    uv_close((uv_handle_t *)&h->guard, NULL);
    for (int i = 0; i < 8; i++)
        uv_run(&h->loop, UV_RUN_NOWAIT);
    CHECK_INT(uv_loop_close(&h->loop), 0);
    store_close(&h->app->store);
    tmpdir_remove(&h->dir);
    free(h->app);
}

static inline void api_server_on_guard(uv_timer_t *t)
{
    struct api_server *h = t->data;
    h->guard_fired = 1;
    uv_stop(&h->loop);
}

/* Arms the guard: guard_fired is set (and the loop stopped) after 2 s. */
static inline void api_server_guard(struct api_server *h)
{
    h->guard_fired = 0;
    uv_timer_start(&h->guard, api_server_on_guard, 2000, 0);
}

#endif
