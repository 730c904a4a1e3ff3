/* The instance's side of the fleet. Which workspaces it holds is read from the store on every
 * request (one lookup, in the transaction authentication then uses; none for a provider callback
 * outside a fleet, where its answer would not matter), so an import or a drop by `batchcalld admin`
 * in another process counts at once; the watcher only has to tell the parts that keep state in
 * memory: the dispatcher (load or stop a workspace's batches) and the webhook worker (index
 * imported outbox entries). */
#include "api/fleet.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/auth.h"
#include "app.h"
#include "http/response.h"
#include "http/router.h"
#include "model/workspace.h"
#include "store/records.h"
#include "util/err.h"
#include "util/log.h"
#include "webhooks/webhooks.h"

/* What a client is told to wait while its workspace moves: a move takes seconds. */
#define MOVING_RETRY_S 5

struct fleet_ws {
    char id[ID_MAX];
    int frozen;
    int seen; /* found by the current reading */
};

/* ---- requests ---- */

/* what: "workspace", or "batch" for a callback in the old form (no workspace in its path). */
static void misdirected(struct http_request *req, const char *what, const char *id, size_t len)
{
    struct app *app = api_app(req);
    app->fleet.misdirected++;
    char msg[400];
    snprintf(msg, sizeof msg,
             "%s %.*s is not held by instance %s; the balancer's placement map sends it "
             "elsewhere: check the map (batchcalld admin placement show) and reload the balancer",
             what, (int)(len < ID_MAX ? len : ID_MAX), id, app->cfg.instance_name);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", "misdirected_request");
    cJSON_AddStringToObject(o, "message", msg);
    char text[ID_MAX];
    snprintf(text, sizeof text, "%.*s", (int)(len < ID_MAX ? len : ID_MAX - 1), id);
    cJSON_AddStringToObject(o, what, text);
    cJSON_AddStringToObject(o, "instance", app->cfg.instance_name);
    api_respond_json(req, 421, o);
}

static void moving(struct http_request *req, const char *ws, size_t len)
{
    char msg[200];
    snprintf(msg, sizeof msg, "workspace %.*s is being moved to another instance; retry after %d s",
             (int)len, ws, MOVING_RETRY_S);
    http_add_header(req, "Retry-After", "%d", MOVING_RETRY_S);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", "workspace_moving");
    cJSON_AddStringToObject(o, "message", msg);
    cJSON_AddNumberToObject(o, "retryAfter", MOVING_RETRY_S);
    api_respond_json(req, 503, o);
}

/* Whether a workspace record has a "frozen" member, found from its 'z' with memchr: no other
 * member's name has one, and memmem cost several hundred instructions per request. */
static int names_frozen(const char *p, size_t len)
{
    static const char name[] = "\"frozen\"";
    const size_t z = 4; /* where 'z' is in name */
    for (size_t i = z; i + (sizeof name - 1 - z) <= len;) {
        const char *hit = memchr(p + i, 'z', len - i - (sizeof name - 2 - z));
        if (!hit)
            return 0;
        i = (size_t)(hit - p);
        if (memcmp(hit - z, name, sizeof name - 1) == 0)
            return 1;
        i++;
    }
    return 0;
}

/* Looks the workspace up in t: 1 held, 0 not held, or an error. *frozen is its flag. */
static int held_in(struct store_txn *t, const char *ws, size_t len, int *frozen)
{
    *frozen = 0;
    if (!len || len >= ID_MAX)
        return 0;
    struct store_val v;
    int rc = store_get(t, DB_WS, ws, len, &v);
    /* The record names "frozen" only while it is: most requests skip the JSON parse. */
    struct ws_settings s;
    if (rc == 0 && names_frozen(v.ptr, v.len) && workspace_decode(v.ptr, v.len, &s) == 0)
        *frozen = s.frozen;
    return rc == 0 ? 1 : rc == BC_ENOTFOUND ? 0 : rc;
}

/* held_in in a transaction of its own. */
static int held(struct app *app, const char *ws, size_t len, int *frozen)
{
    struct store_txn t;
    *frozen = 0;
    int rc = store_read_begin(&app->store, &t);
    if (rc)
        return rc;
    rc = held_in(&t, ws, len, frozen);
    store_read_end(&t);
    return rc;
}

/* The workspace of a callback in the old form: the one of its batch (b=), when held. */
static int batch_held(struct app *app, struct http_request *req)
{
    char batch[ID_MAX];
    int n = http_query(req, "b", batch, sizeof batch);
    if (n <= 0)
        return 1; /* the callback handler refuses it (400) */
    struct store_txn t;
    int rc = store_read_begin(&app->store, &t);
    if (rc)
        return rc;
    struct store_val v;
    rc = store_get(&t, DB_BATCH, batch, (size_t)n, &v);
    store_read_end(&t);
    return rc == 0 ? 1 : rc == BC_ENOTFOUND ? 0 : rc;
}

void fleet_on_head(struct http_request *req)
{
    struct app *app = api_app(req);
    unsigned flags = req->route->flags;
    int fleet = app->cfg.instance_name[0] != '\0', frozen = 0, rc = 1;
    const char *ws = NULL;
    size_t len = 0;
    /* An authenticated request's lookup shares its read transaction with authentication, and
     * an API_HEAD_TXN route's with its handler when nothing is answered before it (a request
     * without a body reaches its handler in the same parse). */
    struct store_txn own, *shared = NULL;
    struct store_txn *t = (flags & API_HEAD_TXN) ? &api_ctx(req)->head_txn : &own;
    struct auth_ws *st = NULL;
    const struct http_slice *wsh = NULL; /* x-workspace-id, once looked up */
    if (flags & API_AUTH) {
        wsh = http_header(req, "x-workspace-id");
        if (wsh && wsh->len) {
            ws = wsh->ptr;
            len = wsh->len;
            rc = store_read_begin(&app->store, t);
            if (rc == 0) {
                shared = t;
                /* Read again only when the snapshot moved since the last request for it. */
                st = auth_ws_find(app, ws, len);
                if (auth_ws_fresh(st, t, &frozen))
                    rc = 1;
                else if ((rc = held_in(t, ws, len, &frozen)) == 1)
                    auth_ws_seen(st, t, frozen);
            }
        }
    } else if ((flags & API_WS_PATH) && req->nparams && fleet) {
        /* Only a fleet instance can be sent another's callback; outside a fleet the answer would
         * not be used (a frozen workspace's calls finish too), so no lookup for each callback. */
        ws = req->params[0].ptr;
        len = req->params[0].len;
        rc = held(app, ws, len, &frozen);
        frozen = 0; /* calls in flight finish while the workspace moves */
    } else if ((flags & API_BATCH_QUERY) && fleet) {
        rc = batch_held(app, req);
        if (rc == 0) {
            char b[ID_MAX] = "";
            http_query(req, "b", b, sizeof b);
            misdirected(req, "batch", b, strnlen(b, sizeof b));
            return;
        }
    }
    if (rc < 0)
        api_respond_internal(req, rc);
    else if (rc == 0 && fleet)
        misdirected(req, "workspace", ws, len);
    else if (rc == 1 && frozen)
        moving(req, ws, len);
    else
        auth_on_head(req, shared, wsh, st);
    if (shared && (shared == &own || req->responded || req->has_body))
        store_read_end(shared);
}

void fleet_render_metrics(const struct app *app, struct buf *out)
{
    buf_printf(out,
               "# HELP batchcalld_misdirected_requests_total Requests for a workspace this "
               "instance does not hold (answered 421).\n"
               "# TYPE batchcalld_misdirected_requests_total counter\n"
               "batchcalld_misdirected_requests_total %llu\n",
               (unsigned long long)app->fleet.misdirected);
}

/* ---- the watcher ---- */

/* Loads (dialable) or stops every batch of the workspace in the dispatcher. */
static void set_dialling(struct app *app, const char *ws, int on)
{
    if (!app->dispatch)
        return;
    struct records_ws w = {.ws = ws, .wslen = strlen(ws)};
    struct store_txn t;
    int rc = store_read_begin(&app->store, &t);
    if (!rc) {
        rc = records_ws_batches(&t, &w, 0);
        store_read_end(&t);
    }
    if (rc) {
        log_error("cannot list a workspace's batches", "workspace=%s error=\"%s\"", ws,
                  err_str(rc));
        return;
    }
    for (size_t i = 0; i < w.nbatches; i++) {
        if (on)
            dispatch_add_batch(app->dispatch, w.batches[i]);
        else
            dispatch_remove_batch(app->dispatch, w.batches[i]);
    }
    records_ws_free(&w);
}

struct reading {
    struct app *app;
    int imported;
};

/* Compares one workspace record with what the last reading found, and acts on the change. */
static int read_ws(struct reading *r, const struct store_val *key, const struct ws_settings *s)
{
    struct fleet *f = &r->app->fleet;
    struct fleet_ws *k = map_get(&f->known, key->ptr, key->len);
    if (!k) {
        k = calloc(1, sizeof *k);
        if (!k || map_put(&f->known, key->ptr, key->len, k) != 0) {
            free(k);
            return BC_ENOMEM;
        }
        snprintf(k->id, sizeof k->id, "%s", s->id);
        /* At start the dispatcher has loaded every batch: only frozen workspaces need acting
         * on. Later a new workspace was imported: act on its flag either way. */
        k->frozen = f->read ? !s->frozen : 0;
        if (f->read) {
            r->imported = 1;
            log_info("workspace arrived (imported)", "workspace=%s frozen=%d", s->id, s->frozen);
        }
    }
    k->seen = 1;
    if (k->frozen != s->frozen) {
        k->frozen = s->frozen;
        set_dialling(r->app, s->id, !s->frozen);
    }
    return 0;
}

static int read_all(struct app *app)
{
    struct fleet *f = &app->fleet;
    struct reading r = {.app = app};
    struct store_txn t;
    int rc = store_read_begin(&app->store, &t);
    if (rc)
        return rc;
    uint64_t gen;
    rc = records_fleet_gen_get(&t, &gen);
    /* Workspaces are few; their records are collected before the dispatcher reads the store. */
    struct buf ids = {0};
    struct store_iter it;
    store_iter_open(&it, &t, DB_WS, "", 0, NULL, 0);
    int more;
    while (!rc && (more = store_iter_next(&it)) == 1)
        rc = buf_append(&ids, it.val.ptr, it.val.len) || buf_append(&ids, "\n", 1) ? BC_ENOMEM : 0;
    store_iter_close(&it);
    store_read_end(&t);
    size_t pos = 0;
    struct fleet_ws *k;
    while ((k = map_next(&f->known, &pos)) != NULL)
        k->seen = 0;
    for (char *p = ids.data, *end = p + ids.len; !rc && p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        struct ws_settings s;
        if (nl && workspace_decode(p, (size_t)(nl - p), &s) == 0) {
            struct store_val key = {s.id, strlen(s.id)};
            rc = read_ws(&r, &key, &s);
        }
        p = nl ? nl + 1 : end;
    }
    buf_free(&ids);
    /* Dropped workspaces: their batches left the dispatcher when they were frozen. */
    pos = 0;
    while (!rc && (k = map_next(&f->known, &pos)) != NULL)
        if (!k->seen) {
            log_info("workspace left (dropped)", "workspace=%s", k->id);
            free(map_del(&f->known, k->id, strlen(k->id)));
        }
    if (!rc) {
        f->gen = gen;
        f->read = 1;
        if (r.imported)
            webhooks_kick(app->webhooks);
    }
    return rc;
}

/* Batches of frozen workspaces that an upload or a retry loaded after the freeze leave again. */
static void restop_frozen(struct app *app)
{
    size_t pos = 0;
    struct fleet_ws *k;
    while ((k = map_next(&app->fleet.known, &pos)) != NULL)
        if (k->frozen)
            set_dialling(app, k->id, 0);
}

static void on_poll(uv_timer_t *timer)
{
    struct app *app = timer->data;
    if (app->draining)
        return;
    struct store_txn t;
    uint64_t gen = 0;
    int rc = store_read_begin(&app->store, &t);
    if (!rc) {
        rc = records_fleet_gen_get(&t, &gen);
        store_read_end(&t);
    }
    if (!rc && gen != app->fleet.gen)
        rc = read_all(app);
    if (rc)
        log_error("cannot read the workspaces for the fleet watcher; trying again", "error=\"%s\"",
                  err_str(rc));
    restop_frozen(app);
}

int fleet_start(struct app *app)
{
    struct fleet *f = &app->fleet;
    f->app = app;
    int rc = read_all(app);
    if (rc)
        return rc;
    uv_timer_init(app->loop, &f->timer);
    f->timer.data = app;
    uv_timer_start(&f->timer, on_poll, FLEET_POLL_MS, FLEET_POLL_MS);
    uv_unref((uv_handle_t *)&f->timer);
    f->timer_started = 1;
    return 0;
}

void fleet_free(struct app *app)
{
    map_free(&app->fleet.known, free);
}
