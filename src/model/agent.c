#include "model/agent.h"

#include <stdio.h>
#include <string.h>

#include "model/url.h"
#include "store/records.h"
#include "util/err.h"

static int is_var_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* The length of the {variable} that starts at prompt[i] (a '{'), or 0 if none starts there. */
static size_t variable_at(const char *prompt, size_t len, size_t i)
{
    size_t j = i + 1;
    while (j < len && j - i - 1 < AGENT_VARIABLE_MAX + 1 && is_var_char(prompt[j]))
        j++;
    size_t n = j - i - 1;
    if (n == 0 || n > AGENT_VARIABLE_MAX || j >= len || prompt[j] != '}')
        return 0;
    return n;
}

void agent_prompt_variables(const char *prompt, size_t len, agent_var_fn fn, void *ctx)
{
    for (size_t i = 0; i < len; i++) {
        size_t n = prompt[i] == '{' ? variable_at(prompt, len, i) : 0;
        if (!n)
            continue;
        fn(ctx, prompt + i + 1, n);
        i += n + 1;
    }
}

void agent_variable_key(const char *name, size_t len, char *out)
{
    if (len > AGENT_VARIABLE_MAX)
        len = AGENT_VARIABLE_MAX;
    for (size_t i = 0; i < len; i++)
        out[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
    out[len] = '\0';
}

int agent_render(const char *prompt, size_t len, agent_value_fn value, void *ctx, struct buf *out,
                 uint32_t *empty)
{
    size_t done = 0;
    int rc = 0;
    for (size_t i = 0; i < len && !rc; i++) {
        size_t n = prompt[i] == '{' ? variable_at(prompt, len, i) : 0;
        if (!n)
            continue;
        char key[AGENT_VARIABLE_MAX + 1];
        agent_variable_key(prompt + i + 1, n, key);
        const char *v = value(ctx, key);
        rc = buf_append(out, prompt + done, i - done);
        if (!rc && v && v[0])
            rc = buf_append_str(out, v);
        else if (!rc)
            (*empty)++;
        i += n + 1;
        done = i + 1;
    }
    if (!rc)
        rc = buf_append(out, prompt + done, len - done);
    if (!rc)
        rc = buf_append(out, "", 1);
    return rc ? BC_ENOMEM : 0;
}

int agent_get(struct store_txn *t, const char *ws, size_t wslen, const char *id, size_t idlen,
              cJSON **out)
{
    char key[AGENT_KEY_MAX];
    size_t klen = agent_key(key, ws, wslen, id, idlen);
    struct store_val v;
    int rc = store_get(t, DB_AGENT, key, klen, &v);
    if (rc)
        return rc;
    cJSON *agent = cJSON_ParseWithLength(v.ptr, v.len);
    if (!agent)
        return BC_ECORRUPT;
    *out = agent;
    return 0;
}

/* 1 if s is E.164: '+', then 8 to 15 digits, the first not 0. */
static int is_e164(const char *s, size_t len)
{
    if (len < 9 || len > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9')
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* Collects distinct variable names into a JSON array, up to AGENT_VARIABLES_MAX. */
static void add_variable(void *ctx, const char *name, size_t len)
{
    cJSON *arr = ctx, *item;
    int n = 0;
    cJSON_ArrayForEach(item, arr)
    {
        if (strlen(item->valuestring) == len && memcmp(item->valuestring, name, len) == 0)
            return;
        n++;
    }
    if (n > AGENT_VARIABLES_MAX)
        return;
    char buf[AGENT_PROMPT_MAX + 1];
    memcpy(buf, name, len);
    buf[len] = '\0';
    cJSON_AddItemToArray(arr, cJSON_CreateString(buf));
}

/* Fields added after agents were first stored may be missing from a stored agent. */
static void set_member(cJSON *agent, const char *name, cJSON *item)
{
    if (cJSON_GetObjectItemCaseSensitive(agent, name))
        cJSON_ReplaceItemInObjectCaseSensitive(agent, name, item);
    else
        cJSON_AddItemToObject(agent, name, item);
}

char agent_opt_out_digit(const cJSON *agent)
{
    const char *d = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(agent, "optOutDigit"));
    return d && strlen(d) == 1 ? d[0] : '\0';
}

int agent_apply(const cJSON *body, cJSON *agent, int creating, const char **field, char *msg,
                size_t cap)
{
    static const struct {
        const char *name;
        int required;
    } fields[] = {
        {"name", 1}, {"prompt", 1}, {"fromNumber", 1}, {"voiceUrl", 0}, {"optOutDigit", 0}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *f = fields[i].name;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, f);
        *field = f;
        if (!v) {
            if (creating && fields[i].required) {
                snprintf(msg, cap, "%s is required.", f);
                return BC_EINVAL;
            }
            continue;
        }
        if (!fields[i].required && cJSON_IsNull(v)) {
            set_member(agent, f, cJSON_CreateNull());
            continue;
        }
        const char *s = cJSON_IsString(v) ? v->valuestring : NULL;
        size_t len = s ? strlen(s) : 0;
        const char *problem = NULL;
        if (!s)
            problem = "must be a string";
        else if (!strcmp(f, "name") && (len == 0 || len > AGENT_NAME_MAX))
            problem = "must be 1 to 200 characters";
        else if (!strcmp(f, "prompt") && len > AGENT_PROMPT_MAX)
            problem = "must be at most 32768 bytes";
        else if (!strcmp(f, "fromNumber") && !is_e164(s, len))
            problem = "must be an E.164 phone number such as +14155552671";
        else if (!strcmp(f, "voiceUrl") && (len > AGENT_URL_MAX || url_check(s, len, 0) != 0))
            problem = "must be an http:// or https:// URL of at most 2048 characters";
        else if (!strcmp(f, "optOutDigit") && (len != 1 || !strchr("0123456789*#", s[0])))
            problem = "must be one key of the phone's keypad: a digit 0-9, * or #";
        if (problem) {
            snprintf(msg, cap, "%s %s.", f, problem);
            return BC_EINVAL;
        }
        set_member(agent, f, cJSON_CreateString(s));
    }
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(agent, "prompt");
    cJSON *vars = cJSON_CreateArray();
    agent_prompt_variables(prompt->valuestring, strlen(prompt->valuestring), add_variable, vars);
    if (cJSON_GetArraySize(vars) > AGENT_VARIABLES_MAX) {
        cJSON_Delete(vars);
        *field = "prompt";
        snprintf(msg, cap, "prompt uses more than %d different {variables}.", AGENT_VARIABLES_MAX);
        return BC_EINVAL;
    }
    cJSON_ReplaceItemInObjectCaseSensitive(agent, "variables", vars);
    return 0;
}
