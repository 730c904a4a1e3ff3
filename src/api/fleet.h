/* Fleet behaviour of one instance (docs/fleet.md): which workspaces it holds (those with a
 * record in its store), 421 for the others, 503 for a frozen (moving) one, and the watcher that
 * notices what the admin commands changed in the store (import, drop, freeze, thaw) and tells the
 * dispatcher and the webhook worker. */
#ifndef BC_API_FLEET_H
#define BC_API_FLEET_H

#include <stdint.h>

#include <uv.h>

#include "http/http.h"
#include "util/buf.h"
#include "util/map.h"

struct app;

struct fleet {
    struct app *app;
    uv_timer_t timer;
    int timer_started;
    uint64_t gen;         /* the store's fleet generation when the workspaces were last read */
    int read;             /* they were read once (at start) */
    struct map known;     /* workspace id -> struct fleet_ws: what the last reading found */
    uint64_t misdirected; /* requests answered 421 */
    char header[96];      /* "X-Instance: NAME\r\n", "" without --instance-name */
};

/* Reads the workspaces, stops dialling frozen ones (the dispatcher loads every batch at start)
 * and polls the store's fleet generation every FLEET_POLL_MS. After dispatch and webhooks
 * started. Returns 0 or a store error. */
#define FLEET_POLL_MS 500
int fleet_start(struct app *app);
/* Frees the in-memory picture (the timer is closed with the loop's other handles). */
void fleet_free(struct app *app);

/* The head hook: 421 for a workspace not held here (with --instance-name), 503 for a frozen
 * one; then authentication (auth_on_head). */
void fleet_on_head(struct http_request *req);
/* Appends batchcalld_misdirected_requests_total. */
void fleet_render_metrics(const struct app *app, struct buf *out);

#endif
