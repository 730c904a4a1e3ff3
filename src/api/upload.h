/* POST /v1/api/batch-calls (A1) and POST /v1/api/batch-calls/validate (A8). */
#ifndef BC_API_UPLOAD_H
#define BC_API_UPLOAD_H

#include "http/http.h"

/* Both consume their bodies as they stream in. */
extern const struct http_body_ops upload_ops;
extern const struct http_body_ops upload_validate_ops;

#endif
