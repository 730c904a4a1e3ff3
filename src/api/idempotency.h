/* The Idempotency-Key of POST /v1/api/batch-calls: reading the header, finding the record of the
 * batch a key created within the last 24 hours, telling whether a repeated request is the same
 * one (by its fingerprint, ingest_digest), and recording a new key with the batch it created. */
#ifndef BC_API_IDEMPOTENCY_H
#define BC_API_IDEMPOTENCY_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "store/records.h"
#include "store/store.h"
#include "util/crypto.h"

#define IDEMPOTENCY_TTL_MS     (24ull * 3600 * 1000)
#define IDEMPOTENCY_HEADER_MAX 255

/* The request's Idempotency-Key into out (IDEMPOTENCY_HEADER_MAX + 1 bytes, NUL-terminated): 1,
 * 0 when it has none (out is ""), or BC_EINVAL when it is empty or too long (answered by the
 * caller with idempotency_respond_bad_header). */
int idempotency_header(const struct http_request *req, char *out);
void idempotency_respond_bad_header(struct http_request *req);
/* Looks up an Idempotency-Key: the record of the batch it created within the last 24 h, or
 * BC_ENOTFOUND. */
int idempotency_find(struct store_txn *t, const char *ws, const char *key, struct idem_rec *r);
/* Whether a request with this fingerprint may replay the record's answer. Records stored before
 * requests were fingerprinted match any request, as every request did then. */
int idempotency_same_request(const struct idem_rec *r, const uint8_t digest[SHA256_LEN]);
/* Records that key created batch at created_ms, for a request with this fingerprint. */
int idempotency_put(struct store_txn *t, const char *ws, const char *key, const char *batch,
                    uint64_t created_ms, const uint8_t digest[SHA256_LEN]);
/* The message of a key reused for a different request (422 idempotency_key_reused). */
void idempotency_reused_message(char *msg, size_t cap, const char *key, const char *batch);

#endif
