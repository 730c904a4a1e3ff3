/* The retry policy, rule by rule (src/dispatch/retry.c). */
#include <cjson/cJSON.h>

#include "check.h"
#include "dispatch/retry.h"
#include "store/records.h"

static struct retry_config config(void)
{
    struct retry_config c;
    retry_defaults(&c);
    c.busy_retry_ms = 1000;
    c.hour_ms = 10;
    return c;
}

static void test_busy_retried_then_final(void)
{
    struct retry_config c = config();
    struct retry_decision d;
    retry_after_call(&c, NULL, OUTCOME_BUSY, 1, 1, 5000, "Number busy", &d);
    CHECK_INT(d.retry, 1);
    CHECK_INT(d.due_ms, 6000);
    retry_after_call(&c, NULL, OUTCOME_BUSY, 2, 2, 5000, "Number busy", &d);
    CHECK_INT(d.retry, 1);
    retry_after_call(&c, NULL, OUTCOME_BUSY, 3, 3, 5000, "Number busy", &d);
    CHECK_INT(d.retry, 0);
    CHECK_STR(d.error, "Number busy - unable to connect after 3 attempts");
}

/* After POST .../retry the limits count from the retry, while the words count every dial. */
static void test_limits_count_from_a_manual_retry(void)
{
    struct retry_config c = config();
    struct retry_decision d;
    retry_after_call(&c, NULL, OUTCOME_BUSY, 1, 4, 5000, "Number busy", &d);
    CHECK_INT(d.retry, 1);
    retry_after_call(&c, NULL, OUTCOME_BUSY, 3, 6, 5000, "Number busy", &d);
    CHECK_INT(d.retry, 0);
    CHECK_STR(d.error, "Number busy - unable to connect after 6 attempts");
}

static void test_no_answer_needs_smart_callback(void)
{
    struct retry_config c = config();
    struct retry_decision d;
    retry_after_call(&c, NULL, OUTCOME_NO_ANSWER, 1, 1, 0, "No answer", &d);
    CHECK_INT(d.retry, 0);
    CHECK_STR(d.error, "No answer after 1 attempt");
    struct retry_smart off = {0};
    retry_after_call(&c, &off, OUTCOME_VOICEMAIL, 1, 1, 0, "Voicemail", &d);
    CHECK_INT(d.retry, 0);
    CHECK_STR(d.error, "Reached voicemail after 1 attempt");
}

static void test_smart_gaps(void)
{
    struct retry_config c = config();
    cJSON *o = cJSON_Parse("{\"enabled\":true,\"maxAttempts\":4,\"gaps\":[{\"days\":0,"
                           "\"hours\":2},{\"days\":1,\"hours\":0}]}");
    struct retry_smart sm;
    retry_smart_from_json(o, &sm);
    cJSON_Delete(o);
    CHECK_INT(sm.enabled, 1);
    CHECK_INT(sm.max_attempts, 4);
    CHECK_INT(sm.ngaps, 2);
    struct retry_decision d;
    /* Gap 1 (2 h) before attempt 2, gap 2 (24 h) before attempt 3, and the last gap repeats. */
    retry_after_call(&c, &sm, OUTCOME_NO_ANSWER, 1, 1, 100, "", &d);
    CHECK_INT(d.retry, 1);
    CHECK_INT(d.due_ms, 100 + 2 * 10);
    retry_after_call(&c, &sm, OUTCOME_VOICEMAIL, 2, 2, 100, "", &d);
    CHECK_INT(d.due_ms, 100 + 24 * 10);
    retry_after_call(&c, &sm, OUTCOME_NO_ANSWER, 3, 3, 100, "", &d);
    CHECK_INT(d.due_ms, 100 + 24 * 10);
    retry_after_call(&c, &sm, OUTCOME_NO_ANSWER, 4, 4, 100, "", &d);
    CHECK_INT(d.retry, 0);
    CHECK_STR(d.error, "No answer after 4 attempts");
    retry_smart_from_json(NULL, &sm);
    CHECK_INT(sm.enabled, 0);
}

static void test_final_outcomes(void)
{
    struct retry_config c = config();
    struct retry_decision d;
    static const int finals[] = {OUTCOME_INVALID_NUMBER, OUTCOME_UNREACHABLE,
                                 OUTCOME_CARRIER_BLOCKED, OUTCOME_REJECTED};
    for (size_t i = 0; i < sizeof finals / sizeof finals[0]; i++) {
        retry_after_call(&c, NULL, finals[i], 1, 1, 0, "Number unreachable (SIP 480)", &d);
        CHECK_INT(d.retry, 0);
        CHECK_STR(d.error, "Number unreachable (SIP 480)");
    }
    retry_after_call(&c, NULL, OUTCOME_ANSWERED, 1, 1, 0, "", &d);
    CHECK_INT(d.retry, 0);
    CHECK_STR(d.error, "");
}

static void test_provider_backoff(void)
{
    struct retry_config c = config();
    c.backoff_base_ms = 100;
    c.backoff_max_ms = 1000;
    c.provider_retries = 5;
    struct retry_decision d;
    /* Full jitter: uniform below a ceiling that doubles per try, capped. */
    retry_after_provider_error(&c, 1, 0, 0.5, 0, "HTTP 503", &d);
    CHECK_INT(d.retry, 1);
    CHECK_INT(d.due_ms, 50);
    retry_after_provider_error(&c, 3, 0, 0.5, 0, "HTTP 503", &d);
    CHECK_INT(d.due_ms, 200);
    retry_after_provider_error(&c, 5, 0, 0.999, 0, "HTTP 503", &d);
    CHECK(d.due_ms <= 1000);
    /* Retry-After wins when longer. */
    retry_after_provider_error(&c, 1, 7000, 0.5, 0, "HTTP 429", &d);
    CHECK_INT(d.due_ms, 7000);
    retry_after_provider_error(&c, 6, 0, 0.5, 0, "HTTP 503", &d);
    CHECK_INT(d.retry, 0);
    CHECK_STR(d.error,
              "Provider unavailable: the call could not be placed after 6 tries (HTTP 503)");
}

CHECK_MAIN(CHECK_CASE(test_busy_retried_then_final),
           CHECK_CASE(test_limits_count_from_a_manual_retry),
           CHECK_CASE(test_no_answer_needs_smart_callback), CHECK_CASE(test_smart_gaps),
           CHECK_CASE(test_final_outcomes), CHECK_CASE(test_provider_backoff))
