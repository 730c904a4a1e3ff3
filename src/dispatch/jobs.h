/* Job transitions inside one write transaction. Every move of a job between states goes through
 * jobs_move(), which rewrites the job, moves its entry in the state index and adjusts the
 * batch's counters together, so counters always equal a recount of the jobs. Batch records are
 * loaded once per transaction and written back by jobs_txn_end().
 *
 * Folding (jobs_txn.fold): a transaction that moves the same job several times (the group
 * commit, whose reports about one call can arrive together: the pick and the create request's
 * answer, a provider's progress reports, the end) reads each job once and writes it, with its state
 * index entry, once at jobs_txn_end(); the moves in between change a copy. The batch's counters and
 * held counts still move at every jobs_move: only the job's record, its index entry and the
 * per-block state counts are written less often (the counts once per transaction, summed), and they
 * end as the moves one by one would have left them. */
#ifndef BC_DISPATCH_JOBS_H
#define BC_DISPATCH_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "store/records.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/id.h"
#include "util/slots.h"

struct jobs_batch_slot {
    struct batch_rec *rec; /* allocated once, so pointers stay valid as more batches load */
    int dirty;
};

/* A job moved in a folding transaction: its record as the moves left it, written at the end. */
struct jobs_staged {
    char batch[ID_MAX];
    uint32_t row;
    uint8_t stored; /* its state in the store: where its state index entry is */
    uint8_t state;  /* its state now */
    struct buf rec;
    uint8_t key[JOB_KEY_MAX];
    size_t klen;
    struct batch_key bkey; /* its batch's, for the index and count keys written with it */
};

/* A batch's key prefix, decoded from its id's text (jobs_key). */
struct jobs_key {
    char batch[ID_MAX]; /* "" for an unused entry */
    struct batch_key key;
};
#define JOBS_KEYS 4

struct jobs_count; /* a change of a per-block state count, summed over the transaction */

struct jobs_txn {
    struct store_txn *t;
    struct jobs_batch_slot *slots; /* batch records loaded in this transaction */
    size_t n, cap;
    struct buf scratch;
    /* Set by the owner before jobs_txn_begin: fold a job's moves into one write. Only for
     * transactions that read jobs through jobs_get alone (not DB_JOB, the state index or the
     * per-block counts directly), as those are written at the end. */
    int fold;
    struct jobs_staged *staged; /* kept, with their buffers, for later transactions */
    size_t nstaged, staged_cap;
    struct slots index; /* over staged, by (batch, row) */
    /* The key of the job jobs_get read from the store last: its move, which usually follows,
     * keeps it for the write instead of building it again. */
    char last_batch[ID_MAX];
    uint32_t last_row;
    uint8_t last_key[JOB_KEY_MAX];
    size_t last_klen;
    /* Prefixes of the batches whose keys were built last, kept across transactions (a batch's
     * never changes): decoding the id's text for each of a call's keys cost more than a look
     * here. */
    struct jobs_key keys[JOBS_KEYS];
    unsigned next_key;         /* the entry a new batch replaces */
    struct jobs_count *counts; /* summed by (batch, state, block) when the jobs are written */
    size_t counts_cap;
    struct slots count_index; /* over counts, by (batch, state, block) */
};

void jobs_txn_begin(struct jobs_txn *jt, struct store_txn *t);
/* The batch record, loaded on first use; NULL (and the transaction's error set) when missing. */
struct batch_rec *jobs_batch(struct jobs_txn *jt, const char *id);
void jobs_batch_dirty(struct jobs_txn *jt, struct batch_rec *b);
/* The key prefix of batch (batch_key_init), decoded once for the last few batches: valid until
 * the next call. */
const struct batch_key *jobs_key(struct jobs_txn *jt, const char *batch);
/* Writes the moved jobs (folding) and the changed batch records. Returns the transaction's
 * error. */
int jobs_txn_end(struct jobs_txn *jt);
void jobs_txn_free(struct jobs_txn *jt);

/* Reads a job. The view points into the store (folding: into the job as this transaction's
 * moves left it) and is valid until the next write. */
int jobs_get(struct jobs_txn *jt, const char *batch, uint32_t row, struct job_view *v);

/* Reads a job of the batch whose key prefix is k, outside a jobs_txn (the view points into the
 * store, valid until its next write). */
int jobs_read(struct store_txn *t, const struct batch_key *k, uint32_t row, struct job_view *v);

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
