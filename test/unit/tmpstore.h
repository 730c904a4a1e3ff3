/* A store in a fresh temporary directory, for the unit tests that need a real LMDB environment.
 * Include after check.h. */
#ifndef BC_TEST_TMPSTORE_H
#define BC_TEST_TMPSTORE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "store/store.h"

struct tmpdir {
    char path[64];
};

static void tmpdir_make(struct tmpdir *d)
{
    snprintf(d->path, sizeof d->path, "/tmp/store_test.XXXXXX");
    CHECK(mkdtemp(d->path) != NULL);
}

/* Removes what LMDB creates in the directory, then the directory. */
static void tmpdir_remove(struct tmpdir *d)
{
    static const char *const files[] = {"data.mdb", "lock.mdb", "file"};
    char p[128];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", d->path, files[i]);
        unlink(p);
    }
    CHECK_INT(rmdir(d->path), 0);
}

static int open_store(struct store *s, const char *dir, size_t map_size, size_t map_size_max)
{
    struct store_options opt = {
        .dir = dir, .map_size = map_size, .map_size_max = map_size_max, .read_only = 0};
    return store_open(s, &opt);
}

#endif
