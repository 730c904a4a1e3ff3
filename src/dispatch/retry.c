#include "dispatch/retry.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "store/records.h"

#define RETRY_AFTER_MAX_MS (3600u * 1000u)

void retry_defaults(struct retry_config *c)
{
    c->busy_attempts = 3;
    c->busy_retry_ms = 10 * 60 * 1000;
    c->provider_retries = 8;
    c->backoff_base_ms = 1000;
    c->backoff_max_ms = 60000;
    c->hour_ms = 3600 * 1000;
}

void retry_smart_from_json(const void *json, struct retry_smart *out)
{
    const cJSON *o = json;
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(o) || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "enabled")))
        return;
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(o, "maxAttempts");
    out->enabled = 1;
    out->max_attempts = cJSON_IsNumber(max) ? (uint32_t)max->valuedouble : 1;
    const cJSON *g;
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(o, "gaps"))
    {
        if (out->ngaps == RETRY_MAX_GAPS)
            break;
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(g, "days");
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(g, "hours");
        out->gap_hours[out->ngaps++] = (cJSON_IsNumber(d) ? d->valuedouble * 24 : 0) +
                                       (cJSON_IsNumber(h) ? h->valuedouble : 0);
    }
}

static const char *plural(uint32_t n)
{
    return n == 1 ? "" : "s";
}

static void final(struct retry_decision *d, const char *fmt, const char *what, uint32_t attempts)
{
    d->retry = 0;
    d->due_ms = 0;
    snprintf(d->error, sizeof d->error, fmt, what, attempts, plural(attempts));
}

void retry_after_call(const struct retry_config *c, const struct retry_smart *smart, int outcome,
                      uint32_t attempts, uint32_t dials, uint64_t now_ms, const char *detail,
                      struct retry_decision *d)
{
    memset(d, 0, sizeof *d);
    switch (outcome) {
    case OUTCOME_ANSWERED:
        return;
    case OUTCOME_BUSY:
        if (attempts < c->busy_attempts) {
            d->retry = 1;
            d->due_ms = now_ms + c->busy_retry_ms;
            return;
        }
        final(d, "%s - unable to connect after %u attempt%s", "Number busy", dials);
        return;
    case OUTCOME_NO_ANSWER:
    case OUTCOME_VOICEMAIL:
        if (smart && smart->enabled && attempts < smart->max_attempts && smart->ngaps > 0) {
            uint32_t i = attempts - 1 < smart->ngaps ? attempts - 1 : smart->ngaps - 1;
            d->retry = 1;
            d->due_ms = now_ms + (uint64_t)llround(smart->gap_hours[i] * (double)c->hour_ms);
            return;
        }
        final(d, "%s after %u attempt%s",
              outcome == OUTCOME_NO_ANSWER ? "No answer" : "Reached voicemail", dials);
        return;
    default:
        /* Final outcomes: the provider's own words say best what happened. */
        d->retry = 0;
        snprintf(d->error, sizeof d->error, "%s", detail && *detail ? detail : "Call failed");
        return;
    }
}

void retry_after_provider_error(const struct retry_config *c, uint32_t tries,
                                uint64_t retry_after_ms, double rnd, uint64_t now_ms,
                                const char *detail, struct retry_decision *d)
{
    memset(d, 0, sizeof *d);
    if (tries > c->provider_retries) {
        d->retry = 0;
        snprintf(d->error, sizeof d->error,
                 "Provider unavailable: the call could not be placed after %u tries (%s)", tries,
                 detail && *detail ? detail : "no answer from the provider");
        return;
    }
    /* Full jitter: a uniform wait up to the exponential ceiling spreads retries of many calls
     * that failed together. */
    double ceiling = (double)c->backoff_base_ms * pow(2.0, (double)(tries - 1));
    if (ceiling > (double)c->backoff_max_ms)
        ceiling = (double)c->backoff_max_ms;
    uint64_t wait = (uint64_t)(rnd * ceiling);
    /* Honour Retry-After, but not a date so far ahead it would park the call for good. */
    if (retry_after_ms > RETRY_AFTER_MAX_MS)
        retry_after_ms = RETRY_AFTER_MAX_MS;
    if (retry_after_ms > wait)
        wait = retry_after_ms;
    d->retry = 1;
    d->due_ms = now_ms + wait;
}
