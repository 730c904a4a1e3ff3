#include "admin_registry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "policy/registry.h"
#include "util/clock.h"
#include "util/err.h"

static cJSON *meta_json(const struct registry_meta *m)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "date", m->date);
    cJSON_AddNumberToObject(o, "count", (double)m->count);
    cJSON_AddNumberToObject(o, "badLines", (double)m->bad_lines);
    cJSON_AddNumberToObject(o, "importedAt", (double)m->imported_ms);
    cJSON_AddNumberToObject(o, "ageDays", (double)registry_age_days(m, clock_now_ms()));
    cJSON_AddBoolToObject(o, "stale", registry_stale(m, clock_now_ms()));
    return o;
}

static int show(struct store *s, cJSON **out)
{
    struct store_txn t;
    struct registry_meta m;
    int rc = store_read_begin(s, &t);
    if (!rc) {
        rc = registry_meta_get(&t, &m);
        store_read_end(&t);
    }
    if (rc == BC_ENOTFOUND) {
        fprintf(stderr, "batchcalld admin: no national registry was imported\n");
        return 1;
    }
    if (rc) {
        fprintf(stderr, "batchcalld admin: registry show: %s\n", err_str(rc));
        return 1;
    }
    *out = meta_json(&m);
    return 0;
}

/* Reads the file into the import, merging a buffer of numbers whenever it fills. */
static int read_file(struct store *s, struct registry_import *im, FILE *f)
{
    static char chunk[1 << 16];
    size_t got;
    int rc = 0;
    while (!rc && (got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        rc = registry_import_feed(im, chunk, got);
        if (!rc && registry_import_want_flush(im)) {
            rc = store_write(s, registry_import_flush_txn, im);
            if (!rc)
                registry_import_flushed(im);
        }
    }
    if (!rc && ferror(f))
        rc = BC_EIO;
    if (rc)
        return rc;
    registry_import_end(im);
    rc = store_write(s, registry_import_flush_txn, im);
    if (!rc)
        registry_import_flushed(im);
    return rc;
}

static int import(struct store *s, const char *path, const char *date, cJSON **out)
{
    if (!path || !date) {
        fprintf(stderr, "batchcalld admin: registry import needs --file FILE and --date "
                        "YYYY-MM-DD (the date of the FTC file)\n");
        return 2;
    }
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "batchcalld admin: cannot read %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct registry_import im;
    uint32_t busy;
    int rc = registry_import_begin(&im, s, date, strlen(date), clock_now_ms(), (uint32_t)getpid(),
                                   &busy);
    int code = 1;
    if (rc == BC_EINVAL) {
        fprintf(stderr,
                "batchcalld admin: --date \"%s\" is not a date: write the FTC file's date as "
                "YYYY-MM-DD (not later than tomorrow)\n",
                date);
        code = 2;
    } else if (rc == BC_EBUSY) {
        fprintf(stderr,
                "batchcalld admin: another registry import is running (process %u); wait until "
                "it ends\n",
                busy);
    } else if (!rc && (rc = read_file(s, &im, f)) != 0) {
        fprintf(stderr, "batchcalld admin: registry import: %s; the previous registry stays\n",
                err_str(rc));
    } else if (!rc && im.meta.count == 0) {
        fprintf(stderr,
                "batchcalld admin: %s holds no numbers (%llu lines were not numbers); the "
                "registry was left as it was\n",
                path, (unsigned long long)im.meta.bad_lines);
    } else if (!rc && (rc = store_write(s, registry_import_switch_txn, &im)) != 0) {
        fprintf(stderr, "batchcalld admin: registry import: %s; the previous registry stays\n",
                err_str(rc));
    } else if (!rc) {
        im.locked = 0;
        cJSON *o = meta_json(&im.meta);
        cJSON *bad = cJSON_AddArrayToObject(o, "badLineSamples");
        for (size_t i = 0; i < im.nbad; i++) {
            cJSON *b = cJSON_CreateObject();
            cJSON_AddNumberToObject(b, "line", (double)im.bad[i].line);
            cJSON_AddStringToObject(b, "text", im.bad[i].text);
            cJSON_AddStringToObject(b, "message", im.bad[i].why);
            cJSON_AddItemToArray(bad, b);
        }
        *out = o;
        code = 0;
    }
    if (im.locked)
        store_write(s, registry_import_abort_txn, &im);
    registry_import_free(&im);
    if (f != stdin)
        fclose(f);
    return code;
}

int admin_registry_run(struct store *s, const char *verb, const char *file, const char *date,
                       cJSON **out)
{
    *out = NULL;
    if (!strcmp(verb, "import"))
        return import(s, file, date, out);
    if (!strcmp(verb, "show"))
        return show(s, out);
    fprintf(stderr, "batchcalld admin: unknown command \"registry %s\"\n", verb);
    return 2;
}
