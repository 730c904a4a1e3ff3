/* Calls whose outcome the dispatcher is waiting for. A call the provider accepted is watched
 * until its final report; one overdue by overdue_ms is looked up at the provider. After a
 * restart nothing is known about the calls in progress but what the store says: they are
 * adopted here, and one found still being placed (dialing) waits reconcile_ms for a late
 * callback, then fails with outcome unknown instead of being dialled again. What the watch
 * learns becomes a report for the next commit. */
#ifndef BC_DISPATCH_WATCH_H
#define BC_DISPATCH_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "dispatch/report.h"
#include "http/client.h"
#include "dispatch/roster.h"
#include "provider/provider.h"
#include "store/store.h"
#include "util/map.h"

struct watch;

struct watchlist {
    struct map map; /* "batch/row" -> struct watch */
    struct client *client;
    const struct provider_config *pcfg;
    uint64_t overdue_ms;
    /* Hands a report to the dispatcher for its next commit. */
    void (*queue)(void *ctx, struct report *r);
    void *ctx;
    int closing; /* lookups that end now report nothing */
};

/* Watches (batch, row)'s request seq in state (JOB_DIALING or JOB_ACTIVE) until deadline. */
void watch_set(struct watchlist *wl, const char *batch, uint32_t row, uint32_t seq, int state,
               const char *call_id, uint64_t deadline);
void watch_clear(struct watchlist *wl, const char *batch, uint32_t row);
/* Acts on every watch past its deadline (now: wall ms): a lookup at the provider, or, for a
 * call never confirmed placed, a report that its outcome is unknown. */
void watch_scan(struct watchlist *wl, uint64_t now);
/* Adopts the batch's calls in progress found in the store: counted in its slots and watched
 * until deadline. */
int watch_adopt(struct watchlist *wl, struct store_txn *t, struct roster_batch *b,
                uint64_t deadline);
size_t watch_count(const struct watchlist *wl);
void watch_free(struct watchlist *wl);

#endif
