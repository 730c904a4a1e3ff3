/* The form fields of an upload: see upload_fields.h. */
#include "api/upload_fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "api/batches.h"
#include "api/upload.h"
#include "model/agent.h"
#include "model/batch.h"
#include "model/url.h"
#include "provider/twilio.h"
#include "util/err.h"
#include "util/num.h"

/* The form's field names. */
const char *const upload_fields_names[FIELD_COUNT] = {
    [FIELD_AGENT_ID] = "agentId",
    [FIELD_SCHEDULED_AT] = "scheduledAt",
    [FIELD_SMART_CALLBACK] = "smartCallbackConfig",
    [FIELD_NAME] = "name",
    [FIELD_DEFAULT_COUNTRY] = "defaultCountry",
    [FIELD_STRICT] = "strict",
    [FIELD_ALLOW_DUPLICATES] = "allowDuplicates",
    [FIELD_MAX_CONCURRENCY] = "maxConcurrency",
    [FIELD_CALLS_PER_SECOND] = "callsPerSecond",
    [FIELD_WEBHOOK_URL] = "webhookUrl",
    [FIELD_CALLING_WINDOW] = "callingWindow",
};

static int bad_field(struct upload *up, enum ingest_field f, const char *fmt, const char *detail)
{
    char msg[400];
    snprintf(msg, sizeof msg, fmt, detail);
    return api_fail(&up->failure, 400, "invalid_field", upload_fields_names[f], "%s: %s",
                    upload_fields_names[f], msg);
}

static int check_agent(struct upload *up, struct app *app, const char *id)
{
    size_t idlen = strlen(id);
    if (!id_valid("agent_", id, idlen))
        return api_fail(&up->failure, 404, "not_found", NULL,
                        "agentId \"%.60s\" is not an agent of this workspace; create one with "
                        "POST /v1/api/agents or check the id.",
                        id);
    struct store_txn t;
    int rc = store_read_begin(&app->store, &t);
    if (!rc) {
        rc = agent_get(&t, up->ws, strlen(up->ws), id, idlen, &up->agent);
        store_read_end(&t);
    }
    if (rc == BC_ENOTFOUND)
        return api_fail(&up->failure, 404, "not_found", NULL,
                        "agentId \"%.60s\" is not an agent of this workspace; create one with "
                        "POST /v1/api/agents or check the id.",
                        id);
    if (rc || !up->agent)
        return api_fail(&up->failure, 500, "internal_error", NULL, "The agent could not be read.");
    /* An agent saved under another provider may break Twilio's rules: refuse the batch before
     * any contact fails for it. */
    char why[200];
    if (app->provider.kind == PROVIDER_TWILIO &&
        twilio_check_agent(
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(up->agent, "prompt")),
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(up->agent, "voiceUrl")), why,
            sizeof why))
        return api_fail(&up->failure, 400, "invalid_field", "agentId",
                        "agentId: agent %.60s cannot be dialled through Twilio: %s Fix it with "
                        "PUT /v1/api/agents/%.60s.",
                        id, why, id);
    return 0;
}

/* smartCallbackConfig: the rules are model/batch.c's (batch_smart_check). */
static int check_smart(struct upload *up, const char *text)
{
    char msg[300];
    up->smart = cJSON_Parse(text);
    if (batch_smart_check(up->smart, msg, sizeof msg) != 0)
        return bad_field(up, FIELD_SMART_CALLBACK, "%s", msg);
    return 0;
}

/* callingWindow: the rules and the messages are policy/window.c's. The message names the field
 * already ("callingWindow.days[0] ..."), so it is answered as it is. */
static int check_window(struct upload *up, const char *text)
{
    char msg[300];
    size_t len = strlen(text);
    cJSON *probe = len <= WINDOW_JSON_MAX ? cJSON_ParseWithLength(text, len) : NULL;
    if (len <= WINDOW_JSON_MAX && !probe)
        return api_fail(&up->failure, 400, "invalid_field",
                        upload_fields_names[FIELD_CALLING_WINDOW],
                        "callingWindow is not valid JSON: send an object such as "
                        "{\"start\":\"09:00\",\"end\":\"17:00\",\"days\":[\"mon\",\"tue\"]}");
    cJSON_Delete(probe);
    if (window_parse_json(text, len, &up->window, msg, sizeof msg) != 0)
        return api_fail(&up->failure, 400, "invalid_field",
                        upload_fields_names[FIELD_CALLING_WINDOW], "%s", msg);
    up->has_window = 1;
    return 0;
}

/* Which part of a well-formed scheduledAt does not exist ("YYYY-MM-DDTHH:MM:SS..."). */
static const char *scheduled_why(const char *v, char *why, size_t cap)
{
    static const char *const months[] = {"January",   "February", "March",    "April",
                                         "May",       "June",     "July",     "August",
                                         "September", "October",  "November", "December"};
    int y = atoi(v), mo = atoi(v + 5), d = atoi(v + 8);
    if (mo < 1 || mo > 12)
        return "months run from 01 to 12";
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int n = days[mo - 1] + (mo == 2 && leap);
    if (d < 1 || d > n) {
        snprintf(why, cap, "%s %d has %d days", months[mo - 1], y, n);
        return why;
    }
    return "hours run from 00 to 23, minutes and seconds from 00 to 59";
}

int upload_fields_check(struct ingest *in, enum ingest_field f, void *ctx)
{
    struct http_request *req = ctx;
    struct upload *up = api_ctx(req)->upload;
    const char *v = ingest_field_value(in, f);
    uint64_t n;
    switch (f) {
    case FIELD_AGENT_ID:
        if (!*v)
            return api_fail(&up->failure, 400, "missing_field", upload_fields_names[f],
                            "agentId is empty: send the id of one of your agents, such as "
                            "-F agentId=agent_...");
        return check_agent(up, api_app(req), v);
    case FIELD_SCHEDULED_AT: {
        char why[80];
        int rc = *v ? batches_parse_time(v, &up->scheduled_ms) : 0;
        if (rc == BC_ENOTFOUND)
            return api_fail(&up->failure, 400, "invalid_field", upload_fields_names[f],
                            "scheduledAt: \"%.40s\" is written correctly but that date or "
                            "time does not exist (%s); send a real one, such as "
                            "2026-12-01T15:00:00Z.",
                            v, scheduled_why(v, why, sizeof why));
        if (rc)
            return bad_field(up, f, "%s",
                             "must be an ISO-8601 time with Z or an offset, such as "
                             "2026-12-01T15:00:00Z");
        return 0;
    }
    case FIELD_SMART_CALLBACK:
        return *v ? check_smart(up, v) : 0;
    case FIELD_NAME:
        if (strlen(v) > 200)
            return bad_field(up, f, "%s", "must be at most 200 characters");
        return 0;
    case FIELD_STRICT:
        if (!strcasecmp(v, "true") || !strcmp(v, "1"))
            up->strict = 1;
        else if (*v && strcasecmp(v, "false") && strcmp(v, "0"))
            return bad_field(up, f, "%s", "must be true or false");
        return 0;
    case FIELD_MAX_CONCURRENCY:
        if (num_parse_u64(v, strlen(v), up->ws_settings.max_concurrent_calls, &n) != 0 || n < 1) {
            char d[80];
            snprintf(d, sizeof d, "%llu", (unsigned long long)up->ws_settings.max_concurrent_calls);
            return bad_field(up, f, "must be a whole number from 1 to %s (the workspace's limit)",
                             d);
        }
        up->max_concurrency = (uint32_t)n;
        return 0;
    case FIELD_CALLS_PER_SECOND: {
        char *end;
        double d = strtod(v, &end);
        if (!*v || *end || !(d > 0) || d > up->ws_settings.calls_per_second) {
            char lim[40];
            snprintf(lim, sizeof lim, "%g", up->ws_settings.calls_per_second);
            return bad_field(up, f,
                             "must be a number above 0 and at most %s (the workspace's "
                             "limit)",
                             lim);
        }
        up->calls_per_second = d;
        return 0;
    }
    case FIELD_WEBHOOK_URL:
        if (*v && url_check(v, strlen(v), URL_EMPTY_HOST_OK | URL_DEL_OK) != 0)
            return bad_field(up, f, "%s", "must be an http:// or https:// URL");
        if (*v) {
            const char *refusal =
                url_target_refusal(v, strlen(v), api_app(req)->cfg.webhook_allow_private);
            if (refusal)
                return bad_field(up, f, "%s", url_refusal_message(refusal));
        }
        return 0;
    case FIELD_CALLING_WINDOW:
        return *v ? check_window(up, v) : 0;
    default:
        return 0;
    }
}

cJSON *upload_fields_window_json(const struct upload *up)
{
    static const char *const days[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
    if (!up->has_window)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_CreateArray();
    const struct window_range *r = NULL;
    for (int d = 0; d < 7; d++) {
        if (!up->window.n[d])
            continue;
        r = &up->window.r[d][0];
        cJSON_AddItemToArray(arr, cJSON_CreateString(days[d]));
    }
    /* One object gives the same single range on each of its days. */
    char t[8];
    snprintf(t, sizeof t, "%02u:%02u", r->start / 60u, r->start % 60u);
    cJSON_AddStringToObject(o, "start", t);
    snprintf(t, sizeof t, "%02u:%02u", r->end / 60u, r->end % 60u);
    cJSON_AddStringToObject(o, "end", t);
    cJSON_AddItemToObject(o, "days", arr);
    return o;
}
