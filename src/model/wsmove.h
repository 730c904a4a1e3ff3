/* Moving a workspace between instances (docs/fleet.md): its status, export to a file (one read
 * transaction, streamed), import from one (checked whole before anything is written, then
 * written in bounded transactions, the workspace record last) and drop (bounded transactions,
 * the workspace record last). The tables and how a workspace's keys are found in each are
 * records_ws_tables (store/records.h). */
#ifndef BC_MODEL_WSMOVE_H
#define BC_MODEL_WSMOVE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "store/store.h"
#include "store/wsfile.h"
#include "util/crypto.h"
#include "util/id.h"

#define WSMOVE_MAX_TABLES 48

struct wsmove_status {
    int frozen;
    uint64_t batches;
    uint64_t calls_in_progress; /* being placed or in progress (the batches' active) */
    uint64_t uploads;           /* staging batches: uploads in progress */
    uint64_t calls, waiting;
};
/* Reads the workspace's state from the store: 0, BC_ENOTFOUND or a store error. */
int wsmove_status(struct store *s, const char *ws, struct wsmove_status *out);

struct wsmove_report {
    char ws[ID_MAX];
    uint64_t records;
    uint64_t per_table[WSMOVE_MAX_TABLES]; /* indexed like records_ws_tables */
    uint64_t bytes;                        /* export: the file's size */
    uint8_t sha[SHA256_LEN];               /* export: the trailer's digest */
    int frozen;                            /* the workspace record's flag */
    uint64_t sid_conflicts;                /* import: call ids already held by another call here */
    int replaced;                          /* import: an existing workspace was dropped first */
    char msg[300];                         /* on failure: what went wrong, for people */
};
/* {"records":N,"tables":{"job":N,...}} plus the fields the report has for the operation. */
cJSON *wsmove_report_json(const struct wsmove_report *r);

/* Streams the workspace (not its staging batches) through write. Returns 0, BC_ENOTFOUND, the
 * write callback's or a store error. */
int wsmove_export(struct store *s, const char *ws, wsfile_write_fn write, void *arg,
                  struct wsmove_report *r);

/* Reads the file at path (it is read several times: check, then write). Returns 0;
 * BC_ECORRUPT (r->msg: what and where), BC_EEXIST (the workspace exists and replace is 0),
 * BC_EBUSY (replace of a workspace that is not frozen), BC_EIO (cannot read the file), or a
 * store error. */
int wsmove_import(struct store *s, const char *path, int replace, struct wsmove_report *r);

/* Removes every key of the workspace. Returns 0, BC_ENOTFOUND, BC_EBUSY (not frozen, or calls in
 * progress and not force: r->msg says which) or a store error. */
int wsmove_drop(struct store *s, const char *ws, int force, struct wsmove_report *r);

#endif
