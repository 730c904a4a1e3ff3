/* Hashing, MACs, randomness and identifiers, all through OpenSSL's libcrypto. */
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
struct hasher {
    void *md;  /* EVP_MD */
    void *ctx; /* EVP_MD_CTX */
};
int hasher_init(struct hasher *h);
void hasher_sha256(struct hasher *h, const void *data, size_t len, uint8_t out[SHA256_LEN]);
void hasher_free(struct hasher *h);

/* Constant-time comparison: 1 when equal. The time taken depends only on len. */
int crypto_equal(const void *a, const void *b, size_t len);
/* Cryptographically secure random bytes. Returns 0, or BC_EIO if the generator failed. */
int crypto_random(void *out, size_t len);
/* Lower-case hex of len bytes into out (2*len+1 bytes, NUL-terminated). */
void crypto_hex(const uint8_t *in, size_t len, char *out);

/* Identifiers are a prefix and a ULID: 26 Crockford base32 characters of a 48-bit millisecond
 * timestamp and 80 random bits, so they sort by creation time. Within one millisecond the random
 * part is incremented, which keeps ids created by one process strictly increasing. */
#define ID_ULID_LEN 26
#define ID_MAX      40
struct id_gen {
    uint64_t last_ms;
    uint8_t last_rand[10];
};
/* Writes prefix + ULID + NUL into out (ID_MAX bytes). Returns the length, or a negative error. */
int id_new(struct id_gen *g, const char *prefix, uint64_t now_ms, char out[ID_MAX]);
/* 1 if s is prefix followed by a well-formed ULID. */
int id_valid(const char *prefix, const char *s, size_t len);

#endif
