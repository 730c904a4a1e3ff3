/* The fleet's admin commands. Each prints one JSON document on stdout; a failure also prints
 * {"error","message"} there (and the message on stderr), so scripts read one stream. */
#include "fleet_admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "admin.h"
#include "model/placement.h"
#include "model/workspace.h"
#include "model/wsmove.h"
#include "util/err.h"

static int failed(const char *code, const char *message)
{
    fprintf(stderr, "batchcalld admin: %s\n", message);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", code);
    cJSON_AddStringToObject(o, "message", message);
    admin_print_json(o);
    return 1;
}

static int usage_error(const char *message)
{
    fprintf(stderr, "batchcalld admin: %s\n", message);
    return 2;
}

static int store_failed(int rc, const char *what, const char *ws, const char *msg)
{
    char m[400];
    if (msg && *msg)
        snprintf(m, sizeof m, "%s: %s", what, msg);
    else if (rc == BC_ENOTFOUND)
        snprintf(m, sizeof m, "%s: workspace %s is not held in this data directory", what, ws);
    else
        snprintf(m, sizeof m, "%s: %s", what, err_str(rc));
    const char *code = rc == BC_ENOTFOUND  ? "not_found"
                       : rc == BC_EEXIST   ? "conflict"
                       : rc == BC_EBUSY    ? "busy"
                       : rc == BC_ECORRUPT ? "invalid_export"
                                           : "failed";
    return failed(code, m);
}

/* ---- workspace ---- */

static const char *const verbs[] = {"freeze", "thaw", "status", "export", "import", "drop"};

int fleet_admin_workspace_verb(const char *verb)
{
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (!strcmp(verb, verbs[i]))
            return 1;
    return 0;
}

static cJSON *status_json(const char *ws, const struct wsmove_status *st)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "workspaceId", ws);
    cJSON_AddBoolToObject(o, "frozen", st->frozen);
    cJSON_AddNumberToObject(o, "batches", (double)st->batches);
    cJSON_AddNumberToObject(o, "callsInProgress", (double)st->calls_in_progress);
    cJSON_AddNumberToObject(o, "uploadsInProgress", (double)st->uploads);
    cJSON_AddNumberToObject(o, "calls", (double)st->calls);
    cJSON_AddNumberToObject(o, "waiting", (double)st->waiting);
    return o;
}

static int file_write(void *arg, const void *p, size_t n)
{
    return fwrite(p, 1, n, arg) == n ? 0 : BC_EIO;
}

static int export_cmd(struct store *s, const struct fleet_admin_args *a)
{
    if (!a->out)
        return usage_error("workspace export needs --out FILE (- for standard output)");
    int to_stdout = !strcmp(a->out, "-");
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%.4000s.tmp", a->out);
    FILE *f = to_stdout ? stdout : fopen(tmp, "wb");
    if (!f) {
        char m[300];
        snprintf(m, sizeof m, "cannot create %.200s: %s", tmp, strerror(errno));
        return failed("failed", m);
    }
    struct wsmove_report r;
    int rc = wsmove_export(s, a->workspace, file_write, f, &r);
    if (!rc && fflush(f) != 0)
        rc = BC_EIO;
    if (!to_stdout) {
        if (!rc && fsync(fileno(f)) != 0)
            rc = BC_EIO;
        if (fclose(f) != 0 && !rc)
            rc = BC_EIO;
        if (!rc && rename(tmp, a->out) != 0)
            rc = BC_EIO;
        if (rc)
            unlink(tmp);
    }
    if (rc)
        return store_failed(rc, "workspace export", a->workspace, NULL);
    if (to_stdout)
        return 0; /* the file is the output */
    cJSON *o = wsmove_report_json(&r);
    cJSON_AddStringToObject(o, "file", a->out);
    cJSON_AddNumberToObject(o, "bytes", (double)r.bytes);
    char hex[2 * SHA256_LEN + 1];
    for (int i = 0; i < SHA256_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", r.sha[i]);
    cJSON_AddStringToObject(o, "sha256", hex);
    return admin_print_json(o);
}

int fleet_admin_workspace(struct store *s, const char *verb, const struct fleet_admin_args *a)
{
    if (!strcmp(verb, "import")) {
        if (!a->in)
            return usage_error("workspace import needs --in FILE");
        struct wsmove_report r;
        int rc = wsmove_import(s, a->in, a->replace, &r);
        if (rc) {
            char what[300];
            snprintf(what, sizeof what, "workspace import of %.200s", a->in);
            return store_failed(rc, what, r.ws, r.msg);
        }
        cJSON *o = wsmove_report_json(&r);
        cJSON_AddNumberToObject(o, "sidConflicts", (double)r.sid_conflicts);
        cJSON_AddBoolToObject(o, "replaced", r.replaced);
        return admin_print_json(o);
    }
    if (!a->workspace)
        return usage_error("this command needs --workspace WS_ID");
    if (!strcmp(verb, "export"))
        return export_cmd(s, a);
    if (!strcmp(verb, "status")) {
        struct wsmove_status st;
        int rc = wsmove_status(s, a->workspace, &st);
        return rc ? store_failed(rc, "workspace status", a->workspace, NULL)
                  : admin_print_json(status_json(a->workspace, &st));
    }
    if (!strcmp(verb, "freeze") || !strcmp(verb, "thaw")) {
        int frozen = !strcmp(verb, "freeze"), was;
        int rc = workspace_set_frozen(s, a->workspace, frozen, &was);
        if (rc)
            return store_failed(rc, frozen ? "workspace freeze" : "workspace thaw", a->workspace,
                                NULL);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "workspaceId", a->workspace);
        cJSON_AddBoolToObject(o, "frozen", frozen);
        cJSON_AddBoolToObject(o, "changed", was != frozen);
        return admin_print_json(o);
    }
    /* drop */
    struct wsmove_report r;
    int rc = wsmove_drop(s, a->workspace, a->force, &r);
    if (rc)
        return store_failed(rc, "workspace drop", a->workspace, r.msg);
    cJSON *o = wsmove_report_json(&r);
    cJSON_AddBoolToObject(o, "dropped", 1);
    return admin_print_json(o);
}

/* ---- placement ---- */

static cJSON *entry_json(const char *ws, const char *instance)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "workspace", ws);
    if (instance)
        cJSON_AddStringToObject(o, "instance", instance);
    else
        cJSON_AddNullToObject(o, "instance");
    return o;
}

static int placement_show(const struct placement *p, const char *ws)
{
    if (ws) {
        const struct placement_entry *e = placement_find(p, ws);
        if (!e) {
            char m[200];
            snprintf(m, sizeof m, "workspace %.64s is not in the map", ws);
            return failed("not_found", m);
        }
        return admin_print_json(entry_json(e->ws, e->instance));
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "placements");
    for (size_t i = 0; i < p->n; i++)
        cJSON_AddItemToArray(arr, entry_json(p->e[i].ws, p->e[i].instance));
    cJSON_AddNumberToObject(o, "count", (double)p->n);
    return admin_print_json(o);
}

int fleet_admin_placement(const char *verb, const struct fleet_admin_args *a)
{
    int set = !strcmp(verb, "set"), remove = !strcmp(verb, "remove");
    if (!set && !remove && strcmp(verb, "show") != 0)
        return usage_error("placement takes set, remove or show");
    if (!a->map)
        return usage_error("placement needs --map FILE");
    if ((set || remove) && !a->workspace)
        return usage_error("placement set and remove need --workspace WS_ID");
    if (set && !a->instance)
        return usage_error("placement set needs --instance NAME");
    if (a->workspace && !placement_name_ok(a->workspace))
        return usage_error("--workspace must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
    if (a->instance && !placement_name_ok(a->instance))
        return usage_error("--instance must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
    struct placement p = {0};
    int lock = -1;
    if (set || remove) {
        lock = placement_lock(a->map, p.msg, sizeof p.msg);
        if (lock < 0)
            return failed("failed", p.msg);
    }
    int rc = placement_load(&p, a->map), code;
    if (rc) {
        code = failed("failed", p.msg);
    } else if (!set && !remove) {
        code = placement_show(&p, a->workspace);
    } else {
        const struct placement_entry *e = placement_find(&p, a->workspace);
        char previous[PLACEMENT_NAME_MAX + 1] = "";
        if (e)
            snprintf(previous, sizeof previous, "%s", e->instance);
        rc =
            set ? placement_set(&p, a->workspace, a->instance) : placement_remove(&p, a->workspace);
        if (!rc)
            rc = placement_save(&p, a->map);
        if (rc == BC_ENOTFOUND) {
            char m[200];
            snprintf(m, sizeof m, "workspace %.64s is not in the map; nothing was changed",
                     a->workspace);
            code = failed("not_found", m);
        } else if (rc) {
            code = failed("failed", p.msg[0] ? p.msg : err_str(rc));
        } else {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "workspace", a->workspace);
            if (set)
                cJSON_AddStringToObject(o, "instance", a->instance);
            else
                cJSON_AddBoolToObject(o, "removed", 1);
            if (previous[0])
                cJSON_AddStringToObject(o, "previous", previous);
            else
                cJSON_AddNullToObject(o, "previous");
            code = admin_print_json(o);
        }
    }
    placement_free(&p);
    placement_unlock(lock);
    return code;
}
