/* The telephony provider simulator: start, stop and the standalone process (behaviour in sim.h;
 * the ledger, the calls and the routes are in their own files). */
#include "sim/sim.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "http/client.h"
#include "sim/rest.h"
#include "util/addr.h"
#include "util/err.h"
#include "util/clock.h"
#include "util/log.h"
#include "http/server.h"

#define DEFAULT_SID   "ACsimulator00000000000000000000000"
#define DEFAULT_TOKEN "simulator-token"

/* ---- start and stop ---- */

static void sim_free(struct sim *s)
{
    carrier_free(&s->calls);
    ledger_clear(&s->ledger);
    free(s);
}

static void handle_closed(struct sim *s)
{
    if (--s->open_handles > 0)
        return;
    void (*done)(void *) = s->done;
    void *arg = s->done_arg;
    sim_free(s);
    if (done)
        done(arg);
}

static void on_server_closed(struct http_server *srv)
{
    handle_closed((struct sim *)((char *)srv - offsetof(struct sim, http)));
}

static void on_calls_closed(struct carrier *c)
{
    handle_closed((struct sim *)((char *)c - offsetof(struct sim, calls)));
}

void sim_stop(struct sim *s, void (*done)(void *arg), void *arg)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    s->done = done;
    s->done_arg = arg;
    s->open_handles = 2;
    /* The server struct lives inside ours: wait for its handles. Connections never touch the
     * server once closed, so they need no waiting for. */
    http_server_close(&s->http, on_server_closed);
    carrier_close(&s->calls, on_calls_closed);
}

int sim_start(struct sim **out, uv_loop_t *loop, const struct sim_config *cfg, const char *host,
              int port)
{
    *out = NULL;
    if (!(cfg->speed >= SIM_MIN_SPEED && cfg->speed <= SIM_MAX_SPEED) ||
        !memchr(cfg->account_sid, '\0', sizeof cfg->account_sid) ||
        !memchr(cfg->auth_token, '\0', sizeof cfg->auth_token) || !cfg->account_sid[0])
        return BC_EINVAL;
    struct sim *s = calloc(1, sizeof *s);
    if (!s)
        return BC_ENOMEM;
    s->loop = loop;
    s->cfg = *cfg;
    char pair[sizeof cfg->account_sid + sizeof cfg->auth_token + 1];
    int plen = snprintf(pair, sizeof pair, "%s:%s", cfg->account_sid, cfg->auth_token);
    s->basic_len = (size_t)EVP_EncodeBlock((unsigned char *)s->basic, (unsigned char *)pair, plen);
    int rc = carrier_init(&s->calls, loop, &s->ledger, s->cfg.account_sid, s->cfg.auth_token,
                          cfg->speed);
    if (rc) {
        free(s);
        return rc;
    }
    struct http_server_config hc = {
        .max_connections = 4096,
        .header_timeout_ms = 10000,
        .idle_timeout_ms = 60000,
        .body_timeout_ms = 30000,
        .linger_ms = 1000,
        .routes = rest_routes,
        .nroutes = rest_nroutes,
        .app = s,
    };
    /* On Unix uv_tcp_init cannot fail for a plain TCP handle, so the listener is always open. */
    http_server_init(&s->http, loop, &hc);
    rc = http_server_listen(&s->http, host, port);
    if (rc) {
        log_error("simulator cannot listen", "host=%s port=%d reason=\"%s\"", host, port,
                  uv_strerror(rc));
        sim_stop(s, NULL, NULL);
        return rc == UV_EINVAL ? BC_EINVAL : BC_EIO;
    }
    struct sockaddr_storage addr;
    int alen = sizeof addr;
    uv_tcp_getsockname(&s->http.listener, (struct sockaddr *)&addr, &alen);
    s->port = addr.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&addr)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&addr)->sin_port);
    log_debug("simulator listening", "host=%s port=%d speed=%g", host, s->port, cfg->speed);
    *out = s;
    return 0;
}

int sim_port(const struct sim *s)
{
    return s->port;
}

/* ---- the standalone process ---- */

struct sim_flag {
    const char *flag, *env, *def, *help;
};

enum { FLAG_LISTEN, FLAG_SPEED, FLAG_SID, FLAG_TOKEN, FLAG_LOG_LEVEL, FLAG_CLOCK_OFFSET, NFLAGS };

static const struct sim_flag sim_flags[NFLAGS] = {
    {"--listen", "BATCHCALLD_LISTEN", "127.0.0.1:8089", "address to listen on, HOST:PORT"},
    {"--sim-speed", "BATCHCALLD_SIM_SPEED", "1", "time factor: 1000 makes a 3 s ring last 3 ms"},
    {"--account-sid", "BATCHCALLD_ACCOUNT_SID", DEFAULT_SID, "account sid callers must use"},
    {"--auth-token", "BATCHCALLD_AUTH_TOKEN", DEFAULT_TOKEN,
     "auth token: Basic password and callback signing key"},
    {"--log-level", "BATCHCALLD_LOG_LEVEL", "info", "debug, info, warn or error"},
    {"--clock-offset-ms", "BATCHCALLD_CLOCK_OFFSET_MS", "0",
     "testing aid: shift the wall clock by this many ms, as the server's flag does"},
};

static void sim_usage(FILE *out)
{
    fprintf(out, "Usage: batchcalld carrier-sim [flags]\n\n"
                 "A telephony provider simulator speaking the Twilio dialect. The number's last\n"
                 "two digits decide the outcome: 00 busy, 01 no answer, 02 unreachable, 03\n"
                 "carrier blocked, 04 voicemail, 05 the create request answers 503, anything\n"
                 "else a human answers. GET /sim/stats shows what it received.\n\n"
                 "Flags (each also read from the environment variable shown):\n");
    for (size_t i = 0; i < NFLAGS; i++)
        fprintf(out, "  %-16s %s\n  %-16s [%s, default %s]\n", sim_flags[i].flag, sim_flags[i].help,
                "", sim_flags[i].env, sim_flags[i].def);
}

/* Defaults, then the environment, then argv ("--flag value" or "--flag=value"). Returns 0, 1
 * when --help was printed, or BC_EINVAL after printing an error. */
static int parse_flags(int argc, char **argv, const char *values[NFLAGS])
{
    for (size_t i = 0; i < NFLAGS; i++) {
        const char *env = getenv(sim_flags[i].env);
        values[i] = env ? env : sim_flags[i].def;
    }
    for (int a = 0; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            sim_usage(stdout);
            return 1;
        }
        size_t alen = strcspn(arg, "=");
        size_t i = 0;
        while (i < NFLAGS &&
               (strlen(sim_flags[i].flag) != alen || strncmp(sim_flags[i].flag, arg, alen)))
            i++;
        if (i == NFLAGS) {
            fprintf(stderr, "carrier-sim: unknown flag \"%s\" (see --help)\n", arg);
            return BC_EINVAL;
        }
        if (arg[alen] == '=') {
            values[i] = arg + alen + 1;
        } else if (a + 1 < argc) {
            values[i] = argv[++a];
        } else {
            fprintf(stderr, "carrier-sim: %s needs a value\n", sim_flags[i].flag);
            return BC_EINVAL;
        }
    }
    return 0;
}

/* Fills cfg, host and port from the flag values. Returns 0 or BC_EINVAL after printing an
 * error. */
static int sim_configure(const char *values[NFLAGS], struct sim_config *cfg, char *host,
                         size_t hostcap, int *port, enum log_level *level)
{
    char *end;
    memset(cfg, 0, sizeof *cfg);
    if (addr_split(values[FLAG_LISTEN], host, hostcap, port) != 0) {
        fprintf(stderr, "carrier-sim: --listen must be HOST:PORT, got \"%s\"\n",
                values[FLAG_LISTEN]);
        return BC_EINVAL;
    }
    cfg->speed = strtod(values[FLAG_SPEED], &end);
    if (end == values[FLAG_SPEED] || *end ||
        !(cfg->speed >= SIM_MIN_SPEED && cfg->speed <= SIM_MAX_SPEED)) {
        fprintf(stderr, "carrier-sim: --sim-speed must be a number from 0.001 to 1000000\n");
        return BC_EINVAL;
    }
    if (!*values[FLAG_SID] || strlen(values[FLAG_SID]) >= sizeof cfg->account_sid ||
        strlen(values[FLAG_TOKEN]) >= sizeof cfg->auth_token) {
        fprintf(stderr,
                "carrier-sim: --account-sid (1 to %zu characters) or --auth-token (at "
                "most %zu) has a bad length\n",
                sizeof cfg->account_sid - 1, sizeof cfg->auth_token - 1);
        return BC_EINVAL;
    }
    strcpy(cfg->account_sid, values[FLAG_SID]);
    strcpy(cfg->auth_token, values[FLAG_TOKEN]);
    if (log_parse_level(values[FLAG_LOG_LEVEL], level) != 0) {
        fprintf(stderr, "carrier-sim: --log-level must be debug, info, warn or error\n");
        return BC_EINVAL;
    }
    return 0;
}

struct sim_process {
    struct sim *sim;
    uv_signal_t sigterm, sigint;
};

static void on_signal(uv_signal_t *h, int signum)
{
    struct sim_process *p = h->data;
    log_info("carrier simulator stopping", "signal=%d", signum);
    uv_close((uv_handle_t *)&p->sigterm, NULL);
    uv_close((uv_handle_t *)&p->sigint, NULL);
    sim_stop(p->sim, NULL, NULL);
}

int sim_main(int argc, char **argv)
{
    const char *values[NFLAGS];
    struct sim_config cfg;
    char host[256];
    int port;
    enum log_level level;
    int rc = parse_flags(argc, argv, values);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (sim_configure(values, &cfg, host, sizeof host, &port, &level) != 0)
        return 2;
    /* A test that shifts the server's clock shifts the provider's too, so that the ledger's
     * times and the server's are one clock. */
    char *end;
    long long offset = strtoll(values[FLAG_CLOCK_OFFSET], &end, 10);
    if (!*values[FLAG_CLOCK_OFFSET] || *end) {
        fprintf(stderr, "carrier-sim: --clock-offset-ms must be a whole number, got \"%s\"\n",
                values[FLAG_CLOCK_OFFSET]);
        return 2;
    }
    clock_set_offset_ms(offset);
    log_set_level(level);
    signal(SIGPIPE, SIG_IGN);
    if (client_global_init() != 0) {
        log_error("cannot initialise libcurl", "%s", "");
        return 1;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct sim_process p = {0};
    int code = 0;
    /* The signal watchers go first: a supervisor may send SIGTERM as soon as the port accepts
     * connections, and the default action would kill the process instead of stopping it. */
    uv_signal_init(&loop, &p.sigterm);
    uv_signal_init(&loop, &p.sigint);
    p.sigterm.data = p.sigint.data = &p;
    uv_signal_start(&p.sigterm, on_signal, SIGTERM);
    uv_signal_start(&p.sigint, on_signal, SIGINT);
    rc = sim_start(&p.sim, &loop, &cfg, host, port);
    if (rc) {
        code = 1;
        uv_close((uv_handle_t *)&p.sigterm, NULL);
        uv_close((uv_handle_t *)&p.sigint, NULL);
    } else {
        log_info("carrier simulator listening", "host=%s port=%d speed=%g account_sid=%s", host,
                 sim_port(p.sim), cfg.speed, cfg.account_sid);
    }
    /* Runs until sim_stop has closed everything (or, after a failed start, until the handles
     * sim_start opened are closed). */
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0)
        log_warn("handles still open at exit", "%s", "");
    client_global_cleanup();
    if (code == 0)
        log_info("carrier simulator stopped", "%s", "");
    return code;
}
