/* API keys: the record, its encoding, and the operations the admin CLI and the authentication
 * hook need.
 *
 * An API key is "bck_" and 48 hex digits of randomness. Only its SHA-256 is stored: the first 16
 * bytes are the lookup key, the whole hash is in the record and compared in constant time. */
#ifndef BC_MODEL_APIKEY_H
#define BC_MODEL_APIKEY_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "store/store.h"
#include "util/crypto.h"
#include "util/id.h"

#define APIKEY_TEXT_MAX  64
#define APIKEY_LABEL_MAX 128

struct apikey_info {
    char ws[ID_MAX];
    char key_id[ID_MAX];
    char label[APIKEY_LABEL_MAX];
    uint64_t created_ms;
};

/* A key made but not yet stored: a workspace and its first key are written in one transaction. */
struct apikey_pending {
    struct apikey_info *info;
    uint8_t hash[SHA256_LEN];
};

/* Makes a key for workspace ws: its text into api_key, its record into *info, and what
 * apikey_put stores into *kn. */
int apikey_prepare(struct id_gen *ids, const char *ws, const char *label,
                   char api_key[APIKEY_TEXT_MAX], struct apikey_info *info,
                   struct apikey_pending *kn);
/* Stores a prepared key (in the caller's write transaction). */
int apikey_put(struct store_txn *t, const struct apikey_pending *kn);

int apikey_create(struct store *s, struct id_gen *ids, const char *ws, const char *label,
                  char api_key[APIKEY_TEXT_MAX], struct apikey_info *info);
int apikey_revoke(struct store *s, const char *key_id);
/* {"keys":[{"keyId","label","createdAt"}]} */
int apikey_list(struct store *s, const char *ws, cJSON **out);
/* Finds the key by its SHA-256; 0 with info filled, BC_ENOTFOUND, or a store error. */
int apikey_lookup(struct store_txn *t, const uint8_t hash[SHA256_LEN], struct apikey_info *info);

#endif
