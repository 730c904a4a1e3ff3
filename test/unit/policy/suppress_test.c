/* Workspace do-not-call lists: add, refresh, check (number and +1 area code), delete, list in
 * key order with a cursor, and isolation between workspaces. */
#include "check.h"
#include "tmpstore.h"

#include <string.h>

#include "policy/registry.h"
#include "policy/suppress.h"
#include "util/err.h"

struct add_args {
    const char *ws, *entry, *reason, *source, *call;
    uint64_t now;
    int rc;
};

static int add_txn(struct store_txn *t, void *arg)
{
    struct add_args *a = arg;
    a->rc = suppress_add(t, a->ws, strlen(a->ws), a->entry, strlen(a->entry), a->reason, a->source,
                         a->call, a->now);
    return a->rc < 0 ? a->rc : 0;
}

static int add(struct store *s, const char *ws, const char *entry, uint64_t now)
{
    struct add_args a = {ws, entry, "asked", "api", NULL, now, 0};
    int rc = store_write(s, add_txn, &a);
    return rc ? rc : a.rc;
}

static int del_txn(struct store_txn *t, void *arg)
{
    const char **a = arg;
    return suppress_del(t, a[0], strlen(a[0]), a[1], strlen(a[1]));
}

static enum suppress_source check(struct store *s, const char *ws, const char *num, int reg,
                                  char *entry)
{
    struct store_txn t;
    enum suppress_source src = SUPPRESS_NONE;
    CHECK_INT(store_read_begin(s, &t), 0);
    CHECK_INT(suppress_match(&t, ws, strlen(ws), num, strlen(num), reg, &src, entry), 0);
    enum suppress_source again;
    CHECK_INT(suppress_check(&t, ws, strlen(ws), num, strlen(num), reg, &again), 0);
    CHECK_INT(again, src);
    struct suppress_cache *c;
    CHECK_INT(suppress_cache_open(&c, &t, ws, strlen(ws), reg), 0);
    CHECK_INT(suppress_cache_check(c, num, strlen(num), &again), 0);
    CHECK_INT(again, src);
    CHECK(!suppress_cache_empty(c) || src == SUPPRESS_NONE);
    suppress_cache_close(c);
    store_read_end(&t);
    return src;
}

/* suppress_cache_empty of a new cache of ws's lists. */
static int cache_empty(struct store *s, const char *ws)
{
    struct store_txn t;
    struct suppress_cache *c;
    CHECK_INT(store_read_begin(s, &t), 0);
    CHECK_INT(suppress_cache_open(&c, &t, ws, strlen(ws), 1), 0);
    int empty = suppress_cache_empty(c);
    suppress_cache_close(c);
    store_read_end(&t);
    return empty;
}

/* A cache has nothing to screen against exactly while the workspace's lists are empty (and no
 * registry is in use): what lets an upload skip the screen. */
static void test_cache_empty(void)
{
    struct tmpdir d;
    struct store s;
    tmpdir_make(&d);
    CHECK_INT(open_store(&s, d.path, 1 << 20, 1 << 26), 0);
    CHECK(cache_empty(&s, "ws_e"));
    CHECK_INT(add(&s, "ws_e", "+14155550123", 1000), 0);
    CHECK(!cache_empty(&s, "ws_e"));
    CHECK(cache_empty(&s, "ws_f"));
    CHECK_INT(add(&s, "ws_e", "+1212", 1000), 0);
    const char *num[] = {"ws_e", "+14155550123"}, *npa[] = {"ws_e", "+1212"};
    CHECK_INT(store_write(&s, del_txn, num), 0);
    CHECK(!cache_empty(&s, "ws_e")); /* the area code is left */
    CHECK_INT(store_write(&s, del_txn, npa), 0);
    CHECK(cache_empty(&s, "ws_e"));
    store_close(&s);
    tmpdir_remove(&d);
}

static void test_kinds(void)
{
    CHECK_INT(suppress_kind("+14155550123", 12), SUPPRESS_NUMBER);
    CHECK_INT(suppress_kind("+442079460958", 13), SUPPRESS_NUMBER);
    CHECK_INT(suppress_kind("+1415", 5), SUPPRESS_AREA_CODE);
    CHECK_INT(suppress_kind("+1115", 5), SUPPRESS_INVALID);
    CHECK_INT(suppress_kind("+4415", 5), SUPPRESS_INVALID);
    CHECK_INT(suppress_kind("14155550123", 11), SUPPRESS_INVALID);
    CHECK_INT(suppress_kind("+1415555012a", 12), SUPPRESS_INVALID);
    CHECK_INT(suppress_kind("+1234567890123456", 17), SUPPRESS_INVALID);
    CHECK(suppress_source_valid("api", 3));
    CHECK(suppress_source_valid("crm-sync_2", 10));
    CHECK(!suppress_source_valid("", 0));
    CHECK(!suppress_source_valid("API", 3));
    CHECK(!suppress_source_valid("a b", 3));
}

static void test_add_check_delete(void)
{
    struct tmpdir d;
    struct store s;
    tmpdir_make(&d);
    CHECK_INT(open_store(&s, d.path, 1 << 20, 1 << 26), 0);
    char entry[SUPPRESS_ENTRY_MAX + 1];
    CHECK_INT(check(&s, "ws_a", "+14155550123", 1, entry), SUPPRESS_NONE);
    CHECK_INT(add(&s, "ws_a", "+14155550123", 1000), 0);
    CHECK_INT(add(&s, "ws_a", "+14155550123", 2000), SUPPRESS_REFRESHED);
    CHECK_INT(add(&s, "ws_a", "4155550123", 2000), BC_EINVAL);
    CHECK_INT(check(&s, "ws_a", "+14155550123", 0, entry), SUPPRESS_WORKSPACE);
    CHECK(strcmp(entry, "+14155550123") == 0);
    CHECK_INT(check(&s, "ws_a", "+14155550124", 1, entry), SUPPRESS_NONE);
    /* Another workspace never sees ws_a's entries, nor one whose id extends it. */
    CHECK_INT(check(&s, "ws_b", "+14155550123", 1, entry), SUPPRESS_NONE);
    CHECK_INT(check(&s, "ws_a2", "+14155550123", 1, entry), SUPPRESS_NONE);
    /* The refresh kept createdAt and took the new time as updatedAt. */
    struct store_txn t;
    cJSON *o = NULL;
    CHECK_INT(store_read_begin(&s, &t), 0);
    CHECK_INT(suppress_get(&t, "ws_a", 4, "+14155550123", 12, &o), 0);
    CHECK_INT(suppress_get(&t, "ws_b", 4, "+14155550123", 12, &o), BC_ENOTFOUND);
    store_read_end(&t);
    CHECK(o != NULL);
    CHECK_INT(cJSON_GetObjectItem(o, "createdAt")->valuedouble, 1000);
    CHECK_INT(cJSON_GetObjectItem(o, "updatedAt")->valuedouble, 2000);
    CHECK(strcmp(cJSON_GetObjectItem(o, "phone")->valuestring, "+14155550123") == 0);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "areaCode")));
    CHECK(strcmp(cJSON_GetObjectItem(o, "reason")->valuestring, "asked") == 0);
    cJSON_Delete(o);
    const char *da[] = {"ws_b", "+14155550123"};
    CHECK_INT(store_write(&s, del_txn, da), BC_ENOTFOUND);
    const char *db[] = {"ws_a", "+14155550123"};
    CHECK_INT(store_write(&s, del_txn, db), 0);
    CHECK_INT(check(&s, "ws_a", "+14155550123", 1, entry), SUPPRESS_NONE);
    CHECK_INT(store_write(&s, del_txn, db), BC_ENOTFOUND);
    store_close(&s);
    tmpdir_remove(&d);
}

/* Checks inside one transaction share what they read (the transaction's memo); a write to
 * the lists in that same transaction must be seen by the next check at once. */
static int memo_txn(struct store_txn *t, void *arg)
{
    (void)arg;
    enum suppress_source src;
    const char *num = "+14155550177";
    CHECK_INT(suppress_check(t, "ws_m", 4, num, 12, 1, &src), 0);
    CHECK_INT(src, SUPPRESS_NONE);
    CHECK_INT(suppress_check(t, "ws_n", 4, "+14155550178", 12, 1, &src), 0);
    CHECK_INT(src, SUPPRESS_WORKSPACE);
    CHECK_INT(suppress_add(t, "ws_m", 4, num, 12, "asked", "api", NULL, 5), 0);
    CHECK_INT(suppress_check(t, "ws_m", 4, num, 12, 1, &src), 0);
    CHECK_INT(src, SUPPRESS_WORKSPACE);
    CHECK_INT(suppress_add(t, "ws_m", 4, "+1212", 5, "asked", "api", NULL, 5), 0);
    CHECK_INT(suppress_check(t, "ws_m", 4, "+12125550100", 12, 1, &src), 0);
    CHECK_INT(src, SUPPRESS_WORKSPACE);
    CHECK_INT(suppress_del(t, "ws_m", 4, num, 12), 0);
    CHECK_INT(suppress_check(t, "ws_n", 4, num, 12, 1, &src), 0);
    CHECK_INT(src, SUPPRESS_NONE);
    CHECK_INT(suppress_check(t, "ws_m", 4, num, 12, 1, &src), 0);
    CHECK_INT(src, SUPPRESS_NONE);
    return 0;
}

static void test_one_transaction(void)
{
    struct tmpdir d;
    struct store s;
    tmpdir_make(&d);
    CHECK_INT(open_store(&s, d.path, 1 << 20, 1 << 26), 0);
    CHECK_INT(add(&s, "ws_n", "+14155550178", 1), 0);
    CHECK_INT(store_write(&s, memo_txn, NULL), 0);
    char entry[SUPPRESS_ENTRY_MAX + 1];
    CHECK_INT(check(&s, "ws_m", "+14155550177", 1, entry), SUPPRESS_NONE);
    CHECK_INT(check(&s, "ws_m", "+12125550100", 1, entry), SUPPRESS_WORKSPACE);
    store_close(&s);
    tmpdir_remove(&d);
}

static void test_area_codes(void)
{
    struct tmpdir d;
    struct store s;
    tmpdir_make(&d);
    CHECK_INT(open_store(&s, d.path, 1 << 20, 1 << 26), 0);
    CHECK_INT(add(&s, "ws_a", "+1415", 1000), 0);
    char entry[SUPPRESS_ENTRY_MAX + 1];
    CHECK_INT(check(&s, "ws_a", "+14155550123", 0, entry), SUPPRESS_WORKSPACE);
    CHECK(strcmp(entry, "+1415") == 0);
    CHECK_INT(check(&s, "ws_a", "+14165550123", 0, entry), SUPPRESS_NONE);
    /* An area code applies to +1 numbers only: +1415... is not a prefix of +44 numbers. */
    CHECK_INT(check(&s, "ws_a", "+441415550123", 0, entry), SUPPRESS_NONE);
    CHECK_INT(check(&s, "ws_b", "+14155550123", 0, entry), SUPPRESS_NONE);
    /* The number itself too, then the area code goes: the number alone still matches. */
    CHECK_INT(add(&s, "ws_a", "+14155550123", 1000), 0);
    const char *del_area[] = {"ws_a", "+1415"};
    CHECK_INT(store_write(&s, del_txn, del_area), 0);
    CHECK_INT(check(&s, "ws_a", "+14155550123", 0, entry), SUPPRESS_WORKSPACE);
    CHECK(strcmp(entry, "+14155550123") == 0);
    CHECK_INT(check(&s, "ws_a", "+14155550124", 0, entry), SUPPRESS_NONE);
    store_close(&s);
    tmpdir_remove(&d);
}

struct collect {
    char got[8][SUPPRESS_ENTRY_MAX + 1];
    size_t n;
};

static int collect_one(const char *e, size_t len, const cJSON *rec, void *arg)
{
    struct collect *c = arg;
    CHECK(rec != NULL);
    if (c->n < 8) {
        memcpy(c->got[c->n], e, len);
        c->got[c->n][len] = '\0';
        c->n++;
    }
    return 0;
}

static void test_list_cursor(void)
{
    struct tmpdir d;
    struct store s;
    tmpdir_make(&d);
    CHECK_INT(open_store(&s, d.path, 1 << 20, 1 << 26), 0);
    const char *entries[] = {"+14155550123", "+1415", "+442079460958", "+12125550100"};
    for (size_t i = 0; i < 4; i++)
        CHECK_INT(add(&s, "ws_a", entries[i], 1000 + i), 0);
    CHECK_INT(add(&s, "ws_b", "+13125550100", 1), 0);
    struct store_txn t;
    struct collect c = {0};
    CHECK_INT(store_read_begin(&s, &t), 0);
    CHECK_INT(suppress_each(&t, "ws_a", 4, "", 0, 2, collect_one, &c), 0);
    CHECK_INT(c.n, 2);
    CHECK(strcmp(c.got[0], "+12125550100") == 0);
    CHECK(strcmp(c.got[1], "+1415") == 0);
    CHECK_INT(suppress_each(&t, "ws_a", 4, c.got[1], strlen(c.got[1]), 10, collect_one, &c), 0);
    CHECK_INT(c.n, 4);
    CHECK(strcmp(c.got[2], "+14155550123") == 0);
    CHECK(strcmp(c.got[3], "+442079460958") == 0);
    store_read_end(&t);
    store_close(&s);
    tmpdir_remove(&d);
}

CHECK_MAIN(CHECK_CASE(test_kinds), CHECK_CASE(test_cache_empty), CHECK_CASE(test_add_check_delete),
           CHECK_CASE(test_area_codes), CHECK_CASE(test_list_cursor),
           CHECK_CASE(test_one_transaction))
