/* Webhook routes (API.md B7): the workspace's target and its deliveries log. The outbox and the
 * delivery worker are in webhooks/. */
#include "api/webhooks.h"

#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "model/url.h"
#include "util/err.h"
#include "webhooks/deliveries.h"
#include "webhooks/target.h"

static void respond_hook_not_found(struct http_request *req)
{
    api_respond_error(req, 404, "not_found",
                      "This workspace has no webhook. Set one with PUT /v1/api/webhook "
                      "{\"url\": \"https://...\"}.",
                      NULL, NULL);
}

void webhooks_put(struct http_request *req)
{
    struct api_ctx *ctx = api_ctx(req);
    cJSON *body = api_parse_body(req);
    if (!body)
        return;
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(body, "url");
    const char *url = cJSON_IsString(u) ? u->valuestring : NULL;
    if (!cJSON_IsNull(u) && (!url || url_check(url, strlen(url), 0) != 0)) {
        cJSON_Delete(body);
        api_respond_error(req, 400, "invalid_field",
                          "url must be an http:// or https:// URL of at most 2048 characters "
                          "(or null to keep only a signing secret for batch webhookUrls).",
                          "field", "url");
        return;
    }
    const char *refusal =
        url ? url_target_refusal(url, strlen(url), api_app(req)->cfg.webhook_allow_private) : NULL;
    if (refusal) {
        cJSON_Delete(body);
        char msg[400];
        snprintf(msg, sizeof msg, "url %s", url_refusal_message(refusal));
        api_respond_error(req, 400, "invalid_field", msg, "field", "url");
        return;
    }
    char secret[SIGNING_SECRET_LEN + 1];
    uint64_t created;
    int rc = target_set(&api_app(req)->store, ctx->ws, ctx->ws_len, url, secret, &created);
    if (rc) {
        cJSON_Delete(body);
        api_respond_internal(req, rc);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    if (url)
        cJSON_AddStringToObject(o, "url", url);
    else
        cJSON_AddNullToObject(o, "url");
    cJSON_AddStringToObject(o, "secret", secret);
    cJSON_AddNumberToObject(o, "createdAt", (double)created);
    cJSON_Delete(body);
    api_respond_json(req, 200, o);
}

/* Answers a failed read or removal of the target (404 when there is none); 1 when it did. */
static int respond_failed(struct http_request *req, int rc)
{
    if (rc == BC_ENOTFOUND)
        respond_hook_not_found(req);
    else if (rc)
        api_respond_internal(req, rc);
    return rc != 0;
}

void webhooks_get(struct http_request *req)
{
    struct api_ctx *ctx = api_ctx(req);
    struct store_txn t;
    struct target h;
    int rc = store_read_begin(&api_app(req)->store, &t);
    if (!rc)
        rc = target_get(&t, ctx->ws, ctx->ws_len, &h);
    store_read_end(&t);
    if (respond_failed(req, rc))
        return;
    size_t slen = strlen(h.secret);
    cJSON *o = cJSON_CreateObject();
    if (h.url[0])
        cJSON_AddStringToObject(o, "url", h.url);
    else
        cJSON_AddNullToObject(o, "url");
    cJSON_AddNumberToObject(o, "createdAt", (double)h.created_ms);
    cJSON_AddStringToObject(o, "secretHint", h.secret + (slen > 4 ? slen - 4 : 0));
    api_respond_json(req, 200, o);
}

void webhooks_delete(struct http_request *req)
{
    struct api_ctx *ctx = api_ctx(req);
    int rc = target_remove(&api_app(req)->store, ctx->ws, ctx->ws_len);
    if (respond_failed(req, rc))
        return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "deleted", 1);
    api_respond_json(req, 200, o);
}

void webhooks_deliveries(struct http_request *req)
{
    struct api_ctx *ctx = api_ctx(req);
    struct api_page page;
    if (api_parse_page(req, &page) != 0)
        return;
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "deliveries");
    uint64_t total = 0;
    int rc = deliveries_page(&api_app(req)->store, ctx->ws, ctx->ws_len, page.page, page.limit, arr,
                             &total);
    api_respond_page(req, rc < 0 ? rc : 0, root, &page, total);
}
