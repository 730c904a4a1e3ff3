/* Tests for the read cache per snapshot (src/store/snapcache.c), on a real LMDB store:
 *   - a second read of a key in the same snapshot is a hit, with the same bytes;
 *   - a write of this process (new value, then deletion) is read at once, not the kept value;
 *   - so is a write by another process (a child opening the same environment, as the admin
 *     command does);
 *   - keys sharing a slot, the same key in two tables, an absent key, a value or a key too long
 *     to keep, and a write transaction are all answered as store_get answers them.
 * Reading the kept value without comparing snapshots fails the write tests. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "tmpstore.h"

#include "store/snapcache.h"
#include "store/store.h"
#include "util/err.h"

#define MIB (1024 * 1024)

struct kv {
    enum store_db db;
    const char *k;
    const char *v; /* NULL: delete */
    size_t vlen;
};

static int write_one(struct store_txn *t, void *arg)
{
    const struct kv *kv = arg;
    if (!kv->v)
        return store_del(t, kv->db, kv->k, strlen(kv->k));
    return store_put(t, kv->db, kv->k, strlen(kv->k), kv->v, kv->vlen ? kv->vlen : strlen(kv->v),
                     0);
}

static int put(struct store *s, enum store_db db, const char *k, const char *v)
{
    struct kv kv = {db, k, v, 0};
    return store_write(s, write_one, &kv);
}

/* A store in a temp dir and an empty cache. */
struct cached_store {
    struct tmpdir d;
    struct store s;
    struct snapcache c;
};

static void fx_open(struct cached_store *f)
{
    tmpdir_make(&f->d);
    CHECK_INT(open_store(&f->s, f->d.path, 1 * MIB, 8 * MIB), 0);
    f->c = (struct snapcache){0};
}

static void fx_close(struct cached_store *f)
{
    snapcache_free(&f->c);
    store_close(&f->s);
    tmpdir_remove(&f->d);
}

/* Reads k through the cache in a snapshot of its own: the code, and the value in out. */
static int cached(struct snapcache *c, struct store *s, enum store_db db, const char *k, char *out,
                  size_t cap)
{
    struct store_txn t;
    CHECK_INT(store_read_begin(s, &t), 0);
    struct store_val v = {NULL, 0};
    int rc = snapcache_get(c, &t, db, k, strlen(k), &v);
    out[0] = '\0';
    if (rc == 0)
        snprintf(out, cap, "%.*s", (int)v.len, (const char *)v.ptr);
    store_read_end(&t);
    return rc;
}

static void test_hits_and_writes(void)
{
    struct cached_store f;
    fx_open(&f);
    char out[64];
    CHECK_INT(put(&f.s, DB_AGENT, "ws_1|agent_A", "one"), 0);
    CHECK_INT(cached(&f.c, &f.s, DB_AGENT, "ws_1|agent_A", out, sizeof out), 0);
    CHECK_STR(out, "one");
    CHECK(f.c.hits == 0 && f.c.misses == 1);
    CHECK_INT(cached(&f.c, &f.s, DB_AGENT, "ws_1|agent_A", out, sizeof out), 0);
    CHECK_STR(out, "one");
    CHECK(f.c.hits == 1);
    /* The same key in another table is another value. */
    CHECK_INT(cached(&f.c, &f.s, DB_WS, "ws_1|agent_A", out, sizeof out), BC_ENOTFOUND);
    CHECK_INT(put(&f.s, DB_AGENT, "ws_1|agent_A", "two"), 0);
    CHECK_INT(cached(&f.c, &f.s, DB_AGENT, "ws_1|agent_A", out, sizeof out), 0);
    CHECK_STR(out, "two");
    struct kv del = {DB_AGENT, "ws_1|agent_A", NULL, 0};
    CHECK_INT(store_write(&f.s, write_one, &del), 0);
    CHECK_INT(cached(&f.c, &f.s, DB_AGENT, "ws_1|agent_A", out, sizeof out), BC_ENOTFOUND);
    CHECK_INT(put(&f.s, DB_AGENT, "ws_1|agent_A", "three"), 0);
    CHECK_INT(cached(&f.c, &f.s, DB_AGENT, "ws_1|agent_A", out, sizeof out), 0);
    CHECK_STR(out, "three");
    /* Another process writes: the next snapshot has its value. */
    pid_t pid = fork();
    if (pid == 0) {
        struct store o;
        int rc = open_store(&o, f.d.path, 1 * MIB, 8 * MIB);
        if (rc == 0)
            rc = put(&o, DB_AGENT, "ws_1|agent_A", "four");
        if (rc == 0)
            store_close(&o);
        _exit(rc == 0 ? 0 : 1);
    }
    int status = -1;
    CHECK_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_INT(cached(&f.c, &f.s, DB_AGENT, "ws_1|agent_A", out, sizeof out), 0);
    CHECK_STR(out, "four");
    fx_close(&f);
}

/* Many keys (more than slots, so some share one), each read twice in one snapshot: always its
 * own value. Then keys and values too long to keep, and a write transaction. */
static void test_slots_and_limits(void)
{
    struct cached_store f;
    fx_open(&f);
    char k[32], v[32], out[64];
    for (int i = 0; i < 3 * SNAPCACHE_SLOTS; i++) {
        snprintf(k, sizeof k, "key%d", i);
        snprintf(v, sizeof v, "value%d", i);
        CHECK_INT(put(&f.s, DB_META, k, v), 0);
    }
    struct store_txn t;
    CHECK_INT(store_read_begin(&f.s, &t), 0);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 3 * SNAPCACHE_SLOTS; i++) {
            snprintf(k, sizeof k, "key%d", i);
            snprintf(v, sizeof v, "value%d", i);
            struct store_val got;
            CHECK_INT(snapcache_get(&f.c, &t, DB_META, k, strlen(k), &got), 0);
            CHECK(got.len == strlen(v) && memcmp(got.ptr, v, got.len) == 0);
        }
    }
    store_read_end(&t);
    CHECK(f.c.hits > 0);
    /* A value too long to keep is read from the store every time. */
    char *big = malloc(SNAPCACHE_VAL_MAX + 2);
    memset(big, 'b', SNAPCACHE_VAL_MAX + 1);
    big[SNAPCACHE_VAL_MAX + 1] = '\0';
    CHECK_INT(put(&f.s, DB_META, "big", big), 0);
    uint64_t hits = f.c.hits;
    for (int i = 0; i < 2; i++) {
        CHECK_INT(store_read_begin(&f.s, &t), 0);
        struct store_val got;
        CHECK_INT(snapcache_get(&f.c, &t, DB_META, "big", 3, &got), 0);
        CHECK(got.len == SNAPCACHE_VAL_MAX + 1 && memcmp(got.ptr, big, got.len) == 0);
        store_read_end(&t);
    }
    CHECK(f.c.hits == hits);
    free(big);
    /* So is a key longer than SNAPCACHE_KEY_MAX. */
    char long_key[SNAPCACHE_KEY_MAX + 2];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    CHECK_INT(put(&f.s, DB_META, long_key, "long"), 0);
    CHECK_INT(cached(&f.c, &f.s, DB_META, long_key, out, sizeof out), 0);
    CHECK_INT(cached(&f.c, &f.s, DB_META, long_key, out, sizeof out), 0);
    CHECK_STR(out, "long");
    CHECK(f.c.hits == hits);
    fx_close(&f);
}

/* In a write transaction the cache reads the store: the transaction's own puts are seen. */
static int write_then_read(struct store_txn *t, void *arg)
{
    struct snapcache *c = arg;
    struct store_val v;
    int rc = store_put(t, DB_META, "w", 1, "new", 3, 0);
    if (rc == 0)
        rc = snapcache_get(c, t, DB_META, "w", 1, &v);
    return rc ? rc : v.len == 3 && memcmp(v.ptr, "new", 3) == 0 ? 0 : BC_EINVAL;
}

static void test_write_transaction(void)
{
    struct cached_store f;
    fx_open(&f);
    char out[64];
    CHECK_INT(put(&f.s, DB_META, "w", "old"), 0);
    CHECK_INT(cached(&f.c, &f.s, DB_META, "w", out, sizeof out), 0);
    CHECK_STR(out, "old");
    CHECK_INT(store_write(&f.s, write_then_read, &f.c), 0);
    CHECK_INT(cached(&f.c, &f.s, DB_META, "w", out, sizeof out), 0);
    CHECK_STR(out, "new");
    fx_close(&f);
}

CHECK_MAIN(CHECK_CASE(test_hits_and_writes), CHECK_CASE(test_slots_and_limits),
           CHECK_CASE(test_write_transaction))
