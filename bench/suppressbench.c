/* The suppression half of bench/compliance.sh: the national registry's import and lookups.
 *
 *   suppressbench gen FILE N          writes N distinct random +1 numbers, one per line, sorted
 *                                     (the FTC full-list form) or, with BENCH_UNSORTED=1, not
 *   suppressbench import DIR FILE     imports FILE into a fresh store in DIR, as the admin
 *                                     command does (registry_import_*), and prints its time and
 *                                     the process's RSS growth
 *   suppressbench floor DIR FILE      the LMDB append floor for the same numbers: one key per
 *                                     number (10 digits, u64 big-endian), empty value, appended
 *                                     in order (MDB_APPEND) in one durable transaction
 *   suppressbench lookup DIR FILE N   copies the registry into the store's in-memory index
 *                                     (timed apart), then N suppress_check calls (workspace list
 *                                     of 1,000 numbers and 10 area codes, then the registry) on
 *                                     numbers drawn from FILE (hits) and random numbers (mostly
 *                                     misses), half each, then N suppress_cache_check calls
 *
 * Built by bench/compliance.sh against the Release build's static library. */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "policy/registry.h"
#include "policy/registry_index.h"
#include "policy/suppress.h"
#include "util/err.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f && fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    if (f)
        fclose(f);
    return rss * 4;
}

static uint64_t rng =
    88172645463325252ull; /* lookup reseeds: its random numbers are not the file's */
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A valid NANP number: area code and exchange 200-999. */
static uint64_t random_number(void)
{
    uint64_t r = next_rand();
    uint64_t npa = 200 + r % 800, nxx = 200 + (r >> 10) % 800, line = (r >> 20) % 10000;
    return npa * 10000000ull + nxx * 10000 + line;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t *load(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 1 << 20;
    uint64_t *v = malloc(cap * sizeof *v);
    char line[64];
    *n = 0;
    while (v && fgets(line, sizeof line, f)) {
        if (*n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        if (v)
            v[(*n)++] = strtoull(line, NULL, 10);
    }
    fclose(f);
    return v;
}

static int gen(const char *path, size_t n)
{
    uint64_t *v = malloc(n * sizeof *v);
    if (!v)
        return 1;
    size_t have = 0;
    while (have < n) {
        for (size_t i = have; i < n; i++)
            v[i] = random_number();
        qsort(v, n, sizeof *v, cmp_u64);
        have = 0;
        for (size_t i = 0; i < n; i++)
            if (!have || v[i] != v[have - 1])
                v[have++] = v[i];
    }
    if (getenv("BENCH_UNSORTED") && atoi(getenv("BENCH_UNSORTED")))
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = next_rand() % (i + 1);
            uint64_t t = v[i];
            v[i] = v[j];
            v[j] = t;
        }
    FILE *f = fopen(path, "w");
    for (size_t i = 0; f && i < n; i++)
        fprintf(f, "%010llu\n", (unsigned long long)v[i]);
    free(v);
    return f && fclose(f) == 0 ? 0 : 1;
}

static int open_at(struct store *s, const char *dir)
{
    struct store_options opt = {.dir = dir, .map_size = 64u << 20, .map_size_max = 16ull << 30};
    return store_open(s, &opt);
}

static int import(const char *dir, const char *path)
{
    struct store s;
    if (open_at(&s, dir) != 0)
        return 1;
    long rss0 = rss_kb();
    double t0 = now_s(), c0 = cpu_s();
    FILE *f = fopen(path, "r");
    struct registry_import im;
    uint32_t busy;
    int rc = f ? registry_import_begin(&im, &s, "2026-12-01", 10, 20800ull * 86400000ull, 1, &busy)
               : BC_EIO;
    static char chunk[1 << 16];
    size_t got;
    long peak = rss0;
    while (!rc && (got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        rc = registry_import_feed(&im, chunk, got);
        if (!rc && registry_import_want_flush(&im)) {
            rc = store_write(&s, registry_import_flush_txn, &im);
            if (!rc)
                registry_import_flushed(&im);
            long r = rss_kb();
            peak = r > peak ? r : peak;
        }
    }
    if (!rc) {
        registry_import_end(&im);
        rc = store_write(&s, registry_import_flush_txn, &im);
    }
    if (!rc) {
        registry_import_flushed(&im);
        rc = store_write(&s, registry_import_switch_txn, &im);
    }
    long r = rss_kb();
    peak = r > peak ? r : peak;
    double t = now_s() - t0, c = cpu_s() - c0;
    struct store_stats st;
    store_stats(&s, &st);
    printf("import_s %.3f\nimport_cpu_s %.3f\nimport_numbers %llu\nimport_bad %llu\n"
           "import_rss_growth_kb %ld\nimport_store_bytes %zu\n",
           t, c, (unsigned long long)im.meta.count, (unsigned long long)im.meta.bad_lines,
           peak - rss0, st.used_bytes);
    registry_import_free(&im);
    if (f)
        fclose(f);
    store_close(&s);
    return rc ? 1 : 0;
}

static int floor_append(const char *dir, const char *path)
{
    size_t n;
    uint64_t *v = load(path, &n);
    if (!v)
        return 1;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    double t0 = now_s();
    int rc = mdb_env_create(&env);
    if (!rc)
        rc = mdb_env_set_mapsize(env, 4ull << 30);
    if (!rc)
        rc = mdb_env_open(env, dir, 0, 0644);
    if (!rc)
        rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (!rc)
        rc = mdb_dbi_open(txn, NULL, 0, &dbi);
    for (size_t i = 0; !rc && i < n; i++) {
        uint8_t k[8];
        for (int b = 0; b < 8; b++)
            k[b] = (uint8_t)(v[i] >> (56 - 8 * b));
        MDB_val key = {8, k}, val = {0, ""};
        rc = mdb_put(txn, dbi, &key, &val, MDB_APPEND);
    }
    if (!rc)
        rc = mdb_txn_commit(txn);
    double t = now_s() - t0;
    mdb_env_close(env);
    free(v);
    if (rc) {
        fprintf(stderr, "floor: %s\n", mdb_strerror(rc));
        return 1;
    }
    printf("floor_s %.3f\nfloor_numbers %zu\n", t, n);
    return 0;
}

static int add_txn(struct store_txn *t, void *arg)
{
    (void)arg;
    int rc = 0;
    char e[16];
    for (int i = 0; !rc && i < 1000; i++) {
        snprintf(e, sizeof e, "+1%010llu", (unsigned long long)random_number());
        rc = suppress_add(t, "ws_bench", 8, e, 12, "bench", "api", NULL, 1);
    }
    for (int i = 0; !rc && i < 10; i++) {
        snprintf(e, sizeof e, "+1%03d", 200 + i * 79);
        rc = suppress_add(t, "ws_bench", 8, e, 5, "bench", "api", NULL, 1);
    }
    return rc < 0 ? rc : 0;
}

static int lookup(const char *dir, const char *path, size_t n)
{
    size_t have;
    uint64_t *v = load(path, &have);
    struct store s;
    if (!v || !have || open_at(&s, dir) != 0)
        return 1;
    rng = 0x9E3779B97F4A7C15ull;
    if (store_write(&s, add_txn, NULL) != 0)
        return 1;
    /* The numbers to check, formatted beforehand: the loop measures the check alone. */
    size_t m = 1 << 20;
    char(*nums)[13] = malloc(m * sizeof *nums);
    for (size_t i = 0; i < m; i++)
        snprintf(nums[i], 13, "+1%010llu",
                 (unsigned long long)(i & 1 ? v[next_rand() % have] : random_number()));
    struct store_txn t;
    if (store_read_begin(&s, &t) != 0)
        return 1;
    /* Loading the registry: the store's in-memory index, copied a slice per call as the first
     * checks after an import do (timed apart: it happens once per import). */
    struct registry_meta meta;
    if (registry_meta_get(&t, &meta) != 0)
        return 1;
    double l0 = now_s();
    int later = 1;
    unsigned slices = 0;
    struct registry_index *ix = NULL;
    while (!ix && later) {
        ix = registry_index_get(&t, meta.generation, &later);
        slices++;
    }
    double index_s = now_s() - l0;
    registry_index_put(&s, ix);
    uint64_t hits[3] = {0}, cached_hits[3] = {0};
    const char *ws = getenv("BENCH_WS") ? getenv("BENCH_WS") : "ws_bench";
    size_t wslen = strlen(ws);
    double t0 = now_s(), c0 = cpu_s();
    for (size_t i = 0; i < n; i++) {
        enum suppress_source src;
        if (suppress_check(&t, ws, wslen, nums[i & (m - 1)], 12, 1, &src) != 0)
            return 1;
        hits[src]++;
    }
    double wall = now_s() - t0, cpu = cpu_s() - c0;
    struct suppress_cache *c;
    if (suppress_cache_open(&c, &t, ws, wslen, 1) != 0)
        return 1;
    double t1 = now_s(), c1 = cpu_s();
    for (size_t i = 0; i < n; i++) {
        enum suppress_source src;
        if (suppress_cache_check(c, nums[i & (m - 1)], 12, &src) != 0)
            return 1;
        cached_hits[src]++;
    }
    double cwall = now_s() - t1, ccpu = cpu_s() - c1;
    suppress_cache_close(c);
    store_read_end(&t);
    for (int k = 0; k < 3; k++)
        if (hits[k] != cached_hits[k]) {
            fprintf(stderr, "suppress_check and suppress_cache_check disagree\n");
            return 1;
        }
    printf("index_copy_s %.3f\nindex_slices %u\nindex_whole %d\n", index_s, slices, ix != NULL);
    printf("lookups %zu\nlookups_per_s %.0f\nlookups_per_wall_s %.0f\nlookup_ns %.1f\n"
           "cached_lookups_per_s %.0f\ncached_lookups_per_wall_s %.0f\ncached_lookup_ns %.1f\n"
           "lookup_registry_hits %llu\nlookup_workspace_hits %llu\nlookup_misses %llu\n",
           n, (double)n / cpu, (double)n / wall, cpu * 1e9 / (double)n, (double)n / ccpu,
           (double)n / cwall, ccpu * 1e9 / (double)n, (unsigned long long)hits[SUPPRESS_REGISTRY],
           (unsigned long long)hits[SUPPRESS_WORKSPACE], (unsigned long long)hits[SUPPRESS_NONE]);
    store_close(&s);
    free(nums);
    free(v);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "gen"))
        return gen(argv[2], strtoull(argv[3], NULL, 10));
    if (argc == 4 && !strcmp(argv[1], "import"))
        return import(argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "floor"))
        return floor_append(argv[2], argv[3]);
    if (argc == 5 && !strcmp(argv[1], "lookup"))
        return lookup(argv[2], argv[3], strtoull(argv[4], NULL, 10));
    fprintf(stderr, "usage: see the comment at the top of bench/suppressbench.c\n");
    return 2;
}
