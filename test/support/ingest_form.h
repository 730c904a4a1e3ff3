/* The multipart form the ingest unit tests upload (test/unit/ingest/ingest_test.c and
 * spool_test.c): its boundary, parts written as literals, short names for the upload's fields,
 * and the ingest options both start from. Header-only: each test is one program. */
#ifndef BC_TEST_INGEST_FORM_H
#define BC_TEST_INGEST_FORM_H

#include <string.h>

#include <uv.h>

#include "ingest/ingest.h"
#include "store/store.h"

#define BOUNDARY "XyZ"
#define CT       "multipart/form-data; boundary=" BOUNDARY
/* A form field, the file part's head (its data follows), the file part whole, and the end. */
#define PART(name, value)                                                                          \
    "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"" name "\"\r\n\r\n" value "\r\n"
#define FILE_HEAD                                                                                  \
    "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"csv\"; filename=\"a.csv\"\r\n\r\n"
#define FILE_PART(data) FILE_HEAD data "\r\n"
#define END             "--" BOUNDARY "--\r\n"

static const char *const form_field_names[FIELD_COUNT] = {
    [FIELD_AGENT_ID] = "agent",          [FIELD_SCHEDULED_AT] = "at",
    [FIELD_SMART_CALLBACK] = "smart",    [FIELD_NAME] = "name",
    [FIELD_DEFAULT_COUNTRY] = "country", [FIELD_STRICT] = "strict",
    [FIELD_ALLOW_DUPLICATES] = "dups",   [FIELD_MAX_CONCURRENCY] = "conc",
    [FIELD_CALLS_PER_SECOND] = "cps",    [FIELD_WEBHOOK_URL] = "hook",
    [FIELD_CALLING_WINDOW] = "window",
};

/* Options for an upload into batch of workspace ws_t, at most 100 rows, the file in part "csv". */
static inline void form_options(struct ingest_options *o, struct store *s, uv_loop_t *loop,
                                const char *batch)
{
    memset(o, 0, sizeof *o);
    o->store = s;
    o->batch_id = batch;
    o->workspace = "ws_t";
    o->max_records = 100;
    o->field_names = form_field_names;
    o->file_field = "csv";
    o->loop = loop;
}

#endif
