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
    /* Records written before the compliance counters are shorter: those counters were 0. */
    if (v->len != sizeof *out && v->len != BATCH_REC_V1_LEN)
        return BC_ECORRUPT;
    memset(out, 0, sizeof *out);
    memcpy(out, v->ptr, v->len);
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

/* Adds delta to a u32 counter (host order) stored under key; a count reaching 0 is removed, so
 * that the table holds only what is counted. */
static int counter_add(struct store_txn *t, enum store_db db, const uint8_t *key, size_t klen,
                       int32_t delta)
{
    struct store_val v;
    uint32_t n = 0;
    int rc = store_get(t, db, key, klen, &v);
    if (rc == 0 && v.len == sizeof n)
        memcpy(&n, v.ptr, sizeof n);
    else if (rc && rc != BC_ENOTFOUND)
        return rc;
    n = delta < 0 && n < (uint32_t)-delta ? 0 : n + (uint32_t)delta;
    if (n == 0)
        return rc == 0 ? store_del(t, db, key, klen) : 0;
    return store_put(t, db, key, klen, &n, sizeof n, 0);
}

int statecount_add(struct store_txn *t, const char *batch, uint8_t state, uint32_t row,
                   int32_t delta)
{
    uint8_t key[JOB_KEY_MAX];
    size_t klen = statecount_key(key, batch, state, row >> STATE_BLOCK_SHIFT);
    return counter_add(t, DB_STATECOUNT, key, klen, delta);
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
        [OUTCOME_SUPPRESSED] = "suppressed",
        [OUTCOME_NO_CONSENT] = "no_consent",
        [OUTCOME_NO_WINDOW] = "no_calling_window",
    };
    if (outcome < 0 || (size_t)outcome >= sizeof names / sizeof names[0])
        return NULL;
    return names[outcome];
}

const char *job_held_name(int held)
{
    switch (held) {
    case HELD_WINDOW:
        return "calling_window";
    case HELD_CAP:
        return "frequency_cap";
    }
    return NULL;
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

/* ---- Compliance: calls held by window per zone, attempts per number ---- */

static size_t heldzone_key(uint8_t *out, const char *batch, const char *label, size_t llen)
{
    size_t n = strlen(batch);
    if (llen > HELDZONE_KEY_MAX - ID_MAX)
        llen = HELDZONE_KEY_MAX - ID_MAX;
    memcpy(out, batch, n);
    memcpy(out + n, label, llen);
    return n + llen;
}

int heldzone_add(struct store_txn *t, const char *batch, const char *label, size_t llen,
                 int32_t delta)
{
    uint8_t key[HELDZONE_KEY_MAX];
    size_t klen = heldzone_key(key, batch, label, llen);
    return counter_add(t, DB_HELDZONE, key, klen, delta);
}

int heldzone_clear(struct store_txn *t, const char *batch)
{
    size_t blen = strlen(batch);
    /* Few keys (one per zone); deleting while iterating is not supported by the wrapper, so
     * collect first. */
    struct buf keys = {0};
    struct store_iter it;
    int rc;
    store_iter_open(&it, t, DB_HELDZONE, batch, blen, NULL, 0);
    while ((rc = store_iter_next(&it)) == 1) {
        uint16_t len = (uint16_t)it.key.len;
        if (buf_append(&keys, &len, sizeof len) || buf_append(&keys, it.key.ptr, it.key.len)) {
            rc = BC_ENOMEM;
            break;
        }
    }
    store_iter_close(&it);
    for (size_t pos = 0; rc >= 0 && pos < keys.len;) {
        uint16_t len;
        memcpy(&len, keys.data + pos, sizeof len);
        pos += sizeof len;
        int d = store_del(t, DB_HELDZONE, keys.data + pos, len);
        if (d && d != BC_ENOTFOUND)
            rc = d;
        pos += len;
    }
    buf_free(&keys);
    return rc < 0 ? rc : 0;
}

size_t heldzone_label(const struct store_val *key, size_t blen, char *out, size_t cap)
{
    size_t n = key->len > blen ? key->len - blen : 0;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, (const char *)key->ptr + blen, n);
    out[n] = '\0';
    return n;
}

size_t cap_key(uint8_t *out, const char *ws, size_t wslen, const char *e164, size_t elen)
{
    if (elen > 24)
        elen = 24;
    memcpy(out, ws, wslen);
    out[wslen] = '/';
    memcpy(out + wslen + 1, e164, elen);
    return wslen + 1 + elen;
}

int cap_get(struct store_txn *t, const char *ws, const char *e164, uint64_t *out, size_t *n)
{
    uint8_t key[CAP_KEY_MAX];
    struct store_val v;
    *n = 0;
    int rc = store_get(t, DB_CAP, key, cap_key(key, ws, strlen(ws), e164, strlen(e164)), &v);
    if (rc == BC_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (v.len % 8)
        return BC_ECORRUPT;
    size_t count = v.len / 8 > CAP_TIMES_MAX ? CAP_TIMES_MAX : v.len / 8;
    const uint8_t *p = (const uint8_t *)v.ptr + (v.len / 8 - count) * 8;
    for (size_t i = 0; i < count; i++)
        out[i] = be64_get(p + 8 * i);
    *n = count;
    return 0;
}

int cap_put(struct store_txn *t, const char *ws, const char *e164, const uint64_t *times, size_t n)
{
    uint8_t key[CAP_KEY_MAX], val[CAP_TIMES_MAX * 8];
    size_t klen = cap_key(key, ws, strlen(ws), e164, strlen(e164));
    if (n > CAP_TIMES_MAX) {
        times += n - CAP_TIMES_MAX;
        n = CAP_TIMES_MAX;
    }
    if (n == 0) {
        int rc = store_del(t, DB_CAP, key, klen);
        return rc == BC_ENOTFOUND ? 0 : rc;
    }
    for (size_t i = 0; i < n; i++)
        be64_put(val + 8 * i, times[i]);
    return store_put(t, DB_CAP, key, klen, val, n * 8, 0);
}
