#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "api/compliance_settings.h"
#include "fleet_admin.h"
#include "admin_registry.h"
#include "model/apikey.h"
#include "model/workspace.h"
#include "model/url.h"
#include "policy/rules.h"
#include "store/records.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/dirlock.h"
#include "util/err.h"
#include "util/log.h"
#include "webhooks/target.h"

struct admin_args {
    const char *data_dir;
    const char *name, *workspace, *label, *key_id, *url;
    const char *compliance; /* --compliance JSON: settings of policy/rules.h, at create/update */
    const char *set;        /* workspace compliance --set JSON */
    int allow_private;      /* --webhook-allow-private */
    /* registry import */
    const char *file, *date;
    struct ws_update limits;
    struct fleet_admin_args fleet; /* placement and the fleet's workspace commands */
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage:\n"
            "  batchcalld admin workspace create --name NAME [limits] [--compliance JSON]\n"
            "  batchcalld admin workspace update --workspace WS_ID [limits] [--compliance JSON]\n"
            "  batchcalld admin workspace list\n"
            "  batchcalld admin workspace compliance --workspace WS_ID [--set JSON]\n"
            "  batchcalld admin key create --workspace WS_ID [--label TEXT]\n"
            "  batchcalld admin key list --workspace WS_ID\n"
            "  batchcalld admin key revoke --key-id KEY_ID\n"
            "  batchcalld admin webhook set --workspace WS_ID --url URL [--webhook-allow-private]\n"
            "  batchcalld admin webhook delete --workspace WS_ID\n"
            "  batchcalld admin workspace freeze|thaw|status --workspace WS_ID\n"
            "  batchcalld admin workspace export --workspace WS_ID --out FILE\n"
            "  batchcalld admin workspace import --in FILE [--replace]\n"
            "  batchcalld admin workspace drop --workspace WS_ID [--force]\n"
            "  batchcalld admin placement set --map FILE --workspace WS_ID --instance NAME\n"
            "  batchcalld admin placement remove|show --map FILE [--workspace WS_ID]\n"
            "  (the fleet commands: docs/fleet.md)\n"
            "  batchcalld admin registry import --file FILE --date YYYY-MM-DD\n"
            "  batchcalld admin registry show\n"
            "Limits: --calls-per-second X (default %g), --max-concurrent-calls N (default %d),\n"
            "        --requests-per-minute N (default %d), --max-records N (default %d)\n"
            "--compliance sets compliance settings, e.g. '{\"allowOutsideFederalWindow\":true}'\n"
            "        (README \"Compliance\"); fields left out keep their value or default.\n"
            "Every command takes --data-dir DIR (default $BATCHCALLD_DATA_DIR or ./data) and\n"
            "prints JSON. API keys are shown once, at creation: only their hash is stored.\n"
            "webhook set prints the new signing secret; setting the URL again rotates it.\n"
            "workspace compliance prints the compliance settings; --set changes the ones its\n"
            "JSON object names, as PUT /v1/api/compliance/settings does, e.g.\n"
            "  --set '{\"requireConsent\":true,\"maxAttemptsPerNumber\":2}'\n",
            WS_DEFAULT_CALLS_PER_SECOND, WS_DEFAULT_MAX_CONCURRENT_CALLS,
            WS_DEFAULT_REQUESTS_PER_MINUTE, WS_DEFAULT_MAX_RECORDS);
}

static int parse_number(const char *flag, const char *v, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (!*v || *end || errno || d < 0) {
        fprintf(stderr, "batchcalld admin: %s needs a number, got \"%s\"\n", flag, v);
        return BC_EINVAL;
    }
    *out = d;
    return 0;
}

static int parse_args(int argc, char **argv, struct admin_args *a)
{
    const char *env = getenv("BATCHCALLD_DATA_DIR");
    a->data_dir = env && *env ? env : "./data";
    for (int i = 0; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--webhook-allow-private")) {
            a->allow_private = 1;
            continue;
        }
        if (!strcmp(f, "--replace") || !strcmp(f, "--force")) {
            *(f[2] == 'r' ? &a->fleet.replace : &a->fleet.force) = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "batchcalld admin: %s needs a value\n", f);
            return BC_EINVAL;
        }
        const char *v = argv[++i];
        double d;
        struct ws_settings *l = &a->limits.v;
        if (!strcmp(f, "--data-dir")) {
            a->data_dir = v;
        } else if (!strcmp(f, "--name")) {
            a->name = v;
        } else if (!strcmp(f, "--workspace")) {
            a->workspace = a->fleet.workspace = v;
        } else if (!strcmp(f, "--map")) {
            a->fleet.map = v;
        } else if (!strcmp(f, "--instance")) {
            a->fleet.instance = v;
        } else if (!strcmp(f, "--in")) {
            a->fleet.in = v;
        } else if (!strcmp(f, "--out")) {
            a->fleet.out = v;
        } else if (!strcmp(f, "--label")) {
            a->label = v;
        } else if (!strcmp(f, "--key-id")) {
            a->key_id = v;
        } else if (!strcmp(f, "--url")) {
            a->url = v;
        } else if (!strcmp(f, "--compliance")) {
            a->compliance = v;
        } else if (!strcmp(f, "--set")) {
            a->set = v;
        } else if (!strcmp(f, "--file")) {
            a->file = v;
        } else if (!strcmp(f, "--date")) {
            a->date = v;
        } else if (!strcmp(f, "--calls-per-second")) {
            if (parse_number(f, v, &d))
                return BC_EINVAL;
            l->calls_per_second = d;
            a->limits.has_calls_per_second = 1;
        } else if (!strcmp(f, "--max-concurrent-calls")) {
            if (parse_number(f, v, &d))
                return BC_EINVAL;
            l->max_concurrent_calls = (uint64_t)d;
            a->limits.has_max_concurrent_calls = 1;
        } else if (!strcmp(f, "--requests-per-minute")) {
            if (parse_number(f, v, &d))
                return BC_EINVAL;
            l->requests_per_minute = (uint64_t)d;
            a->limits.has_requests_per_minute = 1;
        } else if (!strcmp(f, "--max-records")) {
            if (parse_number(f, v, &d))
                return BC_EINVAL;
            l->max_records = (uint64_t)d;
            a->limits.has_max_records = 1;
        } else {
            fprintf(stderr, "batchcalld admin: unknown flag \"%s\" (see batchcalld admin --help)\n",
                    f);
            return BC_EINVAL;
        }
    }
    return 0;
}

int admin_print_json(cJSON *o)
{
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text)
        return 1;
    printf("%s\n", text);
    cJSON_free(text);
    return 0;
}

static int fail(int rc, const char *what)
{
    if (rc == BC_ENOTFOUND)
        fprintf(stderr, "batchcalld admin: %s: not found\n", what);
    else
        fprintf(stderr, "batchcalld admin: %s: %s\n", what, err_str(rc));
    return 1;
}

static int need(const char *value, const char *flag)
{
    if (value)
        return 0;
    fprintf(stderr, "batchcalld admin: %s is required\n", flag);
    return BC_EINVAL;
}

static cJSON *key_json(const struct apikey_info *k, const char *api_key)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "workspaceId", k->ws);
    cJSON_AddStringToObject(o, "keyId", k->key_id);
    cJSON_AddStringToObject(o, "apiKey", api_key);
    cJSON_AddStringToObject(o, "label", k->label);
    return o;
}

/* Checks --compliance before anything is written: 0, or 2 after saying what is wrong. */
static int check_compliance(const struct admin_args *a, cJSON **out)
{
    *out = NULL;
    if (!a->compliance)
        return 0;
    struct rules r;
    char msg[RULES_MSG_MAX];
    rules_defaults(&r);
    *out = cJSON_Parse(a->compliance);
    int rc = *out ? rules_apply_json(&r, *out, 0, msg, sizeof msg) : BC_EINVAL;
    rules_free(&r);
    if (rc == 0)
        return 0;
    fprintf(stderr, "batchcalld admin: --compliance: %s\n",
            *out ? msg : "not JSON; give an object such as '{\"stateRules\":true}'");
    cJSON_Delete(*out);
    *out = NULL;
    return 2;
}

/* Applies --compliance (set, not NULL) to the workspace, as PUT /v1/api/compliance/settings does,
 * and adds the resulting settings to o as "compliance". */
static int add_compliance(struct store *s, const char *ws, const cJSON *set, cJSON *o)
{
    struct rules r;
    struct compliance_settings_error err;
    int rc = compliance_settings_update(s, ws, strlen(ws), set, "source=admin", &r, &err);
    if (rc == 0) {
        cJSON_AddItemToObject(o, "compliance", compliance_settings_json(&r));
        rules_free(&r);
    }
    return rc;
}

static int create_workspace(struct store *s, struct admin_args *a)
{
    struct ws_settings ws;
    char msg[160];
    workspace_defaults(&ws);
    if (need(a->name, "--name"))
        return 2;
    if (strlen(a->name) >= sizeof ws.name) {
        fprintf(stderr, "batchcalld admin: --name is longer than %zu characters\n",
                sizeof ws.name - 1);
        return 2;
    }
    strcpy(ws.name, a->name);
    const struct ws_update *u = &a->limits;
    if (u->has_calls_per_second)
        ws.calls_per_second = u->v.calls_per_second;
    if (u->has_max_concurrent_calls)
        ws.max_concurrent_calls = u->v.max_concurrent_calls;
    if (u->has_requests_per_minute)
        ws.requests_per_minute = u->v.requests_per_minute;
    if (u->has_max_records)
        ws.max_records = u->v.max_records;
    if (workspace_validate(&ws, msg, sizeof msg) != 0) {
        fprintf(stderr, "batchcalld admin: %s\n", msg);
        return 2;
    }
    cJSON *set;
    if (check_compliance(a, &set))
        return 2;
    struct id_gen ids = {0};
    char api_key[APIKEY_TEXT_MAX];
    struct apikey_info key;
    int rc = workspace_create(s, &ids, &ws, a->label ? a->label : "default", api_key, &key);
    cJSON *o = rc ? NULL : workspace_to_json(&ws);
    if (o) {
        cJSON_AddStringToObject(o, "apiKey", api_key);
        cJSON_AddStringToObject(o, "keyId", key.key_id);
        rc = set ? add_compliance(s, ws.id, set, o) : 0;
    }
    cJSON_Delete(set);
    if (rc) {
        cJSON_Delete(o);
        return fail(rc, "workspace create");
    }
    return admin_print_json(o);
}

static int update_workspace(struct store *s, struct admin_args *a)
{
    if (need(a->workspace, "--workspace"))
        return 2;
    struct ws_settings ws;
    cJSON *set;
    if (check_compliance(a, &set))
        return 2;
    int rc = workspace_update_limits(s, a->workspace, &a->limits, &ws);
    if (rc == BC_EINVAL) {
        cJSON_Delete(set);
        fprintf(stderr,
                "batchcalld admin: a limit is out of range (see batchcalld admin --help)\n");
        return 2;
    }
    cJSON *o = rc ? NULL : workspace_to_json(&ws);
    if (o)
        rc = set ? add_compliance(s, a->workspace, set, o) : 0;
    cJSON_Delete(set);
    if (rc) {
        cJSON_Delete(o);
        return fail(rc, "workspace update");
    }
    return admin_print_json(o);
}

static int webhook_set(struct store *s, struct admin_args *a)
{
    if (need(a->workspace, "--workspace") || need(a->url, "--url"))
        return 2;
    if (url_check(a->url, strlen(a->url), 0) != 0) {
        fprintf(stderr,
                "batchcalld admin: --url must be an http:// or https:// URL of at most %d "
                "characters\n",
                URL_MAX);
        return 2;
    }
    const char *refusal = url_target_refusal(a->url, strlen(a->url), a->allow_private);
    if (refusal) {
        fprintf(stderr, "batchcalld admin: --url %s\n", url_refusal_message(refusal));
        return 2;
    }
    char secret[SIGNING_SECRET_LEN + 1];
    uint64_t created;
    int rc = target_set(s, a->workspace, strlen(a->workspace), a->url, secret, &created);
    if (rc)
        return fail(rc, "webhook set");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "workspaceId", a->workspace);
    cJSON_AddStringToObject(o, "url", a->url);
    cJSON_AddStringToObject(o, "secret", secret);
    cJSON_AddNumberToObject(o, "createdAt", (double)created);
    return admin_print_json(o);
}

static int webhook_delete(struct store *s, struct admin_args *a)
{
    if (need(a->workspace, "--workspace"))
        return 2;
    int rc = target_remove(s, a->workspace, strlen(a->workspace));
    if (rc)
        return fail(rc, "webhook delete");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "workspaceId", a->workspace);
    cJSON_AddBoolToObject(o, "deleted", 1);
    return admin_print_json(o);
}

/* Shows the workspace's compliance settings, or changes those --set names first. */
static int workspace_compliance(struct store *s, struct admin_args *a)
{
    if (need(a->workspace, "--workspace"))
        return 2;
    size_t wslen = strlen(a->workspace);
    struct rules r;
    int rc;
    if (a->set) {
        cJSON *body = cJSON_Parse(a->set);
        if (!cJSON_IsObject(body)) {
            cJSON_Delete(body);
            fprintf(stderr, "batchcalld admin: --set needs a JSON object such as "
                            "'{\"requireConsent\":true}'\n");
            return 2;
        }
        struct compliance_settings_error err;
        rc = compliance_settings_update(s, a->workspace, wslen, body, "source=admin", &r, &err);
        cJSON_Delete(body);
        if (rc == BC_EINVAL) {
            fprintf(stderr, "batchcalld admin: --set: %s; nothing was changed\n", err.message);
            return 2;
        }
    } else {
        struct store_txn t;
        struct ws_settings ws;
        rc = store_read_begin(s, &t);
        if (!rc) {
            rc = workspace_get(&t, a->workspace, wslen, &ws);
            if (!rc)
                rc = rules_get(&t, a->workspace, wslen, &r);
            store_read_end(&t);
        }
    }
    if (rc)
        return fail(rc, "workspace compliance");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "workspaceId", a->workspace);
    cJSON_AddItemToObject(o, "compliance", compliance_settings_json(&r));
    rules_free(&r);
    return admin_print_json(o);
}

static int run_command(struct store *s, const char *noun, const char *verb, struct admin_args *a)
{
    cJSON *out = NULL;
    int rc;
    if (!strcmp(noun, "workspace") && !strcmp(verb, "create"))
        return create_workspace(s, a);
    if (!strcmp(noun, "workspace") && !strcmp(verb, "update"))
        return update_workspace(s, a);
    if (!strcmp(noun, "workspace") && !strcmp(verb, "compliance"))
        return workspace_compliance(s, a);
    if (!strcmp(noun, "workspace") && !strcmp(verb, "list")) {
        rc = workspace_list(s, &out);
        return rc ? fail(rc, "workspace list") : admin_print_json(out);
    }
    if (!strcmp(noun, "key") && !strcmp(verb, "create")) {
        if (need(a->workspace, "--workspace"))
            return 2;
        struct id_gen ids = {0};
        char api_key[APIKEY_TEXT_MAX];
        struct apikey_info key;
        rc = apikey_create(s, &ids, a->workspace, a->label ? a->label : "", api_key, &key);
        return rc ? fail(rc, "key create") : admin_print_json(key_json(&key, api_key));
    }
    if (!strcmp(noun, "key") && !strcmp(verb, "list")) {
        if (need(a->workspace, "--workspace"))
            return 2;
        rc = apikey_list(s, a->workspace, &out);
        return rc ? fail(rc, "key list") : admin_print_json(out);
    }
    if (!strcmp(noun, "key") && !strcmp(verb, "revoke")) {
        if (need(a->key_id, "--key-id"))
            return 2;
        rc = apikey_revoke(s, a->key_id);
        if (rc)
            return fail(rc, "key revoke");
        out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "keyId", a->key_id);
        cJSON_AddBoolToObject(out, "revoked", 1);
        return admin_print_json(out);
    }
    if (!strcmp(noun, "workspace") && fleet_admin_workspace_verb(verb))
        return fleet_admin_workspace(s, verb, &a->fleet);
    if (!strcmp(noun, "webhook") && !strcmp(verb, "set"))
        return webhook_set(s, a);
    if (!strcmp(noun, "webhook") && !strcmp(verb, "delete"))
        return webhook_delete(s, a);
    if (!strcmp(noun, "registry")) {
        rc = admin_registry_run(s, verb, a->file, a->date, &out);
        return out ? admin_print_json(out) : rc;
    }
    fprintf(stderr, "batchcalld admin: unknown command \"%s %s\"\n", noun, verb);
    usage(stderr);
    return 2;
}

/* A store an older version wrote is brought to this version's layout (records_upgrade) before
 * a command reads it, as a server does when it starts, unless a server holds the directory:
 * that one upgraded it already. */
static int upgrade_if_idle(struct store *s, const char *dir)
{
    int fd;
    int rc = dirlock_take(dir, &fd);
    if (rc == BC_EBUSY)
        return 0;
    if (!rc)
        rc = records_upgrade(s);
    if (fd >= 0)
        close(fd);
    if (rc)
        fprintf(stderr, "batchcalld admin: cannot bring the data directory %s up to date: %s\n",
                dir, err_str(rc));
    return rc;
}

int admin_main(int argc, char **argv)
{
    if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    struct admin_args a = {0};
    if (parse_args(argc - 2, argv + 2, &a) != 0)
        return 2;
    log_set_level(LOG_WARN);
    if (!strcmp(argv[0], "placement")) /* a file of the balancer's, not of the data directory */
        return fleet_admin_placement(argv[1], &a.fleet);
    struct store s;
    struct store_options opt = {
        .dir = a.data_dir, .map_size = 64u << 20, .map_size_max = (size_t)65536 << 20};
    int rc = store_open(&s, &opt);
    if (rc) {
        fprintf(stderr, "batchcalld admin: cannot open the data directory %s: %s\n", a.data_dir,
                err_str(rc));
        return 1;
    }
    rc = upgrade_if_idle(&s, a.data_dir);
    int code = rc ? 1 : run_command(&s, argv[0], argv[1], &a);
    store_close(&s);
    return code;
}
