#include "webhooks/target.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "store/records.h"
#include "util/clock.h"
#include "util/err.h"

int target_get(struct store_txn *t, const char *ws, size_t wslen, struct target *out)
{
    struct store_val v;
    int rc = store_get(t, DB_WEBHOOK, ws, wslen, &v);
    if (rc)
        return rc;
    cJSON *o = cJSON_ParseWithLength(v.ptr, v.len);
    const char *url = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "url"));
    const char *secret = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "secret"));
    const cJSON *created = cJSON_GetObjectItemCaseSensitive(o, "createdAt");
    rc = secret && strlen(secret) <= SIGNING_SECRET_LEN && (!url || strlen(url) <= URL_MAX)
             ? 0
             : BC_ECORRUPT;
    if (!rc) {
        snprintf(out->url, sizeof out->url, "%s", url ? url : "");
        snprintf(out->secret, sizeof out->secret, "%s", secret);
        out->created_ms = cJSON_IsNumber(created) ? (uint64_t)created->valuedouble : 0;
    }
    cJSON_Delete(o);
    return rc;
}

int target_put(struct store_txn *t, const char *ws, size_t wslen, const char *url,
               struct target *out)
{
    int rc = signing_new_secret(out->secret);
    if (rc)
        return rc;
    snprintf(out->url, sizeof out->url, "%s", url ? url : "");
    out->created_ms = clock_now_ms();
    cJSON *o = cJSON_CreateObject();
    if (url)
        cJSON_AddStringToObject(o, "url", url);
    else
        cJSON_AddNullToObject(o, "url");
    cJSON_AddStringToObject(o, "secret", out->secret);
    cJSON_AddNumberToObject(o, "createdAt", (double)out->created_ms);
    return records_put_json(t, DB_WEBHOOK, ws, wslen, o);
}

struct set_args {
    const char *ws;
    size_t wslen;
    const char *url;
    struct target tg;
};

static int set_txn(struct store_txn *t, void *arg)
{
    struct set_args *a = arg;
    struct store_val v;
    int rc = store_get(t, DB_WS, a->ws, a->wslen, &v);
    return rc ? rc : target_put(t, a->ws, a->wslen, a->url, &a->tg);
}

int target_set(struct store *s, const char *ws, size_t wslen, const char *url,
               char secret[SIGNING_SECRET_LEN + 1], uint64_t *created_ms)
{
    if (url && url_check(url, strlen(url), 0) != 0)
        return BC_EINVAL;
    struct set_args a = {.ws = ws, .wslen = wslen, .url = url};
    int rc = store_write(s, set_txn, &a);
    if (!rc) {
        memcpy(secret, a.tg.secret, sizeof a.tg.secret);
        *created_ms = a.tg.created_ms;
    }
    return rc;
}

struct remove_args {
    const char *ws;
    size_t wslen;
};

static int remove_txn(struct store_txn *t, void *arg)
{
    struct remove_args *a = arg;
    return store_del(t, DB_WEBHOOK, a->ws, a->wslen);
}

int target_remove(struct store *s, const char *ws, size_t wslen)
{
    struct remove_args a = {ws, wslen};
    return store_write(s, remove_txn, &a);
}
