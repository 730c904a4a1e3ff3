#include "policy/suppress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/registry.h"
#include "policy/registry_index.h"
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

static int has_entry(struct store_txn *t, const char *ws, size_t wslen, const char *e, size_t elen)
{
    char key[SUPPRESS_KEY_MAX];
    struct store_val v;
    return store_get(t, DB_SUPPRESS, key, suppress_key(key, ws, wslen, e, elen), &v);
}

static uint64_t digits_value(const char *e, size_t len)
{
    uint64_t v = 0;
    for (size_t i = 1; i < len; i++)
        v = v * 10 + (uint64_t)(e[i] - '0');
    return v;
}

static unsigned filter_bit(const char *e, size_t len)
{
    return (unsigned)((digits_value(e, len) * 0x9E3779B97F4A7C15ull) >> 51);
}

static unsigned npa_of(const char *e164)
{
    return (unsigned)(e164[2] - '0') * 100 + (unsigned)(e164[3] - '0') * 10 +
           (unsigned)(e164[4] - '0');
}

/* The workspace's summary: 0, BC_ENOTFOUND (an empty list) or an error. */
static int summary_get(struct store_txn *t, const char *ws, size_t wslen,
                       struct suppress_summary *sum)
{
    char key[SUPPRESS_KEY_MAX];
    struct store_val v;
    int rc = store_get(t, DB_SUPPRESS, key, suppress_key(key, ws, wslen, "", 0), &v);
    return rc ? rc : suppress_summary_decode(&v, sum);
}

static int summary_put(struct store_txn *t, const char *ws, size_t wslen,
                       const struct suppress_summary *sum)
{
    char key[SUPPRESS_KEY_MAX];
    uint8_t v[SUPPRESS_SUMMARY_LEN];
    size_t vlen;
    suppress_summary_encode(v, &vlen, sum);
    return store_put(t, DB_SUPPRESS, key, suppress_key(key, ws, wslen, "", 0), v, vlen, 0);
}

static int nanp_number(const char *e164, size_t len)
{
    return len == 12 && e164[0] == '+' && e164[1] == '1' && e164[2] >= '2';
}

/* The workspace part of a check, with its summary: 1 with *entry set, 0, or an error. */
static int ws_match(struct store_txn *t, const char *ws, size_t wslen,
                    const struct suppress_summary *sum, const char *e164, size_t len, char *entry)
{
    unsigned bit = filter_bit(e164, len);
    if (sum->numbers && (sum->filter[bit >> 3] >> (bit & 7) & 1)) {
        int rc = has_entry(t, ws, wslen, e164, len);
        if (rc == 0) {
            memcpy(entry, e164, len);
            entry[len] = '\0';
            return 1;
        }
        if (rc != BC_ENOTFOUND)
            return rc;
    }
    if (sum->area_codes && nanp_number(e164, len)) {
        unsigned i = npa_of(e164) - 200;
        if (sum->npa[i >> 3] >> (i & 7) & 1) {
            memcpy(entry, e164, 5);
            entry[5] = '\0';
            return 1;
        }
    }
    return 0;
}

static int check_args(size_t wslen, const char *e164, size_t len)
{
    if (wslen >= ID_MAX || suppress_kind(e164, len) != SUPPRESS_NUMBER)
        return BC_EINVAL;
    return 0;
}

/* What checks in one transaction share (its memo, store_txn_memo): the last workspace's
 * summary and the registry's meta and index, read once instead of per number. The
 * dispatcher's commit checks every call it dials in one transaction. */
struct check_memo {
    struct store *s;
    char ws[ID_MAX];
    size_t wslen;
    int sum_rc; /* summary_get's answer for ws */
    struct suppress_summary sum;
    int have_meta;
    int meta_rc;
    struct registry_meta meta;
    struct registry_index *index;
    int index_later; /* the index is being copied: ask for it again */
};

static void memo_free(void *p)
{
    struct check_memo *m = p;
    registry_index_put(m->s, m->index);
    free(m);
}

/* The transaction's memo with ws's summary, or NULL (no memory: callers read as before). */
static struct check_memo *memo_for(struct store_txn *t, const char *ws, size_t wslen)
{
    struct check_memo *m = store_txn_memo(t, memo_free);
    if (!m) {
        m = calloc(1, sizeof *m);
        if (!m)
            return NULL;
        m->s = t->s;
        m->wslen = SIZE_MAX;
        store_txn_memo_set(t, m, memo_free, 1u << DB_SUPPRESS | 1u << DB_REGISTRY);
    }
    if (m->wslen != wslen || memcmp(m->ws, ws, wslen) != 0) {
        m->sum_rc = summary_get(t, ws, wslen, &m->sum);
        memcpy(m->ws, ws, wslen);
        m->wslen = wslen;
    }
    return m;
}

/* The registry part through the memo: 1, 0 or an error. */
static int memo_registry_has(struct store_txn *t, struct check_memo *m, const char *digits10)
{
    if (!m->have_meta) {
        m->meta_rc = registry_meta_get(t, &m->meta);
        if (m->meta_rc && m->meta_rc != BC_ENOTFOUND)
            return m->meta_rc;
        m->index_later = !m->meta_rc;
        m->have_meta = 1;
    }
    if (m->meta_rc)
        return 0;
    if (!m->index && m->index_later)
        m->index = registry_index_get(t, m->meta.generation, &m->index_later);
    return m->index ? registry_index_has(m->index, digits10) : registry_has(t, digits10);
}

int suppress_match(struct store_txn *t, const char *ws, size_t wslen, const char *e164, size_t len,
                   int use_registry, enum suppress_source *source, char *entry)
{
    *source = SUPPRESS_NONE;
    entry[0] = '\0';
    int rc = check_args(wslen, e164, len);
    if (rc)
        return rc;
    struct check_memo *m = memo_for(t, ws, wslen);
    int registry = use_registry && nanp_number(e164, len);
    if (registry && m && m->index)
        registry_index_prefetch(m->index, e164 + 2); /* read while the workspace part runs */
    struct suppress_summary own;
    if (m)
        rc = m->sum_rc;
    else
        rc = summary_get(t, ws, wslen, &own);
    if (rc == 0)
        rc = ws_match(t, ws, wslen, m ? &m->sum : &own, e164, len, entry);
    if (rc < 0 && rc != BC_ENOTFOUND)
        return rc;
    if (rc == 1) {
        *source = SUPPRESS_WORKSPACE;
        return 0;
    }
    if (registry) {
        rc = m ? memo_registry_has(t, m, e164 + 2) : registry_has(t, e164 + 2);
        if (rc < 0)
            return rc;
        *source = (enum suppress_source)(rc * SUPPRESS_REGISTRY); /* no branch: as below */
    }
    return 0;
}

int suppress_check(struct store_txn *t, const char *ws, size_t wslen, const char *e164, size_t len,
                   int use_registry, enum suppress_source *source)
{
    char entry[SUPPRESS_ENTRY_MAX + 1];
    return suppress_match(t, ws, wslen, e164, len, use_registry, source, entry);
}

/* ---- many checks in one snapshot ---- */

struct suppress_cache {
    struct store_txn *t;
    struct store *s;
    char ws[ID_MAX];
    size_t wslen;
    int use_registry;
    int has_summary;
    struct suppress_summary sum;
    uint32_t generation;          /* 0: no registry */
    struct registry_index *index; /* the generation's, when it could be had */
    int index_later;              /* it is being copied: ask for it again */
    uint8_t npa_state[800];       /* 0 not looked up, 1 no record, 2 npa[] holds it */
    struct store_val npa[800];
};

int suppress_cache_open(struct suppress_cache **out, struct store_txn *t, const char *ws,
                        size_t wslen, int use_registry)
{
    *out = NULL;
    if (wslen >= ID_MAX)
        return BC_EINVAL;
    struct suppress_cache *c = calloc(1, sizeof *c);
    if (!c)
        return BC_ENOMEM;
    c->t = t;
    c->s = t->s;
    memcpy(c->ws, ws, wslen);
    c->wslen = wslen;
    c->use_registry = use_registry;
    int rc = summary_get(t, ws, wslen, &c->sum);
    c->has_summary = rc == 0;
    if (rc == 0 || rc == BC_ENOTFOUND) {
        struct registry_meta m;
        rc = use_registry ? registry_meta_get(t, &m) : BC_ENOTFOUND;
        c->generation = rc == 0 ? m.generation : 0;
        c->index_later = c->generation != 0;
    }
    if (rc && rc != BC_ENOTFOUND) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void suppress_cache_close(struct suppress_cache *c)
{
    if (c)
        registry_index_put(c->s, c->index);
    free(c);
}

/* The registry part of a check without the store's index: the area code's record, looked up
 * once per snapshot. 1, 0 or an error. */
static int cache_record_has(struct suppress_cache *c, const char *e164)
{
    unsigned i = npa_of(e164) - 200;
    if (!c->npa_state[i]) {
        int rc = registry_npa_get(c->t, c->generation, i + 200, &c->npa[i]);
        if (rc && rc != BC_ENOTFOUND)
            return rc;
        c->npa_state[i] = rc ? 1 : 2;
    }
    return c->npa_state[i] == 1 ? 0 : registry_digits_has(&c->npa[i], e164 + 2);
}

int suppress_cache_empty(const struct suppress_cache *c)
{
    return !c->generation && (!c->has_summary || (!c->sum.numbers && !c->sum.area_codes));
}

int suppress_cache_check(struct suppress_cache *c, const char *e164, size_t len,
                         enum suppress_source *source)
{
    *source = SUPPRESS_NONE;
    /* Most uploads' rows would otherwise be checked against nothing. */
    if (suppress_cache_empty(c))
        return 0;
    int rc = check_args(c->wslen, e164, len);
    if (rc)
        return rc;
    int registry = c->generation && nanp_number(e164, len);
    if (registry && !c->index && c->index_later)
        c->index = registry_index_get(c->t, c->generation, &c->index_later);
    if (registry && c->index)
        registry_index_prefetch(c->index, e164 + 2);
    char entry[SUPPRESS_ENTRY_MAX + 1];
    rc = c->has_summary ? ws_match(c->t, c->ws, c->wslen, &c->sum, e164, len, entry) : 0;
    if (rc < 0)
        return rc;
    if (rc == 1) {
        *source = SUPPRESS_WORKSPACE;
        return 0;
    }
    if (!registry)
        return 0;
    rc = c->index ? registry_index_has(c->index, e164 + 2) : cache_record_has(c, e164);
    if (rc < 0)
        return rc;
    /* No branch on the answer: the CPU goes on to the next number while this one's block is
     * still on its way from memory (the answer comes with it). */
    *source = (enum suppress_source)(rc * SUPPRESS_REGISTRY);
    return 0;
}

int suppress_add(struct store_txn *t, const char *ws, size_t wslen, const char *entry, size_t elen,
                 const char *reason, const char *source, const char *call_id, uint64_t now_ms)
{
    enum suppress_kind kind = suppress_kind(entry, elen);
    if (kind == SUPPRESS_INVALID || wslen >= ID_MAX)
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
    } else {
        struct suppress_summary sum;
        rc = summary_get(t, ws, wslen, &sum);
        if (rc == BC_ENOTFOUND)
            memset(&sum, 0, sizeof sum);
        else if (rc)
            return rc;
        if (kind == SUPPRESS_AREA_CODE) {
            unsigned i = npa_of(entry) - 200;
            sum.npa[i >> 3] |= (uint8_t)(1u << (i & 7));
            sum.area_codes++;
        } else {
            unsigned bit = filter_bit(entry, elen);
            sum.filter[bit >> 3] |= (uint8_t)(1u << (bit & 7));
            sum.numbers++;
        }
        rc = summary_put(t, ws, wslen, &sum);
        if (rc)
            return rc;
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
    enum suppress_kind kind = suppress_kind(entry, elen);
    if (kind == SUPPRESS_INVALID || wslen >= ID_MAX)
        return BC_ENOTFOUND;
    char key[SUPPRESS_KEY_MAX];
    int rc = store_del(t, DB_SUPPRESS, key, suppress_key(key, ws, wslen, entry, elen));
    if (rc)
        return rc;
    struct suppress_summary sum;
    rc = summary_get(t, ws, wslen, &sum);
    if (rc)
        return rc == BC_ENOTFOUND ? 0 : rc;
    if (kind == SUPPRESS_AREA_CODE) {
        unsigned i = npa_of(entry) - 200;
        sum.npa[i >> 3] &= (uint8_t) ~(1u << (i & 7));
        sum.area_codes -= sum.area_codes > 0;
    } else {
        /* The filter keeps the number's bit: other numbers may share it. */
        sum.numbers -= sum.numbers > 0;
    }
    return summary_put(t, ws, wslen, &sum);
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
        if (it.key.len == plen)
            continue; /* the summary */
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

const char *suppress_error(enum suppress_source source)
{
    return source == SUPPRESS_REGISTRY ? "Suppressed: on the do-not-call list (registry)"
                                       : "Suppressed: on the do-not-call list (workspace)";
}
