/* Authentication and the per-workspace API rate limit, run once per request as soon as its head
 * has arrived, so a rejected upload is never read. */
#include "api/auth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "model/apikey.h"
#include "model/workspace.h"
#include "http/response.h"
#include "http/router.h"
#include "util/bucket.h"
#include "util/err.h"

/* The API keys of a workspace the server has seen valid, kept while the store's auth generation
 * is the one they were found at (any write to the key or workspace tables, by this process or
 * the admin command, moves it): a request with one of them reads that counter and neither the
 * key's record nor the workspace's, and hashes nothing. They are found through the workspace id
 * (public) and compared in constant time, so how long a lookup takes tells nothing about a key.
 * Only keys that were found valid are kept, at most KNOWN_KEYS per workspace. */
#define KNOWN_KEYS 4
struct known_key {
    char *key;
    size_t len;
};

/* What the server keeps in memory per workspace: the request bucket, the settings decoded from
 * the stored record (re-decoded only when the record's bytes change, for example after `admin
 * workspace update` in another process), and its known keys. */
struct auth_ws {
    struct bucket requests;
    struct ws_settings settings;
    char *raw;
    size_t raw_len;
    struct known_key known[KNOWN_KEYS];
    size_t next_known; /* the slot the next key found takes */
    /* The head's reading of the record (auth_ws_seen): one more than the snapshot it was made
     * at (0: none), and the record's frozen flag then. */
    uint64_t seen_at;
    int seen_frozen;
    char id[ID_MAX]; /* the map's key */
    size_t id_len;
};

struct auth_ws *auth_ws_find(struct app *app, const char *id, size_t len)
{
    /* The workspace asked for last: requests in a row mostly name the same one, and comparing
     * its id costs less than hashing it for the map. */
    struct auth_ws *st = app->last_ws;
    if (st && st->id_len == len && memcmp(st->id, id, len) == 0)
        return st;
    st = map_get(&app->workspaces, id, len);
    if (st)
        app->last_ws = st;
    return st;
}

int auth_ws_fresh(const struct auth_ws *st, const struct store_txn *t, int *frozen)
{
    if (!st || st->seen_at != t->snapshot + 1)
        return 0;
    *frozen = st->seen_frozen;
    return 1;
}

void auth_ws_seen(struct auth_ws *st, const struct store_txn *t, int frozen)
{
    if (!st)
        return;
    st->seen_at = t->snapshot + 1;
    st->seen_frozen = frozen;
}

static void forget_keys(struct auth_ws *st)
{
    for (size_t i = 0; i < KNOWN_KEYS; i++) {
        free(st->known[i].key);
        st->known[i] = (struct known_key){NULL, 0};
    }
}

/* st if key is one of its known keys (keys of the generation current). */
static struct auth_ws *known_workspace(struct auth_ws *st, const struct http_slice *key)
{
    int found = 0;
    for (size_t i = 0; st && i < KNOWN_KEYS; i++)
        found |= st->known[i].len == key->len && crypto_equal(st->known[i].key, key->ptr, key->len);
    return found ? st : NULL;
}

/* Keeps a key found valid (failing to allocate only means it is looked up again). */
static void remember_key(struct auth_ws *st, const struct http_slice *key)
{
    char *copy = malloc(key->len);
    if (!copy)
        return;
    memcpy(copy, key->ptr, key->len);
    struct known_key *k = &st->known[st->next_known];
    st->next_known = (st->next_known + 1) % KNOWN_KEYS;
    free(k->key);
    *k = (struct known_key){copy, key->len};
}

static void unauthorized(struct http_request *req, const char *message)
{
    api_respond_error(req, 401, "unauthorized", message, NULL, NULL);
}

static struct auth_ws *ws_state_for(struct app *app, const char *id, size_t len,
                                    const struct store_val *raw, uint64_t now)
{
    struct auth_ws *st = map_get(&app->workspaces, id, len);
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
        if (!st || len >= ID_MAX || map_put(&app->workspaces, id, len, st) != 0) {
            free(st);
            free(copy);
            return NULL;
        }
        bucket_init(&st->requests, rpm / 60.0, rpm, now);
        memcpy(st->id, id, len);
        st->id_len = len;
    } else {
        bucket_configure(&st->requests, rpm / 60.0, rpm, now);
    }
    free(st->raw);
    st->raw = copy;
    st->raw_len = raw->len;
    st->settings = ws;
    return st;
}

/* The operator's routes: off (403) without --admin-token, else its bearer token. */
static void admin_on_head(struct http_request *req)
{
    const char *token = api_app(req)->cfg.admin_token;
    const struct http_slice *h = http_header(req, "authorization");
    size_t tlen = strlen(token);
    if (!tlen) {
        api_respond_error(req, 403, "forbidden",
                          "The operator API is off: start the server with --admin-token TOKEN "
                          "(or BATCHCALLD_ADMIN_TOKEN) and send Authorization: Bearer TOKEN. "
                          "batchcalld admin registry import does the same from the command line.",
                          NULL, NULL);
        return;
    }
    static const char bearer[] = "Bearer ";
    size_t blen = sizeof bearer - 1;
    if (!h || h->len != blen + tlen || strncasecmp(h->ptr, bearer, blen) != 0 ||
        !crypto_equal(h->ptr + blen, token, tlen))
        unauthorized(req, "Send the operator token (--admin-token) as Authorization: Bearer "
                          "TOKEN.");
}

/* The store's auth generation as of t, read only when t reads another snapshot than the last
 * reading: the known keys are forgotten when it moved. */
static int check_generation(struct app *app, struct store_txn *t)
{
    if (app->api_keys_snapshot == t->snapshot + 1)
        return 0;
    uint64_t generation;
    int rc = store_auth_generation(t, &generation);
    if (rc)
        return rc;
    if (generation != app->api_keys_generation) {
        size_t pos = 0;
        for (struct auth_ws *w; (w = map_next(&app->workspaces, &pos)) != NULL;)
            forget_keys(w);
        app->api_keys_generation = generation;
    }
    app->api_keys_snapshot = t->snapshot + 1;
    return 0;
}

void auth_on_head(struct http_request *req, struct store_txn *shared, const struct http_slice *wsh,
                  struct auth_ws *ws_st)
{
    if (req->route->flags & API_OPER) {
        admin_on_head(req);
        return;
    }
    if (!(req->route->flags & API_AUTH))
        return;
    struct app *app = api_app(req);
    const struct http_slice *key = http_header(req, "x-api-key");
    if (!wsh)
        wsh = http_header(req, "x-workspace-id");
    if (!key || !key->len || !wsh || !wsh->len) {
        unauthorized(req, "Send your API key in the x-api-key header and your workspace id in "
                          "the x-workspace-id header.");
        return;
    }
    struct store_txn own, *t = shared;
    if (!t) {
        if (api_read_begin(req, &own))
            return;
        t = &own;
    }
    uint64_t now = uv_now(app->loop);
    int rc = check_generation(app, t);
    struct apikey_info info;
    memset(&info, 0, sizeof info);
    if (rc == 0 && !ws_st)
        ws_st = auth_ws_find(app, wsh->ptr, wsh->len);
    struct auth_ws *st = rc == 0 ? known_workspace(ws_st, key) : NULL;
    if (st) {
        memcpy(info.ws, wsh->ptr, wsh->len); /* a map key: shorter than ID_MAX */
    } else if (rc == 0) {
        uint8_t hash[SHA256_LEN];
        crypto_hasher_sha256(&app->hasher, key->ptr, key->len, hash);
        rc = apikey_lookup(t, hash, &info);
        size_t wslen = strlen(info.ws);
        if (rc == 0 && (wslen != wsh->len || !crypto_equal(info.ws, wsh->ptr, wslen)))
            rc = BC_ENOTFOUND;
        struct store_val raw;
        if (rc == 0)
            rc = store_get(t, DB_WS, info.ws, wslen, &raw);
        if (rc == 0 && (st = ws_state_for(app, info.ws, wslen, &raw, now)) != NULL)
            remember_key(st, key);
    }
    size_t wslen = strlen(info.ws);
    if (t == &own)
        store_read_end(&own);
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
    memcpy(ctx->key_id, info.key_id, sizeof ctx->key_id);
}

void auth_on_response(struct http_request *req, int status, uint64_t duration_ns)
{
    struct app *app = api_app(req);
    metrics_observe(&app->metrics, req->route_index, status, duration_ns);
}

static void ws_state_free(void *p)
{
    struct auth_ws *st = p;
    forget_keys(st);
    free(st->raw);
    free(st);
}

void auth_free(struct app *app)
{
    map_free(&app->workspaces, ws_state_free);
    app->last_ws = NULL;
}
