/* Entries are JSON: {"id", "type", "createdAt", "data", "workspace", "url", "attempts",
 * "nextAttemptAt"}. The first four are the body sent; the rest is the delivery's bookkeeping. */
#include "webhooks/outbox.h"

#include <stdlib.h>
#include <string.h>

#include "model/url.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/json.h"
#include "util/log.h"
#include "util/map.h"
#include "webhooks/target.h"

/* webhookUrl of recent batches; the cache is simply emptied when it reaches this size. */
#define BATCH_CACHE_MAX 4096

/* A batch's own target, cached because batch metadata is large and written once. */
struct batch_target {
    int has_url;
    char url[];
};

/* Used only inside write transactions, which LMDB runs one at a time whether on the loop or on
 * the pool (the dispatcher's commits). */
struct outbox {
    struct id_gen ids;  /* event ids */
    struct map batches; /* batch id -> struct batch_target */
    size_t nbatches;
    uint64_t next_seq; /* the next outbox key */
};

/* ---- sequence ---- */

/* 1 when the outbox holds a key >= seq. */
static int has_from(struct store_txn *t, uint64_t seq)
{
    uint8_t key[OUTBOX_KEY_LEN];
    struct store_iter it;
    store_iter_open(&it, t, DB_OUTBOX, "", 0, key, outbox_key(key, seq));
    int rc = store_iter_next(&it);
    store_iter_close(&it);
    return rc == 1;
}

/* The largest outbox key, or 0 when it is empty. The store's cursors only move forward, so the
 * key is found bit by bit: 64 lookups of "is there a key at or above x" whatever the size. */
static uint64_t last_in(struct store_txn *t)
{
    uint64_t last = 0;
    if (has_from(t, 0))
        for (int bit = 63; bit >= 0; bit--)
            if (has_from(t, last | (1ull << bit)))
                last |= 1ull << bit;
    return last;
}

static int last_seq(struct store *st, uint64_t *out)
{
    struct store_txn t;
    int rc = store_read_begin(st, &t);
    if (rc)
        return rc;
    *out = last_in(&t);
    rc = t.err;
    store_read_end(&t);
    return rc;
}

int outbox_open(struct outbox **out, struct store *s)
{
    struct outbox *o = calloc(1, sizeof *o);
    if (!o)
        return BC_ENOMEM;
    uint64_t last;
    int rc = last_seq(s, &last);
    if (rc) {
        free(o);
        return rc;
    }
    o->next_seq = last + 1;
    *out = o;
    return 0;
}

void outbox_free(struct outbox *o)
{
    if (!o)
        return;
    map_free(&o->batches, free);
    free(o);
}

/* ---- recording events ---- */

/* The batch's webhookUrl (NULL when it has none), read from its metadata once. */
static int batch_url(struct outbox *o, struct store_txn *t, const char *batch, const char **url)
{
    size_t blen = strlen(batch);
    struct batch_target *bt = map_get(&o->batches, batch, blen);
    if (!bt) {
        struct store_val v;
        int rc = store_get(t, DB_BATCHMETA, batch, blen, &v);
        if (rc && rc != BC_ENOTFOUND)
            return rc;
        cJSON *meta = rc ? NULL : cJSON_ParseWithLength(v.ptr, v.len);
        const char *u = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "webhookUrl"));
        /* A URL delivery would not accept (the upload form's rule is looser) is no target. */
        if (u && url_check(u, strlen(u), 0) != 0)
            u = NULL;
        size_t ulen = u ? strlen(u) : 0;
        bt = malloc(sizeof *bt + ulen + 1);
        if (!bt) {
            cJSON_Delete(meta);
            return BC_ENOMEM;
        }
        bt->has_url = u != NULL;
        memcpy(bt->url, u ? u : "", ulen + 1);
        cJSON_Delete(meta);
        if (o->nbatches >= BATCH_CACHE_MAX) {
            map_free(&o->batches, free);
            o->nbatches = 0;
        }
        if (map_put(&o->batches, batch, blen, bt) != 0) {
            free(bt);
            return BC_ENOMEM;
        }
        o->nbatches++;
    }
    *url = bt->has_url ? bt->url : NULL;
    return 0;
}

static void forget_batch(struct outbox *o, const char *batch)
{
    struct batch_target *bt = map_del(&o->batches, batch, strlen(batch));
    if (bt) {
        free(bt);
        o->nbatches--;
    }
}

static int put_entries(struct outbox *o, struct store_txn *t, cJSON *entry, const char *const *urls,
                       size_t n)
{
    struct buf b = {0};
    int rc = 0;
    /* `batchcalld admin workspace import` (another process) adds entries numbered above ours
     * (records_outbox_import_base): continue after them, so that no key is written twice and
     * the delivery worker, which reads the outbox in order, sees every new one. */
    if (n && has_from(t, o->next_seq))
        o->next_seq = last_in(t) + 1;
    for (size_t i = 0; i < n && !rc; i++) {
        cJSON_ReplaceItemInObjectCaseSensitive(entry, "url", cJSON_CreateString(urls[i]));
        b.len = 0;
        rc = json_render(&b, entry);
        uint8_t key[OUTBOX_KEY_LEN];
        /* A replayed transaction takes new numbers; the gaps are harmless. */
        size_t klen = outbox_key(key, o->next_seq++);
        if (!rc)
            rc = store_put(t, DB_OUTBOX, key, klen, b.data, b.len, STORE_APPEND);
    }
    buf_free(&b);
    return rc;
}

static cJSON *take_data(const void *ctx)
{
    cJSON **data = (cJSON **)ctx;
    cJSON *d = *data;
    *data = NULL;
    return d;
}

int outbox_emit(struct outbox *o, struct store_txn *t, const struct batch_rec *b, const char *type,
                cJSON *data)
{
    int rc = outbox_emit_built(o, t, b, type, take_data, &data);
    cJSON_Delete(data); /* not taken: no target, or an error before */
    return rc;
}

int outbox_emit_built(struct outbox *o, struct store_txn *t, const struct batch_rec *b,
                      const char *type, outbox_data_fn build, const void *ctx)
{
    size_t wslen = strlen(b->ws);
    struct target tg;
    int rc = target_get(t, b->ws, wslen, &tg);
    int has_target = rc == 0;
    if (rc == BC_ECORRUPT)
        log_error("unreadable webhook record; ignoring it", "workspace=%s", b->ws);
    else if (rc && rc != BC_ENOTFOUND)
        return rc;
    const char *burl = NULL;
    if ((rc = batch_url(o, t, b->id, &burl)) != 0)
        return rc;
    const char *urls[2];
    size_t n = 0;
    if (has_target && tg.url[0])
        urls[n++] = tg.url;
    if (burl && (n == 0 || strcmp(burl, urls[0]) != 0))
        urls[n++] = burl;
    if (n == 0)
        return 0;
    /* Batch targets are signed with the workspace's secret; a workspace without one gets one now
     * (README: its owner sees it by rotating it with PUT /v1/api/webhook). */
    if (burl && !has_target && (rc = target_put(t, b->ws, wslen, NULL, &tg)) != 0)
        return rc;
    uint64_t now = clock_now_ms();
    char id[ID_MAX];
    if ((rc = id_new(&o->ids, "evt_", now, id)) < 0)
        return rc;
    cJSON *data = build ? build(ctx) : NULL;
    cJSON *entry = cJSON_CreateObject();
    cJSON_AddStringToObject(entry, "id", id);
    cJSON_AddStringToObject(entry, "type", type);
    cJSON_AddNumberToObject(entry, "createdAt", (double)now);
    cJSON_AddItemToObject(entry, "data", data ? data : cJSON_CreateObject());
    cJSON_AddStringToObject(entry, "workspace", b->ws);
    cJSON_AddNullToObject(entry, "url");
    cJSON_AddNumberToObject(entry, "attempts", 0);
    cJSON_AddNumberToObject(entry, "nextAttemptAt", 0);
    rc = put_entries(o, t, entry, urls, n);
    cJSON_Delete(entry);
    if (!strcmp(type, "batch.completed") || !strcmp(type, "batch.cancelled"))
        forget_batch(o, b->id);
    return rc ? rc : 1;
}

/* ---- reading entries ---- */

static uint64_t number_of(const cJSON *e, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, name);
    return cJSON_IsNumber(v) ? (uint64_t)v->valuedouble : 0;
}

static void copy_string(const cJSON *e, const char *name, char *out, size_t cap)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, name));
    snprintf(out, cap, "%s", s ? s : "");
}

int outbox_read(struct store_txn *t, uint64_t seq, struct outbox_entry *e, struct buf *body)
{
    uint8_t key[OUTBOX_KEY_LEN];
    struct store_val v;
    int rc = store_get(t, DB_OUTBOX, key, outbox_key(key, seq), &v);
    if (rc)
        return rc;
    cJSON *o = cJSON_ParseWithLength(v.ptr, v.len);
    e->valid = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "id")) &&
               cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "type")) &&
               cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "workspace"));
    copy_string(o, "id", e->id, sizeof e->id);
    copy_string(o, "type", e->type, sizeof e->type);
    copy_string(o, "workspace", e->ws, sizeof e->ws);
    e->created_ms = number_of(o, "createdAt");
    e->attempts = (uint32_t)number_of(o, "attempts");
    e->next_at_ms = number_of(o, "nextAttemptAt");
    if (e->valid) {
        cJSON *out = cJSON_CreateObject();
        static const char *const sent[] = {"id", "type", "createdAt", "data"};
        for (size_t i = 0; i < sizeof sent / sizeof sent[0]; i++)
            cJSON_AddItemToObject(out, sent[i],
                                  cJSON_DetachItemFromObjectCaseSensitive(o, sent[i]));
        rc = json_render(body, out);
        cJSON_Delete(out);
    }
    cJSON_Delete(o);
    return rc;
}

int outbox_set_retry(struct store_txn *t, uint64_t seq, uint32_t attempts, uint64_t next_at_ms)
{
    uint8_t key[OUTBOX_KEY_LEN];
    size_t klen = outbox_key(key, seq);
    struct store_val v;
    int rc = store_get(t, DB_OUTBOX, key, klen, &v);
    if (rc)
        return rc == BC_ENOTFOUND ? 0 : rc;
    cJSON *e = cJSON_ParseWithLength(v.ptr, v.len);
    if (!e)
        return 0;
    cJSON_ReplaceItemInObjectCaseSensitive(e, "attempts", cJSON_CreateNumber(attempts));
    cJSON_ReplaceItemInObjectCaseSensitive(e, "nextAttemptAt",
                                           cJSON_CreateNumber((double)next_at_ms));
    return records_put_json(t, DB_OUTBOX, key, klen, e);
}

int outbox_delete(struct store_txn *t, uint64_t seq)
{
    uint8_t key[OUTBOX_KEY_LEN];
    int rc = store_del(t, DB_OUTBOX, key, outbox_key(key, seq));
    return rc == BC_ENOTFOUND ? 0 : rc;
}

int outbox_scan(struct store *s, uint64_t from, size_t max, outbox_visit_fn fn, void *ctx)
{
    struct store_txn t;
    int rc = store_read_begin(s, &t);
    if (rc)
        return rc;
    uint8_t start[OUTBOX_KEY_LEN];
    struct store_iter it;
    size_t n = 0;
    store_iter_open(&it, &t, DB_OUTBOX, "", 0, start, outbox_key(start, from));
    while (n < max && (rc = store_iter_next(&it)) == 1) {
        n++;
        cJSON *e = cJSON_ParseWithLength(it.val.ptr, it.val.len);
        const char *url = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "url"));
        rc = fn(ctx, outbox_key_seq(&it.key), url);
        cJSON_Delete(e);
        if (rc)
            break;
    }
    store_iter_close(&it);
    store_read_end(&t);
    return rc < 0 ? rc : (int)n;
}
