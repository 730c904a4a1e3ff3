/* POST /v1/api/batch-calls (A1) and POST /v1/api/batch-calls/validate (A8).
 *
 * struct upload is shared with api/upload_fields.c, which checks the form fields as they arrive;
 * nothing else in the server looks inside it. */
#ifndef BC_API_UPLOAD_H
#define BC_API_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "api/api.h"
#include "api/idempotency.h"
#include "http/http.h"
#include "ingest/ingest.h"
#include "model/workspace.h"
#include "policy/window.h"
#include "util/crypto.h"
#include "util/id.h"

struct app;

/* One upload or validation, from the request's head to its answer. */
struct supp_screen;

struct upload {
    struct ingest in;
    int validate_only;
    char batch_id[ID_MAX];
    char ws[ID_MAX];
    struct ws_settings ws_settings;
    char idem_key[IDEMPOTENCY_HEADER_MAX + 1];
    uint8_t digest[SHA256_LEN]; /* the request's fingerprint, kept with the key */
    /* The key was used before: the body is only fingerprinted, then compared with this record
     * (the same request gets the first answer again, another one 422). */
    int idem_check;
    struct idem_rec idem_found;
    cJSON *agent; /* the agent named by agentId, once checked */
    cJSON *smart; /* the parsed smartCallbackConfig */
    int has_window;
    struct window window; /* the batch's callingWindow (has_window) */
    uint64_t scheduled_ms;
    uint32_t max_concurrency;
    double calls_per_second;
    int strict;
    int require_consent; /* the workspace's requireConsent, read when the upload began */
    struct app *app;
    /* The do-not-call lists, checked row by row. */
    struct supp_screen *screen;
    size_t since_yield; /* body bytes read since the loop last served others */
    int ended;          /* the body is complete: answer once the last rows are written */
    int orphaned;       /* answered or abandoned while a write was in flight: free after it */
    /* The first problem that rejects the whole upload, as answered. */
    struct api_failure failure;
    const char *header; /* the header the error is about, or NULL */
};

/* Both consume their bodies as they stream in. */
extern const struct http_body_ops upload_ops;
extern const struct http_body_ops upload_validate_ops;

#endif
