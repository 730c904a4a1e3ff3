#include "webhooks/webhooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/json.h"
#include "webhooks/outbox.h"

struct webhooks {
    struct outbox *outbox;
    struct delivery *delivery;
};

int webhooks_start(struct webhooks **out, struct store *s, uv_loop_t *loop)
{
    struct webhooks *w = calloc(1, sizeof *w);
    if (!w)
        return BC_ENOMEM;
    int rc = outbox_open(&w->outbox, s);
    if (!rc && (rc = delivery_start(&w->delivery, s, loop)) != 0)
        outbox_free(w->outbox);
    if (rc) {
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

void webhooks_stop(struct webhooks *w)
{
    if (!w)
        return;
    delivery_stop(w->delivery);
    outbox_free(w->outbox);
    free(w);
}

int webhooks_configure(struct webhooks *w, const struct delivery_config *c)
{
    return delivery_configure(w->delivery, c);
}

void webhooks_stats(const struct webhooks *w, uint64_t *delivered, uint64_t *failed,
                    uint64_t *gave_up)
{
    delivery_stats(w ? w->delivery : NULL, delivered, failed, gave_up);
}

/* What the outbox answered (rc): an event recorded in a transaction on the loop is delivered
 * once it has committed. */
static int emitted(struct webhooks *w, const struct store_txn *t, int rc)
{
    /* The timer fires on a later loop pass, after the caller's transaction committed; if it did
     * not, the worker finds nothing new. A transaction on the pool may commit after that pass,
     * so its owner kicks once it has committed. */
    if (rc > 0 && !t->async)
        webhooks_kick(w);
    return rc < 0 ? rc : 0;
}

int webhooks_emit(struct webhooks *w, struct store_txn *t, const struct batch_rec *b,
                  const char *type, cJSON *data)
{
    if (!w) {
        cJSON_Delete(data);
        return 0;
    }
    return emitted(w, t, outbox_emit(w->outbox, t, b, type, data));
}

int webhooks_emit_built(struct webhooks *w, struct store_txn *t, const struct batch_rec *b,
                        const char *type, outbox_data_fn build, const void *ctx)
{
    if (!w)
        return 0;
    return emitted(w, t, outbox_emit_built(w->outbox, t, b, type, build, ctx));
}

void webhooks_kick(struct webhooks *w)
{
    if (w)
        delivery_kick(w->delivery);
}

/* ---- event data ---- */

static void add_time(cJSON *o, const char *name, uint64_t ms)
{
    if (ms)
        cJSON_AddNumberToObject(o, name, (double)ms);
    else
        cJSON_AddNullToObject(o, name);
}

cJSON *webhooks_batch_data(const struct batch_rec *b)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "batchId", b->id);
    cJSON_AddStringToObject(o, "status", batch_status_name(b->status));
    cJSON_AddNumberToObject(o, "totalCalls", (double)b->total);
    cJSON_AddNumberToObject(o, "waiting", (double)b->waiting);
    cJSON_AddNumberToObject(o, "held", (double)(b->held_window + b->held_cap));
    cJSON_AddNumberToObject(o, "active", (double)b->active);
    cJSON_AddNumberToObject(o, "completed", (double)b->completed);
    cJSON_AddNumberToObject(o, "failed", (double)b->failed);
    cJSON_AddNumberToObject(o, "cancelled", (double)b->cancelled);
    add_time(o, "startTime", b->started_ms);
    add_time(o, "completedTime", b->completed_ms);
    return o;
}

cJSON *webhooks_call_data(const struct batch_rec *b, uint32_t row, const struct job_head *h,
                          const char *error, size_t error_len)
{
    char job[24];
    snprintf(job, sizeof job, "call_%u", row);
    const char *outcome = job_outcome_name(h->outcome);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "batchId", b->id);
    cJSON_AddStringToObject(o, "jobId", job);
    cJSON_AddStringToObject(o, "status", job_state_name(h->state));
    if (outcome)
        cJSON_AddStringToObject(o, "outcome", outcome);
    else
        cJSON_AddNullToObject(o, "outcome");
    json_add_strn(o, "phone_number", h->e164, strnlen(h->e164, sizeof h->e164));
    cJSON_AddNumberToObject(o, "attempts", h->attempts);
    add_time(o, "startTime", h->start_ms);
    add_time(o, "endTime", h->end_ms);
    cJSON_AddNumberToObject(o, "duration", h->duration);
    size_t idlen = strnlen(h->call_id, sizeof h->call_id);
    if (idlen)
        json_add_strn(o, "callId", h->call_id, idlen);
    else
        cJSON_AddNullToObject(o, "callId");
    if (error_len)
        json_add_strn(o, "error", error, error_len);
    else
        cJSON_AddNullToObject(o, "error");
    return o;
}
