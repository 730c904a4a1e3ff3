/* Tests for src/webhooks/outbox.c: what emit writes (one entry per target, increasing sequence,
 * event ids), how the delivery worker reads entries back, and numbering after a reopen. */
#include <string.h>

#include "check.h"
#include "tmpstore.h"
#include "util/err.h"
#include "webhooks/outbox.h"
#include "webhooks/target.h"

#define WS_ID    "ws_01JDX3TESTWORKSPACE000000"
#define BATCH_ID "batch_01JDX3TESTBATCH00000000000"

struct fixture {
    struct tmpdir dir;
    struct store s;
    struct outbox *o;
};

static int put_txn(struct store_txn *t, void *arg)
{
    const char **kv = arg;
    return store_put(t, kv[0] ? DB_BATCHMETA : DB_WS, kv[0] ? kv[0] : WS_ID,
                     strlen(kv[0] ? kv[0] : WS_ID), kv[1], strlen(kv[1]), 0);
}

static void setup(struct fixture *f, const char *ws_url, const char *batch_url)
{
    tmpdir_make(&f->dir);
    CHECK_INT(open_store(&f->s, f->dir.path, 8u << 20, 64u << 20), 0);
    const char *ws[2] = {NULL, "{}"};
    CHECK_INT(store_write(&f->s, put_txn, ws), 0);
    char meta[256];
    snprintf(meta, sizeof meta, "{\"webhookUrl\":\"%s\"}", batch_url ? batch_url : "");
    const char *bm[2] = {BATCH_ID, meta};
    CHECK_INT(store_write(&f->s, put_txn, bm), 0);
    if (ws_url) {
        char secret[SIGNING_SECRET_LEN + 1];
        uint64_t created;
        CHECK_INT(target_set(&f->s, WS_ID, strlen(WS_ID), ws_url, secret, &created), 0);
    }
    CHECK_INT(outbox_open(&f->o, &f->s), 0);
}

static void teardown(struct fixture *f)
{
    outbox_free(f->o);
    store_close(&f->s);
    tmpdir_remove(&f->dir);
}

struct emit_args {
    struct outbox *o;
    const char *type;
    int n;
    int results[8];
};

/* The batch of the fixture's events. */
static void test_batch(struct batch_rec *b)
{
    memset(b, 0, sizeof *b);
    snprintf(b->id, sizeof b->id, "%s", BATCH_ID);
    snprintf(b->ws, sizeof b->ws, "%s", WS_ID);
}

static int emit_txn(struct store_txn *t, void *arg)
{
    struct emit_args *a = arg;
    struct batch_rec b;
    test_batch(&b);
    for (int i = 0; i < a->n; i++) {
        cJSON *data = cJSON_CreateObject();
        cJSON_AddNumberToObject(data, "i", i);
        a->results[i] = outbox_emit(a->o, t, &b, a->type, data);
    }
    return 0;
}

struct seen {
    uint64_t seqs[16];
    char urls[16][64];
    size_t n;
    int fail_at; /* visit number that returns BC_ENOMEM, or -1 */
};

static int visit(void *ctx, uint64_t seq, const char *url)
{
    struct seen *s = ctx;
    if ((int)s->n == s->fail_at)
        return BC_ENOMEM;
    s->seqs[s->n] = seq;
    snprintf(s->urls[s->n], sizeof s->urls[0], "%s", url ? url : "(none)");
    s->n++;
    return 0;
}

static int read_entry(struct store *st, uint64_t seq, struct outbox_entry *e, struct buf *body)
{
    struct store_txn t;
    int rc = store_read_begin(st, &t);
    if (!rc)
        rc = outbox_read(&t, seq, e, body);
    store_read_end(&t);
    return rc;
}

/* Each event gets the next sequence and a new, increasing evt_ id; entries start with no attempt.
 */
static void test_emit_increasing_sequence(void)
{
    struct fixture f;
    setup(&f, "https://ws.example/h", NULL);
    struct emit_args a = {.o = f.o, .type = "call.completed", .n = 3};
    CHECK_INT(store_write(&f.s, emit_txn, &a), 0);
    for (int i = 0; i < 3; i++)
        CHECK_INT(a.results[i], 1);
    struct seen s = {.fail_at = -1};
    CHECK_INT(outbox_scan(&f.s, 0, 100, visit, &s), 3);
    char prev_id[ID_MAX] = "";
    for (size_t i = 0; i < s.n; i++) {
        CHECK_INT(s.seqs[i], i + 1);
        CHECK_STR(s.urls[i], "https://ws.example/h");
        struct outbox_entry e;
        struct buf body = {0};
        CHECK_INT(read_entry(&f.s, s.seqs[i], &e, &body), 0);
        CHECK(e.valid);
        CHECK(strncmp(e.id, "evt_", 4) == 0 && strcmp(prev_id, e.id) < 0);
        snprintf(prev_id, sizeof prev_id, "%s", e.id);
        CHECK_STR(e.type, "call.completed");
        CHECK_STR(e.ws, WS_ID);
        CHECK(e.created_ms > 0);
        CHECK_INT(e.attempts, 0);
        CHECK_INT(e.next_at_ms, 0);
        /* The body is exactly {"id","type","createdAt","data"}. */
        cJSON *o = cJSON_ParseWithLength(body.data, body.len);
        CHECK_INT(cJSON_GetArraySize(o), 4);
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "id")), e.id);
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data");
        CHECK_INT(cJSON_GetObjectItemCaseSensitive(data, "i")->valueint, (int)i);
        cJSON_Delete(o);
        buf_free(&body);
    }
    /* A reopened outbox numbers after the entries already there. */
    outbox_free(f.o);
    CHECK_INT(outbox_open(&f.o, &f.s), 0);
    a.o = f.o;
    a.n = 1;
    CHECK_INT(store_write(&f.s, emit_txn, &a), 0);
    s.n = 0;
    CHECK_INT(outbox_scan(&f.s, 4, 100, visit, &s), 1);
    CHECK_INT(s.seqs[0], 4);
    teardown(&f);
}

/* Without a target nothing is written and no secret is made. */
static void test_emit_without_target(void)
{
    struct fixture f;
    setup(&f, NULL, NULL);
    struct emit_args a = {.o = f.o, .type = "batch.started", .n = 2};
    CHECK_INT(store_write(&f.s, emit_txn, &a), 0);
    CHECK_INT(a.results[0], 0);
    struct seen s = {.fail_at = -1};
    CHECK_INT(outbox_scan(&f.s, 0, 100, visit, &s), 0);
    struct store_txn t;
    struct target tg;
    CHECK_INT(store_read_begin(&f.s, &t), 0);
    CHECK_INT(target_get(&t, WS_ID, strlen(WS_ID), &tg), BC_ENOTFOUND);
    store_read_end(&t);
    teardown(&f);
}

/* A batch webhookUrl as well: one entry per target; the same URL twice is one target. A batch
 * target in a workspace without a record gives the workspace a secret. */
static void test_emit_batch_target(void)
{
    struct fixture f;
    setup(&f, "https://ws.example/h", "https://batch.example/h");
    struct emit_args a = {.o = f.o, .type = "batch.completed", .n = 1};
    CHECK_INT(store_write(&f.s, emit_txn, &a), 0);
    struct seen s = {.fail_at = -1};
    CHECK_INT(outbox_scan(&f.s, 0, 100, visit, &s), 2);
    CHECK_STR(s.urls[0], "https://ws.example/h");
    CHECK_STR(s.urls[1], "https://batch.example/h");
    teardown(&f);

    setup(&f, NULL, "https://batch.example/h");
    a.o = f.o;
    CHECK_INT(store_write(&f.s, emit_txn, &a), 0);
    s.n = 0;
    CHECK_INT(outbox_scan(&f.s, 0, 100, visit, &s), 1);
    struct store_txn t;
    struct target tg;
    CHECK_INT(store_read_begin(&f.s, &t), 0);
    CHECK_INT(target_get(&t, WS_ID, strlen(WS_ID), &tg), 0);
    store_read_end(&t);
    CHECK_STR(tg.url, "");
    CHECK_INT(strlen(tg.secret), SIGNING_SECRET_LEN);
    teardown(&f);

    /* The upload form accepts "http:///x"; delivery does not, so it is no target. */
    setup(&f, NULL, "http:///x");
    a.o = f.o;
    CHECK_INT(store_write(&f.s, emit_txn, &a), 0);
    CHECK_INT(a.results[0], 0);
    teardown(&f);
}

struct retry_args {
    uint64_t seq;
    int del;
};

static int retry_txn(struct store_txn *t, void *arg)
{
    struct retry_args *a = arg;
    return a->del ? outbox_delete(t, a->seq) : outbox_set_retry(t, a->seq, 3, 123456);
}

/* A retry is remembered in the entry; a deleted entry is gone, and deleting it again is fine. */
static void test_retry_and_delete(void)
{
    struct fixture f;
    setup(&f, "https://ws.example/h", NULL);
    struct emit_args a = {.o = f.o, .type = "call.failed", .n = 2};
    CHECK_INT(store_write(&f.s, emit_txn, &a), 0);
    struct retry_args r = {1, 0};
    CHECK_INT(store_write(&f.s, retry_txn, &r), 0);
    struct outbox_entry e;
    struct buf body = {0};
    CHECK_INT(read_entry(&f.s, 1, &e, &body), 0);
    CHECK_INT(e.attempts, 3);
    CHECK_INT(e.next_at_ms, 123456);
    r.del = 1;
    CHECK_INT(store_write(&f.s, retry_txn, &r), 0);
    CHECK_INT(store_write(&f.s, retry_txn, &r), 0);
    CHECK_INT(read_entry(&f.s, 1, &e, &body), BC_ENOTFOUND);
    r.del = 0; /* a retry of a deleted entry changes nothing */
    CHECK_INT(store_write(&f.s, retry_txn, &r), 0);
    CHECK_INT(read_entry(&f.s, 1, &e, &body), BC_ENOTFOUND);
    buf_free(&body);
    teardown(&f);
}

/* scan visits at most max entries from a sequence on, and stops at the visitor's error. */
static void test_scan_bounds(void)
{
    struct fixture f;
    setup(&f, "https://ws.example/h", NULL);
    struct emit_args a = {.o = f.o, .type = "call.completed", .n = 5};
    CHECK_INT(store_write(&f.s, emit_txn, &a), 0);
    struct seen s = {.fail_at = -1};
    CHECK_INT(outbox_scan(&f.s, 2, 2, visit, &s), 2);
    CHECK_INT(s.seqs[0], 2);
    CHECK_INT(s.seqs[1], 3);
    struct seen s2 = {.fail_at = 1};
    CHECK_INT(outbox_scan(&f.s, 0, 100, visit, &s2), BC_ENOMEM);
    CHECK_INT(s2.n, 1);
    teardown(&f);
}

/* emit_built builds the data only for an event that is recorded, once, and the entry holds it:
 * with the workspace's target, with only the batch's webhookUrl, and not at all with neither. */
struct lazy_args {
    struct outbox *o;
    int built;
    int result;
};

static cJSON *build_counted(const void *ctx)
{
    struct lazy_args *a = (struct lazy_args *)ctx;
    cJSON *data = cJSON_CreateObject();
    cJSON_AddNumberToObject(data, "built", ++a->built);
    return data;
}

static int lazy_txn(struct store_txn *t, void *arg)
{
    struct lazy_args *a = arg;
    struct batch_rec b;
    test_batch(&b);
    a->result = outbox_emit_built(a->o, t, &b, "call.completed", build_counted, a);
    return 0;
}

static void test_emit_built(void)
{
    const char *ws_urls[3] = {"https://ws.example/h", NULL, NULL};
    const char *batch_urls[3] = {NULL, "https://batch.example/h", NULL};
    for (int k = 0; k < 3; k++) {
        struct fixture f;
        setup(&f, ws_urls[k], batch_urls[k]);
        struct lazy_args a = {.o = f.o};
        CHECK_INT(store_write(&f.s, lazy_txn, &a), 0);
        struct seen s = {.fail_at = -1};
        CHECK_INT(outbox_scan(&f.s, 0, 100, visit, &s), k < 2 ? 1 : 0);
        CHECK_INT(a.result, k < 2 ? 1 : 0);
        CHECK_INT(a.built, k < 2 ? 1 : 0);
        if (k < 2) {
            CHECK_STR(s.urls[0], ws_urls[k] ? ws_urls[k] : batch_urls[k]);
            struct outbox_entry e;
            struct buf body = {0};
            CHECK_INT(read_entry(&f.s, s.seqs[0], &e, &body), 0);
            cJSON *o = cJSON_ParseWithLength(body.data, body.len);
            const cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data");
            CHECK_INT(cJSON_GetObjectItemCaseSensitive(data, "built")->valueint, 1);
            cJSON_Delete(o);
            buf_free(&body);
        }
        teardown(&f);
    }
}

CHECK_MAIN(CHECK_CASE(test_emit_increasing_sequence), CHECK_CASE(test_emit_without_target),
           CHECK_CASE(test_emit_batch_target), CHECK_CASE(test_retry_and_delete),
           CHECK_CASE(test_scan_bounds), CHECK_CASE(test_emit_built))
