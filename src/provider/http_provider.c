/* The http dialect: a generic provider behind a signed JSON webhook. Every request we send is
 * signed with X-Signature: hex HMAC-SHA256(http_secret, body); a callback's signature covers the
 * callback URL too (HMAC of "<callbackUrl>\n<body>"), because the URL's query picks the job it
 * reports on: a genuine report on one call must not be replayable against another call's URL.
 * Every create carries an Idempotency-Key of batch:row:seq so the provider can drop a request we
 * sent twice. */
#include "provider/http_provider.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/form.h"
#include "store/records.h"
#include "util/crypto.h"
#include "util/id.h"
#include "util/err.h"
#include "util/json.h"

#define SIGNATURE_HEX_LEN (2 * SHA256_LEN)

static void sign_body(const char *secret, const char *body, size_t len,
                      char out[SIGNATURE_HEX_LEN + 1])
{
    uint8_t mac[SHA256_LEN];
    crypto_hmac_sha256(secret, strlen(secret), body ? body : "", len, mac);
    crypto_hex(mac, sizeof mac, out);
}

/* A callback's signature: of the URL it was sent to, a newline and the body. Hex is compared
 * case-insensitively, the MAC itself in constant time. An empty secret would make every signature
 * forgeable, so it never validates. */
static int signature_ok(const char *secret, const char *url, size_t url_len, const char *body,
                        size_t len, const char *sig, size_t sig_len)
{
    char want[SIGNATURE_HEX_LEN + 1], got[SIGNATURE_HEX_LEN];
    if (!secret[0] || !sig || sig_len != SIGNATURE_HEX_LEN)
        return 0;
    struct buf signed_text = {0};
    int rc = buf_append(&signed_text, url, url_len);
    if (!rc)
        rc = buf_append(&signed_text, "\n", 1);
    if (!rc)
        rc = buf_append(&signed_text, body, len);
    if (!rc)
        sign_body(secret, signed_text.data, signed_text.len, want);
    buf_free(&signed_text);
    if (rc)
        return 0;
    for (size_t i = 0; i < SIGNATURE_HEX_LEN; i++)
        got[i] = (char)tolower((unsigned char)sig[i]);
    return crypto_equal(want, got, SIGNATURE_HEX_LEN);
}

/* Appends ,"name":"value" (a NULL value as ""). */
static int append_member(struct buf *b, const char *name, const char *value)
{
    const char *v = value ? value : "";
    int rc = buf_append_str(b, ",\"");
    if (!rc)
        rc = buf_append_str(b, name);
    if (!rc)
        rc = buf_append_str(b, "\":");
    if (!rc)
        rc = json_append_string(b, v, strlen(v));
    return rc;
}

int http_provider_build_create(const struct provider_config *cfg, const struct dial_attempt *a,
                               struct client_request *r)
{
    char id[ID_MAX + 24], key_header[ID_MAX + 48];
    char signature[SIGNATURE_HEX_LEN + 1], sig_header[SIGNATURE_HEX_LEN + 16];
    struct buf callback = {0};
    struct buf *body = &r->body;
    snprintf(id, sizeof id, "%s:%u:%u", a->batch, (unsigned)a->row, (unsigned)a->seq);

    buf_reset(body);
    int rc = provider_callback_url(&callback, cfg, "http", a);
    if (!rc)
        rc = buf_append_str(body, "{\"id\":");
    if (!rc)
        rc = json_append_string(body, id, strlen(id));
    if (!rc)
        rc = append_member(body, "to", a->to);
    if (!rc)
        rc = append_member(body, "from", a->from);
    if (!rc)
        rc = append_member(body, "agentId", a->agent_id);
    if (!rc)
        rc = append_member(body, "prompt", a->prompt);
    if (!rc)
        rc = buf_append_str(body, ",\"variables\":");
    if (!rc)
        rc = cJSON_IsObject(a->variables) ? json_render(body, a->variables)
                                          : buf_append_str(body, "{}");
    if (!rc)
        rc = append_member(body, "callbackUrl", callback.data);
    if (!rc)
        rc = buf_append_str(body, "}");
    if (!rc) {
        sign_body(cfg->http_secret, body->data, body->len, signature);
        snprintf(key_header, sizeof key_header, "Idempotency-Key: %s", id);
        snprintf(sig_header, sizeof sig_header, "X-Signature: %s", signature);
        const char *const headers[] = {key_header, sig_header, NULL};
        rc = provider_request_set(r, "POST", "application/json", cfg->http_url, NULL, headers,
                                  cfg->request_timeout_ms);
    }
    if (rc)
        buf_free(body);
    buf_free(&callback);
    return rc;
}

void http_provider_parse_create(const struct client_request *r, struct create_result *out)
{
    memset(out, 0, sizeof *out);
    if (r->result != CLIENT_OK) {
        out->cls = CREATE_RETRY;
        snprintf(out->message, sizeof out->message, "Call provider request failed: %.200s",
                 r->error[0] ? r->error : "no response");
        return;
    }
    char error[64] = "", detail[128] = "";
    cJSON *j = cJSON_ParseWithLength(r->response.data, r->response.len);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
    if (cJSON_IsString(e))
        snprintf(error, sizeof error, "%s", e->valuestring);
    if (cJSON_IsString(m))
        snprintf(detail, sizeof detail, "%s", m->valuestring);
    long status = r->status;
    if (status >= 200 && status < 300) {
        if (provider_json_string(j, "callId", out->call_id, sizeof out->call_id) ||
            provider_json_string(j, "id", out->call_id, sizeof out->call_id)) {
            out->cls = CREATE_OK;
            snprintf(out->message, sizeof out->message, "Call created");
        } else {
            out->cls = CREATE_RETRY;
            snprintf(out->message, sizeof out->message,
                     "Call provider answered HTTP %ld without a callId", status);
        }
    } else if (status == 429 || status >= 500) {
        out->cls = CREATE_RETRY;
        out->retry_after_ms = r->retry_after_ms;
        snprintf(out->message, sizeof out->message, "Call provider answered HTTP %ld%s%s", status,
                 error[0] ? ": " : "", error);
    } else if (status == 401 || status == 403) {
        out->cls = CREATE_HALT;
        snprintf(out->message, sizeof out->message,
                 "The call provider refused our request (HTTP %ld%s%s): check the http provider "
                 "secret, then resume the batch",
                 status, error[0] ? ", " : "", error);
    } else if ((status == 400 || status == 422) && !strcmp(error, "invalid_number")) {
        out->cls = CREATE_FINAL;
        out->outcome = OUTCOME_INVALID_NUMBER;
        snprintf(out->message, sizeof out->message, "Invalid phone number (call provider: %s)",
                 detail[0] ? detail : error);
    } else if (status == 404 && !error[0]) {
        /* Not the provider's answer about this call: every contact would fail the same way. */
        out->cls = CREATE_HALT;
        snprintf(out->message, sizeof out->message,
                 "The call provider URL answered HTTP 404: check the http provider URL, then "
                 "resume the batch");
    } else if (status >= 400) {
        out->cls = CREATE_FINAL;
        out->outcome = OUTCOME_PROVIDER_ERROR;
        snprintf(out->message, sizeof out->message, "Call provider error (HTTP %ld): %s%s%s",
                 status, error[0] ? error : "no error code", detail[0] ? ": " : "", detail);
    } else {
        out->cls = CREATE_HALT;
        snprintf(out->message, sizeof out->message,
                 "The call provider answered HTTP %ld to a create: check the http provider URL, "
                 "then resume the batch",
                 status);
    }
    cJSON_Delete(j);
}

/* The dialect's status words in Twilio's terms, so both dialects share one outcome mapping. */
static const struct {
    const char *status;
    const char *twilio_status;
    const char *answered_by;
} http_statuses[] = {
    {"initiated", "initiated", NULL},
    {"ringing", "ringing", NULL},
    {"answered", "in-progress", NULL},
    {"completed", "completed", "human"},
    {"voicemail", "completed", "machine_start"},
    {"busy", "busy", NULL},
    {"no_answer", "no-answer", NULL},
    {"failed", "failed", NULL},
};

/* Reads an optional JSON number that must be a whole number within [0, max]: 1 when present, 0
 * when absent or null, BC_EINVAL otherwise. */
static int json_whole(const cJSON *obj, const char *name, double max, double *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!item || cJSON_IsNull(item))
        return 0;
    double v = item->valuedouble;
    if (!cJSON_IsNumber(item) || !(v >= 0 && v <= max) || floor(v) != v)
        return BC_EINVAL;
    *out = v;
    return 1;
}

/* Fills ev from the callback (or fetch) JSON. */
static int http_event(const cJSON *j, struct call_event *ev)
{
    const cJSON *duration = cJSON_GetObjectItemCaseSensitive(j, "duration");
    const cJSON *transcript = cJSON_GetObjectItemCaseSensitive(j, "transcript");
    const cJSON *opt_out = cJSON_GetObjectItemCaseSensitive(j, "optOut");
    if (opt_out && !cJSON_IsNull(opt_out) && !cJSON_IsBool(opt_out))
        return BC_EINVAL;
    ev->opted_out = cJSON_IsTrue(opt_out);
    double sip = 0, sequence = -1;
    if (!cJSON_IsObject(j) ||
        !(provider_json_string(j, "callId", ev->call_id, sizeof ev->call_id) ||
          provider_json_string(j, "id", ev->call_id, sizeof ev->call_id)) ||
        !provider_json_string(j, "status", ev->status, sizeof ev->status) ||
        json_whole(j, "sip", 999, &sip) < 0 || json_whole(j, "sequence", 9e15, &sequence) < 0)
        return BC_EINVAL;
    if (duration && !cJSON_IsNull(duration)) {
        if (!cJSON_IsNumber(duration) || !isfinite(duration->valuedouble) ||
            duration->valuedouble < 0)
            return BC_EINVAL;
        ev->duration = duration->valuedouble;
    }
    if (transcript && !cJSON_IsNull(transcript) && !cJSON_IsString(transcript))
        return BC_EINVAL;

    size_t i = 0, n = sizeof http_statuses / sizeof http_statuses[0];
    while (i < n && strcmp(http_statuses[i].status, ev->status))
        i++;
    if (i == n)
        return BC_EINVAL;
    ev->sip = (int)sip;
    ev->sequence = (int64_t)sequence;
    provider_twilio_outcome(http_statuses[i].twilio_status, http_statuses[i].answered_by, ev->sip,
                            ev);
    if (cJSON_IsString(transcript)) {
        ev->transcript = strdup(transcript->valuestring);
        if (!ev->transcript)
            return BC_ENOMEM;
    }
    return 0;
}

int http_provider_parse_callback(const char *secret, const char *url, size_t url_len,
                                 const char *query, size_t qlen, const char *body, size_t body_len,
                                 const char *sig, size_t sig_len, struct call_event *ev)
{
    provider_event_init(ev);
    if (!signature_ok(secret, url, url_len, body, body_len, sig, sig_len))
        return BC_EACCES;
    int rc = provider_parse_callback_query(query, qlen, ev);
    if (rc)
        return rc;
    cJSON *j = cJSON_ParseWithLength(body, body_len);
    rc = http_event(j, ev);
    cJSON_Delete(j);
    if (rc) {
        provider_event_free(ev);
        provider_event_init(ev);
    }
    return rc;
}

int http_provider_build_fetch(const struct provider_config *cfg, const char *call_id,
                              struct client_request *r)
{
    char signature[SIGNATURE_HEX_LEN + 1], sig_header[SIGNATURE_HEX_LEN + 16];
    struct buf url = {0};
    sign_body(cfg->http_secret, "", 0, signature);
    snprintf(sig_header, sizeof sig_header, "X-Signature: %s", signature);
    const char *const headers[] = {sig_header, NULL};

    buf_reset(&r->body);
    int rc = buf_append(&url, cfg->http_url, (size_t)provider_base_len(cfg->http_url));
    if (!rc)
        rc = buf_append_str(&url, "/");
    if (!rc)
        rc = form_escape(&url, call_id, strlen(call_id));
    if (!rc)
        rc = buf_append(&url, "", 1);
    if (!rc)
        rc = provider_request_set(r, "GET", NULL, url.data, NULL, headers, cfg->request_timeout_ms);
    if (rc)
        buf_free(&r->body);
    buf_free(&url);
    return rc;
}

int http_provider_parse_fetch(const struct client_request *r, struct call_event *ev)
{
    provider_event_init(ev);
    int rc0 = provider_fetch_status(r);
    if (rc0)
        return rc0;
    cJSON *j = cJSON_ParseWithLength(r->response.data, r->response.len);
    int rc = http_event(j, ev);
    cJSON_Delete(j);
    if (rc) {
        provider_event_free(ev);
        provider_event_init(ev);
    }
    return rc;
}
