/* What does not depend on the dialect (see provider.h): the switch on cfg->kind, request string
 * storage, callback URLs and queries, call events and the outcome mapping both dialects use. */
#include "provider/provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/form.h"
#include "provider/http_provider.h"
#include "provider/twilio.h"
#include "store/records.h"
#include "util/err.h"
#include "util/num.h"

#define DEFAULT_REQUEST_TIMEOUT_MS 10000

/* ---- Requests ------------------------------------------------------------------------------ */

int provider_request_set(struct client_request *r, const char *method, const char *content_type,
                         const char *url, const char *userpwd, const char *const *headers,
                         long timeout_ms)
{
    size_t nheaders = 0;
    while (headers && headers[nheaders])
        nheaders++;
    if (nheaders > PROVIDER_MAX_HEADERS)
        return BC_EINVAL;

    struct buf *b = &r->body;
    size_t body_len = b->len;
    size_t url_off, pwd_off = 0, header_off[PROVIDER_MAX_HEADERS];
    /* The NUL after the body also makes the body a C string, which helps when logging it. */
    int rc = buf_append(b, "", 1);
    url_off = b->len;
    if (!rc)
        rc = buf_append(b, url, strlen(url) + 1);
    if (!rc && userpwd) {
        pwd_off = b->len;
        rc = buf_append(b, userpwd, strlen(userpwd) + 1);
    }
    for (size_t i = 0; !rc && i < nheaders; i++) {
        header_off[i] = b->len;
        rc = buf_append(b, headers[i], strlen(headers[i]) + 1);
    }
    /* The header pointer array goes last, at an offset aligned for pointers (the allocation
     * itself comes from realloc, which aligns for any type). */
    size_t align = _Alignof(const char *);
    size_t array_off = (b->len + align - 1) / align * align;
    if (!rc)
        rc = buf_reserve(b, array_off - b->len + (nheaders + 1) * sizeof(const char *));
    b->len = body_len;
    if (rc)
        return rc;

    const char **array = (const char **)(void *)(b->data + array_off);
    for (size_t i = 0; i < nheaders; i++)
        array[i] = b->data + header_off[i];
    array[nheaders] = NULL;
    r->method = method;
    r->content_type = content_type;
    r->url = b->data + url_off;
    r->userpwd = userpwd ? b->data + pwd_off : NULL;
    r->headers = nheaders ? array : NULL;
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_REQUEST_TIMEOUT_MS;
    return 0;
}

int provider_base_len(const char *url)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    return (int)n;
}

/* Appends a NUL so b->data can be used as a C string; b->len keeps counting the text only. */
static int terminate(struct buf *b)
{
    int rc = buf_append(b, "", 1);
    if (!rc)
        b->len--;
    return rc;
}

int provider_append_uint(struct buf *b, unsigned v)
{
    char digits[NUM_U64_DIGITS];
    return buf_append(b, digits, (size_t)(num_put_u64(digits, v) - digits));
}

int provider_callback_url(struct buf *b, const struct provider_config *cfg, const char *dialect,
                          const struct dial_attempt *a)
{
    int rc = buf_append(b, cfg->public_url, (size_t)provider_base_len(cfg->public_url));
    if (!rc)
        rc = buf_append_str(b, "/v1/provider/");
    if (!rc && a->ws && a->ws[0]) {
        rc = buf_append_str(b, "ws/");
        if (!rc)
            rc = form_escape(b, a->ws, strlen(a->ws));
        if (!rc)
            rc = buf_append_str(b, "/");
    }
    if (!rc)
        rc = buf_append_str(b, dialect);
    if (!rc)
        rc = buf_append_str(b, "/status?b=");
    if (!rc)
        rc = form_escape(b, a->batch, strlen(a->batch));
    if (!rc)
        rc = buf_append_str(b, "&r=");
    if (!rc)
        rc = provider_append_uint(b, (unsigned)a->row);
    if (!rc)
        rc = buf_append_str(b, "&a=");
    if (!rc)
        rc = provider_append_uint(b, (unsigned)a->seq);
    if (!rc)
        rc = terminate(b);
    return rc;
}

/* ---- Call events --------------------------------------------------------------------------- */

void provider_event_init(struct call_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->sequence = -1;
}

void provider_event_free(struct call_event *ev)
{
    free(ev->transcript);
    ev->transcript = NULL;
}

int provider_parse_callback_query(const char *query, size_t qlen, struct call_event *ev)
{
    char batch[ID_MAX], row[16], seq[16];
    struct form_field f[] = {{.name = "b"}, {.name = "r"}, {.name = "a"}};
    form_find(query, qlen, f, 3);
    /* The values of the URLs we hand out hold no escape: copied, not measured and decoded. */
    for (size_t i = 0; i < 3; i++)
        f[i].decoded = f[i].value && !memchr(f[i].value, '%', f[i].value_len) &&
                       !memchr(f[i].value, '+', f[i].value_len);
    int nb = form_value(&f[0], batch, sizeof batch);
    int nr = form_value(&f[1], row, sizeof row);
    int na = form_value(&f[2], seq, sizeof seq);
    uint64_t r, a;
    if (nb < 0 || nr < 0 || na < 0 || !id_valid("batch_", batch, (size_t)nb) ||
        num_parse_u64(row, strlen(row), UINT32_MAX, &r) || r == 0 ||
        num_parse_u64(seq, strlen(seq), UINT32_MAX, &a) || a == 0)
        return BC_EINVAL;
    memcpy(ev->batch, batch, (size_t)nb + 1);
    ev->row = (uint32_t)r;
    ev->seq = (uint32_t)a;
    return 0;
}

/* ---- Outcomes ------------------------------------------------------------------------------ */

static void set_message(struct call_event *ev, const char *text, int sip)
{
    if (sip) {
        snprintf(ev->message, sizeof ev->message, "%s (SIP %d)", text, sip);
        return;
    }
    /* snprintf's "%s" without its format parsing, for the message of nearly every callback. */
    size_t n = strnlen(text, sizeof ev->message - 1);
    memcpy(ev->message, text, n);
    ev->message[n] = '\0';
}

/* What a failed call's final SIP response says about the number (dialer-anchors.md 2.3). */
static const struct {
    int sip;
    int outcome;
    const char *text;
} failed_sip[] = {
    {480, OUTCOME_UNREACHABLE, "Number unreachable"},
    {404, OUTCOME_INVALID_NUMBER, "Number does not exist"},
    {484, OUTCOME_INVALID_NUMBER, "Number does not exist"},
    {604, OUTCOME_INVALID_NUMBER, "Number does not exist"},
    {410, OUTCOME_INVALID_NUMBER, "Number does not exist"},
    {603, OUTCOME_REJECTED, "Call rejected by the recipient"},
    {607, OUTCOME_CARRIER_BLOCKED, "Blocked by the carrier"},
    {608, OUTCOME_CARRIER_BLOCKED, "Blocked by the carrier"},
    {486, OUTCOME_BUSY, "Number busy"},
    {600, OUTCOME_BUSY, "Number busy"},
    {408, OUTCOME_NO_ANSWER, "No answer"},
    {487, OUTCOME_NO_ANSWER, "No answer"},
};

/* Statuses of a call that has not ended yet. */
static const struct {
    const char *status;
    const char *text;
} progress[] = {
    {"queued", "Call queued"},
    {"initiated", "Call initiated"},
    {"ringing", "Ringing"},
    {"in-progress", "Call in progress"},
};

void provider_twilio_outcome(const char *call_status, const char *answered_by, int sip,
                             struct call_event *ev)
{
    ev->final = 1;
    ev->answered = 0;
    ev->outcome = OUTCOME_NONE;
    if (!strcmp(call_status, "completed")) {
        /* Completed means connected, not that a person talked: AnsweredBy (answering-machine
         * detection) tells a voicemail from a person; without a verdict we count a person. */
        int machine =
            answered_by && (!strncmp(answered_by, "machine", 7) || !strcmp(answered_by, "fax"));
        ev->answered = 1;
        ev->outcome = machine ? OUTCOME_VOICEMAIL : OUTCOME_ANSWERED;
        set_message(ev, machine ? "Voicemail reached" : "Answered", 0);
    } else if (!strcmp(call_status, "busy")) {
        ev->outcome = OUTCOME_BUSY;
        set_message(ev, "Number busy", 0);
    } else if (!strcmp(call_status, "no-answer")) {
        ev->outcome = OUTCOME_NO_ANSWER;
        set_message(ev, "No answer", 0);
    } else if (!strcmp(call_status, "canceled")) {
        ev->outcome = OUTCOME_NO_ANSWER;
        set_message(ev, "No answer (the call was canceled before it was answered)", 0);
    } else if (!strcmp(call_status, "failed")) {
        ev->outcome = OUTCOME_UNREACHABLE;
        const char *text = "Number unreachable";
        for (size_t i = 0; i < sizeof failed_sip / sizeof failed_sip[0]; i++) {
            if (failed_sip[i].sip == sip) {
                ev->outcome = failed_sip[i].outcome;
                text = failed_sip[i].text;
            }
        }
        set_message(ev, text, sip);
    } else {
        ev->final = 0;
        for (size_t i = 0; i < sizeof progress / sizeof progress[0]; i++) {
            if (!strcmp(progress[i].status, call_status)) {
                set_message(ev, progress[i].text, 0);
                return;
            }
        }
        snprintf(ev->message, sizeof ev->message, "Twilio reported status \"%s\"", call_status);
    }
}

int provider_fetch_status(const struct client_request *r)
{
    if (r->result != CLIENT_OK)
        return BC_EIO;
    if (r->status == 404)
        return BC_ENOTFOUND;
    if (r->status == 401 || r->status == 403)
        return BC_EACCES;
    return r->status == 200 ? 0 : BC_EIO;
}

int provider_json_string(const cJSON *obj, const char *name, char *out, size_t cap)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsString(item) || !item->valuestring[0] || strlen(item->valuestring) >= cap)
        return 0;
    memcpy(out, item->valuestring, strlen(item->valuestring) + 1);
    return 1;
}

/* ---- Dispatch on the dialect --------------------------------------------------------------- */

int provider_build_create(const struct provider_config *cfg, const struct dial_attempt *a,
                          struct client_request *r)
{
    if (cfg->kind == PROVIDER_HTTP)
        return http_provider_build_create(cfg, a, r);
    return twilio_build_create(cfg, a, r);
}

void provider_parse_create(const struct provider_config *cfg, const struct client_request *r,
                           struct create_result *out)
{
    if (cfg->kind == PROVIDER_HTTP)
        http_provider_parse_create(r, out);
    else
        twilio_parse_create(r, out);
}

int provider_build_fetch(const struct provider_config *cfg, const char *call_id,
                         struct client_request *r)
{
    if (cfg->kind == PROVIDER_HTTP)
        return http_provider_build_fetch(cfg, call_id, r);
    return twilio_build_fetch(cfg, call_id, r);
}

int provider_parse_fetch(const struct provider_config *cfg, const struct client_request *r,
                         struct call_event *ev)
{
    if (cfg->kind == PROVIDER_HTTP)
        return http_provider_parse_fetch(r, ev);
    return twilio_parse_fetch(r, ev);
}
