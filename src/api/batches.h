/* Batches: status reads, the workspace's batch list, the CSV template, and the background
 * removal of uploads that never became batches. */
#ifndef BC_API_BATCHES_H
#define BC_API_BATCHES_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "app.h"
#include "http/http.h"
#include "store/records.h"

void batches_template(struct http_request *req);
void batches_get(struct http_request *req);
void batches_status(struct http_request *req);
void batches_list(struct http_request *req);

/* The A3 object of a batch (flat progress), also sent as the live progress event. */
cJSON *batches_progress_json(struct store_txn *t, const struct batch_rec *b);

/* The A2 object of a batch (B3 lists it without recent_calls). */
cJSON *batches_status_json(struct store_txn *t, const struct batch_rec *b, int with_recent);

/* Loads a batch of the request's workspace by the id in the first path parameter, or responds
 * 404 and returns non-zero. Staging batches do not exist for the API. */
int batches_load(struct http_request *req, struct store_txn *t, struct batch_rec *b);
/* Opens a read snapshot and loads the request's batch into it (batches_load). On 0 the caller
 * ends the snapshot; otherwise it has been ended and the error answered. */
int batches_begin(struct http_request *req, struct store_txn *t, struct batch_rec *b);

/* Parses an ISO-8601 UTC time with Z or an offset ("2026-12-01T15:00:00Z",
 * "2026-12-01T16:00:00.5+01:00") into Unix milliseconds. Returns 0, BC_EINVAL when the text is
 * not such a time, or BC_ENOTFOUND when it is written correctly but names a date or time that
 * does not exist (30 February, hour 24). */
int batches_parse_time(const char *s, uint64_t *ms);

/* Queues a staging batch for removal in the background (a failed or abandoned upload). */
void batches_purge_later(struct app *app, const char *batch_id);
/* At start-up: queues the background work a stop interrupted: the removal of every staging
 * batch, the rewrite of the waiting calls of every cancelled batch that still has some, and the
 * move back to waiting of the failed calls a retry counted (requeue_pending). */
int batches_resume_background(struct app *app);

#endif
