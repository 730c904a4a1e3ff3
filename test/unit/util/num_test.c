/* Tests for num_put_u64: every length of number, both ends of each, and a spread of values in
 * between, each compared with printf's answer. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "util/num.h"

/* Checks one value against printf; the byte after the digits must be left alone. */
static void same(uint64_t v)
{
    char got[NUM_U64_DIGITS + 2], want[32];
    memset(got, '#', sizeof got);
    char *end = num_put_u64(got, v);
    int n = snprintf(want, sizeof want, "%llu", (unsigned long long)v);
    CHECK_REPORT(end - got == n && memcmp(got, want, (size_t)n) == 0 && got[n] == '#',
                 "%s: wrote %.*s", want, (int)(end - got), got);
}

static void test_lengths(void)
{
    same(0);
    same(UINT64_MAX);
    same(UINT64_MAX - 1);
    uint64_t p = 1;
    for (int d = 1; d < NUM_U64_DIGITS; d++) {
        same(p);
        same(p - 1);
        same(p + 1);
        same(p * 10 - 1);
        same(p * 5 + 3);
        p *= 10;
    }
    same(p);
}

static void test_spread(void)
{
    for (uint64_t v = 0; v < 20000; v++)
        same(v);
    uint64_t state = 88172645463325252ULL;
    for (int i = 0; i < 100000; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        same(state >> (state & 63));
    }
}

CHECK_MAIN(CHECK_CASE(test_lengths), CHECK_CASE(test_spread))
