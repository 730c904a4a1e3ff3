/* The numbers an upload has seen, for telling duplicates: an open-addressing table of the E.164
 * digits as integers, sized from the body's length, in its own anonymous mapping.
 *
 * A lookup in a table of megabytes is a cache miss, and with one per row it was the largest
 * single cost of reading a file. So a bit filter (one bit per slot of the table's size times 8,
 * an eighth of the table's bytes) answers first: a number whose bit is clear is new for sure, and
 * its insertion is only queued; queued insertions are made together, their slots fetched ahead,
 * so that their misses overlap. Only a number whose bit is set (a duplicate, or a few percent of
 * new numbers) waits for a probe of the table. */
#ifndef BC_INGEST_DEDUPE_H
#define BC_INGEST_DEDUPE_H

#include <stddef.h>
#include <stdint.h>

/* One slot per number: the number and its row side by side, so a probe touches one cache line. */
struct dedupe_slot {
    uint32_t hi, lo; /* the E.164 digits as an integer; 0 marks an empty slot */
    uint32_t row;
};
#define DEDUPE_QUEUE 64
struct dedupe {
    struct dedupe_slot *slots;
    uint64_t *filter; /* cap * 8 bits, after the slots in the same mapping */
    size_t cap, used;
    size_t queued; /* insertions not made yet */
    struct dedupe_slot queue[DEDUPE_QUEUE];
};

/* The number an E.164 number's digits (n of them, at most 19, without the '+') stand for: the
 * key dedupe_check takes. */
uint64_t dedupe_number(const char *digits, size_t n);
/* Sizes the table for the rows a body of body_bytes typically holds (at most max_rows). */
void dedupe_presize(struct dedupe *d, uint64_t body_bytes, uint64_t max_rows);
/* Returns the row that already holds number, or 0 after recording it for row, or BC_ENOMEM. */
int64_t dedupe_check(struct dedupe *d, uint64_t number, uint32_t row);
/* Starts loading what dedupe_check(number) reads first, so that the cache miss overlaps other
 * work (the row's number is read while it loads); only a hint, nothing changes. */
void dedupe_prefetch(const struct dedupe *d, uint64_t number);
/* Forgets the numbers recorded for rows from row on (reading those rows again), keeping the
 * others: 0, or BC_ENOMEM (the table is then as it was). */
int dedupe_forget_from(struct dedupe *d, uint32_t row);
/* Forgets every number, keeping the memory. */
void dedupe_clear(struct dedupe *d);
void dedupe_free(struct dedupe *d);

#endif
