#include "api/supp_screen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "api/dnc_registry.h"
#include "policy/rules.h"
#include "policy/suppress.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/id.h"

#define RENEW_ROWS  65536u
#define RENEW_NS    1000000000ull
#define CLOCK_EVERY 1024u

struct supp_screen {
    struct store *store;
    char ws[ID_MAX];
    size_t wslen;
    int open; /* snap and cache hold a snapshot */
    struct store_txn snap;
    struct suppress_cache *cache;
    uv_thread_t loop_thread;
    uint64_t opened_ns;
    uint32_t rows; /* checked since the snapshot was opened */
};

static void screen_end(struct supp_screen *sc)
{
    if (!sc->open)
        return;
    suppress_cache_close(sc->cache);
    store_snapshot_end(&sc->snap);
    sc->cache = NULL;
    sc->open = 0;
}

static int screen_begin(struct supp_screen *sc)
{
    int rc = store_snapshot_begin(sc->store, &sc->snap);
    struct rules r;
    if (!rc) {
        rc = rules_get(&sc->snap, sc->ws, sc->wslen, &r);
        if (!rc) {
            rc = suppress_cache_open(&sc->cache, &sc->snap, sc->ws, sc->wslen,
                                     r.use_national_registry);
            rules_free(&r);
        }
        if (rc)
            store_snapshot_end(&sc->snap);
    }
    sc->open = rc == 0;
    sc->rows = 0;
    sc->opened_ns = uv_hrtime();
    return rc;
}

/* Time for a newer snapshot: only on the loop thread, which opened the store's snapshots. */
static int screen_stale(struct supp_screen *sc)
{
    if (++sc->rows % CLOCK_EVERY)
        return 0;
    if (sc->rows < RENEW_ROWS && uv_hrtime() - sc->opened_ns < RENEW_NS)
        return 0;
    uv_thread_t self = uv_thread_self();
    return uv_thread_equal(&self, &sc->loop_thread);
}

static int screen_row(void *ctx, const char *e164, size_t len, char *why, size_t cap)
{
    struct supp_screen *sc = ctx;
    if (!sc)
        return BC_ENOMEM;
    if (sc->open && screen_stale(sc))
        screen_end(sc);
    int rc = sc->open ? 0 : screen_begin(sc);
    enum suppress_source src = SUPPRESS_NONE;
    if (!rc)
        rc = suppress_cache_check(sc->cache, e164, len, &src);
    if (rc || src == SUPPRESS_NONE)
        return rc;
    snprintf(why, cap, "Suppressed: on the do-not-call list (%s)",
             src == SUPPRESS_WORKSPACE ? "workspace" : "registry");
    return 1;
}

void supp_screen_attach(struct ingest_options *opt, struct supp_screen **out, struct store *s,
                        const char *ws, size_t wslen)
{
    struct supp_screen *sc = wslen < ID_MAX ? calloc(1, sizeof *sc) : NULL;
    if (sc) {
        sc->store = s;
        memcpy(sc->ws, ws, wslen);
        sc->wslen = wslen;
        sc->loop_thread = uv_thread_self();
    }
    *out = sc;
    opt->screen = screen_row;
    opt->screen_ctx = sc;
}

void supp_screen_close(struct supp_screen *sc)
{
    if (!sc)
        return;
    screen_end(sc);
    free(sc);
}

void supp_screen_warnings(cJSON *o, struct store *s)
{
    char msg[400];
    if (!dnc_registry_stale(s, clock_now_ms(), msg, sizeof msg))
        return;
    cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "warnings");
    if (!cJSON_IsArray(w))
        w = cJSON_AddArrayToObject(o, "warnings");
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "code", "dnc_registry_stale");
    cJSON_AddStringToObject(x, "message", msg);
    cJSON_AddItemToArray(w, x);
}
