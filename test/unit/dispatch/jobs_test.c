/* Job transitions (src/dispatch/jobs.c): every move keeps the batch's counters equal to a
 * recount of the state index, a rewrite moves the index but not the counters, and batch records
 * are written back only when changed. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tmpstore.h"
#include "fixture.h"
#include "dispatch/jobs.h"

/* Moves (batch, row) to state `to` in one transaction through jobs_move or jobs_rewrite. */
struct move {
    const char *batch;
    uint32_t row;
    uint8_t to;
    const char *error;
    int rewrite;
    int rc;
    uint8_t outcome; /* 0: unchanged */
};

static int move_txn(struct store_txn *t, void *arg)
{
    struct move *m = arg;
    struct jobs_txn jt = {0};
    jobs_txn_begin(&jt, t);
    struct job_view jv;
    int rc = jobs_get(&jt, m->batch, m->row, &jv);
    if (!rc) {
        struct job_head h = jv.head;
        h.state = m->to;
        if (m->outcome)
            h.outcome = m->outcome;
        size_t elen = strlen(m->error);
        rc = m->rewrite ? jobs_rewrite(&jt, m->batch, m->row, &jv, &h, m->error, elen)
                        : jobs_move(&jt, m->batch, m->row, &jv, &h, m->error, elen);
    }
    m->rc = rc;
    if (!rc)
        rc = jobs_txn_end(&jt);
    jobs_txn_free(&jt);
    return rc;
}

static int move(struct fx *f, const char *batch, uint32_t row, uint8_t to, int rewrite)
{
    struct move m = {batch, row, to, "why", rewrite, 0, 0};
    int rc = store_write(&f->s, move_txn, &m);
    return rc ? rc : m.rc;
}

static int move_with_outcome(struct fx *f, const char *batch, uint32_t row, uint8_t to,
                             uint8_t outcome)
{
    struct move m = {batch, row, to, "why", 0, 0, outcome};
    int rc = store_write(&f->s, move_txn, &m);
    return rc ? rc : m.rc;
}

static uint64_t counter(const struct batch_rec *b, int state)
{
    struct batch_rec copy = *b;
    uint64_t *c = jobs_counter(&copy, state);
    return c ? *c : 999;
}

/* Every transition the dispatcher and the API make, from a batch of one row per state. */
static void test_every_transition_keeps_counters(void)
{
    static const uint8_t moves[][2] = {
        {JOB_WAITING, JOB_DIALING},   {JOB_DIALING, JOB_ACTIVE},    {JOB_ACTIVE, JOB_COMPLETED},
        {JOB_ACTIVE, JOB_FAILED},     {JOB_ACTIVE, JOB_WAITING},    {JOB_DIALING, JOB_WAITING},
        {JOB_DIALING, JOB_FAILED},    {JOB_DIALING, JOB_CANCELLED}, {JOB_WAITING, JOB_CANCELLED},
        {JOB_FAILED, JOB_WAITING},    {JOB_COMPLETED, JOB_WAITING}, {JOB_DIALING, JOB_COMPLETED},
        {JOB_CANCELLED, JOB_WAITING}, {JOB_WAITING, JOB_FAILED},
    };
    for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++) {
        struct fx f;
        fx_open(&f);
        fx_batch(&f.s, &(struct fx_batch){.id = "bJ", .ws = "ws_W", .rows = 0});
        /* Two rows in each state, in two blocks of the state counts. */
        struct batch_rec b = fx_batch_get(&f.s, "bJ");
        const char *fields[2] = {"x", "y"};
        for (uint8_t st = JOB_WAITING; st <= JOB_CANCELLED; st++) {
            for (uint32_t k = 0; k < 2; k++) {
                uint32_t row = st * 10u + k * 2000u;
                struct job_head h = fx_head(row, st);
                fx_job(&f.s, "bJ", row, &h, fields, 2);
                uint64_t *c = jobs_counter(&b, st);
                CHECK(c != NULL);
                if (c)
                    (*c)++;
                b.total++;
            }
        }
        fx_set_batch(&f.s, &b);
        FX_CHECK_COUNTERS(&f.s, "bJ");
        uint8_t from = moves[i][0], to = moves[i][1];
        uint32_t row = from * 10u + 2000u;
        CHECK_INT(move(&f, "bJ", row, to, 0), 0);
        struct batch_rec after = fx_batch_get(&f.s, "bJ");
        /* Exactly the two counters moved (dialing and active share one). */
        for (uint8_t st = JOB_WAITING; st <= JOB_CANCELLED; st++) {
            int64_t want = (int64_t)counter(&b, st);
            if (jobs_counter(&b, st) == jobs_counter(&b, from))
                want--;
            if (jobs_counter(&b, st) == jobs_counter(&b, to))
                want++;
            CHECK_REPORT((int64_t)counter(&after, st) == want, "move %u->%u: counter of %u: %llu",
                         from, to, st, (unsigned long long)counter(&after, st));
        }
        FX_CHECK_COUNTERS(&f.s, "bJ");
        char err[160];
        struct job_head h = {0};
        CHECK_INT(fx_job_get(&f.s, "bJ", row, &h, err), 0);
        CHECK_INT(h.state, to);
        CHECK_STR(err, "why");
        CHECK_INT(fx_count_state(&f.s, "bJ", from), 1);
        CHECK_INT(fx_count_state(&f.s, "bJ", to), 3);
        fx_close(&f);
    }
}

/* A move to the same state rewrites the job (its error, its head) and nothing else. */
static void test_same_state(void)
{
    struct fx f;
    fx_open(&f);
    fx_batch(&f.s, &(struct fx_batch){.id = "bJ", .ws = "ws_W", .rows = 3});
    struct batch_rec before = fx_batch_get(&f.s, "bJ");
    CHECK_INT(move(&f, "bJ", 1, JOB_WAITING, 0), 0);
    struct batch_rec after = fx_batch_get(&f.s, "bJ");
    CHECK(memcmp(&before, &after, sizeof before) == 0);
    char err[160];
    struct job_head h = {0};
    CHECK_INT(fx_job_get(&f.s, "bJ", 1, &h, err), 0);
    CHECK_STR(err, "why");
    CHECK_INT(fx_count_state(&f.s, "bJ", JOB_WAITING), 3);
    FX_CHECK_COUNTERS(&f.s, "bJ");
    fx_close(&f);
}

/* A rewrite moves the index and the block counts, never the batch's counters (only where its
 * unindexed rows begin, store/jobindex.h); a missing batch or job is reported. */
static void test_rewrite_and_missing(void)
{
    struct fx f;
    fx_open(&f);
    fx_batch(&f.s, &(struct fx_batch){.id = "bJ", .ws = "ws_W", .rows = 3});
    struct batch_rec before = fx_batch_get(&f.s, "bJ");
    CHECK_INT(move(&f, "bJ", 2, JOB_CANCELLED, 1), 0);
    struct batch_rec after = fx_batch_get(&f.s, "bJ");
    CHECK_INT(after.unindexed_from, 3);
    after.unindexed_from = before.unindexed_from;
    CHECK(memcmp(&before, &after, sizeof before) == 0);
    CHECK_INT(after.waiting, 3);
    CHECK_INT(after.cancelled, 0);
    CHECK_INT(fx_count_state(&f.s, "bJ", JOB_WAITING), 2);
    CHECK_INT(fx_count_state(&f.s, "bJ", JOB_CANCELLED), 1);
    CHECK_INT(fx_count_blocks(&f.s, "bJ", JOB_WAITING), 2);
    CHECK_INT(fx_count_blocks(&f.s, "bJ", JOB_CANCELLED), 1);
    /* The cancel's own counter move makes them agree again. */
    after.waiting--;
    after.cancelled++;
    fx_set_batch(&f.s, &after);
    FX_CHECK_COUNTERS(&f.s, "bJ");

    CHECK_INT(move(&f, "bJ", 7, JOB_ACTIVE, 0), BC_ENOTFOUND);
    /* A job whose batch record is missing: jobs_move fails, nothing is written. */
    struct job_head h = fx_head(0, JOB_WAITING);
    const char *fields[1] = {"x"};
    fx_job(&f.s, "bZ", 0, &h, fields, 1);
    CHECK_INT(move(&f, "bZ", 0, JOB_DIALING, 0), BC_ENOTFOUND);
    CHECK_INT(fx_count_state(&f.s, "bZ", JOB_WAITING), 1);
    CHECK_INT(fx_count_state(&f.s, "bZ", JOB_DIALING), 0);
    fx_close(&f);
}

static void test_cancel_head(void)
{
    struct job_head h = fx_head(4, JOB_WAITING);
    h.attempts = 2;
    h.next_attempt_ms = 5000;
    h.outcome = OUTCOME_BUSY;
    h.seq = 3;
    h.end_ms = 77;
    struct job_head want = h;
    jobs_cancel_head(&h);
    CHECK_INT(h.state, JOB_CANCELLED);
    CHECK_INT(h.outcome, OUTCOME_CANCELLED);
    CHECK_INT(h.next_attempt_ms, 0);
    want.state = h.state;
    want.outcome = h.outcome;
    want.next_attempt_ms = 0;
    CHECK(memcmp(&h, &want, sizeof h) == 0); /* nothing else changed */
    CHECK_STR(JOBS_CANCELLED_MSG, "Cancelled before it was dialled");
    struct batch_rec b;
    memset(&b, 0, sizeof b);
    CHECK(jobs_counter(&b, JOB_WAITING) == &b.waiting);
    CHECK(jobs_counter(&b, JOB_DIALING) == &b.active);
    CHECK(jobs_counter(&b, JOB_ACTIVE) == &b.active);
    CHECK(jobs_counter(&b, JOB_COMPLETED) == &b.completed);
    CHECK(jobs_counter(&b, JOB_FAILED) == &b.failed);
    CHECK(jobs_counter(&b, JOB_CANCELLED) == &b.cancelled);
    CHECK(jobs_counter(&b, 0) == NULL);
    CHECK(jobs_counter(&b, 7) == NULL);
}

/* What one transaction does with the batch records it loaded. */
struct dirty {
    int mark;     /* mark the record dirty after changing it */
    int same_ptr; /* jobs_batch returned the same record twice */
    int missing;  /* jobs_batch of an unknown id returned NULL */
};

static int dirty_txn(struct store_txn *t, void *arg)
{
    struct dirty *d = arg;
    struct jobs_txn jt = {0};
    jobs_txn_begin(&jt, t);
    struct batch_rec *b = jobs_batch(&jt, "bJ");
    CHECK(b != NULL);
    if (!b)
        return BC_ENOTFOUND;
    b->attempts = 77;
    /* Loading more batches (past the first allocation of slots) keeps the pointer valid. */
    char id[8];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "b%c", 'a' + i);
        CHECK(jobs_batch(&jt, id) != NULL);
    }
    CHECK_INT(jt.n, 11);
    d->missing = jobs_batch(&jt, "zz") == NULL && t->err == 0;
    d->same_ptr = jobs_batch(&jt, "bJ") == b;
    if (d->mark)
        jobs_batch_dirty(&jt, b);
    int rc = jobs_txn_end(&jt);
    jobs_txn_free(&jt);
    return rc;
}

static void test_written_back_only_when_dirty(void)
{
    struct fx f;
    fx_open(&f);
    fx_batch(&f.s, &(struct fx_batch){.id = "bJ", .ws = "ws_W", .rows = 1});
    char id[8];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "b%c", 'a' + i);
        fx_batch(&f.s, &(struct fx_batch){.id = id, .ws = "ws_W", .rows = 0});
    }
    struct dirty d = {0};
    CHECK_INT(store_write(&f.s, dirty_txn, &d), 0);
    CHECK_INT(d.same_ptr, 1);
    CHECK_INT(d.missing, 1); /* not found is not a transaction error */
    CHECK_INT(fx_batch_get(&f.s, "bJ").attempts, 0);
    d.mark = 1;
    CHECK_INT(store_write(&f.s, dirty_txn, &d), 0);
    CHECK_INT(d.same_ptr, 1);
    CHECK_INT(fx_batch_get(&f.s, "bJ").attempts, 77);
    fx_close(&f);
}

/* Slots are reused from one transaction to the next, but the records are read afresh. */
struct reuse {
    struct jobs_txn jt;
    uint64_t seen;
    int bump;
};

static int reuse_txn(struct store_txn *t, void *arg)
{
    struct reuse *r = arg;
    jobs_txn_begin(&r->jt, t);
    struct batch_rec *b = jobs_batch(&r->jt, "bJ");
    if (!b)
        return BC_ENOTFOUND;
    r->seen = b->attempts;
    if (r->bump) {
        b->attempts++;
        jobs_batch_dirty(&r->jt, b);
    }
    return jobs_txn_end(&r->jt);
}

static void test_slots_reused_records_reloaded(void)
{
    struct fx f;
    fx_open(&f);
    fx_batch(&f.s, &(struct fx_batch){.id = "bJ", .ws = "ws_W", .rows = 1});
    struct reuse r = {.bump = 1};
    CHECK_INT(store_write(&f.s, reuse_txn, &r), 0);
    CHECK_INT(r.seen, 0);
    struct batch_rec b = fx_batch_get(&f.s, "bJ");
    b.attempts = 40; /* changed by another writer */
    fx_set_batch(&f.s, &b);
    r.bump = 0;
    CHECK_INT(store_write(&f.s, reuse_txn, &r), 0);
    CHECK_INT(r.seen, 40);
    CHECK_INT(r.jt.n, 1);
    jobs_txn_free(&r.jt);
    CHECK_INT(fx_batch_get(&f.s, "bJ").attempts, 40);
    fx_close(&f);
}

/* The batch counts its failed calls whose outcome a retry re-queues, as they move. */
static void test_retryable_count_follows_moves(void)
{
    struct fx f;
    fx_open(&f);
    fx_batch(&f.s, &(struct fx_batch){.id = "bJ", .ws = "ws_W", .rows = 4});
    CHECK_INT(move(&f, "bJ", 0, JOB_ACTIVE, 0), 0);
    CHECK_INT(move(&f, "bJ", 1, JOB_ACTIVE, 0), 0);
    CHECK_INT(move(&f, "bJ", 2, JOB_ACTIVE, 0), 0);
    CHECK_INT(move_with_outcome(&f, "bJ", 0, JOB_FAILED, OUTCOME_BUSY), 0);
    CHECK_INT(move_with_outcome(&f, "bJ", 1, JOB_FAILED, OUTCOME_PROVIDER_ERROR), 0);
    CHECK_INT(move_with_outcome(&f, "bJ", 2, JOB_FAILED, OUTCOME_CARRIER_BLOCKED), 0);
    CHECK_INT(move_with_outcome(&f, "bJ", 3, JOB_COMPLETED, OUTCOME_ANSWERED), 0);
    CHECK_INT(fx_batch_get(&f.s, "bJ").retryable, 2);
    /* A retry moves one back: it no longer counts; failing again counts it again. */
    CHECK_INT(move_with_outcome(&f, "bJ", 0, JOB_WAITING, 0), 0);
    CHECK_INT(fx_batch_get(&f.s, "bJ").retryable, 1);
    CHECK_INT(move_with_outcome(&f, "bJ", 0, JOB_FAILED, OUTCOME_NO_ANSWER), 0);
    CHECK_INT(fx_batch_get(&f.s, "bJ").retryable, 2);
    CHECK(jobs_retryable(OUTCOME_VOICEMAIL) && jobs_retryable(OUTCOME_UNREACHABLE));
    CHECK(!jobs_retryable(OUTCOME_INVALID_NUMBER) && !jobs_retryable(OUTCOME_DUPLICATE));
    FX_CHECK_COUNTERS(&f.s, "bJ");
    fx_close(&f);
}

/* Folding: a job moved several times in one transaction is written once, at jobs_txn_end; in
 * between, jobs_get gives the job as the moves left it while the store still holds it as it was.
 * Counters move at every move, and the per-block counts by the sum of the moves, so both end as
 * unfolded moves leave them. Rows 0 and 1 (blocks 0 and 1) take the same path, row 2 is only
 * read. */
struct fold {
    uint8_t path[4];
    size_t n;
    int stored_state_mid; /* the state DB_JOB held for row 0 before jobs_txn_end */
    uint8_t seen_state;   /* jobs_get's */
    char seen_error[40];
    size_t staged;
};

#define FOLD_ROW1 1500 /* in the second block of the state counts */

static int stored_state(struct store_txn *t, const char *batch, uint32_t row)
{
    uint8_t key[JOB_KEY_MAX];
    struct store_val v;
    struct job_view jv;
    if (store_get(t, DB_JOB, key, job_key(key, batch, row), &v) || job_decode(v.ptr, v.len, &jv))
        return -1;
    return jv.head.state;
}

static int fold_move(struct jobs_txn *jt, uint32_t row, uint8_t to, size_t i)
{
    static const char *const why[] = {"", "first", "second, longer than the first", "3"};
    struct job_view jv;
    int rc = jobs_get(jt, "bJ", row, &jv);
    struct job_head h = jv.head;
    h.state = to;
    h.attempts++;
    /* Another job read between the read and the move: the write must not take its key. */
    struct job_view other;
    if (!rc && i % 2 == 0)
        rc = jobs_get(jt, "bJ", 2, &other);
    /* Its own error text passed back (the view's), or a new one. */
    if (!rc)
        rc = i % 2 == 0 ? jobs_move(jt, "bJ", row, &jv, &h, why[i], strlen(why[i]))
                        : jobs_move(jt, "bJ", row, &jv, &h, jv.error, jv.error_len);
    return rc ? rc : jobs_get(jt, "bJ", 2, &jv);
}

static int fold_txn(struct store_txn *t, void *arg)
{
    struct fold *fo = arg;
    struct jobs_txn jt = {.fold = 1};
    jobs_txn_begin(&jt, t);
    int rc = 0;
    for (size_t i = 0; i < fo->n && !rc; i++) {
        rc = fold_move(&jt, 0, fo->path[i], i);
        if (!rc)
            rc = fold_move(&jt, FOLD_ROW1, fo->path[i], i);
    }
    struct job_view jv;
    if (!rc)
        rc = jobs_get(&jt, "bJ", 0, &jv);
    if (!rc) {
        fo->stored_state_mid = stored_state(t, "bJ", 0);
        fo->seen_state = jv.head.state;
        snprintf(fo->seen_error, sizeof fo->seen_error, "%.*s", (int)jv.error_len, jv.error);
        fo->staged = jt.nstaged;
        rc = jobs_txn_end(&jt);
    }
    jobs_txn_free(&jt);
    return rc;
}

static void test_fold_writes_once(void)
{
    static const struct {
        uint8_t path[4];
        size_t n;
        const char *error;
    } cases[] = {
        {{JOB_DIALING, JOB_ACTIVE, JOB_ACTIVE, JOB_COMPLETED}, 4, "second, longer than the first"},
        {{JOB_DIALING, JOB_ACTIVE, JOB_WAITING}, 3, "second, longer than the first"},
        {{JOB_DIALING, JOB_WAITING}, 2, ""}, /* back where they started: no index move */
        {{JOB_DIALING}, 1, ""},
    };
    struct fx f;
    fx_open(&f);
    fx_batch(&f.s, &(struct fx_batch){.id = "bJ", .ws = "ws_W", .rows = FOLD_ROW1 + 1});
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct batch_rec before = fx_batch_get(&f.s, "bJ");
        struct fold fo = {.n = cases[c].n};
        memcpy(fo.path, cases[c].path, sizeof fo.path);
        CHECK_INT(store_write(&f.s, fold_txn, &fo), 0);
        uint8_t last = fo.path[fo.n - 1];
        CHECK_INT(fo.stored_state_mid, JOB_WAITING);
        CHECK_INT(fo.seen_state, last);
        CHECK_STR(fo.seen_error, cases[c].error);
        CHECK_INT(fo.staged, 2);
        for (uint32_t row = 0; row <= FOLD_ROW1; row += FOLD_ROW1) {
            char err[160];
            struct job_head h = {0};
            CHECK_INT(fx_job_get(&f.s, "bJ", row, &h, err), 0);
            CHECK_INT(h.state, last);
            CHECK_STR(err, cases[c].error);
        }
        struct job_head h = {0};
        CHECK_INT(fx_job_get(&f.s, "bJ", 2, &h, NULL), 0);
        CHECK_INT(h.state, JOB_WAITING);
        CHECK_INT(h.attempts, 0);
        FX_CHECK_COUNTERS(&f.s, "bJ");
        struct batch_rec after = fx_batch_get(&f.s, "bJ");
        CHECK_INT(counter(&after, JOB_WAITING) + 2,
                  counter(&before, JOB_WAITING) + (last == JOB_WAITING ? 2 : 0));
        /* The next case starts with both rows waiting again (moved back unfolded). */
        if (last != JOB_WAITING) {
            CHECK_INT(move(&f, "bJ", 0, JOB_WAITING, 0), 0);
            CHECK_INT(move(&f, "bJ", FOLD_ROW1, JOB_WAITING, 0), 0);
        }
        FX_CHECK_COUNTERS(&f.s, "bJ");
    }
    fx_close(&f);
}

/* jobs_key decodes a batch's prefix once and keeps it for the next keys of that batch; with more
 * batches than it keeps, the entries replaced still give the right prefix. */
static void test_key_cache(void)
{
    const char *ids[JOBS_KEYS + 2] = {
        "batch_01JDX3TESTBATCH00000000000", "batch_01JDX3TESTBATCH00000000001",
        "batch_01JDX3TESTBATCH0000000000Z", "bJ",
        "batch_7ZZZZZZZZZZZZZZZZZZZZZZZZZ", "batch_01JDX3TESTBATCH00000000002"};
    struct jobs_txn jt = {0};
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
            struct batch_key want;
            batch_key_init(&want, ids[i]);
            const struct batch_key *k = jobs_key(&jt, ids[i]);
            CHECK_INT(k->len, want.len);
            CHECK(memcmp(k->bytes, want.bytes, want.len) == 0);
            /* The next key of the same batch uses the entry just made. */
            CHECK(jobs_key(&jt, ids[i]) == k);
        }
    }
    jobs_txn_free(&jt);
}

/* jobs_read, given the batch's key prefix, reads what jobs_get reads from the id's text. */
static void test_read_by_key(void)
{
    struct fx f;
    fx_open(&f);
    fx_batch(&f.s, &(struct fx_batch){.id = "bR", .ws = "ws_W", .rows = 3});
    fx_batch(&f.s,
             &(struct fx_batch){.id = "batch_01JDX3TESTBATCH00000000000", .ws = "ws_W", .rows = 2});
    struct store_txn t;
    CHECK_INT(store_read_begin(&f.s, &t), 0);
    const char *ids[] = {"bR", "batch_01JDX3TESTBATCH00000000000"};
    for (size_t i = 0; i < 2; i++) {
        struct batch_key k;
        batch_key_init(&k, ids[i]);
        struct job_view a, b;
        CHECK_INT(jobs_read(&t, &k, 1, &a), 0);
        CHECK_INT(jobs_get(&(struct jobs_txn){.t = &t}, ids[i], 1, &b), 0);
        CHECK_INT(a.head.state, JOB_WAITING);
        CHECK_STR(a.head.e164, b.head.e164);
        CHECK_INT(jobs_read(&t, &k, 3, &a), BC_ENOTFOUND);
    }
    store_read_end(&t);
    fx_close(&f);
}

CHECK_MAIN(CHECK_CASE(test_every_transition_keeps_counters), CHECK_CASE(test_same_state),
           CHECK_CASE(test_rewrite_and_missing), CHECK_CASE(test_cancel_head),
           CHECK_CASE(test_written_back_only_when_dirty),
           CHECK_CASE(test_slots_reused_records_reloaded),
           CHECK_CASE(test_retryable_count_follows_moves), CHECK_CASE(test_fold_writes_once),
           CHECK_CASE(test_key_cache), CHECK_CASE(test_read_by_key))
