/* The workspace's webhook target: DB_WEBHOOK holds one record per workspace,
 * {"url" (or null), "secret", "createdAt"}. The URL receives every event of the workspace's
 * batches; the secret signs those and the events sent to a batch's own webhookUrl. Shared by the
 * API, the admin CLI and the delivery worker. */
#ifndef BC_WEBHOOKS_TARGET_H
#define BC_WEBHOOKS_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "model/url.h"
#include "store/store.h"
#include "webhooks/signing.h"

struct target {
    char url[URL_MAX + 1]; /* "" when the workspace only has a secret */
    char secret[SIGNING_SECRET_LEN + 1];
    uint64_t created_ms;
};

/* Reads the workspace's record: 0, BC_ENOTFOUND, BC_ECORRUPT or a store error. */
int target_get(struct store_txn *t, const char *ws, size_t wslen, struct target *out);
/* Inside a write transaction: writes a record with a new secret (url NULL: none) into out. */
int target_put(struct store_txn *t, const char *ws, size_t wslen, const char *url,
               struct target *out);
/* Sets the workspace's URL (NULL: none, only a signing secret for batch webhookUrls) with a new
 * secret, replacing any earlier one. Returns 0, BC_ENOTFOUND (no such workspace), BC_EINVAL (bad
 * URL, see url_check) or a store error. */
int target_set(struct store *s, const char *ws, size_t wslen, const char *url,
               char secret[SIGNING_SECRET_LEN + 1], uint64_t *created_ms);
/* Removes the workspace's URL and secret. Returns 0, BC_ENOTFOUND or a store error. */
int target_remove(struct store *s, const char *ws, size_t wslen);

#endif
