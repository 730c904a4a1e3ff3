/* The numbers an upload has seen, for telling duplicates: an open-addressing table of the E.164
 * digits as integers, sized from the body's length, in its own anonymous mapping. */
#ifndef BC_INGEST_DEDUPE_H
#define BC_INGEST_DEDUPE_H

#include <stddef.h>
#include <stdint.h>

/* Numbers seen so far: open addressing, one 12-byte slot per number (the number and its row
 * side by side, so a lookup or an insert touches one cache line). */
struct dedupe_slot {
    uint32_t hi, lo; /* the E.164 digits as an integer; 0 marks an empty slot */
    uint32_t row;
};
struct dedupe {
    struct dedupe_slot *slots;
    size_t cap, used;
};

/* Sizes the table for the rows a body of body_bytes typically holds (at most max_rows). */
void dedupe_presize(struct dedupe *d, uint64_t body_bytes, uint64_t max_rows);
/* Returns the row that already holds number, or 0 after recording it for row, or BC_ENOMEM. */
int64_t dedupe_check(struct dedupe *d, uint64_t number, uint32_t row);
void dedupe_free(struct dedupe *d);

#endif
