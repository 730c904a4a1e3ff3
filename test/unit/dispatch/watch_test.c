/* Adopting the calls in progress after a restart (src/dispatch/watch.c, src/dispatch/roster.c):
 * a call the provider accepted holds its slots and is looked up at once; one still being placed
 * is in doubt: it holds no slot, so waiting contacts are dialled, and it fails as unknown only
 * after the reconcile window; a cancelled batch's calls are adopted too. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tmpstore.h"
#include "fixture.h"
#include "dispatch/jobs.h"
#include "dispatch/pick.h"
#include "dispatch/roster.h"
#include "dispatch/watch.h"

#define BIG_CPS   100000.0
#define NOW       1000000
#define RECONCILE 300000

/* Moves (batch, row) to state in one transaction, as the dispatcher's commits do. */
struct move {
    const char *batch;
    uint32_t row;
    uint8_t state;
    const char *call_id;
};

static int move_txn(struct store_txn *t, void *arg)
{
    const struct move *m = arg;
    struct jobs_txn jt = {0};
    jobs_txn_begin(&jt, t);
    struct job_view jv;
    int rc = jobs_get(&jt, m->batch, m->row, &jv);
    if (!rc) {
        struct job_head h = jv.head;
        h.state = m->state;
        h.seq = 1;
        snprintf(h.call_id, sizeof h.call_id, "%s", m->call_id ? m->call_id : "");
        rc = jobs_move(&jt, m->batch, m->row, &jv, &h, "", 0);
    }
    if (!rc)
        rc = jobs_txn_end(&jt);
    jobs_txn_free(&jt);
    return rc;
}

/* The row is being placed (dialing), or, with a call id, the provider accepted it (active). */
static void place(struct fx *f, const char *batch, uint32_t row, const char *call_id)
{
    struct move m = {batch, row, JOB_DIALING, NULL};
    CHECK_INT(store_write(&f->s, move_txn, &m), 0);
    if (call_id) {
        m = (struct move){batch, row, JOB_ACTIVE, call_id};
        CHECK_INT(store_write(&f->s, move_txn, &m), 0);
    }
}

static struct report *queued;

static void capture(void *ctx, struct report *r)
{
    (void)ctx;
    r->next = queued;
    queued = r;
}

static void free_queued(void)
{
    while (queued) {
        struct report *n = queued->next;
        report_free(queued);
        queued = n;
    }
}

/* What load_all does at start-up for one batch. */
static struct roster_batch *adopt(struct fx *f, struct roster *r, struct watchlist *wl,
                                  const char *id)
{
    struct store_txn t;
    CHECK_INT(store_read_begin(&f->s, &t), 0);
    CHECK_INT(roster_load(r, &t, id, 0), 0);
    struct roster_batch *b = roster_batch(r, id);
    if (b)
        CHECK_INT(watch_adopt(wl, &t, b, NOW, NOW + RECONCILE), 0);
    store_read_end(&t);
    return b;
}

static size_t picks_now(struct fx *f, struct roster *r)
{
    struct bucket provider;
    bucket_init(&provider, 1e9, 1e9, 0);
    struct pick_round pr = {
        .budget = 100, .provider = &provider, .wall = NOW, .mono = 0, .wake = ROSTER_NO_TIME};
    struct store_txn t;
    CHECK_INT(store_read_begin(&f->s, &t), 0);
    struct pick *p = pick_round(r, &t, &pr);
    store_read_end(&t);
    size_t n = 0;
    for (struct pick *next; p; p = next, n++) {
        next = p->next;
        pick_free(p);
    }
    return n;
}

/* A workspace allowed 2 calls at once, killed with one call accepted (row 1) and two being
 * placed (rows 0 and 2): only the accepted one holds a slot, so one waiting call is dialled at
 * once instead of none for the whole reconcile window. */
static void test_in_doubt_calls_hold_no_slot(void)
{
    struct fx f;
    fx_open(&f);
    fx_workspace(&f.s, "ws_A", BIG_CPS, 2);
    fx_batch(&f.s, &(struct fx_batch){.id = "bA", .ws = "ws_A", .created_ms = 100, .rows = 6});
    place(&f, "bA", 0, NULL);
    place(&f, "bA", 1, "CA1");
    place(&f, "bA", 2, NULL);
    CHECK_INT(fx_batch_get(&f.s, "bA").active, 3);

    struct client busy = {0}; /* no lookup can be sent: the scan only decides */
    struct watchlist wl = {.client = &busy, .overdue_ms = 3600000, .queue = capture};
    struct roster r = {0};
    struct roster_batch *b = adopt(&f, &r, &wl, "bA");
    CHECK(b != NULL);
    if (!b) {
        fx_close(&f);
        return;
    }
    CHECK_INT(watch_count(&wl), 3);
    CHECK_INT(wl.in_doubt, 2);
    CHECK_INT(b->active, 1);
    CHECK_INT(b->ws->active, 1);
    CHECK_INT(picks_now(&f, &r), 1);
    CHECK_INT(b->active, 2);

    /* Before the reconcile window ends, the calls in doubt wait for a late report. */
    watch_scan(&wl, NOW + RECONCILE - 1);
    CHECK(queued == NULL);
    /* Row 0's provider reports it in progress: it takes a slot now. */
    CHECK_INT(watch_set(&wl, "bA", 0, 1, JOB_ACTIVE, "CA0", NOW + 3600000), 1);
    CHECK_INT(wl.in_doubt, 1);
    CHECK_INT(watch_set(&wl, "bA", 1, 1, JOB_ACTIVE, "CA1", NOW + 3600000), 0);
    /* Row 2 never reported: unknown, and it has no slot to give back. */
    watch_scan(&wl, NOW + RECONCILE);
    CHECK(queued != NULL && queued->next == NULL);
    if (queued) {
        CHECK_INT(queued->kind, REPORT_UNKNOWN);
        CHECK_INT(queued->row, 2);
    }
    free_queued();
    CHECK_INT(watch_clear(&wl, "bA", 2), 0);
    CHECK_INT(wl.in_doubt, 0);
    CHECK_INT(watch_clear(&wl, "bA", 0), 1);
    CHECK_INT(watch_clear(&wl, "bA", 1), 1);
    /* A dial the provider has not accepted yet is not watched: it gives back its pick's slot. */
    CHECK_INT(watch_clear(&wl, "bA", 3), 1);
    CHECK_INT(watch_count(&wl), 0);

    watch_free(&wl);
    roster_free(&r);
    fx_close(&f);
}

/* A batch cancelled with a call in progress: at start-up it is loaded, not dialable, and its
 * call is adopted (it was left out, never reconciled, and its slot not counted). */
static void test_cancelled_batch_calls_adopted(void)
{
    struct fx f;
    fx_open(&f);
    fx_workspace(&f.s, "ws_A", BIG_CPS, 10);
    fx_batch(&f.s, &(struct fx_batch){.id = "bC", .ws = "ws_A", .created_ms = 100, .rows = 3});
    place(&f, "bC", 1, "CA7");
    struct batch_rec rec = fx_batch_get(&f.s, "bC");
    rec.status = BATCH_CANCELLED;
    fx_set_batch(&f.s, &rec);

    struct client busy = {0};
    struct watchlist wl = {.client = &busy, .overdue_ms = 3600000, .queue = capture};
    struct roster r = {0};
    struct roster_batch *b = adopt(&f, &r, &wl, "bC");
    CHECK(b != NULL);
    if (b) {
        CHECK_INT(b->dialable, 0);
        CHECK_INT(b->active, 1);
        CHECK_INT(b->ws->active, 1);
    }
    CHECK_INT(watch_count(&wl), 1);
    CHECK_INT(picks_now(&f, &r), 0);
    free_queued();
    watch_free(&wl);
    roster_free(&r);

    /* Once its last call ended, a cancelled batch is not loaded at all. */
    struct move m = {"bC", 1, JOB_FAILED, "CA7"};
    CHECK_INT(store_write(&f.s, move_txn, &m), 0);
    struct roster r2 = {0};
    struct watchlist wl2 = {.client = &busy, .overdue_ms = 3600000, .queue = capture};
    CHECK(adopt(&f, &r2, &wl2, "bC") == NULL);
    watch_free(&wl2);
    roster_free(&r2);
    fx_close(&f);
}

/* Each (batch, row) has its own watch: rows with one digit, several, and the largest, and batch
 * ids one of which is another's start, are set, set again and cleared each on its own. */
static void test_watch_keys(void)
{
    struct client busy = {0};
    struct watchlist wl = {.client = &busy, .overdue_ms = 3600000, .queue = capture};
    static const struct {
        const char *batch;
        uint32_t row;
    } calls[] = {{"bA", 0}, {"bA", 1}, {"bA", 10}, {"bA1", 0}, {"bA", 4294967295u}, {"bA10", 1}};
    size_t n = sizeof calls / sizeof calls[0];
    for (size_t i = 0; i < n; i++) {
        CHECK_INT(watch_set(&wl, calls[i].batch, calls[i].row, 1, JOB_ACTIVE, "CA", NOW), 0);
        CHECK_INT(watch_count(&wl), i + 1);
    }
    CHECK_INT(watch_set(&wl, "bA", 10, 2, JOB_ACTIVE, "CA", NOW), 0);
    CHECK_INT(watch_count(&wl), n);
    CHECK_INT(watch_clear(&wl, "bA", 100), 1);
    CHECK_INT(watch_count(&wl), n);
    for (size_t i = 0; i < n; i++) {
        CHECK_INT(watch_clear(&wl, calls[i].batch, calls[i].row), 1);
        CHECK_INT(watch_count(&wl), n - i - 1);
    }
    watch_free(&wl);
}

CHECK_MAIN(CHECK_CASE(test_watch_keys), CHECK_CASE(test_in_doubt_calls_hold_no_slot),
           CHECK_CASE(test_cancelled_batch_calls_adopted))
