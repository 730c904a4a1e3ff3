/* Do-not-call lists: a workspace's own list of numbers and area codes, and the check every
 * number goes through before it is called (at upload and again at dial time).
 *
 * An entry is an exact E.164 number ("+14155550123") or a whole +1 area code ("+1415", VICIdial's
 * AREACODE mode). Each keeps why it is there (reason), where it came from (source: "api",
 * "import", "call" for a callee who opted out during a call, ...), the call id when it came from
 * a call, and when it was created and last refreshed. Stored in DB_SUPPRESS (records.h), one
 * record per entry, so a check is a key lookup. Entries are given in canonical form: callers
 * normalise what people type (ingest/phone) first. */
#ifndef BC_POLICY_SUPPRESS_H
#define BC_POLICY_SUPPRESS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "store/store.h"

enum suppress_source { SUPPRESS_NONE = 0, SUPPRESS_WORKSPACE = 1, SUPPRESS_REGISTRY = 2 };

#define SUPPRESS_REASON_MAX 500 /* bytes of a reason */
#define SUPPRESS_SOURCE_MAX 32  /* bytes of a source: letters, digits, '_' and '-' */

/* The kind of a canonical entry. */
enum suppress_kind { SUPPRESS_INVALID = 0, SUPPRESS_NUMBER, SUPPRESS_AREA_CODE };
/* A number is '+' and 8 to 15 digits; an area code "+1" and three digits, the first 2-9. */
enum suppress_kind suppress_kind(const char *entry, size_t len);
/* 1 if source is 1-SUPPRESS_SOURCE_MAX bytes of [a-z0-9_-], else 0. */
int suppress_source_valid(const char *source, size_t len);

/* Whether e164 may not be called by workspace ws: its own list (the number or its +1 area
 * code), then, when use_registry and the number is +1, the national registry. 0 with *source
 * set, or a store error. Two key lookups (the workspace's summary, the registry's meta), then
 * the store's in-memory index of the registry (registry_index_get; without it, a third lookup:
 * the area code's record). bench/README.md has the rates. */
/* What a call stopped by a list says (its error): "Suppressed: on the do-not-call list
 * (workspace)" or "(registry)"; the same words at upload and at dial time. */
const char *suppress_error(enum suppress_source source);
int suppress_check(struct store_txn *t, const char *ws, size_t wslen, const char *e164, size_t len,
                   int use_registry, enum suppress_source *source);
/* Like suppress_check, and *entry receives the workspace entry that matched (the number or
 * its area code; "" for the registry or no match), NUL-terminated in SUPPRESS_ENTRY_MAX + 1. */
int suppress_match(struct store_txn *t, const char *ws, size_t wslen, const char *e164, size_t len,
                   int use_registry, enum suppress_source *source, char *entry);
/* Many checks in one read snapshot (an upload's rows): the workspace's summary and the
 * registry's generation are looked up once, so a check costs at most one key lookup (a number
 * that may be on the workspace's list) and two memory reads in the store's in-memory index of the
 * registry (registry_index_get), the first started before the workspace part so the two overlap.
 * Valid while t is;
 * entries added meanwhile by other transactions are not seen (the dial-time check sees them). */
struct suppress_cache;
int suppress_cache_open(struct suppress_cache **out, struct store_txn *t, const char *ws,
                        size_t wslen, int use_registry);
int suppress_cache_check(struct suppress_cache *c, const char *e164, size_t len,
                         enum suppress_source *source);
/* 1 when the snapshot has nothing to screen against: no entry in the workspace's lists and no
 * registry in use (every check then answers SUPPRESS_NONE). */
int suppress_cache_empty(const struct suppress_cache *c);
void suppress_cache_close(struct suppress_cache *c);
/* Adds (or refreshes) an entry: entry is an E.164 number or "+1NPA". */
int suppress_add(struct store_txn *t, const char *ws, size_t wslen, const char *entry, size_t elen,
                 const char *reason, const char *source, const char *call_id, uint64_t now_ms);
/* suppress_add's result says what happened too: 1 when the entry existed (refreshed: reason,
 * source and call id replaced, createdAt kept), 0 when it is new, or a negative error. */
#define SUPPRESS_REFRESHED 1
/* Removes an entry: 0, or BC_ENOTFOUND when the workspace has no such entry. */
int suppress_del(struct store_txn *t, const char *ws, size_t wslen, const char *entry, size_t elen);
/* The entry as the API shows it: {"phone"|"areaCode", "reason", "source", "callId",
 * "createdAt", "updatedAt"}. 0 with *out (the caller's), BC_ENOTFOUND, BC_ENOMEM or a store
 * error. */
int suppress_get(struct store_txn *t, const char *ws, size_t wslen, const char *entry, size_t elen,
                 cJSON **out);
/* Calls fn for each of the workspace's entries after the entry `after` (alen 0: from the first)
 * in key order ("+1415" before "+14155550123"), up to limit entries or until fn returns
 * non-zero. fn gets the entry and its stored record, both valid during the call only. Returns 0,
 * fn's value or a store error. */
typedef int (*suppress_each_fn)(const char *entry, size_t elen, const cJSON *rec, void *arg);
int suppress_each(struct store_txn *t, const char *ws, size_t wslen, const char *after, size_t alen,
                  size_t limit, suppress_each_fn fn, void *arg);
/* The API form of an entry and its stored record. */
cJSON *suppress_entry_json(const char *entry, size_t elen, const cJSON *rec);

#endif
