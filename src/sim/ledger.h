/* The simulator's ledger: what it received, counted from the provider's side so tests can judge
 * the dialer (GET /sim/stats, GET /sim/dials?batch=ID). Requests are grouped by the batch, row
 * and attempt that the StatusCallback URL's query names (b, r, a); a request whose (b, r, a) was
 * seen before counts as a duplicate. */
#ifndef BC_SIM_LEDGER_H
#define BC_SIM_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "util/buf.h"
#include "util/map.h"

#define LEDGER_SECONDS 600 /* perSecond covers this many seconds */

struct ledger_second {
    uint64_t second; /* unix seconds this slot counts, slots are reused modulo LEDGER_SECONDS */
    uint64_t dials;
};

struct ledger_batch; /* what one batch sent us (ledger.c) */

struct ledger {
    uint64_t requests, accepted, rejected, duplicates, fetches;
    uint64_t max_in_progress;
    uint64_t callbacks_sent, callbacks_failed, callbacks_retried;
    struct ledger_second seconds[LEDGER_SECONDS];
    struct map batches; /* id -> struct ledger_batch */
    struct ledger_batch *batch_head, *batch_tail;
};

/* Frees every batch record and zeroes the ledger (a zeroed ledger is an empty one). */
void ledger_clear(struct ledger *l);
/* Counts a create request in its second (perSecond). */
void ledger_count_dial(struct ledger *l, uint64_t now_ms);
/* Records a valid create request of callback_url's batch. *out is its batch, or NULL when the
 * URL does not name one. Returns 0 or BC_ENOMEM. */
int ledger_record(struct ledger *l, const char *callback_url, uint64_t now_ms,
                  struct ledger_batch **out);
/* Counts a create request that became a call, in its batch too when b is not NULL. */
void ledger_accept(struct ledger *l, struct ledger_batch *b);
/* The GET /sim/stats body (in_progress: calls now in progress), or NULL when out of memory. */
cJSON *ledger_stats_json(const struct ledger *l, uint64_t in_progress);
/* Appends the GET /sim/dials body for batch id: {"batch": id, "dials": [[unix_ms, row, seq],
 * ...]}, rendered by hand since it can hold 200k entries. Returns 0 or BC_ENOMEM. */
int ledger_dials_json(const struct ledger *l, const char *id, size_t len, struct buf *out);

#endif
