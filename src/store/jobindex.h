/* The state index of a batch's jobs (DB_JOBSTATE), and the waiting rows it leaves out.
 *
 * An upload writes tens of thousands of jobs, nearly all waiting for their first dial, and the
 * dialler takes them in row order. Indexing each one cost the upload a quarter of its time, to be
 * deleted again at its first dial. So from the batch's unindexed_from on (store/records.h), a
 * waiting job has no index entry and is found by reading the jobs themselves; every other state
 * is indexed everywhere. Rows before unindexed_from are indexed in every state.
 *
 * unindexed_from only grows, and rows below it keep their entries: a move at or past it first
 * gives entries to the waiting rows it passes over (a few rows at a time, so that no move does
 * unbounded work), and a dial at it moves it on by one. In the dialler's usual order (row after
 * row) nothing ever needs an entry. A reader that uses an older, smaller value than the record's
 * still sees every waiting row once: the index part ends where the scan of the jobs begins. */
#ifndef BC_STORE_JOBINDEX_H
#define BC_STORE_JOBINDEX_H

#include <stdint.h>

#include "store/records.h"
#include "store/store.h"

/* The rows of one state of a batch, in row order, from a row on. */
struct jobindex_iter {
    struct store_txn *t;
    struct store_iter it;
    struct batch_key k;
    uint8_t state;
    uint32_t unindexed_from; /* 0: the index holds every row */
    uint32_t from;
    int phase;          /* 0: the index; 1: the jobs (waiting rows only) */
    uint32_t row;       /* after jobindex_next returned 1 */
    struct job_view jv; /* the row's job when the scan of the jobs found it (has_job) */
    int has_job;
    uint8_t prefix[JOB_KEY_MAX], start[JOB_KEY_MAX];
    /* The scan of the jobs reads only blocks of rows whose count of waiting jobs (DB_STATECOUNT)
     * is not 0: the rows before block_end are in such a block. */
    struct store_iter blocks;
    uint8_t bprefix[JOB_KEY_MAX], bstart[JOB_KEY_MAX];
    uint32_t block_end;
};

/* unindexed_from as a row number: 0 when every row is indexed. */
uint32_t jobindex_unindexed_from(const struct batch_rec *b);

void jobindex_open(struct jobindex_iter *ji, struct store_txn *t, const struct batch_key *k,
                   uint8_t state, uint32_t unindexed_from, uint32_t from);
/* 1 with ji->row (and ji->jv when ji->has_job), 0 after the last row, or a negative error. */
int jobindex_next(struct jobindex_iter *ji);
void jobindex_close(struct jobindex_iter *ji);

/* 1 when the batch has a job in the state (the waiting ones are looked for in the jobs too). */
int jobindex_any(struct store_txn *t, const struct batch_rec *b, uint8_t state);

/* The state of one of the batch's jobs as the transaction will leave it: 0, or an error. */
typedef int (*jobindex_state_fn)(void *ctx, uint32_t row, uint8_t *state);

/* Moves a job's entry from state `from` to `to`, as the rules above want it, and moves
 * b->unindexed_from on when it can (state_of tells it the states of the rows it passes).
 * *changed is set when b changed and must be written. 0 or an error. */
int jobindex_move(struct store_txn *t, struct batch_rec *b, const struct batch_key *k, uint32_t row,
                  int from, int to, jobindex_state_fn state_of, void *ctx, int *changed);

#endif
