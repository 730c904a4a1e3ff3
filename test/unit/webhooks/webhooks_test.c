/* Tests for src/webhooks/webhooks.c: the event data builders (API.md B7 payloads) and a NULL
 * webhooks, which records nothing. */
#include <string.h>

#include "check.h"
#include "webhooks/webhooks.h"

static const cJSON *item(const cJSON *o, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(o, name);
}

static void test_batch_data(void)
{
    struct batch_rec b;
    memset(&b, 0, sizeof b);
    snprintf(b.id, sizeof b.id, "batch_1");
    b.status = BATCH_PROCESSING;
    b.total = 10;
    b.waiting = 4;
    b.completed = 5;
    b.failed = 1;
    b.held_window = 2;
    b.held_cap = 1;
    b.started_ms = 1700000000000ull;
    cJSON *o = webhooks_batch_data(&b);
    CHECK_INT(cJSON_GetArraySize(o), 11);
    CHECK_STR(cJSON_GetStringValue(item(o, "batchId")), "batch_1");
    CHECK_STR(cJSON_GetStringValue(item(o, "status")), batch_status_name(BATCH_PROCESSING));
    CHECK_INT(item(o, "totalCalls")->valuedouble, 10);
    CHECK_INT(item(o, "waiting")->valuedouble, 4);
    CHECK_INT(item(o, "held")->valuedouble, 3); /* held by window and by cap, inside waiting */
    CHECK_INT(item(o, "completed")->valuedouble, 5);
    CHECK_INT(item(o, "failed")->valuedouble, 1);
    CHECK_INT(item(o, "cancelled")->valuedouble, 0);
    CHECK_INT(item(o, "startTime")->valuedouble, 1700000000000ull);
    CHECK(cJSON_IsNull(item(o, "completedTime")));
    cJSON_Delete(o);
}

static void test_call_data(void)
{
    struct batch_rec b;
    struct job_head h;
    memset(&b, 0, sizeof b);
    memset(&h, 0, sizeof h);
    snprintf(b.id, sizeof b.id, "batch_1");
    h.state = JOB_FAILED;
    h.outcome = OUTCOME_BUSY;
    h.attempts = 2;
    h.start_ms = 1000;
    h.duration = 0;
    snprintf(h.e164, sizeof h.e164, "+14155550100");
    cJSON *o = webhooks_call_data(&b, 7, &h, "line busy", 4);
    CHECK_INT(cJSON_GetArraySize(o), 11);
    CHECK_STR(cJSON_GetStringValue(item(o, "jobId")), "call_7");
    CHECK_STR(cJSON_GetStringValue(item(o, "status")), job_state_name(JOB_FAILED));
    CHECK_STR(cJSON_GetStringValue(item(o, "outcome")), job_outcome_name(OUTCOME_BUSY));
    CHECK_STR(cJSON_GetStringValue(item(o, "phone_number")), "+14155550100");
    CHECK_INT(item(o, "attempts")->valuedouble, 2);
    CHECK_INT(item(o, "startTime")->valuedouble, 1000);
    CHECK(cJSON_IsNull(item(o, "endTime")));
    CHECK(cJSON_IsNull(item(o, "callId")));
    CHECK_STR(cJSON_GetStringValue(item(o, "error")), "line");
    cJSON_Delete(o);
    h.outcome = OUTCOME_NONE;
    snprintf(h.call_id, sizeof h.call_id, "CA123");
    o = webhooks_call_data(&b, 7, &h, NULL, 0);
    CHECK(cJSON_IsNull(item(o, "outcome")));
    CHECK(cJSON_IsNull(item(o, "error")));
    CHECK_STR(cJSON_GetStringValue(item(o, "callId")), "CA123");
    cJSON_Delete(o);
}

static void test_null_records_nothing(void)
{
    uint64_t d = 1, f = 1, g = 1;
    CHECK_INT(webhooks_emit(NULL, NULL, NULL, "batch.started", cJSON_CreateObject()), 0);
    webhooks_kick(NULL);
    webhooks_stats(NULL, &d, &f, &g);
    CHECK(d == 0 && f == 0 && g == 0);
    webhooks_stop(NULL);
}

CHECK_MAIN(CHECK_CASE(test_batch_data), CHECK_CASE(test_call_data),
           CHECK_CASE(test_null_records_nothing))
