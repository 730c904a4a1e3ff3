#include "util/crypto.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "util/err.h"

void crypto_sha256(const void *data, size_t len, uint8_t out[SHA256_LEN])
{
    unsigned int n = SHA256_LEN;
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

void crypto_hmac_sha256(const void *key, size_t klen, const void *data, size_t len,
                        uint8_t out[SHA256_LEN])
{
    unsigned int n = SHA256_LEN;
    HMAC(EVP_sha256(), key, (int)klen, data, len, out, &n);
}

void crypto_hmac_sha1(const void *key, size_t klen, const void *data, size_t len,
                      uint8_t out[SHA1_LEN])
{
    unsigned int n = SHA1_LEN;
    HMAC(EVP_sha1(), key, (int)klen, data, len, out, &n);
}

int crypto_hmac_sha1_init(struct crypto_hmac_sha1 *h, const void *key, size_t klen)
{
    static const uint8_t none;
    char digest[] = "SHA1";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    h->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    h->ctx = h->mac ? EVP_MAC_CTX_new(h->mac) : NULL;
    if (h->ctx && EVP_MAC_init(h->ctx, klen ? key : &none, klen, params) == 1)
        return 0;
    crypto_hmac_sha1_free(h);
    return BC_ENOMEM;
}

void crypto_hmac_sha1_keyed(struct crypto_hmac_sha1 *h, const void *key, size_t klen,
                            const void *data, size_t len, uint8_t out[SHA1_LEN])
{
    size_t n = 0;
    /* A NULL key restarts the MAC with the key it has: OpenSSL copies the pads' saved state. */
    if (!h->ctx || EVP_MAC_init(h->ctx, NULL, 0, NULL) != 1 ||
        EVP_MAC_update(h->ctx, data, len) != 1 || EVP_MAC_final(h->ctx, out, &n, SHA1_LEN) != 1 ||
        n != SHA1_LEN)
        crypto_hmac_sha1(key, klen, data, len, out);
}

void crypto_hmac_sha1_free(struct crypto_hmac_sha1 *h)
{
    EVP_MAC_CTX_free(h->ctx);
    EVP_MAC_free(h->mac);
    h->ctx = h->mac = NULL;
}

int crypto_hasher_init(struct crypto_hasher *h)
{
    h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    h->ctx = EVP_MD_CTX_new();
    return h->md && h->ctx ? 0 : BC_ENOMEM;
}

void crypto_hasher_sha256(struct crypto_hasher *h, const void *data, size_t len,
                          uint8_t out[SHA256_LEN])
{
    unsigned int n = SHA256_LEN;
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, h->md, NULL) != 1 ||
        EVP_DigestUpdate(h->ctx, data, len) != 1 || EVP_DigestFinal_ex(h->ctx, out, &n) != 1)
        crypto_sha256(data, len, out);
}

void crypto_hasher_free(struct crypto_hasher *h)
{
    EVP_MD_CTX_free(h->ctx);
    EVP_MD_free(h->md);
    h->ctx = h->md = NULL;
}

int crypto_sha256_begin(struct crypto_sha256_stream *s)
{
    s->ctx = EVP_MD_CTX_new();
    if (s->ctx && EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) == 1)
        return 0;
    crypto_sha256_free(s);
    return BC_ENOMEM;
}

void crypto_sha256_update(struct crypto_sha256_stream *s, const void *data, size_t len)
{
    if (s->ctx && EVP_DigestUpdate(s->ctx, data, len) != 1)
        crypto_sha256_free(s);
}

int crypto_sha256_end(struct crypto_sha256_stream *s, uint8_t out[SHA256_LEN])
{
    unsigned int n = SHA256_LEN;
    int ok = s->ctx && EVP_DigestFinal_ex(s->ctx, out, &n) == 1;
    crypto_sha256_free(s);
    return ok ? 0 : BC_ENOMEM;
}

void crypto_sha256_free(struct crypto_sha256_stream *s)
{
    EVP_MD_CTX_free(s->ctx);
    s->ctx = NULL;
}

int crypto_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

int crypto_random(void *out, size_t len)
{
    return RAND_bytes(out, (int)len) == 1 ? 0 : BC_EIO;
}

void crypto_hex(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}
