/* What the compliance rules did to a batch: calls held by their calling window (per zone) and
 * by the frequency cap, calls suppressed at upload and at dial time, opt-outs, rows without
 * consent, and when the next held call's window opens. Counters come from the batch record and
 * DB_HELDZONE, which the dispatcher keeps with every job move, so this costs a few reads. */
#include "api/holds.h"

#include <string.h>

#include "api/api.h"
#include "api/batches.h"
#include "store/records.h"

/* Held calls' due entries are looked at up to this many to find the first held by window. */
#define NEXT_SCAN_MAX 4096

static cJSON *by_zone(struct store_txn *t, const char *batch)
{
    cJSON *o = cJSON_CreateObject();
    size_t blen = strlen(batch);
    struct store_iter it;
    store_iter_open(&it, t, DB_HELDZONE, batch, blen, NULL, 0);
    while (store_iter_next(&it) == 1) {
        char label[HELDZONE_KEY_MAX];
        uint32_t n;
        if (it.val.len != sizeof n)
            continue;
        memcpy(&n, it.val.ptr, sizeof n);
        heldzone_label(&it.key, blen, label, sizeof label);
        cJSON_AddNumberToObject(o, label, n);
    }
    store_iter_close(&it);
    return o;
}

/* The earliest time a call held by its window may go: the first such call in due order. */
static uint64_t next_opening(struct store_txn *t, const struct batch_rec *b)
{
    if (!b->held_window)
        return 0;
    size_t blen = strlen(b->id);
    struct store_iter it;
    uint64_t found = 0;
    store_iter_open(&it, t, DB_DUE, b->id, blen, NULL, 0);
    for (int i = 0; i < NEXT_SCAN_MAX && store_iter_next(&it) == 1; i++) {
        uint64_t due;
        uint32_t row;
        uint8_t key[JOB_KEY_MAX];
        struct store_val v;
        struct job_view jv;
        if (due_key_decode(&it.key, blen, &due, &row) != 0 ||
            store_get(t, DB_JOB, key, job_key(key, b->id, row), &v) != 0 ||
            job_decode(v.ptr, v.len, &jv) != 0)
            continue;
        if (jv.head.state == JOB_WAITING && jv.head.held == HELD_WINDOW) {
            found = due;
            break;
        }
    }
    store_iter_close(&it);
    return found;
}

void holds_get(struct http_request *req)
{
    struct store_txn t;
    struct batch_rec b;
    if (batches_begin(req, &t, &b) != 0)
        return;
    int over = b.status == BATCH_CANCELLED; /* its waiting calls are cancelled, held ones too */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "batchId", b.id);
    cJSON *w = cJSON_AddObjectToObject(o, "heldByWindow");
    cJSON_AddNumberToObject(w, "total", over ? 0 : (double)b.held_window);
    cJSON_AddItemToObject(w, "byZone", over ? cJSON_CreateObject() : by_zone(&t, b.id));
    cJSON_AddNumberToObject(o, "heldByCap", over ? 0 : (double)b.held_cap);
    cJSON_AddNumberToObject(o, "suppressedAtUpload", (double)b.suppressed_upload);
    cJSON_AddNumberToObject(o, "suppressedAtDial", (double)b.suppressed_dial);
    cJSON_AddNumberToObject(o, "optedOut", (double)b.opted_out);
    cJSON_AddNumberToObject(o, "noConsent", (double)b.no_consent);
    uint64_t next = over ? 0 : next_opening(&t, &b);
    if (next)
        cJSON_AddNumberToObject(o, "nextWindowOpensAt", (double)next);
    else
        cJSON_AddNullToObject(o, "nextWindowOpensAt");
    store_read_end(&t);
    api_respond_json(req, 200, o);
}
