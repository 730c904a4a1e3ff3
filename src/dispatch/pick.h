/* Choosing what to dial next. Workspaces take turns (round robin, counted in calls), so a
 * workspace with a million waiting calls delays another's first call by at most one turn. Within
 * a workspace the batch whose next call is due earliest goes first (ties: the older batch). A
 * dial needs a token from the provider account's bucket, the workspace's and the batch's
 * (callsPerSecond), and a free slot under the workspace's maxConcurrentCalls and the batch's
 * maxConcurrency. A pick takes its tokens and slots at once; pick_undo gives the slots back. */
#ifndef BC_DISPATCH_PICK_H
#define BC_DISPATCH_PICK_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "dispatch/roster.h"
#include "store/store.h"
#include "util/bucket.h"

/* What a pick does with its call: dial it, or (compliance) hold it to a later time, or end it
 * without dialling. The commit may turn a dial into a hold or an end (a frequency cap, a
 * do-not-call entry: it reads them in the transaction, where they are current). */
enum pick_action {
    PICK_DIAL,
    PICK_HOLD,      /* waiting until until_ms, for reason held */
    PICK_NO_WINDOW, /* its calling window never opens: failed, never dialled */
    PICK_SUPPRESS,  /* on a do-not-call list: failed, never dialled */
};

struct pick {
    struct roster_batch *b;
    enum pick_action action;
    int slot;          /* took a slot (and tokens): dials only */
    uint8_t held;      /* enum job_held, for PICK_HOLD */
    uint64_t until_ms; /* PICK_HOLD: when it may be dialled */
    /* The workspace's rules, copied for the transaction (the roster is the loop's). */
    char ws[ID_MAX];
    int use_registry;
    uint32_t cap_max;
    uint64_t cap_window_ms;
    /* Set by the transaction for a call it ended: applied in memory after it commits. */
    uint32_t final_seq;
    int finished_batch, batch_over;
    uint32_t row;
    uint32_t seq; /* set when the dial is recorded */
    int from_due; /* a scheduled retry, taken from the due index at due_ms */
    uint64_t due_ms;
    uint32_t empty_vars; /* {variables} the row had no value for */
    int applied;         /* recorded by the commit */
    char e164[24];
    char *prompt; /* rendered for this contact */
    cJSON *vars;  /* the row's values by column */
    struct pick *next;
};

/* What bounds one round of picks, and what it reports back. */
struct pick_round {
    size_t budget;           /* dials this round may start */
    struct bucket *provider; /* the provider account's bucket */
    int provider_limited;    /* the account has a dial rate (else its bucket is not waited on) */
    uint64_t wall, mono;     /* wall clock ms (due times), loop clock ms (buckets) */
    uint64_t wake;           /* out: ms until something blocked could go on (ROSTER_NO_TIME) */
    uint64_t token_waits;    /* out: times a bucket was empty */
    size_t holds;            /* out: calls held back by their calling window this round */
};

/* Picks up to round->budget calls from the roster, reading jobs through t. */
struct pick *pick_round(struct roster *r, struct store_txn *t, struct pick_round *round);
/* Gives back what a pick took when it was not recorded (its transaction failed, or the job had
 * moved on): its slots, and its place in the batch's scan or due index. */
void pick_undo(struct pick *p);
void pick_free(struct pick *p);

#endif
