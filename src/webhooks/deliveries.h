/* The deliveries log: DB_DELIVERY records every webhook attempt of a workspace (its JSON is what
 * GET /v1/api/webhook/deliveries lists), oldest first, trimmed to the newest DELIVERIES_KEEP. */
#ifndef BC_WEBHOOKS_DELIVERIES_H
#define BC_WEBHOOKS_DELIVERIES_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "store/store.h"

#define DELIVERIES_KEEP 1000

/* Stores record (and frees it) as the attempt at outbox entry seq made at at_ms. */
int deliveries_put(struct store_txn *t, const char *ws, uint64_t at_ms, uint64_t seq,
                   cJSON *record);
/* Deletes the workspace's oldest records beyond DELIVERIES_KEEP. */
int deliveries_trim(struct store_txn *t, const char *ws);
/* Appends to arr the records of page `page` (from 1) of `limit` records, newest first, and sets
 * total to the number of records. Returns 0 or a store error. */
int deliveries_page(struct store *s, const char *ws, size_t wslen, uint64_t page, uint64_t limit,
                    cJSON *arr, uint64_t *total);

#endif
