/* A report for the group commit: what arrived about one dial request (the provider's answer to
 * it, a callback, a lookup, a withdrawal), and the effects the commit decided for it. */
#ifndef BC_DISPATCH_REPORT_H
#define BC_DISPATCH_REPORT_H

#include <stdint.h>

#include "dispatch/retry.h"
#include "policy/window.h"
#include "provider/provider.h"
#include "util/id.h"

/* REPORT_WITHDRAW: a dial recorded but never sent, because its batch stopped dialling (paused,
 * cancelled) or the server began shutting down while the commit was being written.
 * REPORT_UNKNOWN: the provider never reported on the call, or has no record of it. */
enum report_kind { REPORT_CREATE, REPORT_CALL, REPORT_UNKNOWN, REPORT_WITHDRAW };

struct report {
    enum report_kind kind;
    char batch[ID_MAX];
    uint32_t row, seq;
    struct create_result cr; /* REPORT_CREATE */
    struct call_event ce;    /* REPORT_CALL */
    struct report *next;
    /* The batch's retry settings, copied from memory before the transaction (has_smart == 0:
     * the batch is not loaded; the transaction reads them from the store). */
    struct retry_smart smart;
    int has_smart;
    /* The batch's calling window and whether state rules apply, copied likewise, so that a
     * retry is scheduled inside the window (has_window 0: the pick holds it when due). */
    struct window window;
    int has_window, state_rules;
    /* Effects decided in the transaction, applied in memory after it commits. */
    int released;       /* the call no longer holds a slot */
    int now_active;     /* the provider placed the call: watch it */
    uint64_t retry_due; /* a retry was scheduled then */
    int reset_cursor;   /* the row waits again: scan the batch from its start */
    int halted;         /* the provider refused our account: the batch paused */
    int finished_batch; /* the batch completed with this report */
    int batch_over;     /* the batch is final and has no call in progress left */
    uint32_t final_seq; /* the call reached a final state with this number */
    char call_id[64];
};

/* A report about the request (batch, row, seq), zeroed otherwise; NULL when out of memory. */
struct report *report_new(enum report_kind kind, const char *batch, uint32_t row, uint32_t seq);
/* Frees the report and its transcript. */
void report_free(struct report *r);

/* Reports the commit is done with, kept for the next ones: a report is over a kilobyte, and
 * every allocation of that size goes past malloc's per-thread cache. */
#define REPORT_POOL_MAX 1024
struct report_pool {
    struct report *spare;
    size_t n;
};
/* report_new, taking a kept report when there is one (pool may be NULL). */
struct report *report_take(struct report_pool *pool, enum report_kind kind, const char *batch,
                           uint32_t row, uint32_t seq);
/* report_free, keeping the report for report_take while the pool holds fewer than
 * REPORT_POOL_MAX (pool may be NULL). */
void report_give(struct report_pool *pool, struct report *r);
void report_pool_free(struct report_pool *pool);

#endif
