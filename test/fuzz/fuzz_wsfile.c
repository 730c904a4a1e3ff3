/* The workspace export decoder (src/store/wsfile.c), which reads files an operator hands to
 * `admin workspace import`. Properties:
 * - the input split at three points decodes exactly as it does whole (same result, same
 *   records), so a file read in blocks of any size is read the same;
 * - a file accepted is exactly what the encoder writes for the records read from it (the format
 *   has one spelling: nothing before, between or after the parts goes unnoticed). */
#include <string.h>

#include "fuzz.h"
#include "store/wsfile.h"
#include "util/buf.h"

struct seen {
    struct buf text; /* every record, framed, in order */
};

static int on_record(void *arg, const struct wsfile_record *r)
{
    struct seen *s = arg;
    uint32_t l[3] = {(uint32_t)r->tlen, (uint32_t)r->klen, (uint32_t)r->vlen};
    buf_append(&s->text, l, sizeof l);
    buf_append(&s->text, r->table, r->tlen);
    buf_append(&s->text, r->key, r->klen);
    buf_append(&s->text, r->val, r->vlen);
    return 0;
}

static int decode(const uint8_t *data, size_t size, const size_t *cuts, size_t ncuts,
                  struct seen *s, char ws[ID_MAX])
{
    struct wsfile_dec d;
    int rc = wsfile_dec_init(&d, on_record, s);
    size_t at = 0;
    for (size_t i = 0; i <= ncuts && !rc; i++) {
        size_t end = i < ncuts ? cuts[i] : size;
        rc = wsfile_dec_feed(&d, data + at, end - at);
        at = end;
    }
    if (!rc)
        rc = wsfile_dec_finish(&d);
    memcpy(ws, d.ws, ID_MAX);
    wsfile_dec_free(&d);
    return rc;
}

static int to_buf(void *arg, const void *p, size_t n)
{
    return buf_append(arg, p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct seen whole = {0}, split = {0};
    char ws[ID_MAX], ws2[ID_MAX];
    size_t cuts[3];
    fuzz_cuts(fuzz_hash(data, size), size, cuts, 3);
    int rc = decode(data, size, NULL, 0, &whole, ws);
    int rc2 = decode(data, size, cuts, 3, &split, ws2);
    FUZZ_CHECK(rc == rc2, "whole %d, split %d", rc, rc2);
    FUZZ_CHECK(
        whole.text.len == split.text.len &&
            (!whole.text.len || memcmp(whole.text.data, split.text.data, whole.text.len) == 0),
        "split changed the records");
    if (rc == 0) {
        struct buf out = {0};
        struct wsfile_enc e;
        FUZZ_CHECK(wsfile_enc_begin(&e, ws, to_buf, &out) == 0, "header of %s", ws);
        const char *p = whole.text.data ? whole.text.data : "", *end = p + whole.text.len;
        while (p < end) {
            uint32_t l[3];
            memcpy(l, p, sizeof l);
            p += sizeof l;
            char name[WSFILE_NAME_MAX + 1];
            memcpy(name, p, l[0]);
            name[l[0]] = '\0';
            FUZZ_CHECK(strlen(name) == l[0], "a table name with a NUL was accepted");
            FUZZ_CHECK(wsfile_enc_record(&e, name, p + l[0], l[1], p + l[0] + l[1], l[2]) == 0,
                       "re-encoding");
            p += l[0] + l[1] + l[2];
        }
        FUZZ_CHECK(wsfile_enc_end(&e, NULL) == 0, "trailer");
        FUZZ_CHECK(out.len == size && memcmp(out.data, data, size) == 0,
                   "an accepted file is not what the encoder writes for its records");
        buf_free(&out);
    }
    buf_free(&whole.text);
    buf_free(&split.text);
    return 0;
}
