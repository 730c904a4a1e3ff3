/* The LMDB store: the only module that includes lmdb.h.
 *
 * Every database is opened once at start. Writes go through store_write(), which runs a caller's
 * function inside one write transaction and commits it; when the map is full it aborts, grows the
 * map and runs the function again from the start, up to the configured maximum size, after which
 * it fails with BC_EFULL. Bulk writes and the dispatcher's group commits instead run on libuv's
 * thread pool (store_write_async), one at a time; everything else, reads included, runs on the loop
 * thread, which reads through a single reusable read-only transaction (reset and renewed).
 * Operations on a transaction record the first error and become no-ops after it (a sticky error),
 * so callers can check once at the end. */
#ifndef BC_STORE_STORE_H
#define BC_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "util/histogram.h"

enum store_db {
    DB_META,       /* name -> value: schema version, settings */
    DB_WS,         /* workspace id -> workspace record (JSON) */
    DB_KEYHASH2WS, /* first 16 bytes of SHA-256(api key) -> key record */
    DB_AGENT,      /* workspace id | agent id -> agent record (JSON) */
    DB_BATCH,      /* batch id -> struct batch_rec (counters: changed with every job move) */
    DB_BATCHMETA,  /* batch id -> batch settings and CSV columns (JSON, written once) */
    DB_JOB,        /* batch id | row (u32 BE) -> job record with the CSV row's values */
    DB_JOBSTATE,   /* batch id | state (u8) | row (u32 BE) -> nothing: rows by state. Stored
                      as LMDB duplicates: the row is a duplicate of batch id | state (store.c) */
    DB_WS2BATCH,   /* workspace id | ~created (u64 BE) | batch id -> nothing: newest first */
    DB_IDEM,       /* workspace id | '/' | Idempotency-Key -> batch id and expiry */
    DB_DUE,        /* batch id | due (u64 BE, Unix ms) | row (u32 BE) -> nothing: retries */
    DB_SID,        /* provider call id -> batch id | row (u32 BE) | seq (u32 BE) */
    DB_USAGE,      /* workspace id | time (u64 BE) | batch id | row | seq -> billable seconds */
    DB_STATECOUNT, /* batch id | state (u8) | row block (u32 BE) -> jobs in that state (u32) */
    DB_WEBHOOK,    /* workspace id -> webhook target (JSON: url, secret) */
    DB_OUTBOX,     /* sequence (u64 BE) -> event to deliver (JSON) */
    DB_DELIVERY,   /* workspace id | time (u64 BE) | sequence -> delivery attempt (JSON) */
    DB_FINALSEQ,   /* batch id | final sequence (u32 BE) -> row: calls in the order they ended */
    DB_TRANSCRIPT, /* batch id | row (u32 BE) -> the call's transcript, when the provider sent one
                    */
    DB_SUPPRESS,   /* workspace id | '/' | E.164 number or "+1NPA" area code -> entry (JSON) */
    DB_REGISTRY,   /* the national do-not-call registry, shared by the instance (records.h) */
    DB_CAP,        /* workspace id | '/' | E.164 -> recent attempt times (u64 BE each) */
    DB_HELDZONE,   /* batch id | zone label -> waiting calls held by window there (u32) */
    DB_POLICY,     /* workspace id -> compliance settings (JSON, policy/rules.h) */
    /* DB_JOBSTATE as earlier versions stored it, a key per row: emptied into DB_JOBSTATE by
     * records_upgrade at start. */
    DB_JOBSTATE_V1,
    DB_COUNT
};

struct store_options {
    const char *dir;
    size_t map_size;     /* initial map size in bytes */
    size_t map_size_max; /* growth stops here: writes then fail with BC_EFULL */
    int read_only;       /* open for reading only (no lock on writers) */
};

struct store_async;

/* A loop-thread writer waiting for the asynchronous writes to pause (store_when_idle). */
struct store_waiter {
    void (*fn)(struct store_waiter *w);
    struct store_waiter *next;
    int queued;
};

struct store {
    void *env; /* MDB_env */
    unsigned int dbi[DB_COUNT];
    void *rtxn;     /* reusable read transaction (MDB_txn), reset between uses */
    int rtxn_depth; /* nested store_read_begin calls share the same snapshot */
    size_t map_size;
    size_t map_size_max;
    uint64_t grows;                  /* how many times the map grew */
    uint64_t commits;                /* committed write transactions */
    struct histogram commit_latency; /* seconds per commit (the fsync) */
    uv_mutex_t map_lock;             /* held by an asynchronous write and by map resizes */
    uv_loop_t *async_loop;
    struct store_async *async_head, *async_tail; /* asynchronous writes waiting their turn */
    int async_running;
    int async_in_done;            /* in a done callback: the next write waits for the waiters */
    struct store_waiter *waiters; /* to run between this asynchronous write and the next */
    void *trim_addr; /* the map's address for store_trim, found for map size trim_map_size */
    size_t trim_len, trim_map_size;
    int disk_full; /* the last write transaction failed with BC_ENOSPC */
    /* Memory a layer above keeps for this store while it is open (policy/registry: an index of
     * the active registry, read by the loop and pool threads), behind its own lock; store_close
     * releases it with shared_free. */
    uv_mutex_t shared_lock;
    void *shared;
    void (*shared_free)(void *shared);
};

struct store_txn {
    struct store *s;
    void *txn; /* MDB_txn */
    int err;   /* sticky: the first error, or 0 */
    int write;
    int async; /* runs on a pool thread (store_write_async) */
    /* A transaction of store_read_begin: the snapshot it reads (LMDB's transaction id). Every
     * commit, by any process sharing the environment, makes a new one, so a value read at one
     * snapshot still holds in any later transaction with the same number. */
    uint64_t snapshot;
    /* What a layer above remembers for the length of the transaction instead of reading it
     * again (store_txn_memo_set): freed when the transaction ends, or at once when the
     * transaction writes to a database it was read from. */
    void *memo;
    void (*memo_free)(void *memo);
    uint32_t memo_dbs; /* bit (1u << db) for each such database */
};

struct store_val {
    const void *ptr;
    size_t len;
};

/* Opens (creating if needed) the environment in opt->dir, opens every database, and clears reader
 * slots left by dead processes. Errors are logged with the reason. */
int store_open(struct store *s, const struct store_options *opt);
void store_close(struct store *s);

typedef int (*store_write_fn)(struct store_txn *t, void *arg);
/* Runs fn in a write transaction and commits it if fn returns 0 and no operation failed.
 * fn may run more than once (after map growth); it must not have side effects outside the txn
 * until store_write returns 0. Returns fn's error, the transaction's error, or 0. */
int store_write(struct store *s, store_write_fn fn, void *arg);
/* 1 while writes fail because the disk is full: set by a write that failed with BC_ENOSPC,
 * cleared by the next one that succeeds. */
int store_disk_full(const struct store *s);
/* A tiny write transaction, to find out whether writes succeed again (clears store_disk_full). */
int store_probe_write(struct store *s);

/* A write transaction run on a thread of libuv's pool, so that its puts and its fsync do not
 * hold up the loop (bulk ingest, dispatch). Requests run one at a time, in the order given; the
 * loop's own store_write calls simply wait for the one running to commit. fn runs on the pool
 * thread and may touch only the transaction and what arg points at, which the caller must leave
 * alone until done, and state that only write transactions touch (LMDB runs them one at a time). fn
 * may run more than once (after map growth). done runs on the loop thread with 0 or an error; a
 * must stay valid until then. (Logging is safe on any thread.) */
struct store_async {
    uv_work_t work;
    struct store *s;
    store_write_fn fn;
    void *arg;
    void (*done)(struct store_async *a, int rc);
    struct store_async *next;
    int rc;
    int resized; /* the map was grown by another process: adopt its size, run again */
    double commit_seconds;
    /* Set by the caller: skip the metadata flush. A system crash may then lose this write (never
     * corrupt the store) until the next ordinary commit, which makes it durable. For writes
     * that a later commit completes anyway, like the chunks of a staged upload. */
    int defer_durability;
    /* Set by the caller: a bulk write, which gives way to the loop thread for the CPU. */
    int bulk;
};
void store_write_async(struct store *s, uv_loop_t *loop, struct store_async *a, store_write_fn fn,
                       void *arg, void (*done)(struct store_async *a, int rc));

/* 1 while an asynchronous write runs: a store_write on the loop would wait for its commit. */
int store_async_busy(const struct store *s);
/* 1 while an asynchronous write runs or waits its turn (shutdown runs the loop until 0). */
int store_async_pending(const struct store *s);
/* Calls w->fn on the loop as soon as no asynchronous write runs (before the next one starts), or
 * at once if none runs. A frequent loop-thread writer (dispatch) uses it so that it never waits
 * behind a bulk write holding LMDB's write lock, and a long upload cannot starve it either. */
void store_when_idle(struct store *s, struct store_waiter *w);
/* Forgets a waiter (its owner is going away). */
void store_unwait(struct store *s, struct store_waiter *w);

/* Read snapshot. Values read stay valid until store_read_end. */
int store_read_begin(struct store *s, struct store_txn *t);
void store_read_end(struct store_txn *t);

/* A read snapshot for a thread of libuv's pool (the loop thread reads with store_read_begin):
 * an upload screening the rows it reads again. It holds the map's lock, so the loop cannot
 * resize the map meanwhile (a store_write or the end of an asynchronous write would wait): keep
 * it for one short step. BC_EBUSY when another process grew the map: retry on the loop. */
int store_snapshot_begin(struct store *s, struct store_txn *t);
void store_snapshot_end(struct store_txn *t);

/* Returns 0, BC_ENOTFOUND (not sticky), or the sticky error. */
int store_get(struct store_txn *t, enum store_db db, const void *k, size_t klen,
              struct store_val *v);
/* The transaction's memo if memo_free is its owner's (set by the same module), else NULL. */
void *store_txn_memo(const struct store_txn *t, void (*memo_free)(void *memo));
/* Makes memo (read from the databases in dbs, bit 1u << db each) the transaction's, replacing
 * (and freeing) any other one; memo_free is called with it when the transaction ends or writes
 * to one of those databases. */
void store_txn_memo_set(struct store_txn *t, void *memo, void (*memo_free)(void *memo),
                        uint32_t dbs);

enum store_put_flags {
    STORE_NOOVERWRITE = 1, /* fail with BC_EEXIST (not sticky) if the key exists */
    STORE_APPEND = 2,      /* keys usually arrive in order: faster bulk load (an out-of-order
                              key falls back to an ordinary insert) */
};
int store_put(struct store_txn *t, enum store_db db, const void *k, size_t klen, const void *v,
              size_t vlen, unsigned flags);
/* Puts into one table through one cursor, for a transaction that writes many keys in ascending
 * order (an upload's chunk): an append goes where the previous one ended instead of searching
 * the tree from its root for every key. The same keys and values as store_put with STORE_APPEND
 * (one out of order falls back to an ordinary insert). Closed before the transaction ends. */
struct store_appender {
    struct store_txn *t;
    enum store_db db;
    void *cur; /* MDB_cursor */
};
/* 0, or the sticky error (then store_appender_close is still called, and does nothing). */
int store_appender_open(struct store_appender *a, struct store_txn *t, enum store_db db);
/* store_put(t, db, k, klen, v, vlen, STORE_APPEND) of a table without duplicates. */
int store_appender_put(struct store_appender *a, const void *k, size_t klen, const void *v,
                       size_t vlen);
/* For a table stored as LMDB duplicates (DB_JOBSTATE): the n whole keys head + tails[i], each
 * tail as long as the table's (4 bytes), ascending, as n store_puts with STORE_APPEND would. */
int store_appender_dups(struct store_appender *a, const void *head, size_t hlen, const void *tails,
                        size_t n);
void store_appender_close(struct store_appender *a);
/* Returns 0, BC_ENOTFOUND (not sticky), or the sticky error. */
int store_del(struct store_txn *t, enum store_db db, const void *k, size_t klen);
/* A counter of the changes to DB_KEYHASH2WS and DB_WS: every function that writes to either
 * (model/apikey.c, model/workspace.c) calls store_auth_changed in the same transaction, in this
 * process or another (the admin command). What a reader caches from those tables (api/auth.c:
 * which workspace a key opens, its settings) holds while store_auth_generation has not moved.
 * Both return 0 or the store's error. */
int store_auth_generation(struct store_txn *t, uint64_t *out);
int store_auth_changed(struct store_txn *t);

/* Deletes every key that starts with prefix (all of db when plen is 0). Returns 0 or the sticky
 * error. */
int store_del_prefix(struct store_txn *t, enum store_db db, const void *prefix, size_t plen);

/* Iterates keys that start with a prefix, in key order. */
#define STORE_WHOLE_KEY_MAX 64
struct store_iter {
    struct store_txn *t;
    void *cur; /* MDB_cursor */
    const void *prefix;
    size_t plen;
    int started;
    int err; /* store_iter_open failed: store_iter_next returns this */
    struct store_val key, val;
    /* A table stored as LMDB duplicates (DB_JOBSTATE): their length, whether start was given,
     * and the whole key that key points at. */
    size_t tail;
    int whole_start;
    uint8_t whole[STORE_WHOLE_KEY_MAX];
};
/* Positions before the first key >= start (or the prefix itself when start is NULL). In
 * DB_JOBSTATE, a start is a whole key and the prefix ends before the row. */
int store_iter_open(struct store_iter *it, struct store_txn *t, enum store_db db,
                    const void *prefix, size_t plen, const void *start, size_t slen);
/* Returns 1 with key/val set, 0 at the end of the prefix, or a negative error. */
int store_iter_next(struct store_iter *it);
void store_iter_close(struct store_iter *it);

/* Drops the pages of the map from this process's resident memory. They stay in the kernel's page
 * cache and come back on the next access: long scans (an export, a large upload) would otherwise
 * keep every page they touched counted against the server. Safe because the map is read-only
 * (writes go through pwrite), and never needed for correctness. */
void store_trim(struct store *s);

/* Called now and then by a long write function: on a pool thread (store_write_async) it lets the
 * loop thread have the CPU if it is waiting for it, so a bulk write on a shared CPU does not hold
 * requests up for a whole time slice. Elsewhere it does nothing. */
void store_txn_breathe(struct store_txn *t);

struct store_stats {
    size_t map_size;
    size_t used_bytes;
    uint64_t grows;
    uint64_t commits;
};
void store_stats(struct store *s, struct store_stats *st);

#endif
