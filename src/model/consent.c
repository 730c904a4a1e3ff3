/* consent_at: see consent.h. */
#include "model/consent.h"

#include <stdarg.h>
#include <stdio.h>

#include "util/err.h"

#define EXAMPLES "such as 2026-05-01 or 2026-05-01T10:00:00Z"

static int fail(char *why, size_t cap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *why, size_t cap, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return rc;
}

/* n digits at p as a number, or BC_EINVAL. */
static int digits(const char *p, const char *end, int n)
{
    if (end - p < n)
        return BC_EINVAL;
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return BC_EINVAL;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int month_days(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[m - 1] + (m == 2 && leap);
}

/* The date YYYY-MM-DD at p: 0 and *day (days since 1970), or BC_EINVAL. */
static int parse_date(const char *p, const char *end, const char *v, int vlen, int64_t *day,
                      char *why, size_t cap)
{
    int y = digits(p, end, 4), m = digits(p + 5, end, 2), d = digits(p + 8, end, 2);
    if (y < 0 || m < 0 || d < 0 || p[4] != '-' || p[7] != '-')
        return fail(why, cap, BC_EINVAL,
                    "consent_at \"%.*s\" is not an ISO-8601 date or date-time: write it "
                    "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, " EXAMPLES,
                    vlen, v);
    if (y < 1900)
        return fail(
            why, cap, BC_EINVAL,
            "consent_at \"%.*s\": the year %d is too early; write the year in full, " EXAMPLES,
            vlen, v, y);
    if (m < 1 || m > 12)
        return fail(why, cap, BC_EINVAL,
                    "consent_at \"%.*s\" is not a date: months run from 01 to 12", vlen, v);
    if (d < 1 || d > month_days(y, m))
        return fail(why, cap, BC_EINVAL,
                    "consent_at \"%.*s\" is not a date: that month has %d days", vlen, v,
                    month_days(y, m));
    *day = days_from_civil(y, m, d);
    return 0;
}

/* HH:MM[:SS[.fff]] at *pp: 0 and *secs, or BC_EINVAL. */
static int parse_time(const char **pp, const char *end, const char *v, int vlen, int64_t *secs,
                      char *why, size_t cap)
{
    const char *p = *pp;
    int h = digits(p, end, 2), mi = end - p >= 5 && p[2] == ':' ? digits(p + 3, end, 2) : BC_EINVAL;
    int s = 0;
    if (h < 0 || mi < 0)
        return fail(why, cap, BC_EINVAL,
                    "consent_at \"%.*s\": the time must be HH:MM or HH:MM:SS on the 24-hour "
                    "clock, " EXAMPLES,
                    vlen, v);
    p += 5;
    if (p < end && *p == ':') {
        s = digits(p + 1, end, 2);
        if (s < 0)
            return fail(why, cap, BC_EINVAL,
                        "consent_at \"%.*s\": seconds must be two digits (HH:MM:SS)", vlen, v);
        p += 3;
        if (p < end && (*p == '.' || *p == ',')) {
            p++;
            const char *f = p;
            while (p < end && *p >= '0' && *p <= '9')
                p++;
            if (p == f)
                return fail(why, cap, BC_EINVAL,
                            "consent_at \"%.*s\": a fraction of a second needs digits after "
                            "the point",
                            vlen, v);
        }
    }
    if (h > 23 || mi > 59 || s > 59)
        return fail(why, cap, BC_EINVAL,
                    "consent_at \"%.*s\" is not a time: hours run from 00 to 23, minutes and "
                    "seconds from 00 to 59",
                    vlen, v);
    *secs = h * 3600 + mi * 60 + s;
    *pp = p;
    return 0;
}

/* Z, +HH:MM, -HH:MM or +HHMM at p, ending the value: 0 and *offset (seconds east), or
 * BC_EINVAL. */
static int parse_zone(const char *p, const char *end, const char *v, int vlen, int64_t *offset,
                      char *why, size_t cap)
{
    if (p == end)
        return fail(why, cap, BC_EINVAL,
                    "consent_at \"%.*s\" has no time zone, so the moment it names is unknown: "
                    "add Z (UTC) or an offset such as +02:00, or give the date alone",
                    vlen, v);
    if ((*p == 'Z' || *p == 'z') && p + 1 == end) {
        *offset = 0;
        return 0;
    }
    int h = BC_EINVAL, m = BC_EINVAL;
    if ((*p == '+' || *p == '-') && end - p == 6 && p[3] == ':') {
        h = digits(p + 1, end, 2);
        m = digits(p + 4, end, 2);
    } else if ((*p == '+' || *p == '-') && end - p == 5) {
        h = digits(p + 1, end, 2);
        m = digits(p + 3, end, 2);
    }
    if (h < 0 || m < 0 || h > 14 || m > 59)
        return fail(why, cap, BC_EINVAL,
                    "consent_at \"%.*s\": the time zone must be Z or an offset from -14:00 to "
                    "+14:00 such as +02:00, at the end",
                    vlen, v);
    *offset = (*p == '-' ? -1 : 1) * (int64_t)(h * 3600 + m * 60);
    return 0;
}

int consent_parse_at(const char *s, size_t len, int64_t now_ms, int64_t *at_ms, char *why,
                     size_t cap)
{
    const char *p = s, *end = s + len;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    int vlen = (int)(end - p > 60 ? 60 : end - p);
    const char *v = p;
    if (p == end)
        return fail(why, cap, BC_ENOTFOUND,
                    "consent_at is empty: give the date consent was given, " EXAMPLES);
    int64_t day, secs = 0, offset = 0;
    if (end - p < 10)
        return parse_date(p, p, v, vlen, &day, why, cap);
    int rc = parse_date(p, end, v, vlen, &day, why, cap);
    if (rc)
        return rc;
    p += 10;
    int date_only = p == end;
    if (!date_only) {
        if (*p != 'T' && *p != 't' && *p != ' ')
            return fail(why, cap, BC_EINVAL,
                        "consent_at \"%.*s\": a time follows the date after a T, " EXAMPLES, vlen,
                        v);
        p++;
        if ((rc = parse_time(&p, end, v, vlen, &secs, why, cap)) != 0 ||
            (rc = parse_zone(p, end, v, vlen, &offset, why, cap)) != 0)
            return rc;
    }
    int64_t at = (day * 86400 + secs - offset) * 1000;
    int64_t ahead = date_only ? CONSENT_DATE_AHEAD_MS : CONSENT_SKEW_MS;
    if (at > now_ms + ahead)
        return fail(why, cap, BC_EINVAL,
                    "consent_at \"%.*s\" is in the future: consent must have been given before "
                    "the call; check the date",
                    vlen, v);
    *at_ms = at;
    return 0;
}

enum consent_verdict consent_check_row(const char *v, size_t n, int has_column, int required,
                                       int64_t now_ms, char *msg, size_t cap)
{
    int64_t at;
    char why[CONSENT_WHY_MAX] = "";
    int rc = has_column ? consent_parse_at(v, n, now_ms, &at, why, sizeof why) : BC_ENOTFOUND;
    if (rc == 0 || (!required && rc == BC_ENOTFOUND))
        return CONSENT_OK; /* an empty value claims nothing: no warning */
    if (!required) {
        snprintf(msg, cap,
                 "%s. The row is called all the same: this workspace does not require consent "
                 "evidence (requireConsent), but would not call it if it did.",
                 why);
        return CONSENT_WARN;
    }
    if (!has_column)
        snprintf(msg, cap,
                 "No consent: this workspace requires consent evidence (requireConsent) and the "
                 "file has no consent_at column; add one with the date each contact gave "
                 "consent, such as 2026-05-01 or 2026-05-01T10:00:00Z");
    else if (rc == BC_ENOTFOUND)
        snprintf(msg, cap,
                 "No consent: this workspace requires consent evidence (requireConsent) and "
                 "consent_at is empty; give the date this contact gave consent, such as "
                 "2026-05-01 or 2026-05-01T10:00:00Z");
    else
        snprintf(msg, cap,
                 "No consent: this workspace requires consent evidence (requireConsent) and %s",
                 why);
    return CONSENT_REFUSE;
}
