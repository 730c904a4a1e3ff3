#include "dispatch/watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch/jobs.h"
#include "store/records.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/id.h"
#include "util/num.h"

/* A look up again this long after the provider could not answer. */
#define FETCH_RETRY_MS 5000

struct watch {
    int orphan; /* cleared while its lookup was in flight: the lookup frees it */
    char batch[ID_MAX];
    uint32_t row, seq;
    int state; /* JOB_DIALING (after a restart) or JOB_ACTIVE */
    /* Counted in its batch's and workspace's calls in progress. A call adopted while still
     * being placed is not: nothing says it reached the provider (see watch.h). */
    int slot;
    uint64_t deadline;
    int fetching;
    char call_id[64];
};

struct fetch {
    struct client_request r;
    struct watchlist *wl;
    struct watch *watch;
    char batch[ID_MAX];
    uint32_t row, seq;
};

/* The map's key, "batch/row": built without snprintf, as it is twice for every call placed. */
#define WATCH_KEY_MAX (ID_MAX + 1 + NUM_U64_DIGITS)
static size_t watch_key(char out[WATCH_KEY_MAX], const char *batch, uint32_t row)
{
    size_t n = strnlen(batch, ID_MAX - 1);
    memcpy(out, batch, n);
    out[n++] = '/';
    return (size_t)(num_put_u64(out + n, row) - out);
}

/* The watch under key (watch_key of batch and row), added without a slot when new; NULL when
 * out of memory. */
static struct watch *put_watch(struct watchlist *wl, const char *key, size_t klen,
                               const char *batch, uint32_t row, uint32_t seq, int state,
                               const char *call_id, uint64_t deadline)
{
    struct watch *w = map_get(&wl->map, key, klen);
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w || map_put(&wl->map, key, klen, w) != 0) {
            free(w);
            return NULL;
        }
    }
    id_copy(w->batch, sizeof w->batch, batch);
    w->row = row;
    w->seq = seq;
    w->state = state;
    w->deadline = deadline;
    id_copy(w->call_id, sizeof w->call_id, call_id ? call_id : "");
    return w;
}

int watch_set(struct watchlist *wl, const char *batch, uint32_t row, uint32_t seq, int state,
              const char *call_id, uint64_t deadline)
{
    char key[WATCH_KEY_MAX];
    size_t klen = watch_key(key, batch, row);
    struct watch *old = map_get(&wl->map, key, klen);
    /* A call not watched yet holds the slot its pick took; one watched without a slot was
     * adopted in doubt and has just shown it is in progress. */
    int claim = old && !old->slot;
    struct watch *w = put_watch(wl, key, klen, batch, row, seq, state, call_id, deadline);
    if (!w)
        return 0;
    w->slot = 1;
    if (claim)
        wl->in_doubt--;
    return claim;
}

int watch_clear(struct watchlist *wl, const char *batch, uint32_t row)
{
    char key[WATCH_KEY_MAX];
    struct watch *w = map_del(&wl->map, key, watch_key(key, batch, row));
    int slot = !w || w->slot;
    if (!slot)
        wl->in_doubt--;
    if (w && !w->fetching)
        free(w);
    else if (w)
        w->orphan = 1; /* the lookup in flight frees it */
    return slot;
}

static void queue_report(struct watchlist *wl, enum report_kind kind, const char *batch,
                         uint32_t row, uint32_t seq, const struct call_event *ce)
{
    struct report *r = report_new(kind, batch, row, seq);
    if (r && ce)
        r->ce = *ce;
    if (r)
        wl->queue(wl->ctx, r);
    else if (ce)
        free(ce->transcript);
}

static void on_fetch_done(struct client_request *req)
{
    struct fetch *f = req->user;
    struct watchlist *wl = f->wl;
    struct watch *w = f->watch;
    if (w->orphan) {
        free(w);
        w = NULL;
    }
    if (!wl->closing) {
        struct call_event ce;
        memset(&ce, 0, sizeof ce);
        int rc = provider_parse_fetch(wl->pcfg, req, &ce);
        if (rc == 0 && ce.final) {
            snprintf(ce.batch, sizeof ce.batch, "%s", f->batch);
            ce.row = f->row;
            ce.seq = f->seq;
            ce.sequence = -1;
            queue_report(wl, REPORT_CALL, f->batch, f->row, f->seq, &ce);
        } else {
            if (rc == BC_ENOTFOUND)
                queue_report(wl, REPORT_UNKNOWN, f->batch, f->row, f->seq, NULL);
            provider_event_free(&ce);
        }
        /* Still in progress, or the provider is in trouble: look again later. */
        if (w)
            w->deadline = clock_now_ms() + (rc == 0 ? wl->overdue_ms : FETCH_RETRY_MS);
    }
    if (w)
        w->fetching = 0;
    client_request_free(req);
    free(f);
}

static void send_fetch(struct watchlist *wl, struct watch *w)
{
    struct fetch *f = calloc(1, sizeof *f);
    if (!f)
        return;
    f->wl = wl;
    f->watch = w;
    snprintf(f->batch, sizeof f->batch, "%s", w->batch);
    f->row = w->row;
    f->seq = w->seq;
    if (provider_build_fetch(wl->pcfg, w->call_id, &f->r) != 0) {
        free(f);
        return;
    }
    f->r.done = on_fetch_done;
    f->r.user = f;
    if (client_start(wl->client, &f->r) != 0) {
        client_request_free(&f->r);
        free(f);
        return;
    }
    w->fetching = 1;
}

void watch_scan(struct watchlist *wl, uint64_t now)
{
    size_t pos = 0;
    for (struct watch *w; (w = map_next(&wl->map, &pos)) != NULL;) {
        if (w->fetching || w->deadline > now)
            continue;
        if (w->state == JOB_DIALING || !w->call_id[0]) {
            w->deadline = now + wl->overdue_ms;
            queue_report(wl, REPORT_UNKNOWN, w->batch, w->row, w->seq, NULL);
        } else if (wl->client->in_flight < wl->client->max_in_flight) {
            send_fetch(wl, w);
        }
    }
}

int watch_adopt(struct watchlist *wl, struct store_txn *t, struct roster_batch *b, uint64_t now,
                uint64_t deadline)
{
    static const int states[] = {JOB_DIALING, JOB_ACTIVE};
    for (size_t k = 0; k < 2; k++) {
        uint8_t prefix[JOB_KEY_MAX];
        size_t plen = batch_key_jobstate_head(prefix, &b->key, (uint8_t)states[k]);
        struct store_iter it;
        int rc;
        store_iter_open(&it, t, DB_JOBSTATE, prefix, plen, NULL, 0);
        while ((rc = store_iter_next(&it)) == 1) {
            uint32_t row = jobstate_key_row(&it.key);
            struct job_view jv;
            if (jobs_read(t, &b->key, row, &jv) != 0)
                continue;
            /* A call the provider accepted is looked up at once and holds its slots while it
             * is in progress; one still being placed cannot be looked up (we have no call id to
             * ask about), holds no slot, and waits for a late report until deadline. */
            int placed = states[k] == JOB_ACTIVE;
            uint64_t at = placed && jv.head.call_id[0] ? now : deadline;
            char key[WATCH_KEY_MAX];
            size_t klen = watch_key(key, b->id, row);
            struct watch *w =
                put_watch(wl, key, klen, b->id, row, jv.head.seq, states[k], jv.head.call_id, at);
            if (!w) {
                rc = BC_ENOMEM;
                break;
            }
            if (placed) {
                w->slot = 1;
                roster_hold(b);
            } else {
                wl->in_doubt++;
            }
        }
        store_iter_close(&it);
        if (rc < 0)
            return rc;
    }
    return 0;
}

size_t watch_count(const struct watchlist *wl)
{
    return wl->map.live;
}

void watch_free(struct watchlist *wl)
{
    map_free(&wl->map, free);
}
