/* An open-addressing index over an array its owner keeps: each slot holds an entry's position + 1
 * (0: empty), probed linearly and kept at most half full. The owner hashes and says which entry
 * matches; this keeps the memory and the probing. Unlike util/map it copies no keys and empties
 * with one memset, for tables rebuilt every transaction (the dispatcher's commit). */
#ifndef BC_UTIL_SLOTS_H
#define BC_UTIL_SLOTS_H

#include <stddef.h>
#include <stdint.h>

struct slots {
    uint32_t *pos;
    size_t cap;   /* slots in use: a power of two, or 0 before the first slots_fit/slots_size */
    size_t alloc; /* slots allocated (a smaller table reuses a larger allocation) */
};

/* 1 when the owner's entry i (0-based) is the one looked for (ctx says which). */
typedef int (*slots_match_fn)(const void *ctx, uint32_t i);

/* The slot holding the entry that matches, or the empty slot where it would go. cap must be > 0
 * and the index not full (slots_fit/slots_size keep it half empty). */
uint32_t *slots_find(const struct slots *s, size_t hash, slots_match_fn match, const void *ctx);
/* Room for n entries. 0: it had room; 1: it grew and is now empty (the owner puts its entries
 * back); BC_ENOMEM: unchanged. */
int slots_fit(struct slots *s, size_t n);
/* Empty, with the slots in use sized for n entries whatever they were before (a table rebuilt
 * from scratch each time clears only what it needs). 0 or BC_ENOMEM. */
int slots_size(struct slots *s, size_t n);
/* Empty, the same size. */
void slots_clear(struct slots *s);
void slots_free(struct slots *s);

#endif
