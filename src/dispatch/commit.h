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
#include "dispatch/report.h"
#include "dispatch/retry.h"
#include "provider/provider.h"
#include "store/store.h"

struct webhooks;

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
