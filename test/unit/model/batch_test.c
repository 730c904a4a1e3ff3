/* The status rules of a batch, and the parsers of what clients send about one (src/model/batch.c).
 */
#include <string.h>

#include "check.h"
#include "model/batch.h"
#include "util/err.h"

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

static void test_job_ids(void)
{
    static const struct {
        const char *in;
        int rc;
        uint32_t row;
    } cases[] = {
        {"call_1", 0, 1},
        {"call_20", 0, 20},
        {"call_4294967295", 0, 4294967295u},
        {"call_4294967296", BC_EINVAL, 0},
        {"call_0", BC_EINVAL, 0},
        {"call_01", BC_EINVAL, 0},
        {"call_", BC_EINVAL, 0},
        {"call_1x", BC_EINVAL, 0},
        {"Call_1", BC_EINVAL, 0},
        {"call_-1", BC_EINVAL, 0},
        {"call_99999999999", BC_EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t row = 0;
        int rc = batch_job_id_parse(cases[i].in, strlen(cases[i].in), &row);
        CHECK_REPORT(rc == cases[i].rc && row == cases[i].row, "%s: rc %d row %u", cases[i].in, rc,
                     row);
    }
}

static void test_event_ids(void)
{
    static const struct {
        const char *in;
        uint32_t want;
    } cases[] = {
        {"", 0},
        {"0", 0},
        {"12", 12},
        {"12abc", 12},
        {"abc", 0},
        {"4294967289", 4294967289u},
        {"4294967290", 4294967294u},
        {"4294967295", 4294967294u},
        {"99999999999999999999", 4294967294u},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_REPORT(batch_event_id_parse(cases[i].in, strlen(cases[i].in)) == cases[i].want, "%s",
                     cases[i].in);
}

static void test_smart_config(void)
{
    static const struct {
        const char *json;
        int ok;
        const char *msg; /* the start of the message when refused */
    } cases[] = {
        {"{\"enabled\":true,\"maxAttempts\":3,\"gaps\":[{\"days\":0,\"hours\":4}]}", 1, ""},
        {"{\"enabled\":false}", 1, ""},
        {"{\"enabled\":true,\"maxAttempts\":1,\"gaps\":[]}", 1, ""},
        {"[]", 0, "must be a JSON object"},
        {"not json", 0, "must be a JSON object"},
        {"{\"enabled\":1}", 0, "\"enabled\" must be true or false"},
        {"{\"enabled\":true,\"maxAttempts\":11,\"gaps\":[{\"hours\":1}]}", 0,
         "\"maxAttempts\" must be"},
        {"{\"enabled\":true,\"maxAttempts\":2.5,\"gaps\":[{\"hours\":1}]}", 0,
         "\"maxAttempts\" must be"},
        {"{\"enabled\":true,\"maxAttempts\":2,\"gaps\":[]}", 0, "\"gaps\" must be"},
        {"{\"enabled\":true,\"maxAttempts\":2,\"gaps\":[{\"hours\":1},{\"days\":31}]}", 0,
         "gap 2 must be"},
        {"{\"enabled\":true,\"maxAttempts\":2,\"gaps\":[{\"hours\":\"1\"}]}", 0, "gap 1 must be"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *o = cJSON_Parse(cases[i].json);
        char msg[300] = "";
        int rc = batch_smart_check(o, msg, sizeof msg);
        CHECK_REPORT((rc == 0) == cases[i].ok, "%s: rc %d %s", cases[i].json, rc, msg);
        CHECK_REPORT(strncmp(msg, cases[i].msg, strlen(cases[i].msg)) == 0, "%s: %s", cases[i].json,
                     msg);
        cJSON_Delete(o);
    }
}

CHECK_MAIN(CHECK_CASE(test_every_status), CHECK_CASE(test_job_ids), CHECK_CASE(test_event_ids),
           CHECK_CASE(test_smart_config))
