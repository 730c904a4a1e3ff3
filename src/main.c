/* batchcalld: entry point, subcommands, and the serve loop's start-up and shutdown. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netdb.h>
#include <unistd.h>

#include "admin.h"
#include "api/agents.h"
#include "api/auth.h"
#include "api/api.h"
#include "api/routes.h"
#include "api/batches.h"
#include "api/compliance_settings.h"
#include "webhooks/webhooks.h"
#include "model/apikey.h"
#include "model/workspace.h"
#include "app.h"
#include "http/server.h"
#include "store/records.h"
#include "util/addr.h"
#include "util/dirlock.h"
#include "util/err.h"
#include "policy/zones.h"
#include "util/clock.h"
#include "util/log.h"

#define LINGER_MS 2000

/* ---- shutdown ---- */

#define LAG_INTERVAL_MS 100

static void on_lag_timer(uv_timer_t *t)
{
    struct app *app = t->data;
    uint64_t now = uv_hrtime();
    if (now > app->lag_due_ns)
        histogram_observe(&app->loop_lag, (double)(now - app->lag_due_ns) / 1e9);
    else
        histogram_observe(&app->loop_lag, 0);
    app->lag_due_ns = now + LAG_INTERVAL_MS * 1000000ull;
}

/* The probe of loop lag: cheap (ten wake-ups a second) and never keeps the loop alive. Timers
 * have millisecond resolution, so lags under a millisecond read as up to one. */
static void lag_start(struct app *app)
{
    uv_timer_init(app->loop, &app->lag_timer);
    app->lag_timer.data = app;
    app->lag_due_ns = uv_hrtime() + LAG_INTERVAL_MS * 1000000ull;
    uv_timer_start(&app->lag_timer, on_lag_timer, LAG_INTERVAL_MS, LAG_INTERVAL_MS);
    uv_unref((uv_handle_t *)&app->lag_timer);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void stop_loop(struct app *app)
{
    app->stopped = 1;
    uv_stop(app->loop);
}

/* The drain ends when no client connection is open and no provider request is in flight (its
 * answer is committed, so no call is left in doubt by a clean shutdown). */
static void on_drain_check(uv_timer_t *t)
{
    struct app *app = t->data;
    if (app->stopped)
        return; /* the loop runs on only to let the last writes end */
    if (app->http.nconns == 0 && (!app->dispatch || dispatch_idle(app->dispatch))) {
        log_info("drained: no connections or provider requests in flight", "%s", "");
        stop_loop(app);
    }
}

static void on_drained(struct http_server *srv)
{
    struct app *app = srv->cfg.app;
    on_drain_check(&app->drain_timer);
}

static void on_shutdown_timeout(uv_timer_t *t)
{
    struct app *app = t->data;
    log_warn("shutdown timeout: closing connections still open", "open=%zu", app->http.nconns);
    http_server_close_all(&app->http);
    stop_loop(app);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct app *app = s->data;
    if (app->draining) {
        log_warn("second signal: stopping now", "signal=%d", signum);
        http_server_close_all(&app->http);
        stop_loop(app);
        return;
    }
    log_info("shutting down: draining connections", "signal=%d open=%zu timeout_ms=%llu", signum,
             app->http.nconns, (unsigned long long)app->cfg.shutdown_timeout_ms);
    app->draining = 1;
    if (app->dispatch)
        dispatch_quiesce(app->dispatch);
    /* Event streams never end by themselves: end them so the drain can finish. */
    events_shutdown(app->events);
    uv_timer_start(&app->shutdown_timer, on_shutdown_timeout, app->cfg.shutdown_timeout_ms, 0);
    uv_timer_start(&app->drain_timer, on_drain_check, 10, 10);
    http_server_drain(&app->http, on_drained);
}

/* ---- start-up ---- */

static int lock_data_dir(struct app *app)
{
    int rc = dirlock_take(app->cfg.data_dir, &app->lock_fd);
    if (rc == BC_EBUSY)
        log_error("another batchcalld server is using this data directory; stop it or use "
                  "another --data-dir",
                  "dir=\"%s\"", app->cfg.data_dir);
    else if (rc)
        log_error("cannot create the lock file", "path=\"%s/serve.lock\" reason=\"%s\"",
                  app->cfg.data_dir, rc == BC_EIO ? strerror(errno) : err_str(rc));
    return rc;
}

static const char demo_key[] = "demo";

struct demo_info {
    char ws[ID_MAX];
    char agent[ID_MAX];
};

static int demo_save_txn(struct store_txn *t, void *arg)
{
    const struct demo_info *d = arg;
    return store_put(t, DB_META, demo_key, sizeof demo_key - 1, d, sizeof *d, 0);
}

/* Written once the demo workspace has been opted out of the calling window, so a setting its
 * owner changes afterwards is left alone at the next start. */
static const char demo_window_key[] = "demo_window_opt_out";

static int demo_window_txn(struct store_txn *t, void *arg)
{
    (void)arg;
    return store_put(t, DB_META, demo_window_key, sizeof demo_window_key - 1, "1", 1, 0);
}

/* The demo's campaigns must finish within a minute whatever the hour, and it dials only the
 * simulator: its workspace allows calls outside the federal window (recorded and logged like
 * any such setting) and has no frequency cap, so that the sample file can be uploaded again and
 * again. Data directories made before these rules existed get this at their next start. */
static int demo_window_opt_out(struct app *app, const char *ws)
{
    if (app->provider.kind != PROVIDER_SIM)
        return 0;
    struct store_txn t;
    struct store_val v;
    int rc = store_read_begin(&app->store, &t);
    if (!rc)
        rc = store_get(&t, DB_META, demo_window_key, sizeof demo_window_key - 1, &v);
    store_read_end(&t);
    if (rc != BC_ENOTFOUND)
        return rc;
    cJSON *body = cJSON_CreateObject();
    cJSON_AddBoolToObject(body, "allowOutsideFederalWindow", 1);
    cJSON_AddNumberToObject(body, "maxAttemptsPerNumber", 0);
    struct rules r;
    struct compliance_settings_error err;
    rc = compliance_settings_update(&app->store, ws, strlen(ws), body, "source=demo", &r, &err);
    cJSON_Delete(body);
    if (rc)
        return rc;
    rules_free(&r);
    return store_write(&app->store, demo_window_txn, NULL);
}

/* One line on the demo workspace's calling window, as its settings are now. */
static void print_demo_window(const struct app *app, const char *ws)
{
    struct store_txn t;
    struct rules r;
    if (store_read_begin((struct store *)&app->store, &t) != 0)
        return;
    int rc = rules_get(&t, ws, strlen(ws), &r);
    store_read_end(&t);
    if (rc)
        return;
    if (r.allow_outside_federal)
        printf("  calling window: off for this demo workspace (allowOutsideFederalWindow); see "
               "README 'Compliance'\n");
    else
        printf("  calling window: on (08:00-21:00 in each callee's time zone, and state rules); "
               "see README 'Compliance'\n");
    if (r.max_attempts_per_number == 0)
        printf("  frequency cap: off for this demo workspace (maxAttemptsPerNumber 0)\n");
    else
        printf("  frequency cap: %u attempts per number per %u h\n", r.max_attempts_per_number,
               r.cap_window_hours);
    rules_free(&r);
}

static void print_demo(const struct app *app, const struct demo_info *d, const char *api_key)
{
    char host[256];
    int port;
    addr_split(app->cfg.listen, host, sizeof host, &port);
    if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::"))
        strcpy(host, "127.0.0.1");
    printf("Demo workspace ready.\n  workspace: %s\n", d->ws);
    if (api_key)
        printf("  api key: %s\n", api_key);
    else
        printf("  api key: (shown only on first start; create another with\n"
               "           batchcalld admin key create --workspace %s --data-dir %s)\n",
               d->ws, app->cfg.data_dir);
    printf("  agent: %s\n", d->agent);
    print_demo_window(app, d->ws);
    /* The simulator's port is ephemeral: without it here its ledger could not be found. */
    if (app->sim)
        printf("  simulator: http://127.0.0.1:%d (speed %g; its ledger: "
               "curl -s http://127.0.0.1:%d/sim/stats, /sim/dials?batch=ID)\n",
               sim_port(app->sim), app->cfg.sim_speed, sim_port(app->sim));
    printf("\nTry:\n  curl -s -H 'x-api-key: %s' -H 'x-workspace-id: %s' "
           "http://%s:%d/v1/api/agents/%s\n\n",
           api_key ? api_key : "YOUR_API_KEY", d->ws, host, port, d->agent);
    fflush(stdout);
}

static int setup_demo(struct app *app)
{
    struct demo_info d;
    struct store_txn t;
    struct store_val v;
    int rc = store_read_begin(&app->store, &t);
    if (!rc)
        rc = store_get(&t, DB_META, demo_key, sizeof demo_key - 1, &v);
    if (!rc && v.len == sizeof d)
        memcpy(&d, v.ptr, sizeof d);
    store_read_end(&t);
    if (rc == 0) {
        rc = demo_window_opt_out(app, d.ws);
        if (!rc)
            print_demo(app, &d, NULL);
        return rc;
    }
    if (rc != BC_ENOTFOUND)
        return rc;
    struct ws_settings ws;
    workspace_defaults(&ws);
    strcpy(ws.name, "demo");
    char api_key[APIKEY_TEXT_MAX];
    struct apikey_info key;
    rc = workspace_create(&app->store, &app->ids, &ws, "demo", api_key, &key);
    if (rc)
        return rc;
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "name", "Demo reminder agent");
    cJSON_AddStringToObject(body, "prompt",
                            "You are calling {first_name} to confirm their appointment on "
                            "{appointment_date}. Be brief and polite.");
    cJSON_AddStringToObject(body, "fromNumber", "+14155550100");
    struct agents_error err;
    struct buf json = {0};
    memset(&d, 0, sizeof d);
    strcpy(d.ws, ws.id);
    rc = agents_insert(&app->store, &app->ids, ws.id, strlen(ws.id), body, &err, &json, d.agent);
    cJSON_Delete(body);
    buf_free(&json);
    if (!rc)
        rc = store_write(&app->store, demo_save_txn, &d);
    if (!rc)
        rc = demo_window_opt_out(app, d.ws);
    if (!rc)
        print_demo(app, &d, api_key);
    return rc;
}

/* Dispatch committed a change: tell whoever watches the batch. */
static void on_dispatch_change(void *arg, const char *batch, uint32_t row, uint32_t final_seq,
                               int done)
{
    struct app *app = arg;
    if (final_seq)
        events_call(app->events, batch, row, final_seq);
    if (done)
        events_done(app->events, batch);
    else
        events_progress(app->events, batch);
}

/* Where providers reach us: --public-url, else this server on loopback. */
static void default_public_url(struct app *app, char *out, size_t cap)
{
    char host[256];
    int port;
    if (app->cfg.public_url[0]) {
        snprintf(out, cap, "%s", app->cfg.public_url);
        return;
    }
    addr_split(app->cfg.listen, host, sizeof host, &port);
    int any = !strcmp(host, "0.0.0.0") || !strcmp(host, "::");
    int v6 = strchr(host, ':') != NULL;
    snprintf(out, cap, "http://%s%s%s:%d", v6 && !any ? "[" : "", any ? "127.0.0.1" : host,
             v6 && !any ? "]" : "", port);
}

/* The outbound HTTP client, the provider, and the simulator when it is the provider. */
static int start_provider(struct app *app)
{
    const struct config *c = &app->cfg;
    struct provider_config *p = &app->provider;
    int rc = client_global_init();
    if (!rc)
        rc = client_init(&app->dialer, app->loop, c->max_in_flight + 16);
    if (rc)
        return rc;
    memset(p, 0, sizeof *p);
    default_public_url(app, p->public_url, sizeof p->public_url);
    p->ring_timeout_s = (uint32_t)c->ring_timeout_s;
    p->request_timeout_ms = 10000;
    snprintf(p->account_sid, sizeof p->account_sid, "%s", c->twilio_account_sid);
    snprintf(p->auth_token, sizeof p->auth_token, "%s", c->twilio_auth_token);
    if (!strcmp(c->provider, "twilio")) {
        p->kind = PROVIDER_TWILIO;
        snprintf(p->api_base, sizeof p->api_base, "%s", c->twilio_api_base);
    } else if (!strcmp(c->provider, "http")) {
        p->kind = PROVIDER_HTTP;
        snprintf(p->http_url, sizeof p->http_url, "%s", c->http_provider_url);
        snprintf(p->http_secret, sizeof p->http_secret, "%s", c->http_provider_secret);
    } else {
        struct sim_config sc = {.speed = c->sim_speed};
        snprintf(sc.account_sid, sizeof sc.account_sid, "%s",
                 p->account_sid[0] ? p->account_sid : "ACsimulator00000000000000000000000");
        snprintf(sc.auth_token, sizeof sc.auth_token, "%s",
                 p->auth_token[0] ? p->auth_token : "simulator-token");
        rc = sim_start(&app->sim, app->loop, &sc, "127.0.0.1", 0);
        if (rc)
            return rc;
        p->kind = PROVIDER_SIM;
        snprintf(p->api_base, sizeof p->api_base, "http://127.0.0.1:%d", sim_port(app->sim));
        snprintf(p->account_sid, sizeof p->account_sid, "%s", sc.account_sid);
        snprintf(p->auth_token, sizeof p->auth_token, "%s", sc.auth_token);
        log_info("simulator listening", "url=%s speed=%g", p->api_base, c->sim_speed);
    }
    /* Without it every callback keys its own MAC (twilio_verify_keyed): slower, not wrong. */
    if (p->auth_token[0] &&
        crypto_hmac_sha1_init(&app->callback_key, p->auth_token, strlen(p->auth_token)))
        log_warn("cannot key the callback signature check once; keying it per callback", "%s", "");
    return 0;
}

/* A wait of ms simulated milliseconds in real ones at the simulator's speed (at least 1 ms). */
static uint64_t sim_scaled_ms(uint64_t ms, double speed)
{
    double real = (double)ms / speed;
    return real < 1 ? 1 : (uint64_t)(real + 0.5);
}

/* After start_webhooks: the dispatcher writes its events to the webhook outbox. */
static int start_dispatch(struct app *app)
{
    const struct config *c = &app->cfg;
    struct dispatch_config sc = {
        .loop = app->loop,
        .store = &app->store,
        .webhooks = app->webhooks,
        .on_change = on_dispatch_change,
        .on_change_arg = app,
        .provider_cps = c->provider_cps,
        .max_in_flight = c->max_in_flight,
        .reconcile_ms = c->reconcile_ms,
        .overdue_ms = c->call_overdue_ms,
    };
    retry_defaults(&sc.retry);
    sc.retry.busy_attempts = (uint32_t)c->busy_attempts;
    sc.retry.busy_retry_ms = c->busy_retry_ms;
    sc.retry.provider_retries = (uint32_t)c->provider_retries;
    sc.retry.backoff_base_ms = c->provider_backoff_ms;
    sc.retry.backoff_max_ms = c->provider_backoff_max_ms;
    sc.retry.hour_ms = c->smart_hour_ms;
    if (app->provider.kind == PROVIDER_SIM) {
        /* With the built-in simulator every time is simulated time: the waits the server adds
         * after a simulated outcome (a busy number, a smartCallbackConfig gap, provider trouble)
         * are scaled like the calls themselves. Otherwise a demo at --sim-speed 100 would wait
         * ten real minutes to call a busy number again. */
        sc.retry.busy_retry_ms = sim_scaled_ms(sc.retry.busy_retry_ms, c->sim_speed);
        sc.retry.hour_ms = sim_scaled_ms(sc.retry.hour_ms, c->sim_speed);
        sc.retry.backoff_base_ms = sim_scaled_ms(sc.retry.backoff_base_ms, c->sim_speed);
        sc.retry.backoff_max_ms = sim_scaled_ms(sc.retry.backoff_max_ms, c->sim_speed);
    }
    return dispatch_start(&app->dispatch, &sc, &app->provider, &app->dialer);
}

/* After start_provider, which initialises libcurl for the process. */
/* A retry moved failed calls back to waiting: the dispatcher loads the batch again. */
static void on_retried(void *ctx, const char *batch)
{
    struct app *app = ctx;
    if (app->dispatch)
        dispatch_add_batch(app->dispatch, batch);
}

static int start_webhooks(struct app *app)
{
    const struct config *c = &app->cfg;
    struct delivery_config wc = {
        .backoff_ms = c->webhook_backoff_ms,
        .backoff_max_ms = c->webhook_backoff_max_ms,
        .max_age_ms = c->webhook_max_age_ms,
        .timeout_ms = c->webhook_timeout_ms,
        .allow_private = c->webhook_allow_private,
    };
    int rc = webhooks_start(&app->webhooks, &app->store, app->loop);
    if (!rc && webhooks_configure(app->webhooks, &wc) != 0) {
        log_error("every --webhook-* value must be above 0, and --webhook-backoff-max-ms at "
                  "least --webhook-backoff-ms",
                  "%s", "");
        rc = BC_EINVAL;
    }
    return rc;
}

static int serve(int argc, char **argv)
{
    struct app app;
    memset(&app, 0, sizeof app);
    app.lock_fd = -1;
    int rc = config_parse(&app.cfg, argc, argv);
    if (rc)
        return rc > 0 ? 0 : 2;
    enum log_level level;
    log_parse_level(app.cfg.log_level, &level);
    log_set_level(level);
    if (app.cfg.clock_offset_ms != 0) {
        /* Before anything reads the clock: every timestamp and window decision sees it. */
        clock_set_offset_ms(app.cfg.clock_offset_ms);
        log_warn("the wall clock is shifted for testing (--clock-offset-ms): timestamps, calling "
                 "windows and caps are not real time",
                 "offset_ms=%lld", (long long)app.cfg.clock_offset_ms);
    }
    /* Calling windows need every zone of the phone-number table: a missing one would leave its
     * callees' local time unknown, so refuse to start rather than guess. */
    int missing_zones = zones_preload();
    if (missing_zones != 0) {
        fprintf(stderr,
                "batchcalld: the system time-zone database lacks %d of the zones calling windows "
                "need (install Debian's tzdata package, or set TZDIR)\n",
                missing_zones);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    app.loop = uv_default_loop();
    struct store_options sopt = {
        .dir = app.cfg.data_dir,
        .map_size = (size_t)app.cfg.map_size_mb << 20,
        .map_size_max = (size_t)app.cfg.map_size_max_mb << 20,
    };
    if (store_open(&app.store, &sopt) != 0)
        return 1;
    if (lock_data_dir(&app) != 0) {
        store_close(&app.store);
        return 1;
    }
    if ((rc = records_upgrade(&app.store)) != 0) {
        log_error("cannot upgrade the stored batch lists", "error=%s", err_str(rc));
        store_close(&app.store);
        return 1;
    }
    const char *names[64];
    for (size_t i = 0; i < routes_count && i < 64; i++)
        names[i] = routes_table[i].pattern;
    metrics_init(&app.metrics, names, routes_count);
    crypto_hasher_init(&app.hasher);

    struct http_server_config hc = {
        .max_connections = app.cfg.max_connections,
        .max_connections_per_ip = app.cfg.max_connections_per_ip,
        .reserved_connections = app.cfg.reserved_connections,
        .reserve_flag = API_OPS,
        .header_timeout_ms = app.cfg.header_timeout_ms,
        .idle_timeout_ms = app.cfg.idle_timeout_ms,
        .body_timeout_ms = app.cfg.body_timeout_ms,
        .linger_ms = LINGER_MS,
        .routes = routes_table,
        .nroutes = routes_count,
        .alias_from = "/v1/batch-calls",
        .alias_to = "/v1/api/batch-calls",
        .request_ctx_size = sizeof(struct api_ctx),
        .on_head = fleet_on_head,
        .on_response = auth_on_response,
        .app = &app,
        .fixed_headers = app.fleet.header,
    };
    if (app.cfg.instance_name[0])
        snprintf(app.fleet.header, sizeof app.fleet.header, "X-Instance: %s\r\n",
                 app.cfg.instance_name);
    char host[256];
    int port;
    addr_split(app.cfg.listen, host, sizeof host, &port);
    http_server_init(&app.http, app.loop, &hc);
    rc = http_server_listen(&app.http, host, port);
    int code = 0;
    if (rc) {
        log_error("cannot listen", "addr=%s reason=\"%s\"", app.cfg.listen, uv_strerror(rc));
        code = 1;
        goto out;
    }
    uv_timer_init(app.loop, &app.drain_timer);
    app.drain_timer.data = &app;
    lag_start(&app);
    if ((rc = sweep_init(&app.sweeper, app.loop, &app.store, on_retried, &app)) != 0 ||
        (rc = batches_resume_background(&app)) != 0) {
        log_error("cannot scan the store for interrupted background work", "reason=\"%s\"",
                  err_str(rc));
        code = 1;
        goto out;
    }
    if ((rc = events_start(&app.events, &app)) != 0 || (rc = start_provider(&app)) != 0) {
        log_error("cannot start dispatch", "reason=\"%s\"", err_str(rc));
        code = 1;
        goto out;
    }
    if ((rc = start_webhooks(&app)) != 0) {
        log_error("cannot start webhooks", "reason=\"%s\"", err_str(rc));
        code = 1;
        goto out;
    }
    if ((rc = start_dispatch(&app)) != 0) {
        log_error("cannot start dispatch", "reason=\"%s\"", err_str(rc));
        code = 1;
        goto out;
    }
    if ((rc = fleet_start(&app)) != 0) {
        log_error("cannot read the workspaces", "reason=\"%s\"", err_str(rc));
        code = 1;
        goto out;
    }
    if (app.cfg.demo && (rc = setup_demo(&app)) != 0) {
        log_error("cannot create the demo workspace", "reason=\"%s\"", err_str(rc));
        code = 1;
        goto out;
    }
    uv_signal_init(app.loop, &app.sigterm);
    uv_signal_init(app.loop, &app.sigint);
    app.sigterm.data = app.sigint.data = &app;
    uv_signal_start(&app.sigterm, on_signal, SIGTERM);
    uv_signal_start(&app.sigint, on_signal, SIGINT);
    uv_timer_init(app.loop, &app.shutdown_timer);
    app.shutdown_timer.data = &app;
    log_info("listening", "addr=%s data_dir=\"%s\" pid=%d", app.cfg.listen, app.cfg.data_dir,
             (int)getpid());
    uv_run(app.loop, UV_RUN_DEFAULT);
out:
    /* Reports already received are applied; requests still in flight are cancelled and their
     * calls reconciled at the next start. */
    if (app.dispatch)
        dispatch_stop(app.dispatch);
    app.dispatch = NULL; /* freed once its last commit has ended, below */
    /* No further background step starts; the one being written ends in the drain below. What
     * is left is found again at the next start. */
    sweep_close(&app.sweeper);
    /* Writes still on the thread pool finish first: the dispatcher's last commit records webhook
     * events and ends the scheduler, and an upload's chunk is abandoned only once written. */
    while (store_async_pending(&app.store))
        uv_run(app.loop, UV_RUN_ONCE);
    /* After the scheduler, which may still record events while it stops. */
    webhooks_stop(app.webhooks);
    app.webhooks = NULL;
    if (app.dialer.multi)
        client_close(&app.dialer, NULL);
    if (app.sim)
        sim_stop(app.sim, NULL, NULL);
    events_stop(app.events);
    /* Close every handle (connections, timers, signals) and let their close callbacks run. */
    uv_walk(app.loop, close_walk, NULL);
    uv_run(app.loop, UV_RUN_DEFAULT);
    uv_loop_close(app.loop);
    auth_free(&app);
    snapcache_free(&app.reads);
    fleet_free(&app);
    metrics_free(&app.metrics);
    crypto_hasher_free(&app.hasher);
    crypto_hmac_sha1_free(&app.callback_key);
    store_close(&app.store);
    if (app.lock_fd >= 0)
        close(app.lock_fd);
    if (code == 0)
        log_info("stopped", "%s", "");
    return code;
}

/* ---- healthcheck: for container runtimes, which have no curl in the slim image ---- */

static int healthcheck(int argc, char **argv)
{
    struct config cfg;
    if (config_parse(&cfg, argc, argv) != 0)
        return 2;
    char host[256], portstr[16];
    int port;
    addr_split(cfg.listen, host, sizeof host, &port);
    if (!strcmp(host, "0.0.0.0"))
        strcpy(host, "127.0.0.1");
    else if (!strcmp(host, "::"))
        strcpy(host, "::1");
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, portstr, &hints, &res) != 0) {
        fprintf(stderr, "healthcheck: cannot resolve %s\n", host);
        return 1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    struct timeval tv = {.tv_sec = 3};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int ok = fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0;
    freeaddrinfo(res);
    static const char req[] =
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    char resp[64] = "";
    if (ok)
        ok = write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1) &&
             read(fd, resp, sizeof resp - 1) > 12;
    if (fd >= 0)
        close(fd);
    if (ok && strncmp(resp, "HTTP/1.1 200", 12) == 0)
        return 0;
    fprintf(stderr, "healthcheck: %s:%d is not healthy\n", host, port);
    return 1;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "serve";
    if (!strcmp(cmd, "--version")) {
        printf("batchcalld 0.1.0\n");
        return 0;
    }
    if (!strcmp(cmd, "admin"))
        return admin_main(argc - 2, argv + 2);
    if (!strcmp(cmd, "healthcheck"))
        return healthcheck(argc - 2, argv + 2);
    if (!strcmp(cmd, "carrier-sim"))
        return sim_main(argc - 2, argv + 2);
    if (!strcmp(cmd, "serve"))
        return serve(argc > 1 ? argc - 2 : 0, argv + 2);
    return serve(argc - 1, argv + 1);
}
