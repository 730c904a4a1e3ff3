/* Tests for buf_reserve_each, the reservation the in-place escapers (form and XML) rely on: room
 * for the worst case, nothing for no items, and an overflowing size refused, not wrapped. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "util/buf.h"
#include "util/err.h"

static void test_room(void)
{
    struct buf b = {0};
    CHECK(buf_append(&b, "ab", 2) == 0);
    CHECK(buf_reserve_each(&b, 100, 6) == 0);
    CHECK(b.cap - b.len >= 600);
    memset(b.data + b.len, 'x', 600); /* ASan: the whole reservation is writable */
    CHECK(b.len == 2 && memcmp(b.data, "ab", 2) == 0);
    buf_free(&b);
}

static void test_nothing(void)
{
    struct buf b = {0};
    CHECK(buf_reserve_each(&b, 0, 6) == 0);
    CHECK(b.data == NULL && b.cap == 0);
}

static void test_overflow(void)
{
    struct buf b = {0};
    CHECK(buf_reserve_each(&b, SIZE_MAX / 3 + 1, 3) == BC_ENOMEM);
    CHECK(buf_reserve_each(&b, SIZE_MAX, 2) == BC_ENOMEM);
    CHECK(b.data == NULL);
}

CHECK_MAIN(CHECK_CASE(test_room), CHECK_CASE(test_nothing), CHECK_CASE(test_overflow))
