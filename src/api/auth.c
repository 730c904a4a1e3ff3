/* Authentication and the per-workspace API rate limit, run once per request as soon as its head
 * has arrived, so a rejected upload is never read. */
#include "api/auth.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "model/apikey.h"
#include "model/workspace.h"
#include "http/response.h"
#include "http/router.h"
#include "util/bucket.h"
#include "util/err.h"

/* What the server keeps in memory per workspace: the request bucket, and the settings decoded
 * from the stored record (re-decoded only when the record's bytes change, for example after
 * `admin workspace update` in another process). */
struct ws_state {
    struct bucket requests;
    struct ws_settings settings;
    char *raw;
    size_t raw_len;
};

/* An API key known valid: its workspace. Kept while the store's auth generation is the one the
 * cache was filled at (any write to the key or workspace tables, by this process or the admin
 * command, moves it), so a request with a known key reads one counter instead of the key's
 * record and the workspace's. Only keys that were found are cached. */
struct key_entry {
    struct ws_state *st;
    size_t wslen;
    char ws[ID_MAX];
};
#define KEY_CACHE_MAX 4096

static void unauthorized(struct http_request *req, const char *message)
{
    api_respond_error(req, 401, "unauthorized", message, NULL, NULL);
}

static struct ws_state *ws_state_for(struct app *app, const char *id, size_t len,
                                     const struct store_val *raw, uint64_t now)
{
    struct ws_state *st = map_get(&app->workspaces, id, len);
    if (st && st->raw_len == raw->len && memcmp(st->raw, raw->ptr, raw->len) == 0)
        return st;
    struct ws_settings ws;
    char *copy = malloc(raw->len);
    if (!copy || workspace_decode(raw->ptr, raw->len, &ws) != 0) {
        free(copy);
        return NULL;
    }
    memcpy(copy, raw->ptr, raw->len);
    double rpm = (double)ws.requests_per_minute;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st || map_put(&app->workspaces, id, len, st) != 0) {
            free(st);
            free(copy);
            return NULL;
        }
        bucket_init(&st->requests, rpm / 60.0, rpm, now);
    } else {
        bucket_configure(&st->requests, rpm / 60.0, rpm, now);
    }
    free(st->raw);
    st->raw = copy;
    st->raw_len = raw->len;
    st->settings = ws;
    return st;
}

/* Caches a key found valid (a failed allocation only means it is looked up again). */
static void remember_key(struct app *app, const uint8_t hash[SHA256_LEN], const char *ws,
                         size_t wslen, struct ws_state *st)
{
    if (app->api_keys.live >= KEY_CACHE_MAX)
        map_free(&app->api_keys, free);
    struct key_entry *e = malloc(sizeof *e);
    if (!e)
        return;
    e->st = st;
    e->wslen = wslen;
    memcpy(e->ws, ws, wslen + 1);
    if (map_put(&app->api_keys, (const char *)hash, SHA256_LEN, e) != 0)
        free(e);
}

void auth_on_head(struct http_request *req)
{
    if (!(req->route->flags & API_AUTH))
        return;
    struct app *app = api_app(req);
    const struct http_slice *key = http_header(req, "x-api-key");
    const struct http_slice *wsh = http_header(req, "x-workspace-id");
    if (!key || !key->len || !wsh || !wsh->len) {
        unauthorized(req, "Send your API key in the x-api-key header and your workspace id in "
                          "the x-workspace-id header.");
        return;
    }
    struct store_txn t;
    int rc = store_read_begin(&app->store, &t);
    if (rc) {
        api_respond_internal(req, rc);
        return;
    }
    uint8_t hash[SHA256_LEN];
    crypto_hasher_sha256(&app->hasher, key->ptr, key->len, hash);
    uint64_t now = uv_now(app->loop), generation;
    struct key_entry *known = NULL;
    rc = store_auth_generation(&t, &generation);
    if (rc == 0 && generation != app->api_keys_generation) {
        map_free(&app->api_keys, free);
        app->api_keys_generation = generation;
    }
    if (rc == 0)
        known = map_get(&app->api_keys, (const char *)hash, sizeof hash);
    struct apikey_info info;
    memset(&info, 0, sizeof info);
    struct ws_state *st = NULL;
    if (known) {
        memcpy(info.ws, known->ws, known->wslen + 1);
        st = known->st;
    } else if (rc == 0) {
        rc = apikey_lookup(&t, hash, &info);
    }
    size_t wslen = strlen(info.ws);
    if (rc == 0 && (wslen != wsh->len || !crypto_equal(info.ws, wsh->ptr, wslen)))
        rc = BC_ENOTFOUND;
    if (rc == 0 && !known) {
        struct store_val raw;
        rc = store_get(&t, DB_WS, info.ws, wslen, &raw);
        if (rc == 0 && (st = ws_state_for(app, info.ws, wslen, &raw, now)) != NULL)
            remember_key(app, hash, info.ws, wslen, st);
    }
    store_read_end(&t);
    if (rc == BC_ENOTFOUND) {
        unauthorized(req, "The API key is not valid for this workspace; check x-api-key and "
                          "x-workspace-id.");
        return;
    }
    if (rc || !st) {
        api_respond_internal(req, rc ? rc : BC_ENOMEM);
        return;
    }
    int allowed = bucket_take(&st->requests, now);
    uint64_t reset_s = (bucket_full_ms(&st->requests, now) + 999) / 1000;
    http_add_header_u64(req, "RateLimit-Limit", st->settings.requests_per_minute);
    http_add_header_u64(req, "RateLimit-Remaining", bucket_available(&st->requests, now));
    http_add_header_u64(req, "RateLimit-Reset", reset_s);
    if (!allowed) {
        uint64_t retry = (bucket_wait_ms(&st->requests, now) + 999) / 1000;
        if (retry < 1)
            retry = 1;
        http_add_header(req, "Retry-After", "%llu", (unsigned long long)retry);
        char msg[200];
        snprintf(msg, sizeof msg,
                 "This workspace may make %llu requests per minute; retry after %llu s.",
                 (unsigned long long)st->settings.requests_per_minute, (unsigned long long)retry);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", "rate_limit_exceeded");
        cJSON_AddStringToObject(o, "message", msg);
        cJSON_AddNumberToObject(o, "retryAfter", (double)retry);
        api_respond_json(req, 429, o);
        return;
    }
    struct api_ctx *ctx = api_ctx(req);
    memcpy(ctx->ws, info.ws, wslen + 1);
    ctx->ws_len = wslen;
}

void auth_on_response(struct http_request *req, int status, uint64_t duration_ns)
{
    struct app *app = api_app(req);
    metrics_observe(&app->metrics, req->route_index, status, duration_ns);
}

static void ws_state_free(void *p)
{
    struct ws_state *st = p;
    free(st->raw);
    free(st);
}

void auth_free(struct app *app)
{
    map_free(&app->workspaces, ws_state_free);
    map_free(&app->api_keys, free);
}
