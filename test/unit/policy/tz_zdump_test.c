/* Our TZif reader against the system's zdump (Debian's libc-bin) for every zone the zones table
 * uses, over 2025-01-01 .. 2035-12-31 UTC: at every transition, one second before it and one
 * second after it, and every hour. Prints how many zones and instants were compared; any
 * mismatch fails. zdump -v lists each transition as two lines (the last second of the old
 * offset, the first of the new), so the offset at an instant is that of the last line at or
 * before it. */
#include "check.h"

#include <stdlib.h>

#include "policy/tz.h"
#include "policy/zones.h"

#define FROM_YEAR 2025
#define TO_YEAR   2036 /* exclusive */

struct line {
    int64_t t;
    int32_t off;
};

static unsigned long long compared, mismatches;
static size_t zones_checked;

static int month_of(const char *m)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++) {
        if (strncmp(names + i * 3, m, 3) == 0)
            return i + 1;
    }
    return 0;
}

/* zdump's lines for zone from 1800 to the end of the range, in order. */
static size_t read_zdump(const char *zone, struct line **out)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "zdump -v -c 1800,%d '%s'", TO_YEAR, zone);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    if (!f)
        return 0;
    size_t n = 0, cap = 0;
    struct line *v = NULL;
    char buf[512];
    while (fgets(buf, sizeof buf, f)) {
        const char *ut = strstr(buf, " UT = ");
        const char *g = strstr(buf, "gmtoff=");
        if (!ut || !g)
            continue;
        const char *p = buf + strlen(zone);
        char wd[4], mon[4];
        int d, h, mi, s;
        long long y;
        if (sscanf(p, " %3s %3s %d %d:%d:%d %lld UT", wd, mon, &d, &h, &mi, &s, &y) != 7 ||
            !month_of(mon)) {
            CHECK_REPORT(0, "%s: cannot read zdump line %s", zone, buf);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            v = realloc(v, cap * sizeof *v);
        }
        v[n].t = tz_days_from_civil(y, month_of(mon), d) * 86400 + h * 3600 + mi * 60 + s;
        v[n].off = (int32_t)atol(g + 7);
        n++;
    }
    CHECK_INT(pclose(f), 0);
    *out = v;
    return n;
}

static void compare(struct tz *tz, const struct line *v, size_t n, int64_t x)
{
    /* The last line at or before x (binary search: the instants come in two sweeps). */
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].t <= x)
            lo = mid;
        else
            hi = mid;
    }
    int32_t off = 0;
    int rc = tz_offset(tz, x, &off);
    compared++;
    if (rc != 0 || off != v[lo].off) {
        if (++mismatches <= 20)
            fprintf(stderr, "%s at %lld: ours %d (rc %d), zdump %d\n", tz_name(tz), (long long)x,
                    off, rc, v[lo].off);
    }
}

static void check_zone(const char *zone)
{
    struct tz *tz;
    int rc = tz_load(zone, &tz);
    CHECK_REPORT(rc == 0, "%s: tz_load: %d", zone, rc);
    if (rc != 0)
        return;
    struct line *v = NULL;
    size_t n = read_zdump(zone, &v);
    int64_t from = tz_days_from_civil(FROM_YEAR, 1, 1) * 86400;
    int64_t to = tz_days_from_civil(TO_YEAR, 1, 1) * 86400;
    CHECK_REPORT(n > 0 && v[0].t <= from, "%s: zdump gave no offset in force at %d", zone,
                 FROM_YEAR);
    if (n == 0 || v[0].t > from) {
        free(v);
        return;
    }
    zones_checked++;
    for (size_t i = 0; i < n; i++) {
        for (int64_t x = v[i].t - 1; x <= v[i].t + 1; x++) {
            if (x >= from && x < to)
                compare(tz, v, n, x);
        }
    }
    for (int64_t x = from; x < to; x += 3600)
        compare(tz, v, n, x);
    free(v);
}

static void test_every_zone_of_the_table(void)
{
    for (size_t i = 0; i < zones_count(); i++)
        check_zone(zones_name((uint16_t)i));
    /* The zones the unit tests use that the table may name differently. */
    check_zone("Australia/Lord_Howe");
    check_zone("Asia/Kathmandu");
    printf("zdump: %zu zones, %llu instants compared (%d-01-01..%d-12-31), %llu mismatches\n",
           zones_checked, compared, FROM_YEAR, TO_YEAR - 1, mismatches);
    CHECK_INT(mismatches, 0);
    CHECK_INT(zones_checked, zones_count() + 2);
}

CHECK_MAIN(CHECK_CASE(test_every_zone_of_the_table))
