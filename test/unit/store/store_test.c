/* Tests for src/store/store.c against a real LMDB environment in a fresh temporary directory:
 * basic operations, which errors are sticky, commit and abort, prefix iteration, read snapshots,
 * map growth up to the configured maximum, reopening, and directories that cannot be used; and
 * writes on libuv's thread pool (store_write_async) driven by a real loop: their order, failures,
 * map growth, reads and loop-thread writes while one is in flight, and deferred durability. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "check.h"
#include "tmpstore.h"
#include "store/store.h"
#include "util/err.h"
#include "util/log.h"

#define KIB 1024
#define MIB (1024 * 1024)

/* ---- helpers ---- */

struct kv {
    enum store_db db;
    const char *k, *v;
};

static int put_one(struct store_txn *t, void *arg)
{
    const struct kv *kv = arg;
    return store_put(t, kv->db, kv->k, strlen(kv->k), kv->v, strlen(kv->v), 0);
}

static int put(struct store *s, enum store_db db, const char *k, const char *v)
{
    struct kv kv = {db, k, v};
    return store_write(s, put_one, &kv);
}

/* Reads k in a fresh snapshot: returns the store_get code and copies the value into out. */
static int get(struct store *s, enum store_db db, const char *k, char *out, size_t cap)
{
    struct store_txn t;
    int rc = store_read_begin(s, &t);
    if (rc)
        return rc;
    struct store_val v;
    rc = store_get(&t, db, k, strlen(k), &v);
    if (rc == 0)
        snprintf(out, cap, "%.*s", (int)v.len, (const char *)v.ptr);
    store_read_end(&t);
    return rc;
}

/* The value under k, or "<missing>" / "<error>". */
static const char *value_of(struct store *s, enum store_db db, const char *k)
{
    static char out[256];
    int rc = get(s, db, k, out, sizeof out);
    if (rc == BC_ENOTFOUND)
        return "<missing>";
    if (rc)
        return "<error>";
    return out;
}

/* ---- basic operations ---- */

static int del_one(struct store_txn *t, void *arg)
{
    const struct kv *kv = arg;
    return store_del(t, kv->db, kv->k, strlen(kv->k));
}

static void test_put_get_del(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);

    CHECK_INT(put(&s, DB_META, "schema", "1"), 0);
    CHECK_INT(put(&s, DB_WS, "ws1", "{\"name\":\"a\"}"), 0);
    CHECK_STR(value_of(&s, DB_META, "schema"), "1");
    CHECK_STR(value_of(&s, DB_WS, "ws1"), "{\"name\":\"a\"}");
    /* Databases are separate key spaces. */
    CHECK_STR(value_of(&s, DB_AGENT, "ws1"), "<missing>");
    /* Overwrite without flags. */
    CHECK_INT(put(&s, DB_META, "schema", "2"), 0);
    CHECK_STR(value_of(&s, DB_META, "schema"), "2");
    /* Empty values are values. */
    CHECK_INT(put(&s, DB_META, "empty", ""), 0);
    CHECK_STR(value_of(&s, DB_META, "empty"), "");

    struct kv del = {DB_META, "schema", NULL};
    CHECK_INT(store_write(&s, del_one, &del), 0);
    CHECK_STR(value_of(&s, DB_META, "schema"), "<missing>");
    /* Deleting what is not there is BC_ENOTFOUND, returned through store_write. */
    CHECK_INT(store_write(&s, del_one, &del), BC_ENOTFOUND);

    struct store_stats st;
    store_stats(&s, &st);
    CHECK_INT(st.commits, 5);
    CHECK(st.map_size >= 1 * MIB);
    CHECK(st.used_bytes > 0 && st.used_bytes <= st.map_size);
    CHECK_INT(st.grows, 0);
    store_close(&s);
    tmpdir_remove(&d);
}

struct binary_arg {
    const char *k;
    size_t klen;
    const char *v;
    size_t vlen;
};

static int put_binary(struct store_txn *t, void *arg)
{
    const struct binary_arg *b = arg;
    return store_put(t, DB_AGENT, b->k, b->klen, b->v, b->vlen, 0);
}

/* Binary keys and values with NUL bytes are kept exactly. */
static void test_binary_keys_and_values(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);
    static const char k[] = {'w', 0, 'a'}, v[] = {0, 1, 0, 2, (char)0xff};
    struct binary_arg b = {k, sizeof k, v, sizeof v};
    CHECK_INT(store_write(&s, put_binary, &b), 0);

    struct store_txn t;
    struct store_val got;
    CHECK_INT(store_read_begin(&s, &t), 0);
    CHECK_INT(store_get(&t, DB_AGENT, k, sizeof k, &got), 0);
    CHECK_INT(got.len, sizeof v);
    CHECK(got.len == sizeof v && memcmp(got.ptr, v, sizeof v) == 0);
    /* A key that is a prefix of another is a different key. */
    CHECK_INT(store_get(&t, DB_AGENT, k, 2, &got), BC_ENOTFOUND);
    store_read_end(&t);
    store_close(&s);
    tmpdir_remove(&d);
}

/* ---- sticky and non-sticky errors ---- */

struct sticky_result {
    int notfound, after_notfound;
    int exist, after_exist, exist_value_kept;
    int bad_key, after_bad_key_put, after_bad_key_get;
};

/* NOTFOUND and EEXIST are answers, not failures: the transaction goes on. An oversized key is a
 * failure: every later operation returns it, and store_write returns it even though this
 * function returns 0. */
static int sticky_fn(struct store_txn *t, void *arg)
{
    struct sticky_result *r = arg;
    struct store_val v;
    r->notfound = store_get(t, DB_META, "nope", 4, &v);
    r->after_notfound = store_put(t, DB_META, "a", 1, "1", 1, 0);
    r->exist = store_put(t, DB_META, "a", 1, "2", 1, STORE_NOOVERWRITE);
    r->after_exist = store_put(t, DB_META, "b", 1, "1", 1, 0);
    r->exist_value_kept =
        store_get(t, DB_META, "a", 1, &v) == 0 && v.len == 1 && ((const char *)v.ptr)[0] == '1';
    char big[600];
    memset(big, 'k', sizeof big);
    r->bad_key = store_put(t, DB_META, big, sizeof big, "x", 1, 0);
    r->after_bad_key_put = store_put(t, DB_META, "c", 1, "1", 1, 0);
    r->after_bad_key_get = store_get(t, DB_META, "a", 1, &v);
    return 0;
}

static void test_sticky_errors(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);
    struct sticky_result r;
    memset(&r, 0, sizeof r);
    CHECK_INT(store_write(&s, sticky_fn, &r), BC_EINVAL);
    CHECK_INT(r.notfound, BC_ENOTFOUND);
    CHECK_INT(r.after_notfound, 0);
    CHECK_INT(r.exist, BC_EEXIST);
    CHECK_INT(r.after_exist, 0);
    CHECK_INT(r.exist_value_kept, 1);
    CHECK_INT(r.bad_key, BC_EINVAL);
    CHECK_INT(r.after_bad_key_put, BC_EINVAL);
    CHECK_INT(r.after_bad_key_get, BC_EINVAL);
    /* The failed transaction was aborted: none of its writes are visible. */
    CHECK_STR(value_of(&s, DB_META, "a"), "<missing>");
    CHECK_STR(value_of(&s, DB_META, "b"), "<missing>");
    struct store_stats st;
    store_stats(&s, &st);
    CHECK_INT(st.commits, 0);
    /* The store itself is fine afterwards. */
    CHECK_INT(put(&s, DB_META, "a", "ok"), 0);
    CHECK_STR(value_of(&s, DB_META, "a"), "ok");
    store_close(&s);
    tmpdir_remove(&d);
}

/* Writing through a read snapshot is refused, stickily for that snapshot only. */
static void test_sticky_error_in_read(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);
    CHECK_INT(put(&s, DB_META, "a", "1"), 0);
    struct store_txn t;
    struct store_val v;
    CHECK_INT(store_read_begin(&s, &t), 0);
    CHECK_INT(store_get(&t, DB_META, "a", 1, &v), 0);
    CHECK_INT(store_put(&t, DB_META, "b", 1, "1", 1, 0), BC_EACCES);
    CHECK_INT(store_get(&t, DB_META, "a", 1, &v), BC_EACCES);
    store_read_end(&t);
    CHECK_INT(store_read_begin(&s, &t), 0);
    CHECK_INT(store_get(&t, DB_META, "a", 1, &v), 0);
    store_read_end(&t);
    store_close(&s);
    tmpdir_remove(&d);
}

/* ---- commit and abort ---- */

static int put_then_fail(struct store_txn *t, void *arg)
{
    (void)arg;
    store_put(t, DB_META, "x", 1, "1", 1, 0);
    store_put(t, DB_META, "y", 1, "1", 1, 0);
    return BC_EINVAL;
}

static int put_then_conflict(struct store_txn *t, void *arg)
{
    (void)arg;
    store_put(t, DB_META, "z", 1, "1", 1, 0);
    return store_put(t, DB_META, "a", 1, "2", 1, STORE_NOOVERWRITE);
}

static void test_commit_and_abort(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);
    CHECK_INT(put(&s, DB_META, "a", "1"), 0);
    CHECK_INT(store_write(&s, put_then_fail, NULL), BC_EINVAL);
    CHECK_STR(value_of(&s, DB_META, "x"), "<missing>");
    CHECK_STR(value_of(&s, DB_META, "y"), "<missing>");
    /* A function returning a non-sticky code aborts just the same. */
    CHECK_INT(store_write(&s, put_then_conflict, NULL), BC_EEXIST);
    CHECK_STR(value_of(&s, DB_META, "z"), "<missing>");
    CHECK_STR(value_of(&s, DB_META, "a"), "1");
    struct store_stats st;
    store_stats(&s, &st);
    CHECK_INT(st.commits, 1);
    store_close(&s);
    tmpdir_remove(&d);
}

/* STORE_APPEND is only a hint: keys out of order or equal to the last one still go in. */
struct append_arg {
    const char *const *keys;
    size_t n;
    unsigned flags;
    int last_rc;
};

static int append_fn(struct store_txn *t, void *arg)
{
    struct append_arg *a = arg;
    for (size_t i = 0; i < a->n; i++) {
        a->last_rc = store_put(t, DB_AGENT, a->keys[i], strlen(a->keys[i]), a->keys[i],
                               strlen(a->keys[i]), a->flags);
        if (a->last_rc)
            return a->last_rc;
    }
    return 0;
}

static void test_append(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);
    static const char *const in_order[] = {"k1", "k2", "k5"};
    static const char *const out_of_order[] = {"k3", "k0", "k5", "k9", "k4"};
    struct append_arg a = {in_order, 3, STORE_APPEND, 0};
    CHECK_INT(store_write(&s, append_fn, &a), 0);
    a = (struct append_arg){out_of_order, 5, STORE_APPEND, 0};
    CHECK_INT(store_write(&s, append_fn, &a), 0);
    static const char *const existing[] = {"k2"};
    a = (struct append_arg){existing, 1, STORE_APPEND | STORE_NOOVERWRITE, 0};
    CHECK_INT(store_write(&s, append_fn, &a), BC_EEXIST);
    CHECK_INT(a.last_rc, BC_EEXIST);

    struct store_txn t;
    struct store_iter it;
    CHECK_INT(store_read_begin(&s, &t), 0);
    CHECK_INT(store_iter_open(&it, &t, DB_AGENT, "k", 1, NULL, 0), 0);
    char order[64] = "";
    while (store_iter_next(&it) == 1)
        snprintf(order + strlen(order), sizeof order - strlen(order), "%.*s ", (int)it.key.len,
                 (const char *)it.key.ptr);
    store_iter_close(&it);
    store_read_end(&t);
    CHECK_STR(order, "k0 k1 k2 k3 k4 k5 k9 ");
    store_close(&s);
    tmpdir_remove(&d);
}

/* ---- iteration ---- */

static const char *const iter_keys[] = {"a",  "a/",   "a/1", "a/10", "a/2",   "a/3",
                                        "a0", "ab/1", "b/1", "b/2",  "a/2/x", "a/20"};

static int put_iter_keys(struct store_txn *t, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < sizeof iter_keys / sizeof iter_keys[0]; i++) {
        char v[32];
        snprintf(v, sizeof v, "v%s", iter_keys[i]);
        store_put(t, DB_JOB, iter_keys[i], strlen(iter_keys[i]), v, strlen(v), 0);
    }
    return 0;
}

struct iter_case {
    const char *prefix;
    const char *start; /* NULL: from the prefix */
    const char *expect;
};

static const struct iter_case iter_cases[] = {
    {"a/", NULL, "a/ a/1 a/10 a/2 a/2/x a/20 a/3"},
    {"a/", "a/2", "a/2 a/2/x a/20 a/3"},
    {"a/", "a/15", "a/2 a/2/x a/20 a/3"},
    {"a/", "a/3", "a/3"},
    {"a/", "a/4", ""},
    {"a/2", NULL, "a/2 a/2/x a/20"},
    {"b/", NULL, "b/1 b/2"},
    {"b/", "b/2", "b/2"},
    {"c", NULL, ""},
    {"a0", NULL, "a0"},
    {"", NULL, "a a/ a/1 a/10 a/2 a/2/x a/20 a/3 a0 ab/1 b/1 b/2"},
    {"zz", NULL, ""},
};

static void test_iteration(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);
    CHECK_INT(store_write(&s, put_iter_keys, NULL), 0);
    for (size_t i = 0; i < sizeof iter_cases / sizeof iter_cases[0]; i++) {
        const struct iter_case *ic = &iter_cases[i];
        struct store_txn t;
        struct store_iter it;
        CHECK_INT(store_read_begin(&s, &t), 0);
        CHECK_INT(store_iter_open(&it, &t, DB_JOB, ic->prefix, strlen(ic->prefix), ic->start,
                                  ic->start ? strlen(ic->start) : 0),
                  0);
        char got[256] = "";
        int rc, n = 0;
        while ((rc = store_iter_next(&it)) == 1 && n++ < 50) {
            char v[32];
            snprintf(v, sizeof v, "v%.*s", (int)it.key.len, (const char *)it.key.ptr);
            CHECK(it.val.len == strlen(v) && memcmp(it.val.ptr, v, it.val.len) == 0);
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%.*s", got[0] ? " " : "",
                     (int)it.key.len, (const char *)it.key.ptr);
        }
        CHECK_INT(rc, 0);
        /* The end is the end: asking again does not start over or step back into the prefix. */
        CHECK_INT(store_iter_next(&it), 0);
        store_iter_close(&it);
        store_iter_close(&it);
        store_read_end(&t);
        CHECK_REPORT(strcmp(got, ic->expect) == 0,
                     "iter case %zu (prefix \"%s\" start \"%s\"): "
                     "got \"%s\", want \"%s\"",
                     i, ic->prefix, ic->start ? ic->start : "(null)", got, ic->expect);
    }
    store_close(&s);
    tmpdir_remove(&d);
}

/* Deletes the keys under one prefix; the prefixes of the iteration cases say which. */
static int del_prefix_fn(struct store_txn *t, void *arg)
{
    const char *prefix = arg;
    return store_del_prefix(t, DB_JOB, prefix, strlen(prefix));
}

/* Many keys under one prefix: the deletes cross LMDB pages. */
static int put_many(struct store_txn *t, void *arg)
{
    (void)arg;
    for (int i = 0; i < 3000; i++) {
        char k[32];
        int n = snprintf(k, sizeof k, "m/%05d", i);
        store_put(t, DB_JOB, k, (size_t)n, "0123456789abcdef0123456789abcdef", 32, 0);
    }
    return 0;
}

/* The keys of DB_JOB, space-separated. */
static void job_keys(struct store *s, char *out, size_t cap)
{
    struct store_txn t;
    struct store_iter it;
    out[0] = '\0';
    CHECK_INT(store_read_begin(s, &t), 0);
    store_iter_open(&it, &t, DB_JOB, "", 0, NULL, 0);
    while (store_iter_next(&it) == 1)
        snprintf(out + strlen(out), cap - strlen(out), "%s%.*s", out[0] ? " " : "", (int)it.key.len,
                 (const char *)it.key.ptr);
    store_iter_close(&it);
    store_read_end(&t);
}

static void test_del_prefix(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);
    CHECK_INT(store_write(&s, put_iter_keys, NULL), 0);
    char got[512];
    /* Exactly the keys that begin with the prefix go, neighbours on both sides stay. */
    CHECK_INT(store_write(&s, del_prefix_fn, "a/2"), 0);
    job_keys(&s, got, sizeof got);
    CHECK_STR(got, "a a/ a/1 a/10 a/3 a0 ab/1 b/1 b/2");
    CHECK_INT(store_write(&s, del_prefix_fn, "a/"), 0);
    job_keys(&s, got, sizeof got);
    CHECK_STR(got, "a a0 ab/1 b/1 b/2");
    /* A prefix that matches nothing, or sorts after every key, changes nothing. */
    CHECK_INT(store_write(&s, del_prefix_fn, "c"), 0);
    CHECK_INT(store_write(&s, del_prefix_fn, "a/"), 0);
    job_keys(&s, got, sizeof got);
    CHECK_STR(got, "a a0 ab/1 b/1 b/2");
    /* The last keys of the database. */
    CHECK_INT(store_write(&s, del_prefix_fn, "b/"), 0);
    job_keys(&s, got, sizeof got);
    CHECK_STR(got, "a a0 ab/1");
    /* Thousands of keys over many pages, between keys that stay. */
    CHECK_INT(store_write(&s, put_many, NULL), 0);
    CHECK_INT(put(&s, DB_JOB, "n", "x"), 0);
    CHECK_INT(store_write(&s, del_prefix_fn, "m/"), 0);
    job_keys(&s, got, sizeof got);
    CHECK_STR(got, "a a0 ab/1 n");
    /* An empty prefix empties the database. */
    CHECK_INT(store_write(&s, del_prefix_fn, ""), 0);
    job_keys(&s, got, sizeof got);
    CHECK_STR(got, "");
    store_close(&s);
    tmpdir_remove(&d);
}

/* ---- DB_JOBSTATE: whole keys, the last 4 bytes kept as LMDB duplicates ---- */

/* "s" + key letter + row (u32 BE): a whole key of DB_JOBSTATE. */
static size_t dup_key(uint8_t *out, char key, uint32_t row)
{
    out[0] = 's';
    out[1] = (uint8_t)key;
    out[2] = (uint8_t)(row >> 24);
    out[3] = (uint8_t)(row >> 16);
    out[4] = (uint8_t)(row >> 8);
    out[5] = (uint8_t)row;
    return 6;
}

static uint32_t dup_row(const struct store_val *k)
{
    const uint8_t *p = (const uint8_t *)k->ptr + k->len - 4;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Key 'A': even rows 0-9998 appended, then 7 out of order (an append that falls back); key 'B':
 * rows 1-3; key 'C': row 5. */
static int put_dups(struct store_txn *t, void *arg)
{
    (void)arg;
    uint8_t k[8];
    for (uint32_t row = 0; row < 10000; row += 2)
        CHECK_INT(store_put(t, DB_JOBSTATE, k, dup_key(k, 'A', row), "", 0, STORE_APPEND), 0);
    CHECK_INT(store_put(t, DB_JOBSTATE, k, dup_key(k, 'A', 7), "", 0, STORE_APPEND), 0);
    /* A pair that exists: an ordinary put keeps it once, a put that must be new says so. */
    CHECK_INT(store_put(t, DB_JOBSTATE, k, dup_key(k, 'A', 7), "", 0, STORE_APPEND), 0);
    CHECK_INT(store_put(t, DB_JOBSTATE, k, dup_key(k, 'A', 8), "", 0, 0), 0);
    CHECK_INT(store_put(t, DB_JOBSTATE, k, dup_key(k, 'A', 8), "", 0, STORE_NOOVERWRITE),
              BC_EEXIST);
    for (uint32_t row = 1; row <= 3; row++)
        CHECK_INT(store_put(t, DB_JOBSTATE, k, dup_key(k, 'B', row), "", 0, 0), 0);
    return store_put(t, DB_JOBSTATE, k, dup_key(k, 'C', 5), "", 0, STORE_NOOVERWRITE);
}

/* The rows under prefix from start (NULL: all), the first ten as text, and how many there were. */
static size_t dup_rows(struct store_txn *t, const char *prefix, const uint8_t *start, size_t slen,
                       char *out, size_t cap)
{
    struct store_iter it;
    size_t n = 0;
    out[0] = '\0';
    store_iter_open(&it, t, DB_JOBSTATE, prefix, strlen(prefix), start, slen);
    while (store_iter_next(&it) == 1) {
        CHECK_INT(it.val.len, 0);
        if (n < 10)
            snprintf(out + strlen(out), cap - strlen(out), "%s%c%u", out[0] ? " " : "",
                     ((const char *)it.key.ptr)[1], (unsigned)dup_row(&it.key));
        n++;
    }
    CHECK_INT(store_iter_next(&it), 0);
    store_iter_close(&it);
    return n;
}

static int del_dup_fn(struct store_txn *t, void *arg)
{
    const uint32_t *row = arg;
    uint8_t k[8];
    return store_del(t, DB_JOBSTATE, k, dup_key(k, 'A', *row));
}

static int put_dup_value(struct store_txn *t, void *arg)
{
    (void)arg;
    uint8_t k[8];
    return store_put(t, DB_JOBSTATE, k, dup_key(k, 'A', 1), "x", 1, 0);
}

/* A key longer than an iterator can give back whole. */
static int put_dup_long_key(struct store_txn *t, void *arg)
{
    (void)arg;
    uint8_t k[STORE_WHOLE_KEY_MAX + 1] = {'s'};
    return store_put(t, DB_JOBSTATE, k, sizeof k, "", 0, 0);
}

static int del_dup_prefix(struct store_txn *t, void *arg)
{
    return store_del_prefix(t, DB_JOBSTATE, arg, strlen(arg));
}

static void test_duplicate_table(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);
    CHECK_INT(store_write(&s, put_dups, NULL), 0);
    /* Rows take 4 bytes each: the whole store is under 64 KiB (a key per row took 160 KiB). */
    struct store_stats st;
    store_stats(&s, &st);
    CHECK(st.used_bytes <= 64 * KIB);
    struct store_txn t;
    struct store_val v;
    uint8_t k[8];
    char got[256];
    CHECK_INT(store_read_begin(&s, &t), 0);
    CHECK_INT(store_get(&t, DB_JOBSTATE, k, dup_key(k, 'A', 7), &v), 0);
    CHECK_INT(v.len, 0);
    CHECK_INT(store_get(&t, DB_JOBSTATE, k, dup_key(k, 'A', 9), &v), BC_ENOTFOUND);
    CHECK_INT(store_get(&t, DB_JOBSTATE, k, dup_key(k, 'D', 0), &v), BC_ENOTFOUND);
    CHECK_INT(store_get(&t, DB_JOBSTATE, "sA", 2, &v), BC_ENOTFOUND); /* no row: no key */
    /* Whole keys in order, each pair once; a prefix stops at its last key. */
    CHECK_INT(dup_rows(&t, "", NULL, 0, got, sizeof got), 5000 + 1 + 3 + 1);
    CHECK_INT(dup_rows(&t, "sA", NULL, 0, got, sizeof got), 5001);
    CHECK_STR(got, "A0 A2 A4 A6 A7 A8 A10 A12 A14 A16");
    CHECK_INT(dup_rows(&t, "sB", NULL, 0, got, sizeof got), 3);
    CHECK_STR(got, "B1 B2 B3");
    /* A start on a row, between rows, after a key's last row, after every key. */
    CHECK_INT(dup_rows(&t, "sA", k, dup_key(k, 'A', 9994), got, sizeof got), 3);
    CHECK_STR(got, "A9994 A9996 A9998");
    CHECK_INT(dup_rows(&t, "sA", k, dup_key(k, 'A', 9995), got, sizeof got), 2);
    CHECK_STR(got, "A9996 A9998");
    CHECK_INT(dup_rows(&t, "sA", k, dup_key(k, 'A', 9999), got, sizeof got), 0);
    CHECK_INT(dup_rows(&t, "s", k, dup_key(k, 'A', 9999), got, sizeof got), 4);
    CHECK_STR(got, "B1 B2 B3 C5");
    CHECK_INT(dup_rows(&t, "s", k, dup_key(k, 'B', 3), got, sizeof got), 2);
    CHECK_STR(got, "B3 C5");
    CHECK_INT(dup_rows(&t, "s", k, dup_key(k, 'C', 6), got, sizeof got), 0);
    CHECK_INT(dup_rows(&t, "s", k, dup_key(k, 'A', 0), got, sizeof got), 5005);
    store_read_end(&t);
    /* A value (the table holds none) or a key too long is refused; the transaction fails. */
    CHECK_INT(store_write(&s, put_dup_value, NULL), BC_EINVAL);
    CHECK_INT(store_write(&s, put_dup_long_key, NULL), BC_EINVAL);
    /* Deleting a pair leaves the key's other rows; a pair that is not there is not found. */
    uint32_t row = 7;
    CHECK_INT(store_write(&s, del_dup_fn, &row), 0);
    CHECK_INT(store_write(&s, del_dup_fn, &row), BC_ENOTFOUND);
    CHECK_INT(store_read_begin(&s, &t), 0);
    CHECK_INT(dup_rows(&t, "sA", NULL, 0, got, sizeof got), 5000);
    CHECK_STR(got, "A0 A2 A4 A6 A8 A10 A12 A14 A16 A18");
    store_read_end(&t);
    /* A prefix takes every row of its keys, and only those. */
    CHECK_INT(store_write(&s, del_dup_prefix, "sA"), 0);
    CHECK_INT(store_read_begin(&s, &t), 0);
    CHECK_INT(dup_rows(&t, "", NULL, 0, got, sizeof got), 4);
    CHECK_STR(got, "B1 B2 B3 C5");
    store_read_end(&t);
    store_close(&s);
    tmpdir_remove(&d);
}

/* ---- store_appender: the same keys as store_put with STORE_APPEND, through one cursor ---- */

static void be32_tails(uint8_t (*out)[4], const uint32_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[i][0] = (uint8_t)(rows[i] >> 24);
        out[i][1] = (uint8_t)(rows[i] >> 16);
        out[i][2] = (uint8_t)(rows[i] >> 8);
        out[i][3] = (uint8_t)rows[i];
    }
}

/* Plain keys in and out of order; key 'A' gets even rows 0-9998 in one call, then rows 7 (out of
 * order), 7 again (there already), 8 and 10001 in another (appends that fall back mid-run); key
 * 'B' rows 1-3; then, a key of 'A' lower than its last. With arg set, the misuses instead. */
static int appender_fn(struct store_txn *t, void *arg)
{
    struct store_appender jobs, st;
    CHECK_INT(store_appender_open(&jobs, t, DB_AGENT), 0);
    CHECK_INT(store_appender_open(&st, t, DB_JOBSTATE), 0);
    if (arg) {
        CHECK_INT(store_appender_dups(&jobs, "sA", 2, "\0\0\0\1", 1), BC_EINVAL);
        store_appender_close(&st);
        store_appender_close(&jobs);
        return t->err;
    }
    static const char *const keys[] = {"k1", "k2", "k5", "k3", "k0", "k5", "k9", "k4"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        CHECK_INT(store_appender_put(&jobs, keys[i], 2, "v", 1), 0);
    static uint8_t tails[5000][4];
    static uint32_t rows[5000];
    for (uint32_t i = 0; i < 5000; i++)
        rows[i] = 2 * i;
    be32_tails(tails, rows, 5000);
    CHECK_INT(store_appender_dups(&st, "sA", 2, tails, 5000), 0);
    static const uint32_t late[] = {7, 7, 8, 10001};
    be32_tails(tails, late, 4);
    CHECK_INT(store_appender_dups(&st, "sA", 2, tails, 4), 0);
    static const uint32_t b[] = {1, 2, 3};
    be32_tails(tails, b, 3);
    CHECK_INT(store_appender_dups(&st, "sB", 2, tails, 3), 0);
    static const uint32_t a_low[] = {3};
    be32_tails(tails, a_low, 1);
    CHECK_INT(store_appender_dups(&st, "sA", 2, tails, 1), 0);
    CHECK_INT(store_appender_put(&jobs, "k6", 2, "v", 1), 0);
    store_appender_close(&st);
    store_appender_close(&jobs);
    return 0;
}

static int appender_misuse(struct store_txn *t, void *arg)
{
    (void)arg;
    struct store_appender a;
    CHECK_INT(store_appender_open(&a, t, DB_JOBSTATE), 0);
    int rc = store_appender_put(&a, "sA\0\0\0\1", 6, "", 0);
    store_appender_close(&a);
    return rc;
}

static void test_appender(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);
    CHECK_INT(store_write(&s, appender_fn, NULL), 0);
    struct store_txn t;
    struct store_iter it;
    char got[256] = "";
    CHECK_INT(store_read_begin(&s, &t), 0);
    CHECK_INT(store_iter_open(&it, &t, DB_AGENT, "k", 1, NULL, 0), 0);
    while (store_iter_next(&it) == 1)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%.*s ", (int)it.key.len,
                 (const char *)it.key.ptr);
    store_iter_close(&it);
    CHECK_STR(got, "k0 k1 k2 k3 k4 k5 k6 k9 ");
    CHECK_INT(dup_rows(&t, "sA", NULL, 0, got, sizeof got), 5000 + 3);
    CHECK_STR(got, "A0 A2 A3 A4 A6 A7 A8 A10 A12 A14");
    uint8_t k[8];
    CHECK_INT(dup_rows(&t, "sA", k, dup_key(k, 'A', 9998), got, sizeof got), 2);
    CHECK_STR(got, "A9998 A10001");
    CHECK_INT(dup_rows(&t, "sB", NULL, 0, got, sizeof got), 3);
    CHECK_STR(got, "B1 B2 B3");
    store_read_end(&t);
    /* Duplicates into a table without them, or a value into one with them: refused. */
    CHECK_INT(store_write(&s, appender_fn, "misuse"), BC_EINVAL);
    CHECK_INT(store_write(&s, appender_misuse, NULL), BC_EINVAL);
    store_close(&s);
    tmpdir_remove(&d);
}

/* Iteration inside a write transaction sees that transaction's own writes. */
static int iterate_own_writes(struct store_txn *t, void *arg)
{
    int *count = arg;
    store_put(t, DB_JOB, "n/1", 3, "x", 1, 0);
    store_put(t, DB_JOB, "n/2", 3, "x", 1, 0);
    struct store_iter it;
    int rc = store_iter_open(&it, t, DB_JOB, "n/", 2, NULL, 0);
    if (rc)
        return rc;
    while ((rc = store_iter_next(&it)) == 1)
        (*count)++;
    store_iter_close(&it);
    return rc;
}

static void test_iteration_in_write(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);
    int count = 0;
    CHECK_INT(store_write(&s, iterate_own_writes, &count), 0);
    CHECK_INT(count, 2);
    store_close(&s);
    tmpdir_remove(&d);
}

/* ---- read snapshots ---- */

static void test_snapshot_isolation(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);
    CHECK_INT(put(&s, DB_WS, "w", "old"), 0);

    struct store_txn outer, inner;
    struct store_val v;
    CHECK_INT(store_read_begin(&s, &outer), 0);
    CHECK_INT(store_get(&outer, DB_WS, "w", 1, &v), 0);
    CHECK_MEM(v.ptr, v.len, "old");
    const void *old_ptr = v.ptr;

    /* A write commits while the snapshot is open. */
    CHECK_INT(put(&s, DB_WS, "w", "new"), 0);
    CHECK_INT(put(&s, DB_WS, "added", "1"), 0);

    /* The snapshot, and a nested begin that shares it, still see the old state. */
    CHECK_INT(store_get(&outer, DB_WS, "w", 1, &v), 0);
    CHECK_MEM(v.ptr, v.len, "old");
    CHECK_INT(store_read_begin(&s, &inner), 0);
    CHECK_INT(store_get(&inner, DB_WS, "w", 1, &v), 0);
    CHECK_MEM(v.ptr, v.len, "old");
    CHECK_INT(store_get(&inner, DB_WS, "added", 5, &v), BC_ENOTFOUND);
    store_read_end(&inner);
    /* Ending the nested one keeps the outer one usable, and values read stay valid. */
    CHECK_MEM(old_ptr, 3, "old");
    CHECK_INT(store_get(&outer, DB_WS, "w", 1, &v), 0);
    CHECK_MEM(v.ptr, v.len, "old");
    store_read_end(&outer);
    /* Ending twice is harmless. */
    store_read_end(&outer);

    /* A new snapshot sees the writes. */
    CHECK_STR(value_of(&s, DB_WS, "w"), "new");
    CHECK_STR(value_of(&s, DB_WS, "added"), "1");
    store_close(&s);
    tmpdir_remove(&d);
}

/* ---- map growth ---- */

struct fill_arg {
    const char *prefix;
    int count;
    size_t vlen;
    int calls; /* how many times store_write ran the function */
};

static void fill_value(char *v, size_t vlen, const char *prefix, int i)
{
    for (size_t j = 0; j < vlen; j++)
        v[j] = (char)('a' + (size_t)(i * 7 + prefix[0]) % 26 + (j % 3 == 0));
}

static int fill_fn(struct store_txn *t, void *arg)
{
    struct fill_arg *f = arg;
    f->calls++;
    char *v = malloc(f->vlen);
    int rc = 0;
    for (int i = 0; i < f->count && rc == 0; i++) {
        char k[32];
        int klen = snprintf(k, sizeof k, "%s/%06d", f->prefix, i);
        fill_value(v, f->vlen, f->prefix, i);
        rc = store_put(t, DB_JOB, k, (size_t)klen, v, f->vlen, 0);
    }
    free(v);
    return rc;
}

/* Counts the keys under prefix and checks every value. */
static int check_fill(struct store *s, const char *prefix, size_t vlen)
{
    struct store_txn t;
    struct store_iter it;
    if (store_read_begin(s, &t) != 0)
        return -1;
    char p[16];
    int plen = snprintf(p, sizeof p, "%s/", prefix);
    int n = 0, bad = 0;
    char *want = malloc(vlen);
    if (store_iter_open(&it, &t, DB_JOB, p, (size_t)plen, NULL, 0) == 0) {
        while (store_iter_next(&it) == 1) {
            fill_value(want, vlen, prefix, n);
            char k[32];
            int klen = snprintf(k, sizeof k, "%s/%06d", prefix, n);
            if (it.key.len != (size_t)klen || memcmp(it.key.ptr, k, (size_t)klen) != 0 ||
                it.val.len != vlen || memcmp(it.val.ptr, want, vlen) != 0)
                bad++;
            n++;
        }
        store_iter_close(&it);
    }
    free(want);
    store_read_end(&t);
    return bad ? -bad : n;
}

static void test_map_growth(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 64 * KIB, 4 * MIB), 0);
    struct store_stats before;
    store_stats(&s, &before);
    CHECK_INT(before.map_size, 64 * KIB);

    /* About 1 MiB in one transaction: it must grow the map several times and succeed. */
    struct fill_arg f = {"g", 1000, 1000, 0};
    CHECK_INT(store_write(&s, fill_fn, &f), 0);
    struct store_stats after;
    store_stats(&s, &after);
    CHECK(after.grows > 0);
    CHECK_INT(f.calls, (int)after.grows + 1);
    CHECK(after.map_size > before.map_size);
    CHECK(after.map_size <= 4 * MIB);
    CHECK(after.used_bytes >= 1000 * 1000);
    CHECK_INT(after.commits, 1);
    CHECK_INT(check_fill(&s, "g", 1000), 1000);

    /* More than the maximum can hold: BC_EFULL, nothing of it stored, the rest intact. */
    struct fill_arg huge = {"h", 2000, 4000, 0};
    CHECK_INT(store_write(&s, fill_fn, &huge), BC_EFULL);
    CHECK_INT(check_fill(&s, "h", 4000), 0);
    CHECK_INT(check_fill(&s, "g", 1000), 1000);
    struct store_stats full;
    store_stats(&s, &full);
    CHECK_INT(full.map_size, 4 * MIB);
    CHECK_INT(full.commits, 1);

    /* The store still takes writes that fit. */
    CHECK_INT(put(&s, DB_META, "after", "full"), 0);
    CHECK_STR(value_of(&s, DB_META, "after"), "full");

    /* Reopening (with the same small initial size) keeps everything, and can grow again. */
    store_close(&s);
    CHECK_INT(open_store(&s, d.path, 64 * KIB, 4 * MIB), 0);
    CHECK_INT(check_fill(&s, "g", 1000), 1000);
    CHECK_STR(value_of(&s, DB_META, "after"), "full");
    struct fill_arg more = {"m", 500, 1000, 0};
    CHECK_INT(store_write(&s, fill_fn, &more), 0);
    CHECK_INT(check_fill(&s, "m", 1000), 500);
    CHECK_INT(check_fill(&s, "g", 1000), 1000);
    store_close(&s);
    tmpdir_remove(&d);
}

/* The map cannot grow under an open read snapshot: the write fails with BC_EFULL and works once
 * the snapshot has ended. */
static void test_growth_blocked_by_snapshot(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 64 * KIB, 4 * MIB), 0);
    struct store_txn t;
    CHECK_INT(store_read_begin(&s, &t), 0);
    struct fill_arg f = {"g", 200, 1000, 0};
    CHECK_INT(store_write(&s, fill_fn, &f), BC_EFULL);
    store_read_end(&t);
    CHECK_INT(check_fill(&s, "g", 1000), 0);
    f.calls = 0;
    CHECK_INT(store_write(&s, fill_fn, &f), 0);
    CHECK_INT(check_fill(&s, "g", 1000), 200);
    store_close(&s);
    tmpdir_remove(&d);
}

/* Another process (the admin CLI) grows the map while this one has the store open: this process
 * adopts the new size, in its first read, a renewed read and a write. The child opens its own
 * environment and never touches the parent's. */
static int grow_in_child(const char *dir, const char *prefix)
{
    pid_t pid = fork();
    if (pid == 0) {
        struct store c;
        int rc = open_store(&c, dir, 64 * KIB, 8 * MIB);
        struct fill_arg f = {prefix, 1000, 1000, 0};
        if (rc == 0)
            rc = store_write(&c, fill_fn, &f);
        struct store_stats st;
        if (rc == 0)
            store_stats(&c, &st);
        store_close(&c);
        _exit(rc == 0 && st.grows > 0 ? 0 : 1);
    }
    int status = -1;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_map_resized_by_other_process(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 64 * KIB, 8 * MIB), 0);
    CHECK_INT(put(&s, DB_META, "p", "1"), 0);

    /* No read snapshot yet: the write and then the first read meet the new size. */
    CHECK_INT(grow_in_child(d.path, "c"), 0);
    CHECK_INT(put(&s, DB_META, "q", "1"), 0);
    CHECK_INT(check_fill(&s, "c", 1000), 1000);
    struct store_stats st;
    store_stats(&s, &st);
    CHECK(st.map_size >= 1 * MIB);

    /* A reset read snapshot exists now: renewing it meets the new size. */
    CHECK_INT(grow_in_child(d.path, "e"), 0);
    CHECK_INT(check_fill(&s, "e", 1000), 1000);
    CHECK_INT(check_fill(&s, "c", 1000), 1000);
    CHECK_STR(value_of(&s, DB_META, "q"), "1");
    CHECK_INT(put(&s, DB_META, "r", "1"), 0);
    store_close(&s);
    tmpdir_remove(&d);
}

/* ---- opening ---- */

static void test_reopen_and_read_only(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);
    CHECK_INT(put(&s, DB_AGENT, "w1/a1", "agent"), 0);
    store_close(&s);
    /* Closing twice is harmless. */
    store_close(&s);

    struct store_options ro = {
        .dir = d.path, .map_size = 1 * MIB, .map_size_max = 16 * MIB, .read_only = 1};
    CHECK_INT(store_open(&s, &ro), 0);
    CHECK_STR(value_of(&s, DB_AGENT, "w1/a1"), "agent");
    CHECK_INT(put(&s, DB_AGENT, "w1/a2", "x"), BC_EACCES);
    store_close(&s);

    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);
    CHECK_STR(value_of(&s, DB_AGENT, "w1/a1"), "agent");
    CHECK_STR(value_of(&s, DB_AGENT, "w1/a2"), "<missing>");
    store_close(&s);
    tmpdir_remove(&d);
}

/* A missing directory is created. */
static void test_creates_directory(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    char sub[128];
    snprintf(sub, sizeof sub, "%s/data", d.path);
    struct store s;
    CHECK_INT(open_store(&s, sub, 1 * MIB, 16 * MIB), 0);
    CHECK_INT(put(&s, DB_META, "k", "v"), 0);
    store_close(&s);
    struct stat st;
    CHECK(stat(sub, &st) == 0 && S_ISDIR(st.st_mode));
    char p[160];
    snprintf(p, sizeof p, "%s/data.mdb", sub);
    unlink(p);
    snprintf(p, sizeof p, "%s/lock.mdb", sub);
    unlink(p);
    CHECK_INT(rmdir(sub), 0);
    tmpdir_remove(&d);
}

/* Paths that cannot hold a store give an error code (tests run as root, so permission bits
 * would not stop them: use a regular file instead). */
static void test_unusable_directory(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    char file[128], under[160];
    snprintf(file, sizeof file, "%s/file", d.path);
    FILE *fp = fopen(file, "w");
    CHECK(fp != NULL);
    if (fp)
        fclose(fp);
    snprintf(under, sizeof under, "%s/sub", file);

    struct store s;
    memset(&s, 0x5a, sizeof s);
    int rc = open_store(&s, under, 1 * MIB, 16 * MIB);
    CHECK(rc < 0);
    CHECK(s.env == NULL);
    store_close(&s);

    rc = open_store(&s, file, 1 * MIB, 16 * MIB);
    CHECK_INT(rc, BC_EINVAL);
    CHECK(s.env == NULL);
    store_close(&s);

    struct store_options ro = {
        .dir = under, .map_size = 1 * MIB, .map_size_max = 16 * MIB, .read_only = 1};
    CHECK(store_open(&s, &ro) < 0);
    store_close(&s);
    tmpdir_remove(&d);
}

/* ---- asynchronous writes (store_write_async) ---- */

/* A loop for the asynchronous tests, with a guard timer that bounds every wait. */
struct aloop {
    uv_loop_t loop;
    uv_timer_t guard;
    int guard_fired;
    int done_count; /* requests whose done has run, in this loop */
};

static void aloop_guard(uv_timer_t *t)
{
    struct aloop *l = t->data;
    l->guard_fired = 1;
    uv_stop(&l->loop);
}

static void aloop_init(struct aloop *l)
{
    memset(l, 0, sizeof *l);
    CHECK_INT(uv_loop_init(&l->loop), 0);
    uv_timer_init(&l->loop, &l->guard);
    l->guard.data = l;
}

/* Runs the loop until want requests are done, or ms milliseconds have passed. */
static void aloop_run(struct aloop *l, int want, uint64_t ms)
{
    l->guard_fired = 0;
    uv_timer_start(&l->guard, aloop_guard, ms, 0);
    while (l->done_count < want && !l->guard_fired)
        uv_run(&l->loop, UV_RUN_ONCE);
    uv_timer_stop(&l->guard);
    CHECK_REPORT(l->done_count >= want, "%d of %d asynchronous writes done after %llu ms",
                 l->done_count, want, (unsigned long long)ms);
}

/* Closes the guard, waits for whatever is still on the thread pool, and closes the loop. */
static void aloop_close(struct aloop *l)
{
    uv_close((uv_handle_t *)&l->guard, NULL);
    uv_run(&l->loop, UV_RUN_DEFAULT);
    CHECK_INT(uv_loop_close(&l->loop), 0);
}

/* One request and what became of it. */
struct aop {
    struct store_async a; /* first: done receives &a */
    struct aloop *l;
    int done_calls;
    int rc;
    int seq;     /* when done ran: 1 for the first request done in the loop */
    int on_loop; /* done ran on the loop's thread */
};

static uv_thread_t loop_thread;

static void aop_done(struct store_async *a, int rc)
{
    struct aop *op = (struct aop *)a;
    uv_thread_t self = uv_thread_self();
    op->done_calls++;
    op->rc = rc;
    op->seq = ++op->l->done_count;
    op->on_loop = uv_thread_equal(&self, &loop_thread);
}

static void aop_submit(struct aop *op, struct aloop *l, struct store *s, store_write_fn fn,
                       void *arg)
{
    op->l = l;
    store_write_async(s, &l->loop, &op->a, fn, arg, aop_done);
}

/* Each request stores its own key and overwrites "last" with its index, and notes which index it
 * found there: requests that run one at a time in submission order each find the one before. */
struct order_arg {
    int index;
    int saw_prev; /* the index found in "last", -1 when absent */
};

static int order_fn(struct store_txn *t, void *arg)
{
    struct order_arg *o = arg;
    struct store_val v;
    int rc = store_get(t, DB_META, "last", 4, &v);
    if (rc == BC_ENOTFOUND) {
        o->saw_prev = -1;
    } else if (rc) {
        return rc;
    } else {
        char tmp[16];
        snprintf(tmp, sizeof tmp, "%.*s", (int)v.len, (const char *)v.ptr);
        o->saw_prev = atoi(tmp);
    }
    char k[16], val[16];
    int klen = snprintf(k, sizeof k, "q/%02d", o->index);
    int vlen = snprintf(val, sizeof val, "%d", o->index);
    store_put(t, DB_META, k, (size_t)klen, val, (size_t)vlen, 0);
    return store_put(t, DB_META, "last", 4, val, (size_t)vlen, 0);
}

static void test_async_order(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);
    struct aloop l;
    aloop_init(&l);
    loop_thread = uv_thread_self();

    enum { N = 8 };
    struct aop ops[N];
    struct order_arg args[N];
    memset(ops, 0, sizeof ops);
    for (int i = 0; i < N; i++) {
        args[i] = (struct order_arg){i, -2};
        aop_submit(&ops[i], &l, &s, order_fn, &args[i]);
    }
    /* done only ever runs on the loop, so nothing is reported before it runs. */
    CHECK_INT(l.done_count, 0);
    aloop_run(&l, N, 5000);
    for (int i = 0; i < N; i++) {
        CHECK_REPORT(ops[i].done_calls == 1 && ops[i].rc == 0 && ops[i].seq == i + 1 &&
                         ops[i].on_loop,
                     "request %d: done_calls=%d rc=%d seq=%d on_loop=%d", i, ops[i].done_calls,
                     ops[i].rc, ops[i].seq, ops[i].on_loop);
        CHECK_REPORT(args[i].saw_prev == i - 1, "request %d ran after %d", i, args[i].saw_prev);
        char k[16], want[16];
        snprintf(k, sizeof k, "q/%02d", i);
        snprintf(want, sizeof want, "%d", i);
        CHECK_STR(value_of(&s, DB_META, k), want);
    }
    CHECK_STR(value_of(&s, DB_META, "last"), "7");
    struct store_stats st;
    store_stats(&s, &st);
    CHECK_INT(st.commits, N);
    CHECK_INT(s.async_running, 0);
    CHECK(s.async_head == NULL && s.async_tail == NULL);
    /* A second round on the same store and loop, after the queue ran empty. */
    struct aop again;
    memset(&again, 0, sizeof again);
    struct order_arg again_arg = {8, -2};
    aop_submit(&again, &l, &s, order_fn, &again_arg);
    aloop_run(&l, N + 1, 5000);
    CHECK_INT(again.rc, 0);
    CHECK_INT(again.done_calls, 1);
    CHECK_INT(again_arg.saw_prev, 7);
    CHECK_STR(value_of(&s, DB_META, "last"), "8");
    aloop_close(&l);
    store_close(&s);
    tmpdir_remove(&d);
}

/* Writes "last" and a key of its own, then fails. */
static int fail_fn(struct store_txn *t, void *arg)
{
    (void)arg;
    store_put(t, DB_META, "f/x", 3, "1", 1, 0);
    store_put(t, DB_META, "last", 4, "99", 2, 0);
    return BC_EINVAL;
}

/* Returns 0, but the transaction failed (a key over LMDB's limit): a sticky error. */
static int bad_key_fn(struct store_txn *t, void *arg)
{
    (void)arg;
    char big[600];
    memset(big, 'k', sizeof big);
    store_put(t, DB_META, "f/y", 3, "1", 1, 0);
    store_put(t, DB_META, big, sizeof big, "x", 1, 0);
    return 0;
}

static void test_async_failure(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);
    struct aloop l;
    aloop_init(&l);
    loop_thread = uv_thread_self();

    struct aop ops[5];
    memset(ops, 0, sizeof ops);
    struct order_arg first = {0, -2}, second = {1, -2}, third = {2, -2};
    aop_submit(&ops[0], &l, &s, order_fn, &first);
    aop_submit(&ops[1], &l, &s, fail_fn, NULL);
    aop_submit(&ops[2], &l, &s, order_fn, &second);
    aop_submit(&ops[3], &l, &s, bad_key_fn, NULL);
    aop_submit(&ops[4], &l, &s, order_fn, &third);
    aloop_run(&l, 5, 5000);
    static const int want_rc[5] = {0, BC_EINVAL, 0, BC_EINVAL, 0};
    for (int i = 0; i < 5; i++)
        CHECK_REPORT(ops[i].done_calls == 1 && ops[i].rc == want_rc[i] && ops[i].seq == i + 1,
                     "request %d: done_calls=%d rc=%d (want %d) seq=%d", i, ops[i].done_calls,
                     ops[i].rc, want_rc[i], ops[i].seq);
    /* Nothing of the failed requests is stored: the next request found "last" as the previous
     * successful one left it. */
    CHECK_INT(second.saw_prev, 0);
    CHECK_INT(third.saw_prev, 1);
    CHECK_STR(value_of(&s, DB_META, "f/x"), "<missing>");
    CHECK_STR(value_of(&s, DB_META, "f/y"), "<missing>");
    CHECK_STR(value_of(&s, DB_META, "q/02"), "2");
    CHECK_STR(value_of(&s, DB_META, "last"), "2");
    struct store_stats st;
    store_stats(&s, &st);
    CHECK_INT(st.commits, 3);
    aloop_close(&l);
    store_close(&s);
    tmpdir_remove(&d);
}

static void test_async_map_growth(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 64 * KIB, 4 * MIB), 0);
    struct aloop l;
    aloop_init(&l);
    loop_thread = uv_thread_self();

    /* About 1 MiB in one transaction, in a map of 64 KiB: grown on the loop, run again. */
    struct aop grow;
    memset(&grow, 0, sizeof grow);
    struct fill_arg f = {"g", 1000, 1000, 0};
    aop_submit(&grow, &l, &s, fill_fn, &f);
    aloop_run(&l, 1, 10000);
    CHECK_INT(grow.done_calls, 1);
    CHECK_INT(grow.rc, 0);
    struct store_stats st;
    store_stats(&s, &st);
    CHECK(s.grows > 0);
    CHECK_INT(f.calls, (int)s.grows + 1);
    CHECK(st.map_size > 64 * KIB && st.map_size <= 4 * MIB);
    CHECK_INT(st.commits, 1);
    CHECK_INT(check_fill(&s, "g", 1000), 1000);

    /* More than the maximum holds: BC_EFULL, nothing of it stored, and the request queued behind
     * it still runs. */
    struct aop full, after;
    memset(&full, 0, sizeof full);
    memset(&after, 0, sizeof after);
    struct fill_arg huge = {"h", 2000, 4000, 0};
    struct kv kv = {DB_META, "after", "full"};
    aop_submit(&full, &l, &s, fill_fn, &huge);
    aop_submit(&after, &l, &s, put_one, &kv);
    aloop_run(&l, 3, 10000);
    CHECK_INT(full.done_calls, 1);
    CHECK_INT(full.rc, BC_EFULL);
    CHECK_INT(after.done_calls, 1);
    CHECK_INT(after.rc, 0);
    CHECK(full.seq < after.seq);
    CHECK_INT(check_fill(&s, "h", 4000), 0);
    CHECK_INT(check_fill(&s, "g", 1000), 1000);
    CHECK_STR(value_of(&s, DB_META, "after"), "full");
    store_stats(&s, &st);
    CHECK_INT(st.map_size, 4 * MIB);
    CHECK_INT(st.commits, 2);
    aloop_close(&l);
    store_close(&s);

    /* The same after reopening with the same small map, everything still there. */
    CHECK_INT(open_store(&s, d.path, 64 * KIB, 4 * MIB), 0);
    CHECK_INT(check_fill(&s, "g", 1000), 1000);
    store_close(&s);
    tmpdir_remove(&d);
}

/* A transaction that stays open until the loop releases it (or hold_ms pass). */
struct slow_arg {
    const char *key; /* set to "new" first */
    int rows;
    int hold_ms;
    atomic_int in_txn;  /* 1: its puts are done and it has not returned; 2: it returned */
    atomic_int release; /* the loop lets it commit */
    int held_full;      /* it waited the whole hold_ms */
};

static int slow_fn(struct store_txn *t, void *arg)
{
    struct slow_arg *a = arg;
    int rc = store_put(t, DB_WS, a->key, strlen(a->key), "new", 3, 0);
    char v[100];
    memset(v, 'v', sizeof v);
    for (int i = 0; i < a->rows && rc == 0; i++) {
        char k[16];
        int klen = snprintf(k, sizeof k, "s/%06d", i);
        rc = store_put(t, DB_JOB, k, (size_t)klen, v, sizeof v, STORE_APPEND);
    }
    atomic_store(&a->in_txn, 1);
    int waited = 0;
    while (!atomic_load(&a->release) && waited < a->hold_ms) {
        usleep(1000);
        waited++;
    }
    a->held_full = waited >= a->hold_ms;
    atomic_store(&a->in_txn, 2);
    return rc;
}

static double ms_since(uint64_t t0)
{
    return (double)(uv_hrtime() - t0) / 1e6;
}

/* Reads on the loop thread, from an idle callback, while slow_fn is inside its transaction. */
struct reader {
    uv_idle_t idle;
    struct store *s;
    struct slow_arg *slow;
    int reads, old_seen, new_seen;
    double max_ms;
};

static void reader_cb(uv_idle_t *h)
{
    struct reader *r = h->data;
    if (!atomic_load(&r->slow->in_txn))
        return;
    for (int i = 0; i < 50; i++) {
        uint64_t t0 = uv_hrtime();
        const char *w = value_of(r->s, DB_WS, "w");
        int old = strcmp(w, "old") == 0;
        const char *row = value_of(r->s, DB_JOB, "s/000000");
        int missing = strcmp(row, "<missing>") == 0;
        double ms = ms_since(t0);
        if (ms > r->max_ms)
            r->max_ms = ms;
        r->reads++;
        r->old_seen += old && missing;
        r->new_seen += !old || !missing;
    }
    atomic_store(&r->slow->release, 1);
    uv_idle_stop(h);
}

static void test_async_reads_not_blocked(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 64 * MIB, 64 * MIB), 0);
    CHECK_INT(put(&s, DB_WS, "w", "old"), 0);
    struct aloop l;
    aloop_init(&l);
    loop_thread = uv_thread_self();

    struct slow_arg slow = {.key = "w", .rows = 20000, .hold_ms = 5000};
    struct aop op;
    memset(&op, 0, sizeof op);
    aop_submit(&op, &l, &s, slow_fn, &slow);
    struct reader r = {.s = &s, .slow = &slow};
    uv_idle_init(&l.loop, &r.idle);
    r.idle.data = &r;
    uv_idle_start(&r.idle, reader_cb);
    aloop_run(&l, 1, 10000);
    uv_close((uv_handle_t *)&r.idle, NULL);

    CHECK_INT(op.rc, 0);
    CHECK_INT(op.done_calls, 1);
    /* The reads ran while the transaction was open (it waited for them), quickly, and saw the
     * state before it. */
    CHECK_INT(slow.held_full, 0);
    CHECK_INT(r.reads, 50);
    CHECK_INT(r.old_seen, 50);
    CHECK_INT(r.new_seen, 0);
    CHECK_REPORT(r.max_ms < 100, "a read took %.1f ms while the write was in flight", r.max_ms);
    /* After done, the write is visible. */
    CHECK_STR(value_of(&s, DB_WS, "w"), "new");
    CHECK_STR(value_of(&s, DB_JOB, "s/019999"),
              "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
              "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv");
    aloop_close(&l);
    store_close(&s);
    tmpdir_remove(&d);
}

/* A done that reads the request's key back at once. */
struct durable_op {
    struct aop op; /* first */
    struct store *s;
    const char *key;
    char seen[256]; /* as large as what value_of returns */
};

static void durable_done(struct store_async *a, int rc)
{
    struct durable_op *dop = (struct durable_op *)a;
    aop_done(a, rc);
    snprintf(dop->seen, sizeof dop->seen, "%s", value_of(dop->s, DB_META, dop->key));
}

static void test_async_defer_durability(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);
    struct aloop l;
    aloop_init(&l);
    loop_thread = uv_thread_self();

    struct durable_op ops[3];
    memset(ops, 0, sizeof ops);
    static const char *const keys[3] = {"d1", "d2", "d3"};
    struct kv kvs[3];
    for (int i = 0; i < 3; i++) {
        kvs[i] = (struct kv){DB_META, keys[i], "deferred"};
        ops[i].s = &s;
        ops[i].key = keys[i];
        ops[i].op.l = &l;
        ops[i].op.a.defer_durability = 1;
        store_write_async(&s, &l.loop, &ops[i].op.a, put_one, &kvs[i], durable_done);
    }
    aloop_run(&l, 3, 5000);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(ops[i].op.rc, 0);
        CHECK_INT(ops[i].op.done_calls, 1);
        CHECK_STR(ops[i].seen, "deferred");
    }
    struct store_stats st;
    store_stats(&s, &st);
    CHECK_INT(st.commits, 3);
    aloop_close(&l);
    /* No ordinary commit after them: closing (which syncs) keeps them all the same. */
    store_close(&s);
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);
    for (int i = 0; i < 3; i++)
        CHECK_STR(value_of(&s, DB_META, keys[i]), "deferred");
    /* And the store takes ordinary writes after them. */
    CHECK_INT(put(&s, DB_META, "d4", "plain"), 0);
    store_close(&s);
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 16 * MIB), 0);
    CHECK_STR(value_of(&s, DB_META, "d3"), "deferred");
    CHECK_STR(value_of(&s, DB_META, "d4"), "plain");
    store_close(&s);
    tmpdir_remove(&d);
}

/* The loop's own store_write while asynchronous writes are queued or in flight. */
struct sync_arg {
    const char *must_see; /* a key the transaction must find (a write that came before) */
    const char *key;
    int saw;
};

static int sync_fn(struct store_txn *t, void *arg)
{
    struct sync_arg *a = arg;
    struct store_val v;
    a->saw = a->must_see ? store_get(t, DB_WS, a->must_see, strlen(a->must_see), &v) == 0 : 1;
    return store_put(t, DB_WS, a->key, strlen(a->key), "1", 1, 0);
}

struct writer {
    uv_idle_t idle;
    struct store *s;
    struct slow_arg *slow;
    struct sync_arg arg;
    struct fill_arg fill; /* with count > 0: then a write that needs the map to grow */
    int rc, fill_rc, ran, in_flight;
};

static void writer_cb(uv_idle_t *h)
{
    struct writer *w = h->data;
    if (!atomic_load(&w->slow->in_txn))
        return;
    uv_idle_stop(h);
    w->in_flight = atomic_load(&w->slow->in_txn) == 1;
    w->rc = store_write(w->s, sync_fn, &w->arg);
    if (w->fill.count)
        w->fill_rc = store_write(w->s, fill_fn, &w->fill);
    w->ran = 1;
}

static void sync_while_async(size_t map_size, int fill_count)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, map_size, 16 * MIB), 0);
    struct aloop l;
    aloop_init(&l);
    loop_thread = uv_thread_self();

    /* Queued: A1 handed to the pool (started or not), B1 waiting in the store's queue; the loop
     * writes at once. */
    struct slow_arg slow1 = {.key = "a1", .rows = 10, .hold_ms = 20};
    struct sync_arg b1arg = {"early", "b1", 0};
    struct aop a1, b1;
    memset(&a1, 0, sizeof a1);
    memset(&b1, 0, sizeof b1);
    aop_submit(&a1, &l, &s, slow_fn, &slow1);
    aop_submit(&b1, &l, &s, sync_fn, &b1arg);
    CHECK(s.async_head == &b1.a);
    struct sync_arg early = {NULL, "early", 0};
    CHECK_INT(store_write(&s, sync_fn, &early), 0);
    aloop_run(&l, 2, 10000);
    CHECK(a1.done_calls == 1 && a1.rc == 0 && a1.seq == 1);
    CHECK(b1.done_calls == 1 && b1.rc == 0 && b1.seq == 2);
    /* B1 ran after the loop's write. */
    CHECK_INT(b1arg.saw, 1);

    /* In flight: A2 holds its transaction open for 30 ms; the loop's write waits for its commit
     * (and sees it); B2, queued behind A2, sees the loop's write. */
    struct slow_arg slow2 = {.key = "a2", .rows = 10, .hold_ms = 30};
    struct sync_arg b2arg = {"sync", "b2", 0};
    struct aop a2, b2;
    memset(&a2, 0, sizeof a2);
    memset(&b2, 0, sizeof b2);
    aop_submit(&a2, &l, &s, slow_fn, &slow2);
    aop_submit(&b2, &l, &s, sync_fn, &b2arg);
    struct writer w = {.s = &s, .slow = &slow2, .arg = {"a2", "sync", 0}};
    if (fill_count)
        w.fill = (struct fill_arg){"g", fill_count, 1000, 0};
    uv_idle_init(&l.loop, &w.idle);
    w.idle.data = &w;
    uv_idle_start(&w.idle, writer_cb);
    aloop_run(&l, 4, 10000);
    uv_close((uv_handle_t *)&w.idle, NULL);

    CHECK_INT(w.ran, 1);
    CHECK_INT(w.in_flight, 1);
    CHECK_INT(w.rc, 0);
    CHECK_INT(w.arg.saw, 1);
    CHECK(a2.done_calls == 1 && a2.rc == 0 && a2.seq == 3);
    CHECK(b2.done_calls == 1 && b2.rc == 0 && b2.seq == 4);
    CHECK_INT(b2arg.saw, 1);
    static const char *const keys[] = {"a1", "a2"};
    for (size_t i = 0; i < 2; i++)
        CHECK_STR(value_of(&s, DB_WS, keys[i]), "new");
    static const char *const ones[] = {"early", "b1", "sync", "b2"};
    for (size_t i = 0; i < 4; i++)
        CHECK_STR(value_of(&s, DB_WS, ones[i]), "1");
    struct store_stats st;
    store_stats(&s, &st);
    if (fill_count) {
        CHECK_INT(w.fill_rc, 0);
        CHECK(st.grows > 0);
        CHECK_INT(check_fill(&s, "g", 1000), fill_count);
    }
    CHECK_INT(st.commits, 6 + (fill_count ? 1 : 0));
    aloop_close(&l);
    store_close(&s);
    tmpdir_remove(&d);
}

static void test_async_with_sync_write(void)
{
    sync_while_async(1 * MIB, 0);
    /* The loop's write also grows the map (under the lock that the pool's transactions hold). */
    sync_while_async(64 * KIB, 300);
}
static void setup_quiet_logs(void)
{
    log_set_level(LOG_ERROR);
}

/* A read transaction's snapshot number: the same while nothing is committed (also nested), new
 * after a commit of this process or of another one (a child opening the same environment, as
 * the admin command does), and unchanged by a write that failed. */
static void test_snapshot_number(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 1 * MIB, 8 * MIB), 0);
    struct store_txn a, b;
    CHECK_INT(store_read_begin(&s, &a), 0);
    uint64_t first = a.snapshot;
    CHECK_INT(store_read_begin(&s, &b), 0);
    CHECK(b.snapshot == first);
    store_read_end(&b);
    store_read_end(&a);
    CHECK_INT(store_read_begin(&s, &a), 0);
    CHECK(a.snapshot == first);
    store_read_end(&a);
    CHECK_INT(put(&s, DB_META, "k", "v"), 0);
    CHECK_INT(store_read_begin(&s, &a), 0);
    uint64_t second = a.snapshot;
    CHECK(second > first);
    store_read_end(&a);
    struct kv bad = {DB_META, "", "v"}; /* an empty key: the write fails, nothing commits */
    CHECK(store_write(&s, put_one, &bad) != 0);
    CHECK_INT(store_read_begin(&s, &a), 0);
    CHECK(a.snapshot == second);
    store_read_end(&a);
    pid_t pid = fork();
    if (pid == 0) {
        struct store c;
        int rc = open_store(&c, d.path, 1 * MIB, 8 * MIB);
        if (rc == 0)
            rc = put(&c, DB_META, "k", "w");
        if (rc == 0)
            store_close(&c);
        _exit(rc == 0 ? 0 : 1);
    }
    int status = -1;
    CHECK_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_INT(store_read_begin(&s, &a), 0);
    CHECK(a.snapshot > second);
    store_read_end(&a);
    store_close(&s);
    tmpdir_remove(&d);
}

CHECK_MAIN(CHECK_CASE(setup_quiet_logs), CHECK_CASE(test_snapshot_number),
           CHECK_CASE(test_put_get_del), CHECK_CASE(test_binary_keys_and_values),
           CHECK_CASE(test_sticky_errors), CHECK_CASE(test_sticky_error_in_read),
           CHECK_CASE(test_commit_and_abort), CHECK_CASE(test_append), CHECK_CASE(test_iteration),
           CHECK_CASE(test_del_prefix), CHECK_CASE(test_duplicate_table), CHECK_CASE(test_appender),
           CHECK_CASE(test_iteration_in_write), CHECK_CASE(test_snapshot_isolation),
           CHECK_CASE(test_map_growth), CHECK_CASE(test_growth_blocked_by_snapshot),
           CHECK_CASE(test_map_resized_by_other_process), CHECK_CASE(test_reopen_and_read_only),
           CHECK_CASE(test_creates_directory), CHECK_CASE(test_unusable_directory),
           CHECK_CASE(test_async_order), CHECK_CASE(test_async_failure),
           CHECK_CASE(test_async_map_growth), CHECK_CASE(test_async_reads_not_blocked),
           CHECK_CASE(test_async_defer_durability), CHECK_CASE(test_async_with_sync_write))
