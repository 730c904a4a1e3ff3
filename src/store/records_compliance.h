/* Keys and records of the compliance rules: calls held by window per zone (DB_HELDZONE), attempts
 * per number (DB_CAP), the do-not-call lists (DB_SUPPRESS) and the national registry
 * (DB_REGISTRY). */
#ifndef BC_STORE_RECORDS_COMPLIANCE_H
#define BC_STORE_RECORDS_COMPLIANCE_H

#include <stddef.h>
#include <stdint.h>

#include "store/records.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/id.h"

/* ---- Compliance: calls held by window per zone, attempts per number ---- */

/* DB_HELDZONE: batch id | zone label -> waiting calls of the batch held by their calling window
 * in that zone (u32, host order). The label is policy/decide.h's. */
#define HELDZONE_KEY_MAX (ID_MAX + 256)
/* Adds delta to the count of (batch, label); a count reaching 0 is removed. */
int heldzone_add(struct store_txn *t, const char *batch, const char *label, size_t llen,
                 int32_t delta);
/* Removes every count of the batch (its waiting calls were cancelled at once). */
int heldzone_clear(struct store_txn *t, const char *batch);
/* The label of a heldzone key of a batch whose id is blen bytes long, into out (NUL-ended, at
 * most cap - 1 bytes); its length. */
size_t heldzone_label(const struct store_val *key, size_t blen, char *out, size_t cap);

/* DB_CAP: workspace id | '/' | E.164 -> the number's latest attempt times in the workspace,
 * oldest first (u64 BE each, at most CAP_TIMES_MAX). */
#define CAP_KEY_MAX   (ID_MAX + 1 + 24)
#define CAP_TIMES_MAX 100
size_t cap_key(uint8_t *out, const char *ws, size_t wslen, const char *e164, size_t elen);
/* Reads the times into out (at most CAP_TIMES_MAX); *n is how many (0 when none). */
int cap_get(struct store_txn *t, const char *ws, const char *e164, uint64_t *out, size_t *n);
/* Stores times (oldest first), keeping the last CAP_TIMES_MAX. */
int cap_put(struct store_txn *t, const char *ws, const char *e164, const uint64_t *times, size_t n);

/* ---- Suppression: do-not-call lists and the national registry ---- */

/* DB_SUPPRESS: workspace id | '/' | entry (an E.164 number or a "+1NPA" area code). With elen 0
 * it is the prefix of the workspace's entries. The value is the entry's JSON (policy/suppress). */
#define SUPPRESS_ENTRY_MAX 16 /* '+' and up to 15 digits */
#define SUPPRESS_KEY_MAX   (ID_MAX + 1 + SUPPRESS_ENTRY_MAX)
size_t suppress_key(char *out, const char *ws, size_t wslen, const char *entry, size_t elen);

/* A workspace's list also has a summary record under the empty entry (the key "ws/", before
 * every entry): how many numbers and area codes it holds, which +1 area codes (a bit per NPA
 * 200-999), and a filter of the numbers (a bit per hash, set on add and never cleared) that says
 * for most numbers that they are not on the list without looking them up. */
#define SUPPRESS_FILTER_BITS 8192u
struct suppress_summary {
    uint64_t numbers, area_codes;
    uint8_t npa[100]; /* bit (npa - 200) */
    uint8_t filter[SUPPRESS_FILTER_BITS / 8];
};
void suppress_summary_encode(uint8_t *out, size_t *len, const struct suppress_summary *s);
#define SUPPRESS_SUMMARY_LEN (1 + 16 + 100 + SUPPRESS_FILTER_BITS / 8)
/* BC_ECORRUPT when v is not a summary record. */
int suppress_summary_decode(const struct store_val *v, struct suppress_summary *s);

/* DB_REGISTRY holds the instance's national registry: a meta record and, per generation, one
 * record per +1 area code (NPA) with the numbers of its 1000 exchanges (NXX). An import writes
 * a new generation beside the active one, then switches the meta record to it in one
 * transaction, so readers see the old registry or the new one, never a mix.
 *
 * An area code's record: u32 count (numbers in it), u32 offsets[1001] (where exchange i's block
 * starts, from the end of the header; offsets[1000] is the blocks' length), then the blocks: an
 * exchange with REGISTRY_DENSE or more numbers is a bitmap of 10,000 bits (1250 bytes), one
 * with fewer a sorted array of its line numbers (u16), 2 bytes a number. Either way a lookup is
 * one record fetch and one index, no search through other area codes. */
#define REGISTRY_LINES        10000u
#define REGISTRY_BITMAP_BYTES (REGISTRY_LINES / 8)
#define REGISTRY_DENSE        (REGISTRY_BITMAP_BYTES / 2)
#define REGISTRY_NXX          1000u
#define REGISTRY_HEADER       (4u + 4u * (REGISTRY_NXX + 1))
/* A whole area code as a bitmap while it is built: bit nxx * 10000 + line. */
#define REGISTRY_NPA_BITS_BYTES ((size_t)REGISTRY_NXX * REGISTRY_BITMAP_BYTES)
#define REGISTRY_KEY_LEN        7 /* 'G', generation (u32 BE), NPA (u16 BE) */
#define REGISTRY_DATE_LEN       10

struct registry_meta {
    uint32_t generation; /* 0: no registry */
    uint64_t count;      /* numbers in it */
    uint64_t imported_ms;
    uint64_t bad_lines;               /* lines of the file that were not numbers */
    char date[REGISTRY_DATE_LEN + 1]; /* the file's date, YYYY-MM-DD */
};
/* The meta record's key (one byte, 'M': apart from the area codes' 'G' and the lock's 'L'). */
size_t registry_meta_key(uint8_t out[1]);
void registry_meta_encode(struct buf *out, const struct registry_meta *m);
/* BC_ECORRUPT when v is not a meta record. */
int registry_meta_decode(const struct store_val *v, struct registry_meta *m);
size_t registry_npa_key(uint8_t out[REGISTRY_KEY_LEN], uint32_t generation, unsigned npa);
/* Reads an area-code key: 0 with its generation and NPA, or BC_ECORRUPT. */
int registry_npa_key_decode(const struct store_val *key, uint32_t *generation, unsigned *npa);
/* The import lock: 'L' -> pid (u32) and start time (u64), while an import runs. */
size_t registry_lock_key(uint8_t out[1]);
void registry_lock_encode(uint8_t out[12], uint32_t pid, uint64_t started_ms);
int registry_lock_decode(const struct store_val *v, uint32_t *pid, uint64_t *started_ms);
/* 1 if line (0-9999) of exchange nxx (0-999) is in the area code's record v, else 0;
 * BC_ECORRUPT when v is not such a record. */
int registry_npa_has(const struct store_val *v, unsigned nxx, unsigned line);
/* The record of area code npa in generation generation: 0 with v (valid while t is),
 * BC_ENOTFOUND or a store error. */
int registry_npa_get(struct store_txn *t, uint32_t generation, unsigned npa, struct store_val *v);
/* Exchange nxx (0-999) of area code record v: 1 with *bits its bitmap (REGISTRY_BITMAP_BYTES,
 * bit line), or 0 with its *n (< REGISTRY_DENSE) line numbers in lines, ascending; BC_ECORRUPT
 * when v is not such a record. */
int registry_exchange_lines(const struct store_val *v, unsigned nxx, const uint8_t **bits,
                            uint16_t *lines, size_t *n);
/* The record's number count. BC_ECORRUPT when v is not an area code's record. */
int registry_npa_count(const struct store_val *v, uint64_t *count);
/* ORs the numbers of record v into bits (REGISTRY_NPA_BITS_BYTES) and sets touched[nxx] (1000
 * bytes) for every exchange that has numbers. */
int registry_npa_decode(const struct store_val *v, uint8_t *bits, uint8_t *touched);
/* Encodes the area code whose numbers are the bits set in bits into out (appended); only the
 * exchanges marked in touched (1000 bytes) are read, the others count as empty. count receives
 * how many numbers there are. 0 or BC_ENOMEM. */
int registry_npa_encode(struct buf *out, const uint8_t *bits, const uint8_t *touched,
                        uint64_t *count);

#endif
