/* The telephony provider simulator (behaviour in sim.h).
 *
 * Pieces, in the order they appear below:
 *   - the ledger: counters, per-second dial counts and per-batch records of what was received;
 *   - the schedule: one uv_timer_t over a min-heap of due times, shared by every call step and
 *     every delayed callback, so thousands of live calls cost one libuv handle;
 *   - calls: created by the create route, advanced by the schedule through initiated, ringing,
 *     answered and their final status, remembered for a while after they end;
 *   - status callbacks: queued per call (sent strictly in order), delivered with our own dialer
 *     under a cap on requests in flight, retried with backoff;
 *   - the HTTP routes, start and stop, and sim_main for the standalone process. */
#include "http/response.h"
#include "http/router.h"
#include "http/server.h"
#include "provider/sim.h"

#include <arpa/inet.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "dispatch/dialer.h"
#include "http/http.h"
#include "provider/provider.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/json.h"
#include "util/log.h"
#include "util/map.h"

/* Simulated durations, in milliseconds at speed 1. */
#define RINGING_AFTER_MS  1000           /* initiated -> ringing */
#define RING_MS           3000           /* ringing -> answered, busy or failed */
#define RETAIN_MS         (10 * 60000.0) /* ended calls still answer GET this long */
#define DEFAULT_TIMEOUT_S 60             /* Twilio's default ring timeout */
#define MAX_TIMEOUT_S     600

#define MIN_SPEED 0.001
#define MAX_SPEED 1000000.0

#define MAX_ENDED             100000 /* ended calls remembered at most, whatever their age */
#define MAX_DIALS             200000 /* dial records kept per batch for GET /sim/dials */
#define STATS_SECONDS         600    /* perSecond covers this many seconds */
#define MAX_CALLBACK_URL      2048
#define CALLBACKS_IN_FLIGHT   256
#define CALLBACK_TRIES        10
#define RETRY_BASE_MS         100.0 /* doubled at every retry, then divided by speed */
#define RETRY_FLOOR_MS        50
#define CALLBACK_TIMEOUT_MS   10000
#define MAX_CALLBACK_DELAY_MS 3600000.0
#define WORK_PER_TICK         1000 /* schedule entries (and expiries) handled per timer callback */

#define SID_HEX       32 /* a call sid is "CA" and 32 hex digits, like Twilio's */
#define API_VERSION   "2010-04-01"
#define JSON_TYPE     "application/json; charset=utf-8"
#define FORM_TYPE     "application/x-www-form-urlencoded"
#define DEFAULT_SID   "ACsimulator00000000000000000000000"
#define DEFAULT_TOKEN "simulator-token"

/* ---- the outcome table (see sim.h) ---- */

struct outcome {
    const char *final_status; /* CallStatus of the last callback */
    int sip;                  /* its SipResponseCode */
    int answered;             /* goes through in-progress and has a talk time */
    int rings_out;            /* rings for the request's Timeout instead of RING_MS */
    const char *answered_by;  /* AnsweredBy when MachineDetection was requested */
};

/* Indexed by the number's last two digits; 05 never becomes a call (the create answers 503). */
static const struct outcome outcomes[] = {
    {"busy", 486, 0, 0, NULL},
    {"no-answer", 487, 0, 1, NULL},
    {"failed", 480, 0, 0, NULL},
    {"failed", 608, 0, 0, NULL},
    {"completed", 200, 1, 0, "machine_start"},
};
static const struct outcome human = {"completed", 200, 1, 0, "human"};
#define UNAVAILABLE_SUFFIX 5

/* StatusCallbackEvent values as bits. The final callback is sent whatever was asked. */
enum {
    EVENT_INITIATED = 1,
    EVENT_RINGING = 2,
    EVENT_ANSWERED = 4,
    EVENT_COMPLETED = 8,
};

/* ---- types ---- */

/* A set of 64-bit keys (open addressing). 0 marks an empty slot, so the key 0 is a flag. */
struct u64set {
    uint64_t *slots;
    size_t cap; /* power of two, or 0 */
    size_t len;
    int has_zero;
};

struct dial {
    uint64_t ms;
    uint32_t row, seq;
};

/* What one batch (the b= of the StatusCallback URL) sent us. */
struct batch {
    struct batch *next; /* the ledger's list, in order of first request */
    char *id;
    uint64_t requests, accepted;
    uint64_t first_ms, last_ms;
    struct u64set attempts; /* (row << 32 | seq) seen, to count duplicates */
    struct u64set rows;     /* distinct rows */
    struct dial *dials;     /* the first MAX_DIALS requests */
    size_t ndials, dials_cap;
};

struct per_second {
    uint64_t second; /* unix seconds this slot counts, slots are reused modulo STATS_SECONDS */
    uint64_t dials;
};

struct ledger {
    uint64_t requests, accepted, rejected, duplicates, fetches;
    uint64_t max_in_progress;
    uint64_t callbacks_sent, callbacks_failed, callbacks_retried;
    struct per_second seconds[STATS_SECONDS];
    struct map batches; /* id -> struct batch */
    struct batch *batch_head, *batch_tail;
};

enum phase { PHASE_QUEUED, PHASE_INITIATED, PHASE_RINGING, PHASE_TALKING, PHASE_ENDED };

struct call;

/* One status callback. Only the head of its call's queue is ever being sent, waiting in the
 * ready queue or waiting in the schedule, which keeps a call's callbacks in order. */
struct callback {
    struct sim *sim;
    struct call *call;
    struct callback *next;       /* the call's queue */
    struct callback *next_ready; /* the simulator's ready queue */
    struct buf body;             /* the form body; lent to req while a try is in flight */
    char signature[96];          /* the "X-Twilio-Signature: ..." header line */
    const char *headers[2];
    uint64_t not_before; /* uv_now() ms: callbackDelayMs holds it back until then */
    int tries;           /* failed tries so far */
    struct dialer_request req;
};

struct call {
    struct call *prev, *next; /* every call struct that exists, so sim_stop can free them */
    struct call *next_ended;  /* ended calls, in the order they ended */
    const struct outcome *outcome;
    enum phase phase;
    char sid[2 + SID_HEX + 1];
    char to[20];
    char from[64];
    char *callback_url; /* NULL: no status callbacks */
    unsigned events;    /* StatusCallbackEvent bits */
    int amd;            /* MachineDetection was requested */
    int answered;
    int forgotten; /* expired (no longer in the index) while callbacks were still pending */
    uint32_t timeout_s, talk_s;
    uint32_t next_sequence; /* SequenceNumber of the next callback sent */
    const char *status;
    uint64_t created_ms, updated_ms, start_ms, end_ms; /* wall clock; 0: not yet */
    uint64_t expires_at;                               /* uv_now() ms, once ended */
    struct callback *cb_head, *cb_tail;
};

enum due_kind { DUE_CALL_STEP, DUE_CALLBACK };

struct due {
    uint64_t at;    /* uv_now() ms */
    uint64_t order; /* entries due at the same time run in the order they were scheduled */
    enum due_kind kind;
    void *ptr;
};

struct sim {
    uv_loop_t *loop;
    struct sim_config cfg;
    char basic[264]; /* base64("sid:token"), what Authorization: Basic must carry */
    size_t basic_len;
    struct http_server http;
    struct dialer dialer;
    uv_timer_t timer;
    int port;

    /* Knobs set with POST /sim/config (speed lives in cfg). */
    int down;
    uint64_t fail503;
    double callback_delay_ms;

    char sid_prefix[17]; /* random per simulator; a counter follows it in every call sid */
    uint64_t sid_counter;
    struct map calls; /* sid -> call, live and remembered ones */
    struct call *all;
    size_t ncalls; /* structs in the all list */
    struct call *ended_head, *ended_tail;
    size_t nended;
    uint64_t in_progress;

    struct due *heap;
    size_t nheap, heap_cap;
    uint64_t due_order;

    struct callback *ready_head, *ready_tail;

    struct ledger ledger;

    int stopping;
    int open_handles;
    void (*done)(void *arg);
    void *done_arg;
};

/* ---- small helpers ---- */

/* Milliseconds of simulated time as loop milliseconds, never less than 1. */
static uint64_t scaled(const struct sim *s, double ms)
{
    double v = ms / s->cfg.speed;
    return v < 1 ? 1 : (uint64_t)v;
}

static void rfc2822(uint64_t ms, char out[40])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

/* Parses a whole decimal string into a uint32. Returns 0 or BC_EINVAL. */
static int parse_u32(const char *s, uint32_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return BC_EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return BC_EINVAL;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX)
            return BC_EINVAL;
    }
    *out = (uint32_t)v;
    return 0;
}

/* '+', a non-zero digit, and 7 to 15 digits in all. */
static int is_e164(const char *s, size_t n)
{
    if (n < 8 || n > 16 || s[0] != '+' || s[1] == '0')
        return 0;
    for (size_t i = 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* ---- u64set ---- */

static uint64_t mix64(uint64_t k)
{
    /* Keys are row << 32 | seq, so the low bits alone would barely vary: mix them all. */
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

static void u64set_insert(uint64_t *slots, size_t cap, uint64_t key)
{
    size_t i = mix64(key) & (cap - 1);
    while (slots[i])
        i = (i + 1) & (cap - 1);
    slots[i] = key;
}

static int u64set_grow(struct u64set *set)
{
    size_t cap = set->cap ? set->cap * 2 : 64;
    uint64_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return BC_ENOMEM;
    for (size_t i = 0; i < set->cap; i++)
        if (set->slots[i])
            u64set_insert(slots, cap, set->slots[i]);
    free(set->slots);
    set->slots = slots;
    set->cap = cap;
    return 0;
}

/* Returns 1 when key was added, 0 when it was there already, or BC_ENOMEM. */
static int u64set_add(struct u64set *set, uint64_t key)
{
    if (key == 0) {
        if (set->has_zero)
            return 0;
        set->has_zero = 1;
        set->len++;
        return 1;
    }
    if ((set->len + 1) * 4 > set->cap * 3) {
        int rc = u64set_grow(set);
        if (rc)
            return rc;
    }
    size_t mask = set->cap - 1;
    for (size_t i = mix64(key) & mask;; i = (i + 1) & mask) {
        if (set->slots[i] == key)
            return 0;
        if (set->slots[i] == 0) {
            set->slots[i] = key;
            set->len++;
            return 1;
        }
    }
}

/* ---- the ledger ---- */

static void batch_free(void *p)
{
    struct batch *b = p;
    free(b->id);
    free(b->attempts.slots);
    free(b->rows.slots);
    free(b->dials);
    free(b);
}

static void ledger_clear(struct ledger *l)
{
    map_free(&l->batches, NULL);
    while (l->batch_head) {
        struct batch *b = l->batch_head;
        l->batch_head = b->next;
        batch_free(b);
    }
    memset(l, 0, sizeof *l);
}

static void count_second(struct ledger *l, uint64_t now_ms)
{
    uint64_t sec = now_ms / 1000;
    struct per_second *slot = &l->seconds[sec % STATS_SECONDS];
    if (slot->second != sec) {
        slot->second = sec;
        slot->dials = 0;
    }
    slot->dials++;
}

static struct batch *batch_get(struct ledger *l, const char *id)
{
    struct batch *b = map_get(&l->batches, id, strlen(id));
    if (b)
        return b;
    b = calloc(1, sizeof *b);
    if (!b || !(b->id = strdup(id)) || map_put(&l->batches, id, strlen(id), b) != 0) {
        if (b)
            free(b->id);
        free(b);
        return NULL;
    }
    if (l->batch_tail)
        l->batch_tail->next = b;
    else
        l->batch_head = b;
    l->batch_tail = b;
    return b;
}

/* batch, row and attempt from the callback URL's query (b, r, a), as the dispatcher writes them.
 * Returns 1 when all three are there. */
static int attempt_of(const char *url, char *batch, size_t cap, uint32_t *row, uint32_t *seq)
{
    const char *q = strchr(url, '?');
    if (!q)
        return 0;
    q++;
    size_t qlen = strcspn(q, "#");
    char num[16];
    if (form_get(q, qlen, "b", batch, cap) <= 0)
        return 0;
    if (form_get(q, qlen, "r", num, sizeof num) < 0 || parse_u32(num, row) != 0)
        return 0;
    if (form_get(q, qlen, "a", num, sizeof num) < 0 || parse_u32(num, seq) != 0)
        return 0;
    return 1;
}

/* Records a valid create request of callback_url's batch. *out is its batch, or NULL when the
 * URL does not name one. Returns 0 or BC_ENOMEM. */
static int ledger_record(struct ledger *l, const char *callback_url, uint64_t now_ms,
                         struct batch **out)
{
    char id[128];
    uint32_t row, seq;
    *out = NULL;
    if (!callback_url || !attempt_of(callback_url, id, sizeof id, &row, &seq))
        return 0;
    struct batch *b = batch_get(l, id);
    if (!b)
        return BC_ENOMEM;
    int added = u64set_add(&b->attempts, (uint64_t)row << 32 | seq);
    int new_row = added < 0 ? added : u64set_add(&b->rows, row);
    if (new_row < 0)
        return BC_ENOMEM;
    if (!added)
        l->duplicates++;
    if (b->ndials < MAX_DIALS) {
        if (b->ndials == b->dials_cap) {
            size_t cap = b->dials_cap ? b->dials_cap * 2 : 64;
            struct dial *d = realloc(b->dials, cap * sizeof *d);
            if (!d)
                return BC_ENOMEM;
            b->dials = d;
            b->dials_cap = cap;
        }
        b->dials[b->ndials++] = (struct dial){now_ms, row, seq};
    }
    if (!b->requests)
        b->first_ms = now_ms;
    b->last_ms = now_ms;
    b->requests++;
    *out = b;
    return 0;
}

/* ---- the schedule ---- */

static void on_timer(uv_timer_t *t);

static int due_before(const struct due *a, const struct due *b)
{
    return a->at < b->at || (a->at == b->at && a->order < b->order);
}

/* Arms the timer for the earliest thing to do: a schedule entry or an expiry. The delay is at
 * least 1 ms because libuv (before 1.48) runs a 0 ms timer started from its own callback again
 * in the same pass, which would starve I/O when much work is due. */
static void timer_arm(struct sim *s)
{
    if (s->stopping)
        return;
    uint64_t next = UINT64_MAX;
    if (s->nheap)
        next = s->heap[0].at;
    if (s->ended_head && s->ended_head->expires_at < next)
        next = s->ended_head->expires_at;
    if (next == UINT64_MAX) {
        uv_timer_stop(&s->timer);
        return;
    }
    uint64_t now = uv_now(s->loop);
    uv_timer_start(&s->timer, on_timer, next > now + 1 ? next - now : 1, 0);
}

/* Room for two entries per call (its next step and its head callback) is reserved when a call is
 * created, so pushing never fails. */
static int due_reserve(struct sim *s, size_t calls)
{
    if (s->heap_cap >= 2 * calls)
        return 0;
    size_t cap = s->heap_cap ? s->heap_cap : 64;
    while (cap < 2 * calls)
        cap *= 2;
    struct due *h = realloc(s->heap, cap * sizeof *h);
    if (!h)
        return BC_ENOMEM;
    s->heap = h;
    s->heap_cap = cap;
    return 0;
}

static void due_push(struct sim *s, uint64_t at, enum due_kind kind, void *ptr)
{
    size_t i = s->nheap++;
    struct due d = {at, s->due_order++, kind, ptr};
    while (i > 0 && due_before(&d, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = d;
    if (i == 0)
        timer_arm(s);
}

static struct due due_pop(struct sim *s)
{
    struct due top = s->heap[0];
    struct due last = s->heap[--s->nheap];
    size_t i = 0, n = s->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && due_before(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!due_before(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n)
        s->heap[i] = last;
    return top;
}

/* ---- status callbacks ---- */

static void on_callback_done(struct dialer_request *r);
static void call_free(struct sim *s, struct call *c);

static void callback_free(struct callback *cb)
{
    buf_free(&cb->body);
    free(cb);
}

/* The head callback of a call may go: now, or when callbackDelayMs says. */
static void callback_ready(struct sim *s, struct callback *cb)
{
    if (cb->not_before > uv_now(s->loop)) {
        due_push(s, cb->not_before, DUE_CALLBACK, cb);
        return;
    }
    cb->next_ready = NULL;
    if (s->ready_tail)
        s->ready_tail->next_ready = cb;
    else
        s->ready_head = cb;
    s->ready_tail = cb;
}

/* The head callback was delivered or abandoned: the call's next one may go. */
static void callback_finish(struct sim *s, struct callback *cb)
{
    struct call *c = cb->call;
    c->cb_head = cb->next;
    if (!c->cb_head)
        c->cb_tail = NULL;
    callback_free(cb);
    if (c->cb_head)
        callback_ready(s, c->cb_head);
    else if (c->forgotten)
        call_free(s, c);
}

static void callback_failed_try(struct sim *s, struct callback *cb, const char *why)
{
    if (++cb->tries >= CALLBACK_TRIES) {
        s->ledger.callbacks_failed++;
        log_warn("status callback abandoned", "call=%s tries=%d url=\"%s\" reason=\"%s\"",
                 cb->call->sid, cb->tries, cb->call->callback_url, why);
        callback_finish(s, cb);
        return;
    }
    s->ledger.callbacks_retried++;
    uint64_t delay = scaled(s, RETRY_BASE_MS * (double)(1u << (cb->tries - 1)));
    if (delay < RETRY_FLOOR_MS)
        delay = RETRY_FLOOR_MS;
    log_debug("status callback failed, retrying", "call=%s try=%d delay_ms=%llu reason=\"%s\"",
              cb->call->sid, cb->tries, (unsigned long long)delay, why);
    due_push(s, uv_now(s->loop) + delay, DUE_CALLBACK, cb);
}

/* Starts one try. The body is moved into the request and moved back in done(), so retries need
 * no copy. Returns 0 or the dialer's error (BC_EBUSY at the cap). */
static int callback_send(struct sim *s, struct callback *cb)
{
    struct dialer_request *r = &cb->req;
    memset(r, 0, sizeof *r);
    r->url = cb->call->callback_url;
    r->method = "POST";
    r->content_type = FORM_TYPE;
    r->headers = cb->headers;
    r->timeout_ms = CALLBACK_TIMEOUT_MS;
    r->done = on_callback_done;
    r->user = cb;
    r->body = cb->body;
    int rc = dialer_start(&s->dialer, r);
    if (rc) {
        cb->body = r->body;
        r->body = (struct buf){0};
        dialer_request_free(r);
    }
    return rc;
}

/* Sends ready callbacks while the dialer has room. */
static void callbacks_pump(struct sim *s)
{
    while (s->ready_head && !s->stopping) {
        struct callback *cb = s->ready_head;
        int rc = callback_send(s, cb);
        if (rc == BC_EBUSY)
            return;
        s->ready_head = cb->next_ready;
        if (!s->ready_head)
            s->ready_tail = NULL;
        if (rc)
            callback_failed_try(s, cb, dialer_strerror(rc));
    }
}

static void on_callback_done(struct dialer_request *r)
{
    struct callback *cb = r->user;
    struct sim *s = cb->sim;
    int ok = r->result == DIALER_OK && r->status >= 200 && r->status < 300;
    /* r lives inside cb, which callback_finish may free: its buffers go first. The result
     * fields stay readable until then. */
    cb->body = r->body;
    r->body = (struct buf){0};
    dialer_request_free(r);
    /* While stopping, requests are cancelled; sim_stop frees the callbacks with their calls. */
    if (s->stopping)
        return;
    if (ok) {
        s->ledger.callbacks_sent++;
        callback_finish(s, cb);
    } else {
        char why[300];
        if (r->result != DIALER_OK)
            snprintf(why, sizeof why, "%s: %s", dialer_strerror(r->result), r->error);
        else
            snprintf(why, sizeof why, "HTTP %ld", r->status);
        callback_failed_try(s, cb, why);
    }
    callbacks_pump(s);
}

/* The form fields Twilio sends with a status callback, in its usual order. */
static int callback_body(const struct sim *s, const struct call *c, int final, struct buf *b)
{
    char seq[16], ts[40], duration[16], sip[16];
    snprintf(seq, sizeof seq, "%u", c->next_sequence);
    rfc2822(clock_now_ms(), ts);
    snprintf(duration, sizeof duration, "%u", c->outcome->answered ? c->talk_s : 0);
    snprintf(sip, sizeof sip, "%d", c->outcome->sip);
    const char *fields[][2] = {
        {"AccountSid", s->cfg.account_sid},
        {"ApiVersion", API_VERSION},
        {"CallSid", c->sid},
        {"CallStatus", c->status},
        {"Called", c->to},
        {"Caller", c->from},
        {"CallbackSource", "call-progress-events"},
        {"Direction", "outbound-api"},
        {"From", c->from},
        {"SequenceNumber", seq},
        {"Timestamp", ts},
        {"To", c->to},
        {final ? "CallDuration" : NULL, duration},
        {final ? "Duration" : NULL, duration},
        {final ? "SipResponseCode" : NULL, sip},
        {c->amd && c->answered ? "AnsweredBy" : NULL, c->outcome->answered_by},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0] && rc == 0; i++)
        if (fields[i][0])
            rc = form_append(b, fields[i][0], fields[i][1]);
    return rc;
}

/* Queues the callback for the call's status that was just reached. */
static void callback_new(struct sim *s, struct call *c, int final)
{
    struct callback *cb = calloc(1, sizeof *cb);
    char sig[64];
    int rc = cb ? callback_body(s, c, final, &cb->body) : BC_ENOMEM;
    if (rc == 0)
        rc = provider_twilio_sign(s->cfg.auth_token, c->callback_url, strlen(c->callback_url),
                                  cb->body.data, cb->body.len, sig);
    if (rc != 0) {
        log_error("cannot build a status callback", "call=%s reason=\"%s\"", c->sid,
                  bc_strerror(rc));
        s->ledger.callbacks_failed++;
        if (cb)
            callback_free(cb);
        return;
    }
    c->next_sequence++;
    cb->sim = s;
    cb->call = c;
    snprintf(cb->signature, sizeof cb->signature, "X-Twilio-Signature: %s", sig);
    cb->headers[0] = cb->signature;
    cb->not_before = uv_now(s->loop) + (uint64_t)s->callback_delay_ms;
    if (c->cb_tail) {
        c->cb_tail->next = cb;
        c->cb_tail = cb;
        return;
    }
    c->cb_head = c->cb_tail = cb;
    callback_ready(s, cb);
}

/* ---- calls ---- */

static void call_free(struct sim *s, struct call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        s->all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->ncalls--;
    while (c->cb_head) {
        struct callback *cb = c->cb_head;
        c->cb_head = cb->next;
        callback_free(cb);
    }
    free(c->callback_url);
    free(c);
}

/* Drops the oldest ended call from the index. Its struct lives on while callbacks are pending. */
static void forget_oldest(struct sim *s)
{
    struct call *c = s->ended_head;
    s->ended_head = c->next_ended;
    if (!s->ended_head)
        s->ended_tail = NULL;
    s->nended--;
    map_del(&s->calls, c->sid, strlen(c->sid));
    if (c->cb_head)
        c->forgotten = 1;
    else
        call_free(s, c);
}

/* The call reached status; event says which StatusCallbackEvent reports it. */
static void call_report(struct sim *s, struct call *c, const char *status, unsigned event)
{
    c->status = status;
    c->updated_ms = clock_now_ms();
    if (c->callback_url && (event == EVENT_COMPLETED || (c->events & event)))
        callback_new(s, c, event == EVENT_COMPLETED);
}

static void call_end(struct sim *s, struct call *c)
{
    c->phase = PHASE_ENDED;
    c->end_ms = clock_now_ms();
    call_report(s, c, c->outcome->final_status, EVENT_COMPLETED);
    s->in_progress--;
    c->expires_at = uv_now(s->loop) + scaled(s, RETAIN_MS);
    if (s->ended_tail)
        s->ended_tail->next_ended = c;
    else
        s->ended_head = c;
    s->ended_tail = c;
    s->nended++;
    if (s->nended > MAX_ENDED)
        forget_oldest(s);
}

/* Moves the call to its next status; at is when this step was due, so the simulated durations
 * do not drift when the loop runs late. */
static void call_step(struct sim *s, struct call *c, uint64_t at)
{
    switch (c->phase) {
    case PHASE_QUEUED:
        c->phase = PHASE_INITIATED;
        c->start_ms = clock_now_ms();
        call_report(s, c, "initiated", EVENT_INITIATED);
        due_push(s, at + scaled(s, RINGING_AFTER_MS), DUE_CALL_STEP, c);
        break;
    case PHASE_INITIATED: {
        c->phase = PHASE_RINGING;
        call_report(s, c, "ringing", EVENT_RINGING);
        double ring = c->outcome->rings_out ? c->timeout_s * 1000.0 : RING_MS;
        due_push(s, at + scaled(s, ring), DUE_CALL_STEP, c);
        break;
    }
    case PHASE_RINGING:
        if (!c->outcome->answered) {
            call_end(s, c);
            break;
        }
        c->phase = PHASE_TALKING;
        c->answered = 1;
        call_report(s, c, "in-progress", EVENT_ANSWERED);
        due_push(s, at + scaled(s, c->talk_s * 1000.0), DUE_CALL_STEP, c);
        break;
    case PHASE_TALKING:
        call_end(s, c);
        break;
    case PHASE_ENDED:
        break;
    }
}

/* What a create request asked for, once validated. */
struct create_form {
    char to[20];
    char from[64];
    char callback[MAX_CALLBACK_URL];
    int has_callback;
    unsigned events;
    uint32_t timeout_s;
    int amd;
    uint64_t number; /* To's digits as an integer */
};

static struct call *call_new(struct sim *s, const struct create_form *f, uint64_t now_ms)
{
    if (due_reserve(s, s->ncalls + 1) != 0)
        return NULL;
    struct call *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (f->has_callback && !(c->callback_url = strdup(f->callback))) {
        free(c);
        return NULL;
    }
    snprintf(c->sid, sizeof c->sid, "CA%s%016llx", s->sid_prefix,
             (unsigned long long)++s->sid_counter);
    if (map_put(&s->calls, c->sid, strlen(c->sid), c) != 0) {
        free(c->callback_url);
        free(c);
        return NULL;
    }
    unsigned suffix = (unsigned)(f->number % 100);
    c->outcome = suffix < sizeof outcomes / sizeof outcomes[0] ? &outcomes[suffix] : &human;
    c->phase = PHASE_QUEUED;
    c->status = "queued";
    memcpy(c->to, f->to, sizeof c->to);
    memcpy(c->from, f->from, sizeof c->from);
    c->events = f->events;
    c->amd = f->amd;
    c->timeout_s = f->timeout_s;
    c->talk_s = (uint32_t)(5 + f->number % 55);
    c->created_ms = c->updated_ms = now_ms;
    c->next = s->all;
    if (s->all)
        s->all->prev = c;
    s->all = c;
    s->ncalls++;
    s->in_progress++;
    if (s->in_progress > s->ledger.max_in_progress)
        s->ledger.max_in_progress = s->in_progress;
    /* "initiated" goes out right away: on the next loop pass, after the 201 has been written. */
    due_push(s, uv_now(s->loop), DUE_CALL_STEP, c);
    return c;
}

static void on_timer(uv_timer_t *t)
{
    struct sim *s = t->data;
    uint64_t now = uv_now(s->loop);
    for (int n = 0; n < WORK_PER_TICK && s->nheap && s->heap[0].at <= now; n++) {
        struct due d = due_pop(s);
        if (d.kind == DUE_CALL_STEP)
            call_step(s, d.ptr, d.at);
        else
            callback_ready(s, d.ptr);
    }
    for (int n = 0; n < WORK_PER_TICK && s->ended_head && s->ended_head->expires_at <= now; n++)
        forget_oldest(s);
    callbacks_pump(s);
    timer_arm(s);
}

/* ---- HTTP: helpers ---- */

static void respond_buf(struct http_request *req, int status, struct buf *b, int rc)
{
    if (rc)
        http_respond_error(req, 500, "internal_error", "The simulator ran out of memory.");
    else
        http_respond(req, status, JSON_TYPE, b->data, b->len);
    buf_free(b);
}

static void respond_json(struct http_request *req, int status, cJSON *obj)
{
    struct buf b = {0};
    int rc = obj ? json_render(&b, obj) : BC_ENOMEM;
    cJSON_Delete(obj);
    respond_buf(req, status, &b, rc);
}

/* Twilio's error body: {"code", "message", "more_info", "status"}. */
static void twilio_error(struct http_request *req, int status, int code, const char *message)
{
    struct buf b = {0};
    int rc = buf_printf(&b, "{\"code\":%d,\"message\":", code);
    if (!rc)
        rc = json_append_string(&b, message, strlen(message));
    if (!rc)
        rc = buf_printf(&b,
                        ",\"more_info\":\"https://www.twilio.com/docs/errors/%d\",\"status\":%d}",
                        code, status);
    respond_buf(req, status, &b, rc);
}

/* The account sid in the path and HTTP Basic credentials must both be ours. */
static int authorized(const struct sim *s, const struct http_request *req)
{
    const struct http_slice *sid = &req->params[0];
    if (sid->len != strlen(s->cfg.account_sid) ||
        memcmp(sid->ptr, s->cfg.account_sid, sid->len) != 0)
        return 0;
    const struct http_slice *h = http_header(req, "authorization");
    if (!h || h->len < 6 || strncasecmp(h->ptr, "Basic ", 6) != 0)
        return 0;
    const char *p = h->ptr + 6;
    size_t n = h->len - 6;
    while (n && *p == ' ') {
        p++;
        n--;
    }
    while (n && p[n - 1] == ' ')
        n--;
    return n == s->basic_len && crypto_equal(p, s->basic, n);
}

static void add_time(cJSON *o, const char *name, uint64_t ms)
{
    char t[40];
    if (!ms) {
        cJSON_AddNullToObject(o, name);
        return;
    }
    rfc2822(ms, t);
    cJSON_AddStringToObject(o, name, t);
}

/* The Call resource, as Twilio renders it. */
static cJSON *call_json(const struct sim *s, const struct call *c)
{
    cJSON *o = cJSON_CreateObject();
    char text[160];
    cJSON_AddStringToObject(o, "sid", c->sid);
    add_time(o, "date_created", c->created_ms);
    add_time(o, "date_updated", c->updated_ms);
    cJSON_AddNullToObject(o, "parent_call_sid");
    cJSON_AddStringToObject(o, "account_sid", s->cfg.account_sid);
    cJSON_AddStringToObject(o, "to", c->to);
    cJSON_AddStringToObject(o, "to_formatted", c->to);
    cJSON_AddStringToObject(o, "from", c->from);
    cJSON_AddStringToObject(o, "from_formatted", c->from);
    cJSON_AddNullToObject(o, "phone_number_sid");
    cJSON_AddStringToObject(o, "status", c->status);
    add_time(o, "start_time", c->start_ms);
    add_time(o, "end_time", c->end_ms);
    if (c->phase == PHASE_ENDED) {
        snprintf(text, sizeof text, "%u", c->outcome->answered ? c->talk_s : 0);
        cJSON_AddStringToObject(o, "duration", text);
    } else {
        cJSON_AddNullToObject(o, "duration");
    }
    cJSON_AddNullToObject(o, "price");
    cJSON_AddStringToObject(o, "price_unit", "USD");
    cJSON_AddStringToObject(o, "direction", "outbound-api");
    if (c->amd && c->answered)
        cJSON_AddStringToObject(o, "answered_by", c->outcome->answered_by);
    else
        cJSON_AddNullToObject(o, "answered_by");
    cJSON_AddStringToObject(o, "api_version", API_VERSION);
    cJSON_AddNullToObject(o, "forwarded_from");
    cJSON_AddNullToObject(o, "caller_name");
    cJSON_AddStringToObject(o, "queue_time", "0");
    snprintf(text, sizeof text, "/%s/Accounts/%s/Calls/%s.json", API_VERSION, s->cfg.account_sid,
             c->sid);
    cJSON_AddStringToObject(o, "uri", text);
    return o;
}

/* ---- HTTP: the Twilio routes ---- */

/* Space- or comma-separated StatusCallbackEvent words as bits; unknown words are ignored. */
static unsigned event_bits(const char *words)
{
    /* In the order of the EVENT_ bits. */
    static const char *const names[] = {"initiated", "ringing", "answered", "completed"};
    unsigned bits = 0;
    while (*words) {
        size_t n = strcspn(words, " ,");
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (n == strlen(names[i]) && strncmp(words, names[i], n) == 0)
                bits |= 1u << i;
        words += n;
        words += strspn(words, " ,");
    }
    return bits;
}

/* Every StatusCallbackEvent value, which Twilio's clients send as repeated fields. */
static unsigned parse_events(const char *body, size_t len)
{
    static const char name[] = "StatusCallbackEvent";
    unsigned bits = 0;
    size_t pos = 0;
    struct form_pair p;
    while (form_next(body, len, &pos, &p)) {
        char word[128];
        if (p.name_len != sizeof name - 1 || memcmp(p.name, name, p.name_len) != 0 ||
            p.value_len >= sizeof word)
            continue;
        word[form_decode(p.value, p.value_len, word)] = '\0';
        bits |= event_bits(word);
    }
    return bits;
}

/* Validates the create form. Returns 0, or a Twilio error code with message filled. */
static int parse_create(const char *body, size_t len, struct create_form *f, char *msg, size_t cap)
{
    memset(f, 0, sizeof *f);
    int to = form_get(body, len, "To", f->to, sizeof f->to);
    int from = form_get(body, len, "From", f->from, sizeof f->from);
    if (to == -1 || to == 0) {
        snprintf(msg, cap, "No 'To' number is specified");
        return 21201;
    }
    if (from == -1 || from == 0) {
        snprintf(msg, cap, "No 'From' number is specified");
        return 21201;
    }
    if (to < 0 || !is_e164(f->to, (size_t)to)) {
        snprintf(msg, cap, "The 'To' number %s is not a valid phone number.",
                 to < 0 ? "given" : f->to);
        return 21211;
    }
    if (from < 0) {
        snprintf(msg, cap, "The 'From' number is not a valid phone number.");
        return 21212;
    }
    int cb = form_get(body, len, "StatusCallback", f->callback, sizeof f->callback);
    if (cb == BC_ETOOBIG) {
        snprintf(msg, cap, "The StatusCallback URL is longer than %d characters.",
                 MAX_CALLBACK_URL - 1);
        return 21609;
    }
    f->has_callback = cb > 0;
    f->events = parse_events(body, len);
    char text[32];
    uint32_t timeout;
    f->timeout_s = DEFAULT_TIMEOUT_S;
    if (form_get(body, len, "Timeout", text, sizeof text) > 0 && parse_u32(text, &timeout) == 0)
        f->timeout_s = timeout < 1 ? 1 : timeout > MAX_TIMEOUT_S ? MAX_TIMEOUT_S : timeout;
    f->amd = form_get(body, len, "MachineDetection", text, sizeof text) != -1;
    for (const char *p = f->to + 1; *p; p++)
        f->number = f->number * 10 + (uint64_t)(*p - '0');
    return 0;
}

static void reject(struct sim *s, struct http_request *req, int status, int code, const char *msg)
{
    s->ledger.rejected++;
    twilio_error(req, status, code, msg);
}

/* POST /2010-04-01/Accounts/:sid/Calls.json */
static void h_create(struct http_request *req)
{
    struct sim *s = http_app(req);
    uint64_t now_ms = clock_now_ms();
    s->ledger.requests++;
    count_second(&s->ledger, now_ms);
    if (!authorized(s, req)) {
        reject(s, req, 401, 20003, "Authentication Error - invalid username");
        return;
    }
    struct create_form f;
    char msg[160];
    int code = parse_create(req->body.data, req->body.len, &f, msg, sizeof msg);
    if (code) {
        reject(s, req, 400, code, msg);
        return;
    }
    struct batch *b;
    if (ledger_record(&s->ledger, f.has_callback ? f.callback : NULL, now_ms, &b) != 0) {
        reject(s, req, 500, 20500, "The simulator ran out of memory.");
        return;
    }
    int unavailable = s->down;
    if (!unavailable && s->fail503) {
        s->fail503--;
        unavailable = 1;
    }
    if (unavailable || f.number % 100 == UNAVAILABLE_SUFFIX) {
        reject(s, req, 503, 20500, "Service unavailable (simulated)");
        return;
    }
    struct call *c = call_new(s, &f, now_ms);
    if (!c) {
        reject(s, req, 500, 20500, "The simulator ran out of memory.");
        return;
    }
    s->ledger.accepted++;
    if (b)
        b->accepted++;
    respond_json(req, 201, call_json(s, c));
}

/* GET /2010-04-01/Accounts/:sid/Calls/:call (the route matches any last segment; only
 * "{sid}.json" names a call). */
static void h_fetch(struct http_request *req)
{
    struct sim *s = http_app(req);
    s->ledger.fetches++;
    if (!authorized(s, req)) {
        twilio_error(req, 401, 20003, "Authentication Error - invalid username");
        return;
    }
    const struct http_slice *id = &req->params[1];
    struct call *c = NULL;
    if (id->len > 5 && memcmp(id->ptr + id->len - 5, ".json", 5) == 0)
        c = map_get(&s->calls, id->ptr, id->len - 5);
    if (!c) {
        char msg[256];
        snprintf(msg, sizeof msg, "The requested resource %.*s was not found",
                 (int)(req->path.len < 200 ? req->path.len : 200), req->path.ptr);
        twilio_error(req, 404, 20404, msg);
        return;
    }
    respond_json(req, 200, call_json(s, c));
}

/* ---- HTTP: the test and operations routes ---- */

/* GET /sim/stats */
static void h_stats(struct http_request *req)
{
    struct sim *s = http_app(req);
    const struct ledger *l = &s->ledger;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "requests", (double)l->requests);
    cJSON_AddNumberToObject(o, "accepted", (double)l->accepted);
    cJSON_AddNumberToObject(o, "rejected", (double)l->rejected);
    cJSON_AddNumberToObject(o, "duplicates", (double)l->duplicates);
    cJSON_AddNumberToObject(o, "fetches", (double)l->fetches);
    cJSON_AddNumberToObject(o, "inProgress", (double)s->in_progress);
    cJSON_AddNumberToObject(o, "maxInProgress", (double)l->max_in_progress);
    cJSON_AddNumberToObject(o, "callbacksSent", (double)l->callbacks_sent);
    cJSON_AddNumberToObject(o, "callbacksFailed", (double)l->callbacks_failed);
    cJSON_AddNumberToObject(o, "callbacksRetried", (double)l->callbacks_retried);
    cJSON *seconds = cJSON_AddArrayToObject(o, "perSecond");
    uint64_t now_s = clock_now_ms() / 1000;
    for (uint64_t sec = now_s - (STATS_SECONDS - 1); sec <= now_s; sec++) {
        const struct per_second *slot = &l->seconds[sec % STATS_SECONDS];
        if (slot->second != sec || !slot->dials)
            continue;
        cJSON *item = cJSON_CreateObject();
        cJSON_AddNumberToObject(item, "second", (double)sec);
        cJSON_AddNumberToObject(item, "dials", (double)slot->dials);
        cJSON_AddItemToArray(seconds, item);
    }
    cJSON *batches = cJSON_AddObjectToObject(o, "batches");
    for (const struct batch *b = l->batch_head; b; b = b->next) {
        cJSON *item = cJSON_AddObjectToObject(batches, b->id);
        cJSON_AddNumberToObject(item, "requests", (double)b->requests);
        cJSON_AddNumberToObject(item, "accepted", (double)b->accepted);
        cJSON_AddNumberToObject(item, "rows", (double)b->rows.len);
        cJSON_AddNumberToObject(item, "firstDialAt", (double)b->first_ms);
        cJSON_AddNumberToObject(item, "lastDialAt", (double)b->last_ms);
    }
    respond_json(req, 200, o);
}

/* GET /sim/dials?batch=B: rendered by hand, since it can hold 200k entries. */
static void h_dials(struct http_request *req)
{
    struct sim *s = http_app(req);
    char id[128];
    int n = http_query(req, "batch", id, sizeof id);
    if (n < 0) {
        http_respond_error(req, 400, "invalid_query", "Give the batch: /sim/dials?batch=ID.");
        return;
    }
    const struct batch *b = map_get(&s->ledger.batches, id, (size_t)n);
    struct buf out = {0};
    int rc = buf_append_str(&out, "{\"batch\":");
    if (!rc)
        rc = json_append_string(&out, id, (size_t)n);
    if (!rc)
        rc = buf_append_str(&out, ",\"dials\":[");
    for (size_t i = 0; b && i < b->ndials && !rc; i++)
        rc = buf_printf(&out, "%s[%llu,%u,%u]", i ? "," : "", (unsigned long long)b->dials[i].ms,
                        b->dials[i].row, b->dials[i].seq);
    if (!rc)
        rc = buf_append_str(&out, "]}");
    respond_buf(req, 200, &out, rc);
}

static void respond_config(struct http_request *req, const struct sim *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "down", s->down);
    cJSON_AddNumberToObject(o, "fail503", (double)s->fail503);
    cJSON_AddNumberToObject(o, "speed", s->cfg.speed);
    cJSON_AddNumberToObject(o, "callbackDelayMs", s->callback_delay_ms);
    respond_json(req, 200, o);
}

/* GET /sim/config */
static void h_config_get(struct http_request *req)
{
    respond_config(req, http_app(req));
}

/* A number setting within [min, max]: returns 1 with *out set, 0 when absent, -1 when invalid. */
static int number_setting(const cJSON *o, const char *name, double min, double max, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < min ||
        v->valuedouble > max)
        return -1;
    *out = v->valuedouble;
    return 1;
}

/* POST /sim/config: every setting is checked before any is applied. */
static void h_config_set(struct http_request *req)
{
    static const char *const known[] = {"down", "fail503", "speed", "callbackDelayMs"};
    const size_t nknown = sizeof known / sizeof known[0];
    struct sim *s = http_app(req);
    cJSON *o = cJSON_ParseWithLength(req->body.data ? req->body.data : "", req->body.len);
    const char *bad = NULL;
    if (!cJSON_IsObject(o))
        bad = "The body must be a JSON object such as {\"down\":true}.";
    for (const cJSON *item = o ? o->child : NULL; item && !bad; item = item->next) {
        size_t i = 0;
        while (i < nknown && strcmp(item->string, known[i]) != 0)
            i++;
        if (i == nknown)
            bad = "Unknown setting: use down, fail503, speed or callbackDelayMs.";
    }
    const cJSON *down = o ? cJSON_GetObjectItemCaseSensitive(o, "down") : NULL;
    if (!bad && down && !cJSON_IsBool(down))
        bad = "down must be true or false.";
    double fail503 = 0, speed = 0, delay = 0;
    int has_fail = 0, has_speed = 0, has_delay = 0;
    if (!bad && (has_fail = number_setting(o, "fail503", 0, 1e9, &fail503)) < 0)
        bad = "fail503 must be a number of requests (0 or more).";
    if (!bad && (has_speed = number_setting(o, "speed", MIN_SPEED, MAX_SPEED, &speed)) < 0)
        bad = "speed must be a number from 0.001 to 1000000.";
    if (!bad &&
        (has_delay = number_setting(o, "callbackDelayMs", 0, MAX_CALLBACK_DELAY_MS, &delay)) < 0)
        bad = "callbackDelayMs must be a number of milliseconds from 0 to 3600000.";
    if (bad) {
        cJSON_Delete(o);
        http_respond_error(req, 400, "invalid_config", bad);
        return;
    }
    if (down)
        s->down = cJSON_IsTrue(down);
    if (has_fail)
        s->fail503 = (uint64_t)fail503;
    if (has_speed)
        s->cfg.speed = speed;
    if (has_delay)
        s->callback_delay_ms = delay;
    cJSON_Delete(o);
    log_info("simulator settings changed", "down=%d fail503=%llu speed=%g callback_delay_ms=%g",
             s->down, (unsigned long long)s->fail503, s->cfg.speed, s->callback_delay_ms);
    respond_config(req, s);
}

/* POST /sim/reset: a fresh ledger; calls in progress go on. */
static void h_reset(struct http_request *req)
{
    struct sim *s = http_app(req);
    ledger_clear(&s->ledger);
    s->ledger.max_in_progress = s->in_progress;
    static const char body[] = "{\"reset\":true}";
    http_respond(req, 200, JSON_TYPE, body, sizeof body - 1);
}

static const struct http_route routes[] = {
    {HTTP_POST, "/2010-04-01/Accounts/:sid/Calls.json", h_create, NULL, 64 * 1024, 0},
    {HTTP_GET, "/2010-04-01/Accounts/:sid/Calls/:call", h_fetch, NULL, 0, 0},
    {HTTP_GET, "/sim/stats", h_stats, NULL, 0, 0},
    {HTTP_GET, "/sim/dials", h_dials, NULL, 0, 0},
    {HTTP_GET, "/sim/config", h_config_get, NULL, 0, 0},
    {HTTP_POST, "/sim/config", h_config_set, NULL, 4096, 0},
    {HTTP_POST, "/sim/reset", h_reset, NULL, 0, 0},
};

/* ---- start and stop ---- */

static void sim_free(struct sim *s)
{
    while (s->all)
        call_free(s, s->all);
    map_free(&s->calls, NULL);
    free(s->heap);
    ledger_clear(&s->ledger);
    free(s);
}

static void handle_closed(struct sim *s)
{
    if (--s->open_handles > 0)
        return;
    void (*done)(void *) = s->done;
    void *arg = s->done_arg;
    sim_free(s);
    if (done)
        done(arg);
}

static void on_server_closed(struct http_server *srv)
{
    handle_closed((struct sim *)((char *)srv - offsetof(struct sim, http)));
}

static void on_timer_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

static void on_dialer_closed(struct dialer *d)
{
    handle_closed((struct sim *)((char *)d - offsetof(struct sim, dialer)));
}

void sim_stop(struct sim *s, void (*done)(void *arg), void *arg)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    s->done = done;
    s->done_arg = arg;
    s->open_handles = 3;
    /* The server struct lives inside ours: wait for its handles. Connections never touch the
     * server once closed, so they need no waiting for. */
    http_server_close(&s->http, on_server_closed);
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, on_timer_closed);
    dialer_close(&s->dialer, on_dialer_closed);
}

int sim_start(struct sim **out, uv_loop_t *loop, const struct sim_config *cfg, const char *host,
              int port)
{
    *out = NULL;
    if (!(cfg->speed >= MIN_SPEED && cfg->speed <= MAX_SPEED) ||
        !memchr(cfg->account_sid, '\0', sizeof cfg->account_sid) ||
        !memchr(cfg->auth_token, '\0', sizeof cfg->auth_token) || !cfg->account_sid[0])
        return BC_EINVAL;
    struct sim *s = calloc(1, sizeof *s);
    if (!s)
        return BC_ENOMEM;
    s->loop = loop;
    s->cfg = *cfg;
    char pair[sizeof cfg->account_sid + sizeof cfg->auth_token + 1];
    int plen = snprintf(pair, sizeof pair, "%s:%s", cfg->account_sid, cfg->auth_token);
    s->basic_len = (size_t)EVP_EncodeBlock((unsigned char *)s->basic, (unsigned char *)pair, plen);
    uint8_t prefix[8];
    int rc = crypto_random(prefix, sizeof prefix);
    if (rc) {
        free(s);
        return rc;
    }
    crypto_hex(prefix, sizeof prefix, s->sid_prefix);
    if ((rc = dialer_init(&s->dialer, loop, CALLBACKS_IN_FLIGHT)) != 0) {
        free(s);
        return rc;
    }
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    struct http_server_config hc = {
        .max_connections = 4096,
        .header_timeout_ms = 10000,
        .idle_timeout_ms = 60000,
        .body_timeout_ms = 30000,
        .linger_ms = 1000,
        .routes = routes,
        .nroutes = sizeof routes / sizeof routes[0],
        .app = s,
    };
    /* On Unix uv_tcp_init cannot fail for a plain TCP handle, so the listener is always open. */
    http_server_init(&s->http, loop, &hc);
    rc = http_server_listen(&s->http, host, port);
    if (rc) {
        log_error("simulator cannot listen", "host=%s port=%d reason=\"%s\"", host, port,
                  uv_strerror(rc));
        sim_stop(s, NULL, NULL);
        return rc == UV_EINVAL ? BC_EINVAL : BC_EIO;
    }
    struct sockaddr_storage addr;
    int alen = sizeof addr;
    uv_tcp_getsockname(&s->http.listener, (struct sockaddr *)&addr, &alen);
    s->port = addr.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&addr)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&addr)->sin_port);
    log_debug("simulator listening", "host=%s port=%d speed=%g", host, s->port, cfg->speed);
    *out = s;
    return 0;
}

int sim_port(const struct sim *s)
{
    return s->port;
}

/* ---- the standalone process ---- */

struct sim_flag {
    const char *flag, *env, *def, *help;
};

enum { FLAG_LISTEN, FLAG_SPEED, FLAG_SID, FLAG_TOKEN, FLAG_LOG_LEVEL, NFLAGS };

static const struct sim_flag sim_flags[NFLAGS] = {
    {"--listen", "BATCHCALLD_LISTEN", "127.0.0.1:8089", "address to listen on, HOST:PORT"},
    {"--sim-speed", "BATCHCALLD_SIM_SPEED", "1", "time factor: 1000 makes a 3 s ring last 3 ms"},
    {"--account-sid", "BATCHCALLD_ACCOUNT_SID", DEFAULT_SID, "account sid callers must use"},
    {"--auth-token", "BATCHCALLD_AUTH_TOKEN", DEFAULT_TOKEN,
     "auth token: Basic password and callback signing key"},
    {"--log-level", "BATCHCALLD_LOG_LEVEL", "info", "debug, info, warn or error"},
};

static void sim_usage(FILE *out)
{
    fprintf(out, "Usage: batchcalld carrier-sim [flags]\n\n"
                 "A telephony provider simulator speaking the Twilio dialect. The number's last\n"
                 "two digits decide the outcome: 00 busy, 01 no answer, 02 unreachable, 03\n"
                 "carrier blocked, 04 voicemail, 05 the create request answers 503, anything\n"
                 "else a human answers. GET /sim/stats shows what it received.\n\n"
                 "Flags (each also read from the environment variable shown):\n");
    for (size_t i = 0; i < NFLAGS; i++)
        fprintf(out, "  %-16s %s\n  %-16s [%s, default %s]\n", sim_flags[i].flag, sim_flags[i].help,
                "", sim_flags[i].env, sim_flags[i].def);
}

/* Defaults, then the environment, then argv ("--flag value" or "--flag=value"). Returns 0, 1
 * when --help was printed, or -1 after printing an error. */
static int parse_flags(int argc, char **argv, const char *values[NFLAGS])
{
    for (size_t i = 0; i < NFLAGS; i++) {
        const char *env = getenv(sim_flags[i].env);
        values[i] = env ? env : sim_flags[i].def;
    }
    for (int a = 0; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            sim_usage(stdout);
            return 1;
        }
        size_t alen = strcspn(arg, "=");
        size_t i = 0;
        while (i < NFLAGS &&
               (strlen(sim_flags[i].flag) != alen || strncmp(sim_flags[i].flag, arg, alen)))
            i++;
        if (i == NFLAGS) {
            fprintf(stderr, "carrier-sim: unknown flag \"%s\" (see --help)\n", arg);
            return -1;
        }
        if (arg[alen] == '=') {
            values[i] = arg + alen + 1;
        } else if (a + 1 < argc) {
            values[i] = argv[++a];
        } else {
            fprintf(stderr, "carrier-sim: %s needs a value\n", sim_flags[i].flag);
            return -1;
        }
    }
    return 0;
}

/* "host:port" or "[v6]:port". Returns 0 or -1. */
static int split_listen(const char *listen, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen)
        return -1;
    const char *h = listen;
    size_t hlen = (size_t)(colon - listen);
    if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    uint32_t p;
    if (hlen == 0 || hlen >= cap || parse_u32(colon + 1, &p) != 0 || p > 65535)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return 0;
}

/* Fills cfg, host and port from the flag values. Returns 0 or -1 after printing an error. */
static int sim_configure(const char *values[NFLAGS], struct sim_config *cfg, char *host,
                         size_t hostcap, int *port, enum log_level *level)
{
    char *end;
    memset(cfg, 0, sizeof *cfg);
    if (split_listen(values[FLAG_LISTEN], host, hostcap, port) != 0) {
        fprintf(stderr, "carrier-sim: --listen must be HOST:PORT, got \"%s\"\n",
                values[FLAG_LISTEN]);
        return -1;
    }
    cfg->speed = strtod(values[FLAG_SPEED], &end);
    if (end == values[FLAG_SPEED] || *end ||
        !(cfg->speed >= MIN_SPEED && cfg->speed <= MAX_SPEED)) {
        fprintf(stderr, "carrier-sim: --sim-speed must be a number from 0.001 to 1000000\n");
        return -1;
    }
    if (!*values[FLAG_SID] || strlen(values[FLAG_SID]) >= sizeof cfg->account_sid ||
        strlen(values[FLAG_TOKEN]) >= sizeof cfg->auth_token) {
        fprintf(stderr,
                "carrier-sim: --account-sid (1 to %zu characters) or --auth-token (at "
                "most %zu) has a bad length\n",
                sizeof cfg->account_sid - 1, sizeof cfg->auth_token - 1);
        return -1;
    }
    strcpy(cfg->account_sid, values[FLAG_SID]);
    strcpy(cfg->auth_token, values[FLAG_TOKEN]);
    if (log_parse_level(values[FLAG_LOG_LEVEL], level) != 0) {
        fprintf(stderr, "carrier-sim: --log-level must be debug, info, warn or error\n");
        return -1;
    }
    return 0;
}

struct sim_process {
    struct sim *sim;
    uv_signal_t sigterm, sigint;
};

static void on_signal(uv_signal_t *h, int signum)
{
    struct sim_process *p = h->data;
    log_info("carrier simulator stopping", "signal=%d", signum);
    uv_close((uv_handle_t *)&p->sigterm, NULL);
    uv_close((uv_handle_t *)&p->sigint, NULL);
    sim_stop(p->sim, NULL, NULL);
}

int sim_main(int argc, char **argv)
{
    const char *values[NFLAGS];
    struct sim_config cfg;
    char host[256];
    int port;
    enum log_level level;
    int rc = parse_flags(argc, argv, values);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (sim_configure(values, &cfg, host, sizeof host, &port, &level) != 0)
        return 2;
    log_set_level(level);
    signal(SIGPIPE, SIG_IGN);
    if (dialer_global_init() != 0) {
        log_error("cannot initialise libcurl", "%s", "");
        return 1;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sim_process p = {0};
    int code = 0;
    /* The signal watchers go first: a supervisor may send SIGTERM as soon as the port accepts
     * connections, and the default action would kill the process instead of stopping it. */
    uv_signal_init(&loop, &p.sigterm);
    uv_signal_init(&loop, &p.sigint);
    p.sigterm.data = p.sigint.data = &p;
    uv_signal_start(&p.sigterm, on_signal, SIGTERM);
    uv_signal_start(&p.sigint, on_signal, SIGINT);
    rc = sim_start(&p.sim, &loop, &cfg, host, port);
    if (rc) {
        code = 1;
        uv_close((uv_handle_t *)&p.sigterm, NULL);
        uv_close((uv_handle_t *)&p.sigint, NULL);
    } else {
        log_info("carrier simulator listening", "host=%s port=%d speed=%g account_sid=%s", host,
                 sim_port(p.sim), cfg.speed, cfg.account_sid);
    }
    /* Runs until sim_stop has closed everything (or, after a failed start, until the handles
     * sim_start opened are closed). */
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0)
        log_warn("handles still open at exit", "%s", "");
    dialer_global_cleanup();
    if (code == 0)
        log_info("carrier simulator stopped", "%s", "");
    return code;
}
