/* Calls whose outcome the dispatcher is waiting for. A call the provider accepted is watched
 * until its final report; one overdue by overdue_ms is looked up at the provider. After a
 * restart nothing is known about the calls in progress but what the store says: they are
 * adopted here.
 *
 * An adopted call the provider had accepted (active, with its call id) is looked up at once: the
 * answer ends it, or shows it still in progress, and meanwhile it holds its slots. One found
 * still being placed (dialing) may or may not have reached the provider, and cannot be looked
 * up: Twilio's Call resource carries no trace of our (batch, row, seq). It is "in doubt": it
 * holds no slot, so it never keeps other contacts waiting (if it did reach the provider, the
 * concurrency cap may be exceeded by the calls being placed at the crash, which held slots then:
 * at worst twice the cap, for as long as those calls last); a late report applies to it (and one
 * that shows it in progress gives it a slot), and after reconcile_ms without one it fails with
 * outcome unknown. It is never dialled again. What the watch learns becomes a report for the next
 * commit. */
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
    int closing;     /* lookups that end now report nothing */
    size_t in_doubt; /* adopted calls that hold no slot (see above) */
};

/* Watches (batch, row)'s request seq, now known to be in progress (state JOB_ACTIVE), until
 * deadline; the call holds a slot. Returns 1 when the call was adopted in doubt and held none:
 * the caller counts it in its batch now (roster_hold). */
int watch_set(struct watchlist *wl, const char *batch, uint32_t row, uint32_t seq, int state,
              const char *call_id, uint64_t deadline);
/* The call ended. Returns 1 when its slot is to be given back (roster_release): it was not
 * watched (a dial the provider has not accepted yet holds its pick's slot) or held one; 0 for a
 * call adopted in doubt. */
int watch_clear(struct watchlist *wl, const char *batch, uint32_t row);
/* Acts on every watch past its deadline (now: wall ms): a lookup at the provider, or, for a
 * call never confirmed placed, a report that its outcome is unknown. */
void watch_scan(struct watchlist *wl, uint64_t now);
/* Adopts the batch's calls in progress found in the store (now: wall ms): those the provider
 * accepted are counted in its slots and looked up at the first scan; those still being placed
 * are watched, in doubt, until deadline. */
int watch_adopt(struct watchlist *wl, struct store_txn *t, struct roster_batch *b, uint64_t now,
                uint64_t deadline);
size_t watch_count(const struct watchlist *wl);
void watch_free(struct watchlist *wl);

#endif
