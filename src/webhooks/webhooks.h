/* Webhooks (API.md B7): events written to a durable outbox in the same transaction as the state
 * change that causes them (webhooks/outbox.h), then delivered at least once, in order per target,
 * signed (webhooks/signing.h), retried with exponential backoff for 24 hours
 * (webhooks/delivery.h). Each event has a stable id for de-duplication. This is what the rest of
 * the server holds: the outbox and its delivery worker, started and stopped together. */
#ifndef BC_WEBHOOKS_WEBHOOKS_H
#define BC_WEBHOOKS_WEBHOOKS_H

#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "store/records.h"
#include "store/store.h"
#include "webhooks/delivery.h"
#include "webhooks/outbox.h"

struct webhooks;

/* Opens the outbox of store s and starts delivering on loop, with the default delivery settings.
 * Needs client_global_init done. Returns 0, BC_ENOMEM, a store or an HTTP client error. */
int webhooks_start(struct webhooks **out, struct store *s, uv_loop_t *loop);
/* Stops delivering (see delivery_stop) and frees w. */
void webhooks_stop(struct webhooks *w);
/* Returns 0, or BC_EINVAL (nothing changed) when a value is 0 or backoff_max_ms < backoff_ms. */
int webhooks_configure(struct webhooks *w, const struct delivery_config *c);
/* See delivery_stats; all 0 when w is NULL. */
void webhooks_stats(const struct webhooks *w, uint64_t *delivered, uint64_t *failed,
                    uint64_t *gave_up);

/* Inside a write transaction: records an event of batch b in the outbox if it has a target
 * (see outbox_emit). w NULL records nothing. Takes ownership of data. Returns 0 or the
 * transaction's error. May run again if the transaction is replayed (map growth): it must only
 * write through t. It may run in a transaction on the thread pool (store_write_async); the caller
 * then calls webhooks_kick on the loop once that transaction has committed. */
int webhooks_emit(struct webhooks *w, struct store_txn *t, const struct batch_rec *b,
                  const char *type, cJSON *data);
/* webhooks_emit with the data built by build(ctx) only when a target receives the event (see
 * outbox_emit_built): for events whose data costs more to build than to pass. */
int webhooks_emit_built(struct webhooks *w, struct store_txn *t, const struct batch_rec *b,
                        const char *type, outbox_data_fn build, const void *ctx);
/* After a commit that may have recorded events: start delivering them. */
void webhooks_kick(struct webhooks *w);

/* ---- Event data, for the callers of webhooks_emit ---- */

/* {"batchId","status","totalCalls","waiting","active","completed","failed","cancelled",
 *  "startTime","completedTime"} */
cJSON *webhooks_batch_data(const struct batch_rec *b);
/* {"batchId","jobId","status","outcome","phone_number","attempts","startTime","endTime",
 *  "duration","callId","error"} of the job at row with head h (its new state). */
cJSON *webhooks_call_data(const struct batch_rec *b, uint32_t row, const struct job_head *h,
                          const char *error, size_t error_len);

#endif
