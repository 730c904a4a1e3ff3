/* The route table: every path the server answers. */
#ifndef BC_API_ROUTES_H
#define BC_API_ROUTES_H

#include <stddef.h>

#include "http/http.h"

extern const struct http_route routes_table[];
extern const size_t routes_count;

#endif
