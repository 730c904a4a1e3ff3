/* Provider status callbacks (API.md B11), authenticated by signature instead of API key. */
#ifndef BC_API_CALLBACKS_H
#define BC_API_CALLBACKS_H

#include "http/http.h"

void callbacks_twilio(struct http_request *req);
void callbacks_http(struct http_request *req);

#endif
