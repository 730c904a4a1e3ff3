/* Tests for src/webhooks/target.c: the workspace's webhook record. */
#include <string.h>

#include "check.h"
#include "tmpstore.h"
#include "util/err.h"
#include "webhooks/target.h"

#define WS_ID "ws_01JDX3TESTWORKSPACE000000"

static int put_ws_txn(struct store_txn *t, void *arg)
{
    (void)arg;
    return store_put(t, DB_WS, WS_ID, strlen(WS_ID), "{}", 2, 0);
}

static int read_target(struct store *s, struct target *out)
{
    struct store_txn t;
    int rc = store_read_begin(s, &t);
    if (!rc)
        rc = target_get(&t, WS_ID, strlen(WS_ID), out);
    store_read_end(&t);
    return rc;
}

static void test_set_rotates_and_remove(void)
{
    struct tmpdir d;
    struct store s;
    tmpdir_make(&d);
    CHECK_INT(open_store(&s, d.path, 8u << 20, 64u << 20), 0);
    CHECK_INT(store_write(&s, put_ws_txn, NULL), 0);
    char s1[SIGNING_SECRET_LEN + 1], s2[SIGNING_SECRET_LEN + 1];
    uint64_t created;
    struct target tg;
    CHECK_INT(read_target(&s, &tg), BC_ENOTFOUND);
    CHECK_INT(target_set(&s, WS_ID, strlen(WS_ID), "https://a.example/h", s1, &created), 0);
    CHECK_INT(strlen(s1), SIGNING_SECRET_LEN);
    CHECK(strncmp(s1, "whsec_", 6) == 0);
    CHECK(created > 0);
    CHECK_INT(read_target(&s, &tg), 0);
    CHECK_STR(tg.url, "https://a.example/h");
    CHECK_STR(tg.secret, s1);
    CHECK_INT(tg.created_ms, created);
    CHECK_INT(target_set(&s, WS_ID, strlen(WS_ID), "https://a.example/h", s2, &created), 0);
    CHECK(strcmp(s1, s2) != 0);
    CHECK_INT(target_set(&s, WS_ID, strlen(WS_ID), "mailto:x", s2, &created), BC_EINVAL);
    CHECK_INT(target_set(&s, WS_ID, strlen(WS_ID), "http:///x", s2, &created), BC_EINVAL);
    CHECK_INT(target_set(&s, "ws_nope", 7, "https://a.example/h", s2, &created), BC_ENOTFOUND);
    /* No URL: only a secret, for batch webhookUrls. */
    CHECK_INT(target_set(&s, WS_ID, strlen(WS_ID), NULL, s2, &created), 0);
    CHECK_INT(read_target(&s, &tg), 0);
    CHECK_STR(tg.url, "");
    CHECK_STR(tg.secret, s2);
    CHECK_INT(target_remove(&s, WS_ID, strlen(WS_ID)), 0);
    CHECK_INT(target_remove(&s, WS_ID, strlen(WS_ID)), BC_ENOTFOUND);
    CHECK_INT(read_target(&s, &tg), BC_ENOTFOUND);
    store_close(&s);
    tmpdir_remove(&d);
}

static int put_bad_txn(struct store_txn *t, void *arg)
{
    return store_put(t, DB_WEBHOOK, WS_ID, strlen(WS_ID), arg, strlen(arg), 0);
}

/* A record without a secret, or not JSON, is reported corrupt rather than used. */
static void test_corrupt_record(void)
{
    static const char *const bad[] = {"{\"url\":\"https://a.example\"}", "not json",
                                      "{\"secret\":5}"};
    struct tmpdir d;
    struct store s;
    tmpdir_make(&d);
    CHECK_INT(open_store(&s, d.path, 8u << 20, 64u << 20), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct target tg;
        CHECK_INT(store_write(&s, put_bad_txn, (void *)bad[i]), 0);
        CHECK_INT(read_target(&s, &tg), BC_ECORRUPT);
    }
    store_close(&s);
    tmpdir_remove(&d);
}

CHECK_MAIN(CHECK_CASE(test_set_rotates_and_remove), CHECK_CASE(test_corrupt_record))
