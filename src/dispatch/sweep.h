/* Background work over all the jobs of a batch, a chunk per step so no callback runs long (the
 * cancel and retry steps are written on the thread pool, so their fsync does not hold the loop
 * either):
 *  - PURGE: remove an upload that never became a batch (failed, abandoned, interrupted);
 *  - CANCEL: rewrite the waiting jobs of a cancelled batch as cancelled (its counters moved in
 *    the cancel's own transaction) and drop its scheduled retries;
 *  - RETRY: move failed jobs whose outcome is retryable back to waiting. */
#ifndef BC_DISPATCH_SWEEP_H
#define BC_DISPATCH_SWEEP_H

#include <stdint.h>

#include <uv.h>

#include "store/store.h"
#include "util/id.h"

enum sweep_kind { SWEEP_PURGE, SWEEP_CANCEL, SWEEP_RETRY };

struct sweep_item {
    enum sweep_kind kind;
    char batch[ID_MAX];
    uint32_t next_row;
};

struct sweep_step;

struct sweeper {
    struct sweep_item *items;
    size_t n, cap;
    void *timer; /* uv_timer_t */
    uv_loop_t *loop;
    struct store *store;
    /* Failed calls of the batch went back to waiting: it may dial again. */
    void (*on_retried)(void *ctx, const char *batch);
    void *ctx;
    struct sweep_step *step; /* a cancel or retry step, written on the thread pool */
    int busy;                /* step is being written: the queue's head waits for it */
};

int sweep_init(struct sweeper *sw, uv_loop_t *loop, struct store *store,
               void (*on_retried)(void *ctx, const char *batch), void *ctx);
void sweep_add(struct sweeper *sw, enum sweep_kind kind, const char *batch);
void sweep_close(struct sweeper *sw);

#endif
