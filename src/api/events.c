/* Live events of a batch (API.md B6): GET /v1/api/batch-calls/{id}/events, Server-Sent Events.
 *
 *   event: progress  the A3 object, at most four times a second
 *   event: call      a call reached a final state (id: its final sequence number)
 *   event: done      the batch is final; the stream then ends
 *
 * Every event carries `id:` = the batch's final sequence number at that point. A client that
 * reconnects with Last-Event-ID N is first sent every call that ended after N (read back from the
 * store), then the live stream. Watchers of one batch share a hub: each event is rendered once and
 * written to all of them, and the progress object is computed once per tick, not per watcher. */
#include "api/events.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/batches.h"
#include "util/err.h"
#include "util/json.h"
#include "util/log.h"

#define PROGRESS_INTERVAL_MS 250
#define HEARTBEAT_MS         15000
#define REPLAY_PER_DRAIN     256
/* A watcher that has this much unsent output is too slow to follow live: its stream is ended,
 * and it can reconnect with Last-Event-ID to catch up from the store. */
#define MAX_BACKLOG (1024 * 1024)

struct hub;

struct watcher {
    struct http_request *req;
    struct hub *hub;
    struct watcher *next;
    uint32_t replay_from; /* next final sequence to replay; 0 once live */
    int replaying;
};

struct hub {
    struct events *ev;
    char batch[ID_MAX];
    struct watcher *watchers;
    size_t nwatchers;
    uv_timer_t timer; /* progress coalescing and heartbeats */
    int dirty;
    uint64_t last_sent_ms;
    uint64_t last_heartbeat_ms;
    int closing;
};

struct events {
    struct app *app;
    struct map hubs; /* batch id -> struct hub */
    struct buf scratch;
};

int events_start(struct events **out, struct app *app)
{
    struct events *e = calloc(1, sizeof *e);
    if (!e)
        return BC_ENOMEM;
    e->app = app;
    *out = e;
    return 0;
}

static void hub_closed(uv_handle_t *h)
{
    free(h->data);
}

static void hub_drop(struct hub *hub)
{
    if (hub->closing)
        return;
    hub->closing = 1;
    map_del(&hub->ev->hubs, hub->batch, strlen(hub->batch));
    uv_close((uv_handle_t *)&hub->timer, hub_closed);
}

/* ---- writing events ---- */

static void sse(struct buf *b, const char *event, uint32_t id, const char *data, size_t len)
{
    buf_printf(b, "event: %s\nid: %u\ndata: ", event, id);
    /* JSON has no raw line breaks, so the data is always one line. */
    buf_append(b, data, len);
    buf_append(b, "\n\n", 2);
}

static void watcher_remove(struct watcher *w)
{
    struct hub *hub = w->hub;
    struct watcher **pp = &hub->watchers;
    while (*pp && *pp != w)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = w->next;
        hub->nwatchers--;
    }
    free(w);
    if (hub->nwatchers == 0)
        hub_drop(hub);
}

static void watcher_write(struct watcher *w, const char *data, size_t len)
{
    if (http_stream_pending(w->req) > MAX_BACKLOG) {
        log_warn("live events watcher too slow; ending its stream", "batch=%s", w->hub->batch);
        struct http_request *req = w->req;
        req->stream_state = NULL;
        watcher_remove(w);
        http_stream_end(req);
        return;
    }
    http_stream_write(w->req, data, len);
}

static void broadcast(struct hub *hub, const struct buf *b)
{
    struct watcher *w = hub->watchers, *next;
    for (; w; w = next) {
        next = w->next;
        if (!w->replaying)
            watcher_write(w, b->data, b->len);
    }
}

/* The A3 object of the batch, as one progress event. Returns the batch status, or -1. */
static int render_progress(struct events *e, const char *batch, struct buf *out,
                           uint32_t *final_seq)
{
    struct store_txn t;
    struct batch_rec b;
    int rc = store_read_begin(&e->app->store, &t);
    if (!rc)
        rc = batch_get(&t, batch, strlen(batch), &b);
    if (rc) {
        store_read_end(&t);
        return -1;
    }
    cJSON *o = batches_progress_json(&t, &b);
    store_read_end(&t);
    e->scratch.len = 0;
    json_render(&e->scratch, o);
    cJSON_Delete(o);
    sse(out, "progress", b.final_seq, e->scratch.data, e->scratch.len);
    *final_seq = b.final_seq;
    return b.status;
}

static int batch_final(int status)
{
    return status == BATCH_COMPLETED || status == BATCH_CANCELLED || status == BATCH_FAILED;
}

/* Ends every watcher's stream; with_done first tells live watchers the batch is final. Watchers
 * still replaying simply reconnect and replay the rest (then get done). */
static void end_all(struct hub *hub, int with_done, uint32_t seq)
{
    struct buf b = {0};
    if (with_done) {
        char data[64];
        int n = snprintf(data, sizeof data, "{\"batchId\":\"%s\"}", hub->batch);
        sse(&b, "done", seq, data, (size_t)n);
    }
    while (hub->watchers) {
        struct watcher *w = hub->watchers;
        struct http_request *req = w->req;
        hub->watchers = w->next;
        hub->nwatchers--;
        if (b.len && !w->replaying)
            http_stream_write(req, b.data, b.len);
        req->stream_state = NULL;
        free(w);
        http_stream_end(req);
    }
    buf_free(&b);
    hub_drop(hub);
}

static void send_progress(struct hub *hub)
{
    struct buf b = {0};
    uint32_t seq;
    int status = render_progress(hub->ev, hub->batch, &b, &seq);
    hub->dirty = 0;
    hub->last_sent_ms = uv_now(hub->ev->app->loop);
    if (status >= 0)
        broadcast(hub, &b);
    buf_free(&b);
    if (status >= 0 && batch_final(status) && hub->watchers)
        end_all(hub, 1, seq);
}

static void on_hub_timer(uv_timer_t *t)
{
    struct hub *hub = t->data;
    uint64_t now = uv_now(hub->ev->app->loop);
    if (hub->dirty) {
        send_progress(hub);
        return;
    }
    if (now - hub->last_heartbeat_ms >= HEARTBEAT_MS) {
        /* A comment line: proxies see traffic and keep the stream open. */
        static const char ping[] = ": ping\n\n";
        struct buf b = {(char *)ping, sizeof ping - 1, 0};
        hub->last_heartbeat_ms = now;
        broadcast(hub, &b);
    }
}

static struct hub *hub_get(struct events *e, const char *batch, int create)
{
    struct hub *hub = map_get(&e->hubs, batch, strlen(batch));
    if (hub || !create)
        return hub;
    hub = calloc(1, sizeof *hub);
    if (!hub || map_put(&e->hubs, batch, strlen(batch), hub) != 0) {
        free(hub);
        return NULL;
    }
    hub->ev = e;
    snprintf(hub->batch, sizeof hub->batch, "%s", batch);
    uv_timer_init(e->app->loop, &hub->timer);
    hub->timer.data = hub;
    hub->last_heartbeat_ms = uv_now(e->app->loop);
    uv_timer_start(&hub->timer, on_hub_timer, PROGRESS_INTERVAL_MS, PROGRESS_INTERVAL_MS);
    return hub;
}

/* ---- notifications from dispatch ---- */

void events_progress(struct events *e, const char *batch)
{
    struct hub *hub = e ? hub_get(e, batch, 0) : NULL;
    if (hub)
        hub->dirty = 1;
}

/* One call event, rendered from the store. */
static int render_call(struct events *e, struct store_txn *t, const char *batch, uint32_t seq,
                       uint32_t row, struct buf *out)
{
    cJSON *o = batches_call_json(t, batch, row);
    if (!o)
        return -1;
    e->scratch.len = 0;
    json_render(&e->scratch, o);
    cJSON_Delete(o);
    sse(out, "call", seq, e->scratch.data, e->scratch.len);
    return 0;
}

void events_call(struct events *e, const char *batch, uint32_t row, uint32_t seq)
{
    struct hub *hub = e ? hub_get(e, batch, 0) : NULL;
    if (!hub)
        return;
    hub->dirty = 1;
    struct store_txn t;
    struct buf b = {0};
    if (store_read_begin(&e->app->store, &t) == 0 && render_call(e, &t, batch, seq, row, &b) == 0) {
        store_read_end(&t);
        broadcast(hub, &b);
    } else {
        store_read_end(&t);
    }
    buf_free(&b);
}

void events_done(struct events *e, const char *batch)
{
    struct hub *hub = e ? hub_get(e, batch, 0) : NULL;
    if (hub)
        send_progress(hub); /* the final progress, then done */
}

/* ---- the stream ---- */

static void stream_closed(struct http_request *req)
{
    struct watcher *w = req->stream_state;
    req->stream_state = NULL;
    if (!w)
        return;
    watcher_remove(w);
}

/* Replays calls that ended after the client's Last-Event-ID, a chunk per drain, then joins the
 * live stream. */
static void stream_drain(struct http_request *req)
{
    struct watcher *w = req->stream_state;
    if (!w || !w->replaying)
        return;
    struct events *e = api_app(req)->events;
    const char *batch = w->hub->batch;
    struct store_txn t;
    struct buf b = {0};
    if (store_read_begin(&e->app->store, &t) != 0)
        return;
    uint8_t prefix[JOB_KEY_MAX], start[JOB_KEY_MAX];
    size_t blen = strlen(batch);
    memcpy(prefix, batch, blen);
    size_t slen = finalseq_key(start, batch, w->replay_from);
    struct store_iter it;
    int n = 0, rc;
    store_iter_open(&it, &t, DB_FINALSEQ, prefix, blen, start, slen);
    while (n < REPLAY_PER_DRAIN && (rc = store_iter_next(&it)) == 1) {
        uint32_t seq = be32_get((const uint8_t *)it.key.ptr + blen);
        uint32_t row = it.val.len == 4 ? be32_get(it.val.ptr) : 0;
        render_call(e, &t, batch, seq, row, &b);
        w->replay_from = seq + 1;
        n++;
    }
    store_iter_close(&it);
    store_read_end(&t);
    if (b.len)
        http_stream_write(req, b.data, b.len);
    buf_free(&b);
    if (n < REPLAY_PER_DRAIN) {
        /* Caught up: everything committed so far was sent; live events follow. */
        w->replaying = 0;
        b = (struct buf){0};
        uint32_t seq;
        int status = render_progress(e, batch, &b, &seq);
        if (b.len)
            http_stream_write(req, b.data, b.len);
        buf_free(&b);
        if (status >= 0 && batch_final(status)) {
            char data[64];
            int dn = snprintf(data, sizeof data, "{\"batchId\":\"%s\"}", batch);
            b = (struct buf){0};
            sse(&b, "done", seq, data, (size_t)dn);
            http_stream_write(req, b.data, b.len);
            buf_free(&b);
            req->stream_state = NULL;
            watcher_remove(w);
            http_stream_end(req);
        }
    }
}

static const struct http_stream_ops stream_ops = {stream_drain, stream_closed};

void events_open(struct http_request *req)
{
    struct app *app = api_app(req);
    struct store_txn t;
    struct batch_rec b;
    int rc = store_read_begin(&app->store, &t);
    if (rc) {
        api_respond_internal(req, rc);
        return;
    }
    rc = batches_load(req, &t, &b);
    store_read_end(&t);
    if (rc)
        return;
    uint32_t last = 0;
    const struct http_slice *h = http_header(req, "last-event-id");
    char q[16];
    int qn = h ? -1 : http_query(req, "lastEventId", q, sizeof q);
    const char *s = h ? h->ptr : q;
    size_t slen = h ? h->len : qn > 0 ? (size_t)qn : 0;
    for (size_t i = 0; i < slen && s[i] >= '0' && s[i] <= '9'; i++)
        last = last * 10 + (uint32_t)(s[i] - '0');
    struct hub *hub = hub_get(app->events, b.id, 1);
    struct watcher *w = hub ? calloc(1, sizeof *w) : NULL;
    if (!w) {
        api_respond_internal(req, BC_ENOMEM);
        return;
    }
    w->req = req;
    w->hub = hub;
    w->replaying = 1;
    /* Without Last-Event-ID a new watcher starts from now: no replay, only the progress. */
    w->replay_from = (h || qn > 0) ? last + 1 : b.final_seq + 1;
    w->next = hub->watchers;
    hub->watchers = w;
    hub->nwatchers++;
    http_add_header(req, "Cache-Control", "no-cache");
    http_add_header(req, "X-Accel-Buffering", "no");
    http_stream_start(req, 200, "text/event-stream; charset=utf-8", &stream_ops, w);
    http_stream_write(req, "retry: 3000\n\n", 13);
}

void events_shutdown(struct events *e)
{
    if (!e)
        return;
    /* map_del during the walk only leaves tombstones: the slot array stays put. */
    for (size_t i = 0; i < e->hubs.cap; i++) {
        struct hub *hub = e->hubs.slots[i].value;
        if (hub)
            end_all(hub, 0, 0);
    }
}

void events_stop(struct events *e)
{
    if (!e)
        return;
    events_shutdown(e);
    map_free(&e->hubs, NULL);
    buf_free(&e->scratch);
    free(e);
}
