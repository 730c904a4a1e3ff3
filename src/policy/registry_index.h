/* An in-memory copy of what do-not-call lookups read of one registry generation: every area
 * code's exchange directory (800 x 1,001 offsets, 3.2 MB) and its blocks (about 2.6 bytes per
 * number: 26 MB for 10,000,000 numbers, some 650 MB for the full national list), on huge pages.
 * Kept by the store (store->shared) for all its users, threads included: a lookup is then one
 * directory read that usually hits the CPU's cache and one block read, with no B-tree descent
 * and no TLB miss (LMDB's map is file-backed 4 KB pages; reading blocks there cost two
 * dependent misses more).
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
 * (registry_npa_record, registry_digits_has). */
struct registry_index *registry_index_get(struct store_txn *t, uint32_t gen, int *later);
void registry_index_put(struct store *s, struct registry_index *ix);
/* Starts reading the block registry_index_has will read for these ten digits (NPA NXX XXXX),
 * so that the memory read overlaps the caller's other work. */
void registry_index_prefetch(const struct registry_index *ix, const char *digits10);
/* 1 if the ten digits' number is in ix's generation, else 0. */
int registry_index_has(const struct registry_index *ix, const char *digits10);

#endif
