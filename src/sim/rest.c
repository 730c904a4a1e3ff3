/* The simulator's HTTP routes (see rest.h and sim.h). */
#include "sim/rest.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "provider/form.h"
#include "sim/carrier.h"
#include "sim/ledger.h"
#include "sim/sim.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/json.h"
#include "util/log.h"
#include "util/num.h"
#include "http/server.h"
#include "http/router.h"
#include "http/response.h"

#define DEFAULT_TIMEOUT_S     60 /* Twilio's default ring timeout */
#define MAX_TIMEOUT_S         600
#define MAX_CALLBACK_DELAY_MS 3600000.0
#define JSON_TYPE             "application/json; charset=utf-8"

/* ---- helpers ---- */

static void respond_buf(struct http_request *req, int status, struct buf *b, int rc)
{
    if (rc)
        http_respond_error(req, 500, "internal_error", "The simulator ran out of memory.");
    else
        http_respond(req, status, JSON_TYPE, b->data, b->len);
    buf_free(b);
}

static void respond_json(struct http_request *req, int status, cJSON *obj)
{
    struct buf b = {0};
    int rc = obj ? json_render(&b, obj) : BC_ENOMEM;
    cJSON_Delete(obj);
    respond_buf(req, status, &b, rc);
}

/* Twilio's error body: {"code", "message", "more_info", "status"}. */
static void twilio_error(struct http_request *req, int status, int code, const char *message)
{
    struct buf b = {0};
    int rc = buf_printf(&b, "{\"code\":%d,\"message\":", code);
    if (!rc)
        rc = json_append_string(&b, message, strlen(message));
    if (!rc)
        rc = buf_printf(&b,
                        ",\"more_info\":\"https://www.twilio.com/docs/errors/%d\",\"status\":%d}",
                        code, status);
    respond_buf(req, status, &b, rc);
}

/* The account sid in the path and HTTP Basic credentials must both be ours. */
static int authorized(const struct sim *s, const struct http_request *req)
{
    const struct http_slice *sid = &req->params[0];
    if (sid->len != strlen(s->cfg.account_sid) ||
        memcmp(sid->ptr, s->cfg.account_sid, sid->len) != 0)
        return 0;
    const struct http_slice *h = http_header(req, "authorization");
    if (!h || h->len < 6 || strncasecmp(h->ptr, "Basic ", 6) != 0)
        return 0;
    const char *p = h->ptr + 6;
    size_t n = h->len - 6;
    while (n && *p == ' ') {
        p++;
        n--;
    }
    while (n && p[n - 1] == ' ')
        n--;
    return n == s->basic_len && crypto_equal(p, s->basic, n);
}

/* '+', a non-zero digit, and 7 to 15 digits in all. */
static int is_e164(const char *s, size_t n)
{
    if (n < 8 || n > 16 || s[0] != '+' || s[1] == '0')
        return 0;
    for (size_t i = 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* ---- the Twilio routes ---- */

/* Space- or comma-separated StatusCallbackEvent words as bits; unknown words are ignored. */
static unsigned event_bits(const char *words)
{
    /* In the order of the CALLS_EVENT_ bits. */
    static const char *const names[] = {"initiated", "ringing", "answered", "completed"};
    unsigned bits = 0;
    while (*words) {
        size_t n = strcspn(words, " ,");
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (n == strlen(names[i]) && strncmp(words, names[i], n) == 0)
                bits |= 1u << i;
        words += n;
        words += strspn(words, " ,");
    }
    return bits;
}

/* Every StatusCallbackEvent value, which Twilio's clients send as repeated fields. */
static unsigned parse_events(const char *body, size_t len)
{
    static const char name[] = "StatusCallbackEvent";
    unsigned bits = 0;
    size_t pos = 0;
    struct form_pair p;
    while (form_next(body, len, &pos, &p)) {
        char word[128];
        if (p.name_len != sizeof name - 1 || memcmp(p.name, name, p.name_len) != 0 ||
            p.value_len >= sizeof word)
            continue;
        word[form_decode(p.value, p.value_len, word)] = '\0';
        bits |= event_bits(word);
    }
    return bits;
}

/* Validates the create form. Returns 0, or a Twilio error code with message filled. */
static int parse_create(const char *body, size_t len, struct carrier_dial *f, char *msg, size_t cap)
{
    memset(f, 0, sizeof *f);
    int to = form_get(body, len, "To", f->to, sizeof f->to);
    int from = form_get(body, len, "From", f->from, sizeof f->from);
    if (to == BC_ENOTFOUND || to == 0) {
        snprintf(msg, cap, "No 'To' number is specified");
        return 21201;
    }
    if (from == BC_ENOTFOUND || from == 0) {
        snprintf(msg, cap, "No 'From' number is specified");
        return 21201;
    }
    if (to < 0 || !is_e164(f->to, (size_t)to)) {
        snprintf(msg, cap, "The 'To' number %s is not a valid phone number.",
                 to < 0 ? "given" : f->to);
        return 21211;
    }
    if (from < 0) {
        snprintf(msg, cap, "The 'From' number is not a valid phone number.");
        return 21212;
    }
    int cb = form_get(body, len, "StatusCallback", f->callback, sizeof f->callback);
    if (cb == BC_ETOOBIG) {
        snprintf(msg, cap, "The StatusCallback URL is longer than %d characters.",
                 CALLS_MAX_CALLBACK_URL - 1);
        return 21609;
    }
    f->has_callback = cb > 0;
    f->events = parse_events(body, len);
    char text[32];
    uint64_t timeout;
    f->timeout_s = DEFAULT_TIMEOUT_S;
    if (form_get(body, len, "Timeout", text, sizeof text) > 0 &&
        num_parse_u64(text, strlen(text), UINT32_MAX, &timeout) == 0)
        f->timeout_s = timeout < 1               ? 1
                       : timeout > MAX_TIMEOUT_S ? MAX_TIMEOUT_S
                                                 : (uint32_t)timeout;
    f->amd = form_get(body, len, "MachineDetection", text, sizeof text) != BC_ENOTFOUND;
    for (const char *p = f->to + 1; *p; p++)
        f->number = f->number * 10 + (uint64_t)(*p - '0');
    return 0;
}

static void reject(struct sim *s, struct http_request *req, int status, int code, const char *msg)
{
    s->ledger.rejected++;
    twilio_error(req, status, code, msg);
}

/* POST /2010-04-01/Accounts/:sid/Calls.json */
static void h_create(struct http_request *req)
{
    struct sim *s = http_app(req);
    uint64_t now_ms = clock_now_ms();
    s->ledger.requests++;
    ledger_count_dial(&s->ledger, now_ms);
    if (!authorized(s, req)) {
        reject(s, req, 401, 20003, "Authentication Error - invalid username");
        return;
    }
    struct carrier_dial f;
    char msg[160];
    int code = parse_create(req->body.data, req->body.len, &f, msg, sizeof msg);
    if (code) {
        reject(s, req, 400, code, msg);
        return;
    }
    struct ledger_batch *b;
    if (ledger_record(&s->ledger, f.has_callback ? f.callback : NULL, now_ms, &b) != 0) {
        reject(s, req, 500, 20500, "The simulator ran out of memory.");
        return;
    }
    int unavailable = s->down;
    if (!unavailable && s->fail503) {
        s->fail503--;
        unavailable = 1;
    }
    if (unavailable || carrier_refuses(f.number)) {
        reject(s, req, 503, 20500, "Service unavailable (simulated)");
        return;
    }
    struct call *c = carrier_new(&s->calls, &f, now_ms);
    if (!c) {
        reject(s, req, 500, 20500, "The simulator ran out of memory.");
        return;
    }
    ledger_accept(&s->ledger, b);
    respond_json(req, 201, carrier_json(&s->calls, c));
}

/* GET /2010-04-01/Accounts/:sid/Calls/:call (the route matches any last segment; only
 * "{sid}.json" names a call). */
static void h_fetch(struct http_request *req)
{
    struct sim *s = http_app(req);
    s->ledger.fetches++;
    if (!authorized(s, req)) {
        twilio_error(req, 401, 20003, "Authentication Error - invalid username");
        return;
    }
    const struct http_slice *id = &req->params[1];
    struct call *c = NULL;
    if (id->len > 5 && memcmp(id->ptr + id->len - 5, ".json", 5) == 0)
        c = carrier_find(&s->calls, id->ptr, id->len - 5);
    if (!c) {
        char msg[256];
        snprintf(msg, sizeof msg, "The requested resource %.*s was not found",
                 (int)(req->path.len < 200 ? req->path.len : 200), req->path.ptr);
        twilio_error(req, 404, 20404, msg);
        return;
    }
    respond_json(req, 200, carrier_json(&s->calls, c));
}

/* ---- the test and operations routes ---- */

/* GET /sim/stats */
static void h_stats(struct http_request *req)
{
    struct sim *s = http_app(req);
    respond_json(req, 200, ledger_stats_json(&s->ledger, s->calls.in_progress));
}

/* GET /sim/dials?batch=B: rendered by hand, since it can hold 200k entries. */
static void h_dials(struct http_request *req)
{
    struct sim *s = http_app(req);
    char id[128];
    int n = http_query(req, "batch", id, sizeof id);
    if (n < 0) {
        http_respond_error(req, 400, "invalid_query", "Give the batch: /sim/dials?batch=ID.");
        return;
    }
    struct buf out = {0};
    int rc = ledger_dials_json(&s->ledger, id, (size_t)n, &out);
    respond_buf(req, 200, &out, rc);
}

static void respond_config(struct http_request *req, const struct sim *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "down", s->down);
    cJSON_AddNumberToObject(o, "fail503", (double)s->fail503);
    cJSON_AddNumberToObject(o, "speed", s->calls.speed);
    cJSON_AddNumberToObject(o, "callbackDelayMs", s->calls.callback_delay_ms);
    respond_json(req, 200, o);
}

/* GET /sim/config */
static void h_config_get(struct http_request *req)
{
    respond_config(req, http_app(req));
}

/* A number setting within [min, max]: returns 1 with *out set, 0 when absent, BC_EINVAL when
 * invalid. */
static int number_setting(const cJSON *o, const char *name, double min, double max, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < min ||
        v->valuedouble > max)
        return BC_EINVAL;
    *out = v->valuedouble;
    return 1;
}

/* POST /sim/config: every setting is checked before any is applied. */
static void h_config_set(struct http_request *req)
{
    static const char *const known[] = {"down", "fail503", "speed", "callbackDelayMs"};
    const size_t nknown = sizeof known / sizeof known[0];
    struct sim *s = http_app(req);
    cJSON *o = cJSON_ParseWithLength(req->body.data ? req->body.data : "", req->body.len);
    const char *bad = NULL;
    if (!cJSON_IsObject(o))
        bad = "The body must be a JSON object such as {\"down\":true}.";
    for (const cJSON *item = o ? o->child : NULL; item && !bad; item = item->next) {
        size_t i = 0;
        while (i < nknown && strcmp(item->string, known[i]) != 0)
            i++;
        if (i == nknown)
            bad = "Unknown setting: use down, fail503, speed or callbackDelayMs.";
    }
    const cJSON *down = o ? cJSON_GetObjectItemCaseSensitive(o, "down") : NULL;
    if (!bad && down && !cJSON_IsBool(down))
        bad = "down must be true or false.";
    double fail503 = 0, speed = 0, delay = 0;
    int has_fail = 0, has_speed = 0, has_delay = 0;
    if (!bad && (has_fail = number_setting(o, "fail503", 0, 1e9, &fail503)) < 0)
        bad = "fail503 must be a number of requests (0 or more).";
    if (!bad && (has_speed = number_setting(o, "speed", SIM_MIN_SPEED, SIM_MAX_SPEED, &speed)) < 0)
        bad = "speed must be a number from 0.001 to 1000000.";
    if (!bad &&
        (has_delay = number_setting(o, "callbackDelayMs", 0, MAX_CALLBACK_DELAY_MS, &delay)) < 0)
        bad = "callbackDelayMs must be a number of milliseconds from 0 to 3600000.";
    if (bad) {
        cJSON_Delete(o);
        http_respond_error(req, 400, "invalid_config", bad);
        return;
    }
    if (down)
        s->down = cJSON_IsTrue(down);
    if (has_fail)
        s->fail503 = (uint64_t)fail503;
    if (has_speed)
        s->calls.speed = speed;
    if (has_delay)
        s->calls.callback_delay_ms = delay;
    cJSON_Delete(o);
    log_info("simulator settings changed", "down=%d fail503=%llu speed=%g callback_delay_ms=%g",
             s->down, (unsigned long long)s->fail503, s->calls.speed, s->calls.callback_delay_ms);
    respond_config(req, s);
}

/* POST /sim/reset: a fresh ledger; calls in progress go on. */
static void h_reset(struct http_request *req)
{
    struct sim *s = http_app(req);
    ledger_clear(&s->ledger);
    s->ledger.max_in_progress = s->calls.in_progress;
    static const char body[] = "{\"reset\":true}";
    http_respond(req, 200, JSON_TYPE, body, sizeof body - 1);
}

const struct http_route rest_routes[] = {
    {HTTP_POST, "/2010-04-01/Accounts/:sid/Calls.json", h_create, NULL, 64 * 1024, 0},
    {HTTP_GET, "/2010-04-01/Accounts/:sid/Calls/:call", h_fetch, NULL, 0, 0},
    {HTTP_GET, "/sim/stats", h_stats, NULL, 0, 0},
    {HTTP_GET, "/sim/dials", h_dials, NULL, 0, 0},
    {HTTP_GET, "/sim/config", h_config_get, NULL, 0, 0},
    {HTTP_POST, "/sim/config", h_config_set, NULL, 4096, 0},
    {HTTP_POST, "/sim/reset", h_reset, NULL, 0, 0},
};
const size_t rest_nroutes = sizeof rest_routes / sizeof rest_routes[0];
