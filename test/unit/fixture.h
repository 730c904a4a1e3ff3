/* Workspaces, batches and jobs written straight into a store, the way an upload leaves them (the
 * same records, indexes and per-block state counts), for the dispatcher's unit tests. Include
 * after check.h and tmpstore.h. Batch ids should all have the same length, so that one is never
 * a prefix of another in the indexes. */
#ifndef BC_TEST_FIXTURE_H
#define BC_TEST_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "model/workspace.h"
#include "store/jobindex.h"
#include "store/records.h"
#include "util/err.h"
#include "util/json.h"

#define FX_MIB (1024 * 1024)

struct fx {
    struct tmpdir dir;
    struct store s;
};

static inline void fx_open(struct fx *f)
{
    tmpdir_make(&f->dir);
    CHECK_INT(open_store(&f->s, f->dir.path, 4 * FX_MIB, 64 * FX_MIB), 0);
}

static inline void fx_close(struct fx *f)
{
    store_close(&f->s);
    tmpdir_remove(&f->dir);
}

/* ---- one write transaction around a few puts ---- */

struct fx_put {
    enum store_db db;
    const void *k, *v;
    size_t klen, vlen;
    int del;
};

static inline int fx_put_txn(struct store_txn *t, void *arg)
{
    const struct fx_put *p = arg;
    return p->del ? store_del(t, p->db, p->k, p->klen)
                  : store_put(t, p->db, p->k, p->klen, p->v, p->vlen, 0);
}

static inline void fx_put(struct store *s, enum store_db db, const void *k, size_t klen,
                          const void *v, size_t vlen)
{
    struct fx_put p = {db, k, v, klen, vlen, 0};
    CHECK_INT(store_write(s, fx_put_txn, &p), 0);
}

static inline void fx_del(struct store *s, enum store_db db, const void *k, size_t klen)
{
    struct fx_put p = {db, k, NULL, klen, 0, 1};
    CHECK_INT(store_write(s, fx_put_txn, &p), 0);
}

/* A workspace record as the admin CLI writes it (model/workspace's JSON). */
static inline void fx_workspace(struct store *s, const char *id, double cps, uint64_t max_calls)
{
    struct ws_settings ws;
    workspace_defaults(&ws);
    snprintf(ws.id, sizeof ws.id, "%s", id);
    snprintf(ws.name, sizeof ws.name, "%s", id);
    ws.calls_per_second = cps;
    ws.max_concurrent_calls = max_calls;
    ws.created_ms = 1;
    cJSON *o = workspace_to_json(&ws);
    struct buf b = {0};
    CHECK_INT(json_render(&b, o), 0);
    cJSON_Delete(o);
    fx_put(s, DB_WS, id, strlen(id), b.data, b.len);
    buf_free(&b);
}

static inline void fx_set_batch(struct store *s, const struct batch_rec *b)
{
    fx_put(s, DB_BATCH, b->id, strlen(b->id), b, sizeof *b);
}

static inline struct batch_rec fx_batch_get(struct store *s, const char *id)
{
    struct batch_rec b;
    memset(&b, 0, sizeof b);
    struct store_txn t;
    CHECK_INT(store_read_begin(s, &t), 0);
    CHECK_INT(batch_get(&t, id, strlen(id), &b), 0);
    store_read_end(&t);
    return b;
}

/* ---- batches ---- */

struct fx_batch {
    const char *id, *ws;
    uint8_t status; /* 0: BATCH_QUEUED */
    uint8_t paused;
    uint64_t created_ms, scheduled_ms;
    uint32_t max_concurrency;
    double cps;
    const char *prompt;  /* the agent's prompt (NULL: none) */
    const char *columns; /* a JSON array; NULL: ["phone","name"] */
    const char *smart;   /* smartCallbackConfig JSON, NULL: none */
    uint32_t rows;       /* rows 0..rows-1, waiting: phone fx_phone(row), name "name<row>" */
    /* 1: every row has a state index entry, as in batches written before unindexed_from; 0:
     * waiting rows from 1 on have none, as an upload writes them (store/jobindex.h). */
    int indexed;
};

static inline void fx_phone(uint32_t row, char out[20])
{
    snprintf(out, 20, "+1415555%04u", row % 10000);
}

/* The head of a row as the upload stores it. */
static inline struct job_head fx_head(uint32_t row, uint8_t state)
{
    struct job_head h;
    memset(&h, 0, sizeof h);
    h.version = RECORD_VERSION;
    h.state = state;
    h.last_sequence = -1;
    fx_phone(row, h.e164);
    return h;
}

/* Writes a job, its state index entry (unless it is waiting at or past the batch's
 * unindexed_from) and its block count (the batch's counters are the caller's). */
static inline int fx_job_txn(struct store_txn *t, const char *batch, uint32_t row,
                             const struct job_head *h, const char *const *fields, size_t n)
{
    struct batch_rec rec;
    int unindexed = batch_get(t, batch, strlen(batch), &rec) == 0 && rec.unindexed_from &&
                    row >= rec.unindexed_from && h->state == JOB_WAITING;
    size_t lens[16];
    for (size_t i = 0; i < n && i < 16; i++)
        lens[i] = strlen(fields[i]);
    struct buf b = {0};
    int rc = job_encode(&b, h, "", 0, fields, lens, n);
    uint8_t key[JOB_KEY_MAX];
    if (!rc)
        rc = store_put(t, DB_JOB, key, job_key(key, batch, row), b.data, b.len, 0);
    if (!rc && !unindexed)
        rc = store_put(t, DB_JOBSTATE, key, jobstate_key(key, batch, h->state, row), "", 0, 0);
    if (!rc)
        rc = statecount_add(t, batch, h->state, row, 1);
    buf_free(&b);
    return rc;
}

static inline int fx_batch_txn(struct store_txn *t, void *arg)
{
    const struct fx_batch *fb = arg;
    struct batch_rec b;
    memset(&b, 0, sizeof b);
    b.version = RECORD_VERSION;
    b.status = fb->status ? fb->status : BATCH_QUEUED;
    b.paused = fb->paused;
    b.max_concurrency = fb->max_concurrency;
    b.calls_per_second = fb->cps;
    b.created_ms = fb->created_ms;
    b.scheduled_ms = fb->scheduled_ms;
    b.total = b.waiting = b.valid_rows = fb->rows;
    b.unindexed_from = fb->indexed ? 0 : 1;
    snprintf(b.id, sizeof b.id, "%s", fb->id);
    snprintf(b.ws, sizeof b.ws, "%s", fb->ws);
    snprintf(b.agent, sizeof b.agent, "agent_1");
    int rc = batch_put(t, &b);

    cJSON *m = cJSON_CreateObject();
    cJSON_AddItemToObject(m, "columns",
                          cJSON_Parse(fb->columns ? fb->columns : "[\"phone\",\"name\"]"));
    cJSON_AddNumberToObject(m, "phoneColumn", 0);
    if (fb->smart)
        cJSON_AddItemToObject(m, "smartCallbackConfig", cJSON_Parse(fb->smart));
    else
        cJSON_AddNullToObject(m, "smartCallbackConfig");
    cJSON *agent = cJSON_AddObjectToObject(m, "agent");
    cJSON_AddStringToObject(agent, "fromNumber", "+14155550000");
    cJSON_AddStringToObject(agent, "prompt", fb->prompt ? fb->prompt : "");
    cJSON_AddStringToObject(agent, "voiceUrl", "https://voice.example/v");
    struct buf mb = {0};
    if (!rc)
        rc = json_render(&mb, m);
    cJSON_Delete(m);
    if (!rc)
        rc = store_put(t, DB_BATCHMETA, fb->id, strlen(fb->id), mb.data, mb.len, 0);
    buf_free(&mb);

    for (uint32_t row = 0; row < fb->rows && !rc; row++) {
        struct job_head h = fx_head(row, JOB_WAITING);
        char name[24];
        snprintf(name, sizeof name, "name%u", row);
        const char *fields[2] = {h.e164, name};
        rc = fx_job_txn(t, fb->id, row, &h, fields, 2);
    }
    return rc;
}

static inline void fx_batch(struct store *s, const struct fx_batch *fb)
{
    CHECK_INT(store_write(s, fx_batch_txn, (void *)fb), 0);
}

struct fx_job {
    const char *batch;
    uint32_t row;
    const struct job_head *h;
    const char *const *fields;
    size_t n;
};

static inline int fx_job_put_txn(struct store_txn *t, void *arg)
{
    const struct fx_job *j = arg;
    return fx_job_txn(t, j->batch, j->row, j->h, j->fields, j->n);
}

/* Adds a job (the batch's counters are the caller's). */
static inline void fx_job(struct store *s, const char *batch, uint32_t row,
                          const struct job_head *h, const char *const *fields, size_t n)
{
    struct fx_job j = {batch, row, h, fields, n};
    CHECK_INT(store_write(s, fx_job_put_txn, &j), 0);
}

static inline void fx_due(struct store *s, const char *batch, uint64_t due_ms, uint32_t row)
{
    uint8_t key[JOB_KEY_MAX];
    fx_put(s, DB_DUE, key, due_key(key, batch, due_ms, row), "", 0);
}

/* ---- reading back ---- */

/* The job's head and error text (err: 160 bytes). */
static inline int fx_job_get(struct store *s, const char *batch, uint32_t row, struct job_head *h,
                             char *err)
{
    struct store_txn t;
    CHECK_INT(store_read_begin(s, &t), 0);
    uint8_t key[JOB_KEY_MAX];
    struct store_val v;
    struct job_view jv;
    int rc = store_get(&t, DB_JOB, key, job_key(key, batch, row), &v);
    if (!rc)
        rc = job_decode(v.ptr, v.len, &jv);
    if (!rc) {
        *h = jv.head;
        if (err)
            snprintf(err, 160, "%.*s", (int)jv.error_len, jv.error);
    }
    store_read_end(&t);
    return rc;
}

/* Copies the value at k (at most cap bytes) into copy; returns its length, or -1 if absent. */
static inline long fx_get(struct store *s, enum store_db db, const void *k, size_t klen, void *copy,
                          size_t cap)
{
    struct store_txn t;
    CHECK_INT(store_read_begin(s, &t), 0);
    struct store_val v = {0};
    long n = store_get(&t, db, k, klen, &v) == 0 ? (long)v.len : -1;
    if (n >= 0 && copy)
        memcpy(copy, v.ptr, v.len < cap ? v.len : cap);
    store_read_end(&t);
    return n;
}

/* Entries under a prefix of a database. */
static inline size_t fx_count_prefix(struct store *s, enum store_db db, const void *prefix,
                                     size_t plen)
{
    struct store_txn t;
    CHECK_INT(store_read_begin(s, &t), 0);
    struct store_iter it;
    size_t n = 0;
    store_iter_open(&it, &t, db, prefix, plen, NULL, 0);
    while (store_iter_next(&it) == 1)
        n++;
    store_iter_close(&it);
    store_read_end(&t);
    return n;
}

/* Rows of the batch in a state, as readers find them (store/jobindex.h); *has (when given) is
 * set when row is one of them. */
static inline uint64_t fx_state_rows(struct store *s, const char *batch, uint8_t state,
                                     uint32_t row, int *has)
{
    struct store_txn t;
    struct batch_rec b;
    struct batch_key k;
    struct jobindex_iter it;
    uint64_t n = 0;
    int found = 0;
    CHECK_INT(store_read_begin(s, &t), 0);
    memset(&b, 0, sizeof b);
    batch_get(&t, batch, strlen(batch), &b);
    batch_key_init(&k, batch);
    jobindex_open(&it, &t, &k, state, jobindex_unindexed_from(&b), 0);
    while (jobindex_next(&it) == 1) {
        found |= it.row == row;
        n++;
    }
    jobindex_close(&it);
    store_read_end(&t);
    if (has)
        *has = found;
    return n;
}

static inline uint64_t fx_count_state(struct store *s, const char *batch, uint8_t state)
{
    return fx_state_rows(s, batch, state, 0, NULL);
}

/* Entries of the state index itself in a state. */
static inline uint64_t fx_count_entries(struct store *s, const char *batch, uint8_t state)
{
    uint8_t prefix[JOB_KEY_MAX];
    size_t plen = jobstate_key(prefix, batch, state, 0) - 4;
    return fx_count_prefix(s, DB_JOBSTATE, prefix, plen);
}

/* Rows of the batch in a state, by the per-block counts. */
static inline uint64_t fx_count_blocks(struct store *s, const char *batch, uint8_t state)
{
    struct store_txn t;
    CHECK_INT(store_read_begin(s, &t), 0);
    uint8_t prefix[JOB_KEY_MAX];
    size_t plen = statecount_key(prefix, batch, state, 0) - 4;
    struct store_iter it;
    uint64_t n = 0;
    store_iter_open(&it, &t, DB_STATECOUNT, prefix, plen, NULL, 0);
    while (store_iter_next(&it) == 1) {
        uint32_t c = 0;
        memcpy(&c, it.val.ptr, sizeof c);
        n += c;
    }
    store_iter_close(&it);
    store_read_end(&t);
    return n;
}

/* The batch's counters equal a recount of its state index, and so do the block counts. */
#define FX_CHECK_COUNTERS(s, batch)                                                                \
    do {                                                                                           \
        struct batch_rec fx_b_ = fx_batch_get((s), (batch));                                       \
        CHECK_INT(fx_b_.waiting, fx_count_state((s), (batch), JOB_WAITING));                       \
        CHECK_INT(fx_b_.active, fx_count_state((s), (batch), JOB_DIALING) +                        \
                                    fx_count_state((s), (batch), JOB_ACTIVE));                     \
        CHECK_INT(fx_b_.completed, fx_count_state((s), (batch), JOB_COMPLETED));                   \
        CHECK_INT(fx_b_.failed, fx_count_state((s), (batch), JOB_FAILED));                         \
        CHECK_INT(fx_b_.cancelled, fx_count_state((s), (batch), JOB_CANCELLED));                   \
        for (uint8_t fx_st_ = JOB_WAITING; fx_st_ <= JOB_CANCELLED; fx_st_++)                      \
            CHECK_INT(fx_count_blocks((s), (batch), fx_st_),                                       \
                      fx_count_state((s), (batch), fx_st_));                                       \
    } while (0)

#endif
