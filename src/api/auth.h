/* Authentication and the per-workspace request rate limit, run on every request's head. */
#ifndef BC_API_AUTH_H
#define BC_API_AUTH_H

#include <stdint.h>

#include "app.h"
#include "http/http.h"
#include "store/store.h"

/* The head hook: authentication and the per-workspace request rate limit. t: a read transaction
 * the caller has open (and ends after), or NULL to have one of its own. */
void auth_on_head(struct http_request *req, struct store_txn *t);
/* The response hook: counts the request in the metrics. */
void auth_on_response(struct http_request *req, int status, uint64_t duration_ns);
/* Releases the in-memory per-workspace state. */
void auth_free(struct app *app);

#endif
