/* Reports and their pool (src/dispatch/report.c). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dispatch/report.h"

/* A report taken from the pool is the one given back, as empty as a new one: nothing of the
 * last report (its outcome, effects, transcript) is left in it. */
static void test_pool_reuses_empty(void)
{
    struct report_pool pool = {0};
    struct report *r = report_take(&pool, REPORT_CALL, "batch_a", 7, 2);
    CHECK(r != NULL);
    CHECK_STR(r->batch, "batch_a");
    CHECK_INT(r->row, 7);
    CHECK_INT(r->seq, 2);
    r->ce.transcript = strdup("hello");
    r->ce.final = 1;
    r->released = 1;
    r->retry_due = 99;
    report_give(&pool, r);
    CHECK_INT(pool.n, 1);
    struct report *again = report_take(&pool, REPORT_CREATE, "batch_b", 1, 1);
    CHECK(again == r);
    CHECK_INT(pool.n, 0);
    CHECK_INT(again->kind, REPORT_CREATE);
    CHECK_STR(again->batch, "batch_b");
    CHECK(again->ce.transcript == NULL);
    CHECK_INT(again->ce.final, 0);
    CHECK_INT(again->released, 0);
    CHECK_INT(again->retry_due, 0);
    CHECK(again->next == NULL);
    report_give(&pool, again);
    report_pool_free(&pool);
    CHECK_INT(pool.n, 0);
    CHECK(pool.spare == NULL);
}

/* The pool keeps at most REPORT_POOL_MAX reports; the rest are freed. A batch id too long for
 * the report is cut, as before. */
static void test_pool_bounded(void)
{
    struct report_pool pool = {0};
    static struct report *rs[REPORT_POOL_MAX + 5];
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++)
        rs[i] = report_take(&pool, REPORT_CALL, "b", 1, 1);
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++)
        report_give(&pool, rs[i]);
    CHECK_INT(pool.n, REPORT_POOL_MAX);
    report_pool_free(&pool);

    char long_id[2 * ID_MAX];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    struct report *r = report_new(REPORT_UNKNOWN, long_id, 1, 1);
    CHECK_INT(strlen(r->batch), ID_MAX - 1);
    report_free(r);
}

CHECK_MAIN(CHECK_CASE(test_pool_reuses_empty), CHECK_CASE(test_pool_bounded))
