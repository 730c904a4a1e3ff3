/* Tests for src/store/records.c: the order that keys give their lists (big-endian numbers, the
 * batch list newest first even within one millisecond), and the start-up rewrite of batch list
 * keys stored by earlier versions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tmpstore.h"
#include "store/records.h"
#include "util/id.h"
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

/* Agent and idempotency keys: workspace id, '/', the name; a workspace's prefix lists only its
 * own (ws_A/ does not match ws_AB/...). */
static void test_agent_and_idem_keys(void)
{
    char k[IDEM_KEY_MAX];
    size_t n = agent_key(k, "ws_A", 4, "agent_1", 7);
    CHECK_MEM(k, n, "ws_A/agent_1");
    n = agent_key(k, "ws_A", 4, "", 0);
    CHECK_MEM(k, n, "ws_A/");
    n = idem_key(k, "ws_A", 4, "order-42", 8);
    CHECK_MEM(k, n, "ws_A/order-42");

    uint8_t v[IDEM_VAL_LEN];
    struct idem_rec in = {"batch_01KBX0000000000000000000AA", 1767225600000ull, 1, {0}};
    for (int i = 0; i < SHA256_LEN; i++)
        in.hash[i] = (uint8_t)(i * 7 + 1);
    idem_encode(v, &in);
    struct idem_rec out;
    struct store_val sv = {v, sizeof v};
    CHECK_INT(idem_decode(&sv, &out), 0);
    CHECK_STR(out.batch, "batch_01KBX0000000000000000000AA");
    CHECK_INT(out.expires_ms, 1767225600000ull);
    CHECK_INT(out.has_hash, 1);
    CHECK(memcmp(out.hash, in.hash, SHA256_LEN) == 0);
    sv.len--;
    CHECK_INT(idem_decode(&sv, &out), BC_ECORRUPT);
    /* Another version byte is not read as this layout. */
    sv.len++;
    v[IDEM_V1_LEN] = IDEM_VERSION + 1;
    CHECK_INT(idem_decode(&sv, &out), BC_ECORRUPT);
    /* A record written before the hash was kept: the batch id and the expiry, no hash. */
    uint8_t old[IDEM_V1_LEN] = {0};
    memcpy(old, "batch_01KBX0000000000000000000BB", 32);
    uint64_t expires = 1767225600001ull;
    memcpy(old + ID_MAX, &expires, sizeof expires);
    struct store_val ov = {old, sizeof old};
    CHECK_INT(idem_decode(&ov, &out), 0);
    CHECK_STR(out.batch, "batch_01KBX0000000000000000000BB");
    CHECK_INT(out.expires_ms, 1767225600001ull);
    CHECK_INT(out.has_hash, 0);
}

/* Usage keys order by time within a workspace (big-endian), and the time reads back. */
static void test_usage_time_key(void)
{
    uint8_t a[USAGE_TIME_KEY_MAX], b[USAGE_TIME_KEY_MAX];
    size_t na = usage_time_key(a, "ws_A", 4, 0xff), nb = usage_time_key(b, "ws_A", 4, 0x100);
    CHECK_INT(na, 12);
    CHECK_INT(nb, 12);
    CHECK_MEM(a, 4, "ws_A");
    CHECK(memcmp(a, b, na) < 0);
    CHECK_INT(a[11], 0xff);
    CHECK_INT(a[4], 0);
    struct store_val k = {b, nb};
    CHECK_INT(usage_key_time(&k, 4), 0x100);
}

/* key_u32 reads the number after the batch id of each batch-keyed index. */
static void test_key_u32(void)
{
    uint8_t k[JOB_KEY_MAX];
    struct store_val v = {k, job_key(k, "batch_x", 70000)};
    CHECK_INT(key_u32(&v, 7), 70000);
    v.len = finalseq_key(k, "batch_x", 12345);
    CHECK_INT(key_u32(&v, 7), 12345);
    v.len = jobstate_key(k, "batch_x", JOB_FAILED, 99);
    CHECK_INT(k[7], JOB_FAILED);
    CHECK_INT(key_u32(&v, 8), 99);
    v.len = statecount_key(k, "batch_x", JOB_WAITING, 3);
    CHECK_INT(key_u32(&v, 8), 3);
}

static int put_batches(struct store_txn *t, void *arg)
{
    (void)arg;
    static const char *const ids[] = {"batch_c", "batch_a", "batch_b"};
    for (size_t i = 0; i < 3; i++) {
        struct batch_rec b;
        memset(&b, 0, sizeof b);
        b.version = RECORD_VERSION;
        b.status = (uint8_t)(BATCH_QUEUED + i);
        snprintf(b.id, sizeof b.id, "%s", ids[i]);
        batch_put(t, &b);
    }
    /* Not a batch record: the scan skips it. */
    store_put(t, DB_BATCH, "batch_bad", 9, "x", 1, 0);
    return 0;
}

struct scan_seen {
    char ids[128];
    int stop_at; /* stop after this many batches, 0: never */
    int n;
};

static int note_batch(const struct batch_rec *b, void *arg)
{
    struct scan_seen *s = arg;
    snprintf(s->ids + strlen(s->ids), sizeof s->ids - strlen(s->ids), "%s%s:%d",
             s->ids[0] ? " " : "", b->id, b->status);
    return ++s->n == s->stop_at ? 7 : 0;
}

static void test_batch_scan(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);
    struct store_txn t;
    struct scan_seen seen = {"", 0, 0};
    CHECK_INT(store_read_begin(&s, &t), 0);
    CHECK_INT(batch_scan(&t, note_batch, &seen), 0); /* an empty store */
    store_read_end(&t);
    CHECK_INT(seen.n, 0);
    CHECK_INT(store_write(&s, put_batches, NULL), 0);
    CHECK_INT(store_read_begin(&s, &t), 0);
    CHECK_INT(batch_scan(&t, note_batch, &seen), 0);
    CHECK_STR(seen.ids, "batch_a:2 batch_b:3 batch_c:1");
    /* fn's non-zero value stops the scan and is returned. */
    struct scan_seen first = {"", 2, 0};
    CHECK_INT(batch_scan(&t, note_batch, &first), 7);
    CHECK_STR(first.ids, "batch_a:2 batch_b:3");
    store_read_end(&t);
    store_close(&s);
    tmpdir_remove(&d);
}

static void setup_quiet_logs(void)
{
    log_set_level(LOG_ERROR);
}

CHECK_MAIN(CHECK_CASE(setup_quiet_logs), CHECK_CASE(test_big_endian_order),
           CHECK_CASE(test_batch_list_newest_first_within_a_millisecond),
           CHECK_CASE(test_upgrade_of_old_keys), CHECK_CASE(test_ws2batch_batch_rejects_short_keys),
           CHECK_CASE(test_agent_and_idem_keys), CHECK_CASE(test_usage_time_key),
           CHECK_CASE(test_key_u32), CHECK_CASE(test_batch_scan))
