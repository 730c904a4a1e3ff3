#include "ingest/chunk.h"

#include <stdio.h>
#include <string.h>

#include "ingest/ingest.h"
#include "store/records.h"
#include "util/err.h"

static uint32_t frame_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The state index entries of consecutive rows in one state, added to the table together. */
#define STATE_RUN 512
struct state_run {
    struct store_appender app;
    uint8_t head[JOB_KEY_MAX]; /* the key up to the row: batch prefix and state */
    size_t hlen;
    uint8_t state;
    size_t n;
    uint8_t rows[STATE_RUN][4]; /* big-endian, ascending */
};

static int state_run_flush(struct state_run *r)
{
    int rc = r->n ? store_appender_dups(&r->app, r->head, r->hlen, r->rows, r->n) : 0;
    r->n = 0;
    return rc;
}

static int state_run_add(struct state_run *r, const struct batch_key *bk, uint8_t state,
                         uint32_t row)
{
    int rc = 0;
    if (r->n && (r->n == STATE_RUN || r->state != state))
        rc = state_run_flush(r);
    if (!r->n) {
        r->state = state;
        r->hlen = batch_key_jobstate_head(r->head, bk, state);
    }
    jobstate_tail(r->rows[r->n++], row);
    return rc;
}

static int chunk_rows(struct store_txn *t, const struct ingest_chunk *c, const struct batch_key *bk,
                      struct store_appender *jobs, struct state_run *run)
{
    const uint8_t *p = (const uint8_t *)c->rows->data, *end = p + c->rows->len;
    /* Per-block state counts, summed over the chunk (whose rows are consecutive) and written
     * once per (state, block) rather than once per row. */
    uint32_t run_state = 0, run_block = 0, run_n = 0, run_row = 0;
    int rc = 0;
    while (p < end && !rc) {
        uint32_t row = frame_u32(p), vlen = frame_u32(p + 5);
        uint8_t state = p[4] & ~CHUNK_DEFERRED;
        uint8_t key[JOB_KEY_MAX];
        rc = store_appender_put(jobs, key, batch_key_job(key, bk, row), p + 9, vlen);
        /* Waiting jobs of a new batch have no index entry (store/jobindex.h); the others'
         * are deferred, or come with the rows a late field made the upload copy. */
        if (!rc && !(p[4] & CHUNK_DEFERRED) && state != JOB_WAITING)
            rc = state_run_add(run, bk, state, row);
        uint32_t block = row >> STATE_BLOCK_SHIFT;
        if (!rc && run_n && (state != run_state || block != run_block)) {
            rc = statecount_add(t, c->batch, (uint8_t)run_state, run_row, (int32_t)run_n);
            run_n = 0;
        }
        if (!run_n) {
            run_state = state;
            run_block = block;
            run_row = row;
        }
        run_n++;
        p += 9 + vlen;
        if ((row & 511) == 0)
            store_txn_breathe(t);
    }
    if (!rc)
        rc = state_run_flush(run);
    if (!rc && run_n)
        rc = statecount_add(t, c->batch, (uint8_t)run_state, run_row, (int32_t)run_n);
    const uint8_t *d = c->deferred ? (const uint8_t *)c->deferred->data : NULL;
    for (size_t i = 0; d && !rc && i < c->deferred->len; i += 5) {
        rc = state_run_add(run, bk, d[i + 4], frame_u32(d + i));
        if ((i / 5 & 511) == 511)
            store_txn_breathe(t);
    }
    return rc ? rc : state_run_flush(run);
}

int chunk_write(struct store_txn *t, void *arg)
{
    const struct ingest_chunk *c = arg;
    if (c->first) {
        /* The staging marker: a crash from here on leaves a batch that start-up purges. */
        struct batch_rec b;
        memset(&b, 0, sizeof b);
        b.version = RECORD_VERSION;
        b.status = BATCH_STAGING;
        b.unindexed_from = 1;
        snprintf(b.id, sizeof b.id, "%s", c->batch);
        snprintf(b.ws, sizeof b.ws, "%s", c->workspace);
        int rc = batch_put(t, &b);
        if (rc)
            return rc;
    }
    /* The batch's key prefix is decoded once per chunk, and the rows go in through cursors. */
    struct batch_key bk;
    batch_key_init(&bk, c->batch);
    struct store_appender jobs;
    struct state_run run;
    run.n = 0;
    int rc = store_appender_open(&jobs, t, DB_JOB);
    int rc2 = store_appender_open(&run.app, t, DB_JOBSTATE); /* after an error: closes as none */
    if (!rc && !rc2)
        rc = chunk_rows(t, c, &bk, &jobs, &run);
    store_appender_close(&run.app);
    store_appender_close(&jobs);
    return rc ? rc : rc2;
}

/* Frames the jobs to copy into c->rows: 0, or an error. */
static int copy_frames(struct store_txn *t, struct ingest_chunk *c)
{
    uint8_t prefix[JOB_KEY_MAX], start[JOB_KEY_MAX];
    size_t plen = job_key(prefix, c->copy_from, 0) - 4;
    size_t slen = job_key(start, c->copy_from, c->copy_next);
    struct store_iter it;
    int rc;
    c->rows->len = 0;
    c->copied = 0;
    store_iter_open(&it, t, DB_JOB, prefix, plen, start, slen);
    while (c->copied < CHUNK_COPY_ROWS && (rc = store_iter_next(&it)) == 1) {
        uint32_t row = key_u32(&it.key, plen), vlen = (uint32_t)it.val.len;
        struct job_view v;
        if (row >= c->copy_end)
            break;
        if ((rc = job_decode(it.val.ptr, it.val.len, &v)) != 0)
            break;
        uint8_t frame[9];
        memcpy(frame, &row, 4);
        frame[4] = v.head.state;
        memcpy(frame + 5, &vlen, 4);
        if (buf_append(c->rows, frame, sizeof frame) || buf_append(c->rows, it.val.ptr, vlen)) {
            rc = BC_ENOMEM;
            break;
        }
        c->copied++;
        c->copy_next = row + 1;
    }
    store_iter_close(&it);
    return rc < 0 ? rc : 0;
}

int chunk_copy(struct store_txn *t, void *arg)
{
    struct ingest_chunk *c = arg;
    int rc = copy_frames(t, c);
    return rc ? rc : chunk_write(t, c);
}
