#include "dispatch/jobs.h"

#include <stdlib.h>
#include <string.h>

#include "policy/decide.h"
#include "util/err.h"

void jobs_txn_begin(struct jobs_txn *jt, struct store_txn *t)
{
    /* Slots and their records are reused across transactions; only the count resets. */
    jt->t = t;
    jt->n = 0;
    jt->scratch.len = 0;
}

void jobs_txn_free(struct jobs_txn *jt)
{
    for (size_t i = 0; i < jt->cap; i++)
        free(jt->slots[i].rec);
    free(jt->slots);
    buf_free(&jt->scratch);
    memset(jt, 0, sizeof *jt);
}

struct batch_rec *jobs_batch(struct jobs_txn *jt, const char *id)
{
    for (size_t i = 0; i < jt->n; i++)
        if (strcmp(jt->slots[i].rec->id, id) == 0)
            return jt->slots[i].rec;
    if (jt->n == jt->cap) {
        size_t cap = jt->cap ? jt->cap * 2 : 8;
        struct jobs_batch_slot *slots = realloc(jt->slots, cap * sizeof *slots);
        if (!slots) {
            jt->t->err = jt->t->err ? jt->t->err : BC_ENOMEM;
            return NULL;
        }
        memset(slots + jt->cap, 0, (cap - jt->cap) * sizeof *slots);
        jt->slots = slots;
        jt->cap = cap;
    }
    struct jobs_batch_slot *slot = &jt->slots[jt->n];
    if (!slot->rec && !(slot->rec = malloc(sizeof *slot->rec))) {
        jt->t->err = jt->t->err ? jt->t->err : BC_ENOMEM;
        return NULL;
    }
    if (batch_get(jt->t, id, strlen(id), slot->rec) != 0)
        return NULL;
    slot->dirty = 0;
    jt->n++;
    return slot->rec;
}

void jobs_batch_dirty(struct jobs_txn *jt, struct batch_rec *b)
{
    for (size_t i = 0; i < jt->n; i++)
        if (jt->slots[i].rec == b)
            jt->slots[i].dirty = 1;
}

int jobs_txn_end(struct jobs_txn *jt)
{
    for (size_t i = 0; i < jt->n; i++)
        if (jt->slots[i].dirty)
            batch_put(jt->t, jt->slots[i].rec);
    return jt->t->err;
}

int jobs_get(struct jobs_txn *jt, const char *batch, uint32_t row, struct job_view *v)
{
    uint8_t key[JOB_KEY_MAX];
    struct store_val val;
    int rc = store_get(jt->t, DB_JOB, key, job_key(key, batch, row), &val);
    if (rc)
        return rc;
    return job_decode(val.ptr, val.len, v);
}

void jobs_cancel_head(struct job_head *h)
{
    h->state = JOB_CANCELLED;
    h->outcome = OUTCOME_CANCELLED;
    h->next_attempt_ms = 0;
    h->held = HELD_NONE;
}

int jobs_retryable(int outcome)
{
    return outcome == OUTCOME_BUSY || outcome == OUTCOME_NO_ANSWER ||
           outcome == OUTCOME_VOICEMAIL || outcome == OUTCOME_UNREACHABLE ||
           outcome == OUTCOME_PROVIDER_ERROR;
}

int jobs_head_retryable(const struct job_head *h)
{
    return h->state == JOB_FAILED && jobs_retryable(h->outcome);
}

int jobs_has_duration(const struct job_head *h)
{
    return h->connected || h->outcome == OUTCOME_ANSWERED || h->outcome == OUTCOME_VOICEMAIL;
}

int jobs_count_retryable(struct store_txn *t, const char *batch, uint32_t *out)
{
    uint8_t prefix[JOB_KEY_MAX];
    size_t plen = jobstate_key(prefix, batch, JOB_FAILED, 0) - 4;
    struct store_iter it;
    int rc;
    *out = 0;
    store_iter_open(&it, t, DB_JOBSTATE, prefix, plen, NULL, 0);
    while ((rc = store_iter_next(&it)) == 1) {
        uint8_t key[JOB_KEY_MAX];
        struct store_val v;
        struct job_view jv;
        uint32_t row = jobstate_key_row(&it.key);
        if (store_get(t, DB_JOB, key, job_key(key, batch, row), &v) == 0 &&
            job_decode(v.ptr, v.len, &jv) == 0 && jobs_head_retryable(&jv.head))
            (*out)++;
    }
    store_iter_close(&it);
    return rc < 0 ? rc : 0;
}

uint64_t *jobs_counter(struct batch_rec *b, int state)
{
    switch (state) {
    case JOB_WAITING:
        return &b->waiting;
    case JOB_DIALING:
    case JOB_ACTIVE:
        return &b->active;
    case JOB_COMPLETED:
        return &b->completed;
    case JOB_FAILED:
        return &b->failed;
    case JOB_CANCELLED:
        return &b->cancelled;
    }
    return NULL;
}

static int write_job(struct jobs_txn *jt, const char *batch, uint32_t row,
                     const struct job_view *old, const struct job_head *h, const char *error,
                     size_t error_len)
{
    jt->scratch.len = 0;
    int rc = job_reencode(&jt->scratch, h, error, error_len, old);
    if (rc)
        return jt->t->err = rc;
    uint8_t key[JOB_KEY_MAX];
    /* old points into the map, which the put may change: it was copied above. */
    rc = store_put(jt->t, DB_JOB, key, job_key(key, batch, row), jt->scratch.data, jt->scratch.len,
                   0);
    if (rc)
        return rc;
    int from = old->head.state, to = h->state;
    if (from == to)
        return 0;
    rc = store_del(jt->t, DB_JOBSTATE, key, jobstate_key(key, batch, (uint8_t)from, row));
    if (rc && rc != BC_ENOTFOUND)
        return rc;
    rc = store_put(jt->t, DB_JOBSTATE, key, jobstate_key(key, batch, (uint8_t)to, row), "", 0, 0);
    /* The per-block counts follow the index, so deep pages of a filter stay right. */
    if (!rc)
        rc = statecount_add(jt->t, batch, (uint8_t)from, row, -1);
    if (!rc)
        rc = statecount_add(jt->t, batch, (uint8_t)to, row, 1);
    return rc;
}

int jobs_rewrite(struct jobs_txn *jt, const char *batch, uint32_t row, const struct job_view *old,
                 const struct job_head *h, const char *error, size_t error_len)
{
    return write_job(jt, batch, row, old, h, error, error_len);
}

/* The reason a job is counted as held for: none unless it is waiting. */
static int held_of(const struct job_head *h)
{
    return h->state == JOB_WAITING ? h->held : HELD_NONE;
}

static uint64_t *held_counter(struct batch_rec *b, int held)
{
    return held == HELD_WINDOW ? &b->held_window : held == HELD_CAP ? &b->held_cap : NULL;
}

/* Held counts follow the jobs like the state counters: by reason in the batch record, and held
 * by window per zone in DB_HELDZONE. */
static int move_held(struct jobs_txn *jt, struct batch_rec *b, const struct job_head *old,
                     const struct job_head *h)
{
    int was = held_of(old), is = held_of(h);
    if (was == is)
        return 0;
    uint64_t *cw = held_counter(b, was), *ci = held_counter(b, is);
    if (cw && *cw)
        (*cw)--;
    if (ci)
        (*ci)++;
    jobs_batch_dirty(jt, b);
    if (was != HELD_WINDOW && is != HELD_WINDOW)
        return 0;
    char label[DECIDE_LABEL_MAX];
    size_t n = decide_zone_label(h->e164, strnlen(h->e164, sizeof h->e164), label);
    return heldzone_add(jt->t, b->id, label, n, is == HELD_WINDOW ? 1 : -1);
}

int jobs_move(struct jobs_txn *jt, const char *batch, uint32_t row, const struct job_view *old,
              const struct job_head *h, const char *error, size_t error_len)
{
    struct batch_rec *b = jobs_batch(jt, batch);
    if (!b)
        return jt->t->err ? jt->t->err : BC_ENOTFOUND;
    int from = old->head.state, to = h->state;
    /* old points into the map, which the write may change. */
    struct job_head before = old->head;
    int rc = write_job(jt, batch, row, old, h, error, error_len);
    if (!rc)
        rc = move_held(jt, b, &before, h);
    if (rc || from == to)
        return rc;
    int was = jobs_head_retryable(&old->head), is = jobs_head_retryable(h);
    if (was && !is && b->retryable)
        b->retryable--;
    else if (is && !was)
        b->retryable++;
    uint64_t *cf = jobs_counter(b, from), *ct = jobs_counter(b, to);
    if (cf && *cf)
        (*cf)--;
    if (ct)
        (*ct)++;
    jobs_batch_dirty(jt, b);
    return 0;
}
