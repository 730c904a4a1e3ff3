/* The national do-not-call registry: one set of +1 numbers shared by every workspace of the
 * instance (workspaces choose whether it applies with useNationalRegistry), imported from the
 * FTC's full-list files with the file's date.
 *
 * Import: the file streams through a line parser (one 10-digit number per line, or the older
 * "areacode,number" form; CRLF, blank lines and a header line are tolerated, other bad lines are
 * counted and the first few reported) into a buffer of numbers; a full buffer is merged into the
 * store in one write transaction (registry_import_flush_txn), by area code. The numbers go to a
 * new generation beside the active one; registry_import_switch_txn makes it the active one and
 * drops the old one in one transaction, so readers never see half a registry. Memory is the
 * buffer (REGISTRY_FLUSH_AT numbers), one area code's bitmap and its encoded record, whatever the
 * file's size. One import runs at a time (a lock record, taken over from a dead process). */
#ifndef BC_POLICY_REGISTRY_H
#define BC_POLICY_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "store/records.h"
#include "store/store.h"
#include "util/buf.h"

#define REGISTRY_FLUSH_AT   (1u << 20) /* numbers buffered before they are merged in */
#define REGISTRY_STALE_DAYS 31
#define REGISTRY_BAD_KEPT   5
#define REGISTRY_LINE_MAX   64

/* 1 if the +1 number whose ten digits (NPA NXX XXXX) are given is in the active registry, 0 if
 * not (or there is no registry), or a store error. Reads the meta record, then the store's
 * in-memory index (policy/registry_index.h) or, while it is not whole, the area code's record. */
int registry_has(struct store_txn *t, const char *digits10);
/* 1 if the ten digits' number is in v, the record of its area code (registry_npa_get, in
 * store/records_compliance.h); 0 if not; BC_ECORRUPT. */
int registry_digits_has(const struct store_val *v, const char *digits10);
/* The active registry's meta record: 0, BC_ENOTFOUND when none was imported, or an error. */
int registry_meta_get(struct store_txn *t, struct registry_meta *m);
/* Days since 1970-01-01 of a YYYY-MM-DD date: 0, or BC_EINVAL when it is not a real date. */
int registry_date_parse(const char *s, size_t len, int64_t *day);
/* 1 when a registry dated date is older than REGISTRY_STALE_DAYS days at now_ms. */
int registry_stale(const struct registry_meta *m, uint64_t now_ms);
/* How old the registry is, in whole days, at now_ms. */
int64_t registry_age_days(const struct registry_meta *m, uint64_t now_ms);

struct registry_bad_line {
    uint64_t line;
    char text[41];
    const char *why;
};

struct registry_import {
    struct store *s;
    struct registry_meta meta; /* of the registry being built */
    uint32_t old_generation;   /* the active one at the start (0: none) */
    uint32_t pid;
    /* The line being read. */
    char line[REGISTRY_LINE_MAX + 1];
    size_t llen;
    int overlong;
    int prev_cr;
    uint64_t lineno;
    int seen_content; /* a non-blank line was read (the next ones cannot be the header) */
    /* Numbers read and not merged yet, as 10-digit values. */
    uint64_t *nums;
    size_t n, cap;
    int unsorted;
    uint64_t lines; /* numbers read (with repeats) */
    uint8_t *bits;  /* one area code while it is merged (REGISTRY_NPA_BITS_BYTES) */
    uint8_t touched[REGISTRY_NXX];
    struct buf val;
    int64_t flush_delta; /* numbers the flush being written adds (set by the transaction) */
    struct registry_bad_line bad[REGISTRY_BAD_KEPT];
    size_t nbad;
    int locked;
};

/* Checks the date (YYYY-MM-DD, a real day, not after now's UTC date + 1), takes the import lock
 * and clears what an interrupted import left. 0; BC_EINVAL (bad date), BC_EBUSY (another import
 * runs: *busy_pid names it), BC_ENOMEM or a store error. */
int registry_import_begin(struct registry_import *im, struct store *s, const char *date,
                          size_t dlen, uint64_t now_ms, uint32_t pid, uint32_t *busy_pid);
/* Reads file bytes (split anywhere). 0 or BC_ENOMEM. */
int registry_import_feed(struct registry_import *im, const char *data, size_t len);
/* 1 when the buffer is full: run registry_import_flush_txn (then registry_import_flushed)
 * before feeding more. */
int registry_import_want_flush(const struct registry_import *im);
/* The end of the file: reads a last line without its line end. */
void registry_import_end(struct registry_import *im);
/* store_write functions, arg the import. The flush merges the buffered numbers into the new
 * generation; after it commits, call registry_import_flushed. The switch (after the last flush)
 * makes the new generation the active registry, drops the old one and the lock. */
int registry_import_flush_txn(struct store_txn *t, void *arg);
void registry_import_flushed(struct registry_import *im);
int registry_import_switch_txn(struct store_txn *t, void *arg);
/* Drops what an unfinished import wrote and its lock (a store_write function). */
int registry_import_abort_txn(struct store_txn *t, void *arg);
void registry_import_free(struct registry_import *im);

#endif
