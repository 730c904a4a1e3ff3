/* Workspace settings (src/model/workspace.c): defaults, the limits' bounds and their messages,
 * and decoding stored records, good and broken. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "tmpstore.h"
#include "model/workspace.h"
#include "util/err.h"
#include "util/json.h"

static void test_defaults(void)
{
    struct ws_settings ws;
    memset(&ws, 0x5a, sizeof ws);
    workspace_defaults(&ws);
    CHECK(ws.calls_per_second == 10.0);
    CHECK_INT(ws.max_concurrent_calls, 50);
    CHECK_INT(ws.requests_per_minute, 600);
    CHECK_INT(ws.max_records, 1000000);
    CHECK_INT(ws.created_ms, 0);
    CHECK_STR(ws.id, "");
    CHECK_STR(ws.name, "");
}

static struct ws_settings valid(void)
{
    struct ws_settings ws;
    workspace_defaults(&ws);
    strcpy(ws.name, "Acme");
    return ws;
}

#define MSG_CPS     "--calls-per-second must be more than 0 and at most 100000"
#define MSG_CALLS   "--max-concurrent-calls must be from 1 to 1000000"
#define MSG_RPM     "--requests-per-minute must be from 1 to 1000000000"
#define MSG_RECORDS "--max-records must be from 1 to 100000000"

static void expect(const struct ws_settings *ws, int rc, const char *msg)
{
    char got[128] = "untouched";
    CHECK_INT(workspace_validate(ws, got, sizeof got), rc);
    CHECK_STR(got, msg);
}

static void test_validate_bounds(void)
{
    struct ws_settings ws = valid();
    expect(&ws, 0, "untouched");
    ws.name[0] = '\0';
    expect(&ws, BC_EINVAL, "the workspace needs a --name");

    static const double bad_cps[] = {0, -1, 100000.001, 1e9};
    for (size_t i = 0; i < sizeof bad_cps / sizeof bad_cps[0]; i++) {
        ws = valid();
        ws.calls_per_second = bad_cps[i];
        expect(&ws, BC_EINVAL, MSG_CPS);
    }
    ws = valid();
    ws.calls_per_second = NAN;
    expect(&ws, BC_EINVAL, MSG_CPS);
    ws.calls_per_second = 100000;
    expect(&ws, 0, "untouched");
    ws.calls_per_second = 0.001;
    expect(&ws, 0, "untouched");

    ws = valid();
    ws.max_concurrent_calls = 0;
    expect(&ws, BC_EINVAL, MSG_CALLS);
    ws.max_concurrent_calls = 1000001;
    expect(&ws, BC_EINVAL, MSG_CALLS);
    ws.max_concurrent_calls = 1;
    expect(&ws, 0, "untouched");
    ws.max_concurrent_calls = 1000000;
    expect(&ws, 0, "untouched");

    ws = valid();
    ws.requests_per_minute = 0;
    expect(&ws, BC_EINVAL, MSG_RPM);
    ws.requests_per_minute = 1000000001;
    expect(&ws, BC_EINVAL, MSG_RPM);
    ws.requests_per_minute = 1000000000;
    expect(&ws, 0, "untouched");

    ws = valid();
    ws.max_records = 0;
    expect(&ws, BC_EINVAL, MSG_RECORDS);
    ws.max_records = 100000001;
    expect(&ws, BC_EINVAL, MSG_RECORDS);
    ws.max_records = 100000000;
    expect(&ws, 0, "untouched");
    ws.max_records = 1;
    expect(&ws, 0, "untouched");

    /* The first bad value is the one named; a short buffer gets a truncated sentence. */
    ws = valid();
    ws.max_concurrent_calls = 0;
    ws.max_records = 0;
    expect(&ws, BC_EINVAL, MSG_CALLS);
    char small[8];
    CHECK_INT(workspace_validate(&ws, small, sizeof small), BC_EINVAL);
    CHECK_STR(small, "--max-c");
}

static void test_json_round_trip(void)
{
    struct ws_settings ws = valid();
    strcpy(ws.id, "ws_01KBX0000000000000000000AA");
    ws.calls_per_second = 2.5;
    ws.max_concurrent_calls = 7;
    ws.requests_per_minute = 1234;
    ws.max_records = 99;
    ws.created_ms = 1767225600123ull;
    cJSON *o = workspace_to_json(&ws);
    struct buf b = {0};
    CHECK_INT(json_render(&b, o), 0);
    cJSON_Delete(o);
    CHECK_MEM(b.data, b.len,
              "{\"workspaceId\":\"ws_01KBX0000000000000000000AA\",\"name\":\"Acme\","
              "\"callsPerSecond\":2.5,\"maxConcurrentCalls\":7,\"requestsPerMinute\":1234,"
              "\"maxRecords\":99,\"createdAt\":1767225600123}");
    struct ws_settings got;
    memset(&got, 0x5a, sizeof got);
    CHECK_INT(workspace_decode(b.data, b.len, &got), 0);
    CHECK(memcmp(&got, &ws, sizeof ws) == 0);
    buf_free(&b);
}

#define GOOD_ID "\"workspaceId\":\"ws_1\""
#define GOOD_REST                                                                                  \
    "\"callsPerSecond\":3,\"maxConcurrentCalls\":4,\"requestsPerMinute\":5,"                       \
    "\"maxRecords\":6,\"createdAt\":7"

static void test_decode(void)
{
    const char *good = "{" GOOD_ID ",\"name\":\"n\"," GOOD_REST ",\"extra\":true}";
    struct ws_settings ws;
    CHECK_INT(workspace_decode(good, strlen(good), &ws), 0);
    CHECK_STR(ws.id, "ws_1");
    CHECK_STR(ws.name, "n");
    CHECK(ws.calls_per_second == 3);
    CHECK_INT(ws.max_concurrent_calls, 4);
    CHECK_INT(ws.requests_per_minute, 5);
    CHECK_INT(ws.max_records, 6);
    CHECK_INT(ws.created_ms, 7);
    /* Only the length given is read. */
    CHECK_INT(workspace_decode(good, strlen(good) - 1, &ws), BC_ECORRUPT);

    char name127[200], name128[200], id39[100], id40[100];
    memset(name127, 'n', 127);
    name127[127] = '\0';
    memset(name128, 'n', 128);
    name128[128] = '\0';
    memset(id39, 'i', 39);
    id39[39] = '\0';
    memset(id40, 'i', 40);
    id40[40] = '\0';
    char rec[1024];
    snprintf(rec, sizeof rec, "{" GOOD_ID ",\"name\":\"%s\"," GOOD_REST "}", name127);
    CHECK_INT(workspace_decode(rec, strlen(rec), &ws), 0);
    CHECK_INT(strlen(ws.name), 127);
    snprintf(rec, sizeof rec, "{" GOOD_ID ",\"name\":\"%s\"," GOOD_REST "}", name128);
    CHECK_INT(workspace_decode(rec, strlen(rec), &ws), BC_ECORRUPT);
    snprintf(rec, sizeof rec, "{\"workspaceId\":\"%s\",\"name\":\"n\"," GOOD_REST "}", id39);
    CHECK_INT(workspace_decode(rec, strlen(rec), &ws), 0);
    snprintf(rec, sizeof rec, "{\"workspaceId\":\"%s\",\"name\":\"n\"," GOOD_REST "}", id40);
    CHECK_INT(workspace_decode(rec, strlen(rec), &ws), BC_ECORRUPT);

    static const char *const broken[] = {
        "",
        "not json",
        "[]",
        "{" GOOD_ID "," GOOD_REST "}",            /* no name */
        "{\"name\":\"n\"," GOOD_REST "}",         /* no id */
        "{" GOOD_ID ",\"name\":7," GOOD_REST "}", /* name not a string */
        "{" GOOD_ID ",\"name\":\"n\",\"callsPerSecond\":\"3\",\"maxConcurrentCalls\":4,"
        "\"requestsPerMinute\":5,\"maxRecords\":6,\"createdAt\":7}",
        "{" GOOD_ID ",\"name\":\"n\",\"callsPerSecond\":3,\"requestsPerMinute\":5,"
        "\"maxRecords\":6,\"createdAt\":7}",
        "{" GOOD_ID ",\"name\":\"n\",\"callsPerSecond\":3,\"maxConcurrentCalls\":4,"
        "\"maxRecords\":6,\"createdAt\":7}",
        "{" GOOD_ID ",\"name\":\"n\",\"callsPerSecond\":3,\"maxConcurrentCalls\":4,"
        "\"requestsPerMinute\":5,\"createdAt\":7}",
        "{" GOOD_ID ",\"name\":\"n\",\"callsPerSecond\":3,\"maxConcurrentCalls\":4,"
        "\"requestsPerMinute\":5,\"maxRecords\":6}",
        "{" GOOD_ID ",\"name\":\"n\",\"callsPerSecond\":3,\"maxConcurrentCalls\":null,"
        "\"requestsPerMinute\":5,\"maxRecords\":6,\"createdAt\":7}",
        /* Counts a uint64_t cannot hold (found by fuzz_workspace: converting them was undefined
         * behaviour). */
        "{" GOOD_ID ",\"name\":\"n\",\"callsPerSecond\":3,\"maxConcurrentCalls\":4,"
        "\"requestsPerMinute\":5,\"maxRecords\":1e30,\"createdAt\":7}",
        "{" GOOD_ID ",\"name\":\"n\",\"callsPerSecond\":3,\"maxConcurrentCalls\":-1,"
        "\"requestsPerMinute\":5,\"maxRecords\":6,\"createdAt\":7}",
        "{" GOOD_ID ",\"name\":\"n\",\"callsPerSecond\":3,\"maxConcurrentCalls\":4,"
        "\"requestsPerMinute\":18446744073709551616,\"maxRecords\":6,\"createdAt\":7}",
        "{" GOOD_ID ",\"name\":\"n\",\"callsPerSecond\":3,\"maxConcurrentCalls\":4,"
        "\"requestsPerMinute\":5,\"maxRecords\":6,\"createdAt\":-1e300}",
    };
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++)
        CHECK_REPORT(workspace_decode(broken[i], strlen(broken[i]), &ws) == BC_ECORRUPT,
                     "broken record %zu decodes", i);
}

static int put_txn(struct store_txn *t, void *arg)
{
    const char *const *kv = arg;
    return store_put(t, DB_WS, kv[0], strlen(kv[0]), kv[1], strlen(kv[1]), 0);
}

static void test_get(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1024 * 1024, 16 * 1024 * 1024), 0);
    const char *good[2] = {"ws_1", "{" GOOD_ID ",\"name\":\"n\"," GOOD_REST "}"};
    const char *bad[2] = {"ws_2", "{" GOOD_ID "}"};
    CHECK_INT(store_write(&s, put_txn, good), 0);
    CHECK_INT(store_write(&s, put_txn, bad), 0);
    struct store_txn t;
    CHECK_INT(store_read_begin(&s, &t), 0);
    struct ws_settings ws;
    CHECK_INT(workspace_get(&t, "ws_1", 4, &ws), 0);
    CHECK_INT(ws.max_concurrent_calls, 4);
    CHECK_INT(workspace_get(&t, "ws_2", 4, &ws), BC_ECORRUPT);
    CHECK_INT(workspace_get(&t, "ws_3", 4, &ws), BC_ENOTFOUND);
    CHECK_INT(workspace_get(&t, "ws_12", 4, &ws), 0); /* (ptr, len): "ws_1" */
    store_read_end(&t);
    store_close(&s);
    tmpdir_remove(&d);
}

CHECK_MAIN(CHECK_CASE(test_defaults), CHECK_CASE(test_validate_bounds),
           CHECK_CASE(test_json_round_trip), CHECK_CASE(test_decode), CHECK_CASE(test_get))
