/* Operations endpoints for load balancers and monitoring (API.md B10): no authentication. */
#include "api/ops.h"

#include "api/api.h"
#include "api/dnc_registry.h"
#include "webhooks/webhooks.h"
#include "http/response.h"
#include "store/records.h"
#include "util/clock.h"
#include "util/err.h"

#define JSON_TYPE "application/json; charset=utf-8"

void ops_healthz(struct http_request *req)
{
    /* The instance's name tells a balancer's health check (and a test) which one answered. */
    const char *name = api_app(req)->cfg.instance_name;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "ok");
    if (name[0])
        cJSON_AddStringToObject(o, "instance", name);
    else
        cJSON_AddNullToObject(o, "instance");
    api_respond_json(req, 200, o);
}

void ops_readyz(struct http_request *req)
{
    struct app *app = api_app(req);
    if (app->draining) {
        api_respond_error(req, 503, "draining",
                          "The server is shutting down; send requests to another instance.", NULL,
                          NULL);
        return;
    }
    /* While the disk is full every write fails: a load balancer should send writes elsewhere.
     * The probe (a tiny write) is what finds out that space was freed when nothing else writes. */
    if (store_disk_full(&app->store) && store_probe_write(&app->store) == BC_ENOSPC) {
        api_respond_error(req, 503, "disk_full",
                          "The data directory's disk is full: writes (uploads, state changes) "
                          "fail with 507 while reads still work. Free disk space or move "
                          "--data-dir to a larger disk; this turns ready again by itself.",
                          "status", "not_ready");
        return;
    }
    /* A stale do-not-call registry is a warning, not "not ready": every instance shares it,
     * so a 503 would take the whole fleet out of the load balancer at once, and calls stay
     * checked against the registry as it is. */
    char stale[400];
    if (dnc_registry_stale(&app->store, clock_now_ms(), stale, sizeof stale)) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", "ready");
        cJSON *w = cJSON_CreateObject();
        cJSON_AddStringToObject(w, "code", "dnc_registry_stale");
        cJSON_AddStringToObject(w, "message", stale);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "warnings"), w);
        api_respond_json(req, 200, o);
        return;
    }
    static const char body[] = "{\"status\":\"ready\"}";
    http_respond(req, 200, JSON_TYPE, body, sizeof body - 1);
}

static void render_dispatch(struct app *app, struct buf *out)
{
    struct dispatch_stats st;
    dispatch_stats(app->dispatch, &st);
    buf_printf(out,
               "# HELP batchcalld_dials_total Create-call requests sent to the provider.\n"
               "# TYPE batchcalld_dials_total counter\nbatchcalld_dials_total %llu\n"
               "# HELP batchcalld_provider_errors_total Create requests that met provider "
               "trouble (429, 5xx, network, timeout).\n"
               "# TYPE batchcalld_provider_errors_total counter\n"
               "batchcalld_provider_errors_total %llu\n"
               "# HELP batchcalld_calls_in_progress Calls being placed or in progress.\n"
               "# TYPE batchcalld_calls_in_progress gauge\nbatchcalld_calls_in_progress %zu\n"
               "# HELP batchcalld_calls_waiting Waiting calls of the batches being dialled.\n"
               "# TYPE batchcalld_calls_waiting gauge\nbatchcalld_calls_waiting %llu\n"
               "# HELP batchcalld_token_waits_total Times dialling waited for a rate-limit "
               "token.\n"
               "# TYPE batchcalld_token_waits_total counter\nbatchcalld_token_waits_total %llu\n"
               "# HELP batchcalld_call_outcomes_total Ended call attempts by outcome.\n"
               "# TYPE batchcalld_call_outcomes_total counter\n",
               (unsigned long long)st.dials, (unsigned long long)st.provider_errors, st.in_progress,
               (unsigned long long)st.waiting, (unsigned long long)st.token_waits);
    for (int o = 1; o < OUTCOME_COUNT; o++) {
        const char *name = job_outcome_name(o);
        if (name)
            buf_printf(out, "batchcalld_call_outcomes_total{outcome=\"%s\"} %llu\n", name,
                       (unsigned long long)st.by_outcome[o]);
    }
    metrics_render_histogram(&st.provider_latency, "batchcalld_provider_request_duration_seconds",
                             "Time for the provider to answer a create-call request.", out);
}

void ops_metrics(struct http_request *req)
{
    struct app *app = api_app(req);
    struct buf out = {0};
    struct store_stats st;
    store_stats(&app->store, &st);
    metrics_render_http(&app->metrics, &out);
    buf_printf(
        &out,
        "# HELP batchcalld_http_open_connections Client connections open now.\n"
        "# TYPE batchcalld_http_open_connections gauge\n"
        "batchcalld_http_open_connections %zu\n"
        "# HELP batchcalld_store_map_size_bytes Size of the LMDB memory map.\n"
        "# TYPE batchcalld_store_map_size_bytes gauge\n"
        "batchcalld_store_map_size_bytes %zu\n"
        "# HELP batchcalld_store_used_bytes Bytes of the map in use (pages up to the last "
        "used one).\n"
        "# TYPE batchcalld_store_used_bytes gauge\n"
        "batchcalld_store_used_bytes %zu\n"
        "# HELP batchcalld_store_map_grows_total Times the map was grown after filling up.\n"
        "# TYPE batchcalld_store_map_grows_total counter\n"
        "batchcalld_store_map_grows_total %llu\n"
        "# HELP batchcalld_store_commits_total Write transactions committed.\n"
        "# TYPE batchcalld_store_commits_total counter\n"
        "batchcalld_store_commits_total %llu\n"
        "# HELP batchcalld_store_read_cache_total Point reads (an agent's GET) answered from "
        "the values kept for the store's snapshot (hit) or read from the store (miss).\n"
        "# TYPE batchcalld_store_read_cache_total counter\n"
        "batchcalld_store_read_cache_total{result=\"hit\"} %llu\n"
        "batchcalld_store_read_cache_total{result=\"miss\"} %llu\n",
        app->http.nconns, st.map_size, st.used_bytes, (unsigned long long)st.grows,
        (unsigned long long)st.commits, (unsigned long long)app->reads.hits,
        (unsigned long long)app->reads.misses);
    metrics_render_histogram(&app->store.commit_latency, "batchcalld_store_commit_duration_seconds",
                             "Time to commit a write transaction (durable: includes the fsync).",
                             &out);
    metrics_render_histogram(
        &app->loop_lag, "batchcalld_event_loop_lag_seconds",
        "How late a timer due every 100 ms ran: how long the event loop was busy "
        "before it could (1 ms resolution).",
        &out);
    if (app->dispatch)
        render_dispatch(app, &out);
    fleet_render_metrics(app, &out);
    uint64_t delivered, failed, gave_up;
    webhooks_stats(app->webhooks, &delivered, &failed, &gave_up);
    buf_printf(&out,
               "# HELP batchcalld_webhook_deliveries_total Webhook events delivered (2xx).\n"
               "# TYPE batchcalld_webhook_deliveries_total counter\n"
               "batchcalld_webhook_deliveries_total %llu\n"
               "# HELP batchcalld_webhook_failed_attempts_total Webhook attempts that failed "
               "(non-2xx answer, network error or timeout).\n"
               "# TYPE batchcalld_webhook_failed_attempts_total counter\n"
               "batchcalld_webhook_failed_attempts_total %llu\n"
               "# HELP batchcalld_webhook_gave_up_total Webhook events given up after "
               "--webhook-max-age-ms.\n"
               "# TYPE batchcalld_webhook_gave_up_total counter\n"
               "batchcalld_webhook_gave_up_total %llu\n",
               (unsigned long long)delivered, (unsigned long long)failed,
               (unsigned long long)gave_up);
    http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
    buf_free(&out);
}
