/* The dispatcher's picture of what may be dialled: the batches being dialled, grouped by
 * workspace, with each one's limits (token buckets, concurrency) and where its next call is. It
 * is loaded from the store and kept in memory on the loop thread; the store stays the truth
 * (a restart rebuilds it). */
#ifndef BC_DISPATCH_ROSTER_H
#define BC_DISPATCH_ROSTER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "dispatch/retry.h"
#include "policy/decide.h"
#include "policy/window.h"
#include "store/records.h"
#include "store/store.h"
#include "util/bucket.h"
#include "util/id.h"
#include "util/map.h"

#define ROSTER_NO_TIME UINT64_MAX

struct roster_ws;

struct roster_batch {
    char id[ID_MAX];
    struct batch_key key; /* id's key prefix, for the picks' keys */
    char ws_id[ID_MAX];
    struct roster_ws *ws;
    struct roster_batch *next; /* the workspace's batches, oldest first */
    uint64_t created_ms, start_ms;
    uint32_t next_row;  /* first attempts: rows before this were considered */
    int exhausted;      /* no waiting row at or after next_row */
    uint64_t retry_due; /* earliest scheduled retry (wall ms), ROSTER_NO_TIME when none */
    int due_cursor;     /* this tick already took retries up to (due_at, due_row) */
    uint64_t due_at;
    uint32_t due_row;
    uint32_t active; /* calls being placed or in progress */
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
    /* Calling windows: the batch's own callingWindow, and the window its calls obey before
     * state rules (the workspace's base narrowed by it), rebuilt when the workspace's changes. */
    int has_window;
    struct window own;
    struct window base;
    uint32_t base_gen;
    struct decide_cache decide;
};

struct roster_ws {
    char id[ID_MAX];
    struct roster_batch *batches;
    struct roster_ws *next; /* round-robin ring */
    uint32_t active;
    uint32_t max_concurrency;
    struct bucket cps;
    /* The workspace's compliance rules (policy/rules.h), read again at most every
     * ROSTER_RULES_MS so that a change applies to batches already dialling. */
    uint64_t rules_at;  /* wall ms */
    uint32_t rules_gen; /* changes whenever base does */
    struct window base; /* rules_base_window */
    int state_rules, use_registry;
    uint32_t cap_max; /* attempts per number per cap window; 0: no cap */
    uint64_t cap_window_ms;
};

struct roster {
    struct map batches;   /* id -> struct roster_batch */
    struct map wss;       /* id -> struct roster_ws */
    struct roster_ws *rr; /* the workspace whose turn is next */
};

/* Loads or refreshes a batch from the store (mono: the loop's clock, for its buckets). Batches
 * that are final and have nothing in progress are dropped; a final one with calls in progress
 * (cancelled) is loaded, not dialable, so they can be adopted and reconciled. */
int roster_load(struct roster *r, struct store_txn *t, const char *id, uint64_t mono);
struct roster_batch *roster_batch(const struct roster *r, const char *id);
/* Walks the batches: start with *pos = 0; NULL at the end. */
struct roster_batch *roster_next(const struct roster *r, size_t *pos);
/* Removes the batch and frees it. */
void roster_drop(struct roster *r, struct roster_batch *b);
/* The batch stops dialling at once; it leaves memory now, or with its last call in progress. */
void roster_stop(struct roster *r, const char *id);
/* A call of the batch is in progress: it takes a slot of the batch and of its workspace. */
void roster_hold(struct roster_batch *b);
/* A call of the batch ended, or a pick was given back: its slots are free again. */
void roster_release(struct roster_batch *b);
/* The concurrency cap of a batch: its own maxConcurrency within its workspace's. */
uint32_t roster_cap(const struct roster_batch *b);
#define ROSTER_RULES_MS 1000
/* Reads the workspace's limits and compliance rules again if they are older than
 * ROSTER_RULES_MS (wall: wall-clock ms, mono: the loop's clock). */
void roster_ws_refresh(struct store_txn *t, struct roster_ws *w, uint64_t wall, uint64_t mono);
/* The window the batch's calls obey before state rules (up to date with its workspace's). */
const struct window *roster_window(struct roster_batch *b);
/* When the batch's next call is due (wall ms), or ROSTER_NO_TIME. */
uint64_t roster_due(const struct roster_batch *b);
/* A bucket holds max(2, rate/20) tokens (see roster.c). */
double roster_burst(double rate);
void roster_free(struct roster *r);

#endif
