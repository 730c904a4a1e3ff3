/* Route handlers and the helpers they share: authentication context, JSON responses, the one
 * translation of internal errors into HTTP statuses, and pagination. */
#ifndef BC_API_API_H
#define BC_API_API_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "app.h"
#include "http/http.h"
#include "http/server.h"
#include "util/crypto.h"

/* Route flags. */
#define API_AUTH 1u /* needs x-api-key and x-workspace-id */

/* Per-request state, allocated by the HTTP server for every connection. */
struct api_ctx {
    char ws[ID_MAX]; /* the authenticated workspace, NUL-terminated */
    size_t ws_len;
    struct upload *upload; /* the upload or validation this request streams into */
};

static inline struct app *api_app(struct http_request *req)
{
    return http_app(req);
}

static inline struct api_ctx *api_ctx(struct http_request *req)
{
    return req->ctx;
}

/* The route table and its size. */
extern const struct http_route api_routes[];
extern const size_t api_nroutes;

/* The head hook: authentication and the per-workspace request rate limit. */
void api_on_head(struct http_request *req);
void api_on_response(struct http_request *req, int status, uint64_t duration_ns);
/* Releases the in-memory per-workspace state. */
void api_free(struct app *app);

/* Responds with obj rendered as JSON, then frees obj. */
void api_respond_json(struct http_request *req, int status, cJSON *obj);
/* An error body with one extra string field (for example "field" or "id"); extra may be NULL. */
void api_respond_error(struct http_request *req, int status, const char *code, const char *message,
                       const char *extra_name, const char *extra_value);
/* Maps an internal error (util/err.h) to a status and a message that says what to do. */
void api_respond_internal(struct http_request *req, int err);

/* Stores obj rendered as JSON under key in db, then frees obj. Returns 0 or an error. */
int api_put_json(struct store_txn *t, enum store_db db, const void *key, size_t klen, cJSON *obj);

/* Parses the buffered body as a JSON object; on failure it responds 400 and returns NULL. */
cJSON *api_parse_body(struct http_request *req);

struct api_page {
    uint64_t page;  /* 1-based */
    uint64_t limit; /* 1..100 */
};
/* Reads ?page= and ?limit=; on a bad value responds 400 naming the parameter and returns -1. */
int api_parse_page(struct http_request *req, struct api_page *p);
/* Adds the "pagination" object of API.md A4 to obj. */
void api_add_pagination(cJSON *obj, const struct api_page *p, uint64_t total);

/* Handlers, by module. */
void ops_healthz(struct http_request *req);
void ops_readyz(struct http_request *req);
void ops_metrics(struct http_request *req);
void agents_create(struct http_request *req);
void agents_list(struct http_request *req);
void agents_get(struct http_request *req);
void agents_update(struct http_request *req);
void agents_delete(struct http_request *req);
void control_cancel(struct http_request *req);
void control_pause(struct http_request *req);
void control_resume(struct http_request *req);
void control_retry(struct http_request *req);
void control_usage(struct http_request *req);
void callbacks_twilio(struct http_request *req);
void callbacks_http(struct http_request *req);

#endif
