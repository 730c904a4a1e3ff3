/* Tests for src/store/records.c: the order that keys give their lists (big-endian numbers, the
 * batch list newest first even within one millisecond), binary batch ids in job keys, the
 * compact job records (and the decoding of the earlier layout), and the start-up rewrite of keys
 * stored by earlier versions. */
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

#define ULID_A "batch_01KBX0000000000000000000AA"
#define ULID_B "batch_01KBX0000000000000000000AB"

/* Keys of jobs hold a server-made batch id in 16 bytes and keep the ids' order; other ids are
 * kept as written. */
static void test_job_keys_binary_batch(void)
{
    uint8_t a[JOB_KEY_MAX], b[JOB_KEY_MAX], p[JOB_KEY_MAX];
    size_t na = job_key(a, ULID_A, 7), nb = job_key(b, ULID_B, 1);
    CHECK_INT(na, KEY_BATCH_BIN + 4);
    CHECK_INT(nb, na);
    CHECK(memcmp(a, b, na) < 0); /* ...AA before ...AB, whatever the rows */
    CHECK_INT(key_u32(&(struct store_val){a, na}, KEY_BATCH_BIN), 7);
    CHECK_INT(jobstate_key(a, ULID_A, JOB_FAILED, 9), KEY_BATCH_BIN + 5);
    CHECK_INT(a[KEY_BATCH_BIN], JOB_FAILED);
    CHECK_INT(statecount_key(b, ULID_A, JOB_FAILED, 9), KEY_BATCH_BIN + 5);
    CHECK(memcmp(a, b, KEY_BATCH_BIN + 5) == 0);
    CHECK_INT(finalseq_key(b, ULID_A, 3), KEY_BATCH_BIN + 4);
    /* The 16 bytes are the ULID's 128 bits, big-endian. */
    CHECK_INT(job_key(a, "batch_00000000000000000000000001", 0), 20);
    CHECK(memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0);
    CHECK_INT(job_key(a, "batch_7ZZZZZZZZZZZZZZZZZZZZZZZZZ", 0), 20);
    CHECK(memcmp(a, "\377\377\377\377\377\377\377\377\377\377\377\377\377\377\377\377", 16) == 0);
    CHECK_INT(job_key(a, "batch_0000000000000G000000000000", 0), 20); /* digit 13: bit 64 */
    CHECK(memcmp(a, "\0\0\0\0\0\0\0\1\0\0\0\0\0\0\0\0", 16) == 0);
    /* The prefix of a batch's keys is the builder's output minus the row. */
    job_key(a, ULID_A, 7);
    size_t plen = job_key(p, ULID_A, 0) - 4;
    CHECK(memcmp(p, a, plen) == 0);
    /* Not "batch_" + a well-formed ULID: as written. */
    CHECK_INT(job_key(a, "batch_x", 1), 7 + 4);
    CHECK(memcmp(a, "batch_x", 7) == 0);
    CHECK_INT(job_key(a, "batch_01KBX0000000000000000000Aa", 1), BATCH_ID_LEN + 4);
    CHECK_INT(job_key(a, "batch_81KBX0000000000000000000AA", 1), BATCH_ID_LEN + 4); /* > 128 bits */
    /* Due keys keep the id as written: their readers look them up by the id's text. */
    CHECK_INT(due_key(a, ULID_A, 1, 2), BATCH_ID_LEN + 12);
}

static void check_heads_equal(const struct job_head *a, const struct job_head *b)
{
    CHECK_INT(a->state, b->state);
    CHECK_INT(a->outcome, b->outcome);
    CHECK_INT(a->attempts, b->attempts);
    CHECK_INT(a->normalized, b->normalized);
    CHECK_INT(a->retry_base, b->retry_base);
    CHECK_INT(a->connected, b->connected);
    CHECK_INT(a->dup_of, b->dup_of);
    CHECK_INT(a->seq, b->seq);
    CHECK_INT(a->last_sequence, b->last_sequence);
    CHECK_INT(a->provider_errors, b->provider_errors);
    CHECK(a->start_ms == b->start_ms && a->end_ms == b->end_ms);
    CHECK(a->next_attempt_ms == b->next_attempt_ms);
    CHECK(a->duration == b->duration);
    CHECK_STR(a->e164, b->e164);
    CHECK_STR(a->call_id, b->call_id);
    CHECK_INT(a->held, b->held);
}

/* Lists the fields of a decoded job as "a|b|c". */
static void fields_text(const struct job_view *v, char *out, size_t cap)
{
    size_t pos = 0, n, used = 0;
    const char *f;
    out[0] = '\0';
    while (job_field_next(v, &pos, &f, &n))
        used += (size_t)snprintf(out + used, cap - used, "%s%.*s", used ? "|" : "", (int)n, f);
}

/* Every field of the head survives the compact encoding, at its default and away from it. */
static void test_job_round_trip(void)
{
    const char *fields[] = {"Ada", "+14155550100", "", "x,y"};
    size_t lens[] = {3, 12, 0, 3};
    struct job_head h;
    memset(&h, 0, sizeof h);
    h.state = JOB_WAITING;
    h.last_sequence = -1;
    snprintf(h.e164, sizeof h.e164, "+14155550100");
    struct buf b = {0};
    CHECK_INT(job_encode(&b, &h, "", 0, fields, lens, 4), 0);
    /* A waiting job: its field bytes, a length byte each, and four more (version, the bit set,
     * which field holds the number, how many fields). */
    CHECK_INT(b.len, 18 + 4 + 4);
    struct job_view v;
    char text[128];
    CHECK_INT(job_decode(b.data, b.len, &v), 0);
    check_heads_equal(&v.head, &h);
    CHECK_INT(v.head.nfields, 4);
    CHECK_INT(v.error_len, 0);
    fields_text(&v, text, sizeof text);
    CHECK_STR(text, "Ada|+14155550100||x,y");

    /* Every field away from its default, a number that is not one of the fields, an error. */
    struct job_head d = {.state = JOB_FAILED,
                         .outcome = OUTCOME_BUSY,
                         .attempts = 200,
                         .normalized = 1,
                         .retry_base = 3,
                         .connected = 1,
                         .dup_of = 70000,
                         .seq = 0xfffffffe,
                         .last_sequence = -7,
                         .provider_errors = 4,
                         .start_ms = 1764000000123ull,
                         .end_ms = UINT64_MAX,
                         .next_attempt_ms = 1,
                         .duration = 12.5};
    snprintf(d.e164, sizeof d.e164, "+447911123456");
    snprintf(d.call_id, sizeof d.call_id, "CA0123456789abcdef0123456789abcdef");
    b.len = 0;
    CHECK_INT(job_encode(&b, &d, "busy line", 9, fields, lens, 4), 0);
    CHECK_INT(job_decode(b.data, b.len, &v), 0);
    check_heads_equal(&v.head, &d);
    CHECK_INT(v.number_field, -1);
    CHECK(v.error_len == 9 && memcmp(v.error, "busy line", 9) == 0);
    fields_text(&v, text, sizeof text);
    CHECK_STR(text, "Ada|+14155550100||x,y");

    /* Re-encoding with a new head keeps the fields; back to the number among them. */
    struct buf r = {0};
    CHECK_INT(job_reencode(&r, &h, "", 0, &v), 0);
    struct job_view w;
    CHECK_INT(job_decode(r.data, r.len, &w), 0);
    check_heads_equal(&w.head, &h);
    CHECK_INT(w.number_field, 1);
    fields_text(&w, text, sizeof text);
    CHECK_STR(text, "Ada|+14155550100||x,y");
    CHECK_INT(r.len, 26);

    /* Every cut of a record is refused or decodes, never read past its end. */
    for (size_t cut = 0; cut < b.len; cut++) {
        void *copy = malloc(cut ? cut : 1);
        memcpy(copy, b.data, cut);
        if (job_decode(copy, cut, &v) == 0) {
            size_t pos = 0, n;
            const char *f;
            while (job_field_next(&v, &pos, &f, &n))
                CHECK(f >= (const char *)copy && f + n <= (const char *)copy + cut);
        }
        free(copy);
    }
    uint8_t bad[] = {JOB_RECORD_VERSION, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    CHECK_INT(job_decode(bad, sizeof bad, &v), BC_ECORRUPT);
    uint8_t unknown[] = {9, 0, 0};
    CHECK_INT(job_decode(unknown, sizeof unknown, &v), BC_ECORRUPT);
    buf_free(&b);
    buf_free(&r);
}

/* A head with one field away from its default round-trips, and costs bytes, whatever the bytes
 * that are no stored field (version, nfields, reserved2) hold: the encoder's shortcut for heads
 * at their defaults must not take any of these for one. */
static void test_job_one_field_each(void)
{
    const char *fields[] = {"+14155550100"};
    size_t lens[] = {12};
    struct job_head base = {.state = JOB_WAITING, .last_sequence = -1};
    snprintf(base.e164, sizeof base.e164, "+14155550100");
    struct buf b = {0};
    struct job_view v;
    CHECK_INT(job_encode(&b, &base, "", 0, fields, lens, 1), 0);
    size_t base_len = b.len;
    struct job_head other = base;
    other.version = 77;
    other.nfields = 9;
    other.reserved2 = 0xdeadbeef;
    b.len = 0;
    CHECK_INT(job_encode(&b, &other, "", 0, fields, lens, 1), 0);
    CHECK_INT(b.len, base_len);
    CHECK_INT(job_decode(b.data, b.len, &v), 0);
    check_heads_equal(&v.head, &base);
    for (int i = 0; i < 14; i++) {
        struct job_head h = other;
        switch (i) {
        case 0:
            h.state = JOB_FAILED;
            break;
        case 1:
            h.outcome = OUTCOME_DUPLICATE;
            break;
        case 2:
            h.attempts = 1;
            break;
        case 3:
            h.normalized = 1;
            break;
        case 4:
            h.retry_base = 2;
            break;
        case 5:
            h.connected = 1;
            break;
        case 6:
            h.dup_of = 3;
            break;
        case 7:
            h.seq = 4;
            break;
        case 8:
            h.last_sequence = 0;
            break;
        case 9:
            h.provider_errors = 5;
            break;
        case 10:
            h.start_ms = 6;
            break;
        case 11:
            h.end_ms = 7;
            break;
        case 12:
            h.next_attempt_ms = 8;
            break;
        default:
            h.held = HELD_CAP;
            break;
        }
        b.len = 0;
        CHECK_INT(job_encode(&b, &h, "", 0, fields, lens, 1), 0);
        CHECK(b.len > base_len);
        CHECK_INT(job_decode(b.data, b.len, &v), 0);
        h.version = base.version;
        h.nfields = 1;
        h.reserved2 = 0;
        check_heads_equal(&v.head, &h);
    }
    /* Every number at its default: the encoder skips to the strings, which must all be kept
     * (a number that is none of the fields, and a call id). */
    struct job_head s = base;
    snprintf(s.e164, sizeof s.e164, "+447911123456");
    snprintf(s.call_id, sizeof s.call_id, "CA42");
    b.len = 0;
    CHECK_INT(job_encode(&b, &s, "", 0, fields, lens, 1), 0);
    /* the bit set 2 bytes longer, both strings with their lengths, no field index */
    CHECK_INT(b.len, base_len + 2 + (1 + 13) + (1 + 4) - 1);
    CHECK_INT(job_decode(b.data, b.len, &v), 0);
    s.nfields = 1;
    check_heads_equal(&v.head, &s);
    CHECK_INT(v.number_field, -1);
    /* -0.0 is stored as 0 was, as before: a duration of 0 in either sign is the default. */
    struct job_head z = base;
    z.duration = -0.0;
    b.len = 0;
    CHECK_INT(job_encode(&b, &z, "", 0, fields, lens, 1), 0);
    CHECK_INT(b.len, base_len);
    z.duration = 2.5;
    b.len = 0;
    CHECK_INT(job_encode(&b, &z, "", 0, fields, lens, 1), 0);
    CHECK_INT(b.len, base_len + 8 + 2); /* the double, and the bit set's bit 15 (2 bytes more) */
    CHECK_INT(job_decode(b.data, b.len, &v), 0);
    CHECK(v.head.duration == 2.5);
    buf_free(&b);
}

/* A new waiting job's shortcuts write exactly what job_encode writes for its head, the number
 * among the fields or not, with cells of every length up to 40 bytes (copied in pieces). */
static void test_job_encode_waiting(void)
{
    const char text[] = "+14155550100 and some more, and then some more again";
    struct job_head h = {.state = JOB_WAITING, .last_sequence = -1};
    snprintf(h.e164, sizeof h.e164, "+14155550100");
    struct buf a = {0}, w = {0};
    for (size_t len = 0; len <= 40; len++) {
        const char *fields[] = {"x", text, "+14155550100", text, "+14155550100"};
        size_t lens[] = {1, len, 12, 40 - len, 12};
        for (size_t n = 1; n <= 5; n++) {
            a.len = w.len = 0;
            CHECK_INT(job_encode(&a, &h, "", 0, fields, lens, n), 0);
            CHECK_INT(job_encode_waiting(&w, h.e164, fields, lens, n), 0);
            CHECK(a.len == w.len && memcmp(a.data, w.data, a.len) == 0);
            /* An upload's row whose number is a cell (the third or the fifth): the same bytes,
             * naming an earlier copy of the cell when there is one, as job_encode does. */
            for (size_t cell = 2; cell < n; cell += 2) {
                uint8_t at[160];
                size_t bound = job_waiting_bound(n, lens[0] + lens[1] + 12 + lens[3] + 12);
                uint8_t *end = job_encode_waiting_at(at, cell, fields, lens, n);
                CHECK(end && (size_t)(end - at) <= bound && bound <= sizeof at);
                CHECK(end && (size_t)(end - at) == a.len && memcmp(at, a.data, a.len) == 0);
            }
            struct job_view v;
            CHECK_INT(job_decode(w.data, w.len, &v), 0);
            CHECK_STR(v.head.e164, "+14155550100");
            CHECK_INT(v.number_field, len == 12 && n > 1 ? 1 : n > 2 ? 2 : -1);
            size_t pos = 0, fl;
            const char *f;
            for (size_t i = 0; i < n; i++) {
                CHECK(job_field_next(&v, &pos, &f, &fl));
                CHECK(fl == lens[i] && memcmp(f, fields[i], fl) == 0);
            }
            CHECK(!job_field_next(&v, &pos, &f, &fl));
        }
    }
    /* The number none of the fields: in the head, as job_encode puts it. */
    const char *one[] = {"4155550100"};
    size_t one_len[] = {10};
    a.len = w.len = 0;
    CHECK_INT(job_encode(&a, &h, "", 0, one, one_len, 1), 0);
    CHECK_INT(job_encode_waiting(&w, h.e164, one, one_len, 1), 0);
    CHECK(a.len == w.len && memcmp(a.data, w.data, a.len) == 0);
    size_t huge[] = {70000};
    CHECK_INT(job_encode_waiting(&w, h.e164, one, huge, 1), BC_ETOOBIG);
    const char *big[] = {"+14155550100", "x"};
    size_t big_lens[] = {12, 70000};
    uint8_t room[64];
    CHECK(job_encode_waiting_at(room, 0, big, big_lens, 2) == NULL);
    buf_free(&a);
    buf_free(&w);
}

/* A version 1 record, as earlier versions wrote it: the 128-byte head as memory, the error with
 * a u32 big-endian length, the fields with u16 big-endian lengths. */
static size_t v1_record(uint8_t *out)
{
    memset(out, 0, 128);
    out[0] = 1;
    out[1] = JOB_COMPLETED;
    out[2] = OUTCOME_ANSWERED;
    out[3] = 2; /* attempts */
    uint32_t seq = 5, nfields = 2;
    int32_t last = 3;
    uint64_t start = 1700000000000ull;
    double duration = 9.5;
    memcpy(out + 12, &nfields, 4);
    memcpy(out + 16, &seq, 4);
    memcpy(out + 20, &last, 4);
    memcpy(out + 32, &start, 8);
    memcpy(out + 56, &duration, 8);
    memcpy(out + 64, "+14155550100", 12);
    memcpy(out + 84, "CAabc", 5);
    uint8_t *p = out + 128;
    be32_put(p, 2);
    memcpy(p + 4, "ok", 2);
    p += 6;
    memcpy(p, "\0\3Ada\0\x0c+14155550100", 19);
    return 128 + 6 + 19;
}

static void test_job_decode_version_1(void)
{
    uint8_t rec[256];
    size_t len = v1_record(rec);
    struct job_view v;
    char text[64];
    CHECK_INT(job_decode(rec, len, &v), 0);
    CHECK_INT(v.head.state, JOB_COMPLETED);
    CHECK_INT(v.head.outcome, OUTCOME_ANSWERED);
    CHECK_INT(v.head.attempts, 2);
    CHECK_INT(v.head.seq, 5);
    CHECK_INT(v.head.last_sequence, 3);
    CHECK(v.head.start_ms == 1700000000000ull && v.head.duration == 9.5);
    CHECK_STR(v.head.e164, "+14155550100");
    CHECK_STR(v.head.call_id, "CAabc");
    CHECK(v.error_len == 2 && memcmp(v.error, "ok", 2) == 0);
    fields_text(&v, text, sizeof text);
    CHECK_STR(text, "Ada|+14155550100");
    /* Rewritten, it becomes a version 2 record with the same content. */
    struct buf b = {0};
    CHECK_INT(job_reencode(&b, &v.head, v.error, v.error_len, &v), 0);
    CHECK_INT(((uint8_t *)b.data)[0], JOB_RECORD_VERSION);
    struct job_view w;
    CHECK_INT(job_decode(b.data, b.len, &w), 0);
    check_heads_equal(&w.head, &v.head);
    fields_text(&w, text, sizeof text);
    CHECK_STR(text, "Ada|+14155550100");
    CHECK(b.len < len / 2);
    buf_free(&b);
}

/* Entries left in the per-state index of earlier versions (a key per job). */
static size_t old_index_entries(struct store_txn *t)
{
    struct store_iter it;
    size_t n = 0;
    store_iter_open(&it, t, DB_JOBSTATE_V1, "", 0, NULL, 0);
    while (store_iter_next(&it) == 1)
        n++;
    store_iter_close(&it);
    return n;
}

/* Job keys of earlier versions (the batch id as text) are rewritten at start, values kept. */
static int old_job_keys_txn(struct store_txn *t, void *arg)
{
    (void)arg;
    static const enum store_db dbs[] = {DB_JOB, DB_JOBSTATE, DB_STATECOUNT, DB_FINALSEQ};
    for (size_t i = 0; i < 4; i++) {
        for (uint32_t row = 1; row <= 3; row++) {
            uint8_t k[64];
            size_t n = 0;
            memcpy(k, ULID_A, BATCH_ID_LEN);
            n = BATCH_ID_LEN;
            if (dbs[i] == DB_JOBSTATE || dbs[i] == DB_STATECOUNT)
                k[n++] = JOB_WAITING;
            be32_put(k + n, row);
            n += 4;
            char v[8];
            snprintf(v, sizeof v, "v%u%u", (unsigned)i, (unsigned)row);
            /* The per-state index was then a key per job, with no value. */
            if (dbs[i] == DB_JOBSTATE)
                CHECK_INT(store_put(t, DB_JOBSTATE_V1, k, n, "", 0, 0), 0);
            else
                CHECK_INT(store_put(t, dbs[i], k, n, v, strlen(v), 0), 0);
        }
    }
    /* A key of an id that is not a ULID stays as it is. */
    uint8_t k[16];
    memcpy(k, "batch_t", 7);
    be32_put(k + 7, 1);
    return store_put(t, DB_JOB, k, 11, "keep", 4, 0);
}

static void test_upgrade_of_old_job_keys(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);
    CHECK_INT(store_write(&s, old_job_keys_txn, NULL), 0);
    CHECK_INT(records_upgrade(&s), 0);
    struct store_txn t;
    CHECK_INT(store_read_begin(&s, &t), 0);
    uint8_t k[JOB_KEY_MAX];
    struct store_val v;
    for (uint32_t row = 1; row <= 3; row++) {
        char want[8];
        snprintf(want, sizeof want, "v0%u", (unsigned)row);
        CHECK_INT(store_get(&t, DB_JOB, k, job_key(k, ULID_A, row), &v), 0);
        CHECK(v.len == strlen(want) && memcmp(v.ptr, want, v.len) == 0);
        CHECK_INT(store_get(&t, DB_JOBSTATE, k, jobstate_key(k, ULID_A, JOB_WAITING, row), &v), 0);
        CHECK_INT(v.len, 0);
        CHECK_INT(store_get(&t, DB_STATECOUNT, k, statecount_key(k, ULID_A, JOB_WAITING, row), &v),
                  0);
        CHECK_INT(store_get(&t, DB_FINALSEQ, k, finalseq_key(k, ULID_A, row), &v), 0);
    }
    /* Nothing is left under the text id, but the other id's key is. */
    struct store_iter it;
    size_t left = 0;
    store_iter_open(&it, &t, DB_JOB, "batch_", 6, NULL, 0);
    while (store_iter_next(&it) == 1)
        left++;
    store_iter_close(&it);
    CHECK_INT(left, 1);
    CHECK_INT(old_index_entries(&t), 0);
    store_read_end(&t);
    store_close(&s);
    tmpdir_remove(&d);
}

/* The per-state index of earlier versions: a key per job (batch | state | row), in its own
 * table. Batch A has OLD_ROWS jobs, every third failed and the others waiting; batch B (an id
 * that is not a ULID) one completed job. */
#define OLD_ROWS 45000
static int old_state_index_txn(struct store_txn *t, void *arg)
{
    (void)arg;
    uint8_t k[JOB_KEY_MAX];
    for (uint32_t row = 0; row < OLD_ROWS; row++) {
        uint8_t state = row % 3 == 0 ? JOB_FAILED : JOB_WAITING;
        CHECK_INT(store_put(t, DB_JOBSTATE_V1, k, jobstate_key(k, ULID_A, state, row), "", 0, 0),
                  0);
    }
    return store_put(t, DB_JOBSTATE_V1, k, jobstate_key(k, "batch_t", JOB_COMPLETED, 4), "", 0, 0);
}

/* The rows of a batch in a state from row from on, as the dispatcher reads them; their sum is
 * checked against the rows expected. */
static uint32_t rows_in_state(struct store_txn *t, const char *batch, uint8_t state, uint32_t from,
                              uint64_t *sum)
{
    uint8_t prefix[JOB_KEY_MAX], start[JOB_KEY_MAX];
    size_t plen = jobstate_key(prefix, batch, state, 0) - 4;
    size_t slen = jobstate_key(start, batch, state, from);
    struct store_iter it;
    uint32_t n = 0, last = 0;
    *sum = 0;
    store_iter_open(&it, t, DB_JOBSTATE, prefix, plen, start, slen);
    while (store_iter_next(&it) == 1) {
        uint32_t row = jobstate_key_row(&it.key);
        CHECK(n == 0 || row > last);
        CHECK(row >= from);
        last = row;
        *sum += row;
        n++;
    }
    store_iter_close(&it);
    return n;
}

static void test_upgrade_of_per_job_state_index(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 4 * MIB, 64 * MIB), 0);
    CHECK_INT(store_write(&s, old_state_index_txn, NULL), 0);
    CHECK_INT(records_upgrade(&s), 0);
    CHECK_INT(records_upgrade(&s), 0); /* nothing left to do */
    struct store_txn t;
    CHECK_INT(store_read_begin(&s, &t), 0);
    uint64_t sum, want_failed = 0, want_waiting = 0, want_from = 0;
    uint32_t n_from = 0;
    for (uint32_t row = 0; row < OLD_ROWS; row++) {
        *(row % 3 == 0 ? &want_failed : &want_waiting) += row;
        want_from += row >= 30001 && row % 3 ? row : 0;
        n_from += row >= 30001 && row % 3;
    }
    CHECK_INT(rows_in_state(&t, ULID_A, JOB_FAILED, 0, &sum), OLD_ROWS / 3);
    CHECK(sum == want_failed);
    CHECK_INT(rows_in_state(&t, ULID_A, JOB_WAITING, 0, &sum), OLD_ROWS - OLD_ROWS / 3);
    CHECK(sum == want_waiting);
    CHECK_INT(rows_in_state(&t, ULID_A, JOB_WAITING, 30001, &sum), n_from);
    CHECK(sum == want_from);
    CHECK_INT(rows_in_state(&t, ULID_A, JOB_COMPLETED, 0, &sum), 0);
    CHECK_INT(rows_in_state(&t, "batch_t", JOB_COMPLETED, 0, &sum), 1);
    CHECK(sum == 4);
    CHECK_INT(old_index_entries(&t), 0); /* every key moved */
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
           CHECK_CASE(test_key_u32), CHECK_CASE(test_batch_scan),
           CHECK_CASE(test_job_keys_binary_batch), CHECK_CASE(test_job_round_trip),
           CHECK_CASE(test_job_one_field_each), CHECK_CASE(test_job_encode_waiting),
           CHECK_CASE(test_job_decode_version_1), CHECK_CASE(test_upgrade_of_old_job_keys),
           CHECK_CASE(test_upgrade_of_per_job_state_index))
