#include "store/records_upgrade.h"

#include <stdint.h>
#include <string.h>

#include "store/records.h"
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

/* ---- keys of earlier versions (records_upgrade) ---- */

/* Keys of earlier versions held the batch id as written, so "batch_" follows the time. */
static const uint8_t *old_ws2batch_id(const struct store_val *key)
{
    static const char prefix[] = "batch_";
    const uint8_t *id = (const uint8_t *)key->ptr + key->len - BATCH_ID_LEN;
    if (key->len <= 8 + BATCH_ID_LEN || memcmp(id, prefix, sizeof prefix - 1) != 0)
        return NULL;
    return id;
}

static int upgrade_txn(struct store_txn *t, void *arg)
{
    (void)arg;
    struct buf old = {0};
    struct store_iter it;
    int rc;
    store_iter_open(&it, t, DB_WS2BATCH, "", 0, NULL, 0);
    while ((rc = store_iter_next(&it)) == 1) {
        if (!old_ws2batch_id(&it.key))
            continue;
        uint16_t n = (uint16_t)it.key.len;
        if (buf_append(&old, &n, sizeof n) || buf_append(&old, it.key.ptr, it.key.len))
            rc = BC_ENOMEM;
        if (rc < 0)
            break;
    }
    store_iter_close(&it);
    for (size_t pos = 0; rc >= 0 && pos < old.len;) {
        uint16_t n;
        memcpy(&n, old.data + pos, sizeof n);
        struct store_val key = {old.data + pos + sizeof n, n};
        pos += sizeof n + n;
        const uint8_t *id = old_ws2batch_id(&key);
        size_t wslen = (size_t)(id - (const uint8_t *)key.ptr) - 8;
        uint8_t nk[WS2BATCH_KEY_MAX];
        size_t nlen =
            ws2batch_key(nk, key.ptr, wslen, ~be64_get(id - 8), (const char *)id, BATCH_ID_LEN);
        store_del(t, DB_WS2BATCH, key.ptr, key.len);
        rc = store_put(t, DB_WS2BATCH, nk, nlen, "", 0, 0);
    }
    buf_free(&old);
    return rc < 0 ? rc : 0;
}

/* Keys of jobs written before binary batch ids began with "batch_" + ULID as text: the key with
 * the id in binary, or 0 when key is not such a key. */
static size_t old_job_key(const struct store_val *key, uint8_t nk[JOB_KEY_MAX])
{
    char id[BATCH_ID_LEN + 1];
    if (key->len < BATCH_ID_LEN + 4 || key->len > BATCH_ID_LEN + 12 ||
        memcmp(key->ptr, "batch_", 6) != 0)
        return 0;
    memcpy(id, key->ptr, BATCH_ID_LEN);
    id[BATCH_ID_LEN] = '\0';
    if (batch_key_prefix(nk, id) != KEY_BATCH_BIN)
        return 0;
    memcpy(nk + KEY_BATCH_BIN, (const uint8_t *)key->ptr + BATCH_ID_LEN, key->len - BATCH_ID_LEN);
    return KEY_BATCH_BIN + key->len - BATCH_ID_LEN;
}

/* Entries rewritten per transaction, so that a large store is upgraded in bounded steps. */
#define UPGRADE_STEP 20000
struct key_upgrade {
    enum store_db db;
    int more;
};

/* Rewrites up to UPGRADE_STEP old job keys of one database (values kept as they are). */
static int upgrade_keys_txn(struct store_txn *t, void *arg)
{
    struct key_upgrade *u = arg;
    struct buf moved = {0};
    struct store_iter it;
    size_t n = 0;
    int rc;
    u->more = 0;
    store_iter_open(&it, t, u->db, "batch_", 6, NULL, 0);
    while ((rc = store_iter_next(&it)) == 1) {
        uint8_t nk[JOB_KEY_MAX];
        if (!old_job_key(&it.key, nk))
            continue;
        if (n == UPGRADE_STEP) {
            u->more = 1;
            break;
        }
        uint32_t lens[2] = {(uint32_t)it.key.len, (uint32_t)it.val.len};
        if (buf_append(&moved, lens, sizeof lens) || buf_append(&moved, it.key.ptr, lens[0]) ||
            buf_append(&moved, it.val.ptr, lens[1])) {
            rc = BC_ENOMEM;
            break;
        }
        n++;
    }
    store_iter_close(&it);
    for (size_t pos = 0; rc >= 0 && pos < moved.len;) {
        uint32_t lens[2];
        memcpy(lens, moved.data + pos, sizeof lens);
        struct store_val key = {moved.data + pos + sizeof lens, lens[0]};
        const char *val = moved.data + pos + sizeof lens + lens[0];
        pos += sizeof lens + lens[0] + lens[1];
        uint8_t nk[JOB_KEY_MAX];
        size_t nlen = old_job_key(&key, nk);
        rc = store_del(t, u->db, key.ptr, key.len);
        if (rc == 0)
            rc = store_put(t, u->db, nk, nlen, val, lens[1], 0);
    }
    buf_free(&moved);
    return rc < 0 ? rc : 0;
}

static int is_old_ws2batch_key(const struct store_val *key)
{
    return old_ws2batch_id(key) != NULL;
}

static int is_old_job_key(const struct store_val *key)
{
    uint8_t nk[JOB_KEY_MAX];
    return old_job_key(key, nk) != 0;
}

/* 1 if db holds a key under prefix that is_old says is of an earlier version (or an error). */
static int has_old_keys(struct store *s, enum store_db db, const char *prefix,
                        int (*is_old)(const struct store_val *key))
{
    struct store_txn t;
    int rc = store_read_begin(s, &t), found = 0;
    if (rc)
        return rc;
    struct store_iter it;
    store_iter_open(&it, &t, db, prefix, strlen(prefix), NULL, 0);
    while (!found && (rc = store_iter_next(&it)) == 1)
        found = is_old(&it.key);
    store_iter_close(&it);
    store_read_end(&t);
    return rc < 0 ? rc : found;
}

int records_upgrade(struct store *s)
{
    static const enum store_db job_dbs[] = {DB_JOB, DB_JOBSTATE, DB_STATECOUNT, DB_FINALSEQ};
    int rc = records_upgrade_jobstate(s); /* first: the keys it moves get binary ids below */
    if (rc == 0)
        rc = has_old_keys(s, DB_WS2BATCH, "", is_old_ws2batch_key);
    if (rc > 0)
        rc = store_write(s, upgrade_txn, NULL);
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof job_dbs / sizeof job_dbs[0]; i++) {
        struct key_upgrade u = {job_dbs[i], 0};
        if ((rc = has_old_keys(s, u.db, "batch_", is_old_job_key)) <= 0) {
            if (rc < 0)
                return rc;
            continue;
        }
        do
            rc = store_write(s, upgrade_keys_txn, &u);
        while (rc == 0 && u.more);
        if (rc)
            return rc;
    }
    return 0;
}
