/* Workspace settings (src/model/workspace.c): the stored JSON record every request's
 * authentication decodes (workspace_decode), and the limits' rules (workspace_validate).
 * Properties: decoding any bytes is safe (a record we cannot read is BC_ECORRUPT, never undefined
 * behaviour); settings that pass workspace_validate render (workspace_to_json) and decode back to
 * the same values, to 15 significant digits: cJSON prints a number with 15 when they read back
 * within a relative epsilon, so the last bit of a double may change (the limits validated are
 * integers far below 10^15, and a clock in milliseconds stays below it for 30,000 years). */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "model/workspace.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/json.h"

static int close_to(double a, double b)
{
    return fabs(a - b) <= 1e-14 * fmax(fabs(a), fabs(b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ws_settings ws, back;
    int rc = workspace_decode(data, size, &ws);
    if (rc != 0) {
        FUZZ_CHECK(rc == BC_ECORRUPT, "rc %d", rc);
        return 0;
    }
    FUZZ_CHECK(memchr(ws.id, 0, sizeof ws.id) && memchr(ws.name, 0, sizeof ws.name),
               "texts not terminated");
    char msg[200];
    if (workspace_validate(&ws, msg, sizeof msg) != 0) {
        FUZZ_CHECK(msg[0] != '\0', "refused without a reason");
        return 0;
    }
    cJSON *o = workspace_to_json(&ws);
    struct buf b = {0};
    json_render(&b, o);
    cJSON_Delete(o);
    rc = workspace_decode(b.data, b.len, &back);
    FUZZ_CHECK(rc == 0, "our own record does not decode: %.*s", (int)b.len, b.data);
    FUZZ_CHECK(strcmp(ws.id, back.id) == 0 && strcmp(ws.name, back.name) == 0 &&
                   close_to(ws.calls_per_second, back.calls_per_second) &&
                   close_to((double)ws.max_concurrent_calls, (double)back.max_concurrent_calls) &&
                   close_to((double)ws.requests_per_minute, (double)back.requests_per_minute) &&
                   close_to((double)ws.max_records, (double)back.max_records) &&
                   close_to((double)ws.created_ms, (double)back.created_ms),
               "changed by a round trip: %.*s", (int)b.len, b.data);
    buf_free(&b);
    return 0;
}
