#include "policy/registry.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "policy/registry_index.h"
#include "util/err.h"

#define MS_PER_DAY 86400000ull

int registry_meta_get(struct store_txn *t, struct registry_meta *m)
{
    uint8_t k[1];
    struct store_val v;
    int rc = store_get(t, DB_REGISTRY, k, registry_meta_key(k), &v);
    return rc ? rc : registry_meta_decode(&v, m);
}

static unsigned digits3(const char *d)
{
    return (unsigned)(d[0] - '0') * 100 + (unsigned)(d[1] - '0') * 10 + (unsigned)(d[2] - '0');
}

int registry_digits_has(const struct store_val *v, const char *d)
{
    return registry_npa_has(v, digits3(d + 3), digits3(d + 6) * 10 + (unsigned)(d[9] - '0'));
}

int registry_has(struct store_txn *t, const char *d)
{
    struct registry_meta m;
    int rc = registry_meta_get(t, &m);
    if (rc)
        return rc == BC_ENOTFOUND ? 0 : rc;
    int later;
    struct registry_index *ix = registry_index_get(t, m.generation, &later);
    if (ix) {
        rc = registry_index_has(ix, d);
        registry_index_put(t->s, ix);
        return rc;
    }
    struct store_val v;
    rc = registry_npa_get(t, m.generation, digits3(d), &v);
    if (rc)
        return rc == BC_ENOTFOUND ? 0 : rc;
    return registry_digits_has(&v, d);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int registry_date_parse(const char *s, size_t len, int64_t *day)
{
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (len != REGISTRY_DATE_LEN || s[4] != '-' || s[7] != '-')
        return BC_EINVAL;
    for (size_t i = 0; i < len; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return BC_EINVAL;
    unsigned y = digits3(s) * 10 + (unsigned)(s[3] - '0');
    unsigned m = (unsigned)(s[5] - '0') * 10 + (unsigned)(s[6] - '0');
    unsigned d = (unsigned)(s[8] - '0') * 10 + (unsigned)(s[9] - '0');
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return BC_EINVAL;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m == 2 && d == 29 && !leap)
        return BC_EINVAL;
    *day = days_from_civil(y, m, d);
    return 0;
}

int64_t registry_age_days(const struct registry_meta *m, uint64_t now_ms)
{
    int64_t day;
    if (registry_date_parse(m->date, strnlen(m->date, sizeof m->date), &day) != 0)
        return 0;
    return (int64_t)(now_ms / MS_PER_DAY) - day;
}

int registry_stale(const struct registry_meta *m, uint64_t now_ms)
{
    return m->generation && registry_age_days(m, now_ms) > REGISTRY_STALE_DAYS;
}

/* ---- import ---- */

static int lock_held_by_live(uint32_t pid)
{
    return pid && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

struct begin_args {
    struct registry_import *im;
    uint64_t now_ms;
    uint32_t busy_pid;
};

static int begin_txn(struct store_txn *t, void *arg)
{
    struct begin_args *a = arg;
    struct registry_import *im = a->im;
    uint8_t lk[1];
    size_t lklen = registry_lock_key(lk);
    struct store_val v;
    int rc = store_get(t, DB_REGISTRY, lk, lklen, &v);
    uint32_t pid;
    uint64_t started;
    if (rc == 0 && registry_lock_decode(&v, &pid, &started) == 0 && lock_held_by_live(pid)) {
        a->busy_pid = pid;
        return BC_EBUSY;
    }
    if (rc && rc != BC_ENOTFOUND)
        return rc;
    uint8_t lv[12];
    registry_lock_encode(lv, im->pid, a->now_ms);
    rc = store_put(t, DB_REGISTRY, lk, lklen, lv, sizeof lv, 0);
    struct registry_meta m;
    int mrc = registry_meta_get(t, &m);
    if (mrc && mrc != BC_ENOTFOUND)
        return mrc;
    im->old_generation = mrc ? 0 : m.generation;
    /* Area codes of any generation but the active one were left by an import that stopped. */
    struct buf stale = {0};
    uint32_t top = im->old_generation;
    struct store_iter it;
    store_iter_open(&it, t, DB_REGISTRY, "G", 1, NULL, 0);
    while (!rc && (rc = store_iter_next(&it)) == 1) {
        uint32_t gen;
        unsigned npa;
        rc = 0;
        if (registry_npa_key_decode(&it.key, &gen, &npa) != 0 || gen == im->old_generation)
            continue;
        top = gen > top ? gen : top;
        if (buf_append(&stale, it.key.ptr, it.key.len))
            rc = BC_ENOMEM;
    }
    store_iter_close(&it);
    for (size_t i = 0; rc >= 0 && i + REGISTRY_KEY_LEN <= stale.len; i += REGISTRY_KEY_LEN)
        rc = store_del(t, DB_REGISTRY, stale.data + i, REGISTRY_KEY_LEN);
    buf_free(&stale);
    im->meta.generation = top + 1;
    return rc < 0 ? rc : 0;
}

int registry_import_begin(struct registry_import *im, struct store *s, const char *date,
                          size_t dlen, uint64_t now_ms, uint32_t pid, uint32_t *busy_pid)
{
    memset(im, 0, sizeof *im);
    im->s = s;
    im->pid = pid;
    *busy_pid = 0;
    int64_t day;
    if (registry_date_parse(date, dlen, &day) != 0 || day > (int64_t)(now_ms / MS_PER_DAY) + 1)
        return BC_EINVAL;
    memcpy(im->meta.date, date, dlen);
    im->meta.imported_ms = now_ms;
    im->cap = REGISTRY_FLUSH_AT + 8192;
    im->nums = malloc(im->cap * sizeof *im->nums);
    im->bits = calloc(1, REGISTRY_NPA_BITS_BYTES);
    if (!im->nums || !im->bits)
        return BC_ENOMEM;
    struct begin_args a = {im, now_ms, 0};
    int rc = store_write(s, begin_txn, &a);
    *busy_pid = a.busy_pid;
    im->locked = rc == 0;
    return rc;
}

static void bad_line(struct registry_import *im, const char *why)
{
    im->meta.bad_lines++;
    if (im->nbad >= REGISTRY_BAD_KEPT)
        return;
    struct registry_bad_line *b = &im->bad[im->nbad++];
    b->line = im->lineno;
    size_t n = im->llen < sizeof b->text - 1 ? im->llen : sizeof b->text - 1;
    for (size_t i = 0; i < n; i++) /* printable ASCII only: it is shown in JSON and logs */
        b->text[i] = im->line[i] >= 0x20 && im->line[i] < 0x7f ? im->line[i] : '?';
    b->text[n] = '\0';
    b->why = why;
}

static int all_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return n > 0;
}

/* Strips spaces and tabs around [*p, *p + *n), and with quotes one pair of double quotes. */
static void trim(const char **p, size_t *n, int quotes)
{
    while (*n && ((*p)[0] == ' ' || (*p)[0] == '\t'))
        (*p)++, (*n)--;
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
    if (quotes && *n >= 2 && (*p)[0] == '"' && (*p)[*n - 1] == '"')
        (*p)++, *n -= 2;
}

/* One line, without its line end: a number, a blank line, the header, or a bad line. */
static int take_line(struct registry_import *im)
{
    const char *p = im->line;
    size_t n = im->llen;
    im->lineno++;
    if (im->overlong) {
        bad_line(im, "longer than a number's line");
        im->seen_content = 1;
        return 0;
    }
    trim(&p, &n, 0);
    if (n == 0)
        return 0;
    int first = !im->seen_content;
    im->seen_content = 1;
    char d[10];
    const char *comma = memchr(p, ',', n);
    if (comma) {
        /* The older form: areacode,number. */
        const char *a = p, *b = comma + 1;
        size_t an = (size_t)(comma - p), bn = n - an - 1;
        trim(&a, &an, 1);
        trim(&b, &bn, 1);
        if (an != 3 || bn != 7 || !all_digits(a, 3) || !all_digits(b, 7))
            goto not_number;
        memcpy(d, a, 3);
        memcpy(d + 3, b, 7);
    } else {
        trim(&p, &n, 1);
        if (n == 12 && p[0] == '+' && p[1] == '1')
            p += 2, n -= 2;
        else if (n == 11 && p[0] == '1')
            p++, n--;
        if (n != 10 || !all_digits(p, 10))
            goto not_number;
        memcpy(d, p, 10);
    }
    if (d[0] < '2') {
        bad_line(im, "the area code must start with a digit from 2 to 9");
        return 0;
    }
    if (d[3] < '2') {
        bad_line(im, "the exchange (digits 4 to 6) must start with a digit from 2 to 9");
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 10; i++)
        v = v * 10 + (uint64_t)(d[i] - '0');
    if (im->n && v < im->nums[im->n - 1])
        im->unsorted = 1;
    if (im->n == im->cap) {
        size_t cap = im->cap * 2;
        uint64_t *nums = realloc(im->nums, cap * sizeof *nums);
        if (!nums)
            return BC_ENOMEM;
        im->nums = nums;
        im->cap = cap;
    }
    im->nums[im->n++] = v;
    im->lines++;
    return 0;
not_number:
    /* A first line with letters names the columns. */
    for (size_t i = 0; first && i < n; i++)
        if ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'z')
            return 0;
    bad_line(im, "not a 10-digit number (or areacode,number)");
    return 0;
}

int registry_import_feed(struct registry_import *im, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (c == '\n' || c == '\r') {
            int crlf = c == '\n' && im->prev_cr;
            im->prev_cr = c == '\r';
            if (crlf)
                continue;
            int rc = take_line(im);
            im->llen = 0;
            im->overlong = 0;
            if (rc)
                return rc;
            continue;
        }
        im->prev_cr = 0;
        if (im->llen < REGISTRY_LINE_MAX)
            im->line[im->llen++] = c;
        else
            im->overlong = 1;
    }
    return 0;
}

void registry_import_end(struct registry_import *im)
{
    if (im->llen || im->overlong)
        take_line(im);
    im->llen = 0;
    im->overlong = 0;
}

int registry_import_want_flush(const struct registry_import *im)
{
    return im->n >= REGISTRY_FLUSH_AT;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Merges one area code's buffered numbers (nums[from, to)) into its record. */
static int merge_npa(struct store_txn *t, struct registry_import *im, size_t from, size_t to)
{
    unsigned npa = (unsigned)(im->nums[from] / 10000000u);
    uint8_t k[REGISTRY_KEY_LEN];
    size_t klen = registry_npa_key(k, im->meta.generation, npa);
    struct store_val v;
    uint64_t before = 0, after = 0;
    memset(im->touched, 0, sizeof im->touched);
    int rc = store_get(t, DB_REGISTRY, k, klen, &v);
    if (rc == 0)
        rc = registry_npa_count(&v, &before) || registry_npa_decode(&v, im->bits, im->touched);
    else if (rc == BC_ENOTFOUND)
        rc = 0;
    if (rc)
        return rc < 0 ? rc : BC_ECORRUPT;
    for (size_t i = from; i < to; i++) {
        unsigned rest = (unsigned)(im->nums[i] % 10000000u), nxx = rest / REGISTRY_LINES;
        unsigned line = rest % REGISTRY_LINES;
        im->bits[(size_t)nxx * REGISTRY_BITMAP_BYTES + line / 8] |= (uint8_t)(1u << (line & 7));
        im->touched[nxx] = 1;
    }
    im->val.len = 0;
    rc = registry_npa_encode(&im->val, im->bits, im->touched, &after);
    for (unsigned nxx = 0; nxx < REGISTRY_NXX; nxx++)
        if (im->touched[nxx])
            memset(im->bits + (size_t)nxx * REGISTRY_BITMAP_BYTES, 0, REGISTRY_BITMAP_BYTES);
    if (!rc)
        rc = store_put(t, DB_REGISTRY, k, klen, im->val.data, im->val.len, 0);
    im->flush_delta += (int64_t)after - (int64_t)before;
    return rc;
}

int registry_import_flush_txn(struct store_txn *t, void *arg)
{
    struct registry_import *im = arg;
    im->flush_delta = 0;
    /* A run before this one (the map grew) may have stopped with an area code half merged. */
    memset(im->bits, 0, REGISTRY_NPA_BITS_BYTES);
    if (im->unsorted)
        qsort(im->nums, im->n, sizeof *im->nums, cmp_u64);
    im->unsorted = 0;
    int rc = 0;
    for (size_t i = 0; !rc && i < im->n;) {
        size_t j = i + 1;
        uint64_t npa = im->nums[i] / 10000000u;
        while (j < im->n && im->nums[j] / 10000000u == npa)
            j++;
        rc = merge_npa(t, im, i, j);
        store_txn_breathe(t);
        i = j;
    }
    return rc;
}

void registry_import_flushed(struct registry_import *im)
{
    im->meta.count += (uint64_t)im->flush_delta;
    im->flush_delta = 0;
    im->n = 0;
}

static int unlock(struct store_txn *t, struct registry_import *im)
{
    uint8_t lk[1];
    size_t lklen = registry_lock_key(lk);
    struct store_val v;
    uint32_t pid;
    uint64_t started;
    int rc = store_get(t, DB_REGISTRY, lk, lklen, &v);
    if (rc == 0 && registry_lock_decode(&v, &pid, &started) == 0 && pid == im->pid)
        rc = store_del(t, DB_REGISTRY, lk, lklen);
    return rc == BC_ENOTFOUND ? 0 : rc;
}

static int drop_generation(struct store_txn *t, uint32_t gen)
{
    uint8_t k[REGISTRY_KEY_LEN];
    registry_npa_key(k, gen, 0);
    return store_del_prefix(t, DB_REGISTRY, k, 5);
}

int registry_import_switch_txn(struct store_txn *t, void *arg)
{
    struct registry_import *im = arg;
    uint8_t mk[1];
    registry_meta_encode(&im->val, &im->meta);
    if (im->val.len == 0)
        return BC_ENOMEM;
    int rc = store_put(t, DB_REGISTRY, mk, registry_meta_key(mk), im->val.data, im->val.len, 0);
    if (!rc && im->old_generation)
        rc = drop_generation(t, im->old_generation);
    return rc ? rc : unlock(t, im);
}

int registry_import_abort_txn(struct store_txn *t, void *arg)
{
    struct registry_import *im = arg;
    int rc = drop_generation(t, im->meta.generation);
    return rc ? rc : unlock(t, im);
}

void registry_import_free(struct registry_import *im)
{
    free(im->nums);
    free(im->bits);
    buf_free(&im->val);
    memset(im, 0, sizeof *im);
}
