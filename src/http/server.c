/* The server: the listener, accepting (or adopting) connections, draining and closing. conn.c
 * serves each connection. */
#include <string.h>

#include "http/conn.h"
#include "http/router.h"
#include "http/server.h"
#include "util/log.h"

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0) {
        log_warn("accept failed", "reason=\"%s\"", uv_strerror(status));
        return;
    }
    conn_start(server->data, server, -1);
}

void http_server_adopt(struct http_server *srv, uv_os_sock_t fd)
{
    conn_start(srv, NULL, fd);
}

static void on_server_handle_closed(uv_handle_t *h)
{
    struct http_server *srv = h->data;
    if (--srv->open_handles == 0 && srv->closed_cb)
        srv->closed_cb(srv);
}

int http_server_init(struct http_server *srv, uv_loop_t *loop, const struct http_server_config *cfg)
{
    memset(srv, 0, sizeof *srv);
    srv->loop = loop;
    srv->cfg = *cfg;
    http_router_init(&srv->router, cfg->routes, cfg->nroutes);
    int rc = uv_tcp_init(loop, &srv->listener);
    srv->listener.data = srv;
    srv->open_handles = 1;
    return rc;
}

int http_server_listen(struct http_server *srv, const char *host, int port)
{
    struct sockaddr_storage addr;
    int rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
    if (rc != 0)
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr);
    if (rc != 0)
        return rc;
    rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, 1024, on_connection);
    if (rc == 0)
        srv->listening = 1;
    return rc;
}

void http_server_drain(struct http_server *srv, void (*drained_cb)(struct http_server *srv))
{
    srv->draining = 1;
    srv->drained_cb = drained_cb;
    if (!uv_is_closing((uv_handle_t *)&srv->listener))
        uv_close((uv_handle_t *)&srv->listener, on_server_handle_closed);
    srv->listening = 0;
    struct http_conn *next;
    for (struct http_conn *c = srv->conns; c; c = next) {
        next = c->next;
        if (c->state == CONN_IDLE && !c->writing && !c->paused && c->out.len == 0)
            conn_close(c);
    }
    if (srv->nconns == 0 && srv->drained_cb) {
        srv->drained_cb = NULL;
        drained_cb(srv);
    }
}

void http_server_close_all(struct http_server *srv)
{
    struct http_conn *next;
    for (struct http_conn *c = srv->conns; c; c = next) {
        next = c->next;
        conn_close(c);
    }
}

void http_server_close(struct http_server *srv, void (*closed_cb)(struct http_server *srv))
{
    srv->draining = 1;
    srv->drained_cb = NULL;
    srv->closed_cb = closed_cb;
    http_server_close_all(srv);
    if (!uv_is_closing((uv_handle_t *)&srv->listener))
        uv_close((uv_handle_t *)&srv->listener, on_server_handle_closed);
    if (srv->resume_ready && !uv_is_closing((uv_handle_t *)&srv->resume))
        uv_close((uv_handle_t *)&srv->resume, on_server_handle_closed);
}

void *http_app(const struct http_request *req)
{
    return req->srv->cfg.app;
}

const char *http_route_name(const struct http_request *req)
{
    return req->route ? req->route->pattern : "unmatched";
}
