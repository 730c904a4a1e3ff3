/* Keys are workspace | time | sequence (store/records.h). A workspace's keys are exactly its id
 * and the 16-byte suffix, so a longer id sharing the prefix is never counted. */
#include "webhooks/deliveries.h"

#include <stdlib.h>
#include <string.h>

#include "store/records.h"
#include "util/err.h"

int deliveries_put(struct store_txn *t, const char *ws, uint64_t at_ms, uint64_t seq, cJSON *record)
{
    uint8_t key[DELIVERY_KEY_MAX];
    size_t klen = delivery_key(key, ws, strlen(ws), at_ms, seq);
    return records_put_json(t, DB_DELIVERY, key, klen, record);
}

/* Counts the records of the workspace: 0 or a store error. */
static int count(struct store_txn *t, const char *ws, size_t wslen, uint64_t *out)
{
    struct store_iter it;
    int rc;
    uint64_t n = 0;
    store_iter_open(&it, t, DB_DELIVERY, ws, wslen, NULL, 0);
    while ((rc = store_iter_next(&it)) == 1)
        n += delivery_key_of(&it.key, wslen);
    store_iter_close(&it);
    *out = n;
    return rc;
}

int deliveries_trim(struct store_txn *t, const char *ws)
{
    size_t wl = strlen(ws);
    uint64_t total;
    int rc = count(t, ws, wl, &total);
    if (rc < 0 || total <= DELIVERIES_KEEP)
        return rc;
    size_t extra = total - DELIVERIES_KEEP, n = 0, klen = 0;
    uint8_t(*keys)[DELIVERY_KEY_MAX] = malloc(extra * sizeof *keys);
    if (!keys)
        return BC_ENOMEM;
    struct store_iter it;
    store_iter_open(&it, t, DB_DELIVERY, ws, wl, NULL, 0);
    while (n < extra && (rc = store_iter_next(&it)) == 1)
        if (delivery_key_of(&it.key, wl)) {
            klen = it.key.len;
            memcpy(keys[n++], it.key.ptr, klen);
        }
    store_iter_close(&it);
    for (size_t i = 0; i < n && rc >= 0; i++)
        rc = store_del(t, DB_DELIVERY, keys[i], klen);
    free(keys);
    return rc < 0 ? rc : 0;
}

int deliveries_page(struct store *s, const char *ws, size_t wslen, uint64_t page, uint64_t limit,
                    cJSON *arr, uint64_t *total)
{
    struct store_txn t;
    int rc = store_read_begin(s, &t);
    if (rc)
        return rc;
    rc = count(&t, ws, wslen, total);
    /* Keys run oldest first and the page counts from the newest: page p covers the ascending
     * positions [total - p*limit, total - (p-1)*limit). Prepending each keeps newest first. */
    uint64_t skip = (page - 1) * limit;
    uint64_t hi = *total > skip ? *total - skip : 0;
    uint64_t lo = hi > limit ? hi - limit : 0;
    uint64_t pos = 0;
    if (rc == 0 && hi > 0) {
        struct store_iter it;
        store_iter_open(&it, &t, DB_DELIVERY, ws, wslen, NULL, 0);
        while (pos < hi && (rc = store_iter_next(&it)) == 1) {
            if (!delivery_key_of(&it.key, wslen))
                continue;
            cJSON *d = pos >= lo ? cJSON_ParseWithLength(it.val.ptr, it.val.len) : NULL;
            if (d)
                cJSON_InsertItemInArray(arr, 0, d);
            pos++;
        }
        store_iter_close(&it);
    }
    store_read_end(&t);
    return rc < 0 ? rc : 0;
}
