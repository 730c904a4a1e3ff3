/* multipart/form-data (src/ingest/multipart.c). Input: a Content-Type header value, a line feed,
 * then the body. The Content-Type goes through multipart_boundary_from_content_type; when it has
 * no usable boundary, the boundary "XyZ" is used so the body is still parsed. Property: any split
 * of the body gives the same parts (names, file names, content types, data), in the same order,
 * and the same result: whole, cut at three points, and one byte at a time. Small limits, so the
 * limit paths are reached by small inputs. */
#include <string.h>

#include "fuzz.h"
#include "ingest/multipart.h"
#include "util/buf.h"

struct run {
    struct buf log;
    int in_part;
};

static int on_begin(void *ctx, const struct mp_part_info *part)
{
    struct run *r = ctx;
    FUZZ_CHECK(!r->in_part, "a part begins inside another");
    FUZZ_CHECK(part->name_len > 0, "a part without a name");
    FUZZ_CHECK(!memchr(part->filename, '/', part->filename_len) &&
                   !memchr(part->filename, '\\', part->filename_len),
               "a file name with a directory: %.*s", (int)part->filename_len, part->filename);
    r->in_part = 1;
    buf_printf(&r->log, "begin %zu:", part->name_len);
    buf_append(&r->log, part->name, part->name_len);
    buf_printf(&r->log, " file %d %zu:", part->has_filename, part->filename_len);
    buf_append(&r->log, part->filename, part->filename_len);
    buf_printf(&r->log, " type %zu:", part->content_type_len);
    buf_append(&r->log, part->content_type, part->content_type_len);
    buf_append(&r->log, "\ndata ", 6);
    return 0;
}

/* Data is logged as one run per part whatever its slices. */
static int on_data(void *ctx, const char *p, size_t n)
{
    struct run *r = ctx;
    FUZZ_CHECK(r->in_part && n > 0, "data outside a part, or empty (%zu)", n);
    buf_append(&r->log, p, n);
    return 0;
}

static int on_end(void *ctx)
{
    struct run *r = ctx;
    FUZZ_CHECK(r->in_part, "a part ends without beginning");
    r->in_part = 0;
    buf_append(&r->log, "\nend\n", 5);
    return 0;
}

static int feed(void *mp, const char *data, size_t n)
{
    return multipart_feed(mp, data, n);
}

static void parse(const char *b, size_t blen, const char *body, size_t size, const size_t *cuts,
                  size_t ncuts, struct run *r)
{
    static const struct mp_limits lim = {
        .max_parts = 4, .max_header_bytes = 256, .max_field_bytes = 64, .max_preamble_bytes = 64};
    static const struct mp_callbacks cb = {on_begin, on_data, on_end};
    struct multipart mp;
    memset(r, 0, sizeof *r);
    int rc = multipart_init(&mp, b, blen, &lim, &cb, r);
    if (!rc)
        rc = fuzz_feed(body, size, cuts, ncuts, feed, &mp);
    int fin = multipart_finish(&mp);
    FUZZ_CHECK(rc == 0 || fin == rc, "finish says %d after %d", fin, rc);
    FUZZ_CHECK(fin == 0 || multipart_strerror(fin) != NULL, "no message for %d", fin);
    buf_printf(&r->log, "result %d\n", fin);
    multipart_free(&mp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *nl = memchr(in, '\n', size);
    size_t ctlen = nl ? (size_t)(nl - in) : size;
    const char *body = nl ? nl + 1 : in + size;
    size_t blen_body = size - (size_t)(body - in);
    const char *b = NULL;
    size_t blen = 0;
    if (multipart_boundary_from_content_type(in, ctlen, &b, &blen) == 0) {
        FUZZ_CHECK(blen >= 1 && blen <= MP_MAX_BOUNDARY && b >= in && b + blen <= in + ctlen,
                   "boundary of %zu bytes outside the header", blen);
    } else {
        b = "XyZ";
        blen = 3;
    }
    size_t cuts[3];
    fuzz_cuts(fuzz_hash(data, size), blen_body, cuts, 3);
    struct run whole, cut;
    parse(b, blen, body, blen_body, NULL, 0, &whole);
    parse(b, blen, body, blen_body, cuts, 3, &cut);
    fuzz_same(&whole.log, &cut.log, "cut at three points");
    if (blen_body <= 4096) {
        struct run bytes;
        parse(b, blen, body, blen_body, NULL, SIZE_MAX, &bytes);
        fuzz_same(&whole.log, &bytes.log, "one byte at a time");
        buf_free(&bytes.log);
    }
    buf_free(&whole.log);
    buf_free(&cut.log);
    return 0;
}
