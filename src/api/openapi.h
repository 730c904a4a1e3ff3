/* The OpenAPI 3 description of the API (docs/openapi.json), compiled into the server so that
 * GET /openapi.json always describes the binary that answers it. The build generates the
 * definitions of openapi_json and openapi_json_len from the file (see CMakeLists.txt). */
#ifndef BC_API_OPENAPI_H
#define BC_API_OPENAPI_H

#include <stddef.h>

/* The bytes of docs/openapi.json, followed by a NUL that openapi_json_len does not count. */
extern const unsigned char openapi_json[];
extern const size_t openapi_json_len;

struct http_request;

/* GET /openapi.json: the description, without authentication, so tools such as Swagger UI or
 * client generators can fetch it directly. */
void openapi_get(struct http_request *req);

#endif
