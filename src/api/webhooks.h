/* Webhooks (API.md B7): events written to a durable outbox in the same transaction as the state
 * change that causes them, then delivered at least once, in order per target, signed
 * `X-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, retried with exponential
 * backoff for 24 hours. Each event has a stable id for de-duplication.
 *
 * Targets: the workspace's webhook (admin CLI or PUT /v1/api/webhook) and the batch's webhookUrl
 * (upload field). An event is only recorded when the batch or its workspace has a target. */
#ifndef BC_API_WEBHOOKS_H
#define BC_API_WEBHOOKS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "store/records.h"
#include "store/store.h"

struct app;
struct webhooks;

int webhooks_start(struct webhooks **out, struct app *app);
void webhooks_stop(struct webhooks *w);

/* Inside a write transaction: records an event of batch b in the outbox if it has a target.
 * type is one of batch.started, call.completed, call.failed, batch.completed, batch.cancelled.
 * Takes ownership of data. Returns 0 or the transaction's error. May run again if the
 * transaction is replayed (map growth): it must only write through t. It may run in a
 * transaction on the thread pool (store_write_async); the caller then calls webhooks_kick on the
 * loop once that transaction has committed. */
int webhooks_emit(struct webhooks *w, struct store_txn *t, const struct batch_rec *b,
                  const char *type, cJSON *data);
/* After a commit that may have recorded events: start delivering them. */
void webhooks_kick(struct webhooks *w);

/* Routes. */
struct http_request;
void webhooks_put(struct http_request *req);        /* PUT /v1/api/webhook */
void webhooks_get(struct http_request *req);        /* GET /v1/api/webhook */
void webhooks_delete(struct http_request *req);     /* DELETE /v1/api/webhook */
void webhooks_deliveries(struct http_request *req); /* GET /v1/api/webhook/deliveries */

/* ---- Delivery settings (serve flags --webhook-*) ---- */

struct webhooks_config {
    uint64_t backoff_ms;     /* wait after the first failed attempt; doubles per attempt */
    uint64_t backoff_max_ms; /* the wait never grows past this */
    uint64_t max_age_ms;     /* no retry is scheduled later than this after the event */
    uint64_t timeout_ms;     /* one request, connection included */
};

/* 1 s, 1 h, 24 h, 10 s. */
void webhooks_config_defaults(struct webhooks_config *c);
/* Returns 0, or BC_EINVAL (nothing changed) when a value is 0 or backoff_max_ms < backoff_ms. */
int webhooks_configure(struct webhooks *w, const struct webhooks_config *c);
/* Counters for /metrics: events delivered, failed attempts (every non-2xx answer, network error
 * or timeout), events given up after max_age_ms. */
void webhooks_stats(const struct webhooks *w, uint64_t *delivered, uint64_t *failed,
                    uint64_t *gave_up);

/* ---- Workspace targets, shared by the API and the admin CLI ---- */

#define WEBHOOK_URL_MAX       2048
#define WEBHOOK_SECRET_LEN    70 /* "whsec_" and 64 hex digits */
#define WEBHOOK_SIGNATURE_MAX 128

/* 1 if url is an http:// or https:// URL with a host, at most WEBHOOK_URL_MAX bytes, without
 * spaces or control characters. */
int webhooks_url_valid(const char *url, size_t len);
/* Sets the workspace's URL (NULL: none, only a signing secret for batch webhookUrls) with a new
 * secret, replacing any earlier one. Returns 0, BC_ENOTFOUND (no such workspace), BC_EINVAL (bad
 * URL) or a store error. */
int webhooks_set(struct store *s, const char *ws, size_t wslen, const char *url,
                 char secret[WEBHOOK_SECRET_LEN + 1], uint64_t *created_ms);
/* Removes the workspace's URL and secret. Returns 0, BC_ENOTFOUND or a store error. */
int webhooks_remove(struct store *s, const char *ws, size_t wslen);

/* The X-Signature value "t=<unix_s>,v1=<hex HMAC-SHA256(secret, "<unix_s>.<body>")>".
 * Returns 0 or BC_ENOMEM. */
int webhooks_sign(const char *secret, size_t secret_len, uint64_t unix_s, const char *body,
                  size_t len, char out[WEBHOOK_SIGNATURE_MAX]);

/* ---- Event data, for the callers of webhooks_emit ---- */

/* {"batchId","status","totalCalls","waiting","active","completed","failed","cancelled",
 *  "startTime","completedTime"} */
cJSON *webhooks_batch_data(const struct batch_rec *b);
/* {"batchId","jobId","status","outcome","phone_number","attempts","startTime","endTime",
 *  "duration","callId","error"} of the job at row with head h (its new state). */
cJSON *webhooks_call_data(const struct batch_rec *b, uint32_t row, const struct job_head *h,
                          const char *error, size_t error_len);

#endif
