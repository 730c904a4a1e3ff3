/* Removing a staging batch (an upload that failed, was abandoned or was cut by a stop), a chunk of
 * jobs per step (purge.h). */
#include "ingest/purge.h"

#include <string.h>

#include "store/records.h"
#include "util/buf.h"
#include "util/err.h"

struct purge_args {
    const char *batch;
    size_t max;
    int done;
};

/* A job found by the purge: its row and state name both of its entries. */
struct purge_job {
    uint32_t row;
    uint8_t state;
};

static int purge_txn(struct store_txn *t, void *arg)
{
    struct purge_args *a = arg;
    size_t blen = strlen(a->batch);
    /* The batch's prefix in job keys (and in state count keys, which begin the same way). */
    uint8_t prefix[JOB_KEY_MAX];
    size_t plen = job_key(prefix, a->batch, 0) - 4;
    struct buf keys = {0};
    struct store_iter it;
    size_t n = 0;
    int rc = 0;
    store_iter_open(&it, t, DB_JOB, prefix, plen, NULL, 0);
    while (n < a->max && (rc = store_iter_next(&it)) == 1) {
        struct job_view v;
        /* Keep the row and the state, to delete both entries after the scan. */
        struct purge_job job = {key_u32(&it.key, plen), 0};
        if (job_decode(it.val.ptr, it.val.len, &v) == 0)
            job.state = v.head.state;
        if (buf_append(&keys, &job, sizeof job)) {
            rc = BC_ENOMEM;
            break;
        }
        n++;
    }
    store_iter_close(&it);
    if (rc < 0) {
        buf_free(&keys);
        return rc;
    }
    rc = 0; /* the scan may have stopped on a row (1): that is not an error */
    for (size_t i = 0; i < n && !rc; i++) {
        struct purge_job job;
        memcpy(&job, keys.data + i * sizeof job, sizeof job);
        uint8_t k[JOB_KEY_MAX];
        rc = store_del(t, DB_JOB, k, job_key(k, a->batch, job.row));
        if (rc == 0 || rc == BC_ENOTFOUND) {
            rc = store_del(t, DB_JOBSTATE, k, jobstate_key(k, a->batch, job.state, job.row));
            rc = rc == BC_ENOTFOUND ? 0 : rc;
        }
    }
    buf_free(&keys);
    if (rc)
        return rc;
    a->done = n < a->max;
    if (a->done) {
        rc = store_del_prefix(t, DB_STATECOUNT, prefix, plen);
        if (!rc)
            rc = store_del(t, DB_BATCH, a->batch, blen);
        if (rc == 0 || rc == BC_ENOTFOUND)
            rc = store_del(t, DB_BATCHMETA, a->batch, blen);
        rc = rc == BC_ENOTFOUND ? 0 : rc;
    }
    return rc;
}

int purge_step(struct store *s, const char *batch_id, size_t max)
{
    struct purge_args a = {batch_id, max, 0};
    int rc = store_write(s, purge_txn, &a);
    return rc ? rc : a.done;
}
