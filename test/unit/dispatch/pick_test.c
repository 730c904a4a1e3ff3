/* Choosing what to dial (src/dispatch/pick.c, src/dispatch/roster.c) on a real store, with the
 * clocks given by hand: turns between workspaces, order between batches, scheduledAt, token
 * buckets, concurrency caps, scheduled retries and the prompt's {variables}. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tmpstore.h"
#include "fixture.h"
#include "dispatch/pick.h"
#include "dispatch/roster.h"

#define BIG_CPS   100000.0
#define BIG_CALLS 1000000

static struct bucket provider;

/* A round with an unlimited provider account unless the test limits it. */
static struct pick_round round_at(uint64_t wall, uint64_t mono, size_t budget)
{
    bucket_init(&provider, 1e9, 1e9, mono);
    return (struct pick_round){.budget = budget,
                               .provider = &provider,
                               .wall = wall,
                               .mono = mono,
                               .wake = ROSTER_NO_TIME};
}

static void load(struct fx *f, struct roster *r, const char *id, uint64_t mono)
{
    struct store_txn t;
    CHECK_INT(store_read_begin(&f->s, &t), 0);
    CHECK_INT(roster_load(r, &t, id, mono), 0);
    store_read_end(&t);
}

static struct pick *run(struct fx *f, struct roster *r, struct pick_round *pr)
{
    struct store_txn t;
    CHECK_INT(store_read_begin(&f->s, &t), 0);
    struct pick *p = pick_round(r, &t, pr);
    store_read_end(&t);
    return p;
}

/* The picks as "<batch id><row>" joined by spaces, then freed. */
static void describe(struct pick *p, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    while (p) {
        struct pick *next = p->next;
        n += (size_t)snprintf(out + n, cap - n, "%s%s%u", n ? " " : "", p->b->id, p->row);
        pick_free(p);
        p = next;
    }
}

static size_t count_and_free(struct pick *p)
{
    size_t n = 0;
    while (p) {
        struct pick *next = p->next;
        pick_free(p);
        p = next;
        n++;
    }
    return n;
}

/* A workspace with 1,000 waiting calls and one with 3: turns alternate call by call, and the
 * turn carries over from one round to the next. */
static void test_round_robin_between_workspaces(void)
{
    struct fx f;
    fx_open(&f);
    fx_workspace(&f.s, "ws_A", BIG_CPS, BIG_CALLS);
    fx_workspace(&f.s, "ws_B", BIG_CPS, BIG_CALLS);
    fx_batch(&f.s, &(struct fx_batch){.id = "bA", .ws = "ws_A", .created_ms = 100, .rows = 1000});
    fx_batch(&f.s, &(struct fx_batch){.id = "bB", .ws = "ws_B", .created_ms = 200, .rows = 3});
    struct roster r = {0};
    load(&f, &r, "bA", 0);
    load(&f, &r, "bB", 0);
    char got[512];
    struct pick_round pr = round_at(1000, 0, 3);
    describe(run(&f, &r, &pr), got, sizeof got);
    CHECK_STR(got, "bA0 bB0 bA1");
    CHECK_INT(pr.budget, 0);
    pr = round_at(1000, 0, 3);
    describe(run(&f, &r, &pr), got, sizeof got);
    CHECK_STR(got, "bB1 bA2 bB2");
    /* B has nothing left: A takes every call. */
    pr = round_at(1000, 0, 4);
    describe(run(&f, &r, &pr), got, sizeof got);
    CHECK_STR(got, "bA3 bA4 bA5 bA6");
    CHECK_INT(pr.wake, ROSTER_NO_TIME);
    CHECK_INT(roster_batch(&r, "bA")->active, 7);
    CHECK_INT(roster_batch(&r, "bA")->ws->active, 7);
    CHECK_INT(roster_batch(&r, "bB")->active, 3);
    CHECK_INT(roster_batch(&r, "bB")->exhausted, 1);
    roster_free(&r);
    fx_close(&f);
}

/* A provider account at 10 calls/s: each token goes to whoever's turn it is, so the workspaces
 * still alternate although every round serves only what the bucket holds. */
static void test_turns_under_provider_limit(void)
{
    struct fx f;
    fx_open(&f);
    fx_workspace(&f.s, "ws_A", BIG_CPS, BIG_CALLS);
    fx_workspace(&f.s, "ws_B", BIG_CPS, BIG_CALLS);
    fx_batch(&f.s, &(struct fx_batch){.id = "bA", .ws = "ws_A", .created_ms = 100, .rows = 1000});
    fx_batch(&f.s, &(struct fx_batch){.id = "bB", .ws = "ws_B", .created_ms = 200, .rows = 10});
    struct roster r = {0};
    load(&f, &r, "bA", 0);
    load(&f, &r, "bB", 0);
    struct bucket limited;
    bucket_init(&limited, 10, roster_burst(10), 0);
    CHECK_INT(limited.burst, 2);
    struct pick_round pr = {.budget = 100,
                            .provider = &limited,
                            .provider_limited = 1,
                            .wall = 1000,
                            .mono = 0,
                            .wake = ROSTER_NO_TIME};
    char got[512];
    describe(run(&f, &r, &pr), got, sizeof got);
    CHECK_STR(got, "bA0 bB0");
    CHECK_INT(pr.wake, 100);
    CHECK_INT(pr.token_waits, 1);
    CHECK_INT(pr.budget, 0);
    static const char *const want[] = {"bA1", "bB1", "bA2", "bB2"};
    for (int i = 0; i < 4; i++) {
        pr = (struct pick_round){.budget = 100,
                                 .provider = &limited,
                                 .provider_limited = 1,
                                 .wall = 1000,
                                 .mono = 100 * (uint64_t)(i + 1),
                                 .wake = ROSTER_NO_TIME};
        describe(run(&f, &r, &pr), got, sizeof got);
        CHECK_STR(got, want[i]);
        CHECK_INT(pr.wake, 100);
    }
    roster_free(&r);
    fx_close(&f);
}

/* Within a workspace the batch due first goes first (a batch's first calls are due at its
 * start), ties to the older batch, whatever order the batches were loaded in. */
static void test_batches_earliest_due_then_oldest(void)
{
    struct fx f;
    fx_open(&f);
    fx_workspace(&f.s, "ws_W", BIG_CPS, BIG_CALLS);
    /* P: old but scheduled at 900; Q: newer, due at its creation (200); R: newest, also 900. */
    fx_batch(&f.s,
             &(struct fx_batch){
                 .id = "bP", .ws = "ws_W", .created_ms = 100, .scheduled_ms = 900, .rows = 2});
    fx_batch(&f.s, &(struct fx_batch){.id = "bQ", .ws = "ws_W", .created_ms = 200, .rows = 2});
    fx_batch(&f.s,
             &(struct fx_batch){
                 .id = "bR", .ws = "ws_W", .created_ms = 300, .scheduled_ms = 900, .rows = 2});
    struct roster r = {0};
    load(&f, &r, "bR", 0);
    load(&f, &r, "bQ", 0);
    load(&f, &r, "bP", 0);
    CHECK_INT(roster_batch(&r, "bP")->start_ms, 900);
    CHECK_INT(roster_batch(&r, "bQ")->start_ms, 200);
    CHECK_INT(roster_due(roster_batch(&r, "bR")), 900);
    char got[512];
    struct pick_round pr = round_at(1000, 0, 10);
    describe(run(&f, &r, &pr), got, sizeof got);
    CHECK_STR(got, "bQ0 bQ1 bP0 bP1 bR0 bR1");
    CHECK_INT(pr.budget, 4);
    CHECK_INT(roster_due(roster_batch(&r, "bQ")), ROSTER_NO_TIME);
    roster_free(&r);
    fx_close(&f);
}

/* scheduledAt in the future: nothing is dialled, and the wake-up is when it comes. */
static void test_scheduled_at(void)
{
    struct fx f;
    fx_open(&f);
    fx_workspace(&f.s, "ws_W", BIG_CPS, BIG_CALLS);
    fx_batch(&f.s,
             &(struct fx_batch){
                 .id = "bS", .ws = "ws_W", .created_ms = 100, .scheduled_ms = 5000, .rows = 3});
    struct roster r = {0};
    load(&f, &r, "bS", 0);
    struct pick_round pr = round_at(1000, 0, 10);
    CHECK(run(&f, &r, &pr) == NULL);
    CHECK_INT(pr.wake, 4000);
    CHECK_INT(pr.token_waits, 0);
    CHECK_INT(pr.budget, 10);
    pr = round_at(4999, 0, 10);
    CHECK(run(&f, &r, &pr) == NULL);
    CHECK_INT(pr.wake, 1);
    pr = round_at(5000, 0, 10);
    char got[64];
    describe(run(&f, &r, &pr), got, sizeof got);
    CHECK_STR(got, "bS0 bS1 bS2");
    roster_free(&r);
    fx_close(&f);
}

/* A workspace at 10 calls/s holds two tokens: two calls at once, the third 100 ms later. */
static void test_workspace_bucket(void)
{
    struct fx f;
    fx_open(&f);
    fx_workspace(&f.s, "ws_W", 10, BIG_CALLS);
    fx_batch(&f.s, &(struct fx_batch){.id = "bT", .ws = "ws_W", .created_ms = 100, .rows = 10});
    struct roster r = {0};
    load(&f, &r, "bT", 1000);
    CHECK_INT(roster_batch(&r, "bT")->ws->cps.burst, 2);
    struct pick_round pr = round_at(2000, 1000, 10);
    CHECK_INT(count_and_free(run(&f, &r, &pr)), 2);
    CHECK_INT(pr.wake, 100);
    CHECK_INT(pr.token_waits, 1);
    /* 1 ms short of the token. (bucket_wait_ms rounds 0.01 tokens at 0.01/ms up to 2 ms: a
     * floating-point residue in the ceil, harmless but not exact.) */
    pr = round_at(2000, 1099, 10);
    CHECK(run(&f, &r, &pr) == NULL);
    CHECK(pr.wake >= 1 && pr.wake <= 2);
    pr = round_at(2000, 1100, 10);
    char got[64];
    describe(run(&f, &r, &pr), got, sizeof got);
    CHECK_STR(got, "bT2");
    CHECK_INT(pr.wake, 100);
    /* A full second later the bucket holds its burst again, not ten tokens. */
    pr = round_at(2000, 2100, 10);
    CHECK_INT(count_and_free(run(&f, &r, &pr)), 2);
    CHECK_INT(roster_burst(100), 5);
    CHECK_INT(roster_burst(1000), 50);
    roster_free(&r);
    fx_close(&f);
}

/* A batch's own callsPerSecond (20: burst 2, a token every 50 ms) within a fast workspace; the
 * other batch of the workspace goes on meanwhile. */
static void test_batch_bucket(void)
{
    struct fx f;
    fx_open(&f);
    fx_workspace(&f.s, "ws_W", BIG_CPS, BIG_CALLS);
    fx_batch(&f.s,
             &(struct fx_batch){.id = "bC", .ws = "ws_W", .created_ms = 100, .cps = 20, .rows = 5});
    fx_batch(&f.s, &(struct fx_batch){.id = "bD", .ws = "ws_W", .created_ms = 200, .rows = 2});
    struct roster r = {0};
    load(&f, &r, "bC", 0);
    load(&f, &r, "bD", 0);
    CHECK_INT(roster_batch(&r, "bC")->has_cps, 1);
    CHECK_INT(roster_batch(&r, "bD")->has_cps, 0);
    char got[128];
    struct pick_round pr = round_at(1000, 0, 10);
    describe(run(&f, &r, &pr), got, sizeof got);
    CHECK_STR(got, "bC0 bC1 bD0 bD1");
    CHECK_INT(pr.wake, 50);
    /* bC was found waiting on its bucket by each of the four later looks. */
    CHECK_INT(pr.token_waits, 4);
    pr = round_at(1000, 49, 10);
    CHECK(run(&f, &r, &pr) == NULL);
    CHECK(pr.wake >= 1 && pr.wake <= 2); /* see test_workspace_bucket */
    pr = round_at(1000, 50, 10);
    describe(run(&f, &r, &pr), got, sizeof got);
    CHECK_STR(got, "bC2");
    roster_free(&r);
    fx_close(&f);
}

/* maxConcurrentCalls of the workspace: no more calls at once; pick_undo gives the slot and the
 * row back. */
static void test_workspace_concurrency(void)
{
    struct fx f;
    fx_open(&f);
    fx_workspace(&f.s, "ws_W", BIG_CPS, 3);
    fx_batch(&f.s, &(struct fx_batch){.id = "bK", .ws = "ws_W", .created_ms = 100, .rows = 10});
    /* A second batch of the workspace: the cap counts the workspace's calls, not each batch's. */
    fx_batch(&f.s, &(struct fx_batch){.id = "bL", .ws = "ws_W", .created_ms = 200, .rows = 10});
    struct roster r = {0};
    load(&f, &r, "bK", 0);
    load(&f, &r, "bL", 0);
    struct roster_batch *b = roster_batch(&r, "bK");
    CHECK_INT(roster_cap(b), 3);
    struct pick_round pr = round_at(1000, 0, 10);
    struct pick *p = run(&f, &r, &pr);
    CHECK(p && p->next && p->next->next && !p->next->next->next);
    CHECK_INT(pr.wake, ROSTER_NO_TIME); /* a call ending re-arms the tick */
    CHECK_INT(b->active, 3);
    CHECK_INT(b->ws->active, 3);
    pr = round_at(1000, 0, 10);
    CHECK(run(&f, &r, &pr) == NULL);
    /* The second pick was not recorded: its slot and its row come back. */
    struct pick *second = p->next;
    CHECK_INT(second->row, 1);
    pick_undo(second);
    CHECK_INT(b->active, 2);
    CHECK_INT(b->ws->active, 2);
    CHECK_INT(b->next_row, 1);
    count_and_free(p);
    pr = round_at(1000, 0, 10);
    char got[64];
    describe(run(&f, &r, &pr), got, sizeof got);
    CHECK_STR(got, "bK1");
    /* A call ends: one more (nothing was committed, so the scan goes on from row 2). */
    roster_release(b);
    CHECK_INT(b->active, 2);
    CHECK_INT(b->ws->active, 2);
    pr = round_at(1000, 0, 10);
    describe(run(&f, &r, &pr), got, sizeof got);
    CHECK_STR(got, "bK2");
    roster_free(&r);
    fx_close(&f);
}

/* A batch's maxConcurrency within its workspace's: the capped batch waits, the next one dials. */
static void test_batch_concurrency(void)
{
    struct fx f;
    fx_open(&f);
    fx_workspace(&f.s, "ws_W", BIG_CPS, 50);
    fx_batch(&f.s,
             &(struct fx_batch){
                 .id = "bM", .ws = "ws_W", .created_ms = 100, .max_concurrency = 2, .rows = 5});
    fx_batch(&f.s, &(struct fx_batch){.id = "bN", .ws = "ws_W", .created_ms = 200, .rows = 2});
    fx_batch(&f.s,
             &(struct fx_batch){
                 .id = "bO", .ws = "ws_W", .created_ms = 300, .max_concurrency = 80, .rows = 1});
    struct roster r = {0};
    load(&f, &r, "bM", 0);
    load(&f, &r, "bN", 0);
    load(&f, &r, "bO", 0);
    CHECK_INT(roster_cap(roster_batch(&r, "bM")), 2);
    CHECK_INT(roster_cap(roster_batch(&r, "bN")), 50);
    CHECK_INT(roster_cap(roster_batch(&r, "bO")), 50); /* never above the workspace's */
    char got[128];
    struct pick_round pr = round_at(1000, 0, 10);
    struct pick *p = run(&f, &r, &pr);
    CHECK_INT(p->row, 0);
    pick_undo(p->next); /* bM1 */
    CHECK_INT(roster_batch(&r, "bM")->active, 1);
    CHECK_INT(roster_batch(&r, "bM")->ws->active, 4);
    describe(p, got, sizeof got);
    CHECK_STR(got, "bM0 bM1 bN0 bN1 bO0");
    pr = round_at(1000, 0, 10);
    describe(run(&f, &r, &pr), got, sizeof got);
    CHECK_STR(got, "bM1");
    CHECK_INT(roster_batch(&r, "bM")->active, 2);
    roster_free(&r);
    fx_close(&f);
}

/* Retries wait in the due index: taken once due (earliest first), never before, and rows with a
 * retry scheduled are skipped by the scan for first attempts. */
static void test_due_retries(void)
{
    struct fx f;
    fx_open(&f);
    fx_workspace(&f.s, "ws_W", BIG_CPS, BIG_CALLS);
    fx_batch(&f.s, &(struct fx_batch){.id = "bR", .ws = "ws_W", .created_ms = 100, .rows = 0});
    struct job_head h0 = fx_head(0, JOB_WAITING), h1 = fx_head(1, JOB_WAITING),
                    h2 = fx_head(2, JOB_WAITING), h3 = fx_head(3, JOB_COMPLETED);
    h0.next_attempt_ms = 5000;
    h1.next_attempt_ms = 3000;
    h0.attempts = h1.attempts = 1;
    const char *fields[2] = {"x", "y"};
    fx_job(&f.s, "bR", 0, &h0, fields, 2);
    fx_job(&f.s, "bR", 1, &h1, fields, 2);
    fx_job(&f.s, "bR", 2, &h2, fields, 2);
    fx_job(&f.s, "bR", 3, &h3, fields, 2);
    fx_due(&f.s, "bR", 5000, 0);
    fx_due(&f.s, "bR", 3000, 1);
    struct roster r = {0};
    load(&f, &r, "bR", 0);
    struct roster_batch *b = roster_batch(&r, "bR");
    CHECK_INT(b->retry_due, 3000);
    struct pick_round pr = round_at(2999, 0, 10);
    struct pick *p = run(&f, &r, &pr);
    /* Only the first attempt of row 2 (rows 0 and 1 wait for their retries). */
    CHECK(p && !p->next);
    CHECK_INT(p->row, 2);
    CHECK_INT(p->from_due, 0);
    CHECK_INT(pr.wake, 1);
    count_and_free(p);
    CHECK_INT(b->exhausted, 1);
    CHECK_INT(roster_due(b), 3000);

    pr = round_at(4000, 0, 10);
    p = run(&f, &r, &pr);
    CHECK(p && !p->next);
    CHECK_INT(p->row, 1);
    CHECK_INT(p->from_due, 1);
    CHECK_INT(p->due_ms, 3000);
    CHECK_INT(pr.wake, 1000);
    /* Not recorded: the next round takes it again. */
    pick_undo(p);
    count_and_free(p);
    CHECK_INT(b->retry_due, 3000);
    pr = round_at(4000, 0, 10);
    char got[64];
    describe(run(&f, &r, &pr), got, sizeof got);
    CHECK_STR(got, "bR1");

    pr = round_at(5000, 0, 10);
    p = run(&f, &r, &pr);
    /* Row 1 again (nothing was committed), then row 0. */
    CHECK(p && p->next && !p->next->next);
    CHECK_INT(p->row, 1);
    CHECK_INT(p->next->row, 0);
    CHECK_INT(p->next->from_due, 1);
    CHECK_INT(p->next->due_ms, 5000);
    CHECK_INT(pr.wake, ROSTER_NO_TIME);
    count_and_free(p);
    roster_free(&r);
    fx_close(&f);
}

/* A retry entry whose job is no longer waiting (it ended meanwhile) does not make the first
 * attempt picked after it look like a retry: given back, that pick is found again. */
static void test_stale_due_entry(void)
{
    struct fx f;
    fx_open(&f);
    fx_workspace(&f.s, "ws_W", BIG_CPS, BIG_CALLS);
    fx_batch(&f.s, &(struct fx_batch){.id = "bS", .ws = "ws_W", .created_ms = 100, .rows = 0});
    struct job_head h0 = fx_head(0, JOB_COMPLETED), h1 = fx_head(1, JOB_WAITING);
    const char *fields[2] = {"x", "y"};
    fx_job(&f.s, "bS", 0, &h0, fields, 2);
    fx_job(&f.s, "bS", 1, &h1, fields, 2);
    fx_due(&f.s, "bS", 1000, 0);
    struct roster r = {0};
    load(&f, &r, "bS", 0);
    struct roster_batch *b = roster_batch(&r, "bS");
    struct pick_round pr = round_at(2000, 0, 1);
    struct pick *p = run(&f, &r, &pr);
    CHECK(p && !p->next);
    CHECK_INT(p->row, 1);
    CHECK_INT(p->from_due, 0);
    CHECK_INT(p->due_ms, 0);
    pick_undo(p);
    count_and_free(p);
    CHECK_INT(b->next_row, 1);
    pr = round_at(2000, 0, 1);
    char got[64];
    describe(run(&f, &r, &pr), got, sizeof got);
    CHECK_STR(got, "bS1");
    roster_free(&r);
    fx_close(&f);
}

/* The prompt rendered with the row's values: case-insensitive names, JSON braces kept, missing
 * and empty values rendered as nothing and counted. */
static void test_variables(void)
{
    struct fx f;
    fx_open(&f);
    fx_workspace(&f.s, "ws_W", BIG_CPS, BIG_CALLS);
    fx_batch(&f.s,
             &(struct fx_batch){.id = "bV",
                                .ws = "ws_W",
                                .created_ms = 100,
                                .columns = "[\"phone\",\"name\",\"code\"]",
                                .prompt = "Hi {Name}, code {CODE}{missing} {\"a\": 1} {name}"});
    struct job_head h0 = fx_head(0, JOB_WAITING), h1 = fx_head(1, JOB_WAITING);
    const char *f0[3] = {"+14155550000", "Ada", ""};
    const char *f1[3] = {"+14155550001", "Bo", "42"};
    fx_job(&f.s, "bV", 0, &h0, f0, 3);
    fx_job(&f.s, "bV", 1, &h1, f1, 3);
    struct roster r = {0};
    load(&f, &r, "bV", 0);
    struct roster_batch *b = roster_batch(&r, "bV");
    CHECK_STR(b->from, "+14155550000");
    CHECK_STR(b->voice_url, "https://voice.example/v");
    CHECK_STR(b->agent_id, "agent_1");
    struct pick_round pr = round_at(1000, 0, 10);
    struct pick *p = run(&f, &r, &pr);
    CHECK(p && p->next && !p->next->next);
    CHECK_STR(p->prompt, "Hi Ada, code  {\"a\": 1} Ada");
    CHECK_INT(p->empty_vars, 2);
    CHECK_STR(p->e164, "+14155550000");
    char *vars = cJSON_PrintUnformatted(p->vars);
    CHECK_STR(vars, "{\"phone\":\"+14155550000\",\"name\":\"Ada\",\"code\":\"\"}");
    free(vars);
    CHECK_STR(p->next->prompt, "Hi Bo, code 42 {\"a\": 1} Bo");
    CHECK_INT(p->next->empty_vars, 1);
    CHECK_STR(p->next->e164, "+14155550001");
    count_and_free(p);
    roster_free(&r);
    fx_close(&f);
}

/* Paused batches are loaded but not dialled; final ones leave memory. */
static void test_paused_and_final(void)
{
    struct fx f;
    fx_open(&f);
    fx_workspace(&f.s, "ws_W", BIG_CPS, BIG_CALLS);
    fx_batch(&f.s, &(struct fx_batch){
                       .id = "bU", .ws = "ws_W", .created_ms = 100, .paused = 1, .rows = 2});
    fx_batch(
        &f.s,
        &(struct fx_batch){
            .id = "bF", .ws = "ws_W", .created_ms = 100, .status = BATCH_CANCELLED, .rows = 2});
    struct roster r = {0};
    load(&f, &r, "bU", 0);
    load(&f, &r, "bF", 0);
    CHECK(roster_batch(&r, "bF") == NULL);
    CHECK(roster_batch(&r, "bU") != NULL);
    CHECK_INT(roster_batch(&r, "bU")->dialable, 0);
    struct pick_round pr = round_at(1000, 0, 10);
    CHECK(run(&f, &r, &pr) == NULL);
    CHECK_INT(pr.wake, ROSTER_NO_TIME);
    /* Resumed. */
    struct batch_rec rec = fx_batch_get(&f.s, "bU");
    rec.paused = 0;
    fx_set_batch(&f.s, &rec);
    load(&f, &r, "bU", 0);
    pr = round_at(1000, 0, 10);
    CHECK_INT(count_and_free(run(&f, &r, &pr)), 2);
    /* Stopped with calls in progress: it stays until they end. */
    roster_stop(&r, "bU");
    CHECK(roster_batch(&r, "bU") != NULL);
    CHECK_INT(roster_batch(&r, "bU")->dialable, 0);
    roster_free(&r);
    fx_close(&f);
}

CHECK_MAIN(CHECK_CASE(test_round_robin_between_workspaces),
           CHECK_CASE(test_turns_under_provider_limit),
           CHECK_CASE(test_batches_earliest_due_then_oldest), CHECK_CASE(test_scheduled_at),
           CHECK_CASE(test_workspace_bucket), CHECK_CASE(test_batch_bucket),
           CHECK_CASE(test_workspace_concurrency), CHECK_CASE(test_batch_concurrency),
           CHECK_CASE(test_due_retries), CHECK_CASE(test_stale_due_entry),
           CHECK_CASE(test_variables), CHECK_CASE(test_paused_and_final))
