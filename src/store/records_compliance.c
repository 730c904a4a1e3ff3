/* Compliance records (holds, caps, do-not-call lists, the registry): see
 * store/records_compliance.h. Part of the store's records (store/records.h). */
#include "store/records_compliance.h"

#include <stdlib.h>
#include <string.h>

#include "store/records.h"
#include "util/err.h"
#include "util/json.h"

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
    return records_counter_add(t, DB_HELDZONE, key, klen, delta);
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

/* ---- Suppression: do-not-call lists and the national registry ---- */

size_t suppress_key(char *out, const char *ws, size_t wslen, const char *entry, size_t elen)
{
    return agent_key(out, ws, wslen, entry, elen);
}

void suppress_summary_encode(uint8_t *out, size_t *len, const struct suppress_summary *s)
{
    out[0] = 1;
    be64_put(out + 1, s->numbers);
    be64_put(out + 9, s->area_codes);
    memcpy(out + 17, s->npa, sizeof s->npa);
    memcpy(out + 17 + sizeof s->npa, s->filter, sizeof s->filter);
    *len = SUPPRESS_SUMMARY_LEN;
}

int suppress_summary_decode(const struct store_val *v, struct suppress_summary *s)
{
    const uint8_t *p = v->ptr;
    if (v->len != SUPPRESS_SUMMARY_LEN || p[0] != 1)
        return BC_ECORRUPT;
    s->numbers = be64_get(p + 1);
    s->area_codes = be64_get(p + 9);
    memcpy(s->npa, p + 17, sizeof s->npa);
    memcpy(s->filter, p + 17 + sizeof s->npa, sizeof s->filter);
    return 0;
}

#define REGISTRY_META_VERSION 1
#define REGISTRY_META_LEN     (1 + 4 + 8 + 8 + 8 + REGISTRY_DATE_LEN)

size_t registry_meta_key(uint8_t out[1])
{
    out[0] = 'M';
    return 1;
}

void registry_meta_encode(struct buf *out, const struct registry_meta *m)
{
    uint8_t v[REGISTRY_META_LEN];
    v[0] = REGISTRY_META_VERSION;
    be32_put(v + 1, m->generation);
    be64_put(v + 5, m->count);
    be64_put(v + 13, m->imported_ms);
    be64_put(v + 21, m->bad_lines);
    memset(v + 29, 0, REGISTRY_DATE_LEN);
    memcpy(v + 29, m->date, strnlen(m->date, REGISTRY_DATE_LEN));
    out->len = 0;
    buf_append(out, v, sizeof v);
}

int registry_meta_decode(const struct store_val *v, struct registry_meta *m)
{
    const uint8_t *p = v->ptr;
    if (v->len != REGISTRY_META_LEN || p[0] != REGISTRY_META_VERSION)
        return BC_ECORRUPT;
    m->generation = be32_get(p + 1);
    m->count = be64_get(p + 5);
    m->imported_ms = be64_get(p + 13);
    m->bad_lines = be64_get(p + 21);
    memcpy(m->date, p + 29, REGISTRY_DATE_LEN);
    m->date[REGISTRY_DATE_LEN] = '\0';
    return 0;
}

size_t registry_npa_key(uint8_t out[REGISTRY_KEY_LEN], uint32_t generation, unsigned npa)
{
    out[0] = 'G';
    be32_put(out + 1, generation);
    out[5] = (uint8_t)(npa >> 8);
    out[6] = (uint8_t)npa;
    return REGISTRY_KEY_LEN;
}

int registry_npa_key_decode(const struct store_val *key, uint32_t *generation, unsigned *npa)
{
    const uint8_t *p = key->ptr;
    if (key->len != REGISTRY_KEY_LEN || p[0] != 'G')
        return BC_ECORRUPT;
    *generation = be32_get(p + 1);
    *npa = (unsigned)p[5] << 8 | p[6];
    return 0;
}

size_t registry_lock_key(uint8_t out[1])
{
    out[0] = 'L';
    return 1;
}

void registry_lock_encode(uint8_t out[12], uint32_t pid, uint64_t started_ms)
{
    be32_put(out, pid);
    be64_put(out + 4, started_ms);
}

int registry_lock_decode(const struct store_val *v, uint32_t *pid, uint64_t *started_ms)
{
    if (v->len != 12)
        return BC_ECORRUPT;
    *pid = be32_get(v->ptr);
    *started_ms = be64_get((const uint8_t *)v->ptr + 4);
    return 0;
}

/* The offsets of exchange nxx's block, checked against the record's length. */
static int registry_block(const struct store_val *v, unsigned nxx, const uint8_t **blk, size_t *len)
{
    const uint8_t *p = v->ptr;
    if (v->len < REGISTRY_HEADER || nxx >= REGISTRY_NXX)
        return BC_ECORRUPT;
    uint32_t a = be32_get(p + 4 + 4 * nxx), b = be32_get(p + 8 + 4 * nxx);
    if (a > b || b > v->len - REGISTRY_HEADER)
        return BC_ECORRUPT;
    *blk = p + REGISTRY_HEADER + a;
    *len = b - a;
    return 0;
}

static int block_has(const uint8_t *blk, size_t len, unsigned line)
{
    if (len == REGISTRY_BITMAP_BYTES)
        return blk[line >> 3] >> (line & 7) & 1;
    /* A sorted array of fewer than REGISTRY_DENSE u16 line numbers. The search has no branch on
     * the values (the compiler selects with cmov): a mispredicted one would throw away the work
     * the CPU does meanwhile, the next lookup's memory reads included. */
    size_t n = len / 2;
    if (n == 0)
        return 0;
    const uint8_t *p = blk;
    while (n > 1) {
        size_t half = n / 2;
        unsigned x = (unsigned)p[2 * half] << 8 | p[2 * half + 1];
        p = x <= line ? p + 2 * half : p;
        n -= half;
    }
    return ((unsigned)p[0] << 8 | p[1]) == line;
}

int registry_npa_has(const struct store_val *v, unsigned nxx, unsigned line)
{
    const uint8_t *blk;
    size_t len;
    int rc = registry_block(v, nxx, &blk, &len);
    return rc ? rc : block_has(blk, len, line);
}

int registry_npa_get(struct store_txn *t, uint32_t generation, unsigned npa, struct store_val *v)
{
    uint8_t k[REGISTRY_KEY_LEN];
    return store_get(t, DB_REGISTRY, k, registry_npa_key(k, generation, npa), v);
}

int registry_exchange_lines(const struct store_val *v, unsigned nxx, const uint8_t **bits,
                            uint16_t *lines, size_t *n)
{
    const uint8_t *blk;
    size_t len;
    int rc = registry_block(v, nxx, &blk, &len);
    if (rc)
        return rc;
    *n = 0;
    if (len == REGISTRY_BITMAP_BYTES) {
        *bits = blk;
        return 1;
    }
    if (len % 2 || len / 2 >= REGISTRY_DENSE)
        return BC_ECORRUPT;
    for (size_t i = 0; i < len / 2; i++)
        lines[i] = (uint16_t)(blk[2 * i] << 8 | blk[2 * i + 1]);
    *n = len / 2;
    return 0;
}

int registry_npa_count(const struct store_val *v, uint64_t *count)
{
    if (v->len < REGISTRY_HEADER)
        return BC_ECORRUPT;
    *count = be32_get(v->ptr);
    return 0;
}

int registry_npa_decode(const struct store_val *v, uint8_t *bits, uint8_t *touched)
{
    for (unsigned nxx = 0; nxx < REGISTRY_NXX; nxx++) {
        const uint8_t *blk;
        size_t len;
        int rc = registry_block(v, nxx, &blk, &len);
        if (rc)
            return rc;
        uint8_t *dst = bits + (size_t)nxx * REGISTRY_BITMAP_BYTES;
        if (len)
            touched[nxx] = 1;
        if (len == REGISTRY_BITMAP_BYTES) {
            for (size_t i = 0; i < len; i++)
                dst[i] |= blk[i];
            continue;
        }
        for (size_t i = 0; i + 1 < len; i += 2) {
            unsigned x = (unsigned)blk[i] << 8 | blk[i + 1];
            if (x < REGISTRY_LINES)
                dst[x >> 3] |= (uint8_t)(1u << (x & 7));
        }
    }
    return 0;
}

int registry_npa_encode(struct buf *out, const uint8_t *bits, const uint8_t *touched,
                        uint64_t *count)
{
    size_t at = out->len;
    if (buf_reserve(out, REGISTRY_HEADER))
        return BC_ENOMEM;
    memset(out->data + at, 0, REGISTRY_HEADER);
    out->len += REGISTRY_HEADER;
    uint32_t total = 0, off = 0;
    for (unsigned nxx = 0; nxx < REGISTRY_NXX; nxx++) {
        const uint8_t *src = bits + (size_t)nxx * REGISTRY_BITMAP_BYTES;
        unsigned n = 0;
        for (size_t i = 0; touched[nxx] && i < REGISTRY_BITMAP_BYTES; i++)
            n += (unsigned)__builtin_popcount(src[i]);
        be32_put((uint8_t *)out->data + at + 4 + 4 * nxx, off);
        if (n >= REGISTRY_DENSE) {
            if (buf_append(out, src, REGISTRY_BITMAP_BYTES))
                return BC_ENOMEM;
            off += REGISTRY_BITMAP_BYTES;
        } else if (n) {
            if (buf_reserve(out, 2 * n))
                return BC_ENOMEM;
            uint8_t *p = (uint8_t *)out->data + out->len;
            for (unsigned i = 0; i < REGISTRY_BITMAP_BYTES; i++)
                for (unsigned b = 0; src[i] >> b; b++)
                    if (src[i] >> b & 1) {
                        unsigned x = i * 8 + b;
                        *p++ = (uint8_t)(x >> 8);
                        *p++ = (uint8_t)x;
                    }
            out->len += 2 * n;
            off += 2 * n;
        }
        total += n;
    }
    be32_put((uint8_t *)out->data + at, total);
    be32_put((uint8_t *)out->data + at + 4 + 4 * REGISTRY_NXX, off);
    *count = total;
    return 0;
}
