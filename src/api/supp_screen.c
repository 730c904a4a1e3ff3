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

struct supp_screen {
    struct store *store;
    char ws[ID_MAX];
    size_t wslen;
    int open; /* snap and cache hold a snapshot */
    int own;  /* snap is a pool thread's snapshot (else the loop's shared one) */
    struct store_txn snap;
    struct suppress_cache *cache;
    uv_thread_t loop_thread;
};

static void screen_end(void *ctx)
{
    struct supp_screen *sc = ctx;
    if (!sc || !sc->open)
        return;
    suppress_cache_close(sc->cache);
    if (sc->own)
        store_snapshot_end(&sc->snap);
    else
        store_read_end(&sc->snap);
    sc->cache = NULL;
    sc->open = 0;
}

static int screen_begin(struct supp_screen *sc)
{
    uv_thread_t self = uv_thread_self();
    sc->own = !uv_thread_equal(&self, &sc->loop_thread);
    int rc = sc->own ? store_snapshot_begin(sc->store, &sc->snap)
                     : store_read_begin(sc->store, &sc->snap);
    if (rc)
        return rc;
    sc->open = 1;
    struct rules r;
    rc = rules_get(&sc->snap, sc->ws, sc->wslen, &r);
    if (!rc) {
        rc = suppress_cache_open(&sc->cache, &sc->snap, sc->ws, sc->wslen, r.use_national_registry);
        rules_free(&r);
    }
    if (rc)
        screen_end(sc);
    return rc;
}

static int screen_row(void *ctx, const char *e164, size_t len, char *why, size_t cap)
{
    struct supp_screen *sc = ctx;
    if (!sc)
        return BC_ENOMEM;
    int rc = sc->open ? 0 : screen_begin(sc);
    enum suppress_source src = SUPPRESS_NONE;
    if (!rc)
        rc = suppress_cache_check(sc->cache, e164, len, &src);
    if (rc)
        return rc;
    if (src == SUPPRESS_NONE)
        return suppress_cache_empty(sc->cache) ? INGEST_SCREEN_IDLE : 0;
    snprintf(why, cap, "%s", suppress_error(src));
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
    opt->screen_done = screen_end;
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
