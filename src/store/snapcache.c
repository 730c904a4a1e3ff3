/* The store's read cache per snapshot: see store/snapcache.h. */
#include "store/snapcache.h"

#include <stdlib.h>
#include <string.h>

/* The slot of a key: from its last eight bytes (or fewer), which are random in the ids that end
 * the keys read through here, rather than a hash of the whole key on every read. */
static size_t slot_of(enum store_db db, const char *k, size_t klen)
{
    uint64_t tail = 0;
    size_t n = klen < 8 ? klen : 8;
    memcpy(&tail, k + klen - n, n);
    tail ^= (uint64_t)db << 56 ^ klen;
    return (size_t)((tail * 0x9e3779b97f4a7c15ull) >> 58) % SNAPCACHE_SLOTS;
}

int snapcache_get(struct snapcache *c, struct store_txn *t, enum store_db db, const void *k,
                  size_t klen, struct store_val *v)
{
    /* Only store_read_begin's transactions carry a snapshot number. */
    if (t->write || t->async || t->err || klen == 0 || klen > SNAPCACHE_KEY_MAX)
        return store_get(t, db, k, klen, v);
    if (!c->slots && !(c->slots = calloc(SNAPCACHE_SLOTS, sizeof *c->slots)))
        return store_get(t, db, k, klen, v);
    struct snapcache_slot *s = &c->slots[slot_of(db, k, klen)];
    if (s->at == t->snapshot + 1 && s->db == db && s->klen == klen &&
        memcmp(s->key, k, klen) == 0) {
        c->hits++;
        *v = (struct store_val){s->val, s->vlen};
        return 0;
    }
    c->misses++;
    int rc = store_get(t, db, k, klen, v);
    if (rc || v->len > SNAPCACHE_VAL_MAX || (!s->val && !(s->val = malloc(SNAPCACHE_VAL_MAX))))
        return rc;
    memcpy(s->key, k, klen);
    memcpy(s->val, v->ptr, v->len);
    s->at = t->snapshot + 1;
    s->db = (uint8_t)db;
    s->klen = (uint8_t)klen;
    s->vlen = v->len;
    return 0;
}

void snapcache_free(struct snapcache *c)
{
    for (size_t i = 0; c->slots && i < SNAPCACHE_SLOTS; i++)
        free(c->slots[i].val);
    free(c->slots);
    *c = (struct snapcache){0};
}
