/* Operations endpoints for load balancers and monitoring (API.md B10): no authentication. */
#include "api/api.h"

#define JSON_TYPE "application/json; charset=utf-8"

void ops_healthz(struct http_request *req)
{
    static const char body[] = "{\"status\":\"ok\"}";
    http_respond(req, 200, JSON_TYPE, body, sizeof body - 1);
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
    static const char body[] = "{\"status\":\"ready\"}";
    http_respond(req, 200, JSON_TYPE, body, sizeof body - 1);
}

void ops_metrics(struct http_request *req)
{
    struct app *app = api_app(req);
    struct buf out = {0};
    struct store_stats st;
    store_stats(&app->store, &st);
    metrics_render_http(&app->metrics, &out);
    buf_printf(&out,
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
               "batchcalld_store_commits_total %llu\n",
               app->http.nconns, st.map_size, st.used_bytes, (unsigned long long)st.grows,
               (unsigned long long)st.commits);
    http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
    buf_free(&out);
}
