/* The group commit: the dials chosen in a round and the reports that arrived since the last
 * commit (provider answers, callbacks, lookups), recorded in one write transaction.
 *
 * At most once: a job moves waiting -> dialing in a committed transaction before its request is
 * sent, and every request carries (batch, row, seq) with seq unique per job, so no request is
 * ever sent twice. The transaction runs on libuv's thread pool (store_write_async): it touches
 * only its struct commit, the store and the webhook outbox (whose shared state LMDB's writer lock
 * guards). It may run more than once (map growth), so it decides everything afresh each time;
 * what it decided is applied in memory by the caller after it commits, on the loop. */
#ifndef BC_DISPATCH_COMMIT_H
#define BC_DISPATCH_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "dispatch/jobs.h"
#include "dispatch/pick.h"
#include "dispatch/retry.h"
#include "provider/provider.h"
#include "store/store.h"

struct webhooks;

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

struct commit {
    struct store_async req;
    const struct retry_config *retry;
    struct webhooks *hooks;
    struct jobs_txn jt;
    struct pick *picks;
    struct report *reports;
    uint64_t now; /* wall ms */
    uint64_t rnd; /* jitter state, handed back to the dispatcher after the commit */
    /* Counted in the transaction (which may run more than once), added to the stats after. */
    uint64_t provider_errors;
    uint64_t by_outcome[OUTCOME_COUNT];
    size_t emitted; /* webhook events recorded: delivery is kicked after the commit */
};

/* The transaction (a store_write_fn; arg is the struct commit). */
int commit_txn(struct store_txn *t, void *arg);

/* xorshift: jitter only needs to be spread, not secret. A number in [0, 1). */
double commit_random01(uint64_t *state);

#endif
