/* Workspace settings (API.md B1): limits, their defaults and the rules they obey. The record is
 * stored as JSON in DB_WS; the API and the dispatcher both decode it here, so a default or a
 * limit is written once. The admin CLI creates (with a first API key), updates and lists
 * workspaces here. */
#ifndef BC_MODEL_WORKSPACE_H
#define BC_MODEL_WORKSPACE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "model/apikey.h"
#include "store/store.h"
#include "util/id.h"

#define WS_NAME_MAX 128

#define WS_DEFAULT_CALLS_PER_SECOND     10.0
#define WS_DEFAULT_MAX_CONCURRENT_CALLS 50
#define WS_DEFAULT_REQUESTS_PER_MINUTE  600
#define WS_DEFAULT_MAX_RECORDS          1000000

struct ws_settings {
    char id[ID_MAX];
    char name[WS_NAME_MAX];
    double calls_per_second;
    uint64_t max_concurrent_calls;
    uint64_t requests_per_minute;
    uint64_t max_records;
    uint64_t created_ms;
    /* Being moved to another instance (docs/fleet.md): the API answers 503 and nothing is
     * dialled. Stored only when set, so records of workspaces never frozen stay as they were. */
    int frozen;
};

void workspace_defaults(struct ws_settings *ws);
/* Checks limits; writes a sentence naming the bad one into msg. */
int workspace_validate(const struct ws_settings *ws, char *msg, size_t cap);
cJSON *workspace_to_json(const struct ws_settings *ws);
int workspace_decode(const void *data, size_t len, struct ws_settings *out);
/* Reads the workspace's settings: 0, BC_ENOTFOUND, or an error. */
int workspace_get(struct store_txn *t, const char *id, size_t len, struct ws_settings *out);

/* Which limits an update changes. */
struct ws_update {
    int has_calls_per_second, has_max_concurrent_calls, has_requests_per_minute, has_max_records;
    struct ws_settings v;
};

/* Creates the workspace (id assigned into ws->id) and its first API key. */
int workspace_create(struct store *s, struct id_gen *ids, struct ws_settings *ws, const char *label,
                     char api_key[APIKEY_TEXT_MAX], struct apikey_info *key);
int workspace_update_limits(struct store *s, const char *id, const struct ws_update *u,
                            struct ws_settings *out);
/* Sets or clears frozen (and bumps the fleet generation the server polls). Returns 0,
 * BC_ENOTFOUND, or a store error; *was gets the previous value. */
int workspace_set_frozen(struct store *s, const char *id, int frozen, int *was);
/* {"workspaces":[...]} */
int workspace_list(struct store *s, cJSON **out);

#endif
