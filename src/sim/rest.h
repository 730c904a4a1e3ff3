/* The simulator's HTTP routes (listed in sim.h): the Twilio-dialect REST API and the test and
 * operations routes. Their app pointer is the struct sim. */
#ifndef BC_SIM_REST_H
#define BC_SIM_REST_H

#include <stddef.h>

#include "http/http.h"

extern const struct http_route rest_routes[];
extern const size_t rest_nroutes;

#endif
