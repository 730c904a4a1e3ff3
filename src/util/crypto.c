/* SHA1_Init and friends are deprecated in OpenSSL 3 in favour of EVP, but they are still there,
 * and they are what keeps a keyed HMAC cheap: a SHA_CTX is a plain struct that copies with
 * memcpy, where restarting an EVP_MAC (or copying an EVP_MD_CTX) allocates a new provider
 * context every time. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "util/crypto.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

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

/* The states of SHA-1 after the key's inner and outer pads: what every MAC starts from. */
struct hmac_sha1_pads {
    SHA_CTX inner, outer;
};

int crypto_hmac_sha1_init(struct crypto_hmac_sha1 *h, const void *key, size_t klen)
{
    enum { BLOCK = SHA_CBLOCK };
    uint8_t k[BLOCK] = {0}, pad[BLOCK];
    struct hmac_sha1_pads *p = malloc(sizeof *p);
    h->pads = p;
    if (!p)
        return BC_ENOMEM;
    /* RFC 2104: a key longer than a block is hashed first, a shorter one padded with zeros. */
    if (klen > BLOCK)
        SHA1(key, klen, k);
    else if (klen)
        memcpy(k, key, klen);
    for (size_t i = 0; i < BLOCK; i++)
        pad[i] = k[i] ^ 0x36;
    int ok = SHA1_Init(&p->inner) && SHA1_Update(&p->inner, pad, BLOCK);
    for (size_t i = 0; i < BLOCK; i++)
        pad[i] = k[i] ^ 0x5c;
    ok = ok && SHA1_Init(&p->outer) && SHA1_Update(&p->outer, pad, BLOCK);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(pad, sizeof pad);
    if (ok)
        return 0;
    crypto_hmac_sha1_free(h);
    return BC_ENOMEM;
}

void crypto_hmac_sha1_keyed(struct crypto_hmac_sha1 *h, const void *key, size_t klen,
                            const void *data, size_t len, uint8_t out[SHA1_LEN])
{
    const struct hmac_sha1_pads *p = h->pads;
    if (!p) {
        crypto_hmac_sha1(key, klen, data, len, out);
        return;
    }
    SHA_CTX c = p->inner;
    uint8_t inner[SHA1_LEN];
    if (!SHA1_Update(&c, data, len) || !SHA1_Final(inner, &c)) {
        crypto_hmac_sha1(key, klen, data, len, out);
        return;
    }
    c = p->outer;
    if (!SHA1_Update(&c, inner, sizeof inner) || !SHA1_Final(out, &c))
        crypto_hmac_sha1(key, klen, data, len, out);
    OPENSSL_cleanse(&c, sizeof c);
}

void crypto_hmac_sha1_free(struct crypto_hmac_sha1 *h)
{
    if (h->pads) {
        OPENSSL_cleanse(h->pads, sizeof(struct hmac_sha1_pads));
        free(h->pads);
    }
    h->pads = NULL;
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

/* Eight bytes a step (OpenSSL's CRYPTO_memcmp takes one): every request compares its API key.
 * The empty asm makes diff opaque, so the compiler can neither stop the loop early nor branch
 * on the bytes. */
int crypto_equal(const void *a, const void *b, size_t len)
{
    const unsigned char *x = a, *y = b;
    uint64_t diff = 0, u, v;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        memcpy(&u, x + i, 8);
        memcpy(&v, y + i, 8);
        diff |= u ^ v;
        __asm__("" : "+r"(diff));
    }
    for (; i < len; i++) {
        diff |= (uint64_t)(x[i] ^ y[i]);
        __asm__("" : "+r"(diff));
    }
    return (int)(((diff | (0 - diff)) >> 63) ^ 1);
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

void crypto_base64(const void *in, size_t len, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)len);
}
