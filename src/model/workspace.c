/* Workspace settings: the record of a workspace's limits, its defaults and its rules. Both the
 * API (admin, authentication, uploads) and the dispatcher read limits through here. */
#include "model/workspace.h"

#include <stdio.h>
#include <string.h>

#include "store/records.h"
#include "util/clock.h"
#include "util/err.h"

void workspace_defaults(struct ws_settings *ws)
{
    memset(ws, 0, sizeof *ws);
    ws->calls_per_second = WS_DEFAULT_CALLS_PER_SECOND;
    ws->max_concurrent_calls = WS_DEFAULT_MAX_CONCURRENT_CALLS;
    ws->requests_per_minute = WS_DEFAULT_REQUESTS_PER_MINUTE;
    ws->max_records = WS_DEFAULT_MAX_RECORDS;
}

int workspace_validate(const struct ws_settings *ws, char *msg, size_t cap)
{
    if (!ws->name[0]) {
        snprintf(msg, cap, "the workspace needs a --name");
        return BC_EINVAL;
    }
    if (!(ws->calls_per_second > 0) || ws->calls_per_second > 100000) {
        snprintf(msg, cap, "--calls-per-second must be more than 0 and at most 100000");
        return BC_EINVAL;
    }
    if (ws->max_concurrent_calls < 1 || ws->max_concurrent_calls > 1000000) {
        snprintf(msg, cap, "--max-concurrent-calls must be from 1 to 1000000");
        return BC_EINVAL;
    }
    if (ws->requests_per_minute < 1 || ws->requests_per_minute > 1000000000ull) {
        snprintf(msg, cap, "--requests-per-minute must be from 1 to 1000000000");
        return BC_EINVAL;
    }
    if (ws->max_records < 1 || ws->max_records > 100000000ull) {
        snprintf(msg, cap, "--max-records must be from 1 to 100000000");
        return BC_EINVAL;
    }
    return 0;
}

cJSON *workspace_to_json(const struct ws_settings *ws)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "workspaceId", ws->id);
    cJSON_AddStringToObject(o, "name", ws->name);
    cJSON_AddNumberToObject(o, "callsPerSecond", ws->calls_per_second);
    cJSON_AddNumberToObject(o, "maxConcurrentCalls", (double)ws->max_concurrent_calls);
    cJSON_AddNumberToObject(o, "requestsPerMinute", (double)ws->requests_per_minute);
    cJSON_AddNumberToObject(o, "maxRecords", (double)ws->max_records);
    cJSON_AddNumberToObject(o, "createdAt", (double)ws->created_ms);
    if (ws->frozen)
        cJSON_AddBoolToObject(o, "frozen", 1);
    return o;
}

static int copy_string(const cJSON *o, const char *name, char *out, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap)
        return BC_ECORRUPT;
    strcpy(out, v->valuestring);
    return 0;
}

static int get_number(const cJSON *o, const char *name, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsNumber(v))
        return BC_ECORRUPT;
    *out = v->valuedouble;
    return 0;
}

/* A count: a number from 0 to below 2^64, the range a uint64_t holds (converting a double
 * outside it is undefined behaviour). */
static int get_count(const cJSON *o, const char *name, uint64_t *out)
{
    double v;
    int rc = get_number(o, name, &v);
    if (rc)
        return rc;
    if (!(v >= 0 && v < 18446744073709551616.0))
        return BC_ECORRUPT;
    *out = (uint64_t)v;
    return 0;
}

int workspace_decode(const void *data, size_t len, struct ws_settings *out)
{
    cJSON *o = cJSON_ParseWithLength(data, len);
    if (!o)
        return BC_ECORRUPT;
    memset(out, 0, sizeof *out);
    int rc = copy_string(o, "workspaceId", out->id, sizeof out->id);
    if (!rc)
        rc = copy_string(o, "name", out->name, sizeof out->name);
    if (!rc)
        rc = get_number(o, "callsPerSecond", &out->calls_per_second);
    if (!rc)
        rc = get_count(o, "maxConcurrentCalls", &out->max_concurrent_calls);
    if (!rc)
        rc = get_count(o, "requestsPerMinute", &out->requests_per_minute);
    if (!rc)
        rc = get_count(o, "maxRecords", &out->max_records);
    if (!rc)
        rc = get_count(o, "createdAt", &out->created_ms);
    out->frozen = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "frozen"));
    cJSON_Delete(o);
    return rc;
}

int workspace_get(struct store_txn *t, const char *id, size_t len, struct ws_settings *out)
{
    struct store_val v;
    int rc = store_get(t, DB_WS, id, len, &v);
    return rc ? rc : workspace_decode(v.ptr, v.len, out);
}

static int put_ws(struct store_txn *t, const struct ws_settings *ws)
{
    int rc = records_put_json(t, DB_WS, ws->id, strlen(ws->id), workspace_to_json(ws));
    return rc ? rc : store_auth_changed(t); /* servers re-read the settings */
}

struct workspace_create_args {
    struct ws_settings *ws;
    struct apikey_pending kn;
};

static int workspace_create_txn(struct store_txn *t, void *arg)
{
    struct workspace_create_args *a = arg;
    int rc = put_ws(t, a->ws);
    return rc ? rc : apikey_put(t, &a->kn);
}

int workspace_create(struct store *s, struct id_gen *ids, struct ws_settings *ws, const char *label,
                     char api_key[APIKEY_TEXT_MAX], struct apikey_info *key)
{
    ws->created_ms = clock_now_ms();
    int rc = id_new(ids, "ws_", ws->created_ms, ws->id);
    if (rc < 0)
        return rc;
    struct workspace_create_args a = {.ws = ws};
    rc = apikey_prepare(ids, ws->id, label, api_key, key, &a.kn);
    return rc ? rc : store_write(s, workspace_create_txn, &a);
}

struct workspace_update_args {
    const char *id;
    const struct ws_update *u;
    struct ws_settings *out;
    char msg[160];
};

static int workspace_update_txn(struct store_txn *t, void *arg)
{
    struct workspace_update_args *a = arg;
    struct ws_settings *ws = a->out;
    int rc = workspace_get(t, a->id, strlen(a->id), ws);
    if (rc)
        return rc;
    if (a->u->has_calls_per_second)
        ws->calls_per_second = a->u->v.calls_per_second;
    if (a->u->has_max_concurrent_calls)
        ws->max_concurrent_calls = a->u->v.max_concurrent_calls;
    if (a->u->has_requests_per_minute)
        ws->requests_per_minute = a->u->v.requests_per_minute;
    if (a->u->has_max_records)
        ws->max_records = a->u->v.max_records;
    rc = workspace_validate(ws, a->msg, sizeof a->msg);
    return rc ? rc : put_ws(t, ws);
}

int workspace_update_limits(struct store *s, const char *id, const struct ws_update *u,
                            struct ws_settings *out)
{
    struct workspace_update_args a = {.id = id, .u = u, .out = out};
    return store_write(s, workspace_update_txn, &a);
}

struct workspace_freeze_args {
    const char *id;
    int frozen;
    int *was;
};

static int workspace_freeze_txn(struct store_txn *t, void *arg)
{
    struct workspace_freeze_args *a = arg;
    struct ws_settings ws;
    int rc = workspace_get(t, a->id, strlen(a->id), &ws);
    if (rc)
        return rc;
    *a->was = ws.frozen;
    ws.frozen = a->frozen;
    rc = put_ws(t, &ws);
    return rc ? rc : records_fleet_gen_bump(t);
}

int workspace_set_frozen(struct store *s, const char *id, int frozen, int *was)
{
    struct workspace_freeze_args a = {id, frozen, was};
    return store_write(s, workspace_freeze_txn, &a);
}

int workspace_list(struct store *s, cJSON **out)
{
    struct store_txn t;
    int rc = store_read_begin(s, &t);
    if (rc)
        return rc;
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "workspaces");
    struct store_iter it;
    store_iter_open(&it, &t, DB_WS, "", 0, NULL, 0);
    while ((rc = store_iter_next(&it)) == 1) {
        struct ws_settings ws;
        if (workspace_decode(it.val.ptr, it.val.len, &ws) == 0)
            cJSON_AddItemToArray(arr, workspace_to_json(&ws));
    }
    store_iter_close(&it);
    store_read_end(&t);
    if (rc < 0) {
        cJSON_Delete(root);
        return rc;
    }
    *out = root;
    return 0;
}
