/* The TZif reader against known instants: DST changes of 2027 (and 2100, past any explicit
 * transition, from the footer rule), zones without DST, half- and quarter-hour offsets, Lord
 * Howe's 30-minute DST, and local-to-UTC conversion across gaps and overlaps. The exhaustive
 * comparison with zdump is tz_zdump_test.c. */
#include "check.h"

#include "policy/tz.h"
#include "util/err.h"

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
    return tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

static int32_t off_at(const char *zone, int64_t t)
{
    struct tz *tz;
    int32_t off = 99999;
    CHECK_INT(tz_load(zone, &tz), 0);
    CHECK_INT(tz_offset(tz, t, &off), 0);
    return off;
}

static void test_calendar(void)
{
    CHECK_INT(tz_days_from_civil(1970, 1, 1), 0);
    CHECK_INT(tz_days_from_civil(2000, 3, 1), 11017);
    CHECK_INT(tz_days_from_civil(1969, 12, 31), -1);
    int64_t y;
    int m, d;
    tz_civil_from_days(tz_days_from_civil(2100, 2, 28) + 1, &y, &m, &d);
    CHECK(y == 2100 && m == 3 && d == 1); /* 2100 is not a leap year */
    tz_civil_from_days(tz_days_from_civil(2024, 2, 28) + 1, &y, &m, &d);
    CHECK(y == 2024 && m == 2 && d == 29);
}

static void test_new_york_2027(void)
{
    /* Second Sunday of March 2027 is the 14th; 02:00 EST = 07:00 UTC. */
    CHECK_INT(off_at("America/New_York", utc(2027, 3, 14, 6, 59, 59)), -5 * 3600);
    CHECK_INT(off_at("America/New_York", utc(2027, 3, 14, 7, 0, 0)), -4 * 3600);
    /* First Sunday of November 2027 is the 7th; 02:00 EDT = 06:00 UTC. */
    CHECK_INT(off_at("America/New_York", utc(2027, 11, 7, 5, 59, 59)), -4 * 3600);
    CHECK_INT(off_at("America/New_York", utc(2027, 11, 7, 6, 0, 0)), -5 * 3600);
    /* The cache answers a second question about the same period, and leaves it correctly. */
    CHECK_INT(off_at("America/New_York", utc(2027, 11, 7, 6, 0, 1)), -5 * 3600);
    CHECK_INT(off_at("America/New_York", utc(2027, 11, 7, 5, 0, 0)), -4 * 3600);
}

static void test_footer_rule_2100(void)
{
    /* Far past the last explicit transition of any tzdata build: the POSIX rule in the footer.
     * 2100 has the same calendar as 2027 from March on: 14 March and 7 November. */
    CHECK_INT(off_at("America/New_York", utc(2100, 3, 14, 6, 59, 59)), -5 * 3600);
    CHECK_INT(off_at("America/New_York", utc(2100, 3, 14, 7, 0, 0)), -4 * 3600);
    CHECK_INT(off_at("America/New_York", utc(2100, 11, 7, 5, 59, 59)), -4 * 3600);
    CHECK_INT(off_at("America/New_York", utc(2100, 11, 7, 6, 0, 0)), -5 * 3600);
    struct tz *tz;
    struct tz_period p;
    CHECK_INT(tz_load("America/New_York", &tz), 0);
    CHECK_INT(tz_period_at(tz, utc(2100, 7, 1, 0, 0, 0), &p), 0);
    CHECK_INT(p.from, utc(2100, 3, 14, 7, 0, 0));
    CHECK_INT(p.until, utc(2100, 11, 7, 6, 0, 0));
    CHECK_INT(p.offset, -4 * 3600);
    CHECK_INT(p.isdst, 1);
}

static void test_no_dst(void)
{
    CHECK_INT(off_at("America/Phoenix", utc(2027, 1, 15, 12, 0, 0)), -7 * 3600);
    CHECK_INT(off_at("America/Phoenix", utc(2027, 7, 15, 12, 0, 0)), -7 * 3600);
    CHECK_INT(off_at("Pacific/Honolulu", utc(2027, 1, 15, 12, 0, 0)), -10 * 3600);
    CHECK_INT(off_at("Pacific/Honolulu", utc(2027, 7, 15, 12, 0, 0)), -10 * 3600);
    CHECK_INT(off_at("Asia/Kolkata", utc(2027, 7, 15, 12, 0, 0)), 5 * 3600 + 1800);
    CHECK_INT(off_at("Asia/Calcutta", utc(2031, 1, 15, 12, 0, 0)), 5 * 3600 + 1800);
    CHECK_INT(off_at("Asia/Kathmandu", utc(2027, 7, 15, 12, 0, 0)), 5 * 3600 + 45 * 60);
    CHECK_INT(off_at("Asia/Kathmandu", utc(2100, 7, 15, 12, 0, 0)), 5 * 3600 + 45 * 60);
}

static void test_europe_and_australia(void)
{
    /* EU rule: last Sundays of March and October 2027 (28th, 31st), 01:00 UTC. */
    CHECK_INT(off_at("Europe/London", utc(2027, 3, 28, 0, 59, 59)), 0);
    CHECK_INT(off_at("Europe/London", utc(2027, 3, 28, 1, 0, 0)), 3600);
    CHECK_INT(off_at("Europe/London", utc(2027, 10, 31, 0, 59, 59)), 3600);
    CHECK_INT(off_at("Europe/London", utc(2027, 10, 31, 1, 0, 0)), 0);
    /* Sydney: DST ends first Sunday of April 2027 (4th) 03:00 AEDT = 3 April 16:00 UTC, and
     * starts first Sunday of October (3rd) 02:00 AEST = 2 October 16:00 UTC. */
    CHECK_INT(off_at("Australia/Sydney", utc(2027, 4, 3, 15, 59, 59)), 11 * 3600);
    CHECK_INT(off_at("Australia/Sydney", utc(2027, 4, 3, 16, 0, 0)), 10 * 3600);
    CHECK_INT(off_at("Australia/Sydney", utc(2027, 10, 2, 15, 59, 59)), 10 * 3600);
    CHECK_INT(off_at("Australia/Sydney", utc(2027, 10, 2, 16, 0, 0)), 11 * 3600);
    /* Lord Howe: +10:30, and +11 in summer (a 30-minute DST), changing at 02:00 local. */
    CHECK_INT(off_at("Australia/Lord_Howe", utc(2027, 4, 3, 14, 59, 59)), 11 * 3600);
    CHECK_INT(off_at("Australia/Lord_Howe", utc(2027, 4, 3, 15, 0, 0)), 10 * 3600 + 1800);
    CHECK_INT(off_at("Australia/Lord_Howe", utc(2027, 10, 2, 15, 29, 59)), 10 * 3600 + 1800);
    CHECK_INT(off_at("Australia/Lord_Howe", utc(2027, 10, 2, 15, 30, 0)), 11 * 3600);
    CHECK_INT(off_at("Australia/Lord_Howe", utc(2100, 7, 1, 0, 0, 0)), 10 * 3600 + 1800);
}

static void test_local_to_utc(void)
{
    struct tz *tz;
    int64_t at[2];
    CHECK_INT(tz_load("America/New_York", &tz), 0);
    /* An ordinary summer time. */
    CHECK_INT(tz_local_to_utc(tz, utc(2027, 7, 1, 12, 0, 0), at), 1);
    CHECK_INT(at[0], utc(2027, 7, 1, 16, 0, 0));
    /* 02:30 on 14 March 2027 does not exist: the clocks go from 02:00 to 03:00. */
    CHECK_INT(tz_local_to_utc(tz, utc(2027, 3, 14, 2, 30, 0), at), 0);
    CHECK_INT(tz_local_to_utc(tz, utc(2027, 3, 14, 3, 0, 0), at), 1);
    CHECK_INT(at[0], utc(2027, 3, 14, 7, 0, 0));
    /* 01:30 on 7 November 2027 occurs twice: in EDT, then in EST. */
    CHECK_INT(tz_local_to_utc(tz, utc(2027, 11, 7, 1, 30, 0), at), 2);
    CHECK_INT(at[0], utc(2027, 11, 7, 5, 30, 0));
    CHECK_INT(at[1], utc(2027, 11, 7, 6, 30, 0));
    /* Lord Howe's half-hour overlap. */
    CHECK_INT(tz_load("Australia/Lord_Howe", &tz), 0);
    CHECK_INT(tz_local_to_utc(tz, utc(2027, 4, 4, 1, 45, 0), at), 2);
    CHECK_INT(at[1] - at[0], 1800);
}

static void test_bad_names(void)
{
    struct tz *tz;
    CHECK_INT(tz_load("No/Such_Zone", &tz), BC_ENOTFOUND);
    CHECK_INT(tz_load("../../etc/passwd", &tz), BC_EINVAL);
    CHECK_INT(tz_load("/etc/passwd", &tz), BC_EINVAL);
    CHECK_INT(tz_load("", &tz), BC_EINVAL);
    /* A file that is not TZif. */
    CHECK_INT(tz_load("zone.tab", &tz), BC_ECORRUPT);
    /* Loading twice gives the same zone. */
    struct tz *a, *b;
    CHECK_INT(tz_load("Europe/Paris", &a), 0);
    CHECK_INT(tz_load("Europe/Paris", &b), 0);
    CHECK(a == b);
    CHECK_STR(tz_name(a), "Europe/Paris");
}

CHECK_MAIN(CHECK_CASE(test_calendar), CHECK_CASE(test_new_york_2027),
           CHECK_CASE(test_footer_rule_2100), CHECK_CASE(test_no_dst),
           CHECK_CASE(test_europe_and_australia), CHECK_CASE(test_local_to_utc),
           CHECK_CASE(test_bad_names))
