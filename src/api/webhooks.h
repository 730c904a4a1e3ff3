/* Webhook routes (API.md B7). The outbox and the delivery worker are in webhooks/webhooks.h. */
#ifndef BC_API_WEBHOOKS_H
#define BC_API_WEBHOOKS_H

struct http_request;
void webhooks_put(struct http_request *req);        /* PUT /v1/api/webhook */
void webhooks_get(struct http_request *req);        /* GET /v1/api/webhook */
void webhooks_delete(struct http_request *req);     /* DELETE /v1/api/webhook */
void webhooks_deliveries(struct http_request *req); /* GET /v1/api/webhook/deliveries */

#endif
