/* batchcalld admin registry import --file F --date YYYY-MM-DD, and registry show: the national
 * do-not-call registry from the command line (the same import as PUT /v1/admin/dnc-registry). */
#ifndef BC_ADMIN_REGISTRY_H
#define BC_ADMIN_REGISTRY_H

#include <cjson/cJSON.h>

#include "store/store.h"

/* Runs `registry VERB`; file and date are the flags' values (NULL when not given). Returns the
 * exit code: 0 with *out the JSON to print, 1 when the operation failed, 2 on a usage error
 * (both said on stderr). */
int admin_registry_run(struct store *s, const char *verb, const char *file, const char *date,
                       cJSON **out);

#endif
