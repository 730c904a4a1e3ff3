/* Values read from the store, kept in memory for the snapshot they were read at.
 *
 * A read transaction's snapshot number (store_txn.snapshot, LMDB's transaction id) moves with
 * every commit, by this process or any other that opens the environment (the admin command, the
 * fleet tools), so a value read at one snapshot is the value of every later transaction with the
 * same number. snapcache_get answers a read from memory when its slot holds that key read at the
 * transaction's snapshot and reads the store otherwise: under a steady stream of writes it costs a
 * copy per read and saves nothing, while nothing is written it skips the B-tree search. For the
 * loop thread's hot point reads (an agent record for every GET of one). */
#ifndef BC_STORE_SNAPCACHE_H
#define BC_STORE_SNAPCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define SNAPCACHE_SLOTS   64   /* slots, chosen by the key's last bytes (ids end in random ones) */
#define SNAPCACHE_KEY_MAX 96   /* longer keys are read from the store every time */
#define SNAPCACHE_VAL_MAX 4096 /* and so are longer values */

struct snapcache_slot {
    uint64_t at; /* 1 + the snapshot the value was read at; 0: empty */
    uint8_t db;
    uint8_t klen;
    char key[SNAPCACHE_KEY_MAX];
    char *val; /* SNAPCACHE_VAL_MAX bytes, allocated with the slot's first value */
    size_t vlen;
};

struct snapcache {
    struct snapcache_slot *slots; /* SNAPCACHE_SLOTS of them, allocated by the first read */
    uint64_t hits, misses;
};

/* store_get(t, db, k, klen, v), answered from memory when the same key was read at t's snapshot.
 * t must be a transaction of store_read_begin (any other is simply read). v stays valid until the
 * next snapcache_get or store_read_end, whichever comes first. Absent keys are not kept. */
int snapcache_get(struct snapcache *c, struct store_txn *t, enum store_db db, const void *k,
                  size_t klen, struct store_val *v);
void snapcache_free(struct snapcache *c);

#endif
