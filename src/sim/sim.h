/* The telephony provider simulator. It speaks the Twilio dialect over real HTTP (its own
 * http_server on a loopback port, on the caller's loop), so the default `--provider sim` runs
 * exactly the production code path. Outcomes are decided by the dialled number's last two digits:
 *
 *   00 busy (SIP 486)            03 failed, carrier blocked (SIP 608)
 *   01 no answer (ring timeout)  04 voicemail: completed with AnsweredBy=machine_start
 *   02 failed, unreachable (480) 05 the create request itself answers 503
 *   06 answered by a human who asks not to be called again: the final callback adds OptOut=true
 *      (not a Twilio field: the simulator's way to report an opt-out)
 *   anything else: answered by a human, talk time 5 + (number mod 55) seconds
 *
 * Ringing lasts 3 s (no answer: the request's Timeout) and all times are divided by speed.
 * Status callbacks (initiated, ringing, answered, completed, as StatusCallbackEvent asks; the
 * final one always) are POSTed to StatusCallback, signed with X-Twilio-Signature, and retried
 * when the server cannot be reached. A ledger counts what the simulator received, so tests judge
 * the dialer from the provider's side: GET /sim/stats, GET /sim/dials?batch=ID.
 *
 * Routes:
 *   POST /2010-04-01/Accounts/{sid}/Calls.json      create (HTTP Basic sid:token); 201, 400
 *                                                   21201/21211, 401 20003, 503 20500
 *   GET  /2010-04-01/Accounts/{sid}/Calls/{call}.json   the call now; 404 20404 once forgotten
 *   GET  /sim/stats                 the ledger (requests, accepted, rejected, duplicates,
 *                                   fetches, inProgress, maxInProgress, callbacksSent/Failed/
 *                                   Retried, perSecond, batches)
 *   GET  /sim/dials?batch=B         {"batch": B, "dials": [[unix_ms, row, seq], ...]}
 *   GET  /sim/config, POST /sim/config {"down", "fail503", "speed", "callbackDelayMs"}
 *   POST /sim/reset                 a fresh ledger (calls in progress go on)
 * The ledger reads batch, row and attempt from the StatusCallback URL's query (b, r, a); a
 * request whose (b, r, a) was seen before counts as a duplicate.
 *
 * Timing: initiated right away, ringing 1 s later, then the ring, then the talk time. Ended
 * calls are remembered 10 minutes (scaled; at most 100k). SequenceNumber counts the callbacks
 * actually sent for the call, as Twilio's does. A callback that fails (network error or non-2xx)
 * is retried after 100 ms, 200 ms, 400 ms... (scaled, at least 50 ms), 10 tries in all; the
 * call's later callbacks wait for it. callbackDelayMs is real time, not scaled. */
#ifndef BC_SIM_SIM_H
#define BC_SIM_SIM_H

#include <stdint.h>

#include <uv.h>

#include "http/http.h"
#include "sim/carrier.h"
#include "sim/ledger.h"

#define SIM_MIN_SPEED 0.001
#define SIM_MAX_SPEED 1000000.0

struct sim_config {
    double speed;         /* 1 = real time; 1000 = a 30 s ring takes 30 ms */
    char account_sid[64]; /* expected in the URL and Basic auth */
    char auth_token[128]; /* Basic auth password and callback signing key */
};

/* The simulator's state: sim.c starts and stops it, routes.c serves it (the http_server's app). */
struct sim {
    uv_loop_t *loop;
    struct sim_config cfg; /* as started: the current speed is calls.speed */
    char basic[264];       /* base64("sid:token"), what Authorization: Basic must carry */
    size_t basic_len;
    struct http_server http;
    int port;

    /* Knobs set with POST /sim/config (speed and callbackDelayMs live in calls). */
    int down;
    uint64_t fail503;

    struct ledger ledger;
    struct carrier calls;

    int stopping;
    int open_handles;
    void (*done)(void *arg);
    void *done_arg;
};

/* Starts the simulator listening on host:port (port 0: an ephemeral port). Returns 0, or
 * BC_EINVAL (bad speed, sid or host), BC_ENOMEM or BC_EIO (cannot listen); after a failure the
 * handles opened so far close on the loop's next run. */
int sim_start(struct sim **out, uv_loop_t *loop, const struct sim_config *cfg, const char *host,
              int port);
int sim_port(const struct sim *s);
/* Stops listening, cancels timers and callbacks in flight; done runs once everything is closed
 * (done may be NULL). The simulator is freed before done runs. */
void sim_stop(struct sim *s, void (*done)(void *arg), void *arg);

/* `batchcalld carrier-sim --listen HOST:PORT [--sim-speed N] [--account-sid S] [--auth-token T]`:
 * the simulator alone in its own process (argv after "carrier-sim"). Returns the exit code. */
int sim_main(int argc, char **argv);

#endif
