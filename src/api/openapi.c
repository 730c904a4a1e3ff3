/* GET /openapi.json: serves the embedded OpenAPI description as it is. */
#include "api/openapi.h"

#include "http/http.h"
#include "http/response.h"

void openapi_get(struct http_request *req)
{
    http_respond(req, 200, "application/json; charset=utf-8", openapi_json, openapi_json_len);
}
