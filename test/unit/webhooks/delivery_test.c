/* Tests for src/webhooks/delivery.c (through webhooks/webhooks.h): recording events in the outbox
 * and delivering them to a real receiver.
 *
 * The receiver is the project's own HTTP server on 127.0.0.1 (an ephemeral port) on the same libuv
 * loop as the webhook worker, so one uv_run drives both ends. Its endpoints are /hook/<name>; each
 * can be told to answer 503 a number of times (or always) before answering 200, and every request
 * is recorded with its headers and body so the test can check signatures and order. The store is
 * a fresh LMDB directory per test; stopping and starting the worker on the same store stands in
 * for a server restart. Stopping the worker must close every libuv handle it opened. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "http/client.h"
#include "http/http.h"
#include "http/response.h"
#include "http/router.h"
#include "http/server.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/log.h"
#include "webhooks/signing.h"
#include "webhooks/target.h"
#include "webhooks/webhooks.h"

#define WAIT_MS       10000 /* bound on every wait, so a broken worker fails instead of hanging */
#define MAX_RECEIVED  1200
#define MAX_ENDPOINTS 4
#define WS_ID         "ws_01JDX3TESTWORKSPACE000000"
#define BATCH_ID      "batch_01JDX3TESTBATCH00000000000"

struct received {
    char endpoint[16];
    char *body;
    char signature[160];
    char id[64];
    char agent[64];
    char type[64];
    uint64_t at_ms;
    int answered; /* the status the receiver answered with */
};

struct endpoint {
    char name[16];
    int fail_left;   /* answer 503 this many more times */
    int fail_always; /* answer 503 every time */
    int ok;          /* requests answered 200 */
};

struct harness {
    uv_loop_t loop;
    struct http_server srv;
    uv_timer_t guard, poll;
    int guard_fired;
    int port;
    char dir[64];
    struct store *store;
    struct webhooks *w;
    int handles_before; /* libuv handles open before the worker started */
    struct endpoint endpoints[MAX_ENDPOINTS];
    size_t nendpoints;
    struct received rx[MAX_RECEIVED];
    size_t nrx;
};

/* ---- the receiver ---- */

static void copy_header(const struct http_request *req, const char *name, char *out, size_t cap)
{
    const struct http_slice *v = http_header(req, name);
    snprintf(out, cap, "%.*s", v ? (int)v->len : 0, v ? v->ptr : "");
}

static void h_hook(struct http_request *req)
{
    struct harness *h = http_app(req);
    const struct http_slice *name = &req->params[0];
    struct endpoint *e = NULL;
    for (size_t i = 0; i < h->nendpoints && !e; i++)
        if (strlen(h->endpoints[i].name) == name->len &&
            memcmp(h->endpoints[i].name, name->ptr, name->len) == 0)
            e = &h->endpoints[i];
    int status = !e ? 404 : e->fail_always || e->fail_left > 0 ? 503 : 200;
    if (e && e->fail_left > 0)
        e->fail_left--;
    if (h->nrx < MAX_RECEIVED) {
        struct received *r = &h->rx[h->nrx++];
        snprintf(r->endpoint, sizeof r->endpoint, "%.*s", (int)name->len, name->ptr);
        r->body = strndup(req->body.data ? req->body.data : "", req->body.len);
        copy_header(req, "x-signature", r->signature, sizeof r->signature);
        copy_header(req, "x-webhook-id", r->id, sizeof r->id);
        copy_header(req, "user-agent", r->agent, sizeof r->agent);
        copy_header(req, "content-type", r->type, sizeof r->type);
        r->at_ms = clock_now_ms();
        r->answered = status;
    }
    if (status == 200)
        e->ok++;
    http_respond(req, status, "text/plain", "", 0);
}

static const struct http_route routes[] = {
    {HTTP_POST, "/hook/:name", h_hook, NULL, 0, 0},
};

static struct endpoint *endpoint_add(struct harness *h, const char *name)
{
    struct endpoint *e = &h->endpoints[h->nendpoints++];
    snprintf(e->name, sizeof e->name, "%s", name);
    return e;
}

static void url_of(const struct harness *h, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "http://127.0.0.1:%d/hook/%s", h->port, name);
}

/* ---- harness ---- */

static void on_guard(uv_timer_t *t)
{
    struct harness *h = t->data;
    h->guard_fired = 1;
}

static void on_poll_tick(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop until cond holds, or WAIT_MS passed (which fails the check). The poll timer wakes
 * the loop every few milliseconds: cond may become true in a timer callback, after which a
 * UV_RUN_ONCE pass would otherwise sleep until the next I/O. */
#define RUN_UNTIL(h, cond)                                                                         \
    do {                                                                                           \
        (h)->guard_fired = 0;                                                                      \
        uv_timer_start(&(h)->guard, on_guard, WAIT_MS, 0);                                         \
        uv_timer_start(&(h)->poll, on_poll_tick, 2, 2);                                            \
        while (!(cond) && !(h)->guard_fired)                                                       \
            uv_run(&(h)->loop, UV_RUN_ONCE);                                                       \
        uv_timer_stop(&(h)->guard);                                                                \
        uv_timer_stop(&(h)->poll);                                                                 \
        CHECK(cond);                                                                               \
    } while (0)

static int put_txn(struct store_txn *t, void *arg)
{
    const char **kv = arg;
    return store_put(t, kv[0] ? DB_BATCHMETA : DB_WS, kv[0] ? kv[0] : WS_ID,
                     strlen(kv[0] ? kv[0] : WS_ID), kv[1], strlen(kv[1]), 0);
}

/* The workspace must exist for webhooks_set; the worker only needs the record to be there. */
static void put_workspace(struct harness *h)
{
    const char *kv[2] = {NULL, "{}"};
    CHECK_INT(store_write(h->store, put_txn, kv), 0);
}

static void put_batch_meta(struct harness *h, const char *webhook_url)
{
    char meta[512];
    snprintf(meta, sizeof meta, "{\"name\":null,\"webhookUrl\":\"%s\"}", webhook_url);
    const char *kv[2] = {BATCH_ID, meta};
    CHECK_INT(store_write(h->store, put_txn, kv), 0);
}

static void count_handle(uv_handle_t *handle, void *arg)
{
    (void)handle;
    (*(int *)arg)++;
}

static int handle_count(struct harness *h)
{
    int n = 0;
    uv_walk(&h->loop, count_handle, &n);
    return n;
}

static void start_worker_with(struct harness *h, uint64_t backoff_ms, uint64_t max_age_ms,
                              int allow_private)
{
    h->handles_before = handle_count(h);
    CHECK_INT(webhooks_start(&h->w, h->store, &h->loop), 0);
    struct delivery_config c;
    delivery_config_defaults(&c);
    c.backoff_ms = backoff_ms;
    c.backoff_max_ms = backoff_ms * 4;
    c.max_age_ms = max_age_ms;
    c.timeout_ms = 2000;
    c.allow_private = allow_private;
    CHECK_INT(webhooks_configure(h->w, &c), 0);
}

/* The receiver listens on loopback, which only allow_private lets the worker reach. */
static void start_worker(struct harness *h, uint64_t backoff_ms, uint64_t max_age_ms)
{
    start_worker_with(h, backoff_ms, max_age_ms, 1);
}

/* Stops the worker and checks that it closed every libuv handle it opened. */
static void stop_worker(struct harness *h)
{
    webhooks_stop(h->w);
    h->w = NULL;
    for (int i = 0; i < 4; i++)
        uv_run(&h->loop, UV_RUN_NOWAIT);
    CHECK_INT(handle_count(h), h->handles_before);
}

/* On the heap: struct http_server holds a 64 KiB read buffer. */
static struct harness *harness_new(void)
{
    struct harness *h = calloc(1, sizeof *h);
    h->store = calloc(1, sizeof *h->store);
    log_set_level(LOG_ERROR);
    CHECK_INT(client_global_init(), 0);
    CHECK_INT(uv_loop_init(&h->loop), 0);
    struct http_server_config cfg = {
        .max_connections = 256,
        .header_timeout_ms = 60000,
        .idle_timeout_ms = 60000,
        .body_timeout_ms = 60000,
        .linger_ms = 1000,
        .routes = routes,
        .nroutes = sizeof routes / sizeof routes[0],
        .app = h,
    };
    CHECK_INT(http_server_init(&h->srv, &h->loop, &cfg), 0);
    CHECK_INT(http_server_listen(&h->srv, "127.0.0.1", 0), 0);
    struct sockaddr_in addr;
    int len = sizeof addr;
    CHECK_INT(uv_tcp_getsockname(&h->srv.listener, (struct sockaddr *)&addr, &len), 0);
    h->port = ntohs(addr.sin_port);
    uv_timer_init(&h->loop, &h->guard);
    uv_timer_init(&h->loop, &h->poll);
    h->guard.data = h;
    snprintf(h->dir, sizeof h->dir, "/tmp/webhooks-test-XXXXXX");
    CHECK(mkdtemp(h->dir) != NULL);
    struct store_options opt = {.dir = h->dir, .map_size = 8u << 20, .map_size_max = 64u << 20};
    CHECK_INT(store_open(h->store, &opt), 0);
    put_workspace(h);
    return h;
}

static void close_handle(uv_handle_t *handle, void *arg)
{
    (void)arg;
    if (!uv_is_closing(handle))
        uv_close(handle, NULL);
}

static void harness_free(struct harness *h)
{
    if (h->w)
        stop_worker(h);
    http_server_close_all(&h->srv);
    uv_walk(&h->loop, close_handle, NULL);
    for (int i = 0; i < 4; i++)
        uv_run(&h->loop, UV_RUN_NOWAIT);
    CHECK_INT(uv_loop_close(&h->loop), 0);
    store_close(h->store);
    char path[128];
    snprintf(path, sizeof path, "%s/data.mdb", h->dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", h->dir);
    unlink(path);
    rmdir(h->dir);
    for (size_t i = 0; i < h->nrx; i++)
        free(h->rx[i].body);
    free(h->store);
    free(h);
    client_global_cleanup();
}

/* ---- recording events ---- */

struct emit_args {
    struct webhooks *w;
    const char *type;
    int first, n; /* events carry {"i": first .. first + n - 1} */
};

static int emit_txn(struct store_txn *t, void *arg)
{
    struct emit_args *a = arg;
    struct batch_rec b;
    memset(&b, 0, sizeof b);
    snprintf(b.id, sizeof b.id, "%s", BATCH_ID);
    snprintf(b.ws, sizeof b.ws, "%s", WS_ID);
    int rc = 0;
    for (int i = 0; i < a->n && !rc; i++) {
        cJSON *data = cJSON_CreateObject();
        cJSON_AddNumberToObject(data, "i", a->first + i);
        rc = webhooks_emit(a->w, t, &b, a->type, data);
    }
    return rc;
}

static void emit(struct harness *h, int first, int n)
{
    struct emit_args a = {h->w, "call.completed", first, n};
    CHECK_INT(store_write(h->store, emit_txn, &a), 0);
    webhooks_kick(h->w);
}

static size_t count_db(struct harness *h, enum store_db db)
{
    struct store_txn t;
    struct store_iter it;
    size_t n = 0;
    CHECK_INT(store_read_begin(h->store, &t), 0);
    store_iter_open(&it, &t, db, "", 0, NULL, 0);
    while (store_iter_next(&it) == 1)
        n++;
    store_iter_close(&it);
    store_read_end(&t);
    return n;
}

/* The delivery records of the workspace, oldest first, as one JSON array. */
static cJSON *deliveries(struct harness *h)
{
    struct store_txn t;
    struct store_iter it;
    cJSON *arr = cJSON_CreateArray();
    CHECK_INT(store_read_begin(h->store, &t), 0);
    store_iter_open(&it, &t, DB_DELIVERY, WS_ID, strlen(WS_ID), NULL, 0);
    while (store_iter_next(&it) == 1)
        cJSON_AddItemToArray(arr, cJSON_ParseWithLength(it.val.ptr, it.val.len));
    store_iter_close(&it);
    store_read_end(&t);
    return arr;
}

static uint64_t stat_of(struct harness *h, int which)
{
    uint64_t v[3];
    webhooks_stats(h->w, &v[0], &v[1], &v[2]);
    return v[which];
}
#define DELIVERED(h) stat_of(h, 0)
#define FAILED(h)    stat_of(h, 1)
#define GAVE_UP(h)   stat_of(h, 2)

/* Requests that reached endpoint name and were answered 200, in arrival order. */
static size_t accepted(struct harness *h, const char *name, struct received **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < h->nrx; i++)
        if (!strcmp(h->rx[i].endpoint, name) && h->rx[i].answered == 200 && n < cap)
            out[n++] = &h->rx[i];
    return n;
}

static int event_index(const struct received *r)
{
    cJSON *body = cJSON_Parse(r->body);
    cJSON *i =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(body, "data"), "i");
    int v = cJSON_IsNumber(i) ? i->valueint : -1;
    cJSON_Delete(body);
    return v;
}

/* The signature the receiver would compute: "t=<t>,v1=<hex HMAC-SHA256(secret, t.body)>". */
static int signature_valid(const struct received *r, const char *secret)
{
    unsigned long long ts;
    char hex[65];
    if (sscanf(r->signature, "t=%llu,v1=%64s", &ts, hex) != 2)
        return 0;
    char expect[SIGNING_HEADER_MAX];
    signing_header(secret, strlen(secret), ts, r->body, strlen(r->body), expect);
    uint64_t now_s = clock_now_ms() / 1000;
    return !strcmp(expect, r->signature) && ts + 5 >= now_s && ts <= now_s;
}

/* ---- tests ---- */

/* Without a workspace webhook or a batch webhookUrl nothing is written. */
static void test_no_target_writes_nothing(void)
{
    struct harness *h = harness_new();
    start_worker(h, 10, 60000);
    put_batch_meta(h, "");
    emit(h, 0, 3);
    CHECK_INT(count_db(h, DB_OUTBOX), 0);
    CHECK_INT(count_db(h, DB_WEBHOOK), 0);
    harness_free(h);
}

/* Every event arrives once, in order, signed, with exactly the documented body and headers. */
static void test_delivers_signed_in_order(void)
{
    struct harness *h = harness_new();
    endpoint_add(h, "a");
    char url[128], secret[SIGNING_SECRET_LEN + 1];
    uint64_t created;
    url_of(h, "a", url, sizeof url);
    CHECK_INT(target_set(h->store, WS_ID, strlen(WS_ID), url, secret, &created), 0);
    start_worker(h, 10, 60000);
    emit(h, 0, 10);
    emit(h, 10, 10);
    RUN_UNTIL(h, DELIVERED(h) == 20);
    struct received *got[20];
    size_t n = accepted(h, "a", got, 20);
    CHECK_INT(n, 20);
    CHECK_INT(h->nrx, 20);
    for (size_t i = 0; i < n; i++) {
        CHECK_INT(event_index(got[i]), (int)i);
        CHECK(signature_valid(got[i], secret));
        CHECK_STR(got[i]->agent, "batchcalld");
        CHECK_STR(got[i]->type, "application/json");
        cJSON *body = cJSON_Parse(got[i]->body);
        CHECK_INT(cJSON_GetArraySize(body), 4);
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "id"));
        CHECK(id && !strcmp(id, got[i]->id) && !strncmp(id, "evt_", 4));
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "type")),
                  "call.completed");
        CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(body, "createdAt")));
        if (i > 0)
            CHECK(strcmp(got[i - 1]->id, got[i]->id) < 0);
        cJSON_Delete(body);
    }
    RUN_UNTIL(h, count_db(h, DB_OUTBOX) == 0);
    cJSON *log = deliveries(h);
    CHECK_INT(cJSON_GetArraySize(log), 20);
    cJSON *d;
    cJSON_ArrayForEach(d, log)
    {
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "result")), "delivered");
        CHECK_INT(cJSON_GetObjectItemCaseSensitive(d, "status")->valueint, 200);
        CHECK_INT(cJSON_GetObjectItemCaseSensitive(d, "attempt")->valueint, 1);
        CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(d, "error")));
    }
    cJSON_Delete(log);
    CHECK_INT(FAILED(h), 0);
    harness_free(h);
}

/* A target answering 503 is retried with backoff and still gets its events in order, while the
 * batch's own target, which is healthy, is not held up by it. */
static void test_failing_target_does_not_block_others(void)
{
    struct harness *h = harness_new();
    endpoint_add(h, "down")->fail_left = 3;
    endpoint_add(h, "up");
    char url[128], secret[SIGNING_SECRET_LEN + 1];
    uint64_t created;
    url_of(h, "down", url, sizeof url);
    CHECK_INT(target_set(h->store, WS_ID, strlen(WS_ID), url, secret, &created), 0);
    url_of(h, "up", url, sizeof url);
    put_batch_meta(h, url);
    start_worker(h, 100, 60000);
    emit(h, 0, 5);
    CHECK_INT(count_db(h, DB_OUTBOX), 10);
    RUN_UNTIL(h, h->endpoints[1].ok == 5);
    CHECK(h->endpoints[0].ok == 0);
    RUN_UNTIL(h, DELIVERED(h) == 10 && count_db(h, DB_OUTBOX) == 0);
    struct received *got[16];
    for (int e = 0; e < 2; e++) {
        size_t n = accepted(h, e ? "up" : "down", got, 16);
        CHECK_INT(n, 5);
        for (size_t i = 0; i < n; i++) {
            CHECK_INT(event_index(got[i]), (int)i);
            CHECK(signature_valid(got[i], secret));
        }
    }
    CHECK_INT(FAILED(h), 3);
    /* Each try of the failing head was a request for the same event, with the same id. */
    accepted(h, "down", got, 16);
    int tries = 0;
    for (size_t i = 0; i < h->nrx; i++)
        if (!strcmp(h->rx[i].endpoint, "down") && h->rx[i].answered == 503)
            tries += !strcmp(h->rx[i].id, got[0]->id);
    CHECK_INT(tries, 3);
    cJSON *log = deliveries(h);
    int retrying = 0, first_attempts = 0;
    cJSON *d;
    cJSON_ArrayForEach(d, log)
    {
        const char *result = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "result"));
        if (result && !strcmp(result, "retrying")) {
            retrying++;
            CHECK_INT(cJSON_GetObjectItemCaseSensitive(d, "status")->valueint, 503);
            CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(d, "nextAttemptAt")));
        }
        first_attempts += cJSON_GetObjectItemCaseSensitive(d, "attempt")->valueint == 1;
    }
    CHECK_INT(retrying, 3);
    CHECK_INT(cJSON_GetArraySize(log), 13);
    CHECK_INT(first_attempts, 10);
    cJSON_Delete(log);
    harness_free(h);
}

/* An endpoint that never recovers is given up once the next retry would pass max_age. */
static void test_gives_up_after_max_age(void)
{
    struct harness *h = harness_new();
    endpoint_add(h, "dead")->fail_always = 1;
    char url[128], secret[SIGNING_SECRET_LEN + 1];
    uint64_t created;
    url_of(h, "dead", url, sizeof url);
    CHECK_INT(target_set(h->store, WS_ID, strlen(WS_ID), url, secret, &created), 0);
    start_worker(h, 20, 150);
    emit(h, 0, 2);
    RUN_UNTIL(h, GAVE_UP(h) == 2 && count_db(h, DB_OUTBOX) == 0);
    CHECK_INT(DELIVERED(h), 0);
    CHECK(FAILED(h) >= 4);
    cJSON *log = deliveries(h);
    int gave_up = 0;
    cJSON *d;
    cJSON_ArrayForEach(d, log)
    {
        const char *result = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "result"));
        gave_up += result && !strcmp(result, "gave_up");
    }
    CHECK_INT(gave_up, 2);
    cJSON_Delete(log);
    harness_free(h);
}

/* A port nothing listens on: bound by a socket that is then closed. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    bind(fd, (struct sockaddr *)&addr, sizeof addr);
    getsockname(fd, (struct sockaddr *)&addr, &len);
    close(fd);
    return ntohs(addr.sin_port);
}

/* A network error is an attempt too: recorded with no status and the reason. */
static void test_connection_refused_is_recorded(void)
{
    struct harness *h = harness_new();
    char url[128], secret[SIGNING_SECRET_LEN + 1];
    uint64_t created;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", closed_port());
    CHECK_INT(target_set(h->store, WS_ID, strlen(WS_ID), url, secret, &created), 0);
    start_worker(h, 20, 60000);
    emit(h, 0, 1);
    RUN_UNTIL(h, count_db(h, DB_DELIVERY) >= 1);
    cJSON *log = deliveries(h);
    cJSON *d = cJSON_GetArrayItem(log, 0);
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(d, "status")));
    const char *error = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "error"));
    CHECK(error && strstr(error, "connect"));
    cJSON_Delete(log);
    harness_free(h);
}

/* By default the worker checks the address it connects to: a target on loopback (stored before
 * the check, or a name that resolves there) gets no request, and the log shows only that the
 * attempt could not connect. */
static void test_non_public_address_refused_at_connect(void)
{
    struct harness *h = harness_new();
    endpoint_add(h, "a");
    char url[128], secret[SIGNING_SECRET_LEN + 1];
    uint64_t created;
    url_of(h, "a", url, sizeof url);
    CHECK_INT(target_set(h->store, WS_ID, strlen(WS_ID), url, secret, &created), 0);
    start_worker_with(h, 20, 60000, 0);
    emit(h, 0, 1);
    RUN_UNTIL(h, count_db(h, DB_DELIVERY) >= 2);
    CHECK_INT(h->nrx, 0);
    cJSON *log = deliveries(h);
    cJSON *d;
    cJSON_ArrayForEach(d, log)
    {
        CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(d, "status")));
        const char *error = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "error"));
        CHECK_STR(error, "could not connect");
    }
    cJSON_Delete(log);
    harness_free(h);
}

/* Stopping the worker mid-backoff and starting a new one on the same store (a restart) delivers
 * everything, honours the stored nextAttemptAt, and numbers new events after the old ones. */
static void test_survives_restart(void)
{
    struct harness *h = harness_new();
    struct endpoint *e = endpoint_add(h, "a");
    e->fail_always = 1;
    char url[128], secret[SIGNING_SECRET_LEN + 1];
    uint64_t created;
    url_of(h, "a", url, sizeof url);
    CHECK_INT(target_set(h->store, WS_ID, strlen(WS_ID), url, secret, &created), 0);
    start_worker(h, 300, 60000);
    emit(h, 0, 3);
    RUN_UNTIL(h, count_db(h, DB_DELIVERY) == 1);
    cJSON *log = deliveries(h);
    const cJSON *next =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(log, 0), "nextAttemptAt");
    uint64_t due = cJSON_IsNumber(next) ? (uint64_t)next->valuedouble : 0;
    cJSON_Delete(log);
    stop_worker(h);
    CHECK_INT(count_db(h, DB_OUTBOX), 3);

    e->fail_always = 0;
    start_worker(h, 10, 60000);
    emit(h, 3, 1);
    RUN_UNTIL(h, DELIVERED(h) == 4 && count_db(h, DB_OUTBOX) == 0);
    struct received *got[8];
    size_t n = accepted(h, "a", got, 8);
    CHECK_INT(n, 4);
    for (size_t i = 0; i < n; i++)
        CHECK_INT(event_index(got[i]), (int)i);
    CHECK(due > 0 && got[0]->at_ms + 5 >= due);
    harness_free(h);
}

/* Events still in the outbox when the workspace's webhook is deleted are dropped: there is no
 * secret left to sign them with. */
static void test_deleted_webhook_drops_pending(void)
{
    struct harness *h = harness_new();
    endpoint_add(h, "a")->fail_always = 1;
    char url[128], secret[SIGNING_SECRET_LEN + 1];
    uint64_t created;
    url_of(h, "a", url, sizeof url);
    CHECK_INT(target_set(h->store, WS_ID, strlen(WS_ID), url, secret, &created), 0);
    start_worker(h, 50, 60000);
    emit(h, 0, 2);
    RUN_UNTIL(h, FAILED(h) == 1);
    CHECK_INT(target_remove(h->store, WS_ID, strlen(WS_ID)), 0);
    RUN_UNTIL(h, count_db(h, DB_OUTBOX) == 0);
    CHECK_INT(DELIVERED(h), 0);
    harness_free(h);
}

/* A batch webhookUrl in a workspace without a webhook: the workspace gets a signing secret (and
 * no URL) in the same transaction, and the event is signed with it. */
static void test_batch_target_creates_secret(void)
{
    struct harness *h = harness_new();
    endpoint_add(h, "b");
    char url[128];
    url_of(h, "b", url, sizeof url);
    put_batch_meta(h, url);
    start_worker(h, 10, 60000);
    emit(h, 0, 1);
    CHECK_INT(count_db(h, DB_WEBHOOK), 1);
    RUN_UNTIL(h, DELIVERED(h) == 1);
    struct store_txn t;
    struct store_val v;
    CHECK_INT(store_read_begin(h->store, &t), 0);
    CHECK_INT(store_get(&t, DB_WEBHOOK, WS_ID, strlen(WS_ID), &v), 0);
    cJSON *rec = cJSON_ParseWithLength(v.ptr, v.len);
    store_read_end(&t);
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(rec, "url")));
    const char *secret = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "secret"));
    CHECK(secret && signature_valid(&h->rx[0], secret));
    cJSON_Delete(rec);
    harness_free(h);
}

/* The log keeps the newest 1,000 records per workspace. */
static void test_deliveries_trimmed(void)
{
    struct harness *h = harness_new();
    endpoint_add(h, "a");
    endpoint_add(h, "b");
    char url[128], secret[SIGNING_SECRET_LEN + 1];
    uint64_t created;
    url_of(h, "a", url, sizeof url);
    CHECK_INT(target_set(h->store, WS_ID, strlen(WS_ID), url, secret, &created), 0);
    url_of(h, "b", url, sizeof url);
    put_batch_meta(h, url);
    start_worker(h, 10, 60000);
    emit(h, 0, 260);
    emit(h, 260, 260);
    RUN_UNTIL(h, DELIVERED(h) == 1040 && count_db(h, DB_OUTBOX) == 0);
    CHECK_INT(count_db(h, DB_DELIVERY), 1000);
    cJSON *log = deliveries(h);
    /* The oldest records went: the first event of each target is no longer listed. */
    int first_seen = 0;
    cJSON *d;
    char first_id[64];
    snprintf(first_id, sizeof first_id, "%s", h->rx[0].id);
    cJSON_ArrayForEach(d, log) first_seen +=
        !strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "eventId")), first_id);
    CHECK_INT(first_seen, 0);
    cJSON_Delete(log);
    harness_free(h);
}

CHECK_MAIN(CHECK_CASE(test_no_target_writes_nothing), CHECK_CASE(test_delivers_signed_in_order),
           CHECK_CASE(test_failing_target_does_not_block_others),
           CHECK_CASE(test_gives_up_after_max_age), CHECK_CASE(test_connection_refused_is_recorded),
           CHECK_CASE(test_non_public_address_refused_at_connect),
           CHECK_CASE(test_survives_restart), CHECK_CASE(test_deleted_webhook_drops_pending),
           CHECK_CASE(test_batch_target_creates_secret), CHECK_CASE(test_deliveries_trimmed))
