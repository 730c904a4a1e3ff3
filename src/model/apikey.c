/* API keys: made, stored by their hash, listed, revoked and looked up. */
#include "model/apikey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/records.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/err.h"

/* The first bytes of a key's SHA-256: its lookup key in DB_KEYHASH2WS. */
#define APIKEY_LOOKUP_LEN 16

/* A key record: the whole hash, then "ws\nkey_id\ncreated\nlabel". */
static int encode_key(const uint8_t hash[SHA256_LEN], const struct apikey_info *k, struct buf *b)
{
    int rc = buf_append(b, hash, SHA256_LEN);
    if (!rc)
        rc = buf_printf(b, "%s\n%s\n%llu\n%s", k->ws, k->key_id, (unsigned long long)k->created_ms,
                        k->label);
    return rc;
}

static int decode_key(const void *data, size_t len, struct apikey_info *k)
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

int apikey_put(struct store_txn *t, const struct apikey_pending *kn)
{
    struct buf b = {0};
    int rc = encode_key(kn->hash, kn->info, &b);
    if (!rc)
        rc = store_put(t, DB_KEYHASH2WS, kn->hash, APIKEY_LOOKUP_LEN, b.data, b.len,
                       STORE_NOOVERWRITE);
    if (!rc)
        rc = store_auth_changed(t);
    buf_free(&b);
    return rc;
}

int apikey_prepare(struct id_gen *ids, const char *ws, const char *label,
                   char api_key[APIKEY_TEXT_MAX], struct apikey_info *info,
                   struct apikey_pending *kn)
{
    uint8_t secret[24];
    char hex[2 * sizeof secret + 1];
    if (strlen(label) >= sizeof info->label)
        return BC_EINVAL;
    int rc = crypto_random(secret, sizeof secret);
    if (rc)
        return rc;
    crypto_hex(secret, sizeof secret, hex);
    snprintf(api_key, APIKEY_TEXT_MAX, "bck_%s", hex);
    crypto_sha256(api_key, strlen(api_key), kn->hash);
    memset(info, 0, sizeof *info);
    snprintf(info->ws, sizeof info->ws, "%s", ws);
    snprintf(info->label, sizeof info->label, "%s", label);
    info->created_ms = clock_now_ms();
    rc = id_new(ids, "key_", info->created_ms, info->key_id);
    kn->info = info;
    return rc < 0 ? rc : 0;
}

struct apikey_create_args {
    const char *ws;
    struct apikey_pending kn;
};

static int apikey_create_txn(struct store_txn *t, void *arg)
{
    struct apikey_create_args *a = arg;
    struct store_val v;
    int rc = store_get(t, DB_WS, a->ws, strlen(a->ws), &v);
    return rc ? rc : apikey_put(t, &a->kn);
}

int apikey_create(struct store *s, struct id_gen *ids, const char *ws, const char *label,
                  char api_key[APIKEY_TEXT_MAX], struct apikey_info *info)
{
    struct apikey_create_args a = {.ws = ws};
    int rc = apikey_prepare(ids, ws, label, api_key, info, &a.kn);
    return rc ? rc : store_write(s, apikey_create_txn, &a);
}

static int apikey_revoke_txn(struct store_txn *t, void *arg)
{
    const char *key_id = arg;
    struct store_iter it;
    uint8_t found[APIKEY_LOOKUP_LEN];
    int rc, have = 0;
    store_iter_open(&it, t, DB_KEYHASH2WS, "", 0, NULL, 0);
    while ((rc = store_iter_next(&it)) == 1) {
        struct apikey_info k;
        if (decode_key(it.val.ptr, it.val.len, &k) == 0 && strcmp(k.key_id, key_id) == 0) {
            memcpy(found, it.key.ptr, APIKEY_LOOKUP_LEN);
            have = 1;
            break;
        }
    }
    store_iter_close(&it);
    if (rc < 0)
        return rc;
    if (!have)
        return BC_ENOTFOUND;
    rc = store_del(t, DB_KEYHASH2WS, found, APIKEY_LOOKUP_LEN);
    return rc ? rc : store_auth_changed(t); /* servers stop accepting the key at once */
}

int apikey_revoke(struct store *s, const char *key_id)
{
    return store_write(s, apikey_revoke_txn, (void *)key_id);
}

int apikey_list(struct store *s, const char *ws, cJSON **out)
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
        struct apikey_info k;
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

int apikey_lookup(struct store_txn *t, const uint8_t hash[SHA256_LEN], struct apikey_info *info)
{
    struct store_val v;
    int rc = store_get(t, DB_KEYHASH2WS, hash, APIKEY_LOOKUP_LEN, &v);
    if (rc)
        return rc;
    if (v.len < SHA256_LEN || !crypto_equal(v.ptr, hash, SHA256_LEN))
        return BC_ENOTFOUND;
    return decode_key(v.ptr, v.len, info);
}
