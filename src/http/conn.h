/* One connection of the HTTP server. Its struct is shared by the files of http/: parse.c fills
 * its request, response.c queues its output; nothing outside http/ looks inside. Outside http/,
 * only the body flow control below is called (by streamed-body consumers). */
#ifndef BC_HTTP_CONN_H
#define BC_HTTP_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>
#include <uv.h>

#include "http/http.h"
#include "util/buf.h"

enum conn_state {
    CONN_IDLE,     /* keep-alive, waiting for a request */
    CONN_HEAD,     /* reading the request line and headers */
    CONN_BODY,     /* reading the body */
    CONN_HANDLING, /* waiting for the handler's response */
    CONN_LINGER,   /* response sent, discarding input until the client closes */
};

struct header_offsets {
    uint32_t name_off, name_len, value_off, value_len;
};

struct http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    struct http_server *srv;
    struct http_conn *prev, *next;
    llhttp_t parser;
    enum conn_state state;
    uint64_t deadline; /* uv_now() milliseconds; 0 when no timeout applies */
    uint64_t timer_at; /* when the timer is armed to fire */
    struct buf head;   /* URL, then header names and values, of the current request */
    uint32_t url_len;
    struct header_offsets hoff[HTTP_MAX_HEADERS];
    size_t nheaders;
    size_t header_bytes;
    int in_field;
    /* For obs-fold detection (parse.c): the start of the bytes llhttp is parsing now, and whether
     * the last byte before them, spaces and tabs aside, was a line end. */
    const char *exec_data;
    unsigned after_lf : 1;
    struct buf out;     /* responses not yet handed to the socket */
    struct buf wbuf;    /* bytes of the write in flight */
    struct buf pending; /* input that arrived behind a request still being answered */
    struct http_request req;
    /* The client address connections are counted under (conn.c: peer_key); all zero when not
     * an IP address (adopted sockets). */
    uint8_t peer[17];
    int handles; /* open libuv handles; the struct is freed when the last one closes */
    unsigned writing : 1;
    unsigned closing : 1;
    unsigned close_after_write : 1;
    unsigned paused : 1;
    unsigned in_execute : 1;
    unsigned rejected : 1;
    unsigned reserve_only : 1; /* in a reserved slot: only reserve_flag routes, then close */
    unsigned keep_alive : 1;
    unsigned shutdown_sent : 1;
    unsigned message_done : 1;
    unsigned stream_active : 1;
    unsigned stream_owed : 1; /* the body ended, its consumer has yet to answer: tell it if the
                                 connection goes first (abort), as it may hold work in flight */
    unsigned eof : 1;
    unsigned streaming : 1; /* a streamed response is open */
    unsigned yield : 1;     /* the body consumer asked to let the loop run before more */
    unsigned held : 1;      /* ... and to wait for http_request_resume before more */
    unsigned in_yield_list : 1;
    struct http_conn *next_yielded;
    unsigned in_drain : 1; /* inside the stream's drain callback */
};

/* From a body data callback: finish this callback, then let the loop serve other clients before
 * the rest of the body is read (after a long write transaction, say). */
void http_request_yield(struct http_request *req);
/* From a body data callback: finish this callback, then read no more of the body until
 * http_request_resume (called later from any loop callback, when an asynchronous write of what
 * came so far has finished, say). The body timeout still applies while paused. */
void http_request_pause(struct http_request *req);
void http_request_resume(struct http_request *req);

/* Sets up a connection: accept_from is the listener to accept from, or NULL to serve fd, an
 * already connected socket. */
void conn_start(struct http_server *srv, uv_stream_t *accept_from, uv_os_sock_t fd);
/* Closes now, telling a streamed body's or response's owner (abort, closed). */
void conn_close(struct http_conn *c);
/* Hands queued output to the socket; once all is written, goes on with what waited for it. */
void conn_flush(struct http_conn *c);
/* The current phase must end within timeout_ms (0: no timeout). */
void conn_set_deadline(struct http_conn *c, uint64_t timeout_ms);
/* Called when a request has both been parsed completely and answered. */
void conn_request_finished(struct http_conn *c);
/* Ends the request with an error decided by the server itself (limits, timeouts, bad syntax):
 * the connection closes after the response. */
void conn_fail(struct http_conn *c, int status, const char *code, const char *message);

#endif
