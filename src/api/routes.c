/* The route table: every path the server answers. Paths under /v1/batch-calls are also answered
 * as /v1/api/batch-calls (the alias is configured on the HTTP server). */
#include "api/routes.h"

#include "api/agents.h"
#include "api/batches.h"
#include "api/callbacks.h"
#include "api/calls.h"
#include "api/compliance_settings.h"
#include "api/api.h"
#include "api/control.h"
#include "api/dashboard.h"
#include "api/dnc_registry.h"
#include "api/events.h"
#include "api/holds.h"
#include "api/openapi.h"
#include "api/ops.h"
#include "api/supp_import.h"
#include "api/suppressions.h"
#include "api/upload.h"
#include "api/webhooks.h"

/* Uploads: 20 MB of file data plus the multipart framing and form fields around it. */
#define UPLOAD_BODY_LIMIT (21u * 1000u * 1000u)
/* Status callbacks are small forms or JSON documents (a transcript at most). */
#define CALLBACK_BODY_LIMIT (256u * 1024u)

#define GET    HTTP_GET
#define POST   HTTP_POST
#define PUT    HTTP_PUT
#define DELETE HTTP_DELETE

const struct http_route routes_table[] = {
    {GET, "/healthz", ops_healthz, NULL, 0, API_OPS},
    {GET, "/readyz", ops_readyz, NULL, 0, API_OPS},
    {GET, "/metrics", ops_metrics, NULL, 0, API_OPS},
    {GET, "/openapi.json", openapi_get, NULL, 0, 0},
    /* The dashboard: its page and files, no authentication (the page signs in to the API). */
    {GET, "/", dashboard_index, NULL, 0, 0},
    {GET, "/ui", dashboard_index, NULL, 0, 0},
    {GET, "/ui/:file", dashboard_asset_get, NULL, 0, 0},
    {GET, "/ui/js/:file", dashboard_asset_get, NULL, 0, 0},
    {POST, "/v1/api/agents", agents_create, NULL, 0, API_AUTH},
    {GET, "/v1/api/agents", agents_list, NULL, 0, API_AUTH},
    {GET, "/v1/api/agents/:id", agents_get, NULL, 0, API_AUTH | API_HEAD_TXN},
    {PUT, "/v1/api/agents/:id", agents_update, NULL, 0, API_AUTH},
    {DELETE, "/v1/api/agents/:id", agents_delete, NULL, 0, API_AUTH},
    {POST, "/v1/api/batch-calls", NULL, &upload_ops, UPLOAD_BODY_LIMIT, API_AUTH},
    {POST, "/v1/api/batch-calls/validate", NULL, &upload_validate_ops, UPLOAD_BODY_LIMIT, API_AUTH},
    {GET, "/v1/api/batch-calls", batches_list, NULL, 0, API_AUTH},
    {GET, "/v1/api/batch-calls/template", batches_template, NULL, 0, API_AUTH},
    {GET, "/v1/api/batch-calls/:id", batches_get, NULL, 0, API_AUTH},
    {GET, "/v1/api/batch-calls/:id/status", batches_status, NULL, 0, API_AUTH},
    {GET, "/v1/api/batch-calls/:id/calls", calls_list, NULL, 0, API_AUTH},
    {GET, "/v1/api/batch-calls/:id/calls/:job", calls_get, NULL, 0, API_AUTH},
    {GET, "/v1/api/batch-calls/:id/export", calls_export, NULL, 0, API_AUTH},
    {GET, "/v1/api/batch-calls/:id/events", events_open, NULL, 0, API_AUTH},
    {GET, "/v1/api/batch-calls/:id/compliance", holds_get, NULL, 0, API_AUTH},
    {DELETE, "/v1/api/batch-calls/:id", control_cancel, NULL, 0, API_AUTH},
    {POST, "/v1/api/batch-calls/:id/pause", control_pause, NULL, 0, API_AUTH},
    {POST, "/v1/api/batch-calls/:id/resume", control_resume, NULL, 0, API_AUTH},
    {POST, "/v1/api/batch-calls/:id/retry", control_retry, NULL, 0, API_AUTH},
    {GET, "/v1/api/usage", control_usage, NULL, 0, API_AUTH},
    {PUT, "/v1/api/webhook", webhooks_put, NULL, 0, API_AUTH},
    {GET, "/v1/api/webhook", webhooks_get, NULL, 0, API_AUTH},
    {DELETE, "/v1/api/webhook", webhooks_delete, NULL, 0, API_AUTH},
    {GET, "/v1/api/webhook/deliveries", webhooks_deliveries, NULL, 0, API_AUTH},
    {GET, "/v1/api/compliance/settings", compliance_settings_get, NULL, 0, API_AUTH},
    {PUT, "/v1/api/compliance/settings", compliance_settings_put, NULL, 0, API_AUTH},
    /* Do-not-call lists (the fixed paths before the one that names an entry). */
    {POST, "/v1/api/suppressions", suppressions_create, NULL, 0, API_AUTH},
    {GET, "/v1/api/suppressions", suppressions_list, NULL, 0, API_AUTH},
    {GET, "/v1/api/suppressions/check", suppressions_check, NULL, 0, API_AUTH},
    {GET, "/v1/api/suppressions/export", suppressions_export, NULL, 0, API_AUTH},
    {POST, "/v1/api/suppressions/import", NULL, &supp_import_ops, SUPP_IMPORT_BODY_LIMIT, API_AUTH},
    {GET, "/v1/api/suppressions/:entry", suppressions_get, NULL, 0, API_AUTH},
    {DELETE, "/v1/api/suppressions/:entry", suppressions_delete, NULL, 0, API_AUTH},
    /* The instance's national registry: the operator's bearer token (--admin-token). */
    {PUT, "/v1/admin/dnc-registry", NULL, &dnc_registry_put_ops, DNC_REGISTRY_BODY_LIMIT, API_OPER},
    {GET, "/v1/admin/dnc-registry", dnc_registry_get, NULL, 0, API_OPER},
    /* Called by the telephony provider: authenticated by signature instead of API key. */
    {POST, "/v1/provider/ws/:ws/twilio/status", callbacks_twilio, NULL, CALLBACK_BODY_LIMIT,
     API_WS_PATH},
    {POST, "/v1/provider/ws/:ws/http/status", callbacks_http, NULL, CALLBACK_BODY_LIMIT,
     API_WS_PATH},
    /* The form handed out before callbacks carried the workspace: calls placed before an
     * upgrade still report here. */
    {POST, "/v1/provider/twilio/status", callbacks_twilio, NULL, CALLBACK_BODY_LIMIT,
     API_BATCH_QUERY},
    {POST, "/v1/provider/http/status", callbacks_http, NULL, CALLBACK_BODY_LIMIT, API_BATCH_QUERY},
};

const size_t routes_count = sizeof routes_table / sizeof routes_table[0];
