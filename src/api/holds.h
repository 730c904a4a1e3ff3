/* GET /v1/api/batch-calls/{id}/compliance: what the compliance rules did to a batch's calls. */
#ifndef BC_API_HOLDS_H
#define BC_API_HOLDS_H

#include "http/http.h"

void holds_get(struct http_request *req);

#endif
