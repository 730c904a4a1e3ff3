#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <uv.h>

#include "util/err.h"
#include "util/log.h"

static const char *const db_names[DB_COUNT] = {
    [DB_META] = "meta",
    [DB_WS] = "ws",
    [DB_KEYHASH2WS] = "keyhash2ws",
    [DB_AGENT] = "agent",
    [DB_BATCH] = "batch",
    [DB_BATCHMETA] = "batchmeta",
    [DB_JOB] = "job",
    [DB_JOBSTATE] = "jobstate.v2",
    [DB_WS2BATCH] = "ws2batch",
    [DB_IDEM] = "idem",
    [DB_DUE] = "due",
    [DB_SID] = "sid2job",
    [DB_USAGE] = "usage",
    [DB_STATECOUNT] = "statecount",
    [DB_WEBHOOK] = "webhook",
    [DB_OUTBOX] = "outbox",
    [DB_DELIVERY] = "delivery",
    [DB_FINALSEQ] = "finalseq",
    [DB_TRANSCRIPT] = "transcript",
    [DB_SUPPRESS] = "suppress",
    [DB_REGISTRY] = "registry",
    [DB_CAP] = "cap",
    [DB_HELDZONE] = "heldzone",
    [DB_POLICY] = "policy",
    [DB_JOBSTATE_V1] = "jobstate",
};

/* Tables whose keys end in a fixed-size part stored as an LMDB sorted duplicate of the rest
 * (MDB_DUPSORT | MDB_DUPFIXED): dup_tail[db] bytes, and no values. The per-state index is one
 * LMDB key per batch and state holding its rows at 4 bytes each, where a node per row took 32.
 * The functions below take and give whole keys, so that callers see an ordinary table. */
static const uint8_t dup_tail[DB_COUNT] = {[DB_JOBSTATE] = 4};

/* The one place LMDB (and errno) codes become project codes. */
static int translate(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return 0;
    case MDB_NOTFOUND:
        return BC_ENOTFOUND;
    case MDB_KEYEXIST:
        return BC_EEXIST;
    case MDB_MAP_FULL:
        return BC_EFULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
        return BC_ECORRUPT;
    case MDB_BAD_VALSIZE:
        return BC_EINVAL;
    /* The filesystem is full (or the user's quota): unlike BC_EFULL, our own limit, only freeing
     * disk space helps, so it gets its own code and message. */
    case ENOSPC:
    case EDQUOT:
        return BC_ENOSPC;
    case ENOMEM:
        return BC_ENOMEM;
    case EACCES:
    case EPERM:
    case EROFS:
        return BC_EACCES;
    case EAGAIN:
    case EBUSY:
        return BC_EBUSY;
    default:
        return BC_EIO;
    }
}

static MDB_env *env_of(struct store *s)
{
    return (MDB_env *)s->env;
}

static size_t round_to_page(size_t n)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t p = page > 0 ? (size_t)page : 4096;
    return (n + p - 1) / p * p;
}

/* Makes sure the directory exists and is writable, so the error names the real problem rather
 * than LMDB's generic one. */
static int prepare_dir(const char *dir, int read_only)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT || read_only) {
            log_error("data directory is not usable", "dir=\"%s\" reason=\"%s\"", dir,
                      strerror(errno));
            return translate(errno);
        }
        if (mkdir(dir, 0700) != 0) {
            log_error("cannot create data directory", "dir=\"%s\" reason=\"%s\"", dir,
                      strerror(errno));
            return translate(errno);
        }
        return 0;
    }
    if (!S_ISDIR(st.st_mode)) {
        log_error("data directory is not a directory", "dir=\"%s\"", dir);
        return BC_EINVAL;
    }
    if (access(dir, read_only ? R_OK | X_OK : R_OK | W_OK | X_OK) != 0) {
        log_error("data directory is not accessible", "dir=\"%s\" reason=\"%s\"", dir,
                  strerror(errno));
        return translate(errno);
    }
    return 0;
}

static int open_databases(struct store *s, int read_only)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(env_of(s), NULL, read_only ? MDB_RDONLY : 0, &txn);
    if (rc)
        return rc;
    for (int i = 0; i < DB_COUNT; i++) {
        MDB_dbi dbi;
        unsigned flags = dup_tail[i] ? MDB_DUPSORT | MDB_DUPFIXED : 0;
        rc = mdb_dbi_open(txn, db_names[i], flags | (read_only ? 0 : MDB_CREATE), &dbi);
        if (rc) {
            mdb_txn_abort(txn);
            return rc;
        }
        s->dbi[i] = dbi;
    }
    return mdb_txn_commit(txn);
}

/* mdb_env_set_mapsize needs every write transaction of the process finished: an asynchronous
 * write (store_write_async) holds map_lock for its whole transaction, so the map is only resized
 * between them. (A read that finds the map grown by another process may therefore wait for the
 * asynchronous write in flight; that happens once per growth by the admin CLI.) */
static int set_map_size(struct store *s, size_t size)
{
    uv_mutex_lock(&s->map_lock);
    int rc = mdb_env_set_mapsize(env_of(s), size);
    uv_mutex_unlock(&s->map_lock);
    return rc;
}

static void refresh_map_size(struct store *s)
{
    MDB_envinfo info;
    if (mdb_env_info(env_of(s), &info) == 0)
        s->map_size = info.me_mapsize;
}

int store_open(struct store *s, const struct store_options *opt)
{
    memset(s, 0, sizeof *s);
    int major, minor;
    mdb_version(&major, &minor, NULL);
    if (major != MDB_VERSION_MAJOR || minor != MDB_VERSION_MINOR) {
        log_error("LMDB library does not match the version built against", "runtime=%d.%d", major,
                  minor);
        return BC_EINVAL;
    }
    int rc = prepare_dir(opt->dir, opt->read_only);
    if (rc)
        return rc;

    MDB_env *env;
    rc = mdb_env_create(&env);
    if (rc)
        return translate(rc);
    if (uv_mutex_init(&s->map_lock) != 0) {
        mdb_env_close(env);
        return BC_ENOMEM;
    }
    if (uv_mutex_init(&s->shared_lock) != 0) {
        uv_mutex_destroy(&s->map_lock);
        mdb_env_close(env);
        return BC_ENOMEM;
    }
    s->env = env;
    s->map_size_max = round_to_page(opt->map_size_max);
    size_t initial = round_to_page(opt->map_size);
    if (initial > s->map_size_max)
        initial = s->map_size_max;
    mdb_env_set_maxdbs(env, DB_COUNT + 8);
    mdb_env_set_maxreaders(env, 256);
    mdb_env_set_mapsize(env, initial);
    /* MDB_NOTLS: the read snapshot is kept open between requests and a write may begin while it
     * exists; without it LMDB ties one transaction to a thread. */
    /* MDB_NORDAHEAD: reads are B-tree lookups, not scans; without it the kernel maps in
     * neighbouring pages too, which only inflates the server's resident memory. */
    unsigned flags = MDB_NOTLS | MDB_NORDAHEAD | (opt->read_only ? MDB_RDONLY : 0);
    rc = mdb_env_open(env, opt->dir, flags, 0600);
    if (rc) {
        log_error("cannot open the store", "dir=\"%s\" reason=\"%s\"", opt->dir, mdb_strerror(rc));
        goto fail;
    }
    int dead = 0;
    mdb_reader_check(env, &dead);
    if (dead)
        log_warn("cleared stale store readers", "count=%d", dead);
    refresh_map_size(s);
    rc = open_databases(s, opt->read_only);
    if (rc) {
        log_error("cannot open store databases", "dir=\"%s\" reason=\"%s\"", opt->dir,
                  mdb_strerror(rc));
        goto fail;
    }
    return 0;
fail:
    mdb_env_close(env);
    uv_mutex_destroy(&s->map_lock);
    uv_mutex_destroy(&s->shared_lock);
    s->env = NULL;
    return translate(rc);
}

void store_close(struct store *s)
{
    if (!s->env)
        return;
    if (s->rtxn)
        mdb_txn_abort(s->rtxn);
    s->rtxn = NULL;
    mdb_env_sync(env_of(s), 1);
    mdb_env_close(env_of(s));
    uv_mutex_destroy(&s->map_lock);
    if (s->shared && s->shared_free)
        s->shared_free(s->shared);
    s->shared = NULL;
    uv_mutex_destroy(&s->shared_lock);
    s->env = NULL;
}

/* Doubles the map, up to the maximum. Only legal while this process has no active transaction. */
static int grow_map(struct store *s)
{
    if (s->rtxn_depth > 0) {
        log_error("store map full while a read snapshot is open; cannot grow", "%s", "");
        return BC_EFULL;
    }
    refresh_map_size(s);
    if (s->map_size >= s->map_size_max)
        return BC_EFULL;
    size_t next = s->map_size * 2;
    if (next > s->map_size_max || next < s->map_size)
        next = s->map_size_max;
    int rc = set_map_size(s, next);
    if (rc)
        return translate(rc);
    refresh_map_size(s);
    s->grows++;
    log_info("store map grown", "map_size=%zu max=%zu", s->map_size, s->map_size_max);
    return 0;
}

static int txn_begin(struct store *s, unsigned flags, MDB_txn **txn)
{
    for (;;) {
        int rc = mdb_txn_begin(env_of(s), NULL, flags, txn);
        if (rc != MDB_MAP_RESIZED)
            return rc;
        /* Another process (the admin CLI) grew the map: adopt its size. */
        set_map_size(s, 0);
        refresh_map_size(s);
    }
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Remembers whether writes fail for lack of disk space, which /readyz reports; logged when it
 * changes. Called on the loop thread with the outcome of each write transaction. */
static void note_write(struct store *s, int rc)
{
    const char *dir = "";
    if (rc == BC_ENOSPC && !s->disk_full) {
        s->disk_full = 1;
        mdb_env_get_path(env_of(s), &dir);
        log_error("the disk is full: writes fail until space is freed", "dir=\"%s\"", dir);
    } else if (rc == 0 && s->disk_full) {
        s->disk_full = 0;
        mdb_env_get_path(env_of(s), &dir);
        log_info("the disk has space again: writes succeed", "dir=\"%s\"", dir);
    }
}

int store_disk_full(const struct store *s)
{
    return s->disk_full;
}

static int probe_txn(struct store_txn *t, void *arg)
{
    (void)arg;
    static const char key[] = "write_probe";
    return store_put(t, DB_META, key, sizeof key - 1, "", 0, 0);
}

int store_probe_write(struct store *s)
{
    return store_write(s, probe_txn, NULL);
}

static int write_sync(struct store *s, store_write_fn fn, void *arg);

_Static_assert(DB_COUNT <= 32, "memo_dbs has a bit per database");

static void memo_put(struct store_txn *t, void *memo, void (*memo_free)(void *), uint32_t dbs)
{
    t->memo = memo;
    t->memo_free = memo_free;
    t->memo_dbs = dbs;
}

static void memo_drop(struct store_txn *t)
{
    if (t->memo && t->memo_free)
        t->memo_free(t->memo);
    memo_put(t, NULL, NULL, 0);
}

void *store_txn_memo(const struct store_txn *t, void (*memo_free)(void *memo))
{
    return t->memo && t->memo_free == memo_free ? t->memo : NULL;
}

void store_txn_memo_set(struct store_txn *t, void *memo, void (*memo_free)(void *memo),
                        uint32_t dbs)
{
    memo_drop(t);
    memo_put(t, memo, memo_free, dbs);
}

/* A write to db makes what a memo read from it out of date. */
static void memo_written(struct store_txn *t, enum store_db db)
{
    if (t->memo && (t->memo_dbs >> db & 1u))
        memo_drop(t);
}

int store_write(struct store *s, store_write_fn fn, void *arg)
{
    int rc = write_sync(s, fn, arg);
    note_write(s, rc);
    return rc;
}

static int write_sync(struct store *s, store_write_fn fn, void *arg)
{
    for (;;) {
        MDB_txn *txn;
        int rc = txn_begin(s, 0, &txn);
        if (rc)
            return translate(rc);
        struct store_txn t = {.s = s, .txn = txn, .err = 0, .write = 1};
        int frc = fn(&t, arg);
        int err = frc ? frc : t.err;
        memo_drop(&t);
        if (err == 0) {
            struct timespec t0;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            rc = mdb_txn_commit(txn);
            if (rc == 0) {
                histogram_observe(&s->commit_latency, seconds_since(&t0));
                s->commits++;
                return 0;
            }
            err = translate(rc);
        } else {
            mdb_txn_abort(txn);
        }
        if (err != BC_EFULL)
            return err;
        rc = grow_map(s);
        if (rc)
            return rc;
    }
}

/* ---- writes on the thread pool ---- */

/* On a pool thread: the whole transaction under map_lock. Nothing here touches state the loop
 * thread uses; the outcome goes back in a. */
static void async_work(uv_work_t *w)
{
    struct store_async *a = w->data;
    struct store *s = a->s;
    /* Bulk writes yield the CPU to the loop thread (requests) when both want it: SCHED_BATCH
     * keeps a writer that wakes up from preempting the loop (it would otherwise take the CPU
     * for a whole time slice, several milliseconds, the moment its chunk is queued). Other
     * writes (the dispatcher's commits, which the dial rate waits for) compete as equals. The
     * two policies differ in nothing else, so a thread may switch back and forth without
     * privilege; a higher nice value could not be undone, and starved the dispatcher. */
    struct sched_param param = {0};
    pthread_setschedparam(pthread_self(), a->bulk ? SCHED_BATCH : SCHED_OTHER, &param);
    uv_mutex_lock(&s->map_lock);
    MDB_txn *txn;
    /* MDB_NOMETASYNC for one transaction (supported by mdb_txn_begin though documented only
     * as an environment flag): its pages are flushed but not the metadata page, which the next
     * durable commit flushes. Atomic and consistent; only durable with that next commit. */
    int rc = mdb_txn_begin(env_of(s), NULL, a->defer_durability ? MDB_NOMETASYNC : 0, &txn);
    a->resized = rc == MDB_MAP_RESIZED;
    if (rc) {
        rc = translate(rc);
    } else {
        struct store_txn t = {.s = s, .txn = txn, .err = 0, .write = 1, .async = 1};
        int frc = a->fn(&t, a->arg);
        rc = frc ? frc : t.err;
        memo_drop(&t);
        if (rc == 0) {
            struct timespec t0;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            rc = translate(mdb_txn_commit(txn));
            a->commit_seconds = seconds_since(&t0);
        } else {
            mdb_txn_abort(txn);
        }
    }
    uv_mutex_unlock(&s->map_lock);
    a->rc = rc;
}

static void async_next(struct store *s);

static void run_waiters(struct store *s)
{
    struct store_waiter *w = s->waiters;
    s->waiters = NULL;
    while (w) {
        struct store_waiter *next = w->next;
        w->queued = 0;
        w->next = NULL;
        w->fn(w);
        w = next;
    }
}

int store_async_busy(const struct store *s)
{
    return s->async_running;
}

int store_async_pending(const struct store *s)
{
    return s->async_running || s->async_head != NULL;
}

void store_unwait(struct store *s, struct store_waiter *w)
{
    for (struct store_waiter **pp = &s->waiters; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    w->queued = 0;
    w->next = NULL;
}

void store_when_idle(struct store *s, struct store_waiter *w)
{
    if (!s->async_running) {
        w->fn(w);
        return;
    }
    if (w->queued)
        return;
    w->queued = 1;
    w->next = s->waiters;
    s->waiters = w;
}

/* Back on the loop thread: grow the map and run again, or report. */
static void async_done(uv_work_t *w, int status)
{
    struct store_async *a = w->data;
    struct store *s = a->s;
    int rc = status < 0 ? BC_EIO : a->rc, again = 0;
    if (status == 0 && a->resized) {
        /* The admin CLI grew the map: adopt its size and run again. */
        set_map_size(s, 0);
        refresh_map_size(s);
        again = 1;
    } else if (rc == BC_EFULL) {
        rc = grow_map(s);
        again = rc == 0;
    }
    /* The same request again, still first in line. */
    if (again && uv_queue_work(s->async_loop, &a->work, async_work, async_done) == 0)
        return;
    if (again)
        rc = BC_EIO;
    if (rc == 0) {
        histogram_observe(&s->commit_latency, a->commit_seconds);
        s->commits++;
    }
    note_write(s, rc);
    s->async_running = 0;
    /* done may queue the next write; the loop's waiting writers go before it. */
    s->async_in_done = 1;
    a->done(a, rc);
    s->async_in_done = 0;
    run_waiters(s);
    async_next(s);
}

static void async_next(struct store *s)
{
    while (!s->async_running && s->async_head) {
        struct store_async *a = s->async_head;
        s->async_head = a->next;
        if (!s->async_head)
            s->async_tail = NULL;
        a->next = NULL;
        a->work.data = a;
        if (uv_queue_work(s->async_loop, &a->work, async_work, async_done) == 0) {
            s->async_running = 1;
            return;
        }
        a->done(a, BC_EIO);
    }
}

void store_write_async(struct store *s, uv_loop_t *loop, struct store_async *a, store_write_fn fn,
                       void *arg, void (*done)(struct store_async *a, int rc))
{
    a->s = s;
    a->fn = fn;
    a->arg = arg;
    a->done = done;
    a->rc = 0;
    a->commit_seconds = 0;
    a->next = NULL;
    s->async_loop = loop;
    if (s->async_tail)
        s->async_tail->next = a;
    else
        s->async_head = a;
    s->async_tail = a;
    if (!s->async_in_done)
        async_next(s);
}

int store_read_begin(struct store *s, struct store_txn *t)
{
    t->s = s;
    t->err = 0;
    t->write = t->async = 0;
    memo_put(t, NULL, NULL, 0);
    if (s->rtxn_depth == 0) {
        int rc;
        if (s->rtxn) {
            rc = mdb_txn_renew(s->rtxn);
            if (rc == MDB_MAP_RESIZED) {
                set_map_size(s, 0);
                refresh_map_size(s);
                rc = mdb_txn_renew(s->rtxn);
            }
        } else {
            MDB_txn *txn;
            rc = txn_begin(s, MDB_RDONLY, &txn);
            if (rc == 0)
                s->rtxn = txn;
        }
        if (rc) {
            t->txn = NULL;
            return t->err = translate(rc);
        }
    }
    s->rtxn_depth++;
    t->txn = s->rtxn;
    t->snapshot = mdb_txn_id(s->rtxn);
    return 0;
}

int store_snapshot_begin(struct store *s, struct store_txn *t)
{
    MDB_txn *txn = NULL;
    t->s = s;
    t->write = 0;
    t->async = 1;
    memo_put(t, NULL, NULL, 0);
    /* The map is resized (on the loop thread) only under map_lock: holding it keeps this
     * snapshot's pages mapped where they are until store_snapshot_end. */
    uv_mutex_lock(&s->map_lock);
    int rc = mdb_txn_begin(env_of(s), NULL, MDB_RDONLY, &txn);
    if (rc)
        uv_mutex_unlock(&s->map_lock);
    t->txn = rc ? NULL : txn;
    /* Another process grew the map: only the loop thread may adopt the new size. */
    t->err = rc == MDB_MAP_RESIZED ? BC_EBUSY : rc ? translate(rc) : 0;
    return t->err;
}

void store_snapshot_end(struct store_txn *t)
{
    memo_drop(t);
    if (!t->txn)
        return;
    mdb_txn_abort(t->txn);
    t->txn = NULL;
    uv_mutex_unlock(&t->s->map_lock);
}

void store_read_end(struct store_txn *t)
{
    struct store *s = t->s;
    memo_drop(t);
    if (!t->txn)
        return;
    t->txn = NULL;
    if (--s->rtxn_depth == 0)
        mdb_txn_reset(s->rtxn);
}

/* Splits a whole key of a table with dup_tail into LMDB's key and duplicate; BC_EINVAL when it
 * has no bytes before the tail, or more than an iterator can give back. */
static int dup_split(enum store_db db, const void *k, size_t klen, MDB_val *key, MDB_val *dup)
{
    size_t n = dup_tail[db];
    if (klen <= n || klen > STORE_WHOLE_KEY_MAX)
        return BC_EINVAL;
    *key = (MDB_val){klen - n, (void *)k};
    *dup = (MDB_val){n, (char *)k + klen - n};
    return 0;
}

/* mdb_get of a whole key of a table with dup_tail: the pair must exist. */
static int dup_get(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *dup)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc)
        return rc;
    rc = mdb_cursor_get(cur, key, dup, MDB_GET_BOTH);
    mdb_cursor_close(cur);
    return rc;
}

int store_get(struct store_txn *t, enum store_db db, const void *k, size_t klen,
              struct store_val *v)
{
    if (t->err)
        return t->err;
    MDB_val key = {klen, (void *)k}, val;
    int rc;
    if (dup_tail[db]) {
        if (dup_split(db, k, klen, &key, &val))
            return BC_ENOTFOUND;
        rc = dup_get(t->txn, t->s->dbi[db], &key, &val);
        val = (MDB_val){0, (void *)""};
    } else {
        rc = mdb_get(t->txn, t->s->dbi[db], &key, &val);
    }
    if (rc == MDB_NOTFOUND)
        return BC_ENOTFOUND;
    if (rc)
        return t->err = translate(rc);
    v->ptr = val.mv_data;
    v->len = val.mv_size;
    return 0;
}

/* The key of the counter of writes to the tables of API keys and workspaces (store.h). */
static const char auth_generation_key[] = "auth_generation";

int store_auth_generation(struct store_txn *t, uint64_t *out)
{
    struct store_val v;
    int rc = store_get(t, DB_META, auth_generation_key, sizeof auth_generation_key - 1, &v);
    *out = 0;
    if (rc == 0 && v.len == sizeof *out)
        memcpy(out, v.ptr, sizeof *out);
    return rc == BC_ENOTFOUND ? 0 : rc;
}

int store_auth_changed(struct store_txn *t)
{
    uint64_t n;
    int rc = store_auth_generation(t, &n);
    n++;
    return rc ? rc
              : store_put(t, DB_META, auth_generation_key, sizeof auth_generation_key - 1, &n,
                          sizeof n, 0);
}

int store_put(struct store_txn *t, enum store_db db, const void *k, size_t klen, const void *v,
              size_t vlen, unsigned flags)
{
    if (t->err)
        return t->err;
    memo_written(t, db);
    MDB_val key = {klen, (void *)k}, val = {vlen, (void *)v};
    unsigned mflags = 0, append = MDB_APPEND;
    if (flags & STORE_NOOVERWRITE)
        mflags |= MDB_NOOVERWRITE;
    if (dup_tail[db]) {
        if (vlen || dup_split(db, k, klen, &key, &val))
            return t->err = BC_EINVAL;
        /* The pair, not the key, must be new; appending is to the key's duplicates. */
        mflags = flags & STORE_NOOVERWRITE ? MDB_NODUPDATA : 0;
        append = MDB_APPENDDUP;
    }
    MDB_val key0 = key, val0 = val;
    if (flags & STORE_APPEND)
        mflags |= append;
    int rc = mdb_put(t->txn, t->s->dbi[db], &key, &val, mflags);
    /* With MDB_APPEND, KEYEXIST means "not after the last key" (another batch interleaved),
     * with MDB_APPENDDUP "not after the key's last duplicate": fall back to an ordinary insert. */
    if (rc == MDB_KEYEXIST && (flags & STORE_APPEND)) {
        key = key0;
        val = val0;
        rc = mdb_put(t->txn, t->s->dbi[db], &key, &val, mflags & ~append);
    }
    if (rc == MDB_KEYEXIST)
        return BC_EEXIST;
    if (rc)
        return t->err = translate(rc);
    return 0;
}

int store_appender_open(struct store_appender *a, struct store_txn *t, enum store_db db)
{
    a->t = t;
    a->db = db;
    a->cur = NULL;
    if (t->err)
        return t->err;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[db], &cur);
    if (rc)
        return t->err = translate(rc);
    a->cur = cur;
    return 0;
}

int store_appender_put(struct store_appender *a, const void *k, size_t klen, const void *v,
                       size_t vlen)
{
    struct store_txn *t = a->t;
    if (t->err)
        return t->err;
    if (dup_tail[a->db])
        return t->err = BC_EINVAL;
    memo_written(t, a->db);
    MDB_val key = {klen, (void *)k}, val = {vlen, (void *)v};
    int rc = mdb_cursor_put(a->cur, &key, &val, MDB_APPEND);
    if (rc == MDB_KEYEXIST) { /* not after the last key: as store_put, an ordinary insert */
        key = (MDB_val){klen, (void *)k};
        val = (MDB_val){vlen, (void *)v};
        rc = mdb_cursor_put(a->cur, &key, &val, 0);
    }
    if (rc == MDB_KEYEXIST)
        return BC_EEXIST;
    return rc ? (t->err = translate(rc)) : 0;
}

int store_appender_dups(struct store_appender *a, const void *head, size_t hlen, const void *tails,
                        size_t n)
{
    struct store_txn *t = a->t;
    size_t tail = dup_tail[a->db];
    if (t->err)
        return t->err;
    if (!tail || !hlen || hlen + tail > STORE_WHOLE_KEY_MAX)
        return t->err = BC_EINVAL;
    memo_written(t, a->db);
    const uint8_t *p = tails;
    while (n > 0) {
        /* One search for the key, then the duplicates added in a row (DUPFIXED). */
        MDB_val key = {hlen, (void *)head};
        MDB_val d[2] = {{tail, (void *)p}, {n, NULL}};
        int rc = mdb_cursor_put(a->cur, &key, d, MDB_MULTIPLE | MDB_APPENDDUP);
        size_t done = rc == 0 ? n : d[1].mv_size;
        if (rc && rc != MDB_KEYEXIST)
            return t->err = translate(rc);
        p += done * tail;
        n -= done;
        if (rc == MDB_KEYEXIST) { /* not after the key's last duplicate: store_put's way */
            uint8_t whole[STORE_WHOLE_KEY_MAX];
            memcpy(whole, head, hlen);
            memcpy(whole + hlen, p, tail);
            rc = store_put(t, a->db, whole, hlen + tail, "", 0, STORE_APPEND);
            if (rc)
                return rc;
            p += tail;
            n--;
        }
    }
    return 0;
}

void store_appender_close(struct store_appender *a)
{
    if (a->cur)
        mdb_cursor_close(a->cur);
    a->cur = NULL;
}

int store_del(struct store_txn *t, enum store_db db, const void *k, size_t klen)
{
    if (t->err)
        return t->err;
    memo_written(t, db);
    MDB_val key = {klen, (void *)k}, dup;
    if (dup_tail[db] && dup_split(db, k, klen, &key, &dup))
        return BC_ENOTFOUND;
    int rc = mdb_del(t->txn, t->s->dbi[db], &key, dup_tail[db] ? &dup : NULL);
    if (rc == MDB_NOTFOUND)
        return BC_ENOTFOUND;
    if (rc)
        return t->err = translate(rc);
    return 0;
}

int store_del_prefix(struct store_txn *t, enum store_db db, const void *prefix, size_t plen)
{
    if (t->err)
        return t->err;
    memo_written(t, db);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[db], &cur);
    if (rc)
        return t->err = translate(rc);
    MDB_val key = {plen, (void *)prefix}, val;
    rc = plen ? mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE)
              : mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    /* In a table with dup_tail the prefix ends before the tail (store.h): a key goes with all
     * its duplicates. */
    while (rc == 0 && key.mv_size >= plen && memcmp(key.mv_data, prefix, plen) == 0) {
        rc = mdb_cursor_del(cur, dup_tail[db] ? MDB_NODUPDATA : 0);
        /* After a delete the cursor rests on the next key; MDB_NEXT reads it without a step. */
        if (rc == 0)
            rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return t->err = translate(rc);
    return 0;
}

int store_iter_open(struct store_iter *it, struct store_txn *t, enum store_db db,
                    const void *prefix, size_t plen, const void *start, size_t slen)
{
    memset(it, 0, sizeof *it);
    if (t->err)
        return it->err = t->err;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[db], &cur);
    if (rc)
        return it->err = t->err = translate(rc);
    it->t = t;
    it->cur = cur;
    it->prefix = prefix;
    it->plen = plen;
    it->key.ptr = start ? start : prefix;
    it->key.len = start ? slen : plen;
    it->tail = dup_tail[db];
    it->whole_start = start != NULL;
    return 0;
}

/* Positions a cursor of a table with duplicates of tail bytes at the first whole key >= start
 * (a whole key: LMDB's key, then the duplicate). */
static int dup_seek(MDB_cursor *cur, size_t tail, const void *start, size_t slen, MDB_val *key,
                    MDB_val *val)
{
    if (slen <= tail) {
        *key = (MDB_val){slen, (void *)start};
        return mdb_cursor_get(cur, key, val, slen ? MDB_SET_RANGE : MDB_FIRST);
    }
    MDB_val k = {slen - tail, (void *)start};
    *key = k;
    *val = (MDB_val){tail, (char *)start + slen - tail};
    int rc = mdb_cursor_get(cur, key, val, MDB_GET_BOTH_RANGE);
    if (rc != MDB_NOTFOUND)
        return rc;
    /* No duplicate of that key from there on: the next key's first. */
    *key = k;
    rc = mdb_cursor_get(cur, key, val, MDB_SET_RANGE);
    if (rc == 0 && key->mv_size == k.mv_size && memcmp(key->mv_data, k.mv_data, k.mv_size) == 0)
        rc = mdb_cursor_get(cur, key, val, MDB_NEXT_NODUP);
    return rc;
}

int store_iter_next(struct store_iter *it)
{
    if (!it->cur)
        return it->err ? it->err : it->t && it->t->err ? it->t->err : 0;
    MDB_val key = {it->key.len, (void *)it->key.ptr}, val;
    int rc;
    if (!it->started) {
        it->started = 1;
        if (it->tail && it->whole_start)
            rc = dup_seek(it->cur, it->tail, it->key.ptr, it->key.len, &key, &val);
        else
            rc = key.mv_size ? mdb_cursor_get(it->cur, &key, &val, MDB_SET_RANGE)
                             : mdb_cursor_get(it->cur, &key, &val, MDB_FIRST);
    } else {
        rc = mdb_cursor_get(it->cur, &key, &val, MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return it->t->err = translate(rc);
    if (it->tail) { /* the whole key: LMDB's key, then the duplicate */
        if (key.mv_size + val.mv_size > sizeof it->whole)
            return it->t->err = BC_ECORRUPT;
        memcpy(it->whole, key.mv_data, key.mv_size);
        memcpy(it->whole + key.mv_size, val.mv_data, val.mv_size);
        key = (MDB_val){key.mv_size + val.mv_size, it->whole};
        val = (MDB_val){0, (void *)""};
    }
    /* A whole-database walk has no prefix (it may be NULL): nothing to compare. */
    if (it->plen && (key.mv_size < it->plen || memcmp(key.mv_data, it->prefix, it->plen) != 0))
        return 0;
    it->key.ptr = key.mv_data;
    it->key.len = key.mv_size;
    it->val.ptr = val.mv_data;
    it->val.len = val.mv_size;
    return 1;
}

void store_iter_close(struct store_iter *it)
{
    if (it->cur)
        mdb_cursor_close(it->cur);
    it->cur = NULL;
}

void store_trim(struct store *s)
{
    if (!s->env)
        return;
    /* LMDB reports its map address only with MDB_FIXEDMAP, so find the mapping of data.mdb (one
     * environment per process) in the kernel's list, again whenever the map was resized (it may
     * move then). */
    if (!s->trim_addr || s->trim_map_size != s->map_size) {
        FILE *f = fopen("/proc/self/maps", "re");
        char line[1024];
        s->trim_addr = NULL;
        while (f && fgets(line, sizeof line, f)) {
            unsigned long start, end;
            if (strstr(line, "/data.mdb") && sscanf(line, "%lx-%lx", &start, &end) == 2) {
                s->trim_addr = (void *)start;
                s->trim_len = end - start;
                s->trim_map_size = s->map_size;
                break;
            }
        }
        if (f)
            fclose(f);
    }
    if (s->trim_addr)
        madvise(s->trim_addr, s->trim_len, MADV_DONTNEED);
}

void store_txn_breathe(struct store_txn *t)
{
    /* On a pool thread that shares a CPU with the loop: let the loop run if it is waiting. */
    if (t->async)
        sched_yield();
}

void store_stats(struct store *s, struct store_stats *st)
{
    MDB_envinfo info;
    MDB_stat mst;
    memset(st, 0, sizeof *st);
    if (mdb_env_info(env_of(s), &info) == 0 && mdb_env_stat(env_of(s), &mst) == 0) {
        st->map_size = info.me_mapsize;
        st->used_bytes = (size_t)(info.me_last_pgno + 1) * mst.ms_psize;
    }
    st->grows = s->grows;
    st->commits = s->commits;
}
