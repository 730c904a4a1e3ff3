/* The webhook outbox: events written in the same transaction as the state change that causes
 * them, so an event exists exactly when its change does. DB_OUTBOX holds one entry per (event,
 * target URL) under an increasing sequence; the delivery worker reads, retries and deletes them.
 *
 * Targets: the workspace's webhook (webhooks/target.h) and the batch's webhookUrl (upload field).
 * An event is only recorded when the batch or its workspace has a target. */
#ifndef BC_WEBHOOKS_OUTBOX_H
#define BC_WEBHOOKS_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "store/records.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/id.h"

struct outbox;

/* Numbers new events after those already in the store s. Returns 0, BC_ENOMEM or a store error. */
int outbox_open(struct outbox **out, struct store *s);
void outbox_free(struct outbox *o);

/* Inside a write transaction: records an event of batch b for each of its targets. type is one of
 * batch.started, call.completed, call.failed, batch.completed, batch.cancelled. Takes ownership of
 * data. Returns 1 when it recorded the event, 0 when there is no target, or the transaction's
 * error. May run again if the transaction is replayed (map growth): it only writes through t. It
 * may run on the thread pool (store_write_async): calls are serialised by LMDB's single writer. */
int outbox_emit(struct outbox *o, struct store_txn *t, const struct batch_rec *b, const char *type,
                cJSON *data);
/* The data of an event, built only once the event is known to have a target: most workspaces
 * have none, and building the JSON of every call's final event for nothing cost more than the
 * look-up of the targets. Returns a new object (NULL: an empty one) that the outbox then owns. */
typedef cJSON *(*outbox_data_fn)(const void *ctx);
/* outbox_emit with the data built by build(ctx), called at most once, and only when the event
 * is recorded. */
int outbox_emit_built(struct outbox *o, struct store_txn *t, const struct batch_rec *b,
                      const char *type, outbox_data_fn build, const void *ctx);

/* ---- Reading entries, for the delivery worker ---- */

struct outbox_entry {
    char id[ID_MAX]; /* "" when the entry lacks it (then valid is 0) */
    char type[32];
    char ws[ID_MAX];
    uint64_t created_ms;
    uint32_t attempts;   /* failed attempts so far */
    uint64_t next_at_ms; /* no attempt before this wall-clock time */
    int valid;           /* id, type and workspace are present: the entry can be sent */
};

/* Reads entry seq, and when valid renders into body exactly what the receiver gets (and the
 * signature covers): {"id","type","createdAt","data"}. Returns 0, BC_ENOTFOUND, BC_ENOMEM or a
 * store error. */
int outbox_read(struct store_txn *t, uint64_t seq, struct outbox_entry *e, struct buf *body);
/* Records a failed attempt on entry seq, so a restart resumes its backoff. A missing or
 * unreadable entry is left alone. */
int outbox_set_retry(struct store_txn *t, uint64_t seq, uint32_t attempts, uint64_t next_at_ms);
/* Deletes entry seq, if it is still there. */
int outbox_delete(struct store_txn *t, uint64_t seq);

/* Calls fn(ctx, seq, url) for the entries from sequence from on, oldest first, at most max of
 * them; url is NULL for an entry without one. Stops at the first nonzero return of fn. Returns
 * the number of entries visited (the one fn failed on included), or a negative error (fn's, or
 * the store's). */
typedef int (*outbox_visit_fn)(void *ctx, uint64_t seq, const char *url);
int outbox_scan(struct store *s, uint64_t from, size_t max, outbox_visit_fn fn, void *ctx);

#endif
