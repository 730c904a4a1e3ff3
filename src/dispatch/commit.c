#include "dispatch/commit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "webhooks/webhooks.h"
#include "model/batch.h"
#include "policy/decide.h"
#include "policy/suppress.h"
#include "store/records.h"
#include "util/err.h"
#include "util/id.h"
#include "util/json.h"

double commit_random01(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return (double)(*state >> 11) / 9007199254740992.0;
}

static void release_call(struct report *ev)
{
    ev->released = 1;
}

static int emit_event(struct commit *c, const struct batch_rec *b, const char *type, cJSON *data)
{
    c->emitted++;
    return webhooks_emit(c->hooks, c->jt.t, b, type, data);
}

/* A call's event (webhooks_call_data, with "phone" too for an opt-out), built only when the
 * batch or its workspace has a webhook target. */
struct call_data {
    const struct batch_rec *b;
    uint32_t row;
    const struct job_head *h;
    const char *err;
    int with_phone;
};

static cJSON *build_call_data(const void *ctx)
{
    const struct call_data *d = ctx;
    cJSON *o = webhooks_call_data(d->b, d->row, d->h, d->err, strlen(d->err));
    if (d->with_phone)
        json_add_strn(o, "phone", d->h->e164, strnlen(d->h->e164, sizeof d->h->e164));
    return o;
}

static int emit_call_event(struct commit *c, const char *type, const struct call_data *d)
{
    c->emitted++;
    return webhooks_emit_built(c->hooks, c->jt.t, d->b, type, build_call_data, d);
}

static void count_outcome(struct commit *c, int outcome)
{
    if (outcome >= 0 && outcome < OUTCOME_COUNT)
        c->by_outcome[outcome]++;
}

static int maybe_finish(struct commit *c, struct report *ev, struct batch_rec *b)
{
    /* Calls a retry counted but has not moved back to waiting yet are still to come. */
    if (b->status == BATCH_PROCESSING && b->waiting == 0 && b->active == 0 &&
        b->requeue_pending == 0) {
        b->status = BATCH_COMPLETED;
        b->completed_ms = c->now;
        ev->finished_batch = ev->batch_over = 1;
        return emit_event(c, b, "batch.completed", webhooks_batch_data(b));
    }
    /* A cancelled batch is over once its last call in progress is. */
    if (b->status == BATCH_CANCELLED && b->active == 0) {
        if (!b->completed_ms)
            b->completed_ms = c->now;
        ev->batch_over = 1;
    }
    return 0;
}

/* Every call that reaches a final state is numbered in its batch; the number is the id of its
 * live event, and the index lets a reconnecting watcher replay what it missed. */
static int final_touch(struct commit *c, struct report *ev, struct batch_rec *b,
                       const struct job_head *h, const char *err)
{
    batch_add_recent(b, ev->row);
    b->last_completed_ms = c->now;
    b->final_seq++;
    ev->final_seq = b->final_seq;
    int rc = finalseq_put(c->jt.t, b->id, b->final_seq, ev->row);
    const char *type = h->state == JOB_COMPLETED ? "call.completed" : "call.failed";
    struct call_data d = {b, ev->row, h, err, 0};
    return rc ? rc : emit_call_event(c, type, &d);
}

/* A call reached a final state: it is recorded, numbered, and may complete its batch. */
static int finish_call(struct commit *c, struct report *ev, struct batch_rec *b,
                       const struct job_view *jv, const struct job_head *h, const char *err)
{
    int rc = jobs_move(&c->jt, ev->batch, ev->row, jv, h, err, strlen(err));
    if (!rc)
        rc = final_touch(c, ev, b, h, err);
    if (!rc)
        rc = maybe_finish(c, ev, b);
    jobs_batch_dirty(&c->jt, b);
    return rc;
}

/* A call of a batch that is over (cancelled: a completed one has no call in progress) that was
 * never placed ends like the batch's other waiting calls. */
static int cancel_unplaced(struct commit *c, struct report *ev, struct batch_rec *b,
                           const struct job_view *jv)
{
    struct job_head h = jv->head;
    jobs_cancel_head(&h);
    release_call(ev);
    jobs_batch_dirty(&c->jt, b);
    int rc = jobs_move(&c->jt, ev->batch, ev->row, jv, &h, JOBS_CANCELLED_MSG,
                       sizeof JOBS_CANCELLED_MSG - 1);
    return rc ? rc : maybe_finish(c, ev, b);
}

static int record_usage(struct jobs_txn *jt, const struct batch_rec *b, uint32_t row, uint32_t seq,
                        uint64_t now, double seconds)
{
    uint8_t key[USAGE_KEY_MAX];
    size_t klen = usage_key(key, b->ws, now, b->id, row, seq);
    return store_put(jt->t, DB_USAGE, key, klen, &seconds, sizeof seconds, 0);
}

static int smart_for(struct commit *c, const struct report *ev, struct retry_smart *out)
{
    if (ev->has_smart) {
        *out = ev->smart;
        return 0;
    }
    struct store_val mv;
    int rc = store_get(c->jt.t, DB_BATCHMETA, ev->batch, strlen(ev->batch), &mv);
    if (rc)
        return rc;
    cJSON *meta = cJSON_ParseWithLength(mv.ptr, mv.len);
    retry_smart_from_json(cJSON_GetObjectItemCaseSensitive(meta, "smartCallbackConfig"), out);
    cJSON_Delete(meta);
    return 0;
}

/* A retry due at *due_ms moves to its calling window's next opening if the window is shut then
 * (held by window until it opens). A window that never opens is left to the pick, which ends
 * the call. */
static void land_in_window(const struct report *ev, struct job_head *h, uint64_t *due_ms)
{
    h->held = HELD_NONE;
    if (!ev->has_window)
        return;
    struct decide d = {&ev->window, ev->state_rules, NULL};
    int64_t open;
    if (decide_open_at(&d, h->e164, strnlen(h->e164, sizeof h->e164), (int64_t)*due_ms, &open) ==
            0 &&
        open > (int64_t)*due_ms) {
        *due_ms = (uint64_t)open;
        h->held = HELD_WINDOW;
    }
}

/* Ends the current attempt: a retry scheduled, or a final state. */
static int end_attempt(struct commit *c, struct report *ev, struct job_view *jv, struct job_head *h,
                       int outcome, const char *detail)
{
    struct jobs_txn *jt = &c->jt;
    struct batch_rec *b = jobs_batch(jt, ev->batch);
    if (!b)
        return jt->t->err;
    struct retry_smart smart;
    struct retry_decision d;
    int rc = smart_for(c, ev, &smart);
    if (rc)
        return rc;
    /* The limits count from the last manual retry; the words count every dial. A call whose
     * count saturated is retried no more automatically. */
    uint32_t since = h->attempts > h->retry_base ? (uint32_t)(h->attempts - h->retry_base) : 0;
    if (h->attempts == UINT8_MAX)
        since = UINT32_MAX;
    retry_after_call(c->retry, &smart, outcome, since, h->attempts, c->now, detail, &d);
    /* A cancelled or failed batch dials nothing more. */
    if (!batch_is_live(b->status))
        d.retry = 0;
    h->outcome = (uint8_t)outcome;
    h->end_ms = c->now;
    count_outcome(c, outcome);
    release_call(ev);
    if (!d.retry) {
        h->next_attempt_ms = 0;
        h->state = outcome == OUTCOME_ANSWERED ? JOB_COMPLETED : JOB_FAILED;
        return finish_call(c, ev, b, jv, h, outcome == OUTCOME_ANSWERED ? "" : d.error);
    }
    h->state = JOB_WAITING;
    land_in_window(ev, h, &d.due_ms);
    h->next_attempt_ms = d.due_ms;
    uint8_t key[JOB_KEY_MAX];
    rc = store_put(jt->t, DB_DUE, key, due_key(key, ev->batch, d.due_ms, ev->row), "", 0, 0);
    if (!rc)
        rc = jobs_move(jt, ev->batch, ev->row, jv, h, detail, strlen(detail));
    ev->retry_due = d.due_ms;
    jobs_batch_dirty(jt, b);
    return rc;
}

/* A dial reached the provider: one more attempt of the call (a byte: it saturates rather than
 * wrap, 85 manual retries of a busy number away). */
static void count_attempt(struct job_head *h)
{
    if (h->attempts < UINT8_MAX)
        h->attempts++;
}

static int put_sid(struct jobs_txn *jt, const char *call_id, const char *batch, uint32_t row,
                   uint32_t seq)
{
    uint8_t v[SID_VALUE_MAX];
    return store_put(jt->t, DB_SID, call_id, strlen(call_id), v, sid_value(v, batch, row, seq), 0);
}

static int apply_create(struct commit *c, struct report *ev, struct job_view *jv)
{
    struct jobs_txn *jt = &c->jt;
    struct job_head h = jv->head;
    const struct create_result *cr = &ev->cr;
    struct batch_rec *b = jobs_batch(jt, ev->batch);
    if (!b)
        return jt->t->err;
    switch (cr->cls) {
    case CREATE_OK:
        h.state = JOB_ACTIVE;
        count_attempt(&h);
        h.provider_errors = 0;
        id_copy(h.call_id, sizeof h.call_id, cr->call_id);
        b->attempts++;
        jobs_batch_dirty(jt, b);
        ev->now_active = 1;
        id_copy(ev->call_id, sizeof ev->call_id, cr->call_id);
        if (put_sid(jt, cr->call_id, ev->batch, ev->row, ev->seq))
            return jt->t->err;
        return jobs_move(jt, ev->batch, ev->row, jv, &h, jv->error, jv->error_len);
    case CREATE_RETRY: {
        struct retry_decision d;
        h.provider_errors++;
        c->provider_errors++;
        retry_after_provider_error(c->retry, h.provider_errors, cr->retry_after_ms,
                                   commit_random01(&c->rnd), c->now, cr->message, &d);
        if (!batch_is_live(b->status) && d.retry) {
            d.retry = 0;
            snprintf(d.error, sizeof d.error, "Not placed: %.140s", cr->message);
        }
        release_call(ev);
        if (d.retry) {
            h.state = JOB_WAITING;
            land_in_window(ev, &h, &d.due_ms);
            h.next_attempt_ms = d.due_ms;
            uint8_t key[JOB_KEY_MAX];
            ev->retry_due = d.due_ms;
            if (store_put(jt->t, DB_DUE, key, due_key(key, ev->batch, d.due_ms, ev->row), "", 0, 0))
                return jt->t->err;
            return jobs_move(jt, ev->batch, ev->row, jv, &h, jv->error, jv->error_len);
        }
        h.state = JOB_FAILED;
        h.outcome = OUTCOME_PROVIDER_ERROR;
        h.end_ms = c->now;
        count_outcome(c, OUTCOME_PROVIDER_ERROR);
        return finish_call(c, ev, b, jv, &h, d.error);
    }
    case CREATE_FINAL:
        h.state = JOB_FAILED;
        h.outcome = (uint8_t)cr->outcome;
        h.end_ms = c->now;
        count_outcome(c, cr->outcome);
        release_call(ev);
        return finish_call(c, ev, b, jv, &h, cr->message);
    case CREATE_HALT:
        /* Our account is wrong, not the contact: put the job back untouched and pause (unless
         * the batch was cancelled meanwhile: then the call is cancelled with it). */
        if (!batch_is_live(b->status))
            return cancel_unplaced(c, ev, b, jv);
        h.state = JOB_WAITING;
        h.next_attempt_ms = 0;
        release_call(ev);
        ev->halted = 1;
        ev->reset_cursor = 1;
        b->paused = 1;
        snprintf(b->message, sizeof b->message, "%.159s", cr->message);
        jobs_batch_dirty(jt, b);
        return jobs_move(jt, ev->batch, ev->row, jv, &h, jv->error, jv->error_len);
    }
    return 0;
}

/* The callee asked not to be called again: the number joins the workspace's do-not-call list
 * at once (source "call", with the call id), so its other waiting calls, in every batch, end
 * suppressed at their next pick. This call itself ends as its outcome says. */
static int record_opt_out(struct commit *c, struct report *ev, struct batch_rec *b,
                          const struct job_head *h)
{
    int rc = suppress_add(c->jt.t, b->ws, strlen(b->ws), h->e164, strnlen(h->e164, sizeof h->e164),
                          "Opted out during a call", "call", h->call_id, c->now);
    if (rc < 0)
        return rc == BC_EINVAL ? 0 : rc; /* not a number a list can hold */
    b->opted_out++;
    jobs_batch_dirty(&c->jt, b);
    struct call_data d = {b, ev->row, h, "", 1};
    return emit_call_event(c, "call.opted_out", &d);
}

static int apply_call(struct commit *c, struct report *ev, struct job_view *jv)
{
    struct jobs_txn *jt = &c->jt;
    struct job_head h = jv->head;
    const struct call_event *ce = &ev->ce;
    if (ce->sequence >= 0 && ce->sequence <= h.last_sequence)
        return 0; /* an older report than one already applied */
    if (ce->sequence >= 0)
        h.last_sequence = (int32_t)ce->sequence;
    if (h.state == JOB_DIALING) {
        /* The provider reported before its answer to our create request arrived. */
        count_attempt(&h);
        h.provider_errors = 0;
        if (ce->call_id[0]) {
            id_copy(h.call_id, sizeof h.call_id, ce->call_id);
            if (put_sid(jt, ce->call_id, ev->batch, ev->row, ev->seq))
                return jt->t->err;
        }
        struct batch_rec *b = jobs_batch(jt, ev->batch);
        if (!b)
            return jt->t->err;
        b->attempts++;
        jobs_batch_dirty(jt, b);
        if (!ce->final) {
            h.state = JOB_ACTIVE;
            ev->now_active = 1;
            id_copy(ev->call_id, sizeof ev->call_id, h.call_id);
            return jobs_move(jt, ev->batch, ev->row, jv, &h, jv->error, jv->error_len);
        }
    }
    if (!ce->final) {
        /* Progress only: keep the sequence number so older reports are ignored. */
        return jobs_move(jt, ev->batch, ev->row, jv, &h, jv->error, jv->error_len);
    }
    struct batch_rec *b = jobs_batch(jt, ev->batch);
    if (!b)
        return jt->t->err;
    if (ce->transcript && ce->transcript[0]) {
        uint8_t key[JOB_KEY_MAX];
        if (store_put(jt->t, DB_TRANSCRIPT, key, job_key(key, ev->batch, ev->row), ce->transcript,
                      strlen(ce->transcript), 0))
            return jt->t->err;
    }
    if (ce->answered) {
        /* The average duration counts each call once, with the duration it shows: its latest
         * connected attempt (a voicemail, then a person on a later attempt, counts the latter).
         * Billing counts every connected attempt. */
        if (jobs_has_duration(&h)) {
            b->duration_sum -= h.duration;
        } else {
            b->connected++;
        }
        h.connected = 1;
        h.duration = ce->duration;
        b->billable++;
        b->duration_sum += ce->duration;
        if (b->duration_sum < 0)
            b->duration_sum = 0;
        if (record_usage(jt, b, ev->row, ev->seq, c->now, ce->duration))
            return jt->t->err;
    }
    int rc = end_attempt(c, ev, jv, &h, ce->outcome, ce->message);
    return rc || !ce->opted_out ? rc : record_opt_out(c, ev, b, &h);
}

static int apply_unknown(struct commit *c, struct report *ev, struct job_view *jv)
{
    struct job_head h = jv->head;
    struct batch_rec *b = jobs_batch(&c->jt, ev->batch);
    if (!b)
        return c->jt.t->err;
    const char *msg =
        h.state == JOB_DIALING
            ? "The server stopped while this call was being placed and the provider never "
              "reported on it; it was not dialled again, so the contact is not called twice"
            : "The provider has no record of this call; its outcome is unknown";
    h.state = JOB_FAILED;
    h.outcome = OUTCOME_UNKNOWN;
    h.end_ms = c->now;
    release_call(ev);
    return finish_call(c, ev, b, jv, &h, msg);
}

/* A dial recorded but never sent: the contact waits again, or is cancelled with its batch. */
static int apply_withdraw(struct commit *c, struct report *ev, struct job_view *jv)
{
    struct jobs_txn *jt = &c->jt;
    struct job_head h = jv->head;
    struct batch_rec *b = jobs_batch(jt, ev->batch);
    if (!b)
        return jt->t->err;
    if (h.state != JOB_DIALING)
        return 0;
    if (!batch_is_live(b->status))
        return cancel_unplaced(c, ev, b, jv);
    release_call(ev);
    h.state = JOB_WAITING;
    h.next_attempt_ms = 0; /* it was due: the scan for first attempts finds it again */
    if (!h.attempts)
        h.start_ms = 0;
    ev->reset_cursor = 1;
    jobs_batch_dirty(jt, b);
    return jobs_move(jt, ev->batch, ev->row, jv, &h, "", 0);
}

static int apply_event(struct commit *c, struct report *ev)
{
    struct job_view jv;
    int rc = jobs_get(&c->jt, ev->batch, ev->row, &jv);
    if (rc == BC_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    /* Reports about another request than the job's current one, or about a job that has moved
     * on, change nothing. */
    int in_progress = jv.head.state == JOB_DIALING || jv.head.state == JOB_ACTIVE;
    if (!in_progress || jv.head.seq != ev->seq)
        return 0;
    switch (ev->kind) {
    case REPORT_CREATE:
        return jv.head.state == JOB_DIALING ? apply_create(c, ev, &jv) : 0;
    case REPORT_CALL:
        return apply_call(c, ev, &jv);
    case REPORT_UNKNOWN:
        return apply_unknown(c, ev, &jv);
    case REPORT_WITHDRAW:
        return apply_withdraw(c, ev, &jv);
    }
    return 0;
}

/* A call that leaves the due index (picked from it): its entry goes. */
static int drop_due(struct commit *c, const struct pick *p)
{
    if (!p->from_due)
        return 0;
    uint8_t key[JOB_KEY_MAX];
    int rc = store_del(c->jt.t, DB_DUE, key, due_key(key, p->b->id, p->due_ms, p->row));
    return rc == BC_ENOTFOUND ? 0 : rc;
}

/* Every remaining call of the batch is held: say once when the first of them may go. */
static int maybe_all_held(struct commit *c, struct batch_rec *b)
{
    uint64_t held = b->held_window + b->held_cap;
    if (!held || held != b->waiting || b->active || b->requeue_pending || b->held_notified ||
        !batch_is_live(b->status))
        return 0;
    uint64_t next = 0;
    uint32_t row;
    size_t blen = strlen(b->id);
    struct store_iter it;
    store_iter_open(&it, c->jt.t, DB_DUE, b->id, blen, NULL, 0);
    if (store_iter_next(&it) != 1 || due_key_decode(&it.key, blen, &next, &row) != 0)
        next = 0;
    store_iter_close(&it);
    b->held_notified = 1;
    cJSON *data = webhooks_batch_data(b);
    cJSON_AddNumberToObject(data, "held", (double)held);
    if (next)
        cJSON_AddNumberToObject(data, "nextWindowOpensAt", (double)next);
    else
        cJSON_AddNullToObject(data, "nextWindowOpensAt");
    return emit_event(c, b, "batch.held", data);
}

/* Holds the call back until until_ms: it stays waiting, its next attempt in the due index. */
static int hold_pick(struct commit *c, struct pick *p, const struct job_view *jv,
                     struct batch_rec *b, int held, uint64_t until_ms)
{
    struct job_head h = jv->head;
    h.held = (uint8_t)held;
    h.next_attempt_ms = until_ms;
    int rc = drop_due(c, p);
    uint8_t key[JOB_KEY_MAX];
    if (!rc)
        rc = store_put(c->jt.t, DB_DUE, key, due_key(key, p->b->id, until_ms, p->row), "", 0, 0);
    if (!rc)
        rc = jobs_move(&c->jt, p->b->id, p->row, jv, &h, jv->error, jv->error_len);
    if (!rc)
        rc = maybe_all_held(c, b);
    p->action = PICK_HOLD;
    p->held = (uint8_t)held;
    p->until_ms = until_ms;
    return rc;
}

/* Ends the call without dialling it (outcome and the words why). */
static int end_pick(struct commit *c, struct pick *p, const struct job_view *jv,
                    struct batch_rec *b, int outcome, const char *why)
{
    struct job_head h = jv->head;
    h.state = JOB_FAILED;
    h.outcome = (uint8_t)outcome;
    h.held = HELD_NONE;
    h.next_attempt_ms = 0;
    h.end_ms = c->now;
    count_outcome(c, outcome);
    int rc = drop_due(c, p);
    if (rc)
        return rc;
    struct report ev = {.kind = REPORT_CALL, .row = p->row};
    snprintf(ev.batch, sizeof ev.batch, "%s", p->b->id);
    rc = finish_call(c, &ev, b, jv, &h, why);
    p->final_seq = ev.final_seq;
    p->finished_batch = ev.finished_batch;
    p->batch_over = ev.batch_over;
    return rc;
}

/* The frequency cap: 0 when the number may be dialled now, else 1 with *until_ms the moment
 * enough of its attempts in the workspace have aged out of the cap window. */
static int cap_reached(struct commit *c, const struct pick *p, uint64_t *until_ms)
{
    if (!p->cap_max)
        return 0;
    uint64_t times[CAP_TIMES_MAX];
    size_t n;
    if (cap_get(c->jt.t, p->ws, p->e164, times, &n) != 0)
        return 0; /* an unreadable record is rewritten by this dial */
    uint64_t since = c->now > p->cap_window_ms ? c->now - p->cap_window_ms : 0;
    size_t first = 0; /* the first attempt inside the window */
    while (first < n && times[first] <= since)
        first++;
    if (n - first < p->cap_max)
        return 0;
    *until_ms = times[n - p->cap_max] + p->cap_window_ms + 1;
    return 1;
}

/* Counts a dial of the number in its workspace's cap window. */
static int cap_count(struct commit *c, const struct pick *p)
{
    uint64_t times[CAP_TIMES_MAX + 1];
    size_t n;
    int rc = cap_get(c->jt.t, p->ws, p->e164, times, &n);
    if (rc && rc != BC_ECORRUPT)
        return rc;
    if (rc)
        n = 0;
    uint64_t since = c->now > p->cap_window_ms ? c->now - p->cap_window_ms : 0;
    size_t first = 0;
    while (first < n && times[first] <= since)
        first++;
    times[n++] = c->now;
    return cap_put(c->jt.t, p->ws, p->e164, times + first, n - first);
}

static int dial_pick(struct commit *c, struct pick *p, const struct job_view *jv,
                     struct batch_rec *b)
{
    /* The lists as they are now: an entry added after the upload (by the API, an import or
     * another call's opt-out) still stops the call. */
    enum suppress_source src;
    int rc = suppress_check(c->jt.t, p->ws, strlen(p->ws), p->e164, strlen(p->e164),
                            p->use_registry, &src);
    if (rc == BC_EINVAL)
        src = SUPPRESS_NONE; /* not a number a list can hold, so on none */
    else if (rc)
        return rc;
    if (src != SUPPRESS_NONE) {
        p->action = PICK_SUPPRESS;
        b->suppressed_dial++;
        return end_pick(c, p, jv, b, OUTCOME_SUPPRESSED, suppress_error(src));
    }
    uint64_t until;
    if (cap_reached(c, p, &until))
        return hold_pick(c, p, jv, b, HELD_CAP, until);
    struct job_head h = jv->head;
    h.state = JOB_DIALING;
    h.seq++;
    h.next_attempt_ms = 0;
    h.held = HELD_NONE;
    /* A new request: the provider numbers its reports from 0 again. */
    h.last_sequence = -1;
    if (!h.start_ms)
        h.start_ms = c->now;
    p->seq = h.seq;
    rc = drop_due(c, p);
    if (!rc && p->cap_max)
        rc = cap_count(c, p);
    if (rc)
        return rc;
    if (b->status == BATCH_QUEUED) {
        b->status = BATCH_PROCESSING;
        b->started_ms = c->now;
        rc = emit_event(c, b, "batch.started", webhooks_batch_data(b));
        if (rc)
            return rc;
    }
    b->empty_variables += p->empty_vars;
    b->held_notified = 0;
    jobs_batch_dirty(&c->jt, b);
    /* The previous attempt's words no longer describe the call. */
    return jobs_move(&c->jt, p->b->id, p->row, jv, &h, "", 0);
}

#define NO_WINDOW_MSG                                                                              \
    "Not called: its calling window never opens, because the window is too narrow for all the "    \
    "time zones its number may be in; narrow the zones (a full number with its area code) or "     \
    "widen the window"

static int apply_pick(struct commit *c, struct pick *p)
{
    struct jobs_txn *jt = &c->jt;
    struct job_view jv;
    int rc = jobs_get(jt, p->b->id, p->row, &jv);
    if (rc == BC_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (jv.head.state != JOB_WAITING)
        return 0;
    struct batch_rec *b = jobs_batch(jt, p->b->id);
    if (!b)
        return jt->t->err;
    if (!batch_is_live(b->status))
        return 0;
    switch (p->action) {
    case PICK_HOLD:
        rc = hold_pick(c, p, &jv, b, p->held, p->until_ms);
        break;
    case PICK_NO_WINDOW:
        rc = end_pick(c, p, &jv, b, OUTCOME_NO_WINDOW, NO_WINDOW_MSG);
        break;
    case PICK_SUPPRESS:
    case PICK_DIAL:
        rc = dial_pick(c, p, &jv, b);
        break;
    }
    if (!rc)
        p->applied = 1;
    return rc;
}

/* May run more than once (map growth): everything it decides is reset first. A job's reports
 * are applied one after the other as if each had a commit of its own, but the job is read once
 * and written once (jobs.h, folding): the reports of a call that arrive together (the create
 * request's answer, a provider's progress reports, the end) cost one write of the job and its
 * index. */
int commit_txn(struct store_txn *t, void *arg)
{
    struct commit *c = arg;
    c->jt.fold = 1;
    jobs_txn_begin(&c->jt, t);
    c->provider_errors = 0;
    memset(c->by_outcome, 0, sizeof c->by_outcome);
    c->emitted = 0;
    int rc = 0;
    for (struct pick *p = c->picks; p && !rc; p = p->next) {
        p->applied = 0;
        p->final_seq = 0;
        p->finished_batch = p->batch_over = 0;
        if (p->slot)
            p->action = PICK_DIAL; /* a run before this one may have turned it into a hold */
        rc = apply_pick(c, p);
    }
    for (struct report *ev = c->reports; ev && !rc; ev = ev->next) {
        ev->released = ev->now_active = ev->halted = ev->finished_batch = ev->batch_over = 0;
        ev->reset_cursor = 0;
        ev->retry_due = 0;
        ev->final_seq = 0;
        rc = apply_event(c, ev);
    }
    return rc ? rc : jobs_txn_end(&c->jt);
}
