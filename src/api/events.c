/* Live events of a batch (API.md B6): GET /v1/api/batch-calls/{id}/events, Server-Sent Events.
 *
 *   event: progress  the A3 object, at most four times a second
 *   event: call      a call reached a final state (id: its final sequence number)
 *   event: done      the batch is final; the stream then ends
 *
 * Every event carries `id:`, the watcher's position: the final sequence number of the last call
 * it has been sent (a call event's own). A client that reconnects with Last-Event-ID N is first
 * sent every call that ended after N, then the live stream.
 *
 * Watchers of one batch share a hub, and the work per change does not grow with the watchers:
 * each call event is rendered once into the hub's log, the progress object once per tick. A
 * watcher is only a position in that log (the next final sequence it has not been sent). The
 * hub's timer wakes its watchers at most every FLUSH_MS, and each then gets everything new as one
 * write; a watcher whose socket has not drained yet is skipped and catches up later in larger
 * writes, so a slow client costs one buffer, never a copy per event. Positions older than the log
 * (late joiners, laggards after the log was trimmed, calls that ended without a live event) are
 * read back from the store. The writing itself runs from one idle handle with a budget per loop
 * pass, so a thousand watchers never hold the loop for long in one go. */
#include "api/events.h"

#include <stdlib.h>
#include <string.h>

#include "api/batches.h"
#include "api/calls.h"
#include "api/api.h"
#include "http/response.h"
#include "http/router.h"
#include "util/err.h"
#include "util/json.h"
#include "util/log.h"
#include "model/batch.h"

#define PROGRESS_INTERVAL_MS 250
#define FLUSH_MS             100
#define HEARTBEAT_MS         15000
/* Rendered call events kept per watched batch: at least --events-log-kb (reconnects and late
 * joiners are served from memory), more while a watcher still needs them, at most LOG_MAX_FACTOR
 * times that (beyond it the oldest half is dropped: a watcher that far behind reads those calls
 * back from the store). */
#define LOG_MAX_FACTOR 16
/* Kernel send buffer of a watcher's socket: room for a few writes, not megabytes per slow
 * client. */
#define WATCHER_SNDBUF (64 * 1024)
/* One write to one watcher carries at most this much of the log... */
#define WRITE_MAX (64u * 1024)
/* ... or this many calls read back from the store. */
#define REPLAY_PER_WRITE 64
/* Work per loop pass, across all watchers: a pass ends at the first limit reached. The time
 * limit is what keeps other clients' latency low; a write to a loopback socket costs the
 * reader's wake-up too, so bytes alone say little about time. */
#define PASS_NS       (300 * 1000)
#define PASS_BYTES    (256u * 1024)
#define PASS_RENDERS  256
#define PASS_WATCHERS 64
/* A workspace at its --max-streams-per-workspace is told to retry after this many seconds. */
#define STREAMS_RETRY_S 5

struct hub;

struct watcher {
    struct http_request *req;
    struct hub *hub;
    char ws[ID_MAX];             /* its workspace, and that workspace's count of open streams */
    size_t *ws_streams;          /* (events.streams) */
    struct watcher *prev, *next; /* the hub's watchers */
    struct watcher *ready_prev, *ready_next; /* waiting for a turn to write */
    int ready;
    uint32_t next_seq;      /* the first final sequence not yet sent */
    unsigned progress_sent; /* the hub's progress version last sent */
    uint64_t last_write_ms;
};

struct hub {
    struct events *ev;
    char batch[ID_MAX];
    struct watcher *watchers;
    size_t nwatchers;
    uv_timer_t timer; /* flushes, progress coalescing, heartbeats */
    /* Rendered call events, in final-sequence order: seq[i] starts at off[i] in log. Every call
     * whose final sequence lies in [cover_from, cover_to] is in the log. */
    struct buf log;
    uint32_t *seq, *off;
    size_t n, cap;
    uint32_t cover_from, cover_to;
    uint32_t head; /* the highest final sequence known to be committed */
    /* The latest progress object (JSON); watchers get it once they have every call up to
     * progress_seq, with their own position as its id. */
    struct buf progress;
    uint32_t progress_seq;
    unsigned progress_version;
    int dirty; /* changed since the last progress */
    int fresh; /* something to write since the last flush */
    int final; /* the batch is final: done follows the progress */
    uint64_t last_progress_ms;
    uint64_t last_heartbeat_ms;
    struct calls_meta *meta; /* parsed once for every call rendered */
    int closing;
};

struct events {
    struct app *app;
    struct map hubs;    /* batch id -> struct hub */
    struct map streams; /* workspace id -> size_t: its open streams, for the cap */
    struct watcher *ready_head, *ready_tail;
    uv_idle_t *pump;    /* its own allocation: it may outlive this struct while closing */
    size_t log_keep;    /* --events-log-kb, in bytes */
    struct buf out;     /* one watcher's write, assembled */
    struct buf scratch; /* one event's JSON */
};

int events_start(struct events **out, struct app *app)
{
    struct events *e = calloc(1, sizeof *e);
    if (!e)
        return BC_ENOMEM;
    e->app = app;
    e->log_keep = (size_t)app->cfg.events_log_kb * 1024;
    *out = e;
    return 0;
}

static uint64_t now_ms(const struct events *e)
{
    return uv_now(e->app->loop);
}

/* ---- rendering ---- */

static void sse(struct buf *b, const char *event, uint32_t id, const char *data, size_t len)
{
    buf_printf(b, "event: %s\nid: %u\ndata: ", event, id);
    /* JSON has no raw line breaks, so the data is always one line. */
    buf_append(b, data, len);
    buf_append(b, "\n\n", 2);
}

static int render_call(struct events *e, struct hub *hub, struct store_txn *t, uint32_t seq,
                       uint32_t row, struct buf *out)
{
    cJSON *o = calls_json(t, hub->batch, row, &hub->meta);
    if (!o)
        return BC_ENOTFOUND;
    e->scratch.len = 0;
    json_render(&e->scratch, o);
    cJSON_Delete(o);
    sse(out, "call", seq, e->scratch.data, e->scratch.len);
    return 0;
}

/* The hub's progress event from the store (the A3 object). */
static void render_progress(struct hub *hub)
{
    struct events *e = hub->ev;
    struct store_txn t;
    struct batch_rec b;
    hub->dirty = 0;
    hub->last_progress_ms = now_ms(e);
    int rc = store_read_begin(&e->app->store, &t);
    if (!rc)
        rc = batch_get(&t, hub->batch, strlen(hub->batch), &b);
    if (rc) {
        store_read_end(&t);
        return;
    }
    cJSON *o = batches_progress_json(&t, &b);
    store_read_end(&t);
    hub->progress.len = 0;
    json_render(&hub->progress, o);
    cJSON_Delete(o);
    hub->progress_seq = b.final_seq;
    hub->progress_version++;
    /* Calls may end without a live event (a cancelled batch's calls): the store has them. */
    if (b.final_seq > hub->head)
        hub->head = b.final_seq;
    hub->final = batch_is_final(b.status);
    hub->fresh = 1;
}

/* ---- the log ---- */

static void log_reset(struct hub *hub, uint32_t after)
{
    hub->log.len = 0;
    hub->n = 0;
    hub->cover_from = after + 1;
    hub->cover_to = after;
}

/* Drops the first k entries of the log. */
static void log_drop(struct hub *hub, size_t k)
{
    if (k == 0)
        return;
    if (k == hub->n) {
        log_reset(hub, hub->cover_to);
        return;
    }
    uint32_t base = hub->off[k];
    buf_consume(&hub->log, base);
    for (size_t i = k; i < hub->n; i++) {
        hub->seq[i - k] = hub->seq[i];
        hub->off[i - k] = hub->off[i] - base;
    }
    hub->n -= k;
    hub->cover_from = hub->seq[0];
}

static int log_add(struct hub *hub, uint32_t seq, const struct buf *event)
{
    if (seq <= hub->cover_to)
        return 0; /* already there */
    if (seq != hub->cover_to + 1)
        log_reset(hub, seq - 1); /* a gap: the calls in it are read from the store */
    if (hub->n == hub->cap) {
        size_t cap = hub->cap ? hub->cap * 2 : 256;
        uint32_t *s = realloc(hub->seq, cap * sizeof *s);
        if (s)
            hub->seq = s;
        uint32_t *o = s ? realloc(hub->off, cap * sizeof *o) : NULL;
        if (!o)
            return BC_ENOMEM;
        hub->off = o;
        hub->cap = cap;
    }
    hub->seq[hub->n] = seq;
    hub->off[hub->n] = (uint32_t)hub->log.len;
    if (buf_append(&hub->log, event->data, event->len) != 0)
        return BC_ENOMEM;
    hub->n++;
    hub->cover_to = seq;
    if (hub->log.len > LOG_MAX_FACTOR * hub->ev->log_keep)
        log_drop(hub, hub->n / 2);
    return 0;
}

/* Index of the first log entry with a sequence >= seq (the log is in order). */
static size_t log_find(const struct hub *hub, uint32_t seq)
{
    size_t lo = 0, hi = hub->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (hub->seq[mid] < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Beyond twice log_keep, drops what every watcher has been sent already, down to log_keep: the
 * memmove happens once per log_keep of new events, not on every tick. */
static void log_trim(struct hub *hub)
{
    size_t keep = hub->ev->log_keep;
    if (hub->log.len <= 2 * keep || hub->n == 0)
        return;
    uint32_t min = hub->cover_to + 1;
    for (const struct watcher *w = hub->watchers; w; w = w->next)
        if (w->next_seq < min)
            min = w->next_seq;
    size_t k = log_find(hub, min);
    /* Keep log_keep bytes before that point for reconnects. */
    while (k > 0 && hub->log.len - hub->off[k - 1] <= keep)
        k--;
    log_drop(hub, k);
}

/* ---- watchers ---- */

static void hub_closed(uv_handle_t *h)
{
    struct hub *hub = h->data;
    buf_free(&hub->log);
    buf_free(&hub->progress);
    free(hub->seq);
    free(hub->off);
    calls_meta_free(hub->meta);
    free(hub);
}

static void hub_drop(struct hub *hub)
{
    if (hub->closing)
        return;
    hub->closing = 1;
    map_del(&hub->ev->hubs, hub->batch, strlen(hub->batch));
    uv_close((uv_handle_t *)&hub->timer, hub_closed);
}

static void ready_remove(struct events *e, struct watcher *w)
{
    if (!w->ready)
        return;
    if (w->ready_prev)
        w->ready_prev->ready_next = w->ready_next;
    else
        e->ready_head = w->ready_next;
    if (w->ready_next)
        w->ready_next->ready_prev = w->ready_prev;
    else
        e->ready_tail = w->ready_prev;
    w->ready = 0;
    w->ready_prev = w->ready_next = NULL;
}

static void on_pump(uv_idle_t *h);

/* Queues a watcher for a turn to write. */
static void ready_add(struct events *e, struct watcher *w)
{
    if (w->ready)
        return;
    w->ready = 1;
    w->ready_next = NULL;
    w->ready_prev = e->ready_tail;
    if (e->ready_tail)
        e->ready_tail->ready_next = w;
    else
        e->ready_head = w;
    e->ready_tail = w;
    if (!e->pump) {
        e->pump = malloc(sizeof *e->pump);
        if (!e->pump)
            return; /* stays queued; the next ready_add tries again */
        uv_idle_init(e->app->loop, e->pump);
        e->pump->data = e;
    }
    uv_idle_start(e->pump, on_pump);
}

static void watcher_remove(struct watcher *w)
{
    struct hub *hub = w->hub;
    ready_remove(hub->ev, w);
    if (w->prev)
        w->prev->next = w->next;
    else
        hub->watchers = w->next;
    if (w->next)
        w->next->prev = w->prev;
    hub->nwatchers--;
    if (--*w->ws_streams == 0)
        free(map_del(&hub->ev->streams, w->ws, strlen(w->ws)));
    free(w);
    if (hub->nwatchers == 0)
        hub_drop(hub);
}

/* Ends one watcher's stream (after what was written to it). */
static void watcher_end(struct watcher *w)
{
    struct http_request *req = w->req;
    req->stream_state = NULL;
    watcher_remove(w);
    http_stream_end(req);
}

static int caught_up(const struct watcher *w)
{
    return w->next_seq > w->hub->head;
}

/* Whether the watcher has something to be sent now. */
static int has_news(const struct watcher *w)
{
    const struct hub *hub = w->hub;
    return !caught_up(w) || (hub->progress_version && w->progress_sent != hub->progress_version);
}

/* Appends calls read back from the store, from the watcher's position up to `until`. */
static size_t replay_stored_calls(struct watcher *w, uint32_t until, struct buf *out)
{
    struct hub *hub = w->hub;
    struct events *e = hub->ev;
    struct store_txn t;
    if (store_read_begin(&e->app->store, &t) != 0)
        return 0;
    uint8_t prefix[JOB_KEY_MAX], start[JOB_KEY_MAX];
    size_t blen = finalseq_key(prefix, hub->batch, 0) - 4;
    size_t slen = finalseq_key(start, hub->batch, w->next_seq);
    struct store_iter it;
    size_t n = 0;
    int more = 0;
    store_iter_open(&it, &t, DB_FINALSEQ, prefix, blen, start, slen);
    while (store_iter_next(&it) == 1) {
        uint32_t seq, row;
        if (finalseq_decode(&it.key, &it.val, blen, &seq, &row) != 0)
            break; /* not a finalseq entry of this batch */
        if (seq > until)
            break;
        if (n == REPLAY_PER_WRITE) {
            more = 1;
            break;
        }
        render_call(e, hub, &t, seq, row, out);
        w->next_seq = seq + 1;
        n++;
    }
    store_iter_close(&it);
    store_read_end(&t);
    /* Nothing else committed up to `until`: the position moves past it. */
    if (!more)
        w->next_seq = until + 1;
    return n;
}

/* One write to one watcher: the next part of what it has not been sent, then (once it has
 * every call) the latest progress and, for a final batch, done. Returns what it cost: bytes
 * written, and calls read back from the store. */
static void pump(struct watcher *w, size_t *bytes, size_t *renders)
{
    struct hub *hub = w->hub;
    struct events *e = hub->ev;
    /* Still sending the previous write: the drain callback brings it back. */
    if (http_stream_pending(w->req) > 0)
        return;
    struct buf *out = &e->out;
    out->len = 0;
    if (!caught_up(w)) {
        if (hub->n && w->next_seq >= hub->cover_from && w->next_seq <= hub->cover_to) {
            size_t i = log_find(hub, w->next_seq), j = i + 1;
            while (j < hub->n && hub->off[j] - hub->off[i] < WRITE_MAX)
                j++;
            size_t end = j < hub->n ? hub->off[j] : hub->log.len;
            buf_append(out, hub->log.data + hub->off[i], end - hub->off[i]);
            w->next_seq = j < hub->n ? hub->seq[j] : hub->cover_to + 1;
        } else {
            /* Before the log, or after it (ended without a live event). */
            uint32_t until = w->next_seq < hub->cover_from ? hub->cover_from - 1 : hub->head;
            *renders += replay_stored_calls(w, until, out);
        }
    }
    int end = 0;
    if (caught_up(w) && hub->progress_version && w->progress_sent != hub->progress_version &&
        hub->progress_seq < w->next_seq) {
        /* The id is the watcher's position, which later calls may have moved past the one the
         * object was computed at: a reconnect with it then repeats nothing. */
        uint32_t id = w->next_seq - 1;
        sse(out, "progress", id, hub->progress.data, hub->progress.len);
        w->progress_sent = hub->progress_version;
        if (hub->final) {
            char data[64];
            int n = snprintf(data, sizeof data, "{\"batchId\":\"%s\"}", hub->batch);
            sse(out, "done", id, data, (size_t)n);
            end = 1;
        }
    }
    uint64_t now = now_ms(e);
    if (out->len == 0 && now - w->last_write_ms >= HEARTBEAT_MS)
        buf_append(out, ": ping\n\n", 8); /* a comment: proxies see traffic */
    if (out->len) {
        http_stream_write(w->req, out->data, out->len);
        w->last_write_ms = now;
        *bytes += out->len;
    }
    if (end)
        watcher_end(w);
}

/* Writes to waiting watchers in turn, within the budget of one loop pass. */
static void on_pump(uv_idle_t *h)
{
    struct events *e = h->data;
    size_t bytes = 0, renders = 0, n = 0;
    uint64_t start = uv_hrtime();
    while (e->ready_head && bytes < PASS_BYTES && renders < PASS_RENDERS && n < PASS_WATCHERS &&
           uv_hrtime() - start < PASS_NS) {
        struct watcher *w = e->ready_head;
        ready_remove(e, w);
        pump(w, &bytes, &renders);
        n++;
    }
    if (!e->ready_head)
        uv_idle_stop(h);
}

/* ---- hubs ---- */

static void on_hub_timer(uv_timer_t *t)
{
    struct hub *hub = t->data;
    struct events *e = hub->ev;
    uint64_t now = now_ms(e);
    if (hub->dirty && now - hub->last_progress_ms >= PROGRESS_INTERVAL_MS)
        render_progress(hub);
    log_trim(hub);
    int heartbeat = now - hub->last_heartbeat_ms >= HEARTBEAT_MS;
    if (!hub->fresh && !heartbeat)
        return;
    hub->fresh = 0;
    if (heartbeat)
        hub->last_heartbeat_ms = now;
    for (struct watcher *w = hub->watchers; w; w = w->next)
        if (heartbeat || has_news(w))
            ready_add(e, w);
}

static struct hub *hub_get(struct events *e, const char *batch)
{
    return map_get(&e->hubs, batch, strlen(batch));
}

static struct hub *hub_create(struct events *e, const struct batch_rec *b)
{
    struct hub *hub = calloc(1, sizeof *hub);
    if (!hub || map_put(&e->hubs, b->id, strlen(b->id), hub) != 0) {
        free(hub);
        return NULL;
    }
    hub->ev = e;
    snprintf(hub->batch, sizeof hub->batch, "%s", b->id);
    hub->head = b->final_seq;
    log_reset(hub, b->final_seq);
    uv_timer_init(e->app->loop, &hub->timer);
    hub->timer.data = hub;
    hub->last_heartbeat_ms = now_ms(e);
    uv_timer_start(&hub->timer, on_hub_timer, FLUSH_MS, FLUSH_MS);
    render_progress(hub);
    return hub;
}

/* ---- notifications from dispatch ---- */

void events_progress(struct events *e, const char *batch)
{
    struct hub *hub = e ? hub_get(e, batch) : NULL;
    if (hub)
        hub->dirty = 1;
}

void events_call(struct events *e, const char *batch, uint32_t row, uint32_t seq)
{
    struct hub *hub = e ? hub_get(e, batch) : NULL;
    if (!hub)
        return;
    hub->dirty = 1;
    if (seq > hub->head)
        hub->head = seq;
    struct store_txn t;
    struct buf b = {0};
    if (store_read_begin(&e->app->store, &t) == 0 && render_call(e, hub, &t, seq, row, &b) == 0 &&
        log_add(hub, seq, &b) == 0)
        hub->fresh = 1;
    store_read_end(&t);
    buf_free(&b);
}

void events_done(struct events *e, const char *batch)
{
    struct hub *hub = e ? hub_get(e, batch) : NULL;
    if (!hub)
        return;
    /* The final progress at once, then done to every watcher as it catches up. */
    render_progress(hub);
    on_hub_timer(&hub->timer);
}

/* ---- the stream ---- */

static void stream_closed(struct http_request *req)
{
    struct watcher *w = req->stream_state;
    req->stream_state = NULL;
    if (w)
        watcher_remove(w);
}

/* The last write reached the socket: more if this watcher is behind. */
static void stream_drain(struct http_request *req)
{
    struct watcher *w = req->stream_state;
    if (w && has_news(w))
        ready_add(w->hub->ev, w);
}

static const struct http_stream_ops stream_ops = {stream_drain, stream_closed};

/* The progress (and, for a final batch, done) a watcher that starts from now is sent first. */
static void opening_events(struct events *e, struct store_txn *t, const struct batch_rec *b,
                           struct buf *out)
{
    cJSON *o = batches_progress_json(t, b);
    e->scratch.len = 0;
    json_render(&e->scratch, o);
    cJSON_Delete(o);
    sse(out, "progress", b->final_seq, e->scratch.data, e->scratch.len);
    if (batch_is_final(b->status)) {
        char data[64];
        int n = snprintf(data, sizeof data, "{\"batchId\":\"%s\"}", b->id);
        sse(out, "done", b->final_seq, data, (size_t)n);
    }
}

/* The count of the request's workspace's open streams, created at 0 if it has none. */
static size_t *ws_streams(struct events *e, struct http_request *req)
{
    struct api_ctx *ctx = api_ctx(req);
    size_t *n = map_get(&e->streams, ctx->ws, ctx->ws_len);
    if (n)
        return n;
    n = calloc(1, sizeof *n);
    if (n && map_put(&e->streams, ctx->ws, ctx->ws_len, n) != 0) {
        free(n);
        n = NULL;
    }
    return n;
}

/* A live stream is a connection held for as long as the client likes: one workspace may not
 * hold them all. */
static void too_many_streams(struct http_request *req, uint64_t max)
{
    char msg[240];
    snprintf(msg, sizeof msg,
             "This workspace has %llu live event streams open, the most allowed at once "
             "(--max-streams-per-workspace); close one (one stream per batch is enough), or "
             "retry after %d s.",
             (unsigned long long)max, STREAMS_RETRY_S);
    http_add_header(req, "Retry-After", "%d", STREAMS_RETRY_S);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", "too_many_streams");
    cJSON_AddStringToObject(o, "message", msg);
    cJSON_AddNumberToObject(o, "retryAfter", STREAMS_RETRY_S);
    api_respond_json(req, 429, o);
}

void events_open(struct http_request *req)
{
    struct app *app = api_app(req);
    struct events *e = app->events;
    struct store_txn t;
    struct batch_rec b;
    if (batches_begin(req, &t, &b) != 0)
        return;
    const struct http_slice *h = http_header(req, "last-event-id");
    char q[16];
    int qn = h ? BC_ENOTFOUND : http_query(req, "lastEventId", q, sizeof q);
    const char *s = h ? h->ptr : q;
    size_t slen = h ? h->len : qn > 0 ? (size_t)qn : 0;
    uint32_t last = batch_event_id_parse(s, slen);
    int resume = h || qn > 0;
    /* The position is a count of the batch's ended calls: one past the calls that ended so far
     * is where this watcher stands, and what its ids say from the first event on. */
    if (last > b.final_seq)
        last = b.final_seq;
    /* Without Last-Event-ID a watcher starts from now: the batch as it is, then what changes. The
     * object is computed for this watcher, so it comes first even when calls end meanwhile. */
    struct buf first = {0};
    if (!resume)
        opening_events(e, &t, &b, &first);
    store_read_end(&t);
    http_add_header(req, "Cache-Control", "no-cache");
    http_add_header(req, "X-Accel-Buffering", "no");
    if (!resume && batch_is_final(b.status)) {
        http_stream_start(req, 200, "text/event-stream; charset=utf-8", &stream_ops, NULL);
        http_stream_write(req, "retry: 3000\n\n", 13);
        http_stream_write(req, first.data, first.len);
        buf_free(&first);
        http_stream_end(req);
        return;
    }
    size_t *streams = ws_streams(e, req);
    if (!streams ||
        (app->cfg.max_streams_per_workspace && *streams >= app->cfg.max_streams_per_workspace)) {
        buf_free(&first);
        if (streams)
            too_many_streams(req, app->cfg.max_streams_per_workspace);
        else
            api_respond_internal(req, BC_ENOMEM);
        return;
    }
    struct hub *hub = hub_get(e, b.id);
    if (!hub)
        hub = hub_create(e, &b);
    struct watcher *w = hub ? calloc(1, sizeof *w) : NULL;
    if (!w) {
        if (hub && hub->nwatchers == 0)
            hub_drop(hub);
        if (*streams == 0)
            free(map_del(&e->streams, api_ctx(req)->ws, api_ctx(req)->ws_len));
        buf_free(&first);
        api_respond_internal(req, BC_ENOMEM);
        return;
    }
    memcpy(w->ws, api_ctx(req)->ws, sizeof w->ws);
    w->ws_streams = streams;
    ++*streams;
    w->req = req;
    w->hub = hub;
    w->next_seq = resume ? last + 1 : b.final_seq + 1;
    w->last_write_ms = now_ms(e);
    if (!resume)
        w->progress_sent = hub->progress_version; /* it has a newer one than the hub's */
    w->next = hub->watchers;
    if (hub->watchers)
        hub->watchers->prev = w;
    hub->watchers = w;
    hub->nwatchers++;
    http_stream_start(req, 200, "text/event-stream; charset=utf-8", &stream_ops, w);
    /* The log holds the backlog of a watcher that falls behind, once for all of them. */
    http_stream_sndbuf(req, WATCHER_SNDBUF);
    http_stream_write(req, "retry: 3000\n\n", 13);
    if (first.len)
        http_stream_write(req, first.data, first.len);
    buf_free(&first);
    ready_add(e, w);
}

void events_shutdown(struct events *e)
{
    if (!e)
        return;
    /* map_del during the walk only leaves tombstones: the slot array stays put, and a dropped
     * hub is freed only by its timer's close callback, after this. */
    size_t pos = 0;
    for (struct hub *hub; (hub = map_next(&e->hubs, &pos)) != NULL;)
        while (hub->watchers)
            watcher_end(hub->watchers);
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

void events_stop(struct events *e)
{
    if (!e)
        return;
    events_shutdown(e);
    if (e->pump)
        uv_close((uv_handle_t *)e->pump, free_handle);
    map_free(&e->hubs, NULL);
    map_free(&e->streams, free);
    buf_free(&e->out);
    buf_free(&e->scratch);
    free(e);
}
