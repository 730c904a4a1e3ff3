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

/* The mapping: cap slots, then the filter's cap * 8 bits. */
static size_t mapping_bytes(size_t cap)
{
    return cap * sizeof(struct dedupe_slot) + cap;
}

/* The filter's bit of a number: other bits of the hash than the slot's index. */
static uint64_t filter_bit(const struct dedupe *d, uint64_t h, size_t *word)
{
    uint64_t bit = (h >> 32) & (d->cap * 8 - 1);
    *word = (size_t)(bit >> 6);
    return 1ull << (bit & 63);
}

/* Puts a number known to be absent into the table. */
static void place(struct dedupe *d, const struct dedupe_slot *s)
{
    size_t j = mix(slot_number(s)) & (d->cap - 1);
    while (d->slots[j].hi | d->slots[j].lo)
        j = (j + 1) & (d->cap - 1);
    d->slots[j] = *s;
}

/* Makes the queued insertions, fetching all their slots first so that the misses overlap. */
static void flush(struct dedupe *d)
{
    for (size_t i = 0; i < d->queued; i++)
        __builtin_prefetch(&d->slots[mix(slot_number(&d->queue[i])) & (d->cap - 1)], 1);
    for (size_t i = 0; i < d->queued; i++)
        place(d, &d->queue[i]);
    d->queued = 0;
}

/* The table is its own anonymous mapping: zeroed, and returned to the system when freed. (Huge
 * pages would save TLB misses, but faulting them in can stall the loop for milliseconds while the
 * kernel compacts memory.) */
static int dedupe_rebuild(struct dedupe *d, size_t cap, uint32_t below)
{
    /* MAP_POPULATE: zeroed pages now, in one go, rather than a page fault on most of the first
     * rows' probes (10 ms spread over the first reads of a 20 MB upload). */
    void *mem = mmap(NULL, mapping_bytes(cap), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (mem == MAP_FAILED)
        return BC_ENOMEM;
    flush(d);
    struct dedupe old = *d;
    d->slots = mem;
    d->filter = (uint64_t *)(d->slots + cap);
    d->cap = cap;
    d->used = 0;
    for (size_t i = 0; i < old.cap; i++) {
        uint64_t number = slot_number(&old.slots[i]);
        if (!number || old.slots[i].row >= below)
            continue;
        d->used++;
        size_t word;
        uint64_t bit = filter_bit(d, mix(number), &word);
        d->filter[word] |= bit;
        place(d, &old.slots[i]);
    }
    if (old.slots)
        munmap(old.slots, mapping_bytes(old.cap));
    return 0;
}

static int dedupe_resize(struct dedupe *d, size_t cap)
{
    return dedupe_rebuild(d, cap, UINT32_MAX);
}

int dedupe_forget_from(struct dedupe *d, uint32_t row)
{
    return d->cap ? dedupe_rebuild(d, d->cap, row) : 0;
}

void dedupe_free(struct dedupe *d)
{
    if (d->slots)
        munmap(d->slots, mapping_bytes(d->cap));
    memset(d, 0, sizeof *d);
}

void dedupe_clear(struct dedupe *d)
{
    if (d->slots)
        memset(d->slots, 0, mapping_bytes(d->cap));
    d->used = 0;
    d->queued = 0;
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

void dedupe_prefetch(const struct dedupe *d, uint64_t number)
{
    size_t word;
    if (d->cap) {
        (void)filter_bit(d, mix(number), &word);
        __builtin_prefetch(&d->filter[word]);
    }
}

/* Returns the row that already holds number, or 0 after recording it for row, or BC_ENOMEM. */
int64_t dedupe_check(struct dedupe *d, uint64_t number, uint32_t row)
{
    if ((d->used + 1) * 4 > d->cap * 3 && dedupe_resize(d, d->cap ? d->cap * 2 : 1024) != 0)
        return BC_ENOMEM;
    uint64_t h = mix(number);
    size_t word;
    uint64_t bit = filter_bit(d, h, &word);
    struct dedupe_slot s = {(uint32_t)(number >> 32), (uint32_t)number, row};
    d->used++;
    if (!(d->filter[word] & bit)) {
        /* Certainly new: queue it. */
        d->filter[word] |= bit;
        d->queue[d->queued++] = s;
        if (d->queued == DEDUPE_QUEUE)
            flush(d);
        return 0;
    }
    flush(d);
    size_t i = h & (d->cap - 1);
    struct dedupe_slot *slot = &d->slots[i];
    while (slot->hi | slot->lo) {
        if (slot_number(slot) == number) {
            d->used--;
            return slot->row;
        }
        i = (i + 1) & (d->cap - 1);
        slot = &d->slots[i];
    }
    *slot = s;
    return 0;
}

/* The first eight digits are read in one 64-bit word (three multiplications instead of eight),
 * the rest one at a time: this runs for every row of an upload. */
uint64_t dedupe_number(const char *digits, size_t n)
{
    const char *p = digits;
    uint64_t v = 0;
    if (n >= 8) {
        uint64_t w;
        memcpy(&w, p, sizeof w);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w); /* the first digit in the lowest byte */
#endif
        w -= 0x3030303030303030ull;
        w = (w * 10 + (w >> 8)) & 0x00FF00FF00FF00FFull;   /* pairs */
        w = (w * 100 + (w >> 16)) & 0x0000FFFF0000FFFFull; /* fours */
        v = (w * 10000 + (w >> 32)) & 0xFFFFFFFFull;
        p += 8;
        n -= 8;
    }
    while (n--)
        v = v * 10 + (uint64_t)(*p++ - '0');
    return v;
}
