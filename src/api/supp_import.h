/* POST /v1/api/suppressions/import: a CSV file of numbers and area codes (multipart/form-data,
 * field "file"; a "phone" column, an optional "reason" column) streamed into the workspace's
 * do-not-call list through the upload's parsers (ingest/multipart, ingest/csv, ingest/phone),
 * in write transactions of SUPP_IMPORT_CHUNK rows on the thread pool: memory stays constant
 * whatever the file's size, and rows are reported like an upload's. */
#ifndef BC_API_SUPP_IMPORT_H
#define BC_API_SUPP_IMPORT_H

#include "http/http.h"

#define SUPP_IMPORT_CHUNK      4096
#define SUPP_IMPORT_BODY_LIMIT (64u * 1000u * 1000u)

extern const struct http_body_ops supp_import_ops;

#endif
