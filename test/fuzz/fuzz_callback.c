/* The form decoder (src/provider/form.c) and the provider callback and answer mapping
 * (src/provider/twilio.c, http_provider.c, provider.c). Input: a callback URL's query, a line
 * feed, then a body, used as a Twilio form callback, as a signed http-dialect JSON callback, and
 * as both dialects' answers to a create and a fetch. Properties:
 * - form: every pair lies inside the body; a decoded value is never longer than its encoding;
 *   form_escape then form_decode gives the bytes back; form_append then form_get gives the value
 *   back;
 * - a signature made by twilio_sign verifies with twilio_verify, and one byte changed does not;
 *   the body signs as its pairs re-encoded from form_next and form_decode do (the signature's
 *   own one-pass decoder reads what they read);
 * - twilio_verify_callback with a valid signature answers what twilio_parse_callback answers,
 *   field by field, and BC_EACCES with an empty event for a changed one;
 * - the keyed HMAC-SHA1 equals OpenSSL's HMAC() for a key and data taken from the input;
 * - every event parsed is consistent: NUL-terminated texts, a known outcome when final, a
 *   duration that is a finite number of seconds, at least 0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "http/client.h"
#include "provider/form.h"
#include "provider/http_provider.h"
#include "provider/provider.h"
#include "provider/twilio.h"
#include "store/records.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/err.h"

static void check_event(const struct call_event *ev)
{
    FUZZ_CHECK(
        memchr(ev->call_id, 0, sizeof ev->call_id) && memchr(ev->batch, 0, sizeof ev->batch) &&
            memchr(ev->status, 0, sizeof ev->status) && memchr(ev->message, 0, sizeof ev->message),
        "a text of the event is not terminated");
    FUZZ_CHECK(!ev->final || (ev->outcome > OUTCOME_NONE && ev->outcome < OUTCOME_COUNT),
               "final with outcome %d", ev->outcome);
    FUZZ_CHECK(isfinite(ev->duration) && ev->duration >= 0, "duration %g", ev->duration);
}

static void check_form(const char *body, size_t len)
{
    size_t pos = 0, last = 0;
    struct form_pair p;
    int guard = 0;
    char *dec = malloc(len + 1);
    while (form_next(body, len, &pos, &p)) {
        FUZZ_CHECK(p.name >= body && p.name + p.name_len <= body + len && p.value >= body &&
                       p.value + p.value_len <= body + len,
                   "a pair outside the body");
        FUZZ_CHECK(pos > last && pos <= len + 1, "no progress: %zu after %zu", pos, last);
        last = pos;
        FUZZ_CHECK(form_decode(p.value, p.value_len, dec) <= p.value_len, "decoded longer");
        FUZZ_CHECK(++guard <= (int)len + 1, "more pairs than bytes");
    }
    /* Round trips over the whole body as one value. */
    size_t n = form_decode(body, len, dec);
    FUZZ_CHECK(n <= len, "decoded %zu from %zu", n, len);
    struct buf esc = {0};
    form_escape(&esc, dec, n);
    char *back = malloc(esc.len + 1);
    size_t m = form_decode(esc.data ? esc.data : "", esc.len, back);
    FUZZ_CHECK(m == n && memcmp(back, dec, n) == 0, "escape/decode changed %zu bytes into %zu", n,
               m);
    dec[n] = '\0';
    struct buf f = {0};
    form_append(&f, "other", "x y");
    form_append(&f, "k", dec);
    char *got = malloc(f.len + 1);
    int g = form_get(f.data, f.len, "k", got, f.len + 1);
    FUZZ_CHECK(g == (int)strlen(dec) && strcmp(got, dec) == 0, "form_get gave %d for %zu", g,
               strlen(dec));
    free(got);
    free(back);
    free(dec);
    buf_free(&esc);
    buf_free(&f);
}

static void check_twilio_signature(const char *query, size_t qlen, const char *body, size_t len)
{
    struct buf url = {0};
    buf_append_str(&url, "https://calls.example.com/v1/provider/twilio/status?");
    buf_append(&url, query, qlen);
    char sig[64];
    if (twilio_sign("tok", url.data, url.len, body, len, sig) == 0) {
        FUZZ_CHECK(twilio_verify("tok", url.data, url.len, body, len, sig, strlen(sig)) == 1,
                   "our own signature does not verify");
        sig[0] = sig[0] == 'A' ? 'B' : 'A';
        FUZZ_CHECK(twilio_verify("tok", url.data, url.len, body, len, sig, strlen(sig)) == 0,
                   "a changed signature verifies");
    }
    /* Any bytes as a signature, and a URL that is not one. */
    twilio_verify("tok", url.data, url.len, body, len, body, len);
    twilio_verify("tok", body, len, query, qlen, query, qlen);
    buf_free(&url);
}

/* The body re-encoded canonically from what form_next and form_decode read. */
static void canonical_body(const char *body, size_t len, struct buf *out)
{
    size_t pos = 0;
    struct form_pair p;
    char *dec = malloc(len + 1);
    while (form_next(body, len, &pos, &p)) {
        if (out->len)
            buf_append(out, "&", 1);
        form_escape(out, dec, form_decode(p.name, p.name_len, dec));
        buf_append(out, "=", 1);
        form_escape(out, dec, form_decode(p.value, p.value_len, dec));
    }
    free(dec);
}

static void check_verified_callback(const char *query, size_t qlen, const char *body, size_t len)
{
    static const char url[] = "https://calls.example.com/cb";
    char sig[64], canon_sig[64];
    struct buf canon = {0};
    canonical_body(body, len, &canon);
    if (twilio_sign("tok", url, sizeof url - 1, body, len, sig) != 0 ||
        twilio_sign("tok", url, sizeof url - 1, canon.data ? canon.data : "", canon.len,
                    canon_sig) != 0) {
        buf_free(&canon);
        return;
    }
    buf_free(&canon);
    FUZZ_CHECK(strcmp(sig, canon_sig) == 0, "the body signs as %s, its pairs as %s", sig,
               canon_sig);
    struct crypto_hmac_sha1 key;
    if (crypto_hmac_sha1_init(&key, "tok", 3) != 0)
        return;
    struct call_event want, got;
    int want_rc = twilio_parse_callback(query, qlen, body, len, &want);
    int rc = twilio_verify_callback(&key, "tok", url, sizeof url - 1, query, qlen, body, len, sig,
                                    strlen(sig), &got);
    FUZZ_CHECK(rc == want_rc, "verified callback %d, parsed %d", rc, want_rc);
    if (rc == 0) {
        FUZZ_CHECK(
            strcmp(got.call_id, want.call_id) == 0 && strcmp(got.batch, want.batch) == 0 &&
                got.row == want.row && got.seq == want.seq && got.sequence == want.sequence &&
                got.final == want.final && got.answered == want.answered &&
                got.outcome == want.outcome && got.sip == want.sip &&
                got.duration == want.duration && strcmp(got.status, want.status) == 0 &&
                strcmp(got.message, want.message) == 0 && got.opted_out == want.opted_out &&
                strcmp(got.digits, want.digits) == 0 &&
                (got.transcript && want.transcript ? strcmp(got.transcript, want.transcript) == 0
                                                   : got.transcript == want.transcript),
            "the verified callback's event differs from the parsed one");
    }
    provider_event_free(&got);
    provider_event_free(&want);
    sig[5] = sig[5] == 'A' ? 'B' : 'A';
    rc = twilio_verify_callback(&key, "tok", url, sizeof url - 1, query, qlen, body, len, sig,
                                strlen(sig), &got);
    FUZZ_CHECK(rc == BC_EACCES && got.call_id[0] == '\0' && !got.transcript,
               "a changed signature gave %d", rc);
    provider_event_free(&got);
    crypto_hmac_sha1_free(&key);

    /* The query as a key, the body as data. */
    uint8_t a[SHA1_LEN], b[SHA1_LEN];
    if (crypto_hmac_sha1_init(&key, query, qlen) != 0)
        return;
    crypto_hmac_sha1_keyed(&key, query, qlen, body, len, a);
    crypto_hmac_sha1(query, qlen, body, len, b);
    FUZZ_CHECK(memcmp(a, b, SHA1_LEN) == 0, "keyed HMAC differs from HMAC()");
    crypto_hmac_sha1_free(&key);
}

static void check_answers(const char *body, size_t len, uint64_t h)
{
    static const long statuses[] = {200, 201, 400, 401, 404, 409, 429, 500, 503};
    struct provider_config cfg = {0};
    strcpy(cfg.account_sid, "ACxx");
    strcpy(cfg.auth_token, "tok");
    strcpy(cfg.http_secret, "sec");
    struct client_request r = {0};
    r.result = CLIENT_OK;
    r.status = statuses[h % (sizeof statuses / sizeof statuses[0])];
    buf_append(&r.response, body, len);
    for (int kind = PROVIDER_TWILIO; kind <= PROVIDER_HTTP; kind++) {
        cfg.kind = (enum provider_kind)kind;
        struct create_result cr;
        provider_parse_create(&cfg, &r, &cr);
        FUZZ_CHECK(memchr(cr.call_id, 0, sizeof cr.call_id) &&
                       memchr(cr.message, 0, sizeof cr.message),
                   "create result texts not terminated");
        FUZZ_CHECK(cr.cls != CREATE_OK || cr.call_id[0], "accepted without a call id");
        struct call_event ev;
        provider_event_init(&ev);
        if (provider_parse_fetch(&cfg, &r, &ev) == 0)
            check_event(&ev);
        provider_event_free(&ev);
    }
    client_request_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *nl = memchr(in, '\n', size);
    size_t qlen = nl ? (size_t)(nl - in) : 0;
    const char *body = nl ? nl + 1 : in;
    size_t len = size - (size_t)(body - in);

    check_form(body, len);
    check_twilio_signature(in, qlen, body, len);
    check_verified_callback(in, qlen, body, len);

    struct call_event ev;
    if (twilio_parse_callback(in, qlen, body, len, &ev) == 0)
        check_event(&ev);
    provider_event_free(&ev);

    /* The generic provider signs the URL the callback was sent to, a newline and the body: the
     * query doubles as that URL here. */
    uint8_t mac[SHA256_LEN];
    char sig[2 * SHA256_LEN + 1];
    struct buf signed_text = {0};
    buf_append(&signed_text, in, qlen);
    buf_append(&signed_text, "\n", 1);
    buf_append(&signed_text, body, len);
    crypto_hmac_sha256("sec", 3, signed_text.data ? signed_text.data : "", signed_text.len, mac);
    buf_free(&signed_text);
    crypto_hex(mac, sizeof mac, sig);
    if (http_provider_parse_callback("sec", in, qlen, in, qlen, body, len, sig, strlen(sig), &ev) ==
        0)
        check_event(&ev);
    provider_event_free(&ev);
    FUZZ_CHECK(http_provider_parse_callback("sec", in, qlen, in, qlen, body, len, in, qlen, &ev) !=
                       0 ||
                   (qlen == strlen(sig) && strncasecmp(in, sig, qlen) == 0),
               "a forged signature was accepted");
    provider_event_free(&ev);

    check_answers(body, len, fuzz_hash(data, size));
    return 0;
}
