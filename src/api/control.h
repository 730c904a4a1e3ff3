/* Changing a running batch: cancel (A6), pause / resume / retry (B4), and usage (B9). */
#ifndef BC_API_CONTROL_H
#define BC_API_CONTROL_H

#include "http/http.h"

void control_cancel(struct http_request *req);
void control_pause(struct http_request *req);
void control_resume(struct http_request *req);
void control_retry(struct http_request *req);
void control_usage(struct http_request *req);

#endif
