/* An HTTP client on the loop: libcurl's multi interface driven by libuv (one uv_poll_t per
 * socket, one uv_timer_t for curl's timeout), shared by everything that calls out: provider
 * requests, simulator callbacks, webhooks. One multi handle means one connection pool, so
 * keep-alive connections to a provider are reused across requests.
 *
 * The dialer does not queue: dialer_start refuses (BC_EBUSY) when max_in_flight requests are
 * running, and the caller decides what waits. */
#ifndef BC_DISPATCH_DIALER_H
#define BC_DISPATCH_DIALER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "util/buf.h"

#define DIALER_MAX_RESPONSE (1024 * 1024)

enum dialer_result {
    DIALER_OK = 0,             /* an HTTP response arrived (any status) */
    DIALER_E_CONNECT = -100,   /* could not connect (refused, DNS, TLS) */
    DIALER_E_TIMEOUT = -101,   /* no complete response within timeout_ms */
    DIALER_E_NETWORK = -102,   /* the connection broke mid-request */
    DIALER_E_TOO_LARGE = -103, /* the response body exceeded DIALER_MAX_RESPONSE */
    DIALER_E_CANCELLED = -104, /* dialer_close ran while the request was in flight */
    DIALER_E_OTHER = -105,
};

struct dialer_request {
    /* Set by the caller before dialer_start. Strings are copied by dialer_start. */
    const char *url;
    const char *method;         /* "GET" or "POST" (NULL means GET) */
    const char *content_type;   /* for POST bodies, e.g. application/x-www-form-urlencoded */
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated array, or NULL */
    struct buf body;            /* request body; owned by the request */
    const char *userpwd;        /* "user:password" for HTTP Basic, or NULL */
    long timeout_ms;            /* whole request; 0: 10000 */
    void (*done)(struct dialer_request *r); /* called once, from the loop, never from
                                               dialer_start */
    void *user;

    /* Set by the dialer before done() runs. */
    int result;              /* enum dialer_result */
    long status;             /* HTTP status when result == DIALER_OK */
    struct buf response;     /* response body */
    uint64_t retry_after_ms; /* from a Retry-After header (seconds or HTTP date), else 0 */
    double seconds;          /* total time taken */
    char error[256];         /* curl's description when result != DIALER_OK */

    void *priv; /* the dialer's own state for this request */
};

struct dialer_call; /* one request in flight (dialer.c) */
struct dialer_sock; /* one socket curl asked us to watch (dialer.c) */

struct dialer {
    uv_loop_t *loop;
    void *multi; /* CURLM */
    uv_timer_t timer;
    uv_idle_t kick; /* runs curl's 0 ms timeouts on the next loop pass (see dialer.c) */
    size_t in_flight;
    size_t max_in_flight;
    int closing;
    int handles; /* open libuv handles of the dialer itself */
    void (*closed_cb)(struct dialer *d);
    struct dialer_call *calls; /* requests in flight, so that dialer_close can cancel them */
    struct dialer_sock *socks; /* sockets being watched, so that dialer_close can close them */
    uint64_t kicks;            /* runs of the 0 ms timeout path, for metrics and tests */
    uint64_t connects; /* new connections opened by finished requests (reuse shows as few) */
};

/* Initialises libcurl for the process: call it once at start-up, before any other thread runs and
 * before dialer_init. Returns 0 or BC_EIO. dialer_global_cleanup undoes it at exit. */
int dialer_global_init(void);
void dialer_global_cleanup(void);

/* Returns 0, BC_EINVAL (max_in_flight 0) or BC_ENOMEM. Once it succeeded, only dialer_close
 * (and its closed_cb) ends the dialer. */
int dialer_init(struct dialer *d, uv_loop_t *loop, size_t max_in_flight);
/* Starts r. Returns 0 (done() will run later) or a negative error (BC_EBUSY at the cap,
 * BC_ENOMEM, BC_EINVAL for a bad request or a closing dialer), in which case done() is never
 * called. done() may start new requests and may call dialer_close. */
int dialer_start(struct dialer *d, struct dialer_request *r);
/* Frees r's buffers (body, response); call it when done with r (typically at the end of done). */
void dialer_request_free(struct dialer_request *r);
/* Cancels what is in flight (done() runs with DIALER_E_CANCELLED) and closes the handles;
 * closed_cb runs when they are closed. */
void dialer_close(struct dialer *d, void (*closed_cb)(struct dialer *d));
/* A human description of an enum dialer_result or a BC_* code. */
const char *dialer_strerror(int err);

#endif
