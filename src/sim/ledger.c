/* The simulator's ledger (see ledger.h). */
#include "sim/ledger.h"

#include <stdlib.h>
#include <string.h>

#include "provider/form.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/json.h"
#include "util/num.h"

#define MAX_DIALS 200000 /* dial records kept per batch for GET /sim/dials */

/* A set of 64-bit keys (open addressing). 0 marks an empty slot, so the key 0 is a flag. */
struct u64set {
    uint64_t *slots;
    size_t cap; /* power of two, or 0 */
    size_t len;
    int has_zero;
};

struct dial {
    uint64_t ms;
    uint32_t row, seq;
};

/* What one batch (the b= of the StatusCallback URL) sent us. */
struct ledger_batch {
    struct ledger_batch *next; /* the ledger's list, in order of first request */
    char *id;
    uint64_t requests, accepted;
    uint64_t first_ms, last_ms;
    struct u64set attempts; /* (row << 32 | seq) seen, to count duplicates */
    struct u64set rows;     /* distinct rows */
    struct dial *dials;     /* the first MAX_DIALS requests */
    size_t ndials, dials_cap;
};

/* ---- u64set ---- */

static uint64_t mix64(uint64_t k)
{
    /* Keys are row << 32 | seq, so the low bits alone would barely vary: mix them all. */
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

static void u64set_insert(uint64_t *slots, size_t cap, uint64_t key)
{
    size_t i = mix64(key) & (cap - 1);
    while (slots[i])
        i = (i + 1) & (cap - 1);
    slots[i] = key;
}

static int u64set_grow(struct u64set *set)
{
    size_t cap = set->cap ? set->cap * 2 : 64;
    uint64_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return BC_ENOMEM;
    for (size_t i = 0; i < set->cap; i++)
        if (set->slots[i])
            u64set_insert(slots, cap, set->slots[i]);
    free(set->slots);
    set->slots = slots;
    set->cap = cap;
    return 0;
}

/* Returns 1 when key was added, 0 when it was there already, or BC_ENOMEM. */
static int u64set_add(struct u64set *set, uint64_t key)
{
    if (key == 0) {
        if (set->has_zero)
            return 0;
        set->has_zero = 1;
        set->len++;
        return 1;
    }
    if ((set->len + 1) * 4 > set->cap * 3) {
        int rc = u64set_grow(set);
        if (rc)
            return rc;
    }
    size_t mask = set->cap - 1;
    for (size_t i = mix64(key) & mask;; i = (i + 1) & mask) {
        if (set->slots[i] == key)
            return 0;
        if (set->slots[i] == 0) {
            set->slots[i] = key;
            set->len++;
            return 1;
        }
    }
}

/* ---- batches ---- */

static void batch_free(void *p)
{
    struct ledger_batch *b = p;
    free(b->id);
    free(b->attempts.slots);
    free(b->rows.slots);
    free(b->dials);
    free(b);
}

static struct ledger_batch *batch_get(struct ledger *l, const char *id)
{
    struct ledger_batch *b = map_get(&l->batches, id, strlen(id));
    if (b)
        return b;
    b = calloc(1, sizeof *b);
    if (!b || !(b->id = strdup(id)) || map_put(&l->batches, id, strlen(id), b) != 0) {
        if (b)
            free(b->id);
        free(b);
        return NULL;
    }
    if (l->batch_tail)
        l->batch_tail->next = b;
    else
        l->batch_head = b;
    l->batch_tail = b;
    return b;
}

/* batch, row and attempt from the callback URL's query (b, r, a), as the dispatcher writes them.
 * Returns 1 when all three are there. */
static int attempt_of(const char *url, char *batch, size_t cap, uint32_t *row, uint32_t *seq)
{
    const char *q = strchr(url, '?');
    if (!q)
        return 0;
    q++;
    size_t qlen = strcspn(q, "#");
    char num[16];
    uint64_t r, a;
    if (form_get(q, qlen, "b", batch, cap) <= 0)
        return 0;
    if (form_get(q, qlen, "r", num, sizeof num) < 0 ||
        num_parse_u64(num, strlen(num), UINT32_MAX, &r) != 0)
        return 0;
    if (form_get(q, qlen, "a", num, sizeof num) < 0 ||
        num_parse_u64(num, strlen(num), UINT32_MAX, &a) != 0)
        return 0;
    *row = (uint32_t)r;
    *seq = (uint32_t)a;
    return 1;
}

/* ---- the ledger ---- */

void ledger_clear(struct ledger *l)
{
    map_free(&l->batches, NULL);
    while (l->batch_head) {
        struct ledger_batch *b = l->batch_head;
        l->batch_head = b->next;
        batch_free(b);
    }
    memset(l, 0, sizeof *l);
}

void ledger_count_dial(struct ledger *l, uint64_t now_ms)
{
    uint64_t sec = now_ms / 1000;
    struct ledger_second *slot = &l->seconds[sec % LEDGER_SECONDS];
    if (slot->second != sec) {
        slot->second = sec;
        slot->dials = 0;
    }
    slot->dials++;
}

int ledger_record(struct ledger *l, const char *callback_url, uint64_t now_ms,
                  struct ledger_batch **out)
{
    char id[128];
    uint32_t row, seq;
    *out = NULL;
    if (!callback_url || !attempt_of(callback_url, id, sizeof id, &row, &seq))
        return 0;
    struct ledger_batch *b = batch_get(l, id);
    if (!b)
        return BC_ENOMEM;
    int added = u64set_add(&b->attempts, (uint64_t)row << 32 | seq);
    int new_row = added < 0 ? added : u64set_add(&b->rows, row);
    if (new_row < 0)
        return BC_ENOMEM;
    if (!added)
        l->duplicates++;
    if (b->ndials < MAX_DIALS) {
        if (b->ndials == b->dials_cap) {
            size_t cap = b->dials_cap ? b->dials_cap * 2 : 64;
            struct dial *d = realloc(b->dials, cap * sizeof *d);
            if (!d)
                return BC_ENOMEM;
            b->dials = d;
            b->dials_cap = cap;
        }
        b->dials[b->ndials++] = (struct dial){now_ms, row, seq};
    }
    if (!b->requests)
        b->first_ms = now_ms;
    b->last_ms = now_ms;
    b->requests++;
    *out = b;
    return 0;
}

void ledger_accept(struct ledger *l, struct ledger_batch *b)
{
    l->accepted++;
    if (b)
        b->accepted++;
}

cJSON *ledger_stats_json(const struct ledger *l, uint64_t in_progress)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "requests", (double)l->requests);
    cJSON_AddNumberToObject(o, "accepted", (double)l->accepted);
    cJSON_AddNumberToObject(o, "rejected", (double)l->rejected);
    cJSON_AddNumberToObject(o, "duplicates", (double)l->duplicates);
    cJSON_AddNumberToObject(o, "fetches", (double)l->fetches);
    cJSON_AddNumberToObject(o, "inProgress", (double)in_progress);
    cJSON_AddNumberToObject(o, "maxInProgress", (double)l->max_in_progress);
    cJSON_AddNumberToObject(o, "callbacksSent", (double)l->callbacks_sent);
    cJSON_AddNumberToObject(o, "callbacksFailed", (double)l->callbacks_failed);
    cJSON_AddNumberToObject(o, "callbacksRetried", (double)l->callbacks_retried);
    cJSON *seconds = cJSON_AddArrayToObject(o, "perSecond");
    uint64_t now_s = clock_now_ms() / 1000;
    for (uint64_t sec = now_s - (LEDGER_SECONDS - 1); sec <= now_s; sec++) {
        const struct ledger_second *slot = &l->seconds[sec % LEDGER_SECONDS];
        if (slot->second != sec || !slot->dials)
            continue;
        cJSON *item = cJSON_CreateObject();
        cJSON_AddNumberToObject(item, "second", (double)sec);
        cJSON_AddNumberToObject(item, "dials", (double)slot->dials);
        cJSON_AddItemToArray(seconds, item);
    }
    cJSON *batches = cJSON_AddObjectToObject(o, "batches");
    for (const struct ledger_batch *b = l->batch_head; b; b = b->next) {
        cJSON *item = cJSON_AddObjectToObject(batches, b->id);
        cJSON_AddNumberToObject(item, "requests", (double)b->requests);
        cJSON_AddNumberToObject(item, "accepted", (double)b->accepted);
        cJSON_AddNumberToObject(item, "rows", (double)b->rows.len);
        cJSON_AddNumberToObject(item, "firstDialAt", (double)b->first_ms);
        cJSON_AddNumberToObject(item, "lastDialAt", (double)b->last_ms);
    }
    return o;
}

int ledger_dials_json(const struct ledger *l, const char *id, size_t len, struct buf *out)
{
    const struct ledger_batch *b = map_get(&l->batches, id, len);
    int rc = buf_append_str(out, "{\"batch\":");
    if (!rc)
        rc = json_append_string(out, id, len);
    if (!rc)
        rc = buf_append_str(out, ",\"dials\":[");
    for (size_t i = 0; b && i < b->ndials && !rc; i++)
        rc = buf_printf(out, "%s[%llu,%u,%u]", i ? "," : "", (unsigned long long)b->dials[i].ms,
                        b->dials[i].row, b->dials[i].seq);
    if (!rc)
        rc = buf_append_str(out, "]}");
    return rc;
}
