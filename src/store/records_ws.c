/* A workspace's keys in every table (the fleet's export, import and drop): see store/records_ws.h.
 * Part of the store's records (store/records.h). */
#include "store/records_ws.h"

#include <stdlib.h>
#include <string.h>

#include "store/records.h"
#include "util/err.h"
#include "util/json.h"

const struct records_ws_table records_ws_tables[] = {
    {DB_KEYHASH2WS, "keyhash2ws", WSF_KEYHASH, 0},
    {DB_AGENT, "agent", WSF_WS_SLASH, 0},
    {DB_IDEM, "idem", WSF_WS_SLASH, 0},
    {DB_WEBHOOK, "webhook", WSF_WS_KEY, 0},
    {DB_WS2BATCH, "ws2batch", WSF_WS2BATCH, 0},
    {DB_USAGE, "usage", WSF_USAGE, 0},
    {DB_DELIVERY, "delivery", WSF_DELIVERY, 0},
    {DB_BATCHMETA, "batchmeta", WSF_BATCH_KEY, 0},
    {DB_JOB, "job", WSF_BATCH_BIN, 0},
    {DB_JOBSTATE, "jobstate", WSF_BATCH_BIN, 0},
    {DB_STATECOUNT, "statecount", WSF_BATCH_BIN, 0},
    {DB_DUE, "due", WSF_BATCH_PREFIX, 0},
    {DB_FINALSEQ, "finalseq", WSF_BATCH_BIN, 0},
    {DB_TRANSCRIPT, "transcript", WSF_BATCH_BIN, 0},
    {DB_HELDZONE, "heldzone", WSF_BATCH_PREFIX, 0},
    {DB_CAP, "cap", WSF_WS_SLASH, 0},
    {DB_SUPPRESS, "suppress", WSF_WS_SLASH, 0},
    {DB_POLICY, "policy", WSF_WS_KEY, 0},
    {DB_SID, "sid2job", WSF_SID, 0},
    {DB_BATCH, "batch", WSF_BATCH_KEY, 1},
    {DB_OUTBOX, "outbox", WSF_OUTBOX, 1},
    {DB_WS, "ws", WSF_WS_KEY, 1},
};
const size_t records_ws_ntables = sizeof records_ws_tables / sizeof records_ws_tables[0];

const struct records_ws_table *records_ws_table_named(const char *name, size_t len)
{
    for (size_t i = 0; i < records_ws_ntables; i++)
        if (strlen(records_ws_tables[i].name) == len &&
            memcmp(records_ws_tables[i].name, name, len) == 0)
            return &records_ws_tables[i];
    return NULL;
}

static int batch_id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, BATCH_ID_LEN);
}

int records_ws_has_batch(const struct records_ws *w, const void *id, size_t len)
{
    if (len != BATCH_ID_LEN || !w->nbatches)
        return 0;
    return bsearch(id, w->batches, w->nbatches, sizeof w->batches[0], batch_id_cmp) != NULL;
}

static int bin_cmp(const void *a, const void *b)
{
    return memcmp(a, b, KEY_BATCH_BIN);
}

/* Whether a key of the job tables begins with one of w's batches. */
static int has_batch_bin(const struct records_ws *w, const struct store_val *key)
{
    return key->len > KEY_BATCH_BIN && w->nbatches &&
           bsearch(key->ptr, w->bins, w->nbatches, sizeof w->bins[0], bin_cmp) != NULL;
}

int records_ws_add_batch(struct records_ws *w, const char *id, size_t len)
{
    if (len != BATCH_ID_LEN)
        return BC_EINVAL;
    if (records_ws_has_batch(w, id, len))
        return 0;
    char text[ID_MAX] = {0};
    uint8_t bin[JOB_KEY_MAX];
    memcpy(text, id, len);
    if (batch_key_prefix(bin, text) != KEY_BATCH_BIN)
        return BC_EINVAL; /* not an id the server makes */
    void *grown = realloc(w->batches, (w->nbatches + 1) * sizeof w->batches[0]);
    if (!grown)
        return BC_ENOMEM;
    w->batches = grown;
    grown = realloc(w->bins, (w->nbatches + 1) * sizeof w->bins[0]);
    if (!grown)
        return BC_ENOMEM;
    w->bins = grown;
    size_t j = w->nbatches;
    while (j > 0 && memcmp(w->bins[j - 1], bin, KEY_BATCH_BIN) > 0) {
        memcpy(w->bins[j], w->bins[j - 1], KEY_BATCH_BIN);
        j--;
    }
    memcpy(w->bins[j], bin, KEY_BATCH_BIN);
    size_t i = w->nbatches;
    while (i > 0 && memcmp(w->batches[i - 1], id, BATCH_ID_LEN) > 0) {
        memcpy(w->batches[i], w->batches[i - 1], sizeof w->batches[0]);
        i--;
    }
    memset(w->batches[i], 0, sizeof w->batches[0]);
    memcpy(w->batches[i], id, len);
    w->nbatches++;
    return 0;
}

void records_ws_free(struct records_ws *w)
{
    free(w->batches);
    free(w->bins);
    w->batches = NULL;
    w->bins = NULL;
    w->nbatches = 0;
}

int records_ws_batches(struct store_txn *t, struct records_ws *w, int with_staging)
{
    struct store_iter it;
    int rc;
    store_iter_open(&it, t, DB_BATCH, "", 0, NULL, 0);
    while ((rc = store_iter_next(&it)) == 1) {
        struct batch_rec b;
        if (batch_decode(&it.val, &b) != 0 || strlen(b.ws) != w->wslen ||
            memcmp(b.ws, w->ws, w->wslen) != 0 || (!with_staging && b.status == BATCH_STAGING))
            continue;
        if ((rc = records_ws_add_batch(w, it.key.ptr, it.key.len)) != 0 && rc != BC_EINVAL)
            break;
        rc = 0;
    }
    store_iter_close(&it);
    return rc < 0 ? rc : 0;
}

static int has_ws_prefix(const struct records_ws *w, const struct store_val *key)
{
    return key->len >= w->wslen && memcmp(key->ptr, w->ws, w->wslen) == 0;
}

/* The "workspace" string of an outbox entry equals w's. */
static int outbox_of(const struct records_ws *w, const struct store_val *val)
{
    cJSON *o = cJSON_ParseWithLength(val->ptr, val->len);
    const char *ws = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "workspace"));
    int yes = ws && strlen(ws) == w->wslen && memcmp(ws, w->ws, w->wslen) == 0;
    cJSON_Delete(o);
    return yes;
}

int records_ws_owns(const struct records_ws_table *tb, const struct records_ws *w,
                    const struct store_val *key, const struct store_val *val)
{
    const char *k = key->ptr;
    char batch[ID_MAX];
    switch (tb->find) {
    case WSF_WS_KEY:
        return key->len == w->wslen && has_ws_prefix(w, key);
    case WSF_WS_SLASH:
        return key->len > w->wslen + 1 && has_ws_prefix(w, key) && k[w->wslen] == '/';
    case WSF_WS2BATCH: {
        if (!has_ws_prefix(w, key))
            return 0;
        size_t n = ws2batch_batch(key, w->wslen, batch);
        return n && records_ws_has_batch(w, batch, n);
    }
    case WSF_USAGE:
        return key->len == w->wslen + 8 + BATCH_ID_LEN + 8 && has_ws_prefix(w, key) &&
               records_ws_has_batch(w, k + w->wslen + 8, BATCH_ID_LEN);
    case WSF_DELIVERY:
        return has_ws_prefix(w, key) && delivery_key_of(key, w->wslen);
    case WSF_BATCH_KEY:
        return records_ws_has_batch(w, k, key->len);
    case WSF_BATCH_PREFIX:
        return key->len > BATCH_ID_LEN && records_ws_has_batch(w, k, BATCH_ID_LEN);
    case WSF_BATCH_BIN:
        return has_batch_bin(w, key);
    case WSF_KEYHASH:
        return val->len > SHA256_LEN + w->wslen &&
               memcmp((const char *)val->ptr + SHA256_LEN, w->ws, w->wslen) == 0 &&
               ((const char *)val->ptr)[SHA256_LEN + w->wslen] == '\n';
    case WSF_SID:
        return val->len == BATCH_ID_LEN + 8 && records_ws_has_batch(w, val->ptr, BATCH_ID_LEN);
    case WSF_OUTBOX:
        return key->len == OUTBOX_KEY_LEN && outbox_of(w, val);
    }
    return 0;
}

/* Walks keys with prefix (plen 0: the whole table) from start, handing w's to fn. */
static int walk_prefix(struct store_txn *t, const struct records_ws_table *tb,
                       const struct records_ws *w, const void *prefix, size_t plen,
                       const void *start, size_t slen, records_ws_visit_fn fn, void *arg)
{
    if (start && plen) {
        size_t m = slen < plen ? slen : plen;
        int c = memcmp(start, prefix, m);
        if (c > 0)
            return 0; /* the whole prefix lies before start */
        if (c < 0 || slen < plen)
            start = NULL, slen = 0;
    }
    struct store_iter it;
    int rc, stop = 0;
    store_iter_open(&it, t, tb->db, prefix, plen, start, slen);
    while (!stop && (rc = store_iter_next(&it)) == 1)
        if (records_ws_owns(tb, w, &it.key, &it.val))
            stop = fn(arg, &it.key, &it.val);
    store_iter_close(&it);
    return stop ? stop : (rc < 0 ? rc : 0);
}

int records_ws_walk(struct store_txn *t, const struct records_ws_table *tb,
                    const struct records_ws *w, const void *start, size_t slen,
                    records_ws_visit_fn fn, void *arg)
{
    switch (tb->find) {
    case WSF_WS_KEY:
    case WSF_WS2BATCH:
    case WSF_USAGE:
    case WSF_DELIVERY:
        return walk_prefix(t, tb, w, w->ws, w->wslen, start, slen, fn, arg);
    case WSF_WS_SLASH: {
        char p[ID_MAX + 1];
        if (w->wslen >= ID_MAX)
            return BC_EINVAL;
        size_t plen = agent_key(p, w->ws, w->wslen, "", 0);
        return walk_prefix(t, tb, w, p, plen, start, slen, fn, arg);
    }
    case WSF_BATCH_KEY:
    case WSF_BATCH_PREFIX:
        for (size_t i = 0; i < w->nbatches; i++) {
            int rc = walk_prefix(t, tb, w, w->batches[i], BATCH_ID_LEN, start, slen, fn, arg);
            if (rc)
                return rc;
        }
        return 0;
    case WSF_BATCH_BIN:
        for (size_t i = 0; i < w->nbatches; i++) {
            int rc = walk_prefix(t, tb, w, w->bins[i], KEY_BATCH_BIN, start, slen, fn, arg);
            if (rc)
                return rc;
        }
        return 0;
    case WSF_KEYHASH:
    case WSF_SID:
    case WSF_OUTBOX:
        return walk_prefix(t, tb, w, "", 0, start, slen, fn, arg);
    }
    return BC_EINVAL;
}

static const char fleet_gen_key[] = "fleet_generation";

int records_fleet_gen_get(struct store_txn *t, uint64_t *gen)
{
    struct store_val v;
    int rc = store_get(t, DB_META, fleet_gen_key, sizeof fleet_gen_key - 1, &v);
    *gen = 0;
    if (rc == BC_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (v.len != 8)
        return BC_ECORRUPT;
    *gen = be64_get(v.ptr);
    return 0;
}

int records_fleet_gen_bump(struct store_txn *t)
{
    uint64_t gen;
    int rc = records_fleet_gen_get(t, &gen);
    if (rc == BC_ECORRUPT)
        gen = 0, rc = 0;
    if (rc)
        return rc;
    uint8_t v[8];
    be64_put(v, gen + 1);
    return store_put(t, DB_META, fleet_gen_key, sizeof fleet_gen_key - 1, v, sizeof v, 0);
}

int records_outbox_import_base(struct store_txn *t, uint64_t now_ms, uint64_t *base)
{
    /* The last key: the outbox is scanned from the end of the time-based range downwards by
     * probing, like the outbox's own sequence (cursors here only move forward). */
    uint64_t last = 0;
    for (int bit = 63; bit >= 0; bit--) {
        uint8_t k[OUTBOX_KEY_LEN];
        struct store_iter it;
        store_iter_open(&it, t, DB_OUTBOX, "", 0, k, outbox_key(k, last | (1ull << bit)));
        int rc = store_iter_next(&it);
        store_iter_close(&it);
        if (rc < 0)
            return rc;
        if (rc == 1)
            last |= 1ull << bit;
    }
    uint64_t floor = now_ms << 16;
    *base = last + 1 > floor ? last + 1 : floor;
    return 0;
}
