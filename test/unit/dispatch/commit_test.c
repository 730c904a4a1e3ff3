/* The group commit (src/dispatch/commit.c) run through store_write on a real store: picks start
 * calls, reports move them on, and the batch's counters always equal a recount of its jobs.
 * Webhooks are off (hooks NULL: webhooks_emit records nothing), but every event is counted. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tmpstore.h"
#include "fixture.h"
#include "dispatch/commit.h"
#include "http/client.h"
#include "util/log.h"
#include "webhooks/target.h"
#include "webhooks/webhooks.h"

#define BUSY_MS 600000 /* retry_defaults: a busy number is called again 10 minutes later */

struct run {
    struct retry_config retry;
    struct commit c;
};

/* Runs one commit of picks and reports at now; returns its result. */
static int commit(struct fx *f, struct run *r, struct pick *picks, struct report *reports,
                  uint64_t now)
{
    memset(r, 0, sizeof *r);
    retry_defaults(&r->retry);
    r->c.retry = &r->retry;
    r->c.now = now;
    r->c.rnd = 88172645463325252ull;
    r->c.picks = picks;
    r->c.reports = reports;
    int rc = store_write(&f->s, commit_txn, &r->c);
    jobs_txn_free(&r->c.jt);
    return rc;
}

/* A pick as pick_round makes it (only the batch id of its roster entry is read). */
static struct pick *mkpick(struct roster_batch *b, uint32_t row, uint32_t empty_vars)
{
    struct pick *p = calloc(1, sizeof *p);
    p->b = b;
    p->row = row;
    p->empty_vars = empty_vars;
    return p;
}

static void free_picks(struct pick *p)
{
    while (p) {
        struct pick *next = p->next;
        pick_free(p);
        p = next;
    }
}

static struct report *created(const char *batch, uint32_t row, uint32_t seq, const char *call_id)
{
    struct report *r = report_new(REPORT_CREATE, batch, row, seq);
    r->cr.cls = CREATE_OK;
    snprintf(r->cr.call_id, sizeof r->cr.call_id, "%s", call_id);
    return r;
}

static struct report *call(const char *batch, uint32_t row, uint32_t seq, int64_t sequence,
                           int final, int outcome, double duration, const char *message)
{
    struct report *r = report_new(REPORT_CALL, batch, row, seq);
    provider_event_init(&r->ce);
    r->ce.sequence = sequence;
    r->ce.final = final;
    r->ce.answered = outcome == OUTCOME_ANSWERED;
    r->ce.outcome = outcome;
    r->ce.duration = duration;
    snprintf(r->ce.message, sizeof r->ce.message, "%s", message);
    return r;
}

static struct job_head job(struct fx *f, const char *batch, uint32_t row, char *err)
{
    struct job_head h;
    memset(&h, 0, sizeof h);
    CHECK_INT(fx_job_get(&f->s, batch, row, &h, err), 0);
    return h;
}

static int has_due(struct fx *f, const char *batch, uint64_t due_ms, uint32_t row)
{
    uint8_t key[JOB_KEY_MAX];
    return fx_get(&f->s, DB_DUE, key, due_key(key, batch, due_ms, row), NULL, 0) == 0;
}

/* Picks move waiting -> dialing with a new request number; the first one starts the batch. */
static void test_pick_starts_calls(void)
{
    struct fx f;
    fx_open(&f);
    fx_workspace(&f.s, "ws_W", 10, 50);
    fx_batch(&f.s, &(struct fx_batch){.id = "bC", .ws = "ws_W", .created_ms = 100, .rows = 3});
    fx_batch(
        &f.s,
        &(struct fx_batch){
            .id = "bX", .ws = "ws_W", .created_ms = 100, .status = BATCH_CANCELLED, .rows = 1});
    struct roster_batch rb = {.id = "bC"}, rx = {.id = "bX"};
    struct pick *p0 = mkpick(&rb, 0, 2), *p1 = mkpick(&rb, 1, 0), *px = mkpick(&rx, 0, 0);
    p0->next = p1;
    p1->next = px;
    struct run r;
    CHECK_INT(commit(&f, &r, p0, NULL, 1000), 0);
    CHECK_INT(p0->applied, 1);
    CHECK_INT(p0->seq, 1);
    CHECK_INT(p1->applied, 1);
    CHECK_INT(p1->seq, 1);
    CHECK_INT(px->applied, 0); /* a cancelled batch dials nothing */
    CHECK_INT(r.c.emitted, 1); /* batch.started */
    char err[160];
    struct job_head h = job(&f, "bC", 0, err);
    CHECK_INT(h.state, JOB_DIALING);
    CHECK_INT(h.seq, 1);
    CHECK_INT(h.start_ms, 1000);
    CHECK_INT(h.last_sequence, -1);
    CHECK_INT(h.attempts, 0);
    CHECK_STR(err, "");
    struct batch_rec b = fx_batch_get(&f.s, "bC");
    CHECK_INT(b.status, BATCH_PROCESSING);
    CHECK_INT(b.started_ms, 1000);
    CHECK_INT(b.waiting, 1);
    CHECK_INT(b.active, 2);
    CHECK_INT(b.empty_variables, 2);
    FX_CHECK_COUNTERS(&f.s, "bC");
    CHECK_INT(job(&f, "bX", 0, NULL).state, JOB_WAITING);
    CHECK_INT(fx_batch_get(&f.s, "bX").active, 0);

    /* A pick of a row that is no longer waiting is not applied; the batch starts only once. */
    struct pick *again = mkpick(&rb, 0, 5), *p2 = mkpick(&rb, 2, 0);
    again->next = p2;
    CHECK_INT(commit(&f, &r, again, NULL, 2000), 0);
    CHECK_INT(again->applied, 0);
    CHECK_INT(p2->applied, 1);
    CHECK_INT(r.c.emitted, 0);
    CHECK_INT(job(&f, "bC", 0, NULL).seq, 1);
    b = fx_batch_get(&f.s, "bC");
    CHECK_INT(b.started_ms, 1000);
    CHECK_INT(b.empty_variables, 2);
    CHECK_INT(b.waiting, 0);
    CHECK_INT(b.active, 3);
    FX_CHECK_COUNTERS(&f.s, "bC");
    free_picks(p0);
    free_picks(again);
    fx_close(&f);
}

/* Created, answered, failed: the last call to end completes the batch. */
static void test_calls_complete_the_batch(void)
{
    struct fx f;
    fx_open(&f);
    fx_workspace(&f.s, "ws_W", 10, 50);
    fx_batch(&f.s, &(struct fx_batch){.id = "bC", .ws = "ws_W", .created_ms = 100, .rows = 2});
    struct roster_batch rb = {.id = "bC"};
    struct pick *picks = mkpick(&rb, 0, 0);
    picks->next = mkpick(&rb, 1, 0);
    struct run r;
    CHECK_INT(commit(&f, &r, picks, NULL, 1000), 0);
    free_picks(picks);

    struct report *ev = created("bC", 0, 1, "CA0");
    CHECK_INT(commit(&f, &r, NULL, ev, 2000), 0);
    CHECK_INT(ev->now_active, 1);
    CHECK_INT(ev->released, 0);
    CHECK_STR(ev->call_id, "CA0");
    struct job_head h = job(&f, "bC", 0, NULL);
    CHECK_INT(h.state, JOB_ACTIVE);
    CHECK_INT(h.attempts, 1);
    CHECK_STR(h.call_id, "CA0");
    uint8_t want[SID_VALUE_MAX], got[SID_VALUE_MAX];
    size_t wlen = sid_value(want, "bC", 0, 1);
    CHECK_INT(fx_get(&f.s, DB_SID, "CA0", 3, got, sizeof got), wlen);
    CHECK(memcmp(got, want, wlen) == 0);
    struct batch_rec b = fx_batch_get(&f.s, "bC");
    CHECK_INT(b.attempts, 1);
    CHECK_INT(b.active, 2);
    FX_CHECK_COUNTERS(&f.s, "bC");
    report_free(ev);

    ev = call("bC", 0, 1, 3, 1, OUTCOME_ANSWERED, 12.5, "");
    CHECK_INT(commit(&f, &r, NULL, ev, 3000), 0);
    CHECK_INT(ev->released, 1);
    CHECK_INT(ev->final_seq, 1);
    CHECK_INT(ev->finished_batch, 0);
    CHECK_INT(ev->batch_over, 0);
    CHECK_INT(ev->retry_due, 0);
    CHECK_INT(r.c.by_outcome[OUTCOME_ANSWERED], 1);
    CHECK_INT(r.c.emitted, 1); /* call.completed */
    char err[160];
    h = job(&f, "bC", 0, err);
    CHECK_INT(h.state, JOB_COMPLETED);
    CHECK_INT(h.outcome, OUTCOME_ANSWERED);
    CHECK_INT(h.end_ms, 3000);
    CHECK(h.duration == 12.5);
    CHECK_INT(h.last_sequence, 3);
    CHECK_STR(err, "");
    b = fx_batch_get(&f.s, "bC");
    CHECK_INT(b.status, BATCH_PROCESSING);
    CHECK_INT(b.completed, 1);
    CHECK_INT(b.active, 1);
    CHECK_INT(b.billable, 1);
    CHECK_INT(b.connected, 1);
    CHECK(b.duration_sum == 12.5);
    CHECK_INT(b.final_seq, 1);
    CHECK_INT(b.recent_count, 1);
    CHECK_INT(b.recent[0], 0);
    CHECK_INT(b.last_completed_ms, 3000);
    CHECK_INT(b.completed_ms, 0);
    FX_CHECK_COUNTERS(&f.s, "bC");
    uint8_t key[USAGE_KEY_MAX];
    double seconds = 0;
    CHECK_INT(fx_get(&f.s, DB_USAGE, key, usage_key(key, "ws_W", 3000, "bC", 0, 1), &seconds,
                     sizeof seconds),
              sizeof seconds);
    CHECK(seconds == 12.5);
    uint8_t row[4] = {9, 9, 9, 9};
    CHECK_INT(fx_get(&f.s, DB_FINALSEQ, key, finalseq_key(key, "bC", 1), row, 4), 4);
    CHECK_INT(be32_get(row), 0);
    report_free(ev);

    /* Row 1's provider answer never came: its final report alone counts the attempt. */
    ev = call("bC", 1, 1, -1, 1, OUTCOME_INVALID_NUMBER, 0, "Invalid number (SIP 404)");
    snprintf(ev->ce.call_id, sizeof ev->ce.call_id, "CA1");
    CHECK_INT(commit(&f, &r, NULL, ev, 4000), 0);
    CHECK_INT(ev->released, 1);
    CHECK_INT(ev->final_seq, 2);
    CHECK_INT(ev->finished_batch, 1);
    CHECK_INT(ev->batch_over, 1);
    CHECK_INT(r.c.emitted, 2); /* call.failed, batch.completed */
    h = job(&f, "bC", 1, err);
    CHECK_INT(h.state, JOB_FAILED);
    CHECK_INT(h.outcome, OUTCOME_INVALID_NUMBER);
    CHECK_INT(h.attempts, 1);
    CHECK_STR(h.call_id, "CA1");
    CHECK_STR(err, "Invalid number (SIP 404)");
    CHECK_INT(fx_get(&f.s, DB_SID, "CA1", 3, NULL, 0), wlen);
    b = fx_batch_get(&f.s, "bC");
    CHECK_INT(b.status, BATCH_COMPLETED);
    CHECK_INT(b.completed_ms, 4000);
    CHECK_INT(b.failed, 1);
    CHECK_INT(b.completed, 1);
    CHECK_INT(b.active, 0);
    CHECK_INT(b.billable, 1);
    CHECK_INT(b.attempts, 2);
    CHECK_INT(b.final_seq, 2);
    CHECK_INT(b.recent_count, 2);
    CHECK_INT(b.recent[0], 1);
    CHECK_INT(b.recent[1], 0);
    FX_CHECK_COUNTERS(&f.s, "bC");
    CHECK_INT(fx_get(&f.s, DB_FINALSEQ, key, finalseq_key(key, "bC", 2), row, 4), 4);
    CHECK_INT(be32_get(row), 1);
    /* Not billed. */
    CHECK_INT(fx_count_prefix(&f.s, DB_USAGE, "ws_W", 4), 1);
    report_free(ev);
    fx_close(&f);
}

/* Busy: the contact waits again with a retry in the due index; a pick from the index removes
 * it. Reports about the earlier request, or older than one applied, change nothing. */
static void test_busy_retry_and_stale_reports(void)
{
    struct fx f;
    fx_open(&f);
    fx_workspace(&f.s, "ws_W", 10, 50);
    fx_batch(&f.s, &(struct fx_batch){.id = "bC", .ws = "ws_W", .created_ms = 100, .rows = 1});
    struct roster_batch rb = {.id = "bC"};
    struct pick *p = mkpick(&rb, 0, 0);
    struct run r;
    CHECK_INT(commit(&f, &r, p, NULL, 1000), 0);
    free_picks(p);
    struct report *ev = created("bC", 0, 1, "CA0");
    CHECK_INT(commit(&f, &r, NULL, ev, 1500), 0);
    report_free(ev);

    ev = call("bC", 0, 1, 2, 1, OUTCOME_BUSY, 0, "Number busy");
    CHECK_INT(commit(&f, &r, NULL, ev, 2000), 0);
    CHECK_INT(ev->retry_due, 2000 + BUSY_MS);
    CHECK_INT(ev->released, 1);
    CHECK_INT(ev->final_seq, 0);
    CHECK_INT(r.c.by_outcome[OUTCOME_BUSY], 1);
    CHECK_INT(r.c.emitted, 0);
    char err[160];
    struct job_head h = job(&f, "bC", 0, err);
    CHECK_INT(h.state, JOB_WAITING);
    CHECK_INT(h.next_attempt_ms, 2000 + BUSY_MS);
    CHECK_INT(h.outcome, OUTCOME_BUSY);
    CHECK_INT(h.end_ms, 2000);
    CHECK_INT(h.attempts, 1);
    CHECK_STR(err, "Number busy");
    CHECK(has_due(&f, "bC", 2000 + BUSY_MS, 0));
    struct batch_rec b = fx_batch_get(&f.s, "bC");
    CHECK_INT(b.status, BATCH_PROCESSING);
    CHECK_INT(b.waiting, 1);
    CHECK_INT(b.active, 0);
    CHECK_INT(b.final_seq, 0);
    CHECK_INT(b.billable, 0);
    FX_CHECK_COUNTERS(&f.s, "bC");
    report_free(ev);

    /* The retry, taken from the due index. */
    p = mkpick(&rb, 0, 0);
    p->from_due = 1;
    p->due_ms = 2000 + BUSY_MS;
    CHECK_INT(commit(&f, &r, p, NULL, 2000 + BUSY_MS), 0);
    CHECK_INT(p->applied, 1);
    CHECK_INT(p->seq, 2);
    free_picks(p);
    CHECK(!has_due(&f, "bC", 2000 + BUSY_MS, 0));
    h = job(&f, "bC", 0, err);
    CHECK_INT(h.state, JOB_DIALING);
    CHECK_INT(h.seq, 2);
    CHECK_INT(h.next_attempt_ms, 0);
    CHECK_INT(h.start_ms, 1000); /* the contact's first dial */
    CHECK_INT(h.last_sequence, -1);
    CHECK_STR(err, "");
    FX_CHECK_COUNTERS(&f.s, "bC");

    /* A late answer about the first request. */
    ev = call("bC", 0, 1, 9, 1, OUTCOME_ANSWERED, 30, "");
    struct report *ev2 = created("bC", 0, 1, "CAold");
    ev->next = ev2;
    CHECK_INT(commit(&f, &r, NULL, ev, 700000), 0);
    CHECK_INT(ev->released, 0);
    CHECK_INT(ev->final_seq, 0);
    CHECK_INT(ev2->now_active, 0);
    h = job(&f, "bC", 0, NULL);
    CHECK_INT(h.state, JOB_DIALING);
    CHECK_INT(h.attempts, 1);
    CHECK_STR(h.call_id, "CA0");
    b = fx_batch_get(&f.s, "bC");
    CHECK_INT(b.billable, 0);
    CHECK_INT(b.completed, 0);
    CHECK_INT(b.attempts, 1);
    CHECK_INT(fx_get(&f.s, DB_SID, "CAold", 5, NULL, 0), -1);
    report_free(ev);
    report_free(ev2);

    /* Placed, ringing (sequence 5); then reports numbered 4 (late) and 5 (again) are ignored. */
    ev = created("bC", 0, 2, "CA2");
    ev2 = call("bC", 0, 2, 5, 0, OUTCOME_NONE, 0, "");
    ev->next = ev2;
    CHECK_INT(commit(&f, &r, NULL, ev, 701000), 0);
    h = job(&f, "bC", 0, NULL);
    CHECK_INT(h.state, JOB_ACTIVE);
    CHECK_INT(h.attempts, 2);
    CHECK_INT(h.last_sequence, 5);
    report_free(ev);
    report_free(ev2);
    for (int64_t sequence = 4; sequence <= 5; sequence++) {
        ev = call("bC", 0, 2, sequence, 1, OUTCOME_NO_ANSWER, 0, "No answer");
        CHECK_INT(commit(&f, &r, NULL, ev, 702000), 0);
        CHECK_INT(ev->released, 0);
        h = job(&f, "bC", 0, NULL);
        CHECK_INT(h.state, JOB_ACTIVE);
        CHECK_INT(h.last_sequence, 5);
        CHECK_INT(r.c.by_outcome[OUTCOME_NO_ANSWER], 0);
        report_free(ev);
    }
    ev = call("bC", 0, 2, 6, 1, OUTCOME_ANSWERED, 7, "");
    CHECK_INT(commit(&f, &r, NULL, ev, 703000), 0);
    CHECK_INT(ev->finished_batch, 1);
    h = job(&f, "bC", 0, NULL);
    CHECK_INT(h.state, JOB_COMPLETED);
    CHECK(h.duration == 7);
    b = fx_batch_get(&f.s, "bC");
    CHECK_INT(b.status, BATCH_COMPLETED);
    CHECK_INT(b.billable, 1);
    CHECK_INT(b.attempts, 2);
    CHECK_INT(b.completed_ms, 703000);
    FX_CHECK_COUNTERS(&f.s, "bC");
    report_free(ev);
    /* A report for a row that does not exist changes nothing and fails nothing. */
    ev = created("bC", 99, 1, "CA99");
    CHECK_INT(commit(&f, &r, NULL, ev, 704000), 0);
    CHECK_INT(ev->now_active, 0);
    report_free(ev);
    fx_close(&f);
}

/* A dial recorded but never sent: back to waiting in a paused batch, cancelled in a cancelled
 * one (which is then over). */
static void test_withdraw(void)
{
    struct fx f;
    fx_open(&f);
    fx_workspace(&f.s, "ws_W", 10, 50);
    fx_batch(&f.s, &(struct fx_batch){.id = "bP", .ws = "ws_W", .created_ms = 100, .rows = 2});
    fx_batch(&f.s, &(struct fx_batch){.id = "bX", .ws = "ws_W", .created_ms = 100, .rows = 2});
    struct roster_batch rp = {.id = "bP"}, rx = {.id = "bX"};
    struct pick *picks = mkpick(&rp, 0, 0);
    picks->next = mkpick(&rx, 0, 0);
    struct run r;
    CHECK_INT(commit(&f, &r, picks, NULL, 1000), 0);
    CHECK_INT(r.c.emitted, 2);
    free_picks(picks);
    struct batch_rec b = fx_batch_get(&f.s, "bP");
    b.paused = 1;
    fx_set_batch(&f.s, &b);
    b = fx_batch_get(&f.s, "bX");
    b.status = BATCH_CANCELLED;
    fx_set_batch(&f.s, &b);

    struct report *wp = report_new(REPORT_WITHDRAW, "bP", 0, 1);
    struct report *wx = report_new(REPORT_WITHDRAW, "bX", 0, 1);
    wp->next = wx;
    CHECK_INT(commit(&f, &r, NULL, wp, 2000), 0);
    CHECK_INT(wp->released, 1);
    CHECK_INT(wp->reset_cursor, 1);
    CHECK_INT(wp->batch_over, 0);
    char err[160];
    struct job_head h = job(&f, "bP", 0, err);
    CHECK_INT(h.state, JOB_WAITING);
    CHECK_INT(h.next_attempt_ms, 0);
    CHECK_INT(h.start_ms, 0); /* never dialled */
    CHECK_INT(h.seq, 1);
    CHECK_STR(err, "");
    b = fx_batch_get(&f.s, "bP");
    CHECK_INT(b.status, BATCH_PROCESSING);
    CHECK_INT(b.paused, 1);
    CHECK_INT(b.waiting, 2);
    CHECK_INT(b.active, 0);
    FX_CHECK_COUNTERS(&f.s, "bP");

    CHECK_INT(wx->released, 1);
    CHECK_INT(wx->batch_over, 1);
    CHECK_INT(wx->finished_batch, 0);
    h = job(&f, "bX", 0, err);
    CHECK_INT(h.state, JOB_CANCELLED);
    CHECK_INT(h.outcome, OUTCOME_CANCELLED);
    CHECK_STR(err, JOBS_CANCELLED_MSG);
    b = fx_batch_get(&f.s, "bX");
    CHECK_INT(b.status, BATCH_CANCELLED);
    CHECK_INT(b.cancelled, 1);
    CHECK_INT(b.active, 0);
    CHECK_INT(b.waiting, 1);
    CHECK_INT(b.completed_ms, 2000);
    FX_CHECK_COUNTERS(&f.s, "bX");
    report_free(wp);
    report_free(wx);

    /* Again: the job is no longer dialing, nothing happens. */
    wp = report_new(REPORT_WITHDRAW, "bP", 0, 1);
    CHECK_INT(commit(&f, &r, NULL, wp, 3000), 0);
    CHECK_INT(wp->released, 0);
    CHECK_INT(wp->reset_cursor, 0);
    report_free(wp);
    fx_close(&f);
}

/* The provider refuses our account: the job waits again untouched and the batch pauses. */
static void test_create_halt_pauses(void)
{
    struct fx f;
    fx_open(&f);
    fx_workspace(&f.s, "ws_W", 10, 50);
    fx_batch(&f.s, &(struct fx_batch){.id = "bH", .ws = "ws_W", .created_ms = 100, .rows = 2});
    struct roster_batch rb = {.id = "bH"};
    struct pick *p = mkpick(&rb, 0, 0);
    struct run r;
    CHECK_INT(commit(&f, &r, p, NULL, 1000), 0);
    free_picks(p);
    struct report *ev = report_new(REPORT_CREATE, "bH", 0, 1);
    ev->cr.cls = CREATE_HALT;
    snprintf(ev->cr.message, sizeof ev->cr.message, "Twilio error 20003: Authenticate");
    CHECK_INT(commit(&f, &r, NULL, ev, 2000), 0);
    CHECK_INT(ev->halted, 1);
    CHECK_INT(ev->released, 1);
    CHECK_INT(ev->reset_cursor, 1);
    CHECK_INT(ev->now_active, 0);
    struct job_head h = job(&f, "bH", 0, NULL);
    CHECK_INT(h.state, JOB_WAITING);
    CHECK_INT(h.attempts, 0);
    CHECK_INT(h.next_attempt_ms, 0);
    CHECK_INT(h.outcome, OUTCOME_NONE);
    struct batch_rec b = fx_batch_get(&f.s, "bH");
    CHECK_INT(b.paused, 1);
    CHECK_INT(b.status, BATCH_PROCESSING);
    CHECK_STR(b.message, "Twilio error 20003: Authenticate");
    CHECK_INT(b.waiting, 2);
    CHECK_INT(b.active, 0);
    CHECK_INT(b.attempts, 0);
    FX_CHECK_COUNTERS(&f.s, "bH");
    report_free(ev);
    fx_close(&f);
}

/* Provider trouble: not an attempt, the call waits out a jittered backoff. A call never
 * confirmed placed whose outcome is unknown fails and is never dialled again. */
static void test_provider_retry_and_unknown(void)
{
    struct fx f;
    fx_open(&f);
    fx_workspace(&f.s, "ws_W", 10, 50);
    fx_batch(&f.s, &(struct fx_batch){.id = "bE", .ws = "ws_W", .created_ms = 100, .rows = 2});
    struct roster_batch rb = {.id = "bE"};
    struct pick *picks = mkpick(&rb, 0, 0);
    picks->next = mkpick(&rb, 1, 0);
    struct run r;
    CHECK_INT(commit(&f, &r, picks, NULL, 1000), 0);
    free_picks(picks);

    struct report *ev = report_new(REPORT_CREATE, "bE", 0, 1);
    ev->cr.cls = CREATE_RETRY;
    snprintf(ev->cr.message, sizeof ev->cr.message, "HTTP 503");
    struct report *un = report_new(REPORT_UNKNOWN, "bE", 1, 1);
    ev->next = un;
    CHECK_INT(commit(&f, &r, NULL, ev, 2000), 0);
    /* The same jitter the commit drew from its state. */
    uint64_t state = 88172645463325252ull;
    struct retry_decision d;
    retry_after_provider_error(&r.retry, 1, 0, commit_random01(&state), 2000, "HTTP 503", &d);
    CHECK_INT(d.retry, 1);
    CHECK_INT(r.c.rnd, state);
    CHECK_INT(r.c.provider_errors, 1);
    CHECK_INT(ev->retry_due, d.due_ms);
    CHECK_INT(ev->released, 1);
    struct job_head h = job(&f, "bE", 0, NULL);
    CHECK_INT(h.state, JOB_WAITING);
    CHECK_INT(h.attempts, 0);
    CHECK_INT(h.provider_errors, 1);
    CHECK_INT(h.next_attempt_ms, d.due_ms);
    CHECK(has_due(&f, "bE", d.due_ms, 0));

    char err[160];
    CHECK_INT(un->released, 1);
    CHECK_INT(un->final_seq, 1);
    h = job(&f, "bE", 1, err);
    CHECK_INT(h.state, JOB_FAILED);
    CHECK_INT(h.outcome, OUTCOME_UNKNOWN);
    CHECK_INT(h.end_ms, 2000);
    CHECK(strncmp(err, "The server stopped while this call was being placed", 51) == 0);
    struct batch_rec b = fx_batch_get(&f.s, "bE");
    CHECK_INT(b.waiting, 1);
    CHECK_INT(b.active, 0);
    CHECK_INT(b.failed, 1);
    CHECK_INT(b.attempts, 0);
    CHECK_INT(b.status, BATCH_PROCESSING);
    FX_CHECK_COUNTERS(&f.s, "bE");
    report_free(ev);
    report_free(un);
    fx_close(&f);
}

/* A call counts once in averageCallDuration, with its latest connected attempt (a voicemail,
 * then a person on a smart callback), while billing counts both attempts; a final failure after
 * a manual retry says how many dials the call had in all, its limit counted from the retry; and
 * a batch whose retry has not moved its calls back to waiting yet is not complete. */
static void test_connected_calls_retries_and_pending_requeues(void)
{
    struct fx f;
    fx_open(&f);
    fx_workspace(&f.s, "ws_W", 10, 50);
    fx_batch(&f.s, &(struct fx_batch){.id = "bV",
                                      .ws = "ws_W",
                                      .created_ms = 100,
                                      .rows = 3,
                                      .smart = "{\"enabled\":true,\"maxAttempts\":2,"
                                               "\"gaps\":[{\"days\":0,\"hours\":1}]}"});
    struct roster_batch rb = {.id = "bV"};
    struct pick *picks = mkpick(&rb, 0, 0);
    picks->next = mkpick(&rb, 1, 0);
    picks->next->next = mkpick(&rb, 2, 0);
    struct run r;
    CHECK_INT(commit(&f, &r, picks, NULL, 1000), 0);
    free_picks(picks);

    /* Row 0: voicemail (connected), called again an hour later by the smart callback. */
    struct report *ev = call("bV", 0, 1, -1, 1, OUTCOME_VOICEMAIL, 20, "Voicemail reached");
    ev->ce.answered = 1;
    CHECK_INT(commit(&f, &r, NULL, ev, 2000), 0);
    report_free(ev);
    struct job_head h = job(&f, "bV", 0, NULL);
    CHECK_INT(h.state, JOB_WAITING);
    CHECK_INT(h.connected, 1);
    CHECK(h.duration == 20);
    CHECK(jobs_has_duration(&h));
    struct batch_rec b = fx_batch_get(&f.s, "bV");
    CHECK_INT(b.connected, 1);
    CHECK(b.duration_sum == 20);
    picks = mkpick(&rb, 0, 0);
    CHECK_INT(commit(&f, &r, picks, NULL, 3000), 0);
    free_picks(picks);
    ev = call("bV", 0, 2, -1, 1, OUTCOME_ANSWERED, 12, "");
    CHECK_INT(commit(&f, &r, NULL, ev, 4000), 0);
    report_free(ev);
    h = job(&f, "bV", 0, NULL);
    CHECK_INT(h.state, JOB_COMPLETED);
    CHECK_INT(h.attempts, 2);
    CHECK(h.duration == 12);
    b = fx_batch_get(&f.s, "bV");
    CHECK_INT(b.billable, 2);
    CHECK_INT(b.connected, 1);
    CHECK(b.duration_sum == 12);

    /* Row 1 was dialled three times before a manual retry (retry_base 3): a no-answer on its
     * first attempt after the retry is called again (1 < maxAttempts 2), and the final words
     * count all five dials. */
    h = job(&f, "bV", 1, NULL);
    h.attempts = 3;
    h.retry_base = 3;
    {
        /* The job record alone: its state and indexes do not change. */
        const char *fields[] = {"+14155550001", "name1"};
        size_t lens[] = {12, 5};
        struct buf jb = {0};
        uint8_t key[JOB_KEY_MAX];
        CHECK_INT(job_encode(&jb, &h, "", 0, fields, lens, 2), 0);
        fx_put(&f.s, DB_JOB, key, job_key(key, "bV", 1), jb.data, jb.len);
        buf_free(&jb);
    }
    ev = call("bV", 1, 1, -1, 1, OUTCOME_NO_ANSWER, 0, "No answer");
    CHECK_INT(commit(&f, &r, NULL, ev, 5000), 0);
    report_free(ev);
    h = job(&f, "bV", 1, NULL);
    CHECK_INT(h.state, JOB_WAITING);
    CHECK_INT(h.attempts, 4);
    picks = mkpick(&rb, 1, 0);
    CHECK_INT(commit(&f, &r, picks, NULL, 6000), 0);
    free_picks(picks);
    ev = call("bV", 1, 2, -1, 1, OUTCOME_NO_ANSWER, 0, "No answer");
    CHECK_INT(commit(&f, &r, NULL, ev, 7000), 0);
    report_free(ev);
    char err[160];
    h = job(&f, "bV", 1, err);
    CHECK_INT(h.state, JOB_FAILED);
    CHECK_INT(h.attempts, 5);
    CHECK_STR(err, "No answer after 5 attempts");
    CHECK(!jobs_has_duration(&h));

    /* Row 2 ends last, while a retry's calls have not been moved back: not complete yet. */
    b = fx_batch_get(&f.s, "bV");
    b.requeue_pending = 1;
    fx_set_batch(&f.s, &b);
    ev = call("bV", 2, 1, -1, 1, OUTCOME_ANSWERED, 30, "");
    CHECK_INT(commit(&f, &r, NULL, ev, 8000), 0);
    CHECK_INT(ev->finished_batch, 0);
    report_free(ev);
    b = fx_batch_get(&f.s, "bV");
    CHECK_INT(b.status, BATCH_PROCESSING);
    CHECK_INT(b.waiting + b.active, 0);
    CHECK_INT(b.completed_ms, 0);
    CHECK_INT(b.connected, 2);
    CHECK(b.duration_sum == 42);
    fx_close(&f);
}

/* ---- a commit of many reports ends as one commit per report would ----
 *
 * The same store is built twice; one copy gets the picks and every report in one commit, the
 * other the picks, then each report in a commit of its own. Both must end with the same records
 * in every table, the same events in the outbox in the same order, and the same effects handed
 * back, though the first reads and writes each job once. */

struct path {
    struct fx f;
    uv_loop_t loop;
    struct webhooks *w;
    uint64_t rnd, emitted, provider_errors, by_outcome[OUTCOME_COUNT];
};

static int target_txn(struct store_txn *t, void *arg)
{
    (void)arg;
    struct target tg;
    return target_put(t, "ws_W", 4, "https://hooks.example.com/calls", &tg);
}

static int run_commit(struct path *p, struct pick *picks, struct report *reports, uint64_t now)
{
    struct run r;
    memset(&r, 0, sizeof r);
    retry_defaults(&r.retry);
    r.c.retry = &r.retry;
    r.c.hooks = p->w;
    r.c.now = now;
    r.c.rnd = p->rnd;
    r.c.picks = picks;
    r.c.reports = reports;
    int rc = store_write(&p->f.s, commit_txn, &r.c);
    jobs_txn_free(&r.c.jt);
    p->rnd = r.c.rnd;
    p->emitted += r.c.emitted;
    p->provider_errors += r.c.provider_errors;
    for (int i = 0; i < OUTCOME_COUNT; i++)
        p->by_outcome[i] += r.c.by_outcome[i];
    return rc;
}

#define FOLD_BATCHES 4
static const char *const fold_batch_ids[FOLD_BATCHES] = {"bA", "bB", "bC", "bE"};

/* bA: five calls in progress; bB: two, its batch cancelled since; bC: one, its last; bE: one
 * waiting, about to be held. */
static void path_open(struct path *p)
{
    memset(p, 0, sizeof *p);
    p->rnd = 88172645463325252ull;
    fx_open(&p->f);
    CHECK_INT(uv_loop_init(&p->loop), 0);
    CHECK_INT(webhooks_start(&p->w, &p->f.s, &p->loop), 0);
    fx_workspace(&p->f.s, "ws_W", 10, 50);
    CHECK_INT(store_write(&p->f.s, target_txn, NULL), 0);
    static const uint32_t rows[FOLD_BATCHES] = {5, 2, 1, 1};
    struct roster_batch rb[FOLD_BATCHES];
    struct pick *picks = NULL;
    for (int i = 0; i < FOLD_BATCHES; i++) {
        fx_batch(&p->f.s,
                 &(struct fx_batch){
                     .id = fold_batch_ids[i], .ws = "ws_W", .created_ms = 100, .rows = rows[i]});
        memset(&rb[i], 0, sizeof rb[i]);
        snprintf(rb[i].id, sizeof rb[i].id, "%s", fold_batch_ids[i]);
        for (uint32_t row = 0; i < 3 && row < rows[i]; row++) {
            struct pick *pk = mkpick(&rb[i], row, 0);
            pk->next = picks;
            picks = pk;
        }
    }
    CHECK_INT(run_commit(p, picks, NULL, 1000), 0);
    free_picks(picks);
    struct batch_rec b = fx_batch_get(&p->f.s, "bB");
    b.status = BATCH_CANCELLED;
    fx_set_batch(&p->f.s, &b);
    p->emitted = 0;
}

static void path_close(struct path *p)
{
    webhooks_stop(p->w);
    for (int i = 0; i < 4; i++)
        uv_run(&p->loop, UV_RUN_NOWAIT);
    CHECK_INT(uv_loop_close(&p->loop), 0);
    fx_close(&p->f);
}

static struct report *final_call(const char *batch, uint32_t row, int64_t sequence, int outcome,
                                 double duration)
{
    return call(batch, row, 1, sequence, 1, outcome, duration,
                outcome == OUTCOME_ANSWERED ? "" : "No answer");
}

/* The reports, in the order they arrived. */
static size_t fold_reports(struct report **out)
{
    size_t n = 0;
    out[n++] = created("bA", 0, 1, "CA0");
    out[n++] = call("bA", 0, 1, 0, 0, 0, 0, "");        /* initiated */
    out[n++] = created("bA", 1, 1, "CA1");              /* another job between */
    out[n++] = call("bA", 0, 1, 1, 0, 0, 0, "");        /* ringing */
    out[n++] = call("bA", 1, 1, 2, 0, 0, 0, "");        /* ringing */
    out[n++] = call("bA", 0, 1, 1, 0, 0, 0, "");        /* a duplicate */
    out[n++] = call("bA", 0, 1, 2, 0, 0, 0, "");        /* answered */
    out[n++] = final_call("bA", 1, 1, OUTCOME_BUSY, 0); /* older than the one applied */
    struct report *r = final_call("bA", 0, 3, OUTCOME_ANSWERED, 30);
    r->ce.transcript = strdup("Hello, this is a reminder.");
    out[n++] = r;
    out[n++] = final_call("bA", 0, 2, OUTCOME_NO_ANSWER, 0); /* older, after the end */
    out[n++] = final_call("bA", 1, 3, OUTCOME_BUSY, 0);      /* a retry is scheduled */
    out[n++] = created("bA", 2, 1, "CA2");                   /* picked in this commit */
    out[n++] = call("bA", 2, 1, 0, 0, 0, 0, "");             /* initiated */
    r = final_call("bA", 2, 1, OUTCOME_ANSWERED, 5);         /* opted out */
    r->ce.opted_out = 1;
    out[n++] = r;
    out[n++] = final_call("bA", 1, 4, OUTCOME_ANSWERED, 9); /* about an ended request */
    r = report_new(REPORT_CREATE, "bA", 3, 1);              /* the provider's trouble */
    r->cr.cls = CREATE_RETRY;
    snprintf(r->cr.message, sizeof r->cr.message, "Provider unavailable (HTTP 503)");
    out[n++] = r;
    out[n++] = report_new(REPORT_UNKNOWN, "bA", 4, 1);
    out[n++] = report_new(REPORT_WITHDRAW, "bB", 0, 1); /* cancelled unplaced */
    out[n++] = created("bB", 1, 1, "CB1");
    out[n++] = final_call("bB", 1, 0, OUTCOME_NO_ANSWER, 0); /* no retry: cancelled */
    out[n++] = created("bC", 0, 1, "CC0");
    out[n++] = call("bC", 0, 1, 0, 0, 0, 0, "");
    out[n++] = final_call("bC", 0, 1, OUTCOME_ANSWERED, 12); /* completes the batch */
    return n;
}

/* bA's third call is dialled and bE's only call held in the same commit. */
static struct pick *fold_picks(struct roster_batch *ra, struct roster_batch *re)
{
    struct pick *p = mkpick(ra, 2, 0), *hold = mkpick(re, 0, 0);
    hold->action = PICK_HOLD;
    hold->held = HELD_WINDOW;
    hold->until_ms = 9000;
    p->next = hold;
    return p;
}

/* Every table but the webhook secrets (random) and the outbox (compared apart), as bytes. */
static void dump_store(struct store *s, struct buf *out)
{
    struct store_txn t;
    CHECK_INT(store_read_begin(s, &t), 0);
    for (int db = 0; db < DB_COUNT; db++) {
        if (db == DB_WEBHOOK || db == DB_OUTBOX)
            continue;
        struct store_iter it;
        store_iter_open(&it, &t, (enum store_db)db, NULL, 0, NULL, 0);
        int rc;
        while ((rc = store_iter_next(&it)) == 1) {
            buf_printf(out, "%d %zu %zu:", db, it.key.len, it.val.len);
            buf_append(out, it.key.ptr, it.key.len);
            buf_append(out, it.val.ptr, it.val.len);
        }
        CHECK_INT(rc, 0);
        store_iter_close(&it);
    }
    store_read_end(&t);
}

/* The outbox's events in order, without their ids and times (new for every event). */
static size_t dump_outbox(struct store *s, struct buf *out)
{
    struct store_txn t;
    CHECK_INT(store_read_begin(s, &t), 0);
    struct store_iter it;
    size_t n = 0;
    store_iter_open(&it, &t, DB_OUTBOX, NULL, 0, NULL, 0);
    while (store_iter_next(&it) == 1) {
        cJSON *e = cJSON_ParseWithLength(it.val.ptr, it.val.len);
        CHECK(e != NULL);
        cJSON_DeleteItemFromObjectCaseSensitive(e, "id");
        cJSON_DeleteItemFromObjectCaseSensitive(e, "createdAt");
        char *text = cJSON_PrintUnformatted(e);
        buf_append_str(out, text);
        buf_append(out, "\n", 1);
        free(text);
        cJSON_Delete(e);
        n++;
    }
    store_iter_close(&it);
    store_read_end(&t);
    return n;
}

static void check_same_report(const struct report *a, const struct report *b, size_t i)
{
    CHECK_REPORT(a->released == b->released && a->now_active == b->now_active &&
                     a->retry_due == b->retry_due && a->reset_cursor == b->reset_cursor &&
                     a->halted == b->halted && a->finished_batch == b->finished_batch &&
                     a->batch_over == b->batch_over && a->final_seq == b->final_seq &&
                     strcmp(a->call_id, b->call_id) == 0,
                 "report %zu: effects differ", i);
}

static void check_same_pick(const struct pick *a, const struct pick *b)
{
    CHECK_INT(a->applied, b->applied);
    CHECK_INT(a->action, b->action);
    CHECK_INT(a->seq, b->seq);
    CHECK_INT(a->held, b->held);
    CHECK_INT(a->until_ms, b->until_ms);
    CHECK_INT(a->final_seq, b->final_seq);
    CHECK_INT(a->batch_over, b->batch_over);
}

static void test_one_commit_as_one_per_report(void)
{
    log_set_level(LOG_ERROR);
    CHECK_INT(client_global_init(), 0);
    struct path one, each;
    path_open(&one);
    path_open(&each);
    struct roster_batch ra = {.id = "bA"}, re = {.id = "bE"};
    struct report *r1[32], *r2[32];
    size_t n = fold_reports(r1);
    CHECK_INT(fold_reports(r2), n);
    for (size_t i = 0; i + 1 < n; i++)
        r1[i]->next = r1[i + 1];
    struct pick *p1 = fold_picks(&ra, &re), *p2 = fold_picks(&ra, &re);
    CHECK_INT(run_commit(&one, p1, r1[0], 2000), 0);
    CHECK_INT(run_commit(&each, p2, NULL, 2000), 0);
    for (size_t i = 0; i < n; i++)
        CHECK_INT(run_commit(&each, NULL, r2[i], 2000), 0);

    for (size_t i = 0; i < n; i++)
        check_same_report(r1[i], r2[i], i);
    check_same_pick(p1, p2);
    check_same_pick(p1->next, p2->next);
    CHECK_INT(one.emitted, each.emitted);
    CHECK_INT(one.provider_errors, each.provider_errors);
    CHECK_INT(one.rnd, each.rnd);
    for (int i = 0; i < OUTCOME_COUNT; i++)
        CHECK_INT(one.by_outcome[i], each.by_outcome[i]);
    struct buf d1 = {0}, d2 = {0}, e1 = {0}, e2 = {0};
    dump_store(&one.f.s, &d1);
    dump_store(&each.f.s, &d2);
    CHECK_INT(d1.len, d2.len);
    CHECK(d1.len == d2.len && memcmp(d1.data, d2.data, d1.len) == 0);
    size_t events = dump_outbox(&one.f.s, &e1);
    CHECK_INT(dump_outbox(&each.f.s, &e2), events);
    CHECK_INT(e1.len, e2.len);
    CHECK(e1.len == e2.len && memcmp(e1.data, e2.data, e1.len) == 0);

    /* What the reports did, so that the comparison is not of two stores nothing happened to:
     * call.completed x3, call.opted_out, call.failed x2, batch.held, batch.completed (and the
     * three batch.started of the picks before). */
    CHECK_INT(events, 11);
    CHECK_INT(one.emitted, 8);
    CHECK(strstr(e1.data, "\"type\":\"batch.held\"") != NULL);
    CHECK(strstr(e1.data, "\"type\":\"call.opted_out\"") != NULL);
    char err[160];
    struct job_head h = job(&one.f, "bA", 0, err);
    CHECK_INT(h.state, JOB_COMPLETED);
    CHECK_INT(h.last_sequence, 3);
    CHECK(h.duration == 30);
    h = job(&one.f, "bA", 1, err);
    CHECK_INT(h.state, JOB_WAITING);
    CHECK_INT(h.outcome, OUTCOME_BUSY);
    CHECK(has_due(&one.f, "bA", 2000 + BUSY_MS, 1));
    CHECK_INT(job(&one.f, "bA", 2, err).state, JOB_COMPLETED);
    CHECK_INT(job(&one.f, "bA", 3, err).state, JOB_WAITING);
    CHECK_INT(job(&one.f, "bA", 4, err).state, JOB_FAILED);
    CHECK_INT(job(&one.f, "bB", 0, err).state, JOB_CANCELLED);
    CHECK_INT(job(&one.f, "bB", 1, err).state, JOB_FAILED);
    CHECK_INT(job(&one.f, "bE", 0, err).held, HELD_WINDOW);
    CHECK_INT(r1[n - 1]->finished_batch, 1);
    CHECK_INT(one.provider_errors, 1);
    for (int i = 0; i < FOLD_BATCHES; i++) {
        FX_CHECK_COUNTERS(&one.f.s, fold_batch_ids[i]);
        FX_CHECK_COUNTERS(&each.f.s, fold_batch_ids[i]);
    }
    buf_free(&d1);
    buf_free(&d2);
    buf_free(&e1);
    buf_free(&e2);
    for (size_t i = 0; i < n; i++) {
        report_free(r1[i]);
        report_free(r2[i]);
    }
    free_picks(p1);
    free_picks(p2);
    path_close(&one);
    path_close(&each);
}

CHECK_MAIN(CHECK_CASE(test_pick_starts_calls), CHECK_CASE(test_calls_complete_the_batch),
           CHECK_CASE(test_busy_retry_and_stale_reports), CHECK_CASE(test_withdraw),
           CHECK_CASE(test_create_halt_pauses), CHECK_CASE(test_provider_retry_and_unknown),
           CHECK_CASE(test_connected_calls_retries_and_pending_requeues),
           CHECK_CASE(test_one_commit_as_one_per_report))
