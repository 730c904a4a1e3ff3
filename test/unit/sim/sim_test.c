/* Tests for the provider simulator in src/sim/sim.c, over real HTTP on one libuv loop.
 *
 * Each test starts the simulator on an ephemeral port, a small callback receiver (an http_server
 * on the same loop) and a client dialer. Requests are sent one at a time and the loop runs until
 * each is answered, so the tests read like a script; waiting for callbacks runs the loop until
 * the receiver has seen enough of them. The receiver checks every X-Twilio-Signature as it
 * arrives. At the end everything is closed and the loop must close cleanly. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <netinet/in.h>

#include "check.h"
#include "http/client.h"
#include "http/http.h"
#include "provider/form.h"
#include "provider/twilio.h"
#include "sim/sim.h"
#include "http/response.h"
#include "http/router.h"
#include "http/server.h"
#include "util/buf.h"
#include "util/log.h"

#define SID      "ACtest00000000000000000000000000"
#define TOKEN    "test-token"
#define USERPWD  SID ":" TOKEN
#define CALLS    "/2010-04-01/Accounts/" SID "/Calls.json"
#define FROM     "+14155550000"
#define SPEED    1000
#define WAIT_MS  10000
#define MAX_SEEN 512

/* ---- the callback receiver ---- */

/* One status callback as the receiver saw it. */
struct seen {
    char sid[64], status[32], answered_by[32];
    long sequence, sip, duration, call_duration; /* -1 when absent */
    int fields_ok;                               /* the fields sent with every callback */
    int signature_ok;
    char row[16];
    double at_ms; /* arrival, monotonic */
};

struct receiver {
    struct http_server http;
    int port;
    int fail_next; /* answer this many callbacks with a 500 */
    int hold;      /* do not answer yet: the callbacks stay in flight until rx_release */
    int hits;      /* every request, answered or not */
    struct http_request *held[MAX_SEEN];
    int nheld;
    struct seen seen[MAX_SEEN];
    int nseen;
    int finals; /* callbacks carrying SipResponseCode */
};

static double mono_ms(void)
{
    return (double)uv_hrtime() / 1e6;
}

static long form_long(const char *body, size_t len, const char *name)
{
    char v[32];
    return form_get(body, len, name, v, sizeof v) > 0 ? atol(v) : -1;
}

static int form_has(const char *body, size_t len, const char *name, const char *want)
{
    char v[128];
    return form_get(body, len, name, v, sizeof v) > 0 && (!want || strcmp(v, want) == 0);
}

/* Records a callback and answers it (500 while fail_next lasts). */
static void rx_answer(struct receiver *rx, struct http_request *req)
{
    if (rx->fail_next > 0) {
        rx->fail_next--;
        http_respond(req, 500, "text/plain", "try again", 9);
        return;
    }
    if (rx->nseen == MAX_SEEN) {
        http_respond(req, 204, "text/plain", "", 0);
        return;
    }
    struct seen *s = &rx->seen[rx->nseen++];
    const char *b = req->body.data ? req->body.data : "";
    size_t n = req->body.len;
    memset(s, 0, sizeof *s);
    form_get(b, n, "CallSid", s->sid, sizeof s->sid);
    form_get(b, n, "CallStatus", s->status, sizeof s->status);
    form_get(b, n, "AnsweredBy", s->answered_by, sizeof s->answered_by);
    s->sequence = form_long(b, n, "SequenceNumber");
    s->sip = form_long(b, n, "SipResponseCode");
    s->duration = form_long(b, n, "Duration");
    s->call_duration = form_long(b, n, "CallDuration");
    s->fields_ok = form_has(b, n, "AccountSid", SID) && form_has(b, n, "To", NULL) &&
                   form_has(b, n, "From", FROM) && form_has(b, n, "Direction", "outbound-api") &&
                   form_has(b, n, "ApiVersion", "2010-04-01") &&
                   form_has(b, n, "CallbackSource", "call-progress-events") &&
                   form_has(b, n, "Timestamp", NULL);
    http_query(req, "r", s->row, sizeof s->row);
    s->at_ms = mono_ms();
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%.*s", rx->port, (int)req->url.len, req->url.ptr);
    const struct http_slice *sig = http_header(req, "x-twilio-signature");
    s->signature_ok = sig && twilio_verify(TOKEN, url, strlen(url), b, n, sig->ptr, sig->len);
    if (s->sip >= 0)
        rx->finals++;
    http_respond(req, 204, "text/plain", "", 0);
}

static void rx_callback(struct http_request *req)
{
    struct receiver *rx = http_app(req);
    rx->hits++;
    if (rx->hold && rx->nheld < MAX_SEEN) {
        rx->held[rx->nheld++] = req;
        return;
    }
    rx_answer(rx, req);
}

/* Answers every held callback and stops holding. */
static void rx_release(struct receiver *rx)
{
    rx->hold = 0;
    for (int i = 0; i < rx->nheld; i++)
        rx_answer(rx, rx->held[i]);
    rx->nheld = 0;
}

static const struct http_route rx_routes[] = {
    {HTTP_POST, "/cb", rx_callback, NULL, 0, 0},
};

static void rx_init(struct receiver *rx, uv_loop_t *loop)
{
    struct http_server_config hc = {
        .max_connections = 1024,
        .header_timeout_ms = 10000,
        .idle_timeout_ms = 60000,
        .body_timeout_ms = 10000,
        .linger_ms = 100,
        .routes = rx_routes,
        .nroutes = 1,
        .app = rx,
    };
    memset(rx, 0, sizeof *rx);
    http_server_init(&rx->http, loop, &hc);
}

/* A port nobody listens on (yet): bound, read and closed again. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* ---- the environment: loop, simulator, receiver, client ---- */

struct env {
    uv_loop_t loop;
    uv_timer_t tick; /* wakes UV_RUN_ONCE up so that waits can time out */
    struct sim *sim;
    struct client client;
    struct receiver rx;
    int sim_stopped;
};

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static struct env *env_start(double speed)
{
    struct env *e = calloc(1, sizeof *e);
    uv_loop_init(&e->loop);
    uv_timer_init(&e->loop, &e->tick);
    struct sim_config cfg = {.speed = speed, .account_sid = SID, .auth_token = TOKEN};
    CHECK_INT(sim_start(&e->sim, &e->loop, &cfg, "127.0.0.1", 0), 0);
    CHECK(sim_port(e->sim) > 0);
    CHECK_INT(client_init(&e->client, &e->loop, 64), 0);
    rx_init(&e->rx, &e->loop);
    e->rx.port = free_port();
    return e;
}

static void rx_listen(struct env *e)
{
    CHECK_INT(http_server_listen(&e->rx.http, "127.0.0.1", e->rx.port), 0);
}

static void on_sim_stopped(void *arg)
{
    struct env *e = arg;
    e->sim_stopped = 1;
}

static void env_close(struct env *e)
{
    sim_stop(e->sim, on_sim_stopped, e);
    http_server_drain(&e->rx.http, NULL);
    http_server_close_all(&e->rx.http);
    client_close(&e->client, NULL);
    uv_close((uv_handle_t *)&e->tick, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    CHECK(e->sim_stopped);
    CHECK_INT(uv_loop_close(&e->loop), 0);
    free(e);
}

/* Runs the loop until cond(arg) holds or ms pass. Returns whether cond held. */
static int run_until(struct env *e, int (*cond)(void *arg), void *arg, double ms)
{
    double deadline = mono_ms() + ms;
    uv_timer_start(&e->tick, on_tick, 2, 2);
    int ok;
    while (!(ok = cond(arg)) && mono_ms() < deadline)
        uv_run(&e->loop, UV_RUN_ONCE);
    uv_timer_stop(&e->tick);
    return ok;
}

static int never(void *arg)
{
    (void)arg;
    return 0;
}

static void run_for(struct env *e, double ms)
{
    run_until(e, never, NULL, ms);
}

static int flag_set(void *arg)
{
    return *(int *)arg;
}

struct count_wait {
    int *counter;
    int target;
};

static int count_reached(void *arg)
{
    struct count_wait *w = arg;
    return *w->counter >= w->target;
}

static int wait_count(struct env *e, int *counter, int target)
{
    struct count_wait w = {counter, target};
    return run_until(e, count_reached, &w, WAIT_MS);
}

/* ---- the client ---- */

struct reply {
    int done;
    int result;
    long status;
    struct buf body;
};

static void on_reply(struct client_request *r)
{
    struct reply *rep = r->user;
    rep->done = 1;
    rep->result = r->result;
    rep->status = r->status;
    rep->body = r->response;
    r->response = (struct buf){0};
    client_request_free(r);
}

/* Sends one request to the simulator and waits for the answer. Returns the HTTP status and, when
 * json is not NULL, the parsed body (NULL if it is not JSON). body is consumed. */
static long request(struct env *e, const char *method, const char *path, const char *userpwd,
                    struct buf *body, const char *content_type, cJSON **json)
{
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", sim_port(e->sim), path);
    struct reply rep = {0};
    struct client_request r = {
        .url = url,
        .method = method,
        .content_type = content_type,
        .userpwd = userpwd,
        .done = on_reply,
        .user = &rep,
    };
    if (body) {
        r.body = *body;
        *body = (struct buf){0};
    }
    if (client_start(&e->client, &r) != 0) {
        CHECK(!"client_start failed");
        client_request_free(&r);
        return -1;
    }
    /* The client's own timeout ends the request, so this wait always finishes. */
    run_until(e, flag_set, &rep.done, 1e9);
    CHECK_INT(rep.result, CLIENT_OK);
    if (json)
        *json = rep.body.len ? cJSON_ParseWithLength(rep.body.data, rep.body.len) : NULL;
    buf_free(&rep.body);
    return rep.status;
}

static long get_json(struct env *e, const char *path, cJSON **json)
{
    return request(e, "GET", path, USERPWD, NULL, NULL, json);
}

static long post_config(struct env *e, const char *json_text, cJSON **json)
{
    struct buf b = {0};
    buf_append_str(&b, json_text);
    return request(e, "POST", "/sim/config", NULL, &b, "application/json", json);
}

static double num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static const char *str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* One counter of GET /sim/stats. */
static double sim_stat(struct env *e, const char *name)
{
    cJSON *j = NULL;
    CHECK_INT(get_json(e, "/sim/stats", &j), 200);
    double v = num(j, name);
    cJSON_Delete(j);
    return v;
}

/* Waits (polling GET /sim/stats) until a counter reaches target. */
static int wait_stat(struct env *e, const char *name, double target)
{
    double deadline = mono_ms() + WAIT_MS;
    while (mono_ms() < deadline) {
        if (sim_stat(e, name) >= target)
            return 1;
        run_for(e, 10);
    }
    return 0;
}

/* Creates a call. query is the StatusCallback query ("b=B&r=1&a=1"), or NULL for no
 * StatusCallback; extra holds more name, value pairs, NULL-terminated. The new call's sid goes
 * into sid (empty when none). Returns the HTTP status. */
static long create(struct env *e, const char *to, const char *query, const char *const *extra,
                   char sid[64], cJSON **json)
{
    struct buf b = {0};
    char cb[256];
    if (to)
        form_append(&b, "To", to);
    form_append(&b, "From", FROM);
    form_append(&b, "Url", "http://example.com/twiml");
    if (query) {
        snprintf(cb, sizeof cb, "http://127.0.0.1:%d/cb?%s", e->rx.port, query);
        form_append(&b, "StatusCallback", cb);
    }
    for (size_t i = 0; extra && extra[i]; i += 2)
        form_append(&b, extra[i], extra[i + 1]);
    cJSON *j = NULL;
    long status = request(e, "POST", CALLS, USERPWD, &b, "application/x-www-form-urlencoded", &j);
    if (sid)
        snprintf(sid, 64, "%s", status == 201 ? str(j, "sid") : "");
    if (json)
        *json = j;
    else
        cJSON_Delete(j);
    return status;
}

/* The callbacks seen for one call, in arrival order. */
static int seen_of(const struct receiver *rx, const char *sid, const struct seen **out, int max)
{
    int n = 0;
    for (int i = 0; i < rx->nseen && n < max; i++)
        if (!strcmp(rx->seen[i].sid, sid))
            out[n++] = &rx->seen[i];
    return n;
}

static const char *const ALL_EVENTS[] = {
    "StatusCallbackEvent",
    "initiated",
    "StatusCallbackEvent",
    "ringing",
    "StatusCallbackEvent",
    "answered",
    "StatusCallbackEvent",
    "completed",
    "MachineDetection",
    "Enable",
    "Timeout",
    "5",
    NULL,
};

/* ---- tests ---- */

struct expect {
    const char *to;
    long http;
    const char *final;
    long sip;
    const char *answered_by; /* NULL: not answered */
};

static const struct expect outcome_table[] = {
    {"+14155550100", 201, "busy", 486, NULL},
    {"+14155550101", 201, "no-answer", 487, NULL},
    {"+14155550102", 201, "failed", 480, NULL},
    {"+14155550103", 201, "failed", 608, NULL},
    {"+14155550104", 201, "completed", 200, "machine_start"},
    {"+14155550105", 503, NULL, 0, NULL},
    {"+14155550142", 201, "completed", 200, "human"},
};
#define NOUTCOMES (sizeof outcome_table / sizeof outcome_table[0])

/* Every outcome of the table: the create's answer, the callback sequence and the final fields. */
static void test_outcomes(void)
{
    struct env *e = env_start(SPEED);
    rx_listen(e);
    char sids[NOUTCOMES][64];
    int calls = 0, expected_callbacks = 0;
    for (size_t i = 0; i < NOUTCOMES; i++) {
        const struct expect *x = &outcome_table[i];
        char query[64];
        snprintf(query, sizeof query, "b=B1&r=%zu&a=1", i);
        cJSON *j = NULL;
        CHECK_INT(create(e, x->to, query, ALL_EVENTS, sids[i], &j), x->http);
        if (x->http == 201) {
            calls++;
            expected_callbacks += x->answered_by ? 4 : 3;
            CHECK_INT(strlen(sids[i]), 34);
            CHECK(!strncmp(sids[i], "CA", 2));
            CHECK_STR(str(j, "status"), "queued");
            CHECK_STR(str(j, "direction"), "outbound-api");
            CHECK_STR(str(j, "to"), x->to);
            CHECK_STR(str(j, "from"), FROM);
            CHECK_STR(str(j, "account_sid"), SID);
        } else {
            CHECK_INT(num(j, "code"), 20500);
            CHECK_STR(str(j, "message"), "Service unavailable (simulated)");
        }
        cJSON_Delete(j);
    }
    CHECK(wait_count(e, &e->rx.finals, calls));
    CHECK(wait_stat(e, "callbacksSent", expected_callbacks));

    for (size_t i = 0; i < NOUTCOMES; i++) {
        const struct expect *x = &outcome_table[i];
        if (x->http != 201)
            continue;
        const struct seen *s[8];
        int n = seen_of(&e->rx, sids[i], s, 8);
        const char *want[4] = {"initiated", "ringing", x->answered_by ? "in-progress" : x->final,
                               x->final};
        int nwant = x->answered_by ? 4 : 3;
        CHECK_INT(n, nwant);
        for (int k = 0; k < n && k < nwant; k++) {
            CHECK_STR(s[k]->status, want[k]);
            CHECK_INT(s[k]->sequence, k);
            CHECK(s[k]->signature_ok);
            CHECK(s[k]->fields_ok);
            CHECK_INT(atoi(s[k]->row), (int)i);
        }
        if (n != nwant)
            continue;
        const struct seen *last = s[n - 1];
        long talk = x->answered_by ? 5 + strtoll(x->to + 1, NULL, 10) % 55 : 0;
        CHECK_INT(last->sip, x->sip);
        CHECK_INT(last->duration, talk);
        CHECK_INT(last->call_duration, talk);
        CHECK_STR(last->answered_by, x->answered_by ? x->answered_by : "");
        /* Only the final callback carries the final fields. */
        CHECK_INT(s[0]->sip, -1);
        CHECK_INT(s[0]->duration, -1);
    }

    cJSON *j = NULL;
    CHECK_INT(get_json(e, "/sim/stats", &j), 200);
    CHECK_INT(num(j, "requests"), NOUTCOMES);
    CHECK_INT(num(j, "accepted"), calls);
    CHECK_INT(num(j, "rejected"), 1);
    CHECK_INT(num(j, "duplicates"), 0);
    CHECK_INT(num(j, "inProgress"), 0);
    CHECK(num(j, "maxInProgress") >= 1 && num(j, "maxInProgress") <= calls);
    CHECK_INT(num(j, "callbacksSent"), expected_callbacks);
    CHECK_INT(num(j, "callbacksFailed"), 0);
    CHECK_INT(num(j, "callbacksRetried"), 0);
    const cJSON *b1 =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "batches"), "B1");
    CHECK_INT(num(b1, "requests"), NOUTCOMES);
    CHECK_INT(num(b1, "accepted"), calls);
    CHECK_INT(num(b1, "rows"), NOUTCOMES);
    CHECK(num(b1, "firstDialAt") > 1.6e12 && num(b1, "firstDialAt") <= num(b1, "lastDialAt"));
    double per_second = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(j, "perSecond"))
    {
        CHECK(num(item, "second") > 1.6e9);
        per_second += num(item, "dials");
    }
    CHECK_INT(per_second, NOUTCOMES);
    cJSON_Delete(j);
    env_close(e);
}

/* Only the StatusCallbackEvent values asked for are sent, but always the final one; sequence
 * numbers count the callbacks actually sent. */
static void test_event_selection(void)
{
    struct env *e = env_start(SPEED);
    rx_listen(e);
    char none[64], some[64], quiet[64];
    CHECK_INT(create(e, "+14155550142", "b=B&r=1&a=1", NULL, none, NULL), 201);
    static const char *const spaced[] = {"StatusCallbackEvent", "ringing answered", NULL};
    CHECK_INT(create(e, "+14155550143", "b=B&r=2&a=1", spaced, some, NULL), 201);
    CHECK_INT(create(e, "+14155550144", NULL, NULL, quiet, NULL), 201);
    CHECK(wait_count(e, &e->rx.finals, 2));

    const struct seen *s[8];
    CHECK_INT(seen_of(&e->rx, none, s, 8), 1);
    CHECK_STR(s[0]->status, "completed");
    CHECK_INT(s[0]->sequence, 0);
    CHECK_STR(s[0]->answered_by, ""); /* no MachineDetection asked */
    int n = seen_of(&e->rx, some, s, 8);
    CHECK_INT(n, 3);
    const char *want[] = {"ringing", "in-progress", "completed"};
    for (int k = 0; k < n && k < 3; k++) {
        CHECK_STR(s[k]->status, want[k]);
        CHECK_INT(s[k]->sequence, k);
    }
    /* The call without a StatusCallback still ends: its status is fetched. */
    char path[256];
    snprintf(path, sizeof path, "/2010-04-01/Accounts/%s/Calls/%s.json", SID, quiet);
    double deadline = mono_ms() + WAIT_MS;
    cJSON *j = NULL;
    for (;;) {
        CHECK_INT(get_json(e, path, &j), 200);
        if (!strcmp(str(j, "status"), "completed") || mono_ms() > deadline)
            break;
        cJSON_Delete(j);
        run_for(e, 10);
    }
    CHECK_STR(str(j, "status"), "completed");
    cJSON_Delete(j);
    CHECK_INT(seen_of(&e->rx, quiet, s, 8), 0);
    env_close(e);
}

/* The ring lasts the request's Timeout for no-answer numbers and 3 s otherwise (scaled). */
static void test_ring_timing(void)
{
    struct env *e = env_start(100);
    rx_listen(e);
    static const char *const events[] = {"StatusCallbackEvent", "ringing", "Timeout", "12", NULL};
    char no_answer[64], busy[64];
    /* The final status cannot come before its time, counted from before the create was sent;
     * measuring from the ringing callback instead would depend on delivery latency. */
    double start = mono_ms();
    CHECK_INT(create(e, "+14155550101", "b=T&r=1&a=1", events, no_answer, NULL), 201);
    CHECK_INT(create(e, "+14155550100", "b=T&r=2&a=1", events, busy, NULL), 201);
    CHECK(wait_count(e, &e->rx.finals, 2));
    const struct seen *s[4];
    /* Ringing comes 10 ms after the create, then 12 s of Timeout at speed 100 is 120 ms. */
    CHECK_INT(seen_of(&e->rx, no_answer, s, 4), 2);
    CHECK_STR(s[0]->status, "ringing");
    CHECK_STR(s[1]->status, "no-answer");
    CHECK(s[1]->at_ms - start >= 125);
    /* Other numbers ring 3 s: 30 ms. */
    CHECK_INT(seen_of(&e->rx, busy, s, 4), 2);
    CHECK_STR(s[1]->status, "busy");
    CHECK(s[1]->at_ms - start >= 38);
    env_close(e);
}

/* Duplicates by (batch, row, attempt), the dials list, GET of a call, and reset. */
static void test_ledger_and_fetch(void)
{
    struct env *e = env_start(SPEED);
    rx_listen(e);
    static const char *const queries[] = {"b=B2&r=7&a=1", "b=B2&r=7&a=1", "b=B2&r=7&a=2",
                                          "b=B2&r=8&a=1"};
    char sid[64];
    for (size_t i = 0; i < 4; i++)
        CHECK_INT(create(e, "+14155550142", queries[i], NULL, sid, NULL), 201);
    CHECK(wait_count(e, &e->rx.finals, 4));

    cJSON *j = NULL;
    CHECK_INT(get_json(e, "/sim/stats", &j), 200);
    CHECK_INT(num(j, "requests"), 4);
    CHECK_INT(num(j, "duplicates"), 1);
    const cJSON *b2 =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "batches"), "B2");
    CHECK_INT(num(b2, "requests"), 4);
    CHECK_INT(num(b2, "accepted"), 4);
    CHECK_INT(num(b2, "rows"), 2);
    cJSON_Delete(j);

    CHECK_INT(get_json(e, "/sim/dials?batch=B2", &j), 200);
    CHECK_STR(str(j, "batch"), "B2");
    const cJSON *dials = cJSON_GetObjectItemCaseSensitive(j, "dials");
    CHECK_INT(cJSON_GetArraySize(dials), 4);
    static const int rows[] = {7, 7, 7, 8}, seqs[] = {1, 1, 2, 1};
    for (int i = 0; i < cJSON_GetArraySize(dials) && i < 4; i++) {
        const cJSON *d = cJSON_GetArrayItem(dials, i);
        CHECK(cJSON_GetArrayItem(d, 0)->valuedouble > 1.6e12);
        CHECK_INT(cJSON_GetArrayItem(d, 1)->valuedouble, rows[i]);
        CHECK_INT(cJSON_GetArrayItem(d, 2)->valuedouble, seqs[i]);
    }
    cJSON_Delete(j);
    CHECK_INT(get_json(e, "/sim/dials?batch=nope", &j), 200);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "dials")), 0);
    cJSON_Delete(j);
    CHECK_INT(get_json(e, "/sim/dials", NULL), 400);

    char path[256];
    snprintf(path, sizeof path, "/2010-04-01/Accounts/%s/Calls/%s.json", SID, sid);
    CHECK_INT(get_json(e, path, &j), 200);
    CHECK_STR(str(j, "sid"), sid);
    CHECK_STR(str(j, "status"), "completed");
    char talk[16];
    snprintf(talk, sizeof talk, "%lld", 5 + 14155550142LL % 55);
    CHECK_STR(str(j, "duration"), talk);
    CHECK(strstr(str(j, "start_time"), "+0000") != NULL);
    CHECK(strstr(str(j, "end_time"), "+0000") != NULL);
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "answered_by")));
    cJSON_Delete(j);
    snprintf(path, sizeof path, "/2010-04-01/Accounts/%s/Calls/CA0000.json", SID);
    CHECK_INT(get_json(e, path, &j), 404);
    CHECK_INT(num(j, "code"), 20404);
    cJSON_Delete(j);
    snprintf(path, sizeof path, "/2010-04-01/Accounts/%s/Calls/%s", SID, sid);
    CHECK_INT(get_json(e, path, NULL), 404);
    snprintf(path, sizeof path, "/2010-04-01/Accounts/%s/Calls/%s.json", SID, sid);
    CHECK_INT(request(e, "GET", path, SID ":wrong", NULL, NULL, NULL), 401);

    CHECK_INT(request(e, "POST", "/sim/reset", NULL, NULL, NULL, NULL), 200);
    CHECK_INT(get_json(e, "/sim/stats", &j), 200);
    CHECK_INT(num(j, "requests"), 0);
    CHECK_INT(num(j, "duplicates"), 0);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "batches")), 0);
    cJSON_Delete(j);
    env_close(e);
}

/* Calls that overlap are counted in progress, and inProgress returns to 0. */
static void test_in_progress(void)
{
    /* At speed 100 a call with 5 s of talk lasts about 90 ms: the 5 creates overlap. */
    struct env *e = env_start(100);
    rx_listen(e);
    for (int i = 0; i < 5; i++)
        CHECK_INT(create(e, "+14155550165", "b=P&r=1&a=1", NULL, NULL, NULL), 201);
    CHECK_INT(sim_stat(e, "inProgress"), 5);
    CHECK(wait_count(e, &e->rx.finals, 5));
    CHECK_INT(sim_stat(e, "inProgress"), 0);
    CHECK_INT(sim_stat(e, "maxInProgress"), 5);
    CHECK_INT(sim_stat(e, "duplicates"), 4);
    env_close(e);
}

/* Authentication and validation errors, in Twilio's error format. */
static void test_errors(void)
{
    struct env *e = env_start(SPEED);
    cJSON *j = NULL;
    struct buf b = {0};
    form_append(&b, "To", "+14155550142");
    form_append(&b, "From", FROM);
    CHECK_INT(request(e, "POST", CALLS, SID ":wrong", &b, "application/x-www-form-urlencoded", &j),
              401);
    CHECK_INT(num(j, "code"), 20003);
    CHECK_STR(str(j, "message"), "Authentication Error - invalid username");
    CHECK_INT(num(j, "status"), 401);
    cJSON_Delete(j);

    form_append(&b, "To", "+14155550142");
    form_append(&b, "From", FROM);
    CHECK_INT(request(e, "POST", "/2010-04-01/Accounts/ACother/Calls.json", USERPWD, &b,
                      "application/x-www-form-urlencoded", NULL),
              401);
    CHECK_INT(request(e, "POST", CALLS, NULL, NULL, "application/x-www-form-urlencoded", NULL),
              401);

    CHECK_INT(create(e, NULL, NULL, NULL, NULL, &j), 400);
    CHECK_INT(num(j, "code"), 21201);
    cJSON_Delete(j);
    CHECK_INT(create(e, "14155550142", NULL, NULL, NULL, &j), 400);
    CHECK_INT(num(j, "code"), 21211);
    cJSON_Delete(j);
    CHECK_INT(create(e, "+1415555x142", NULL, NULL, NULL, &j), 400);
    CHECK_INT(num(j, "code"), 21211);
    cJSON_Delete(j);
    CHECK_INT(create(e, "+1234567890123456789", NULL, NULL, NULL, &j), 400);
    CHECK_INT(num(j, "code"), 21211);
    cJSON_Delete(j);

    CHECK_INT(sim_stat(e, "requests"), 7);
    CHECK_INT(sim_stat(e, "rejected"), 7);
    CHECK_INT(sim_stat(e, "accepted"), 0);
    env_close(e);
}

/* POST /sim/config: down, fail503, callbackDelayMs, and bad settings. */
static void test_config(void)
{
    struct env *e = env_start(SPEED);
    rx_listen(e);
    cJSON *j = NULL;
    CHECK_INT(post_config(e, "{\"down\":true}", &j), 200);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "down")));
    cJSON_Delete(j);
    CHECK_INT(create(e, "+14155550142", NULL, NULL, NULL, &j), 503);
    CHECK_INT(num(j, "code"), 20500);
    cJSON_Delete(j);
    CHECK_INT(create(e, "+14155550142", NULL, NULL, NULL, NULL), 503);

    CHECK_INT(post_config(e, "{\"down\":false,\"fail503\":2}", &j), 200);
    CHECK_INT(num(j, "fail503"), 2);
    cJSON_Delete(j);
    CHECK_INT(create(e, "+14155550142", NULL, NULL, NULL, NULL), 503);
    CHECK_INT(create(e, "+14155550142", NULL, NULL, NULL, NULL), 503);
    CHECK_INT(create(e, "+14155550142", NULL, NULL, NULL, NULL), 201);
    CHECK_INT(get_json(e, "/sim/config", &j), 200);
    CHECK_INT(num(j, "fail503"), 0);
    CHECK_INT(num(j, "speed"), SPEED);
    cJSON_Delete(j);

    CHECK_INT(post_config(e, "{\"speed\":0}", NULL), 400);
    CHECK_INT(post_config(e, "{\"down\":1}", NULL), 400);
    CHECK_INT(post_config(e, "{\"bogus\":1}", NULL), 400);
    CHECK_INT(post_config(e, "not json", NULL), 400);
    CHECK_INT(post_config(e, "{\"fail503\":-1}", NULL), 400);

    /* Every callback waits callbackDelayMs (not scaled) before it goes. */
    CHECK_INT(post_config(e, "{\"callbackDelayMs\":150}", NULL), 200);
    double start = mono_ms();
    CHECK_INT(create(e, "+14155550100", "b=C&r=1&a=1", NULL, NULL, NULL), 201);
    CHECK(wait_count(e, &e->rx.finals, 1));
    CHECK(e->rx.seen[0].at_ms - start >= 150);
    CHECK_INT(sim_stat(e, "rejected"), 4);
    env_close(e);
}

/* Callbacks to a receiver that is not listening yet, or answers 500, are retried until they get
 * through, still in order. */
static void test_callback_retries(void)
{
    struct env *e = env_start(SPEED);
    char sid[64];
    CHECK_INT(create(e, "+14155550100", "b=R&r=1&a=1", ALL_EVENTS, sid, NULL), 201);
    run_for(e, 120);
    CHECK_INT(e->rx.nseen, 0);
    CHECK(sim_stat(e, "callbacksRetried") >= 1);
    rx_listen(e);
    CHECK(wait_count(e, &e->rx.finals, 1));
    const struct seen *s[8];
    int n = seen_of(&e->rx, sid, s, 8);
    CHECK_INT(n, 3);
    const char *want[] = {"initiated", "ringing", "busy"};
    for (int k = 0; k < n && k < 3; k++) {
        CHECK_STR(s[k]->status, want[k]);
        CHECK_INT(s[k]->sequence, k);
        CHECK(s[k]->signature_ok);
    }

    /* Non-2xx answers are failures too. */
    e->rx.fail_next = 2;
    double retried = sim_stat(e, "callbacksRetried");
    CHECK_INT(create(e, "+14155550100", "b=R&r=2&a=1", ALL_EVENTS, sid, NULL), 201);
    CHECK(wait_count(e, &e->rx.finals, 2));
    n = seen_of(&e->rx, sid, s, 8);
    CHECK_INT(n, 3);
    for (int k = 0; k < n && k < 3; k++)
        CHECK_STR(s[k]->status, want[k]);
    CHECK_INT(sim_stat(e, "callbacksRetried"), retried + 2);
    CHECK_INT(sim_stat(e, "callbacksFailed"), 0);
    CHECK_INT(sim_stat(e, "callbacksSent"), 6);
    env_close(e);
}

/* A callback that never gets through is abandoned after 10 tries. */
static void test_callback_abandoned(void)
{
    struct env *e = env_start(SPEED);
    CHECK_INT(create(e, "+14155550100", "b=A&r=1&a=1", NULL, NULL, NULL), 201);
    CHECK(wait_stat(e, "callbacksFailed", 1));
    CHECK_INT(sim_stat(e, "callbacksRetried"), 9);
    CHECK_INT(sim_stat(e, "callbacksSent"), 0);
    CHECK_INT(sim_stat(e, "inProgress"), 0);
    env_close(e);
}

/* Stopping with calls scheduled and callbacks in flight frees everything. */
static void test_stop_with_work_pending(void)
{
    /* At speed 1 the calls ring for seconds: they are all still scheduled at stop, and the
     * receiver holds their "initiated" callbacks. */
    struct env *e = env_start(1);
    rx_listen(e);
    e->rx.hold = 1;
    for (int i = 0; i < 3; i++)
        CHECK_INT(create(e, "+14155550142", "b=S&r=1&a=1", ALL_EVENTS, NULL, NULL), 201);
    CHECK(wait_count(e, &e->rx.hits, 3));
    CHECK_INT(sim_stat(e, "inProgress"), 3);
    env_close(e);
}

/* At most 256 callbacks are in flight; the rest wait in order and go once answers come back. */
static void test_callback_cap(void)
{
    /* At speed 1 nothing but the "initiated" callbacks happens during the test. */
    struct env *e = env_start(1);
    rx_listen(e);
    e->rx.hold = 1;
    enum { N = 300 };
    static const char *const initiated[] = {"StatusCallbackEvent", "initiated", NULL};
    for (int i = 0; i < N; i++) {
        char query[64];
        snprintf(query, sizeof query, "b=Q&r=%d&a=1", i);
        CHECK_INT(create(e, "+14155550142", query, initiated, NULL, NULL), 201);
    }
    CHECK(wait_count(e, &e->rx.hits, 256));
    run_for(e, 50);
    CHECK_INT(e->rx.hits, 256);
    rx_release(&e->rx);
    CHECK(wait_count(e, &e->rx.nseen, N));
    CHECK_INT(e->rx.hits, N);
    int in_order = 1;
    for (int i = 0; i < e->rx.nseen; i++) {
        in_order &= e->rx.seen[i].sequence == 0 && e->rx.seen[i].signature_ok;
        /* The queue is first in, first out: rows arrive in the order the calls were made. */
        in_order &= atoi(e->rx.seen[i].row) == i;
    }
    CHECK(in_order);
    CHECK(wait_stat(e, "callbacksSent", N));
    env_close(e);
}

/* Ended calls are forgotten after 10 simulated minutes, even with callbacks still pending, which
 * are then delivered all the same. */
static void test_expiry(void)
{
    /* At speed 10000, 10 minutes last 60 ms. */
    struct env *e = env_start(10000);
    char sid[64], path[256];
    CHECK_INT(create(e, "+14155550100", "b=X&r=1&a=1", ALL_EVENTS, sid, NULL), 201);
    snprintf(path, sizeof path, "/2010-04-01/Accounts/%s/Calls/%s.json", SID, sid);
    CHECK_INT(get_json(e, path, NULL), 200);
    run_for(e, 150);
    CHECK_INT(get_json(e, path, NULL), 404);
    CHECK_INT(e->rx.nseen, 0);
    rx_listen(e);
    CHECK(wait_count(e, &e->rx.finals, 1));
    const struct seen *s[8];
    CHECK_INT(seen_of(&e->rx, sid, s, 8), 3);
    CHECK_STR(s[2]->status, "busy");
    CHECK_INT(sim_stat(e, "callbacksFailed"), 0);
    env_close(e);
}

/* A start that cannot listen fails and leaves nothing open once the loop runs. */
static void test_start_failure(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sim_config cfg = {.speed = 1, .account_sid = SID, .auth_token = TOKEN};
    struct sim *s = NULL;
    CHECK(sim_start(&s, &loop, &cfg, "not-an-address", 0) < 0);
    CHECK(s == NULL);
    cfg.speed = 0;
    CHECK(sim_start(&s, &loop, &cfg, "127.0.0.1", 0) < 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(uv_loop_close(&loop), 0);
}

static int can_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* sim_main: flags, and SIGTERM stops the process cleanly (exit 0). */
static void test_main(void)
{
    char *help[] = {"--help"};
    char *bad_flag[] = {"--bogus"};
    char *bad_speed[] = {"--sim-speed", "0"};
    char *bad_listen[] = {"--listen=nowhere"};
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDOUT_FILENO);
    CHECK_INT(sim_main(1, help), 0);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(devnull);
    CHECK_INT(sim_main(1, bad_flag), 2);
    CHECK_INT(sim_main(2, bad_speed), 2);
    CHECK_INT(sim_main(1, bad_listen), 2);

    int port = free_port();
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    char *args[] = {"--listen", listen, "--sim-speed=1000", "--log-level", "warn"};
    pid_t pid = fork();
    if (pid == 0)
        _exit(sim_main(5, args));
    CHECK(pid > 0);
    int up = 0;
    for (int i = 0; i < 500 && !(up = can_connect(port)); i++)
        usleep(10000);
    CHECK(up);
    kill(pid, SIGTERM);
    int status = 0;
    CHECK_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void setup(void)
{
    log_set_level(LOG_ERROR);
    client_global_init();
}

static void teardown(void)
{
    client_global_cleanup();
}

CHECK_MAIN(CHECK_CASE(setup), CHECK_CASE(test_outcomes), CHECK_CASE(test_event_selection),
           CHECK_CASE(test_ring_timing), CHECK_CASE(test_ledger_and_fetch),
           CHECK_CASE(test_in_progress), CHECK_CASE(test_errors), CHECK_CASE(test_config),
           CHECK_CASE(test_callback_retries), CHECK_CASE(test_callback_abandoned),
           CHECK_CASE(test_callback_cap), CHECK_CASE(test_expiry),
           CHECK_CASE(test_stop_with_work_pending), CHECK_CASE(test_start_failure),
           CHECK_CASE(test_main), CHECK_CASE(teardown))
