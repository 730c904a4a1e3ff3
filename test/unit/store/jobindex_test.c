/* Tests for the state index and the waiting rows it leaves out (src/store/jobindex.c), on a real
 * LMDB store. A model keeps every row's state; after each transaction of moves:
 *   - readers (jobindex_next) find exactly the rows of each state, in row order, once each, from
 *     any row on, with the record's unindexed_from and with any older (smaller) one;
 *   - the index itself has an entry for every row below unindexed_from, for every row past it
 *     that is not waiting, and for nothing else;
 *   - unindexed_from never goes back.
 * Dials in row order from the boundary leave no waiting row an entry; moves in random order, far
 * past the boundary and behind it, keep all of the above; a batch written before the boundary
 * existed (0) keeps every row indexed. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tmpstore.h"

#include "fixture.h"
#include "store/jobindex.h"
#include "store/records.h"
#include "util/err.h"

#define ROWS  1200 /* more than a move's catch-up looks at: a far move leaves a gap */
#define BATCH "batch_j"

struct model {
    uint8_t state[ROWS + 1]; /* rows 1..ROWS */
    uint64_t unindexed_from; /* as last checked */
};

struct move {
    uint32_t row;
    uint8_t to;
};

struct moves {
    struct model *m;
    const struct move *mv;
    size_t n;
};

static int job_put(struct store_txn *t, uint32_t row, uint8_t state)
{
    struct job_head h = fx_head(row, state);
    const char *fields[] = {h.e164};
    size_t lens[] = {strlen(h.e164)};
    struct buf b = {0};
    uint8_t key[JOB_KEY_MAX];
    int rc = job_encode(&b, &h, "", 0, fields, lens, 1);
    if (!rc)
        rc = store_put(t, DB_JOB, key, job_key(key, BATCH, row), b.data, b.len, 0);
    buf_free(&b);
    return rc;
}

static int model_state(void *ctx, uint32_t row, uint8_t *state)
{
    const struct model *m = ctx;
    if (row < 1 || row > ROWS)
        return BC_ENOTFOUND;
    *state = m->state[row];
    return 0;
}

/* The batch as an upload writes it (unindexed 1: no waiting row has an entry) or as earlier
 * versions did (0: every row has one). Every seventh row failed at upload. */
static int create_txn(struct store_txn *t, void *arg)
{
    struct model *m = arg;
    struct batch_rec b;
    memset(&b, 0, sizeof b);
    b.version = RECORD_VERSION;
    b.status = BATCH_QUEUED;
    b.unindexed_from = m->unindexed_from;
    snprintf(b.id, sizeof b.id, BATCH);
    snprintf(b.ws, sizeof b.ws, "ws_j");
    int rc = batch_put(t, &b);
    for (uint32_t row = 1; row <= ROWS && !rc; row++) {
        m->state[row] = row % 7 == 0 ? JOB_FAILED : JOB_WAITING;
        uint8_t key[JOB_KEY_MAX];
        rc = job_put(t, row, m->state[row]);
        if (!rc)
            rc = statecount_add(t, BATCH, m->state[row], row, 1);
        if (!rc && (m->state[row] != JOB_WAITING || !b.unindexed_from))
            rc = store_put(t, DB_JOBSTATE, key, jobstate_key(key, BATCH, m->state[row], row), "", 0,
                           0);
    }
    return rc;
}

/* Moves as jobs.c's write_job does: the job's record, its block counts, then its index entry. */
static int moves_txn(struct store_txn *t, void *arg)
{
    const struct moves *a = arg;
    struct batch_rec b;
    struct batch_key k;
    int rc = batch_get(t, BATCH, strlen(BATCH), &b), changed = 0;
    batch_key_init(&k, BATCH);
    for (size_t i = 0; i < a->n && !rc; i++) {
        uint32_t row = a->mv[i].row;
        uint8_t from = a->m->state[row], to = a->mv[i].to;
        if (from == to)
            continue;
        a->m->state[row] = to;
        rc = job_put(t, row, to);
        if (!rc)
            rc = statecount_add(t, BATCH, from, row, -1);
        if (!rc)
            rc = statecount_add(t, BATCH, to, row, 1);
        if (!rc)
            rc = jobindex_move(t, &b, &k, row, from, to, model_state, a->m, &changed);
    }
    if (!rc && changed)
        rc = batch_put(t, &b);
    return rc;
}

static void apply(struct store *s, struct model *m, const struct move *mv, size_t n)
{
    struct moves a = {m, mv, n};
    CHECK_INT(store_write(s, moves_txn, &a), 0);
}

/* The rows readers find in a state from a row on, given unindexed_from u, against the model. */
static void check_reader(struct store_txn *t, const struct model *m, uint8_t state, uint32_t u,
                         uint32_t from)
{
    struct batch_key k;
    struct jobindex_iter it;
    batch_key_init(&k, BATCH);
    jobindex_open(&it, t, &k, state, u, from);
    uint32_t want = from < 1 ? 1 : from;
    int rc, bad = 0;
    while ((rc = jobindex_next(&it)) == 1) {
        while (want <= ROWS && m->state[want] != state)
            want++;
        if (it.row != want || (it.has_job && it.jv.head.state != state))
            bad = 1;
        want++;
    }
    jobindex_close(&it);
    while (want <= ROWS && m->state[want] != state)
        want++;
    CHECK_INT(rc, 0);
    CHECK_REPORT(!bad && want > ROWS, "state %u from %u (unindexed_from %u): rows differ", state,
                 from, u);
}

static void check_all(struct store *s, struct model *m)
{
    struct store_txn t;
    struct batch_rec b;
    CHECK_INT(store_read_begin(s, &t), 0);
    CHECK_INT(batch_get(&t, BATCH, strlen(BATCH), &b), 0);
    CHECK(b.unindexed_from >= m->unindexed_from);
    CHECK(m->unindexed_from != 0 || b.unindexed_from == 0);
    m->unindexed_from = b.unindexed_from;
    uint32_t u = jobindex_unindexed_from(&b);

    /* The index itself. */
    size_t entries = 0, expected = 0;
    for (uint8_t st = JOB_WAITING; st <= JOB_CANCELLED; st++) {
        uint8_t prefix[JOB_KEY_MAX];
        size_t plen = jobstate_key(prefix, BATCH, st, 0) - 4;
        struct store_iter it;
        store_iter_open(&it, &t, DB_JOBSTATE, prefix, plen, NULL, 0);
        while (store_iter_next(&it) == 1) {
            uint32_t row = jobstate_key_row(&it.key);
            int ok = row >= 1 && row <= ROWS && m->state[row] == st &&
                     (!u || row < u || st != JOB_WAITING);
            CHECK_REPORT(ok, "an index entry for row %u in state %u (unindexed_from %u)", row, st,
                         u);
            entries++;
        }
        store_iter_close(&it);
    }
    for (uint32_t row = 1; row <= ROWS; row++)
        expected += !u || row < u || m->state[row] != JOB_WAITING;
    CHECK_INT(entries, expected);

    /* Readers, with the boundary as it is and as an older reader may have it. */
    const uint32_t froms[] = {0, 1, 2, u ? u - 1 : 3, u, u + 1, 600, ROWS, ROWS + 1};
    for (uint8_t st = JOB_WAITING; st <= JOB_CANCELLED; st++)
        for (size_t i = 0; i < sizeof froms / sizeof froms[0]; i++)
            check_reader(&t, m, st, u, froms[i]);
    if (u > 1) {
        check_reader(&t, m, JOB_WAITING, 1, 0);
        check_reader(&t, m, JOB_WAITING, u / 2, 0);
        check_reader(&t, m, JOB_WAITING, u / 2, u / 3);
    }
    int any = 0;
    for (uint32_t row = 1; row <= ROWS; row++)
        any |= m->state[row] == JOB_WAITING;
    CHECK_INT(jobindex_any(&t, &b, JOB_WAITING), any);
    store_read_end(&t);
}

static unsigned next_rand(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return *seed >> 8;
}

/* Random moves: any row, any state, a few per transaction. */
static void random_moves(struct fx *f, struct model *m, unsigned seed, int txns)
{
    for (int i = 0; i < txns; i++) {
        struct move mv[6];
        size_t n = 1 + next_rand(&seed) % 6;
        for (size_t j = 0; j < n; j++) {
            mv[j].row = 1 + next_rand(&seed) % ROWS;
            mv[j].to = (uint8_t)(JOB_WAITING + next_rand(&seed) % 6);
        }
        apply(&f->s, m, mv, n);
        check_all(&f->s, m);
    }
}

/* A store with the batch, written with the given boundary (create_txn). */
static void start(struct fx *f, struct model *m, uint64_t unindexed_from)
{
    memset(m, 0, sizeof *m);
    m->unindexed_from = unindexed_from;
    fx_open(f);
    CHECK_INT(store_write(&f->s, create_txn, m), 0);
    check_all(&f->s, m);
}

static void test_dials_in_order(void)
{
    struct fx f;
    struct model m;
    start(&f, &m, 1);
    /* Rows 1..100 one by one, then 101..300 ten to a transaction, as the dialler takes them. */
    uint32_t row = 1;
    for (; row <= 6; row++) {
        struct move mv = {row, JOB_ACTIVE};
        apply(&f.s, &m, &mv, 1);
    }
    check_all(&f.s, &m);
    CHECK_INT(m.unindexed_from, 7);
    /* Row 7, failed at upload, goes back to waiting at the boundary: it stays unindexed. */
    struct move seven = {7, JOB_WAITING};
    apply(&f.s, &m, &seven, 1);
    check_all(&f.s, &m);
    CHECK_INT(m.unindexed_from, 7);
    for (; row <= 100; row++) {
        if (m.state[row] != JOB_WAITING)
            continue;
        struct move mv = {row, JOB_ACTIVE};
        apply(&f.s, &m, &mv, 1);
    }
    check_all(&f.s, &m);
    CHECK_INT(m.unindexed_from, 101);
    while (row <= 300) {
        struct move mv[10];
        size_t n = 0;
        for (; row <= 300 && n < 10; row++)
            if (m.state[row] == JOB_WAITING)
                mv[n++] = (struct move){row, JOB_ACTIVE};
        apply(&f.s, &m, mv, n);
    }
    check_all(&f.s, &m);
    CHECK_INT(m.unindexed_from, 301);
    /* No waiting row ever had an entry: the dials took them where the upload left them. */
    CHECK_INT(fx_count_entries(&f.s, BATCH, JOB_WAITING), 0);
    /* A dial goes back to waiting (a retry) below the boundary: it has its entry again. */
    struct move back = {5, JOB_WAITING};
    apply(&f.s, &m, &back, 1);
    check_all(&f.s, &m);
    CHECK_INT(fx_count_entries(&f.s, BATCH, JOB_WAITING), 1);
    fx_close(&f);
}

static void test_far_and_out_of_order(void)
{
    struct fx f;
    struct model m;
    start(&f, &m, 1);
    /* Far past the boundary: more rows between than a move looks at. */
    struct move far[] = {{1000, JOB_CANCELLED}, {900, JOB_ACTIVE}, {1100, JOB_WAITING}};
    apply(&f.s, &m, far, 3);
    check_all(&f.s, &m);
    /* Out of order in one transaction, then back to waiting past the boundary. */
    struct move mixed[] = {{3, JOB_ACTIVE}, {1, JOB_ACTIVE}, {2, JOB_ACTIVE}, {900, JOB_WAITING}};
    apply(&f.s, &m, mixed, 4);
    check_all(&f.s, &m);
    /* Enough moves far ahead walk the boundary past every gap. */
    for (int i = 0; i < 8; i++) {
        struct move mv = {ROWS, i % 2 ? JOB_COMPLETED : JOB_FAILED};
        apply(&f.s, &m, &mv, 1);
    }
    check_all(&f.s, &m);
    CHECK_INT(m.unindexed_from, ROWS + 1);
    random_moves(&f, &m, 7, 40);
    fx_close(&f);
}

/* Blocks of rows without a waiting job are skipped by their count, not read: the rows found are
 * the same when the first block, then all but one row, then every row, stop waiting. */
static void test_blocks_without_waiting(void)
{
    struct fx f;
    struct model m;
    start(&f, &m, 1);
    static struct move mv[ROWS];
    size_t n = 0;
    for (uint32_t row = 1; row < 1024; row++)
        if (m.state[row] == JOB_WAITING)
            mv[n++] = (struct move){row, JOB_CANCELLED};
    apply(&f.s, &m, mv, n);
    check_all(&f.s, &m);
    n = 0;
    for (uint32_t row = 1024; row < ROWS; row++)
        if (m.state[row] == JOB_WAITING)
            mv[n++] = (struct move){row, JOB_FAILED};
    apply(&f.s, &m, mv, n);
    check_all(&f.s, &m);
    CHECK_INT(m.state[ROWS], JOB_WAITING);
    struct move last = {ROWS, JOB_ACTIVE};
    apply(&f.s, &m, &last, 1);
    check_all(&f.s, &m);
    fx_close(&f);
}

static void test_random(void)
{
    struct fx f;
    struct model m;
    start(&f, &m, 1);
    random_moves(&f, &m, 12345, 150);
    fx_close(&f);
}

static void test_batch_indexed_before(void)
{
    struct fx f;
    struct model m;
    start(&f, &m, 0);
    CHECK_INT(fx_count_entries(&f.s, BATCH, JOB_WAITING), ROWS - ROWS / 7);
    random_moves(&f, &m, 99, 60);
    CHECK_INT(m.unindexed_from, 0);
    fx_close(&f);
}

CHECK_MAIN(CHECK_CASE(test_dials_in_order), CHECK_CASE(test_far_and_out_of_order),
           CHECK_CASE(test_blocks_without_waiting), CHECK_CASE(test_random),
           CHECK_CASE(test_batch_indexed_before))
