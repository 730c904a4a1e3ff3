#include "model/batch.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"

int batch_is_live(int status)
{
    return status == BATCH_QUEUED || status == BATCH_PROCESSING;
}

int batch_is_final(int status)
{
    return status == BATCH_COMPLETED || status == BATCH_CANCELLED || status == BATCH_FAILED;
}

/* Gap i is the wait before attempt i+2; when fewer gaps than needed are given, the last one
 * repeats. */
int batch_smart_check(const cJSON *o, char *msg, size_t cap)
{
    if (!cJSON_IsObject(o)) {
        snprintf(msg, cap, "%s",
                 "must be a JSON object as a string, such as {\"enabled\":true,"
                 "\"maxAttempts\":3,\"gaps\":[{\"days\":0,\"hours\":4}]}");
        return BC_EINVAL;
    }
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(o, "enabled");
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(o, "maxAttempts");
    const cJSON *gaps = cJSON_GetObjectItemCaseSensitive(o, "gaps");
    if (!cJSON_IsBool(en)) {
        snprintf(msg, cap, "%s", "\"enabled\" must be true or false");
        return BC_EINVAL;
    }
    if (!cJSON_IsTrue(en))
        return 0;
    if (!cJSON_IsNumber(max) || max->valuedouble != floor(max->valuedouble) ||
        max->valuedouble < 1 || max->valuedouble > BATCH_SMART_MAX_TRIES) {
        snprintf(msg, cap, "%s", "\"maxAttempts\" must be a whole number from 1 to 10");
        return BC_EINVAL;
    }
    if (!cJSON_IsArray(gaps) || (max->valueint > 1 && cJSON_GetArraySize(gaps) == 0)) {
        snprintf(msg, cap, "%s",
                 "\"gaps\" must be an array of {\"days\": d, \"hours\": h} with at least one "
                 "entry when maxAttempts is more than 1");
        return BC_EINVAL;
    }
    const cJSON *g;
    int i = 0;
    cJSON_ArrayForEach(g, gaps)
    {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(g, "days");
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(g, "hours");
        double days = cJSON_IsNumber(d) ? d->valuedouble : d ? -1 : 0;
        double hours = cJSON_IsNumber(h) ? h->valuedouble : h ? -1 : 0;
        if (!cJSON_IsObject(g) || days < 0 || hours < 0 || (!d && !h) ||
            days * 24 + hours > BATCH_GAP_MAX_HOURS || days * 24 + hours <= 0) {
            snprintf(msg, cap,
                     "gap %d must be {\"days\": d, \"hours\": h} with non-negative numbers adding "
                     "up to more than 0 and at most 30 days",
                     i + 1);
            return BC_EINVAL;
        }
        i++;
    }
    return 0;
}

int batch_job_id_parse(const char *s, size_t len, uint32_t *row)
{
    if (len < 6 || len > 15 || memcmp(s, "call_", 5) != 0 || s[5] == '0')
        return BC_EINVAL;
    uint64_t v = 0;
    for (size_t i = 5; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return BC_EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v == 0 || v > UINT32_MAX)
        return BC_EINVAL;
    *row = (uint32_t)v;
    return 0;
}

uint32_t batch_event_id_parse(const char *s, size_t len)
{
    uint32_t last = 0;
    for (size_t i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        last =
            last > (UINT32_MAX - 1 - 9) / 10 ? UINT32_MAX - 1 : last * 10 + (uint32_t)(s[i] - '0');
    return last;
}
