/* Calling windows with a fake clock (every instant is passed in): the federal window across the
 * 2027 US DST changes, zones without DST, split area codes, multi-zone numbers, other
 * countries' DST and odd offsets, state rules, the next opening across DST changes, and the
 * callingWindow JSON. */
#include "check.h"

#include "policy/tz.h"
#include "policy/window.h"
#include "policy/zones.h"
#include "util/err.h"

static int64_t ms(int y, int mo, int d, int h, int mi)
{
    return (tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60) * 1000;
}

static const struct zones_set *num(const char *e164)
{
    const struct zones_set *set = NULL;
    int rc = zones_lookup(e164, strlen(e164), &set);
    CHECK_REPORT(rc == 0, "zones_lookup(%s): %d", e164, rc);
    return set;
}

/* A one-zone set by name, for zones the tests reach through no number. */
static uint16_t zone_ids[8];
static int nzone_ids;
static struct zones_set one_zone(const char *name)
{
    for (size_t i = 0; i < zones_count(); i++) {
        if (strcmp(zones_name((uint16_t)i), name) == 0) {
            zone_ids[nzone_ids] = (uint16_t)i;
            return (struct zones_set){0, 1, &zone_ids[nzone_ids++]};
        }
    }
    CHECK_REPORT(0, "zone %s is not in the zones table", name);
    return (struct zones_set){0, 0, zone_ids};
}

static int allows(const struct window *w, const struct zones_set *set, int64_t t)
{
    return set ? window_allows(w, set, t) : -100;
}

static void test_federal_across_us_dst_2027(void)
{
    struct window w;
    window_federal(&w);
    const struct zones_set *ny = num("+12125550182");
    /* 13 March (EST, UTC-5): 08:00 local is 13:00 UTC. */
    CHECK_INT(allows(&w, ny, ms(2027, 3, 13, 12, 59)), 0);
    CHECK_INT(allows(&w, ny, ms(2027, 3, 13, 13, 0)), 1);
    /* 14 March (EDT from 07:00 UTC): 08:00 local is 12:00 UTC. */
    CHECK_INT(allows(&w, ny, ms(2027, 3, 14, 11, 59)), 0);
    CHECK_INT(allows(&w, ny, ms(2027, 3, 14, 12, 0)), 1);
    /* 21:00 EDT = 01:00 UTC the next day. */
    CHECK_INT(allows(&w, ny, ms(2027, 3, 15, 0, 59)), 1);
    CHECK_INT(allows(&w, ny, ms(2027, 3, 15, 1, 0)), 0);
    /* 7 November (EST from 06:00 UTC): 08:00 local is 13:00 UTC again. */
    CHECK_INT(allows(&w, ny, ms(2027, 11, 7, 12, 59)), 0);
    CHECK_INT(allows(&w, ny, ms(2027, 11, 7, 13, 0)), 1);
    CHECK_INT(allows(&w, ny, ms(2027, 11, 8, 1, 59)), 1);
    CHECK_INT(allows(&w, ny, ms(2027, 11, 8, 2, 0)), 0);
}

static void test_arizona_and_hawaii(void)
{
    struct window w;
    window_federal(&w);
    const struct zones_set *phx = num("+16235550100"), *hnl = num("+18085550100");
    /* Phoenix is UTC-7 all year: 08:00 is 15:00 UTC in January and in July. */
    CHECK_INT(allows(&w, phx, ms(2027, 1, 15, 14, 59)), 0);
    CHECK_INT(allows(&w, phx, ms(2027, 1, 15, 15, 0)), 1);
    CHECK_INT(allows(&w, phx, ms(2027, 7, 15, 14, 59)), 0);
    CHECK_INT(allows(&w, phx, ms(2027, 7, 15, 15, 0)), 1);
    /* 21:00 is 04:00 UTC; but +1602 may also be on the Navajo Nation's Mountain time (DST), so in
     * summer it closes at 21:00 MDT, 03:00 UTC. */
    CHECK_INT(allows(&w, phx, ms(2027, 7, 16, 3, 59)), 1);
    CHECK_INT(allows(&w, phx, ms(2027, 7, 16, 4, 0)), 0);
    const struct zones_set *az = num("+16025550100");
    CHECK_INT(allows(&w, az, ms(2027, 7, 16, 2, 59)), 1);
    CHECK_INT(allows(&w, az, ms(2027, 7, 16, 3, 0)), 0);
    CHECK_INT(allows(&w, az, ms(2027, 1, 16, 3, 59)), 1); /* in winter both are UTC-7 */
    /* Honolulu is UTC-10: 08:00 is 18:00 UTC, 21:00 is 07:00 UTC. */
    CHECK_INT(allows(&w, hnl, ms(2027, 3, 14, 17, 59)), 0);
    CHECK_INT(allows(&w, hnl, ms(2027, 3, 14, 18, 0)), 1);
    CHECK_INT(allows(&w, hnl, ms(2027, 3, 15, 6, 59)), 1);
    CHECK_INT(allows(&w, hnl, ms(2027, 3, 15, 7, 0)), 0);
}

static void test_split_area_codes(void)
{
    struct window w;
    window_federal(&w);
    /* Indiana 219: Eastern, but 219-226 is Central. 12:30 UTC in July: 08:30 EDT, 07:30 CDT. */
    const struct zones_set *east = num("+12195550100"), *central = num("+12192260100");
    CHECK_INT(allows(&w, east, ms(2027, 7, 1, 12, 30)), 1);
    CHECK_INT(allows(&w, central, ms(2027, 7, 1, 12, 30)), 0);
    CHECK_INT(allows(&w, central, ms(2027, 7, 1, 13, 0)), 1);
    /* Idaho 208: 208-201 is Mountain (Denver), 208-215 Pacific. 14:30 UTC in July: 08:30 MDT,
     * 07:30 PDT. */
    const struct zones_set *boise = num("+12082010100"), *north = num("+12082150100");
    CHECK_INT(allows(&w, boise, ms(2027, 7, 1, 14, 30)), 1);
    CHECK_INT(allows(&w, north, ms(2027, 7, 1, 14, 30)), 0);
    CHECK_INT(allows(&w, north, ms(2027, 7, 1, 15, 0)), 1);
}

static void test_multi_zone_intersection(void)
{
    struct window w;
    window_federal(&w);
    /* An Idaho exchange the map knows only as "Boise or Los Angeles": callable from 08:00
     * Pacific (15:00 UTC in July) until 21:00 Mountain (03:00 UTC). */
    const struct zones_set *both = num("+12082090100");
    CHECK(both && both->count == 2);
    CHECK_INT(allows(&w, both, ms(2027, 7, 1, 14, 59)), 0);
    CHECK_INT(allows(&w, both, ms(2027, 7, 1, 15, 0)), 1);
    CHECK_INT(allows(&w, both, ms(2027, 7, 2, 2, 59)), 1);
    CHECK_INT(allows(&w, both, ms(2027, 7, 2, 3, 0)), 0);
    int64_t open = 0;
    CHECK_INT(window_next_open(&w, both, ms(2027, 7, 1, 12, 0), &open), 0);
    CHECK_INT(open, ms(2027, 7, 1, 15, 0));
    CHECK_INT(window_next_open(&w, both, ms(2027, 7, 2, 3, 0), &open), 0);
    CHECK_INT(open, ms(2027, 7, 2, 15, 0));
    /* Zones too far apart for any common minute: never open. */
    struct window narrow;
    window_never(&narrow);
    for (int d = 0; d < 7; d++)
        window_add(&narrow, d, 9 * 60, 10 * 60);
    struct zones_set ny = one_zone("America/New_York"), la = one_zone("America/Los_Angeles");
    uint16_t pair[2] = {ny.zone[0], la.zone[0]};
    struct zones_set apart = {0, 2, pair};
    CHECK_INT(window_next_open(&narrow, &apart, ms(2027, 7, 1, 0, 0), &open), BC_ENOTFOUND);
}

static void test_other_countries(void)
{
    struct window w;
    window_federal(&w);
    /* London: BST from 28 March 2027 01:00 UTC. 08:00 local = 08:00 UTC before, 07:00 after. */
    const struct zones_set *lon = num("+442079460000");
    CHECK_INT(allows(&w, lon, ms(2027, 3, 27, 7, 59)), 0);
    CHECK_INT(allows(&w, lon, ms(2027, 3, 27, 8, 0)), 1);
    CHECK_INT(allows(&w, lon, ms(2027, 3, 28, 6, 59)), 0);
    CHECK_INT(allows(&w, lon, ms(2027, 3, 28, 7, 0)), 1);
    /* Sydney: AEDT (UTC+11) until 4 April 2027 03:00 local, then AEST (UTC+10). */
    const struct zones_set *syd = num("+61292500000");
    CHECK_INT(allows(&w, syd, ms(2027, 4, 2, 20, 59)), 0); /* 07:59 AEDT on 3 April */
    CHECK_INT(allows(&w, syd, ms(2027, 4, 2, 21, 0)), 1);
    CHECK_INT(allows(&w, syd, ms(2027, 4, 3, 21, 59)), 0); /* 07:59 AEST on 4 April */
    CHECK_INT(allows(&w, syd, ms(2027, 4, 3, 22, 0)), 1);
    /* India UTC+05:30: 08:00 is 02:30 UTC. Nepal UTC+05:45: 08:00 is 02:15 UTC. */
    const struct zones_set *in = num("+911123456789"), *np = num("+97714123456");
    CHECK_INT(allows(&w, in, ms(2027, 7, 1, 2, 29)), 0);
    CHECK_INT(allows(&w, in, ms(2027, 7, 1, 2, 30)), 1);
    CHECK_INT(allows(&w, np, ms(2027, 7, 1, 2, 14)), 0);
    CHECK_INT(allows(&w, np, ms(2027, 7, 1, 2, 15)), 1);
    /* Lord Howe: UTC+11 in January (08:00 = 21:00 UTC the day before), UTC+10:30 in July
     * (21:30 UTC). */
    struct zones_set lh = one_zone("Australia/Lord_Howe");
    CHECK_INT(allows(&w, &lh, ms(2027, 1, 14, 20, 59)), 0);
    CHECK_INT(allows(&w, &lh, ms(2027, 1, 14, 21, 0)), 1);
    CHECK_INT(allows(&w, &lh, ms(2027, 7, 14, 21, 29)), 0);
    CHECK_INT(allows(&w, &lh, ms(2027, 7, 14, 21, 30)), 1);
}

static void test_next_open_across_dst(void)
{
    struct window w;
    window_federal(&w);
    const struct zones_set *ny = num("+12125550182");
    int64_t open = 0;
    /* 22:00 EST on 13 March: the next 08:00 is in EDT, 12:00 UTC (a fixed offset would say
     * 13:00). */
    CHECK_INT(window_next_open(&w, ny, ms(2027, 3, 14, 3, 0), &open), 0);
    CHECK_INT(open, ms(2027, 3, 14, 12, 0));
    /* And back in November: 13:00 UTC. */
    CHECK_INT(window_next_open(&w, ny, ms(2027, 11, 7, 3, 0), &open), 0);
    CHECK_INT(open, ms(2027, 11, 7, 13, 0));
    /* Open already: now. */
    CHECK_INT(window_next_open(&w, ny, ms(2027, 11, 7, 15, 0) + 123, &open), 0);
    CHECK_INT(open, ms(2027, 11, 7, 15, 0) + 123);
    /* A start time that does not exist: 02:30 on 14 March opens at the change, 03:00 EDT. */
    struct window night;
    window_never(&night);
    for (int d = 0; d < 7; d++)
        window_add(&night, d, 2 * 60 + 30, 5 * 60);
    CHECK_INT(window_next_open(&night, ny, ms(2027, 3, 14, 6, 0), &open), 0);
    CHECK_INT(open, ms(2027, 3, 14, 7, 0));
    /* A start time that occurs twice: 01:30 on 7 November opens at its first occurrence
     * (05:30 UTC, EDT). */
    struct window early;
    window_never(&early);
    for (int d = 0; d < 7; d++)
        window_add(&early, d, 60 + 30, 3 * 60);
    CHECK_INT(window_next_open(&early, ny, ms(2027, 11, 7, 4, 0), &open), 0);
    CHECK_INT(open, ms(2027, 11, 7, 5, 30));
    /* Nothing in the window: not found. */
    struct window none;
    window_never(&none);
    CHECK_INT(window_next_open(&none, ny, ms(2027, 1, 1, 0, 0), &open), BC_ENOTFOUND);
}

static void test_state_rules(void)
{
    char st[3];
    CHECK_INT(zones_us_state("+13055550100", 12, st), 0);
    CHECK_STR(st, "FL");
    CHECK_INT(zones_us_state("+12145550100", 12, st), 0);
    CHECK_STR(st, "TX");
    CHECK_INT(zones_us_state("+12025550100", 12, st), 0);
    CHECK_STR(st, "DC");
    CHECK_INT(zones_us_state("+12085550100", 12, st), 0);
    CHECK_STR(st, "ID");
    CHECK_INT(zones_us_state("+14165550100", 12, st), BC_ENOTFOUND); /* Toronto */
    CHECK_INT(zones_us_state("+442079460000", 13, st), BC_ENOTFOUND);
    CHECK_INT(zones_us_state("+1212", 5, st), BC_EINVAL);

    struct window fed, fl, tx;
    const char *source = NULL;
    window_federal(&fed);
    CHECK_INT(window_state_rule("FL", &fl, &source), 1);
    CHECK(source && strstr(source, "501.616"));
    CHECK_INT(window_intersect(&fl, &fed), 0);
    const struct zones_set *miami = num("+13055550100");
    /* 20:30 EDT on 30 June (00:30 UTC): federally fine, not in Florida. */
    CHECK_INT(allows(&fed, miami, ms(2027, 7, 1, 0, 30)), 1);
    CHECK_INT(allows(&fl, miami, ms(2027, 7, 1, 0, 30)), 0);
    CHECK_INT(allows(&fl, miami, ms(2027, 6, 30, 23, 59)), 1);
    /* Texas: Sunday from noon. 4 July 2027 is a Sunday; Dallas is CDT (UTC-5). */
    CHECK_INT(window_state_rule("TX", &tx, NULL), 1);
    CHECK_INT(window_intersect(&tx, &fed), 0);
    const struct zones_set *dallas = num("+12145550100");
    CHECK_INT(allows(&tx, dallas, ms(2027, 7, 4, 16, 59)), 0);
    CHECK_INT(allows(&tx, dallas, ms(2027, 7, 4, 17, 0)), 1);
    CHECK_INT(allows(&tx, dallas, ms(2027, 7, 5, 16, 0)), 1); /* Monday 11:00 */
    int64_t open = 0;
    CHECK_INT(window_next_open(&tx, dallas, ms(2027, 7, 4, 14, 0), &open), 0);
    CHECK_INT(open, ms(2027, 7, 4, 17, 0));
    /* Every rule in the table is narrower than or equal to the federal window. */
    static const char *const states[] = {"AL", "CT", "FL", "KY", "LA", "MA", "MD",
                                         "MI", "MN", "MS", "NM", "NV", "OK", "PA",
                                         "RI", "SD", "TX", "UT", "WA", "WY"};
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        struct window r, both;
        CHECK_INT(window_state_rule(states[i], &r, NULL), 1);
        both = r;
        CHECK_INT(window_intersect(&both, &fed), 0);
        CHECK_REPORT(memcmp(&both, &r, sizeof r) == 0, "%s is wider than federal", states[i]);
    }
    struct window x;
    CHECK_INT(window_state_rule("NY", &x, NULL), 0);
}

static void test_intersection(void)
{
    struct window fed, batch;
    char msg[256];
    window_federal(&fed);
    const char *j = "{\"start\":\"09:00\",\"end\":\"17:00\",\"days\":[\"mon\",\"tue\",\"wed\","
                    "\"thu\",\"fri\"]}";
    CHECK_INT(window_parse_json(j, strlen(j), &batch, msg, sizeof msg), 0);
    CHECK_INT(window_intersect(&batch, &fed), 0);
    CHECK_INT(batch.n[0], 0);
    CHECK_INT(batch.n[6], 0);
    CHECK_INT(batch.n[1], 1);
    CHECK_INT(batch.r[1][0].start, 9 * 60);
    CHECK_INT(batch.r[1][0].end, 17 * 60);
    /* Saturday 3 July 2027 noon in New York: next opening Monday 5 July 09:00 EDT. */
    int64_t open = 0;
    CHECK_INT(window_next_open(&batch, num("+12125550182"), ms(2027, 7, 3, 16, 0), &open), 0);
    CHECK_INT(open, ms(2027, 7, 5, 13, 0));
    /* Two ranges against one: a lunch break survives the intersection. */
    struct window ws;
    window_never(&ws);
    window_add(&ws, 1, 7 * 60, 12 * 60);
    window_add(&ws, 1, 13 * 60, 22 * 60);
    CHECK_INT(window_intersect(&ws, &fed), 0);
    CHECK_INT(ws.n[1], 2);
    CHECK(ws.r[1][0].start == 480 && ws.r[1][0].end == 720);
    CHECK(ws.r[1][1].start == 780 && ws.r[1][1].end == 1260);
    CHECK_INT(ws.n[2], 0);
    struct window always;
    window_always(&always);
    CHECK_INT(window_intersect(&always, &fed), 0);
    CHECK(memcmp(&always, &fed, sizeof fed) == 0);
    CHECK_INT(window_add(&always, 1, 20 * 60, 22 * 60), BC_EINVAL); /* overlaps */
}

static void expect_error(const char *json, const char *part)
{
    struct window w;
    char msg[256] = "";
    CHECK_INT(window_parse_json(json, strlen(json), &w, msg, sizeof msg), BC_EINVAL);
    CHECK_REPORT(strstr(msg, part) != NULL, "%s: message \"%s\" lacks \"%s\"", json, msg, part);
}

static void test_parse_json(void)
{
    struct window w;
    char msg[256];
    const char *all = "{\"start\":\"08:30\",\"end\":\"24:00\"}";
    CHECK_INT(window_parse_json(all, strlen(all), &w, msg, sizeof msg), 0);
    for (int d = 0; d < 7; d++)
        CHECK(w.n[d] == 1 && w.r[d][0].start == 510 && w.r[d][0].end == 1440);
    expect_error("", "must be a JSON object");
    expect_error("[1]", "must be a JSON object");
    expect_error("{\"start\":\"09:00\"}", "callingWindow.end is missing");
    expect_error("{\"end\":\"09:00\"}", "callingWindow.start is missing");
    expect_error("{\"start\":\"9am\",\"end\":\"17:00\"}",
                 "callingWindow.start \"9am\" is not a time");
    expect_error("{\"start\":\"09:00\",\"end\":\"17:60\"}", "is not a time");
    expect_error("{\"start\":\"24:00\",\"end\":\"24:00\"}", "00:00 to 23:59");
    expect_error("{\"start\":9,\"end\":\"17:00\"}", "must be a string");
    expect_error("{\"start\":\"17:00\",\"end\":\"09:00\"}", "later than callingWindow.start");
    expect_error("{\"start\":\"09:00\",\"end\":\"17:00\",\"days\":[\"monday\"]}",
                 "callingWindow.days[0] \"monday\" is not a day");
    expect_error("{\"start\":\"09:00\",\"end\":\"17:00\",\"days\":[\"mon\",\"mon\"]}",
                 "names mon twice");
    expect_error("{\"start\":\"09:00\",\"end\":\"17:00\",\"days\":[]}", "days is empty");
    expect_error("{\"start\":\"09:00\",\"end\":\"17:00\",\"days\":\"mon\"}", "must be an array");
    expect_error("{\"start\":\"09:00\",\"end\":\"17:00\",\"tz\":\"UTC\"}",
                 "unknown field \"tz\" (allowed: start, end, days)");
    char big[WINDOW_JSON_MAX + 2];
    memset(big, ' ', sizeof big);
    big[sizeof big - 1] = '\0';
    expect_error(big, "longer than 1024 bytes");
}

CHECK_MAIN(CHECK_CASE(test_federal_across_us_dst_2027), CHECK_CASE(test_arizona_and_hawaii),
           CHECK_CASE(test_split_area_codes), CHECK_CASE(test_multi_zone_intersection),
           CHECK_CASE(test_other_countries), CHECK_CASE(test_next_open_across_dst),
           CHECK_CASE(test_state_rules), CHECK_CASE(test_intersection), CHECK_CASE(test_parse_json))
