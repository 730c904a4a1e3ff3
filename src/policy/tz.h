/* Local time from the system time-zone database (Debian's tzdata: IANA rules, DST-correct),
 * read by our own TZif reader: /usr/share/zoneinfo/NAME (or $TZDIR/NAME), its 64-bit (v2+) data
 * and, for instants after its last transition, the POSIX TZ rule in its footer. No offset is
 * ever stored anywhere else: a changed tzdata is picked up at the next start.
 *
 * Why not localtime_r: it needs setenv("TZ")/tzset per zone switch, which is global state and
 * re-reads the file; bench/compliance.sh measures both (README "Calling windows").
 *
 * Each thread caches, per zone, the period of its last answer [from, until), so that asking
 * about "now" for many numbers of the same zone costs two comparisons. Every function may be
 * called from any thread: zones are loaded under a lock and never change after. */
#ifndef BC_POLICY_TZ_H
#define BC_POLICY_TZ_H

#include <stdint.h>

struct tz;

/* A stretch of time with one UTC offset: [from, until) in Unix seconds (INT64_MIN / INT64_MAX
 * when unbounded), offset in seconds east of UTC. */
struct tz_period {
    int64_t from;
    int64_t until;
    int32_t offset;
    int32_t isdst;
};

/* The zone NAME ("America/New_York"), read once and kept for the life of the process (cached by
 * name). 0, or BC_EINVAL (not a zone name), BC_ENOTFOUND (no such file), BC_ECORRUPT (not a TZif
 * file we can read), BC_ENOMEM. */
int tz_load(const char *name, struct tz **out);

const char *tz_name(const struct tz *tz);

/* The offset east of UTC at the instant utc_s (Unix seconds). 0, or BC_EINVAL (an instant past
 * year +-292e9 or a footer rule that cannot be evaluated). */
int tz_offset(struct tz *tz, int64_t utc_s, int32_t *offset_s);

/* The period containing utc_s. 0 or BC_EINVAL as tz_offset. */
int tz_period_at(struct tz *tz, int64_t utc_s, struct tz_period *out);

/* The UTC instants at which the zone's wall clock shows local_s (a local date and time written
 * as seconds since 1970-01-01 00:00 as if local were UTC). Returns how many (out sorted):
 * 1 normally, 0 when the local time does not exist (skipped by a DST change: the spring-forward
 * gap), 2 when it occurs twice (the autumn overlap). Negative on error. */
int tz_local_to_utc(struct tz *tz, int64_t local_s, int64_t out[2]);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. Used by the window code. */
int64_t tz_days_from_civil(int64_t y, int m, int d);
void tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

#endif
