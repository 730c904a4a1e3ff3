/* The table of numbers seen in an upload, for telling duplicates (dedupe.h). */
#include "ingest/dedupe.h"

#include <string.h>
#include <sys/mman.h>

#include "util/err.h"

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static uint64_t slot_number(const struct dedupe_slot *slot)
{
    return (uint64_t)slot->hi << 32 | slot->lo;
}

/* The table is its own anonymous mapping: zeroed, and returned to the system when freed. (Huge
 * pages would save TLB misses, but faulting them in can stall the loop for milliseconds while the
 * kernel compacts memory.) */
static int dedupe_resize(struct dedupe *d, size_t cap)
{
    size_t bytes = cap * sizeof(struct dedupe_slot);
    /* MAP_POPULATE: zeroed pages now, in one go, rather than a page fault on most of the first
     * rows' probes (10 ms spread over the first reads of a 20 MB upload). */
    void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (mem == MAP_FAILED)
        return BC_ENOMEM;
    struct dedupe_slot *slots = mem;
    for (size_t i = 0; i < d->cap; i++) {
        uint64_t number = slot_number(&d->slots[i]);
        if (!number)
            continue;
        size_t j = mix(number) & (cap - 1);
        while (slots[j].hi | slots[j].lo)
            j = (j + 1) & (cap - 1);
        slots[j] = d->slots[i];
    }
    if (d->slots)
        munmap(d->slots, d->cap * sizeof *d->slots);
    d->slots = slots;
    d->cap = cap;
    return 0;
}

void dedupe_free(struct dedupe *d)
{
    if (d->slots)
        munmap(d->slots, d->cap * sizeof *d->slots);
    memset(d, 0, sizeof *d);
}

/* Sizes the table for the rows a body of this size typically holds (contact rows are rarely under
 * 64 bytes), so a large upload does not double it, holding both copies, several times; files of
 * shorter rows still work, the table then grows. */
void dedupe_presize(struct dedupe *d, uint64_t body_bytes, uint64_t max_rows)
{
    uint64_t rows = body_bytes / 64;
    if (rows > max_rows)
        rows = max_rows;
    size_t cap = 1024;
    while (cap < rows * 4 / 3 + 1)
        cap *= 2;
    dedupe_resize(d, cap);
}

/* Returns the row that already holds number, or 0 after recording it for row, or BC_ENOMEM. */
int64_t dedupe_check(struct dedupe *d, uint64_t number, uint32_t row)
{
    if ((d->used + 1) * 4 > d->cap * 3 && dedupe_resize(d, d->cap ? d->cap * 2 : 1024) != 0)
        return BC_ENOMEM;
    size_t i = mix(number) & (d->cap - 1);
    struct dedupe_slot *slot = &d->slots[i];
    while (slot->hi | slot->lo) {
        if (slot_number(slot) == number)
            return slot->row;
        i = (i + 1) & (d->cap - 1);
        slot = &d->slots[i];
    }
    slot->hi = (uint32_t)(number >> 32);
    slot->lo = (uint32_t)number;
    slot->row = row;
    d->used++;
    return 0;
}
