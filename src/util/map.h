/* A string-keyed hash map (open addressing, linear probing) holding caller-owned values. Keys are
 * copied. Used for small in-memory indexes such as per-workspace rate-limit state. */
#ifndef BC_UTIL_MAP_H
#define BC_UTIL_MAP_H

#include <stddef.h>

struct map_slot {
    char *key; /* NULL: empty; MAP_TOMBSTONE: deleted */
    size_t klen;
    void *value;
};

struct map {
    struct map_slot *slots;
    size_t cap;  /* power of two */
    size_t used; /* live + tombstones */
    size_t live;
};

void *map_get(const struct map *m, const char *key, size_t klen);
/* Inserts or replaces. Returns 0 or BC_ENOMEM. */
int map_put(struct map *m, const char *key, size_t klen, void *value);
/* Removes and returns the value, or NULL. */
void *map_del(struct map *m, const char *key, size_t klen);
/* Walks every value: start with *pos = 0; returns the next value and advances *pos, or NULL at
 * the end. Deleting the value just returned is safe; inserting during a walk is not. */
void *map_next(const struct map *m, size_t *pos);
/* Calls fn for every value (for freeing them), then frees the table. */
void map_free(struct map *m, void (*fn)(void *value));

#endif
