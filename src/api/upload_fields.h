/* The form fields of an upload (A1, A8): their names, and the check of each one as soon as it
 * has arrived (ingest's on_field), so a wrong agentId sent before the file rejects the upload
 * before the file is read. */
#ifndef BC_API_UPLOAD_FIELDS_H
#define BC_API_UPLOAD_FIELDS_H

#include <cjson/cJSON.h>

#include "ingest/ingest.h"

/* The form name of the CSV file part, and of each enum ingest_field. */
#define UPLOAD_FIELDS_FILE "file"
extern const char *const upload_fields_names[FIELD_COUNT];

/* ingest's on_field: ctx is the http_request whose api_ctx holds the upload. 0, or the upload's
 * error is set (upload_fail) and non-zero stops it. */
int upload_fields_check(struct ingest *in, enum ingest_field f, void *ctx);

struct upload;
/* The batch's callingWindow, normalised ({"start","end","days"}, days in order from sun), or NULL
 * when the upload has none: what the batch's meta keeps and its status echoes. */
cJSON *upload_fields_window_json(const struct upload *up);

#endif
