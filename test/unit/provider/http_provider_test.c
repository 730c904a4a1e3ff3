/* Tests for the http dialect: the signed JSON create request, the classification of the
 * provider's answers, signed callbacks (good, forged and malformed) and the fetch request. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "provider/http_provider.h"
#include "provider/provider.h"
#include "store/records.h"
#include "util/crypto.h"
#include "util/err.h"

#define BATCH  "batch_01HQ3V6Z8R2M4N5P6Q7R8S9T0V"
#define QUERY  "b=" BATCH "&r=12&a=3"
#define SECRET "whsec-test"
#define STATUS "https://calls.example.com/v1/provider/http/status?"
#define URL    STATUS QUERY

static void test_config(struct provider_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = PROVIDER_HTTP;
    snprintf(cfg->http_url, sizeof cfg->http_url, "https://provider.example.com/v1/calls/");
    snprintf(cfg->http_secret, sizeof cfg->http_secret, SECRET);
    snprintf(cfg->public_url, sizeof cfg->public_url, "https://calls.example.com");
}

static void sign(const char *secret, const char *body, char out[2 * SHA256_LEN + 1])
{
    uint8_t mac[SHA256_LEN];
    crypto_hmac_sha256(secret, strlen(secret), body, strlen(body), mac);
    crypto_hex(mac, sizeof mac, out);
}

static const char *json_str(const cJSON *obj, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

static void test_create_request(void)
{
    struct provider_config cfg;
    test_config(&cfg);
    cfg.request_timeout_ms = 4000;
    cJSON *vars = cJSON_Parse("{\"name\":\"Ann \\\"A\\\"\",\"city\":\"K\\u00f8benhavn\"}");
    struct dial_attempt a = {
        .batch = BATCH,
        .row = 7,
        .seq = 2,
        .to = "+14155550100",
        .from = "+14155550199",
        .agent_id = "agent_01HQ",
        .voice_url = "wss://voice.example.com/s",
        .prompt = "Hi \"Ann\",\nyour order\\shipped",
        .variables = vars,
    };
    struct client_request r;
    memset(&r, 0, sizeof r);
    CHECK_INT(provider_build_create(&cfg, &a, &r), 0);
    CHECK_STR(r.url, "https://provider.example.com/v1/calls/");
    CHECK_STR(r.method, "POST");
    CHECK_STR(r.content_type, "application/json");
    CHECK(r.userpwd == NULL);
    CHECK_INT(r.timeout_ms, 4000);

    char want[2 * SHA256_LEN + 1], header[128];
    sign(SECRET, r.body.data, want);
    CHECK(r.headers != NULL);
    CHECK_STR(r.headers[0], "Idempotency-Key: " BATCH ":7:2");
    snprintf(header, sizeof header, "X-Signature: %s", want);
    CHECK_STR(r.headers[1], header);
    CHECK(r.headers[2] == NULL);

    cJSON *j = cJSON_ParseWithLength(r.body.data, r.body.len);
    CHECK(cJSON_IsObject(j));
    CHECK_STR(json_str(j, "id"), BATCH ":7:2");
    CHECK_STR(json_str(j, "to"), "+14155550100");
    CHECK_STR(json_str(j, "from"), "+14155550199");
    CHECK_STR(json_str(j, "agentId"), "agent_01HQ");
    CHECK_STR(json_str(j, "prompt"), "Hi \"Ann\",\nyour order\\shipped");
    CHECK_STR(json_str(j, "callbackUrl"),
              "https://calls.example.com/v1/provider/http/status?b=" BATCH "&r=7&a=2");
    CHECK(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(j, "variables"), vars, 1));
    CHECK_INT(cJSON_GetArraySize(j), 7);
    cJSON_Delete(j);
    buf_free(&r.body);

    /* No variables still sends an object; a missing prompt an empty string. */
    a.variables = NULL;
    a.prompt = NULL;
    memset(&r, 0, sizeof r);
    CHECK_INT(provider_build_create(&cfg, &a, &r), 0);
    j = cJSON_ParseWithLength(r.body.data, r.body.len);
    CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "variables")));
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "variables")), 0);
    CHECK_STR(json_str(j, "prompt"), "");
    CHECK_INT(r.timeout_ms, 4000);
    cJSON_Delete(j);
    buf_free(&r.body);
    cJSON_Delete(vars);
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
        {CLIENT_OK, 200, "{\"callId\":\"c-1\"}", 0, CREATE_OK, OUTCOME_NONE, "c-1", ""},
        {CLIENT_OK, 201, "{\"id\":\"c-2\"}", 0, CREATE_OK, OUTCOME_NONE, "c-2", ""},
        {CLIENT_OK, 202, "{\"callId\":\"c-3\",\"id\":\"other\"}", 0, CREATE_OK, OUTCOME_NONE, "c-3",
         ""},
        {CLIENT_OK, 200, "{}", 0, CREATE_RETRY, OUTCOME_NONE, "", "without a callId"},
        {CLIENT_OK, 202, "", 0, CREATE_RETRY, OUTCOME_NONE, "", "without a callId"},
        {CLIENT_OK, 200, "{\"callId\":42}", 0, CREATE_RETRY, OUTCOME_NONE, "", "without a callId"},
        {CLIENT_E_CONNECT, 0, NULL, 0, CREATE_RETRY, OUTCOME_NONE, "", "request failed"},
        {CLIENT_E_TIMEOUT, 0, NULL, 0, CREATE_RETRY, OUTCOME_NONE, "", "request failed"},
        {CLIENT_OK, 429, "{\"error\":\"rate_limited\"}", 3000, CREATE_RETRY, OUTCOME_NONE, "",
         "HTTP 429: rate_limited"},
        {CLIENT_OK, 503, "", 0, CREATE_RETRY, OUTCOME_NONE, "", "HTTP 503"},
        {CLIENT_OK, 400, "{\"error\":\"invalid_number\",\"message\":\"not E.164\"}", 0,
         CREATE_FINAL, OUTCOME_INVALID_NUMBER, "",
         "Invalid phone number (call provider: not "
         "E.164)"},
        {CLIENT_OK, 422, "{\"error\":\"invalid_number\"}", 0, CREATE_FINAL, OUTCOME_INVALID_NUMBER,
         "", "invalid_number"},
        {CLIENT_OK, 400, "{\"error\":\"bad_request\",\"message\":\"missing to\"}", 0, CREATE_FINAL,
         OUTCOME_PROVIDER_ERROR, "", "Call provider error (HTTP 400): bad_request: missing to"},
        {CLIENT_OK, 409, "", 0, CREATE_FINAL, OUTCOME_PROVIDER_ERROR, "", "HTTP 409"},
        {CLIENT_OK, 404, "{\"error\":\"no_route\"}", 0, CREATE_FINAL, OUTCOME_PROVIDER_ERROR, "",
         "no_route"},
        {CLIENT_OK, 401, "{\"error\":\"bad_signature\"}", 0, CREATE_HALT, OUTCOME_NONE, "",
         "HTTP 401, bad_signature"},
        {CLIENT_OK, 403, "", 0, CREATE_HALT, OUTCOME_NONE, "", "HTTP 403"},
        {CLIENT_OK, 404, "Not Found", 0, CREATE_HALT, OUTCOME_NONE, "", "HTTP 404"},
        {CLIENT_OK, 301, "", 0, CREATE_HALT, OUTCOME_NONE, "", "HTTP 301"},
    };
    struct provider_config cfg;
    test_config(&cfg);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct client_request r;
        struct create_result out;
        memset(&r, 0, sizeof r);
        r.result = cases[i].result;
        r.status = cases[i].status;
        r.retry_after_ms = cases[i].retry_after;
        if (cases[i].body)
            buf_append_str(&r.response, cases[i].body);
        memset(&out, 0x55, sizeof out);
        provider_parse_create(&cfg, &r, &out);
        CHECK_REPORT(out.cls == cases[i].cls && out.outcome == cases[i].outcome,
                     "case %zu: class %d outcome %d", i, out.cls, out.outcome);
        CHECK_STR(out.call_id, cases[i].call_id);
        CHECK_INT(out.retry_after_ms, cases[i].retry_after);
        CHECK_REPORT(strstr(out.message, cases[i].message) != NULL,
                     "case %zu: message \"%s\" lacks \"%s\"", i, out.message, cases[i].message);
        buf_free(&r.response);
    }
}

/* A callback's signature: of the URL it is sent to, a newline and the body. */
static void sign_callback(const char *secret, const char *url, const char *body,
                          char out[2 * SHA256_LEN + 1])
{
    char text[1024];
    snprintf(text, sizeof text, "%s\n%s", url, body);
    sign(secret, text, out);
}

static int parse_signed(const char *query, const char *body, struct call_event *ev)
{
    char sig[2 * SHA256_LEN + 1], url[512];
    snprintf(url, sizeof url, "%s%s", STATUS, query);
    sign_callback(SECRET, url, body, sig);
    return http_provider_parse_callback(SECRET, url, strlen(url), query, strlen(query), body,
                                        strlen(body), sig, strlen(sig), ev);
}

static void test_callback_mapping(void)
{
    static const struct {
        const char *body;
        int final, answered, outcome, sip;
        const char *message;
    } cases[] = {
        {"{\"callId\":\"c1\",\"status\":\"initiated\"}", 0, 0, OUTCOME_NONE, 0, "Call initiated"},
        {"{\"callId\":\"c1\",\"status\":\"ringing\"}", 0, 0, OUTCOME_NONE, 0, "Ringing"},
        {"{\"callId\":\"c1\",\"status\":\"answered\"}", 0, 0, OUTCOME_NONE, 0, "Call in progress"},
        {"{\"callId\":\"c1\",\"status\":\"completed\"}", 1, 1, OUTCOME_ANSWERED, 0, "Answered"},
        {"{\"callId\":\"c1\",\"status\":\"voicemail\"}", 1, 1, OUTCOME_VOICEMAIL, 0,
         "Voicemail reached"},
        {"{\"callId\":\"c1\",\"status\":\"busy\",\"sip\":486}", 1, 0, OUTCOME_BUSY, 486,
         "Number busy"},
        {"{\"callId\":\"c1\",\"status\":\"no_answer\"}", 1, 0, OUTCOME_NO_ANSWER, 0, "No answer"},
        {"{\"callId\":\"c1\",\"status\":\"failed\"}", 1, 0, OUTCOME_UNREACHABLE, 0,
         "Number unreachable"},
        {"{\"callId\":\"c1\",\"status\":\"failed\",\"sip\":480}", 1, 0, OUTCOME_UNREACHABLE, 480,
         "Number unreachable (SIP 480)"},
        {"{\"callId\":\"c1\",\"status\":\"failed\",\"sip\":404}", 1, 0, OUTCOME_INVALID_NUMBER, 404,
         "Number does not exist (SIP 404)"},
        {"{\"callId\":\"c1\",\"status\":\"failed\",\"sip\":603}", 1, 0, OUTCOME_REJECTED, 603,
         "Call rejected by the recipient (SIP 603)"},
        {"{\"callId\":\"c1\",\"status\":\"failed\",\"sip\":608}", 1, 0, OUTCOME_CARRIER_BLOCKED,
         608, "Blocked by the carrier (SIP 608)"},
        {"{\"callId\":\"c1\",\"status\":\"failed\",\"sip\":486}", 1, 0, OUTCOME_BUSY, 486,
         "Number busy (SIP 486)"},
        {"{\"id\":\"c1\",\"status\":\"busy\",\"sip\":null,\"duration\":null}", 1, 0, OUTCOME_BUSY,
         0, "Number busy"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct call_event ev;
        int rc = parse_signed(QUERY, cases[i].body, &ev);
        CHECK_REPORT(rc == 0, "case %zu: rc %d", i, rc);
        CHECK_REPORT(ev.final == cases[i].final && ev.answered == cases[i].answered &&
                         ev.outcome == cases[i].outcome && ev.sip == cases[i].sip,
                     "case %zu: final %d answered %d outcome %d sip %d", i, ev.final, ev.answered,
                     ev.outcome, ev.sip);
        CHECK_STR(ev.message, cases[i].message);
        CHECK_STR(ev.call_id, "c1");
        CHECK_STR(ev.batch, BATCH);
        CHECK_INT(ev.row, 12);
        CHECK_INT(ev.seq, 3);
        CHECK_INT(ev.sequence, -1);
        provider_event_free(&ev);
    }
}

static void test_callback_fields(void)
{
    static const char body[] = "{\"callId\":\"call-77\",\"status\":\"completed\",\"duration\":63.5,"
                               "\"transcript\":\"Yes \\u2014 call me\",\"sequence\":4,\"sip\":200}";
    struct call_event ev;
    CHECK_INT(parse_signed(QUERY, body, &ev), 0);
    CHECK_STR(ev.call_id, "call-77");
    CHECK_STR(ev.status, "completed");
    CHECK(ev.duration == 63.5);
    CHECK_INT(ev.sequence, 4);
    CHECK_INT(ev.sip, 200);
    CHECK_STR(ev.transcript, "Yes \xe2\x80\x94 call me");
    provider_event_free(&ev);
    CHECK(ev.transcript == NULL);
}

static void test_callback_opt_out(void)
{
    static const struct {
        const char *body;
        int rc, opted_out;
    } cases[] = {
        {"{\"callId\":\"c1\",\"status\":\"completed\"}", 0, 0},
        {"{\"callId\":\"c1\",\"status\":\"completed\",\"optOut\":true}", 0, 1},
        {"{\"callId\":\"c1\",\"status\":\"no_answer\",\"optOut\":false}", 0, 0},
        {"{\"callId\":\"c1\",\"status\":\"completed\",\"optOut\":null}", 0, 0},
        {"{\"callId\":\"c1\",\"status\":\"completed\",\"optOut\":\"yes\"}", BC_EINVAL, 0},
        {"{\"callId\":\"c1\",\"status\":\"completed\",\"optOut\":1}", BC_EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct call_event ev;
        CHECK_INT(parse_signed(QUERY, cases[i].body, &ev), cases[i].rc);
        CHECK_INT(ev.opted_out, cases[i].opted_out);
        provider_event_free(&ev);
    }
}

static void test_callback_signatures(void)
{
    static const char body[] = "{\"callId\":\"c1\",\"status\":\"completed\"}";
    char sig[2 * SHA256_LEN + 1], upper[2 * SHA256_LEN + 1];
    struct call_event ev;
    sign_callback(SECRET, URL, body, sig);
    for (size_t i = 0; i <= 2 * SHA256_LEN; i++)
        upper[i] = (char)(sig[i] >= 'a' && sig[i] <= 'f' ? sig[i] - 32 : sig[i]);
    size_t ulen = strlen(URL), qlen = strlen(QUERY), blen = strlen(body);

    CHECK_INT(
        http_provider_parse_callback(SECRET, URL, ulen, QUERY, qlen, body, blen, sig, 64, &ev), 0);
    provider_event_free(&ev);
    CHECK_INT(
        http_provider_parse_callback(SECRET, URL, ulen, QUERY, qlen, body, blen, upper, 64, &ev),
        0);
    provider_event_free(&ev);

    CHECK_INT(
        http_provider_parse_callback("other", URL, ulen, QUERY, qlen, body, blen, sig, 64, &ev),
        BC_EACCES);
    CHECK_INT(http_provider_parse_callback("", URL, ulen, QUERY, qlen, body, blen, sig, 64, &ev),
              BC_EACCES);
    CHECK_INT(
        http_provider_parse_callback(SECRET, URL, ulen, QUERY, qlen, body, blen - 1, sig, 64, &ev),
        BC_EACCES);
    CHECK_INT(
        http_provider_parse_callback(SECRET, URL, ulen, QUERY, qlen, body, blen, NULL, 0, &ev),
        BC_EACCES);
    CHECK_INT(
        http_provider_parse_callback(SECRET, URL, ulen, QUERY, qlen, body, blen, sig, 63, &ev),
        BC_EACCES);
    CHECK_INT(http_provider_parse_callback(SECRET, URL, ulen, QUERY, qlen, body, blen, "", 0, &ev),
              BC_EACCES);
    sig[10] = sig[10] == '0' ? '1' : '0';
    CHECK_INT(
        http_provider_parse_callback(SECRET, URL, ulen, QUERY, qlen, body, blen, sig, 64, &ev),
        BC_EACCES);
    /* An empty secret signs nothing, even a body signed with the empty key. */
    sign_callback("", URL, body, sig);
    CHECK_INT(http_provider_parse_callback("", URL, ulen, QUERY, qlen, body, blen, sig, 64, &ev),
              BC_EACCES);
    /* The signature is checked before anything else is looked at. */
    CHECK_INT(http_provider_parse_callback(SECRET, URL, ulen, "", 0, "junk", 4, sig, 64, &ev),
              BC_EACCES);
    CHECK(ev.transcript == NULL);
}

/* The signature covers the URL, whose query picks the job: a genuine report on one call,
 * replayed to another call's URL, is refused; so is a signature of the body alone. */
static void test_callback_replay_to_another_call(void)
{
    static const char body[] = "{\"callId\":\"c1\",\"status\":\"completed\",\"duration\":9}";
    static const char other_query[] = "b=" BATCH "&r=13&a=3";
    static const char other_url[] = STATUS "b=" BATCH "&r=13&a=3";
    size_t blen = strlen(body), oqlen = strlen(other_query);
    char sig[2 * SHA256_LEN + 1];
    struct call_event ev;
    sign_callback(SECRET, URL, body, sig);
    CHECK_INT(http_provider_parse_callback(SECRET, URL, strlen(URL), QUERY, strlen(QUERY), body,
                                           blen, sig, 64, &ev),
              0);
    CHECK_INT(ev.row, 12);
    provider_event_free(&ev);
    CHECK_INT(http_provider_parse_callback(SECRET, other_url, strlen(other_url), other_query, oqlen,
                                           body, blen, sig, 64, &ev),
              BC_EACCES);
    sign(SECRET, body, sig);
    CHECK_INT(http_provider_parse_callback(SECRET, other_url, strlen(other_url), other_query, oqlen,
                                           body, blen, sig, 64, &ev),
              BC_EACCES);
    CHECK_INT(http_provider_parse_callback(SECRET, URL, strlen(URL), QUERY, strlen(QUERY), body,
                                           blen, sig, 64, &ev),
              BC_EACCES);
}

static void test_callback_malformed(void)
{
    static const struct {
        const char *query, *body;
    } cases[] = {
        {QUERY, "not json"},
        {QUERY, ""},
        {QUERY, "[1,2]"},
        {QUERY, "{\"status\":\"completed\"}"},
        {QUERY, "{\"callId\":\"\",\"status\":\"completed\"}"},
        {QUERY, "{\"callId\":7,\"status\":\"completed\"}"},
        {QUERY, "{\"callId\":\"c1\"}"},
        {QUERY, "{\"callId\":\"c1\",\"status\":\"in-progress\"}"},
        {QUERY, "{\"callId\":\"c1\",\"status\":\"COMPLETED\"}"},
        {QUERY, "{\"callId\":\"c1\",\"status\":\"failed\",\"sip\":\"480\"}"},
        {QUERY, "{\"callId\":\"c1\",\"status\":\"failed\",\"sip\":48.5}"},
        {QUERY, "{\"callId\":\"c1\",\"status\":\"failed\",\"sip\":1000}"},
        {QUERY, "{\"callId\":\"c1\",\"status\":\"ringing\",\"sequence\":-1}"},
        {QUERY, "{\"callId\":\"c1\",\"status\":\"completed\",\"duration\":-2}"},
        {QUERY, "{\"callId\":\"c1\",\"status\":\"completed\",\"duration\":\"12\"}"},
        {QUERY, "{\"callId\":\"c1\",\"status\":\"completed\",\"transcript\":5}"},
        {QUERY, "{\"callId\":\"c0123456789012345678901234567890123456789012345678901234567890123\","
                "\"status\":\"completed\"}"},
        {"", "{\"callId\":\"c1\",\"status\":\"completed\"}"},
        {"b=batch_nope&r=1&a=1", "{\"callId\":\"c1\",\"status\":\"completed\"}"},
        {"b=" BATCH "&r=0&a=1", "{\"callId\":\"c1\",\"status\":\"completed\"}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct call_event ev;
        int rc = parse_signed(cases[i].query, cases[i].body, &ev);
        CHECK_REPORT(rc == BC_EINVAL, "case %zu: rc %d", i, rc);
        CHECK(ev.transcript == NULL);
        provider_event_free(&ev);
    }
}

static void test_fetch(void)
{
    struct provider_config cfg;
    test_config(&cfg);
    struct client_request r;
    memset(&r, 0, sizeof r);
    CHECK_INT(provider_build_fetch(&cfg, "call 77/x", &r), 0);
    CHECK_STR(r.url, "https://provider.example.com/v1/calls/call%2077%2Fx");
    CHECK_STR(r.method, "GET");
    CHECK_INT(r.body.len, 0);
    char want[2 * SHA256_LEN + 1], header[128];
    sign(SECRET, "", want);
    snprintf(header, sizeof header, "X-Signature: %s", want);
    CHECK_STR(r.headers[0], header);
    CHECK(r.headers[1] == NULL);
    CHECK(r.userpwd == NULL);
    buf_free(&r.body);

    static const struct {
        int result;
        long status;
        const char *body;
        int rc, final, outcome;
    } cases[] = {
        {CLIENT_OK, 200, "{\"callId\":\"c1\",\"status\":\"completed\",\"duration\":30}", 0, 1,
         OUTCOME_ANSWERED},
        {CLIENT_OK, 200, "{\"callId\":\"c1\",\"status\":\"ringing\"}", 0, 0, OUTCOME_NONE},
        {CLIENT_OK, 200, "{\"callId\":\"c1\",\"status\":\"failed\",\"sip\":608}", 0, 1,
         OUTCOME_CARRIER_BLOCKED},
        {CLIENT_OK, 404, "", BC_ENOTFOUND, 0, OUTCOME_NONE},
        {CLIENT_OK, 403, "", BC_EACCES, 0, OUTCOME_NONE},
        {CLIENT_OK, 502, "", BC_EIO, 0, OUTCOME_NONE},
        {CLIENT_E_NETWORK, 0, NULL, BC_EIO, 0, OUTCOME_NONE},
        {CLIENT_OK, 200, "{\"status\":\"weird\"}", BC_EINVAL, 0, OUTCOME_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct call_event ev;
        memset(&r, 0, sizeof r);
        r.result = cases[i].result;
        r.status = cases[i].status;
        if (cases[i].body)
            buf_append_str(&r.response, cases[i].body);
        int rc = provider_parse_fetch(&cfg, &r, &ev);
        CHECK_REPORT(rc == cases[i].rc && ev.final == cases[i].final &&
                         ev.outcome == cases[i].outcome,
                     "case %zu: rc %d final %d outcome %d", i, rc, ev.final, ev.outcome);
        provider_event_free(&ev);
        buf_free(&r.response);
    }
}

CHECK_MAIN(CHECK_CASE(test_create_request), CHECK_CASE(test_parse_create),
           CHECK_CASE(test_callback_mapping), CHECK_CASE(test_callback_fields),
           CHECK_CASE(test_callback_opt_out), CHECK_CASE(test_callback_signatures),
           CHECK_CASE(test_callback_replay_to_another_call), CHECK_CASE(test_callback_malformed),
           CHECK_CASE(test_fetch))
