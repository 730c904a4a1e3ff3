/* Tests for the live events hub (src/api/events.c), end to end: the real HTTP server on a private
 * libuv loop serves GET /v1/api/batch-calls/{id}/events on one end of a socketpair, the test
 * plays the client on the other, and a real LMDB store in a temp dir holds the batch, its jobs
 * and its DB_FINALSEQ index.
 *
 *   - with nobody watching, events_progress/events_call/events_done are no-ops (also with NULL);
 *   - a live watcher gets `event: call` with `id: 1` and `id: 2` after events_call, and after
 *     events_done the final progress, `event: done` and the end of the chunked stream;
 *   - a watcher with Last-Event-ID: 1 while the hub is live gets only id 2 (from the hub's log);
 *   - a watcher with Last-Event-ID: 1 after the hub is gone gets only id 2, read back from
 *     DB_FINALSEQ, then done.
 * Waits run the loop until a condition holds, bounded by a guard timer (no sleeps). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "tmpstore.h"
#include "fixture.h"

#include "api/api.h"
#include "api/events.h"
#include "app.h"
#include "http/router.h"
#include "http/server.h"
#include "util/log.h"

#include "api_server.h"
#include "sockpeer.h"

#define BATCH "batch_01ARZ3NDEKTSV4RRFFQ69G5FAV"
#define WS    "ws_1"

static const struct http_route routes[] = {
    {HTTP_GET, "/v1/api/batch-calls/:id/events", events_open, NULL, 0, 0},
};

/* Stands in for auth: every request belongs to WS. */
static void on_head(struct http_request *req)
{
    struct api_ctx *ctx = api_ctx(req);
    snprintf(ctx->ws, sizeof ctx->ws, "%s", WS);
    ctx->ws_len = strlen(WS);
}

static void harness_open(struct api_server *h)
{
    api_server_open(h, routes, sizeof routes / sizeof routes[0], on_head);
    h->app->cfg.events_log_kb = 64;
    h->app->cfg.max_streams_per_workspace = 8;
    CHECK_INT(events_start(&h->app->events, h->app), 0);
}

static void harness_close(struct api_server *h)
{
    CHECK_INT(h->app->http.nconns, 0);
    events_stop(h->app->events);
    api_server_close(h);
}

/* Whether the client's bytes so far contain s. */
static int has(struct sockpeer *cl, const char *s)
{
    return strstr(sockpeer_cstr(&cl->in), s) != NULL;
}

/* Runs the loop until the client has received s, or 2 s have passed. */
static int wait_for(struct api_server *h, struct sockpeer *cl, const char *s)
{
    api_server_guard(h);
    for (;;) {
        sockpeer_read(cl);
        if (h->guard_fired || has(cl, s))
            break;
        uv_run(&h->loop, UV_RUN_ONCE);
    }
    uv_timer_stop(&h->guard);
    return has(cl, s);
}

/* The chunked stream ended: the last bytes received are the zero-length chunk. */
static int ended(struct api_server *h, struct sockpeer *cl)
{
    static const char last[] = "\r\n0\r\n\r\n";
    return wait_for(h, cl, last) && cl->in.len >= sizeof last - 1 &&
           memcmp(cl->in.data + cl->in.len - (sizeof last - 1), last, sizeof last - 1) == 0;
}

static void peer_open(struct api_server *h, struct sockpeer *cl, const char *last_event_id)
{
    int fd = -1;
    CHECK_INT(sockpeer_pair(cl, &fd), 0);
    http_server_adopt(&h->app->http, fd);
    char req[256];
    int n = snprintf(req, sizeof req,
                     "GET /v1/api/batch-calls/" BATCH "/events HTTP/1.1\r\nHost: t\r\n%s%s%s\r\n",
                     last_event_id ? "Last-Event-ID: " : "", last_event_id ? last_event_id : "",
                     last_event_id ? "\r\n" : "");
    CHECK_INT(send(cl->fd, req, (size_t)n, MSG_NOSIGNAL), n);
    CHECK(wait_for(h, cl, "retry: 3000\n\n"));
}

static void peer_close(struct api_server *h, struct sockpeer *cl)
{
    close(cl->fd);
    buf_free(&cl->in);
    for (int i = 0; i < 100 && h->app->http.nconns > 0; i++)
        uv_run(&h->loop, UV_RUN_NOWAIT);
}

/* Calls on rows 0 and 1 complete (final sequences 1 and 2, as the dispatcher's commit numbers
 * them); with `final` the batch completes too. */
static int finish_txn(struct store_txn *t, void *arg)
{
    int final = *(int *)arg;
    struct batch_rec b;
    int rc = batch_get(t, BATCH, strlen(BATCH), &b);
    for (uint32_t row = 0; row < 2 && !rc && !final; row++) {
        struct job_head jh = fx_head(row, JOB_COMPLETED);
        char name[24];
        snprintf(name, sizeof name, "name%u", row);
        const char *fields[2] = {jh.e164, name};
        rc = fx_job_txn(t, BATCH, row, &jh, fields, 2);
        if (!rc)
            rc = finalseq_put(t, BATCH, row + 1, row);
        b.waiting--;
        b.completed++;
        b.final_seq = row + 1;
    }
    if (final)
        b.status = BATCH_COMPLETED;
    return rc ? rc : batch_put(t, &b);
}

static void test_nobody_watching(void)
{
    struct api_server h;
    harness_open(&h);
    struct events *e = h.app->events;
    events_progress(e, BATCH);
    events_call(e, BATCH, 0, 1);
    events_done(e, BATCH);
    events_progress(NULL, BATCH);
    events_call(NULL, BATCH, 0, 1);
    events_done(NULL, BATCH);
    events_shutdown(e);
    for (int i = 0; i < 4; i++)
        uv_run(&h.loop, UV_RUN_NOWAIT);
    harness_close(&h);
}

static void test_live_and_replay(void)
{
    struct api_server h;
    harness_open(&h);
    struct store *s = &h.app->store;
    struct events *e = h.app->events;
    fx_workspace(s, WS, 10, 10);
    struct fx_batch fb = {.id = BATCH, .ws = WS, .status = BATCH_PROCESSING, .rows = 3};
    fx_batch(s, &fb);

    /* A live watcher from now: the opening progress, then the calls as they end. */
    struct sockpeer a;
    peer_open(&h, &a, NULL);
    CHECK(has(&a, "HTTP/1.1 200"));
    CHECK(has(&a, "text/event-stream"));
    CHECK(wait_for(&h, &a, "event: progress\nid: 0\n"));
    int final = 0;
    CHECK_INT(store_write(s, finish_txn, &final), 0);
    events_call(e, BATCH, 0, 1);
    events_call(e, BATCH, 1, 2);
    CHECK(wait_for(&h, &a, "event: call\nid: 2\n"));
    CHECK(has(&a, "event: call\nid: 1\n"));
    CHECK(has(&a, "\"jobId\":\"call_1\""));
    CHECK(!has(&a, "event: done"));

    /* A reconnect with Last-Event-ID: 1 while the hub is live: only call 2, from the log. */
    struct sockpeer b;
    peer_open(&h, &b, "1");
    CHECK(wait_for(&h, &b, "event: call\nid: 2\n"));
    CHECK(!has(&b, "event: call\nid: 1\n"));

    /* The batch completes: final progress, done, and each stream ends (the last chunk). */
    final = 1;
    CHECK_INT(store_write(s, finish_txn, &final), 0);
    events_done(e, BATCH);
    CHECK(ended(&h, &a));
    CHECK(has(&a, "event: done\nid: 2\ndata: {\"batchId\":\"" BATCH "\"}\n\n"));
    CHECK(ended(&h, &b));
    CHECK(has(&b, "event: done\nid: 2\n"));
    CHECK(strstr(a.in.data, "event: progress\nid: 2\n") < strstr(a.in.data, "event: done"));
    peer_close(&h, &a);
    peer_close(&h, &b);

    /* The hub is gone: Last-Event-ID: 1 is served from DB_FINALSEQ, then done. */
    struct sockpeer c;
    peer_open(&h, &c, "1");
    CHECK(ended(&h, &c));
    CHECK(has(&c, "event: call\nid: 2\n"));
    CHECK(has(&c, "\"jobId\":\"call_1\""));
    CHECK(!has(&c, "event: call\nid: 1\n"));
    CHECK(!has(&c, "\"jobId\":\"call_0\""));
    CHECK(has(&c, "event: done\nid: 2\n"));
    peer_close(&h, &c);

    harness_close(&h);
}

static void setup_quiet_logs(void)
{
    log_set_level(LOG_ERROR);
}

CHECK_MAIN(CHECK_CASE(setup_quiet_logs), CHECK_CASE(test_nobody_watching),
           CHECK_CASE(test_live_and_replay))
