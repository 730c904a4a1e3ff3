#include "webhooks/signing.h"

#include <stdio.h>

#include "util/buf.h"
#include "util/crypto.h"

#define SECRET_PREFIX "whsec_"
#define SECRET_BYTES  32

int signing_new_secret(char out[SIGNING_SECRET_LEN + 1])
{
    uint8_t bytes[SECRET_BYTES];
    char hex[2 * SECRET_BYTES + 1];
    int rc = crypto_random(bytes, sizeof bytes);
    if (rc)
        return rc;
    crypto_hex(bytes, sizeof bytes, hex);
    snprintf(out, SIGNING_SECRET_LEN + 1, SECRET_PREFIX "%s", hex);
    return 0;
}

int signing_header(const char *secret, size_t secret_len, uint64_t unix_s, const char *body,
                   size_t len, char out[SIGNING_HEADER_MAX])
{
    struct buf msg = {0};
    int rc = buf_printf(&msg, "%llu.", (unsigned long long)unix_s);
    if (!rc)
        rc = buf_append(&msg, body, len);
    if (rc) {
        buf_free(&msg);
        return rc;
    }
    uint8_t mac[SHA256_LEN];
    char hex[2 * SHA256_LEN + 1];
    crypto_hmac_sha256(secret, secret_len, msg.data, msg.len, mac);
    crypto_hex(mac, sizeof mac, hex);
    buf_free(&msg);
    snprintf(out, SIGNING_HEADER_MAX, "t=%llu,v1=%s", (unsigned long long)unix_s, hex);
    return 0;
}
