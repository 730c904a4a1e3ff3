#include "store/records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/json.h"

uint32_t be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

uint64_t be64_get(const uint8_t *p)
{
    return (uint64_t)be32_get(p) << 32 | be32_get(p + 4);
}

void be64_put(uint8_t *p, uint64_t v)
{
    be32_put(p, (uint32_t)(v >> 32));
    be32_put(p + 4, (uint32_t)v);
}

int batch_get(struct store_txn *t, const char *id, size_t len, struct batch_rec *out)
{
    struct store_val v;
    int rc = store_get(t, DB_BATCH, id, len, &v);
    return rc ? rc : batch_decode(&v, out);
}

int batch_decode(const struct store_val *v, struct batch_rec *out)
{
    /* Records written before the compliance counters are shorter: those counters were 0. */
    if (v->len != sizeof *out && v->len != BATCH_REC_V1_LEN)
        return BC_ECORRUPT;
    memset(out, 0, sizeof *out);
    memcpy(out, v->ptr, v->len);
    return out->version == RECORD_VERSION ? 0 : BC_ECORRUPT;
}

int batch_put(struct store_txn *t, const struct batch_rec *b)
{
    return store_put(t, DB_BATCH, b->id, strlen(b->id), b, sizeof *b, 0);
}

int finalseq_put(struct store_txn *t, const char *batch, uint32_t seq, uint32_t row)
{
    uint8_t key[JOB_KEY_MAX], v[4];
    be32_put(v, row);
    return store_put(t, DB_FINALSEQ, key, finalseq_key(key, batch, seq), v, sizeof v, 0);
}

int finalseq_decode(const struct store_val *key, const struct store_val *val, size_t blen,
                    uint32_t *seq, uint32_t *row)
{
    if (key->len != blen + 4 || val->len != 4)
        return BC_ECORRUPT;
    *seq = be32_get((const uint8_t *)key->ptr + blen);
    *row = be32_get(val->ptr);
    return 0;
}

int due_key_decode(const struct store_val *key, size_t blen, uint64_t *due_ms, uint32_t *row)
{
    if (key->len != blen + 12)
        return BC_ECORRUPT;
    const uint8_t *p = (const uint8_t *)key->ptr + blen;
    *due_ms = be64_get(p);
    *row = be32_get(p + 8);
    return 0;
}

size_t usage_key(uint8_t *out, const char *ws, uint64_t at_ms, const char *batch, uint32_t row,
                 uint32_t seq)
{
    size_t wl = strlen(ws), bl = strlen(batch);
    memcpy(out, ws, wl);
    be64_put(out + wl, at_ms);
    memcpy(out + wl + 8, batch, bl);
    be32_put(out + wl + 8 + bl, row);
    be32_put(out + wl + 12 + bl, seq);
    return wl + 16 + bl;
}

size_t sid_value(uint8_t *out, const char *batch, uint32_t row, uint32_t seq)
{
    size_t bl = strlen(batch);
    memcpy(out, batch, bl);
    be32_put(out + bl, row);
    be32_put(out + bl + 4, seq);
    return bl + 8;
}

uint32_t jobstate_key_row(const struct store_val *key)
{
    return key->len >= 4 ? be32_get((const uint8_t *)key->ptr + key->len - 4) : 0;
}

size_t ws2batch_key(uint8_t *out, const char *ws, size_t wslen, uint64_t created_ms,
                    const char *batch, size_t blen)
{
    memcpy(out, ws, wslen);
    be64_put(out + wslen, ~created_ms);
    for (size_t i = 0; i < blen; i++)
        out[wslen + 8 + i] = (uint8_t) ~(uint8_t)batch[i];
    return wslen + 8 + blen;
}

size_t ws2batch_batch(const struct store_val *key, size_t wslen, char out[ID_MAX])
{
    if (key->len <= wslen + 8 || key->len - wslen - 8 >= ID_MAX)
        return 0;
    size_t n = key->len - wslen - 8;
    const uint8_t *p = (const uint8_t *)key->ptr + wslen + 8;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(uint8_t)~p[i];
    out[n] = '\0';
    return n;
}

/* The batch id as keys of jobs hold it: for "batch_" + ULID (every id the server makes), the
 * ULID's 16 bytes, big-endian, so keys sort as the ids do and are half as long; any other id as
 * written. Returns the length written. */
size_t batch_key_prefix(uint8_t *out, const char *batch)
{
    size_t n = strlen(batch);
    if (n == BATCH_ID_LEN && memcmp(batch, "batch_", 6) == 0 && batch[6] <= '7') {
        /* Built for every key of a job, several times per call: no branch per digit, one test
         * of all of them at the end (a character that is no digit gives -1, all bits set). */
        const char *u = batch + 6;
        uint64_t a = 0, b = 0; /* digits 0-12 (63 bits), 13-24 (60 bits); digit 25 is 5 bits */
        unsigned bad = 0;
        for (size_t i = 0; i < 13; i++) {
            unsigned d = (unsigned)id_digit_value(u[i]);
            bad |= d;
            a = a << 5 | (d & 31u);
        }
        for (size_t i = 13; i < 25; i++) {
            unsigned d = (unsigned)id_digit_value(u[i]);
            bad |= d;
            b = b << 5 | (d & 31u);
        }
        unsigned c = (unsigned)id_digit_value(u[25]);
        if ((bad | c) < 32) {
            be64_put(out, a << 1 | b >> 59);
            be64_put(out + 8, b << 5 | c);
            return KEY_BATCH_BIN;
        }
    }
    memcpy(out, batch, n);
    return n;
}

void batch_add_recent(struct batch_rec *b, uint32_t row)
{
    /* Newest first, each call once: a call that ends again (after a retry) moves to the front. */
    uint32_t n = b->recent_count, i = 0;
    while (i < n && b->recent[i] != row)
        i++;
    if (i == n && n < RECENT_CALLS)
        b->recent_count = ++n;
    if (i == n)
        i = n - 1;
    memmove(b->recent + 1, b->recent, i * sizeof b->recent[0]);
    b->recent[0] = row;
}

size_t due_key(uint8_t *out, const char *batch, uint64_t due_ms, uint32_t row)
{
    size_t n = strlen(batch);
    memcpy(out, batch, n);
    be64_put(out + n, due_ms);
    be32_put(out + n + 8, row);
    return n + 12;
}

size_t finalseq_key(uint8_t *out, const char *batch, uint32_t seq)
{
    return job_key(out, batch, seq);
}

size_t statecount_key(uint8_t *out, const char *batch, uint8_t state, uint32_t block)
{
    return jobstate_key(out, batch, state, block);
}

int records_counter_add(struct store_txn *t, enum store_db db, const uint8_t *key, size_t klen,
                        int32_t delta)
{
    struct store_val v;
    uint32_t n = 0;
    int rc = store_get(t, db, key, klen, &v);
    if (rc == 0 && v.len == sizeof n)
        memcpy(&n, v.ptr, sizeof n);
    else if (rc && rc != BC_ENOTFOUND)
        return rc;
    n = delta < 0 && n < (uint32_t)-delta ? 0 : n + (uint32_t)delta;
    if (n == 0)
        return rc == 0 ? store_del(t, db, key, klen) : 0;
    return store_put(t, db, key, klen, &n, sizeof n, 0);
}

int statecount_add(struct store_txn *t, const char *batch, uint8_t state, uint32_t row,
                   int32_t delta)
{
    uint8_t key[JOB_KEY_MAX];
    size_t klen = statecount_key(key, batch, state, row >> STATE_BLOCK_SHIFT);
    return records_counter_add(t, DB_STATECOUNT, key, klen, delta);
}

/* ---- Job records ----
 *
 * Version 2 (JOB_RECORD_VERSION): the version byte; a LEB128 bit set, bit i + 2 saying that
 * job_fields[i] differs from its default and follows, in table order (integers as LEB128, signed
 * ones zigzagged after subtracting the default, doubles as their 8 bytes, strings as a length
 * byte and the bytes); when bit 0 (NUMBER_IS_FIELD) is set, then a LEB128 k: e164 is the k-th
 * CSV field as written (the usual case: the number was written in E.164), so it is stored once
 * and its own bit is clear; when bit 1 (HAS_ERROR) is set, then the error text (LEB128 length,
 * bytes). Then the CSV fields: a LEB128 count, then per field a LEB128 length and the bytes. A
 * job waiting for its first dial takes its CSV bytes, a byte per field and four more.
 *
 * Version 1, written before: struct job_head_v1 as memory, the error (u32 BE length, bytes), the
 * fields (u16 BE length, bytes each). It still decodes; a job rewritten is written as version 2. */
struct job_head_v1 {
    uint8_t version, state, outcome, attempts, normalized, retry_base, connected, reserved;
    uint32_t dup_of, nfields, seq;
    int32_t last_sequence;
    uint32_t provider_errors, reserved2;
    uint64_t start_ms, end_ms, next_attempt_ms;
    double duration;
    char e164[20];
    char call_id[40];
};

enum job_field_kind { JF_UINT, JF_INT, JF_DOUBLE, JF_STRING };
struct job_field {
    uint16_t off, size;
    uint8_t kind;
    int8_t dflt; /* the value a new job has: omitted when equal */
};
#define JOB_FIELD(name, kind, dflt)                                                                \
    {                                                                                              \
        offsetof(struct job_head, name), sizeof(((struct job_head *)0)->name), kind, dflt          \
    }
/* The stored order: a field added to struct job_head is added here, AT THE END (a record's bit
 * set names fields by position), with the value that a record without it means. At most 62. */
static const struct job_field job_fields[] = {
    JOB_FIELD(state, JF_UINT, JOB_WAITING), JOB_FIELD(outcome, JF_UINT, 0),
    JOB_FIELD(attempts, JF_UINT, 0),        JOB_FIELD(normalized, JF_UINT, 0),
    JOB_FIELD(retry_base, JF_UINT, 0),      JOB_FIELD(connected, JF_UINT, 0),
    JOB_FIELD(dup_of, JF_UINT, 0),          JOB_FIELD(seq, JF_UINT, 0),
    JOB_FIELD(last_sequence, JF_INT, -1),   JOB_FIELD(provider_errors, JF_UINT, 0),
    JOB_FIELD(start_ms, JF_UINT, 0),        JOB_FIELD(end_ms, JF_UINT, 0),
    JOB_FIELD(next_attempt_ms, JF_UINT, 0), JOB_FIELD(duration, JF_DOUBLE, 0),
    JOB_FIELD(e164, JF_STRING, 0),          JOB_FIELD(call_id, JF_STRING, 0),
    JOB_FIELD(held, JF_UINT, HELD_NONE),
};
#define JOB_FIELD_COUNT (sizeof job_fields / sizeof job_fields[0])
/* A new job's head: every field at its dflt. */
static const struct job_head head_default = {.state = JOB_WAITING, .last_sequence = -1};
/* Bits 0 and 1 of the bit set; job_fields[i] is bit i + 2. */
#define NO_NUMBER_FIELD (-1L)
#define NUMBER_IS_FIELD 1u
#define HAS_ERROR       2u
#define FIELD_BIT(i)    (4ull << (i))
#define FIELD_E164      14 /* job_fields' e164: every field before it lies before e164 in the head */
_Static_assert(JOB_FIELD_COUNT <= 62, "job_fields: at most 62 fields");
/* The most one head takes: version, bit set, and every field at its longest. */
#define JOB_HEAD_MAX (1 + 10 + JOB_FIELD_COUNT * 10 + sizeof(struct job_head))

static uint8_t *leb_put(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Reads a LEB128 number at *p (before end): 0, or BC_ECORRUPT when it is cut off or too long. */
static int leb_get(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return BC_ECORRUPT;
}

/* A field's integer value, sign-extended for JF_INT. */
static int64_t field_int(const struct job_head *h, const struct job_field *f)
{
    const uint8_t *p = (const uint8_t *)h + f->off;
    switch (f->size) {
    case 1:
        return f->kind == JF_INT ? (int8_t)*p : *p;
    case 2: {
        uint16_t v;
        memcpy(&v, p, 2);
        return f->kind == JF_INT ? (int64_t)(int16_t)v : (int64_t)v;
    }
    case 4: {
        uint32_t v;
        memcpy(&v, p, 4);
        return f->kind == JF_INT ? (int64_t)(int32_t)v : (int64_t)v;
    }
    default: {
        int64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    }
}

static void field_set_int(struct job_head *h, const struct job_field *f, int64_t v)
{
    uint8_t *p = (uint8_t *)h + f->off;
    uint8_t u8 = (uint8_t)v;
    uint16_t u16 = (uint16_t)v;
    uint32_t u32 = (uint32_t)v;
    switch (f->size) {
    case 1:
        *p = u8;
        break;
    case 2:
        memcpy(p, &u16, 2);
        break;
    case 4:
        memcpy(p, &u32, 4);
        break;
    default:
        memcpy(p, &v, 8);
    }
}

/* Writes the version, bit set and fields of h at p; returns the end. With number_field >= 0,
 * e164 is that CSV field and is not written itself. */
static uint8_t *head_put(uint8_t *p, const struct job_head *h, long number_field, const char *error,
                         size_t error_len)
{
    uint8_t body[JOB_HEAD_MAX], *q = body;
    uint64_t present = 0;
    /* Most heads written (an upload's) hold the defaults in every field before e164: one compare
     * of those bytes then skips them (equal bytes are equal values; a difference, even in
     * padding, only means the field by field way). */
    struct job_head c = *h;
    c.version = head_default.version;
    c.nfields = head_default.nfields;
    c.reserved2 = head_default.reserved2;
    int numbers_default = memcmp(&c, &head_default, offsetof(struct job_head, e164)) == 0;
    for (size_t i = numbers_default ? FIELD_E164 : 0; i < JOB_FIELD_COUNT; i++) {
        const struct job_field *f = &job_fields[i];
        const uint8_t *at = (const uint8_t *)h + f->off;
        if (numbers_default && f->off < offsetof(struct job_head, e164))
            continue;
        if (f->kind == JF_STRING) {
            if (!*at || (number_field >= 0 && f->off == offsetof(struct job_head, e164)))
                continue;
            size_t n = strnlen((const char *)at, f->size - 1u);
            *q++ = (uint8_t)n;
            memcpy(q, at, n);
            q += n;
        } else if (f->kind == JF_DOUBLE) {
            double d;
            memcpy(&d, at, sizeof d);
            if (d == 0)
                continue;
            memcpy(q, &d, sizeof d);
            q += sizeof d;
        } else {
            int64_t v = field_int(h, f) - f->dflt;
            if (v == 0)
                continue;
            q = leb_put(q,
                        f->kind == JF_INT ? ((uint64_t)v << 1) ^ (uint64_t)(v >> 63) : (uint64_t)v);
        }
        present |= FIELD_BIT(i);
    }
    if (number_field >= 0) {
        present |= NUMBER_IS_FIELD;
        q = leb_put(q, (uint64_t)number_field);
    }
    if (error_len)
        present |= HAS_ERROR;
    *p++ = JOB_RECORD_VERSION;
    p = leb_put(p, present);
    memcpy(p, body, (size_t)(q - body));
    p += q - body;
    if (error_len) {
        p = leb_put(p, error_len);
        memcpy(p, error, error_len);
        p += error_len;
    }
    return p;
}

/* Reads a version 2 head at *p into h (zeroed by the caller); 0 or BC_ECORRUPT. */
static int head_get(const uint8_t **p, const uint8_t *end, struct job_view *v)
{
    struct job_head *h = &v->head;
    uint64_t present, k;
    if (leb_get(p, end, &present) || present >> JOB_FIELD_COUNT >> 2)
        return BC_ECORRUPT;
    for (size_t i = 0; i < JOB_FIELD_COUNT; i++) {
        const struct job_field *f = &job_fields[i];
        uint8_t *at = (uint8_t *)h + f->off;
        if (!(present & FIELD_BIT(i))) {
            if (f->dflt) /* the head is zeroed: only other defaults are written */
                field_set_int(h, f, f->dflt);
            continue;
        }
        if (f->kind == JF_STRING) {
            size_t n = *p < end ? **p : f->size;
            if (n >= f->size || n > (size_t)(end - *p - 1))
                return BC_ECORRUPT;
            memcpy(at, *p + 1, n);
            *p += 1 + n;
        } else if (f->kind == JF_DOUBLE) {
            if ((size_t)(end - *p) < sizeof(double))
                return BC_ECORRUPT;
            memcpy(at, *p, sizeof(double));
            *p += sizeof(double);
        } else {
            uint64_t u;
            if (leb_get(p, end, &u))
                return BC_ECORRUPT;
            int64_t x = f->kind == JF_INT ? (int64_t)(u >> 1) ^ -(int64_t)(u & 1) : (int64_t)u;
            field_set_int(h, f, x + f->dflt);
        }
    }
    v->number_field = NO_NUMBER_FIELD;
    if (present & NUMBER_IS_FIELD) {
        if (leb_get(p, end, &k) || k > UINT32_MAX)
            return BC_ECORRUPT;
        v->number_field = (long)k;
    }
    v->error = (const char *)*p;
    v->error_len = 0;
    if (present & HAS_ERROR) {
        if (leb_get(p, end, &k) || k > (uint64_t)(end - *p))
            return BC_ECORRUPT;
        v->error = (const char *)*p;
        v->error_len = (size_t)k;
        *p += k;
    }
    return 0;
}

/* The most bytes a job of this error takes before its fields (each at most 10 + its length). */
static size_t job_bound(size_t error_len)
{
    return JOB_HEAD_MAX + 10 + error_len + 10;
}

/* The first of the fields that is exactly e164 (as the number was written), or NO_NUMBER_FIELD. */
static long number_field_of(const char *e164, const char *const *fields, const size_t *lens,
                            size_t nfields)
{
    size_t elen = strlen(e164);
    for (size_t i = 0; elen && i < nfields; i++)
        if (lens[i] == elen && memcmp(fields[i], e164, elen) == 0)
            return (long)i;
    return NO_NUMBER_FIELD;
}

/* The same for the fields of a decoded job. */
static long number_field_in(const char *e164, const struct job_view *v)
{
    size_t elen = strlen(e164), pos = 0, n;
    const char *f;
    for (long i = 0; elen && job_field_next(v, &pos, &f, &n); i++)
        if (n == elen && memcmp(f, e164, elen) == 0)
            return i;
    return NO_NUMBER_FIELD;
}

/* Writes head and error of a job at the end of out (room reserved); returns the end. */
static uint8_t *job_put_head(struct buf *out, const struct job_head *h, long number_field,
                             const char *error, size_t error_len)
{
    return head_put((uint8_t *)out->data + out->len, h, number_field, error, error_len);
}

/* A CSV cell is mostly 4 to 16 bytes: two fixed-size copies that may overlap instead of a call
 * for each cell of an upload (reading and writing only the cell's own bytes). */
static uint8_t *field_put(uint8_t *p, const char *f, size_t n)
{
    p = leb_put(p, n);
    if (n >= 8 && n <= 16) {
        memcpy(p, f, 8);
        memcpy(p + n - 8, f + n - 8, 8);
    } else if (n >= 4 && n < 8) {
        memcpy(p, f, 4);
        memcpy(p + n - 4, f + n - 4, 4);
    } else {
        memcpy(p, f, n);
    }
    return p + n;
}

/* Checks the fields' lengths and makes room in out for a job of this error and these fields. */
static int fields_reserve(struct buf *out, size_t error_len, const size_t *lens, size_t nfields)
{
    size_t need = job_bound(error_len);
    for (size_t i = 0; i < nfields; i++) {
        if (lens[i] > UINT16_MAX)
            return BC_ETOOBIG;
        need += 10 + lens[i];
    }
    return buf_reserve(out, need);
}

/* Writes the field count and the fields at p (in reserved room); returns the end, or NULL when a
 * field is longer than a job holds. */
static uint8_t *fields_put(uint8_t *p, const char *const *fields, const size_t *lens,
                           size_t nfields)
{
    p = leb_put(p, nfields);
    for (size_t i = 0; i < nfields; i++) {
        if (lens[i] > UINT16_MAX)
            return NULL;
        p = field_put(p, fields[i], lens[i]);
    }
    return p;
}

int job_encode(struct buf *out, const struct job_head *h, const char *error, size_t error_len,
               const char *const *fields, const size_t *lens, size_t nfields)
{
    int rc = fields_reserve(out, error_len, lens, nfields);
    if (rc)
        return rc;
    long k = number_field_of(h->e164, fields, lens, nfields);
    uint8_t *end = fields_put(job_put_head(out, h, k, error, error_len), fields, lens, nfields);
    out->len = (size_t)(end - (uint8_t *)out->data); /* fields_reserve checked the lengths */
    return 0;
}

int job_encode_waiting(struct buf *out, const char *e164, const char *const *fields,
                       const size_t *lens, size_t nfields)
{
    long k = number_field_of(e164, fields, lens, nfields);
    if (k == NO_NUMBER_FIELD) { /* the number goes into the head: the general way */
        struct job_head h = head_default;
        snprintf(h.e164, sizeof h.e164, "%s", e164);
        return job_encode(out, &h, "", 0, fields, lens, nfields);
    }
    size_t bytes = 0;
    for (size_t i = 0; i < nfields; i++)
        bytes += lens[i];
    if (buf_reserve(out, job_waiting_bound(nfields, bytes)))
        return BC_ENOMEM;
    uint8_t *end =
        job_encode_waiting_at((uint8_t *)out->data + out->len, (size_t)k, fields, lens, nfields);
    if (!end)
        return BC_ETOOBIG;
    out->len = (size_t)(end - (uint8_t *)out->data);
    return 0;
}

size_t job_waiting_bound(size_t nfields, size_t field_bytes)
{
    /* The version and flags bytes, k and nfields (LEB128, 10 bytes at most each), and each
     * field with its length (at most UINT16_MAX: 3 bytes of LEB128). */
    return 2 + 10 + 10 + nfields * 3 + field_bytes;
}

/* What head_put writes for a head at its defaults whose number is field k, then the fields. */
uint8_t *job_encode_waiting_at(uint8_t *p, size_t cell, const char *const *fields,
                               const size_t *lens, size_t nfields)
{
    /* job_encode names the first field that holds the number: an earlier copy of the cell. */
    size_t k = 0;
    while (k < cell && (lens[k] != lens[cell] || memcmp(fields[k], fields[cell], lens[k]) != 0))
        k++;
    *p++ = JOB_RECORD_VERSION;
    *p++ = NUMBER_IS_FIELD;
    return fields_put(leb_put(p, k), fields, lens, nfields);
}

int job_reencode(struct buf *out, const struct job_head *h, const char *error, size_t error_len,
                 const struct job_view *old)
{
    /* Room for the stored fields re-framed: at most 10 bytes of length each. */
    int rc =
        buf_reserve(out, job_bound(error_len) + old->fields_len + (size_t)old->head.nfields * 10);
    if (rc)
        return rc;
    /* The number does not change once stored: the common case reuses the field found then. */
    long k = old->number_field >= 0 && strcmp(h->e164, old->head.e164) == 0
                 ? old->number_field
                 : number_field_in(h->e164, old);
    uint8_t *p = job_put_head(out, h, k, error, error_len);
    p = leb_put(p, old->head.nfields);
    if (old->format == JOB_RECORD_VERSION) {
        memcpy(p, old->fields, old->fields_len); /* same framing: kept byte for byte */
        p += old->fields_len;
    } else {
        size_t pos = 0, n;
        const char *f;
        while (job_field_next(old, &pos, &f, &n))
            p = field_put(p, f, n);
    }
    out->len = (size_t)(p - (uint8_t *)out->data);
    return 0;
}

static int job_decode_v1(const uint8_t *p, size_t len, struct job_view *out)
{
    struct job_head_v1 v1;
    if (len < sizeof v1 + 4)
        return BC_ECORRUPT;
    memcpy(&v1, p, sizeof v1);
    struct job_head *h = &out->head;
    h->version = v1.version;
    h->state = v1.state;
    h->outcome = v1.outcome;
    h->attempts = v1.attempts;
    h->normalized = v1.normalized;
    h->retry_base = v1.retry_base;
    h->connected = v1.connected;
    h->dup_of = v1.dup_of;
    h->nfields = v1.nfields;
    h->seq = v1.seq;
    h->last_sequence = v1.last_sequence;
    h->provider_errors = v1.provider_errors;
    h->start_ms = v1.start_ms;
    h->end_ms = v1.end_ms;
    h->next_attempt_ms = v1.next_attempt_ms;
    h->duration = v1.duration;
    memcpy(h->e164, v1.e164, sizeof h->e164);
    h->e164[sizeof h->e164 - 1] = '\0';
    memcpy(h->call_id, v1.call_id, sizeof h->call_id);
    h->call_id[sizeof h->call_id - 1] = '\0';
    size_t elen = be32_get(p + sizeof v1);
    size_t off = sizeof v1 + 4;
    if (elen > len - off)
        return BC_ECORRUPT;
    out->format = 1;
    out->number_field = NO_NUMBER_FIELD;
    out->error = (const char *)p + off;
    out->error_len = elen;
    out->fields = p + off + elen;
    out->fields_len = len - off - elen;
    return 0;
}

int job_decode(const void *data, size_t len, struct job_view *out)
{
    const uint8_t *p = data, *end = p + len;
    memset(out, 0, sizeof *out);
    if (len == 0)
        return BC_ECORRUPT;
    if (p[0] == 1)
        return job_decode_v1(p, len, out);
    if (p[0] != JOB_RECORD_VERSION)
        return BC_ECORRUPT;
    p++;
    uint64_t nfields;
    if (head_get(&p, end, out))
        return BC_ECORRUPT;
    out->head.version = JOB_RECORD_VERSION;
    if (leb_get(&p, end, &nfields) || nfields > UINT32_MAX)
        return BC_ECORRUPT;
    out->head.nfields = (uint32_t)nfields;
    out->format = JOB_RECORD_VERSION;
    out->fields = p;
    out->fields_len = (size_t)(end - p);
    if (out->number_field >= 0) {
        /* e164 is a stored field: copy it into the head like a stored e164. */
        size_t pos = 0, n = 0;
        const char *f = NULL;
        for (long i = 0; i <= out->number_field; i++)
            if (!job_field_next(out, &pos, &f, &n))
                return BC_ECORRUPT;
        if (n >= sizeof out->head.e164)
            return BC_ECORRUPT;
        memcpy(out->head.e164, f, n);
    }
    return 0;
}

int job_field_next(const struct job_view *v, size_t *pos, const char **p, size_t *n)
{
    if (v->format == 1) {
        if (*pos + 2 > v->fields_len)
            return 0;
        size_t flen = (size_t)v->fields[*pos] << 8 | v->fields[*pos + 1];
        if (flen > v->fields_len - *pos - 2)
            return 0;
        *p = (const char *)v->fields + *pos + 2;
        *n = flen;
        *pos += 2 + flen;
        return 1;
    }
    const uint8_t *at = v->fields + *pos, *end = v->fields + v->fields_len;
    uint64_t flen;
    if (at >= end || leb_get(&at, end, &flen) || flen > (uint64_t)(end - at))
        return 0;
    *p = (const char *)at;
    *n = (size_t)flen;
    *pos = (size_t)(at + flen - v->fields);
    return 1;
}

const char *job_state_name(int state)
{
    switch (state) {
    case JOB_WAITING:
        return "waiting";
    case JOB_DIALING:
    case JOB_ACTIVE:
        return "active";
    case JOB_COMPLETED:
        return "completed";
    case JOB_FAILED:
        return "failed";
    case JOB_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}

const char *job_outcome_name(int outcome)
{
    static const char *const names[] = {
        [OUTCOME_NONE] = NULL,
        [OUTCOME_ANSWERED] = "answered",
        [OUTCOME_VOICEMAIL] = "voicemail",
        [OUTCOME_BUSY] = "busy",
        [OUTCOME_NO_ANSWER] = "no_answer",
        [OUTCOME_INVALID_NUMBER] = "invalid_number",
        [OUTCOME_UNREACHABLE] = "unreachable",
        [OUTCOME_CARRIER_BLOCKED] = "carrier_blocked",
        [OUTCOME_REJECTED] = "rejected",
        [OUTCOME_PROVIDER_ERROR] = "provider_error",
        [OUTCOME_DUPLICATE] = "duplicate",
        [OUTCOME_CANCELLED] = "cancelled",
        [OUTCOME_INVALID_ROW] = "invalid_row",
        [OUTCOME_UNKNOWN] = "unknown",
        [OUTCOME_SUPPRESSED] = "suppressed",
        [OUTCOME_NO_CONSENT] = "no_consent",
        [OUTCOME_NO_WINDOW] = "no_calling_window",
    };
    if (outcome < 0 || (size_t)outcome >= sizeof names / sizeof names[0])
        return NULL;
    return names[outcome];
}

const char *job_held_name(int held)
{
    switch (held) {
    case HELD_WINDOW:
        return "calling_window";
    case HELD_CAP:
        return "frequency_cap";
    }
    return NULL;
}

const char *batch_status_name(int status)
{
    switch (status) {
    case BATCH_QUEUED:
        return "queued";
    case BATCH_PROCESSING:
        return "processing";
    case BATCH_COMPLETED:
        return "completed";
    case BATCH_CANCELLED:
        return "cancelled";
    case BATCH_FAILED:
        return "failed";
    }
    return "staging";
}

/* ---- Keys and records of the API layer and ingest ---- */

int batch_scan(struct store_txn *t, batch_scan_fn fn, void *arg)
{
    struct store_iter it;
    int rc, stop = 0;
    store_iter_open(&it, t, DB_BATCH, "", 0, NULL, 0);
    while (!stop && (rc = store_iter_next(&it)) == 1) {
        struct batch_rec b;
        if (batch_decode(&it.val, &b) == 0)
            stop = fn(&b, arg);
    }
    store_iter_close(&it);
    if (stop)
        return stop;
    return rc < 0 ? rc : 0;
}

size_t agent_key(char *out, const char *ws, size_t wslen, const char *id, size_t idlen)
{
    memcpy(out, ws, wslen);
    out[wslen] = '/';
    memcpy(out + wslen + 1, id, idlen);
    return wslen + 1 + idlen;
}

size_t idem_key(char *out, const char *ws, size_t wslen, const char *key, size_t klen)
{
    return agent_key(out, ws, wslen, key, klen);
}

void idem_encode(uint8_t out[IDEM_VAL_LEN], const struct idem_rec *r)
{
    memset(out, 0, IDEM_VAL_LEN);
    memcpy(out, r->batch, strnlen(r->batch, ID_MAX - 1));
    memcpy(out + ID_MAX, &r->expires_ms, sizeof r->expires_ms);
    out[IDEM_V1_LEN] = IDEM_VERSION;
    memcpy(out + IDEM_V1_LEN + 1, r->hash, SHA256_LEN);
}

int idem_decode(const struct store_val *v, struct idem_rec *r)
{
    const uint8_t *p = v->ptr;
    if (v->len != IDEM_V1_LEN && (v->len != IDEM_VAL_LEN || p[IDEM_V1_LEN] != IDEM_VERSION))
        return BC_ECORRUPT;
    memset(r, 0, sizeof *r);
    memcpy(r->batch, p, ID_MAX);
    r->batch[ID_MAX - 1] = '\0';
    memcpy(&r->expires_ms, p + ID_MAX, sizeof r->expires_ms);
    r->has_hash = v->len == IDEM_VAL_LEN;
    if (r->has_hash)
        memcpy(r->hash, p + IDEM_V1_LEN + 1, SHA256_LEN);
    return 0;
}

size_t usage_time_key(uint8_t *out, const char *ws, size_t wslen, uint64_t at_ms)
{
    memcpy(out, ws, wslen);
    be64_put(out + wslen, at_ms);
    return wslen + 8;
}

uint64_t usage_key_time(const struct store_val *key, size_t wslen)
{
    return be64_get((const uint8_t *)key->ptr + wslen);
}

uint32_t key_u32(const struct store_val *key, size_t off)
{
    return be32_get((const uint8_t *)key->ptr + off);
}

/* ---- Webhooks: the outbox and the deliveries log ---- */

size_t outbox_key(uint8_t out[OUTBOX_KEY_LEN], uint64_t seq)
{
    be64_put(out, seq);
    return OUTBOX_KEY_LEN;
}

uint64_t outbox_key_seq(const struct store_val *key)
{
    return be64_get(key->ptr);
}

size_t delivery_key(uint8_t *out, const char *ws, size_t wslen, uint64_t at_ms, uint64_t seq)
{
    memcpy(out, ws, wslen);
    be64_put(out + wslen, at_ms);
    be64_put(out + wslen + 8, seq);
    return wslen + 16;
}

int delivery_key_of(const struct store_val *key, size_t wslen)
{
    return key->len == wslen + 16;
}

int records_put_json(struct store_txn *t, enum store_db db, const void *key, size_t klen,
                     cJSON *obj)
{
    struct buf b = {0};
    int rc = obj ? json_render(&b, obj) : BC_ENOMEM;
    cJSON_Delete(obj);
    if (!rc)
        rc = store_put(t, db, key, klen, b.data, b.len, 0);
    buf_free(&b);
    return rc;
}
