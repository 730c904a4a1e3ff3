/* The national do-not-call registry over HTTP, for operators (the registry is the instance's,
 * not a workspace's): PUT /v1/admin/dnc-registry?date=YYYY-MM-DD streams an FTC full-list file
 * (the request body, any content type) into the registry; GET answers what is loaded. Both need
 * `Authorization: Bearer <--admin-token>`; without --admin-token they answer 403. The staleness
 * warning shared by /readyz and uploads is here too. */
#ifndef BC_API_DNC_REGISTRY_H
#define BC_API_DNC_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "store/store.h"

#define DNC_REGISTRY_BODY_LIMIT (4000ull * 1000u * 1000u) /* 4 GB: the FTC's whole list fits */

extern const struct http_body_ops dnc_registry_put_ops;
void dnc_registry_get(struct http_request *req);
/* 1 with a sentence in msg when the registry is older than REGISTRY_STALE_DAYS at now_ms, 0
 * when it is fresh or none was imported (or it cannot be read). */
int dnc_registry_stale(struct store *s, uint64_t now_ms, char *msg, size_t cap);

#endif
