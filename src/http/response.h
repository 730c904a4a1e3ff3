/* Responses to HTTP requests: plain, JSON errors and streamed (chunked) bodies. */
#ifndef BC_HTTP_RESPONSE_H
#define BC_HTTP_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

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

/* Queues the 503 of a connection refused because of a cap (no request was read): message says
 * which one. */
void response_reject(struct http_conn *c, const char *message);

#endif
