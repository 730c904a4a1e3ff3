/* Route matching, query strings, header lookup and status texts: pure functions over slices. */
#ifndef BC_HTTP_ROUTER_H
#define BC_HTTP_ROUTER_H

#include <stddef.h>

#include "http/http.h"

/* Case-insensitive header lookup; NULL when absent. */
const struct http_slice *http_header(const struct http_request *req, const char *name);
/* The percent-decoded value of a query parameter into out (NUL-terminated). Returns its length,
 * BC_ENOTFOUND when absent, or BC_ETOOBIG when it does not fit. */
int http_query(const struct http_request *req, const char *name, char *out, size_t cap);

/* Route matching, exposed for tests: returns the route index, -404 when no pattern matches the
 * path, or -405 when patterns match but not the method (allowed gets the methods, comma
 * separated). */
int http_route_match(const struct http_route *routes, size_t n, int method, const char *path,
                     size_t len, struct http_slice *params, size_t *nparams, char *allowed,
                     size_t allowed_cap);
/* Prepares rt for routes[0..n) (kept by reference). */
void http_router_init(struct http_router *rt, const struct http_route *routes, size_t n);
/* http_route_match's answer over rt's routes, found with the literal heads: each route of the
 * method is compared with one memcmp (or only its length), not walked byte by byte. */
int http_router_match(const struct http_router *rt, int method, const char *path, size_t len,
                      struct http_slice *params, size_t *nparams, char *allowed,
                      size_t allowed_cap);
const char *http_status_text(int status);

#endif
