/* smartCallbackConfig, the upload form field (checked by batch_smart_check in
 * src/model/batch.c; read back by the dispatcher with retry_smart_from_json, src/dispatch/retry.c).
 * Property: a config we accept and enable is read back by the dispatcher as 1 to 10 attempts and
 * gaps of more than 0 and at most 30 days; a refusal always says why. */
#include <string.h>

#include "dispatch/retry.h"
#include "fuzz.h"
#include "model/batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The form field arrives as a C string: like the upload, parse up to the first NUL. */
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    cJSON *o = cJSON_Parse(text);
    char msg[300];
    msg[0] = '\0';
    if (batch_smart_check(o, msg, sizeof msg) != 0) {
        FUZZ_CHECK(msg[0] != '\0', "refused without a reason");
    } else {
        struct retry_smart s;
        retry_smart_from_json(o, &s);
        if (s.enabled) {
            FUZZ_CHECK(s.max_attempts >= 1 && s.max_attempts <= BATCH_SMART_MAX_TRIES,
                       "%u attempts", s.max_attempts);
            for (size_t i = 0; i < s.ngaps; i++)
                FUZZ_CHECK(s.gap_hours[i] > 0 && s.gap_hours[i] <= BATCH_GAP_MAX_HOURS,
                           "gap %zu of %g hours", i, s.gap_hours[i]);
        }
    }
    cJSON_Delete(o);
    free(text);
    return 0;
}
