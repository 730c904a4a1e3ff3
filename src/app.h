/* The loop context: the one object that owns every long-lived part of the server. Handlers reach
 * it through http_app(req). */
#ifndef BC_APP_H
#define BC_APP_H

#include <uv.h>

#include "api/metrics.h"
#include "api/events.h"
#include "api/fleet.h"
#include "config.h"
#include "dispatch/dispatch.h"
#include "http/client.h"
#include "dispatch/sweep.h"
#include "provider/provider.h"
#include "sim/sim.h"
#include "http/http.h"
#include "store/snapcache.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/id.h"
#include "util/histogram.h"
#include "util/map.h"

struct app {
    uv_loop_t *loop;
    struct config cfg;
    struct store store;
    struct http_server http;
    struct metrics metrics;
    struct map workspaces;   /* workspace id -> struct auth_ws (rate limits, cached settings) */
    struct auth_ws *last_ws; /* of workspaces, the one found last (auth.c) */
    uint64_t api_keys_generation; /* the store's auth generation of the known keys (auth.c) */
    uint64_t api_keys_snapshot;   /* 1 + the store snapshot it was read at (0: not yet) */
    struct snapcache reads;       /* agent records served by GET, per snapshot (agents.c) */
    struct id_gen ids;
    struct crypto_hasher hasher; /* SHA-256 of API keys */
    uv_signal_t sigterm, sigint;
    uv_timer_t shutdown_timer;
    struct sweeper sweeper; /* chunked background work over a batch's jobs */
    struct client dialer;   /* outbound HTTP: provider requests */
    struct provider_config provider;
    struct crypto_hmac_sha1 callback_key; /* HMAC of provider.auth_token, keyed once */
    struct dispatcher *dispatch;
    struct sim *sim;           /* the in-process simulator with --provider sim */
    struct events *events;     /* live event streams (SSE) */
    struct webhooks *webhooks; /* webhook outbox and delivery (webhooks/webhooks.h) */
    struct fleet fleet;        /* instance name, 421s, the watcher of admin changes (api/fleet.h) */
    uv_timer_t drain_timer;    /* waits for provider requests in flight at shutdown */
    /* A timer due every LAG_INTERVAL_MS: how late it fires is how long the loop was busy with
     * other work, which is what a request arriving then waits (exported in /metrics). */
    uv_timer_t lag_timer;
    uint64_t lag_due_ns;
    struct histogram loop_lag;
    int lock_fd;
    int draining;
    int stopped; /* the serve loop was told to stop: only the shutdown sequence runs now */
};

#endif
