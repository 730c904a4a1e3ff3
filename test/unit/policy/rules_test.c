/* A workspace's compliance settings (src/policy/rules.c): the defaults, every setting accepted
 * and refused with a message naming it, partial updates, a refused update leaving the settings
 * exactly as they were, when allowOutsideFederalWindow is recorded, the base window, the JSON
 * round trip and the stored record (a temporary LMDB store). */
#include <string.h>

#include "check.h"
#include "policy/rules.h"
#include "store/records.h"
#include "tmpstore.h"
#include "util/err.h"

#define NOW 1781524800000ull

/* The settings as JSON text (rules_to_json, unformatted): what the tests compare. */
static char *text_of(const struct rules *r)
{
    cJSON *o = rules_to_json(r);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static int apply(struct rules *r, const char *json, uint64_t now, char *msg, size_t cap)
{
    cJSON *o = cJSON_Parse(json);
    int rc = rules_apply_json(r, o, now, msg, cap);
    cJSON_Delete(o);
    return rc;
}

static void test_defaults(void)
{
    struct rules r;
    rules_defaults(&r);
    char *s = text_of(&r);
    CHECK_STR(s, "{\"callingWindows\":null,\"allowOutsideFederalWindow\":false,"
                 "\"stateRules\":true,\"useNationalRegistry\":true,\"requireConsent\":false,"
                 "\"maxAttemptsPerNumber\":3,\"capWindowHours\":24}");
    cJSON_free(s);
    CHECK(!r.has_windows);
    CHECK_INT(r.max_attempts_per_number, RULES_DEFAULT_MAX_ATTEMPTS);
    CHECK_INT(r.cap_window_hours, RULES_DEFAULT_CAP_HOURS);
    struct window base, federal;
    rules_base_window(&r, &base);
    window_federal(&federal);
    CHECK(memcmp(&base, &federal, sizeof base) == 0);
    rules_free(&r);
}

static void test_every_field(void)
{
    struct rules r;
    rules_defaults(&r);
    char msg[RULES_MSG_MAX] = "";
    static const char *const one_by_one[] = {
        "{\"stateRules\":false}",
        "{\"useNationalRegistry\":false}",
        "{\"requireConsent\":true}",
        "{\"maxAttemptsPerNumber\":0}",
        "{\"maxAttemptsPerNumber\":100}",
        "{\"capWindowHours\":1}",
        "{\"capWindowHours\":720}",
        "{\"callingWindows\":[{\"start\":\"09:00\",\"end\":\"12:00\",\"days\":[\"mon\"]},"
        "{\"start\":\"13:00\",\"end\":\"17:00\"}]}",
        "{\"allowOutsideFederalWindow\":true}",
    };
    for (size_t i = 0; i < sizeof one_by_one / sizeof one_by_one[0]; i++)
        CHECK_REPORT(apply(&r, one_by_one[i], NOW, msg, sizeof msg) == 0, "%s: %s", one_by_one[i],
                     msg);
    CHECK(!r.state_rules);
    CHECK(!r.use_national_registry);
    CHECK(r.require_consent);
    CHECK_INT(r.max_attempts_per_number, 100);
    CHECK_INT(r.cap_window_hours, 720);
    CHECK(r.has_windows);
    CHECK(r.allow_outside_federal);
    CHECK(r.allow_outside_federal_set_ms == NOW);
    /* The union of the two windows: Monday 09-12 and 13-17, other days 13-17. */
    CHECK_INT(r.windows.n[1], 2);
    CHECK_INT(r.windows.r[1][0].start, 9 * 60);
    CHECK_INT(r.windows.r[1][0].end, 12 * 60);
    CHECK_INT(r.windows.r[1][1].start, 13 * 60);
    CHECK_INT(r.windows.n[0], 1);
    CHECK_INT(r.windows.r[0][0].end, 17 * 60);
    /* Allowed outside the federal window: the workspace's own window alone. */
    struct window base;
    rules_base_window(&r, &base);
    CHECK(memcmp(&base, &r.windows, sizeof base) == 0);
    /* ... and every minute without a window of its own. */
    CHECK_INT(apply(&r, "{\"callingWindows\":null}", NOW, msg, sizeof msg), 0);
    CHECK(!r.has_windows);
    CHECK(r.windows_json == NULL);
    struct window always;
    window_always(&always);
    rules_base_window(&r, &base);
    CHECK(memcmp(&base, &always, sizeof base) == 0);
    rules_free(&r);
}

static void test_base_window_narrows_the_federal_one(void)
{
    struct rules r;
    rules_defaults(&r);
    char msg[RULES_MSG_MAX];
    /* 06:00-10:00 asked: only 08:00-10:00 is inside the federal window. */
    CHECK_INT(apply(&r, "{\"callingWindows\":[{\"start\":\"06:00\",\"end\":\"10:00\"}]}", NOW, msg,
                    sizeof msg),
              0);
    struct window base;
    rules_base_window(&r, &base);
    for (int d = 0; d < 7; d++) {
        CHECK_INT(base.n[d], 1);
        CHECK_INT(base.r[d][0].start, 8 * 60);
        CHECK_INT(base.r[d][0].end, 10 * 60);
    }
    /* [] removes the window like null. */
    CHECK_INT(apply(&r, "{\"callingWindows\":[]}", NOW, msg, sizeof msg), 0);
    CHECK(!r.has_windows);
    rules_free(&r);
}

static void test_partial_update_keeps_the_rest(void)
{
    struct rules r;
    rules_defaults(&r);
    char msg[RULES_MSG_MAX];
    CHECK_INT(
        apply(&r, "{\"requireConsent\":true,\"maxAttemptsPerNumber\":5}", NOW, msg, sizeof msg), 0);
    CHECK_INT(apply(&r, "{\"capWindowHours\":48}", NOW, msg, sizeof msg), 0);
    CHECK_INT(apply(&r, "{}", NOW, msg, sizeof msg), 0);
    char *s = text_of(&r);
    CHECK_STR(s, "{\"callingWindows\":null,\"allowOutsideFederalWindow\":false,"
                 "\"stateRules\":true,\"useNationalRegistry\":true,\"requireConsent\":true,"
                 "\"maxAttemptsPerNumber\":5,\"capWindowHours\":48}");
    cJSON_free(s);
    rules_free(&r);
}

static void test_errors_name_the_field_and_change_nothing(void)
{
    static const struct {
        const char *json, *words;
    } cases[] = {
        {"[]", "must be a JSON object"},
        {"\"x\"", "must be a JSON object"},
        {"{\"stateRules\":1}", "stateRules must be true or false"},
        {"{\"useNationalRegistry\":\"true\"}", "useNationalRegistry must be true or false"},
        {"{\"requireConsent\":null}", "requireConsent must be true or false"},
        {"{\"allowOutsideFederalWindow\":0}", "allowOutsideFederalWindow must be true or false"},
        {"{\"maxAttemptsPerNumber\":-1}",
         "maxAttemptsPerNumber must be a whole number from 0 to 100"},
        {"{\"maxAttemptsPerNumber\":101}", "maxAttemptsPerNumber must be a whole number"},
        {"{\"maxAttemptsPerNumber\":1.5}", "maxAttemptsPerNumber must be a whole number"},
        {"{\"maxAttemptsPerNumber\":\"3\"}", "maxAttemptsPerNumber must be a whole number"},
        {"{\"maxAttemptsPerNumber\":1e300}", "maxAttemptsPerNumber must be a whole number"},
        {"{\"maxAttemptsPerNumber\":-1e300}", "maxAttemptsPerNumber must be a whole number"},
        {"{\"capWindowHours\":0}", "capWindowHours must be a whole number from 1 to 720"},
        {"{\"capWindowHours\":721}", "capWindowHours must be a whole number"},
        {"{\"capWindowHours\":1e19}", "capWindowHours must be a whole number"},
        {"{\"callingWindows\":{}}", "callingWindows must be an array"},
        {"{\"callingWindows\":\"09:00-17:00\"}", "callingWindows must be an array"},
        {"{\"callingWindows\":[1]}", "callingWindows[0] must be a JSON object"},
        {"{\"callingWindows\":[{\"start\":\"09:00\",\"end\":\"17:00\"},{\"start\":\"x\"}]}",
         "callingWindows[1].start \"x\" is not a time"},
        {"{\"callingWindows\":[{\"start\":\"09:00\",\"end\":\"08:00\"}]}",
         "callingWindows[0].end must be later"},
        {"{\"callingWindows\":[{\"start\":\"09:00\",\"end\":\"17:00\",\"days\":[\"mon\",\"mon\"]}]"
         "}",
         "callingWindows[0].days names mon twice"},
        {"{\"callingWindows\":[{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}]}",
         "callingWindows has more than 14 windows"},
        {"{\"callingWindows\":[{\"start\":\"01:00\",\"end\":\"02:00\"},{\"start\":\"03:00\","
         "\"end\":\"04:00\"},{\"start\":\"05:00\",\"end\":\"06:00\"},{\"start\":\"07:00\","
         "\"end\":\"08:00\"},{\"start\":\"09:00\",\"end\":\"10:00\"}]}",
         "more than 4 separate ranges on one day"},
        {"{\"allowOutsideFederalWindowSetAt\":\"now\"}", "is set by the server"},
        {"{\"maxCalls\":3}", "unknown setting \"maxCalls\""},
        /* A good setting before a bad one is not applied either. */
        {"{\"requireConsent\":true,\"stateRules\":false,\"capWindowHours\":\"1\"}",
         "capWindowHours must be a whole number"},
        {"{\"callingWindows\":null,\"x\":1}", "unknown setting \"x\""},
    };
    struct rules r;
    rules_defaults(&r);
    char msg[RULES_MSG_MAX];
    CHECK_INT(apply(&r,
                    "{\"maxAttemptsPerNumber\":7,\"callingWindows\":[{\"start\":\"10:00\","
                    "\"end\":\"11:00\"}],\"allowOutsideFederalWindow\":true}",
                    NOW, msg, sizeof msg),
              0);
    char *before = text_of(&r);
    struct rules copy = r;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msg[0] = '\0';
        int rc = apply(&r, cases[i].json, NOW + 1000, msg, sizeof msg);
        CHECK_REPORT(rc == BC_EINVAL, "%s: rc %d", cases[i].json, rc);
        CHECK_REPORT(strstr(msg, cases[i].words) != NULL, "%s: \"%s\" lacks \"%s\"", cases[i].json,
                     msg, cases[i].words);
        char *after = text_of(&r);
        CHECK_REPORT(strcmp(before, after) == 0, "%s changed the settings: %s", cases[i].json,
                     after);
        cJSON_free(after);
        /* The struct too, past what the JSON shows (the parsed window). */
        CHECK_REPORT(memcmp(&copy.windows, &r.windows, sizeof r.windows) == 0 &&
                         copy.has_windows == r.has_windows &&
                         copy.allow_outside_federal_set_ms == r.allow_outside_federal_set_ms,
                     "%s changed the struct", cases[i].json);
    }
    /* A NULL object (a body that was not JSON). */
    CHECK_INT(rules_apply_json(&r, NULL, NOW, msg, sizeof msg), BC_EINVAL);
    cJSON_free(before);
    rules_free(&r);
}

static void test_allow_outside_is_recorded_when_turned_on(void)
{
    struct rules r;
    rules_defaults(&r);
    char msg[RULES_MSG_MAX];
    CHECK_INT(apply(&r, "{\"allowOutsideFederalWindow\":false}", NOW, msg, sizeof msg), 0);
    CHECK(r.allow_outside_federal_set_ms == 0);
    CHECK_INT(apply(&r, "{\"allowOutsideFederalWindow\":true}", NOW, msg, sizeof msg), 0);
    CHECK(r.allow_outside_federal_set_ms == NOW);
    /* Already on: the time it was turned on stays. */
    CHECK_INT(apply(&r, "{\"allowOutsideFederalWindow\":true}", NOW + 5, msg, sizeof msg), 0);
    CHECK(r.allow_outside_federal_set_ms == NOW);
    /* Off keeps when it was last on; on again records the new time. */
    CHECK_INT(apply(&r, "{\"allowOutsideFederalWindow\":false}", NOW + 6, msg, sizeof msg), 0);
    CHECK(!r.allow_outside_federal && r.allow_outside_federal_set_ms == NOW);
    CHECK_INT(apply(&r, "{\"allowOutsideFederalWindow\":true}", NOW + 7, msg, sizeof msg), 0);
    CHECK(r.allow_outside_federal_set_ms == NOW + 7);
    char *s = text_of(&r);
    CHECK(strstr(s, "\"allowOutsideFederalWindowSetAt\":1781524800007") != NULL);
    cJSON_free(s);
    rules_free(&r);
}

/* to_json -> apply on defaults gives the same settings, whatever was set. */
static void test_round_trip(void)
{
    static const char *const settings[] = {
        "{}",
        "{\"requireConsent\":true,\"stateRules\":false,\"useNationalRegistry\":false,"
        "\"maxAttemptsPerNumber\":0,\"capWindowHours\":720}",
        "{\"callingWindows\":[{\"start\":\"09:00\",\"end\":\"17:00\",\"days\":[\"mon\",\"fri\"]},"
        "{\"start\":\"10:00\",\"end\":\"24:00\",\"days\":[\"sat\"]}],"
        "\"allowOutsideFederalWindow\":true}",
    };
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        struct rules a, b;
        rules_defaults(&a);
        rules_defaults(&b);
        char msg[RULES_MSG_MAX];
        CHECK_INT(apply(&a, settings[i], NOW, msg, sizeof msg), 0);
        cJSON *o = rules_to_json(&a);
        CHECK_REPORT(rules_apply_json(&b, o, NOW + 99, msg, sizeof msg) == 0, "%s: %s", settings[i],
                     msg);
        cJSON_Delete(o);
        char *ta = text_of(&a), *tb = text_of(&b);
        CHECK_STR(tb, ta);
        CHECK(memcmp(&a.windows, &b.windows, sizeof a.windows) == 0);
        CHECK(a.allow_outside_federal_set_ms == b.allow_outside_federal_set_ms);
        cJSON_free(ta);
        cJSON_free(tb);
        rules_free(&a);
        rules_free(&b);
    }
}

static int put_txn(struct store_txn *t, void *arg)
{
    return rules_put(t, "ws_a", 4, arg);
}

static void test_stored_record(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1u << 20, 16u << 20), 0);
    struct rules r, got;
    struct store_txn t;
    /* No record: the defaults. */
    CHECK_INT(store_read_begin(&s, &t), 0);
    CHECK_INT(rules_get(&t, "ws_a", 4, &got), 0);
    store_read_end(&t);
    rules_defaults(&r);
    char *want = text_of(&r), *have = text_of(&got);
    CHECK_STR(have, want);
    cJSON_free(want);
    cJSON_free(have);
    rules_free(&got);
    char msg[RULES_MSG_MAX];
    CHECK_INT(apply(&r,
                    "{\"requireConsent\":true,\"allowOutsideFederalWindow\":true,"
                    "\"callingWindows\":[{\"start\":\"09:00\",\"end\":\"17:00\"}]}",
                    NOW, msg, sizeof msg),
              0);
    CHECK_INT(store_write(&s, put_txn, &r), 0);
    CHECK_INT(store_read_begin(&s, &t), 0);
    CHECK_INT(rules_get(&t, "ws_a", 4, &got), 0);
    struct rules other;
    CHECK_INT(rules_get(&t, "ws_b", 4, &other), 0);
    store_read_end(&t);
    want = text_of(&r);
    have = text_of(&got);
    CHECK_STR(have, want);
    CHECK(got.allow_outside_federal_set_ms == NOW);
    CHECK(memcmp(&got.windows, &r.windows, sizeof r.windows) == 0);
    CHECK(!other.require_consent && !other.allow_outside_federal);
    cJSON_free(want);
    cJSON_free(have);
    rules_free(&got);
    rules_free(&other);
    rules_free(&r);
    store_close(&s);
    tmpdir_remove(&d);
}

CHECK_MAIN(CHECK_CASE(test_defaults), CHECK_CASE(test_every_field),
           CHECK_CASE(test_base_window_narrows_the_federal_one),
           CHECK_CASE(test_partial_update_keeps_the_rest),
           CHECK_CASE(test_errors_name_the_field_and_change_nothing),
           CHECK_CASE(test_allow_outside_is_recorded_when_turned_on), CHECK_CASE(test_round_trip),
           CHECK_CASE(test_stored_record))
