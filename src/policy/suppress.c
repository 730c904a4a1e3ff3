#include "policy/suppress.h"

#include <stdio.h>
#include <string.h>

#include "policy/registry.h"
#include "store/records.h"
#include "util/err.h"
#include "util/id.h"
#include "util/json.h"

enum suppress_kind suppress_kind(const char *e, size_t len)
{
    if (len < 2 || len > SUPPRESS_ENTRY_MAX || e[0] != '+')
        return SUPPRESS_INVALID;
    for (size_t i = 1; i < len; i++)
        if (e[i] < '0' || e[i] > '9')
            return SUPPRESS_INVALID;
    if (len == 5 && e[1] == '1')
        return e[2] >= '2' ? SUPPRESS_AREA_CODE : SUPPRESS_INVALID;
    return len >= 9 && e[1] != '0' ? SUPPRESS_NUMBER : SUPPRESS_INVALID;
}

int suppress_source_valid(const char *s, size_t len)
{
    if (len == 0 || len > SUPPRESS_SOURCE_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return 0;
    return 1;
}

/* 0 when the workspace has entry, BC_ENOTFOUND when not, or a store error. */
static int has_entry(struct store_txn *t, const char *ws, size_t wslen, const char *e, size_t elen)
{
    char key[SUPPRESS_KEY_MAX];
    struct store_val v;
    return store_get(t, DB_SUPPRESS, key, suppress_key(key, ws, wslen, e, elen), &v);
}

int suppress_match(struct store_txn *t, const char *ws, size_t wslen, const char *e164, size_t len,
                   int use_registry, enum suppress_source *source, char *entry)
{
    *source = SUPPRESS_NONE;
    entry[0] = '\0';
    if (len > SUPPRESS_ENTRY_MAX || wslen >= ID_MAX)
        return BC_EINVAL;
    int nanp = len == 12 && e164[0] == '+' && e164[1] == '1';
    /* The number itself, then its +1 area code (five bytes: "+1NPA"). */
    for (size_t n = len, i = 0; i < 2; i++, n = 5) {
        if (i == 1 && !nanp)
            break;
        int rc = has_entry(t, ws, wslen, e164, n);
        if (rc == 0) {
            *source = SUPPRESS_WORKSPACE;
            memcpy(entry, e164, n);
            entry[n] = '\0';
            return 0;
        }
        if (rc != BC_ENOTFOUND)
            return rc;
    }
    if (nanp && use_registry) {
        int rc = registry_has(t, e164 + 2);
        if (rc < 0)
            return rc;
        if (rc)
            *source = SUPPRESS_REGISTRY;
    }
    return 0;
}

int suppress_check(struct store_txn *t, const char *ws, size_t wslen, const char *e164, size_t len,
                   int use_registry, enum suppress_source *source)
{
    char entry[SUPPRESS_ENTRY_MAX + 1];
    return suppress_match(t, ws, wslen, e164, len, use_registry, source, entry);
}

int suppress_add(struct store_txn *t, const char *ws, size_t wslen, const char *entry, size_t elen,
                 const char *reason, const char *source, const char *call_id, uint64_t now_ms)
{
    if (suppress_kind(entry, elen) == SUPPRESS_INVALID || wslen >= ID_MAX)
        return BC_EINVAL;
    char key[SUPPRESS_KEY_MAX];
    size_t klen = suppress_key(key, ws, wslen, entry, elen);
    struct store_val v;
    uint64_t created = now_ms;
    int rc = store_get(t, DB_SUPPRESS, key, klen, &v);
    if (rc && rc != BC_ENOTFOUND)
        return rc;
    int existed = rc == 0;
    if (existed) {
        cJSON *old = cJSON_ParseWithLength(v.ptr, v.len);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(old, "createdAt");
        if (cJSON_IsNumber(c) && c->valuedouble > 0)
            created = (uint64_t)c->valuedouble;
        cJSON_Delete(old);
    }
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return BC_ENOMEM;
    if (reason && reason[0])
        cJSON_AddStringToObject(o, "reason", reason);
    cJSON_AddStringToObject(o, "source", source && source[0] ? source : "api");
    if (call_id && call_id[0])
        cJSON_AddStringToObject(o, "callId", call_id);
    cJSON_AddNumberToObject(o, "createdAt", (double)created);
    cJSON_AddNumberToObject(o, "updatedAt", (double)now_ms);
    rc = records_put_json(t, DB_SUPPRESS, key, klen, o);
    return rc ? rc : existed ? SUPPRESS_REFRESHED : 0;
}

int suppress_del(struct store_txn *t, const char *ws, size_t wslen, const char *entry, size_t elen)
{
    if (elen > SUPPRESS_ENTRY_MAX || wslen >= ID_MAX)
        return BC_ENOTFOUND;
    char key[SUPPRESS_KEY_MAX];
    return store_del(t, DB_SUPPRESS, key, suppress_key(key, ws, wslen, entry, elen));
}

static void add_member(cJSON *o, const cJSON *rec, const char *name)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(rec, name);
    if (cJSON_IsString(m))
        cJSON_AddStringToObject(o, name, m->valuestring);
    else if (cJSON_IsNumber(m))
        cJSON_AddNumberToObject(o, name, m->valuedouble);
    else
        cJSON_AddNullToObject(o, name);
}

cJSON *suppress_entry_json(const char *entry, size_t elen, const cJSON *rec)
{
    cJSON *o = cJSON_CreateObject();
    int area = suppress_kind(entry, elen) == SUPPRESS_AREA_CODE;
    json_add_strn(o, "entry", entry, elen);
    if (area) {
        cJSON_AddNullToObject(o, "phone");
        json_add_strn(o, "areaCode", entry, elen);
    } else {
        json_add_strn(o, "phone", entry, elen);
        cJSON_AddNullToObject(o, "areaCode");
    }
    add_member(o, rec, "reason");
    add_member(o, rec, "source");
    add_member(o, rec, "callId");
    add_member(o, rec, "createdAt");
    add_member(o, rec, "updatedAt");
    return o;
}

int suppress_get(struct store_txn *t, const char *ws, size_t wslen, const char *entry, size_t elen,
                 cJSON **out)
{
    if (elen > SUPPRESS_ENTRY_MAX || wslen >= ID_MAX)
        return BC_ENOTFOUND;
    char key[SUPPRESS_KEY_MAX];
    struct store_val v;
    int rc = store_get(t, DB_SUPPRESS, key, suppress_key(key, ws, wslen, entry, elen), &v);
    if (rc)
        return rc;
    cJSON *rec = cJSON_ParseWithLength(v.ptr, v.len);
    *out = suppress_entry_json(entry, elen, rec);
    cJSON_Delete(rec);
    return *out ? 0 : BC_ENOMEM;
}

int suppress_each(struct store_txn *t, const char *ws, size_t wslen, const char *after, size_t alen,
                  size_t limit, suppress_each_fn fn, void *arg)
{
    if (wslen >= ID_MAX || alen > SUPPRESS_ENTRY_MAX)
        return BC_EINVAL;
    char prefix[SUPPRESS_KEY_MAX], start[SUPPRESS_KEY_MAX + 1];
    size_t plen = suppress_key(prefix, ws, wslen, "", 0);
    size_t slen = suppress_key(start, ws, wslen, after, alen);
    /* The first key after `after`: `after` followed by the smallest byte. */
    if (alen)
        start[slen++] = '\0';
    struct store_iter it;
    int rc = 0, stop = 0;
    size_t n = 0;
    store_iter_open(&it, t, DB_SUPPRESS, prefix, plen, alen ? start : NULL, slen);
    while (!stop && n < limit && (rc = store_iter_next(&it)) == 1) {
        cJSON *rec = cJSON_ParseWithLength(it.val.ptr, it.val.len);
        stop = fn((const char *)it.key.ptr + plen, it.key.len - plen, rec, arg);
        cJSON_Delete(rec);
        n++;
    }
    store_iter_close(&it);
    if (stop)
        return stop;
    return rc < 0 ? rc : 0;
}
