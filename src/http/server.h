/* The HTTP server: listening, accepting, draining and closing (the types are in http/http.h). */
#ifndef BC_HTTP_SERVER_H
#define BC_HTTP_SERVER_H

#include <uv.h>

#include "http/http.h"

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

/* The application object given in the config. */
void *http_app(const struct http_request *req);
/* The pattern of the route the request matched, or "unmatched" (for logs and metrics). */
const char *http_route_name(const struct http_request *req);

#endif
