#include "util/map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

static char tombstone_mark;
#define MAP_TOMBSTONE (&tombstone_mark)

static uint64_t hash(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ull;
    }
    return h;
}

static struct map_slot *find(const struct map *m, const char *key, size_t klen)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = hash(key, klen) & mask;; i = (i + 1) & mask) {
        struct map_slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != MAP_TOMBSTONE && s->klen == klen && memcmp(s->key, key, klen) == 0)
            return s;
    }
}

void *map_get(const struct map *m, const char *key, size_t klen)
{
    struct map_slot *s = find(m, key, klen);
    return s ? s->value : NULL;
}

static int grow(struct map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    /* Rehashing into the same size is enough when most used slots are tombstones. */
    if (m->live * 4 < m->cap)
        cap = m->cap;
    struct map_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return BC_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        struct map_slot *s = &m->slots[i];
        if (!s->key || s->key == MAP_TOMBSTONE)
            continue;
        size_t j = hash(s->key, s->klen) & (cap - 1);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j] = *s;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    m->used = m->live;
    return 0;
}

int map_put(struct map *m, const char *key, size_t klen, void *value)
{
    struct map_slot *s = find(m, key, klen);
    if (s) {
        s->value = value;
        return 0;
    }
    if ((m->used + 1) * 4 > m->cap * 3) {
        int rc = grow(m);
        if (rc)
            return rc;
    }
    char *copy = malloc(klen ? klen : 1);
    if (!copy)
        return BC_ENOMEM;
    memcpy(copy, key, klen);
    size_t mask = m->cap - 1;
    size_t i = hash(key, klen) & mask;
    while (m->slots[i].key && m->slots[i].key != MAP_TOMBSTONE)
        i = (i + 1) & mask;
    if (!m->slots[i].key)
        m->used++;
    m->slots[i] = (struct map_slot){copy, klen, value};
    m->live++;
    return 0;
}

void *map_del(struct map *m, const char *key, size_t klen)
{
    struct map_slot *s = find(m, key, klen);
    if (!s)
        return NULL;
    void *v = s->value;
    free(s->key);
    s->key = MAP_TOMBSTONE;
    s->value = NULL;
    m->live--;
    return v;
}

void map_free(struct map *m, void (*fn)(void *value))
{
    for (size_t i = 0; i < m->cap; i++) {
        struct map_slot *s = &m->slots[i];
        if (!s->key || s->key == MAP_TOMBSTONE)
            continue;
        if (fn)
            fn(s->value);
        free(s->key);
    }
    free(m->slots);
    memset(m, 0, sizeof *m);
}

void *map_next(const struct map *m, size_t *pos)
{
    while (*pos < m->cap) {
        const struct map_slot *s = &m->slots[(*pos)++];
        if (s->key && s->key != MAP_TOMBSTONE)
            return s->value;
    }
    return NULL;
}
