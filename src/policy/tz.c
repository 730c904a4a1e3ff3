/* A TZif reader (RFC 8536) and POSIX TZ rule evaluator: see tz.h. */
#include "policy/tz.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define TZ_DEFAULT_DIR "/usr/share/zoneinfo"
#define TZ_FILE_MAX    (1 << 20) /* the largest real file is a few kB */
#define TZ_NAME_MAX    64

/* One date rule of a POSIX TZ string: Jn (1..365, Feb 29 never counted), n (0..365, counted),
 * or Mm.w.d (day d of week w of month m, w 5 = the last), at `time` seconds local time. */
struct rule {
    char kind; /* 'J', 'N' or 'M' */
    int a, b, c;
    int32_t time;
};

struct footer {
    bool present;
    bool has_dst;
    int32_t std_off; /* seconds east of UTC */
    int32_t dst_off;
    struct rule start, end; /* start: in standard time; end: in daylight time */
};

struct tz {
    char name[TZ_NAME_MAX];
    struct tz *next; /* the by-name cache */
    unsigned slot;   /* its entry in each thread's period cache */
    /* Transitions: at[i] starts type[i]. */
    size_t n;
    int64_t *at;
    uint8_t *type;
    size_t ntypes;
    int32_t *off;
    uint8_t *isdst;
    struct footer footer;
};

/* Zones read so far (kept for the life of the process), guarded by loading: the loop and the
 * dispatcher's commits (on libuv's thread pool) both ask about local times. */
static struct tz *loaded;
static unsigned loaded_count;
static pthread_mutex_t loading = PTHREAD_MUTEX_INITIALIZER;

/* Each thread remembers, per zone, the period of its last answer, so that asking about "now" for
 * many numbers of one zone costs two comparisons. Per thread, so that no answer is shared
 * between threads and nothing needs a lock on the hot path. */
#define TZ_CACHE_SLOTS 512
struct tz_cache {
    const struct tz *tz;
    int64_t from, until;
    int32_t off, dst;
};
static _Thread_local struct tz_cache cache[TZ_CACHE_SLOTS];

/* ---- Calendar ---------------------------------------------------------------------------- */

/* Howard Hinnant's days_from_civil / civil_from_days (public domain algorithms). */
int64_t tz_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void tz_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Local seconds (as if UTC) at which rule r fires in year y. */
static int64_t rule_local(const struct rule *r, int64_t y)
{
    int64_t day;
    if (r->kind == 'J') {
        day = tz_days_from_civil(y, 1, 1) + r->a - 1 + (is_leap(y) && r->a >= 60);
    } else if (r->kind == 'N') {
        day = tz_days_from_civil(y, 1, 1) + r->a;
    } else {
        int m = r->a, w = r->b, wd = r->c;
        int64_t first = tz_days_from_civil(y, m, 1);
        int64_t next = m == 12 ? tz_days_from_civil(y + 1, 1, 1) : tz_days_from_civil(y, m + 1, 1);
        int first_wd = (int)((first % 7 + 11) % 7); /* 1970-01-01 was a Thursday (4) */
        day = first + (wd - first_wd + 7) % 7 + (int64_t)(w - 1) * 7;
        while (day >= next)
            day -= 7;
    }
    return day * 86400 + r->time;
}

/* ---- POSIX TZ strings (the TZif footer) -------------------------------------------------- */

static bool parse_name(const char **p)
{
    const char *s = *p;
    if (*s == '<') {
        s++;
        while (*s && *s != '>')
            s++;
        if (*s != '>')
            return false;
        *p = s + 1;
        return true;
    }
    const char *start = s;
    while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))
        s++;
    if (s - start < 3)
        return false;
    *p = s;
    return true;
}

/* [+-]hh[:mm[:ss]] with hh up to max_h; seconds into *out. */
static bool parse_hms(const char **p, int max_h, int32_t *out)
{
    const char *s = *p;
    int sign = 1;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    int part[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (i > 0) {
            if (*s != ':')
                break;
            s++;
        }
        if (*s < '0' || *s > '9')
            return false;
        int v = 0;
        for (int k = 0; *s >= '0' && *s <= '9'; k++, s++) {
            if (k >= 3)
                return false;
            v = v * 10 + (*s - '0');
        }
        part[i] = v;
    }
    if (part[0] > max_h || part[1] > 59 || part[2] > 59)
        return false;
    *out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
    *p = s;
    return true;
}

static bool parse_int(const char **p, int lo, int hi, int *out)
{
    const char *s = *p;
    int v = 0, k = 0;
    while (*s >= '0' && *s <= '9' && k < 4) {
        v = v * 10 + (*s++ - '0');
        k++;
    }
    if (k == 0 || v < lo || v > hi)
        return false;
    *out = v;
    *p = s;
    return true;
}

static bool parse_rule(const char **p, struct rule *r)
{
    const char *s = *p;
    if (*s == 'J') {
        s++;
        r->kind = 'J';
        if (!parse_int(&s, 1, 365, &r->a))
            return false;
    } else if (*s == 'M') {
        s++;
        r->kind = 'M';
        if (!parse_int(&s, 1, 12, &r->a) || *s++ != '.' || !parse_int(&s, 1, 5, &r->b) ||
            *s++ != '.' || !parse_int(&s, 0, 6, &r->c))
            return false;
    } else {
        r->kind = 'N';
        if (!parse_int(&s, 0, 365, &r->a))
            return false;
    }
    r->time = 7200;
    /* RFC 8536 3.3.1 extends the POSIX time to -167..167 hours. */
    if (*s == '/' && (s++, !parse_hms(&s, 167, &r->time)))
        return false;
    *p = s;
    return true;
}

static bool parse_footer(const char *s, struct footer *f)
{
    memset(f, 0, sizeof *f);
    if (*s == '\0')
        return true; /* an empty footer: no rule past the last transition */
    int32_t west;
    if (!parse_name(&s) || !parse_hms(&s, 24, &west))
        return false;
    f->present = true;
    f->std_off = -west;
    if (*s == '\0')
        return true;
    if (!parse_name(&s))
        return false;
    f->has_dst = true;
    f->dst_off = f->std_off + 3600;
    if (*s != ',' && *s != '\0') {
        if (!parse_hms(&s, 24, &west))
            return false;
        f->dst_off = -west;
    }
    if (*s == '\0') {
        /* POSIX leaves the default rule to the implementation; the US rule is the usual one. */
        f->start = (struct rule){'M', 3, 2, 0, 7200};
        f->end = (struct rule){'M', 11, 1, 0, 7200};
        return true;
    }
    return *s++ == ',' && parse_rule(&s, &f->start) && *s++ == ',' && parse_rule(&s, &f->end) &&
           *s == '\0';
}

struct event {
    int64_t at;
    int start; /* 1: DST starts, 0: it ends */
};

/* The period of t under the footer's rules, starting no earlier than `floor`. */
static int footer_period(const struct footer *f, int64_t t, int64_t floor, struct tz_period *out)
{
    if (!f->has_dst) {
        *out = (struct tz_period){floor, INT64_MAX, f->std_off, 0};
        return 0;
    }
    /* Events of the years around t, sorted; at equal instants an end sorts before a start, so
     * that "DST all year" (start Jan 1 00:00, end Dec 31 25:00) leaves no standard time. */
    if (t > INT64_MAX / 2 || t < INT64_MIN / 2)
        return BC_EINVAL;
    int64_t y;
    int m, d;
    tz_civil_from_days(floor_div(t + f->std_off, 86400), &y, &m, &d);
    struct event ev[8];
    int n = 0;
    for (int64_t yy = y - 2; yy <= y + 1; yy++) {
        ev[n++] = (struct event){rule_local(&f->start, yy) - f->std_off, 1};
        ev[n++] = (struct event){rule_local(&f->end, yy) - f->dst_off, 0};
    }
    for (int i = 1; i < n; i++) {
        for (int j = i; j > 0 && (ev[j].at < ev[j - 1].at ||
                                  (ev[j].at == ev[j - 1].at && ev[j].start < ev[j - 1].start));
             j--) {
            struct event tmp = ev[j];
            ev[j] = ev[j - 1];
            ev[j - 1] = tmp;
        }
    }
    int last = -1;
    for (int i = 0; i < n && ev[i].at <= t; i++)
        last = i;
    if (last < 0)
        return BC_EINVAL; /* rules that place events years away from their year */
    int64_t until = INT64_MAX;
    for (int i = last + 1; i < n; i++) {
        if (ev[i].at > t) {
            until = ev[i].at;
            break;
        }
    }
    if (until == INT64_MAX)
        return BC_EINVAL;
    int dst = ev[last].start;
    int64_t from = ev[last].at > floor ? ev[last].at : floor;
    *out = (struct tz_period){from, until, dst ? f->dst_off : f->std_off, dst};
    return 0;
}

/* ---- TZif -------------------------------------------------------------------------------- */

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t get64(const uint8_t *p)
{
    return (int64_t)((uint64_t)get32(p) << 32 | get32(p + 4));
}

struct counts {
    uint32_t isut, isstd, leap, time, type, chr;
};

static bool read_header(const uint8_t *p, size_t len, int *version, struct counts *c)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return false;
    *version = p[4] == 0 ? 1 : p[4] - '0';
    c->isut = get32(p + 20);
    c->isstd = get32(p + 24);
    c->leap = get32(p + 28);
    c->time = get32(p + 32);
    c->type = get32(p + 36);
    c->chr = get32(p + 40);
    return c->type >= 1 && c->type <= 256 && c->time <= 100000 && c->chr <= 100000 &&
           c->leap <= 100000 && c->isut <= 256 && c->isstd <= 256;
}

static size_t block_len(const struct counts *c, size_t tsize)
{
    return c->time * tsize + c->time + c->type * 6 + c->chr + c->leap * (tsize + 4) + c->isstd +
           c->isut;
}

/* Parses a whole TZif file into tz (its arrays allocated here). */
static int parse_tzif(const uint8_t *p, size_t len, struct tz *tz)
{
    int version;
    struct counts c;
    if (!read_header(p, len, &version, &c))
        return BC_ECORRUPT;
    /* Version 1 files carry 32-bit data only; everything since 2005 writes v2+. */
    if (version < 2)
        return BC_ECORRUPT;
    size_t skip = 44 + block_len(&c, 4);
    if (skip > len || !read_header(p + skip, len - skip, &version, &c))
        return BC_ECORRUPT;
    const uint8_t *d = p + skip + 44;
    size_t need = block_len(&c, 8);
    if ((size_t)(p + len - d) < need)
        return BC_ECORRUPT;
    tz->n = c.time;
    tz->ntypes = c.type;
    tz->at = malloc(sizeof *tz->at * (c.time ? c.time : 1));
    tz->type = malloc(c.time ? c.time : 1);
    tz->off = malloc(sizeof *tz->off * c.type);
    tz->isdst = malloc(c.type);
    if (!tz->at || !tz->type || !tz->off || !tz->isdst)
        return BC_ENOMEM;
    for (size_t i = 0; i < c.time; i++) {
        tz->at[i] = get64(d + i * 8);
        if (i > 0 && tz->at[i] <= tz->at[i - 1])
            return BC_ECORRUPT;
    }
    d += c.time * 8;
    for (size_t i = 0; i < c.time; i++) {
        tz->type[i] = d[i];
        if (d[i] >= c.type)
            return BC_ECORRUPT;
    }
    d += c.time;
    for (size_t i = 0; i < c.type; i++) {
        int32_t off = (int32_t)get32(d + i * 6);
        if (off < -25 * 3600 || off > 26 * 3600)
            return BC_ECORRUPT;
        tz->off[i] = off;
        tz->isdst[i] = d[i * 6 + 4] != 0;
    }
    /* Leap-second records (only the right/ zones have them) are not applied: we read the
     * posix zones, whose times count no leap seconds. */
    d += need - c.time * 9;
    /* The footer: "\n" TZ "\n". */
    const uint8_t *end = p + len;
    char tzstr[128] = "";
    if (d < end && *d == '\n') {
        const uint8_t *nl = memchr(d + 1, '\n', (size_t)(end - d - 1));
        if (!nl || (size_t)(nl - d - 1) >= sizeof tzstr)
            return BC_ECORRUPT;
        memcpy(tzstr, d + 1, (size_t)(nl - d - 1));
        tzstr[nl - d - 1] = '\0';
    }
    if (!parse_footer(tzstr, &tz->footer))
        return BC_ECORRUPT;
    return 0;
}

static bool valid_name(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len >= TZ_NAME_MAX || name[0] == '/' || strstr(name, ".."))
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '/' || ch == '_' || ch == '-' || ch == '+' || ch == '.'))
            return false;
    }
    return true;
}

static void tz_destroy(struct tz *tz)
{
    free(tz->at);
    free(tz->type);
    free(tz->off);
    free(tz->isdst);
    free(tz);
}

static int load_locked(const char *name, struct tz **out);

int tz_load(const char *name, struct tz **out)
{
    pthread_mutex_lock(&loading);
    int rc = load_locked(name, out);
    pthread_mutex_unlock(&loading);
    return rc;
}

static int load_locked(const char *name, struct tz **out)
{
    for (struct tz *t = loaded; t; t = t->next) {
        if (strcmp(t->name, name) == 0) {
            *out = t;
            return 0;
        }
    }
    if (!valid_name(name))
        return BC_EINVAL;
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : TZ_DEFAULT_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return BC_ENOTFOUND;
    uint8_t *buf = malloc(TZ_FILE_MAX);
    if (!buf) {
        fclose(f);
        return BC_ENOMEM;
    }
    size_t len = fread(buf, 1, TZ_FILE_MAX, f);
    bool err = ferror(f);
    fclose(f);
    struct tz *tz = calloc(1, sizeof *tz);
    int rc = err ? BC_EIO : !tz ? BC_ENOMEM : len == TZ_FILE_MAX ? BC_ECORRUPT : 0;
    if (rc == 0)
        rc = parse_tzif(buf, len, tz);
    free(buf);
    if (rc < 0) {
        if (tz)
            tz_destroy(tz);
        return rc;
    }
    snprintf(tz->name, sizeof tz->name, "%s", name);
    tz->slot = loaded_count++ % TZ_CACHE_SLOTS;
    tz->next = loaded;
    loaded = tz;
    *out = tz;
    return 0;
}

const char *tz_name(const struct tz *tz)
{
    return tz->name;
}

static int period_slow(const struct tz *tz, int64_t t, struct tz_period *out)
{
    if (tz->n == 0 || t < tz->at[0]) {
        if (tz->n == 0 && tz->footer.present)
            return footer_period(&tz->footer, t, INT64_MIN, out);
        /* RFC 8536: before the first transition, local time is type 0's. */
        *out =
            (struct tz_period){INT64_MIN, tz->n ? tz->at[0] : INT64_MAX, tz->off[0], tz->isdst[0]};
        return 0;
    }
    size_t lo = 0, hi = tz->n; /* the last i with at[i] <= t: in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->at[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    if (lo + 1 == tz->n && tz->footer.present)
        return footer_period(&tz->footer, t, tz->at[lo], out);
    uint8_t ty = tz->type[lo];
    *out = (struct tz_period){tz->at[lo], lo + 1 < tz->n ? tz->at[lo + 1] : INT64_MAX, tz->off[ty],
                              tz->isdst[ty]};
    return 0;
}

int tz_period_at(struct tz *tz, int64_t utc_s, struct tz_period *out)
{
    struct tz_cache *c = &cache[tz->slot];
    if (c->tz == tz && utc_s >= c->from && utc_s < c->until) {
        *out = (struct tz_period){c->from, c->until, c->off, c->dst};
        return 0;
    }
    int rc = period_slow(tz, utc_s, out);
    if (rc < 0)
        return rc;
    *c = (struct tz_cache){tz, out->from, out->until, out->offset, out->isdst};
    return 0;
}

int tz_offset(struct tz *tz, int64_t utc_s, int32_t *offset_s)
{
    const struct tz_cache *c = &cache[tz->slot];
    if (c->tz == tz && utc_s >= c->from && utc_s < c->until) {
        *offset_s = c->off;
        return 0;
    }
    struct tz_period p;
    int rc = tz_period_at(tz, utc_s, &p);
    if (rc == 0)
        *offset_s = p.offset;
    return rc;
}

int tz_local_to_utc(struct tz *tz, int64_t local_s, int64_t out[2])
{
    /* Every period that overlaps the instants that could show local_s (offsets stay within
     * +-26 h), in order: each whose offset maps local_s back into itself gives one answer. */
    const int64_t span = 27 * 3600;
    if (local_s > INT64_MAX / 2 || local_s < INT64_MIN / 2)
        return BC_EINVAL;
    int n = 0;
    int64_t t = local_s - span;
    while (t <= local_s + span && n < 2) {
        struct tz_period p;
        int rc = tz_period_at(tz, t, &p);
        if (rc < 0)
            return rc;
        int64_t u = local_s - p.offset;
        if (u >= p.from && u < p.until && (n == 0 || out[n - 1] != u))
            out[n++] = u;
        if (p.until == INT64_MAX)
            break;
        t = p.until;
    }
    return n;
}
