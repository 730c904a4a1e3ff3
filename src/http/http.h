/* HTTP/1.1 server on one libuv loop, parsing with llhttp.
 *
 * Each connection parses one request at a time: requests pipelined behind it wait in the socket or
 * in a small pending buffer until its response is written, so responses always leave in request
 * order. Limits (URL, header size and count, body size) are enforced while streaming; a request
 * that breaks one gets its JSON error and the connection is closed. Handlers answer with
 * http_respond(), synchronously or later (the connection then waits). */
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

enum conn_state {
    CONN_IDLE,     /* keep-alive, waiting for a request */
    CONN_HEAD,     /* reading the request line and headers */
    CONN_BODY,     /* reading the body */
    CONN_HANDLING, /* waiting for the handler's response */
    CONN_LINGER,   /* response sent, discarding input until the client closes */
};

struct http_request {
    struct http_conn *conn;
    struct http_server *srv;
    int method;
    struct http_slice url, path, query;
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t nheaders;
    int route_index; /* index in the route table, or -1 */
    const struct http_route *route;
    struct http_slice params[HTTP_MAX_PARAMS];
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
};

struct http_server_config {
    size_t max_connections;
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
};

struct http_server {
    uv_tcp_t listener;
    uv_loop_t *loop;
    struct http_server_config cfg;
    struct http_conn *conns; /* intrusive list of open connections */
    size_t nconns;
    size_t nrejected; /* connections being refused because of the cap */
    int listening;
    int draining;
    void (*drained_cb)(struct http_server *srv);
    char readbuf[65536]; /* shared: libuv consumes each read synchronously */
    uv_idle_t resume;    /* resumes connections that yielded, after the loop polled once */
    struct http_conn *yielded;
    int resume_ready; /* resume was initialised (on the first yield) */
    int open_handles; /* listener (and resume), until closed */
    void (*closed_cb)(struct http_server *srv);
    char date[64];
    uint64_t date_sec;
};

int http_server_init(struct http_server *srv, uv_loop_t *loop,
                     const struct http_server_config *cfg);
/* Binds and listens on host:port. Returns 0 or a negative libuv error. */
int http_server_listen(struct http_server *srv, const char *host, int port);
/* Serves an already connected stream socket as if it had been accepted (tests use a
 * socketpair to control exactly how the bytes arrive). */
void http_server_adopt(struct http_server *srv, uv_os_sock_t fd);
/* Stops accepting, closes idle connections and lets requests in progress finish; drained_cb runs
 * once the last connection has closed. */
void http_server_drain(struct http_server *srv, void (*drained_cb)(struct http_server *srv));
/* Closes every connection now (after a drain timed out). */
void http_server_close_all(struct http_server *srv);
/* Closes everything the server owns; closed_cb (may be NULL) runs once its handles are closed,
 * after which the struct may be freed. */
void http_server_close(struct http_server *srv, void (*closed_cb)(struct http_server *srv));

/* Responses. The body is copied; headers added with http_add_header come first. */
void http_respond(struct http_request *req, int status, const char *content_type, const void *body,
                  size_t len);
void http_add_header(struct http_request *req, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same for a number, without printf (rate-limit headers go on every response). */
void http_add_header_u64(struct http_request *req, const char *name, uint64_t value);
/* A JSON error body {"error":code,"message":message}; message is escaped. */
void http_respond_error(struct http_request *req, int status, const char *code,
                        const char *message);

/* Starts a streamed response: status and headers now, the body with http_stream_write, and
 * http_stream_end to finish. ops->drain is called whenever what was written has been sent. */
void http_stream_start(struct http_request *req, int status, const char *content_type,
                       const struct http_stream_ops *ops, void *state);
/* Caps the kernel's send buffer of the stream's socket (the kernel doubles the value). A stream
 * that keeps its own backlog, shared between clients, uses it so that a client that stops reading
 * holds that much kernel memory, not the several megabytes autotuning would grant it. */
void http_stream_sndbuf(struct http_request *req, int bytes);
/* Appends a piece of the body (one chunk). Returns 0, or BC_ENOMEM. */
int http_stream_write(struct http_request *req, const void *data, size_t len);
void http_stream_end(struct http_request *req);
/* Bytes written but not yet handed to the socket. */
size_t http_stream_pending(const struct http_request *req);

/* From a body data callback: finish this callback, then let the loop serve other clients before
 * the rest of the body is read (after a long write transaction, say). */
void http_request_yield(struct http_request *req);
/* From a body data callback: finish this callback, then read no more of the body until
 * http_request_resume (called later from any loop callback, when an asynchronous write of what
 * came so far has finished, say). The body timeout still applies while paused. */
void http_request_pause(struct http_request *req);
void http_request_resume(struct http_request *req);

/* Case-insensitive header lookup; NULL when absent. */
const struct http_slice *http_header(const struct http_request *req, const char *name);
/* The percent-decoded value of a query parameter into out (NUL-terminated). Returns its length,
 * -1 when absent, or BC_ETOOBIG when it does not fit. */
int http_query(const struct http_request *req, const char *name, char *out, size_t cap);
/* The application object given in the config. */
void *http_app(const struct http_request *req);
const char *http_route_name(const struct http_request *req);

/* Route matching, exposed for tests: returns the route index, -404 when no pattern matches the
 * path, or -405 when patterns match but not the method (allowed gets the methods, comma
 * separated). */
int http_route_match(const struct http_route *routes, size_t n, int method, const char *path,
                     size_t len, struct http_slice *params, size_t *nparams, char *allowed,
                     size_t allowed_cap);
const char *http_status_text(int status);

#endif
