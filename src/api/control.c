/* Changing a running batch: cancel (A6), pause / resume / retry (B4), and usage (B9). */
#include "api/control.h"

#include <stdlib.h>
#include <string.h>

#include "api/batches.h"
#include "api/api.h"
#include "webhooks/webhooks.h"
#include "dispatch/jobs.h"
#include "dispatch/sweep.h"
#include "http/router.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/json.h"
#include "model/batch.h"

enum control_op { OP_CANCEL, OP_PAUSE, OP_RESUME, OP_RETRY };

struct control_args {
    struct http_request *req;
    enum control_op op;
    struct batch_rec b;
    int conflict;         /* the batch's status does not allow the operation */
    int nothing_to_retry; /* a retry found no failed call with a retryable outcome */
    uint64_t cancelled_now;
    uint32_t requeued; /* failed calls a retry sends back to waiting */
};

/* The batch's failed calls that a retry would re-queue. Counted as calls end; a batch stored
 * before that was kept is counted once here, and kept from then on. */
static int retryable_calls(struct store_txn *t, struct batch_rec *b)
{
    if (!b->retryable_kept) {
        uint32_t n;
        int rc = jobs_count_retryable(t, b->id, &n);
        if (rc)
            return rc;
        b->retryable = n;
        b->retryable_kept = 1;
    }
    return 0;
}

static int control_txn(struct store_txn *t, void *arg)
{
    struct control_args *a = arg;
    struct batch_rec *b = &a->b;
    int rc = batches_load(a->req, t, b);
    if (rc)
        return rc;
    int final = batch_is_final(b->status);
    a->conflict = 0;
    a->nothing_to_retry = 0;
    a->cancelled_now = 0;
    a->requeued = 0;
    switch (a->op) {
    case OP_CANCEL:
        if (b->status == BATCH_CANCELLED)
            return 0; /* idempotent: answer the same again */
        if (final) {
            a->conflict = 1;
            return 0;
        }
        /* Every waiting call is cancelled in this transaction; the jobs themselves are rewritten
         * in the background, and reads show them cancelled meanwhile. */
        a->cancelled_now = b->waiting;
        b->cancelled += b->waiting;
        b->waiting = 0;
        b->held_window = b->held_cap = 0; /* held calls are waiting calls */
        b->requeue_pending = 0;           /* a retry's rewrite leaves a cancelled batch alone */
        rc = heldzone_clear(t, b->id);
        if (rc)
            return rc;
        b->status = BATCH_CANCELLED;
        if (b->active == 0)
            b->completed_ms = clock_now_ms();
        rc = webhooks_emit(api_app(a->req)->webhooks, t, b, "batch.cancelled",
                           webhooks_batch_data(b));
        if (rc)
            return rc;
        break;
    case OP_PAUSE:
    case OP_RESUME:
        if (final) {
            a->conflict = 1;
            return 0;
        }
        b->paused = a->op == OP_PAUSE;
        b->message[0] = '\0';
        break;
    case OP_RETRY:
        if (b->status == BATCH_CANCELLED || b->status == BATCH_STAGING) {
            a->conflict = 1;
            return 0;
        }
        if ((rc = retryable_calls(t, b)) != 0)
            return rc;
        if (b->retryable == 0) {
            /* Nothing changes: a finished batch stays finished (and keeps its time). */
            a->nothing_to_retry = 1;
            return 0;
        }
        /* The calls themselves go back to waiting in the background; until they have, the
         * batch is not complete (requeue_pending). */
        a->requeued = b->retryable;
        b->requeue_pending = b->retryable;
        if (b->status != BATCH_QUEUED) {
            b->status = BATCH_PROCESSING;
            b->completed_ms = 0;
        }
        break;
    }
    return batch_put(t, b);
}

/* The batch's counts once the operation took effect: a retry's calls are counted waiting
 * (requeued) although its background rewrite may not have moved them yet. */
static cJSON *counts(const struct batch_rec *b, uint32_t requeued)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "completedCalls", (double)b->completed);
    cJSON_AddNumberToObject(d, "failedCalls",
                            (double)(b->failed > requeued ? b->failed - requeued : 0));
    cJSON_AddNumberToObject(d, "cancelledCalls", (double)b->cancelled);
    cJSON_AddNumberToObject(d, "activeCalls", (double)b->active);
    cJSON_AddNumberToObject(d, "waitingCalls", (double)(b->waiting + requeued));
    cJSON_AddNumberToObject(d, "totalCalls", (double)b->total);
    return d;
}

static void control(struct http_request *req, enum control_op op)
{
    struct app *app = api_app(req);
    struct control_args a = {.req = req, .op = op};
    int rc = store_write(&app->store, control_txn, &a);
    if (rc) {
        if (!req->responded)
            api_respond_internal(req, rc);
        return;
    }
    if (a.conflict) {
        char msg[200];
        snprintf(msg, sizeof msg, "A %s batch cannot be %s; nothing was changed.",
                 batch_status_name(a.b.status),
                 op == OP_CANCEL  ? "cancelled"
                 : op == OP_RETRY ? "retried"
                                  : "paused or resumed");
        api_respond_error(req, 409, "conflict", msg, "id", a.b.id);
        return;
    }
    if (a.nothing_to_retry) {
        char msg[300];
        snprintf(msg, sizeof msg,
                 "Nothing to retry: none of the batch's %llu failed calls has a retryable outcome "
                 "(busy, no_answer, voicemail, unreachable, provider_error); nothing was changed.",
                 (unsigned long long)a.b.failed);
        api_respond_error(req, 409, "nothing_to_retry", msg, "id", a.b.id);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "batchId", a.b.id);
    cJSON_AddStringToObject(o, "status", batch_status_name(a.b.status));
    switch (op) {
    case OP_CANCEL:
        if (app->dispatch)
            dispatch_remove_batch(app->dispatch, a.b.id);
        if (a.cancelled_now)
            sweep_add(&app->sweeper, SWEEP_CANCEL, a.b.id);
        cJSON_AddStringToObject(o, "message", "Batch cancelled successfully");
        break;
    case OP_PAUSE:
        if (app->dispatch)
            dispatch_add_batch(app->dispatch, a.b.id);
        cJSON_AddBoolToObject(o, "paused", 1);
        cJSON_AddStringToObject(o, "message",
                                "Batch paused: no new calls start; calls in "
                                "progress finish");
        break;
    case OP_RESUME:
        if (app->dispatch)
            dispatch_add_batch(app->dispatch, a.b.id);
        cJSON_AddBoolToObject(o, "paused", 0);
        cJSON_AddStringToObject(o, "message", "Batch resumed");
        break;
    case OP_RETRY:
        sweep_add(&app->sweeper, SWEEP_RETRY, a.b.id);
        if (app->dispatch)
            dispatch_add_batch(app->dispatch, a.b.id);
        cJSON_AddStringToObject(
            o, "message",
            "Failed calls with a retryable outcome (busy, no_answer, voicemail, "
            "unreachable, provider_error) are going back to waiting");
        cJSON_AddNumberToObject(o, "requeuedCalls", (double)a.requeued);
        break;
    }
    if (op == OP_CANCEL)
        events_done(app->events, a.b.id);
    else
        events_progress(app->events, a.b.id);
    cJSON_AddItemToObject(o, "details", counts(&a.b, a.requeued));
    api_respond_json(req, op == OP_RETRY ? 202 : 200, o);
}

void control_cancel(struct http_request *req)
{
    control(req, OP_CANCEL);
}

void control_pause(struct http_request *req)
{
    control(req, OP_PAUSE);
}

void control_resume(struct http_request *req)
{
    control(req, OP_RESUME);
}

void control_retry(struct http_request *req)
{
    control(req, OP_RETRY);
}

/* GET /v1/api/usage?from=&to=: billable attempts and their connected seconds in [from, to). */
void control_usage(struct http_request *req)
{
    struct api_ctx *ctx = api_ctx(req);
    uint64_t range[2] = {0, UINT64_MAX};
    int given[2] = {0, 0};
    static const char *const names[] = {"from", "to"};
    for (int i = 0; i < 2; i++) {
        char v[32], *end;
        int n = http_query(req, names[i], v, sizeof v);
        if (n == BC_ENOTFOUND)
            continue;
        unsigned long long x = n > 0 ? strtoull(v, &end, 10) : 0;
        if (n <= 0 || *end || v[0] < '0' || v[0] > '9') {
            api_respond_error(req, 400, "invalid_parameter",
                              "from and to must be Unix times in milliseconds.", "parameter",
                              names[i]);
            return;
        }
        range[i] = x;
        given[i] = 1;
    }
    if (range[0] > range[1]) {
        /* An empty answer would read as "nothing was billed": say the range is backwards. */
        char msg[160];
        snprintf(msg, sizeof msg,
                 "from (%llu) is after to (%llu): the range is [from, to), so from must not be "
                 "after to.",
                 (unsigned long long)range[0], (unsigned long long)range[1]);
        api_respond_error(req, 400, "invalid_parameter", msg, "parameter", "from");
        return;
    }
    uint8_t start[USAGE_TIME_KEY_MAX];
    size_t slen = usage_time_key(start, ctx->ws, ctx->ws_len, range[0]);
    struct store_txn t;
    int rc = api_read_begin(req, &t);
    if (rc)
        return;
    struct store_iter it;
    uint64_t calls = 0;
    double seconds = 0;
    store_iter_open(&it, &t, DB_USAGE, start, ctx->ws_len, start, slen);
    while ((rc = store_iter_next(&it)) == 1) {
        uint64_t at = usage_key_time(&it.key, ctx->ws_len);
        if (at >= range[1])
            break;
        double s;
        if (it.val.len == sizeof s) {
            memcpy(&s, it.val.ptr, sizeof s);
            seconds += s;
        }
        calls++;
    }
    store_iter_close(&it);
    store_read_end(&t);
    if (rc < 0) {
        api_respond_internal(req, rc);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    if (given[0])
        cJSON_AddNumberToObject(o, "from", (double)range[0]);
    else
        cJSON_AddNullToObject(o, "from");
    if (given[1])
        cJSON_AddNumberToObject(o, "to", (double)range[1]);
    else
        cJSON_AddNullToObject(o, "to");
    cJSON_AddNumberToObject(o, "billableCalls", (double)calls);
    cJSON_AddNumberToObject(o, "connectedSeconds", seconds);
    api_respond_json(req, 200, o);
}
