/* Zone + window decisions per second (bench/compliance.sh builds and runs it): 1,000,000
 * generated numbers, 85% across every US area code (every US zone, split prefixes included)
 * and 15% from a few countries with DST and odd offsets. A decision is what the picker will do
 * per call: the number's zones (zones_lookup), its state (zones_us_state) and so its combined
 * window (federal and state rule, computed once per state as a caller caches it), and
 * window_allows at "now".
 *
 * Then the two ways to get a zone's offset, on the same mix: our TZif reader (tz_offset,
 * cached period) against glibc's localtime_r with setenv("TZ")/tzset per number; they must
 * agree on every number.
 *
 * Usage: policybench [NUMBERS]   Prints "name value" lines. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/tz.h"
#include "policy/decide.h"
#include "policy/window.h"
#include "policy/zones.h"

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* CPU time of this thread: the machine is shared (other builds and tests run beside the
 * benchmark), and the wall clock would count the time this process waited for a core. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

#define NUM_LEN 16
static const char *const foreign[] = {"+4420", "+4416", "+612", "+613",  "+618",  "+9111", "+9122",
                                      "+9771", "+4930", "+331", "+3491", "+5511", "+5255", "+8133"};

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    /* Area codes with a US state. */
    int npas[800], nnpa = 0;
    char st[3];
    for (int npa = 200; npa < 1000; npa++) {
        char num[24];
        snprintf(num, sizeof num, "+1%d2000000", npa);
        if (zones_us_state(num, 12, st) == 0)
            npas[nnpa++] = npa;
    }
    char *nums = malloc(n * NUM_LEN);
    uint8_t *lens = malloc(n);
    for (size_t i = 0; i < n; i++) {
        char *p = nums + i * NUM_LEN;
        int len;
        if (next_rand() % 100 < 85) {
            len = snprintf(p, NUM_LEN, "+1%d%03u%04u", npas[next_rand() % nnpa],
                           200 + next_rand() % 800, next_rand() % 10000);
        } else {
            const char *pre = foreign[next_rand() % (sizeof foreign / sizeof foreign[0])];
            len = snprintf(p, NUM_LEN, "%s%08u", pre, next_rand() % 100000000);
        }
        lens[i] = (uint8_t)len;
    }
    /* The combined window per state, as a caller caches it; index 0: no state rule. */
    struct window fed, by_state[26 * 26];
    window_federal(&fed);
    for (int i = 0; i < 26 * 26; i++) {
        char s[3] = {(char)('A' + i / 26), (char)('A' + i % 26), 0};
        if (window_state_rule(s, &by_state[i], NULL))
            window_intersect(&by_state[i], &fed);
        else
            by_state[i] = fed;
    }
    int64_t base_ms = (int64_t)time(NULL) * 1000;

    /* Warm: loads every zone once. */
    size_t allowed = 0, failed = 0;
    double best = 1e9, best_wall = 1e9;
    for (int round = 0; round < 6; round++) {
        allowed = failed = 0;
        double t0 = now_s(), w0 = wall_s();
        for (size_t i = 0; i < n; i++) {
            const char *num = nums + i * NUM_LEN;
            const struct zones_set *set;
            if (zones_lookup(num, lens[i], &set) < 0) {
                failed++;
                continue;
            }
            const struct window *w = &fed;
            if (zones_us_state(num, lens[i], st) == 0)
                w = &by_state[(st[0] - 'A') * 26 + (st[1] - 'A')];
            int rc = window_allows(w, set, base_ms + (int64_t)(i >> 10));
            if (rc > 0)
                allowed++;
            else if (rc < 0)
                failed++;
        }
        double dt = now_s() - t0, wt = wall_s() - w0;
        if (round > 0 && dt < best)
            best = dt;
        if (round > 0 && wt < best_wall)
            best_wall = wt;
    }
    printf("numbers %zu\n", n);
    printf("zones %zu\n", zones_count());
    printf("zone_sets %zu\n", zones_set_count() - 1);
    printf("allowed_now %zu\n", allowed);
    printf("no_zone %zu\n", failed);
    printf("decisions_per_s %.0f\n", n / best);
    printf("decisions_per_wall_s %.0f\n", n / best_wall);

    /* The dispatcher's whole decision per picked call (policy/decide.h): zones, state rule,
     * window, and the next opening when shut, with one batch's cache, at the time of the run
     * and at 09:00 UTC (night in the Americas: most numbers are shut and served by the cache). */
    struct decide_cache cache;
    uint64_t checksum = 0;
    decide_cache_clear(&cache);
    struct decide dec = {&fed, 1, &cache};
    int64_t night = (base_ms / 86400000) * 86400000 + 9 * 3600000;
    const int64_t at_ms[2] = {base_ms, night};
    const char *names[2] = {"decide_per_s", "decide_night_per_s"};
    for (int k = 0; k < 2; k++) {
        double best_d = 1e9;
        for (int round = 0; round < 4; round++) {
            double t0 = now_s();
            for (size_t i = 0; i < n; i++) {
                int64_t open;
                if (decide_open_at(&dec, nums + i * NUM_LEN, lens[i], at_ms[k], &open) == 0)
                    checksum += (uint64_t)open;
            }
            double dt = now_s() - t0;
            if (round > 0 && dt < best_d)
                best_d = dt;
        }
        printf("%s %.0f\n", names[k], n / best_d);
    }
    fprintf(stderr, "(decide %llu)\n", (unsigned long long)(checksum & 1));

    /* window_next_open, as a caller would call it once per zone set and cache: the first
     * 20,000 numbers at random hours of 2027, federal window. */
    size_t nn = n < 20000 ? n : 20000, found = 0;
    double n0 = now_s();
    for (size_t i = 0; i < nn; i++) {
        const struct zones_set *set;
        int64_t open;
        int64_t at = (1798761600 + (int64_t)(next_rand() % 8760) * 3600) * 1000;
        if (zones_lookup(nums + i * NUM_LEN, lens[i], &set) == 0 &&
            window_next_open(&fed, set, at, &open) == 0)
            found++;
    }
    printf("next_open_per_s %.0f\n", nn / (now_s() - n0));
    printf("next_open_found %zu of %zu\n", found, nn);

    /* TZif reader against localtime_r, on the first zone of each number. */
    uint16_t *zone = malloc(n * sizeof *zone);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const struct zones_set *set;
        if (zones_lookup(nums + i * NUM_LEN, lens[i], &set) == 0)
            zone[m++] = set->zone[0];
    }
    int64_t t = base_ms / 1000;
    int32_t *ours = malloc(m * sizeof *ours);
    double t0 = now_s();
    for (size_t i = 0; i < m; i++) {
        struct tz *tz;
        if (zones_tz(zone[i], &tz) < 0 || tz_offset(tz, t, &ours[i]) < 0)
            ours[i] = INT32_MIN;
    }
    double ours_s = now_s() - t0;
    /* Uncached: a random hour of 2025-2035 each time, so nearly every answer searches. */
    int64_t *when = malloc(m * sizeof *when);
    for (size_t i = 0; i < m; i++)
        when[i] = 1735689600 + (int64_t)(next_rand() % (11 * 8766)) * 3600;
    t0 = now_s();
    int64_t sink = 0;
    for (size_t i = 0; i < m; i++) {
        struct tz *tz;
        int32_t off = 0;
        if (zones_tz(zone[i], &tz) == 0)
            tz_offset(tz, when[i], &off);
        sink += off;
    }
    double uncached_s = now_s() - t0;
    size_t lm = m < 200000 ? m : 200000, mismatch = 0;
    t0 = now_s();
    for (size_t i = 0; i < lm; i++) {
        char tzenv[96];
        snprintf(tzenv, sizeof tzenv, ":%s", zones_name(zone[i]));
        setenv("TZ", tzenv, 1);
        tzset();
        struct tm tm;
        time_t tt = (time_t)t;
        localtime_r(&tt, &tm);
        if (tm.tm_gmtoff != ours[i])
            mismatch++;
    }
    double libc_s = now_s() - t0;
    printf("tzif_offsets_per_s %.0f\n", m / ours_s);
    printf("tzif_uncached_offsets_per_s %.0f\n", m / uncached_s);
    printf("localtime_r_offsets_per_s %.0f\n", lm / libc_s);
    printf("localtime_r_compared %zu\n", lm);
    printf("localtime_r_mismatches %zu\n", mismatch);
    fprintf(stderr, "(%lld)\n", (long long)(sink & 1));
    return mismatch ? 1 : 0;
}
