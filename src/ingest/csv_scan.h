/* The CSV parser's block scanner (csv.c's fast path): where a row's structural bytes are.
 *
 * A block is up to 64 bytes of input from base. Its mask has a bit for every delimiter, quote,
 * CR, LF and NUL (and for the other control bytes below CR, which are data: the walk passes
 * over them); a second mask has a bit for every byte that is not ASCII. The parser walks the set
 * bits, so a field costs a few instructions whatever its length; bits are cleared as the walk
 * passes them. A block is never read past end. The walk is inline: it runs once per field. */
#ifndef BC_INGEST_CSV_SCAN_H
#define BC_INGEST_CSV_SCAN_H

#include <stddef.h>
#include <stdint.h>

struct csv_scan {
    const unsigned char *base, *end;
    uint64_t bits, high;
    uint64_t row_high; /* non-ASCII bytes seen since the current row started (or just after it) */
    unsigned char delim;
};

struct csv_scan_block {
    uint64_t bits, high;
};

/* The masks for the up to 64 bytes at b, n of which are left (n > 0), with delimiter delim. */
struct csv_scan_block csv_scan_block(const unsigned char *b, size_t n, unsigned char delim);

/* Fills the masks for the block at sc->base. */
static inline __attribute__((always_inline)) void csv_scan_load(struct csv_scan *sc)
{
    struct csv_scan_block k = csv_scan_block(sc->base, (size_t)(sc->end - sc->base), sc->delim);
    sc->bits = k.bits;
    sc->high = k.high;
    sc->row_high |= k.high;
}

/* The next structural byte not yet passed, or end. */
static inline __attribute__((always_inline)) const unsigned char *csv_scan_peek(struct csv_scan *sc)
{
    while (!sc->bits) {
        if (sc->end - sc->base <= 64)
            return sc->end;
        sc->base += 64;
        csv_scan_load(sc);
    }
    return sc->base + __builtin_ctzll(sc->bits);
}

/* Passes the byte csv_scan_peek returned. */
static inline __attribute__((always_inline)) void csv_scan_pop(struct csv_scan *sc)
{
    sc->bits &= sc->bits - 1;
}

/* A row starts at s: only the non-ASCII bytes from s on count for it. s may be the end of the
 * block (offset 64): the whole block then counts, which at worst costs a UTF-8 check that was
 * not needed. */
static inline __attribute__((always_inline)) void csv_scan_row_start(struct csv_scan *sc,
                                                                     const unsigned char *s)
{
    sc->row_high = sc->high >> ((size_t)(s - sc->base) & 63);
}

#endif
