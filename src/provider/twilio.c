/* The twilio dialect (also spoken by the simulator): creating and fetching calls, Twilio's
 * answers, status callbacks and X-Twilio-Signature. */
#include "provider/twilio.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "provider/form.h"
#include "store/records.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/json.h"
#include "util/num.h"

#define DEFAULT_RING_TIMEOUT_S 30
#define TWILIO_SIGNATURE_LEN   28 /* base64 of a 20-byte HMAC-SHA1, with padding */

/* ---- Fields -------------------------------------------------------------------------------- */

/* Parses a duration in seconds ("12", "12.5"): finite and not negative. */
static int parse_seconds(const char *s, double *out)
{
    char *end;
    if (!*s || isspace((unsigned char)*s))
        return BC_EINVAL;
    double v = strtod(s, &end);
    if (*end || !isfinite(v) || v < 0)
        return BC_EINVAL;
    *out = v;
    return 0;
}

/* Reads an optional form field: 1 when present and not empty, 0 when absent or empty (out is
 * then ""), BC_EINVAL when it does not fit. */
static int get_field(const struct form_field *f, char *out, size_t cap)
{
    int n = form_value(f, out, cap);
    if (n == BC_ENOTFOUND)
        out[0] = '\0';
    else if (n < 0)
        return BC_EINVAL;
    return n > 0;
}

/* ---- Creating a call ----------------------------------------------------------------------- */

/* {api_base}/2010-04-01/Accounts/{sid}/Calls.json, or .../Calls/{call_id}.json. */
static int calls_url(struct buf *b, const struct provider_config *cfg, const char *call_id)
{
    int rc =
        buf_printf(b, "%.*s/2010-04-01/Accounts/", provider_base_len(cfg->api_base), cfg->api_base);
    if (!rc)
        rc = form_escape(b, cfg->account_sid, strlen(cfg->account_sid));
    if (!rc)
        rc = buf_append_str(b, "/Calls");
    if (!rc && call_id) {
        rc = buf_append_str(b, "/");
        if (!rc)
            rc = form_escape(b, call_id, strlen(call_id));
    }
    if (!rc)
        rc = buf_append_str(b, ".json");
    if (!rc)
        rc = buf_append(b, "", 1);
    return rc;
}

/* Appends s escaped for XML text and attribute values. Control characters other than tab and
 * line breaks are not allowed in XML 1.0 and would make Twilio reject the whole document, so
 * they become spaces. */
static int append_xml(struct buf *b, const char *s)
{
    size_t len = strlen(s);
    /* At most six bytes ("&quot;") per character: reserved once, the loop writes in place. */
    int rc = buf_reserve_each(b, len, 6);
    if (rc || len == 0)
        return rc;
    char *out = b->data + b->len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *entity = NULL;
        switch (c) {
        case '&':
            entity = "&amp;";
            break;
        case '<':
            entity = "&lt;";
            break;
        case '>':
            entity = "&gt;";
            break;
        case '"':
            entity = "&quot;";
            break;
        case '\'':
            entity = "&apos;";
            break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                c = ' ';
            *out++ = (char)c;
            continue;
        }
        size_t n = strlen(entity);
        memcpy(out, entity, n);
        out += n;
    }
    b->len = (size_t)(out - b->data);
    return 0;
}

static int append_parameter(struct buf *b, const char *name, const char *value)
{
    int rc = buf_append_str(b, "<Parameter name=\"");
    if (!rc)
        rc = append_xml(b, name);
    if (!rc)
        rc = buf_append_str(b, "\" value=\"");
    if (!rc)
        rc = append_xml(b, value);
    if (!rc)
        rc = buf_append_str(b, "\"/>");
    return rc;
}

/* One <Parameter> per variable; values that are not strings go as their JSON text. */
static int append_variables(struct buf *b, const cJSON *variables)
{
    const cJSON *item;
    struct buf text = {0};
    int rc = 0;
    cJSON_ArrayForEach(item, variables)
    {
        if (!item->string)
            continue;
        const char *value = item->valuestring;
        if (!cJSON_IsString(item)) {
            buf_reset(&text);
            rc = json_render(&text, item);
            if (!rc)
                rc = buf_append(&text, "", 1);
            value = text.data;
        }
        if (!rc)
            rc = append_parameter(b, item->string, value);
        if (rc)
            break;
    }
    buf_free(&text);
    return rc;
}

/* Twilio's <Stream url> takes only wss:// URLs, while an agent's voiceUrl is http(s): the same
 * host and path are reached as a WebSocket, https:// as wss:// (http:// as ws://, which only the
 * simulator accepts: twilio_check_agent refuses it for real Twilio). */
static int append_stream_url(struct buf *b, const char *url)
{
    int rc = 0;
    if (!strncasecmp(url, "https://", 8)) {
        rc = buf_append_str(b, "wss://");
        url += 8;
    } else if (!strncasecmp(url, "http://", 7)) {
        rc = buf_append_str(b, "ws://");
        url += 7;
    }
    return rc ? rc : append_xml(b, url);
}

/* With a voice URL, the answered call is connected to the agent's media stream, which gets the
 * variables and the prompt as stream parameters. Without one there is nobody to talk to: Twilio
 * says a neutral line and hangs up (the prompt is instructions for an agent, never read to the
 * callee). */
static int build_twiml(struct buf *b, const char *voice_url, const char *prompt,
                       const cJSON *variables)
{
    int rc;
    if (!voice_url || !*voice_url) {
        rc = buf_append_str(b, "<Response><Say>" TWILIO_NO_AGENT_LINE "</Say></Response>");
    } else {
        rc = buf_append_str(b, "<Response><Connect><Stream url=\"");
        if (!rc)
            rc = append_stream_url(b, voice_url);
        if (!rc)
            rc = buf_append_str(b, "\">");
        if (!rc)
            rc = append_variables(b, variables);
        if (!rc)
            rc = append_parameter(b, "prompt", prompt ? prompt : "");
        if (!rc)
            rc = buf_append_str(b, "</Stream></Connect></Response>");
    }
    if (!rc)
        rc = buf_append(b, "", 1);
    return rc;
}

const char *twilio_check_agent(const char *prompt, const char *voice_url, char *msg, size_t cap)
{
    if (voice_url && *voice_url && strncasecmp(voice_url, "https://", 8)) {
        snprintf(msg, cap,
                 "voiceUrl must be an https:// URL with --provider twilio: Twilio streams the call "
                 "to it as wss:// and accepts no other scheme.");
        return "voiceUrl";
    }
    struct buf twiml = {0};
    if (build_twiml(&twiml, voice_url, prompt, NULL)) {
        buf_free(&twiml);
        snprintf(msg, cap, "out of memory");
        return "prompt";
    }
    size_t len = twiml.len - 1;
    buf_free(&twiml);
    if (len <= TWILIO_TWIML_MAX)
        return NULL;
    snprintf(msg, cap,
             "prompt is too long for Twilio: it makes %zu characters of TwiML, Twilio accepts at "
             "most %d (error 32018) and the row's values add more. Shorten the prompt.",
             len, TWILIO_TWIML_MAX);
    return "prompt";
}

/* "sid:token" for the Authorization line (cfg's arrays are NUL-terminated, so it fits). */
static void twilio_userpwd(const struct provider_config *cfg,
                           char out[sizeof cfg->account_sid + sizeof cfg->auth_token])
{
    size_t sid = strlen(cfg->account_sid), token = strlen(cfg->auth_token);
    memcpy(out, cfg->account_sid, sid);
    out[sid] = ':';
    memcpy(out + sid + 1, cfg->auth_token, token + 1);
}

/* The create body's fields after StatusCallback, the same for every call but Timeout's value,
 * written as form_append would write them (all their characters are unreserved).
 * Only the call's end is asked for: the 201 already makes the call active, and initiated, ringing
 * and answered would change nothing a user can see (a call is waiting, active or over) while each
 * costs a request, a signature check and a job write. Progress callbacks that come anyway (another
 * account's settings, a replay) are still verified and ordered by SequenceNumber. */
#define TWILIO_CREATE_EVENTS "&StatusCallbackEvent=completed&StatusCallbackMethod=POST&Timeout="
#define TWILIO_CREATE_LAST   "&MachineDetection=Enable"

int twilio_build_create(const struct provider_config *cfg, const struct dial_attempt *a,
                        struct client_request *r)
{
    /* The URL, the TwiML and the callback URL, each NUL-terminated, in one scratch buffer (one
     * allocation, not three); offsets, not pointers, because it may move as it grows. */
    struct buf tmp = {0};
    struct buf *body = &r->body;
    char userpwd[sizeof cfg->account_sid + sizeof cfg->auth_token];
    twilio_userpwd(cfg, userpwd);

    buf_reset(body);
    size_t twiml_off = 0, callback_off = 0, twiml_len = 0;
    int rc = buf_reserve(&tmp, 2048);
    if (!rc)
        rc = calls_url(&tmp, cfg, NULL);
    twiml_off = tmp.len;
    if (!rc)
        rc = build_twiml(&tmp, a->voice_url, a->prompt, a->variables);
    twiml_len = tmp.len - twiml_off - 1;
    if (!rc && twiml_len > TWILIO_TWIML_MAX) {
        /* Twilio would refuse it (error 32018): say so without asking. */
        snprintf(r->error, sizeof r->error,
                 "The TwiML for this contact is %zu characters; Twilio accepts at most %d (error "
                 "32018): shorten the agent's prompt or this row's values",
                 twiml_len, TWILIO_TWIML_MAX);
        rc = BC_ETOOBIG;
    }
    callback_off = tmp.len;
    if (!rc)
        rc = provider_callback_url(&tmp, cfg, "twilio", a);
    size_t callback_len = tmp.len - callback_off;
    /* The body in one allocation: escaping makes at most three bytes of one. */
    if (!rc)
        rc = buf_reserve(body, 3 * (strlen(a->to) + strlen(a->from) + twiml_len + callback_len) +
                                   sizeof TWILIO_CREATE_EVENTS + sizeof TWILIO_CREATE_LAST + 64);
    if (!rc)
        rc = form_append(body, "To", a->to);
    if (!rc)
        rc = form_append(body, "From", a->from);
    if (!rc)
        rc = buf_append_str(body, "&Twiml=");
    if (!rc)
        rc = form_escape(body, tmp.data + twiml_off, twiml_len);
    if (!rc)
        rc = buf_append_str(body, "&StatusCallback=");
    if (!rc)
        rc = form_escape(body, tmp.data + callback_off, callback_len);
    if (!rc)
        rc = buf_append_str(body, TWILIO_CREATE_EVENTS);
    if (!rc)
        rc = provider_append_uint(
            body, (unsigned)(cfg->ring_timeout_s ? cfg->ring_timeout_s : DEFAULT_RING_TIMEOUT_S));
    if (!rc)
        rc = buf_append_str(body, TWILIO_CREATE_LAST);
    if (!rc)
        rc = provider_request_set(r, "POST", "application/x-www-form-urlencoded", tmp.data, userpwd,
                                  NULL, cfg->request_timeout_ms);
    if (rc)
        buf_free(body);
    buf_free(&tmp);
    return rc;
}

/* How Twilio's error codes on a create classify (dialer-anchors.md 1.6). For CREATE_HALT, what
 * says what is wrong and fix what the operator should do; for CREATE_FINAL, what describes the
 * error when Twilio sent no message. */
static const struct {
    int code;
    enum create_class cls;
    int outcome;
    const char *what;
    const char *fix;
} twilio_errors[] = {
    {21211, CREATE_FINAL, OUTCOME_INVALID_NUMBER, "Invalid 'To' phone number", NULL},
    {21217, CREATE_FINAL, OUTCOME_INVALID_NUMBER, "Phone number does not appear to be valid", NULL},
    {13224, CREATE_FINAL, OUTCOME_INVALID_NUMBER, "Invalid or unsupported number", NULL},
    {13226, CREATE_FINAL, OUTCOME_INVALID_NUMBER, "Invalid country code", NULL},
    {21214, CREATE_FINAL, OUTCOME_UNREACHABLE, "'To' phone number cannot be reached", NULL},
    {21216, CREATE_FINAL, OUTCOME_CARRIER_BLOCKED, "Call blocked by Twilio", NULL},
    {20003, CREATE_HALT, OUTCOME_NONE, "Twilio rejected the account credentials",
     "check --twilio-account-sid and --twilio-auth-token, then resume the batch"},
    {20404, CREATE_HALT, OUTCOME_NONE, "Twilio does not know this account's Calls resource",
     "check --twilio-account-sid and the Twilio API base URL, then resume the batch"},
    {21215, CREATE_HALT, OUTCOME_NONE, "Twilio's geo permissions block calls to this destination",
     "allow the country in the Twilio console (Voice > Settings > Geo permissions), then resume "
     "the batch"},
    {13227, CREATE_HALT, OUTCOME_NONE, "Twilio's geo permissions block calls to this destination",
     "allow the country in the Twilio console (Voice > Settings > Geo permissions), then resume "
     "the batch"},
    {32205, CREATE_HALT, OUTCOME_NONE, "Twilio's geo permissions block calls to this destination",
     "allow the country in the Twilio console (Voice > Settings > Geo permissions), then resume "
     "the batch"},
    {21210, CREATE_HALT, OUTCOME_NONE, "Twilio does not accept the caller ID",
     "the agent's fromNumber must be a Twilio number or a verified caller ID of this account; "
     "change it, then resume the batch"},
    {21219, CREATE_HALT, OUTCOME_NONE, "Twilio trial accounts can only call verified numbers",
     "verify the number in the Twilio console or upgrade the account, then resume the batch"},
};

/* Reads Twilio's JSON error body {"code": n, "message": "..."}; code 0 when there is none. */
static void twilio_error_body(const struct buf *response, int *code, char *message, size_t cap)
{
    *code = 0;
    message[0] = '\0';
    cJSON *j = cJSON_ParseWithLength(response->data, response->len);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "code");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
    if (cJSON_IsNumber(c) && c->valuedouble > 0 && c->valuedouble < 1e9)
        *code = (int)c->valuedouble;
    if (cJSON_IsString(m))
        snprintf(message, cap, "%s", m->valuestring);
    cJSON_Delete(j);
}

static void twilio_classify_error(long status, int code, const char *message,
                                  struct create_result *out)
{
    for (size_t i = 0; code && i < sizeof twilio_errors / sizeof twilio_errors[0]; i++) {
        if (twilio_errors[i].code != code)
            continue;
        out->cls = twilio_errors[i].cls;
        out->outcome = twilio_errors[i].outcome;
        if (out->cls == CREATE_HALT)
            snprintf(out->message, sizeof out->message, "%s (error %d): %s", twilio_errors[i].what,
                     code, twilio_errors[i].fix);
        else
            snprintf(out->message, sizeof out->message, "Twilio error %d: %s", code,
                     message[0] ? message : twilio_errors[i].what);
        return;
    }
    if (code) {
        out->cls = CREATE_FINAL;
        out->outcome = OUTCOME_PROVIDER_ERROR;
        snprintf(out->message, sizeof out->message, "Twilio error %d: %s", code,
                 message[0] ? message : "no message");
    } else if (status == 401 || status == 403) {
        out->cls = CREATE_HALT;
        snprintf(out->message, sizeof out->message,
                 "Twilio refused the request (HTTP %ld): check --twilio-account-sid and "
                 "--twilio-auth-token, then resume the batch",
                 status);
    } else if (status == 404) {
        /* Not a Twilio answer at all: every contact would fail the same way. */
        out->cls = CREATE_HALT;
        snprintf(out->message, sizeof out->message,
                 "The Twilio API answered HTTP 404 with no error code: check the Twilio API base "
                 "URL and --twilio-account-sid, then resume the batch");
    } else {
        out->cls = CREATE_FINAL;
        out->outcome = OUTCOME_PROVIDER_ERROR;
        snprintf(out->message, sizeof out->message, "Twilio answered HTTP %ld with no error code",
                 status);
    }
}

void twilio_parse_create(const struct client_request *r, struct create_result *out)
{
    char message[200];
    int code;
    memset(out, 0, sizeof *out);
    if (r->result != CLIENT_OK) {
        out->cls = CREATE_RETRY;
        snprintf(out->message, sizeof out->message, "Twilio request failed: %.200s",
                 r->error[0] ? r->error : "no response");
        return;
    }
    if (r->status >= 200 && r->status < 300) {
        if (json_object_string(r->response.data, r->response.len, "sid", out->call_id,
                               sizeof out->call_id)) {
            out->cls = CREATE_OK;
            snprintf(out->message, sizeof out->message, "Call created");
        } else {
            out->cls = CREATE_RETRY;
            snprintf(out->message, sizeof out->message,
                     "Twilio answered HTTP %ld without a call sid", r->status);
        }
        return;
    }
    twilio_error_body(&r->response, &code, message, sizeof message);
    if (r->status == 429 || r->status >= 500) {
        out->cls = CREATE_RETRY;
        out->retry_after_ms = r->retry_after_ms;
        if (code)
            snprintf(out->message, sizeof out->message, "Twilio error %d (HTTP %ld): %s", code,
                     r->status, message[0] ? message : "no message");
        else
            snprintf(out->message, sizeof out->message, "Twilio answered HTTP %ld", r->status);
    } else if (r->status >= 400) {
        twilio_classify_error(r->status, code, message, out);
    } else {
        /* Twilio never redirects API calls: the base URL points somewhere else. */
        out->cls = CREATE_HALT;
        snprintf(out->message, sizeof out->message,
                 "The Twilio API answered HTTP %ld: check the Twilio API base URL, then resume "
                 "the batch",
                 r->status);
    }
}

/* ---- Fetching a call ----------------------------------------------------------------------- */

int twilio_build_fetch(const struct provider_config *cfg, const char *call_id,
                       struct client_request *r)
{
    struct buf url = {0};
    char userpwd[sizeof cfg->account_sid + sizeof cfg->auth_token];
    twilio_userpwd(cfg, userpwd);
    buf_reset(&r->body);
    int rc = calls_url(&url, cfg, call_id);
    if (!rc)
        rc = provider_request_set(r, "GET", NULL, url.data, userpwd, NULL, cfg->request_timeout_ms);
    if (rc)
        buf_free(&r->body);
    buf_free(&url);
    return rc;
}

/* The Call resource: {"sid", "status", "answered_by": string or null, "duration": a string of
 * seconds, a number or null}. It carries no SIP code, so failed calls map to unreachable. */
int twilio_parse_fetch(const struct client_request *r, struct call_event *ev)
{
    provider_event_init(ev);
    int rc = provider_fetch_status(r);
    if (rc)
        return rc;

    char answered_by[32] = "";
    cJSON *j = cJSON_ParseWithLength(r->response.data, r->response.len);
    const cJSON *duration = cJSON_GetObjectItemCaseSensitive(j, "duration");
    if (!provider_json_string(j, "status", ev->status, sizeof ev->status))
        rc = BC_EINVAL;
    provider_json_string(j, "sid", ev->call_id, sizeof ev->call_id);
    provider_json_string(j, "answered_by", answered_by, sizeof answered_by);
    if (cJSON_IsString(duration) && parse_seconds(duration->valuestring, &ev->duration))
        rc = BC_EINVAL;
    if (cJSON_IsNumber(duration)) {
        if (!isfinite(duration->valuedouble) || duration->valuedouble < 0)
            rc = BC_EINVAL;
        ev->duration = duration->valuedouble;
    }
    cJSON_Delete(j);
    if (rc) {
        provider_event_init(ev);
        return rc;
    }
    provider_twilio_outcome(ev->status, answered_by, 0, ev);
    return 0;
}

/* ---- Status callbacks ---------------------------------------------------------------------- */

/* The body fields a status callback reads. */
enum {
    SID,
    STATUS,
    ANSWERED_BY,
    SIP,
    SEQUENCE,
    CALL_DURATION,
    DIGITS,
    OPT_OUT,
    DURATION,
    TEXT,
    NFIELDS
};

static void callback_fields_init(struct form_field f[NFIELDS])
{
    static const char *const names[NFIELDS] = {
        [SID] = "CallSid",
        [STATUS] = "CallStatus",
        [ANSWERED_BY] = "AnsweredBy",
        [SIP] = "SipResponseCode",
        [SEQUENCE] = "SequenceNumber",
        [CALL_DURATION] = "CallDuration",
        [DIGITS] = "Digits",
        [OPT_OUT] = "OptOut",
        [DURATION] = "Duration",
        [TEXT] = "TranscriptionText",
    };
    memset(f, 0, NFIELDS * sizeof *f);
    for (size_t i = 0; i < NFIELDS; i++)
        f[i].name = names[i];
}

/* The event of a callback whose body fields were found (f) and whose query is batch/row/seq. */
static int callback_event(const char *query, size_t qlen, const struct form_field f[NFIELDS],
                          struct call_event *ev)
{
    char answered_by[32], sip[16], sequence[24], duration[32];
    provider_event_init(ev);
    int rc = provider_parse_callback_query(query, qlen, ev);
    if (rc)
        return rc;
    int has_sid = get_field(&f[SID], ev->call_id, sizeof ev->call_id);
    int has_status = get_field(&f[STATUS], ev->status, sizeof ev->status);
    int has_answered_by = get_field(&f[ANSWERED_BY], answered_by, sizeof answered_by);
    int has_sip = get_field(&f[SIP], sip, sizeof sip);
    int has_sequence = get_field(&f[SEQUENCE], sequence, sizeof sequence);
    int has_duration = get_field(&f[CALL_DURATION], duration, sizeof duration);
    char opt_out[8];
    /* Digits is compared with the agent's optOutDigit by the caller, which knows the agent;
     * OptOut=true is the built-in simulator's own way to say it. */
    if (get_field(&f[DIGITS], ev->digits, sizeof ev->digits) < 0)
        ev->digits[0] = '\0';
    ev->opted_out =
        get_field(&f[OPT_OUT], opt_out, sizeof opt_out) == 1 && strcmp(opt_out, "true") == 0;
    if (has_duration == 0)
        has_duration = get_field(&f[DURATION], duration, sizeof duration);

    uint64_t v = 0;
    if (has_sid != 1 || has_status != 1 || has_answered_by < 0 || has_sip < 0 || has_sequence < 0 ||
        has_duration < 0 || (has_sip && num_parse_u64(sip, strlen(sip), 999, &v)))
        goto invalid;
    ev->sip = (int)v;
    if (has_sequence) {
        if (num_parse_u64(sequence, strlen(sequence), INT64_MAX, &v))
            goto invalid;
        ev->sequence = (int64_t)v;
    }
    if (has_duration && parse_seconds(duration, &ev->duration))
        goto invalid;
    provider_twilio_outcome(ev->status, answered_by, ev->sip, ev);

    if (!f[TEXT].value || f[TEXT].value_len == 0)
        return 0;
    /* A decoded value is never longer than the encoded one, so that length always fits. */
    char *transcript = malloc(f[TEXT].value_len + 1);
    if (!transcript)
        return BC_ENOMEM;
    if (form_value(&f[TEXT], transcript, f[TEXT].value_len + 1) > 0)
        ev->transcript = transcript;
    else
        free(transcript);
    return 0;

invalid:
    provider_event_init(ev);
    return BC_EINVAL;
}

int twilio_parse_callback(const char *query, size_t qlen, const char *body, size_t body_len,
                          struct call_event *ev)
{
    struct form_field f[NFIELDS];
    callback_fields_init(f);
    /* The fields read, found in one pass over the body. */
    form_find(body, body_len, f, NFIELDS);
    return callback_event(query, qlen, f, ev);
}

/* ---- Signatures ---------------------------------------------------------------------------- */

struct param {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* Parameters and decoded bytes a callback's body fits in without an allocation (Twilio's status
 * callbacks carry about 20 parameters in under 1 KiB). */
#define PARAMS_INLINE 48
#define TEXT_INLINE   2048

/* A form body's parameters, decoded and sorted as the signature needs them. */
struct params {
    struct param *list;
    size_t n;
    char *text; /* the decoded names and values */
    size_t text_len;
    struct param inline_list[PARAMS_INLINE];
    char inline_text[TEXT_INLINE];
};

static int compare_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
    /* Most names differ in their first byte: no memcmp call for those. memcmp's order is that
     * of unsigned bytes too. */
    if (alen && blen && a[0] != b[0])
        return (unsigned char)a[0] < (unsigned char)b[0] ? -1 : 1;
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* By name, then by value for repeated names; byte order, which for UTF-8 is code point order
 * like the sort in Twilio's own libraries. */
static int compare_params(const void *pa, const void *pb)
{
    const struct param *a = pa, *b = pb;
    int c = compare_bytes(a->name, a->name_len, b->name, b->name_len);
    return c ? c : compare_bytes(a->value, a->value_len, b->value, b->value_len);
}

/* Insertion sort for the usual few parameters (qsort's indirect calls and merge buffer cost more
 * there); equal parameters are equal bytes, so the order of ties does not matter. */
static void sort_params(struct param *list, size_t n)
{
    if (n > PARAMS_INLINE) {
        qsort(list, n, sizeof *list, compare_params);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        struct param p = list[i];
        size_t j = i;
        for (; j > 0 && compare_params(&list[j - 1], &p) > 0; j--)
            list[j] = list[j - 1];
        list[j] = p;
    }
}

static void params_free(struct params *ps)
{
    if (ps->list != ps->inline_list)
        free(ps->list);
    if (ps->text != ps->inline_text)
        free(ps->text);
}

/* The bytes params_decode must look at: the separators and the two escapes. */
static const unsigned char form_special[256] = {['&'] = 1, ['='] = 1, ['+'] = 1, ['%'] = 1};

/* The body's parameters decoded, in the body's order. */
static int params_decode(struct params *ps, const char *body, size_t len)
{
    ps->n = 0;
    ps->list = ps->inline_list;
    /* Decoding never lengthens, and the pairs are disjoint parts of the body. */
    ps->text = len <= TEXT_INLINE ? ps->inline_text : malloc(len);
    if (!ps->text) {
        params_free(ps);
        return BC_ENOMEM;
    }
    /* One pass that splits and decodes as form_next and form_decode would: empty segments are
     * skipped, a pair without '=' has an empty value, and an escape's two hex digits are never a
     * '&' or '=', so checking them also keeps it inside its name or value. */
    char *t = ps->text;
    size_t cap = PARAMS_INLINE;
    for (size_t i = 0; i < len;) {
        if (body[i] == '&') {
            i++;
            continue;
        }
        if (ps->n == cap) {
            /* More pairs than the inline list holds: room for every '&' left, plus one. */
            size_t more = 1;
            for (size_t j = i; j < len; j++)
                more += body[j] == '&';
            struct param *list = malloc((ps->n + more) * sizeof *list);
            if (!list) {
                params_free(ps);
                return BC_ENOMEM;
            }
            memcpy(list, ps->list, ps->n * sizeof *list);
            if (ps->list != ps->inline_list)
                free(ps->list);
            ps->list = list;
            cap = ps->n + more;
        }
        struct param *q = &ps->list[ps->n++];
        int in_value = 0;
        q->name = t;
        for (; i < len; i++) {
            char c = body[i];
            /* Most bytes are none of the four: one table look-up for them. */
            if (!form_special[(unsigned char)c]) {
                *t++ = c;
                continue;
            }
            if (c == '&')
                break;
            if (c == '=' && !in_value) {
                /* The first '=' ends the name; the value runs to the next '&'. */
                q->name_len = (size_t)(t - q->name);
                q->value = t;
                in_value = 1;
                continue;
            }
            if (c == '+') {
                c = ' ';
            } else if (c == '%' && i + 2 < len) {
                int hi = num_hex_digit(body[i + 1]), lo = num_hex_digit(body[i + 2]);
                if (hi >= 0 && lo >= 0) {
                    c = (char)(hi << 4 | lo);
                    i += 2;
                }
            }
            *t++ = c;
        }
        if (!in_value) {
            q->name_len = (size_t)(t - q->name);
            q->value = t;
        }
        q->value_len = (size_t)(t - q->value);
    }
    ps->text_len = (size_t)(t - ps->text);
    return 0;
}

/* The body's parameters decoded and sorted, as the signature takes them. */
static int params_init(struct params *ps, const char *body, size_t len)
{
    int rc = params_decode(ps, body, len);
    if (!rc)
        sort_params(ps->list, ps->n);
    return rc;
}

/* form_find over the decoded parameters: each field gets the value of the first parameter of its
 * name, already decoded. */
static void params_find(const struct params *ps, struct form_field *f, size_t n)
{
    size_t left = n;
    for (size_t i = 0; i < n; i++) {
        f[i].value = NULL;
        f[i].name_len = strlen(f[i].name);
        f[i].decoded = 1;
    }
    for (size_t k = 0; k < ps->n && left; k++) {
        const struct param *p = &ps->list[k];
        for (size_t i = 0; i < n; i++) {
            if (f[i].value || f[i].name_len != p->name_len ||
                memcmp(f[i].name, p->name, p->name_len) != 0)
                continue;
            f[i].value = p->value;
            f[i].value_len = p->value_len;
            left--;
        }
    }
}

/* The signed string of a usual callback fits here; longer ones are allocated. */
#define SIGNED_INLINE 4096

/* base64(HMAC-SHA1(token, url + name1 + value1 + name2 + value2 ...)), with the token's HMAC
 * keyed once when key is not NULL. */
static int sign_url(struct crypto_hmac_sha1 *key, const char *token, const char *url,
                    size_t url_len, const struct params *ps, char out[64])
{
    char inline_buf[SIGNED_INLINE];
    /* Sized once: the URL and every decoded name and value. */
    size_t need = url_len + ps->text_len;
    char *s = need <= sizeof inline_buf ? inline_buf : malloc(need ? need : 1);
    if (!s)
        return BC_ENOMEM;
    char *p = s;
    memcpy(p, url, url_len);
    p += url_len;
    for (size_t i = 0; i < ps->n; i++) {
        memcpy(p, ps->list[i].name, ps->list[i].name_len);
        p += ps->list[i].name_len;
        memcpy(p, ps->list[i].value, ps->list[i].value_len);
        p += ps->list[i].value_len;
    }
    uint8_t mac[SHA1_LEN];
    if (key)
        crypto_hmac_sha1_keyed(key, token, strlen(token), s, (size_t)(p - s), mac);
    else
        crypto_hmac_sha1(token, strlen(token), s, (size_t)(p - s), mac);
    crypto_base64(mac, sizeof mac, out);
    if (s != inline_buf)
        free(s);
    return 0;
}

int twilio_sign(const char *token, const char *url, size_t url_len, const char *body,
                size_t body_len, char out[64])
{
    struct params ps;
    int rc = params_init(&ps, body, body_len);
    if (rc)
        return rc;
    rc = sign_url(NULL, token, url, url_len, &ps, out);
    params_free(&ps);
    return rc;
}

/* Twilio signs the URL sometimes with and sometimes without the port, so the validators try
 * both (twilio-python's request_validator): a URL with a port (any port, as that library does)
 * also gets tried without it, a URL without one with the scheme's default port. Writes that
 * other form into alt, or leaves alt empty for a URL that is not http(s). */
static int url_port_variant(const char *url, size_t len, struct buf *alt)
{
    size_t start;
    int https;
    if (len >= 8 && !strncasecmp(url, "https://", 8)) {
        https = 1;
        start = 8;
    } else if (len >= 7 && !strncasecmp(url, "http://", 7)) {
        https = 0;
        start = 7;
    } else {
        return 0;
    }
    size_t end = start;
    while (end < len && url[end] != '/' && url[end] != '?' && url[end] != '#')
        end++;
    size_t digits = end;
    while (digits > start && isdigit((unsigned char)url[digits - 1]))
        digits--;
    int has_port = digits < end && digits > start && url[digits - 1] == ':';

    int rc = buf_append(alt, url, has_port ? digits - 1 : end);
    if (!rc && !has_port)
        rc = buf_append_str(alt, https ? ":443" : ":80");
    if (!rc)
        rc = buf_append(alt, url + end, len - end);
    return rc;
}

/* Whether sig signs url with the sorted parameters ps, in either form of the URL. */
static int signature_valid(struct crypto_hmac_sha1 *key, const char *token, const char *url,
                           size_t url_len, const struct params *ps, const char *sig)
{
    struct buf alt = {0};
    char computed[64];
    int valid = 0;
    if (!sign_url(key, token, url, url_len, ps, computed))
        valid = crypto_equal(computed, sig, TWILIO_SIGNATURE_LEN);
    /* The other form of the URL only when the first did not match: whether a signature is
     * valid is no secret (the answer says it), so stopping early leaks nothing. */
    if (!valid && !url_port_variant(url, url_len, &alt) && alt.len &&
        !sign_url(key, token, alt.data, alt.len, ps, computed))
        valid = crypto_equal(computed, sig, TWILIO_SIGNATURE_LEN);
    buf_free(&alt);
    return valid;
}

int twilio_verify_keyed(struct crypto_hmac_sha1 *key, const char *token, const char *url,
                        size_t url_len, const char *body, size_t body_len, const char *sig,
                        size_t sig_len)
{
    /* An empty token would make every signature forgeable. */
    if (!token[0] || !sig || sig_len != TWILIO_SIGNATURE_LEN)
        return 0;
    struct params ps;
    if (params_init(&ps, body, body_len))
        return 0;
    int valid = signature_valid(key, token, url, url_len, &ps, sig);
    params_free(&ps);
    return valid;
}

int twilio_verify_callback(struct crypto_hmac_sha1 *key, const char *token, const char *url,
                           size_t url_len, const char *query, size_t qlen, const char *body,
                           size_t body_len, const char *sig, size_t sig_len, struct call_event *ev)
{
    provider_event_init(ev);
    if (!token[0] || !sig || sig_len != TWILIO_SIGNATURE_LEN)
        return BC_EACCES;
    struct params ps;
    if (params_decode(&ps, body, body_len))
        return BC_EACCES;
    /* The fields are taken before the sort, which loses the body's order: the first of a
     * repeated name counts, as in twilio_parse_callback. */
    struct form_field f[NFIELDS];
    callback_fields_init(f);
    params_find(&ps, f, NFIELDS);
    sort_params(ps.list, ps.n);
    int rc = signature_valid(key, token, url, url_len, &ps, sig)
                 ? callback_event(query, qlen, f, ev)
                 : BC_EACCES;
    params_free(&ps);
    return rc;
}

int twilio_verify(const char *token, const char *url, size_t url_len, const char *body,
                  size_t body_len, const char *sig, size_t sig_len)
{
    return twilio_verify_keyed(NULL, token, url, url_len, body, body_len, sig, sig_len);
}
