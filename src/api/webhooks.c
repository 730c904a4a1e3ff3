/* Webhooks: the workspace target (API and admin CLI), the outbox written by webhooks_emit, and the
 * delivery worker.
 *
 * Storage. DB_WEBHOOK holds one record per workspace, {"url" (or null), "secret", "createdAt"}.
 * DB_OUTBOX holds one entry per (event, target URL) under a u64 big-endian sequence, so cursor
 * order is the order events happened in. DB_DELIVERY logs every attempt under
 * workspace | time | sequence, trimmed to the newest DELIVERIES_KEEP per workspace.
 *
 * Worker. Every target URL has a queue of its outbox sequences in memory. Only the head of a queue
 * is ever sent, and the next one only after the head was delivered or given up, which keeps each
 * target's events in order while a failing target waits on its own. What an answer means
 * (delivered, retry at, given up) is decided in memory the moment it arrives, so the next event
 * can leave at once; the outcome is made durable by the next pass, in one write transaction for
 * every answer received meanwhile. A single timer drives the passes, each of bounded work: index
 * outbox entries not seen yet, send the heads that are due, record the outcomes. Everything the
 * worker knows is rebuilt from the outbox at start, so deliveries survive restarts; an event whose
 * delivery was not recorded before a crash is sent again (at least once, de-duplicated by id). */
#include "api/webhooks.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/common.h"
#include "app.h"
#include "http/client.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/json.h"
#include "util/log.h"
#include "util/map.h"

#define SECRET_PREFIX "whsec_"
#define SECRET_BYTES  32
/* Webhook requests at once, on the module's own HTTP client so that slow customer endpoints never
 * take slots from provider requests. */
#define MAX_IN_FLIGHT 32
/* Outbox entries indexed per pass: each is one JSON parse, so a pass stays around a millisecond
 * even when a restart finds a large backlog. */
#define SCAN_CHUNK      1000
#define DELIVERIES_KEEP 1000
/* webhookUrl of recent batches; the cache is simply emptied when it reaches this size. */
#define BATCH_CACHE_MAX 4096
/* Outcomes are recorded at most this long after they are decided, many per transaction: a
 * durable commit costs milliseconds, and one per event would cap each target's rate. A crash
 * loses at most this much bookkeeping, and those events are simply sent again. */
#define RECORD_DELAY_MS 10
/* How long a target waits when its head could not be read or prepared. */
#define STORE_RETRY_MS      1000
#define OUTBOX_KEY_LEN      8
#define DELIVERY_SUFFIX_LEN 16 /* time and sequence after the workspace id */

/* One target URL and its pending events, oldest first: seqs[first .. first + count). */
struct target {
    char *url;
    uint64_t *seqs;
    size_t first, count, cap;
    uint64_t retry_at;      /* wall-clock ms before which the head is not sent */
    uint32_t head_attempts; /* failed attempts of the head so far */
    int head_known;         /* head_attempts and retry_at were read from the head's entry */
    int in_flight;          /* the head was sent and has not been answered yet */
};

enum outcome { OUT_DELIVERED, OUT_RETRY, OUT_GAVE_UP, OUT_DROPPED };

/* One attempt at delivering a target's head, from the request until its outcome is recorded. */
struct send {
    struct client_request r;
    struct webhooks *w;
    struct target *tg; /* NULL for an unreadable entry found while indexing */
    uint64_t seq;
    uint32_t attempt; /* 1 for the first */
    int drop;         /* not sent: it cannot be (the reason is in r.error) */
    uint64_t created_ms;
    char ws[ID_MAX];
    char event_id[ID_MAX];
    char type[32];
    char signature[WEBHOOK_SIGNATURE_MAX + 16];
    char id_header[ID_MAX + 16];
    const char *headers[4];
    /* Decided when the answer arrives, recorded by the next pass. */
    enum outcome outcome;
    uint64_t next_at;
    struct send *next;
};

/* A batch's own target, cached because batch metadata is large and written once. */
struct batch_target {
    int has_url;
    char url[];
};

struct webhooks {
    struct store *store;
    /* Event ids. Like batches, nbatches and next_seq, used only inside write transactions, which
     * LMDB runs one at a time whether on the loop or on the pool (the dispatcher's commits). */
    struct id_gen ids;
    struct webhooks_config cfg;
    struct client dialer;
    uv_timer_t timer;
    struct map by_url;       /* url -> struct target */
    struct target **targets; /* the same targets, in an array for round-robin sending */
    size_t ntargets, targets_cap, rr;
    struct map batches; /* batch id -> struct batch_target */
    size_t nbatches;
    struct send *results; /* decided attempts waiting to be recorded */
    uint64_t next_seq;    /* the next outbox key */
    uint64_t scan_seq;    /* every outbox entry below this is in its target's queue */
    int scan_done;        /* the last index step reached the end of the outbox */
    uint64_t delivered, failed, gave_up;
    int closing;
    int handles; /* open: the timer and the dialer; w is freed when both closed */
};

static void arm(struct webhooks *w, uint64_t delay_ms);
static void on_done(struct client_request *r);

/* ---- settings ---- */

void webhooks_config_defaults(struct webhooks_config *c)
{
    c->backoff_ms = 1000;
    c->backoff_max_ms = 3600000;
    c->max_age_ms = 24 * 3600000ull;
    c->timeout_ms = 10000;
}

int webhooks_configure(struct webhooks *w, const struct webhooks_config *c)
{
    if (!c->backoff_ms || !c->max_age_ms || !c->timeout_ms || c->backoff_max_ms < c->backoff_ms)
        return BC_EINVAL;
    w->cfg = *c;
    return 0;
}

void webhooks_stats(const struct webhooks *w, uint64_t *delivered, uint64_t *failed,
                    uint64_t *gave_up)
{
    *delivered = w ? w->delivered : 0;
    *failed = w ? w->failed : 0;
    *gave_up = w ? w->gave_up : 0;
}

/* ---- signing and URLs ---- */

int webhooks_url_valid(const char *url, size_t len)
{
    size_t scheme = len >= 7 && strncasecmp(url, "http://", 7) == 0    ? 7
                    : len >= 8 && strncasecmp(url, "https://", 8) == 0 ? 8
                                                                       : 0;
    if (!scheme || len > WEBHOOK_URL_MAX || len == scheme || url[scheme] == '/')
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f)
            return 0;
    return 1;
}

int webhooks_sign(const char *secret, size_t secret_len, uint64_t unix_s, const char *body,
                  size_t len, char out[WEBHOOK_SIGNATURE_MAX])
{
    struct buf msg = {0};
    int rc = buf_printf(&msg, "%llu.", (unsigned long long)unix_s);
    if (!rc)
        rc = buf_append(&msg, body, len);
    if (rc) {
        buf_free(&msg);
        return rc;
    }
    uint8_t mac[SHA256_LEN];
    char hex[2 * SHA256_LEN + 1];
    crypto_hmac_sha256(secret, secret_len, msg.data, msg.len, mac);
    crypto_hex(mac, sizeof mac, hex);
    buf_free(&msg);
    snprintf(out, WEBHOOK_SIGNATURE_MAX, "t=%llu,v1=%s", (unsigned long long)unix_s, hex);
    return 0;
}

/* ---- the workspace record ---- */

struct hook {
    char url[WEBHOOK_URL_MAX + 1]; /* "" when the workspace only has a secret */
    char secret[WEBHOOK_SECRET_LEN + 1];
    uint64_t created_ms;
};

/* Reads the workspace's record: 0, BC_ENOTFOUND, BC_ECORRUPT or a store error. */
static int hook_get(struct store_txn *t, const char *ws, size_t wslen, struct hook *h)
{
    struct store_val v;
    int rc = store_get(t, DB_WEBHOOK, ws, wslen, &v);
    if (rc)
        return rc;
    cJSON *o = cJSON_ParseWithLength(v.ptr, v.len);
    const char *url = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "url"));
    const char *secret = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "secret"));
    const cJSON *created = cJSON_GetObjectItemCaseSensitive(o, "createdAt");
    rc = secret && strlen(secret) <= WEBHOOK_SECRET_LEN && (!url || strlen(url) <= WEBHOOK_URL_MAX)
             ? 0
             : BC_ECORRUPT;
    if (!rc) {
        snprintf(h->url, sizeof h->url, "%s", url ? url : "");
        snprintf(h->secret, sizeof h->secret, "%s", secret);
        h->created_ms = cJSON_IsNumber(created) ? (uint64_t)created->valuedouble : 0;
    }
    cJSON_Delete(o);
    return rc;
}

static int new_secret(char out[WEBHOOK_SECRET_LEN + 1])
{
    uint8_t bytes[SECRET_BYTES];
    char hex[2 * SECRET_BYTES + 1];
    int rc = crypto_random(bytes, sizeof bytes);
    if (rc)
        return rc;
    crypto_hex(bytes, sizeof bytes, hex);
    snprintf(out, WEBHOOK_SECRET_LEN + 1, SECRET_PREFIX "%s", hex);
    return 0;
}

/* Writes a record with a new secret; url NULL means none. */
static int hook_put(struct store_txn *t, const char *ws, size_t wslen, const char *url,
                    struct hook *h)
{
    int rc = new_secret(h->secret);
    if (rc)
        return rc;
    snprintf(h->url, sizeof h->url, "%s", url ? url : "");
    h->created_ms = clock_now_ms();
    cJSON *o = cJSON_CreateObject();
    if (url)
        cJSON_AddStringToObject(o, "url", url);
    else
        cJSON_AddNullToObject(o, "url");
    cJSON_AddStringToObject(o, "secret", h->secret);
    cJSON_AddNumberToObject(o, "createdAt", (double)h->created_ms);
    return api_put_json(t, DB_WEBHOOK, ws, wslen, o);
}

struct set_args {
    const char *ws;
    size_t wslen;
    const char *url;
    struct hook h;
};

static int set_txn(struct store_txn *t, void *arg)
{
    struct set_args *a = arg;
    struct store_val v;
    int rc = store_get(t, DB_WS, a->ws, a->wslen, &v);
    return rc ? rc : hook_put(t, a->ws, a->wslen, a->url, &a->h);
}

int webhooks_set(struct store *s, const char *ws, size_t wslen, const char *url,
                 char secret[WEBHOOK_SECRET_LEN + 1], uint64_t *created_ms)
{
    if (url && !webhooks_url_valid(url, strlen(url)))
        return BC_EINVAL;
    struct set_args a = {.ws = ws, .wslen = wslen, .url = url};
    int rc = store_write(s, set_txn, &a);
    if (!rc) {
        memcpy(secret, a.h.secret, sizeof a.h.secret);
        *created_ms = a.h.created_ms;
    }
    return rc;
}

struct remove_args {
    const char *ws;
    size_t wslen;
};

static int remove_txn(struct store_txn *t, void *arg)
{
    struct remove_args *a = arg;
    return store_del(t, DB_WEBHOOK, a->ws, a->wslen);
}

int webhooks_remove(struct store *s, const char *ws, size_t wslen)
{
    struct remove_args a = {ws, wslen};
    return store_write(s, remove_txn, &a);
}

/* ---- event data ---- */

static void add_time(cJSON *o, const char *name, uint64_t ms)
{
    if (ms)
        cJSON_AddNumberToObject(o, name, (double)ms);
    else
        cJSON_AddNullToObject(o, name);
}

cJSON *webhooks_batch_data(const struct batch_rec *b)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "batchId", b->id);
    cJSON_AddStringToObject(o, "status", batch_status_name(b->status));
    cJSON_AddNumberToObject(o, "totalCalls", (double)b->total);
    cJSON_AddNumberToObject(o, "waiting", (double)b->waiting);
    cJSON_AddNumberToObject(o, "active", (double)b->active);
    cJSON_AddNumberToObject(o, "completed", (double)b->completed);
    cJSON_AddNumberToObject(o, "failed", (double)b->failed);
    cJSON_AddNumberToObject(o, "cancelled", (double)b->cancelled);
    add_time(o, "startTime", b->started_ms);
    add_time(o, "completedTime", b->completed_ms);
    return o;
}

cJSON *webhooks_call_data(const struct batch_rec *b, uint32_t row, const struct job_head *h,
                          const char *error, size_t error_len)
{
    char job[24];
    snprintf(job, sizeof job, "call_%u", row);
    const char *outcome = job_outcome_name(h->outcome);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "batchId", b->id);
    cJSON_AddStringToObject(o, "jobId", job);
    cJSON_AddStringToObject(o, "status", job_state_name(h->state));
    if (outcome)
        cJSON_AddStringToObject(o, "outcome", outcome);
    else
        cJSON_AddNullToObject(o, "outcome");
    json_add_strn(o, "phone_number", h->e164, strnlen(h->e164, sizeof h->e164));
    cJSON_AddNumberToObject(o, "attempts", h->attempts);
    add_time(o, "startTime", h->start_ms);
    add_time(o, "endTime", h->end_ms);
    cJSON_AddNumberToObject(o, "duration", h->duration);
    size_t idlen = strnlen(h->call_id, sizeof h->call_id);
    if (idlen)
        json_add_strn(o, "callId", h->call_id, idlen);
    else
        cJSON_AddNullToObject(o, "callId");
    if (error_len)
        json_add_strn(o, "error", error, error_len);
    else
        cJSON_AddNullToObject(o, "error");
    return o;
}

/* ---- recording events ---- */

/* The batch's webhookUrl (NULL when it has none), read from its metadata once. */
static int batch_url(struct webhooks *w, struct store_txn *t, const char *batch, const char **url)
{
    size_t blen = strlen(batch);
    struct batch_target *bt = map_get(&w->batches, batch, blen);
    if (!bt) {
        struct store_val v;
        int rc = store_get(t, DB_BATCHMETA, batch, blen, &v);
        if (rc && rc != BC_ENOTFOUND)
            return rc;
        cJSON *meta = rc ? NULL : cJSON_ParseWithLength(v.ptr, v.len);
        const char *u = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "webhookUrl"));
        /* A URL this module would not accept (kept by an older upload) is no target. */
        if (u && !webhooks_url_valid(u, strlen(u)))
            u = NULL;
        size_t ulen = u ? strlen(u) : 0;
        bt = malloc(sizeof *bt + ulen + 1);
        if (!bt) {
            cJSON_Delete(meta);
            return BC_ENOMEM;
        }
        bt->has_url = u != NULL;
        memcpy(bt->url, u ? u : "", ulen + 1);
        cJSON_Delete(meta);
        if (w->nbatches >= BATCH_CACHE_MAX) {
            map_free(&w->batches, free);
            w->nbatches = 0;
        }
        if (map_put(&w->batches, batch, blen, bt) != 0) {
            free(bt);
            return BC_ENOMEM;
        }
        w->nbatches++;
    }
    *url = bt->has_url ? bt->url : NULL;
    return 0;
}

static void forget_batch(struct webhooks *w, const char *batch)
{
    struct batch_target *bt = map_del(&w->batches, batch, strlen(batch));
    if (bt) {
        free(bt);
        w->nbatches--;
    }
}

static int put_entries(struct webhooks *w, struct store_txn *t, cJSON *entry,
                       const char *const *urls, size_t n)
{
    struct buf b = {0};
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        cJSON_ReplaceItemInObjectCaseSensitive(entry, "url", cJSON_CreateString(urls[i]));
        b.len = 0;
        rc = json_render(&b, entry);
        uint8_t key[OUTBOX_KEY_LEN];
        /* A replayed transaction takes new numbers; the gaps are harmless. */
        be64_put(key, w->next_seq++);
        if (!rc)
            rc = store_put(t, DB_OUTBOX, key, sizeof key, b.data, b.len, STORE_APPEND);
    }
    buf_free(&b);
    return rc;
}

int webhooks_emit(struct webhooks *w, struct store_txn *t, const struct batch_rec *b,
                  const char *type, cJSON *data)
{
    if (!w) {
        cJSON_Delete(data);
        return 0;
    }
    size_t wslen = strlen(b->ws);
    struct hook h;
    int rc = hook_get(t, b->ws, wslen, &h);
    int has_hook = rc == 0;
    if (rc == BC_ECORRUPT)
        log_error("unreadable webhook record; ignoring it", "workspace=%s", b->ws);
    else if (rc && rc != BC_ENOTFOUND) {
        cJSON_Delete(data);
        return rc;
    }
    const char *burl = NULL;
    if ((rc = batch_url(w, t, b->id, &burl)) != 0) {
        cJSON_Delete(data);
        return rc;
    }
    const char *urls[2];
    size_t n = 0;
    if (has_hook && h.url[0])
        urls[n++] = h.url;
    if (burl && (n == 0 || strcmp(burl, urls[0]) != 0))
        urls[n++] = burl;
    if (n == 0) {
        cJSON_Delete(data);
        return 0;
    }
    /* Batch targets are signed with the workspace's secret; a workspace without one gets one now
     * (README: its owner sees it by rotating it with PUT /v1/api/webhook). */
    if (burl && !has_hook && (rc = hook_put(t, b->ws, wslen, NULL, &h)) != 0) {
        cJSON_Delete(data);
        return rc;
    }
    uint64_t now = clock_now_ms();
    char id[ID_MAX];
    if ((rc = id_new(&w->ids, "evt_", now, id)) < 0) {
        cJSON_Delete(data);
        return rc;
    }
    cJSON *entry = cJSON_CreateObject();
    cJSON_AddStringToObject(entry, "id", id);
    cJSON_AddStringToObject(entry, "type", type);
    cJSON_AddNumberToObject(entry, "createdAt", (double)now);
    cJSON_AddItemToObject(entry, "data", data ? data : cJSON_CreateObject());
    cJSON_AddStringToObject(entry, "workspace", b->ws);
    cJSON_AddNullToObject(entry, "url");
    cJSON_AddNumberToObject(entry, "attempts", 0);
    cJSON_AddNumberToObject(entry, "nextAttemptAt", 0);
    rc = put_entries(w, t, entry, urls, n);
    cJSON_Delete(entry);
    if (!strcmp(type, "batch.completed") || !strcmp(type, "batch.cancelled"))
        forget_batch(w, b->id);
    /* The timer fires on a later loop pass, after the caller's transaction committed; if it did
     * not, the worker finds nothing new. A transaction on the pool may commit after that pass,
     * so its owner kicks once it has committed. */
    if (!rc && !t->async)
        webhooks_kick(w);
    return rc;
}

/* ---- the worker: target queues ---- */

static struct target *target_for(struct webhooks *w, const char *url)
{
    size_t len = strlen(url);
    struct target *tg = map_get(&w->by_url, url, len);
    if (tg)
        return tg;
    if (w->ntargets == w->targets_cap) {
        size_t cap = w->targets_cap ? w->targets_cap * 2 : 16;
        struct target **a = realloc(w->targets, cap * sizeof *a);
        if (!a)
            return NULL;
        w->targets = a;
        w->targets_cap = cap;
    }
    tg = calloc(1, sizeof *tg);
    if (tg)
        tg->url = strdup(url);
    if (!tg || !tg->url || map_put(&w->by_url, url, len, tg) != 0) {
        if (tg)
            free(tg->url);
        free(tg);
        return NULL;
    }
    w->targets[w->ntargets++] = tg;
    return tg;
}

static void target_free(void *p)
{
    struct target *tg = p;
    free(tg->url);
    free(tg->seqs);
    free(tg);
}

static int target_push(struct target *tg, uint64_t seq)
{
    if (tg->first + tg->count == tg->cap) {
        if (tg->first > 0) {
            memmove(tg->seqs, tg->seqs + tg->first, tg->count * sizeof *tg->seqs);
            tg->first = 0;
        } else {
            size_t cap = tg->cap ? tg->cap * 2 : 8;
            uint64_t *s = realloc(tg->seqs, cap * sizeof *s);
            if (!s)
                return BC_ENOMEM;
            tg->seqs = s;
            tg->cap = cap;
        }
    }
    tg->seqs[tg->first + tg->count++] = seq;
    return 0;
}

/* Moves on to the next event, if seq is the head (it always should be: only heads are sent). */
static void target_pop(struct target *tg, uint64_t seq)
{
    if (!tg->count || tg->seqs[tg->first] != seq)
        return;
    tg->first++;
    if (--tg->count == 0)
        tg->first = 0;
    tg->retry_at = 0;
    tg->head_attempts = 0;
    tg->head_known = 0;
}

/* Targets with nothing to send are forgotten, so memory follows the live targets only. Attempts
 * waiting to be recorded still point at their target, so nothing goes while there are any. */
static void prune_targets(struct webhooks *w)
{
    if (w->results)
        return;
    for (size_t i = 0; i < w->ntargets;) {
        struct target *tg = w->targets[i];
        if (tg->count || tg->in_flight) {
            i++;
            continue;
        }
        map_del(&w->by_url, tg->url, strlen(tg->url));
        target_free(tg);
        w->targets[i] = w->targets[--w->ntargets];
    }
    if (w->rr >= w->ntargets)
        w->rr = 0;
}

/* ---- the worker: outcomes ---- */

static void send_free(struct send *s)
{
    client_request_free(&s->r);
    free(s);
}

/* The wait after failed attempt n: base * 2^(n-1), capped, then drawn uniformly from its upper
 * half so that receivers coming back up are not hit by every sender at the same moment. */
static uint64_t backoff_ms(const struct webhooks_config *c, uint32_t attempt)
{
    uint64_t d = c->backoff_ms;
    for (uint32_t i = 1; i < attempt && d < c->backoff_max_ms; i++)
        d *= 2;
    if (d > c->backoff_max_ms)
        d = c->backoff_max_ms;
    uint32_t r = 0;
    crypto_random(&r, sizeof r);
    return d - (uint64_t)((double)(d / 2) * ((double)r / 4294967296.0));
}

/* Decides what an attempt leads to, moves its target's queue on, and queues the outcome to be
 * recorded by the next pass. */
static void settle(struct webhooks *w, struct send *s, uint64_t now)
{
    struct target *tg = s->tg;
    if (s->drop) {
        s->outcome = OUT_DROPPED;
        log_warn("webhook event dropped", "seq=%llu reason=\"%s\"", (unsigned long long)s->seq,
                 s->r.error);
    } else if (s->r.result == CLIENT_OK && s->r.status >= 200 && s->r.status < 300) {
        s->outcome = OUT_DELIVERED;
        w->delivered++;
    } else {
        w->failed++;
        s->next_at = now + backoff_ms(&w->cfg, s->attempt);
        s->outcome = s->next_at > s->created_ms + w->cfg.max_age_ms ? OUT_GAVE_UP : OUT_RETRY;
        if (s->outcome == OUT_GAVE_UP) {
            w->gave_up++;
            log_warn("webhook event given up", "event=%s url=\"%s\" attempts=%u", s->event_id,
                     tg->url, s->attempt);
        }
    }
    if (tg) {
        tg->in_flight = 0;
        if (s->outcome == OUT_RETRY) {
            tg->retry_at = s->next_at;
            tg->head_attempts = s->attempt;
        } else {
            target_pop(tg, s->seq);
        }
    }
    s->next = w->results;
    w->results = s;
    arm(w, RECORD_DELAY_MS);
}

static void describe_error(const struct send *s, char *out, size_t cap)
{
    if (s->drop)
        snprintf(out, cap, "%s", s->r.error);
    else if (s->r.result == CLIENT_OK)
        out[0] = '\0'; /* an HTTP answer: its status says it all */
    else if (s->r.result == CLIENT_E_TIMEOUT)
        snprintf(out, cap, "timeout");
    else if (s->r.error[0])
        snprintf(out, cap, "%s: %s", client_strerror(s->r.result), s->r.error);
    else
        snprintf(out, cap, "%s", client_strerror(s->r.result));
}

static int record_delivery(struct store_txn *t, const struct send *s, uint64_t now)
{
    static const char *const results[] = {
        [OUT_DELIVERED] = "delivered",
        [OUT_RETRY] = "retrying",
        [OUT_GAVE_UP] = "gave_up",
        [OUT_DROPPED] = "dropped",
    };
    char error[sizeof s->r.error + 64];
    describe_error(s, error, sizeof error);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "eventId", s->event_id);
    cJSON_AddStringToObject(o, "type", s->type);
    cJSON_AddStringToObject(o, "url", s->tg->url);
    cJSON_AddNumberToObject(o, "attempt", s->attempt);
    if (!s->drop && s->r.result == CLIENT_OK)
        cJSON_AddNumberToObject(o, "status", (double)s->r.status);
    else
        cJSON_AddNullToObject(o, "status");
    if (error[0])
        cJSON_AddStringToObject(o, "error", error);
    else
        cJSON_AddNullToObject(o, "error");
    cJSON_AddNumberToObject(o, "durationMs", (double)(uint64_t)(s->r.seconds * 1000.0 + 0.5));
    cJSON_AddNumberToObject(o, "at", (double)now);
    cJSON_AddStringToObject(o, "result", results[s->outcome]);
    add_time(o, "nextAttemptAt", s->outcome == OUT_RETRY ? s->next_at : 0);
    size_t wl = strlen(s->ws);
    uint8_t key[ID_MAX + DELIVERY_SUFFIX_LEN];
    memcpy(key, s->ws, wl);
    be64_put(key + wl, now);
    be64_put(key + wl + 8, s->seq);
    return api_put_json(t, DB_DELIVERY, key, wl + DELIVERY_SUFFIX_LEN, o);
}

/* Keeps the newest DELIVERIES_KEEP records of the workspace. Keys of this workspace are exactly
 * its id and the 16-byte suffix, so a longer id sharing the prefix is never counted. */
static int trim_deliveries(struct store_txn *t, const char *ws)
{
    size_t wl = strlen(ws), count = 0;
    struct store_iter it;
    int rc;
    store_iter_open(&it, t, DB_DELIVERY, ws, wl, NULL, 0);
    while ((rc = store_iter_next(&it)) == 1)
        count += it.key.len == wl + DELIVERY_SUFFIX_LEN;
    store_iter_close(&it);
    if (rc < 0 || count <= DELIVERIES_KEEP)
        return rc;
    size_t extra = count - DELIVERIES_KEEP, n = 0;
    uint8_t(*keys)[ID_MAX + DELIVERY_SUFFIX_LEN] = malloc(extra * sizeof *keys);
    if (!keys)
        return BC_ENOMEM;
    store_iter_open(&it, t, DB_DELIVERY, ws, wl, NULL, 0);
    while (n < extra && (rc = store_iter_next(&it)) == 1)
        if (it.key.len == wl + DELIVERY_SUFFIX_LEN)
            memcpy(keys[n++], it.key.ptr, it.key.len);
    store_iter_close(&it);
    for (size_t i = 0; i < n && rc >= 0; i++)
        rc = store_del(t, DB_DELIVERY, keys[i], wl + DELIVERY_SUFFIX_LEN);
    free(keys);
    return rc < 0 ? rc : 0;
}

/* A retry rewrites the entry's attempts and nextAttemptAt, so a restart resumes the backoff. */
static int persist_retry(struct store_txn *t, const struct send *s,
                         const uint8_t key[OUTBOX_KEY_LEN])
{
    struct store_val v;
    int rc = store_get(t, DB_OUTBOX, key, OUTBOX_KEY_LEN, &v);
    if (rc)
        return rc == BC_ENOTFOUND ? 0 : rc;
    cJSON *e = cJSON_ParseWithLength(v.ptr, v.len);
    if (!e)
        return 0;
    cJSON_ReplaceItemInObjectCaseSensitive(e, "attempts", cJSON_CreateNumber(s->attempt));
    cJSON_ReplaceItemInObjectCaseSensitive(e, "nextAttemptAt",
                                           cJSON_CreateNumber((double)s->next_at));
    return api_put_json(t, DB_OUTBOX, key, OUTBOX_KEY_LEN, e);
}

struct record_args {
    struct send *list;
    uint64_t now;
};

static int record_txn(struct store_txn *t, void *arg)
{
    struct record_args *a = arg;
    int rc = 0;
    for (struct send *s = a->list; s && !rc; s = s->next) {
        uint8_t key[OUTBOX_KEY_LEN];
        be64_put(key, s->seq);
        if (s->outcome == OUT_RETRY) {
            rc = persist_retry(t, s, key);
        } else {
            rc = store_del(t, DB_OUTBOX, key, sizeof key);
            rc = rc == BC_ENOTFOUND ? 0 : rc;
        }
        if (!rc && s->tg)
            rc = record_delivery(t, s, a->now);
    }
    /* Each workspace once, however many of its attempts this transaction records. */
    for (struct send *s = a->list; s && !rc; s = s->next) {
        int seen = !s->tg;
        for (struct send *p = a->list; p != s && !seen; p = p->next)
            seen = p->tg && strcmp(p->ws, s->ws) == 0;
        if (!seen)
            rc = trim_deliveries(t, s->ws);
    }
    return rc ? rc : t->err;
}

/* Makes every decided outcome durable in one transaction. */
static void record_outcomes(struct webhooks *w)
{
    struct send *list = w->results;
    if (!list)
        return;
    w->results = NULL;
    struct record_args a = {list, clock_now_ms()};
    int rc = store_write(w->store, record_txn, &a);
    if (rc)
        log_error("cannot record webhook deliveries; those events stay in the outbox and are "
                  "sent again after a restart",
                  "error=\"%s\"", bc_strerror(rc));
    for (struct send *s = list, *next; s; s = next) {
        next = s->next;
        send_free(s);
    }
}

/* ---- the worker: indexing and sending ---- */

/* Queues outbox entries from scan_seq on, at most SCAN_CHUNK per pass. */
static void index_outbox(struct webhooks *w)
{
    struct store_txn t;
    if (store_read_begin(w->store, &t) != 0)
        return;
    uint8_t start[OUTBOX_KEY_LEN];
    be64_put(start, w->scan_seq);
    struct store_iter it;
    size_t n = 0;
    int rc = 0;
    store_iter_open(&it, &t, DB_OUTBOX, "", 0, start, sizeof start);
    while (n < SCAN_CHUNK && (rc = store_iter_next(&it)) == 1) {
        n++;
        uint64_t seq = be64_get(it.key.ptr); /* every key is OUTBOX_KEY_LEN bytes */
        cJSON *e = cJSON_ParseWithLength(it.val.ptr, it.val.len);
        const char *url = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "url"));
        struct target *tg = url ? target_for(w, url) : NULL;
        cJSON_Delete(e);
        if (url && (!tg || target_push(tg, seq) != 0)) {
            rc = BC_ENOMEM; /* try again from this entry on the next pass */
            break;
        }
        if (!url) {
            /* Nothing can deliver an entry without a target: it is deleted with the outcomes. */
            struct send *s = calloc(1, sizeof *s);
            if (!s) {
                rc = BC_ENOMEM;
                break;
            }
            s->seq = seq;
            s->drop = 1;
            snprintf(s->r.error, sizeof s->r.error, "unreadable outbox entry");
            settle(w, s, clock_now_ms());
        }
        w->scan_seq = seq + 1;
    }
    store_iter_close(&it);
    store_read_end(&t);
    w->scan_done = rc == 0 && n < SCAN_CHUNK;
}

/* Fills s from the outbox entry: body, signature and headers. Returns 1 to send; 0 when the head
 * must wait (a restart found its retry not due yet) or was dropped (s is settled); or a negative
 * error. */
static int prepare(struct webhooks *w, struct store_txn *t, struct send *s, uint64_t now)
{
    struct target *tg = s->tg;
    uint8_t key[OUTBOX_KEY_LEN];
    struct store_val v;
    be64_put(key, s->seq);
    int rc = store_get(t, DB_OUTBOX, key, sizeof key, &v);
    if (rc)
        return rc;
    cJSON *e = cJSON_ParseWithLength(v.ptr, v.len);
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "id"));
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "type"));
    const char *ws = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "workspace"));
    const cJSON *created = cJSON_GetObjectItemCaseSensitive(e, "createdAt");
    const cJSON *attempts = cJSON_GetObjectItemCaseSensitive(e, "attempts");
    const cJSON *next_at = cJSON_GetObjectItemCaseSensitive(e, "nextAttemptAt");
    snprintf(s->event_id, sizeof s->event_id, "%s", id ? id : "");
    snprintf(s->type, sizeof s->type, "%s", type ? type : "");
    snprintf(s->ws, sizeof s->ws, "%s", ws ? ws : "");
    s->created_ms = cJSON_IsNumber(created) ? (uint64_t)created->valuedouble : 0;
    if (!tg->head_known) {
        /* First look at this head since it was indexed: after a restart the entry remembers how
         * many attempts failed and when the next one is due. */
        tg->head_known = 1;
        tg->head_attempts = cJSON_IsNumber(attempts) ? (uint32_t)attempts->valuedouble : 0;
        tg->retry_at = cJSON_IsNumber(next_at) ? (uint64_t)next_at->valuedouble : 0;
        if (tg->retry_at > now) {
            cJSON_Delete(e);
            return 0;
        }
    }
    s->attempt = tg->head_attempts + 1;
    struct hook h;
    rc = id && type && ws ? hook_get(t, ws, strlen(ws), &h) : BC_ECORRUPT;
    if (rc == BC_ENOTFOUND || rc == BC_ECORRUPT) {
        s->drop = 1;
        snprintf(s->r.error, sizeof s->r.error, "%s",
                 rc == BC_ENOTFOUND ? "the workspace's webhook and signing secret were deleted"
                                    : "unreadable outbox entry");
        cJSON_Delete(e);
        settle(w, s, now);
        return 0;
    }
    if (rc) {
        cJSON_Delete(e);
        return rc;
    }
    /* The body is exactly what the receiver sees and what the signature covers. */
    cJSON *body = cJSON_CreateObject();
    cJSON_AddItemToObject(body, "id", cJSON_DetachItemFromObjectCaseSensitive(e, "id"));
    cJSON_AddItemToObject(body, "type", cJSON_DetachItemFromObjectCaseSensitive(e, "type"));
    cJSON_AddItemToObject(body, "createdAt",
                          cJSON_DetachItemFromObjectCaseSensitive(e, "createdAt"));
    cJSON_AddItemToObject(body, "data", cJSON_DetachItemFromObjectCaseSensitive(e, "data"));
    cJSON_Delete(e);
    rc = json_render(&s->r.body, body);
    cJSON_Delete(body);
    char sig[WEBHOOK_SIGNATURE_MAX];
    if (!rc)
        rc = webhooks_sign(h.secret, strlen(h.secret), now / 1000, s->r.body.data, s->r.body.len,
                           sig);
    if (rc)
        return rc;
    snprintf(s->signature, sizeof s->signature, "X-Signature: %s", sig);
    snprintf(s->id_header, sizeof s->id_header, "X-Webhook-Id: %s", s->event_id);
    s->headers[0] = s->signature;
    s->headers[1] = s->id_header;
    s->headers[2] = "User-Agent: batchcalld";
    s->headers[3] = NULL;
    s->r.url = tg->url;
    s->r.method = "POST";
    s->r.content_type = "application/json";
    s->r.headers = s->headers;
    s->r.timeout_ms = (long)w->cfg.timeout_ms;
    s->r.done = on_done;
    s->r.user = s;
    return 1;
}

/* Starts the head of tg (or settles it when it cannot be sent). Returns 0, or a negative error
 * when nothing happened: BC_EBUSY when the client is full. */
static int send_head(struct webhooks *w, struct store_txn *t, struct target *tg, uint64_t now)
{
    struct send *s = calloc(1, sizeof *s);
    if (!s)
        return BC_ENOMEM;
    s->w = w;
    s->tg = tg;
    s->seq = tg->seqs[tg->first];
    tg->in_flight = 1;
    int rc = prepare(w, t, s, now);
    if (rc == BC_ENOTFOUND) {
        /* Only this worker deletes entries, so this is a stale queue: move past it. */
        tg->in_flight = 0;
        target_pop(tg, s->seq);
        send_free(s);
        return 0;
    }
    if (rc < 0) {
        log_error("cannot prepare a webhook; will retry", "url=\"%s\" error=\"%s\"", tg->url,
                  bc_strerror(rc));
        tg->retry_at = now + STORE_RETRY_MS;
    }
    if (rc <= 0) {
        if (!s->drop) {
            tg->in_flight = 0;
            send_free(s);
        }
        return 0;
    }
    rc = client_start(&w->dialer, &s->r);
    if (rc == BC_EBUSY) {
        tg->in_flight = 0;
        send_free(s);
        return rc;
    }
    if (rc) {
        /* The request could not even start (a URL curl rejects): a failed attempt. */
        s->r.result = CLIENT_E_OTHER;
        snprintf(s->r.error, sizeof s->r.error, "the request could not be started: %s",
                 bc_strerror(rc));
        settle(w, s, now);
    }
    return 0;
}

static void on_done(struct client_request *r)
{
    struct send *s = r->user;
    struct webhooks *w = s->w;
    struct target *tg = s->tg;
    /* A request cancelled by shutdown is no attempt: it is sent again after the restart. */
    if (r->result == CLIENT_E_CANCELLED || w->closing) {
        tg->in_flight = 0;
        send_free(s);
        return;
    }
    uint64_t now = clock_now_ms();
    settle(w, s, now);
    /* A target that just accepted an event gets its next one now rather than at the next pass:
     * with one event in flight per target, this wait would otherwise bound its throughput. */
    struct store_txn t;
    if (tg->count && tg->retry_at <= now && store_read_begin(w->store, &t) == 0) {
        send_head(w, &t, tg, now);
        store_read_end(&t);
    }
}

static void send_due(struct webhooks *w, uint64_t now)
{
    size_t n = w->ntargets;
    if (!n)
        return;
    struct store_txn t;
    if (store_read_begin(w->store, &t) != 0)
        return;
    size_t start = w->rr;
    for (size_t i = 0; i < n && w->dialer.in_flight < w->dialer.max_in_flight; i++) {
        struct target *tg = w->targets[(start + i) % n];
        if (tg->in_flight || !tg->count || tg->retry_at > now)
            continue;
        if (send_head(w, &t, tg, now) == BC_EBUSY)
            break;
        /* The next pass starts after the last target served, so that none waits for ever. */
        w->rr = (start + i + 1) % n;
    }
    store_read_end(&t);
}

/* Arms the timer for the next thing to do: at once while there is work ready, else the earliest
 * retry; stopped when nothing is pending. */
static void plan_next(struct webhooks *w, uint64_t now)
{
    prune_targets(w);
    if (!w->scan_done) {
        arm(w, 1);
        return;
    }
    uint64_t soonest = UINT64_MAX;
    int room = w->dialer.in_flight < w->dialer.max_in_flight;
    for (size_t i = 0; i < w->ntargets; i++) {
        const struct target *tg = w->targets[i];
        if (tg->in_flight || !tg->count || (tg->retry_at <= now && !room))
            continue;
        if (tg->retry_at < soonest)
            soonest = tg->retry_at;
    }
    if (soonest != UINT64_MAX)
        arm(w, soonest > now ? soonest - now : 1);
}

/* Sends come before recording, so the next event of a target is on its way while the fsync of
 * the previous outcome runs. */
static void on_tick(uv_timer_t *timer)
{
    struct webhooks *w = timer->data;
    uint64_t now = clock_now_ms();
    if (!w->scan_done)
        index_outbox(w);
    send_due(w, now);
    record_outcomes(w);
    plan_next(w, clock_now_ms());
}

/* A zero delay becomes 1 ms: libuv 1.44 runs a 0 ms timer started inside a timer callback in the
 * same pass. A timer already due sooner is left alone, so frequent kicks cannot postpone it. */
static void arm(struct webhooks *w, uint64_t delay_ms)
{
    if (w->closing)
        return;
    if (delay_ms < 1)
        delay_ms = 1;
    if (uv_is_active((uv_handle_t *)&w->timer) && uv_timer_get_due_in(&w->timer) <= delay_ms)
        return;
    uv_timer_start(&w->timer, on_tick, delay_ms, 0);
}

void webhooks_kick(struct webhooks *w)
{
    if (!w)
        return;
    w->scan_done = 0;
    arm(w, 1);
}

/* ---- start and stop ---- */

/* 1 when the outbox holds a key >= seq. */
static int outbox_has_from(struct store_txn *t, uint64_t seq)
{
    uint8_t key[OUTBOX_KEY_LEN];
    be64_put(key, seq);
    struct store_iter it;
    store_iter_open(&it, t, DB_OUTBOX, "", 0, key, sizeof key);
    int rc = store_iter_next(&it);
    store_iter_close(&it);
    return rc == 1;
}

/* The largest outbox key, or 0 when it is empty. The store's cursors only move forward, so the
 * key is found bit by bit: 64 lookups of "is there a key at or above x" whatever the size. */
static int last_seq(struct store *st, uint64_t *out)
{
    struct store_txn t;
    int rc = store_read_begin(st, &t);
    if (rc)
        return rc;
    uint64_t last = 0;
    if (outbox_has_from(&t, 0))
        for (int bit = 63; bit >= 0; bit--)
            if (outbox_has_from(&t, last | (1ull << bit)))
                last |= 1ull << bit;
    rc = t.err;
    store_read_end(&t);
    *out = last;
    return rc;
}

int webhooks_start(struct webhooks **out, struct app *app)
{
    struct webhooks *w = calloc(1, sizeof *w);
    if (!w)
        return BC_ENOMEM;
    w->store = &app->store;
    webhooks_config_defaults(&w->cfg);
    uint64_t last;
    int rc = last_seq(w->store, &last);
    if (!rc)
        rc = client_init(&w->dialer, app->loop, MAX_IN_FLIGHT);
    if (rc) {
        free(w);
        return rc;
    }
    w->next_seq = last + 1;
    uv_timer_init(app->loop, &w->timer);
    w->timer.data = w;
    w->handles = 2;
    *out = w;
    /* Index what an earlier run left undelivered. */
    webhooks_kick(w);
    return 0;
}

static void release(struct webhooks *w)
{
    if (--w->handles > 0)
        return;
    map_free(&w->by_url, target_free);
    map_free(&w->batches, free);
    free(w->targets);
    free(w);
}

static void on_timer_closed(uv_handle_t *h)
{
    release(h->data);
}

static void on_dialer_closed(struct client *d)
{
    release((struct webhooks *)((char *)d - offsetof(struct webhooks, dialer)));
}

void webhooks_stop(struct webhooks *w)
{
    if (!w || w->closing)
        return;
    /* Answers already received are recorded, so those events are not sent again. */
    record_outcomes(w);
    w->closing = 1;
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, on_timer_closed);
    client_close(&w->dialer, on_dialer_closed);
}

/* ---- routes ---- */

static void respond_hook_not_found(struct http_request *req)
{
    api_respond_error(req, 404, "not_found",
                      "This workspace has no webhook. Set one with PUT /v1/api/webhook "
                      "{\"url\": \"https://...\"}.",
                      NULL, NULL);
}

void webhooks_put(struct http_request *req)
{
    struct api_ctx *ctx = api_ctx(req);
    cJSON *body = api_parse_body(req);
    if (!body)
        return;
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(body, "url");
    const char *url = cJSON_IsString(u) ? u->valuestring : NULL;
    if (!cJSON_IsNull(u) && (!url || !webhooks_url_valid(url, strlen(url)))) {
        cJSON_Delete(body);
        api_respond_error(req, 400, "invalid_field",
                          "url must be an http:// or https:// URL of at most 2048 characters "
                          "(or null to keep only a signing secret for batch webhookUrls).",
                          "field", "url");
        return;
    }
    char secret[WEBHOOK_SECRET_LEN + 1];
    uint64_t created;
    int rc = webhooks_set(&api_app(req)->store, ctx->ws, ctx->ws_len, url, secret, &created);
    if (rc) {
        cJSON_Delete(body);
        api_respond_internal(req, rc);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    if (url)
        cJSON_AddStringToObject(o, "url", url);
    else
        cJSON_AddNullToObject(o, "url");
    cJSON_AddStringToObject(o, "secret", secret);
    cJSON_AddNumberToObject(o, "createdAt", (double)created);
    cJSON_Delete(body);
    api_respond_json(req, 200, o);
}

void webhooks_get(struct http_request *req)
{
    struct api_ctx *ctx = api_ctx(req);
    struct store_txn t;
    struct hook h;
    int rc = store_read_begin(&api_app(req)->store, &t);
    if (!rc)
        rc = hook_get(&t, ctx->ws, ctx->ws_len, &h);
    store_read_end(&t);
    if (rc == BC_ENOTFOUND) {
        respond_hook_not_found(req);
        return;
    }
    if (rc) {
        api_respond_internal(req, rc);
        return;
    }
    size_t slen = strlen(h.secret);
    cJSON *o = cJSON_CreateObject();
    if (h.url[0])
        cJSON_AddStringToObject(o, "url", h.url);
    else
        cJSON_AddNullToObject(o, "url");
    cJSON_AddNumberToObject(o, "createdAt", (double)h.created_ms);
    cJSON_AddStringToObject(o, "secretHint", h.secret + (slen > 4 ? slen - 4 : 0));
    api_respond_json(req, 200, o);
}

void webhooks_delete(struct http_request *req)
{
    struct api_ctx *ctx = api_ctx(req);
    int rc = webhooks_remove(&api_app(req)->store, ctx->ws, ctx->ws_len);
    if (rc == BC_ENOTFOUND) {
        respond_hook_not_found(req);
        return;
    }
    if (rc) {
        api_respond_internal(req, rc);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "deleted", 1);
    api_respond_json(req, 200, o);
}

void webhooks_deliveries(struct http_request *req)
{
    struct api_ctx *ctx = api_ctx(req);
    struct api_page page;
    if (api_parse_page(req, &page) != 0)
        return;
    struct store_txn t;
    int rc = store_read_begin(&api_app(req)->store, &t);
    if (rc) {
        api_respond_internal(req, rc);
        return;
    }
    size_t klen = ctx->ws_len + DELIVERY_SUFFIX_LEN;
    uint64_t total = 0;
    struct store_iter it;
    store_iter_open(&it, &t, DB_DELIVERY, ctx->ws, ctx->ws_len, NULL, 0);
    while ((rc = store_iter_next(&it)) == 1)
        total += it.key.len == klen;
    store_iter_close(&it);
    /* Keys run oldest first and the page counts from the newest: page p covers the ascending
     * positions [total - p*limit, total - (p-1)*limit). Prepending each keeps newest first. */
    uint64_t skip = (page.page - 1) * page.limit;
    uint64_t hi = total > skip ? total - skip : 0;
    uint64_t lo = hi > page.limit ? hi - page.limit : 0;
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "deliveries");
    uint64_t pos = 0;
    if (rc == 0 && hi > 0) {
        store_iter_open(&it, &t, DB_DELIVERY, ctx->ws, ctx->ws_len, NULL, 0);
        while (pos < hi && (rc = store_iter_next(&it)) == 1) {
            if (it.key.len != klen)
                continue;
            cJSON *d = pos >= lo ? cJSON_ParseWithLength(it.val.ptr, it.val.len) : NULL;
            if (d)
                cJSON_InsertItemInArray(arr, 0, d);
            pos++;
        }
        store_iter_close(&it);
    }
    store_read_end(&t);
    if (rc < 0) {
        cJSON_Delete(root);
        api_respond_internal(req, rc);
        return;
    }
    api_add_pagination(root, &page, total);
    api_respond_json(req, 200, root);
}
