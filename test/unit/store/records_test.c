/* Tests for src/store/records.c: the order that keys give their lists (big-endian numbers, the
 * batch list newest first even within one millisecond), and the start-up rewrite of batch list
 * keys stored by earlier versions. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tmpstore.h"
#include "store/records.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/log.h"

#define MIB    (1024 * 1024)
#define NBATCH 200

static void test_big_endian_order(void)
{
    uint8_t a[JOB_KEY_MAX], b[JOB_KEY_MAX];
    /* Row 255 before row 256: byte order is number order. */
    size_t na = job_key(a, "batch_x", 255), nb = job_key(b, "batch_x", 256);
    CHECK_INT(na, nb);
    CHECK(memcmp(a, b, na) < 0);
    CHECK_INT(be32_get(a + na - 4), 255);
    na = due_key(a, "batch_x", 0xffffffffull, 9);
    nb = due_key(b, "batch_x", 0x100000000ull, 1);
    CHECK(memcmp(a, b, na) < 0);
    CHECK_INT(be64_get(a + 7), 0xffffffffull);
}

struct list_fill {
    const char *ws;
    char ids[NBATCH][ID_MAX];
    uint64_t created[NBATCH];
    size_t order[NBATCH]; /* the order in which keys are put: shuffled */
};

static int fill_txn(struct store_txn *t, void *arg)
{
    struct list_fill *f = arg;
    for (size_t i = 0; i < NBATCH; i++) {
        size_t j = f->order[i];
        uint8_t k[WS2BATCH_KEY_MAX];
        size_t n =
            ws2batch_key(k, f->ws, strlen(f->ws), f->created[j], f->ids[j], strlen(f->ids[j]));
        store_put(t, DB_WS2BATCH, k, n, "", 0, 0);
    }
    return 0;
}

/* Lists the workspace's batch ids in key order into out; returns how many. */
static size_t list_ids(struct store *s, const char *ws, char (*out)[ID_MAX], size_t max)
{
    struct store_txn t;
    size_t n = 0;
    CHECK_INT(store_read_begin(s, &t), 0);
    struct store_iter it;
    store_iter_open(&it, &t, DB_WS2BATCH, ws, strlen(ws), NULL, 0);
    while (n < max && store_iter_next(&it) == 1) {
        CHECK(ws2batch_batch(&it.key, strlen(ws), out[n]) == BATCH_ID_LEN);
        n++;
    }
    store_iter_close(&it);
    store_read_end(&t);
    return n;
}

/* Batches created in the same millisecond (the clock held still) list the later id first, and
 * a later millisecond lists before an earlier one whatever the ids. */
static void test_batch_list_newest_first_within_a_millisecond(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);
    static struct list_fill f;
    f.ws = "ws_A";
    struct id_gen g = {0};
    const uint64_t now = 1767225600000ull;
    for (size_t i = 0; i < NBATCH; i++) {
        /* Three quarters share one millisecond; the rest are one later. */
        f.created[i] = i < NBATCH * 3 / 4 ? now : now + 1;
        CHECK(id_new(&g, "batch_", now, f.ids[i]) == BATCH_ID_LEN);
        f.order[i] = i;
    }
    srand(7);
    for (size_t i = NBATCH - 1; i > 0; i--) {
        size_t j = (size_t)rand() % (i + 1), tmp = f.order[i];
        f.order[i] = f.order[j];
        f.order[j] = tmp;
    }
    CHECK_INT(store_write(&s, fill_txn, &f), 0);
    /* Another workspace's batches, created in the same millisecond, never show up in the list
     * (workspace ids all have the same length, so one is never a prefix of another). */
    static struct list_fill other;
    other.ws = "ws_C";
    for (size_t i = 0; i < NBATCH; i++) {
        other.created[i] = now;
        CHECK(id_new(&g, "batch_", now, other.ids[i]) == BATCH_ID_LEN);
        other.order[i] = i;
    }
    CHECK_INT(store_write(&s, fill_txn, &other), 0);

    static char got[NBATCH + 1][ID_MAX];
    CHECK_INT(list_ids(&s, "ws_A", got, NBATCH + 1), NBATCH);
    for (size_t i = 0; i < NBATCH; i++)
        CHECK_STR(got[i], f.ids[NBATCH - 1 - i]);
    store_close(&s);
    tmpdir_remove(&d);
}

struct old_keys {
    const char *ws;
    const char *ids[3];
    uint64_t created[3];
};

/* Writes keys the way earlier versions did: ws | ~created | batch id as written. */
static int old_txn(struct store_txn *t, void *arg)
{
    struct old_keys *o = arg;
    for (size_t i = 0; i < 3; i++) {
        uint8_t k[WS2BATCH_KEY_MAX];
        size_t wl = strlen(o->ws), bl = strlen(o->ids[i]);
        memcpy(k, o->ws, wl);
        be64_put(k + wl, ~o->created[i]);
        memcpy(k + wl + 8, o->ids[i], bl);
        store_put(t, DB_WS2BATCH, k, wl + 8 + bl, "", 0, 0);
    }
    return 0;
}

static void test_upgrade_of_old_keys(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);
    CHECK_INT(records_upgrade(&s), 0); /* an empty store: nothing to do */
    struct old_keys o = {.ws = "ws_B",
                         .ids = {"batch_01KBX0000000000000000000AA",
                                 "batch_01KBX0000000000000000000AB",
                                 "batch_01KBX0000000000000000000AC"},
                         .created = {100, 100, 50}};
    CHECK_INT(store_write(&s, old_txn, &o), 0);
    struct store_stats before;
    store_stats(&s, &before);
    CHECK_INT(records_upgrade(&s), 0);
    char got[4][ID_MAX];
    CHECK_INT(list_ids(&s, "ws_B", got, 4), 3);
    CHECK_STR(got[0], o.ids[1]);
    CHECK_STR(got[1], o.ids[0]);
    CHECK_STR(got[2], o.ids[2]);
    /* Run again: nothing left to rewrite, so no write at all. */
    struct store_stats mid, after;
    store_stats(&s, &mid);
    CHECK_INT(mid.commits, before.commits + 1);
    CHECK_INT(records_upgrade(&s), 0);
    store_stats(&s, &after);
    CHECK_INT(after.commits, mid.commits);
    CHECK_INT(list_ids(&s, "ws_B", got, 4), 3);
    store_close(&s);
    tmpdir_remove(&d);
}

static void test_ws2batch_batch_rejects_short_keys(void)
{
    char out[ID_MAX];
    struct store_val k = {"ws_A\0\0\0\0\0\0\0", 11};
    CHECK_INT(ws2batch_batch(&k, 4, out), 0);
}

static void setup_quiet_logs(void)
{
    log_set_level(LOG_ERROR);
}

CHECK_MAIN(CHECK_CASE(setup_quiet_logs), CHECK_CASE(test_big_endian_order),
           CHECK_CASE(test_batch_list_newest_first_within_a_millisecond),
           CHECK_CASE(test_upgrade_of_old_keys), CHECK_CASE(test_ws2batch_batch_rejects_short_keys))
