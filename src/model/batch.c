#include "model/batch.h"

#include <math.h>
#include <stdio.h>

#include "util/err.h"

int batch_is_live(int status)
{
    return status == BATCH_QUEUED || status == BATCH_PROCESSING;
}

int batch_is_final(int status)
{
    return status == BATCH_COMPLETED || status == BATCH_CANCELLED || status == BATCH_FAILED;
}

static int smart_fail(char *msg, size_t cap, const char *text)
{
    snprintf(msg, cap, "%s", text);
    return BC_EINVAL;
}

int batch_check_smart(const cJSON *o, char *msg, size_t cap)
{
    if (!cJSON_IsObject(o))
        return smart_fail(msg, cap,
                          "must be a JSON object as a string, such as {\"enabled\":true,"
                          "\"maxAttempts\":3,\"gaps\":[{\"days\":0,\"hours\":4}]}");
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(o, "enabled");
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(o, "maxAttempts");
    const cJSON *gaps = cJSON_GetObjectItemCaseSensitive(o, "gaps");
    if (!cJSON_IsBool(en))
        return smart_fail(msg, cap, "\"enabled\" must be true or false");
    if (!cJSON_IsTrue(en))
        return 0;
    if (!cJSON_IsNumber(max) || max->valuedouble != floor(max->valuedouble) ||
        max->valuedouble < 1 || max->valuedouble > BATCH_SMART_MAX_TRIES)
        return smart_fail(msg, cap, "\"maxAttempts\" must be a whole number from 1 to 10");
    if (!cJSON_IsArray(gaps) || (max->valueint > 1 && cJSON_GetArraySize(gaps) == 0))
        return smart_fail(msg, cap,
                          "\"gaps\" must be an array of {\"days\": d, \"hours\": h} with at "
                          "least one entry when maxAttempts is more than 1");
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
                     "gap %d must be {\"days\": d, \"hours\": h} with non-negative numbers "
                     "adding up to more than 0 and at most 30 days",
                     i + 1);
            return BC_EINVAL;
        }
        i++;
    }
    return 0;
}
