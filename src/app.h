/* The loop context: the one object that owns every long-lived part of the server. Handlers reach
 * it through http_app(req). */
#ifndef BC_APP_H
#define BC_APP_H

#include <uv.h>

#include "api/metrics.h"
#include "config.h"
#include "http/http.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/map.h"

struct app {
    uv_loop_t *loop;
    struct config cfg;
    struct store store;
    struct http_server http;
    struct metrics metrics;
    struct map workspaces; /* workspace id -> struct ws_state (rate limits, cached settings) */
    struct id_gen ids;
    uv_signal_t sigterm, sigint;
    uv_timer_t shutdown_timer;
    uv_timer_t purge_timer; /* removes abandoned uploads a chunk at a time */
    struct buf purge_queue; /* batch ids (NUL-terminated) waiting to be removed */
    int lock_fd;
    int draining;
};

#endif
