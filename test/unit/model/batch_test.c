/* The status rules of a batch (src/model/batch.c). */
#include "check.h"
#include "model/batch.h"

static void test_every_status(void)
{
    static const struct {
        int status, live, final;
    } cases[] = {
        {BATCH_STAGING, 0, 0},
        {BATCH_QUEUED, 1, 0},
        {BATCH_PROCESSING, 1, 0},
        {BATCH_COMPLETED, 0, 1},
        {BATCH_CANCELLED, 0, 1},
        {BATCH_FAILED, 0, 1},
        {BATCH_FAILED + 1, 0, 0},
        {-1, 0, 0},
        {255, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_REPORT(batch_is_live(cases[i].status) == cases[i].live, "live(%d)", cases[i].status);
        CHECK_REPORT(batch_is_final(cases[i].status) == cases[i].final, "final(%d)",
                     cases[i].status);
    }
}

CHECK_MAIN(CHECK_CASE(test_every_status))
