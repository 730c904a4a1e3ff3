/* Webhook signatures: each request carries
 * `X-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, keyed by the workspace's
 * secret "whsec_" + 64 hex digits. */
#ifndef BC_WEBHOOKS_SIGNING_H
#define BC_WEBHOOKS_SIGNING_H

#include <stddef.h>
#include <stdint.h>

#define SIGNING_SECRET_LEN 70 /* "whsec_" and 64 hex digits */
#define SIGNING_HEADER_MAX 128

/* A new random secret. Returns 0 or the error of the random source. */
int signing_new_secret(char out[SIGNING_SECRET_LEN + 1]);
/* The X-Signature value "t=<unix_s>,v1=<hex HMAC-SHA256(secret, "<unix_s>.<body>")>".
 * Returns 0 or BC_ENOMEM. */
int signing_header(const char *secret, size_t secret_len, uint64_t unix_s, const char *body,
                   size_t len, char out[SIGNING_HEADER_MAX]);

#endif
