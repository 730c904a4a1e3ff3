/* Tests for src/store/store.c against a real LMDB environment in a fresh temporary directory:
 * basic operations, which errors are sticky, commit and abort, prefix iteration, read snapshots,
 * map growth up to the configured maximum, reopening, and directories that cannot be used. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "store/store.h"
#include "util/err.h"
#include "util/log.h"

#define KIB 1024
#define MIB (1024 * 1024)

/* ---- helpers ---- */

struct tmpdir {
    char path[64];
};

static void tmpdir_make(struct tmpdir *d)
{
    snprintf(d->path, sizeof d->path, "/tmp/store_test.XXXXXX");
    CHECK(mkdtemp(d->path) != NULL);
}

/* Removes what LMDB creates in the directory, then the directory. */
static void tmpdir_remove(struct tmpdir *d)
{
    static const char *const files[] = {"data.mdb", "lock.mdb", "file"};
    char p[128];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", d->path, files[i]);
        unlink(p);
    }
    CHECK_INT(rmdir(d->path), 0);
}

static int open_store(struct store *s, const char *dir, size_t map_size, size_t map_size_max)
{
    struct store_options opt = {
        .dir = dir, .map_size = map_size, .map_size_max = map_size_max, .read_only = 0};
    return store_open(s, &opt);
}

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

static void setup_quiet_logs(void)
{
    log_set_level(LOG_ERROR);
}

CHECK_MAIN(CHECK_CASE(setup_quiet_logs), CHECK_CASE(test_put_get_del),
           CHECK_CASE(test_binary_keys_and_values), CHECK_CASE(test_sticky_errors),
           CHECK_CASE(test_sticky_error_in_read), CHECK_CASE(test_commit_and_abort),
           CHECK_CASE(test_append), CHECK_CASE(test_iteration), CHECK_CASE(test_iteration_in_write),
           CHECK_CASE(test_snapshot_isolation), CHECK_CASE(test_map_growth),
           CHECK_CASE(test_growth_blocked_by_snapshot),
           CHECK_CASE(test_map_resized_by_other_process), CHECK_CASE(test_reopen_and_read_only),
           CHECK_CASE(test_creates_directory), CHECK_CASE(test_unusable_directory))
