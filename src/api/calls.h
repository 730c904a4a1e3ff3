/* Reading calls: one call (A5), the calls of a batch (A4), and the CSV export (B5). */
#ifndef BC_API_CALLS_H
#define BC_API_CALLS_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "http/http.h"
#include "store/store.h"

void calls_get(struct http_request *req);
void calls_list(struct http_request *req);
void calls_export(struct http_request *req);

/* One call as A4 lists it, or NULL. *meta caches the batch's parsed settings for further calls
 * of the same batch: start with NULL, release with calls_meta_free. */
struct calls_meta;
cJSON *calls_json(struct store_txn *t, const char *batch, uint32_t row, struct calls_meta **meta);
void calls_meta_free(struct calls_meta *m);

#endif
