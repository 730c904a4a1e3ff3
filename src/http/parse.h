/* Parsing requests with llhttp: limits, head, routing, body. */
#ifndef BC_HTTP_PARSE_H
#define BC_HTTP_PARSE_H

#include "http/http.h"

/* Sets up the parser of a new connection and its first request. */
void parse_init(struct http_conn *c);

#endif
