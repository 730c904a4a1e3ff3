/* The workspace export format. The decoder is a state machine over bytes: each part of a record
 * (tag, name length, name, key length, key, value length, value) is collected in one buffer until
 * it is complete, so the file may arrive split at any byte. */
#include "store/wsfile.h"

#include <stdio.h>
#include <string.h>

#include "store/records.h"
#include "util/err.h"

#define TAG_RECORD  'R'
#define TAG_TRAILER 'E'

/* ---- encoder ---- */

static int put(struct wsfile_enc *e, const void *p, size_t n, int hashed)
{
    if (e->err)
        return e->err;
    if (hashed)
        crypto_sha256_update(&e->sha, p, n);
    int rc = e->write(e->arg, p, n);
    if (rc)
        return e->err = rc;
    e->bytes += n;
    return 0;
}

static int ws_ok(const char *ws)
{
    size_t n = strlen(ws);
    if (n == 0 || n >= ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (ws[i] <= ' ' || ws[i] > '~')
            return 0;
    return 1;
}

int wsfile_enc_begin(struct wsfile_enc *e, const char *ws, wsfile_write_fn write, void *arg)
{
    memset(e, 0, sizeof *e);
    e->write = write;
    e->arg = arg;
    if (!ws_ok(ws))
        return e->err = BC_EINVAL;
    if (crypto_sha256_begin(&e->sha) != 0)
        return e->err = BC_ENOMEM;
    char head[WSFILE_HEADER_MAX];
    int n = snprintf(head, sizeof head, "%s %d %s\n", WSFILE_MAGIC, WSFILE_VERSION, ws);
    return put(e, head, (size_t)n, 1);
}

int wsfile_enc_record(struct wsfile_enc *e, const char *table, const void *key, size_t klen,
                      const void *val, size_t vlen)
{
    size_t tlen = strlen(table);
    if (tlen == 0 || tlen > WSFILE_NAME_MAX || klen == 0 || klen > WSFILE_KEY_MAX ||
        vlen > WSFILE_VALUE_MAX)
        return BC_ETOOBIG;
    uint8_t head[2 + WSFILE_NAME_MAX + 4];
    head[0] = TAG_RECORD;
    head[1] = (uint8_t)tlen;
    memcpy(head + 2, table, tlen);
    be32_put(head + 2 + tlen, (uint32_t)klen);
    uint8_t vl[4];
    be32_put(vl, (uint32_t)vlen);
    put(e, head, 2 + tlen + 4, 1);
    put(e, key, klen, 1);
    put(e, vl, 4, 1);
    if (vlen)
        put(e, val, vlen, 1);
    if (!e->err)
        e->records++;
    return e->err;
}

int wsfile_enc_end(struct wsfile_enc *e, uint8_t sha[SHA256_LEN])
{
    if (e->err) {
        crypto_sha256_free(&e->sha);
        return e->err;
    }
    uint8_t t[1 + 8 + SHA256_LEN];
    t[0] = TAG_TRAILER;
    be64_put(t + 1, e->records);
    if (crypto_sha256_end(&e->sha, t + 9) != 0)
        return e->err = BC_ENOMEM;
    if (sha)
        memcpy(sha, t + 9, SHA256_LEN);
    return put(e, t, sizeof t, 0);
}

void wsfile_enc_free(struct wsfile_enc *e)
{
    crypto_sha256_free(&e->sha);
}

/* ---- decoder ---- */

enum dec_state {
    S_HEADER,
    S_TAG,
    S_TLEN,
    S_NAME,
    S_KLEN,
    S_KEY,
    S_VLEN,
    S_VAL,
    S_TRAILER,
    S_DONE,
};

static int fail(struct wsfile_dec *d, uint64_t at, const char *what)
{
    snprintf(d->msg, sizeof d->msg, "%s at byte %llu", what, (unsigned long long)at);
    return d->err = BC_ECORRUPT;
}

int wsfile_dec_init(struct wsfile_dec *d, wsfile_record_fn fn, void *arg)
{
    memset(d, 0, sizeof *d);
    d->fn = fn;
    d->arg = arg;
    d->state = S_HEADER;
    if (crypto_sha256_begin(&d->sha) != 0)
        return d->err = BC_ENOMEM;
    return 0;
}

void wsfile_dec_free(struct wsfile_dec *d)
{
    buf_free(&d->part);
    crypto_sha256_free(&d->sha);
}

/* "BCWSX <version> <workspace>" (the newline already removed). */
static int parse_header(struct wsfile_dec *d)
{
    char line[WSFILE_HEADER_MAX + 1];
    memcpy(line, d->part.data, d->part.len);
    line[d->part.len] = '\0';
    char magic[8], ws[ID_MAX + 1];
    int version, end = 0;
    if (sscanf(line, "%7s %d %40s%n", magic, &version, ws, &end) != 3 ||
        strcmp(magic, WSFILE_MAGIC) != 0 || (size_t)end != d->part.len)
        return fail(d, 0,
                    "not a batchcalld workspace export (the first line must be \"" WSFILE_MAGIC
                    " <version> <workspace id>\")");
    if (version != WSFILE_VERSION) {
        char m[120];
        snprintf(m, sizeof m, "format version %d; this server reads version %d only", version,
                 WSFILE_VERSION);
        return fail(d, 0, m);
    }
    if (strlen(ws) >= ID_MAX)
        return fail(d, 0, "the workspace id in the header is too long");
    d->version = version;
    memcpy(d->ws, ws, strlen(ws) + 1);
    return 0;
}

/* The part collected in d->part is complete: act on it and say what comes next. */
static int step(struct wsfile_dec *d)
{
    const uint8_t *p = (const uint8_t *)d->part.data;
    switch (d->state) {
    case S_TAG:
        if (p[d->part.len - 1] == TAG_TRAILER) {
            d->part.len = 0;
            d->state = S_TRAILER;
            d->need = sizeof d->trailer;
            return 0;
        }
        if (p[d->part.len - 1] != TAG_RECORD)
            return fail(d, d->record_offset, "a record or the trailer was expected");
        d->state = S_TLEN;
        d->need = 1;
        return 0;
    case S_TLEN:
        d->tlen = p[1];
        if (d->tlen == 0 || d->tlen > WSFILE_NAME_MAX)
            return fail(d, d->record_offset, "a table name of 1 to 32 bytes was expected");
        d->state = S_NAME;
        d->need = d->tlen;
        return 0;
    case S_NAME:
        d->state = S_KLEN;
        d->need = 4;
        return 0;
    case S_KLEN:
        d->klen = be32_get(p + d->part.len - 4);
        if (d->klen == 0 || d->klen > WSFILE_KEY_MAX)
            return fail(d, d->record_offset, "a key of 1 to 511 bytes was expected");
        d->state = S_KEY;
        d->need = d->klen;
        return 0;
    case S_KEY:
        d->state = S_VLEN;
        d->need = 4;
        return 0;
    case S_VLEN:
        d->vlen = be32_get(p + d->part.len - 4);
        if (d->vlen > WSFILE_VALUE_MAX)
            return fail(d, d->record_offset, "a value over 64 MiB");
        d->state = S_VAL;
        d->need = d->vlen;
        if (d->need)
            return 0;
        __attribute__((fallthrough)); /* an empty value is complete at once */
    case S_VAL: {
        struct wsfile_record r = {
            .table = (const char *)p + 2,
            .tlen = d->tlen,
            .key = p + 2 + d->tlen + 4,
            .klen = d->klen,
            .val = p + 2 + d->tlen + 4 + d->klen + 4,
            .vlen = d->vlen,
            .offset = d->record_offset,
        };
        crypto_sha256_update(&d->sha, p, d->part.len);
        d->records++;
        int rc = d->fn ? d->fn(d->arg, &r) : 0;
        if (rc)
            return d->err = rc;
        d->part.len = 0;
        d->state = S_TAG;
        d->record_offset = d->offset;
        d->need = 1;
        return 0;
    }
    case S_TRAILER: {
        memcpy(d->trailer, p, sizeof d->trailer);
        uint8_t sha[SHA256_LEN];
        if (crypto_sha256_end(&d->sha, sha) != 0)
            return d->err = BC_ENOMEM;
        if (be64_get(d->trailer) != d->records)
            return fail(d, d->record_offset,
                        "the trailer's record count does not match the "
                        "records read (the file is corrupt)");
        if (!crypto_equal(sha, d->trailer + 8, SHA256_LEN))
            return fail(d, d->record_offset,
                        "the SHA-256 in the trailer does not match the contents (the file is "
                        "corrupt)");
        d->state = S_DONE;
        d->done = 1;
        return 0;
    }
    }
    return fail(d, d->offset, "internal decoder state");
}

int wsfile_dec_feed(struct wsfile_dec *d, const void *data, size_t n)
{
    const uint8_t *p = data;
    while (n && !d->err) {
        if (d->state == S_DONE)
            return fail(d, d->offset, "data after the trailer");
        if (d->state == S_HEADER) {
            const uint8_t *nl = memchr(p, '\n', n);
            size_t take = nl ? (size_t)(nl - p) + 1 : n;
            if (d->part.len + take > WSFILE_HEADER_MAX)
                return fail(d, 0, "not a batchcalld workspace export (no header line)");
            crypto_sha256_update(&d->sha, p, take);
            if (buf_append(&d->part, p, take) != 0)
                return d->err = BC_ENOMEM;
            d->offset += take;
            p += take;
            n -= take;
            if (nl) {
                d->part.len--; /* the newline */
                if (parse_header(d) != 0)
                    return d->err;
                d->part.len = 0;
                d->state = S_TAG;
                d->record_offset = d->offset;
                d->need = 1;
            }
            continue;
        }
        size_t take = n < d->need ? n : d->need;
        if (buf_append(&d->part, p, take) != 0)
            return d->err = BC_ENOMEM;
        d->offset += take;
        d->need -= take;
        p += take;
        n -= take;
        if (d->need == 0 && step(d) != 0)
            return d->err;
    }
    return d->err;
}

int wsfile_dec_finish(struct wsfile_dec *d)
{
    if (d->err)
        return d->err;
    if (d->done)
        return 0;
    if (d->state == S_HEADER)
        return fail(d, d->offset, "the file ends before its header line (empty or truncated)");
    return fail(d, d->offset, "the file ends before its trailer (truncated)");
}
