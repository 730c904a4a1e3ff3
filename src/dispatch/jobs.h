/* Job transitions inside one write transaction. Every move of a job between states goes through
 * jobs_move(), which rewrites the job, moves its entry in the state index and adjusts the
 * batch's counters together, so counters always equal a recount of the jobs. Batch records are
 * loaded once per transaction and written back by jobs_txn_end(). */
#ifndef BC_DISPATCH_JOBS_H
#define BC_DISPATCH_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "store/records.h"
#include "store/store.h"
#include "util/buf.h"

struct jobs_batch_slot {
    struct batch_rec *rec; /* allocated once, so pointers stay valid as more batches load */
    int dirty;
};

struct jobs_txn {
    struct store_txn *t;
    struct jobs_batch_slot *slots; /* batch records loaded in this transaction */
    size_t n, cap;
    struct buf scratch;
};

void jobs_txn_begin(struct jobs_txn *jt, struct store_txn *t);
/* The batch record, loaded on first use; NULL (and the transaction's error set) when missing. */
struct batch_rec *jobs_batch(struct jobs_txn *jt, const char *id);
void jobs_batch_dirty(struct jobs_txn *jt, struct batch_rec *b);
/* Writes the changed batch records. Returns the transaction's error. */
int jobs_txn_end(struct jobs_txn *jt);
void jobs_txn_free(struct jobs_txn *jt);

/* Reads a job. The view points into the store and is valid until the next write. */
int jobs_get(struct jobs_txn *jt, const char *batch, uint32_t row, struct job_view *v);

/* Writes the job with head h (and error text), moving its state index entry and the batch's
 * counters (the retryable count too) from old->head.state to h->state. */
int jobs_move(struct jobs_txn *jt, const char *batch, uint32_t row, const struct job_view *old,
              const struct job_head *h, const char *error, size_t error_len);

/* The same, leaving the batch's counters alone: for sweeps whose counters moved already (a
 * cancel moves every waiting call to cancelled at once, then rewrites the jobs in chunks). */
int jobs_rewrite(struct jobs_txn *jt, const char *batch, uint32_t row, const struct job_view *old,
                 const struct job_head *h, const char *error, size_t error_len);

/* What a call cancelled before it was dialled says, and its head: cancelled, no retry due
 * (removing a scheduled retry from the due index is the caller's part). */
#define JOBS_CANCELLED_MSG "Cancelled before it was dialled"
void jobs_cancel_head(struct job_head *h);
/* 1 if POST .../retry sends a failed call with this outcome (enum job_outcome) back to waiting:
 * busy, no answer, voicemail, unreachable, provider error. */
int jobs_retryable(int outcome);
/* 1 if the job counts in its batch's retryable calls. */
int jobs_head_retryable(const struct job_head *h);

/* 1 if the call shows a duration: an attempt connected (answered or voicemail), whatever its
 * state now; the duration is the latest connected attempt's. */
int jobs_has_duration(const struct job_head *h);

/* Counts the failed calls of a batch that a retry would re-queue, reading each failed job: for
 * batch records written before they kept the count (retryable_kept 0). */
int jobs_count_retryable(struct store_txn *t, const char *batch, uint32_t *out);

/* The counter a state is counted in. */
uint64_t *jobs_counter(struct batch_rec *b, int state);

#endif
