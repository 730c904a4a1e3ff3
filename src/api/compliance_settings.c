/* A workspace's compliance settings: see compliance_settings.h. The rules, their defaults and
 * their messages are policy/rules.c's; this file reads and writes them for one workspace. */
#include "api/compliance_settings.h"

#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "model/workspace.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

#define SET_AT "allowOutsideFederalWindowSetAt"

struct settings_update {
    const char *ws;
    size_t wslen;
    const cJSON *body;
    uint64_t now_ms;
    struct rules r;
    int widened;
    struct compliance_settings_error *err;
};

/* The first setting of body that the rules refuse, tried one at a time on r (unchanged). */
static void find_bad_field(const struct rules *r, const cJSON *body, char *out, size_t cap)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, body)
    {
        struct rules probe = *r;
        probe.windows_json = r->windows_json ? cJSON_Duplicate(r->windows_json, 1) : NULL;
        cJSON *one = cJSON_CreateObject();
        cJSON_AddItemReferenceToObject(one, f->string, (cJSON *)f);
        char msg[RULES_MSG_MAX];
        int rc = rules_apply_json(&probe, one, 0, msg, sizeof msg);
        cJSON_Delete(one);
        rules_free(&probe);
        if (rc < 0) {
            snprintf(out, cap, "%s", f->string);
            return;
        }
    }
}

static int update_txn(struct store_txn *t, void *arg)
{
    struct settings_update *u = arg;
    /* The transaction may run again (map growth): start from the stored settings each time. */
    rules_free(&u->r);
    struct ws_settings ws;
    int rc = workspace_get(t, u->ws, u->wslen, &ws);
    if (!rc)
        rc = rules_get(t, u->ws, u->wslen, &u->r);
    if (rc)
        return rc;
    int was = u->r.allow_outside_federal;
    rc = rules_apply_json(&u->r, u->body, u->now_ms, u->err->message, sizeof u->err->message);
    if (rc) {
        find_bad_field(&u->r, u->body, u->err->field, sizeof u->err->field);
        return rc;
    }
    u->widened = !was && u->r.allow_outside_federal;
    return rules_put(t, u->ws, u->wslen, &u->r);
}

int compliance_settings_update(struct store *s, const char *ws, size_t wslen, const cJSON *body,
                               const char *who, struct rules *out,
                               struct compliance_settings_error *err)
{
    memset(err, 0, sizeof *err);
    if (!cJSON_IsObject(body)) {
        snprintf(err->message, sizeof err->message,
                 "The compliance settings must be a JSON object such as "
                 "{\"requireConsent\": true}.");
        return BC_EINVAL;
    }
    /* A GET's answer sent back as it is must be accepted: the server's own timestamp is
     * dropped rather than refused, and can never be set by a client. */
    cJSON *copy = cJSON_Duplicate(body, 1);
    if (!copy)
        return BC_ENOMEM;
    cJSON_DeleteItemFromObjectCaseSensitive(copy, SET_AT);
    struct settings_update u = {
        .ws = ws, .wslen = wslen, .body = copy, .now_ms = clock_now_ms(), .err = err};
    rules_defaults(&u.r);
    int rc = store_write(s, update_txn, &u);
    cJSON_Delete(copy);
    if (rc) {
        rules_free(&u.r);
        return rc;
    }
    if (u.widened)
        log_warn("calls allowed outside the federal calling window (08:00-21:00 callee local "
                 "time)",
                 "workspace=%.*s %s set_at=%llu", (int)wslen, ws, who,
                 (unsigned long long)u.r.allow_outside_federal_set_ms);
    *out = u.r;
    return 0;
}

cJSON *compliance_settings_json(const struct rules *r)
{
    cJSON *o = rules_to_json(r);
    /* Every setting is always present: null until allowOutsideFederalWindow is first turned on. */
    if (!cJSON_HasObjectItem(o, SET_AT))
        cJSON_AddNullToObject(o, SET_AT);
    return o;
}

/* The answer of both routes: the settings as they now are, or the error that kept them. */
static void respond_rules(struct http_request *req, int rc, struct rules *r)
{
    if (rc) {
        api_respond_internal(req, rc);
        return;
    }
    cJSON *o = compliance_settings_json(r);
    rules_free(r);
    api_respond_json(req, 200, o);
}

void compliance_settings_get(struct http_request *req)
{
    struct api_ctx *ctx = api_ctx(req);
    struct store_txn t;
    struct rules r;
    int rc = api_read_begin(req, &t);
    if (rc)
        return;
    rc = rules_get(&t, ctx->ws, ctx->ws_len, &r);
    store_read_end(&t);
    respond_rules(req, rc, &r);
}

void compliance_settings_put(struct http_request *req)
{
    struct api_ctx *ctx = api_ctx(req);
    cJSON *body = api_parse_body(req);
    if (!body)
        return;
    char who[ID_MAX + 8];
    snprintf(who, sizeof who, "key=%s", ctx->key_id);
    struct rules r;
    struct compliance_settings_error err;
    int rc =
        compliance_settings_update(&api_app(req)->store, ctx->ws, ctx->ws_len, body, who, &r, &err);
    cJSON_Delete(body);
    if (rc == BC_EINVAL) {
        char msg[RULES_MSG_MAX + 80];
        snprintf(msg, sizeof msg, "%s; nothing was changed.", err.message);
        api_respond_error(req, 400, "invalid_field", msg, err.field[0] ? "field" : NULL,
                          err.field[0] ? err.field : NULL);
        return;
    }
    respond_rules(req, rc, &r);
}
