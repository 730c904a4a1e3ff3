/* The national registry: the line parser on every split point of a small file (both forms,
 * CRLF, blank lines, a header, bad lines), imports that replace the registry only when they
 * switch, merges of unsorted input across flushes, the import lock, dates and staleness; the
 * in-memory index of the active generation against the records it copies, across imports. */
#include "check.h"
#include "tmpstore.h"

#include <stdlib.h>
#include <string.h>

#include "policy/registry.h"
#include "policy/registry_index.h"
#include "policy/suppress.h"
#include "util/err.h"

#define DAY_MS 86400000ull
/* 2026-12-06 00:00 UTC */
#define NOW_MS (20793ull * DAY_MS)

static const char sample[] =
    "phone_number\r\n"
    "2125550100\r\n"
    "\r\n"
    "415,5550123\n"
    "  3125550100  \n"
    "12025550111\n"
    "1235550100\n"
    "2121550100\n"
    "not a number\n"
    "2125550100\n"
    "\"646\",\"5550199\"\r\n"
    "99999999999999999999999999999999999999999999999999999999999999999999\n"
    "7185550100";

static void parse_all(struct registry_import *im, const char *data, size_t len, size_t split)
{
    CHECK_INT(registry_import_feed(im, data, split), 0);
    CHECK_INT(registry_import_feed(im, data + split, len - split), 0);
    registry_import_end(im);
}

static void test_parser_every_split(void)
{
    size_t len = sizeof sample - 1;
    for (size_t split = 0; split <= len; split++) {
        struct registry_import im;
        memset(&im, 0, sizeof im);
        im.cap = 64;
        im.nums = malloc(im.cap * sizeof *im.nums);
        parse_all(&im, sample, len, split);
        /* 2125550100 twice, 4155550123, 3125550100, 2025550111, 6465550199, 7185550100 */
        CHECK_INT(im.n, 7);
        CHECK_INT(im.meta.bad_lines, 4);
        CHECK_INT(im.nbad, 4);
        if (im.n == 7) {
            CHECK_INT(im.nums[0], 2125550100ull);
            CHECK_INT(im.nums[1], 4155550123ull);
            CHECK_INT(im.nums[3], 2025550111ull);
            CHECK_INT(im.nums[5], 6465550199ull);
            CHECK_INT(im.nums[6], 7185550100ull);
        }
        if (im.nbad == 4) {
            CHECK_INT(im.bad[0].line, 7); /* 1235550100: area code starts with 1 */
            CHECK_INT(im.bad[1].line, 8); /* 2121550100: exchange starts with 1 */
            CHECK_INT(im.bad[2].line, 9);
            CHECK(strcmp(im.bad[2].text, "not a number") == 0);
            CHECK_INT(im.bad[3].line, 12);
        }
        CHECK(im.unsorted);
        free(im.nums);
    }
}

static void test_dates(void)
{
    int64_t day;
    CHECK_INT(registry_date_parse("1970-01-01", 10, &day), 0);
    CHECK_INT(day, 0);
    CHECK_INT(registry_date_parse("2026-12-06", 10, &day), 0);
    CHECK_INT(day, 20793);
    CHECK_INT(registry_date_parse("2028-02-29", 10, &day), 0);
    CHECK_INT(registry_date_parse("2027-02-29", 10, &day), BC_EINVAL);
    CHECK_INT(registry_date_parse("2026-13-01", 10, &day), BC_EINVAL);
    CHECK_INT(registry_date_parse("2026-1-01", 9, &day), BC_EINVAL);
    CHECK_INT(registry_date_parse("2026/12/06", 10, &day), BC_EINVAL);
    struct registry_meta m = {.generation = 1};
    memcpy(m.date, "2026-11-05", 11); /* 31 days before NOW_MS */
    CHECK_INT(registry_age_days(&m, NOW_MS), 31);
    CHECK(!registry_stale(&m, NOW_MS));
    CHECK(registry_stale(&m, NOW_MS + DAY_MS));
    m.generation = 0;
    CHECK(!registry_stale(&m, NOW_MS + DAY_MS));
}

static int import(struct store *s, const char *date, const char *data, size_t len, int flush_each)
{
    struct registry_import im;
    uint32_t busy;
    int rc = registry_import_begin(&im, s, date, strlen(date), NOW_MS, 4242, &busy);
    for (size_t i = 0; !rc && i < len; i++) {
        rc = registry_import_feed(&im, data + i, 1);
        if (!rc && flush_each && data[i] == '\n' && im.n) {
            rc = store_write(s, registry_import_flush_txn, &im);
            if (!rc)
                registry_import_flushed(&im);
        }
    }
    if (!rc) {
        registry_import_end(&im);
        rc = store_write(s, registry_import_flush_txn, &im);
    }
    if (!rc) {
        registry_import_flushed(&im);
        rc = store_write(s, registry_import_switch_txn, &im);
    }
    if (rc && im.locked)
        store_write(s, registry_import_abort_txn, &im);
    registry_import_free(&im);
    return rc;
}

static int has(struct store *s, const char *digits)
{
    struct store_txn t;
    CHECK_INT(store_read_begin(s, &t), 0);
    int rc = registry_has(&t, digits);
    store_read_end(&t);
    return rc;
}

static void test_import_and_replace(void)
{
    struct tmpdir d;
    struct store s;
    tmpdir_make(&d);
    CHECK_INT(open_store(&s, d.path, 1 << 22, 1 << 28), 0);
    CHECK_INT(has(&s, "2125550100"), 0);
    CHECK_INT(import(&s, "2026-12-01", sample, sizeof sample - 1, 0), 0);
    CHECK_INT(has(&s, "2125550100"), 1);
    CHECK_INT(has(&s, "4155550123"), 1);
    CHECK_INT(has(&s, "7185550100"), 1);
    CHECK_INT(has(&s, "7185550101"), 0);
    CHECK_INT(has(&s, "9175550100"), 0);
    struct store_txn t;
    struct registry_meta m;
    CHECK_INT(store_read_begin(&s, &t), 0);
    CHECK_INT(registry_meta_get(&t, &m), 0);
    enum suppress_source src;
    CHECK_INT(suppress_check(&t, "ws_a", 4, "+12125550100", 12, 1, &src), 0);
    CHECK_INT(src, SUPPRESS_REGISTRY);
    CHECK_INT(suppress_check(&t, "ws_a", 4, "+12125550100", 12, 0, &src), 0);
    CHECK_INT(src, SUPPRESS_NONE);
    store_read_end(&t);
    CHECK_INT(m.count, 6);
    CHECK_INT(m.bad_lines, 4);
    CHECK(strcmp(m.date, "2026-12-01") == 0);
    uint32_t first_gen = m.generation;

    /* A dense exchange (a bitmap) and a sparse one, unsorted, merged across many flushes; it
     * replaces the first registry entirely. */
    struct buf f = {0};
    for (unsigned i = 0; i < 3000; i++)
        buf_printf(&f, "917555%04u\n", (i * 7919u) % 10000u);
    buf_printf(&f, "2125550199\n9175550000\n");
    CHECK_INT(import(&s, "2026-12-02", f.data, f.len, 1), 0);
    CHECK_INT(has(&s, "2125550100"), 0);
    CHECK_INT(has(&s, "2125550199"), 1);
    unsigned found = 0;
    for (unsigned line = 0; line < 10000; line++) {
        char num[11];
        snprintf(num, sizeof num, "917555%04u", line);
        found += (unsigned)has(&s, num);
    }
    CHECK_INT(found, 3000);
    CHECK_INT(store_read_begin(&s, &t), 0);
    CHECK_INT(registry_meta_get(&t, &m), 0);
    /* Nothing of the first generation is left. */
    struct store_iter it;
    int rc, old = 0;
    store_iter_open(&it, &t, DB_REGISTRY, "G", 1, NULL, 0);
    while ((rc = store_iter_next(&it)) == 1) {
        uint32_t gen;
        unsigned npa;
        CHECK_INT(registry_npa_key_decode(&it.key, &gen, &npa), 0);
        old += gen == first_gen;
    }
    store_iter_close(&it);
    store_read_end(&t);
    CHECK_INT(old, 0);
    CHECK_INT(m.count, 3001);
    CHECK(m.generation > first_gen);
    buf_free(&f);
    store_close(&s);
    tmpdir_remove(&d);
}

static void test_unfinished_import_is_invisible(void)
{
    struct tmpdir d;
    struct store s;
    tmpdir_make(&d);
    CHECK_INT(open_store(&s, d.path, 1 << 22, 1 << 28), 0);
    CHECK_INT(import(&s, "2026-12-01", "2125550100\n", 11, 0), 0);
    struct registry_import im;
    uint32_t busy;
    CHECK_INT(registry_import_begin(&im, &s, "2026-12-02", 10, NOW_MS, (uint32_t)getpid(), &busy),
              0);
    CHECK_INT(registry_import_feed(&im, "3125550100\n", 11), 0);
    CHECK_INT(store_write(&s, registry_import_flush_txn, &im), 0);
    registry_import_flushed(&im);
    /* Flushed but not switched: readers still see the old registry only. */
    CHECK_INT(has(&s, "3125550100"), 0);
    CHECK_INT(has(&s, "2125550100"), 1);
    /* A second import while this process (alive) holds the lock. */
    struct registry_import im2;
    CHECK_INT(registry_import_begin(&im2, &s, "2026-12-02", 10, NOW_MS, 1, &busy), BC_EBUSY);
    CHECK_INT(busy, (uint32_t)getpid());
    registry_import_free(&im2);
    /* Bad dates: not a date, or in the future. */
    CHECK_INT(registry_import_begin(&im2, &s, "2026-12-32", 10, NOW_MS, 1, &busy), BC_EINVAL);
    registry_import_free(&im2);
    CHECK_INT(registry_import_begin(&im2, &s, "2026-12-09", 10, NOW_MS, 1, &busy), BC_EINVAL);
    registry_import_free(&im2);
    CHECK_INT(store_write(&s, registry_import_abort_txn, &im), 0);
    registry_import_free(&im);
    CHECK_INT(has(&s, "2125550100"), 1);
    /* The lock is gone: the next import runs. */
    CHECK_INT(import(&s, "2026-12-03", "3125550100\n", 11, 0), 0);
    CHECK_INT(has(&s, "3125550100"), 1);
    CHECK_INT(has(&s, "2125550100"), 0);
    store_close(&s);
    tmpdir_remove(&d);
}

/* Exchange 5xx of area code npa holds numbers k * 9973 % 10000 for k < 5xx - 500 (0 to 40 of
 * them, so every array length the search walks), 541-545 longer lists, exchange 600 all even
 * lines (a bitmap). */
static void registry_file(struct buf *f, unsigned npa)
{
    /* Longer exchanges: at and around the 32-line segments the index splits them into, up to
     * the last length kept as a list (624). */
    static const unsigned longer[] = {63, 64, 65, 300, 624};
    for (unsigned nxx = 500; nxx <= 540; nxx++)
        for (unsigned k = 0; k < nxx - 500; k++)
            buf_printf(f, "%u%u%04u\n", npa, nxx, k * 9973u % 10000u);
    for (unsigned i = 0; i < 5; i++)
        for (unsigned k = 0; k < longer[i]; k++)
            buf_printf(f, "%u%u%04u\n", npa, 541 + i, k * 9973u % 10000u);
    for (unsigned line = 0; line < 10000; line += 2)
        buf_printf(f, "%u600%04u\n", npa, line);
}

/* The answer read from the active generation's records, without the index. */
static int records_have(struct store_txn *t, const char *d)
{
    struct registry_meta m;
    struct store_val v;
    if (registry_meta_get(t, &m) != 0)
        return 0;
    unsigned npa =
        (unsigned)(d[0] - '0') * 100 + (unsigned)(d[1] - '0') * 10 + (unsigned)(d[2] - '0');
    int rc = registry_npa_get(t, m.generation, npa, &v);
    if (rc == BC_ENOTFOUND)
        return 0;
    CHECK_INT(rc, 0);
    rc = registry_digits_has(&v, d);
    CHECK(rc >= 0);
    return rc;
}

/* Asks for the index of t's generation until it is whole (the first call of a generation only
 * sizes it, each later one copies a slice): how many calls it took, 0 if it never came. */
static int index_calls(struct store_txn *t)
{
    struct registry_meta m;
    CHECK_INT(registry_meta_get(t, &m), 0);
    int later = 1, calls = 0;
    struct registry_index *ix = NULL;
    while (!ix && later && calls < 1000) {
        ix = registry_index_get(t, m.generation, &later);
        calls++;
    }
    registry_index_put(t->s, ix);
    return ix ? calls : 0;
}

/* Every line of the exchanges registry_file writes, through the cache (the index when it has
 * one), against registry_has reading the records in the same snapshot: how many differ, and
 * how many are on the registry. */
static unsigned cache_disagrees(struct store_txn *t, struct suppress_cache *c, unsigned npa,
                                unsigned *hits)
{
    unsigned bad = 0;
    *hits = 0;
    for (unsigned nxx = 500; nxx <= 600; nxx++)
        for (unsigned line = 0; line < 10000 && (nxx <= 545 || nxx == 600); line++) {
            char e[16];
            snprintf(e, sizeof e, "+1%u%u%04u", npa, nxx, line);
            enum suppress_source src;
            CHECK_INT(suppress_cache_check(c, e, 12, &src), 0);
            int want = records_have(t, e + 2);
            bad += (src == SUPPRESS_REGISTRY) != want;
            *hits += src == SUPPRESS_REGISTRY;
        }
    return bad;
}

static void test_index_follows_generations(void)
{
    struct tmpdir d;
    struct store s;
    tmpdir_make(&d);
    CHECK_INT(open_store(&s, d.path, 1 << 22, 1 << 28), 0);
    struct buf f = {0};
    registry_file(&f, 212);
    CHECK_INT(import(&s, "2026-12-01", f.data, f.len, 0), 0);
    struct store_txn t1, t2;
    struct suppress_cache *c1, *c2, *c3;
    unsigned hits;
    /* A cache opened before the index is whole reads the records, and right too; it asks for
     * the index with each check until it has it. */
    CHECK_INT(store_snapshot_begin(&s, &t1), 0);
    CHECK_INT(suppress_cache_open(&c1, &t1, "ws_a", 4, 1), 0);
    CHECK_INT(cache_disagrees(&t1, c1, 212, &hits), 0);
    CHECK_INT(hits, 820 + 1116 + 5000);
    suppress_cache_close(c1);
    CHECK_INT(index_calls(&t1), 1);
    CHECK_INT(suppress_cache_open(&c1, &t1, "ws_a", 4, 1), 0);
    CHECK_INT(cache_disagrees(&t1, c1, 212, &hits), 0);
    CHECK_INT(hits, 820 + 1116 + 5000);
    /* A new registry (other area code, exchanges moved) while c1 still holds the index. */
    f.len = 0;
    registry_file(&f, 213);
    buf_printf(&f, "2125210000\n");
    CHECK_INT(import(&s, "2026-12-02", f.data, f.len, 0), 0);
    CHECK_INT(store_read_begin(&s, &t2), 0);
    CHECK(index_calls(&t2) >= 2); /* sized, then copied: never in one call */
    CHECK_INT(suppress_cache_open(&c2, &t2, "ws_a", 4, 1), 0);
    CHECK_INT(cache_disagrees(&t2, c2, 213, &hits), 0);
    CHECK_INT(hits, 820 + 1116 + 5000);
    CHECK_INT(cache_disagrees(&t2, c2, 212, &hits), 0);
    CHECK_INT(hits, 1);
    /* The old snapshot still sees the old registry, through the replaced index ... */
    CHECK_INT(cache_disagrees(&t1, c1, 212, &hits), 0);
    CHECK_INT(hits, 820 + 1116 + 5000);
    suppress_cache_close(c1);
    /* ... and, once that is gone, by reading its records (the index is of a newer one). */
    CHECK_INT(suppress_cache_open(&c3, &t1, "ws_a", 4, 1), 0);
    CHECK_INT(cache_disagrees(&t1, c3, 212, &hits), 0);
    CHECK_INT(hits, 820 + 1116 + 5000);
    CHECK_INT(cache_disagrees(&t1, c3, 213, &hits), 0);
    CHECK_INT(hits, 0);
    suppress_cache_close(c3);
    suppress_cache_close(c2);
    store_read_end(&t2);
    store_snapshot_end(&t1);
    buf_free(&f);
    store_close(&s);
    tmpdir_remove(&d);
}

CHECK_MAIN(CHECK_CASE(test_parser_every_split), CHECK_CASE(test_dates),
           CHECK_CASE(test_import_and_replace), CHECK_CASE(test_unfinished_import_is_invisible),
           CHECK_CASE(test_index_follows_generations))
