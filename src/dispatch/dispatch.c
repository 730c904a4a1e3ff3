#include "dispatch/dispatch.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhooks/webhooks.h"
#include "dispatch/commit.h"
#include "dispatch/pick.h"
#include "dispatch/report.h"
#include "dispatch/roster.h"
#include "dispatch/watch.h"
#include "model/batch.h"
#include "store/records.h"
#include "util/bucket.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

/* Dials chosen per round: bounds the work (and the transaction) of one loop callback. */
#define PICKS_PER_ROUND 256
/* Group-commit window: reports arriving within it share one transaction. */
#define COMMIT_DELAY_MS 1
/* Commits start at least this far apart (and one ends before the next starts). Each is an
 * fsync (2 to 5 ms on this disk); under load one commit then carries everything that arrived
 * since the last, instead of a commit per report, at the price of at most this much latency
 * per dial. */
#define COMMIT_SPACING_MS 10
#define WATCH_INTERVAL_MS 500
/* After a failed commit, the next try waits this long. */
#define COMMIT_RETRY_MS 100

struct dispatcher {
    struct dispatch_config cfg;
    struct provider_config pcfg;
    struct client *client;
    struct bucket provider;
    struct roster roster;
    struct watchlist watches;
    uv_timer_t tick;
    uv_timer_t watch_timer;
    uint64_t tick_at;     /* uv_now() the tick is armed for, ROSTER_NO_TIME when not armed */
    uint64_t next_commit; /* uv_now() before which no transaction starts */
    struct store_waiter store_wait;
    struct report *queue_head, *queue_tail; /* reports for the next commit */
    struct report_pool reports;             /* applied reports, for the next ones */
    struct commit commit;
    int committing; /* commit is being written on the pool */
    struct dispatch_stats stats;
    uint64_t rnd;
    int closing;
    int quiet;   /* shutting down: apply reports, start no new calls */
    int handles; /* the two timers, and a commit still being written when stopped */
};

/* A create request in flight. */
struct dial {
    struct client_request r;
    struct dispatcher *d;
    char batch[ID_MAX];
    uint32_t row, seq;
};

static void arm(struct dispatcher *d, uint64_t delay_ms);

static void queue_report(struct dispatcher *d, struct report *r)
{
    r->next = NULL;
    if (d->queue_tail)
        d->queue_tail->next = r;
    else
        d->queue_head = r;
    d->queue_tail = r;
    arm(d, COMMIT_DELAY_MS);
}

static void queue_from_watch(void *ctx, struct report *r)
{
    queue_report(ctx, r);
}

static struct report *take_reports(struct dispatcher *d)
{
    struct report *reports = d->queue_head;
    d->queue_head = d->queue_tail = NULL;
    return reports;
}

int dispatch_add_batch(struct dispatcher *d, const char *batch_id)
{
    struct store_txn t;
    int rc = store_read_begin(d->cfg.store, &t);
    if (!rc)
        rc = roster_load(&d->roster, &t, batch_id, uv_now(d->cfg.loop));
    store_read_end(&t);
    arm(d, 0);
    return rc;
}

void dispatch_remove_batch(struct dispatcher *d, const char *batch_id)
{
    roster_stop(&d->roster, batch_id);
}

void dispatch_report(struct dispatcher *d, const struct call_event *ce)
{
    struct report *r = report_take(&d->reports, REPORT_CALL, ce->batch, ce->row, ce->seq);
    if (!r) {
        free(ce->transcript);
        return;
    }
    r->ce = *ce;
    queue_report(d, r);
}

/* ---- sending what a commit recorded ---- */

static void on_create_done(struct client_request *req)
{
    struct dial *dl = req->user;
    struct dispatcher *d = dl->d;
    if (!d->closing) {
        histogram_observe(&d->stats.provider_latency, req->seconds);
        struct report *r = report_take(&d->reports, REPORT_CREATE, dl->batch, dl->row, dl->seq);
        if (r) {
            provider_parse_create(&d->pcfg, req, &r->cr);
            queue_report(d, r);
        }
    }
    client_request_free(req);
    free(dl);
}

static void send_pick(struct dispatcher *d, struct pick *p)
{
    struct dial *dl = calloc(1, sizeof *dl);
    int rc = BC_ENOMEM;
    if (dl) {
        dl->d = d;
        /* Copied, not formatted: one per dial. */
        size_t n = strnlen(p->b->id, sizeof dl->batch - 1);
        memcpy(dl->batch, p->b->id, n);
        dl->batch[n] = '\0';
        dl->row = p->row;
        dl->seq = p->seq;
        struct dial_attempt a = {
            .ws = p->b->ws_id,
            .batch = p->b->id,
            .row = p->row,
            .seq = p->seq,
            .to = p->e164,
            .from = p->b->from,
            .agent_id = p->b->agent_id,
            .voice_url = p->b->voice_url,
            .prompt = p->prompt,
            .variables = p->vars,
        };
        rc = provider_build_create(&d->pcfg, &a, &dl->r);
        dl->r.done = on_create_done;
        dl->r.user = dl;
        if (!rc)
            rc = client_start(d->client, &dl->r);
    }
    if (rc == 0) {
        d->stats.dials++;
        return;
    }
    struct report *r = report_take(&d->reports, REPORT_CREATE, p->b->id, p->row, p->seq);
    if (r && rc == BC_ETOOBIG) {
        /* The provider would refuse this contact's request every time: it fails alone. */
        r->cr.cls = CREATE_FINAL;
        r->cr.outcome = OUTCOME_PROVIDER_ERROR;
        snprintf(r->cr.message, sizeof r->cr.message, "%s", dl->r.error);
    } else if (r) {
        /* Never sent: report it as provider trouble so the job waits and tries again. */
        r->cr.cls = CREATE_RETRY;
        snprintf(r->cr.message, sizeof r->cr.message, "the request could not be started (%s)",
                 err_str(rc));
    }
    if (dl) {
        client_request_free(&dl->r);
        free(dl);
    }
    if (r)
        queue_report(d, r);
}

/* A dial that was recorded but will not be sent: recorded back in the next commit (left dialing
 * when out of memory: reconciled as unknown, never dialled twice). */
static void withdraw(struct dispatcher *d, const struct pick *p)
{
    struct report *r = report_take(&d->reports, REPORT_WITHDRAW, p->b->id, p->row, p->seq);
    if (r)
        queue_report(d, r);
}

/* ---- after a commit ---- */

static void report_effects(struct dispatcher *d, struct report *r)
{
    if (r->kind == REPORT_UNKNOWN && r->released)
        log_warn("call outcome unknown: no report from the provider; not dialled again",
                 "batch=%s row=%u seq=%u", r->batch, r->row, r->seq);
    struct roster_batch *b = roster_batch(&d->roster, r->batch);
    /* A call adopted in doubt after a restart holds no slot until it shows it is in progress,
     * and has none to give back if it never does (dispatch/watch.h). */
    if (r->now_active) {
        uint64_t deadline = clock_now_ms() + d->cfg.overdue_ms;
        if (watch_set(&d->watches, r->batch, r->row, r->seq, JOB_ACTIVE, r->call_id, deadline) && b)
            roster_hold(b);
    }
    if (r->released && watch_clear(&d->watches, r->batch, r->row) && b)
        roster_release(b);
    if (!b)
        return;
    if (r->retry_due && r->retry_due < b->retry_due)
        b->retry_due = r->retry_due;
    if (r->reset_cursor) {
        b->next_row = 0;
        b->exhausted = 0;
    }
    if (r->halted && b->dialable) {
        b->dialable = 0;
        log_warn("batch paused: the provider rejected our account or configuration",
                 "batch=%s reason=\"%s\"", b->id, r->cr.message);
    }
    /* A batch that is over leaves memory with its last call (a cancelled one stayed for the
     * calls it had in progress). */
    if (r->batch_over && b->active == 0) {
        if (r->finished_batch)
            log_info("batch completed", "batch=%s", b->id);
        roster_drop(&d->roster, b);
    }
}

static void notify(struct dispatcher *d, const char *batch, uint32_t row, uint32_t final_seq,
                   int done)
{
    if (d->cfg.on_change)
        d->cfg.on_change(d->cfg.on_change_arg, batch, row, final_seq, done);
}

/* A failed commit: its picks give back what they took, its reports wait for the next, in order. */
static void commit_failed(struct dispatcher *d, struct pick *picks, struct report *reports, int rc)
{
    log_error("dispatch transaction failed; retrying", "error=\"%s\"", err_str(rc));
    for (struct pick *p = picks, *n; p; p = n) {
        n = p->next;
        pick_undo(p);
        pick_free(p);
    }
    if (reports) {
        struct report *last = reports;
        while (last->next)
            last = last->next;
        last->next = d->queue_head;
        if (!d->queue_head)
            d->queue_tail = last;
        d->queue_head = reports;
    }
}

/* A pick the commit held back or ended instead of dialling: its slot (if it took one) is free,
 * a hold's time is when the batch looks again. */
static void held_or_ended(struct dispatcher *d, struct pick *p, struct buf *over)
{
    struct roster_batch *b = p->b;
    if (p->slot)
        roster_release(b);
    if (p->action == PICK_HOLD) {
        d->stats.held++;
        if (p->until_ms < b->retry_due)
            b->retry_due = p->until_ms;
        notify(d, b->id, p->row, 0, 0);
        return;
    }
    notify(d, b->id, p->row, p->final_seq, p->finished_batch);
    if (p->batch_over)
        buf_append(over, b->id, strlen(b->id) + 1);
}

/* Batches that are over leave memory once they have no call in progress (after every pick of
 * the commit is done with them). */
static void drop_over(struct dispatcher *d, struct buf *over)
{
    for (const char *id = over->data; id && id < over->data + over->len; id += strlen(id) + 1) {
        struct roster_batch *b = roster_batch(&d->roster, id);
        if (b && b->active == 0)
            roster_drop(&d->roster, b);
    }
    buf_free(over);
}

/* On the loop after the commit: what was decided takes effect, the recorded dials are sent. */
static void commit_finish(struct dispatcher *d, int rc)
{
    struct commit *c = &d->commit;
    struct report *reports = c->reports;
    struct pick *picks = c->picks;
    c->reports = NULL;
    c->picks = NULL;
    if (rc) {
        commit_failed(d, picks, reports, rc);
        return;
    }
    d->rnd = c->rnd;
    d->stats.provider_errors += c->provider_errors;
    for (size_t i = 0; i < OUTCOME_COUNT; i++)
        d->stats.by_outcome[i] += c->by_outcome[i];
    if (c->emitted)
        webhooks_kick(d->cfg.webhooks);
    for (struct report *r = reports, *n; r; r = n) {
        n = r->next;
        notify(d, r->batch, r->row, r->final_seq, r->finished_batch);
        report_effects(d, r);
        report_give(&d->reports, r);
    }
    size_t withdrawn = 0;
    struct buf over = {0}; /* batches a pick ended: they may leave memory once all are done */
    for (struct pick *p = picks, *n; p; p = n) {
        n = p->next;
        if (!p->applied) {
            pick_undo(p);
        } else if (p->action != PICK_DIAL) {
            held_or_ended(d, p, &over);
        } else {
            notify(d, p->b->id, p->row, 0, 0);
            /* The batch may have been paused or cancelled, or the server told to stop, while
             * the commit was written: a dial whose 200 OK has been answered must not leave. */
            if (p->b->dialable && !d->quiet) {
                send_pick(d, p);
            } else {
                withdraw(d, p);
                withdrawn++;
            }
        }
        pick_free(p);
    }
    drop_over(d, &over);
    if (withdrawn)
        log_info("dials not sent: their batch stopped dialling while they were recorded",
                 "calls=%zu", withdrawn);
}

/* Fills the commit with what it records and what the transaction needs from memory. */
static void commit_prepare(struct dispatcher *d, struct pick *picks, struct report *reports,
                           uint64_t wall)
{
    struct commit *c = &d->commit;
    c->retry = &d->cfg.retry;
    c->hooks = d->cfg.webhooks;
    c->picks = picks;
    c->reports = reports;
    c->now = wall;
    c->rnd = d->rnd;
    for (struct report *r = reports; r; r = r->next) {
        struct roster_batch *b = roster_batch(&d->roster, r->batch);
        r->has_smart = r->has_window = b != NULL;
        if (b) {
            r->smart = b->smart;
            r->window = *roster_window(b);
            r->state_rules = b->ws->state_rules;
        }
    }
}

/* While stopping: what is still queued is applied at once, on the loop (it no longer serves
 * requests), so nothing already known is lost. */
static void flush_at_stop(struct dispatcher *d)
{
    for (int tries = 0; d->queue_head && tries < 3; tries++) {
        commit_prepare(d, NULL, take_reports(d), clock_now_ms());
        commit_finish(d, store_write(d->cfg.store, commit_txn, &d->commit));
    }
}

static void release_dispatcher(struct dispatcher *d)
{
    if (--d->handles > 0)
        return;
    for (struct report *r = d->queue_head, *n; r; r = n) {
        n = r->next;
        report_free(r);
    }
    report_pool_free(&d->reports);
    roster_free(&d->roster);
    watch_free(&d->watches);
    jobs_txn_free(&d->commit.jt);
    free(d);
}

static void on_commit_done(struct store_async *req, int rc)
{
    struct dispatcher *d = (struct dispatcher *)((char *)req - offsetof(struct dispatcher, commit));
    d->committing = 0;
    commit_finish(d, rc);
    if (d->closing) {
        flush_at_stop(d);
        release_dispatcher(d);
        return;
    }
    /* Reports may have freed slots or scheduled retries, and the budget may have run out: look
     * again at once (no sooner than the spacing allows). */
    arm(d, rc ? COMMIT_RETRY_MS : 0);
}

/* ---- the loop ---- */

static struct pick *pick_now(struct dispatcher *d, uint64_t wall, uint64_t *wake)
{
    if (d->roster.batches.live == 0 || d->quiet)
        return NULL;
    size_t in_flight = d->client->in_flight;
    struct pick_round round = {
        .budget = d->cfg.max_in_flight > in_flight ? d->cfg.max_in_flight - in_flight : 0,
        .provider = &d->provider,
        .provider_limited = d->cfg.provider_cps > 0,
        .wall = wall,
        .mono = uv_now(d->cfg.loop),
        .wake = ROSTER_NO_TIME,
    };
    if (round.budget > PICKS_PER_ROUND)
        round.budget = PICKS_PER_ROUND;
    struct store_txn t;
    if (store_read_begin(d->cfg.store, &t) != 0)
        return NULL;
    struct pick *picks = pick_round(&d->roster, &t, &round);
    store_read_end(&t);
    d->stats.token_waits += round.token_waits;
    *wake = round.wake;
    return picks;
}

static void run(struct dispatcher *d)
{
    if (d->closing || d->committing)
        return; /* the commit's end looks again */
    if (store_async_busy(d->cfg.store)) {
        /* An upload's rows are being written: pick right after, so the picks are fresh when
         * the commit starts, instead of queueing behind the chunk. */
        store_when_idle(d->cfg.store, &d->store_wait);
        return;
    }
    uint64_t wall = clock_now_ms();
    uint64_t wake = ROSTER_NO_TIME;
    struct pick *picks = pick_now(d, wall, &wake);
    struct report *reports = take_reports(d);
    if (!picks && !reports) {
        if (wake != ROSTER_NO_TIME)
            arm(d, wake);
        return;
    }
    commit_prepare(d, picks, reports, wall);
    d->committing = 1;
    d->next_commit = uv_now(d->cfg.loop) + COMMIT_SPACING_MS;
    store_write_async(d->cfg.store, d->cfg.loop, &d->commit.req, commit_txn, &d->commit,
                      on_commit_done);
}

static void on_store_idle(struct store_waiter *w)
{
    run((struct dispatcher *)((char *)w - offsetof(struct dispatcher, store_wait)));
}

static void on_tick(uv_timer_t *t)
{
    struct dispatcher *d = t->data;
    d->tick_at = ROSTER_NO_TIME;
    run(d);
}

/* Arms the tick for delay_ms from now unless it is already armed sooner. A zero delay becomes
 * 1 ms: libuv 1.44 runs a 0 ms timer started inside a timer callback in the same pass. */
static void arm(struct dispatcher *d, uint64_t delay_ms)
{
    if (d->closing || delay_ms == ROSTER_NO_TIME)
        return;
    if (delay_ms < 1)
        delay_ms = 1;
    uint64_t now = uv_now(d->cfg.loop), at = now + delay_ms;
    if (at < d->next_commit) {
        at = d->next_commit;
        delay_ms = at - now;
    }
    if (d->tick_at != ROSTER_NO_TIME && d->tick_at <= at)
        return;
    d->tick_at = at;
    uv_timer_start(&d->tick, on_tick, delay_ms, 0);
}

static void on_watch(uv_timer_t *t)
{
    struct dispatcher *d = t->data;
    watch_scan(&d->watches, clock_now_ms());
}

/* ---- start and stop ---- */

/* A batch_scan_fn: appends the id (NUL-terminated) of a batch to resume to the buf arg. */
static int collect_resumed(const struct batch_rec *b, void *arg)
{
    /* Cancelled batches may still have calls finishing. */
    if (batch_is_live(b->status) || (b->status == BATCH_CANCELLED && b->active))
        buf_append(arg, b->id, strlen(b->id) + 1);
    return 0;
}

/* The batches that may still dial or have calls in progress, as the store has them. */
static int load_all(struct dispatcher *d)
{
    struct store_txn t;
    int rc = store_read_begin(d->cfg.store, &t);
    if (rc)
        return rc;
    struct buf ids = {0};
    rc = batch_scan(&t, collect_resumed, &ids);
    uint64_t mono = uv_now(d->cfg.loop), now = clock_now_ms();
    size_t n = 0;
    for (const char *id = ids.data; id && id < ids.data + ids.len && rc >= 0;
         id += strlen(id) + 1) {
        rc = roster_load(&d->roster, &t, id, mono);
        struct roster_batch *b = roster_batch(&d->roster, id);
        if (!rc && b)
            rc = watch_adopt(&d->watches, &t, b, now, now + d->cfg.reconcile_ms);
        n++;
    }
    store_read_end(&t);
    buf_free(&ids);
    /* in_doubt: calls being placed at the stop, which hold no slot (dispatch/watch.h). */
    if (n)
        log_info("dispatch resumed", "batches=%zu calls_in_progress=%zu in_doubt=%zu", n,
                 watch_count(&d->watches), d->watches.in_doubt);
    return rc < 0 ? rc : 0;
}

int dispatch_start(struct dispatcher **out, const struct dispatch_config *cfg,
                   const struct provider_config *pcfg, struct client *client)
{
    struct dispatcher *d = calloc(1, sizeof *d);
    if (!d)
        return BC_ENOMEM;
    d->cfg = *cfg;
    d->pcfg = *pcfg;
    d->client = client;
    d->watches = (struct watchlist){.client = client,
                                    .pcfg = &d->pcfg,
                                    .overdue_ms = cfg->overdue_ms,
                                    .queue = queue_from_watch,
                                    .ctx = d};
    d->tick_at = ROSTER_NO_TIME;
    d->store_wait.fn = on_store_idle;
    d->rnd = clock_now_ms() | 1;
    double pcps = cfg->provider_cps > 0 ? cfg->provider_cps : 1e9;
    bucket_init(&d->provider, pcps, roster_burst(pcps), uv_now(cfg->loop));
    uv_timer_init(cfg->loop, &d->tick);
    uv_timer_init(cfg->loop, &d->watch_timer);
    d->tick.data = d->watch_timer.data = d;
    d->handles = 2;
    int rc = load_all(d);
    if (rc) {
        dispatch_stop(d);
        return rc;
    }
    /* The first scan looks up the adopted calls the provider accepted right away. */
    uv_timer_start(&d->watch_timer, on_watch, 0, WATCH_INTERVAL_MS);
    arm(d, 0);
    *out = d;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    release_dispatcher(h->data);
}

void dispatch_quiesce(struct dispatcher *d)
{
    d->quiet = 1;
}

int dispatch_idle(const struct dispatcher *d)
{
    return d->client->in_flight == 0 && d->queue_head == NULL && !d->committing;
}

void dispatch_stop(struct dispatcher *d)
{
    if (!d || d->closing)
        return;
    d->quiet = 1;
    d->closing = 1;
    d->watches.closing = 1;
    store_unwait(d->cfg.store, &d->store_wait);
    /* A commit being written finishes first (its dials are not sent); its end applies what is
     * queued and lets the dispatcher go. */
    if (d->committing)
        d->handles++;
    else
        flush_at_stop(d);
    uv_close((uv_handle_t *)&d->tick, on_closed);
    uv_close((uv_handle_t *)&d->watch_timer, on_closed);
}

void dispatch_stats(const struct dispatcher *d, struct dispatch_stats *out)
{
    *out = d->stats;
    out->in_progress = 0;
    out->waiting = 0;
    struct store_txn t;
    int open = store_read_begin(d->cfg.store, &t) == 0;
    size_t pos = 0;
    for (const struct roster_batch *b; (b = roster_next(&d->roster, &pos)) != NULL;) {
        struct batch_rec rec;
        out->in_progress += b->active;
        if (open && batch_get(&t, b->id, strlen(b->id), &rec) == 0)
            out->waiting += rec.waiting;
    }
    store_read_end(&t);
    out->in_progress += d->watches.in_doubt; /* being placed, though they hold no slot */
}
