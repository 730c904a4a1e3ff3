/* Tests for src/store/wsfile.c, the workspace export format: a small file decodes to the same
 * records whatever way it is split (at every byte, and byte by byte), every truncation and every
 * flipped byte is refused, and the limits hold. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store/wsfile.h"
#include "util/buf.h"
#include "util/err.h"

static int to_buf(void *arg, const void *p, size_t n)
{
    return buf_append(arg, p, n);
}

/* What the decoder saw: "table|key|value\n" per record, values as their length and first byte. */
static int collect(void *arg, const struct wsfile_record *r)
{
    struct buf *b = arg;
    return buf_printf(b, "%.*s|%.*s|%zu:%d@%llu\n", (int)r->tlen, r->table, (int)r->klen,
                      (const char *)r->key, r->vlen, r->vlen ? ((const uint8_t *)r->val)[0] : -1,
                      (unsigned long long)r->offset);
}

static int refuse(void *arg, const struct wsfile_record *r)
{
    (void)arg;
    (void)r;
    return BC_EIO;
}

static struct buf sample(uint8_t sha[SHA256_LEN])
{
    struct buf out = {0};
    struct wsfile_enc e;
    CHECK_INT(wsfile_enc_begin(&e, "ws_01TEST", to_buf, &out), 0);
    static uint8_t big[70000];
    memset(big, 7, sizeof big);
    CHECK_INT(wsfile_enc_record(&e, "job", "batch_1\x00\x00\x00\x01", 11, "v1", 2), 0);
    CHECK_INT(wsfile_enc_record(&e, "jobstate", "k2", 2, "", 0), 0); /* an empty value */
    CHECK_INT(wsfile_enc_record(&e, "transcript", "k3", 2, big, sizeof big), 0);
    CHECK_INT(wsfile_enc_record(&e, "ws", "ws_01TEST", 9, "{}", 2), 0);
    CHECK_INT(wsfile_enc_end(&e, sha), 0);
    CHECK_INT(e.records, 4);
    CHECK_INT(e.bytes, out.len);
    return out;
}

/* Decodes data fed in pieces at the given split points; returns the decoder's result. */
static int decode(const struct buf *data, const size_t *cuts, size_t ncuts, struct buf *seen,
                  char ws[ID_MAX])
{
    struct wsfile_dec d;
    seen->len = 0;
    int rc = wsfile_dec_init(&d, collect, seen);
    size_t at = 0;
    for (size_t i = 0; i <= ncuts && !rc; i++) {
        size_t end = i < ncuts ? cuts[i] : data->len;
        rc = wsfile_dec_feed(&d, data->data + at, end - at);
        at = end;
    }
    if (!rc)
        rc = wsfile_dec_finish(&d);
    if (ws)
        snprintf(ws, ID_MAX, "%s", d.ws);
    wsfile_dec_free(&d);
    return rc;
}

static void test_every_split_point(void)
{
    uint8_t sha[SHA256_LEN];
    struct buf data = sample(sha), whole = {0}, seen = {0};
    char ws[ID_MAX];
    CHECK_INT(decode(&data, NULL, 0, &whole, ws), 0);
    CHECK_STR(ws, "ws_01TEST");
    CHECK(strstr(whole.data, "job|batch_1") != NULL);
    CHECK(strstr(whole.data, "jobstate|k2|0:-1") != NULL);
    CHECK(strstr(whole.data, "transcript|k3|70000:7") != NULL);
    CHECK(strstr(whole.data, "ws|ws_01TEST|2:123") != NULL);
    int same = 1;
    for (size_t cut = 0; cut <= data.len; cut++) {
        size_t cuts[1] = {cut};
        if (decode(&data, cuts, 1, &seen, NULL) != 0 || seen.len != whole.len ||
            memcmp(seen.data, whole.data, whole.len) != 0) {
            same = 0;
            fprintf(stderr, "split at %zu differs\n", cut);
            break;
        }
    }
    CHECK(same);
    /* Byte by byte. */
    size_t *cuts = malloc(data.len * sizeof *cuts);
    for (size_t i = 0; i < data.len; i++)
        cuts[i] = i;
    CHECK_INT(decode(&data, cuts, data.len, &seen, NULL), 0);
    CHECK(seen.len == whole.len && memcmp(seen.data, whole.data, whole.len) == 0);
    free(cuts);
    /* The trailer's digest is the SHA-256 of everything before it. */
    uint8_t expect[SHA256_LEN];
    crypto_sha256(data.data, data.len - 1 - 8 - SHA256_LEN, expect);
    CHECK(memcmp(expect, sha, SHA256_LEN) == 0);
    CHECK(memcmp(data.data + data.len - SHA256_LEN, sha, SHA256_LEN) == 0);
    buf_free(&data);
    buf_free(&whole);
    buf_free(&seen);
}

static void test_truncations_and_flips_are_refused(void)
{
    uint8_t sha[SHA256_LEN];
    struct buf data = sample(sha), seen = {0};
    int all = 1;
    for (size_t len = 0; len < data.len; len++) {
        struct buf part = {data.data, len, len};
        if (decode(&part, NULL, 0, &seen, NULL) != BC_ECORRUPT) {
            all = 0;
            fprintf(stderr, "truncation at %zu accepted\n", len);
            break;
        }
    }
    CHECK(all);
    /* Every byte flipped (one bit), at every position but inside the big value, which is
     * sampled: the digest, the framing or the header catches each. */
    for (size_t i = 0; i<data.len; i += i> 200 && i < data.len - 200 ? 997 : 1) {
        data.data[i] ^= 0x10;
        int rc = decode(&data, NULL, 0, &seen, NULL);
        data.data[i] ^= 0x10;
        if (rc == 0) {
            all = 0;
            fprintf(stderr, "flip at %zu accepted\n", i);
            break;
        }
    }
    CHECK(all);
    /* Anything after the trailer. */
    buf_append(&data, "x", 1);
    CHECK_INT(decode(&data, NULL, 0, &seen, NULL), BC_ECORRUPT);
    buf_free(&data);
    buf_free(&seen);
}

static void test_header_and_limits(void)
{
    struct buf seen = {0}, out = {0};
    struct wsfile_dec d;
    const char *bad[] = {"BCWSX 2 ws_1\n", "BCWSX 1\n", "CSV 1 ws_1\n", "BCWSX 1 ws_1 extra\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wsfile_dec_init(&d, collect, &seen);
        CHECK_INT(wsfile_dec_feed(&d, bad[i], strlen(bad[i])), BC_ECORRUPT);
        CHECK(d.msg[0] != '\0');
        wsfile_dec_free(&d);
    }
    wsfile_dec_init(&d, collect, &seen);
    CHECK_INT(wsfile_dec_feed(&d, "BCWSX 2 ws_1\n", 13), BC_ECORRUPT);
    CHECK(strstr(d.msg, "version 2") != NULL);
    wsfile_dec_free(&d);
    /* No newline within the header's limit. */
    char junk[WSFILE_HEADER_MAX + 10];
    memset(junk, 'a', sizeof junk);
    wsfile_dec_init(&d, collect, &seen);
    CHECK_INT(wsfile_dec_feed(&d, junk, sizeof junk), BC_ECORRUPT);
    wsfile_dec_free(&d);
    /* Encoder limits. */
    struct wsfile_enc e;
    CHECK_INT(wsfile_enc_begin(&e, "has space", to_buf, &out), BC_EINVAL);
    wsfile_enc_free(&e);
    CHECK_INT(wsfile_enc_begin(&e, "ws_1", to_buf, &out), 0);
    static char key[600];
    memset(key, 'k', sizeof key);
    CHECK_INT(wsfile_enc_record(&e, "job", key, WSFILE_KEY_MAX + 1, "v", 1), BC_ETOOBIG);
    CHECK_INT(wsfile_enc_record(&e, "", key, 1, "v", 1), BC_ETOOBIG);
    CHECK_INT(wsfile_enc_record(&e, "job", key, 0, "v", 1), BC_ETOOBIG);
    CHECK_INT(wsfile_enc_record(&e, "job", key, WSFILE_KEY_MAX, "v", 1), 0);
    CHECK_INT(wsfile_enc_end(&e, NULL), 0);
    CHECK_INT(decode(&out, NULL, 0, &seen, NULL), 0);
    /* A decoder callback's error stops the decoding and is returned, again on later feeds. */
    wsfile_dec_init(&d, refuse, NULL);
    CHECK_INT(wsfile_dec_feed(&d, out.data, out.len), BC_EIO);
    CHECK_INT(wsfile_dec_feed(&d, "x", 1), BC_EIO);
    CHECK_INT(wsfile_dec_finish(&d), BC_EIO);
    wsfile_dec_free(&d);
    buf_free(&out);
    buf_free(&seen);
}

CHECK_MAIN(CHECK_CASE(test_every_split_point), CHECK_CASE(test_truncations_and_flips_are_refused),
           CHECK_CASE(test_header_and_limits))
