/* Batch and job records and the keys that index them.
 *
 * A batch record (one per batch, its counters updated often) is a fixed binary layout with a
 * version byte, so updating a counter is a memcpy rather than a parse. A field may take over
 * reserved bytes without a new version only when 0, what earlier versions wrote there, means
 * what those records meant (each such field says how); any other change of layout is a new
 * version. Job records (one per contact) are compact instead: only the fields that differ from a
 * new job's are stored (records.c describes the encoding). Keys are built big-endian so LMDB's
 * byte order is the logical order (rows ascending, batches newest first). */
#ifndef BC_STORE_RECORDS_H
#define BC_STORE_RECORDS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "store/store.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/id.h"

#define BATCH_ID_LEN   (6 + ID_ULID_LEN) /* "batch_" + ULID */
#define RECENT_CALLS   10
#define RECORD_VERSION 1
/* Job records: version 2 is the compact encoding (records.c says how); 1 still decodes. */
#define JOB_RECORD_VERSION 2

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
    OUTCOME_NO_WINDOW,  /* its calling window never opens (zones too far apart for it) */
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
    /* 1 once batch.held was sent for the current stretch of all-held calls (a dial clears it). */
    uint64_t held_notified;
    /* The first row from which waiting jobs have no entry in the state index (they were written
     * by the upload and are found in the jobs themselves: store/jobindex.h); 0 when every job has
     * one (batches written before it). Rows count from 1, so a new batch starts at 1. */
    uint64_t unindexed_from;
    uint64_t reserved_compliance[2];
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

/* A job's fields besides its error text and CSV fields. Stored compactly (records.c): a field
 * added here is also added at the end of records.c's job_fields table, or it is not kept. */
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
    const uint8_t *fields; /* the stored fields, framed as the record's version says */
    size_t fields_len;
    uint8_t format;    /* the record's version: how fields is framed */
    long number_field; /* the field head.e164 was read from, or -1 */
};

int batch_get(struct store_txn *t, const char *id, size_t len, struct batch_rec *out);
/* Decodes a stored batch record (a value of DB_BATCH): 0 or BC_ECORRUPT. */
int batch_decode(const struct store_val *v, struct batch_rec *out);
int batch_put(struct store_txn *t, const struct batch_rec *b);
/* Puts row first in the recent calls (moving it there if it is listed already). */
void batch_add_recent(struct batch_rec *b, uint32_t row);

/* Keys of DB_JOB, DB_JOBSTATE, DB_STATECOUNT and DB_FINALSEQ begin with the batch id in 16
 * bytes (the ULID's binary form) when it is "batch_" + ULID, as written otherwise; DB_DUE keys
 * hold it as written. A prefix of a batch's keys is built with the key builder (row 0) minus
 * the trailing bytes, never from the id's text. Stores of earlier versions, whose keys held
 * the id as written, are rewritten by records_upgrade. */
#define KEY_BATCH_BIN 16
/* job_key: below, with the other builders of these keys. */
/* The batch id as those keys begin with it (KEY_BATCH_BIN bytes for every id the server makes):
 * the prefix of all of a batch's keys in those tables. */
size_t batch_key_prefix(uint8_t *out, const char *batch);

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
/* Adds delta to a u32 counter (host order) stored under key; a count reaching 0 is removed, so
 * that the table holds only what is counted. */
int records_counter_add(struct store_txn *t, enum store_db db, const uint8_t *key, size_t klen,
                        int32_t delta);
/* Adds delta to the count of (state, row's block). */
int statecount_add(struct store_txn *t, const char *batch, uint8_t state, uint32_t row,
                   int32_t delta);
/* jobstate_key: below, with the other builders of these keys. */
/* The row of a jobstate key (its last four bytes). */
uint32_t jobstate_key_row(const struct store_val *key);
#define JOB_KEY_MAX (ID_MAX + 16)

/* Encodes a job: head, error text, fields (each field given as ptr/len pairs). */
int job_encode(struct buf *out, const struct job_head *h, const char *error, size_t error_len,
               const char *const *fields, const size_t *lens, size_t nfields);
/* job_encode for a new job waiting for its first dial (every field of its head at its default)
 * whose number is e164: the same bytes, without a head to build and compare. */
int job_encode_waiting(struct buf *out, const char *e164, const char *const *fields,
                       const size_t *lens, size_t nfields);
/* job_encode_waiting for an upload's row whose number is fields[cell] exactly as written (most
 * rows), into room the caller reserved: job_waiting_bound(nfields, the fields' total length)
 * bytes. Returns the end, or NULL when a field is longer than a job holds. The same bytes. */
size_t job_waiting_bound(size_t nfields, size_t field_bytes);
uint8_t *job_encode_waiting_at(uint8_t *p, size_t cell, const char *const *fields,
                               const size_t *lens, size_t nfields);
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

/* A batch's key prefix (batch_key_prefix) built once, for code that builds many keys of one batch
 * (an upload's chunk): the id's text is then decoded once rather than for every key. job_key and
 * jobstate_key give the same bytes. */
struct batch_key {
    size_t len;
    uint8_t bytes[ID_MAX];
};
static inline void batch_key_init(struct batch_key *k, const char *batch)
{
    k->len = batch_key_prefix(k->bytes, batch);
}
static inline size_t batch_key_job(uint8_t *out, const struct batch_key *k, uint32_t row)
{
    memcpy(out, k->bytes, k->len);
    be32_put(out + k->len, row);
    return k->len + 4;
}
static inline size_t batch_key_jobstate(uint8_t *out, const struct batch_key *k, uint8_t state,
                                        uint32_t row)
{
    memcpy(out, k->bytes, k->len);
    out[k->len] = state;
    be32_put(out + k->len + 1, row);
    return k->len + 5;
}
/* A DB_JOBSTATE key as store_appender_dups takes it: the head (batch prefix and state, the key
 * without its row) and the row, the 4-byte tail of every duplicate. */
static inline size_t batch_key_jobstate_head(uint8_t *out, const struct batch_key *k, uint8_t state)
{
    return batch_key_jobstate(out, k, state, 0) - 4;
}
/* statecount_key from the prefix. */
static inline size_t batch_key_statecount(uint8_t *out, const struct batch_key *k, uint8_t state,
                                          uint32_t block)
{
    return batch_key_jobstate(out, k, state, block);
}
static inline void jobstate_tail(uint8_t out[4], uint32_t row)
{
    be32_put(out, row);
}
/* The keys of one job from the batch id's text (a prefix decoded for this key alone). */
static inline size_t job_key(uint8_t *out, const char *batch, uint32_t row)
{
    struct batch_key k;
    batch_key_init(&k, batch);
    return batch_key_job(out, &k, row);
}
static inline size_t jobstate_key(uint8_t *out, const char *batch, uint8_t state, uint32_t row)
{
    struct batch_key k;
    batch_key_init(&k, batch);
    return batch_key_jobstate(out, &k, state, row);
}

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

/* The records of the fleet's workspace export and of the compliance rules, and the upgrades of
 * earlier versions' keys, have files of their own (store/records_ws.h,
 * store/records_compliance.h, store/records_upgrade.h); this header gives every record. */
#include "store/records_compliance.h"
#include "store/records_upgrade.h"
#include "store/records_ws.h"

#endif
