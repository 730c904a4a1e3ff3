#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/placement.h"
#include "util/addr.h"
#include "util/err.h"
#include "util/log.h"
#include "webhooks/delivery.h"

enum opt_type { OPT_STRING, OPT_UINT, OPT_BOOL, OPT_DOUBLE, OPT_INT };

struct opt {
    const char *name;
    enum opt_type type;
    size_t offset;
    size_t size; /* strings: buffer size */
    const char *def;
    const char *help;
};

#define STR(field, def, help)                                                                      \
    {                                                                                              \
#field, OPT_STRING, offsetof(struct config, field), sizeof(((struct config *)0)->field),   \
            def, help                                                                              \
    }
#define UINT(field, def, help)                                                                     \
    {                                                                                              \
#field, OPT_UINT, offsetof(struct config, field), 0, def, help                             \
    }
#define DBL(field, def, help)                                                                      \
    {                                                                                              \
#field, OPT_DOUBLE, offsetof(struct config, field), 0, def, help                           \
    }
/* A signed whole number (int64_t): the one option that may be negative. */
#define INT(field, def, help)                                                                      \
    {                                                                                              \
#field, OPT_INT, offsetof(struct config, field), 0, def, help                              \
    }
#define BOOL(field, help)                                                                          \
    {                                                                                              \
#field, OPT_BOOL, offsetof(struct config, field), 0, "0", help                             \
    }

/* A default defined as a number by the module it configures, as the string an option takes. */
#define NUM(x)     NUM_STR(x)
#define NUM_STR(x) #x

static const struct opt opts[] = {
    STR(listen, "0.0.0.0:8080", "address to listen on, HOST:PORT"),
    STR(data_dir, "./data", "directory of the LMDB store (created if missing)"),
    BOOL(demo, "create a demo workspace, API key and agent on first start and print them"),
    UINT(max_connections, "1024", "open connections allowed; more are answered 503 and closed"),
    UINT(max_connections_per_ip, "512",
         "open connections one client address (IPv6: its /64) may hold (0: no limit)"),
    UINT(reserved_connections, "16",
         "last connections of --max-connections kept for /healthz, /readyz and /metrics (at most "
         "a quarter)"),
    UINT(max_streams_per_workspace, "64",
         "live event streams one workspace may have open at once (0: no limit)"),
    UINT(header_timeout_ms, "10000", "time allowed for a request line and headers to arrive"),
    UINT(idle_timeout_ms, "60000", "a keep-alive connection with no request is closed after this"),
    UINT(body_timeout_ms, "30000", "a request body that stalls for this long is cut off"),
    UINT(shutdown_timeout_ms, "10000", "on SIGTERM/SIGINT, time given to requests in flight"),
    UINT(map_size_mb, "64", "initial LMDB map size in MiB; it grows as needed"),
    UINT(map_size_max_mb, "65536", "largest LMDB map size in MiB; writes then fail with 507"),
    STR(log_level, "info", "debug, info, warn or error"),
    STR(provider, "sim", "telephony provider: sim (built-in simulator), twilio or http"),
    STR(public_url, "", "URL providers use to reach this server (default http://127.0.0.1:PORT)"),
    STR(twilio_api_base, "https://api.twilio.com", "Twilio REST API base URL"),
    STR(twilio_account_sid, "", "Twilio account SID (AC...); the simulator accepts any"),
    STR(twilio_auth_token, "", "Twilio auth token: request auth and callback signatures"),
    STR(http_provider_url, "", "http provider: where calls are created (POST)"),
    STR(http_provider_secret, "", "http provider: HMAC-SHA256 key for requests and callbacks"),
    DBL(provider_cps, "100", "calls per second the provider account allows (0: no limit)"),
    UINT(max_in_flight, "256", "provider requests in flight at once"),
    UINT(ring_timeout_s, "30", "ring this long before a call counts as not answered"),
    DBL(sim_speed, "1", "simulator time scale: 100 makes a 30 s call take 0.3 s"),
    UINT(busy_attempts, "3", "attempts in all for a busy number"),
    UINT(busy_retry_ms, "600000", "wait between attempts of a busy number"),
    UINT(provider_retries, "8", "provider-trouble retries (429, 5xx, network) before failing"),
    UINT(provider_backoff_ms, "1000", "first provider-trouble backoff ceiling (doubles each try)"),
    UINT(provider_backoff_max_ms, "60000", "largest provider-trouble backoff ceiling"),
    UINT(smart_hour_ms, "3600000", "length of an hour in smartCallbackConfig gaps (for tests)"),
    UINT(reconcile_ms, "300000", "after a restart, wait this long for reports on calls in flight"),
    UINT(call_overdue_ms, "3600000",
         "look up a call at the provider after this long without an "
         "end"),
    UINT(webhook_backoff_ms, NUM(DELIVERY_BACKOFF_MS),
         "wait after a failed webhook attempt; doubles per attempt"),
    UINT(webhook_backoff_max_ms, NUM(DELIVERY_BACKOFF_MAX_MS),
         "longest wait between two webhook attempts"),
    UINT(webhook_max_age_ms, NUM(DELIVERY_MAX_AGE_MS),
         "retry a webhook event until this long after it happened"),
    UINT(webhook_timeout_ms, NUM(DELIVERY_TIMEOUT_MS), "time allowed for one webhook request"),
    BOOL(webhook_allow_private,
         "let webhooks reach loopback, private and link-local addresses (trusted networks only)"),
    STR(admin_token, "",
        "bearer token of the operator routes (/v1/admin/: the national do-not-call registry); "
        "empty: they answer 403"),
    INT(clock_offset_ms, "0",
        "testing aid: shift the server's wall clock by this many ms (calling windows, caps)"),
    UINT(events_log_kb, "2048",
         "live events kept in memory per watched batch, in KiB, for reconnects; up to 16 "
         "times more while a slow watcher still needs them"),
    STR(instance_name, "",
        "this instance's name in the fleet's placement map: turns on 421 for workspaces it "
        "does not hold (docs/fleet.md)"),
};
#define NOPTS (sizeof opts / sizeof opts[0])

/* Flag names use '-', fields and environment variables '_'. */
static void flag_name(const struct opt *o, char *out, size_t cap)
{
    snprintf(out, cap, "--%s", o->name);
    for (char *p = out + 2; *p; p++)
        if (*p == '_')
            *p = '-';
}

static void env_name(const struct opt *o, char *out, size_t cap)
{
    snprintf(out, cap, "BATCHCALLD_%s", o->name);
    for (char *p = out; *p; p++)
        *p = (char)toupper((unsigned char)*p);
}

static int set_value(struct config *cfg, const struct opt *o, const char *v, const char *from)
{
    char *field = (char *)cfg + o->offset;
    switch (o->type) {
    case OPT_STRING:
        if (strlen(v) >= o->size) {
            fprintf(stderr, "batchcalld: %s is too long (at most %zu characters)\n", from,
                    o->size - 1);
            return BC_EINVAL;
        }
        strcpy(field, v);
        return 0;
    case OPT_UINT: {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (!*v || *end || errno || v[0] == '-') {
            fprintf(stderr, "batchcalld: %s must be a whole number, got \"%s\"\n", from, v);
            return BC_EINVAL;
        }
        *(uint64_t *)field = n;
        return 0;
    }
    case OPT_INT: {
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (!*v || *end || errno) {
            fprintf(stderr,
                    "batchcalld: %s must be a whole number (negative allowed), got \"%s\"\n", from,
                    v);
            return BC_EINVAL;
        }
        *(int64_t *)field = n;
        return 0;
    }
    case OPT_DOUBLE: {
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        if (!*v || *end || errno || d < 0) {
            fprintf(stderr, "batchcalld: %s must be a number >= 0, got \"%s\"\n", from, v);
            return BC_EINVAL;
        }
        *(double *)field = d;
        return 0;
    }
    case OPT_BOOL:
        if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes")) {
            *(int *)field = 1;
        } else if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") || !*v) {
            *(int *)field = 0;
        } else {
            fprintf(stderr, "batchcalld: %s must be true or false, got \"%s\"\n", from, v);
            return BC_EINVAL;
        }
        return 0;
    }
    return BC_EINVAL;
}

static int validate(const struct config *cfg)
{
    char host[256];
    int port;
    enum log_level level;
    if (addr_split(cfg->listen, host, sizeof host, &port) != 0) {
        fprintf(stderr, "batchcalld: --listen must be HOST:PORT, got \"%s\"\n", cfg->listen);
        return BC_EINVAL;
    }
    if (log_parse_level(cfg->log_level, &level) != 0) {
        fprintf(stderr, "batchcalld: --log-level must be debug, info, warn or error\n");
        return BC_EINVAL;
    }
    if (cfg->max_connections == 0 || cfg->header_timeout_ms == 0 || cfg->idle_timeout_ms == 0 ||
        cfg->body_timeout_ms == 0) {
        fprintf(stderr, "batchcalld: connection limits and timeouts must be greater than 0\n");
        return BC_EINVAL;
    }
    if (strcmp(cfg->provider, "sim") && strcmp(cfg->provider, "twilio") &&
        strcmp(cfg->provider, "http")) {
        fprintf(stderr, "batchcalld: --provider must be sim, twilio or http\n");
        return BC_EINVAL;
    }
    if (!strcmp(cfg->provider, "twilio") &&
        (!cfg->twilio_account_sid[0] || !cfg->twilio_auth_token[0] || !cfg->public_url[0])) {
        fprintf(stderr, "batchcalld: --provider twilio needs --twilio-account-sid, "
                        "--twilio-auth-token and --public-url (where Twilio sends callbacks)\n");
        return BC_EINVAL;
    }
    if (!strcmp(cfg->provider, "http") &&
        (!cfg->http_provider_url[0] || !cfg->http_provider_secret[0] || !cfg->public_url[0])) {
        fprintf(stderr, "batchcalld: --provider http needs --http-provider-url, "
                        "--http-provider-secret and --public-url\n");
        return BC_EINVAL;
    }
    if (!(cfg->sim_speed > 0) || cfg->max_in_flight == 0 || cfg->busy_attempts == 0 ||
        cfg->events_log_kb == 0 || cfg->events_log_kb > 1024 * 1024) {
        fprintf(stderr, "batchcalld: --sim-speed, --max-in-flight, --busy-attempts and "
                        "--events-log-kb must be greater than 0 (--events-log-kb at most "
                        "1048576)\n");
        return BC_EINVAL;
    }
    if (cfg->instance_name[0] && !placement_name_ok(cfg->instance_name)) {
        fprintf(stderr, "batchcalld: --instance-name must be 1 to 64 characters of A-Z a-z 0-9 "
                        ". _ - (it is a value in the balancer's placement map)\n");
        return BC_EINVAL;
    }
    if (cfg->map_size_mb == 0 || cfg->map_size_max_mb < cfg->map_size_mb) {
        fprintf(stderr, "batchcalld: --map-size-max-mb must be at least --map-size-mb (> 0)\n");
        return BC_EINVAL;
    }
    return 0;
}

static void print_usage(FILE *out);

int config_parse(struct config *cfg, int argc, char **argv)
{
    memset(cfg, 0, sizeof *cfg);
    char name[64];
    for (size_t i = 0; i < NOPTS; i++) {
        if (set_value(cfg, &opts[i], opts[i].def, "default") != 0)
            return BC_EINVAL;
        env_name(&opts[i], name, sizeof name);
        const char *v = getenv(name);
        if (v && set_value(cfg, &opts[i], v, name) != 0)
            return BC_EINVAL;
    }
    for (int a = 0; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            print_usage(stdout);
            return 1;
        }
        const char *eq = strchr(arg, '=');
        size_t alen = eq ? (size_t)(eq - arg) : strlen(arg);
        const struct opt *o = NULL;
        for (size_t i = 0; i < NOPTS; i++) {
            flag_name(&opts[i], name, sizeof name);
            if (strlen(name) == alen && !strncmp(name, arg, alen))
                o = &opts[i];
        }
        if (!o) {
            fprintf(stderr, "batchcalld: unknown flag \"%s\" (see --help)\n", arg);
            return BC_EINVAL;
        }
        flag_name(o, name, sizeof name);
        const char *v = eq ? eq + 1 : NULL;
        if (!v && o->type == OPT_BOOL)
            v = "1";
        if (!v) {
            if (a + 1 >= argc) {
                fprintf(stderr, "batchcalld: %s needs a value\n", name);
                return BC_EINVAL;
            }
            v = argv[++a];
        }
        if (set_value(cfg, o, v, name) != 0)
            return BC_EINVAL;
    }
    return validate(cfg);
}

static void print_usage(FILE *out)
{
    fprintf(out, "Usage: batchcalld [serve] [flags]\n"
                 "       batchcalld admin workspace|key ... (batchcalld admin --help)\n"
                 "       batchcalld healthcheck [--listen HOST:PORT]\n"
                 "       batchcalld carrier-sim [--listen HOST:PORT] [--sim-speed N] (--help)\n"
                 "       batchcalld --version\n\n"
                 "Serve flags (each also read from the environment variable shown):\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char flag[64], env[64];
        flag_name(&opts[i], flag, sizeof flag);
        env_name(&opts[i], env, sizeof env);
        const char *def = opts[i].type == OPT_BOOL ? "off" : opts[i].def[0] ? opts[i].def : "none";
        fprintf(out, "  %-26s %s\n  %-26s [%s, default %s]\n", flag, opts[i].help, "", env, def);
    }
}
