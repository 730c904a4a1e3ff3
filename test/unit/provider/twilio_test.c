/* Tests for the form helpers and the twilio dialect: encoding round trips, the signature vectors
 * of twilio-python's own tests, the create request read back field by field, and every mapping
 * from Twilio's answers, statuses and callbacks to outcomes. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "provider/form.h"
#include "provider/provider.h"
#include "provider/twilio.h"
#include "store/records.h"
#include "util/crypto.h"
#include "util/err.h"

#define BATCH "batch_01HQ3V6Z8R2M4N5P6Q7R8S9T0V"

/* ---- form ---------------------------------------------------------------------------------- */

static void test_form_round_trip(void)
{
    static const char *const values[] = {
        "",
        "plain",
        "two words",
        "+14155552671",
        "a&b=c",
        "100% sure",
        "%2B stays literal",
        "x+y",
        "caf\xc3\xa9 \xe2\x98\x8e \xf0\x9f\x93\x9e",
        "line\nbreak\ttab",
        "~-._ unreserved",
        "\x01\x7f\xff",
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        struct buf b = {0};
        char out[128];
        CHECK_INT(form_append(&b, "First", "1"), 0);
        CHECK_INT(form_append(&b, "Va l&u=e", values[i]), 0);
        CHECK_INT(form_append(&b, "Last", "z"), 0);
        CHECK_INT(form_get(b.data, b.len, "Va l&u=e", out, sizeof out), (int)strlen(values[i]));
        CHECK_STR(out, values[i]);
        CHECK_INT(form_get(b.data, b.len, "Last", out, sizeof out), 1);
        CHECK_STR(out, "z");
        buf_free(&b);
    }
}

static void test_form_encoding(void)
{
    static const struct {
        const char *value, *encoded;
    } cases[] = {
        {"a b", "k=a%20b"},
        {"+1", "k=%2B1"},
        {"a&b=c", "k=a%26b%3Dc"},
        {"100%", "k=100%25"},
        {"AZaz09-._~", "k=AZaz09-._~"},
        {"\xc3\xa9", "k=%C3%A9"},
        {"/?#", "k=%2F%3F%23"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf b = {0};
        CHECK_INT(form_append(&b, "k", cases[i].value), 0);
        CHECK_MEM(b.data, b.len, cases[i].encoded);
        buf_free(&b);
    }
    struct buf b = {0};
    CHECK_INT(form_append(&b, "a", "1"), 0);
    CHECK_INT(form_append(&b, "b", NULL), 0);
    CHECK_MEM(b.data, b.len, "a=1&b=");
    buf_free(&b);
}

static void test_form_get(void)
{
    static const struct {
        const char *body, *name;
        int rc;
        const char *value;
    } cases[] = {
        {"a=1+2", "a", 3, "1 2"},
        {"a=%41%62", "a", 2, "Ab"},
        {"a=%4", "a", 2, "%4"},
        {"a=%zz%", "a", 4, "%zz%"},
        {"a=%2b%2B", "a", 2, "++"},
        {"Caller%20Name=x&Caller=y", "Caller Name", 1, "x"},
        {"Caller%20Name=x&Caller=y", "Caller", 1, "y"},
        {"x=1&&a=2&", "a", 1, "2"},
        {"flag&a=1", "flag", 0, ""},
        {"a=first&a=second", "a", 5, "first"},
        {"ab=1", "a", BC_ENOTFOUND, NULL},
        {"a=1", "ab", BC_ENOTFOUND, NULL},
        {"", "a", BC_ENOTFOUND, NULL},
        {"=novalue", "", 7, "novalue"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[32];
        int rc = form_get(cases[i].body, strlen(cases[i].body), cases[i].name, out, sizeof out);
        CHECK_INT(rc, cases[i].rc);
        if (cases[i].value && rc >= 0)
            CHECK_STR(out, cases[i].value);
    }
    /* Decoding in place gives what a separate buffer gets. */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char copy[64], out[64];
        size_t len = strlen(cases[i].body);
        memcpy(copy, cases[i].body, len);
        size_t n = form_decode(cases[i].body, len, out);
        CHECK_INT(form_decode(copy, len, copy), n);
        CHECK(memcmp(copy, out, n) == 0);
    }
    /* Several names in one pass find what form_get finds for each alone (the first pair). */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *body = cases[i].body;
        struct form_field f[] = {{.name = "Caller"},
                                 {.name = cases[i].name},
                                 {.name = "a"},
                                 {.name = "x"},
                                 {.name = "Caller Name"}};
        form_find(body, strlen(body), f, sizeof f / sizeof f[0]);
        for (size_t j = 0; j < sizeof f / sizeof f[0]; j++) {
            char one[32], many[32];
            int rc = form_get(body, strlen(body), f[j].name, one, sizeof one);
            CHECK_INT(form_value(&f[j], many, sizeof many), rc);
            if (rc >= 0)
                CHECK_STR(many, one);
        }
    }
    char small[4];
    CHECK_INT(form_get("a=1234", 6, "a", small, sizeof small), BC_ETOOBIG);
    CHECK_INT(form_get("a=123", 5, "a", small, sizeof small), 3);
    CHECK_INT(form_get("a=%41%41%41%41", 14, "a", small, sizeof small), BC_ETOOBIG);
    /* Not NUL-terminated: the length bounds the search. */
    CHECK_INT(form_get("a=12&b=3XYZ", 8, "b", small, sizeof small), 1);
    CHECK_STR(small, "3");
}

static void test_form_next(void)
{
    static const char body[] = "&a=1&&b&c=%20=x&";
    size_t pos = 0;
    struct form_pair p;
    CHECK_INT(form_next(body, strlen(body), &pos, &p), 1);
    CHECK_MEM(p.name, p.name_len, "a");
    CHECK_MEM(p.value, p.value_len, "1");
    CHECK_INT(form_next(body, strlen(body), &pos, &p), 1);
    CHECK_MEM(p.name, p.name_len, "b");
    CHECK_INT(p.value_len, 0);
    CHECK_INT(form_next(body, strlen(body), &pos, &p), 1);
    CHECK_MEM(p.name, p.name_len, "c");
    CHECK_MEM(p.value, p.value_len, "%20=x");
    CHECK_INT(form_next(body, strlen(body), &pos, &p), 0);

    char out[16];
    CHECK_INT(form_decode("a+b%20c%zz", 10, out), 8);
    CHECK_MEM(out, 8, "a b c%zz");
}

/* ---- signatures ---------------------------------------------------------------------------- */

#define SIG_URL "https://mycompany.com/myapp.php?foo=1&bar=2"

/* The parameters of twilio-python's test_request_validator.py, in a deliberately unsorted order. */
static void vector_body(struct buf *b)
{
    form_append(b, "To", "+18005551212");
    form_append(b, "CallSid", "CA1234567890ABCDE");
    form_append(b, "From", "+14158675309");
    form_append(b, "Digits", "1234");
    form_append(b, "Caller", "+14158675309");
}

static void test_signature_vectors(void)
{
    static const struct {
        const char *url, *sig;
    } signs[] = {
        {SIG_URL, "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
        {"https://mycompany.com:443/myapp.php?foo=1&bar=2", "kvajT1Ptam85bY51eRf/AJRuM3w="},
        {"http://mycompany.com:80/myapp.php?foo=1&bar=2", "0ZXoZLH/DfblKGATFgpif+LLRf4="},
        {"http://mycompany.com:1234/myapp.php?foo=1&bar=2", "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="},
    };
    /* validate(url, sig) cases of the same tests: the URL as received and the signature sent. */
    static const struct {
        const char *url, *sig;
    } verifies[] = {
        {SIG_URL, "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
        {"https://mycompany.com:1234/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
        {"http://mycompany.com:1234/myapp.php?foo=1&bar=2", "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="},
        {SIG_URL, "kvajT1Ptam85bY51eRf/AJRuM3w="},
        {"http://mycompany.com/myapp.php?foo=1&bar=2", "0ZXoZLH/DfblKGATFgpif+LLRf4="},
        {"https://mycompany.com:443/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
    };
    struct buf b = {0};
    vector_body(&b);
    char sig[64];
    for (size_t i = 0; i < sizeof signs / sizeof signs[0]; i++) {
        CHECK_INT(twilio_sign("12345", signs[i].url, strlen(signs[i].url), b.data, b.len, sig), 0);
        CHECK_STR(sig, signs[i].sig);
    }
    /* The server's path, with the token's MAC keyed once and used again and again, agrees. */
    struct crypto_hmac_sha1 key;
    CHECK_INT(crypto_hmac_sha1_init(&key, "12345", 5), 0);
    for (size_t i = 0; i < sizeof verifies / sizeof verifies[0]; i++) {
        const char *u = verifies[i].url;
        CHECK_INT(twilio_verify("12345", u, strlen(u), b.data, b.len, verifies[i].sig,
                                strlen(verifies[i].sig)),
                  1);
        CHECK_INT(twilio_verify_keyed(&key, "12345", u, strlen(u), b.data, b.len, verifies[i].sig,
                                      strlen(verifies[i].sig)),
                  1);
        /* A signature of neither form of the URL. */
        CHECK_INT(twilio_verify_keyed(&key, "12345", u, strlen(u), b.data, b.len,
                                      "IK+Dwps556ElfBT0I3Rgjkr1wJU=", 28),
                  0);
    }
    uint8_t once[SHA1_LEN], keyed[SHA1_LEN];
    crypto_hmac_sha1("12345", 5, b.data, b.len, once);
    crypto_hmac_sha1_keyed(&key, "12345", 5, b.data, b.len, keyed);
    CHECK(memcmp(once, keyed, SHA1_LEN) == 0);
    crypto_hmac_sha1_free(&key);
    /* A key that could not be set up falls back to keying each MAC. */
    crypto_hmac_sha1_keyed(&key, "12345", 5, b.data, b.len, keyed);
    CHECK(memcmp(once, keyed, SHA1_LEN) == 0);
    buf_free(&b);

    /* Repeated names: sorted by name, then by value. */
    form_append(&b, "Sid", "CA123");
    form_append(&b, "SidAccount", "AC123");
    form_append(&b, "Digits", "5678");
    form_append(&b, "Digits", "1234");
    CHECK_INT(twilio_sign("12345", SIG_URL, strlen(SIG_URL), b.data, b.len, sig), 0);
    CHECK_STR(sig, "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
    buf_free(&b);
}

/* The signature does not depend on the order of the parameters, whether the body fits in the
 * verifier's inline buffers (few, short parameters) or not (many parameters, long values). */
static void test_signature_order(void)
{
    static const struct {
        int n, value_len;
    } shapes[] = {{5, 3}, {48, 3}, {49, 3}, {120, 2}, {10, 400}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        struct buf fwd = {0}, rev = {0};
        char value[512], name[16], a[64], b[64];
        for (int i = 0; i < shapes[s].n; i++) {
            snprintf(name, sizeof name, "P%03d", i % 40); /* repeated names past 40 */
            memset(value, 'a' + i % 26, (size_t)shapes[s].value_len);
            value[shapes[s].value_len] = '\0';
            form_append(&fwd, name, value);
            snprintf(name, sizeof name, "P%03d", (shapes[s].n - 1 - i) % 40);
            memset(value, 'a' + (shapes[s].n - 1 - i) % 26, (size_t)shapes[s].value_len);
            form_append(&rev, name, value);
        }
        CHECK_INT(twilio_sign("12345", SIG_URL, strlen(SIG_URL), fwd.data, fwd.len, a), 0);
        CHECK_INT(twilio_sign("12345", SIG_URL, strlen(SIG_URL), rev.data, rev.len, b), 0);
        CHECK_STR(a, b);
        CHECK_INT(twilio_verify("12345", SIG_URL, strlen(SIG_URL), rev.data, rev.len, a, 28), 1);
        buf_free(&fwd);
        buf_free(&rev);
    }
}

/* JSON-bodied webhooks sign the URL (which carries bodySHA256) with no parameters. */
static void test_signature_body_hash(void)
{
    static const char json[] = "{\"property\": \"value\", \"boolean\": true}";
    uint8_t hash[SHA256_LEN];
    char hex[2 * SHA256_LEN + 1], url[256], sig[64];
    crypto_sha256(json, strlen(json), hash);
    crypto_hex(hash, sizeof hash, hex);
    CHECK_STR(hex, "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620");
    snprintf(url, sizeof url, "%s&bodySHA256=%s", SIG_URL, hex);
    CHECK_INT(twilio_sign("12345", url, strlen(url), "", 0, sig), 0);
    CHECK_STR(sig, "a9nBmqA0ju/hNViExpshrM61xv4=");
    CHECK_INT(twilio_verify("12345", url, strlen(url), "", 0, sig, strlen(sig)), 1);
}

static void test_signature_rejects(void)
{
    static const char good[] = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    struct buf b = {0};
    vector_body(&b);
    const char *u = SIG_URL;
    CHECK_INT(twilio_verify("12346", u, strlen(u), b.data, b.len, good, 28), 0);
    CHECK_INT(twilio_verify("", u, strlen(u), b.data, b.len, good, 28), 0);
    CHECK_INT(twilio_verify("12345", u, strlen(u), b.data, b.len, NULL, 0), 0);
    CHECK_INT(twilio_verify("12345", u, strlen(u), b.data, b.len, good, 27), 0);
    CHECK_INT(twilio_verify("12345", u, strlen(u), b.data, b.len, "", 0), 0);
    CHECK_INT(twilio_verify("12345", u, strlen(u), b.data, b.len,
                            "RSOYDt4T1cUTdK1PDd93/VVr8B8=extra", 33),
              0);
    CHECK_INT(
        twilio_verify("12345", u, strlen(u), b.data, b.len, "rSOYDt4T1cUTdK1PDd93/VVr8B8=", 28), 0);
    /* Another path, query or scheme signs differently. */
    static const char *const others[] = {
        "https://mycompany.com/myapp.php?foo=1&bar=3",
        "https://mycompany.com/other.php?foo=1&bar=2",
        "https://mycompany.com/myapp.php",
        "https://mycompany.com:8443/myapp.php?foo=1&bar=22",
        "ftp://mycompany.com/myapp.php?foo=1&bar=2",
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        CHECK_INT(twilio_verify("12345", others[i], strlen(others[i]), b.data, b.len, good, 28), 0);
    /* A tampered, an extra and a missing parameter. */
    struct buf t = {0};
    vector_body(&t);
    form_append(&t, "CallStatus", "completed");
    CHECK_INT(twilio_verify("12345", u, strlen(u), t.data, t.len, good, 28), 0);
    buf_reset(&t);
    form_append(&t, "To", "+18005551213");
    form_append(&t, "CallSid", "CA1234567890ABCDE");
    form_append(&t, "From", "+14158675309");
    form_append(&t, "Digits", "1234");
    form_append(&t, "Caller", "+14158675309");
    CHECK_INT(twilio_verify("12345", u, strlen(u), t.data, t.len, good, 28), 0);
    CHECK_INT(twilio_verify("12345", u, strlen(u), b.data, b.len - 5, good, 28), 0);
    /* A '+' sent raw decodes to a space, so it is not the number Twilio signed. */
    static const char raw_plus[] = "To=+18005551212&CallSid=CA1234567890ABCDE&From=+14158675309&"
                                   "Digits=1234&Caller=+14158675309";
    CHECK_INT(twilio_verify("12345", u, strlen(u), raw_plus, strlen(raw_plus), good, 28), 0);
    /* The body as a client would send it with %2B validates however it is spelt. */
    static const char lower_hex[] =
        "To=%2b18005551212&CallSid=CA1234567890ABCDE&From=%2B14158675309&"
        "Digits=1234&Caller=%2B14158675309";
    CHECK_INT(twilio_verify("12345", u, strlen(u), lower_hex, strlen(lower_hex), good, 28), 1);
    buf_free(&t);
    buf_free(&b);
}

/* ---- the create request -------------------------------------------------------------------- */

static void test_config(struct provider_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = PROVIDER_TWILIO;
    snprintf(cfg->api_base, sizeof cfg->api_base, "https://api.twilio.com/");
    snprintf(cfg->account_sid, sizeof cfg->account_sid, "AC0123456789abcdef0123456789abcdef");
    snprintf(cfg->auth_token, sizeof cfg->auth_token, "s3cret");
    snprintf(cfg->public_url, sizeof cfg->public_url, "https://calls.example.com/");
}

static void expect_field(const struct buf *body, const char *name, const char *want)
{
    char out[2048];
    int n = form_get(body->data, body->len, name, out, sizeof out);
    CHECK_REPORT(n >= 0 && strcmp(out, want) == 0, "%s == \"%s\" (got \"%s\")", name, want,
                 n >= 0 ? out : "(absent)");
}

/* The create body byte for byte as form_append writes each field in Twilio's order (the
 * constant fields are written as one literal, the TwiML and callback URL escaped in place). */
static void test_create_exact_body(void)
{
    struct provider_config cfg;
    test_config(&cfg);
    cfg.ring_timeout_s = 4000000000u;
    snprintf(cfg.public_url, sizeof cfg.public_url, "https://calls.example.com");
    cJSON *vars = cJSON_CreateObject();
    cJSON_AddStringToObject(vars, "name", "Zoë & \"Al\"");
    cJSON_AddNumberToObject(vars, "n", 12);
    struct dial_attempt a = {
        .batch = BATCH,
        .row = 4294967295u,
        .seq = 0,
        .to = "+14155550100",
        .from = "+14155550199",
        .ws = "ws 1",
        .voice_url = "https://agent.example.com/v?x=1&y='2'",
        .prompt = "Say <hi> ~ 100% _-.",
        .variables = vars,
    };
    struct client_request r;
    memset(&r, 0, sizeof r);
    CHECK_INT(provider_build_create(&cfg, &a, &r), 0);

    struct buf want = {0};
    const char *twiml =
        "<Response><Connect><Stream url=\"wss://agent.example.com/v?x=1&amp;y=&apos;"
        "2&apos;\"><Parameter name=\"name\" value=\"Zoë &amp; &quot;Al&quot;\"/>"
        "<Parameter name=\"n\" value=\"12\"/><Parameter name=\"prompt\" value=\"Say "
        "&lt;hi&gt; ~ 100% _-.\"/></Stream></Connect></Response>";
    const char *callback = "https://calls.example.com/v1/provider/ws/ws%201/twilio/status?b=" BATCH
                           "&r=4294967295&a=0";
    CHECK_INT(form_append(&want, "To", a.to), 0);
    CHECK_INT(form_append(&want, "From", a.from), 0);
    CHECK_INT(form_append(&want, "Twiml", twiml), 0);
    CHECK_INT(form_append(&want, "StatusCallback", callback), 0);
    CHECK_INT(form_append(&want, "StatusCallbackEvent", "completed"), 0);
    CHECK_INT(form_append(&want, "StatusCallbackMethod", "POST"), 0);
    CHECK_INT(form_append(&want, "Timeout", "4000000000"), 0);
    CHECK_INT(form_append(&want, "MachineDetection", "Enable"), 0);
    CHECK_INT(buf_append(&want, "", 1), 0);
    CHECK_MEM(r.body.data, r.body.len, want.data);
    CHECK_INT(want.len - 1, r.body.len);
    buf_free(&want);
    buf_free(&r.body);
    cJSON_Delete(vars);

    /* Nothing to escape into a buffer not yet allocated. */
    struct buf b = {0};
    CHECK_INT(form_escape(&b, "", 0), 0);
    CHECK_INT(b.len, 0);

    /* The decimal writer the URLs and the form use, at its ends. */
    CHECK_INT(provider_append_uint(&b, 0), 0);
    CHECK_INT(provider_append_uint(&b, 4294967295u), 0);
    CHECK_INT(provider_append_uint(&b, 10), 0);
    CHECK_MEM(b.data, b.len, "0429496729510");
    buf_free(&b);
}

static void test_create_say(void)
{
    struct provider_config cfg;
    test_config(&cfg);
    struct dial_attempt a = {
        .batch = BATCH,
        .row = 7,
        .seq = 2,
        .to = "+14155550100",
        .from = "+14155550199",
        .agent_id = "agent_x",
        .prompt = "Hi Ann, <b>\"50%\" off</b> & 'more'\x01",
    };
    struct client_request r;
    memset(&r, 0, sizeof r);
    CHECK_INT(provider_build_create(&cfg, &a, &r), 0);
    CHECK_STR(r.url,
              "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/"
              "Calls.json");
    CHECK_STR(r.method, "POST");
    CHECK_STR(r.content_type, "application/x-www-form-urlencoded");
    CHECK_STR(r.userpwd, "AC0123456789abcdef0123456789abcdef:s3cret");
    CHECK(r.headers == NULL);
    CHECK_INT(r.timeout_ms, 10000);
    CHECK_INT(strlen(r.body.data), r.body.len);

    expect_field(&r.body, "To", "+14155550100");
    expect_field(&r.body, "From", "+14155550199");
    /* Without a voiceUrl nobody takes the call: a neutral line, never the prompt (issue 13: the
     * prompt, instructions for an LLM, used to be read to the callee). */
    expect_field(&r.body, "Twiml", "<Response><Say>" TWILIO_NO_AGENT_LINE "</Say></Response>");
    CHECK(strstr(r.body.data, "Ann") == NULL);
    expect_field(&r.body, "StatusCallback",
                 "https://calls.example.com/v1/provider/twilio/status?b=" BATCH "&r=7&a=2");
    expect_field(&r.body, "StatusCallbackMethod", "POST");
    expect_field(&r.body, "Timeout", "30");
    expect_field(&r.body, "MachineDetection", "Enable");
    CHECK(strstr(r.body.data, "To=%2B14155550100") != NULL);

    /* Only the call's end is asked for: progress callbacks would change nothing a user sees. */
    size_t pos = 0, n = 0;
    struct form_pair p;
    while (form_next(r.body.data, r.body.len, &pos, &p)) {
        if (p.name_len != 19 || memcmp(p.name, "StatusCallbackEvent", 19))
            continue;
        CHECK_MEM(p.value, p.value_len, "completed");
        n++;
    }
    CHECK_INT(n, 1);

    /* The callback URL's query is what the callback parser reads back. */
    char cb[512];
    form_get(r.body.data, r.body.len, "StatusCallback", cb, sizeof cb);
    const char *q = strchr(cb, '?') + 1;
    struct call_event ev;
    provider_event_init(&ev);
    CHECK_INT(provider_parse_callback_query(q, strlen(q), &ev), 0);
    CHECK_STR(ev.batch, BATCH);
    CHECK_INT(ev.row, 7);
    CHECK_INT(ev.seq, 2);
    buf_free(&r.body);

    /* The simulator speaks the same dialect; the timeouts come from the config. */
    cfg.kind = PROVIDER_SIM;
    cfg.ring_timeout_s = 45;
    cfg.request_timeout_ms = 2500;
    snprintf(cfg.api_base, sizeof cfg.api_base, "http://127.0.0.1:8089");
    a.prompt = NULL;
    memset(&r, 0, sizeof r);
    CHECK_INT(provider_build_create(&cfg, &a, &r), 0);
    CHECK_STR(r.url, "http://127.0.0.1:8089/2010-04-01/Accounts/"
                     "AC0123456789abcdef0123456789abcdef/Calls.json");
    CHECK_INT(r.timeout_ms, 2500);
    expect_field(&r.body, "Timeout", "45");
    expect_field(&r.body, "Twiml", "<Response><Say>" TWILIO_NO_AGENT_LINE "</Say></Response>");
    buf_free(&r.body);
}

static void test_create_stream(void)
{
    struct provider_config cfg;
    test_config(&cfg);
    cJSON *vars = cJSON_Parse("{\"name\":\"Ann \\\"A\\\" & Bob\",\"plan\":\"gold\",\"n\":5}");
    struct dial_attempt a = {
        .batch = BATCH,
        .row = 1,
        .seq = 1,
        .to = "+14155550100",
        .from = "+14155550199",
        .agent_id = "agent_x",
        .voice_url = "wss://voice.example.com/stream?x=1&y=2",
        .prompt = "Hello <Ann>",
        .variables = vars,
    };
    struct client_request r;
    memset(&r, 0, sizeof r);
    CHECK_INT(provider_build_create(&cfg, &a, &r), 0);
    expect_field(&r.body, "Twiml",
                 "<Response><Connect><Stream url=\"wss://voice.example.com/stream?x=1&amp;y=2\">"
                 "<Parameter name=\"name\" value=\"Ann &quot;A&quot; &amp; Bob\"/>"
                 "<Parameter name=\"plan\" value=\"gold\"/>"
                 "<Parameter name=\"n\" value=\"5\"/>"
                 "<Parameter name=\"prompt\" value=\"Hello &lt;Ann&gt;\"/>"
                 "</Stream></Connect></Response>");
    expect_field(&r.body, "StatusCallback",
                 "https://calls.example.com/v1/provider/twilio/status?b=" BATCH "&r=1&a=1");
    buf_free(&r.body);
    cJSON_Delete(vars);
}

/* Twilio's <Stream url> takes wss:// only: an https voiceUrl is reached as wss://. */
static void test_create_stream_scheme(void)
{
    static const struct {
        const char *voice_url, *stream;
    } cases[] = {
        {"https://voice.example.com:8443/a?k=1&x=2",
         "<Stream url=\"wss://voice.example.com:8443/a?k=1&amp;x=2\">"},
        {"HTTPS://voice.example.com/a", "<Stream url=\"wss://voice.example.com/a\">"},
        {"http://127.0.0.1:9/a", "<Stream url=\"ws://127.0.0.1:9/a\">"},
        {"wss://voice.example.com/a", "<Stream url=\"wss://voice.example.com/a\">"},
    };
    struct provider_config cfg;
    test_config(&cfg);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct dial_attempt a = {.batch = BATCH,
                                 .row = 1,
                                 .seq = 1,
                                 .to = "+14155550100",
                                 .from = "+14155550199",
                                 .voice_url = cases[i].voice_url,
                                 .prompt = "Hi\x01"};
        struct client_request r;
        memset(&r, 0, sizeof r);
        CHECK_INT(provider_build_create(&cfg, &a, &r), 0);
        char twiml[1024];
        CHECK(form_get(r.body.data, r.body.len, "Twiml", twiml, sizeof twiml) > 0);
        CHECK_REPORT(strstr(twiml, cases[i].stream) != NULL, "case %zu: %s", i, twiml);
        /* Control characters are not XML 1.0: they become spaces. */
        CHECK(strstr(twiml, "<Parameter name=\"prompt\" value=\"Hi \"/>") != NULL);
        buf_free(&r.body);
    }
}

/* Twilio refuses inline TwiML over 4,000 characters (error 32018): such a contact is never sent,
 * and the error names the limit. */
static void test_create_twiml_limit(void)
{
    struct provider_config cfg;
    test_config(&cfg);
    static const char stream_head[] = "<Response><Connect><Stream url=\"wss://v.example.com/\">"
                                      "<Parameter name=\"prompt\" value=\"";
    static const char stream_tail[] = "\"/></Stream></Connect></Response>";
    size_t fits = TWILIO_TWIML_MAX - (sizeof stream_head - 1) - (sizeof stream_tail - 1);
    char *prompt = malloc(fits + 2);
    memset(prompt, 'a', fits + 1);
    prompt[fits] = '\0';
    struct dial_attempt a = {.batch = BATCH,
                             .row = 1,
                             .seq = 1,
                             .to = "+14155550100",
                             .from = "+14155550199",
                             .voice_url = "https://v.example.com/",
                             .prompt = prompt};
    struct client_request r;
    memset(&r, 0, sizeof r);
    CHECK_INT(provider_build_create(&cfg, &a, &r), 0);
    char *twiml = malloc(TWILIO_TWIML_MAX + 2);
    CHECK_INT(form_get(r.body.data, r.body.len, "Twiml", twiml, TWILIO_TWIML_MAX + 2),
              TWILIO_TWIML_MAX);
    buf_free(&r.body);
    char msg[200];
    CHECK(twilio_check_agent(prompt, "https://v.example.com/", msg, sizeof msg) == NULL);

    /* One character more: 4,001. */
    prompt[fits] = 'a';
    prompt[fits + 1] = '\0';
    memset(&r, 0, sizeof r);
    CHECK_INT(provider_build_create(&cfg, &a, &r), BC_ETOOBIG);
    CHECK_REPORT(strstr(r.error, "4001 characters") && strstr(r.error, "at most 4000") &&
                     strstr(r.error, "32018"),
                 "%s", r.error);
    CHECK(r.body.data == NULL);
    CHECK_STR(twilio_check_agent(prompt, "https://v.example.com/", msg, sizeof msg), "prompt");
    CHECK_REPORT(strstr(msg, "4001 characters") && strstr(msg, "at most 4000"), "%s", msg);
    /* Without a voiceUrl the prompt is not in the TwiML at all. */
    CHECK(twilio_check_agent(prompt, NULL, msg, sizeof msg) == NULL);
    a.voice_url = NULL;
    memset(&r, 0, sizeof r);
    CHECK_INT(provider_build_create(&cfg, &a, &r), 0);
    buf_free(&r.body);
    free(prompt);
    free(twiml);
}

static void test_check_agent(void)
{
    char msg[200];
    CHECK(twilio_check_agent("Hi {name}", "https://v.example.com/a", msg, sizeof msg) == NULL);
    CHECK(twilio_check_agent("Hi {name}", NULL, msg, sizeof msg) == NULL);
    CHECK(twilio_check_agent("Hi {name}", "", msg, sizeof msg) == NULL);
    CHECK_STR(twilio_check_agent("Hi", "http://v.example.com/a", msg, sizeof msg), "voiceUrl");
    CHECK_REPORT(strstr(msg, "https://") && strstr(msg, "wss://"), "%s", msg);
}

static void test_request_set(void)
{
    struct client_request r;
    memset(&r, 0, sizeof r);
    buf_append_str(&r.body, "{}");
    const char *const headers[] = {"A: 1", "B: 2", NULL};
    CHECK_INT(provider_request_set(&r, "POST", "application/json", "http://x/y", NULL, headers, 0),
              0);
    CHECK_MEM(r.body.data, r.body.len, "{}");
    CHECK_STR(r.url, "http://x/y");
    CHECK(r.userpwd == NULL);
    CHECK_STR(r.headers[0], "A: 1");
    CHECK_STR(r.headers[1], "B: 2");
    CHECK(r.headers[2] == NULL);
    CHECK_INT(r.timeout_ms, 10000);
    buf_free(&r.body);

    const char *const many[] = {"1: a", "2: b", "3: c", "4: d", "5: e", NULL};
    memset(&r, 0, sizeof r);
    CHECK_INT(provider_request_set(&r, "GET", NULL, "http://x", NULL, many, 0), BC_EINVAL);
    buf_free(&r.body);
}

static void test_fetch_request(void)
{
    struct provider_config cfg;
    test_config(&cfg);
    struct client_request r;
    memset(&r, 0, sizeof r);
    CHECK_INT(provider_build_fetch(&cfg, "CA0123456789abcdef0123456789abcdef", &r), 0);
    CHECK_STR(r.url, "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef"
                     "/Calls/CA0123456789abcdef0123456789abcdef.json");
    CHECK_STR(r.method, "GET");
    CHECK_STR(r.userpwd, "AC0123456789abcdef0123456789abcdef:s3cret");
    CHECK_INT(r.body.len, 0);
    CHECK_INT(r.timeout_ms, 10000);
    buf_free(&r.body);
}

/* ---- answers to the create request --------------------------------------------------------- */

static void finished(struct client_request *r, int result, long status, const char *body)
{
    memset(r, 0, sizeof *r);
    r->result = result;
    r->status = status;
    if (body)
        buf_append_str(&r->response, body);
}

static void test_parse_create(void)
{
    static const struct {
        int result;
        long status;
        const char *body;
        uint64_t retry_after;
        enum create_class cls;
        int outcome;
        const char *call_id;
        const char *message; /* a substring of the message */
    } cases[] = {
        {CLIENT_OK, 201, "{\"sid\":\"CAabc\",\"status\":\"queued\"}", 0, CREATE_OK, OUTCOME_NONE,
         "CAabc", "Call created"},
        {CLIENT_OK, 200, "{\"sid\":\"CAdef\"}", 0, CREATE_OK, OUTCOME_NONE, "CAdef", ""},
        {CLIENT_OK, 201, "{\"status\":\"queued\"}", 0, CREATE_RETRY, OUTCOME_NONE, "",
         "without a call sid"},
        {CLIENT_OK, 201, "not json", 0, CREATE_RETRY, OUTCOME_NONE, "", "without a call sid"},
        {CLIENT_OK, 201, "{\"sid\":\"\"}", 0, CREATE_RETRY, OUTCOME_NONE, "", "sid"},
        {CLIENT_E_TIMEOUT, 0, NULL, 0, CREATE_RETRY, OUTCOME_NONE, "", "Twilio request failed"},
        {CLIENT_E_CONNECT, 0, NULL, 0, CREATE_RETRY, OUTCOME_NONE, "", "Twilio request failed"},
        {CLIENT_E_NETWORK, 0, NULL, 0, CREATE_RETRY, OUTCOME_NONE, "", "Twilio request failed"},
        {CLIENT_OK, 429, "{\"code\":20429,\"message\":\"Too Many Requests\"}", 7000, CREATE_RETRY,
         OUTCOME_NONE, "", "Twilio error 20429 (HTTP 429): Too Many Requests"},
        {CLIENT_OK, 503, "{\"code\":20500,\"message\":\"Service unavailable\"}", 0, CREATE_RETRY,
         OUTCOME_NONE, "", "20500"},
        {CLIENT_OK, 500, "", 1500, CREATE_RETRY, OUTCOME_NONE, "", "HTTP 500"},
        {CLIENT_OK, 502, "<html>bad gateway</html>", 0, CREATE_RETRY, OUTCOME_NONE, "", "HTTP 502"},
        {CLIENT_OK, 400, "{\"code\":21211,\"message\":\"Invalid 'To' Phone Number\"}", 0,
         CREATE_FINAL, OUTCOME_INVALID_NUMBER, "", "Twilio error 21211: Invalid 'To' Phone Number"},
        {CLIENT_OK, 400, "{\"code\":21217}", 0, CREATE_FINAL, OUTCOME_INVALID_NUMBER, "",
         "Twilio error 21217: "},
        {CLIENT_OK, 400, "{\"code\":13224,\"message\":\"m\"}", 0, CREATE_FINAL,
         OUTCOME_INVALID_NUMBER, "", "13224"},
        {CLIENT_OK, 400, "{\"code\":13226,\"message\":\"m\"}", 0, CREATE_FINAL,
         OUTCOME_INVALID_NUMBER, "", "13226"},
        {CLIENT_OK, 400, "{\"code\":21214,\"message\":\"m\"}", 0, CREATE_FINAL, OUTCOME_UNREACHABLE,
         "", "Twilio error 21214"},
        {CLIENT_OK, 400, "{\"code\":21216,\"message\":\"m\"}", 0, CREATE_FINAL,
         OUTCOME_CARRIER_BLOCKED, "", "Twilio error 21216"},
        {CLIENT_OK, 401, "{\"code\":20003,\"message\":\"Authenticate\",\"status\":401}", 0,
         CREATE_HALT, OUTCOME_NONE, "",
         "Twilio rejected the account credentials (error 20003): check --twilio-account-sid and "
         "--twilio-auth-token, then resume the batch"},
        {CLIENT_OK, 400, "{\"code\":21215,\"message\":\"Account not authorized to call +44\"}", 0,
         CREATE_HALT, OUTCOME_NONE, "",
         "geo permissions block calls to this destination (error "
         "21215)"},
        {CLIENT_OK, 400, "{\"code\":13227}", 0, CREATE_HALT, OUTCOME_NONE, "", "(error 13227)"},
        {CLIENT_OK, 400, "{\"code\":32205}", 0, CREATE_HALT, OUTCOME_NONE, "", "(error 32205)"},
        {CLIENT_OK, 400, "{\"code\":21210}", 0, CREATE_HALT, OUTCOME_NONE, "", "(error 21210)"},
        {CLIENT_OK, 400, "{\"code\":21219}", 0, CREATE_HALT, OUTCOME_NONE, "", "(error 21219)"},
        {CLIENT_OK, 404, "{\"code\":20404,\"message\":\"not found\"}", 0, CREATE_HALT, OUTCOME_NONE,
         "", "(error 20404)"},
        {CLIENT_OK, 400, "{\"code\":21200,\"message\":\"Url or Twiml is required\"}", 0,
         CREATE_FINAL, OUTCOME_PROVIDER_ERROR, "", "Twilio error 21200: Url or Twiml is required"},
        {CLIENT_OK, 422, "{\"code\":99999,\"message\":\"new\"}", 0, CREATE_FINAL,
         OUTCOME_PROVIDER_ERROR, "", "Twilio error 99999: new"},
        {CLIENT_OK, 401, "", 0, CREATE_HALT, OUTCOME_NONE, "", "HTTP 401"},
        {CLIENT_OK, 403, "Forbidden", 0, CREATE_HALT, OUTCOME_NONE, "", "HTTP 403"},
        {CLIENT_OK, 404, "<html>not found</html>", 0, CREATE_HALT, OUTCOME_NONE, "", "HTTP 404"},
        {CLIENT_OK, 400, "oops", 0, CREATE_FINAL, OUTCOME_PROVIDER_ERROR, "", "HTTP 400"},
        {CLIENT_OK, 302, "", 0, CREATE_HALT, OUTCOME_NONE, "", "HTTP 302"},
    };
    struct provider_config cfg;
    test_config(&cfg);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct client_request r;
        struct create_result out;
        finished(&r, cases[i].result, cases[i].status, cases[i].body);
        r.retry_after_ms = cases[i].retry_after;
        if (cases[i].result != CLIENT_OK)
            snprintf(r.error, sizeof r.error, "Operation timed out");
        memset(&out, 0x55, sizeof out);
        provider_parse_create(&cfg, &r, &out);
        CHECK_REPORT(out.cls == cases[i].cls, "case %zu: class %d, want %d", i, out.cls,
                     cases[i].cls);
        CHECK_REPORT(out.outcome == cases[i].outcome, "case %zu: outcome %d, want %d", i,
                     out.outcome, cases[i].outcome);
        CHECK_STR(out.call_id, cases[i].call_id);
        CHECK_INT(out.retry_after_ms, cases[i].cls == CREATE_RETRY ? cases[i].retry_after : 0);
        CHECK_REPORT(strstr(out.message, cases[i].message) != NULL,
                     "case %zu: message \"%s\" lacks \"%s\"", i, out.message, cases[i].message);
        buf_free(&r.response);
    }
}

/* ---- outcomes ------------------------------------------------------------------------------ */

static void test_outcomes(void)
{
    static const struct {
        const char *status, *answered_by;
        int sip;
        int final, answered, outcome;
        const char *message;
    } cases[] = {
        {"completed", "human", 200, 1, 1, OUTCOME_ANSWERED, "Answered"},
        {"completed", NULL, 0, 1, 1, OUTCOME_ANSWERED, "Answered"},
        {"completed", "unknown", 0, 1, 1, OUTCOME_ANSWERED, "Answered"},
        {"completed", "machine_start", 200, 1, 1, OUTCOME_VOICEMAIL, "Voicemail reached"},
        {"completed", "machine_end_beep", 0, 1, 1, OUTCOME_VOICEMAIL, "Voicemail reached"},
        {"completed", "machine_end_silence", 0, 1, 1, OUTCOME_VOICEMAIL, "Voicemail reached"},
        {"completed", "machine_end_other", 0, 1, 1, OUTCOME_VOICEMAIL, "Voicemail reached"},
        {"completed", "fax", 0, 1, 1, OUTCOME_VOICEMAIL, "Voicemail reached"},
        {"busy", NULL, 486, 1, 0, OUTCOME_BUSY, "Number busy"},
        {"no-answer", NULL, 487, 1, 0, OUTCOME_NO_ANSWER, "No answer"},
        {"canceled", NULL, 487, 1, 0, OUTCOME_NO_ANSWER,
         "No answer (the call was canceled before it was answered)"},
        {"failed", NULL, 480, 1, 0, OUTCOME_UNREACHABLE, "Number unreachable (SIP 480)"},
        {"failed", NULL, 404, 1, 0, OUTCOME_INVALID_NUMBER, "Number does not exist (SIP 404)"},
        {"failed", NULL, 484, 1, 0, OUTCOME_INVALID_NUMBER, "Number does not exist (SIP 484)"},
        {"failed", NULL, 604, 1, 0, OUTCOME_INVALID_NUMBER, "Number does not exist (SIP 604)"},
        {"failed", NULL, 410, 1, 0, OUTCOME_INVALID_NUMBER, "Number does not exist (SIP 410)"},
        {"failed", NULL, 603, 1, 0, OUTCOME_REJECTED, "Call rejected by the recipient (SIP 603)"},
        {"failed", NULL, 607, 1, 0, OUTCOME_CARRIER_BLOCKED, "Blocked by the carrier (SIP 607)"},
        {"failed", NULL, 608, 1, 0, OUTCOME_CARRIER_BLOCKED, "Blocked by the carrier (SIP 608)"},
        {"failed", NULL, 486, 1, 0, OUTCOME_BUSY, "Number busy (SIP 486)"},
        {"failed", NULL, 600, 1, 0, OUTCOME_BUSY, "Number busy (SIP 600)"},
        {"failed", NULL, 408, 1, 0, OUTCOME_NO_ANSWER, "No answer (SIP 408)"},
        {"failed", NULL, 487, 1, 0, OUTCOME_NO_ANSWER, "No answer (SIP 487)"},
        {"failed", NULL, 503, 1, 0, OUTCOME_UNREACHABLE, "Number unreachable (SIP 503)"},
        {"failed", NULL, 0, 1, 0, OUTCOME_UNREACHABLE, "Number unreachable"},
        {"queued", NULL, 0, 0, 0, OUTCOME_NONE, "Call queued"},
        {"initiated", NULL, 0, 0, 0, OUTCOME_NONE, "Call initiated"},
        {"ringing", NULL, 0, 0, 0, OUTCOME_NONE, "Ringing"},
        {"in-progress", "human", 0, 0, 0, OUTCOME_NONE, "Call in progress"},
        {"something-new", NULL, 0, 0, 0, OUTCOME_NONE, "Twilio reported status \"something-new\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct call_event ev;
        provider_event_init(&ev);
        provider_twilio_outcome(cases[i].status, cases[i].answered_by, cases[i].sip, &ev);
        CHECK_REPORT(ev.final == cases[i].final && ev.answered == cases[i].answered &&
                         ev.outcome == cases[i].outcome,
                     "case %zu (%s): final %d answered %d outcome %d", i, cases[i].status, ev.final,
                     ev.answered, ev.outcome);
        CHECK_STR(ev.message, cases[i].message);
    }
}

/* ---- status callbacks ---------------------------------------------------------------------- */

#define QUERY "b=" BATCH "&r=12&a=3"

static void test_callback(void)
{
    static const char body[] =
        "AccountSid=AC0123456789abcdef0123456789abcdef&CallSid=CA42&CallStatus=completed"
        "&From=%2B14155550199&To=%2B14155550100&Direction=outbound-api&ApiVersion=2010-04-01"
        "&CallbackSource=call-progress-events&SequenceNumber=3&Timestamp=Tue%2C+31+Aug+2010"
        "&CallDuration=42&Duration=1&SipResponseCode=200&AnsweredBy=human"
        "&TranscriptionText=Yes%2C+please+call+me+back+%E2%98%8E";
    struct call_event ev;
    CHECK_INT(twilio_parse_callback(QUERY, strlen(QUERY), body, strlen(body), &ev), 0);
    CHECK_STR(ev.call_id, "CA42");
    CHECK_STR(ev.batch, BATCH);
    CHECK_INT(ev.row, 12);
    CHECK_INT(ev.seq, 3);
    CHECK_INT(ev.sequence, 3);
    CHECK_INT(ev.final, 1);
    CHECK_INT(ev.answered, 1);
    CHECK_INT(ev.outcome, OUTCOME_ANSWERED);
    CHECK_INT(ev.sip, 200);
    CHECK(ev.duration == 42);
    CHECK_STR(ev.status, "completed");
    CHECK_STR(ev.message, "Answered");
    CHECK_STR(ev.transcript, "Yes, please call me back \xe2\x98\x8e");
    provider_event_free(&ev);
    CHECK(ev.transcript == NULL);
}

/* Digits is kept for the caller (which knows the agent's optOutDigit); OptOut=true is the
 * simulator's opt-out. Neither changes the outcome. */
static void test_callback_opt_out(void)
{
    static const struct {
        const char *extra;
        const char *digits;
        int opted_out;
    } cases[] = {
        {"", "", 0},
        {"&Digits=9", "9", 0},
        {"&Digits=%23", "#", 0},
        {"&OptOut=true", "", 1},
        {"&OptOut=false", "", 0},
        {"&OptOut=TRUE", "", 0},
        {"&Digits=123456789", "", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "CallSid=CA1&CallStatus=completed&AnsweredBy=human%s",
                 cases[i].extra);
        struct call_event ev;
        CHECK_INT(twilio_parse_callback(QUERY, strlen(QUERY), body, strlen(body), &ev), 0);
        CHECK_STR(ev.digits, cases[i].digits);
        CHECK_INT(ev.opted_out, cases[i].opted_out);
        CHECK_INT(ev.outcome, OUTCOME_ANSWERED);
        provider_event_free(&ev);
    }
}

static void test_callback_outcomes(void)
{
    static const struct {
        const char *body;
        int final, answered, outcome;
        int64_t sequence;
        double duration;
        const char *message;
    } cases[] = {
        {"CallSid=CA1&CallStatus=initiated&SequenceNumber=0", 0, 0, OUTCOME_NONE, 0, 0,
         "Call initiated"},
        {"CallSid=CA1&CallStatus=ringing&SequenceNumber=1", 0, 0, OUTCOME_NONE, 1, 0, "Ringing"},
        {"CallSid=CA1&CallStatus=in-progress", 0, 0, OUTCOME_NONE, -1, 0, "Call in progress"},
        {"CallSid=CA1&CallStatus=busy&SipResponseCode=486&CallDuration=0", 1, 0, OUTCOME_BUSY, -1,
         0, "Number busy"},
        {"CallSid=CA1&CallStatus=no-answer&SipResponseCode=487", 1, 0, OUTCOME_NO_ANSWER, -1, 0,
         "No answer"},
        {"CallSid=CA1&CallStatus=failed&SipResponseCode=480", 1, 0, OUTCOME_UNREACHABLE, -1, 0,
         "Number unreachable (SIP 480)"},
        {"CallSid=CA1&CallStatus=failed&SipResponseCode=404", 1, 0, OUTCOME_INVALID_NUMBER, -1, 0,
         "Number does not exist (SIP 404)"},
        {"CallSid=CA1&CallStatus=failed&SipResponseCode=603", 1, 0, OUTCOME_REJECTED, -1, 0,
         "Call rejected by the recipient (SIP 603)"},
        {"CallSid=CA1&CallStatus=failed&SipResponseCode=608", 1, 0, OUTCOME_CARRIER_BLOCKED, -1, 0,
         "Blocked by the carrier (SIP 608)"},
        {"CallSid=CA1&CallStatus=completed&AnsweredBy=machine_start&Duration=17", 1, 1,
         OUTCOME_VOICEMAIL, -1, 17, "Voicemail reached"},
        {"CallSid=CA1&CallStatus=completed&CallDuration=9.5&SipResponseCode=", 1, 1,
         OUTCOME_ANSWERED, -1, 9.5, "Answered"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct call_event ev;
        const char *b = cases[i].body;
        int rc = twilio_parse_callback(QUERY, strlen(QUERY), b, strlen(b), &ev);
        CHECK_REPORT(rc == 0, "case %zu: rc %d", i, rc);
        CHECK_REPORT(ev.final == cases[i].final && ev.answered == cases[i].answered &&
                         ev.outcome == cases[i].outcome && ev.sequence == cases[i].sequence &&
                         ev.duration == cases[i].duration,
                     "case %zu: final %d answered %d outcome %d sequence %lld duration %g", i,
                     ev.final, ev.answered, ev.outcome, (long long)ev.sequence, ev.duration);
        CHECK_STR(ev.message, cases[i].message);
        CHECK(ev.transcript == NULL);
        provider_event_free(&ev);
    }
}

static void test_callback_malformed(void)
{
    static const struct {
        const char *query, *body;
    } cases[] = {
        {QUERY, "CallStatus=completed"},
        {QUERY, "CallSid=CA1"},
        {QUERY, "CallSid=&CallStatus=completed"},
        {QUERY, "CallSid=CA1&CallStatus="},
        {QUERY, ""},
        {QUERY, "CallSid=CA1&CallStatus=failed&SipResponseCode=abc"},
        {QUERY, "CallSid=CA1&CallStatus=failed&SipResponseCode=1000"},
        {QUERY, "CallSid=CA1&CallStatus=failed&SipResponseCode=-1"},
        {QUERY, "CallSid=CA1&CallStatus=ringing&SequenceNumber=-1"},
        {QUERY, "CallSid=CA1&CallStatus=ringing&SequenceNumber=1.5"},
        {QUERY, "CallSid=CA1&CallStatus=completed&CallDuration=x"},
        {QUERY, "CallSid=CA1&CallStatus=completed&CallDuration=-3"},
        {QUERY, "CallSid=CA1&CallStatus=completed&CallDuration=+inf"},
        {QUERY, "CallSid=CA1&CallStatus=completed&CallDuration=nan"},
        {QUERY, "CallSid=CA0123456789012345678901234567890123456789012345678901234567890123"
                "&CallStatus=completed"},
        {QUERY, "CallSid=CA1&CallStatus=a-status-word-much-longer-than-thirty-two"},
        {"", "CallSid=CA1&CallStatus=completed"},
        {"b=" BATCH "&r=12", "CallSid=CA1&CallStatus=completed"},
        {"b=" BATCH "&a=1", "CallSid=CA1&CallStatus=completed"},
        {"r=1&a=1", "CallSid=CA1&CallStatus=completed"},
        {"b=batch_x&r=1&a=1", "CallSid=CA1&CallStatus=completed"},
        {"b=job_01HQ3V6Z8R2M4N5P6Q7R8S9T0V&r=1&a=1", "CallSid=CA1&CallStatus=completed"},
        {"b=" BATCH "&r=0&a=1", "CallSid=CA1&CallStatus=completed"},
        {"b=" BATCH "&r=1&a=0", "CallSid=CA1&CallStatus=completed"},
        {"b=" BATCH "&r=4294967296&a=1", "CallSid=CA1&CallStatus=completed"},
        {"b=" BATCH "&r=%2B1&a=1", "CallSid=CA1&CallStatus=completed"},
        {"b=" BATCH "&r=1&a=x", "CallSid=CA1&CallStatus=completed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct call_event ev;
        int rc = twilio_parse_callback(cases[i].query, strlen(cases[i].query), cases[i].body,
                                       strlen(cases[i].body), &ev);
        CHECK_REPORT(rc == BC_EINVAL, "case %zu: rc %d", i, rc);
        CHECK(ev.transcript == NULL);
        provider_event_free(&ev);
    }
    /* The largest row fits. */
    struct call_event ev;
    const char *q = "a=1&r=4294967295&b=" BATCH;
    CHECK_INT(twilio_parse_callback(q, strlen(q), "CallSid=CA1&CallStatus=busy", 27, &ev), 0);
    CHECK_INT(ev.row, 4294967295u);
    provider_event_free(&ev);
}

/* The server's path: one decoding of the body for the signature and the fields. Whatever the
 * body, a correct signature gives what twilio_parse_callback gives, and any other signature
 * gives BC_EACCES and an empty event. */
static void same_event(size_t i, const struct call_event *a, const struct call_event *b)
{
    CHECK_REPORT(strcmp(a->call_id, b->call_id) == 0 && strcmp(a->batch, b->batch) == 0 &&
                     a->row == b->row && a->seq == b->seq && a->sequence == b->sequence &&
                     a->final == b->final && a->answered == b->answered &&
                     a->outcome == b->outcome && a->sip == b->sip && a->duration == b->duration &&
                     strcmp(a->status, b->status) == 0 && strcmp(a->message, b->message) == 0 &&
                     a->opted_out == b->opted_out && strcmp(a->digits, b->digits) == 0 &&
                     (a->transcript && b->transcript ? strcmp(a->transcript, b->transcript) == 0
                                                     : a->transcript == b->transcript),
                 "case %zu: the events differ (call %s/%s, status %s/%s)", i, a->call_id,
                 b->call_id, a->status, b->status);
}

static void test_callback_verified(void)
{
    static const char url[] = "https://calls.example.com/v1/provider/twilio/status?" QUERY;
    struct buf longtext = {0};
    buf_append_str(&longtext, "CallSid=CA9&CallStatus=completed&TranscriptionText=");
    for (int i = 0; i < 600; i++)
        buf_append_str(&longtext, "call+me%2C+");
    const char *bodies[] = {
        "AccountSid=AC0123456789abcdef0123456789abcdef&CallSid=CA42&CallStatus=completed"
        "&From=%2B14155550199&To=%2B14155550100&SequenceNumber=3&CallDuration=42&Duration=1"
        "&SipResponseCode=200&AnsweredBy=human&TranscriptionText=Yes%2C+please+%E2%98%8E",
        /* Repeated names: the first in the body counts, though the signature sorts them. */
        "CallStatus=ringing&CallSid=CA7&CallStatus=completed&CallSid=CA1",
        "CallSid=CA7&CallStatus=ringing&SequenceNumber=9&SequenceNumber=1",
        /* Encoded names and values. */
        "Call%53id=CA%37&Call+Status=x&CallStatus=no%2Danswer&Digits=%23",
        "CallSid=CA1&CallStatus=in-progress&OptOut=true",
        "CallSid=CA1&CallStatus=completed&Duration=7",
        /* Malformed: the same 400 as twilio_parse_callback, after the signature passed. */
        "CallStatus=completed",
        "CallSid=CA1&CallStatus=",
        "CallSid=CA1&CallStatus=failed&SipResponseCode=abc",
        "CallSid=CA1&CallStatus=a-status-word-much-longer-than-thirty-two",
        "CallSid=CA1%00&CallStatus=busy",
        "",
        "&&=&CallSid&CallStatus=busy%",
        /* Longer than the inline buffers: the signed string and the decoded text allocate. */
        longtext.data,
    };
    struct crypto_hmac_sha1 key;
    CHECK_INT(crypto_hmac_sha1_init(&key, "12345", 5), 0);
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        const char *b = bodies[i];
        size_t blen = strlen(b);
        char sig[64];
        CHECK_INT(twilio_sign("12345", url, strlen(url), b, blen, sig), 0);
        struct call_event want, got;
        int want_rc = twilio_parse_callback(QUERY, strlen(QUERY), b, blen, &want);
        for (int keyed = 0; keyed < 2; keyed++) {
            int rc = twilio_verify_callback(keyed ? &key : NULL, "12345", url, strlen(url), QUERY,
                                            strlen(QUERY), b, blen, sig, strlen(sig), &got);
            CHECK_REPORT(rc == want_rc, "case %zu: rc %d, want %d", i, rc, want_rc);
            if (rc == 0)
                same_event(i, &got, &want);
            provider_event_free(&got);
            /* One byte of the signature changed, a wrong token, a cut signature, none. */
            char bad[64];
            memcpy(bad, sig, sizeof bad);
            bad[3] = bad[3] == 'A' ? 'B' : 'A';
            const struct {
                const char *token, *sig;
                size_t len;
            } refused[] = {
                {"12345", bad, strlen(bad)}, {"12346", sig, strlen(sig)},
                {"", sig, strlen(sig)},      {"12345", sig, strlen(sig) - 1},
                {"12345", NULL, 0},
            };
            for (size_t j = 0; j < sizeof refused / sizeof refused[0]; j++) {
                /* A keyed MAC has its token already (the one given is for the fallback). */
                if (keyed && j == 1)
                    continue;
                rc = twilio_verify_callback(keyed ? &key : NULL, refused[j].token, url, strlen(url),
                                            QUERY, strlen(QUERY), b, blen, refused[j].sig,
                                            refused[j].len, &got);
                CHECK_REPORT(rc == BC_EACCES && got.call_id[0] == '\0' && got.transcript == NULL,
                             "case %zu, refusal %zu: rc %d", i, j, rc);
                provider_event_free(&got);
            }
        }
        provider_event_free(&want);
    }
    /* The URL's other form (the default port added) verifies too, as in twilio_verify. */
    static const char with_port[] =
        "https://calls.example.com:443/v1/provider/twilio/status?" QUERY;
    char sig[64];
    const char *b = bodies[0];
    CHECK_INT(twilio_sign("12345", with_port, strlen(with_port), b, strlen(b), sig), 0);
    struct call_event ev;
    CHECK_INT(twilio_verify_callback(&key, "12345", url, strlen(url), QUERY, strlen(QUERY), b,
                                     strlen(b), sig, strlen(sig), &ev),
              0);
    CHECK_STR(ev.call_id, "CA42");
    provider_event_free(&ev);
    crypto_hmac_sha1_free(&key);
    buf_free(&longtext);
}

/* The signature decodes the body in one pass of its own: it must read every body as form_next
 * and form_decode do. Each body is re-encoded from what those two read (canonically, with
 * form_append) and both must sign alike; more pairs than the decoder keeps inline included. */
static void test_signature_decoding(void)
{
    static const char url[] = "https://calls.example.com/cb";
    struct buf many = {0};
    for (int i = 0; i < 130; i++)
        buf_printf(&many, "%sP%03d=v%%2B%d%s", i ? "&" : "", 130 - i, i, i % 7 ? "" : "&&");
    const char *bodies[] = {
        "a=1&b=2",         "&&a=1&&",       "=x&y",        "a=b=c&a",    "a=%4&b=%", "a=%%41&b=%41",
        "a=%zz%4G+%2b%2B", "a+b%3Dc=d%26e", "n=%E2%98%8E", "x=1&x=0&x=", many.data,
    };
    size_t lens[sizeof bodies / sizeof bodies[0]];
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        lens[i] = strlen(bodies[i]);
    /* NUL bytes are bytes like any other. */
    static const char with_nul[] = "a=1\0b&c\0=%00";
    bodies[1] = with_nul;
    lens[1] = sizeof with_nul - 1;
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        struct buf canon = {0};
        struct form_pair p;
        size_t pos = 0;
        while (form_next(bodies[i], lens[i], &pos, &p)) {
            char name[64], value[64];
            size_t nl = form_decode(p.name, p.name_len, name);
            size_t vl = form_decode(p.value, p.value_len, value);
            if (canon.len)
                buf_append(&canon, "&", 1);
            form_escape(&canon, name, nl);
            buf_append(&canon, "=", 1);
            form_escape(&canon, value, vl);
        }
        char want[64], got[64];
        CHECK_INT(
            twilio_sign("12345", url, strlen(url), canon.data ? canon.data : "", canon.len, want),
            0);
        CHECK_INT(twilio_sign("12345", url, strlen(url), bodies[i], lens[i], got), 0);
        CHECK_REPORT(strcmp(want, got) == 0, "body %zu: %s, want %s", i, got, want);
        CHECK_INT(twilio_verify("12345", url, strlen(url), bodies[i], lens[i], want, strlen(want)),
                  1);
        buf_free(&canon);
    }
    buf_free(&many);
}

/* ---- fetching a call ----------------------------------------------------------------------- */

static void test_parse_fetch(void)
{
    static const struct {
        int result;
        long status;
        const char *body;
        int rc;
        int final, answered, outcome;
        double duration;
    } cases[] = {
        {CLIENT_OK, 200,
         "{\"sid\":\"CA9\",\"status\":\"completed\",\"answered_by\":\"human\",\"duration\":\"42\"}",
         0, 1, 1, OUTCOME_ANSWERED, 42},
        {CLIENT_OK, 200,
         "{\"sid\":\"CA9\",\"status\":\"completed\",\"answered_by\":\"machine_start\","
         "\"duration\":17}",
         0, 1, 1, OUTCOME_VOICEMAIL, 17},
        {CLIENT_OK, 200, "{\"sid\":\"CA9\",\"status\":\"completed\",\"answered_by\":null}", 0, 1, 1,
         OUTCOME_ANSWERED, 0},
        {CLIENT_OK, 200, "{\"sid\":\"CA9\",\"status\":\"busy\",\"duration\":\"0\"}", 0, 1, 0,
         OUTCOME_BUSY, 0},
        {CLIENT_OK, 200, "{\"sid\":\"CA9\",\"status\":\"failed\"}", 0, 1, 0, OUTCOME_UNREACHABLE,
         0},
        {CLIENT_OK, 200, "{\"sid\":\"CA9\",\"status\":\"in-progress\",\"duration\":null}", 0, 0, 0,
         OUTCOME_NONE, 0},
        {CLIENT_OK, 404, "{\"code\":20404}", BC_ENOTFOUND, 0, 0, 0, 0},
        {CLIENT_OK, 401, "{\"code\":20003}", BC_EACCES, 0, 0, 0, 0},
        {CLIENT_OK, 500, "", BC_EIO, 0, 0, 0, 0},
        {CLIENT_OK, 429, "", BC_EIO, 0, 0, 0, 0},
        {CLIENT_E_TIMEOUT, 0, NULL, BC_EIO, 0, 0, 0, 0},
        {CLIENT_OK, 200, "garbage", BC_EINVAL, 0, 0, 0, 0},
        {CLIENT_OK, 200, "{\"sid\":\"CA9\"}", BC_EINVAL, 0, 0, 0, 0},
        {CLIENT_OK, 200, "{\"status\":\"completed\",\"duration\":\"x\"}", BC_EINVAL, 0, 0, 0, 0},
        {CLIENT_OK, 200, "{\"status\":\"completed\",\"duration\":-1}", BC_EINVAL, 0, 0, 0, 0},
    };
    struct provider_config cfg;
    test_config(&cfg);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct client_request r;
        struct call_event ev;
        finished(&r, cases[i].result, cases[i].status, cases[i].body);
        int rc = provider_parse_fetch(&cfg, &r, &ev);
        CHECK_REPORT(rc == cases[i].rc, "case %zu: rc %d", i, rc);
        CHECK_REPORT(ev.final == cases[i].final && ev.answered == cases[i].answered &&
                         ev.outcome == cases[i].outcome && ev.duration == cases[i].duration,
                     "case %zu: final %d answered %d outcome %d duration %g", i, ev.final,
                     ev.answered, ev.outcome, ev.duration);
        CHECK_INT(ev.sip, 0);
        CHECK_INT(ev.sequence, -1);
        if (rc == 0)
            CHECK_STR(ev.call_id, "CA9");
        provider_event_free(&ev);
        buf_free(&r.response);
    }
}

/* The callback query: plain values (the URLs we hand out) and escaped ones read the same; a value
 * missing, too long, zero or not a number is refused. */
static void test_callback_query(void)
{
    static const struct {
        const char *q;
        int rc;
        uint32_t row, seq;
    } cases[] = {
        {"b=" BATCH "&r=7&a=2", 0, 7, 2},
        {"a=2&r=7&b=" BATCH, 0, 7, 2},
        {"b=batch%5F01HQ3V6Z8R2M4N5P6Q7R8S9T0V&r=%37&a=1%32", 0, 7, 12},
        {"b=" BATCH "&r=4294967295&a=1", 0, 4294967295u, 1},
        {"b=" BATCH "&r=0000000000000001&a=1", BC_EINVAL, 0, 0},
        {"b=" BATCH "&r=%30000000000000001&a=1", BC_EINVAL, 0, 0},
        {"b=" BATCH "&r=4294967296&a=1", BC_EINVAL, 0, 0},
        {"b=" BATCH "&r=0&a=1", BC_EINVAL, 0, 0},
        {"b=" BATCH "&r=+7&a=1", BC_EINVAL, 0, 0},
        {"b=" BATCH "&r=7%00&a=1", 0, 7, 1},
        {"b=" BATCH "&r=7", BC_EINVAL, 0, 0},
        {"b=" BATCH "x&r=7&a=1", BC_EINVAL, 0, 0},
        {"b=batch+01HQ3V6Z8R2M4N5P6Q7R8S9T0V&r=7&a=1", BC_EINVAL, 0, 0},
        {"b=" BATCH BATCH "&r=7&a=1", BC_EINVAL, 0, 0},
        {"", BC_EINVAL, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct call_event ev;
        provider_event_init(&ev);
        CHECK_INT(provider_parse_callback_query(cases[i].q, strlen(cases[i].q), &ev), cases[i].rc);
        if (cases[i].rc)
            continue;
        CHECK_STR(ev.batch, BATCH);
        CHECK_INT(ev.row, cases[i].row);
        CHECK_INT(ev.seq, cases[i].seq);
    }
}

CHECK_MAIN(CHECK_CASE(test_form_round_trip), CHECK_CASE(test_callback_query),
           CHECK_CASE(test_form_encoding), CHECK_CASE(test_form_get), CHECK_CASE(test_form_next),
           CHECK_CASE(test_signature_vectors), CHECK_CASE(test_signature_order),
           CHECK_CASE(test_signature_body_hash), CHECK_CASE(test_signature_rejects),
           CHECK_CASE(test_create_say), CHECK_CASE(test_create_exact_body),
           CHECK_CASE(test_create_stream), CHECK_CASE(test_create_stream_scheme),
           CHECK_CASE(test_create_twiml_limit), CHECK_CASE(test_check_agent),
           CHECK_CASE(test_request_set), CHECK_CASE(test_fetch_request),
           CHECK_CASE(test_parse_create), CHECK_CASE(test_outcomes), CHECK_CASE(test_callback),
           CHECK_CASE(test_callback_opt_out), CHECK_CASE(test_callback_outcomes),
           CHECK_CASE(test_callback_malformed), CHECK_CASE(test_callback_verified),
           CHECK_CASE(test_signature_decoding), CHECK_CASE(test_parse_fetch))
