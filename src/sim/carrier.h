/* The simulator's calls and the status callbacks they send, on the caller's loop, driven by one
 * timer over the schedule (schedule.h). Calls go through initiated, ringing, answered and their
 * final status (the outcome table in sim.h), and are remembered for a while after they end.
 * Callbacks are queued per call (sent strictly in order), delivered with their own HTTP
 * client under a cap on requests in flight, and retried with backoff. */
#ifndef BC_SIM_CARRIER_H
#define BC_SIM_CARRIER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "http/client.h"
#include "sim/ledger.h"
#include "sim/schedule.h"
#include "util/map.h"

#define CALLS_MAX_CALLBACK_URL 2048

/* StatusCallbackEvent values as bits, in this order. The final callback is sent whatever was
 * asked. */
enum {
    CALLS_EVENT_INITIATED = 1,
    CALLS_EVENT_RINGING = 2,
    CALLS_EVENT_ANSWERED = 4,
    CALLS_EVENT_COMPLETED = 8,
};

/* What a create request asked for, once validated. */
struct carrier_dial {
    char to[20];
    char from[64];
    char callback[CALLS_MAX_CALLBACK_URL];
    int has_callback;
    unsigned events; /* CALLS_EVENT_ bits */
    uint32_t timeout_s;
    int amd;
    uint64_t number; /* To's digits as an integer */
};

struct call;     /* one call (carrier.c) */
struct callback; /* one status callback (carrier.c) */

struct carrier {
    uv_loop_t *loop;
    struct ledger *ledger;    /* counts callbacks and the most calls in progress */
    const char *account_sid;  /* in callbacks and the Call resource; must outlive the calls */
    const char *auth_token;   /* callback signing key; must outlive the calls */
    double speed;             /* 1 = real time; 1000 = a 30 s ring takes 30 ms */
    double callback_delay_ms; /* real time, not scaled */
    struct client client;
    uv_timer_t timer;

    char sid_prefix[17]; /* random per simulator; a counter follows it in every call sid */
    uint64_t sid_counter;
    struct map calls; /* sid -> call, live and remembered ones */
    struct call *all;
    size_t ncalls; /* structs in the all list */
    struct call *ended_head, *ended_tail;
    size_t nended;
    uint64_t in_progress;

    struct schedule due; /* call steps and delayed callbacks */

    struct callback *ready_head, *ready_tail;

    int stopping;
    int open_handles;
    void (*closed)(struct carrier *s);
};

/* Opens the timer and the HTTP client. Returns 0, BC_ENOMEM or BC_EIO; after a failure nothing
 * is left open. */
int carrier_init(struct carrier *s, uv_loop_t *loop, struct ledger *ledger, const char *account_sid,
                 const char *auth_token, double speed);
/* Cancels the callbacks in flight and closes the handles; closed runs once they are closed. */
void carrier_close(struct carrier *s, void (*closed)(struct carrier *s));
/* Frees every call and callback, once closed. */
void carrier_free(struct carrier *s);

/* 1 when the number's outcome is that the create request itself answers 503 (suffix 05). */
int carrier_refuses(uint64_t number);
/* Starts a call: "initiated" goes out on the next loop pass. Returns NULL when out of memory. */
struct call *carrier_new(struct carrier *s, const struct carrier_dial *d, uint64_t now_ms);
/* The call with this sid, live or remembered, or NULL. */
struct call *carrier_find(struct carrier *s, const char *sid, size_t len);
/* The Call resource, as Twilio renders it (NULL when out of memory). */
cJSON *carrier_json(const struct carrier *s, const struct call *c);

#endif
