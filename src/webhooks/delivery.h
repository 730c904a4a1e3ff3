/* The webhook delivery worker: sends the outbox's events at least once, in order per target URL,
 * signed (webhooks/signing.h), retried with exponential backoff until max_age_ms after the event,
 * and logs every attempt (webhooks/deliveries.h). */
#ifndef BC_WEBHOOKS_DELIVERY_H
#define BC_WEBHOOKS_DELIVERY_H

#include <stdint.h>

#include <uv.h>

#include "store/store.h"

/* Defaults of the serve flags --webhook-* (config.c). */
#define DELIVERY_BACKOFF_MS     1000
#define DELIVERY_BACKOFF_MAX_MS 3600000
#define DELIVERY_MAX_AGE_MS     86400000
#define DELIVERY_TIMEOUT_MS     10000

struct delivery_config {
    uint64_t backoff_ms;     /* wait after the first failed attempt; doubles per attempt */
    uint64_t backoff_max_ms; /* the wait never grows past this */
    uint64_t max_age_ms;     /* no retry is scheduled later than this after the event */
    uint64_t timeout_ms;     /* one request, connection included */
    /* Connect to loopback, private, link-local and other non-public addresses too (model/url.h:
     * url_addr_refusal); off by default, so that a target whose name resolves to one of them
     * (DNS rebinding) fails to connect instead of reaching inside the network. */
    int allow_private;
};

struct delivery;

/* The DELIVERY_* defaults. */
void delivery_config_defaults(struct delivery_config *c);

/* Starts the worker on loop, with the default settings; it sends what an earlier run left in the
 * outbox. Needs the HTTP client's process-wide init (dialer_global_init) done. Returns 0, BC_ENOMEM
 * or the client's error. */
int delivery_start(struct delivery **out, struct store *s, uv_loop_t *loop);
/* Records the answers already received, cancels requests in flight (sent again after a restart)
 * and closes the handles; d is freed once they are closed. */
void delivery_stop(struct delivery *d);
/* Returns 0, or BC_EINVAL (nothing changed) when a value is 0 or backoff_max_ms < backoff_ms. */
int delivery_configure(struct delivery *d, const struct delivery_config *c);
/* After a commit that may have recorded events: start delivering them. */
void delivery_kick(struct delivery *d);
/* Counters for /metrics: events delivered, failed attempts (every non-2xx answer, network error
 * or timeout), events given up after max_age_ms. All 0 when d is NULL. */
void delivery_stats(const struct delivery *d, uint64_t *delivered, uint64_t *failed,
                    uint64_t *gave_up);

#endif
