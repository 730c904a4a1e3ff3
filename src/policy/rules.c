/* A workspace's compliance settings: see rules.h. */
#include "policy/rules.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store/records.h"
#include "util/err.h"

void rules_defaults(struct rules *r)
{
    memset(r, 0, sizeof *r);
    r->state_rules = 1;
    r->use_national_registry = 1;
    r->max_attempts_per_number = RULES_DEFAULT_MAX_ATTEMPTS;
    r->cap_window_hours = RULES_DEFAULT_CAP_HOURS;
}

void rules_free(struct rules *r)
{
    cJSON_Delete(r->windows_json);
    r->windows_json = NULL;
}

static int fail(char *msg, size_t msglen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
    return BC_EINVAL;
}

/* callingWindows: an array of callingWindow objects whose union is the workspace's window
 * (null or [] removes it). */
static int parse_windows(const cJSON *v, struct rules *r, char *msg, size_t msglen)
{
    if (cJSON_IsNull(v) || (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 0)) {
        r->has_windows = 0;
        window_never(&r->windows);
        return 0;
    }
    if (!cJSON_IsArray(v))
        return fail(msg, msglen,
                    "callingWindows must be an array of windows such as "
                    "[{\"start\":\"09:00\",\"end\":\"17:00\",\"days\":[\"mon\",\"tue\"]}]");
    if (cJSON_GetArraySize(v) > RULES_MAX_WINDOWS)
        return fail(msg, msglen, "callingWindows has more than %d windows", RULES_MAX_WINDOWS);
    struct window acc, one;
    window_never(&acc);
    int i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, v)
    {
        char what[32];
        snprintf(what, sizeof what, "callingWindows[%d]", i++);
        int rc = window_parse_object(item, what, &one, msg, msglen);
        if (rc < 0)
            return rc;
        if (window_union(&acc, &one) < 0)
            return fail(msg, msglen,
                        "callingWindows makes more than %d separate ranges on one day: join them",
                        WINDOW_MAX_RANGES);
    }
    r->has_windows = 1;
    r->windows = acc;
    return 0;
}

static int get_bool(const cJSON *v, const char *name, int *out, char *msg, size_t msglen)
{
    if (!cJSON_IsBool(v))
        return fail(msg, msglen, "%s must be true or false", name);
    *out = cJSON_IsTrue(v);
    return 0;
}

static int get_uint(const cJSON *v, const char *name, uint32_t lo, uint32_t hi, uint32_t *out,
                    char *msg, size_t msglen)
{
    /* The range first: converting a double beyond int64_t is undefined. */
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) ||
        v->valuedouble != (double)(int64_t)v->valuedouble)
        return fail(msg, msglen, "%s must be a whole number from %u to %u", name, lo, hi);
    *out = (uint32_t)v->valuedouble;
    return 0;
}

/* The fields of one name; everything is checked before anything is changed. */
static int apply_field(struct rules *r, const cJSON *f, uint64_t now_ms, char *msg, size_t msglen)
{
    const char *n = f->string;
    int b = 0, rc;
    if (strcmp(n, "callingWindows") == 0) {
        if ((rc = parse_windows(f, r, msg, msglen)) < 0)
            return rc;
        cJSON_Delete(r->windows_json);
        r->windows_json = r->has_windows ? cJSON_Duplicate(f, 1) : NULL;
        return 0;
    }
    if (strcmp(n, "allowOutsideFederalWindow") == 0) {
        if ((rc = get_bool(f, n, &b, msg, msglen)) < 0)
            return rc;
        if (b && !r->allow_outside_federal)
            r->allow_outside_federal_set_ms = now_ms;
        r->allow_outside_federal = b;
        return 0;
    }
    if (strcmp(n, "allowOutsideFederalWindowSetAt") == 0) {
        /* Written by us into the stored record; read back from it only. */
        if (!cJSON_IsNumber(f) || f->valuedouble < 0)
            return fail(msg, msglen, "allowOutsideFederalWindowSetAt is set by the server");
        r->allow_outside_federal_set_ms = (uint64_t)f->valuedouble;
        return 0;
    }
    if (strcmp(n, "stateRules") == 0)
        return get_bool(f, n, &r->state_rules, msg, msglen);
    if (strcmp(n, "useNationalRegistry") == 0)
        return get_bool(f, n, &r->use_national_registry, msg, msglen);
    if (strcmp(n, "requireConsent") == 0)
        return get_bool(f, n, &r->require_consent, msg, msglen);
    if (strcmp(n, "maxAttemptsPerNumber") == 0)
        return get_uint(f, n, 0, RULES_MAX_ATTEMPTS_LIMIT, &r->max_attempts_per_number, msg,
                        msglen);
    if (strcmp(n, "capWindowHours") == 0)
        return get_uint(f, n, 1, RULES_MAX_CAP_HOURS, &r->cap_window_hours, msg, msglen);
    return fail(msg, msglen,
                "unknown setting \"%.40s\" (allowed: callingWindows, allowOutsideFederalWindow, "
                "stateRules, useNationalRegistry, requireConsent, maxAttemptsPerNumber, "
                "capWindowHours)",
                n);
}

int rules_apply_json(struct rules *r, const cJSON *obj, uint64_t now_ms, char *msg, size_t msglen)
{
    if (!cJSON_IsObject(obj))
        return fail(msg, msglen, "the compliance settings must be a JSON object");
    struct rules next = *r;
    next.windows_json = r->windows_json ? cJSON_Duplicate(r->windows_json, 1) : NULL;
    const cJSON *f;
    cJSON_ArrayForEach(f, obj)
    {
        int rc = apply_field(&next, f, now_ms, msg, msglen);
        if (rc < 0) {
            rules_free(&next);
            return rc;
        }
    }
    rules_free(r);
    *r = next;
    return 0;
}

cJSON *rules_to_json(const struct rules *r)
{
    cJSON *o = cJSON_CreateObject();
    if (r->windows_json)
        cJSON_AddItemToObject(o, "callingWindows", cJSON_Duplicate(r->windows_json, 1));
    else
        cJSON_AddNullToObject(o, "callingWindows");
    cJSON_AddBoolToObject(o, "allowOutsideFederalWindow", r->allow_outside_federal);
    if (r->allow_outside_federal_set_ms)
        cJSON_AddNumberToObject(o, "allowOutsideFederalWindowSetAt",
                                (double)r->allow_outside_federal_set_ms);
    cJSON_AddBoolToObject(o, "stateRules", r->state_rules);
    cJSON_AddBoolToObject(o, "useNationalRegistry", r->use_national_registry);
    cJSON_AddBoolToObject(o, "requireConsent", r->require_consent);
    cJSON_AddNumberToObject(o, "maxAttemptsPerNumber", r->max_attempts_per_number);
    cJSON_AddNumberToObject(o, "capWindowHours", r->cap_window_hours);
    return o;
}

int rules_get(struct store_txn *t, const char *ws, size_t wslen, struct rules *out)
{
    rules_defaults(out);
    struct store_val v;
    int rc = store_get(t, DB_POLICY, ws, wslen, &v);
    if (rc == BC_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    cJSON *o = cJSON_ParseWithLength(v.ptr, v.len);
    char msg[RULES_MSG_MAX];
    rc = o ? rules_apply_json(out, o, 0, msg, sizeof msg) : BC_ECORRUPT;
    cJSON_Delete(o);
    return rc == BC_EINVAL ? BC_ECORRUPT : rc;
}

int rules_put(struct store_txn *t, const char *ws, size_t wslen, const struct rules *r)
{
    return records_put_json(t, DB_POLICY, ws, wslen, rules_to_json(r));
}

void rules_base_window(const struct rules *r, struct window *out)
{
    if (r->allow_outside_federal) {
        if (r->has_windows)
            *out = r->windows;
        else
            window_always(out);
        return;
    }
    window_federal(out);
    if (r->has_windows)
        window_intersect(out, &r->windows);
}
