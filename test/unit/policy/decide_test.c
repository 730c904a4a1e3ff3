/* When one call may be placed (a fake clock: every instant is passed in): the base window with
 * state rules, numbers without zone data, the per-batch cache answering exactly what an
 * uncached call answers, the zone labels, a retry due outside the window moving to the next
 * opening, and tz answers from several threads at once. */
#include "check.h"

#include <pthread.h>

#include "policy/decide.h"
#include "policy/tz.h"
#include "util/err.h"

static int64_t ms(int y, int mo, int d, int h, int mi)
{
    return (tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60) * 1000;
}

static int64_t open_at(const struct decide *d, const char *e164, int64_t now)
{
    int64_t open = -1;
    int rc = decide_open_at(d, e164, strlen(e164), now, &open);
    CHECK_REPORT(rc == 0, "decide_open_at(%s): %d", e164, rc);
    return open;
}

static void test_federal_and_state_rules(void)
{
    struct window base;
    window_federal(&base);
    struct decide d = {&base, 1, NULL};
    /* Wednesday 13 January 2027, 14:30 UTC = 09:30 EST. */
    int64_t t = ms(2027, 1, 13, 14, 30);
    CHECK(open_at(&d, "+12125550110", t) == t);                      /* New York: open */
    CHECK(open_at(&d, "+15025550116", t) == ms(2027, 1, 13, 15, 0)); /* Kentucky: 10:00 */
    CHECK(open_at(&d, "+14155550113", t) == ms(2027, 1, 13, 16, 0)); /* LA: 08:00 PST */
    /* Without state rules Kentucky follows the federal window only. */
    d.state_rules = 0;
    CHECK(open_at(&d, "+15025550116", t) == t);
    /* Texas on a Sunday: noon (17 January 2027, 16:00 UTC = 10:00 CST). */
    d.state_rules = 1;
    int64_t sunday = ms(2027, 1, 17, 16, 0);
    CHECK(open_at(&d, "+12145550100", sunday) == ms(2027, 1, 17, 18, 0));
}

static void test_retry_moves_to_the_next_opening(void)
{
    struct window base;
    window_federal(&base);
    struct decide d = {&base, 1, NULL};
    /* A busy retry 10 minutes after 20:55 in Los Angeles (04:55 UTC the next day) is due at
     * 21:05: shut; it moves to 08:00 PST. */
    int64_t due = ms(2027, 1, 14, 4, 55) + 10 * 60000;
    CHECK(open_at(&d, "+14155550100", due) == ms(2027, 1, 14, 16, 0));
    /* Across the spring change (14 March 2027): a retry due at 21:30 PST on Saturday the 13th
     * opens at 08:00 PDT on Sunday = 15:00 UTC. */
    due = ms(2027, 3, 14, 5, 30);
    CHECK(open_at(&d, "+14155550100", due) == ms(2027, 3, 14, 15, 0));
    /* And the autumn one (7 November 2027): 08:00 PST on the 7th = 16:00 UTC. */
    due = ms(2027, 11, 7, 4, 30);
    CHECK(open_at(&d, "+14155550100", due) == ms(2027, 11, 7, 16, 0));
}

static void test_batch_window_narrows(void)
{
    struct window base, own;
    char msg[256];
    window_federal(&base);
    const char *json = "{\"start\":\"09:00\",\"end\":\"17:00\",\"days\":[\"mon\",\"fri\"]}";
    CHECK(window_parse_json(json, strlen(json), &own, msg, sizeof msg) == 0);
    CHECK(window_intersect(&base, &own) == 0);
    struct decide d = {&base, 1, NULL};
    /* Wednesday 10:00 in New York: not a day of the window; Friday 09:00 is. */
    CHECK(open_at(&d, "+12125550110", ms(2027, 1, 13, 15, 0)) == ms(2027, 1, 15, 14, 0));
}

static void test_numbers_without_zones_use_utc(void)
{
    struct window base;
    window_federal(&base);
    struct decide d = {&base, 1, NULL};
    /* +800 (international freephone) has no zone: 07:00 UTC waits for 08:00 UTC. */
    CHECK(open_at(&d, "+80012345678", ms(2027, 1, 13, 7, 0)) == ms(2027, 1, 13, 8, 0));
    CHECK(open_at(&d, "+80012345678", ms(2027, 1, 13, 9, 0)) == ms(2027, 1, 13, 9, 0));
    char label[DECIDE_LABEL_MAX];
    decide_zone_label("+80012345678", 12, label);
    CHECK_STR(label, "UTC");
}

static void test_window_that_never_opens(void)
{
    /* 09:00-10:00 for every zone of the North American plan at once (an area code the data does
     * not know): Guam and Hawaii are never both in it. */
    struct window base, own;
    char msg[256];
    window_federal(&base);
    const char *json = "{\"start\":\"09:00\",\"end\":\"10:00\"}";
    CHECK(window_parse_json(json, strlen(json), &own, msg, sizeof msg) == 0);
    window_intersect(&base, &own);
    struct decide d = {&base, 0, NULL};
    int64_t open;
    CHECK_INT(decide_open_at(&d, "+13505550100", 12, ms(2027, 1, 13, 12, 0), &open), BC_ENOTFOUND);
}

static void test_cache_answers_as_without_it(void)
{
    struct window base;
    window_federal(&base);
    struct decide_cache cache;
    decide_cache_clear(&cache);
    struct decide plain = {&base, 1, NULL}, cached = {&base, 1, &cache};
    const char *numbers[] = {"+12125550110", "+14155550113",  "+18085550114", "+15025550116",
                             "+12085550100", "+442079460123", "+61255550123", "+97714445555"};
    int mismatches = 0;
    /* Every 7 minutes over three days, each number: the cache must never change an answer. */
    for (int64_t t = ms(2027, 3, 13, 0, 0); t < ms(2027, 3, 16, 0, 0); t += 7 * 60000) {
        for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
            int64_t a = -1, b = -2;
            int ra = decide_open_at(&plain, numbers[i], strlen(numbers[i]), t, &a);
            int rb = decide_open_at(&cached, numbers[i], strlen(numbers[i]), t, &b);
            mismatches += ra != rb || a != b;
        }
    }
    CHECK_INT(mismatches, 0);
}

static void test_labels(void)
{
    char label[DECIDE_LABEL_MAX];
    decide_zone_label("+12125550110", 12, label);
    CHECK_STR(label, "America/New_York");
    /* Idaho's 208 prefix 208-555 spans Boise and Los Angeles or is one of them: a label always
     * names real zones joined by commas. */
    size_t n = decide_zone_label("+13505550100", 12, label);
    CHECK(n > 0 && n < DECIDE_LABEL_MAX && strchr(label, ',') != NULL);
}

struct hammer {
    struct tz *tz;
    int64_t base;
    int errors;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    for (int i = 0; i < 200000; i++) {
        /* Alternate between two periods so the cache is refilled all the time. */
        int64_t t = h->base + (i % 2 ? 200 * 86400 : 0) + i;
        int32_t off, want = 0;
        struct tz_period p;
        if (tz_offset(h->tz, t, &off) != 0 || tz_period_at(h->tz, t, &p) != 0)
            h->errors++;
        want = (i % 2) ? -7 * 3600 : -8 * 3600; /* PDT in summer, PST in winter */
        if (off != want || p.offset != want)
            h->errors++;
    }
    return NULL;
}

static void test_tz_from_several_threads(void)
{
    struct tz *tz;
    CHECK(tz_load("America/Los_Angeles", &tz) == 0);
    struct hammer h[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        h[i] = (struct hammer){tz, ms(2027, 1, 5, 0, 0) / 1000 + i * 1000, 0};
        pthread_create(&th[i], NULL, hammer_run, &h[i]);
    }
    int errors = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        errors += h[i].errors;
    }
    CHECK_INT(errors, 0);
}

CHECK_MAIN(CHECK_CASE(test_federal_and_state_rules),
           CHECK_CASE(test_retry_moves_to_the_next_opening), CHECK_CASE(test_batch_window_narrows),
           CHECK_CASE(test_numbers_without_zones_use_utc), CHECK_CASE(test_window_that_never_opens),
           CHECK_CASE(test_cache_answers_as_without_it), CHECK_CASE(test_labels),
           CHECK_CASE(test_tz_from_several_threads))
