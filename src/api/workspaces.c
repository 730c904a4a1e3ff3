#include "api/workspaces.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "model/workspace.h"
#include "store/records.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/json.h"

#define KEY_LOOKUP_LEN 16

static int put_ws(struct store_txn *t, const struct ws_settings *ws)
{
    return records_put_json(t, DB_WS, ws->id, strlen(ws->id), workspace_to_json(ws));
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
