/* Authentication and the per-workspace request rate limit, run on every request's head. */
#ifndef BC_API_AUTH_H
#define BC_API_AUTH_H

#include <stdint.h>

#include "app.h"
#include "http/http.h"
#include "store/store.h"

/* What the server keeps in memory per workspace (auth.c), made by a request's authentication. */
struct auth_ws;
/* The state of workspace id, or NULL while none is kept. */
struct auth_ws *auth_ws_find(struct app *app, const char *id, size_t len);
/* 1 when t reads the very snapshot at which the head last read the workspace's record and found
 * it (auth_ws_seen): nothing can have changed it since, in any process, so *frozen, the record's
 * flag then, holds. Else 0 (st may be NULL): read the record again. */
int auth_ws_fresh(const struct auth_ws *st, const struct store_txn *t, int *frozen);
/* Remembers that t found the workspace's record with this frozen flag (nothing when st is NULL). */
void auth_ws_seen(struct auth_ws *st, const struct store_txn *t, int frozen);

/* The head hook: authentication and the per-workspace request rate limit. t: a read transaction
 * the caller has open (and ends after), or NULL to have one of its own. wsh: the request's
 * x-workspace-id header when the caller has looked it up, else NULL; st: auth_ws_find of it, or
 * NULL. */
void auth_on_head(struct http_request *req, struct store_txn *t, const struct http_slice *wsh,
                  struct auth_ws *st);
/* The response hook: counts the request in the metrics. */
void auth_on_response(struct http_request *req, int status, uint64_t duration_ns);
/* Releases the in-memory per-workspace state. */
void auth_free(struct app *app);

#endif
