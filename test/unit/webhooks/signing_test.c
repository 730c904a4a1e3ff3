/* Tests for src/webhooks/signing.c: the X-Signature value and new secrets. */
#include <string.h>

#include "check.h"
#include "util/crypto.h"
#include "webhooks/signing.h"

/* The value a receiver computes: HMAC-SHA256(secret, "<t>.<body>") in hex. */
static void test_known_vector(void)
{
    char sig[SIGNING_HEADER_MAX];
    CHECK_INT(signing_header("whsec_test", 10, 1700000000, "{\"a\":1}", 7, sig), 0);
    CHECK_STR(sig, "t=1700000000,v1="
                   "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789");
}

/* RFC 4231 test case 2 ("Jefe"), reached through the "<t>." prefix: t=0 signs "0.<body>". */
static void test_matches_hmac(void)
{
    const char *body = "what do ya want for nothing?";
    uint8_t mac[SHA256_LEN];
    char hex[2 * SHA256_LEN + 1], want[SIGNING_HEADER_MAX], sig[SIGNING_HEADER_MAX];
    crypto_hmac_sha256("Jefe", 4, "0.what do ya want for nothing?", 30, mac);
    crypto_hex(mac, sizeof mac, hex);
    snprintf(want, sizeof want, "t=0,v1=%s", hex);
    CHECK_INT(signing_header("Jefe", 4, 0, body, strlen(body), sig), 0);
    CHECK_STR(sig, want);
    crypto_hmac_sha256("Jefe", 4, body, strlen(body), mac);
    crypto_hex(mac, sizeof mac, hex);
    CHECK_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

/* Only len bytes of the body are signed. */
static void test_body_is_ptr_len(void)
{
    char a[SIGNING_HEADER_MAX], b[SIGNING_HEADER_MAX];
    CHECK_INT(signing_header("k", 1, 5, "{}xyz", 2, a), 0);
    CHECK_INT(signing_header("k", 1, 5, "{}", 2, b), 0);
    CHECK_STR(a, b);
}

static void test_new_secret(void)
{
    char s1[SIGNING_SECRET_LEN + 1], s2[SIGNING_SECRET_LEN + 1];
    CHECK_INT(signing_new_secret(s1), 0);
    CHECK_INT(signing_new_secret(s2), 0);
    CHECK_INT(strlen(s1), SIGNING_SECRET_LEN);
    CHECK(strncmp(s1, "whsec_", 6) == 0);
    CHECK(strspn(s1 + 6, "0123456789abcdef") == 64);
    CHECK(strcmp(s1, s2) != 0);
}

CHECK_MAIN(CHECK_CASE(test_known_vector), CHECK_CASE(test_matches_hmac),
           CHECK_CASE(test_body_is_ptr_len), CHECK_CASE(test_new_secret))
