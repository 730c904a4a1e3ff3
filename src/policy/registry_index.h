/* An in-memory copy of what do-not-call lookups read of one registry generation, on huge pages:
 * every exchange of an area code on the registry is a 64-byte slot at a place computed from the
 * number, holding its lines when it has at most 31, else where they are and which 64-byte
 * segment of them to read (registry_index.c has the layout). A lookup is then one cache line,
 * read early (registry_index_prefetch), plus one more for a longer exchange: no B-tree descent,
 * no binary search across cache lines, no TLB miss (LMDB's map is file-backed 4 KB pages).
 * Memory: 64 KB per area code on the registry plus the numbers of the longer exchanges, about
 * 51 MB for 10,000,000 numbers spread over every exchange, some 700 MB for the full national
 * list. Kept by the store (store->shared) for all its users, threads included.
 *
 * Built from the records a slice at a time: each registry_index_get that finds no index of its
 * generation copies about REGISTRY_INDEX_SLICE bytes (0.2 to 0.7 ms here) in the caller's
 * snapshot and answers NULL until the copy is whole, so no caller, the loop thread included,
 * waits for the whole copy; meanwhile checks read the records. A newer generation replaces the
 * index, and a replaced copy is freed when its last holder lets go. Immutable once built: a
 * generation's records never change. A registry whose records are over REGISTRY_INDEX_MAX
 * bytes is not copied: lookups then read the map. */
#ifndef BC_POLICY_REGISTRY_INDEX_H
#define BC_POLICY_REGISTRY_INDEX_H

#include <stdint.h>

#include "store/store.h"

#define REGISTRY_INDEX_MAX   ((size_t)1 << 30)
#define REGISTRY_INDEX_SLICE ((size_t)256 << 10)

struct registry_index;

/* The whole index of generation gen (a meta.generation t sees), counted as held until
 * registry_index_put; or NULL, with *later set when asking again will bring it nearer (a copy
 * of gen is under way: this call may have copied a slice) and cleared when it will not come
 * (no memory, a store error, a registry over REGISTRY_INDEX_MAX, or gen older than the index
 * already built: a snapshot taken before an import switched). Callers then read the records
 * (registry_npa_get, registry_digits_has). */
struct registry_index *registry_index_get(struct store_txn *t, uint32_t gen, int *later);
void registry_index_put(struct store *s, struct registry_index *ix);
/* Starts reading the block registry_index_has will read for these ten digits (NPA NXX XXXX),
 * so that the memory read overlaps the caller's other work. */
void registry_index_prefetch(const struct registry_index *ix, const char *digits10);
/* 1 if the ten digits' number is in ix's generation, else 0. */
int registry_index_has(const struct registry_index *ix, const char *digits10);

#endif
