/* Workspaces and their API keys: the records, their encoding, and the operations the admin CLI and
 * the authentication hook need.
 *
 * An API key is "bck_" and 48 hex digits of randomness. Only its SHA-256 is stored: the first 16
 * bytes are the lookup key, the whole hash is in the record and compared in constant time. */
#ifndef BC_API_WORKSPACES_H
#define BC_API_WORKSPACES_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "model/workspace.h"
#include "store/store.h"
#include "util/crypto.h"
#include "util/id.h"

#define KEY_TEXT_MAX  64
#define KEY_LABEL_MAX 128

/* Which limits an update changes. */
struct ws_update {
    int has_calls_per_second, has_max_concurrent_calls, has_requests_per_minute, has_max_records;
    struct ws_settings v;
};

struct key_info {
    char ws[ID_MAX];
    char key_id[ID_MAX];
    char label[KEY_LABEL_MAX];
    uint64_t created_ms;
};

/* Creates the workspace (id assigned into ws->id) and its first API key. */
int ws_create(struct store *s, struct id_gen *ids, struct ws_settings *ws, const char *label,
              char api_key[KEY_TEXT_MAX], struct key_info *key);
int ws_update_limits(struct store *s, const char *id, const struct ws_update *u,
                     struct ws_settings *out);
/* {"workspaces":[...]} */
int ws_list(struct store *s, cJSON **out);

int key_create(struct store *s, struct id_gen *ids, const char *ws, const char *label,
               char api_key[KEY_TEXT_MAX], struct key_info *info);
int key_revoke(struct store *s, const char *key_id);
/* {"keys":[{"keyId","label","createdAt"}]} */
int key_list(struct store *s, const char *ws, cJSON **out);
/* Finds the key by its SHA-256; 0 with info filled, BC_ENOTFOUND, or a store error. */
int key_lookup(struct store_txn *t, const uint8_t hash[SHA256_LEN], struct key_info *info);

#endif
