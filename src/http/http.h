/* HTTP/1.1 server on one libuv loop, parsing with llhttp.
 *
 * Each connection parses one request at a time: requests pipelined behind it wait in the socket or
 * in a small pending buffer until its response is written, so responses always leave in request
 * order. Limits (URL, header size and count, body size) are enforced while streaming; a request
 * that breaks one gets its JSON error and the connection is closed. Handlers answer with
 * http_respond(), synchronously or later (the connection then waits).
 *
 * This header holds the shared types only; the functions are declared by their own files:
 * http/server.h, http/conn.h (body flow control), http/parse.h, http/response.h, http/router.h. */
#ifndef BC_HTTP_HTTP_H
#define BC_HTTP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>
#include <uv.h>

#include "util/buf.h"

#define HTTP_MAX_URL         8192
#define HTTP_MAX_HEADER_SIZE 16384
#define HTTP_MAX_HEADERS     100
#define HTTP_MAX_PARAMS      4
#define HTTP_DEFAULT_BODY    (1024 * 1024)

struct http_slice {
    const char *ptr;
    size_t len;
};

struct http_header {
    struct http_slice name, value;
};

struct http_request;
struct http_server;
struct http_conn;

typedef void (*http_handler_fn)(struct http_request *req);

/* A route whose body is consumed while it streams in (uploads) instead of being buffered. */
struct http_body_ops {
    /* Called once the head is accepted, before any body byte (and before 100 Continue): may
     * respond, for example when the request cannot be an upload; the body is then not read. */
    void (*start)(struct http_request *req);
    /* Every data callback returns 0 to go on; non-zero means it has responded (an error) and the
     * rest of the body is not wanted: the connection is closed after the response. */
    int (*data)(struct http_request *req, const char *p, size_t n);
    /* The whole body arrived: respond (now or later). */
    void (*end)(struct http_request *req);
    /* The request ended without end() (client gone, error, shutdown), or after end() but before
     * the response (the connection closed while the answer was still being worked on): release
     * what data() or end() kept. */
    void (*abort)(struct http_request *req);
    /* data() may also be called with n == 0 (when a paused body resumes at a read's end). */
};

/* A response whose body is produced piece by piece (exports, event streams), sent with chunked
 * transfer encoding. */
struct http_stream_ops {
    /* Everything written so far reached the socket: write more, or end the stream. A producer
     * that writes only when asked keeps memory constant however large the body. */
    void (*drain)(struct http_request *req);
    /* The connection closed before http_stream_end: release what the stream holds. */
    void (*closed)(struct http_request *req);
};

struct http_route {
    int method;          /* enum llhttp_method */
    const char *pattern; /* "/v1/api/agents/:id": ':' segments are captured as params */
    http_handler_fn handler;
    const struct http_body_ops *stream; /* NULL: the body is buffered and handler is called */
    size_t body_limit;                  /* 0: HTTP_DEFAULT_BODY */
    unsigned flags;                     /* the application's own flags, for its head hook */
};

struct http_request {
    struct http_conn *conn;
    struct http_server *srv;
    int method;
    struct http_slice url, path, query;
    size_t nheaders;
    int route_index; /* index in the route table, or -1 */
    const struct http_route *route;
    size_t nparams;
    struct buf body;                          /* buffered routes only */
    uint64_t body_bytes;                      /* received so far */
    int has_body;                             /* Content-Length > 0 or chunked */
    int responded;                            /* a final response was queued */
    int status;                               /* its status */
    uint64_t start_ns;                        /* first byte, for latency metrics */
    struct buf extra_headers;                 /* "Name: value\r\n" lines added to the response */
    const struct http_stream_ops *stream_ops; /* set while a streamed response is open */
    void *stream_state;
    void *ctx; /* application context for this request (srv->request_ctx_size bytes,
                  zeroed at each request) */
    /* Last, so that a new request clears the fields above and not these 3 KiB: only the first
     * nheaders and nparams entries are ever read. */
    struct http_header headers[HTTP_MAX_HEADERS];
    struct http_slice params[HTTP_MAX_PARAMS];
};

struct http_server_config {
    size_t max_connections;
    /* Connections one client address (an IPv6 client: its /64) may hold; more are refused like
     * those over max_connections. 0: no limit. */
    size_t max_connections_per_ip;
    /* The last this many of max_connections (at most a quarter of them) only answer routes
     * whose flags include reserve_flag, one request each, so that health checks and metrics get
     * through a server full of other clients. */
    size_t reserved_connections;
    unsigned reserve_flag;
    uint64_t header_timeout_ms;
    uint64_t idle_timeout_ms;
    uint64_t body_timeout_ms;
    uint64_t linger_ms;
    const struct http_route *routes;
    size_t nroutes;
    const char *alias_from; /* a path prefix answered as if it were alias_to */
    const char *alias_to;
    size_t request_ctx_size;
    /* Called once the head is complete and routed, before any body: may respond (auth failures,
     * rate limits); the body is then not read. */
    void (*on_head)(struct http_request *req);
    /* Called for every final response, for metrics and access logs. */
    void (*on_response)(struct http_request *req, int status, uint64_t duration_ns);
    void *app;
    /* Header lines ("Name: value\r\n") sent with every response, or NULL. */
    const char *fixed_headers;
};

/* How many routes' literal heads http_router keeps; routes past it are matched by the walk. */
#define HTTP_ROUTER_MAX 128

/* Routes with what the match of each needs known in advance (http_router_init): the length of
 * its pattern's literal head, up to the '/' before its first ':' segment, compared with one
 * memcmp; whole[r] when the pattern has no ':' segment at all (then only a path of that length
 * can match). */
struct http_router {
    const struct http_route *routes;
    size_t n;
    uint16_t literal[HTTP_ROUTER_MAX];
    uint8_t whole[HTTP_ROUTER_MAX];
};

struct http_server {
    uv_tcp_t listener;
    uv_loop_t *loop;
    struct http_server_config cfg;
    struct http_router router; /* cfg's routes */
    struct http_conn *conns;   /* intrusive list of open connections */
    size_t nconns;
    size_t nrejected; /* connections being refused because of the cap */
    int listening;
    int draining;
    void (*drained_cb)(struct http_server *srv);
    /* Shared: libuv consumes each read synchronously. 256 KiB rather than 64: an upload's body
     * then comes in a quarter of the reads, each acknowledged by the kernel (on loopback the
     * ACK's whole path runs on this thread): 20% less CPU to validate a 20 MB file. */
    char readbuf[262144];
    uv_idle_t resume; /* resumes connections that yielded, after the loop polled once */
    struct http_conn *yielded;
    int resume_ready; /* resume was initialised (on the first yield) */
    int open_handles; /* listener (and resume), until closed */
    void (*closed_cb)(struct http_server *srv);
    char date[64];
    uint64_t date_sec;
};

#endif
