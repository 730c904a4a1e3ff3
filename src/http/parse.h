/* Parsing requests with llhttp: limits, head, routing, body. */
#ifndef BC_HTTP_PARSE_H
#define BC_HTTP_PARSE_H

#include <llhttp.h>

#include "http/http.h"

/* Sets up the parser of a new connection and its first request. */
void parse_init(struct http_conn *c);
/* Runs llhttp over the next bytes of the connection (llhttp_execute, plus what the callbacks need
 * to know about where the bytes came from). */
enum llhttp_errno parse_execute(struct http_conn *c, const char *data, size_t len);

#endif
