/* Benchmark: our incremental CSV parser (src/ingest/csv.c) against libcsv on the same file.
 *
 * Build and run from the repository root:
 *   gcc -O2 -std=c11 -D_GNU_SOURCE -Isrc bench/csvbench.c src/ingest/csv.c src/ingest/csv_scan.c \
 *       -lcsv -o /tmp/csvbench
 *   python3 bench/gen_contacts.py --rows 260000 --seed 1 > /tmp/contacts.csv
 *   /tmp/csvbench /tmp/contacts.csv [runs]
 *
 * The file is read into memory once, then parsed `runs` times (default 5) by each parser in
 * 64 KiB chunks. Both count records and fields, which must agree on a well-formed file; the
 * program prints the median throughput of each and the ratio, and exits non-zero on a mismatch.
 *
 * libcsv is configured for RFC 4180: CSV_STRICT | CSV_STRICT_FINI and a space function that
 * never trims. Both libraries define struct csv_parser, csv_init, csv_free and csv_strerror, so
 * libcsv's header is included with those names renamed, and its csv_init, csv_free and
 * csv_strerror are looked up with dlsym in libcsv itself (a call by name would bind to ours). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define csv_parser   libcsv_parser
#define csv_init     libcsv_init
#define csv_free     libcsv_free
#define csv_strerror libcsv_strerror
#include <csv.h>
#undef csv_parser
#undef csv_init
#undef csv_free
#undef csv_strerror

#include "ingest/csv.h"

#define CHUNK        (64 * 1024)
#define DEFAULT_RUNS 5
#define MAX_RUNS     101

struct counts {
    size_t rows, fields, errors;
};

struct libcsv_api {
    __typeof__(libcsv_init) *init;
    __typeof__(libcsv_free) *free;
    __typeof__(libcsv_strerror) *strerror;
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int on_row(void *ctx, const struct csv_row *r)
{
    struct counts *c = ctx;
    c->rows++;
    c->fields += r->nfields;
    c->errors += r->error != 0;
    return 0;
}

static int parse_ours(const char *data, size_t len, struct counts *c)
{
    struct csv_parser p;
    int rc = csv_init(&p, NULL, on_row, c);
    for (size_t off = 0; rc == 0 && off < len; off += CHUNK)
        rc = csv_feed(&p, data + off, len - off < CHUNK ? len - off : CHUNK);
    if (rc == 0)
        rc = csv_finish(&p);
    if (rc != 0) {
        char why[256];
        fprintf(stderr, "csvbench: our parser: %s\n", csv_strerror(&p, rc, why, sizeof why));
    }
    csv_free(&p);
    return rc;
}

static void on_field(void *field, size_t len, void *ctx)
{
    (void)field;
    (void)len;
    ((struct counts *)ctx)->fields++;
}

static void on_record(int term, void *ctx)
{
    (void)term;
    ((struct counts *)ctx)->rows++;
}

/* RFC 4180 keeps spaces in unquoted fields; libcsv trims them unless told no byte is a space. */
static int never_space(unsigned char c)
{
    (void)c;
    return 0;
}

static int parse_libcsv(const struct libcsv_api *api, const char *data, size_t len,
                        struct counts *c)
{
    struct libcsv_parser p;
    if (api->init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        fprintf(stderr, "csvbench: libcsv: csv_init failed\n");
        return -1;
    }
    csv_set_space_func(&p, never_space);
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < len; off += CHUNK) {
        size_t n = len - off < CHUNK ? len - off : CHUNK;
        if (csv_parse(&p, data + off, n, on_field, on_record, c) != n)
            rc = -1;
    }
    if (rc == 0 && csv_fini(&p, on_field, on_record, c) != 0)
        rc = -1;
    if (rc != 0)
        fprintf(stderr, "csvbench: libcsv: %s\n", api->strerror(csv_error(&p)));
    api->free(&p);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *data = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0)
        data = malloc(size > 0 ? (size_t)size : 1);
    if (data && fread(data, 1, (size_t)size, f) != (size_t)size) {
        free(data);
        data = NULL;
    }
    fclose(f);
    *len = data ? (size_t)size : 0;
    return data;
}

static int load_libcsv(struct libcsv_api *api)
{
    /* RTLD_DEEPBIND keeps libcsv's own references inside libcsv, away from our csv_ names. */
    void *h = dlopen("libcsv.so.3", RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!h) {
        fprintf(stderr, "csvbench: %s\n", dlerror());
        return -1;
    }
    *(void **)&api->init = dlsym(h, "csv_init");
    *(void **)&api->free = dlsym(h, "csv_free");
    *(void **)&api->strerror = dlsym(h, "csv_strerror");
    if (!api->init || !api->free || !api->strerror) {
        fprintf(stderr, "csvbench: libcsv symbols not found\n");
        return -1;
    }
    return 0;
}

static void report(const char *name, size_t bytes, const struct counts *c, double secs)
{
    printf("%-7s %8zu rows %9zu fields  median %7.2f ms  %8.1f MB/s  %6.2f M rows/s\n", name,
           c->rows, c->fields, secs * 1e3, (double)bytes / secs / 1e6,
           (double)c->rows / secs / 1e6);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s FILE [runs]\n", argv[0]);
        return 2;
    }
    int runs = argc == 3 ? atoi(argv[2]) : DEFAULT_RUNS;
    if (runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "csvbench: runs must be 1..%d\n", MAX_RUNS);
        return 2;
    }
    size_t len;
    char *data = read_file(argv[1], &len);
    if (!data) {
        perror(argv[1]);
        return 1;
    }
    struct libcsv_api api;
    if (load_libcsv(&api) != 0)
        return 1;

    double ours_t[MAX_RUNS], lib_t[MAX_RUNS];
    struct counts ours = {0}, lib = {0};
    for (int i = 0; i < runs; i++) {
        memset(&ours, 0, sizeof ours);
        double t0 = now_seconds();
        if (parse_ours(data, len, &ours) != 0)
            return 1;
        ours_t[i] = now_seconds() - t0;

        memset(&lib, 0, sizeof lib);
        t0 = now_seconds();
        if (parse_libcsv(&api, data, len, &lib) != 0)
            return 1;
        lib_t[i] = now_seconds() - t0;
    }
    double ours_med = median(ours_t, runs), lib_med = median(lib_t, runs);
    printf("file %s: %zu bytes, %d runs, %d KiB chunks\n", argv[1], len, runs, CHUNK / 1024);
    report("ours", len, &ours, ours_med);
    report("libcsv", len, &lib, lib_med);
    printf("ratio   %.2fx (libcsv time / our time)\n", lib_med / ours_med);
    free(data);
    if (ours.errors)
        printf("note: our parser reported %zu rows with errors\n", ours.errors);
    if (ours.rows != lib.rows || ours.fields != lib.fields) {
        fprintf(stderr, "csvbench: the parsers disagree on rows or fields\n");
        return 1;
    }
    return 0;
}
