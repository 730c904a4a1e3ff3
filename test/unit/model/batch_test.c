/* The status rules of a batch (src/model/batch.c). */
#include "check.h"
#include "model/batch.h"
#include "util/err.h"

#include <string.h>

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

/* smartCallbackConfig: each bad input refused with a sentence that names what is wrong. */
static void test_smart_callback_config(void)
{
    static const struct {
        const char *json;
        int rc;
        const char *says;
    } cases[] = {
        {"{\"enabled\":false}", 0, NULL},
        {"{\"enabled\":true,\"maxAttempts\":1,\"gaps\":[]}", 0, NULL},
        {"{\"enabled\":true,\"maxAttempts\":3,\"gaps\":[{\"days\":0,\"hours\":4}]}", 0, NULL},
        {"{\"enabled\":true,\"maxAttempts\":10,\"gaps\":[{\"days\":30}]}", 0, NULL},
        {"[]", BC_EINVAL, "must be a JSON object"},
        {"{\"enabled\":1}", BC_EINVAL, "\"enabled\" must be true or false"},
        {"{\"enabled\":true,\"maxAttempts\":11,\"gaps\":[{\"hours\":1}]}", BC_EINVAL,
         "from 1 to 10"},
        {"{\"enabled\":true,\"maxAttempts\":2.5,\"gaps\":[{\"hours\":1}]}", BC_EINVAL,
         "whole number"},
        {"{\"enabled\":true,\"maxAttempts\":3,\"gaps\":[]}", BC_EINVAL, "at least one entry"},
        {"{\"enabled\":true,\"maxAttempts\":3,\"gaps\":[{\"hours\":1},{\"days\":31}]}", BC_EINVAL,
         "gap 2 must be"},
        {"{\"enabled\":true,\"maxAttempts\":3,\"gaps\":[{\"hours\":-1}]}", BC_EINVAL, "gap 1"},
        {"{\"enabled\":true,\"maxAttempts\":3,\"gaps\":[{}]}", BC_EINVAL, "gap 1"},
        {"{\"enabled\":true,\"maxAttempts\":3,\"gaps\":[{\"days\":0,\"hours\":0}]}", BC_EINVAL,
         "more than 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *o = cJSON_Parse(cases[i].json);
        char msg[300] = "";
        CHECK_REPORT(batch_check_smart(o, msg, sizeof msg) == cases[i].rc, "%s", cases[i].json);
        if (cases[i].says)
            CHECK_REPORT(strstr(msg, cases[i].says) != NULL, "%s: %s", cases[i].json, msg);
        cJSON_Delete(o);
    }
    char msg[300];
    CHECK_INT(batch_check_smart(NULL, msg, sizeof msg), BC_EINVAL);
}

CHECK_MAIN(CHECK_CASE(test_every_status), CHECK_CASE(test_smart_callback_config))
