/* Tests for src/ingest/spool.c and the rule ingest.c keeps it by: a defaultCountry or
 * allowDuplicates sent after the file changes only the rows from the first one it could change
 * (a number without '+', a repeat), so only the file from that row's first byte is kept, and only
 * those rows are read again. Every upload here is read twice, with the fields before the file (the
 * reference) and after it, fed in two pieces split at every byte (and one byte at a time): the
 * counts, the row errors and warnings and the staged jobs, their state index and counts must be
 * the same. */
#include "ingest/spool.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <uv.h>

#include "check.h"
#include "ingest_form.h"
#include "tmpstore.h"
#include "ingest/ingest.h"
#include "store/records.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

#define MIB (1024 * 1024)

struct upload_case {
    const char *what;
    const char *csv;
    const char *fields;  /* the form fields, sent before the file or after it */
    uint32_t mark;       /* the first row the late fields could change, 0 for none */
    const char *mark_at; /* the text the file is kept from (that row's first bytes) */
    int replay;          /* the late fields change rows */
};

static const struct upload_case cases[] = {
    {"the first row", "phone_number,name\r\n07700 900123,a\r\n+447700900124,b\r\n07700900124,c\r\n",
     PART("country", "GB") PART("dups", "true"), 1, "07700 900123", 1},
    {"a middle row",
     "phone_number,name\r\n+447700900001,a\r\n+447700900002,b\r\n07700900003,c\r\n"
     "+447700900004,d\r\n",
     PART("country", "GB"), 3, "07700900003", 1},
    {"the last row, without a line end",
     "phone_number,name\r\n+447700900001,a\r\n+447700900002,b\r\n07700900009,z",
     PART("country", "GB"), 3, "07700900009", 1},
    {"a repeat made by the late country",
     "phone_number,name\r\n+447700900001,a\r\n07700900002,b\r\n+447700900002,c\r\n",
     PART("country", "GB"), 2, "07700900002", 1},
    {"line breaks in quotes before and after",
     "phone_number,name\r\n+447700900001,\"two\r\nlines\"\r\n\"07700900003\",\"x\r\n\r\ny\"\r\n"
     "+447700900003,\"a \"\"b\"\"\r\nc\"\r\n\r\n+447700900004,d\r\n",
     PART("country", "GB"), 2, "\"07700900003\"", 1},
    {"a repeat, allowDuplicates late",
     "phone_number,name\r\n+447700900001,a\r\n+447700900002,b\r\n+447700900001,c\r\n"
     "+447700900003,d\r\n+447700900002,e\r\n",
     PART("dups", "true"), 3, "+447700900001,c", 1},
    {"a repeat with a consent warning, then a number without +",
     "phone_number,consent_at\r\n+447700900001,\r\n+447700900001,soon\r\n0770090000x,\r\n"
     "07700900005,later\r\n",
     PART("dups", "1") PART("country", "GB"), 2, "+447700900001,soon", 1},
    {"windows-1252 and blank lines",
     "phone_number;name\r\n+447700900001;\xe9t\xe9\r\n\r\n\r\n "
     "07700900002;x\r\n+447700900003;\xe9\r\n",
     PART("country", "GB"), 2, " 07700900002", 1},
    {"a row error before the mark and spaces before +",
     "phone_number,name\r\n+447700900001,a,b\r\n  +447700900002,b\r\n+447700900002,c\r\n"
     "bad,d\r\n",
     PART("dups", "true") PART("country", "US"), 3, "+447700900002,c", 1},
    /* The header's scan reads the quote as opening a field (after a tab), the parser, with ','
     * as the delimiter, as data: the header line ends earlier and row 1 begins in the header's
     * buffer. */
    {"a row that begins in the header's buffer",
     "phone_number,name\t\"x\r\n07700 900123,\"a\"\r\n+447700900002,b\r\n", PART("country", "GB"),
     1, "07700 900123", 1},
    {"a late allowDuplicates that is false",
     "phone_number,name\r\n+447700900001,a\r\n+447700900001,b\r\n", PART("dups", "false"), 2,
     "+447700900001,b", 0},
    {"no row a late field could change",
     "phone_number,name\r\n+447700900001,a\r\n\"+447700900002\",\"b\r\nc\"\r\n+447700900003,d",
     PART("country", "GB") PART("dups", "true"), 0, NULL, 0},
};

static void options(struct ingest_options *o, struct store *s, uv_loop_t *loop, const char *batch,
                    const char *spool_dir)
{
    form_options(o, s, loop, batch);
    o->max_errors = 3; /* some cases go past it */
    o->spool_dir = spool_dir;
}

static void body_of(struct buf *b, const struct upload_case *c, int late)
{
    b->len = 0;
    if (!late)
        buf_append_str(b, c->fields);
    buf_append_str(b, FILE_HEAD);
    buf_append_str(b, c->csv);
    buf_append_str(b, "\r\n");
    if (late)
        buf_append_str(b, c->fields);
    buf_append_str(b, END);
}

/* Runs a body through an ingest fed in pieces: split > 0 cuts it there, 0 feeds one byte at a
 * time. When the late fields need it, the rows are read again into batch next (renamed into
 * batch, as the API does). Returns the ingest's failure. */
static int run(struct ingest *in, const struct ingest_options *o, char *batch, const char *next,
               const struct buf *b, size_t split)
{
    CHECK_INT(ingest_begin(in, o, CT, strlen(CT)), 0);
    for (size_t at = 0; at < b->len && !in->failure.error;) {
        size_t n = split ? (at ? b->len - at : split) : 1;
        ingest_feed(in, b->data + at, n);
        at += n;
    }
    if (!in->failure.error)
        ingest_end(in);
    while (ingest_drain(in))
        uv_run(o->loop, UV_RUN_ONCE);
    if (ingest_replay_needed(in)) {
        if (next)
            memcpy(batch, next, strlen(next) + 1);
        int busy = ingest_replay_begin(in);
        while (busy) {
            uv_run(o->loop, UV_RUN_ONCE);
            busy = ingest_drain(in);
        }
    }
    return in->failure.error;
}

static int same_error(const struct ingest_row_error *a, const struct ingest_row_error *b)
{
    return a->row == b->row && !strcmp(a->column, b->column) && !strcmp(a->code, b->code) &&
           !strcmp(a->value, b->value) && !strcmp(a->message, b->message);
}

/* The first difference between two readings, or NULL. */
static const char *difference(const struct ingest *a, const struct ingest *b)
{
    if (a->rows != b->rows || a->valid != b->valid || a->invalid != b->invalid)
        return "rows, valid or invalid";
    if (a->duplicates != b->duplicates || a->normalized != b->normalized)
        return "duplicates or normalized";
    if (a->no_consent != b->no_consent || a->consent_warnings != b->consent_warnings ||
        a->suppressed != b->suppressed)
        return "consent or suppressed";
    if (a->nerrors != b->nerrors || a->errors_truncated != b->errors_truncated)
        return "the number of errors";
    for (size_t i = 0; i < a->nerrors; i++)
        if (!same_error(&a->errors[i], &b->errors[i]))
            return "an error";
    if (a->nwarnings != b->nwarnings || a->warnings_truncated != b->warnings_truncated)
        return "the number of warnings";
    for (size_t i = 0; i < a->nwarnings; i++)
        if (!same_error(&a->warnings[i], &b->warnings[i]))
            return "a warning";
    if (strcmp(ingest_encoding(a), ingest_encoding(b)))
        return "the encoding";
    return NULL;
}

/* Everything a batch has in the job tables (keys without the batch's prefix, and values). */
static void dump(struct store *s, const char *batch, struct buf *out)
{
    static const enum store_db dbs[] = {DB_JOB, DB_JOBSTATE, DB_STATECOUNT};
    uint8_t prefix[JOB_KEY_MAX];
    size_t plen = job_key(prefix, batch, 0) - 4;
    struct store_txn t;
    out->len = 0;
    CHECK_INT(store_read_begin(s, &t), 0);
    for (size_t d = 0; d < sizeof dbs / sizeof dbs[0]; d++) {
        struct store_iter it;
        store_iter_open(&it, &t, dbs[d], prefix, plen, NULL, 0);
        while (store_iter_next(&it) == 1) {
            buf_printf(out, "%zu:%zu:", d, it.key.len - plen);
            buf_append(out, (const char *)it.key.ptr + plen, it.key.len - plen);
            buf_printf(out, ":%zu:", it.val.len);
            buf_append(out, it.val.ptr, it.val.len);
        }
        store_iter_close(&it);
    }
    store_read_end(&t);
}

static size_t offset_of(const struct buf *b, const char *text)
{
    const char *csv = strstr(b->data, FILE_HEAD) + strlen(FILE_HEAD);
    const char *at = strstr(csv, text);
    return at ? (size_t)(at - csv) : (size_t)-1;
}

/* Each case at every split (validate only: no store), against the reference reading. */
static void test_every_split(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct buf early = {0}, late = {0};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const struct upload_case *c = &cases[k];
        struct ingest_options o;
        options(&o, NULL, &loop, NULL, d.path);
        struct ingest ref, in;
        body_of(&early, c, 0);
        body_of(&late, c, 1);
        CHECK_INT(run(&ref, &o, NULL, NULL, &early, early.len), INGEST_OK);
        for (size_t split = 0; split < late.len; split++) {
            CHECK_INT(run(&in, &o, NULL, NULL, &late, split), INGEST_OK);
            const char *diff = difference(&ref, &in);
            CHECK_REPORT(diff == NULL, "%s, split at %zu: %s differs", c->what, split, diff);
            CHECK_REPORT(in.mark.row == c->mark, "%s, split at %zu: mark %u", c->what, split,
                         in.mark.row);
            if (c->mark) {
                /* The copy begins at the mark's first byte: nothing before it was written. */
                CHECK_REPORT(in.spool.state == SPOOL_ON && in.spool.start == in.mark.offset &&
                                 in.mark.offset == offset_of(&late, c->mark_at),
                             "%s, split at %zu: kept from %llu, mark at %llu", c->what, split,
                             (unsigned long long)in.spool.start,
                             (unsigned long long)in.mark.offset);
                CHECK_INT(spool_end(&in.spool), strlen(c->csv));
            } else {
                CHECK_REPORT(in.spool.state == SPOOL_WAITING && in.spool.bytes == 0,
                             "%s, split at %zu: a copy was made", c->what, split);
            }
            ingest_free(&in);
        }
        ingest_free(&ref);
    }
    /* The copies are unlinked files: the directory stays empty. */
    CHECK_INT(rmdir(d.path), 0);
    buf_free(&early);
    buf_free(&late);
    uv_loop_close(&loop);
}

/* With a store: the rows before the mark are copied from the first staging batch, the others
 * read again; the new batch holds exactly what the reference upload staged. */
static void test_staged_rows_match(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    struct store s;
    CHECK_INT(open_store(&s, d.path, 4 * MIB, 64 * MIB), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct buf early = {0}, late = {0}, want = {0}, got = {0}, first = {0};
    unsigned n = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const struct upload_case *c = &cases[k];
        char batch[16];
        snprintf(batch, sizeof batch, "b%04uR", n++);
        struct ingest_options o;
        options(&o, &s, &loop, batch, d.path);
        struct ingest ref, in;
        body_of(&early, c, 0);
        body_of(&late, c, 1);
        CHECK_INT(run(&ref, &o, batch, NULL, &early, early.len), INGEST_OK);
        dump(&s, batch, &want);
        CHECK(want.len > 0);
        /* Splits 0 (a byte at a time) and every 5th byte: each writes a few transactions. */
        for (size_t split = 0; split < late.len; split += split ? 5 : 1) {
            char next[16];
            snprintf(batch, sizeof batch, "b%04uA", n);
            snprintf(next, sizeof next, "b%04uB", n++);
            options(&o, &s, &loop, batch, d.path);
            CHECK_INT(run(&in, &o, batch, next, &late, split), INGEST_OK);
            CHECK(difference(&ref, &in) == NULL);
            dump(&s, batch, &got);
            CHECK_REPORT(got.len == want.len && !memcmp(got.data, want.data, got.len),
                         "%s, split at %zu: the staged rows differ", c->what, split);
            CHECK_INT(in.stored_rows, in.rows);
            /* The first staging batch still holds every row (the API purges it). */
            snprintf(next, sizeof next, "b%04uA", n - 1);
            dump(&s, next, &first);
            CHECK_INT(c->replay ? first.len > 0 : strcmp(batch, next) == 0, 1);
            /* ... and is the caller's to purge once the ingest is over. */
            const char *old = ingest_first_batch(&in);
            CHECK_INT(c->replay ? old && !strcmp(old, next) : old == NULL, 1);
            ingest_free(&in);
        }
        ingest_free(&ref);
    }
    buf_free(&early);
    buf_free(&late);
    buf_free(&want);
    buf_free(&got);
    buf_free(&first);
    uv_loop_close(&loop);
    store_close(&s);
    tmpdir_remove(&d);
}

/* The copy cannot be made (no such directory) or written (a file size limit, as a full disk
 * would): a late field that changes rows is refused as before, one that changes none is not. */
static void test_copy_fails(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct buf b = {0};
    struct ingest in;
    struct ingest_options o;
    options(&o, NULL, &loop, NULL, "/nonexistent/dir");
    body_of(&b, &cases[1], 1);
    CHECK_INT(run(&in, &o, NULL, NULL, &b, 0), INGEST_E_FIELD_AFTER_FILE);
    CHECK_INT(in.failure.field, FIELD_DEFAULT_COUNTRY);
    CHECK_INT(in.spool.state, SPOOL_FAILED);
    ingest_free(&in);
    body_of(&b, &cases[sizeof cases / sizeof cases[0] - 1], 1);
    CHECK_INT(run(&in, &o, NULL, NULL, &b, 0), INGEST_OK);
    CHECK_INT(in.valid, 3);
    ingest_free(&in);

    struct tmpdir d;
    tmpdir_make(&d);
    options(&o, NULL, &loop, NULL, d.path);
    struct rlimit old, small = {8, 8};
    CHECK_INT(getrlimit(RLIMIT_FSIZE, &old), 0);
    small.rlim_max = old.rlim_max;
    signal(SIGXFSZ, SIG_IGN);
    CHECK_INT(setrlimit(RLIMIT_FSIZE, &small), 0);
    body_of(&b, &cases[0], 1);
    int rc = run(&in, &o, NULL, NULL, &b, 20);
    CHECK_INT(setrlimit(RLIMIT_FSIZE, &old), 0);
    CHECK_INT(rc, INGEST_E_FIELD_AFTER_FILE);
    CHECK_INT(in.spool.state, SPOOL_FAILED);
    ingest_free(&in);
    CHECK_INT(rmdir(d.path), 0);
    buf_free(&b);
    uv_loop_close(&loop);
}

/* A row longer than SPOOL_TAIL_MAX is not held in memory: the copy begins at it, before any row
 * needs it, and reading again still starts at the mark. */
static void test_long_row(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct buf csv = {0}, early = {0}, late = {0};
    buf_append_str(&csv, "phone_number,note\r\n+447700900001,\"");
    for (size_t i = 0; i < SPOOL_TAIL_MAX / 60 + 2; i++)
        buf_append_str(&csv, "0123456789012345678901234567890123456789012345678901234567890\r\n");
    buf_append_str(&csv, "\"\r\n+447700900002,x\r\n07700900003,y\r\n");
    struct upload_case c = {"long", csv.data, PART("country", "GB"), 3, NULL, 1};
    struct ingest_options o;
    options(&o, NULL, &loop, NULL, d.path);
    struct ingest ref, in;
    body_of(&early, &c, 0);
    body_of(&late, &c, 1);
    CHECK_INT(run(&ref, &o, NULL, NULL, &early, 4096), INGEST_OK);
    /* Fed in 4 KiB pieces, as a socket would. */
    CHECK_INT(ingest_begin(&in, &o, CT, strlen(CT)), 0);
    for (size_t at = 0; at < late.len; at += 4096)
        ingest_feed(&in, late.data + at, late.len - at < 4096 ? late.len - at : 4096);
    CHECK_INT(ingest_end(&in), 0);
    CHECK_INT(in.spool.state, SPOOL_ON);
    CHECK_INT(in.spool.start, strlen("phone_number,note\r\n"));
    CHECK_INT(in.mark.row, 3);
    CHECK(in.spool.tail.cap == 0);
    CHECK_INT(ingest_replay_needed(&in), 1);
    int busy = ingest_replay_begin(&in);
    while (busy) {
        uv_run(&loop, UV_RUN_ONCE);
        busy = ingest_drain(&in);
    }
    CHECK_INT(in.failure.error, INGEST_OK);
    CHECK(difference(&ref, &in) == NULL);
    CHECK_INT(in.valid, 2);
    ingest_free(&in);
    ingest_free(&ref);
    CHECK_INT(rmdir(d.path), 0);
    buf_free(&csv);
    buf_free(&early);
    buf_free(&late);
    uv_loop_close(&loop);
}

/* The request's fingerprint does not count the bytes read again: a late field's upload and the
 * same request sent again (read for its fingerprint only) give the same digest. */
static void test_digest_read_again(void)
{
    struct tmpdir d;
    tmpdir_make(&d);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct buf b = {0};
    body_of(&b, &cases[0], 1);
    struct ingest_options o;
    options(&o, NULL, &loop, NULL, d.path);
    o.digest = 1;
    struct ingest in, again;
    CHECK_INT(run(&in, &o, NULL, NULL, &b, 0), INGEST_OK);
    CHECK_INT(in.mark.row, 1); /* read again */
    o.digest = 0;
    o.digest_only = 1;
    CHECK_INT(run(&again, &o, NULL, NULL, &b, 0), INGEST_OK);
    uint8_t x[SHA256_LEN], y[SHA256_LEN];
    CHECK_INT(ingest_digest(&in, x), 0);
    CHECK_INT(ingest_digest(&again, y), 0);
    CHECK(memcmp(x, y, sizeof x) == 0);
    ingest_free(&in);
    ingest_free(&again);
    CHECK_INT(rmdir(d.path), 0);
    buf_free(&b);
    uv_loop_close(&loop);
}

static void setup_quiet_logs(void)
{
    log_set_level(LOG_ERROR);
}

CHECK_MAIN(CHECK_CASE(setup_quiet_logs), CHECK_CASE(test_every_split),
           CHECK_CASE(test_staged_rows_match), CHECK_CASE(test_copy_fails),
           CHECK_CASE(test_long_row), CHECK_CASE(test_digest_read_again))
