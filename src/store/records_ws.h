/* Every key of one workspace, table by table: what the fleet's admin workspace export, import and
 * drop walk (docs/fleet.md). */
#ifndef BC_STORE_RECORDS_WS_H
#define BC_STORE_RECORDS_WS_H

#include <stddef.h>
#include <stdint.h>

#include "store/records.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/id.h"

/* How the keys of a workspace are found in a table (docs/fleet.md lists them). */
enum records_ws_find {
    WSF_WS_KEY,       /* the key is the workspace id */
    WSF_WS_SLASH,     /* workspace id | '/' | ... */
    WSF_WS2BATCH,     /* workspace id | ~created (u64) | ~batch id */
    WSF_USAGE,        /* workspace id | time (u64) | batch id | row | seq */
    WSF_DELIVERY,     /* workspace id | time (u64) | sequence (u64) */
    WSF_BATCH_KEY,    /* the key is a batch id of the workspace */
    WSF_BATCH_PREFIX, /* batch id | ... */
    WSF_BATCH_BIN,    /* the batch id as keys of jobs hold it (batch_key_prefix) | ... */
    WSF_KEYHASH,      /* whole table: the API key record names its workspace */
    WSF_SID,          /* whole table: the value begins with the call's batch id */
    WSF_OUTBOX,       /* whole table: the JSON entry's "workspace" */
};

struct records_ws_table {
    enum store_db db;
    const char *name; /* the table's name in an export file */
    enum records_ws_find find;
    /* Imported in the last transaction, which makes the workspace visible: the batch records
     * (a restart loads and dials what it finds there), the outbox, the workspace record. */
    int last;
};
/* Every table that holds data of a workspace, in export order (the last ones last). A new table
 * of per-workspace data is one line here. */
extern const struct records_ws_table records_ws_tables[];
extern const size_t records_ws_ntables;
const struct records_ws_table *records_ws_table_named(const char *name, size_t len);

/* A workspace and its batch ids (sorted ascending, BATCH_ID_LEN each, NUL-terminated). */
struct records_ws {
    const char *ws;
    size_t wslen;
    char (*batches)[ID_MAX];
    size_t nbatches;
    /* The same ids as keys of jobs hold them (batch_key_prefix), sorted on their own. */
    uint8_t (*bins)[KEY_BATCH_BIN];
};
/* Fills w->batches with the ids of the batches whose record names workspace w->ws (staging
 * ones only when with_staging). Free with records_ws_free. */
int records_ws_batches(struct store_txn *t, struct records_ws *w, int with_staging);
/* Adds one batch id (keeps the list sorted; a repeat is ignored). */
int records_ws_add_batch(struct records_ws *w, const char *id, size_t len);
int records_ws_has_batch(const struct records_ws *w, const void *id, size_t len);
void records_ws_free(struct records_ws *w);
/* 1 when (key, val) of table tb belongs to workspace w (and its batches). */
int records_ws_owns(const struct records_ws_table *tb, const struct records_ws *w,
                    const struct store_val *key, const struct store_val *val);
/* Calls fn for each key of w in tb, in key order, from the first key >= start (NULL: the first),
 * until fn returns non-zero (returned). Returns 0, fn's value or a store error. */
typedef int (*records_ws_visit_fn)(void *arg, const struct store_val *key,
                                   const struct store_val *val);
int records_ws_walk(struct store_txn *t, const struct records_ws_table *tb,
                    const struct records_ws *w, const void *start, size_t slen,
                    records_ws_visit_fn fn, void *arg);

/* The fleet generation (DB_META): bumped by every admin command that changes which workspaces
 * the server holds or dials (freeze, thaw, import, drop); the server polls it. Reads the generation
 * (0 when never set). */
int records_fleet_gen_get(struct store_txn *t, uint64_t *gen);
/* Adds one to the generation, inside a write transaction. */
int records_fleet_gen_bump(struct store_txn *t);
/* The lowest outbox sequence an import may use so that it lands after every sequence this
 * store's server has used or will soon use: above the last key, and above now_ms << 16 (a
 * server numbers events from its last key on, far fewer than 65,536 per millisecond). */
int records_outbox_import_base(struct store_txn *t, uint64_t now_ms, uint64_t *base);

#endif
