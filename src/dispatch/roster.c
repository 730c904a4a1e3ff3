#include "dispatch/roster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/batch.h"
#include "model/workspace.h"
#include "policy/rules.h"
#include "util/clock.h"
#include "store/records.h"
#include "util/err.h"

static void batch_free(struct roster_batch *b)
{
    free(b->voice_url);
    free(b->prompt);
    cJSON_Delete(b->columns);
    free(b);
}

static struct roster_ws *ws_get_or_add(struct roster *r, const char *id)
{
    struct roster_ws *w = map_get(&r->wss, id, strlen(id));
    if (w)
        return w;
    w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    snprintf(w->id, sizeof w->id, "%s", id);
    if (map_put(&r->wss, id, strlen(id), w) != 0) {
        free(w);
        return NULL;
    }
    if (r->rr) {
        w->next = r->rr->next;
        r->rr->next = w;
    } else {
        w->next = w;
        r->rr = w;
    }
    return w;
}

/* A bucket holds max(2, rate/20) tokens: enough to absorb 50 ms of loop lateness (a commit, a
 * busy tick) without losing rate, small enough that any one-second window stays within
 * rate + burst. */
double roster_burst(double rate)
{
    return rate / 20 > 2 ? rate / 20 : 2;
}

static void bucket_set(struct bucket *b, double rate, uint64_t mono)
{
    if (b->burst == 0)
        bucket_init(b, rate, roster_burst(rate), mono);
    else
        bucket_configure(b, rate, roster_burst(rate), mono);
}

/* The workspace's compliance rules; an unreadable record means the defaults, which protect. */
static void rules_refresh(struct store_txn *t, struct roster_ws *w)
{
    struct rules rules;
    if (rules_get(t, w->id, strlen(w->id), &rules) != 0) {
        rules_free(&rules);
        rules_defaults(&rules);
    }
    struct window base;
    rules_base_window(&rules, &base);
    if (w->rules_gen == 0 || memcmp(&base, &w->base, sizeof base) != 0) {
        w->base = base;
        w->rules_gen++;
    }
    w->state_rules = rules.state_rules;
    w->use_registry = rules.use_national_registry;
    w->cap_max = rules.max_attempts_per_number;
    w->cap_window_ms = (uint64_t)rules.cap_window_hours * 3600000u;
    rules_free(&rules);
}

/* Reads the workspace's limits; they may have changed since the last batch was loaded. */
static void ws_refresh(struct store_txn *t, struct roster_ws *w, uint64_t wall, uint64_t mono)
{
    w->rules_at = wall;
    rules_refresh(t, w);
    struct ws_settings ws;
    int rc = workspace_get(t, w->id, strlen(w->id), &ws);
    if (rc == BC_ENOTFOUND)
        return;
    if (rc)
        workspace_defaults(&ws); /* an unreadable record: dial within the defaults */
    w->max_concurrency = (uint32_t)ws.max_concurrent_calls;
    bucket_set(&w->cps, ws.calls_per_second, mono);
}

void roster_ws_refresh(struct store_txn *t, struct roster_ws *w, uint64_t wall, uint64_t mono)
{
    if (wall >= w->rules_at && wall - w->rules_at < ROSTER_RULES_MS)
        return;
    ws_refresh(t, w, wall, mono);
}

const struct window *roster_window(struct roster_batch *b)
{
    if (b->base_gen != b->ws->rules_gen) {
        b->base = b->ws->base;
        if (b->has_window)
            window_intersect(&b->base, &b->own);
        b->base_gen = b->ws->rules_gen;
        decide_cache_clear(&b->decide);
    }
    return &b->base;
}

static void unlink_batch(struct roster *r, struct roster_batch *b)
{
    struct roster_batch **pp = &b->ws->batches;
    while (*pp && *pp != b)
        pp = &(*pp)->next;
    if (*pp)
        *pp = b->next;
    map_del(&r->batches, b->id, strlen(b->id));
}

void roster_drop(struct roster *r, struct roster_batch *b)
{
    unlink_batch(r, b);
    batch_free(b);
}

static char *dup_string(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

/* The earliest scheduled retry of a batch, or ROSTER_NO_TIME. */
static uint64_t first_due(struct store_txn *t, const char *batch)
{
    size_t blen = strlen(batch);
    struct store_iter it;
    uint64_t due = ROSTER_NO_TIME;
    uint32_t row;
    store_iter_open(&it, t, DB_DUE, batch, blen, NULL, 0);
    if (store_iter_next(&it) != 1 || due_key_decode(&it.key, blen, &due, &row) != 0)
        due = ROSTER_NO_TIME;
    store_iter_close(&it);
    return due;
}

/* A new batch in memory, with the settings its calls are placed with (from its stored meta). */
static int add_batch(struct roster *r, struct store_txn *t, const struct batch_rec *rec,
                     uint64_t mono, struct roster_batch **out)
{
    struct store_val mv;
    int rc = store_get(t, DB_BATCHMETA, rec->id, strlen(rec->id), &mv);
    if (rc)
        return rc;
    cJSON *meta = cJSON_ParseWithLength(mv.ptr, mv.len);
    if (!meta)
        return BC_ECORRUPT;
    struct roster_batch *b = calloc(1, sizeof *b);
    struct roster_ws *w = b ? ws_get_or_add(r, rec->ws) : NULL;
    if (!w || map_put(&r->batches, rec->id, strlen(rec->id), b) != 0) {
        free(b);
        cJSON_Delete(meta);
        return BC_ENOMEM;
    }
    snprintf(b->id, sizeof b->id, "%s", rec->id);
    batch_key_init(&b->key, b->id);
    snprintf(b->ws_id, sizeof b->ws_id, "%s", rec->ws);
    b->ws = w;
    const cJSON *agent = cJSON_GetObjectItemCaseSensitive(meta, "agent");
    snprintf(b->agent_id, sizeof b->agent_id, "%s", rec->agent);
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(agent, "fromNumber");
    snprintf(b->from, sizeof b->from, "%s", cJSON_IsString(from) ? from->valuestring : "");
    b->voice_url = dup_string(agent, "voiceUrl");
    b->prompt = dup_string(agent, "prompt");
    b->columns = cJSON_DetachItemFromObjectCaseSensitive(meta, "columns");
    retry_smart_from_json(cJSON_GetObjectItemCaseSensitive(meta, "smartCallbackConfig"), &b->smart);
    /* Validated at upload; a stored one that no longer parses narrows nothing rather than
     * stopping the batch (the federal and workspace windows still apply). */
    char msg[160];
    const cJSON *cw = cJSON_GetObjectItemCaseSensitive(meta, "callingWindow");
    b->has_window = cw && window_parse_object(cw, "callingWindow", &b->own, msg, sizeof msg) == 0;
    cJSON_Delete(meta);
    b->created_ms = rec->created_ms;
    b->retry_due = ROSTER_NO_TIME;
    /* Keep the workspace's batches in creation order: ties in due time go to the older. */
    struct roster_batch **pp = &w->batches;
    while (*pp && (*pp)->created_ms <= b->created_ms)
        pp = &(*pp)->next;
    b->next = *pp;
    *pp = b;
    ws_refresh(t, w, clock_now_ms(), mono);
    *out = b;
    return 0;
}

int roster_load(struct roster *r, struct store_txn *t, const char *id, uint64_t mono)
{
    struct batch_rec rec;
    int rc = batch_get(t, id, strlen(id), &rec);
    if (rc)
        return rc;
    struct roster_batch *b = roster_batch(r, id);
    int live = batch_is_live(rec.status);
    /* A final batch stays for its calls in progress: those counted in memory, or, when it is
     * not loaded yet (at start-up, a cancelled batch), those the store has. */
    if (!live && !(b ? b->active : rec.active)) {
        if (b)
            roster_drop(r, b);
        return 0;
    }
    if (!b && (rc = add_batch(r, t, &rec, mono, &b)) != 0)
        return rc;
    b->start_ms = rec.scheduled_ms > rec.created_ms ? rec.scheduled_ms : rec.created_ms;
    b->dialable = live && !rec.paused;
    b->max_concurrency = rec.max_concurrency;
    b->has_cps = rec.calls_per_second > 0;
    if (b->has_cps)
        bucket_set(&b->cps, rec.calls_per_second, mono);
    /* Rows may have gone back to waiting (resume, retry): scan from the start again. */
    b->next_row = 0;
    b->exhausted = 0;
    b->retry_due = first_due(t, id);
    return 0;
}

struct roster_batch *roster_batch(const struct roster *r, const char *id)
{
    return map_get(&r->batches, id, strlen(id));
}

struct roster_batch *roster_next(const struct roster *r, size_t *pos)
{
    return map_next(&r->batches, pos);
}

void roster_stop(struct roster *r, const char *id)
{
    struct roster_batch *b = roster_batch(r, id);
    if (!b)
        return;
    b->dialable = 0;
    if (b->active == 0)
        roster_drop(r, b);
}

void roster_hold(struct roster_batch *b)
{
    b->active++;
    b->ws->active++;
}

void roster_release(struct roster_batch *b)
{
    if (b->active)
        b->active--;
    if (b->ws->active)
        b->ws->active--;
}

uint32_t roster_cap(const struct roster_batch *b)
{
    uint32_t ws = b->ws->max_concurrency;
    return b->max_concurrency && b->max_concurrency < ws ? b->max_concurrency : ws;
}

uint64_t roster_due(const struct roster_batch *b)
{
    uint64_t first = b->exhausted ? ROSTER_NO_TIME : b->start_ms;
    return b->retry_due < first ? b->retry_due : first;
}

static void free_batch_value(void *v)
{
    batch_free(v);
}

void roster_free(struct roster *r)
{
    map_free(&r->batches, free_batch_value);
    map_free(&r->wss, free);
    r->rr = NULL;
}
