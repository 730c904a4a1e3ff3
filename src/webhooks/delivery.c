/* Every target URL has a queue of its outbox sequences in memory. Only the head of a queue is ever
 * sent, and the next one only after the head was delivered or given up, which keeps each target's
 * events in order while a failing target waits on its own. What an answer means (delivered, retry
 * at, given up) is decided in memory the moment it arrives, so the next event can leave at once;
 * the outcome is made durable by the next pass, in one write transaction for every answer received
 * meanwhile. A single timer drives the passes, each of bounded work: index outbox entries not seen
 * yet, send the heads that are due, record the outcomes. Everything the worker knows is rebuilt
 * from the outbox at start, so deliveries survive restarts; an event whose delivery was not
 * recorded before a crash is sent again (at least once, de-duplicated by id). */
#include "webhooks/delivery.h"

#include <stdlib.h>
#include <string.h>

#include "http/client.h"
#include "model/url.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/id.h"
#include "util/err.h"
#include "util/log.h"
#include "webhooks/deliveries.h"
#include "webhooks/outbox.h"
#include "webhooks/queue.h"
#include "webhooks/signing.h"
#include "webhooks/target.h"

/* Webhook requests at once, on the worker's own HTTP client so that slow customer endpoints never
 * take slots from provider requests. */
#define MAX_IN_FLIGHT 32
/* Outbox entries indexed per pass: each is one JSON parse, so a pass stays around a millisecond
 * even when a restart finds a large backlog. */
#define SCAN_CHUNK 1000
/* Outcomes are recorded at most this long after they are decided, many per transaction: a
 * durable commit costs milliseconds, and one per event would cap each target's rate. A crash
 * loses at most this much bookkeeping, and those events are simply sent again. */
#define RECORD_DELAY_MS 10
/* How long a target waits when its head could not be read or prepared. */
#define STORE_RETRY_MS 1000

enum outcome { OUT_DELIVERED, OUT_RETRY, OUT_GAVE_UP, OUT_DROPPED };

/* One attempt at delivering a queue's head, from the request until its outcome is recorded. */
struct send {
    struct client_request r;
    struct delivery *d;
    struct queue *q; /* NULL for an unreadable entry found while indexing */
    uint64_t seq;
    uint32_t attempt; /* 1 for the first */
    int drop;         /* not sent: it cannot be (the reason is in r.error) */
    struct outbox_entry e;
    char signature[SIGNING_HEADER_MAX + 16];
    char id_header[ID_MAX + 16];
    const char *headers[4];
    /* Decided when the answer arrives, recorded by the next pass. */
    enum outcome outcome;
    uint64_t next_at;
    struct send *next;
};

struct delivery {
    struct store *store;
    struct delivery_config cfg;
    struct client client;
    uv_timer_t timer;
    struct queue_set queues;
    struct send *results; /* decided attempts waiting to be recorded */
    uint64_t scan_seq;    /* every outbox entry below this is in its target's queue */
    int scan_done;        /* the last index step reached the end of the outbox */
    uint64_t delivered, failed, gave_up;
    int closing;
    int handles; /* open: the timer and the client; d is freed when both closed */
};

static void arm(struct delivery *d, uint64_t delay_ms);
static void on_done(struct client_request *r);

/* ---- settings ---- */

void delivery_config_defaults(struct delivery_config *c)
{
    c->backoff_ms = DELIVERY_BACKOFF_MS;
    c->backoff_max_ms = DELIVERY_BACKOFF_MAX_MS;
    c->max_age_ms = DELIVERY_MAX_AGE_MS;
    c->timeout_ms = DELIVERY_TIMEOUT_MS;
    c->allow_private = 0;
}

int delivery_configure(struct delivery *d, const struct delivery_config *c)
{
    if (!c->backoff_ms || !c->max_age_ms || !c->timeout_ms || c->backoff_max_ms < c->backoff_ms)
        return BC_EINVAL;
    d->cfg = *c;
    return 0;
}

void delivery_stats(const struct delivery *d, uint64_t *delivered, uint64_t *failed,
                    uint64_t *gave_up)
{
    *delivered = d ? d->delivered : 0;
    *failed = d ? d->failed : 0;
    *gave_up = d ? d->gave_up : 0;
}

/* Attempts waiting to be recorded still point at their queue, so none goes while there are any. */
static void prune_queues(struct delivery *d)
{
    if (!d->results)
        queue_prune(&d->queues);
}

/* ---- outcomes ---- */

static void send_free(struct send *s)
{
    client_request_free(&s->r);
    free(s);
}

/* The wait after failed attempt n: base * 2^(n-1), capped, then drawn uniformly from its upper
 * half so that receivers coming back up are not hit by every sender at the same moment. */
static uint64_t backoff_ms(const struct delivery_config *c, uint32_t attempt)
{
    uint64_t w = c->backoff_ms;
    for (uint32_t i = 1; i < attempt && w < c->backoff_max_ms; i++)
        w *= 2;
    if (w > c->backoff_max_ms)
        w = c->backoff_max_ms;
    uint32_t r = 0;
    crypto_random(&r, sizeof r);
    return w - (uint64_t)((double)(w / 2) * ((double)r / 4294967296.0));
}

/* Decides what an attempt leads to, moves its queue on, and queues the outcome to be recorded by
 * the next pass. */
static void settle(struct delivery *d, struct send *s, uint64_t now)
{
    struct queue *q = s->q;
    if (s->drop) {
        s->outcome = OUT_DROPPED;
        log_warn("webhook event dropped", "seq=%llu reason=\"%s\"", (unsigned long long)s->seq,
                 s->r.error);
    } else if (s->r.result == CLIENT_OK && s->r.status >= 200 && s->r.status < 300) {
        s->outcome = OUT_DELIVERED;
        d->delivered++;
    } else {
        d->failed++;
        if (s->r.result != CLIENT_OK)
            log_info("webhook attempt failed", "event=%s url=\"%s\" error=\"%s\"", s->e.id, q->url,
                     s->r.error);
        s->next_at = now + backoff_ms(&d->cfg, s->attempt);
        s->outcome = s->next_at > s->e.created_ms + d->cfg.max_age_ms ? OUT_GAVE_UP : OUT_RETRY;
        if (s->outcome == OUT_GAVE_UP) {
            d->gave_up++;
            log_warn("webhook event given up", "event=%s url=\"%s\" attempts=%u", s->e.id, q->url,
                     s->attempt);
        }
    }
    if (q) {
        q->in_flight = 0;
        if (s->outcome == OUT_RETRY) {
            q->retry_at = s->next_at;
            q->head_attempts = s->attempt;
        } else {
            queue_pop(q, s->seq);
        }
    }
    s->next = d->results;
    d->results = s;
    arm(d, RECORD_DELAY_MS);
}

/* The log is read by the workspace, which may not learn more about the network than the status
 * an allowed target answered: only the kind of failure is recorded, never curl's text (addresses,
 * ports, "connection refused" against "not allowed"). The server log has the details. */
static void describe_error(const struct send *s, char *out, size_t cap)
{
    if (s->drop)
        snprintf(out, cap, "%s", s->r.error);
    else if (s->r.result == CLIENT_OK)
        out[0] = '\0'; /* an HTTP answer: its status says it all */
    else if (s->r.result == CLIENT_E_TIMEOUT)
        snprintf(out, cap, "timeout");
    else
        snprintf(out, cap, "%s", client_strerror(s->r.result));
}

static int record_delivery(struct store_txn *t, const struct send *s, uint64_t now)
{
    static const char *const results[] = {
        [OUT_DELIVERED] = "delivered",
        [OUT_RETRY] = "retrying",
        [OUT_GAVE_UP] = "gave_up",
        [OUT_DROPPED] = "dropped",
    };
    char error[sizeof s->r.error + 64];
    describe_error(s, error, sizeof error);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "eventId", s->e.id);
    cJSON_AddStringToObject(o, "type", s->e.type);
    cJSON_AddStringToObject(o, "url", s->q->url);
    cJSON_AddNumberToObject(o, "attempt", s->attempt);
    if (!s->drop && s->r.result == CLIENT_OK)
        cJSON_AddNumberToObject(o, "status", (double)s->r.status);
    else
        cJSON_AddNullToObject(o, "status");
    if (error[0])
        cJSON_AddStringToObject(o, "error", error);
    else
        cJSON_AddNullToObject(o, "error");
    cJSON_AddNumberToObject(o, "durationMs", (double)(uint64_t)(s->r.seconds * 1000.0 + 0.5));
    cJSON_AddNumberToObject(o, "at", (double)now);
    cJSON_AddStringToObject(o, "result", results[s->outcome]);
    if (s->outcome == OUT_RETRY)
        cJSON_AddNumberToObject(o, "nextAttemptAt", (double)s->next_at);
    else
        cJSON_AddNullToObject(o, "nextAttemptAt");
    return deliveries_put(t, s->e.ws, now, s->seq, o);
}

struct record_args {
    struct send *list;
    uint64_t now;
};

static int record_txn(struct store_txn *t, void *arg)
{
    struct record_args *a = arg;
    int rc = 0;
    for (struct send *s = a->list; s && !rc; s = s->next) {
        if (s->outcome == OUT_RETRY)
            rc = outbox_set_retry(t, s->seq, s->attempt, s->next_at);
        else
            rc = outbox_delete(t, s->seq);
        if (!rc && s->q)
            rc = record_delivery(t, s, a->now);
    }
    /* Each workspace once, however many of its attempts this transaction records. */
    for (struct send *s = a->list; s && !rc; s = s->next) {
        int seen = !s->q;
        for (struct send *p = a->list; p != s && !seen; p = p->next)
            seen = p->q && strcmp(p->e.ws, s->e.ws) == 0;
        if (!seen)
            rc = deliveries_trim(t, s->e.ws);
    }
    return rc ? rc : t->err;
}

/* Makes every decided outcome durable in one transaction. */
static void record_outcomes(struct delivery *d)
{
    struct send *list = d->results;
    if (!list)
        return;
    d->results = NULL;
    struct record_args a = {list, clock_now_ms()};
    int rc = store_write(d->store, record_txn, &a);
    if (rc)
        log_error("cannot record webhook deliveries; those events stay in the outbox and are "
                  "sent again after a restart",
                  "error=\"%s\"", err_str(rc));
    for (struct send *s = list, *next; s; s = next) {
        next = s->next;
        send_free(s);
    }
}

/* ---- indexing and sending ---- */

static int index_entry(void *ctx, uint64_t seq, const char *url)
{
    struct delivery *d = ctx;
    if (url) {
        struct queue *q = queue_for(&d->queues, url);
        if (!q || queue_push(q, seq) != 0)
            return BC_ENOMEM; /* try again from this entry on the next pass */
    } else {
        /* Nothing can deliver an entry without a target: it is deleted with the outcomes. */
        struct send *s = calloc(1, sizeof *s);
        if (!s)
            return BC_ENOMEM;
        s->seq = seq;
        s->drop = 1;
        snprintf(s->r.error, sizeof s->r.error, "unreadable outbox entry");
        settle(d, s, clock_now_ms());
    }
    d->scan_seq = seq + 1;
    return 0;
}

/* Queues outbox entries from scan_seq on, at most SCAN_CHUNK per pass. */
static void index_outbox(struct delivery *d)
{
    int n = outbox_scan(d->store, d->scan_seq, SCAN_CHUNK, index_entry, d);
    d->scan_done = n >= 0 && n < SCAN_CHUNK;
}

/* Fills s from the outbox entry: body, signature and headers. Returns 1 to send; 0 when the head
 * must wait (a restart found its retry not due yet) or was dropped (s is settled); or a negative
 * error. */
static int prepare(struct delivery *d, struct store_txn *t, struct send *s, uint64_t now)
{
    struct queue *q = s->q;
    int rc = outbox_read(t, s->seq, &s->e, &s->r.body);
    if (rc)
        return rc;
    if (!q->head_known) {
        /* First look at this head since it was indexed: after a restart the entry remembers how
         * many attempts failed and when the next one is due. */
        q->head_known = 1;
        q->head_attempts = s->e.attempts;
        q->retry_at = s->e.next_at_ms;
        if (q->retry_at > now)
            return 0;
    }
    s->attempt = q->head_attempts + 1;
    struct target tg;
    rc = s->e.valid ? target_get(t, s->e.ws, strlen(s->e.ws), &tg) : BC_ECORRUPT;
    if (rc == BC_ENOTFOUND || rc == BC_ECORRUPT) {
        s->drop = 1;
        snprintf(s->r.error, sizeof s->r.error, "%s",
                 rc == BC_ENOTFOUND ? "the workspace's webhook and signing secret were deleted"
                                    : "unreadable outbox entry");
        settle(d, s, now);
        return 0;
    }
    char sig[SIGNING_HEADER_MAX];
    if (!rc)
        rc = signing_header(tg.secret, strlen(tg.secret), now / 1000, s->r.body.data, s->r.body.len,
                            sig);
    if (rc)
        return rc;
    snprintf(s->signature, sizeof s->signature, "X-Signature: %s", sig);
    snprintf(s->id_header, sizeof s->id_header, "X-Webhook-Id: %s", s->e.id);
    s->headers[0] = s->signature;
    s->headers[1] = s->id_header;
    s->headers[2] = "User-Agent: batchcalld";
    s->headers[3] = NULL;
    s->r.url = q->url;
    s->r.method = "POST";
    s->r.content_type = "application/json";
    s->r.headers = s->headers;
    s->r.timeout_ms = (long)d->cfg.timeout_ms;
    s->r.refuse_addr = d->cfg.allow_private ? NULL : url_addr_refusal;
    s->r.done = on_done;
    s->r.user = s;
    return 1;
}

/* Starts the head of q (or settles it when it cannot be sent). Returns 0, or a negative error
 * when nothing happened: BC_EBUSY when the client is full. */
static int send_head(struct delivery *d, struct store_txn *t, struct queue *q, uint64_t now)
{
    struct send *s = calloc(1, sizeof *s);
    if (!s)
        return BC_ENOMEM;
    s->d = d;
    s->q = q;
    s->seq = q->seqs[q->first];
    q->in_flight = 1;
    int rc = prepare(d, t, s, now);
    if (rc == BC_ENOTFOUND) {
        /* Only this worker deletes entries, so this is a stale queue: move past it. */
        q->in_flight = 0;
        queue_pop(q, s->seq);
        send_free(s);
        return 0;
    }
    if (rc < 0) {
        log_error("cannot prepare a webhook; will retry", "url=\"%s\" error=\"%s\"", q->url,
                  err_str(rc));
        q->retry_at = now + STORE_RETRY_MS;
    }
    if (rc <= 0) {
        if (!s->drop) {
            q->in_flight = 0;
            send_free(s);
        }
        return 0;
    }
    rc = client_start(&d->client, &s->r);
    if (rc == BC_EBUSY) {
        q->in_flight = 0;
        send_free(s);
        return rc;
    }
    if (rc) {
        /* The request could not even start (a URL curl rejects): a failed attempt. */
        s->r.result = CLIENT_E_OTHER;
        snprintf(s->r.error, sizeof s->r.error, "the request could not be started: %s",
                 err_str(rc));
        settle(d, s, now);
    }
    return 0;
}

static void on_done(struct client_request *r)
{
    struct send *s = r->user;
    struct delivery *d = s->d;
    struct queue *q = s->q;
    /* A request cancelled by shutdown is no attempt: it is sent again after the restart. */
    if (r->result == CLIENT_E_CANCELLED || d->closing) {
        q->in_flight = 0;
        send_free(s);
        return;
    }
    uint64_t now = clock_now_ms();
    settle(d, s, now);
    /* A target that just accepted an event gets its next one now rather than at the next pass:
     * with one event in flight per target, this wait would otherwise bound its throughput. */
    struct store_txn t;
    if (q->count && q->retry_at <= now && store_read_begin(d->store, &t) == 0) {
        send_head(d, &t, q, now);
        store_read_end(&t);
    }
}

static void send_due(struct delivery *d, uint64_t now)
{
    size_t n = d->queues.n;
    if (!n)
        return;
    struct store_txn t;
    if (store_read_begin(d->store, &t) != 0)
        return;
    size_t start = d->queues.rr;
    for (size_t i = 0; i < n && d->client.in_flight < d->client.max_in_flight; i++) {
        struct queue *q = d->queues.all[(start + i) % n];
        if (q->in_flight || !q->count || q->retry_at > now)
            continue;
        if (send_head(d, &t, q, now) == BC_EBUSY)
            break;
        /* The next pass starts after the last queue served, so that none waits for ever. */
        d->queues.rr = (start + i + 1) % n;
    }
    store_read_end(&t);
}

/* Arms the timer for the next thing to do: at once while there is work ready, else the earliest
 * retry; stopped when nothing is pending. */
static void plan_next(struct delivery *d, uint64_t now)
{
    prune_queues(d);
    if (!d->scan_done) {
        arm(d, 1);
        return;
    }
    uint64_t soonest = UINT64_MAX;
    int room = d->client.in_flight < d->client.max_in_flight;
    for (size_t i = 0; i < d->queues.n; i++) {
        const struct queue *q = d->queues.all[i];
        if (q->in_flight || !q->count || (q->retry_at <= now && !room))
            continue;
        if (q->retry_at < soonest)
            soonest = q->retry_at;
    }
    if (soonest != UINT64_MAX)
        arm(d, soonest > now ? soonest - now : 1);
}

/* Sends come before recording, so the next event of a target is on its way while the fsync of
 * the previous outcome runs. */
static void on_tick(uv_timer_t *timer)
{
    struct delivery *d = timer->data;
    uint64_t now = clock_now_ms();
    if (!d->scan_done)
        index_outbox(d);
    send_due(d, now);
    record_outcomes(d);
    plan_next(d, clock_now_ms());
}

/* A zero delay becomes 1 ms: libuv 1.44 runs a 0 ms timer started inside a timer callback in the
 * same pass. A timer already due sooner is left alone, so frequent kicks cannot postpone it. */
static void arm(struct delivery *d, uint64_t delay_ms)
{
    if (d->closing)
        return;
    if (delay_ms < 1)
        delay_ms = 1;
    if (uv_is_active((uv_handle_t *)&d->timer) && uv_timer_get_due_in(&d->timer) <= delay_ms)
        return;
    uv_timer_start(&d->timer, on_tick, delay_ms, 0);
}

void delivery_kick(struct delivery *d)
{
    if (!d)
        return;
    d->scan_done = 0;
    arm(d, 1);
}

/* ---- start and stop ---- */

int delivery_start(struct delivery **out, struct store *s, uv_loop_t *loop)
{
    struct delivery *d = calloc(1, sizeof *d);
    if (!d)
        return BC_ENOMEM;
    d->store = s;
    delivery_config_defaults(&d->cfg);
    int rc = client_init(&d->client, loop, MAX_IN_FLIGHT);
    if (rc) {
        free(d);
        return rc;
    }
    uv_timer_init(loop, &d->timer);
    d->timer.data = d;
    d->handles = 2;
    *out = d;
    /* Index what an earlier run left undelivered. */
    delivery_kick(d);
    return 0;
}

static void release(struct delivery *d)
{
    if (--d->handles > 0)
        return;
    queue_set_free(&d->queues);
    free(d);
}

static void on_timer_closed(uv_handle_t *h)
{
    release(h->data);
}

static void on_client_closed(struct client *dl)
{
    release((struct delivery *)((char *)dl - offsetof(struct delivery, client)));
}

void delivery_stop(struct delivery *d)
{
    if (!d || d->closing)
        return;
    /* Answers already received are recorded, so those events are not sent again. */
    record_outcomes(d);
    d->closing = 1;
    uv_timer_stop(&d->timer);
    uv_close((uv_handle_t *)&d->timer, on_timer_closed);
    client_close(&d->client, on_client_closed);
}
