/* Do-not-call lists at upload: every valid row of an upload (and of a validation) is checked
 * against the workspace's list and, when its rules say so, the national registry, through the
 * ingest's screen hook. A listed row fails with outcome suppressed and the error "Suppressed: on
 * the do-not-call list (workspace)" or "(registry)": it is never dialled nor billed.
 *
 * The checks read a snapshot of their own (a pool thread may run them when the rows are read
 * again), opened at the first row and renewed on the loop thread every second or 65,536 rows,
 * so a slow upload does not pin old pages of the store; within one snapshot each area code's
 * registry record is looked up once (suppress_cache). */
#ifndef BC_API_SUPP_SCREEN_H
#define BC_API_SUPP_SCREEN_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "ingest/ingest.h"
#include "store/store.h"

struct supp_screen;
/* Sets opt's screen for workspace ws; *out owns its state (supp_screen_close). Out of memory,
 * the upload fails at its first row, saying so. */
void supp_screen_attach(struct ingest_options *opt, struct supp_screen **out, struct store *s,
                        const char *ws, size_t wslen);
void supp_screen_close(struct supp_screen *sc);
/* Adds to a batch start's answer o the "warnings" entry of a stale national registry. */
void supp_screen_warnings(cJSON *o, struct store *s);

#endif
