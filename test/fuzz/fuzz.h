/* Shared helpers of the libFuzzer harnesses (test/fuzz/fuzz_*.c; README "Fuzzing").
 *
 * A harness checks properties with FUZZ_CHECK: a broken property aborts, and libFuzzer saves the
 * input as a crash like any sanitizer report. Split points come from a hash of the input, so a
 * crash replays exactly, and every input is also cut in a different place than its neighbours. */
#ifndef BC_FUZZ_H
#define BC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property broken: %s: ", __FILE__, __LINE__, #cond);            \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* FNV-1a of the input, the seed of the split points. */
static inline uint64_t fuzz_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Fills cuts[0..k) with increasing offsets in [0, n] drawn from seed (splitmix64); returns k. */
static inline size_t fuzz_cuts(uint64_t seed, size_t n, size_t *cuts, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        cuts[i] = n ? (size_t)(z % (n + 1)) : 0;
    }
    for (size_t i = 1; i < k; i++) /* insertion sort: k is tiny */
        for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
            size_t t = cuts[j];
            cuts[j] = cuts[j - 1];
            cuts[j - 1] = t;
        }
    return k;
}

/* Feeds size bytes of data to feed(ctx, piece, len): cut at the ncuts increasing offsets of
 * cuts, or one byte at a time when ncuts is SIZE_MAX. Stops at the first non-zero result of feed
 * and returns it. */
static inline int fuzz_feed(const char *data, size_t size, const size_t *cuts, size_t ncuts,
                            int (*feed)(void *ctx, const char *p, size_t n), void *ctx)
{
    int rc = 0;
    size_t at = 0;
    if (ncuts == SIZE_MAX) {
        for (; !rc && at < size; at++)
            rc = feed(ctx, data + at, 1);
    } else {
        for (size_t i = 0; !rc && i < ncuts; i++) {
            rc = feed(ctx, data + at, cuts[i] - at);
            at = cuts[i];
        }
    }
    if (!rc && at < size)
        rc = feed(ctx, data + at, size - at);
    return rc;
}

/* The property "the same log whether the input came whole or split": aborts with both logs. */
static inline void fuzz_same(const struct buf *whole, const struct buf *split, const char *what)
{
    FUZZ_CHECK(whole->len == split->len &&
                   (whole->len == 0 || memcmp(whole->data, split->data, whole->len) == 0),
               "%s:\n--- whole\n%.*s\n--- split\n%.*s", what, (int)whole->len, whole->data,
               (int)split->len, split->data);
}

#endif
