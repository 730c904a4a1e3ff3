/* Tests for util/slots: an index over a caller's array of numbers, found by the caller's hash and
 * match; collisions (every entry on one hash) wrap around the table's end; growing empties the
 * index for the owner to refill; a table sized for fewer entries reuses its larger allocation
 * and clears only its part. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "util/err.h"
#include "util/slots.h"

struct table {
    struct slots s;
    uint64_t *keys;
    size_t n;
    size_t (*hash)(uint64_t key);
};

struct probe {
    const uint64_t *keys;
    uint64_t key;
};

static int match(const void *ctx, uint32_t i)
{
    const struct probe *p = ctx;
    return p->keys[i] == p->key;
}

static size_t spread(uint64_t key)
{
    return (size_t)(key * 0x9E3779B97F4A7C15ull >> 7);
}

/* Every key on one hash near the table's end: probing must wrap to slot 0. */
static size_t same(uint64_t key)
{
    (void)key;
    return 127;
}

static uint32_t *slot_of(struct table *t, uint64_t key)
{
    struct probe p = {t->keys, key};
    return slots_find(&t->s, t->hash(key), match, &p);
}

/* Adds key unless present; 1 if it was added. */
static int add(struct table *t, uint64_t key)
{
    if (t->s.cap && *slot_of(t, key))
        return 0;
    int grew = slots_fit(&t->s, t->n + 1);
    CHECK(grew == 0 || grew == 1);
    for (size_t i = 0; grew == 1 && i < t->n; i++)
        *slot_of(t, t->keys[i]) = (uint32_t)i + 1;
    t->keys[t->n++] = key;
    *slot_of(t, key) = (uint32_t)t->n;
    return 1;
}

static int has(struct table *t, uint64_t key)
{
    uint32_t *slot = slot_of(t, key);
    return *slot && t->keys[*slot - 1] == key;
}

static void fill_and_find(size_t (*hash)(uint64_t), size_t count)
{
    struct table t = {.keys = malloc(count * sizeof(uint64_t)), .hash = hash};
    for (uint64_t k = 0; k < count; k++)
        CHECK_INT(add(&t, k * 7 + 3), 1);
    CHECK_INT(add(&t, 3), 0);
    CHECK_INT(t.n, count);
    CHECK(t.s.cap >= 2 * count);
    CHECK((t.s.cap & (t.s.cap - 1)) == 0);
    size_t found = 0;
    for (uint64_t k = 0; k < count; k++)
        found += (size_t)has(&t, k * 7 + 3);
    CHECK_INT(found, count);
    for (uint64_t k = 0; k < count; k++)
        CHECK(!has(&t, k * 7 + 4));
    slots_clear(&t.s);
    for (uint64_t k = 0; k < count; k++)
        CHECK(!has(&t, k * 7 + 3));
    slots_free(&t.s);
    CHECK(t.s.pos == NULL && t.s.cap == 0 && t.s.alloc == 0);
    free(t.keys);
}

static void test_spread_hash(void)
{
    fill_and_find(spread, 10000);
}

static void test_one_hash_wraps(void)
{
    fill_and_find(same, 60);
}

static void test_fit_grows_and_empties(void)
{
    struct slots s = {0};
    CHECK_INT(slots_fit(&s, 1), 1);
    CHECK_INT(s.cap, 128);
    s.pos[5] = 9;
    CHECK_INT(slots_fit(&s, 64), 0); /* half full is still room */
    CHECK_INT(s.pos[5], 9);
    CHECK_INT(slots_fit(&s, 65), 1);
    CHECK_INT(s.cap, 256);
    for (size_t i = 0; i < s.cap; i++)
        CHECK_INT(s.pos[i], 0);
    CHECK_INT(slots_fit(&s, 1000), 1);
    CHECK_INT(s.cap, 2048);
    slots_free(&s);
}

static void test_size_reuses_and_clears_its_part(void)
{
    struct slots s = {0};
    CHECK_INT(slots_size(&s, 600), 0);
    CHECK_INT(s.cap, 2048);
    uint32_t *first = s.pos;
    for (size_t i = 0; i < s.cap; i++)
        s.pos[i] = 7;
    CHECK_INT(slots_size(&s, 3), 0);
    CHECK_INT(s.cap, 128);
    CHECK_INT(s.alloc, 2048);
    CHECK(s.pos == first);
    for (size_t i = 0; i < 128; i++)
        CHECK_INT(s.pos[i], 0);
    CHECK_INT(s.pos[128], 7); /* beyond the part in use: not touched */
    CHECK_INT(slots_size(&s, 700), 0);
    CHECK_INT(s.cap, 2048);
    CHECK(s.pos == first);
    CHECK_INT(s.pos[2047], 0);
    slots_free(&s);
}

CHECK_MAIN(CHECK_CASE(test_spread_hash), CHECK_CASE(test_one_hash_wraps),
           CHECK_CASE(test_fit_grows_and_empties), CHECK_CASE(test_size_reuses_and_clears_its_part))
