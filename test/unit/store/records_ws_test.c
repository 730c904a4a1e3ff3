/* Tests for the fleet section of src/store/records.c: which keys belong to a workspace in each
 * table (records_ws_owns), never those of a workspace whose id starts like it or of another
 * workspace's batches; the walk from a start key (what drop resumes from); and the outbox
 * sequence an import starts at. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tmpstore.h"
#include "store/records.h"
#include "util/err.h"

#define WS    "ws_01AAAAAAAAAAAAAAAAAAAAAAAA"
#define WS2   "ws_01AAAAAAAAAAAAAAAAAAAAAAAAB" /* starts like WS */
#define BATCH "batch_01BBBBBBBBBBBBBBBBBBBBBBBB"
#define OTHER "batch_01CCCCCCCCCCCCCCCCCCCCCCCC"

static const struct records_ws_table *table(enum store_db db)
{
    for (size_t i = 0; i < records_ws_ntables; i++)
        if (records_ws_tables[i].db == db)
            return &records_ws_tables[i];
    return NULL;
}

static int owns(enum store_db db, const void *k, size_t kl, const void *v, size_t vl)
{
    struct records_ws w = {.ws = WS, .wslen = strlen(WS)};
    records_ws_add_batch(&w, BATCH, strlen(BATCH));
    struct store_val key = {k, kl}, val = {v, vl};
    int yes = records_ws_owns(table(db), &w, &key, &val);
    records_ws_free(&w);
    return yes;
}

static void test_tables(void)
{
    /* Every table of the list is named once, and the last ones are last. */
    int seen_last = 0;
    for (size_t i = 0; i < records_ws_ntables; i++) {
        const struct records_ws_table *t = &records_ws_tables[i];
        CHECK(records_ws_table_named(t->name, strlen(t->name)) == t);
        CHECK(!seen_last || t->last);
        seen_last |= t->last;
    }
    CHECK(records_ws_table_named("nosuch", 6) == NULL);
    CHECK(table(DB_WS)->last && table(DB_BATCH)->last && table(DB_OUTBOX)->last);
    CHECK(table(DB_META) == NULL);
}

static void test_ownership(void)
{
    uint8_t k[256];
    char c[256];
    CHECK(owns(DB_WS, WS, strlen(WS), "{}", 2));
    CHECK(!owns(DB_WS, WS2, strlen(WS2), "{}", 2));
    size_t n = agent_key(c, WS, strlen(WS), "agent_1", 7);
    CHECK(owns(DB_AGENT, c, n, "{}", 2));
    n = agent_key(c, WS2, strlen(WS2), "agent_1", 7);
    CHECK(!owns(DB_AGENT, c, n, "{}", 2));
    n = ws2batch_key(k, WS, strlen(WS), 1000, BATCH, strlen(BATCH));
    CHECK(owns(DB_WS2BATCH, k, n, "", 0));
    n = ws2batch_key(k, WS, strlen(WS), 1000, OTHER, strlen(OTHER));
    CHECK(!owns(DB_WS2BATCH, k, n, "", 0));
    n = usage_key(k, WS, 5, BATCH, 1, 1);
    CHECK(owns(DB_USAGE, k, n, "", 0));
    CHECK(!owns(DB_USAGE, k, n - 1, "", 0));
    n = usage_key(k, WS2, 5, BATCH, 1, 1);
    CHECK(!owns(DB_USAGE, k, n, "", 0));
    n = delivery_key(k, WS, strlen(WS), 5, 9);
    CHECK(owns(DB_DELIVERY, k, n, "{}", 2));
    n = delivery_key(k, WS2, strlen(WS2), 5, 9);
    CHECK(!owns(DB_DELIVERY, k, n, "{}", 2));
    n = job_key(k, BATCH, 7);
    CHECK(owns(DB_JOB, k, n, "x", 1));
    n = job_key(k, OTHER, 7);
    CHECK(!owns(DB_JOB, k, n, "x", 1));
    CHECK(owns(DB_BATCH, BATCH, strlen(BATCH), "x", 1));
    CHECK(!owns(DB_BATCH, OTHER, strlen(OTHER), "x", 1));
    n = sid_value(k, BATCH, 3, 1);
    CHECK(owns(DB_SID, "CA1", 3, k, n));
    n = sid_value(k, OTHER, 3, 1);
    CHECK(!owns(DB_SID, "CA1", 3, k, n));
    /* API keys: the record (after the 32-byte hash) begins with the workspace and a newline. */
    memset(c, 'h', SHA256_LEN);
    n = SHA256_LEN + (size_t)sprintf(c + SHA256_LEN, "%s\nkey_1\n5\nlabel", WS);
    CHECK(owns(DB_KEYHASH2WS, "0123456789abcdef", 16, c, n));
    n = SHA256_LEN + (size_t)sprintf(c + SHA256_LEN, "%s\nkey_1\n5\nlabel", WS2);
    CHECK(!owns(DB_KEYHASH2WS, "0123456789abcdef", 16, c, n));
    n = outbox_key(k, 4);
    const char *entry = "{\"id\":\"evt_1\",\"workspace\":\"" WS "\"}";
    CHECK(owns(DB_OUTBOX, k, n, entry, strlen(entry)));
    entry = "{\"id\":\"evt_1\",\"workspace\":\"" WS2 "\"}";
    CHECK(!owns(DB_OUTBOX, k, n, entry, strlen(entry)));
    CHECK(!owns(DB_OUTBOX, k, n, "not json", 8));
}

static int put_all(struct store_txn *t, void *arg)
{
    (void)arg;
    uint8_t k[64];
    for (uint32_t row = 1; row <= 10; row++) {
        store_put(t, DB_JOB, k, job_key(k, BATCH, row), "j", 1, 0);
        store_put(t, DB_JOB, k, job_key(k, OTHER, row), "o", 1, 0);
    }
    store_put(t, DB_OUTBOX, k, outbox_key(k, 77), "{}", 2, 0);
    return t->err;
}

struct seen {
    int n;
    uint32_t last;
};

static int count(void *arg, const struct store_val *key, const struct store_val *val)
{
    (void)val;
    struct seen *s = arg;
    s->n++;
    s->last = key_u32(key, KEY_BATCH_BIN); /* job keys hold the batch id in binary */
    return s->n == 4;                      /* stop after four, as a drop's chunk does */
}

static void test_walk_and_outbox_base(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1 << 20, 64 << 20), 0);
    CHECK_INT(store_write(&s, put_all, NULL), 0);
    struct store_txn t;
    CHECK_INT(store_read_begin(&s, &t), 0);
    struct records_ws w = {.ws = WS, .wslen = strlen(WS)};
    records_ws_add_batch(&w, BATCH, strlen(BATCH));
    struct seen seen = {0};
    CHECK_INT(records_ws_walk(&t, table(DB_JOB), &w, NULL, 0, count, &seen), 1);
    CHECK_INT(seen.n, 4);
    CHECK_INT(seen.last, 4);
    /* From the last key seen on: it again, then the next ones; never the other batch's. */
    uint8_t start[64];
    size_t slen = job_key(start, BATCH, seen.last);
    seen.n = 0;
    CHECK_INT(records_ws_walk(&t, table(DB_JOB), &w, start, slen, count, &seen), 1);
    CHECK_INT(seen.last, 7);
    slen = job_key(start, BATCH, 9);
    seen.n = 0;
    CHECK_INT(records_ws_walk(&t, table(DB_JOB), &w, start, slen, count, &seen), 0);
    CHECK_INT(seen.n, 2);
    /* A start past every key of the workspace's batches. */
    slen = job_key(start, OTHER, 1);
    seen.n = 0;
    CHECK_INT(records_ws_walk(&t, table(DB_JOB), &w, start, slen, count, &seen), 0);
    CHECK_INT(seen.n, 0);
    /* The import's outbox numbers start after the last key and after now << 16. */
    uint64_t base;
    CHECK_INT(records_outbox_import_base(&t, 0, &base), 0);
    CHECK_INT(base, 78);
    CHECK_INT(records_outbox_import_base(&t, 1000, &base), 0);
    CHECK_INT(base, 1000ull << 16);
    store_read_end(&t);
    records_ws_free(&w);
    store_close(&s);
    tmpdir_remove(&d);
}

CHECK_MAIN(CHECK_CASE(test_tables), CHECK_CASE(test_ownership),
           CHECK_CASE(test_walk_and_outbox_base))
