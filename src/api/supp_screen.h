/* Do-not-call lists at upload: every valid row of an upload (and of a validation) is checked
 * against the workspace's list and, when its rules say so, the national registry, through the
 * ingest's screen hook. A listed row fails with outcome suppressed and the error "Suppressed: on
 * the do-not-call list (workspace)" or "(registry)": it is never dialled nor billed.
 *
 * The checks of one batch of rows (one ingest_feed, or one step of reading the rows again on a
 * pool thread) share one read snapshot, let go when the batch ends (the ingest's screen_done),
 * so the map may grow between two; within one snapshot each area code's registry record is
 * looked up once (suppress_cache). */
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
