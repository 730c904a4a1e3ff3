/* Agent bodies (POST and PUT /v1/api/agents, checked by agent_apply in src/model/agent.c).
 * Properties: an agent we accept has a name of 1 to 200 bytes, a prompt of at most 32768, an
 * E.164 fromNumber, a voiceUrl that is null or passes url_check, and "variables" listing each
 * {variable} of its prompt once; sent back to us as a new agent it is accepted and comes out the
 * same; an update with the same body leaves it the same. */
#include <string.h>

#include "fuzz.h"
#include "fuzz_json.h"
#include "model/agent.h"
#include "model/url.h"
#include "util/buf.h"
#include "util/json.h"

static cJSON *new_agent(void)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "id", "agent_01");
    cJSON_AddStringToObject(a, "name", "");
    cJSON_AddStringToObject(a, "prompt", "");
    cJSON_AddStringToObject(a, "fromNumber", "");
    cJSON_AddNullToObject(a, "voiceUrl");
    cJSON_AddArrayToObject(a, "variables");
    return a;
}

static void render(const cJSON *a, struct buf *out)
{
    buf_reset(out);
    json_render(out, a);
    buf_append(out, "", 1);
}

static void check_agent(const cJSON *a)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(a, "name");
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(a, "prompt");
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(a, "fromNumber");
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(a, "voiceUrl");
    const cJSON *vars = cJSON_GetObjectItemCaseSensitive(a, "variables");
    FUZZ_CHECK(cJSON_IsString(name) && strlen(name->valuestring) >= 1 &&
                   strlen(name->valuestring) <= AGENT_NAME_MAX,
               "name");
    FUZZ_CHECK(cJSON_IsString(prompt) && strlen(prompt->valuestring) <= AGENT_PROMPT_MAX, "prompt");
    FUZZ_CHECK(cJSON_IsString(from) && from->valuestring[0] == '+', "fromNumber");
    FUZZ_CHECK(cJSON_IsNull(url) ||
                   (cJSON_IsString(url) && strlen(url->valuestring) <= AGENT_URL_MAX &&
                    url_check(url->valuestring, strlen(url->valuestring), 0) == 0),
               "voiceUrl");
    FUZZ_CHECK(cJSON_IsArray(vars) && cJSON_GetArraySize(vars) <= AGENT_VARIABLES_MAX, "variables");
    const cJSON *v, *w;
    cJSON_ArrayForEach(v, vars)
    {
        FUZZ_CHECK(cJSON_IsString(v) && strstr(prompt->valuestring, v->valuestring), "variable %s",
                   cJSON_IsString(v) ? v->valuestring : "?");
        for (w = v->next; w; w = w->next)
            FUZZ_CHECK(strcmp(v->valuestring, w->valuestring) != 0, "%s twice", v->valuestring);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *body = fuzz_parse_body(data, size);
    if (!body)
        return 0;
    const char *field = NULL;
    char msg[200];
    struct buf first = {0}, second = {0};
    cJSON *a = new_agent();
    int rc = agent_apply(body, a, 1, &field, msg, sizeof msg);
    if (rc != 0) {
        FUZZ_CHECK(field && msg[0] && memchr(msg, 0, sizeof msg), "an error without field or text");
    } else {
        check_agent(a);
        render(a, &first);
        /* Our own agent, sent back as a new one. */
        cJSON *again = new_agent();
        rc = agent_apply(a, again, 1, &field, msg, sizeof msg);
        FUZZ_CHECK(rc == 0, "our own agent is refused: %s: %s\n%s", field, msg, first.data);
        render(again, &second);
        FUZZ_CHECK(strcmp(first.data, second.data) == 0, "came back as\n%s\nnot\n%s", second.data,
                   first.data);
        cJSON_Delete(again);
        /* The same body as an update. */
        rc = agent_apply(body, a, 0, &field, msg, sizeof msg);
        FUZZ_CHECK(rc == 0, "the update is refused: %s: %s", field, msg);
        render(a, &second);
        FUZZ_CHECK(strcmp(first.data, second.data) == 0, "the update changed it:\n%s", second.data);
    }
    cJSON_Delete(a);
    /* Any body as an update of a valid agent. */
    a = cJSON_Parse("{\"id\":\"agent_01\",\"name\":\"n\",\"prompt\":\"Hi {first_name}\","
                    "\"fromNumber\":\"+14155550100\",\"voiceUrl\":null,\"variables\":[]}");
    if (agent_apply(body, a, 0, &field, msg, sizeof msg) == 0)
        check_agent(a);
    cJSON_Delete(a);
    cJSON_Delete(body);
    buf_free(&first);
    buf_free(&second);
    return 0;
}
