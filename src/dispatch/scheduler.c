#include "dispatch/scheduler.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/webhooks.h"
#include "app.h"
#include "dispatch/jobs.h"
#include "util/bucket.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

/* Dials chosen per tick: bounds the work (and the transaction) of one loop callback. */
#define PICKS_PER_TICK 256
/* Waiting rows skipped per pick because a retry is already scheduled for them. */
#define SCAN_LIMIT 1024
/* Group-commit window: reports arriving within it share one transaction. */
#define COMMIT_DELAY_MS 1
/* Commits start at least this far apart (and one ends before the next starts). Each is an
 * fsync (2 to 5 ms on this disk); under load one commit then carries everything that arrived
 * since the last, instead of a commit per report, at the price of at most this much latency
 * per dial. */
#define COMMIT_SPACING_MS 10
#define WATCH_INTERVAL_MS 500
#define NO_TIME           UINT64_MAX

struct sws;

struct sbatch {
    char id[ID_MAX];
    char ws_id[ID_MAX];
    struct sws *ws;
    struct sbatch *next; /* the workspace's batches, oldest first */
    uint64_t created_ms, start_ms;
    uint32_t next_row;  /* first attempts: rows before this were considered */
    int exhausted;      /* no waiting row at or after next_row */
    uint64_t retry_due; /* earliest scheduled retry (wall ms), NO_TIME when none */
    int due_cursor;     /* this tick already took retries up to (due_at, due_row) */
    uint64_t due_at;
    uint32_t due_row;
    uint32_t active;
    uint32_t max_concurrency;
    int has_cps;
    struct bucket cps;
    int dialable; /* queued or processing, not paused */
    char agent_id[ID_MAX];
    char from[24];
    char *voice_url;
    char *prompt;
    cJSON *columns;
    struct retry_smart smart;
};

struct sws {
    char id[ID_MAX];
    struct sbatch *batches;
    struct sws *next; /* round-robin ring */
    uint32_t active;
    uint32_t max_concurrency;
    struct bucket cps;
};

/* EV_WITHDRAW: a dial recorded but never sent, because its batch stopped dialling (paused,
 * cancelled) or the server began shutting down while the commit was being written. */
enum ev_kind { EV_CREATE, EV_CALL, EV_UNKNOWN, EV_WITHDRAW };

struct sev {
    enum ev_kind kind;
    char batch[ID_MAX];
    uint32_t row, seq;
    struct create_result cr;
    struct call_event ce;
    struct sev *next;
    /* The batch's retry settings, copied from memory before the transaction (has_smart == 0:
     * the batch is not loaded; the transaction reads them from the store). */
    struct retry_smart smart;
    int has_smart;
    /* Effects decided in the transaction, applied in memory after it commits. */
    int released;
    int now_active;
    uint64_t retry_due;
    int reset_cursor;
    int halted;
    int finished_batch; /* the batch completed with this report */
    int batch_over;     /* the batch is final and has no call in progress left */
    uint32_t final_seq; /* the call reached a final state with this number */
    char call_id[64];
};

struct pick {
    struct sbatch *b;
    uint32_t row;
    uint32_t seq;
    int from_due;
    uint64_t due_ms;
    uint32_t empty_vars;
    int applied;
    char e164[24];
    char *prompt;
    cJSON *vars;
    struct pick *next;
};

struct watch {
    int orphan; /* cleared while its lookup was in flight: the lookup frees it */
    char batch[ID_MAX];
    uint32_t row, seq;
    int state; /* JOB_DIALING (after a restart) or JOB_ACTIVE */
    uint64_t deadline;
    int fetching;
    char call_id[64];
};

/* One group commit: the picks and reports it records and what its transaction decided. At most
 * one exists at a time. While dialling its transaction runs on the thread pool
 * (store_write_async), so the fsync never holds the loop; it touches only this struct, the store
 * and the webhook outbox (whose shared state LMDB's writer lock guards). Whatever the scheduler
 * keeps in memory is read before the commit and updated after it, on the loop. */
struct commit {
    struct store_async req;
    const struct sched_config *cfg;
    struct webhooks *hooks;
    struct jobs_txn jt;
    struct pick *picks;
    struct sev *events;
    uint64_t now; /* wall ms */
    uint64_t rnd; /* jitter state, handed back to the scheduler after the commit */
    /* Counted in the transaction (which may run more than once), added to the stats after. */
    uint64_t provider_errors;
    uint64_t by_outcome[16];
    size_t emitted; /* webhook events recorded */
};

struct scheduler {
    struct app *app;
    struct sched_config cfg;
    struct provider_config pcfg;
    struct client *dialer;
    struct bucket provider;
    struct map batches; /* id -> struct sbatch */
    struct map wss;     /* id -> struct sws */
    struct sws *rr;     /* the workspace whose turn is next */
    uv_timer_t tick;
    uv_timer_t watch_timer;
    uint64_t tick_at;     /* uv_now() the tick is armed for, NO_TIME when not armed */
    uint64_t next_commit; /* uv_now() before which no transaction starts */
    struct store_waiter store_wait;
    struct sev *ev_head, *ev_tail;
    size_t nev;
    struct map watches; /* "batch/row" -> struct watch */
    struct commit commit;
    int committing; /* commit is being written on the pool */
    struct sched_stats stats;
    uint64_t rnd;
    int closing;
    int quiet;   /* shutting down: apply reports, start no new calls */
    int handles; /* the two timers, and a commit still being written when stopped */
};

struct dial_ctx {
    struct client_request r;
    struct scheduler *s;
    char batch[ID_MAX];
    uint32_t row, seq;
    struct watch *watch; /* for a status lookup: the watch it serves */
};

static void arm(struct scheduler *s, uint64_t delay_ms);
static void send_fetch(struct scheduler *s, struct watch *w);

/* xorshift: jitter only needs to be spread, not secret. */
static double random01(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return (double)(*state >> 11) / 9007199254740992.0;
}

/* ---- batches in memory ---- */

static void sbatch_free(struct sbatch *b)
{
    free(b->voice_url);
    free(b->prompt);
    cJSON_Delete(b->columns);
    free(b);
}

static struct sws *ws_get_or_add(struct scheduler *s, const char *id)
{
    struct sws *w = map_get(&s->wss, id, strlen(id));
    if (w)
        return w;
    w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    snprintf(w->id, sizeof w->id, "%s", id);
    if (map_put(&s->wss, id, strlen(id), w) != 0) {
        free(w);
        return NULL;
    }
    if (s->rr) {
        w->next = s->rr->next;
        s->rr->next = w;
    } else {
        w->next = w;
        s->rr = w;
    }
    return w;
}

/* A bucket holds max(2, rate/20) tokens: enough to absorb 50 ms of loop lateness (a commit, a
 * busy tick) without losing rate, small enough that any one-second window stays within
 * rate + burst. */
static double burst_for(double rate)
{
    return rate / 20 > 2 ? rate / 20 : 2;
}

/* Reads the workspace's limits; they may have changed since the last batch was loaded. */
static void ws_refresh(struct scheduler *s, struct store_txn *t, struct sws *w)
{
    struct store_val v;
    if (store_get(t, DB_WS, w->id, strlen(w->id), &v) != 0)
        return;
    cJSON *o = cJSON_ParseWithLength(v.ptr, v.len);
    const cJSON *cps = cJSON_GetObjectItemCaseSensitive(o, "callsPerSecond");
    const cJSON *mcc = cJSON_GetObjectItemCaseSensitive(o, "maxConcurrentCalls");
    double rate = cJSON_IsNumber(cps) ? cps->valuedouble : 10;
    w->max_concurrency = cJSON_IsNumber(mcc) ? (uint32_t)mcc->valuedouble : 50;
    double burst = burst_for(rate);
    if (w->cps.burst == 0)
        bucket_init(&w->cps, rate, burst, uv_now(s->app->loop));
    else
        bucket_configure(&w->cps, rate, burst, uv_now(s->app->loop));
    cJSON_Delete(o);
}

static void unlink_batch(struct scheduler *s, struct sbatch *b)
{
    struct sbatch **pp = &b->ws->batches;
    while (*pp && *pp != b)
        pp = &(*pp)->next;
    if (*pp)
        *pp = b->next;
    map_del(&s->batches, b->id, strlen(b->id));
}

static char *dup_string(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

/* The earliest scheduled retry of a batch, or NO_TIME. */
static uint64_t first_due(struct store_txn *t, const char *batch)
{
    size_t blen = strlen(batch);
    struct store_iter it;
    uint64_t due = NO_TIME;
    store_iter_open(&it, t, DB_DUE, batch, blen, NULL, 0);
    if (store_iter_next(&it) == 1 && it.key.len == blen + 12)
        due = be64_get((const uint8_t *)it.key.ptr + blen);
    store_iter_close(&it);
    return due;
}

/* Loads or refreshes a batch from the store. Batches that are final and have nothing in
 * progress are dropped from memory. */
static int load_batch(struct scheduler *s, struct store_txn *t, const char *id)
{
    struct batch_rec rec;
    int rc = batch_get(t, id, strlen(id), &rec);
    if (rc)
        return rc;
    struct sbatch *b = map_get(&s->batches, id, strlen(id));
    int live = rec.status == BATCH_QUEUED || rec.status == BATCH_PROCESSING;
    if (!live && !(b && b->active)) {
        if (b) {
            unlink_batch(s, b);
            sbatch_free(b);
        }
        return 0;
    }
    if (!b) {
        struct store_val mv;
        rc = store_get(t, DB_BATCHMETA, id, strlen(id), &mv);
        if (rc)
            return rc;
        cJSON *meta = cJSON_ParseWithLength(mv.ptr, mv.len);
        if (!meta)
            return BC_ECORRUPT;
        b = calloc(1, sizeof *b);
        struct sws *w = b ? ws_get_or_add(s, rec.ws) : NULL;
        if (!w || map_put(&s->batches, id, strlen(id), b) != 0) {
            free(b);
            cJSON_Delete(meta);
            return BC_ENOMEM;
        }
        snprintf(b->id, sizeof b->id, "%s", id);
        snprintf(b->ws_id, sizeof b->ws_id, "%s", rec.ws);
        b->ws = w;
        const cJSON *agent = cJSON_GetObjectItemCaseSensitive(meta, "agent");
        snprintf(b->agent_id, sizeof b->agent_id, "%s", rec.agent);
        const cJSON *from = cJSON_GetObjectItemCaseSensitive(agent, "fromNumber");
        snprintf(b->from, sizeof b->from, "%s", cJSON_IsString(from) ? from->valuestring : "");
        b->voice_url = dup_string(agent, "voiceUrl");
        b->prompt = dup_string(agent, "prompt");
        b->columns = cJSON_DetachItemFromObjectCaseSensitive(meta, "columns");
        retry_smart_from_json(cJSON_GetObjectItemCaseSensitive(meta, "smartCallbackConfig"),
                              &b->smart);
        cJSON_Delete(meta);
        b->created_ms = rec.created_ms;
        b->retry_due = NO_TIME;
        /* Keep the workspace's batches in creation order: ties in due time go to the older. */
        struct sbatch **pp = &w->batches;
        while (*pp && (*pp)->created_ms <= b->created_ms)
            pp = &(*pp)->next;
        b->next = *pp;
        *pp = b;
        ws_refresh(s, t, w);
    }
    b->start_ms = rec.scheduled_ms > rec.created_ms ? rec.scheduled_ms : rec.created_ms;
    b->dialable = live && !rec.paused;
    b->max_concurrency = rec.max_concurrency;
    b->has_cps = rec.calls_per_second > 0;
    if (b->has_cps) {
        double burst = burst_for(rec.calls_per_second);
        if (b->cps.burst == 0)
            bucket_init(&b->cps, rec.calls_per_second, burst, uv_now(s->app->loop));
        else
            bucket_configure(&b->cps, rec.calls_per_second, burst, uv_now(s->app->loop));
    }
    /* Rows may have gone back to waiting (resume, retry): scan from the start again. */
    b->next_row = 0;
    b->exhausted = 0;
    b->retry_due = first_due(t, id);
    return 0;
}

int scheduler_add_batch(struct scheduler *s, const char *batch_id)
{
    struct store_txn t;
    int rc = store_read_begin(&s->app->store, &t);
    if (!rc)
        rc = load_batch(s, &t, batch_id);
    store_read_end(&t);
    arm(s, 0);
    return rc;
}

void scheduler_remove_batch(struct scheduler *s, const char *batch_id)
{
    struct sbatch *b = map_get(&s->batches, batch_id, strlen(batch_id));
    if (!b)
        return;
    b->dialable = 0;
    if (b->active == 0) {
        unlink_batch(s, b);
        sbatch_free(b);
    }
}

/* ---- choosing what to dial ---- */

static uint32_t batch_cap(const struct sbatch *b)
{
    uint32_t ws = b->ws->max_concurrency;
    return b->max_concurrency && b->max_concurrency < ws ? b->max_concurrency : ws;
}

static void render_prompt(const struct sbatch *b, const struct job_view *jv, struct pick *p)
{
    /* The row's values by column, for the provider and for {variables}. */
    p->vars = cJSON_CreateObject();
    size_t pos = 0, n;
    const char *v;
    for (int i = 0; job_field_next(jv, &pos, &v, &n); i++) {
        const cJSON *name = cJSON_GetArrayItem(b->columns, i);
        if (cJSON_IsString(name)) {
            char *copy = strndup(v, n);
            cJSON_AddStringToObject(p->vars, name->valuestring, copy ? copy : "");
            free(copy);
        }
    }
    struct buf out = {0};
    const char *src = b->prompt ? b->prompt : "";
    while (*src) {
        const char *open = strchr(src, '{');
        const char *close = open ? strchr(open, '}') : NULL;
        size_t len = close ? (size_t)(close - open - 1) : 0;
        int is_var =
            close && len > 0 && len < 128 &&
            strspn(open + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") ==
                len;
        if (!is_var) {
            size_t take = open ? (size_t)(open - src) + 1 : strlen(src);
            buf_append(&out, src, take);
            src += take;
            continue;
        }
        buf_append(&out, src, (size_t)(open - src));
        char name[128];
        for (size_t i = 0; i < len; i++)
            name[i] =
                (char)((open[1 + i] >= 'A' && open[1 + i] <= 'Z') ? open[1 + i] + 32 : open[1 + i]);
        name[len] = '\0';
        const cJSON *val = cJSON_GetObjectItemCaseSensitive(p->vars, name);
        if (cJSON_IsString(val) && val->valuestring[0])
            buf_append_str(&out, val->valuestring);
        else
            p->empty_vars++;
        src = close + 1;
    }
    buf_append(&out, "", 1);
    p->prompt = out.data ? out.data : strdup("");
}

static void pick_free(struct pick *p)
{
    free(p->prompt);
    cJSON_Delete(p->vars);
    free(p);
}

/* Takes the next scheduled retry that is due, if any. */
static int take_due(struct scheduler *s, struct store_txn *t, struct sbatch *b, uint64_t now,
                    struct pick *p)
{
    (void)s;
    uint8_t start[JOB_KEY_MAX];
    size_t blen = strlen(b->id), slen = blen;
    memcpy(start, b->id, blen);
    if (b->due_cursor)
        slen = due_key(start, b->id, b->due_at, b->due_row + 1);
    struct store_iter it;
    store_iter_open(&it, t, DB_DUE, b->id, blen, start, slen);
    int rc = store_iter_next(&it);
    uint64_t due = NO_TIME;
    uint32_t row = 0;
    if (rc == 1 && it.key.len == blen + 12) {
        due = be64_get((const uint8_t *)it.key.ptr + blen);
        row = be32_get((const uint8_t *)it.key.ptr + blen + 8);
    }
    store_iter_close(&it);
    b->retry_due = due;
    if (due > now)
        return 0;
    b->due_cursor = 1;
    b->due_at = due;
    b->due_row = row;
    p->row = row;
    p->from_due = 1;
    p->due_ms = due;
    return 1;
}

/* Takes the next waiting row that has never been tried (or has no retry scheduled). */
static int take_first(struct store_txn *t, struct sbatch *b, struct pick *p, struct job_view *jv)
{
    uint8_t prefix[JOB_KEY_MAX], start[JOB_KEY_MAX];
    size_t plen = jobstate_key(prefix, b->id, JOB_WAITING, 0) - 4;
    size_t slen = jobstate_key(start, b->id, JOB_WAITING, b->next_row);
    struct store_iter it;
    store_iter_open(&it, t, DB_JOBSTATE, prefix, plen, start, slen);
    int found = 0, scanned = 0, rc;
    while ((rc = store_iter_next(&it)) == 1 && scanned++ < SCAN_LIMIT) {
        uint32_t row = be32_get((const uint8_t *)it.key.ptr + plen);
        b->next_row = row + 1;
        if (jobs_get(&(struct jobs_txn){.t = t}, b->id, row, jv) != 0)
            continue;
        if (jv->head.next_attempt_ms != 0)
            continue; /* its retry is in the due index */
        p->row = row;
        found = 1;
        break;
    }
    store_iter_close(&it);
    if (!found && rc != 1)
        b->exhausted = 1;
    return found;
}

/* When the batch's next call is due (wall ms), or NO_TIME. */
static uint64_t batch_due(const struct sbatch *b)
{
    uint64_t first = b->exhausted ? NO_TIME : b->start_ms;
    return b->retry_due < first ? b->retry_due : first;
}

/* Chooses one call of the workspace, taking its tokens and slot. *wake gets the soonest moment
 * something blocked here could proceed. */
static struct pick *pick_in_ws(struct scheduler *s, struct store_txn *t, struct sws *w,
                               uint64_t wall, uint64_t mono, uint64_t *wake)
{
    if (w->active >= w->max_concurrency)
        return NULL; /* a finishing call frees a slot and re-arms the tick */
    uint64_t wait = bucket_wait_ms(&w->cps, mono);
    if (wait) {
        *wake = wait < *wake ? wait : *wake;
        s->stats.token_waits++;
        return NULL;
    }
    for (int attempt = 0; attempt < 4; attempt++) {
        struct sbatch *best = NULL;
        uint64_t best_due = NO_TIME;
        for (struct sbatch *b = w->batches; b; b = b->next) {
            if (!b->dialable || b->active >= batch_cap(b))
                continue;
            uint64_t due = batch_due(b);
            if (due == NO_TIME)
                continue;
            if (due > wall) {
                *wake = due - wall < *wake ? due - wall : *wake;
                continue;
            }
            if (b->has_cps && (wait = bucket_wait_ms(&b->cps, mono)) != 0) {
                *wake = wait < *wake ? wait : *wake;
                s->stats.token_waits++;
                continue;
            }
            if (due < best_due) {
                best = b;
                best_due = due;
            }
        }
        if (!best)
            return NULL;
        struct pick *p = calloc(1, sizeof *p);
        if (!p)
            return NULL;
        p->b = best;
        struct job_view jv;
        int got = 0;
        if (best->retry_due <= wall && take_due(s, t, best, wall, p)) {
            uint8_t key[JOB_KEY_MAX];
            struct store_val v;
            got = store_get(t, DB_JOB, key, job_key(key, best->id, p->row), &v) == 0 &&
                  job_decode(v.ptr, v.len, &jv) == 0 && jv.head.state == JOB_WAITING;
        }
        /* First attempts only once the batch's start time (scheduledAt) has come. */
        if (!got && !best->exhausted && best->start_ms <= wall)
            got = take_first(t, best, p, &jv);
        if (!got) {
            free(p);
            continue; /* this batch had nothing after all; look again */
        }
        memcpy(p->e164, jv.head.e164, sizeof p->e164 - 1);
        render_prompt(best, &jv, p);
        bucket_take(&s->provider, mono);
        bucket_take(&w->cps, mono);
        if (best->has_cps)
            bucket_take(&best->cps, mono);
        w->active++;
        best->active++;
        return p;
    }
    return NULL;
}

static struct pick *pick_all(struct scheduler *s, uint64_t wall, uint64_t *wake)
{
    if (s->batches.live == 0 || s->quiet)
        return NULL;
    size_t budget = s->cfg.max_in_flight > s->dialer->in_flight
                        ? s->cfg.max_in_flight - s->dialer->in_flight
                        : 0;
    if (budget > PICKS_PER_TICK)
        budget = PICKS_PER_TICK;
    uint64_t mono = uv_now(s->app->loop);
    struct store_txn t;
    if (store_read_begin(&s->app->store, &t) != 0)
        return NULL;
    struct pick *head = NULL, **tail = &head;
    /* A new tick may take retries from the start of each batch's due index again. */
    for (size_t i = 0; i < s->batches.cap; i++) {
        struct map_slot *slot = &s->batches.slots[i];
        if (slot->value)
            ((struct sbatch *)slot->value)->due_cursor = 0;
    }
    while (budget > 0 && s->rr) {
        int progressed = 0;
        struct sws *first = s->rr, *w = first;
        do {
            uint64_t pw = s->cfg.provider_cps > 0 ? bucket_wait_ms(&s->provider, mono) : 0;
            if (pw) {
                *wake = pw < *wake ? pw : *wake;
                s->stats.token_waits++;
                budget = 0;
                break;
            }
            struct pick *p = pick_in_ws(s, &t, w, wall, mono, wake);
            w = w->next;
            if (p) {
                *tail = p;
                tail = &p->next;
                progressed = 1;
                /* The next turn is the next workspace's. Turns are counted in calls, not in
                 * ticks: a tick that finds the provider's bucket empty serves nobody, and
                 * moving on anyway would hand every token to whichever workspace's turn
                 * happened to fall on the ticks that had one. */
                s->rr = w;
                if (--budget == 0)
                    break;
            }
        } while (w != first);
        if (!progressed)
            break;
    }
    store_read_end(&t);
    return head;
}

/* ---- applying picks and reports in one transaction ---- */

static void release(struct sev *ev)
{
    ev->released = 1;
}

static int batch_live(const struct batch_rec *b)
{
    return b->status == BATCH_QUEUED || b->status == BATCH_PROCESSING;
}

static int emit(struct commit *c, const struct batch_rec *b, const char *type, cJSON *data)
{
    c->emitted++;
    return webhooks_emit(c->hooks, c->jt.t, b, type, data);
}

static void count_outcome(struct commit *c, int outcome)
{
    if (outcome >= 0 && outcome < 16)
        c->by_outcome[outcome]++;
}

static int maybe_finish(struct commit *c, struct sev *ev, struct batch_rec *b)
{
    if (b->status == BATCH_PROCESSING && b->waiting == 0 && b->active == 0) {
        b->status = BATCH_COMPLETED;
        b->completed_ms = c->now;
        ev->finished_batch = ev->batch_over = 1;
        return emit(c, b, "batch.completed", webhooks_batch_data(b));
    }
    /* A cancelled batch is over once its last call in progress is. */
    if (b->status == BATCH_CANCELLED && b->active == 0) {
        if (!b->completed_ms)
            b->completed_ms = c->now;
        ev->batch_over = 1;
    }
    return 0;
}

/* Every call that reaches a final state is numbered in its batch; the number is the id of its
 * live event, and the index lets a reconnecting watcher replay what it missed. */
static int final_touch(struct commit *c, struct sev *ev, struct batch_rec *b,
                       const struct job_head *h, const char *err)
{
    batch_add_recent(b, ev->row);
    b->last_completed_ms = c->now;
    b->final_seq++;
    ev->final_seq = b->final_seq;
    uint8_t key[JOB_KEY_MAX], v[4];
    be32_put(v, ev->row);
    int rc = store_put(c->jt.t, DB_FINALSEQ, key, finalseq_key(key, b->id, b->final_seq), v, 4, 0);
    const char *type = h->state == JOB_COMPLETED ? "call.completed" : "call.failed";
    return rc ? rc : emit(c, b, type, webhooks_call_data(b, ev->row, h, err, strlen(err)));
}

/* A call reached a final state: it is recorded, numbered, and may complete its batch. */
static int finish_call(struct commit *c, struct sev *ev, struct batch_rec *b,
                       const struct job_view *jv, const struct job_head *h, const char *err)
{
    int rc = jobs_move(&c->jt, ev->batch, ev->row, jv, h, err, strlen(err));
    if (!rc)
        rc = final_touch(c, ev, b, h, err);
    if (!rc)
        rc = maybe_finish(c, ev, b);
    jobs_batch_dirty(&c->jt, b);
    return rc;
}

/* A call of a batch that is over (cancelled: a completed one has no call in progress) that was
 * never placed ends like the batch's other waiting calls. */
static int cancel_unplaced(struct commit *c, struct sev *ev, struct batch_rec *b,
                           const struct job_view *jv)
{
    struct job_head h = jv->head;
    jobs_cancel_head(&h);
    release(ev);
    jobs_batch_dirty(&c->jt, b);
    int rc = jobs_move(&c->jt, ev->batch, ev->row, jv, &h, JOBS_CANCELLED_MSG,
                       sizeof JOBS_CANCELLED_MSG - 1);
    return rc ? rc : maybe_finish(c, ev, b);
}

static int record_usage(struct jobs_txn *jt, const struct batch_rec *b, uint32_t row, uint32_t seq,
                        uint64_t now, double seconds)
{
    uint8_t key[ID_MAX * 2 + 24];
    size_t wl = strlen(b->ws), bl = strlen(b->id);
    memcpy(key, b->ws, wl);
    be64_put(key + wl, now);
    memcpy(key + wl + 8, b->id, bl);
    be32_put(key + wl + 8 + bl, row);
    be32_put(key + wl + 12 + bl, seq);
    return store_put(jt->t, DB_USAGE, key, wl + 16 + bl, &seconds, sizeof seconds, 0);
}

static int smart_for(struct commit *c, const struct sev *ev, struct retry_smart *out)
{
    if (ev->has_smart) {
        *out = ev->smart;
        return 0;
    }
    struct store_val mv;
    int rc = store_get(c->jt.t, DB_BATCHMETA, ev->batch, strlen(ev->batch), &mv);
    if (rc)
        return rc;
    cJSON *meta = cJSON_ParseWithLength(mv.ptr, mv.len);
    retry_smart_from_json(cJSON_GetObjectItemCaseSensitive(meta, "smartCallbackConfig"), out);
    cJSON_Delete(meta);
    return 0;
}

/* Ends the current attempt: a retry scheduled, or a final state. */
static int end_attempt(struct commit *c, struct sev *ev, struct job_view *jv, struct job_head *h,
                       int outcome, const char *detail)
{
    struct jobs_txn *jt = &c->jt;
    struct batch_rec *b = jobs_batch(jt, ev->batch);
    if (!b)
        return jt->t->err;
    struct retry_smart smart;
    struct retry_decision d;
    int rc = smart_for(c, ev, &smart);
    if (rc)
        return rc;
    retry_after_call(&c->cfg->retry, &smart, outcome, h->attempts, c->now, detail, &d);
    /* A cancelled or failed batch dials nothing more. */
    if (!batch_live(b))
        d.retry = 0;
    h->outcome = (uint8_t)outcome;
    h->end_ms = c->now;
    count_outcome(c, outcome);
    release(ev);
    if (!d.retry) {
        h->next_attempt_ms = 0;
        h->state = outcome == OUTCOME_ANSWERED ? JOB_COMPLETED : JOB_FAILED;
        return finish_call(c, ev, b, jv, h, outcome == OUTCOME_ANSWERED ? "" : d.error);
    }
    h->state = JOB_WAITING;
    h->next_attempt_ms = d.due_ms;
    uint8_t key[JOB_KEY_MAX];
    rc = store_put(jt->t, DB_DUE, key, due_key(key, ev->batch, d.due_ms, ev->row), "", 0, 0);
    if (!rc)
        rc = jobs_move(jt, ev->batch, ev->row, jv, h, detail, strlen(detail));
    ev->retry_due = d.due_ms;
    jobs_batch_dirty(jt, b);
    return rc;
}

static int put_sid(struct jobs_txn *jt, const char *call_id, const char *batch, uint32_t row,
                   uint32_t seq)
{
    uint8_t v[ID_MAX + 8];
    size_t bl = strlen(batch);
    memcpy(v, batch, bl);
    be32_put(v + bl, row);
    be32_put(v + bl + 4, seq);
    return store_put(jt->t, DB_SID, call_id, strlen(call_id), v, bl + 8, 0);
}

static int apply_create(struct commit *c, struct sev *ev, struct job_view *jv)
{
    struct jobs_txn *jt = &c->jt;
    struct job_head h = jv->head;
    const struct create_result *cr = &ev->cr;
    struct batch_rec *b = jobs_batch(jt, ev->batch);
    if (!b)
        return jt->t->err;
    switch (cr->cls) {
    case CREATE_OK:
        h.state = JOB_ACTIVE;
        h.attempts++;
        h.provider_errors = 0;
        snprintf(h.call_id, sizeof h.call_id, "%.39s", cr->call_id);
        b->attempts++;
        jobs_batch_dirty(jt, b);
        ev->now_active = 1;
        snprintf(ev->call_id, sizeof ev->call_id, "%s", cr->call_id);
        if (put_sid(jt, cr->call_id, ev->batch, ev->row, ev->seq))
            return jt->t->err;
        return jobs_move(jt, ev->batch, ev->row, jv, &h, jv->error, jv->error_len);
    case CREATE_RETRY: {
        struct retry_decision d;
        h.provider_errors++;
        c->provider_errors++;
        retry_after_provider_error(&c->cfg->retry, h.provider_errors, cr->retry_after_ms,
                                   random01(&c->rnd), c->now, cr->message, &d);
        if (!batch_live(b) && d.retry) {
            d.retry = 0;
            snprintf(d.error, sizeof d.error, "Not placed: %.140s", cr->message);
        }
        release(ev);
        if (d.retry) {
            h.state = JOB_WAITING;
            h.next_attempt_ms = d.due_ms;
            uint8_t key[JOB_KEY_MAX];
            ev->retry_due = d.due_ms;
            if (store_put(jt->t, DB_DUE, key, due_key(key, ev->batch, d.due_ms, ev->row), "", 0, 0))
                return jt->t->err;
            return jobs_move(jt, ev->batch, ev->row, jv, &h, jv->error, jv->error_len);
        }
        h.state = JOB_FAILED;
        h.outcome = OUTCOME_PROVIDER_ERROR;
        h.end_ms = c->now;
        count_outcome(c, OUTCOME_PROVIDER_ERROR);
        return finish_call(c, ev, b, jv, &h, d.error);
    }
    case CREATE_FINAL:
        h.state = JOB_FAILED;
        h.outcome = (uint8_t)cr->outcome;
        h.end_ms = c->now;
        count_outcome(c, cr->outcome);
        release(ev);
        return finish_call(c, ev, b, jv, &h, cr->message);
    case CREATE_HALT:
        /* Our account is wrong, not the contact: put the job back untouched and pause (unless
         * the batch was cancelled meanwhile: then the call is cancelled with it). */
        if (!batch_live(b))
            return cancel_unplaced(c, ev, b, jv);
        h.state = JOB_WAITING;
        h.next_attempt_ms = 0;
        release(ev);
        ev->halted = 1;
        ev->reset_cursor = 1;
        b->paused = 1;
        snprintf(b->message, sizeof b->message, "%.159s", cr->message);
        jobs_batch_dirty(jt, b);
        return jobs_move(jt, ev->batch, ev->row, jv, &h, jv->error, jv->error_len);
    }
    return 0;
}

static int apply_call(struct commit *c, struct sev *ev, struct job_view *jv)
{
    struct jobs_txn *jt = &c->jt;
    struct job_head h = jv->head;
    const struct call_event *ce = &ev->ce;
    if (ce->sequence >= 0 && ce->sequence <= h.last_sequence)
        return 0; /* an older report than one already applied */
    if (ce->sequence >= 0)
        h.last_sequence = (int32_t)ce->sequence;
    if (h.state == JOB_DIALING) {
        /* The provider reported before its answer to our create request arrived. */
        h.attempts++;
        h.provider_errors = 0;
        if (ce->call_id[0]) {
            snprintf(h.call_id, sizeof h.call_id, "%.39s", ce->call_id);
            if (put_sid(jt, ce->call_id, ev->batch, ev->row, ev->seq))
                return jt->t->err;
        }
        struct batch_rec *b = jobs_batch(jt, ev->batch);
        if (!b)
            return jt->t->err;
        b->attempts++;
        jobs_batch_dirty(jt, b);
        if (!ce->final) {
            h.state = JOB_ACTIVE;
            ev->now_active = 1;
            snprintf(ev->call_id, sizeof ev->call_id, "%s", h.call_id);
            return jobs_move(jt, ev->batch, ev->row, jv, &h, jv->error, jv->error_len);
        }
    }
    if (!ce->final) {
        /* Progress only: keep the sequence number so older reports are ignored. */
        return jobs_move(jt, ev->batch, ev->row, jv, &h, jv->error, jv->error_len);
    }
    struct batch_rec *b = jobs_batch(jt, ev->batch);
    if (!b)
        return jt->t->err;
    if (ce->transcript && ce->transcript[0]) {
        uint8_t key[JOB_KEY_MAX];
        if (store_put(jt->t, DB_TRANSCRIPT, key, job_key(key, ev->batch, ev->row), ce->transcript,
                      strlen(ce->transcript), 0))
            return jt->t->err;
    }
    if (ce->answered) {
        h.duration = ce->duration;
        b->billable++;
        b->connected++;
        b->duration_sum += ce->duration;
        if (record_usage(jt, b, ev->row, ev->seq, c->now, ce->duration))
            return jt->t->err;
    }
    return end_attempt(c, ev, jv, &h, ce->outcome, ce->message);
}

static int apply_unknown(struct commit *c, struct sev *ev, struct job_view *jv)
{
    struct job_head h = jv->head;
    struct batch_rec *b = jobs_batch(&c->jt, ev->batch);
    if (!b)
        return c->jt.t->err;
    const char *msg =
        h.state == JOB_DIALING
            ? "The server stopped while this call was being placed and the provider never "
              "reported on it; it was not dialled again, so the contact is not called twice"
            : "The provider has no record of this call; its outcome is unknown";
    h.state = JOB_FAILED;
    h.outcome = OUTCOME_UNKNOWN;
    h.end_ms = c->now;
    release(ev);
    return finish_call(c, ev, b, jv, &h, msg);
}

/* A dial recorded but never sent: the contact waits again, or is cancelled with its batch. */
static int apply_withdraw(struct commit *c, struct sev *ev, struct job_view *jv)
{
    struct jobs_txn *jt = &c->jt;
    struct job_head h = jv->head;
    struct batch_rec *b = jobs_batch(jt, ev->batch);
    if (!b)
        return jt->t->err;
    if (h.state != JOB_DIALING)
        return 0;
    if (!batch_live(b))
        return cancel_unplaced(c, ev, b, jv);
    release(ev);
    h.state = JOB_WAITING;
    h.next_attempt_ms = 0; /* it was due: the scan for first attempts finds it again */
    if (!h.attempts)
        h.start_ms = 0;
    ev->reset_cursor = 1;
    jobs_batch_dirty(jt, b);
    return jobs_move(jt, ev->batch, ev->row, jv, &h, "", 0);
}

static int apply_event(struct commit *c, struct sev *ev)
{
    struct job_view jv;
    int rc = jobs_get(&c->jt, ev->batch, ev->row, &jv);
    if (rc == BC_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    /* Reports about another request than the job's current one, or about a job that has moved
     * on, change nothing. */
    int in_progress = jv.head.state == JOB_DIALING || jv.head.state == JOB_ACTIVE;
    if (!in_progress || jv.head.seq != ev->seq)
        return 0;
    switch (ev->kind) {
    case EV_CREATE:
        return jv.head.state == JOB_DIALING ? apply_create(c, ev, &jv) : 0;
    case EV_CALL:
        return apply_call(c, ev, &jv);
    case EV_UNKNOWN:
        return apply_unknown(c, ev, &jv);
    case EV_WITHDRAW:
        return apply_withdraw(c, ev, &jv);
    }
    return 0;
}

static int apply_pick(struct commit *c, struct pick *p)
{
    struct jobs_txn *jt = &c->jt;
    struct job_view jv;
    int rc = jobs_get(jt, p->b->id, p->row, &jv);
    if (rc == BC_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (jv.head.state != JOB_WAITING)
        return 0;
    struct batch_rec *b = jobs_batch(jt, p->b->id);
    if (!b)
        return jt->t->err;
    if (!batch_live(b))
        return 0;
    struct job_head h = jv.head;
    h.state = JOB_DIALING;
    h.seq++;
    h.next_attempt_ms = 0;
    /* A new request: the provider numbers its reports from 0 again. */
    h.last_sequence = -1;
    if (!h.start_ms)
        h.start_ms = c->now;
    p->seq = h.seq;
    if (p->from_due) {
        uint8_t key[JOB_KEY_MAX];
        rc = store_del(jt->t, DB_DUE, key, due_key(key, p->b->id, p->due_ms, p->row));
        if (rc && rc != BC_ENOTFOUND)
            return rc;
    }
    if (b->status == BATCH_QUEUED) {
        b->status = BATCH_PROCESSING;
        b->started_ms = c->now;
        rc = emit(c, b, "batch.started", webhooks_batch_data(b));
        if (rc)
            return rc;
    }
    b->empty_variables += p->empty_vars;
    jobs_batch_dirty(jt, b);
    /* The previous attempt's words no longer describe the call. */
    rc = jobs_move(jt, p->b->id, p->row, &jv, &h, "", 0);
    if (!rc)
        p->applied = 1;
    return rc;
}

/* May run more than once (map growth): everything it decides is reset first. */
static int apply_txn(struct store_txn *t, void *arg)
{
    struct commit *c = arg;
    jobs_txn_begin(&c->jt, t);
    c->provider_errors = 0;
    memset(c->by_outcome, 0, sizeof c->by_outcome);
    c->emitted = 0;
    int rc = 0;
    for (struct pick *p = c->picks; p && !rc; p = p->next) {
        p->applied = 0;
        rc = apply_pick(c, p);
    }
    for (struct sev *ev = c->events; ev && !rc; ev = ev->next) {
        ev->released = ev->now_active = ev->halted = ev->finished_batch = ev->batch_over = 0;
        ev->reset_cursor = 0;
        ev->retry_due = 0;
        ev->final_seq = 0;
        rc = apply_event(c, ev);
    }
    return rc ? rc : jobs_txn_end(&c->jt);
}

/* ---- after the commit ---- */

static void watch_key(char *out, const char *batch, uint32_t row)
{
    sprintf(out, "%s/%u", batch, row);
}

static void watch_set(struct scheduler *s, const char *batch, uint32_t row, uint32_t seq, int state,
                      const char *call_id, uint64_t deadline)
{
    char key[ID_MAX + 16];
    watch_key(key, batch, row);
    struct watch *w = map_get(&s->watches, key, strlen(key));
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w || map_put(&s->watches, key, strlen(key), w) != 0) {
            free(w);
            return;
        }
    }
    snprintf(w->batch, sizeof w->batch, "%s", batch);
    w->row = row;
    w->seq = seq;
    w->state = state;
    w->deadline = deadline;
    snprintf(w->call_id, sizeof w->call_id, "%s", call_id ? call_id : "");
}

static void watch_clear(struct scheduler *s, const char *batch, uint32_t row)
{
    char key[ID_MAX + 16];
    watch_key(key, batch, row);
    struct watch *w = map_del(&s->watches, key, strlen(key));
    if (w && !w->fetching)
        free(w);
    else if (w)
        w->orphan = 1; /* the lookup in flight frees it */
}

static void event_effects(struct scheduler *s, struct sev *ev)
{
    if (ev->kind == EV_UNKNOWN && ev->released)
        log_warn("call outcome unknown: no report from the provider; not dialled again",
                 "batch=%s row=%u seq=%u", ev->batch, ev->row, ev->seq);
    struct sbatch *b = map_get(&s->batches, ev->batch, strlen(ev->batch));
    if (ev->now_active)
        watch_set(s, ev->batch, ev->row, ev->seq, JOB_ACTIVE, ev->call_id,
                  clock_now_ms() + s->cfg.overdue_ms);
    if (ev->released) {
        watch_clear(s, ev->batch, ev->row);
        if (b) {
            if (b->active)
                b->active--;
            if (b->ws->active)
                b->ws->active--;
        }
    }
    if (!b)
        return;
    if (ev->retry_due && ev->retry_due < b->retry_due)
        b->retry_due = ev->retry_due;
    if (ev->reset_cursor) {
        b->next_row = 0;
        b->exhausted = 0;
    }
    if (ev->halted && b->dialable) {
        b->dialable = 0;
        log_warn("batch paused: the provider rejected our account or configuration",
                 "batch=%s reason=\"%s\"", b->id, ev->cr.message);
    }
    /* A batch that is over leaves memory with its last call (a cancelled one stayed for the
     * calls it had in progress). */
    if (ev->batch_over && b->active == 0) {
        if (ev->finished_batch)
            log_info("batch completed", "batch=%s", b->id);
        unlink_batch(s, b);
        sbatch_free(b);
    }
}

static void queue_event(struct scheduler *s, struct sev *ev)
{
    ev->next = NULL;
    if (s->ev_tail)
        s->ev_tail->next = ev;
    else
        s->ev_head = ev;
    s->ev_tail = ev;
    s->nev++;
    arm(s, COMMIT_DELAY_MS);
}

static void on_create_done(struct client_request *r)
{
    struct dial_ctx *dc = r->user;
    struct scheduler *s = dc->s;
    if (!s->closing) {
        histogram_observe(&s->stats.provider_latency, r->seconds);
        struct sev *ev = calloc(1, sizeof *ev);
        if (ev) {
            ev->kind = EV_CREATE;
            snprintf(ev->batch, sizeof ev->batch, "%s", dc->batch);
            ev->row = dc->row;
            ev->seq = dc->seq;
            provider_parse_create(&s->pcfg, r, &ev->cr);
            queue_event(s, ev);
        }
    }
    client_request_free(r);
    free(dc);
}

static void send_pick(struct scheduler *s, struct pick *p)
{
    struct dial_ctx *dc = calloc(1, sizeof *dc);
    struct sev *ev = NULL;
    int rc = BC_ENOMEM;
    if (dc) {
        dc->s = s;
        snprintf(dc->batch, sizeof dc->batch, "%s", p->b->id);
        dc->row = p->row;
        dc->seq = p->seq;
        struct dial_attempt a = {
            .batch = p->b->id,
            .row = p->row,
            .seq = p->seq,
            .to = p->e164,
            .from = p->b->from,
            .agent_id = p->b->agent_id,
            .voice_url = p->b->voice_url,
            .prompt = p->prompt,
            .variables = p->vars,
        };
        rc = provider_build_create(&s->pcfg, &a, &dc->r);
        dc->r.done = on_create_done;
        dc->r.user = dc;
        if (!rc)
            rc = client_start(s->dialer, &dc->r);
    }
    if (rc == 0) {
        s->stats.dials++;
        return;
    }
    /* Never sent: report it as provider trouble so the job waits and tries again. */
    if (dc) {
        client_request_free(&dc->r);
        free(dc);
    }
    ev = calloc(1, sizeof *ev);
    if (!ev)
        return;
    ev->kind = EV_CREATE;
    snprintf(ev->batch, sizeof ev->batch, "%s", p->b->id);
    ev->row = p->row;
    ev->seq = p->seq;
    ev->cr.cls = CREATE_RETRY;
    snprintf(ev->cr.message, sizeof ev->cr.message, "the request could not be started (%s)",
             bc_strerror(rc));
    queue_event(s, ev);
}

/* Gives back what a pick took when its transaction failed or it was not applied. */
static void unpick(struct pick *p)
{
    struct sbatch *b = p->b;
    if (b->active)
        b->active--;
    if (b->ws->active)
        b->ws->active--;
    if (!p->from_due && p->row < b->next_row) {
        b->next_row = p->row;
        b->exhausted = 0;
    }
    if (p->from_due && p->due_ms < b->retry_due)
        b->retry_due = p->due_ms;
}

static void run(struct scheduler *s);

static void on_store_idle(struct store_waiter *w)
{
    struct scheduler *s = (struct scheduler *)((char *)w - offsetof(struct scheduler, store_wait));
    run(s);
}

static struct sev *take_events(struct scheduler *s)
{
    struct sev *events = s->ev_head;
    s->ev_head = s->ev_tail = NULL;
    s->nev = 0;
    return events;
}

/* Fills the commit with what it records and what the transaction needs from memory. */
static void commit_prepare(struct scheduler *s, struct pick *picks, struct sev *events,
                           uint64_t wall)
{
    struct commit *c = &s->commit;
    c->cfg = &s->cfg;
    c->hooks = s->app->webhooks;
    c->picks = picks;
    c->events = events;
    c->now = wall;
    c->rnd = s->rnd;
    for (struct sev *ev = events; ev; ev = ev->next) {
        const struct sbatch *b = map_get(&s->batches, ev->batch, strlen(ev->batch));
        ev->has_smart = b != NULL;
        if (b)
            ev->smart = b->smart;
    }
}

/* A dial that was recorded but will not be sent: recorded back in the next commit. */
static void withdraw(struct scheduler *s, const struct pick *p)
{
    struct sev *ev = calloc(1, sizeof *ev);
    if (!ev)
        return; /* left dialing: reconciled as unknown, never dialled twice */
    ev->kind = EV_WITHDRAW;
    snprintf(ev->batch, sizeof ev->batch, "%s", p->b->id);
    ev->row = p->row;
    ev->seq = p->seq;
    queue_event(s, ev);
}

/* On the loop after the commit: what was decided takes effect, the recorded dials are sent. */
static void commit_finish(struct scheduler *s, int rc)
{
    struct commit *c = &s->commit;
    struct sev *events = c->events;
    struct pick *picks = c->picks;
    c->events = NULL;
    c->picks = NULL;
    if (rc) {
        log_error("dispatch transaction failed; retrying", "error=\"%s\"", bc_strerror(rc));
        for (struct pick *p = picks, *n; p; p = n) {
            n = p->next;
            unpick(p);
            pick_free(p);
        }
        /* Keep the reports for the next try, in order. */
        if (events) {
            struct sev *last = events;
            while (last->next)
                last = last->next;
            last->next = s->ev_head;
            if (!s->ev_head)
                s->ev_tail = last;
            s->ev_head = events;
        }
        return;
    }
    s->rnd = c->rnd;
    s->stats.provider_errors += c->provider_errors;
    for (size_t i = 0; i < 16; i++)
        s->stats.by_outcome[i] += c->by_outcome[i];
    if (c->emitted)
        webhooks_kick(s->app->webhooks);
    for (struct sev *ev = events, *n; ev; ev = n) {
        n = ev->next;
        if (s->cfg.on_change)
            s->cfg.on_change(s->cfg.on_change_arg, ev->batch, ev->row, ev->final_seq,
                             ev->finished_batch);
        event_effects(s, ev);
        provider_event_free(&ev->ce);
        free(ev);
    }
    size_t withdrawn = 0;
    for (struct pick *p = picks, *n; p; p = n) {
        n = p->next;
        if (p->applied && s->cfg.on_change)
            s->cfg.on_change(s->cfg.on_change_arg, p->b->id, p->row, 0, 0);
        /* The batch may have been paused or cancelled, or the server told to stop, while the
         * commit was written: a dial whose 200 OK has been answered must not leave. */
        if (!p->applied) {
            unpick(p);
        } else if (p->b->dialable && !s->quiet) {
            send_pick(s, p);
        } else {
            withdraw(s, p);
            withdrawn++;
        }
        pick_free(p);
    }
    if (withdrawn)
        log_info("dials not sent: their batch stopped dialling while they were recorded",
                 "calls=%zu", withdrawn);
}

/* While stopping: what is still queued is applied at once, on the loop (it no longer serves
 * requests), so nothing already known is lost. */
static void flush_at_stop(struct scheduler *s)
{
    for (int tries = 0; s->ev_head && tries < 3; tries++) {
        commit_prepare(s, NULL, take_events(s), clock_now_ms());
        commit_finish(s, store_write(&s->app->store, apply_txn, &s->commit));
    }
}

static void release_scheduler(struct scheduler *s);

static void on_commit_done(struct store_async *req, int rc)
{
    struct scheduler *s = (struct scheduler *)((char *)req - offsetof(struct scheduler, commit));
    s->committing = 0;
    commit_finish(s, rc);
    if (s->closing) {
        flush_at_stop(s);
        release_scheduler(s);
        return;
    }
    /* Reports may have freed slots or scheduled retries, and the budget may have run out: look
     * again at once (no sooner than the spacing allows). */
    arm(s, rc ? 100 : 0);
}

static void run(struct scheduler *s)
{
    if (s->closing || s->committing)
        return; /* the commit's end looks again */
    if (store_async_busy(&s->app->store)) {
        /* An upload's rows are being written: pick right after, so the picks are fresh when
         * the commit starts, instead of queueing behind the chunk. */
        store_when_idle(&s->app->store, &s->store_wait);
        return;
    }
    uint64_t wall = clock_now_ms();
    uint64_t wake = NO_TIME;
    struct pick *picks = pick_all(s, wall, &wake);
    struct sev *events = take_events(s);
    if (!picks && !events) {
        if (wake != NO_TIME)
            arm(s, wake);
        return;
    }
    commit_prepare(s, picks, events, wall);
    s->committing = 1;
    s->next_commit = uv_now(s->app->loop) + COMMIT_SPACING_MS;
    store_write_async(&s->app->store, s->app->loop, &s->commit.req, apply_txn, &s->commit,
                      on_commit_done);
}

static void on_tick(uv_timer_t *t)
{
    struct scheduler *s = t->data;
    s->tick_at = NO_TIME;
    run(s);
}

/* Arms the tick for delay_ms from now unless it is already armed sooner. A zero delay becomes
 * 1 ms: libuv 1.44 runs a 0 ms timer started inside a timer callback in the same pass. */
static void arm(struct scheduler *s, uint64_t delay_ms)
{
    if (s->closing || delay_ms == NO_TIME)
        return;
    if (delay_ms < 1)
        delay_ms = 1;
    uint64_t now = uv_now(s->app->loop), at = now + delay_ms;
    if (at < s->next_commit) {
        at = s->next_commit;
        delay_ms = at - now;
    }
    if (s->tick_at != NO_TIME && s->tick_at <= at)
        return;
    s->tick_at = at;
    uv_timer_start(&s->tick, on_tick, delay_ms, 0);
}

void scheduler_report(struct scheduler *s, const struct call_event *ce)
{
    struct sev *ev = calloc(1, sizeof *ev);
    if (!ev) {
        free(ce->transcript);
        return;
    }
    ev->kind = EV_CALL;
    ev->ce = *ce;
    snprintf(ev->batch, sizeof ev->batch, "%s", ce->batch);
    ev->row = ce->row;
    ev->seq = ce->seq;
    queue_event(s, ev);
}

/* ---- overdue calls ---- */

static void on_fetch_done(struct client_request *r)
{
    struct dial_ctx *dc = r->user;
    struct scheduler *s = dc->s;
    struct watch *w = dc->watch;
    if (w->orphan) {
        free(w);
        w = NULL;
    }
    if (!s->closing) {
        struct call_event ce;
        memset(&ce, 0, sizeof ce);
        int rc = provider_parse_fetch(&s->pcfg, r, &ce);
        if (rc == 0 && ce.final) {
            snprintf(ce.batch, sizeof ce.batch, "%s", dc->batch);
            ce.row = dc->row;
            ce.seq = dc->seq;
            ce.sequence = -1;
            scheduler_report(s, &ce);
        } else if (rc == BC_ENOTFOUND) {
            struct sev *ev = calloc(1, sizeof *ev);
            if (ev) {
                ev->kind = EV_UNKNOWN;
                snprintf(ev->batch, sizeof ev->batch, "%s", dc->batch);
                ev->row = dc->row;
                ev->seq = dc->seq;
                queue_event(s, ev);
            }
            provider_event_free(&ce);
        } else {
            provider_event_free(&ce);
        }
        /* Still in progress, or the provider is in trouble: look again later. */
        if (w)
            w->deadline = clock_now_ms() + (rc == 0 ? s->cfg.overdue_ms : 5000);
    }
    if (w)
        w->fetching = 0;
    client_request_free(r);
    free(dc);
}

static void send_fetch(struct scheduler *s, struct watch *w)
{
    struct dial_ctx *dc = calloc(1, sizeof *dc);
    if (!dc)
        return;
    dc->s = s;
    dc->watch = w;
    snprintf(dc->batch, sizeof dc->batch, "%s", w->batch);
    dc->row = w->row;
    dc->seq = w->seq;
    if (provider_build_fetch(&s->pcfg, w->call_id, &dc->r) != 0) {
        free(dc);
        return;
    }
    dc->r.done = on_fetch_done;
    dc->r.user = dc;
    if (client_start(s->dialer, &dc->r) != 0) {
        client_request_free(&dc->r);
        free(dc);
        return;
    }
    w->fetching = 1;
}

static void on_watch(uv_timer_t *t)
{
    struct scheduler *s = t->data;
    uint64_t now = clock_now_ms();
    for (size_t i = 0; i < s->watches.cap; i++) {
        struct map_slot *slot = &s->watches.slots[i];
        struct watch *w = slot->value;
        if (!w || w->fetching || w->deadline > now)
            continue;
        if (w->state == JOB_DIALING || !w->call_id[0]) {
            struct sev *ev = calloc(1, sizeof *ev);
            if (!ev)
                continue;
            ev->kind = EV_UNKNOWN;
            snprintf(ev->batch, sizeof ev->batch, "%s", w->batch);
            ev->row = w->row;
            ev->seq = w->seq;
            w->deadline = now + s->cfg.overdue_ms;
            queue_event(s, ev);
        } else if (s->dialer->in_flight < s->dialer->max_in_flight) {
            send_fetch(s, w);
        }
    }
}

/* ---- start-up ---- */

/* Counts calls in progress and watches them: after a restart nothing is known about them but
 * what the store says. */
static int adopt_in_progress(struct scheduler *s, struct store_txn *t, struct sbatch *b)
{
    static const int states[] = {JOB_DIALING, JOB_ACTIVE};
    uint64_t deadline = clock_now_ms() + s->cfg.reconcile_ms;
    for (size_t k = 0; k < 2; k++) {
        uint8_t prefix[JOB_KEY_MAX];
        size_t plen = jobstate_key(prefix, b->id, (uint8_t)states[k], 0) - 4;
        struct store_iter it;
        int rc;
        store_iter_open(&it, t, DB_JOBSTATE, prefix, plen, NULL, 0);
        while ((rc = store_iter_next(&it)) == 1) {
            uint32_t row = be32_get((const uint8_t *)it.key.ptr + plen);
            struct job_view jv;
            if (jobs_get(&(struct jobs_txn){.t = t}, b->id, row, &jv) != 0)
                continue;
            b->active++;
            b->ws->active++;
            watch_set(s, b->id, row, jv.head.seq, states[k], jv.head.call_id, deadline);
        }
        store_iter_close(&it);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int load_all(struct scheduler *s)
{
    struct store_txn t;
    int rc = store_read_begin(&s->app->store, &t);
    if (rc)
        return rc;
    struct buf ids = {0};
    struct store_iter it;
    store_iter_open(&it, &t, DB_BATCH, "", 0, NULL, 0);
    while ((rc = store_iter_next(&it)) == 1) {
        struct batch_rec b;
        if (it.val.len != sizeof b)
            continue;
        memcpy(&b, it.val.ptr, sizeof b);
        /* Cancelled batches may still have calls finishing. */
        if (b.status == BATCH_QUEUED || b.status == BATCH_PROCESSING ||
            (b.status == BATCH_CANCELLED && b.active))
            buf_append(&ids, b.id, strlen(b.id) + 1);
    }
    store_iter_close(&it);
    size_t n = 0;
    for (const char *id = ids.data; id && id < ids.data + ids.len && rc >= 0;
         id += strlen(id) + 1) {
        struct batch_rec rec;
        if (batch_get(&t, id, strlen(id), &rec) != 0)
            continue;
        if (rec.status == BATCH_CANCELLED) {
            /* Not dialable, but its calls in progress count and are watched. */
            rc = load_batch(s, &t, id);
            struct sbatch *b = map_get(&s->batches, id, strlen(id));
            if (b)
                b->dialable = 0;
        } else {
            rc = load_batch(s, &t, id);
        }
        struct sbatch *b = map_get(&s->batches, id, strlen(id));
        if (!rc && b)
            rc = adopt_in_progress(s, &t, b);
        n++;
    }
    store_read_end(&t);
    buf_free(&ids);
    if (n)
        log_info("dispatch resumed", "batches=%zu calls_in_progress=%zu", n, s->watches.live);
    return rc < 0 ? rc : 0;
}

int scheduler_start(struct scheduler **out, struct app *app, const struct sched_config *cfg,
                    const struct provider_config *pcfg, struct client *dialer)
{
    struct scheduler *s = calloc(1, sizeof *s);
    if (!s)
        return BC_ENOMEM;
    s->app = app;
    s->cfg = *cfg;
    s->pcfg = *pcfg;
    s->dialer = dialer;
    s->tick_at = NO_TIME;
    s->store_wait.fn = on_store_idle;
    s->rnd = clock_now_ms() | 1;
    double pcps = cfg->provider_cps > 0 ? cfg->provider_cps : 1e9;
    bucket_init(&s->provider, pcps, burst_for(pcps), uv_now(app->loop));
    uv_timer_init(app->loop, &s->tick);
    uv_timer_init(app->loop, &s->watch_timer);
    s->tick.data = s->watch_timer.data = s;
    s->handles = 2;
    int rc = load_all(s);
    if (rc) {
        scheduler_stop(s);
        return rc;
    }
    uv_timer_start(&s->watch_timer, on_watch, WATCH_INTERVAL_MS, WATCH_INTERVAL_MS);
    arm(s, 0);
    *out = s;
    return 0;
}

static void free_batch_value(void *v)
{
    sbatch_free(v);
}

static void release_scheduler(struct scheduler *s)
{
    if (--s->handles > 0)
        return;
    for (struct sev *ev = s->ev_head, *n; ev; ev = n) {
        n = ev->next;
        provider_event_free(&ev->ce);
        free(ev);
    }
    map_free(&s->batches, free_batch_value);
    map_free(&s->wss, free);
    map_free(&s->watches, free);
    jobs_txn_free(&s->commit.jt);
    free(s);
}

static void on_closed(uv_handle_t *h)
{
    release_scheduler(h->data);
}

void scheduler_quiesce(struct scheduler *s)
{
    s->quiet = 1;
}

int scheduler_idle(const struct scheduler *s)
{
    return s->dialer->in_flight == 0 && s->ev_head == NULL && !s->committing;
}

void scheduler_stop(struct scheduler *s)
{
    if (!s || s->closing)
        return;
    s->quiet = 1;
    s->closing = 1;
    store_unwait(&s->app->store, &s->store_wait);
    /* A commit being written finishes first (its dials are not sent); its end applies what is
     * queued and lets the scheduler go. */
    if (s->committing)
        s->handles++;
    else
        flush_at_stop(s);
    uv_close((uv_handle_t *)&s->tick, on_closed);
    uv_close((uv_handle_t *)&s->watch_timer, on_closed);
}

void scheduler_stats(const struct scheduler *s, struct sched_stats *out)
{
    *out = s->stats;
    out->in_progress = 0;
    out->waiting = 0;
    struct store_txn t;
    int open = store_read_begin(&s->app->store, &t) == 0;
    for (size_t i = 0; i < s->batches.cap; i++) {
        const struct sbatch *b = s->batches.slots[i].value;
        struct batch_rec rec;
        if (!b)
            continue;
        out->in_progress += b->active;
        if (open && batch_get(&t, b->id, strlen(b->id), &rec) == 0)
            out->waiting += rec.waiting;
    }
    store_read_end(&t);
}
