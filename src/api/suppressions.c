/* The workspace's do-not-call list over HTTP. Entries are keyed by their canonical form, so a
 * number written "(415) 555-0123" with defaultCountry US and "+14155550123" are one entry. */
#include "api/suppressions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "http/response.h"
#include "http/router.h"
#include "ingest/phone.h"
#include "policy/registry.h"
#include "policy/rules.h"
#include "policy/suppress.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/json.h"
#include "util/num.h"

#define LIST_DEFAULT     50
#define LIST_MAX         1000
#define EXPORT_PER_DRAIN 2000

/* An area code as written: "+1NPA", "1NPA" or "NPA" (formatting dropped). 1 with out set. */
static int area_code(const char *in, size_t len, char out[SUPPRESS_ENTRY_MAX + 1])
{
    char d[8];
    size_t n = 0;
    int plus = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == ' ' || c == '\t' || c == '(' || c == ')' || c == '-' || c == '.')
            continue;
        if (c == '+' && n == 0 && !plus) {
            plus = 1;
            continue;
        }
        if (c < '0' || c > '9' || n == sizeof d)
            return 0;
        d[n++] = c;
    }
    const char *npa = n == 4 && d[0] == '1' ? d + 1 : n == 3 && !plus ? d : NULL;
    if (!npa || npa[0] < '2')
        return 0;
    memcpy(out, "+1", 2);
    memcpy(out + 2, npa, 3);
    out[5] = '\0';
    return 1;
}

size_t suppressions_normalize(const char *in, size_t len, int area, const char *default_country,
                              char out[SUPPRESS_ENTRY_MAX + 1], char *msg, size_t cap)
{
    if (area != 0 && area_code(in, len, out))
        return 5;
    if (area == 1) {
        snprintf(msg, cap,
                 "is not a +1 area code: write it as +1 and three digits, the first from 2 to "
                 "9, such as +1415");
        return 0;
    }
    struct phone_number pn;
    char why[200];
    size_t dc = default_country ? strlen(default_country) : 0;
    if (phone_parse(in, len, default_country, dc, &pn, why, sizeof why) < 0) {
        snprintf(msg, cap, "is not a phone number: %s", why);
        return 0;
    }
    memcpy(out, pn.e164, pn.len + 1);
    return pn.len;
}

/* ---- create ---- */

struct add_args {
    const char *ws;
    size_t wslen;
    const char *entry, *reason, *source;
    uint64_t now;
    int rc;
};

static int add_txn(struct store_txn *t, void *arg)
{
    struct add_args *a = arg;
    a->rc = suppress_add(t, a->ws, a->wslen, a->entry, strlen(a->entry), a->reason, a->source, NULL,
                         a->now);
    return a->rc < 0 ? a->rc : 0;
}

static void field_error(struct http_request *req, const char *field, const char *fmt,
                        const char *detail)
{
    char msg[400];
    snprintf(msg, sizeof msg, fmt, detail);
    api_respond_error(req, 400, "invalid_field", msg, "field", field);
}

/* A string member of the body: NULL when absent; *bad when present and not a string. */
static const char *body_string(const cJSON *body, const char *name, int *bad)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, name);
    if (m && !cJSON_IsNull(m) && !cJSON_IsString(m))
        *bad = 1;
    return cJSON_IsString(m) ? m->valuestring : NULL;
}

/* The workspace's entry, read in a snapshot of its own: 0 with *o, or an error. */
static int read_entry(struct http_request *req, const char *entry, cJSON **o)
{
    struct api_ctx *ctx = api_ctx(req);
    struct store_txn t;
    int rc = store_read_begin(&api_app(req)->store, &t);
    if (!rc) {
        rc = suppress_get(&t, ctx->ws, ctx->ws_len, entry, strlen(entry), o);
        store_read_end(&t);
    }
    return rc;
}

static void respond_entry(struct http_request *req, int status, const char *entry)
{
    cJSON *o = NULL;
    int rc = read_entry(req, entry, &o);
    if (rc)
        api_respond_internal(req, rc);
    else
        api_respond_json(req, status, o);
}

void suppressions_create(struct http_request *req)
{
    cJSON *body = api_parse_body(req);
    if (!body)
        return;
    static const char *const known[] = {"phone", "areaCode", "reason", "source", "defaultCountry"};
    const cJSON *m;
    cJSON_ArrayForEach(m, body)
    {
        size_t k = 0;
        while (k < sizeof known / sizeof known[0] && strcmp(known[k], m->string) != 0)
            k++;
        if (k == sizeof known / sizeof known[0]) {
            field_error(req, m->string,
                        "Unknown field %s: an entry has phone or areaCode, and optionally "
                        "reason, source and defaultCountry.",
                        m->string);
            cJSON_Delete(body);
            return;
        }
    }
    int bad = 0;
    const char *phone = body_string(body, "phone", &bad);
    const char *area = body_string(body, "areaCode", &bad);
    const char *reason = body_string(body, "reason", &bad);
    const char *source = body_string(body, "source", &bad);
    const char *country = body_string(body, "defaultCountry", &bad);
    char entry[SUPPRESS_ENTRY_MAX + 1], why[300];
    const char *field = phone ? "phone" : "areaCode";
    if (bad)
        field_error(req, "phone", "%s",
                    "phone, areaCode, reason, source and defaultCountry must be strings.");
    else if (!phone == !area)
        api_respond_error(req, 400, "missing_field",
                          "Give exactly one of phone (a number, such as +14155550123) or "
                          "areaCode (a whole +1 area code, such as +1415).",
                          "field", "phone");
    else if (country && (strlen(country) != 2 || !phone_country_known(country, 2)))
        field_error(req, "defaultCountry",
                    "defaultCountry must be a two-letter country code such as US, got \"%.40s\".",
                    country);
    else if (!suppressions_normalize(phone ? phone : area, strlen(phone ? phone : area),
                                     phone ? 0 : 1, country, entry, why, sizeof why)) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s \"%.40s\" %s.", field, phone ? phone : area, why);
        api_respond_error(req, 400, "invalid_field", msg, "field", field);
    } else if (reason && strlen(reason) > SUPPRESS_REASON_MAX)
        field_error(req, "reason", "reason is longer than %s bytes; shorten it.", "500");
    else if (source && !suppress_source_valid(source, strlen(source)))
        field_error(req, "source",
                    "source must be 1 to 32 lowercase letters, digits, '_' or '-' (such as "
                    "crm or opt_out_form), got \"%.40s\".",
                    source);
    else {
        struct api_ctx *ctx = api_ctx(req);
        struct add_args a = {
            ctx->ws, ctx->ws_len, entry, reason, source ? source : "api", clock_now_ms(), 0};
        int rc = store_write(&api_app(req)->store, add_txn, &a);
        if (rc)
            api_respond_internal(req, rc);
        else
            respond_entry(req, a.rc == SUPPRESS_REFRESHED ? 200 : 201, entry);
    }
    cJSON_Delete(body);
}

/* ---- one entry by path ---- */

/* The entry named by the path (percent-decoded), canonical; or responds 404/400 and returns 0. */
static size_t path_entry(struct http_request *req, char out[SUPPRESS_ENTRY_MAX + 1])
{
    const struct http_slice *p = &req->params[0];
    char raw[64];
    size_t n = 0;
    for (size_t i = 0; i < p->len && n < sizeof raw; i++) {
        /* The slice is not NUL-terminated: read its bytes only (no sscanf). */
        int hi = i + 2 < p->len ? num_hex_digit(p->ptr[i + 1]) : BC_EINVAL;
        int lo = hi >= 0 ? num_hex_digit(p->ptr[i + 2]) : BC_EINVAL;
        if (p->ptr[i] == '%' && lo >= 0) {
            raw[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            raw[n++] = p->ptr[i];
        }
    }
    char why[300];
    size_t len =
        n < sizeof raw ? suppressions_normalize(raw, n, -1, NULL, out, why, sizeof why) : 0;
    if (!len) {
        char msg[400];
        snprintf(msg, sizeof msg,
                 "\"%.*s\" is neither an E.164 number (+14155550123; write the + as %%2B if "
                 "your client needs it) nor a +1 area code (+1415).",
                 (int)(n < 40 ? n : 40), raw);
        api_respond_error(req, 404, "not_found", msg, "id", "");
    }
    return len;
}

static void entry_not_found(struct http_request *req, const char *entry)
{
    api_respond_error(req, 404, "not_found", "This workspace's do-not-call list has no such entry.",
                      "id", entry);
}

void suppressions_get(struct http_request *req)
{
    char entry[SUPPRESS_ENTRY_MAX + 1];
    if (!path_entry(req, entry))
        return;
    cJSON *o = NULL;
    int rc = read_entry(req, entry, &o);
    if (rc == BC_ENOTFOUND)
        entry_not_found(req, entry);
    else if (rc)
        api_respond_internal(req, rc);
    else
        api_respond_json(req, 200, o);
}

struct del_args {
    const char *ws, *entry;
    size_t wslen;
};

static int del_txn(struct store_txn *t, void *arg)
{
    struct del_args *a = arg;
    return suppress_del(t, a->ws, a->wslen, a->entry, strlen(a->entry));
}

void suppressions_delete(struct http_request *req)
{
    char entry[SUPPRESS_ENTRY_MAX + 1];
    if (!path_entry(req, entry))
        return;
    struct api_ctx *ctx = api_ctx(req);
    struct del_args a = {ctx->ws, entry, ctx->ws_len};
    int rc = store_write(&api_app(req)->store, del_txn, &a);
    if (rc == BC_ENOTFOUND) {
        entry_not_found(req, entry);
    } else if (rc) {
        api_respond_internal(req, rc);
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "entry", entry);
        cJSON_AddBoolToObject(o, "deleted", 1);
        api_respond_json(req, 200, o);
    }
}

/* ---- the check ---- */

static const char *source_name(enum suppress_source s)
{
    return s == SUPPRESS_WORKSPACE ? "workspace" : s == SUPPRESS_REGISTRY ? "registry" : NULL;
}

void suppressions_check(struct http_request *req)
{
    char raw[64], country[8] = "", entry[SUPPRESS_ENTRY_MAX + 1], why[300];
    int n = http_query(req, "phone", raw, sizeof raw);
    int cn = http_query(req, "defaultCountry", country, sizeof country);
    if (n == BC_ENOTFOUND || n == 0) {
        api_respond_error(req, 400, "invalid_parameter",
                          "Query parameter phone is required: ?phone=%2B14155550123.", "parameter",
                          "phone");
        return;
    }
    if (cn >= 0 && (cn != 2 || !phone_country_known(country, 2))) {
        api_respond_error(req, 400, "invalid_parameter",
                          "defaultCountry must be a two-letter country code such as US.",
                          "parameter", "defaultCountry");
        return;
    }
    /* An unencoded '+' in a query string reads as a space. */
    if (n > 0 && raw[0] == ' ')
        raw[0] = '+';
    size_t len = n > 0 ? suppressions_normalize(raw, (size_t)n, 0, cn == 2 ? country : NULL, entry,
                                                why, sizeof why)
                       : 0;
    if (!len) {
        char msg[400];
        snprintf(msg, sizeof msg, "phone \"%.40s\" %s.", n > 0 ? raw : "",
                 n > 0 ? why : "is too long");
        api_respond_error(req, 400, "invalid_parameter", msg, "parameter", "phone");
        return;
    }
    struct api_ctx *ctx = api_ctx(req);
    struct store_txn t;
    struct rules r;
    enum suppress_source src = SUPPRESS_NONE;
    char matched[SUPPRESS_ENTRY_MAX + 1] = "";
    cJSON *o = cJSON_CreateObject(), *e = NULL;
    struct registry_meta m = {0};
    int rc = store_read_begin(&api_app(req)->store, &t);
    if (!rc) {
        rc = rules_get(&t, ctx->ws, ctx->ws_len, &r);
        if (!rc)
            rc = suppress_match(&t, ctx->ws, ctx->ws_len, entry, len, r.use_national_registry, &src,
                                matched);
        if (!rc && src == SUPPRESS_WORKSPACE)
            rc = suppress_get(&t, ctx->ws, ctx->ws_len, matched, strlen(matched), &e);
        if (!rc && src == SUPPRESS_REGISTRY)
            rc = registry_meta_get(&t, &m);
        cJSON_AddBoolToObject(o, "useNationalRegistry", rc == 0 && r.use_national_registry);
        rules_free(&r);
        store_read_end(&t);
    }
    if (rc) {
        cJSON_Delete(o);
        cJSON_Delete(e);
        api_respond_internal(req, rc);
        return;
    }
    cJSON_AddStringToObject(o, "phone", entry);
    cJSON_AddBoolToObject(o, "suppressed", src != SUPPRESS_NONE);
    if (source_name(src))
        cJSON_AddStringToObject(o, "source", source_name(src));
    else
        cJSON_AddNullToObject(o, "source");
    if (src == SUPPRESS_REGISTRY) {
        e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "list", "national_registry");
        cJSON_AddStringToObject(e, "registryDate", m.date);
        cJSON_AddNumberToObject(e, "importedAt", (double)m.imported_ms);
    }
    if (e)
        cJSON_AddItemToObject(o, "entry", e);
    else
        cJSON_AddNullToObject(o, "entry");
    api_respond_json(req, 200, o);
}

/* ---- the list ---- */

struct list_args {
    cJSON *arr;
    char last[SUPPRESS_ENTRY_MAX + 1];
    size_t n;
};

static int list_one(const char *entry, size_t elen, const cJSON *rec, void *arg)
{
    struct list_args *a = arg;
    cJSON_AddItemToArray(a->arr, suppress_entry_json(entry, elen, rec));
    memcpy(a->last, entry, elen);
    a->last[elen] = '\0';
    a->n++;
    return 0;
}

void suppressions_list(struct http_request *req)
{
    char lim[16], after[64], entry[SUPPRESS_ENTRY_MAX + 1] = "", why[300];
    uint64_t limit = LIST_DEFAULT;
    int ln = http_query(req, "limit", lim, sizeof lim);
    if (ln != BC_ENOTFOUND) {
        char *end;
        limit = ln > 0 ? strtoull(lim, &end, 10) : 0;
        if (ln <= 0 || *end || lim[0] == '-' || limit < 1 || limit > LIST_MAX) {
            api_respond_error(req, 400, "invalid_parameter",
                              "Query parameter limit must be a whole number from 1 to 1000.",
                              "parameter", "limit");
            return;
        }
    }
    int an = http_query(req, "after", after, sizeof after);
    size_t alen = 0;
    if (an == BC_ETOOBIG || an == 0)
        an = -1000;
    if (an > 0 && after[0] == ' ')
        after[0] = '+';
    if (an > 0)
        alen = suppressions_normalize(after, (size_t)an, -1, NULL, entry, why, sizeof why);
    if (an == -1000 || (an > 0 && !alen)) {
        api_respond_error(req, 400, "invalid_parameter",
                          "Query parameter after must be the nextCursor of the previous page "
                          "(an entry such as +14155550123 or +1415).",
                          "parameter", "after");
        return;
    }
    struct api_ctx *ctx = api_ctx(req);
    struct store_txn t;
    struct list_args a = {.arr = cJSON_CreateArray()};
    int rc = store_read_begin(&api_app(req)->store, &t);
    if (!rc) {
        rc = suppress_each(&t, ctx->ws, ctx->ws_len, entry, alen, (size_t)limit, list_one, &a);
        store_read_end(&t);
    }
    if (rc) {
        cJSON_Delete(a.arr);
        api_respond_internal(req, rc);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "suppressions", a.arr);
    cJSON *pg = cJSON_AddObjectToObject(o, "pagination");
    cJSON_AddNumberToObject(pg, "limit", (double)limit);
    cJSON_AddBoolToObject(pg, "hasNext", a.n == limit);
    if (a.n == limit)
        cJSON_AddStringToObject(pg, "nextCursor", a.last);
    else
        cJSON_AddNullToObject(pg, "nextCursor");
    api_respond_json(req, 200, o);
}

/* ---- the export ---- */

struct export
{
    struct api_export x; /* first: the stream's state */
    struct store *store;
    char ws[ID_MAX];
    size_t wslen;
    char last[SUPPRESS_ENTRY_MAX + 1];
    size_t lastlen;
    size_t rows;
};

static int export_one(const char *entry, size_t elen, const cJSON *rec, void *arg)
{
    struct export *e = arg;
    const char *reason = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "reason"));
    const char *source = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "source"));
    const char *call = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "callId"));
    const cJSON *created = cJSON_GetObjectItemCaseSensitive(rec, "createdAt");
    /* Entries are + and digits, written as they are: they are what an import reads back. */
    buf_append(&e->x.out, entry, elen);
    /* Free text, guarded against spreadsheet formulas like every export cell. */
    const char *text[] = {reason ? reason : "", source ? source : "", call ? call : ""};
    for (size_t i = 0; i < 3; i++)
        api_csv_cell(&e->x.out, text[i], strlen(text[i]), 1, 0);
    buf_printf(&e->x.out, ",%.0f\r\n", cJSON_IsNumber(created) ? created->valuedouble : 0);
    memcpy(e->last, entry, elen);
    e->lastlen = elen;
    e->rows++;
    return 0;
}

static void export_release(struct api_export *x)
{
    free(x);
}

/* Each step reads from a fresh snapshot, after the last entry written. */
static int export_step(struct api_export *x)
{
    struct export *e = (struct export *)x;
    struct store_txn t;
    size_t before = e->rows;
    int rc = store_read_begin(e->store, &t);
    if (!rc) {
        rc = suppress_each(&t, e->ws, e->wslen, e->last, e->lastlen, EXPORT_PER_DRAIN, export_one,
                           e);
        store_read_end(&t);
    }
    return rc || e->rows - before < EXPORT_PER_DRAIN;
}

void suppressions_export(struct http_request *req)
{
    struct api_ctx *ctx = api_ctx(req);
    struct export *e = calloc(1, sizeof *e);
    if (!e) {
        api_respond_internal(req, BC_ENOMEM);
        return;
    }
    e->store = &api_app(req)->store;
    memcpy(e->ws, ctx->ws, ctx->ws_len);
    e->wslen = ctx->ws_len;
    e->x.step = export_step;
    e->x.release = export_release;
    buf_append_str(&e->x.out, "phone,reason,source,call_id,created_at\r\n");
    api_export_start(req, &e->x, "suppressions.csv");
}
