/* Export, import and drop of one workspace. Writes go through store_write, whose function may run
 * again after the map grew: each transaction's work is therefore held in memory first (a chunk
 * of at most CHUNK_RECORDS records or CHUNK_BYTES bytes) and only then written, so a replay
 * writes the same thing. */
#include "model/wsmove.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/workspace.h"
#include "store/records.h"
#include "util/clock.h"
#include "util/err.h"

#define CHUNK_RECORDS 4096
#define CHUNK_BYTES   (4u << 20)
#define READ_SIZE     65536

_Static_assert(WSMOVE_MAX_TABLES >= 18, "room for every table of records_ws_tables");

static size_t table_index(const struct records_ws_table *tb)
{
    return (size_t)(tb - records_ws_tables);
}

cJSON *wsmove_report_json(const struct wsmove_report *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "workspaceId", r->ws);
    cJSON_AddNumberToObject(o, "records", (double)r->records);
    cJSON *t = cJSON_AddObjectToObject(o, "tables");
    for (size_t i = 0; i < records_ws_ntables && i < WSMOVE_MAX_TABLES; i++)
        cJSON_AddNumberToObject(t, records_ws_tables[i].name, (double)r->per_table[i]);
    cJSON_AddBoolToObject(o, "frozen", r->frozen);
    return o;
}

static void workspace_of(struct records_ws *w, const char *ws)
{
    memset(w, 0, sizeof *w);
    w->ws = ws;
    w->wslen = strlen(ws);
}

/* ---- status ---- */

static int status_txn(struct store_txn *t, const char *ws, struct wsmove_status *out)
{
    memset(out, 0, sizeof *out);
    struct ws_settings settings;
    int rc = workspace_get(t, ws, strlen(ws), &settings);
    if (rc)
        return rc;
    out->frozen = settings.frozen;
    struct records_ws w;
    workspace_of(&w, ws);
    rc = records_ws_batches(t, &w, 1);
    for (size_t i = 0; !rc && i < w.nbatches; i++) {
        struct batch_rec b;
        if (batch_get(t, w.batches[i], BATCH_ID_LEN, &b) != 0)
            continue;
        if (b.status == BATCH_STAGING) {
            out->uploads++;
            continue;
        }
        out->batches++;
        out->calls += b.total;
        out->calls_in_progress += b.active;
        out->waiting += b.waiting;
    }
    records_ws_free(&w);
    return rc;
}

int wsmove_status(struct store *s, const char *ws, struct wsmove_status *out)
{
    struct store_txn t;
    int rc = store_read_begin(s, &t);
    if (rc)
        return rc;
    rc = status_txn(&t, ws, out);
    store_read_end(&t);
    return rc;
}

/* ---- export ---- */

struct export_ctx {
    struct wsfile_enc enc;
    const struct records_ws_table *tb;
    struct wsmove_report *r;
};

static int export_visit(void *arg, const struct store_val *key, const struct store_val *val)
{
    struct export_ctx *c = arg;
    int rc = wsfile_enc_record(&c->enc, c->tb->name, key->ptr, key->len, val->ptr, val->len);
    if (rc)
        return rc;
    c->r->per_table[table_index(c->tb)]++;
    c->r->records++;
    return 0;
}

int wsmove_export(struct store *s, const char *ws, wsfile_write_fn write, void *arg,
                  struct wsmove_report *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->ws, sizeof r->ws, "%s", ws);
    struct store_txn t;
    int rc = store_read_begin(s, &t);
    if (rc)
        return rc;
    struct ws_settings settings;
    struct records_ws w;
    workspace_of(&w, ws);
    struct export_ctx c = {.r = r};
    rc = workspace_get(&t, ws, strlen(ws), &settings);
    if (!rc)
        rc = records_ws_batches(&t, &w, 0);
    if (!rc) {
        r->frozen = settings.frozen;
        rc = wsfile_enc_begin(&c.enc, ws, write, arg);
    }
    for (size_t i = 0; !rc && i < records_ws_ntables; i++) {
        c.tb = &records_ws_tables[i];
        rc = records_ws_walk(&t, c.tb, &w, NULL, 0, export_visit, &c);
    }
    if (!rc)
        rc = wsfile_enc_end(&c.enc, r->sha);
    else
        wsfile_enc_free(&c.enc);
    r->bytes = c.enc.bytes;
    records_ws_free(&w);
    store_read_end(&t);
    return rc;
}

/* ---- import ---- */

enum import_pass { P_FRAME, P_OWN, P_BULK, P_LAST };

/* Records held for one transaction: table index (u8), key length, value length (u32, host
 * order), key, value; one after another. */
struct chunk {
    struct buf data;
    size_t n;
    uint64_t sid_conflicts; /* counted by the transaction (reset when it runs again) */
    uint64_t outbox_base;
    int last;    /* the final transaction: also the outbox, the workspace record */
    int replace; /* the workspace may exist (it was dropped just before) */
};

struct import_ctx {
    struct store *s;
    struct wsmove_report *r;
    struct records_ws w;
    char ws[ID_MAX];
    enum import_pass pass;
    int have_ws;
    struct chunk ch;
    const struct wsfile_dec *dec; /* of the current pass: its header names the workspace */
};

static int bad(struct import_ctx *c, uint64_t at, const char *fmt, const char *a, const char *b)
{
    char what[200];
    snprintf(what, sizeof what, fmt, a, b);
    snprintf(c->r->msg, sizeof c->r->msg, "%s at byte %llu", what, (unsigned long long)at);
    return BC_ECORRUPT;
}

static int chunk_add(struct chunk *ch, size_t ti, const struct wsfile_record *rec)
{
    uint8_t head[9];
    uint32_t kl = (uint32_t)rec->klen, vl = (uint32_t)rec->vlen;
    head[0] = (uint8_t)ti;
    memcpy(head + 1, &kl, 4);
    memcpy(head + 5, &vl, 4);
    int rc = buf_append(&ch->data, head, sizeof head);
    if (!rc)
        rc = buf_append(&ch->data, rec->key, rec->klen);
    if (!rc && rec->vlen)
        rc = buf_append(&ch->data, rec->val, rec->vlen);
    if (!rc)
        ch->n++;
    return rc;
}

static int put_sid(struct store_txn *t, struct chunk *ch, const void *k, size_t kl, const void *v,
                   size_t vl)
{
    int rc = store_put(t, DB_SID, k, kl, v, vl, STORE_NOOVERWRITE);
    if (rc != BC_EEXIST)
        return rc;
    struct store_val old;
    rc = store_get(t, DB_SID, k, kl, &old);
    if (rc)
        return rc;
    if (old.len != vl || memcmp(old.ptr, v, vl) != 0)
        ch->sid_conflicts++; /* another call here has this id: it keeps it */
    return 0;
}

static int chunk_txn(struct store_txn *t, void *arg)
{
    struct chunk *ch = arg;
    ch->sid_conflicts = 0;
    uint64_t seq = ch->outbox_base;
    const char *p = ch->data.data, *end = p + ch->data.len;
    int rc = 0;
    while (!rc && p < end) {
        uint32_t kl, vl;
        const struct records_ws_table *tb = &records_ws_tables[(uint8_t)p[0]];
        memcpy(&kl, p + 1, 4);
        memcpy(&vl, p + 5, 4);
        const char *k = p + 9, *v = k + kl;
        p = v + vl;
        if (tb->db == DB_WS && !ch->replace) {
            struct store_val old;
            rc = store_get(t, DB_WS, k, kl, &old);
            if (rc == 0)
                return BC_EEXIST;
            if (rc != BC_ENOTFOUND)
                return rc;
        }
        if (tb->db == DB_SID) {
            rc = put_sid(t, ch, k, kl, v, vl);
        } else if (tb->db == DB_OUTBOX) {
            uint8_t key[OUTBOX_KEY_LEN];
            rc = store_put(t, DB_OUTBOX, key, outbox_key(key, seq++), v, vl, STORE_NOOVERWRITE);
        } else {
            rc = store_put(t, tb->db, k, kl, v, vl, 0);
        }
    }
    if (!rc && ch->last)
        rc = records_fleet_gen_bump(t);
    return rc;
}

/* The final transaction numbers the outbox entries above every sequence of this store. */
static int last_txn(struct store_txn *t, void *arg)
{
    struct chunk *ch = arg;
    int rc = records_outbox_import_base(t, clock_now_ms(), &ch->outbox_base);
    return rc ? rc : chunk_txn(t, arg);
}

static int flush(struct import_ctx *c)
{
    if (!c->ch.n)
        return 0;
    int rc = store_write(c->s, c->ch.last ? last_txn : chunk_txn, &c->ch);
    c->r->sid_conflicts += c->ch.sid_conflicts;
    c->ch.data.len = 0;
    c->ch.n = 0;
    return rc;
}

static int check_frame(struct import_ctx *c, const struct records_ws_table *tb,
                       const struct wsfile_record *rec)
{
    if (tb->db == DB_BATCH) {
        struct batch_rec b;
        struct store_val v = {rec->val, rec->vlen};
        if (batch_decode(&v, &b) != 0 || strcmp(b.ws, c->ws) != 0 || strlen(b.id) != rec->klen ||
            memcmp(b.id, rec->key, rec->klen) != 0 || b.status == BATCH_STAGING)
            return bad(c, rec->offset, "a batch record that is not a batch of workspace %s%s",
                       c->ws, "");
        return records_ws_add_batch(&c->w, rec->key, rec->klen);
    }
    if (tb->db == DB_WS) {
        struct ws_settings ws;
        if (c->have_ws || workspace_decode(rec->val, rec->vlen, &ws) != 0 ||
            strcmp(ws.id, c->ws) != 0)
            return bad(c, rec->offset, "a workspace record that is not the one of %s%s", c->ws,
                       " (or a second one)");
        c->have_ws = 1;
        c->r->frozen = ws.frozen;
    }
    return 0;
}

static int import_record(void *arg, const struct wsfile_record *rec)
{
    struct import_ctx *c = arg;
    if (strcmp(c->ws, c->dec->ws) != 0) {
        if (c->pass != P_FRAME)
            return bad(c, rec->offset, "the file changed while it was imported (%s%s)", c->ws, "");
        snprintf(c->ws, sizeof c->ws, "%s", c->dec->ws);
        c->w.wslen = strlen(c->ws);
    }
    const struct records_ws_table *tb = records_ws_table_named(rec->table, rec->tlen);
    char name[WSFILE_NAME_MAX + 1];
    snprintf(name, sizeof name, "%.*s", (int)rec->tlen, rec->table);
    if (!tb)
        return bad(c, rec->offset,
                   "table \"%s\" is not one this server knows%s; import it with the same or a "
                   "newer version than the one that exported it",
                   name, "");
    size_t ti = table_index(tb);
    switch (c->pass) {
    case P_FRAME:
        c->r->per_table[ti]++;
        c->r->records++;
        return check_frame(c, tb, rec);
    case P_OWN: {
        struct store_val k = {rec->key, rec->klen}, v = {rec->val, rec->vlen};
        if (!records_ws_owns(tb, &c->w, &k, &v))
            return bad(c, rec->offset, "a record of table \"%s\" that does not belong to %s", name,
                       c->ws);
        return 0;
    }
    case P_BULK:
        if (tb->last)
            return 0;
        if (chunk_add(&c->ch, ti, rec) != 0)
            return BC_ENOMEM;
        return c->ch.n >= CHUNK_RECORDS || c->ch.data.len >= CHUNK_BYTES ? flush(c) : 0;
    case P_LAST:
        return tb->last ? chunk_add(&c->ch, ti, rec) : 0;
    }
    return 0;
}

/* Runs the file through a decoder with import_record for the current pass. */
static int read_pass(struct import_ctx *c, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(c->r->msg, sizeof c->r->msg, "cannot open %s: %s", path, strerror(errno));
        return BC_EIO;
    }
    struct wsfile_dec d;
    int rc = wsfile_dec_init(&d, import_record, c);
    c->dec = &d;
    static char block[READ_SIZE];
    size_t n;
    while (!rc && (n = fread(block, 1, sizeof block, f)) > 0)
        rc = wsfile_dec_feed(&d, block, n);
    if (!rc && ferror(f)) {
        snprintf(c->r->msg, sizeof c->r->msg, "cannot read %s: %s", path, strerror(errno));
        rc = BC_EIO;
    }
    if (!rc)
        rc = wsfile_dec_finish(&d);
    if (rc == BC_ECORRUPT && d.msg[0])
        snprintf(c->r->msg, sizeof c->r->msg, "%s", d.msg);
    if (c->pass == P_FRAME && d.ws[0])
        snprintf(c->ws, sizeof c->ws, "%s", d.ws);
    wsfile_dec_free(&d);
    fclose(f);
    return rc;
}

int wsmove_import(struct store *s, const char *path, int replace, struct wsmove_report *r)
{
    memset(r, 0, sizeof *r);
    struct import_ctx c = {.s = s, .r = r};
    workspace_of(&c.w, c.ws);
    int rc;
    c.pass = P_FRAME;
    rc = read_pass(&c, path);
    c.w.wslen = strlen(c.ws);
    snprintf(r->ws, sizeof r->ws, "%s", c.ws);
    if (!rc && !c.have_ws)
        rc = bad(&c, 0, "the file holds no workspace record for %s%s", c.ws, "");
    if (!rc) {
        c.pass = P_OWN;
        rc = read_pass(&c, path);
    }
    struct wsmove_status st;
    int exists = 0;
    if (!rc) {
        int e = wsmove_status(s, c.ws, &st);
        exists = e == 0;
        if (e && e != BC_ENOTFOUND)
            rc = e;
    }
    if (!rc && exists && !replace) {
        snprintf(r->msg, sizeof r->msg,
                 "workspace %s exists on this instance; drop it first, or import with --replace "
                 "(which drops it)",
                 c.ws);
        rc = BC_EEXIST;
    }
    if (!rc && exists) {
        struct wsmove_report dr;
        rc = wsmove_drop(s, c.ws, 1, &dr);
        if (rc)
            snprintf(r->msg, sizeof r->msg, "%s", dr.msg);
        r->replaced = rc == 0;
    }
    c.ch.replace = replace;
    if (!rc) {
        c.pass = P_BULK;
        rc = read_pass(&c, path);
    }
    if (!rc)
        rc = flush(&c);
    if (!rc) {
        c.pass = P_LAST;
        c.ch.last = 1;
        rc = read_pass(&c, path);
    }
    if (!rc)
        rc = flush(&c);
    if (rc == BC_EEXIST && !r->msg[0])
        snprintf(r->msg, sizeof r->msg, "workspace %s was created here while it was imported",
                 c.ws);
    buf_free(&c.ch.data);
    records_ws_free(&c.w);
    return rc;
}

/* ---- drop ---- */

struct drop_ctx {
    const struct records_ws_table *tb;
    const struct records_ws *w;
    uint8_t start[WSFILE_KEY_MAX], next[WSFILE_KEY_MAX];
    size_t slen, nlen;
    int has_start;
    struct buf keys; /* u32 length (host order), key; one after another */
    size_t n;
};

static int drop_collect(void *arg, const struct store_val *key, const struct store_val *val)
{
    (void)val;
    struct drop_ctx *c = arg;
    uint32_t kl = (uint32_t)key->len;
    if (key->len > sizeof c->next || buf_append(&c->keys, &kl, 4) != 0 ||
        buf_append(&c->keys, key->ptr, key->len) != 0)
        return BC_ENOMEM;
    memcpy(c->next, key->ptr, key->len);
    c->nlen = key->len;
    return ++c->n >= CHUNK_RECORDS;
}

static int drop_txn(struct store_txn *t, void *arg)
{
    struct drop_ctx *c = arg;
    c->keys.len = 0;
    c->n = 0;
    int rc = records_ws_walk(t, c->tb, c->w, c->has_start ? c->start : NULL,
                             c->has_start ? c->slen : 0, drop_collect, c);
    if (rc < 0)
        return rc;
    for (const char *p = c->keys.data, *end = p + c->keys.len; p < end && !t->err;) {
        uint32_t kl;
        memcpy(&kl, p, 4);
        store_del(t, c->tb->db, p + 4, kl);
        p += 4 + kl;
    }
    if (c->tb->db == DB_WS)
        records_fleet_gen_bump(t);
    return t->err;
}

int wsmove_drop(struct store *s, const char *ws, int force, struct wsmove_report *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->ws, sizeof r->ws, "%s", ws);
    struct wsmove_status st;
    int rc = wsmove_status(s, ws, &st);
    if (rc == BC_ENOTFOUND)
        snprintf(r->msg, sizeof r->msg, "workspace %s is not held here", ws);
    if (rc)
        return rc;
    r->frozen = st.frozen;
    if (!st.frozen) {
        snprintf(r->msg, sizeof r->msg,
                 "workspace %s is not frozen: freeze it first (batchcalld admin workspace freeze "
                 "--workspace %s), so the server stops dialling it",
                 ws, ws);
        return BC_EBUSY;
    }
    if (st.calls_in_progress && !force) {
        snprintf(r->msg, sizeof r->msg,
                 "workspace %s has %llu calls in progress: wait until admin workspace status "
                 "shows callsInProgress 0, or drop with --force",
                 ws, (unsigned long long)st.calls_in_progress);
        return BC_EBUSY;
    }
    struct store_txn t;
    struct records_ws w;
    workspace_of(&w, ws);
    rc = store_read_begin(s, &t);
    if (!rc) {
        rc = records_ws_batches(&t, &w, 1);
        store_read_end(&t);
    }
    struct drop_ctx c = {.w = &w};
    /* In table order: API keys first (the workspace stops answering), batch records after their
     * calls (a restart in between still finds what is left), the workspace record last (a drop
     * cut short is run again). */
    for (size_t i = 0; !rc && i < records_ws_ntables; i++) {
        c.tb = &records_ws_tables[i];
        c.has_start = 0;
        do {
            rc = store_write(s, drop_txn, &c);
            if (rc)
                break;
            r->per_table[i] += c.n;
            r->records += c.n;
            memcpy(c.start, c.next, c.nlen);
            c.slen = c.nlen;
            c.has_start = 1;
        } while (c.n >= CHUNK_RECORDS);
    }
    buf_free(&c.keys);
    records_ws_free(&w);
    return rc;
}
