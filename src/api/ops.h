/* Operations endpoints for load balancers and monitoring (API.md B10). */
#ifndef BC_API_OPS_H
#define BC_API_OPS_H

#include "http/http.h"

void ops_healthz(struct http_request *req);
void ops_readyz(struct http_request *req);
void ops_metrics(struct http_request *req);

#endif
