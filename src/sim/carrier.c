/* The simulator's calls and their status callbacks (see calls.h).
 *
 * Pieces, in the order they appear below:
 *   - the outcome table and the types;
 *   - the timer over the schedule (schedule.h), shared by every call step and every delayed
 *     callback;
 *   - status callbacks: queued per call, sent with our own client, retried with backoff;
 *   - calls: created by the create route, advanced by the timer through initiated, ringing,
 *     answered and their final status, remembered for a while after they end;
 *   - the Call resource, and opening and closing. */
#include "sim/carrier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "provider/form.h"
#include "provider/twilio.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/log.h"

/* Simulated durations, in milliseconds at speed 1. */
#define RINGING_AFTER_MS 1000           /* initiated -> ringing */
#define RING_MS          3000           /* ringing -> answered, busy or failed */
#define RETAIN_MS        (10 * 60000.0) /* ended calls still answer GET this long */

#define MAX_ENDED           100000 /* ended calls remembered at most, whatever their age */
#define CALLBACKS_IN_FLIGHT 256
#define CALLBACK_TRIES      10
#define RETRY_BASE_MS       100.0 /* doubled at every retry, then divided by speed */
#define RETRY_FLOOR_MS      50
#define CALLBACK_TIMEOUT_MS 10000
#define WORK_PER_TICK       1000 /* schedule entries (and expiries) handled per timer callback */

#define SID_HEX            32 /* a call sid is "CA" and 32 hex digits, like Twilio's */
#define API_VERSION        "2010-04-01"
#define FORM_TYPE          "application/x-www-form-urlencoded"
#define UNAVAILABLE_SUFFIX 5
#define OPT_OUT_SUFFIX     6 /* answered; the callee asks not to be called again */

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

enum phase { PHASE_QUEUED, PHASE_INITIATED, PHASE_RINGING, PHASE_TALKING, PHASE_ENDED };

/* One status callback. Only the head of its call's queue is ever being sent, waiting in the
 * ready queue or waiting in the schedule, which keeps a call's callbacks in order. */
struct callback {
    struct carrier *owner;
    struct call *call;
    struct callback *next;       /* the call's queue */
    struct callback *next_ready; /* the simulator's ready queue */
    struct buf body;             /* the form body; lent to req while a try is in flight */
    char signature[96];          /* the "X-Twilio-Signature: ..." header line */
    const char *headers[2];
    uint64_t not_before; /* uv_now() ms: callbackDelayMs holds it back until then */
    int tries;           /* failed tries so far */
    struct client_request req;
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
    int opt_out;        /* the final callback says OptOut=true (OPT_OUT_SUFFIX) */
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

/* Milliseconds of simulated time as loop milliseconds, never less than 1. */
static uint64_t scaled(const struct carrier *s, double ms)
{
    double v = ms / s->speed;
    return v < 1 ? 1 : (uint64_t)v;
}

static void rfc2822(uint64_t ms, char out[40])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

/* ---- the timer ---- */

static void on_timer(uv_timer_t *t);

/* Arms the timer for the earliest thing to do: a schedule entry or an expiry. The delay is at
 * least 1 ms because libuv (before 1.48) runs a 0 ms timer started from its own callback again
 * in the same pass, which would starve I/O when much work is due. */
static void timer_arm(struct carrier *s)
{
    if (s->stopping)
        return;
    uint64_t next = schedule_next(&s->due);
    if (s->ended_head && s->ended_head->expires_at < next)
        next = s->ended_head->expires_at;
    if (next == UINT64_MAX) {
        uv_timer_stop(&s->timer);
        return;
    }
    uint64_t now = uv_now(s->loop);
    uv_timer_start(&s->timer, on_timer, next > now + 1 ? next - now : 1, 0);
}

static void due_push(struct carrier *s, uint64_t at, enum due_kind kind, void *ptr)
{
    if (schedule_push(&s->due, at, (int)kind, ptr))
        timer_arm(s);
}

/* ---- status callbacks ---- */

static void on_callback_done(struct client_request *r);
static void call_free(struct carrier *s, struct call *c);

static void callback_free(struct callback *cb)
{
    buf_free(&cb->body);
    free(cb);
}

/* The head callback of a call may go: now, or when callbackDelayMs says. */
static void callback_ready(struct carrier *s, struct callback *cb)
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
static void callback_finish(struct carrier *s, struct callback *cb)
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

static void callback_failed_try(struct carrier *s, struct callback *cb, const char *why)
{
    if (++cb->tries >= CALLBACK_TRIES) {
        s->ledger->callbacks_failed++;
        log_warn("status callback abandoned", "call=%s tries=%d url=\"%s\" reason=\"%s\"",
                 cb->call->sid, cb->tries, cb->call->callback_url, why);
        callback_finish(s, cb);
        return;
    }
    s->ledger->callbacks_retried++;
    uint64_t delay = scaled(s, RETRY_BASE_MS * (double)(1u << (cb->tries - 1)));
    if (delay < RETRY_FLOOR_MS)
        delay = RETRY_FLOOR_MS;
    log_debug("status callback failed, retrying", "call=%s try=%d delay_ms=%llu reason=\"%s\"",
              cb->call->sid, cb->tries, (unsigned long long)delay, why);
    due_push(s, uv_now(s->loop) + delay, DUE_CALLBACK, cb);
}

/* Starts one try. The body is moved into the request and moved back in done(), so retries need
 * no copy. Returns 0 or the client's error (BC_EBUSY at the cap). */
static int callback_send(struct carrier *s, struct callback *cb)
{
    struct client_request *r = &cb->req;
    memset(r, 0, sizeof *r);
    r->url = cb->call->callback_url;
    r->method = "POST";
    r->content_type = FORM_TYPE;
    r->headers = cb->headers;
    r->timeout_ms = CALLBACK_TIMEOUT_MS;
    r->done = on_callback_done;
    r->user = cb;
    r->body = cb->body;
    int rc = client_start(&s->client, r);
    if (rc) {
        cb->body = r->body;
        r->body = (struct buf){0};
        client_request_free(r);
    }
    return rc;
}

/* Sends ready callbacks while the client has room. */
static void callbacks_pump(struct carrier *s)
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
            callback_failed_try(s, cb, client_strerror(rc));
    }
}

static void on_callback_done(struct client_request *r)
{
    struct callback *cb = r->user;
    struct carrier *s = cb->owner;
    int ok = r->result == CLIENT_OK && r->status >= 200 && r->status < 300;
    /* r lives inside cb, which callback_finish may free: its buffers go first. The result
     * fields stay readable until then. */
    cb->body = r->body;
    r->body = (struct buf){0};
    client_request_free(r);
    /* While stopping, requests are cancelled; sim_stop frees the callbacks with their calls. */
    if (s->stopping)
        return;
    if (ok) {
        s->ledger->callbacks_sent++;
        callback_finish(s, cb);
    } else {
        char why[300];
        if (r->result != CLIENT_OK)
            snprintf(why, sizeof why, "%s: %s", client_strerror(r->result), r->error);
        else
            snprintf(why, sizeof why, "HTTP %ld", r->status);
        callback_failed_try(s, cb, why);
    }
    callbacks_pump(s);
}

/* The form fields Twilio sends with a status callback, in its usual order. */
static int callback_body(const struct carrier *s, const struct call *c, int final, struct buf *b)
{
    char seq[16], ts[40], duration[16], sip[16];
    snprintf(seq, sizeof seq, "%u", c->next_sequence);
    rfc2822(clock_now_ms(), ts);
    snprintf(duration, sizeof duration, "%u", c->outcome->answered ? c->talk_s : 0);
    snprintf(sip, sizeof sip, "%d", c->outcome->sip);
    const char *fields[][2] = {
        {"AccountSid", s->account_sid},
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
        /* Not a Twilio field: the simulator's way to report an opt-out (src/sim/sim.h). */
        {final && c->opt_out ? "OptOut" : NULL, "true"},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0] && rc == 0; i++)
        if (fields[i][0])
            rc = form_append(b, fields[i][0], fields[i][1]);
    return rc;
}

/* Queues the callback for the call's status that was just reached. */
static void callback_new(struct carrier *s, struct call *c, int final)
{
    struct callback *cb = calloc(1, sizeof *cb);
    char sig[64];
    int rc = cb ? callback_body(s, c, final, &cb->body) : BC_ENOMEM;
    if (rc == 0)
        rc = twilio_sign(s->auth_token, c->callback_url, strlen(c->callback_url), cb->body.data,
                         cb->body.len, sig);
    if (rc != 0) {
        log_error("cannot build a status callback", "call=%s reason=\"%s\"", c->sid, err_str(rc));
        s->ledger->callbacks_failed++;
        if (cb)
            callback_free(cb);
        return;
    }
    c->next_sequence++;
    cb->owner = s;
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

static void call_free(struct carrier *s, struct call *c)
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
static void forget_oldest(struct carrier *s)
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
static void call_report(struct carrier *s, struct call *c, const char *status, unsigned event)
{
    c->status = status;
    c->updated_ms = clock_now_ms();
    if (c->callback_url && (event == CALLS_EVENT_COMPLETED || (c->events & event)))
        callback_new(s, c, event == CALLS_EVENT_COMPLETED);
}

static void call_end(struct carrier *s, struct call *c)
{
    c->phase = PHASE_ENDED;
    c->end_ms = clock_now_ms();
    call_report(s, c, c->outcome->final_status, CALLS_EVENT_COMPLETED);
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
static void call_step(struct carrier *s, struct call *c, uint64_t at)
{
    switch (c->phase) {
    case PHASE_QUEUED:
        c->phase = PHASE_INITIATED;
        c->start_ms = clock_now_ms();
        call_report(s, c, "initiated", CALLS_EVENT_INITIATED);
        due_push(s, at + scaled(s, RINGING_AFTER_MS), DUE_CALL_STEP, c);
        break;
    case PHASE_INITIATED: {
        c->phase = PHASE_RINGING;
        call_report(s, c, "ringing", CALLS_EVENT_RINGING);
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
        call_report(s, c, "in-progress", CALLS_EVENT_ANSWERED);
        due_push(s, at + scaled(s, c->talk_s * 1000.0), DUE_CALL_STEP, c);
        break;
    case PHASE_TALKING:
        call_end(s, c);
        break;
    case PHASE_ENDED:
        break;
    }
}

struct call *carrier_new(struct carrier *s, const struct carrier_dial *f, uint64_t now_ms)
{
    /* Room for two entries per call (its next step and its head callback), so pushing never
     * fails. */
    if (schedule_reserve(&s->due, 2 * (s->ncalls + 1)) != 0)
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
    c->opt_out = suffix == OPT_OUT_SUFFIX;
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
    if (s->in_progress > s->ledger->max_in_progress)
        s->ledger->max_in_progress = s->in_progress;
    /* "initiated" goes out right away: on the next loop pass, after the 201 has been written. */
    due_push(s, uv_now(s->loop), DUE_CALL_STEP, c);
    return c;
}

static void on_timer(uv_timer_t *t)
{
    struct carrier *s = t->data;
    uint64_t now = uv_now(s->loop);
    for (int n = 0; n < WORK_PER_TICK && schedule_next(&s->due) <= now; n++) {
        struct schedule_due d = schedule_pop(&s->due);
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

/* ---- the Call resource ---- */

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
cJSON *carrier_json(const struct carrier *s, const struct call *c)
{
    cJSON *o = cJSON_CreateObject();
    char text[160];
    cJSON_AddStringToObject(o, "sid", c->sid);
    add_time(o, "date_created", c->created_ms);
    add_time(o, "date_updated", c->updated_ms);
    cJSON_AddNullToObject(o, "parent_call_sid");
    cJSON_AddStringToObject(o, "account_sid", s->account_sid);
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
    snprintf(text, sizeof text, "/%s/Accounts/%s/Calls/%s.json", API_VERSION, s->account_sid,
             c->sid);
    cJSON_AddStringToObject(o, "uri", text);
    return o;
}

/* ---- opening and closing ---- */

int carrier_refuses(uint64_t number)
{
    return number % 100 == UNAVAILABLE_SUFFIX;
}

struct call *carrier_find(struct carrier *s, const char *sid, size_t len)
{
    return map_get(&s->calls, sid, len);
}

int carrier_init(struct carrier *s, uv_loop_t *loop, struct ledger *ledger, const char *account_sid,
                 const char *auth_token, double speed)
{
    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->ledger = ledger;
    s->account_sid = account_sid;
    s->auth_token = auth_token;
    s->speed = speed;
    uint8_t prefix[8];
    int rc = crypto_random(prefix, sizeof prefix);
    if (rc)
        return rc;
    crypto_hex(prefix, sizeof prefix, s->sid_prefix);
    if ((rc = client_init(&s->client, loop, CALLBACKS_IN_FLIGHT)) != 0)
        return rc;
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    return 0;
}

static void handle_closed(struct carrier *s)
{
    if (--s->open_handles == 0 && s->closed)
        s->closed(s);
}

static void on_timer_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

static void on_client_closed(struct client *c)
{
    handle_closed((struct carrier *)((char *)c - offsetof(struct carrier, client)));
}

void carrier_close(struct carrier *s, void (*closed)(struct carrier *s))
{
    s->stopping = 1;
    s->closed = closed;
    s->open_handles = 2;
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, on_timer_closed);
    client_close(&s->client, on_client_closed);
}

void carrier_free(struct carrier *s)
{
    while (s->all)
        call_free(s, s->all);
    map_free(&s->calls, NULL);
    schedule_free(&s->due);
}
