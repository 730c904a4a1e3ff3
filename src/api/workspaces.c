#include "api/workspaces.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/json.h"

#define KEY_LOOKUP_LEN 16

void ws_defaults(struct ws_settings *ws)
{
    memset(ws, 0, sizeof *ws);
    ws->calls_per_second = WS_DEFAULT_CALLS_PER_SECOND;
    ws->max_concurrent_calls = WS_DEFAULT_MAX_CONCURRENT_CALLS;
    ws->requests_per_minute = WS_DEFAULT_REQUESTS_PER_MINUTE;
    ws->max_records = WS_DEFAULT_MAX_RECORDS;
}

int ws_validate(const struct ws_settings *ws, char *msg, size_t cap)
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

cJSON *ws_to_json(const struct ws_settings *ws)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "workspaceId", ws->id);
    cJSON_AddStringToObject(o, "name", ws->name);
    cJSON_AddNumberToObject(o, "callsPerSecond", ws->calls_per_second);
    cJSON_AddNumberToObject(o, "maxConcurrentCalls", (double)ws->max_concurrent_calls);
    cJSON_AddNumberToObject(o, "requestsPerMinute", (double)ws->requests_per_minute);
    cJSON_AddNumberToObject(o, "maxRecords", (double)ws->max_records);
    cJSON_AddNumberToObject(o, "createdAt", (double)ws->created_ms);
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

int ws_decode(const void *data, size_t len, struct ws_settings *out)
{
    cJSON *o = cJSON_ParseWithLength(data, len);
    if (!o)
        return BC_ECORRUPT;
    memset(out, 0, sizeof *out);
    double mcc = 0, rpm = 0, mr = 0, created = 0;
    int rc = copy_string(o, "workspaceId", out->id, sizeof out->id);
    if (!rc)
        rc = copy_string(o, "name", out->name, sizeof out->name);
    if (!rc)
        rc = get_number(o, "callsPerSecond", &out->calls_per_second);
    if (!rc)
        rc = get_number(o, "maxConcurrentCalls", &mcc);
    if (!rc)
        rc = get_number(o, "requestsPerMinute", &rpm);
    if (!rc)
        rc = get_number(o, "maxRecords", &mr);
    if (!rc)
        rc = get_number(o, "createdAt", &created);
    cJSON_Delete(o);
    out->max_concurrent_calls = (uint64_t)mcc;
    out->requests_per_minute = (uint64_t)rpm;
    out->max_records = (uint64_t)mr;
    out->created_ms = (uint64_t)created;
    return rc;
}

static int put_ws(struct store_txn *t, const struct ws_settings *ws)
{
    return api_put_json(t, DB_WS, ws->id, strlen(ws->id), ws_to_json(ws));
}

int ws_get(struct store_txn *t, const char *id, size_t len, struct ws_settings *out)
{
    struct store_val v;
    int rc = store_get(t, DB_WS, id, len, &v);
    return rc ? rc : ws_decode(v.ptr, v.len, out);
}

/* A key record: the whole hash, then "ws\nkey_id\ncreated\nlabel". */
static int encode_key(const uint8_t hash[SHA256_LEN], const struct key_info *k, struct buf *b)
{
    int rc = buf_append(b, hash, SHA256_LEN);
    if (!rc)
        rc = buf_printf(b, "%s\n%s\n%llu\n%s", k->ws, k->key_id, (unsigned long long)k->created_ms,
                        k->label);
    return rc;
}

static int decode_key(const void *data, size_t len, struct key_info *k)
{
    if (len < SHA256_LEN)
        return BC_ECORRUPT;
    const char *p = (const char *)data + SHA256_LEN, *end = (const char *)data + len;
    char created[32];
    char *fields[3] = {k->ws, k->key_id, created};
    size_t caps[3] = {sizeof k->ws, sizeof k->key_id, sizeof created};
    for (int i = 0; i < 3; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl || (size_t)(nl - p) >= caps[i])
            return BC_ECORRUPT;
        memcpy(fields[i], p, (size_t)(nl - p));
        fields[i][nl - p] = '\0';
        p = nl + 1;
    }
    k->created_ms = strtoull(created, NULL, 10);
    size_t llen = (size_t)(end - p);
    if (llen >= sizeof k->label)
        return BC_ECORRUPT;
    memcpy(k->label, p, llen);
    k->label[llen] = '\0';
    return 0;
}

struct key_new {
    struct key_info *info;
    uint8_t hash[SHA256_LEN];
};

static int put_key(struct store_txn *t, const struct key_new *kn)
{
    struct buf b = {0};
    int rc = encode_key(kn->hash, kn->info, &b);
    if (!rc)
        rc =
            store_put(t, DB_KEYHASH2WS, kn->hash, KEY_LOOKUP_LEN, b.data, b.len, STORE_NOOVERWRITE);
    buf_free(&b);
    return rc;
}

static int new_key(struct id_gen *ids, const char *ws, const char *label,
                   char api_key[KEY_TEXT_MAX], struct key_info *info, struct key_new *kn)
{
    uint8_t secret[24];
    char hex[2 * sizeof secret + 1];
    if (strlen(label) >= sizeof info->label)
        return BC_EINVAL;
    int rc = crypto_random(secret, sizeof secret);
    if (rc)
        return rc;
    crypto_hex(secret, sizeof secret, hex);
    snprintf(api_key, KEY_TEXT_MAX, "bck_%s", hex);
    crypto_sha256(api_key, strlen(api_key), kn->hash);
    memset(info, 0, sizeof *info);
    snprintf(info->ws, sizeof info->ws, "%s", ws);
    snprintf(info->label, sizeof info->label, "%s", label);
    info->created_ms = clock_now_ms();
    rc = id_new(ids, "key_", info->created_ms, info->key_id);
    kn->info = info;
    return rc < 0 ? rc : 0;
}

struct ws_create_args {
    struct ws_settings *ws;
    struct key_new kn;
};

static int ws_create_txn(struct store_txn *t, void *arg)
{
    struct ws_create_args *a = arg;
    int rc = put_ws(t, a->ws);
    return rc ? rc : put_key(t, &a->kn);
}

int ws_create(struct store *s, struct id_gen *ids, struct ws_settings *ws, const char *label,
              char api_key[KEY_TEXT_MAX], struct key_info *key)
{
    ws->created_ms = clock_now_ms();
    int rc = id_new(ids, "ws_", ws->created_ms, ws->id);
    if (rc < 0)
        return rc;
    struct ws_create_args a = {.ws = ws};
    rc = new_key(ids, ws->id, label, api_key, key, &a.kn);
    return rc ? rc : store_write(s, ws_create_txn, &a);
}

struct ws_update_args {
    const char *id;
    const struct ws_update *u;
    struct ws_settings *out;
    char msg[160];
};

static int ws_update_txn(struct store_txn *t, void *arg)
{
    struct ws_update_args *a = arg;
    struct ws_settings *ws = a->out;
    int rc = ws_get(t, a->id, strlen(a->id), ws);
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
    rc = ws_validate(ws, a->msg, sizeof a->msg);
    return rc ? rc : put_ws(t, ws);
}

int ws_update_limits(struct store *s, const char *id, const struct ws_update *u,
                     struct ws_settings *out)
{
    struct ws_update_args a = {.id = id, .u = u, .out = out};
    return store_write(s, ws_update_txn, &a);
}

int ws_list(struct store *s, cJSON **out)
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
        if (ws_decode(it.val.ptr, it.val.len, &ws) == 0)
            cJSON_AddItemToArray(arr, ws_to_json(&ws));
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

struct key_create_args {
    const char *ws;
    struct key_new kn;
};

static int key_create_txn(struct store_txn *t, void *arg)
{
    struct key_create_args *a = arg;
    struct store_val v;
    int rc = store_get(t, DB_WS, a->ws, strlen(a->ws), &v);
    return rc ? rc : put_key(t, &a->kn);
}

int key_create(struct store *s, struct id_gen *ids, const char *ws, const char *label,
               char api_key[KEY_TEXT_MAX], struct key_info *info)
{
    struct key_create_args a = {.ws = ws};
    int rc = new_key(ids, ws, label, api_key, info, &a.kn);
    return rc ? rc : store_write(s, key_create_txn, &a);
}

static int key_revoke_txn(struct store_txn *t, void *arg)
{
    const char *key_id = arg;
    struct store_iter it;
    uint8_t found[KEY_LOOKUP_LEN];
    int rc, have = 0;
    store_iter_open(&it, t, DB_KEYHASH2WS, "", 0, NULL, 0);
    while ((rc = store_iter_next(&it)) == 1) {
        struct key_info k;
        if (decode_key(it.val.ptr, it.val.len, &k) == 0 && strcmp(k.key_id, key_id) == 0) {
            memcpy(found, it.key.ptr, KEY_LOOKUP_LEN);
            have = 1;
            break;
        }
    }
    store_iter_close(&it);
    if (rc < 0)
        return rc;
    return have ? store_del(t, DB_KEYHASH2WS, found, KEY_LOOKUP_LEN) : BC_ENOTFOUND;
}

int key_revoke(struct store *s, const char *key_id)
{
    return store_write(s, key_revoke_txn, (void *)key_id);
}

int key_list(struct store *s, const char *ws, cJSON **out)
{
    struct store_txn t;
    int rc = store_read_begin(s, &t);
    if (rc)
        return rc;
    struct store_val v;
    rc = store_get(&t, DB_WS, ws, strlen(ws), &v);
    if (rc) {
        store_read_end(&t);
        return rc;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "keys");
    struct store_iter it;
    store_iter_open(&it, &t, DB_KEYHASH2WS, "", 0, NULL, 0);
    while ((rc = store_iter_next(&it)) == 1) {
        struct key_info k;
        if (decode_key(it.val.ptr, it.val.len, &k) != 0 || strcmp(k.ws, ws) != 0)
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "keyId", k.key_id);
        cJSON_AddStringToObject(o, "label", k.label);
        cJSON_AddNumberToObject(o, "createdAt", (double)k.created_ms);
        cJSON_AddItemToArray(arr, o);
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

int key_lookup(struct store_txn *t, const uint8_t hash[SHA256_LEN], struct key_info *info)
{
    struct store_val v;
    int rc = store_get(t, DB_KEYHASH2WS, hash, KEY_LOOKUP_LEN, &v);
    if (rc)
        return rc;
    if (v.len < SHA256_LEN || !crypto_equal(v.ptr, hash, SHA256_LEN))
        return BC_ENOTFOUND;
    return decode_key(v.ptr, v.len, info);
}
