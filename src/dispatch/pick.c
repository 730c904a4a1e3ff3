#include "dispatch/pick.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch/jobs.h"
#include "model/agent.h"
#include "policy/decide.h"
#include "store/jobindex.h"
#include "store/records.h"

/* Waiting rows skipped per pick because a retry is already scheduled for them. */
#define SCAN_LIMIT 1024
/* Calls a round may hold back (outside their window) besides its dials: bounds the round's work
 * when a whole campaign waits for its zones to open. */
#define HOLDS_PER_ROUND 512

static const char *row_value(void *ctx, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ctx, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The row's values by column (for the provider and for {variables}), and the prompt rendered
 * with them. */
static void render_prompt(const struct roster_batch *b, const struct job_view *jv, struct pick *p)
{
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
    const char *prompt = b->prompt ? b->prompt : "";
    if (agent_render(prompt, strlen(prompt), row_value, p->vars, &out, &p->empty_vars) != 0)
        buf_reset(&out);
    p->prompt = out.data ? out.data : strdup("");
}

void pick_free(struct pick *p)
{
    free(p->prompt);
    cJSON_Delete(p->vars);
    free(p);
}

/* Takes the next scheduled retry that is due, if any. */
static int take_due(struct store_txn *t, struct roster_batch *b, uint64_t now, struct pick *p)
{
    uint8_t start[JOB_KEY_MAX];
    size_t blen = strlen(b->id), slen = 0;
    if (b->due_cursor)
        slen = due_key(start, b->id, b->due_at, b->due_row + 1);
    struct store_iter it;
    store_iter_open(&it, t, DB_DUE, b->id, blen, slen ? start : NULL, slen);
    uint64_t due = ROSTER_NO_TIME;
    uint32_t row = 0;
    if (store_iter_next(&it) != 1 || due_key_decode(&it.key, blen, &due, &row) != 0)
        due = ROSTER_NO_TIME;
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
static int take_first(struct store_txn *t, struct roster_batch *b, struct pick *p,
                      struct job_view *jv)
{
    /* Where the index stops holding waiting rows moves with every commit: read it now. */
    struct batch_rec rec;
    if (batch_get(t, b->id, strlen(b->id), &rec) != 0) {
        b->exhausted = 1;
        return 0;
    }
    struct jobindex_iter it;
    jobindex_open(&it, t, &b->key, JOB_WAITING, jobindex_unindexed_from(&rec), b->next_row);
    int found = 0, scanned = 0, rc;
    while ((rc = jobindex_next(&it)) == 1 && scanned++ < SCAN_LIMIT) {
        uint32_t row = it.row;
        b->next_row = row + 1;
        if (it.has_job)
            *jv = it.jv;
        else if (jobs_read(t, &b->key, row, jv) != 0)
            continue;
        if (jv->head.next_attempt_ms != 0)
            continue; /* its retry is in the due index */
        p->row = row;
        found = 1;
        break;
    }
    jobindex_close(&it);
    if (!found && rc != 1)
        b->exhausted = 1;
    return found;
}

static void wake_within(struct pick_round *round, uint64_t ms)
{
    if (ms < round->wake)
        round->wake = ms;
}

/* The batch of the workspace whose next call is due first and whose limits allow a call now. */
static struct roster_batch *best_batch(struct roster_ws *w, struct pick_round *round)
{
    struct roster_batch *best = NULL;
    uint64_t best_due = ROSTER_NO_TIME, wait;
    for (struct roster_batch *b = w->batches; b; b = b->next) {
        if (!b->dialable || b->active >= roster_cap(b))
            continue;
        uint64_t due = roster_due(b);
        if (due == ROSTER_NO_TIME)
            continue;
        if (due > round->wall) {
            wake_within(round, due - round->wall);
            continue;
        }
        if (b->has_cps && (wait = bucket_wait_ms(&b->cps, round->mono)) != 0) {
            wake_within(round, wait);
            round->token_waits++;
            continue;
        }
        if (due < best_due) {
            best = b;
            best_due = due;
        }
    }
    return best;
}

static void copy_rules(struct pick *p, const struct roster_ws *w)
{
    snprintf(p->ws, sizeof p->ws, "%s", w->id);
    p->use_registry = w->use_registry;
    p->cap_max = w->cap_max;
    p->cap_window_ms = w->cap_window_ms;
}

/* The callee's calling window: 1 when the call may not be dialled now (the pick then holds it
 * to the window's next opening, or ends it if the window never opens), 0 to dial. */
static int window_check(struct pick *p, struct roster_batch *b, struct pick_round *round)
{
    struct decide d = {roster_window(b), b->ws->state_rules, &b->decide};
    int64_t open;
    int rc = decide_open_at(&d, p->e164, strlen(p->e164), (int64_t)round->wall, &open);
    if (rc == 0 && open <= (int64_t)round->wall)
        return 0;
    round->holds++;
    if (rc == 0) {
        p->action = PICK_HOLD;
        p->held = HELD_WINDOW;
        p->until_ms = (uint64_t)open;
    } else {
        p->action = PICK_NO_WINDOW;
    }
    return 1;
}

/* Chooses one call of the workspace, taking its tokens and slot. */
static struct pick *pick_in_ws(struct store_txn *t, struct roster_ws *w, struct pick_round *round)
{
    roster_ws_refresh(t, w, round->wall, round->mono);
    if (w->active >= w->max_concurrency)
        return NULL; /* a finishing call frees a slot and re-arms the tick */
    uint64_t wait = bucket_wait_ms(&w->cps, round->mono);
    if (wait) {
        wake_within(round, wait);
        round->token_waits++;
        return NULL;
    }
    for (int attempt = 0; attempt < 4; attempt++) {
        struct roster_batch *best = best_batch(w, round);
        if (!best)
            return NULL;
        struct pick *p = calloc(1, sizeof *p);
        if (!p)
            return NULL;
        p->b = best;
        struct job_view jv;
        int got = 0;
        if (best->retry_due <= round->wall && take_due(t, best, round->wall, p)) {
            got = jobs_read(t, &best->key, p->row, &jv) == 0 && jv.head.state == JOB_WAITING;
            /* A stale entry (its job moved on): what is picked instead is no retry. */
            if (!got) {
                p->from_due = 0;
                p->due_ms = 0;
            }
        }
        /* First attempts only once the batch's start time (scheduledAt) has come. */
        if (!got && !best->exhausted && best->start_ms <= round->wall)
            got = take_first(t, best, p, &jv);
        if (!got) {
            free(p);
            continue; /* this batch had nothing after all; look again */
        }
        memcpy(p->e164, jv.head.e164, sizeof p->e164 - 1);
        copy_rules(p, w);
        if (window_check(p, best, round))
            return p; /* held or ended: no token, no slot */
        render_prompt(best, &jv, p);
        bucket_take(round->provider, round->mono);
        bucket_take(&w->cps, round->mono);
        if (best->has_cps)
            bucket_take(&best->cps, round->mono);
        p->slot = 1;
        w->active++;
        best->active++;
        return p;
    }
    return NULL;
}

struct pick *pick_round(struct roster *r, struct store_txn *t, struct pick_round *round)
{
    struct pick *head = NULL, **tail = &head;
    /* A new round may take retries from the start of each batch's due index again. */
    size_t pos = 0;
    for (struct roster_batch *b; (b = roster_next(r, &pos)) != NULL;)
        b->due_cursor = 0;
    while (round->budget > 0 && r->rr) {
        int progressed = 0;
        struct roster_ws *first = r->rr, *w = first;
        do {
            uint64_t pw =
                round->provider_limited ? bucket_wait_ms(round->provider, round->mono) : 0;
            if (pw) {
                wake_within(round, pw);
                round->token_waits++;
                round->budget = 0;
                break;
            }
            struct pick *p = pick_in_ws(t, w, round);
            w = w->next;
            if (p) {
                *tail = p;
                tail = &p->next;
                progressed = 1;
                /* The next turn is the next workspace's. Turns are counted in calls, not in
                 * rounds: a round that finds the provider's bucket empty serves nobody, and
                 * moving on anyway would hand every token to whichever workspace's turn
                 * happened to fall on the rounds that had one. */
                r->rr = w;
                if (p->action == PICK_DIAL && --round->budget == 0)
                    break;
                if (round->holds >= HOLDS_PER_ROUND) {
                    round->budget = 0; /* the commit's end starts the next round at once */
                    break;
                }
            }
        } while (w != first);
        if (!progressed)
            break;
    }
    return head;
}

void pick_undo(struct pick *p)
{
    struct roster_batch *b = p->b;
    if (p->slot)
        roster_release(b);
    if (!p->from_due && p->row < b->next_row) {
        b->next_row = p->row;
        b->exhausted = 0;
    }
    if (p->from_due && p->due_ms < b->retry_due)
        b->retry_due = p->due_ms;
}
