/* Batch and job records and the keys that index them.
 *
 * Records that change often (a batch's counters, a job's state) are fixed binary layouts with a
 * version byte, so updating a counter is a memcpy rather than a parse. A field may take over
 * reserved bytes without a new version only when 0, what earlier versions wrote there, means
 * what those records meant (each such field says how); any other change of layout is a new
 * version. Keys are built big-endian
 * so LMDB's byte order is the logical order (rows ascending, batches newest first). */
#ifndef BC_STORE_RECORDS_H
#define BC_STORE_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/id.h"

#define BATCH_ID_LEN   (6 + ID_ULID_LEN) /* "batch_" + ULID */
#define RECENT_CALLS   10
#define RECORD_VERSION 1

enum batch_status {
    BATCH_STAGING,    /* upload in progress: invisible to the API */
    BATCH_QUEUED,     /* accepted, not started (or waiting for scheduledAt) */
    BATCH_PROCESSING, /* dialling */
    BATCH_COMPLETED,  /* every call is final */
    BATCH_CANCELLED,
    BATCH_FAILED, /* the batch itself failed (for example, provider credentials) */
};

/* Job states. DIALING is reported as "active" by the API. */
enum job_state {
    JOB_WAITING = 1,
    JOB_DIALING,
    JOB_ACTIVE,
    JOB_COMPLETED,
    JOB_FAILED,
    JOB_CANCELLED,
};

enum job_outcome {
    OUTCOME_NONE,
    OUTCOME_ANSWERED,
    OUTCOME_VOICEMAIL,
    OUTCOME_BUSY,
    OUTCOME_NO_ANSWER,
    OUTCOME_INVALID_NUMBER,
    OUTCOME_UNREACHABLE,
    OUTCOME_CARRIER_BLOCKED,
    OUTCOME_REJECTED,
    OUTCOME_PROVIDER_ERROR,
    OUTCOME_DUPLICATE,
    OUTCOME_CANCELLED,
    OUTCOME_INVALID_ROW, /* the CSV row itself is broken (column count, quoting, NUL) */
    OUTCOME_UNKNOWN,     /* dialled before a crash; the provider never reported back */
    /* Stored values: new outcomes are added here, never in between. */
    OUTCOME_SUPPRESSED, /* on a do-not-call list (the workspace's, or the national registry) */
    OUTCOME_NO_CONSENT, /* the workspace requires consent evidence and the row had none */
    OUTCOME_COUNT
};

struct batch_rec {
    uint8_t version;
    uint8_t status; /* enum batch_status */
    uint8_t paused;
    /* 1: retryable is kept. Records written before it have 0, and their retryable calls are
     * counted once, by the first retry that needs the count. */
    uint8_t retryable_kept;
    uint32_t max_concurrency; /* 0: the workspace's */
    double calls_per_second;  /* 0: the workspace's */
    uint64_t created_ms, scheduled_ms, started_ms, last_completed_ms, completed_ms;
    uint64_t total, waiting, active, completed, failed, cancelled;
    uint64_t billable, attempts;
    /* The calls that show a duration (an attempt connected) and the sum of those durations:
     * averageCallDuration. A call counts once, with its latest connected attempt. */
    uint64_t connected;
    double duration_sum; /* seconds */
    uint64_t valid_rows, invalid_rows, duplicate_rows, normalized_rows;
    uint32_t recent[RECENT_CALLS]; /* rows of the latest final calls, newest first, distinct */
    uint32_t recent_count;
    uint32_t retryable; /* failed calls whose outcome POST .../retry re-queues (retryable_kept) */
    uint64_t empty_variables; /* prompt variables rendered empty because a row lacked them */
    uint32_t final_seq;       /* calls that reached a final state: the id of live events */
    /* Calls a retry re-queued that its background rewrite has not moved to waiting yet: the
     * batch is not complete while there are any (0 before it existed: no retry pending). */
    uint32_t requeue_pending;
    char message[160]; /* why the batch is paused or failed, for people */
    char id[ID_MAX];
    char ws[ID_MAX];
    char agent[ID_MAX];
    /* ---- Compliance (records written before it end above: they decode with these 0) ---- */
    uint64_t held_window, held_cap; /* waiting calls held (inside waiting), by reason */
    uint64_t suppressed_upload;     /* rows on a do-not-call list at upload (failed) */
    uint64_t suppressed_dial;       /* calls stopped by a list at dial time (failed) */
    uint64_t opted_out;             /* calls in which the callee asked not to be called again */
    uint64_t no_consent;            /* rows without consent evidence when it is required */
    uint64_t reserved_compliance[4];
};
/* The size of batch records written before the compliance counters. */
#define BATCH_REC_V1_LEN offsetof(struct batch_rec, held_window)

/* Why a waiting call is held back (job_head.held); its heldUntil is next_attempt_ms. */
enum job_held {
    HELD_NONE,
    HELD_WINDOW, /* outside the callee's calling window */
    HELD_CAP,    /* the number reached its workspace's frequency cap */
    HELD_COUNT
};

/* The fixed part of a job record; the error text and the CSV fields follow it. */
struct job_head {
    uint8_t version;
    uint8_t state;      /* enum job_state */
    uint8_t outcome;    /* enum job_outcome */
    uint8_t attempts;   /* every dial that reached the callee's network, for ever */
    uint8_t normalized; /* the number was rewritten to E.164 */
    /* attempts at the last POST .../retry: the retry limits count the attempts after it. Records
     * written before it have 0, right for them: their attempts restarted at a retry. */
    uint8_t retry_base;
    /* 1: an attempt connected (answered or voicemail) and duration is the latest such attempt's
     * length. Records written before it have 0: their outcome tells (jobs_has_duration). */
    uint8_t connected;
    /* enum job_held: why a waiting call is not dialled before next_attempt_ms. Records written
     * before it have 0 there: not held. */
    uint8_t held;
    uint32_t dup_of; /* for duplicates: the row it repeats */
    uint32_t nfields;
    uint32_t seq;             /* dial requests sent so far: (batch, row, seq) names one request */
    int32_t last_sequence;    /* the provider's last applied SequenceNumber, -1 for none */
    uint32_t provider_errors; /* provider-trouble retries of the current attempt */
    uint32_t reserved2;
    uint64_t start_ms, end_ms, next_attempt_ms;
    double duration; /* seconds */
    char e164[20];
    char call_id[40]; /* the provider's call id (Twilio's are 34 characters) */
};

/* A decoded job: head plus views into the stored bytes (valid while the transaction is). */
struct job_view {
    struct job_head head;
    const char *error;
    size_t error_len;
    const uint8_t *fields; /* nfields times: u16 length (big-endian), bytes */
    size_t fields_len;
};

int batch_get(struct store_txn *t, const char *id, size_t len, struct batch_rec *out);
/* Decodes a stored batch record (a value of DB_BATCH): 0 or BC_ECORRUPT. */
int batch_decode(const struct store_val *v, struct batch_rec *out);
int batch_put(struct store_txn *t, const struct batch_rec *b);
/* Puts row first in the recent calls (moving it there if it is listed already). */
void batch_add_recent(struct batch_rec *b, uint32_t row);

size_t job_key(uint8_t *out, const char *batch, uint32_t row);

/* A workspace's batch list is ordered newest first: by creation time, then by batch id, both
 * descending. Ids from one generator increase strictly, so two batches created in the same
 * millisecond still list the later one first. Both parts are stored complemented (~), so that
 * LMDB's ascending order is the list's order. */
#define WS2BATCH_KEY_MAX (2 * ID_MAX + 8)
size_t ws2batch_key(uint8_t *out, const char *ws, size_t wslen, uint64_t created_ms,
                    const char *batch, size_t blen);
/* Writes the batch id of a ws2batch key (of a workspace id wslen bytes long) into out, NUL-ended;
 * returns its length, or 0 if the key is not one. */
size_t ws2batch_batch(const struct store_val *key, size_t wslen, char out[ID_MAX]);
/* Rewrites batch list keys stored by earlier versions (batch id not complemented), so that they
 * list in the same order as new ones. Cheap when there is nothing to do; run once at start. */
int records_upgrade(struct store *s);
size_t due_key(uint8_t *out, const char *batch, uint64_t due_ms, uint32_t row);
size_t finalseq_key(uint8_t *out, const char *batch, uint32_t seq);
/* Records that the call of row ended as the batch's seq-th final call. */
int finalseq_put(struct store_txn *t, const char *batch, uint32_t seq, uint32_t row);
/* Reads a finalseq entry of a batch whose id is blen bytes: 0, or BC_ECORRUPT. */
int finalseq_decode(const struct store_val *key, const struct store_val *val, size_t blen,
                    uint32_t *seq, uint32_t *row);
/* Reads a due key of a batch whose id is blen bytes: 0, or BC_ECORRUPT if it is not one. */
int due_key_decode(const struct store_val *key, size_t blen, uint64_t *due_ms, uint32_t *row);
/* A billable call: workspace | time (u64 BE) | batch | row (u32 BE) | seq (u32 BE). */
#define USAGE_KEY_MAX (2 * ID_MAX + 16)
size_t usage_key(uint8_t *out, const char *ws, uint64_t at_ms, const char *batch, uint32_t row,
                 uint32_t seq);
/* The value of a provider call id: the request it answers, batch | row (u32 BE) | seq (u32 BE). */
#define SID_VALUE_MAX (ID_MAX + 8)
size_t sid_value(uint8_t *out, const char *batch, uint32_t row, uint32_t seq);

/* Jobs per state are also counted per block of 1024 rows, so a page deep into a filtered list
 * is found by summing at most (rows / 1024) counts instead of walking every earlier row. */
#define STATE_BLOCK_SHIFT 10
size_t statecount_key(uint8_t *out, const char *batch, uint8_t state, uint32_t block);
/* Adds delta to the count of (state, row's block). */
int statecount_add(struct store_txn *t, const char *batch, uint8_t state, uint32_t row,
                   int32_t delta);
size_t jobstate_key(uint8_t *out, const char *batch, uint8_t state, uint32_t row);
/* The row of a jobstate key (its last four bytes). */
uint32_t jobstate_key_row(const struct store_val *key);
#define JOB_KEY_MAX (ID_MAX + 16)

/* Encodes a job: head, error text, fields (each field given as ptr/len pairs). */
int job_encode(struct buf *out, const struct job_head *h, const char *error, size_t error_len,
               const char *const *fields, const size_t *lens, size_t nfields);
int job_decode(const void *data, size_t len, struct job_view *out);
/* Re-encodes a job with a new head and error text, keeping its CSV fields as stored. */
int job_reencode(struct buf *out, const struct job_head *h, const char *error, size_t error_len,
                 const struct job_view *old);
/* Iterates the fields of a decoded job: returns 1 with the field in p and n, 0 at the end. */
int job_field_next(const struct job_view *v, size_t *pos, const char **p, size_t *n);

const char *job_state_name(int state);     /* API status: waiting, active, completed, ... */
const char *job_outcome_name(int outcome); /* machine code, or NULL for none */
const char *job_held_name(int held);       /* heldReason: calling_window, frequency_cap; NULL */
const char *batch_status_name(int status);

uint32_t be32_get(const uint8_t *p);
uint64_t be64_get(const uint8_t *p);
void be32_put(uint8_t *p, uint32_t v);
void be64_put(uint8_t *p, uint64_t v);

/* ---- Keys and records of the API layer and ingest ---- */

/* Calls fn for every batch record, in id order, until fn returns non-zero (which batch_scan
 * then returns). Records that do not decode are skipped. Returns 0, fn's value or an error. */
typedef int (*batch_scan_fn)(const struct batch_rec *b, void *arg);
int batch_scan(struct store_txn *t, batch_scan_fn fn, void *arg);

/* DB_AGENT: workspace id | '/' | agent id. With idlen 0 it is the prefix of the workspace's
 * agents. */
#define AGENT_KEY_MAX (2 * ID_MAX + 1)
size_t agent_key(char *out, const char *ws, size_t wslen, const char *id, size_t idlen);

/* DB_IDEM: workspace id | '/' | Idempotency-Key -> the batch id (NUL-padded to ID_MAX bytes), the
 * expiry (Unix ms, host order), then (version 2) a version byte and the SHA-256 of the request
 * that created the batch. Version 1 records, written before the hash was kept, end after the
 * expiry: they decode with has_hash 0. */
#define IDEM_KEY_MAX (ID_MAX + 256) /* an Idempotency-Key of up to 255 bytes */
#define IDEM_V1_LEN  (ID_MAX + 8)
#define IDEM_VAL_LEN (IDEM_V1_LEN + 1 + SHA256_LEN)
#define IDEM_VERSION 2
struct idem_rec {
    char batch[ID_MAX];
    uint64_t expires_ms;
    int has_hash;
    uint8_t hash[SHA256_LEN];
};
size_t idem_key(char *out, const char *ws, size_t wslen, const char *key, size_t klen);
void idem_encode(uint8_t out[IDEM_VAL_LEN], const struct idem_rec *r);
/* BC_ECORRUPT when v is not an idempotency record. */
int idem_decode(const struct store_val *v, struct idem_rec *r);

/* DB_USAGE keys begin workspace id | time (u64 BE): the start of a workspace's usage from at_ms
 * (the first wslen bytes are the prefix of all its usage), and the time of a usage key. */
#define USAGE_TIME_KEY_MAX (ID_MAX + 8)
size_t usage_time_key(uint8_t *out, const char *ws, size_t wslen, uint64_t at_ms);
uint64_t usage_key_time(const struct store_val *key, size_t wslen);

/* The u32 at off of a key: the row, block or sequence that follows a batch id (and state) in
 * the keys of DB_JOB, DB_JOBSTATE, DB_STATECOUNT and DB_FINALSEQ. */
uint32_t key_u32(const struct store_val *key, size_t off);

/* ---- Webhooks: the outbox and the deliveries log ---- */

/* DB_OUTBOX: u64 big-endian sequence, so cursor order is the order events happened in. */
#define OUTBOX_KEY_LEN 8
size_t outbox_key(uint8_t out[OUTBOX_KEY_LEN], uint64_t seq);
uint64_t outbox_key_seq(const struct store_val *key); /* a key of OUTBOX_KEY_LEN bytes */
/* DB_DELIVERY: workspace | time (u64) | outbox sequence (u64), oldest first per workspace. */
#define DELIVERY_KEY_MAX (ID_MAX + 16)
size_t delivery_key(uint8_t *out, const char *ws, size_t wslen, uint64_t at_ms, uint64_t seq);
/* 1 if key (found under the prefix of a workspace id wslen bytes long) is a delivery key of that
 * workspace rather than of a longer id sharing the prefix. */
int delivery_key_of(const struct store_val *key, size_t wslen);
/* Stores obj rendered as JSON (records kept as JSON: webhook targets, outbox entries, deliveries)
 * and frees it. Returns 0, BC_ENOMEM or the store's error. */
struct cJSON;
int records_put_json(struct store_txn *t, enum store_db db, const void *key, size_t klen,
                     struct cJSON *obj);

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
