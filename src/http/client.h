/* An HTTP client on the loop: libcurl's multi interface driven by libuv, shared by everything
 * that calls out: provider requests, simulator callbacks, webhooks. curl's sockets are watched
 * by an epoll descriptor of the client's own (Linux only), itself watched by one uv_poll_t, and
 * curl's timeout by one uv_timer_t. One multi handle means one connection pool, so
 * keep-alive connections to a provider are reused across requests.
 *
 * The client does not queue: client_start refuses (BC_EBUSY) when max_in_flight requests are
 * running, and the caller decides what waits. */
#ifndef BC_HTTP_CLIENT_H
#define BC_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "util/buf.h"

#define CLIENT_MAX_RESPONSE (1024 * 1024)

enum client_result {
    CLIENT_OK = 0,             /* an HTTP response arrived (any status) */
    CLIENT_E_CONNECT = -100,   /* could not connect (refused, DNS, TLS) */
    CLIENT_E_TIMEOUT = -101,   /* no complete response within timeout_ms */
    CLIENT_E_NETWORK = -102,   /* the connection broke mid-request */
    CLIENT_E_TOO_LARGE = -103, /* the response body exceeded CLIENT_MAX_RESPONSE */
    CLIENT_E_CANCELLED = -104, /* client_close ran while the request was in flight */
    CLIENT_E_OTHER = -105,
};

struct client_request {
    /* Set by the caller before client_start. Strings are copied by client_start. */
    const char *url;
    const char *method;         /* "GET" or "POST" (NULL means GET) */
    const char *content_type;   /* for POST bodies, e.g. application/x-www-form-urlencoded */
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated array, or NULL */
    struct buf body;            /* request body; owned by the request */
    const char *userpwd;        /* "user:password" for HTTP Basic (no colon: an empty password), or
                                   NULL */
    long timeout_ms;            /* whole request; 0: 10000 */
    /* Asked about every address the request is about to connect to (after DNS, so a name that
     * resolves somewhere else than it did when it was checked is caught): a non-NULL answer, the
     * reason, refuses it. Once every address is refused the request ends with CLIENT_E_CONNECT
     * and error "address not allowed (<reason>)". NULL allows every address. */
    const char *(*refuse_addr)(const struct sockaddr *addr);
    void (*done)(struct client_request *r); /* called once, from the loop, never from
                                               client_start */
    void *user;

    /* Set by the client before done() runs. */
    int result;              /* enum client_result */
    long status;             /* HTTP status when result == CLIENT_OK */
    struct buf response;     /* response body */
    uint64_t retry_after_ms; /* from a Retry-After header (seconds or HTTP date), else 0 */
    double seconds;          /* total time taken */
    char error[256];         /* curl's description when result != CLIENT_OK */

    void *priv; /* the client's own state for this request */
};

/* A URL curl has parsed, shared by the requests to it (curl reads it, never changes it), so that
 * curl does not parse the same provider address for every request. */
struct client_url {
    char *url;
    void *handle; /* CURLU */
    size_t users; /* requests in flight using it; only an unused entry is replaced */
};
#define CLIENT_URLS 4

struct client_call; /* one request in flight (client.c) */

struct client {
    uv_loop_t *loop;
    void *multi; /* CURLM */
    uv_timer_t timer;
    uv_idle_t kick; /* runs curl's 0 ms timeouts on the next loop pass (see client.c) */
    /* The sockets curl asks to watch are in epfd, an epoll set of their own, so that each
     * change of what curl wants is one epoll_ctl (libuv's uv_poll_t per socket took up to six
     * for a socket's round); poll watches epfd itself. */
    int epfd;
    uv_poll_t poll;
    /* Sockets curl stopped watching that were left in epfd, by number (1: parked; see client.c):
     * an idle connection costs no epoll_ctl until curl uses it again. A socket curl closed
     * keeps its mark (and its count in parked) until its number comes back. */
    uint8_t *fds;
    size_t nfds;
    size_t parked;
    size_t in_flight;
    size_t max_in_flight;
    int closing;
    int handles; /* open libuv handles of the client itself */
    void (*closed_cb)(struct client *d);
    struct client_call *calls; /* requests in flight, so that client_close can cancel them */
    size_t socks;              /* sockets in epfd */
    /* Finished requests' structures with their easy handle reset, for the next requests
     * (creating and destroying a handle per request was most of a request's setup); at most
     * max_in_flight are kept. */
    struct client_call *spare;
    size_t spares;
    struct client_url urls[CLIENT_URLS];
    /* The Authorization header line of the last credentials, built once: curl would build it
     * for every request (two of its slow aprintf calls). */
    char *auth_userpwd;
    char *auth_line;
    uint64_t kicks;     /* runs of the 0 ms timeout path, for metrics and tests */
    uint64_t connects;  /* new connections opened by finished requests (reuse shows as few) */
    uint64_t sock_ctls; /* epoll_ctl calls made for curl's sockets, for metrics and tests */
};

/* Initialises libcurl for the process: call it once at start-up, before any other thread runs and
 * before client_init. Returns 0 or BC_EIO. client_global_cleanup undoes it at exit. */
int client_global_init(void);
void client_global_cleanup(void);

/* Returns 0, BC_EINVAL (max_in_flight 0), BC_ENOMEM or BC_EIO (no epoll descriptor). Once it
 * succeeded, only client_close (and its closed_cb) ends the client. */
int client_init(struct client *d, uv_loop_t *loop, size_t max_in_flight);
/* Starts r. Returns 0 (done() will run later) or a negative error (BC_EBUSY at the cap,
 * BC_ENOMEM, BC_EINVAL for a bad request or a closing client), in which case done() is never
 * called. done() may start new requests and may call client_close. */
int client_start(struct client *d, struct client_request *r);
/* Frees r's buffers (body, response); call it when done with r (typically at the end of done). */
void client_request_free(struct client_request *r);
/* Cancels what is in flight (done() runs with CLIENT_E_CANCELLED) and closes the handles;
 * closed_cb runs when they are closed. */
void client_close(struct client *d, void (*closed_cb)(struct client *d));
/* A human description of an enum client_result or a BC_* code. */
const char *client_strerror(int err);

#endif
