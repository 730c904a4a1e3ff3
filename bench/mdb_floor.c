/* The floor of bench/ingest.sh: the least work that stores a CSV file's rows durably in LMDB.
 *
 * Build and run from the repository root:
 *   gcc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra bench/mdb_floor.c -llmdb -o /tmp/mdb_floor
 *   /tmp/mdb_floor contacts.csv /tmp/floor-env
 *
 * It reads the whole file, splits it on '\n', skips the first line (the header, which the server
 * does not store as a row either) and appends one record per line: the key is the line number
 * as a big-endian u32 (1 for the first data line), so keys arrive in order and MDB_APPEND applies;
 * the value is the line's bytes without its line end. Everything goes into one write transaction
 * on a fresh environment with a 1 GiB map, committed with LMDB's default, durable flags (the
 * commit fsyncs), like the server's commits.
 *
 * The split is on physical lines, not CSV records: a quoted field that holds a line break makes
 * two records here where the server sees one row. The floor therefore writes a few more, shorter
 * records than the server for the same file; it parses nothing, validates nothing and keeps no
 * index, which is exactly why it is a floor. It prints the lines and bytes stored and the time
 * it took, and exits non-zero on any error. */
#include <errno.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAP_SIZE ((size_t)1 << 30)

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *data = NULL;
    struct stat st;
    if (fstat(fileno(f), &st) == 0)
        data = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    if (data && fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        free(data);
        data = NULL;
    }
    fclose(f);
    *len = data ? (size_t)st.st_size : 0;
    return data;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "mdb_floor: %s: %s\n", what, mdb_strerror(rc));
    return 1;
}

/* Appends every line after the first as one record. Returns 0 or an LMDB error code. */
static int append_lines(MDB_txn *txn, MDB_dbi dbi, const char *data, size_t len, uint32_t *lines)
{
    const char *p = data, *end = data + len;
    const char *nl = memchr(p, '\n', len);
    if (!nl)
        return 0;
    p = nl + 1;
    uint32_t row = 0;
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        size_t n = (size_t)(line_end - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        row++;
        uint8_t key[4] = {(uint8_t)(row >> 24), (uint8_t)(row >> 16), (uint8_t)(row >> 8),
                          (uint8_t)row};
        MDB_val k = {sizeof key, key}, v = {n, (void *)p};
        int rc = mdb_put(txn, dbi, &k, &v, MDB_APPEND);
        if (rc)
            return rc;
        p = line_end + 1;
    }
    *lines = row;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s FILE.csv ENV_DIR (a new or empty directory)\n", argv[0]);
        return 2;
    }
    double t0 = now_seconds();
    size_t len;
    char *data = read_file(argv[1], &len);
    if (!data) {
        perror(argv[1]);
        return 1;
    }
    if (mkdir(argv[2], 0700) != 0 && errno != EEXIST) {
        perror(argv[2]);
        return 1;
    }
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint32_t lines = 0;
    int rc = mdb_env_create(&env);
    if (rc)
        return fail("mdb_env_create", rc);
    if ((rc = mdb_env_set_mapsize(env, MAP_SIZE)) != 0)
        return fail("mdb_env_set_mapsize", rc);
    if ((rc = mdb_env_open(env, argv[2], 0, 0600)) != 0)
        return fail("mdb_env_open", rc);
    if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
        return fail("mdb_txn_begin", rc);
    if ((rc = mdb_dbi_open(txn, NULL, 0, &dbi)) != 0)
        return fail("mdb_dbi_open", rc);
    if ((rc = append_lines(txn, dbi, data, len, &lines)) != 0)
        return fail("mdb_put", rc);
    if ((rc = mdb_txn_commit(txn)) != 0)
        return fail("mdb_txn_commit", rc);
    mdb_env_close(env);
    free(data);
    printf("lines %u bytes %zu seconds %.6f\n", lines, len, now_seconds() - t0);
    return 0;
}
