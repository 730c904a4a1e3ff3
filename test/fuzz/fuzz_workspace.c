/* Workspace settings (src/model/workspace.c): the stored JSON record every request's
 * authentication decodes (workspace_decode), and the limits' rules (workspace_validate).
 * Properties: decoding any bytes is safe (a record we cannot read is BC_ECORRUPT, never undefined
 * behaviour); settings that pass workspace_validate render (workspace_to_json) and decode back to
 * the same values. */
#include <string.h>

#include "fuzz.h"
#include "model/workspace.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/json.h"

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
                   ws.calls_per_second == back.calls_per_second &&
                   ws.max_concurrent_calls == back.max_concurrent_calls &&
                   ws.requests_per_minute == back.requests_per_minute &&
                   ws.max_records == back.max_records && ws.created_ms == back.created_ms,
               "changed by a round trip: %.*s", (int)b.len, b.data);
    buf_free(&b);
    return 0;
}
