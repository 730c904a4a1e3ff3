/* Calling windows: see window.h. */
#include "policy/window.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "policy/tz.h"
#include "util/err.h"

#define DAY_MIN 1440

static const char *const day_names[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

void window_never(struct window *w)
{
    memset(w, 0, sizeof *w);
}

void window_always(struct window *w)
{
    window_never(w);
    for (int d = 0; d < 7; d++)
        window_add(w, d, 0, DAY_MIN);
}

void window_federal(struct window *w)
{
    window_never(w);
    for (int d = 0; d < 7; d++)
        window_add(w, d, 8 * 60, 21 * 60);
}

int window_add(struct window *w, int day, int start_min, int end_min)
{
    if (day < 0 || day > 6 || start_min < 0 || end_min > DAY_MIN || start_min >= end_min)
        return BC_EINVAL;
    uint8_t n = w->n[day];
    if (n > 0 && w->r[day][n - 1].end >= start_min)
        return BC_EINVAL;
    if (n == WINDOW_MAX_RANGES)
        return BC_ETOOBIG;
    w->r[day][n] = (struct window_range){(uint16_t)start_min, (uint16_t)end_min};
    w->n[day] = n + 1;
    return 0;
}

int window_intersect(struct window *acc, const struct window *other)
{
    struct window out;
    window_never(&out);
    for (int d = 0; d < 7; d++) {
        int i = 0, j = 0;
        while (i < acc->n[d] && j < other->n[d]) {
            const struct window_range *a = &acc->r[d][i], *b = &other->r[d][j];
            int lo = a->start > b->start ? a->start : b->start;
            int hi = a->end < b->end ? a->end : b->end;
            if (lo < hi) {
                int rc = window_add(&out, d, lo, hi);
                if (rc < 0)
                    return rc;
            }
            if (a->end < b->end)
                i++;
            else
                j++;
        }
    }
    *acc = out;
    return 0;
}

int window_is_empty(const struct window *w)
{
    for (int d = 0; d < 7; d++) {
        if (w->n[d])
            return 0;
    }
    return 1;
}

/* ---- US state rules ---------------------------------------------------------------------- */

#define HM(h, m) ((h)*60 + (m))
#define NONE                                                                                       \
    {                                                                                              \
        0, 0                                                                                       \
    }
/* Days Sunday to Saturday. */
#define DAILY(s, e)                                                                                \
    {                                                                                              \
        {s, e}, {s, e}, {s, e}, {s, e}, {s, e}, {s, e},                                            \
        {                                                                                          \
            s, e                                                                                   \
        }                                                                                          \
    }
/* Sunday from s to e; the other days the federal 8am-9pm. */
#define SUNDAY_ONLY(s, e)                                                                          \
    {                                                                                              \
        {s, e}, {HM(8, 0), HM(21, 0)}, {HM(8, 0), HM(21, 0)}, {HM(8, 0), HM(21, 0)},               \
            {HM(8, 0), HM(21, 0)}, {HM(8, 0), HM(21, 0)},                                          \
        {                                                                                          \
            HM(8, 0), HM(21, 0)                                                                    \
        }                                                                                          \
    }
#define NO_SUNDAY(s, e)                                                                            \
    {                                                                                              \
        NONE, {s, e}, {s, e}, {s, e}, {s, e}, {s, e},                                              \
        {                                                                                          \
            s, e                                                                                   \
        }                                                                                          \
    }

struct state_rule {
    char state[3];
    uint16_t day[7][2]; /* [start, end) minutes; {0, 0}: no calls that day */
    const char *source;
};

/* Rules stricter than the federal 08:00-21:00, from the third-party compilations cited in
 * ../shared/reference/dialer-anchors.md 4.5 (dropcowboy.com/state-compliance, Nov 2025;
 * clickpointsoftware.com "telemarketing calling hours by state", July 2025; g2leadstosales.com
 * 2025) and VICIdial's vicidial_state_call_times seed. Holidays are not modelled. Maine's rule
 * (at most one autodialed call per 8 h) is a frequency cap, not a window. */
static const struct state_rule state_rules[] = {
    {"AL", NO_SUNDAY(HM(8, 0), HM(20, 0)), "Alabama: 8am-8pm, no Sundays (no state holidays)"},
    {"CT", DAILY(HM(9, 0), HM(20, 0)), "Connecticut: 9am-8pm"},
    {"FL", DAILY(HM(8, 0), HM(20, 0)), "Florida: 8am-8pm (Fla. Stat. 501.616)"},
    {"KY", DAILY(HM(10, 0), HM(21, 0)), "Kentucky: 10am-9pm"},
    {"LA", NO_SUNDAY(HM(8, 0), HM(20, 0)), "Louisiana: 8am-8pm, no Sundays (no holidays)"},
    {"MA", DAILY(HM(8, 0), HM(20, 0)), "Massachusetts: 8am-8pm"},
    {"MD", DAILY(HM(8, 0), HM(20, 0)), "Maryland: 8am-8pm (Stop the Spam Calls Act 2023)"},
    {"MI", DAILY(HM(9, 0), HM(21, 0)), "Michigan: 9am-9pm"},
    {"MN", DAILY(HM(9, 0), HM(21, 0)), "Minnesota: 9am-9pm"},
    {"MS", NO_SUNDAY(HM(8, 0), HM(20, 0)), "Mississippi: 8am-8pm, no Sundays"},
    {"NM", DAILY(HM(9, 0), HM(21, 0)), "New Mexico: 9am-9pm"},
    {"NV", DAILY(HM(9, 0), HM(20, 0)), "Nevada: 9am-8pm"},
    {"OK", DAILY(HM(8, 0), HM(20, 0)), "Oklahoma: 8am-8pm"},
    {"PA", SUNDAY_ONLY(HM(13, 30), HM(21, 0)),
     "Pennsylvania: Sunday 1:30pm-9pm (VICIdial default; holidays not modelled)"},
    {"RI",
     {NONE,
      {HM(9, 0), HM(18, 0)},
      {HM(9, 0), HM(18, 0)},
      {HM(9, 0), HM(18, 0)},
      {HM(9, 0), HM(18, 0)},
      {HM(9, 0), HM(18, 0)},
      {HM(10, 0), HM(17, 0)}},
     "Rhode Island: 9am-6pm weekdays, Saturday 10am-5pm, no Sundays (no holidays)"},
    {"SD", NO_SUNDAY(HM(8, 0), HM(21, 0)), "South Dakota: no Sunday calls (VICIdial default)"},
    {"TX", SUNDAY_ONLY(HM(12, 0), HM(21, 0)), "Texas: Sunday noon-9pm (VICIdial default)"},
    {"UT", DAILY(HM(8, 0), HM(20, 0)), "Utah: 8pm end (VICIdial's default 9am-8pm is older)"},
    {"WA", DAILY(HM(8, 0), HM(20, 0)), "Washington: 8am-8pm (VICIdial's 8am-9pm is older)"},
    {"WY", DAILY(HM(8, 0), HM(20, 0)), "Wyoming: 8am-8pm"},
};

int window_state_rule(const char *state, struct window *out, const char **source)
{
    for (size_t i = 0; i < sizeof state_rules / sizeof state_rules[0]; i++) {
        const struct state_rule *r = &state_rules[i];
        if (strcmp(r->state, state) != 0)
            continue;
        window_never(out);
        for (int d = 0; d < 7; d++) {
            if (r->day[d][1] > r->day[d][0])
                window_add(out, d, r->day[d][0], r->day[d][1]);
        }
        if (source)
            *source = r->source;
        return 1;
    }
    return 0;
}

/* ---- callingWindow JSON ------------------------------------------------------------------ */

#define EXAMPLE "{\"start\":\"09:00\",\"end\":\"17:00\",\"days\":[\"mon\",\"tue\",\"wed\"]}"

__attribute__((format(printf, 3, 4))) static int fail(char *msg, size_t msglen, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
    return BC_EINVAL;
}

/* "HH:MM" on the 24-hour clock into minutes, or BC_EINVAL; "24:00" only when allow_24. */
static int parse_hhmm(const char *s, int allow_24)
{
    if (strlen(s) != 5 || s[2] != ':')
        return BC_EINVAL;
    for (int i = 0; i < 5; i++) {
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return BC_EINVAL;
    }
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && (m != 0 || !allow_24)))
        return BC_EINVAL;
    return h * 60 + m;
}

static int time_field(const cJSON *obj, const char *what, const char *name, int allow_24, int *out,
                      char *msg, size_t msglen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v)
        return fail(msg, msglen,
                    "%s.%s is missing: give a time \"HH:MM\" on the "
                    "24-hour clock",
                    what, name);
    if (!cJSON_IsString(v))
        return fail(msg, msglen,
                    "%s.%s must be a string \"HH:MM\" on the 24-hour "
                    "clock",
                    what, name);
    int t = parse_hhmm(v->valuestring, allow_24);
    if (t < 0)
        return fail(msg, msglen,
                    "%s.%s \"%.16s\" is not a time: use \"HH:MM\" on the 24-hour "
                    "clock, 00:00 to %s",
                    what, name, v->valuestring, allow_24 ? "24:00" : "23:59");
    *out = t;
    return 0;
}

static int parse_days(const cJSON *days, const char *what, unsigned *mask, char *msg, size_t msglen)
{
    if (!cJSON_IsArray(days))
        return fail(msg, msglen, "%s.days must be an array of days such as [\"mon\",\"tue\"]",
                    what);
    *mask = 0;
    int i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, days)
    {
        if (!cJSON_IsString(d))
            return fail(msg, msglen,
                        "%s.days[%d] is not a string: use sun, mon, tue, wed, thu, "
                        "fri, sat",
                        what, i);
        int day = -1;
        for (int k = 0; k < 7; k++) {
            if (strcmp(d->valuestring, day_names[k]) == 0)
                day = k;
        }
        if (day < 0)
            return fail(msg, msglen,
                        "%s.days[%d] \"%.16s\" is not a day: use sun, mon, tue, wed, "
                        "thu, fri, sat",
                        what, i, d->valuestring);
        if (*mask & (1u << day))
            return fail(msg, msglen, "%s.days names %s twice", what, day_names[day]);
        *mask |= 1u << day;
        i++;
    }
    if (*mask == 0)
        return fail(msg, msglen,
                    "%s.days is empty: name at least one day, or leave days out to "
                    "mean every day",
                    what);
    return 0;
}

int window_parse_object(const cJSON *root, const char *what, struct window *out, char *msg,
                        size_t msglen)
{
    if (!cJSON_IsObject(root))
        return fail(msg, msglen, "%s must be a JSON object such as %s", what, EXAMPLE);
    const cJSON *field;
    cJSON_ArrayForEach(field, root)
    {
        if (strcmp(field->string, "start") != 0 && strcmp(field->string, "end") != 0 &&
            strcmp(field->string, "days") != 0)
            return fail(msg, msglen,
                        "%s has an unknown field \"%.32s\" (allowed: start, end, days)", what,
                        field->string);
    }
    int start, end, rc;
    if ((rc = time_field(root, what, "start", 0, &start, msg, msglen)) < 0 ||
        (rc = time_field(root, what, "end", 1, &end, msg, msglen)) < 0)
        return rc;
    if (end <= start)
        return fail(msg, msglen,
                    "%s.end must be later than %s.start (a window cannot cross midnight)", what,
                    what);
    unsigned mask = 0x7f;
    const cJSON *days = cJSON_GetObjectItemCaseSensitive(root, "days");
    if (days && (rc = parse_days(days, what, &mask, msg, msglen)) < 0)
        return rc;
    window_never(out);
    for (int d = 0; d < 7; d++) {
        if (mask & (1u << d))
            window_add(out, d, start, end);
    }
    return 0;
}

int window_parse_json(const char *json, size_t len, struct window *out, char *msg, size_t msglen)
{
    if (len > WINDOW_JSON_MAX)
        return fail(msg, msglen, "callingWindow is longer than %d bytes: send an object such as %s",
                    WINDOW_JSON_MAX, EXAMPLE);
    cJSON *root = cJSON_ParseWithLength(json, len);
    int rc = window_parse_object(root, "callingWindow", out, msg, msglen);
    cJSON_Delete(root);
    return rc;
}

int window_union(struct window *acc, const struct window *other)
{
    for (int d = 0; d < 7; d++) {
        uint8_t minute[DAY_MIN] = {0};
        for (int i = 0; i < acc->n[d]; i++)
            memset(minute + acc->r[d][i].start, 1, acc->r[d][i].end - acc->r[d][i].start);
        for (int i = 0; i < other->n[d]; i++)
            memset(minute + other->r[d][i].start, 1, other->r[d][i].end - other->r[d][i].start);
        acc->n[d] = 0;
        for (int m = 0; m < DAY_MIN;) {
            if (!minute[m]) {
                m++;
                continue;
            }
            int end = m;
            while (end < DAY_MIN && minute[end])
                end++;
            int rc = window_add(acc, d, m, end);
            if (rc < 0)
                return rc;
            m = end;
        }
    }
    return 0;
}

/* ---- Decisions --------------------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int window_contains_local(const struct window *w, int64_t local_s)
{
    int64_t days = floor_div(local_s, 86400);
    int sod = (int)(local_s - days * 86400);
    int wd = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
    for (int i = 0; i < w->n[wd]; i++) {
        if (sod >= w->r[wd][i].start * 60 && sod < w->r[wd][i].end * 60)
            return 1;
    }
    return 0;
}

int window_allows(const struct window *w, const struct zones_set *set, int64_t now_ms)
{
    int64_t t = floor_div(now_ms, 1000);
    for (uint16_t i = 0; i < set->count; i++) {
        struct tz *tz;
        int32_t off;
        int rc = zones_tz(set->zone[i], &tz);
        if (rc < 0 || (rc = tz_offset(tz, t, &off)) < 0)
            return rc;
        if (!window_contains_local(w, t + off))
            return 0;
    }
    return 1;
}

struct cands {
    int64_t *v;
    size_t n, cap;
};

static int cand_add(struct cands *c, int64_t ms)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        int64_t *v = realloc(c->v, cap * sizeof *v);
        if (!v)
            return BC_ENOMEM;
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = ms;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The instants in [from_s, to_s] at which zone tz's wall clock enters a range of w (a local start
 * time, both times when it occurs twice) or jumps (a DST change: a start time skipped by the
 * change is entered then). Every opening of the combined window is one of these for some zone,
 * since the intersection opens when its last zone opens. */
static int zone_candidates(const struct window *w, struct tz *tz, int64_t from_s, int64_t to_s,
                           struct cands *c)
{
    for (int64_t t = from_s;;) {
        struct tz_period p;
        int rc = tz_period_at(tz, t, &p);
        if (rc < 0)
            return rc;
        if (p.until > to_s)
            break;
        if ((rc = cand_add(c, p.until * 1000)) < 0)
            return rc;
        t = p.until;
    }
    int32_t off;
    int rc = tz_offset(tz, from_s, &off);
    if (rc < 0)
        return rc;
    int64_t first_day = floor_div(from_s + off, 86400) - 1;
    for (int64_t day = first_day; day <= first_day + WINDOW_SEARCH_DAYS + 3; day++) {
        int wd = (int)((day % 7 + 11) % 7);
        for (int i = 0; i < w->n[wd]; i++) {
            int64_t at[2];
            int k = tz_local_to_utc(tz, day * 86400 + w->r[wd][i].start * 60, at);
            if (k < 0)
                return k;
            for (int j = 0; j < k; j++) {
                if (at[j] >= from_s && at[j] <= to_s && (rc = cand_add(c, at[j] * 1000)) < 0)
                    return rc;
            }
        }
    }
    return 0;
}

int window_next_open(const struct window *w, const struct zones_set *set, int64_t now_ms,
                     int64_t *open_ms)
{
    int rc = window_allows(w, set, now_ms);
    if (rc != 0) {
        if (rc > 0)
            *open_ms = now_ms;
        return rc < 0 ? rc : 0;
    }
    int64_t from_s = floor_div(now_ms, 1000) + 1, to_s = from_s + WINDOW_SEARCH_DAYS * 86400;
    struct cands c = {0};
    for (uint16_t i = 0; i < set->count && rc == 0; i++) {
        struct tz *tz;
        rc = zones_tz(set->zone[i], &tz);
        if (rc == 0)
            rc = zone_candidates(w, tz, from_s, to_s, &c);
    }
    if (rc == 0) {
        if (c.n)
            qsort(c.v, c.n, sizeof *c.v, cmp_i64);
        rc = BC_ENOTFOUND;
        for (size_t i = 0; i < c.n; i++) {
            if (i > 0 && c.v[i] == c.v[i - 1])
                continue;
            int ok = window_allows(w, set, c.v[i]);
            if (ok != 0) {
                rc = ok < 0 ? ok : 0;
                if (ok > 0)
                    *open_ms = c.v[i];
                break;
            }
        }
    }
    free(c.v);
    return rc;
}
