#include "store/records.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/json.h"

uint32_t be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

uint64_t be64_get(const uint8_t *p)
{
    return (uint64_t)be32_get(p) << 32 | be32_get(p + 4);
}

void be64_put(uint8_t *p, uint64_t v)
{
    be32_put(p, (uint32_t)(v >> 32));
    be32_put(p + 4, (uint32_t)v);
}

int batch_get(struct store_txn *t, const char *id, size_t len, struct batch_rec *out)
{
    struct store_val v;
    int rc = store_get(t, DB_BATCH, id, len, &v);
    return rc ? rc : batch_decode(&v, out);
}

int batch_decode(const struct store_val *v, struct batch_rec *out)
{
    if (v->len != sizeof *out)
        return BC_ECORRUPT;
    memcpy(out, v->ptr, sizeof *out);
    return out->version == RECORD_VERSION ? 0 : BC_ECORRUPT;
}

int batch_put(struct store_txn *t, const struct batch_rec *b)
{
    return store_put(t, DB_BATCH, b->id, strlen(b->id), b, sizeof *b, 0);
}

int finalseq_put(struct store_txn *t, const char *batch, uint32_t seq, uint32_t row)
{
    uint8_t key[JOB_KEY_MAX], v[4];
    be32_put(v, row);
    return store_put(t, DB_FINALSEQ, key, finalseq_key(key, batch, seq), v, sizeof v, 0);
}

int finalseq_decode(const struct store_val *key, const struct store_val *val, size_t blen,
                    uint32_t *seq, uint32_t *row)
{
    if (key->len != blen + 4 || val->len != 4)
        return BC_ECORRUPT;
    *seq = be32_get((const uint8_t *)key->ptr + blen);
    *row = be32_get(val->ptr);
    return 0;
}

int due_key_decode(const struct store_val *key, size_t blen, uint64_t *due_ms, uint32_t *row)
{
    if (key->len != blen + 12)
        return BC_ECORRUPT;
    const uint8_t *p = (const uint8_t *)key->ptr + blen;
    *due_ms = be64_get(p);
    *row = be32_get(p + 8);
    return 0;
}

size_t usage_key(uint8_t *out, const char *ws, uint64_t at_ms, const char *batch, uint32_t row,
                 uint32_t seq)
{
    size_t wl = strlen(ws), bl = strlen(batch);
    memcpy(out, ws, wl);
    be64_put(out + wl, at_ms);
    memcpy(out + wl + 8, batch, bl);
    be32_put(out + wl + 8 + bl, row);
    be32_put(out + wl + 12 + bl, seq);
    return wl + 16 + bl;
}

size_t sid_value(uint8_t *out, const char *batch, uint32_t row, uint32_t seq)
{
    size_t bl = strlen(batch);
    memcpy(out, batch, bl);
    be32_put(out + bl, row);
    be32_put(out + bl + 4, seq);
    return bl + 8;
}

uint32_t jobstate_key_row(const struct store_val *key)
{
    return key->len >= 4 ? be32_get((const uint8_t *)key->ptr + key->len - 4) : 0;
}

size_t ws2batch_key(uint8_t *out, const char *ws, size_t wslen, uint64_t created_ms,
                    const char *batch, size_t blen)
{
    memcpy(out, ws, wslen);
    be64_put(out + wslen, ~created_ms);
    for (size_t i = 0; i < blen; i++)
        out[wslen + 8 + i] = (uint8_t) ~(uint8_t)batch[i];
    return wslen + 8 + blen;
}

size_t ws2batch_batch(const struct store_val *key, size_t wslen, char out[ID_MAX])
{
    if (key->len <= wslen + 8 || key->len - wslen - 8 >= ID_MAX)
        return 0;
    size_t n = key->len - wslen - 8;
    const uint8_t *p = (const uint8_t *)key->ptr + wslen + 8;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(uint8_t)~p[i];
    out[n] = '\0';
    return n;
}

/* Keys of earlier versions held the batch id as written, so "batch_" follows the time. */
static const uint8_t *old_ws2batch_id(const struct store_val *key)
{
    static const char prefix[] = "batch_";
    const uint8_t *id = (const uint8_t *)key->ptr + key->len - BATCH_ID_LEN;
    if (key->len <= 8 + BATCH_ID_LEN || memcmp(id, prefix, sizeof prefix - 1) != 0)
        return NULL;
    return id;
}

static int upgrade_txn(struct store_txn *t, void *arg)
{
    (void)arg;
    struct buf old = {0};
    struct store_iter it;
    int rc;
    store_iter_open(&it, t, DB_WS2BATCH, "", 0, NULL, 0);
    while ((rc = store_iter_next(&it)) == 1) {
        if (!old_ws2batch_id(&it.key))
            continue;
        uint16_t n = (uint16_t)it.key.len;
        if (buf_append(&old, &n, sizeof n) || buf_append(&old, it.key.ptr, it.key.len))
            rc = BC_ENOMEM;
        if (rc < 0)
            break;
    }
    store_iter_close(&it);
    for (size_t pos = 0; rc >= 0 && pos < old.len;) {
        uint16_t n;
        memcpy(&n, old.data + pos, sizeof n);
        struct store_val key = {old.data + pos + sizeof n, n};
        pos += sizeof n + n;
        const uint8_t *id = old_ws2batch_id(&key);
        size_t wslen = (size_t)(id - (const uint8_t *)key.ptr) - 8;
        uint8_t nk[WS2BATCH_KEY_MAX];
        size_t nlen =
            ws2batch_key(nk, key.ptr, wslen, ~be64_get(id - 8), (const char *)id, BATCH_ID_LEN);
        store_del(t, DB_WS2BATCH, key.ptr, key.len);
        rc = store_put(t, DB_WS2BATCH, nk, nlen, "", 0, 0);
    }
    buf_free(&old);
    return rc < 0 ? rc : 0;
}

int records_upgrade(struct store *s)
{
    struct store_txn t;
    int rc = store_read_begin(s, &t), found = 0;
    if (rc)
        return rc;
    struct store_iter it;
    store_iter_open(&it, &t, DB_WS2BATCH, "", 0, NULL, 0);
    while (!found && (rc = store_iter_next(&it)) == 1)
        found = old_ws2batch_id(&it.key) != NULL;
    store_iter_close(&it);
    store_read_end(&t);
    if (rc < 0 || !found)
        return rc < 0 ? rc : 0;
    return store_write(s, upgrade_txn, NULL);
}

void batch_add_recent(struct batch_rec *b, uint32_t row)
{
    /* Newest first, each call once: a call that ends again (after a retry) moves to the front. */
    uint32_t n = b->recent_count, i = 0;
    while (i < n && b->recent[i] != row)
        i++;
    if (i == n && n < RECENT_CALLS)
        b->recent_count = ++n;
    if (i == n)
        i = n - 1;
    memmove(b->recent + 1, b->recent, i * sizeof b->recent[0]);
    b->recent[0] = row;
}

size_t job_key(uint8_t *out, const char *batch, uint32_t row)
{
    size_t n = strlen(batch);
    memcpy(out, batch, n);
    be32_put(out + n, row);
    return n + 4;
}

size_t due_key(uint8_t *out, const char *batch, uint64_t due_ms, uint32_t row)
{
    size_t n = strlen(batch);
    memcpy(out, batch, n);
    be64_put(out + n, due_ms);
    be32_put(out + n + 8, row);
    return n + 12;
}

size_t finalseq_key(uint8_t *out, const char *batch, uint32_t seq)
{
    size_t n = strlen(batch);
    memcpy(out, batch, n);
    be32_put(out + n, seq);
    return n + 4;
}

size_t statecount_key(uint8_t *out, const char *batch, uint8_t state, uint32_t block)
{
    size_t n = strlen(batch);
    memcpy(out, batch, n);
    out[n] = state;
    be32_put(out + n + 1, block);
    return n + 5;
}

int statecount_add(struct store_txn *t, const char *batch, uint8_t state, uint32_t row,
                   int32_t delta)
{
    uint8_t key[JOB_KEY_MAX];
    size_t klen = statecount_key(key, batch, state, row >> STATE_BLOCK_SHIFT);
    struct store_val v;
    uint32_t n = 0;
    int rc = store_get(t, DB_STATECOUNT, key, klen, &v);
    if (rc == 0 && v.len == sizeof n)
        memcpy(&n, v.ptr, sizeof n);
    else if (rc && rc != BC_ENOTFOUND)
        return rc;
    n = delta < 0 && n < (uint32_t)-delta ? 0 : n + (uint32_t)delta;
    if (n == 0)
        return rc == 0 ? store_del(t, DB_STATECOUNT, key, klen) : 0;
    return store_put(t, DB_STATECOUNT, key, klen, &n, sizeof n, 0);
}

size_t jobstate_key(uint8_t *out, const char *batch, uint8_t state, uint32_t row)
{
    size_t n = strlen(batch);
    memcpy(out, batch, n);
    out[n] = state;
    be32_put(out + n + 1, row);
    return n + 5;
}

int job_encode(struct buf *out, const struct job_head *h, const char *error, size_t error_len,
               const char *const *fields, const size_t *lens, size_t nfields)
{
    size_t need = sizeof *h + 4 + error_len;
    for (size_t i = 0; i < nfields; i++) {
        if (lens[i] > UINT16_MAX)
            return BC_ETOOBIG;
        need += 2 + lens[i];
    }
    int rc = buf_reserve(out, need);
    if (rc)
        return rc;
    struct job_head head = *h;
    head.version = RECORD_VERSION;
    head.nfields = (uint32_t)nfields;
    uint8_t *p = (uint8_t *)out->data + out->len;
    memcpy(p, &head, sizeof head);
    p += sizeof head;
    be32_put(p, (uint32_t)error_len);
    memcpy(p + 4, error, error_len);
    p += 4 + error_len;
    for (size_t i = 0; i < nfields; i++) {
        p[0] = (uint8_t)(lens[i] >> 8);
        p[1] = (uint8_t)lens[i];
        memcpy(p + 2, fields[i], lens[i]);
        p += 2 + lens[i];
    }
    out->len += need;
    return 0;
}

int job_reencode(struct buf *out, const struct job_head *h, const char *error, size_t error_len,
                 const struct job_view *old)
{
    size_t at = out->len;
    int rc = job_encode(out, h, error, error_len, NULL, NULL, 0);
    if (rc)
        return rc;
    /* job_encode wrote no fields: restore the count and append the stored fields verbatim. */
    struct job_head head;
    memcpy(&head, out->data + at, sizeof head);
    head.nfields = old->head.nfields;
    memcpy(out->data + at, &head, sizeof head);
    return buf_append(out, old->fields, old->fields_len);
}

int job_decode(const void *data, size_t len, struct job_view *out)
{
    const uint8_t *p = data;
    if (len < sizeof out->head + 4)
        return BC_ECORRUPT;
    memcpy(&out->head, p, sizeof out->head);
    if (out->head.version != RECORD_VERSION)
        return BC_ECORRUPT;
    size_t elen = be32_get(p + sizeof out->head);
    size_t off = sizeof out->head + 4;
    if (elen > len - off)
        return BC_ECORRUPT;
    out->error = (const char *)p + off;
    out->error_len = elen;
    out->fields = p + off + elen;
    out->fields_len = len - off - elen;
    return 0;
}

int job_field_next(const struct job_view *v, size_t *pos, const char **p, size_t *n)
{
    if (*pos + 2 > v->fields_len)
        return 0;
    size_t flen = (size_t)v->fields[*pos] << 8 | v->fields[*pos + 1];
    if (flen > v->fields_len - *pos - 2)
        return 0;
    *p = (const char *)v->fields + *pos + 2;
    *n = flen;
    *pos += 2 + flen;
    return 1;
}

const char *job_state_name(int state)
{
    switch (state) {
    case JOB_WAITING:
        return "waiting";
    case JOB_DIALING:
    case JOB_ACTIVE:
        return "active";
    case JOB_COMPLETED:
        return "completed";
    case JOB_FAILED:
        return "failed";
    case JOB_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}

const char *job_outcome_name(int outcome)
{
    static const char *const names[] = {
        [OUTCOME_NONE] = NULL,
        [OUTCOME_ANSWERED] = "answered",
        [OUTCOME_VOICEMAIL] = "voicemail",
        [OUTCOME_BUSY] = "busy",
        [OUTCOME_NO_ANSWER] = "no_answer",
        [OUTCOME_INVALID_NUMBER] = "invalid_number",
        [OUTCOME_UNREACHABLE] = "unreachable",
        [OUTCOME_CARRIER_BLOCKED] = "carrier_blocked",
        [OUTCOME_REJECTED] = "rejected",
        [OUTCOME_PROVIDER_ERROR] = "provider_error",
        [OUTCOME_DUPLICATE] = "duplicate",
        [OUTCOME_CANCELLED] = "cancelled",
        [OUTCOME_INVALID_ROW] = "invalid_row",
        [OUTCOME_UNKNOWN] = "unknown",
    };
    if (outcome < 0 || (size_t)outcome >= sizeof names / sizeof names[0])
        return NULL;
    return names[outcome];
}

const char *batch_status_name(int status)
{
    switch (status) {
    case BATCH_QUEUED:
        return "queued";
    case BATCH_PROCESSING:
        return "processing";
    case BATCH_COMPLETED:
        return "completed";
    case BATCH_CANCELLED:
        return "cancelled";
    case BATCH_FAILED:
        return "failed";
    }
    return "staging";
}

/* ---- Keys and records of the API layer and ingest ---- */

int batch_scan(struct store_txn *t, batch_scan_fn fn, void *arg)
{
    struct store_iter it;
    int rc, stop = 0;
    store_iter_open(&it, t, DB_BATCH, "", 0, NULL, 0);
    while (!stop && (rc = store_iter_next(&it)) == 1) {
        struct batch_rec b;
        if (batch_decode(&it.val, &b) == 0)
            stop = fn(&b, arg);
    }
    store_iter_close(&it);
    if (stop)
        return stop;
    return rc < 0 ? rc : 0;
}

size_t agent_key(char *out, const char *ws, size_t wslen, const char *id, size_t idlen)
{
    memcpy(out, ws, wslen);
    out[wslen] = '/';
    memcpy(out + wslen + 1, id, idlen);
    return wslen + 1 + idlen;
}

size_t idem_key(char *out, const char *ws, size_t wslen, const char *key, size_t klen)
{
    return agent_key(out, ws, wslen, key, klen);
}

void idem_encode(uint8_t out[IDEM_VAL_LEN], const struct idem_rec *r)
{
    memset(out, 0, IDEM_VAL_LEN);
    memcpy(out, r->batch, strnlen(r->batch, ID_MAX - 1));
    memcpy(out + ID_MAX, &r->expires_ms, sizeof r->expires_ms);
    out[IDEM_V1_LEN] = IDEM_VERSION;
    memcpy(out + IDEM_V1_LEN + 1, r->hash, SHA256_LEN);
}

int idem_decode(const struct store_val *v, struct idem_rec *r)
{
    const uint8_t *p = v->ptr;
    if (v->len != IDEM_V1_LEN && (v->len != IDEM_VAL_LEN || p[IDEM_V1_LEN] != IDEM_VERSION))
        return BC_ECORRUPT;
    memset(r, 0, sizeof *r);
    memcpy(r->batch, p, ID_MAX);
    r->batch[ID_MAX - 1] = '\0';
    memcpy(&r->expires_ms, p + ID_MAX, sizeof r->expires_ms);
    r->has_hash = v->len == IDEM_VAL_LEN;
    if (r->has_hash)
        memcpy(r->hash, p + IDEM_V1_LEN + 1, SHA256_LEN);
    return 0;
}

size_t usage_time_key(uint8_t *out, const char *ws, size_t wslen, uint64_t at_ms)
{
    memcpy(out, ws, wslen);
    be64_put(out + wslen, at_ms);
    return wslen + 8;
}

uint64_t usage_key_time(const struct store_val *key, size_t wslen)
{
    return be64_get((const uint8_t *)key->ptr + wslen);
}

uint32_t key_u32(const struct store_val *key, size_t off)
{
    return be32_get((const uint8_t *)key->ptr + off);
}

/* ---- Webhooks: the outbox and the deliveries log ---- */

size_t outbox_key(uint8_t out[OUTBOX_KEY_LEN], uint64_t seq)
{
    be64_put(out, seq);
    return OUTBOX_KEY_LEN;
}

uint64_t outbox_key_seq(const struct store_val *key)
{
    return be64_get(key->ptr);
}

size_t delivery_key(uint8_t *out, const char *ws, size_t wslen, uint64_t at_ms, uint64_t seq)
{
    memcpy(out, ws, wslen);
    be64_put(out + wslen, at_ms);
    be64_put(out + wslen + 8, seq);
    return wslen + 16;
}

int delivery_key_of(const struct store_val *key, size_t wslen)
{
    return key->len == wslen + 16;
}

int records_put_json(struct store_txn *t, enum store_db db, const void *key, size_t klen,
                     cJSON *obj)
{
    struct buf b = {0};
    int rc = obj ? json_render(&b, obj) : BC_ENOMEM;
    cJSON_Delete(obj);
    if (!rc)
        rc = store_put(t, db, key, klen, b.data, b.len, 0);
    buf_free(&b);
    return rc;
}

/* ---- Fleet: every key of one workspace (admin workspace export, import, drop) ---- */

const struct records_ws_table records_ws_tables[] = {
    {DB_KEYHASH2WS, "keyhash2ws", WSF_KEYHASH, 0},
    {DB_AGENT, "agent", WSF_WS_SLASH, 0},
    {DB_IDEM, "idem", WSF_WS_SLASH, 0},
    {DB_WEBHOOK, "webhook", WSF_WS_KEY, 0},
    {DB_WS2BATCH, "ws2batch", WSF_WS2BATCH, 0},
    {DB_USAGE, "usage", WSF_USAGE, 0},
    {DB_DELIVERY, "delivery", WSF_DELIVERY, 0},
    {DB_BATCHMETA, "batchmeta", WSF_BATCH_KEY, 0},
    {DB_JOB, "job", WSF_BATCH_PREFIX, 0},
    {DB_JOBSTATE, "jobstate", WSF_BATCH_PREFIX, 0},
    {DB_STATECOUNT, "statecount", WSF_BATCH_PREFIX, 0},
    {DB_DUE, "due", WSF_BATCH_PREFIX, 0},
    {DB_FINALSEQ, "finalseq", WSF_BATCH_PREFIX, 0},
    {DB_TRANSCRIPT, "transcript", WSF_BATCH_PREFIX, 0},
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

int records_ws_add_batch(struct records_ws *w, const char *id, size_t len)
{
    if (len != BATCH_ID_LEN)
        return BC_EINVAL;
    if (records_ws_has_batch(w, id, len))
        return 0;
    void *grown = realloc(w->batches, (w->nbatches + 1) * sizeof w->batches[0]);
    if (!grown)
        return BC_ENOMEM;
    w->batches = grown;
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
    w->batches = NULL;
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
