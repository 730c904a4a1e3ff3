#include "store/records_upgrade.h"

#include <stdint.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"

/* Keys moved per transaction: a large store is upgraded in bounded steps. */
#define MOVE_STEP 20000

/* Moves up to MOVE_STEP keys; *more is set when keys are left. */
static int move_txn(struct store_txn *t, void *arg)
{
    int *more = arg;
    struct buf keys = {0};
    struct store_iter it;
    size_t n = 0;
    int rc;
    *more = 0;
    store_iter_open(&it, t, DB_JOBSTATE_V1, "", 0, NULL, 0);
    while ((rc = store_iter_next(&it)) == 1) {
        if (n == MOVE_STEP) {
            *more = 1;
            break;
        }
        uint32_t len = (uint32_t)it.key.len;
        if (buf_append(&keys, &len, sizeof len) || buf_append(&keys, it.key.ptr, len)) {
            rc = BC_ENOMEM;
            break;
        }
        n++;
    }
    store_iter_close(&it);
    /* Read first, then written: the iterator's key points into pages a write may replace. The
     * keys come in order, so they are appended. */
    for (size_t pos = 0; rc >= 0 && pos < keys.len;) {
        uint32_t len;
        memcpy(&len, keys.data + pos, sizeof len);
        const char *key = keys.data + pos + sizeof len;
        pos += sizeof len + len;
        /* A key too short to hold a row was never written by any version: it is dropped. */
        if (len > 4)
            rc = store_put(t, DB_JOBSTATE, key, len, "", 0, STORE_APPEND);
        if (rc >= 0)
            rc = store_del(t, DB_JOBSTATE_V1, key, len);
    }
    buf_free(&keys);
    return rc < 0 ? rc : t->err;
}

/* 1 when the old table holds a key, 0 when it is empty, or the store's error. */
static int has_old_index(struct store *s)
{
    struct store_txn t;
    int rc = store_read_begin(s, &t);
    if (rc)
        return rc;
    struct store_iter it;
    store_iter_open(&it, &t, DB_JOBSTATE_V1, "", 0, NULL, 0);
    rc = store_iter_next(&it);
    store_iter_close(&it);
    store_read_end(&t);
    return rc;
}

int records_upgrade_jobstate(struct store *s)
{
    int rc = has_old_index(s), more = rc > 0;
    while (rc >= 0 && more)
        rc = store_write(s, move_txn, &more);
    return rc < 0 ? rc : 0;
}
