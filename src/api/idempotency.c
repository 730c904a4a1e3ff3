/* Idempotency-Key handling for uploads: see idempotency.h. */
#include "api/idempotency.h"

#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "http/router.h"
#include "util/clock.h"
#include "util/err.h"

int idempotency_header(const struct http_request *req, char *out)
{
    out[0] = '\0';
    const struct http_slice *ik = http_header(req, "idempotency-key");
    if (!ik)
        return 0;
    if (ik->len == 0 || ik->len > IDEMPOTENCY_HEADER_MAX)
        return BC_EINVAL;
    memcpy(out, ik->ptr, ik->len);
    out[ik->len] = '\0';
    return 1;
}

void idempotency_respond_bad_header(struct http_request *req)
{
    api_respond_error(req, 400, "invalid_header", "Idempotency-Key must be 1 to 255 characters.",
                      "header", "Idempotency-Key");
}

int idempotency_find(struct store_txn *t, const char *ws, const char *key, struct idem_rec *r)
{
    char k[IDEM_KEY_MAX];
    struct store_val v;
    int rc = store_get(t, DB_IDEM, k, idem_key(k, ws, strlen(ws), key, strlen(key)), &v);
    if (rc)
        return rc;
    rc = idem_decode(&v, r);
    if (rc)
        return rc;
    return r->expires_ms <= clock_now_ms() ? BC_ENOTFOUND : 0;
}

int idempotency_same_request(const struct idem_rec *r, const uint8_t digest[SHA256_LEN])
{
    return !r->has_hash || crypto_equal(r->hash, digest, SHA256_LEN);
}

int idempotency_put(struct store_txn *t, const char *ws, const char *key, const char *batch,
                    uint64_t created_ms, const uint8_t digest[SHA256_LEN])
{
    char k[IDEM_KEY_MAX];
    uint8_t v[IDEM_VAL_LEN];
    struct idem_rec rec = {.expires_ms = created_ms + IDEMPOTENCY_TTL_MS, .has_hash = 1};
    snprintf(rec.batch, sizeof rec.batch, "%s", batch);
    memcpy(rec.hash, digest, SHA256_LEN);
    idem_encode(v, &rec);
    size_t klen = idem_key(k, ws, strlen(ws), key, strlen(key));
    return store_put(t, DB_IDEM, k, klen, v, sizeof v, 0);
}

/* Stripe's rule: one key, one request. Reusing it for another is a client bug (a key derived
 * from something that is not unique per upload, say), and answering the first batch would hide
 * that the second file was never stored. */
void idempotency_reused_message(char *msg, size_t cap, const char *key, const char *batch)
{
    snprintf(msg, cap,
             "Idempotency-Key \"%.60s\" was already used in the last 24 hours for a "
             "different upload (another file or other form fields), which created %s; nothing "
             "was stored now. Send a new key for a new upload, or repeat the first upload "
             "exactly to get its answer again.",
             key, batch);
}
