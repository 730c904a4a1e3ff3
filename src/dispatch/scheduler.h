/* The scheduler: decides what to dial next and when, places the calls through the provider, and
 * applies what the provider reports.
 *
 * Fairness and pacing: workspaces take turns (round robin), so a workspace with a million
 * waiting calls delays another's first call by at most one turn. Within a workspace the batch
 * whose next call is due earliest goes first (ties: the older batch). A dial needs a token from
 * the provider account's bucket, the workspace's and the batch's (callsPerSecond), and a free
 * slot under the workspace's maxConcurrentCalls and the batch's maxConcurrency. Buckets are
 * computed lazily; one timer is armed for the earliest moment work can proceed.
 *
 * At most once: a job moves waiting -> dialing in a committed transaction before its request is
 * sent, and every request carries (batch, row, seq) with seq unique per job, so no request is
 * ever sent twice. After a restart, jobs found dialing wait reconcile_ms for a late callback and
 * then fail with outcome unknown instead of being dialled again; active calls whose final report
 * is overdue are looked up at the provider.
 *
 * Every state change of a tick (new dials, provider answers, callbacks) is group-committed in
 * one transaction, written on libuv's thread pool so that its fsync never holds the loop; one
 * commit is written at a time, and the next tick's picks wait for it. The dials it recorded are
 * sent when it has committed, unless their batch was paused or cancelled meanwhile (or the
 * server began to stop): those are recorded back as waiting, or cancelled, and never sent. */
#ifndef BC_DISPATCH_SCHEDULER_H
#define BC_DISPATCH_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include "http/client.h"
#include "dispatch/retry.h"
#include "provider/provider.h"
#include "util/histogram.h"

struct app;

struct sched_config {
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

struct scheduler;

struct sched_stats {
    uint64_t dials;                    /* create requests sent */
    uint64_t provider_errors;          /* create requests that met provider trouble */
    uint64_t by_outcome[16];           /* final or retried call outcomes (enum job_outcome) */
    uint64_t token_waits;              /* ticks that stopped because a bucket was empty */
    size_t in_progress;                /* dialing + active calls */
    uint64_t waiting;                  /* waiting calls of the batches being dialled */
    struct histogram provider_latency; /* seconds per create request */
};

int scheduler_start(struct scheduler **out, struct app *app, const struct sched_config *cfg,
                    const struct provider_config *pcfg, struct client *dialer);
/* Shutting down: start no new calls, keep applying what the provider reports. */
void scheduler_quiesce(struct scheduler *s);
/* 1 when no provider request is in flight, no report waits to be applied and no commit is being
 * written. */
int scheduler_idle(const struct scheduler *s);
/* Stops dialling and closes the scheduler's timers. Calls in progress stay as they are in the
 * store; the next start reconciles them. A commit still being written on the thread pool ends
 * on the loop later: the caller runs the loop until the store has no pool write left
 * (store_async_pending) before closing what the commit uses (webhooks, the store). */
void scheduler_stop(struct scheduler *s);

/* A batch became dialable (uploaded, resumed, retried): load it. */
int scheduler_add_batch(struct scheduler *s, const char *batch_id);
/* A batch stops dialling at once (paused, cancelled). Calls in progress finish. */
void scheduler_remove_batch(struct scheduler *s, const char *batch_id);
/* A provider report (callback). Takes ownership of ev's transcript. Applied in the next group
 * commit. */
void scheduler_report(struct scheduler *s, const struct call_event *ev);
void scheduler_stats(const struct scheduler *s, struct sched_stats *out);

#endif
