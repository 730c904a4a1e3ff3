/* Tests for the keyed HMAC-SHA1 (the callback signature's MAC): it must give what OpenSSL's
 * one-shot HMAC() gives for every key length (empty, shorter than a block, a block, longer, which
 * RFC 2104 hashes first) and every data length around the block boundaries, keyed once and used
 * many times; RFC 2202's vectors pin both. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "util/crypto.h"

static void hex(const uint8_t *mac, char out[2 * SHA1_LEN + 1])
{
    crypto_hex(mac, SHA1_LEN, out);
}

/* RFC 2202 section 3, cases 1, 2, 3, 6 and 7. */
static void test_rfc2202(void)
{
    uint8_t k20[20], k80[80], d50[50];
    memset(k20, 0x0b, sizeof k20);
    memset(k80, 0xaa, sizeof k80);
    memset(d50, 0xdd, sizeof d50);
    uint8_t kaa20[20];
    memset(kaa20, 0xaa, sizeof kaa20);
    static const char big_key[] = "Test Using Larger Than Block-Size Key - Hash Key First";
    static const char big_both[] =
        "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data";
    const struct {
        const void *key;
        size_t klen;
        const void *data;
        size_t dlen;
        const char *mac;
    } cases[] = {
        {k20, 20, "Hi There", 8, "b617318655057264e28bc0b6fb378c8ef146be00"},
        {"Jefe", 4, "what do ya want for nothing?", 28, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
        {kaa20, 20, d50, 50, "125d7342b9ac11cd91a39af48aa17b4f63f175d3"},
        {k80, 80, big_key, sizeof big_key - 1, "aa4ae5e15272d00e95705637ce8a3b55ed402112"},
        {k80, 80, big_both, sizeof big_both - 1, "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct crypto_hmac_sha1 h;
        CHECK_INT(crypto_hmac_sha1_init(&h, cases[i].key, cases[i].klen), 0);
        uint8_t mac[SHA1_LEN];
        char text[2 * SHA1_LEN + 1];
        /* Twice: the saved states must not be changed by a MAC. */
        for (int round = 0; round < 2; round++) {
            crypto_hmac_sha1_keyed(&h, cases[i].key, cases[i].klen, cases[i].data, cases[i].dlen,
                                   mac);
            hex(mac, text);
            CHECK_REPORT(strcmp(text, cases[i].mac) == 0, "case %zu round %d: %s", i, round, text);
        }
        crypto_hmac_sha1_free(&h);
        CHECK(h.pads == NULL);
    }
}

/* Every key and data length around SHA-1's 64-byte block against HMAC(). */
static void test_against_hmac(void)
{
    static const size_t klens[] = {0, 1, 5, 20, 63, 64, 65, 100, 200};
    static const size_t dlens[] = {0, 1, 19, 20, 55, 56, 63, 64, 65, 119, 120, 128, 700, 5000};
    uint8_t key[200], data[5000];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 13 + 1);
    for (size_t k = 0; k < sizeof klens / sizeof klens[0]; k++) {
        struct crypto_hmac_sha1 h;
        CHECK_INT(crypto_hmac_sha1_init(&h, key, klens[k]), 0);
        for (size_t d = 0; d < sizeof dlens / sizeof dlens[0]; d++) {
            uint8_t want[SHA1_LEN], got[SHA1_LEN];
            crypto_hmac_sha1(key, klens[k], data, dlens[d], want);
            crypto_hmac_sha1_keyed(&h, key, klens[k], data, dlens[d], got);
            CHECK_REPORT(memcmp(want, got, SHA1_LEN) == 0, "key %zu bytes, data %zu bytes",
                         klens[k], dlens[d]);
        }
        crypto_hmac_sha1_free(&h);
        crypto_hmac_sha1_free(&h); /* twice is harmless */
    }
}

/* A key that was never set up (or failed to be) answers through HMAC() with the key given. */
static void test_unkeyed_fallback(void)
{
    struct crypto_hmac_sha1 h = {0};
    uint8_t want[SHA1_LEN], got[SHA1_LEN];
    crypto_hmac_sha1("12345", 5, "data", 4, want);
    crypto_hmac_sha1_keyed(&h, "12345", 5, "data", 4, got);
    CHECK(memcmp(want, got, SHA1_LEN) == 0);
    crypto_hmac_sha1_free(&h);
}

/* RFC 4648's test vectors: every padding case, and the length the macro promises. */
static void test_base64(void)
{
    static const char *const vectors[][2] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        char out[16];
        size_t len = strlen(vectors[i][0]);
        memset(out, '#', sizeof out);
        crypto_base64(vectors[i][0], len, out);
        CHECK_REPORT(strcmp(out, vectors[i][1]) == 0, "%s: %s", vectors[i][0], out);
        CHECK(strlen(out) == CRYPTO_BASE64_LEN(len));
    }
}

/* crypto_equal over every length up to 40 (whole words, tails, both), equal and with one bit
 * flipped at each position, from unaligned addresses. */
static void test_equal(void)
{
    unsigned char a[48], b[48];
    for (size_t i = 0; i < sizeof a; i++)
        a[i] = b[i] = (unsigned char)(i * 37 + 11);
    for (size_t len = 0; len <= 40; len++) {
        CHECK_REPORT(crypto_equal(a + 1, b + 1, len) == 1, "len %zu equal", len);
        for (size_t at = 0; at < len; at++) {
            for (int bit = 0; bit < 8; bit += 7) {
                b[1 + at] ^= (unsigned char)(1u << bit);
                CHECK_REPORT(crypto_equal(a + 1, b + 1, len) == 0, "len %zu at %zu bit %d", len, at,
                             bit);
                b[1 + at] ^= (unsigned char)(1u << bit);
            }
        }
        /* A difference just past the length does not count. */
        b[1 + len] ^= 0x80;
        CHECK_REPORT(crypto_equal(a + 1, b + 1, len) == 1, "len %zu, a difference after it", len);
        b[1 + len] ^= 0x80;
    }
}

CHECK_MAIN(CHECK_CASE(test_rfc2202), CHECK_CASE(test_base64), CHECK_CASE(test_against_hmac),
           CHECK_CASE(test_unkeyed_fallback), CHECK_CASE(test_equal))
