#include "dispatch/jobs.h"

#include <stdlib.h>
#include <string.h>

#include "policy/decide.h"
#include "store/jobindex.h"
#include "util/err.h"
#include "util/id.h"

void jobs_txn_begin(struct jobs_txn *jt, struct store_txn *t)
{
    /* Slots and their records are reused across transactions; only the count resets. */
    jt->t = t;
    jt->n = 0;
    jt->scratch.len = 0;
    if (jt->nstaged)
        slots_clear(&jt->index);
    jt->nstaged = 0;
    jt->last_klen = 0;
}

void jobs_txn_free(struct jobs_txn *jt)
{
    for (size_t i = 0; i < jt->cap; i++)
        free(jt->slots[i].rec);
    free(jt->slots);
    buf_free(&jt->scratch);
    for (size_t i = 0; i < jt->staged_cap; i++)
        buf_free(&jt->staged[i].rec);
    free(jt->staged);
    slots_free(&jt->index);
    free(jt->counts);
    slots_free(&jt->count_index);
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

const struct batch_key *jobs_key(struct jobs_txn *jt, const char *batch)
{
    for (size_t i = 0; i < JOBS_KEYS; i++)
        if (strcmp(jt->keys[i].batch, batch) == 0 && batch[0])
            return &jt->keys[i].key;
    struct jobs_key *e = &jt->keys[jt->next_key++ % JOBS_KEYS];
    id_copy(e->batch, ID_MAX, batch);
    batch_key_init(&e->key, batch);
    return &e->key;
}

static int staged_flush(struct jobs_txn *jt);

int jobs_txn_end(struct jobs_txn *jt)
{
    if (jt->nstaged && !jt->t->err)
        staged_flush(jt);
    for (size_t i = 0; i < jt->n; i++)
        if (jt->slots[i].dirty)
            batch_put(jt->t, jt->slots[i].rec);
    return jt->t->err;
}

/* ---- folding: the jobs moved in this transaction, by (batch, row) ---- */

static size_t staged_hash(const char *batch, uint32_t row)
{
    /* A batch id ends in its random part. */
    size_t n = strlen(batch);
    uint64_t tail = 0;
    memcpy(&tail, batch + (n > 8 ? n - 8 : 0), n < 8 ? n : 8);
    uint64_t h = (tail ^ row) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 32));
}

/* What a staged job's slot is looked up by. */
struct staged_probe {
    const struct jobs_staged *staged;
    const char *batch;
    uint32_t row;
};

static int staged_match(const void *ctx, uint32_t i)
{
    const struct staged_probe *p = ctx;
    return p->staged[i].row == p->row && strcmp(p->staged[i].batch, p->batch) == 0;
}

/* The slot of the index where (batch, row) is, or the empty one where it would go. */
static uint32_t *staged_slot(struct jobs_txn *jt, const char *batch, uint32_t row)
{
    struct staged_probe p = {jt->staged, batch, row};
    return slots_find(&jt->index, staged_hash(batch, row), staged_match, &p);
}

static struct jobs_staged *staged_find(struct jobs_txn *jt, const char *batch, uint32_t row)
{
    if (!jt->nstaged)
        return NULL;
    uint32_t *slot = staged_slot(jt, batch, row);
    return *slot ? &jt->staged[*slot - 1] : NULL;
}

/* Room for one more staged job, the index at most half full. */
static int staged_reserve(struct jobs_txn *jt)
{
    if (jt->nstaged == jt->staged_cap) {
        size_t cap = jt->staged_cap ? jt->staged_cap * 2 : 64;
        struct jobs_staged *st = realloc(jt->staged, cap * sizeof *st);
        if (!st)
            return BC_ENOMEM;
        memset(st + jt->staged_cap, 0, (cap - jt->staged_cap) * sizeof *st);
        jt->staged = st;
        jt->staged_cap = cap;
    }
    int grew = slots_fit(&jt->index, jt->nstaged + 1);
    if (grew < 0)
        return grew;
    for (size_t i = 0; grew && i < jt->nstaged; i++)
        *staged_slot(jt, jt->staged[i].batch, jt->staged[i].row) = (uint32_t)i + 1;
    return 0;
}

/* The job's entry, added on its first move (in the state it is stored in). */
static struct jobs_staged *staged_add(struct jobs_txn *jt, const char *batch, uint32_t row,
                                      int stored)
{
    struct jobs_staged *e = staged_find(jt, batch, row);
    if (e)
        return e;
    if (staged_reserve(jt)) {
        jt->t->err = jt->t->err ? jt->t->err : BC_ENOMEM;
        return NULL;
    }
    e = &jt->staged[jt->nstaged];
    id_copy(e->batch, ID_MAX, batch);
    e->row = row;
    e->stored = e->state = (uint8_t)stored;
    e->bkey = *jobs_key(jt, batch);
    if (jt->last_klen && jt->last_row == row && strcmp(jt->last_batch, batch) == 0) {
        e->klen = jt->last_klen;
        memcpy(e->key, jt->last_key, e->klen);
    } else {
        e->klen = batch_key_job(e->key, &e->bkey, row);
    }
    *staged_slot(jt, e->batch, row) = (uint32_t)++jt->nstaged;
    return e;
}

/* A job's state as this transaction leaves it, for jobindex_move: a staged job's as staged. */
struct state_probe {
    struct jobs_txn *jt;
    const char *batch;
    const struct batch_key *k;
};

static int state_now(void *ctx, uint32_t row, uint8_t *state)
{
    const struct state_probe *p = ctx;
    const struct jobs_staged *e = p->jt->fold ? staged_find(p->jt, p->batch, row) : NULL;
    struct job_view jv;
    int rc = e ? 0 : jobs_read(p->jt->t, p->k, row, &jv);
    if (!rc)
        *state = e ? e->state : jv.head.state;
    return rc;
}

/* Moves the job's entry in the state index (store/jobindex.h). */
static int index_move(struct jobs_txn *jt, const char *batch, const struct batch_key *k,
                      uint32_t row, int from, int to)
{
    struct batch_rec *b = jobs_batch(jt, batch);
    if (!b && jt->t->err)
        return jt->t->err;
    struct state_probe probe = {jt, batch, k};
    int changed = 0;
    int rc = jobindex_move(jt->t, b, k, row, from, to, state_now, &probe, &changed);
    if (changed)
        jobs_batch_dirty(jt, b);
    return rc;
}

/* statecount_add of a batch whose key prefix is k. */
static int count_put(struct jobs_txn *jt, const struct batch_key *k, uint8_t state, uint32_t block,
                     int32_t delta)
{
    uint8_t key[JOB_KEY_MAX];
    return records_counter_add(jt->t, DB_STATECOUNT, key,
                               batch_key_statecount(key, k, state, block), delta);
}

struct jobs_count {
    const char *batch;           /* a staged job's */
    const struct batch_key *key; /* its prefix */
    uint32_t block;
    uint8_t state;
    int32_t delta;
};

/* Room for the counts of a flush: two per staged job, the index empty and sized for this flush,
 * not for the largest one. */
static int counts_reserve(struct jobs_txn *jt)
{
    size_t want = 2 * jt->nstaged;
    if (jt->counts_cap < want) {
        struct jobs_count *c = realloc(jt->counts, want * sizeof *c);
        if (!c)
            return BC_ENOMEM;
        jt->counts = c;
        jt->counts_cap = want;
    }
    return slots_size(&jt->count_index, want);
}

/* What a count's slot is looked up by. */
struct count_probe {
    const struct jobs_count *counts;
    const char *batch;
    uint32_t block;
    uint8_t state;
};

static int count_match(const void *ctx, uint32_t i)
{
    const struct count_probe *p = ctx;
    const struct jobs_count *c = &p->counts[i];
    return c->state == p->state && c->block == p->block && strcmp(c->batch, p->batch) == 0;
}

/* Adds delta to the sum of (batch, state, block), the n sums so far in jt->counts. */
static void count_add(struct jobs_txn *jt, size_t *n, const struct jobs_staged *e, uint8_t state,
                      uint32_t block, int32_t delta)
{
    struct count_probe p = {jt->counts, e->batch, block, state};
    uint32_t *slot =
        slots_find(&jt->count_index, staged_hash(e->batch, block << 3 | state), count_match, &p);
    if (*slot) {
        jt->counts[*slot - 1].delta += delta;
        return;
    }
    jt->counts[(*n)++] = (struct jobs_count){e->batch, &e->bkey, block, state, delta};
    *slot = (uint32_t)*n;
}

/* Writes the staged jobs and their index entries. Each per-block state count they moved in
 * changes once, by the sum of the moves: the same as move by move, as the counts equal the
 * index (every move keeps them so) and so never go below 0 on the way. */
static int staged_flush(struct jobs_txn *jt)
{
    if (counts_reserve(jt))
        return jt->t->err = BC_ENOMEM;
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < jt->nstaged && !rc; i++) {
        const struct jobs_staged *e = &jt->staged[i];
        rc = store_put(jt->t, DB_JOB, e->key, e->klen, e->rec.data, e->rec.len, 0);
        if (rc || e->stored == e->state)
            continue;
        rc = index_move(jt, e->batch, &e->bkey, e->row, e->stored, e->state);
        uint32_t block = e->row >> STATE_BLOCK_SHIFT;
        count_add(jt, &n, e, e->stored, block, -1);
        count_add(jt, &n, e, e->state, block, 1);
    }
    for (size_t i = 0; i < n && !rc; i++) {
        const struct jobs_count *c = &jt->counts[i];
        if (c->delta)
            rc = count_put(jt, c->key, c->state, c->block, c->delta);
    }
    return rc;
}

int jobs_get(struct jobs_txn *jt, const char *batch, uint32_t row, struct job_view *v)
{
    const struct jobs_staged *e = jt->fold ? staged_find(jt, batch, row) : NULL;
    if (e)
        return job_decode(e->rec.data, e->rec.len, v);
    uint8_t key[JOB_KEY_MAX];
    size_t klen = batch_key_job(key, jobs_key(jt, batch), row);
    if (jt->fold) {
        id_copy(jt->last_batch, ID_MAX, batch);
        jt->last_row = row;
        memcpy(jt->last_key, key, klen);
        jt->last_klen = klen;
    }
    struct store_val val;
    int rc = store_get(jt->t, DB_JOB, key, klen, &val);
    if (rc)
        return rc;
    return job_decode(val.ptr, val.len, v);
}

int jobs_read(struct store_txn *t, const struct batch_key *k, uint32_t row, struct job_view *v)
{
    uint8_t key[JOB_KEY_MAX];
    struct store_val val;
    int rc = store_get(t, DB_JOB, key, batch_key_job(key, k, row), &val);
    return rc ? rc : job_decode(val.ptr, val.len, v);
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
    const struct batch_key *k = jobs_key(jt, batch);
    /* old points into the map, which the put may change: it was copied above. */
    rc = store_put(jt->t, DB_JOB, key, batch_key_job(key, k, row), jt->scratch.data,
                   jt->scratch.len, 0);
    if (rc)
        return rc;
    int from = old->head.state, to = h->state;
    if (from == to)
        return 0;
    rc = index_move(jt, batch, k, row, from, to);
    /* The per-block counts follow the index, so deep pages of a filter stay right. */
    uint32_t block = row >> STATE_BLOCK_SHIFT;
    if (!rc)
        rc = count_put(jt, k, (uint8_t)from, block, -1);
    if (!rc)
        rc = count_put(jt, k, (uint8_t)to, block, 1);
    return rc;
}

/* Folding, the job is re-encoded into its entry (old may be the entry's previous record, kept
 * until then: the two buffers swap); otherwise it is written now. */
static int put_job(struct jobs_txn *jt, const char *batch, uint32_t row, const struct job_view *old,
                   const struct job_head *h, const char *error, size_t error_len)
{
    if (!jt->fold)
        return write_job(jt, batch, row, old, h, error, error_len);
    struct jobs_staged *e = staged_add(jt, batch, row, old->head.state);
    if (!e)
        return jt->t->err;
    jt->scratch.len = 0;
    int rc = job_reencode(&jt->scratch, h, error, error_len, old);
    if (rc)
        return jt->t->err = rc;
    struct buf done = e->rec;
    e->rec = jt->scratch;
    jt->scratch = done;
    e->state = h->state;
    return 0;
}

int jobs_rewrite(struct jobs_txn *jt, const char *batch, uint32_t row, const struct job_view *old,
                 const struct job_head *h, const char *error, size_t error_len)
{
    return put_job(jt, batch, row, old, h, error, error_len);
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
    int rc = put_job(jt, batch, row, old, h, error, error_len);
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
