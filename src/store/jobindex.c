#include "store/jobindex.h"

#include <string.h>

#include "util/err.h"

/* Rows a move at or past unindexed_from looks at before it, at most: beyond them it leaves the
 * value where it got to, and the next move goes on from there. */
#define CATCH_UP_MAX 256

uint32_t jobindex_unindexed_from(const struct batch_rec *b)
{
    return b->unindexed_from > UINT32_MAX ? UINT32_MAX : (uint32_t)b->unindexed_from;
}

/* The jobs from row on. */
static void jobs_from(struct jobindex_iter *ji, uint32_t row)
{
    size_t plen = batch_key_job(ji->prefix, &ji->k, 0) - 4;
    size_t slen = batch_key_job(ji->start, &ji->k, row);
    store_iter_open(&ji->it, ji->t, DB_JOB, ji->prefix, plen, ji->start, slen);
}

/* The part of the jobs past the index: waiting rows from max(from, unindexed_from) on. */
static void open_jobs(struct jobindex_iter *ji)
{
    uint32_t from = ji->from > ji->unindexed_from ? ji->from : ji->unindexed_from;
    jobs_from(ji, from);
    size_t plen = batch_key_statecount(ji->bprefix, &ji->k, JOB_WAITING, 0) - 4;
    size_t slen = batch_key_statecount(ji->bstart, &ji->k, JOB_WAITING, from >> STATE_BLOCK_SHIFT);
    store_iter_open(&ji->blocks, ji->t, DB_STATECOUNT, ji->bprefix, plen, ji->bstart, slen);
    ji->block_end = 0;
    ji->phase = 1;
}

enum block_answer { BLOCK_NONE_LATER, BLOCK_HAS_WAITING, BLOCK_MOVED_ON };

/* For a job at row, past block_end, with what the per-block counts say: BLOCK_HAS_WAITING (its
 * block has waiting jobs), BLOCK_MOVED_ON (it has none, and ji->it was reopened at the first
 * row of the next block that has), BLOCK_NONE_LATER, or a negative error. */
static int block_has_waiting(struct jobindex_iter *ji, uint32_t row)
{
    uint32_t block = row >> STATE_BLOCK_SHIFT, next = block;
    int rc;
    /* The counts' blocks come in order and are deleted at 0: the first at or after this one. */
    while ((rc = store_iter_next(&ji->blocks)) == 1) {
        next = key_u32(&ji->blocks.key, ji->blocks.plen);
        if (next >= block)
            break;
    }
    if (rc <= 0)
        return rc < 0 ? rc : BLOCK_NONE_LATER;
    ji->block_end = (next + 1) << STATE_BLOCK_SHIFT;
    if (next == block)
        return BLOCK_HAS_WAITING;
    store_iter_close(&ji->it);
    jobs_from(ji, next << STATE_BLOCK_SHIFT);
    return BLOCK_MOVED_ON;
}

void jobindex_open(struct jobindex_iter *ji, struct store_txn *t, const struct batch_key *k,
                   uint8_t state, uint32_t unindexed_from, uint32_t from)
{
    ji->t = t;
    ji->k = *k;
    ji->state = state;
    ji->unindexed_from = state == JOB_WAITING ? unindexed_from : 0;
    ji->from = from;
    ji->has_job = 0;
    if (ji->unindexed_from && from >= ji->unindexed_from) {
        open_jobs(ji);
        return;
    }
    size_t plen = batch_key_jobstate_head(ji->prefix, k, state);
    size_t slen = batch_key_jobstate(ji->start, k, state, from);
    store_iter_open(&ji->it, t, DB_JOBSTATE, ji->prefix, plen, ji->start, slen);
    ji->phase = 0;
}

static int next_indexed(struct jobindex_iter *ji)
{
    int rc = store_iter_next(&ji->it);
    if (rc != 1)
        return rc;
    ji->row = jobstate_key_row(&ji->it.key);
    ji->has_job = 0;
    /* Rows from unindexed_from on come from the jobs, where every waiting one is. */
    return ji->unindexed_from && ji->row >= ji->unindexed_from ? 0 : 1;
}

static int next_job(struct jobindex_iter *ji)
{
    int rc;
    while ((rc = store_iter_next(&ji->it)) == 1) {
        if (ji->it.key.len != ji->it.plen + 4)
            continue;
        uint32_t row = key_u32(&ji->it.key, ji->it.plen);
        if (row >= ji->block_end && (rc = block_has_waiting(ji, row)) != BLOCK_HAS_WAITING) {
            if (rc == BLOCK_MOVED_ON)
                continue;
            return rc; /* an error, or 0: no waiting job after this row */
        }
        if (job_decode(ji->it.val.ptr, ji->it.val.len, &ji->jv) != 0)
            return BC_ECORRUPT;
        if (ji->jv.head.state != JOB_WAITING)
            continue;
        ji->row = row;
        ji->has_job = 1;
        return 1;
    }
    return rc;
}

int jobindex_next(struct jobindex_iter *ji)
{
    int rc = 0;
    if (ji->phase == 0) {
        rc = next_indexed(ji);
        if (rc != 0 || !ji->unindexed_from)
            return rc;
        store_iter_close(&ji->it);
        open_jobs(ji);
    }
    if (ji->phase == 1)
        rc = next_job(ji);
    return rc;
}

void jobindex_close(struct jobindex_iter *ji)
{
    store_iter_close(&ji->it);
    if (ji->phase == 1)
        store_iter_close(&ji->blocks);
}

int jobindex_any(struct store_txn *t, const struct batch_rec *b, uint8_t state)
{
    struct batch_key k;
    struct jobindex_iter ji;
    batch_key_init(&k, b->id);
    jobindex_open(&ji, t, &k, state, jobindex_unindexed_from(b), 0);
    int found = jobindex_next(&ji) == 1;
    jobindex_close(&ji);
    return found;
}

static int entry_del(struct store_txn *t, const struct batch_key *k, uint8_t state, uint32_t row)
{
    uint8_t key[JOB_KEY_MAX];
    int rc = store_del(t, DB_JOBSTATE, key, batch_key_jobstate(key, k, state, row));
    return rc == BC_ENOTFOUND ? 0 : rc;
}

static int entry_put(struct store_txn *t, const struct batch_key *k, uint8_t state, uint32_t row)
{
    uint8_t key[JOB_KEY_MAX];
    return store_put(t, DB_JOBSTATE, key, batch_key_jobstate(key, k, state, row), "", 0, 0);
}

/* Gives the waiting rows between unindexed_from and row their entries, CATCH_UP_MAX rows at
 * most, and moves unindexed_from past them. */
static int catch_up(struct store_txn *t, struct batch_rec *b, const struct batch_key *k,
                    uint32_t row, jobindex_state_fn state_of, void *ctx, int *changed)
{
    for (int n = 0; b->unindexed_from < row && n < CATCH_UP_MAX; n++) {
        uint32_t r = (uint32_t)b->unindexed_from;
        uint8_t state;
        int rc = state_of(ctx, r, &state);
        if (rc && rc != BC_ENOTFOUND)
            return rc;
        if (!rc && state == JOB_WAITING && (rc = entry_put(t, k, JOB_WAITING, r)) != 0)
            return rc;
        b->unindexed_from++;
        *changed = 1;
    }
    return 0;
}

int jobindex_move(struct store_txn *t, struct batch_rec *b, const struct batch_key *k, uint32_t row,
                  int from, int to, jobindex_state_fn state_of, void *ctx, int *changed)
{
    int rc = 0;
    if (b && b->unindexed_from && row >= b->unindexed_from)
        rc = catch_up(t, b, k, row, state_of, ctx, changed);
    if (rc)
        return rc;
    int past = b && b->unindexed_from && row >= b->unindexed_from;
    if (!(past && from == JOB_WAITING) && (rc = entry_del(t, k, (uint8_t)from, row)) != 0)
        return rc;
    if (!(past && to == JOB_WAITING) && (rc = entry_put(t, k, (uint8_t)to, row)) != 0)
        return rc;
    /* The row at the boundary now has its entry: the boundary moves past it. */
    if (past && row == b->unindexed_from && to != JOB_WAITING) {
        b->unindexed_from++;
        *changed = 1;
    }
    return 0;
}
