#include "model/agent.h"

#include <string.h>

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
