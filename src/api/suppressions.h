/* Do-not-call lists over HTTP (the workspace's own list; policy/suppress.h has the rules):
 * POST/GET/DELETE /v1/api/suppressions[/{entry}], the check, the list by cursor and the CSV
 * export. The bulk CSV import is api/supp_import.c. */
#ifndef BC_API_SUPPRESSIONS_H
#define BC_API_SUPPRESSIONS_H

#include <stddef.h>

#include "http/http.h"
#include "store/records.h"

void suppressions_create(struct http_request *req);
void suppressions_list(struct http_request *req);
void suppressions_get(struct http_request *req);
void suppressions_delete(struct http_request *req);
void suppressions_check(struct http_request *req);
void suppressions_export(struct http_request *req);

/* What people write for an entry, as the canonical form (an E.164 number or "+1NPA"): a number
 * as uploads read it (ingest/phone, with default_country when it is national), or an area code
 * written "+1NPA", "1NPA" or "NPA". area: 1 only an area code, 0 only a number, -1 either.
 * Returns the length written into out, or 0 with a message for people in msg. */
size_t suppressions_normalize(const char *in, size_t len, int area, const char *default_country,
                              char out[SUPPRESS_ENTRY_MAX + 1], char *msg, size_t cap);

#endif
