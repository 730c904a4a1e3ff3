/* Hashing, MACs and randomness, all through OpenSSL's libcrypto. */
#ifndef BC_UTIL_CRYPTO_H
#define BC_UTIL_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32
#define SHA1_LEN   20

void crypto_sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);
void crypto_hmac_sha256(const void *key, size_t klen, const void *data, size_t len,
                        uint8_t out[SHA256_LEN]);
void crypto_hmac_sha1(const void *key, size_t klen, const void *data, size_t len,
                      uint8_t out[SHA1_LEN]);
/* SHA-256 with a context kept between calls: an API key is hashed on every request, and setting
 * up a fresh OpenSSL context each time costs four times the hashing itself. */
struct crypto_hasher {
    void *md;  /* EVP_MD */
    void *ctx; /* EVP_MD_CTX */
};
int crypto_hasher_init(struct crypto_hasher *h);
void crypto_hasher_sha256(struct crypto_hasher *h, const void *data, size_t len,
                          uint8_t out[SHA256_LEN]);
void crypto_hasher_free(struct crypto_hasher *h);

/* HMAC-SHA1 under one key, keyed once: the SHA-1 states after the key's inner and outer pads are
 * kept, so a MAC costs the hashing of the data and one more block (HMAC() sets up the pads and
 * OpenSSL's contexts every time, several times the work for a short message). Not thread-safe:
 * one user. */
struct crypto_hmac_sha1 {
    void *pads; /* the two saved states; NULL: not keyed */
};
/* Returns 0, or BC_ENOMEM (the key then falls back to crypto_hmac_sha1 in every call). */
int crypto_hmac_sha1_init(struct crypto_hmac_sha1 *h, const void *key, size_t klen);
/* HMAC-SHA1 of data under h's key. key and klen are h's key, for the fallback. */
void crypto_hmac_sha1_keyed(struct crypto_hmac_sha1 *h, const void *key, size_t klen,
                            const void *data, size_t len, uint8_t out[SHA1_LEN]);
void crypto_hmac_sha1_free(struct crypto_hmac_sha1 *h);

/* SHA-256 of data that arrives in pieces (an upload's file, say). */
struct crypto_sha256_stream {
    void *ctx; /* EVP_MD_CTX */
};
/* Returns 0, or BC_ENOMEM (the stream is then inert: update does nothing, end fails). */
int crypto_sha256_begin(struct crypto_sha256_stream *s);
void crypto_sha256_update(struct crypto_sha256_stream *s, const void *data, size_t len);
/* Writes the digest and frees the stream. Returns 0, or BC_ENOMEM if it never started. */
int crypto_sha256_end(struct crypto_sha256_stream *s, uint8_t out[SHA256_LEN]);
/* Frees a stream that is not ended (safe on a zeroed or ended one). */
void crypto_sha256_free(struct crypto_sha256_stream *s);

/* Constant-time comparison: 1 when equal. The time taken depends only on len. */
int crypto_equal(const void *a, const void *b, size_t len);
/* Cryptographically secure random bytes. Returns 0, or BC_EIO if the generator failed. */
int crypto_random(void *out, size_t len);
/* Lower-case hex of len bytes into out (2*len+1 bytes, NUL-terminated). */
void crypto_hex(const uint8_t *in, size_t len, char *out);

/* The length of base64 of len bytes with padding, without the NUL crypto_base64 also writes. */
#define CRYPTO_BASE64_LEN(len) (((len) + 2) / 3 * 4)
/* Writes in[0..len) as standard base64 with padding and a NUL (CRYPTO_BASE64_LEN(len) + 1 bytes):
 * the Twilio signature and the Basic authorization header. */
void crypto_base64(const void *in, size_t len, char *out);

#endif
