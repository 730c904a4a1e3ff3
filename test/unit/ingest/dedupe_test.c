/* Tests for src/ingest/dedupe.c: every repeat is found with the row that first held the number,
 * nothing else is, across the table's growth, queued insertions and a clear. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ingest/dedupe.h"

#define N 200000

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* How many different numbers there are. */
static size_t distinct(const uint64_t *numbers, size_t n)
{
    uint64_t *copy = malloc(n * sizeof *copy);
    CHECK(copy != NULL);
    memcpy(copy, numbers, n * sizeof *copy);
    qsort(copy, n, sizeof *copy, cmp_u64);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += i == 0 || copy[i] != copy[i - 1];
    free(copy);
    return k;
}

/* Numbers with repeats: each draw is a fresh number or, one time in eight, an earlier one. */
static void draw(uint64_t *numbers, size_t n, unsigned seed)
{
    srand(seed);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && rand() % 8 == 0)
            numbers[i] = numbers[(size_t)rand() % i];
        else
            numbers[i] = 14155550000ull + (uint64_t)rand() * 7919u % 9000000000ull;
    }
}

static void check_all(struct dedupe *d, const uint64_t *numbers, size_t n)
{
    size_t dups = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t want = 0;
        for (size_t j = 0; j < i && !want; j++) /* the reference: the first earlier equal draw */
            if (numbers[j] == numbers[i])
                want = (int64_t)j + 1;
        int64_t got = dedupe_check(d, numbers[i], (uint32_t)i + 1);
        CHECK_INT(got, want);
        dups += want != 0;
    }
    CHECK(dups > n / 20);
}

static void test_finds_every_repeat(void)
{
    static uint64_t numbers[4000];
    draw(numbers, 4000, 1);
    struct dedupe d;
    memset(&d, 0, sizeof d);
    dedupe_presize(&d, 64, 1); /* the smallest table: it grows twice on the way */
    check_all(&d, numbers, 4000);
    CHECK(d.cap >= 4096);
    /* After a clear nothing is known any more. */
    dedupe_clear(&d);
    CHECK_INT(dedupe_check(&d, numbers[0], 9), 0);
    CHECK_INT(dedupe_check(&d, numbers[0], 10), 9);
    dedupe_clear(&d);
    check_all(&d, numbers, 4000);
    dedupe_free(&d);
}

/* Many numbers: the bit filter is crowded and the queue is flushed many times. */
static void test_large(void)
{
    uint64_t *numbers = malloc(N * sizeof *numbers);
    CHECK(numbers != NULL);
    draw(numbers, N, 2);
    struct dedupe d;
    memset(&d, 0, sizeof d);
    dedupe_presize(&d, 64 * 1000, N);
    /* Every repeat found names an earlier row of the same number. */
    size_t dups = 0;
    for (size_t i = 0; i < N; i++) {
        int64_t got = dedupe_check(&d, numbers[i], (uint32_t)i + 1);
        CHECK(got >= 0 && got <= (int64_t)i);
        if (got > 0) {
            CHECK(numbers[got - 1] == numbers[i]);
            dups++;
        }
    }
    /* A second pass finds every number, with a row that held it. */
    for (size_t i = 0; i < N; i++) {
        int64_t got = dedupe_check(&d, numbers[i], 0);
        CHECK(got > 0 && numbers[got - 1] == numbers[i]);
    }
    CHECK(dups > N / 10);
    CHECK_INT(N - dups, distinct(numbers, N)); /* no repeat was taken for a new number */
    dedupe_free(&d);
    free(numbers);
}

/* dedupe_number reads every length of digits (1 to 19) as their decimal value, whatever the
 * digits: eight of them go through the word-at-a-time path. */
static void test_number(void)
{
    srand(7);
    for (int round = 0; round < 20000; round++) {
        char digits[20];
        size_t n = 1 + (size_t)round % 19;
        for (size_t i = 0; i < n; i++)
            digits[i] = (char)('0' + (round % 7 == 0 ? 9 : rand() % 10));
        digits[n] = '\0';
        CHECK_INT(dedupe_number(digits, n), strtoull(digits, NULL, 10));
    }
    CHECK_INT(dedupe_number("447911123456", 12), 447911123456ull);
    CHECK_INT(dedupe_number("1", 1), 1);
}

CHECK_MAIN(CHECK_CASE(test_finds_every_repeat), CHECK_CASE(test_large), CHECK_CASE(test_number))
