/* The dispatcher: decides what to dial next and when (dispatch/pick), places the calls through
 * the provider, and applies what the provider reports (dispatch/commit), watching calls whose
 * outcome is overdue (dispatch/watch).
 *
 * One loop: a round of picks and the reports that arrived since the last commit are recorded
 * in one group commit, written on libuv's thread pool so its fsync never holds the loop; one
 * commit is written at a time, and the next round's picks wait for it. The dials it recorded
 * are sent when it has committed, unless their batch was paused or cancelled meanwhile (or the
 * server began to stop): those are recorded back as waiting, or cancelled, and never sent.
 * Buckets are computed lazily; one timer is armed for the earliest moment work can proceed. */
#ifndef BC_DISPATCH_DISPATCH_H
#define BC_DISPATCH_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "http/client.h"
#include "dispatch/retry.h"
#include "provider/provider.h"
#include "store/records.h"
#include "store/store.h"
#include "util/histogram.h"

struct webhooks;

struct dispatch_config {
    uv_loop_t *loop;
    struct store *store;
    struct webhooks *webhooks; /* the outbox events are written to, with the calls' changes */
    struct retry_config retry;
    double provider_cps;   /* the provider account's dial rate; 0: unlimited */
    size_t max_in_flight;  /* provider requests at once */
    uint64_t reconcile_ms; /* a call being placed when the server stopped waits this long */
    uint64_t overdue_ms;   /* an active call with no final report for this long is looked up */
    /* After each commit, for watchers: a batch changed; final_seq != 0 when row reached a final
     * state; done when the batch became final. */
    void (*on_change)(void *arg, const char *batch, uint32_t row, uint32_t final_seq, int done);
    void *on_change_arg;
};

struct dispatcher;

struct dispatch_stats {
    uint64_t dials;                     /* create requests sent */
    uint64_t provider_errors;           /* create requests that met provider trouble */
    uint64_t by_outcome[OUTCOME_COUNT]; /* final or retried outcomes (enum job_outcome) */
    uint64_t token_waits;               /* times a bucket was empty */
    uint64_t held;                      /* calls held back by a calling window or a cap */
    size_t in_progress;                 /* dialing + active calls */
    uint64_t waiting;                   /* waiting calls of the batches being dialled */
    struct histogram provider_latency;  /* seconds per create request */
};

int dispatch_start(struct dispatcher **out, const struct dispatch_config *cfg,
                   const struct provider_config *pcfg, struct client *client);
/* Shutting down: start no new calls, keep applying what the provider reports. */
void dispatch_quiesce(struct dispatcher *d);
/* 1 when no provider request is in flight, no report waits to be applied and no commit is being
 * written. */
int dispatch_idle(const struct dispatcher *d);
/* Stops dialling and closes the dispatcher's timers. Calls in progress stay as they are in the
 * store; the next start reconciles them. A commit still being written on the thread pool ends
 * on the loop later: the caller runs the loop until the store has no pool write left
 * (store_async_pending) before closing what the commit uses (webhooks, the store). */
void dispatch_stop(struct dispatcher *d);

/* A batch became dialable (uploaded, resumed, retried): load it. */
int dispatch_add_batch(struct dispatcher *d, const char *batch_id);
/* A batch stops dialling at once (paused, cancelled). Calls in progress finish. */
void dispatch_remove_batch(struct dispatcher *d, const char *batch_id);
/* A provider report (callback). Takes ownership of ce's transcript. Applied in the next group
 * commit. */
void dispatch_report(struct dispatcher *d, const struct call_event *ce);
void dispatch_stats(const struct dispatcher *d, struct dispatch_stats *out);

#endif
