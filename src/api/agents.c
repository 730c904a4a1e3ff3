/* Agents CRUD. An agent is stored as the exact JSON the API returns, so reads copy bytes. */
#include "api/agents.h"

#include <string.h>

#include "api/api.h"
#include "http/response.h"
#include "model/agent.h"
#include "model/url.h"
#include "provider/twilio.h"
#include "store/records.h"
#include "util/err.h"
#include "util/clock.h"
#include "util/json.h"

/* Checks the fields present in body and copies them over agent (model/agent.c has the rules). On
 * a bad field returns BC_EINVAL with err naming it. */
static int apply_fields(const cJSON *body, cJSON *agent, int creating, struct agents_error *err)
{
    return agent_apply(body, agent, creating, &err->field, err->message, sizeof err->message);
}

struct agent_put {
    const char *key;
    size_t klen;
    struct buf json;
    int must_exist;
};

static int agent_put_txn(struct store_txn *t, void *arg)
{
    struct agent_put *a = arg;
    struct store_val v;
    if (a->must_exist) {
        int rc = store_get(t, DB_AGENT, a->key, a->klen, &v);
        if (rc)
            return rc;
    }
    return store_put(t, DB_AGENT, a->key, a->klen, a->json.data, a->json.len, 0);
}

static void agent_not_found(struct http_request *req);

/* Replaces an existing agent and responds with it. */
static void update_and_respond(struct http_request *req, cJSON *agent, const char *key, size_t klen)
{
    struct agent_put a = {.key = key, .klen = klen, .must_exist = 1};
    int rc = json_render(&a.json, agent);
    cJSON_Delete(agent);
    if (!rc)
        rc = store_write(&api_app(req)->store, agent_put_txn, &a);
    if (rc == BC_ENOTFOUND)
        agent_not_found(req);
    else if (rc)
        api_respond_internal(req, rc);
    else
        http_respond(req, 200, "application/json; charset=utf-8", a.json.data, a.json.len);
    buf_free(&a.json);
}

int agents_insert(struct store *st, struct id_gen *ids, const char *ws, size_t wslen,
                  const cJSON *body, struct agents_error *err, struct buf *json, char id[ID_MAX])
{
    uint64_t now = clock_now_ms();
    int idlen = id_new(ids, "agent_", now, id);
    if (idlen < 0)
        return idlen;
    cJSON *agent = cJSON_CreateObject();
    cJSON_AddStringToObject(agent, "id", id);
    cJSON_AddStringToObject(agent, "name", "");
    cJSON_AddStringToObject(agent, "prompt", "");
    cJSON_AddStringToObject(agent, "fromNumber", "");
    cJSON_AddNullToObject(agent, "voiceUrl");
    cJSON_AddNullToObject(agent, "optOutDigit");
    cJSON_AddArrayToObject(agent, "variables");
    cJSON_AddNumberToObject(agent, "createdAt", (double)now);
    cJSON_AddNumberToObject(agent, "updatedAt", (double)now);
    if (apply_fields(body, agent, 1, err) != 0) {
        cJSON_Delete(agent);
        return BC_EINVAL;
    }
    char key[AGENT_KEY_MAX];
    struct agent_put a = {.key = key, .klen = agent_key(key, ws, wslen, id, (size_t)idlen)};
    int rc = json_render(&a.json, agent);
    cJSON_Delete(agent);
    if (!rc)
        rc = store_write(st, agent_put_txn, &a);
    if (!rc)
        rc = buf_append(json, a.json.data, a.json.len);
    buf_free(&a.json);
    return rc;
}

static void respond_field_error(struct http_request *req, const struct agents_error *err)
{
    api_respond_error(req, 400, "invalid_field", err->message, "field", err->field);
}

/* With --provider twilio, an agent must also fit Twilio's rules (twilio_check_agent), so a
 * prompt or voiceUrl Twilio would refuse is caught here, not contact by contact. agent holds the
 * agent's prompt and voiceUrl (the request body of a create, the merged agent of an update).
 * Returns 1 and fills err when it does not. */
static int twilio_refuses(struct http_request *req, const cJSON *agent, struct agents_error *err)
{
    if (api_app(req)->provider.kind != PROVIDER_TWILIO)
        return 0;
    const char *prompt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(agent, "prompt"));
    const char *voice = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(agent, "voiceUrl"));
    if (!prompt)
        return 0; /* not a string: the field rules answer for it */
    err->field = twilio_check_agent(prompt, voice, err->message, sizeof err->message);
    return err->field != NULL;
}

void agents_create(struct http_request *req)
{
    struct app *app = api_app(req);
    struct api_ctx *ctx = api_ctx(req);
    cJSON *body = api_parse_body(req);
    if (!body)
        return;
    struct agents_error err;
    struct buf json = {0};
    char id[ID_MAX];
    if (twilio_refuses(req, body, &err)) {
        cJSON_Delete(body);
        respond_field_error(req, &err);
        return;
    }
    int rc = agents_insert(&app->store, &app->ids, ctx->ws, ctx->ws_len, body, &err, &json, id);
    cJSON_Delete(body);
    if (rc == BC_EINVAL)
        respond_field_error(req, &err);
    else if (rc)
        api_respond_internal(req, rc);
    else
        http_respond(req, 201, "application/json; charset=utf-8", json.data, json.len);
    buf_free(&json);
}

static void agent_not_found(struct http_request *req)
{
    const struct http_slice *id = &req->params[0];
    char idz[ID_MAX] = "";
    if (id->len < sizeof idz)
        memcpy(idz, id->ptr, id->len);
    api_respond_error(req, 404, "not_found", "No agent with this id in this workspace.", "id", idz);
}

/* Reads the agent named by the path into a fresh cJSON object, or responds 404. */
static cJSON *load_agent(struct http_request *req, char *key, size_t *klen)
{
    struct app *app = api_app(req);
    struct api_ctx *ctx = api_ctx(req);
    const struct http_slice *id = &req->params[0];
    if (!id_valid("agent_", id->ptr, id->len)) {
        agent_not_found(req);
        return NULL;
    }
    *klen = agent_key(key, ctx->ws, ctx->ws_len, id->ptr, id->len);
    struct store_txn t;
    cJSON *agent = NULL;
    int rc = store_read_begin(&app->store, &t);
    if (!rc) {
        rc = agent_get(&t, ctx->ws, ctx->ws_len, id->ptr, id->len, &agent);
        store_read_end(&t);
    }
    if (rc == BC_ENOTFOUND)
        agent_not_found(req);
    else if (rc)
        api_respond_internal(req, rc);
    return agent;
}

void agents_get(struct http_request *req)
{
    struct api_ctx *ctx = api_ctx(req);
    const struct http_slice *id = &req->params[0];
    char key[AGENT_KEY_MAX];
    /* Begun or not, the head's transaction ends here (API_HEAD_TXN). */
    struct store_txn own, *t = api_head_txn(req, &own);
    if (!t)
        return;
    int rc = BC_ENOTFOUND;
    struct store_val v;
    if (id_valid("agent_", id->ptr, id->len))
        rc = snapcache_get(&api_app(req)->reads, t, DB_AGENT, key,
                           agent_key(key, ctx->ws, ctx->ws_len, id->ptr, id->len), &v);
    if (!rc)
        http_respond(req, 200, "application/json; charset=utf-8", v.ptr, v.len);
    store_read_end(t);
    if (rc == BC_ENOTFOUND)
        agent_not_found(req);
    else if (rc)
        api_respond_internal(req, rc);
}

void agents_update(struct http_request *req)
{
    char key[AGENT_KEY_MAX];
    size_t klen;
    cJSON *body = api_parse_body(req);
    if (!body)
        return;
    cJSON *agent = load_agent(req, key, &klen);
    if (!agent) {
        cJSON_Delete(body);
        return;
    }
    struct agents_error err;
    int bad = apply_fields(body, agent, 0, &err) || twilio_refuses(req, agent, &err);
    cJSON_Delete(body);
    if (bad) {
        cJSON_Delete(agent);
        respond_field_error(req, &err);
        return;
    }
    cJSON_ReplaceItemInObjectCaseSensitive(agent, "updatedAt",
                                           cJSON_CreateNumber((double)clock_now_ms()));
    update_and_respond(req, agent, key, klen);
}

static int agent_del_txn(struct store_txn *t, void *arg)
{
    struct agent_put *a = arg;
    return store_del(t, DB_AGENT, a->key, a->klen);
}

void agents_delete(struct http_request *req)
{
    char key[AGENT_KEY_MAX];
    size_t klen;
    cJSON *agent = load_agent(req, key, &klen);
    if (!agent)
        return;
    cJSON_Delete(agent);
    struct agent_put a = {.key = key, .klen = klen};
    int rc = store_write(&api_app(req)->store, agent_del_txn, &a);
    if (rc) {
        api_respond_internal(req, rc);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    json_add_strn(o, "id", req->params[0].ptr, req->params[0].len);
    cJSON_AddBoolToObject(o, "deleted", 1);
    api_respond_json(req, 200, o);
}

void agents_list(struct http_request *req)
{
    struct api_ctx *ctx = api_ctx(req);
    struct api_page page;
    if (api_parse_page(req, &page) != 0)
        return;
    char prefix[AGENT_KEY_MAX];
    size_t plen = agent_key(prefix, ctx->ws, ctx->ws_len, "", 0);
    struct store_txn t;
    int rc = api_read_begin(req, &t);
    if (rc)
        return;
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "agents");
    uint64_t total = 0;
    struct store_iter it;
    store_iter_open(&it, &t, DB_AGENT, prefix, plen, NULL, 0);
    while ((rc = store_iter_next(&it)) == 1) {
        if (api_page_holds(&page, total)) {
            cJSON *a = cJSON_ParseWithLength(it.val.ptr, it.val.len);
            if (a)
                cJSON_AddItemToArray(arr, a);
        }
        total++;
    }
    store_iter_close(&it);
    store_read_end(&t);
    api_respond_page(req, rc, root, &page, total);
}
