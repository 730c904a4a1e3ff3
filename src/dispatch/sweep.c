#include "dispatch/sweep.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "dispatch/jobs.h"
#include "ingest/purge.h"
#include "model/batch.h"
#include "store/jobindex.h"
#include "util/err.h"
#include "util/log.h"

/* Jobs per step: a transaction of about a millisecond. */
#define SWEEP_CHUNK 2000

/* A cancel or retry step, written on the thread pool as a bulk write so that its transaction
 * and fsync do not hold the loop. The transaction reads item (a copy: sweep_add may move the
 * queue) and writes only the fields after it; it may run twice (map growth). */
struct sweep_step {
    struct store_async write;
    struct sweep_item item;
    struct jobs_txn jt;
    uint32_t next_row; /* where the next step starts */
    int done;
    uint32_t moved;
    struct sweeper *sw; /* NULL once the sweeper closed: the step's end frees it */
};

/* Rewrites up to SWEEP_CHUNK jobs of one state, from item.next_row on. */
static int step_txn(struct store_txn *t, void *arg)
{
    struct sweep_step *a = arg;
    const struct sweep_item *it = &a->item;
    int from = it->kind == SWEEP_CANCEL ? JOB_WAITING : JOB_FAILED;
    struct batch_rec rec;
    int rc = batch_get(t, it->batch, strlen(it->batch), &rec);
    if (rc && rc != BC_ENOTFOUND)
        return rc;
    struct batch_key bk;
    batch_key_init(&bk, it->batch);
    uint32_t rows[SWEEP_CHUNK];
    size_t n = 0;
    struct jobindex_iter iter;
    jobindex_open(&iter, t, &bk, (uint8_t)from, rc ? 0 : jobindex_unindexed_from(&rec),
                  it->next_row);
    while (n < SWEEP_CHUNK && (rc = jobindex_next(&iter)) == 1)
        rows[n++] = iter.row;
    jobindex_close(&iter);
    if (rc < 0)
        return rc;
    /* A full chunk stops the scan on a row (1): not an error. Left at 1, it skipped the chunk
     * and made the transaction fail, so a batch with a chunk or more of such jobs was swept
     * again every millisecond, forever. */
    rc = 0;
    jobs_txn_begin(&a->jt, t);
    a->moved = 0;
    struct batch_rec *b = NULL;
    if (it->kind == SWEEP_RETRY) {
        b = jobs_batch(&a->jt, it->batch);
        if (!b && t->err)
            return t->err;
        /* Cancelled (or gone) since the retry: its failed calls stay failed. */
        if (!b || !batch_is_live(b->status)) {
            if (b && b->requeue_pending) {
                b->requeue_pending = 0;
                jobs_batch_dirty(&a->jt, b);
            }
            a->done = 1;
            a->next_row = it->next_row;
            return jobs_txn_end(&a->jt);
        }
    }
    for (size_t i = 0; i < n && !rc; i++) {
        struct job_view jv;
        if ((rc = jobs_get(&a->jt, it->batch, rows[i], &jv)) != 0)
            break;
        struct job_head h = jv.head;
        if (it->kind == SWEEP_CANCEL) {
            if (h.next_attempt_ms) {
                uint8_t key[JOB_KEY_MAX];
                store_del(t, DB_DUE, key, due_key(key, it->batch, h.next_attempt_ms, rows[i]));
            }
            jobs_cancel_head(&h);
            rc = jobs_rewrite(&a->jt, it->batch, rows[i], &jv, &h, JOBS_CANCELLED_MSG,
                              sizeof JOBS_CANCELLED_MSG - 1);
        } else if (jobs_retryable(h.outcome)) {
            h.state = JOB_WAITING;
            h.outcome = OUTCOME_NONE;
            /* attempts counts every dial for ever; the retry limits count from here. */
            h.retry_base = h.attempts;
            h.provider_errors = 0;
            h.next_attempt_ms = 0;
            h.end_ms = 0;
            rc = jobs_move(&a->jt, it->batch, rows[i], &jv, &h, "", 0);
            a->moved++;
        }
    }
    if (rc)
        return rc;
    a->done = n < SWEEP_CHUNK;
    a->next_row = n ? rows[n - 1] + 1 : it->next_row;
    if (b) {
        /* The calls counted by the retry are waiting now: the batch may complete again once
         * they have ended. */
        b->requeue_pending =
            a->done || a->moved >= b->requeue_pending ? 0 : b->requeue_pending - a->moved;
        jobs_batch_dirty(&a->jt, b);
    }
    return jobs_txn_end(&a->jt);
}

static void pop(struct sweeper *sw)
{
    memmove(sw->items, sw->items + 1, (sw->n - 1) * sizeof *sw->items);
    sw->n--;
}

/* The head item's step ended (rc < 0: failed, tried again on the next tick). */
static void step_ended(struct sweeper *sw, int rc, int done)
{
    struct sweep_item *it = &sw->items[0];
    if (rc < 0) {
        log_error("background batch work failed; will retry", "batch=%s error=\"%s\"", it->batch,
                  err_str(rc));
        return;
    }
    if (done) {
        log_info("background batch work done", "batch=%s kind=%s", it->batch,
                 it->kind == SWEEP_PURGE    ? "purge"
                 : it->kind == SWEEP_CANCEL ? "cancel"
                                            : "retry");
        pop(sw);
    }
}

static void step_written(struct store_async *w, int rc)
{
    struct sweep_step *step = (struct sweep_step *)((char *)w - offsetof(struct sweep_step, write));
    struct sweeper *sw = step->sw;
    jobs_txn_free(&step->jt);
    if (!sw) {
        free(step);
        return;
    }
    sw->busy = 0;
    struct sweep_item *it = &sw->items[0];
    if (rc == 0) {
        it->next_row = step->next_row;
        if (it->kind == SWEEP_RETRY && step->moved && sw->on_retried)
            sw->on_retried(sw->ctx, it->batch);
    }
    step_ended(sw, rc > 0 ? BC_EIO : rc, rc == 0 && step->done);
}

static void on_timer(uv_timer_t *t)
{
    struct sweeper *sw = t->data;
    if (sw->busy)
        return; /* a step is being written */
    if (sw->n == 0) {
        uv_timer_stop(t);
        return;
    }
    struct sweep_item *it = &sw->items[0];
    if (it->kind == SWEEP_PURGE) {
        int rc = purge_step(sw->store, it->batch, SWEEP_CHUNK);
        step_ended(sw, rc > 1 ? BC_EIO : rc, rc == 1);
        return;
    }
    /* The step struct is reused, so its transaction's buffers are allocated once. */
    struct sweep_step *step = sw->step;
    step->item = *it;
    step->next_row = it->next_row;
    step->done = 0;
    step->moved = 0;
    step->write.bulk = 1;
    sw->busy = 1;
    store_write_async(sw->store, sw->loop, &step->write, step_txn, step, step_written);
}

int sweep_init(struct sweeper *sw, uv_loop_t *loop, struct store *store,
               void (*on_retried)(void *ctx, const char *batch), void *ctx)
{
    memset(sw, 0, sizeof *sw);
    sw->loop = loop;
    sw->store = store;
    sw->on_retried = on_retried;
    sw->ctx = ctx;
    sw->step = calloc(1, sizeof *sw->step);
    uv_timer_t *t = calloc(1, sizeof *t);
    if (!t || !sw->step) {
        free(t);
        free(sw->step);
        sw->step = NULL;
        return BC_ENOMEM;
    }
    sw->step->sw = sw;
    uv_timer_init(loop, t);
    t->data = sw;
    sw->timer = t;
    return 0;
}

void sweep_add(struct sweeper *sw, enum sweep_kind kind, const char *batch)
{
    if (!sw->timer) {
        /* Stopped (shutting down): what is left is found again at the next start. */
        log_info("background work not queued: shutting down", "batch=%s", batch);
        return;
    }
    if (sw->n == sw->cap) {
        size_t cap = sw->cap ? sw->cap * 2 : 8;
        struct sweep_item *items = realloc(sw->items, cap * sizeof *items);
        if (!items) {
            log_error("out of memory queueing background work", "batch=%s", batch);
            return;
        }
        sw->items = items;
        sw->cap = cap;
    }
    struct sweep_item *it = &sw->items[sw->n++];
    memset(it, 0, sizeof *it);
    it->kind = kind;
    snprintf(it->batch, sizeof it->batch, "%s", batch);
    /* A repeating 1 ms timer rather than 0 ms: libuv 1.44 runs a 0 ms timer started from a timer
     * callback in the same pass, which would starve the loop. */
    if (!uv_is_active(sw->timer))
        uv_timer_start(sw->timer, on_timer, 1, 1);
}

static void on_close(uv_handle_t *h)
{
    free(h);
}

void sweep_close(struct sweeper *sw)
{
    if (sw->timer)
        uv_close(sw->timer, on_close);
    sw->timer = NULL;
    /* A step still being written ends on its own and frees itself. */
    if (sw->step && sw->busy)
        sw->step->sw = NULL;
    else if (sw->step)
        free(sw->step);
    sw->step = NULL;
    sw->busy = 0;
    free(sw->items);
    sw->items = NULL;
    sw->n = sw->cap = 0;
}
