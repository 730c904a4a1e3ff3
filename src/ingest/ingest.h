/* The upload pipeline: a multipart/form-data body streams through the multipart parser into the
 * CSV parser; each row's phone number is normalised and validated, repeated numbers are found,
 * and (when a store is given) every row is appended as a job of a staging batch in chunked write
 * transactions. Memory stays bounded by the parsers' caps, one chunk of pending rows and a table
 * of the numbers seen (12-byte slots, at most three quarters full).
 *
 * The same pipeline serves POST /v1/api/batch-calls (store rows) and .../validate (store nothing).
 * Form fields other than the file are collected as text; the API layer validates them, and may
 * do so as soon as each one has arrived (on_field) to reject an upload before its file is read. */
#ifndef BC_INGEST_INGEST_H
#define BC_INGEST_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/csv.h"
#include "ingest/dedupe.h"
#include "ingest/multipart.h"
#include "ingest/spool.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/id.h"

#define INGEST_MAX_FILE_BYTES (20u * 1000u * 1000u) /* 20 MB of file data */
#define INGEST_ERROR_TEXT     256
#define INGEST_FIELDS_V1      FIELD_CALLING_WINDOW /* the fields of the fingerprint's v1 */

/* The form fields the API knows (their names are the API's: ingest_options.field_names). Unknown
 * fields are ignored. */
enum ingest_field {
    FIELD_AGENT_ID,
    FIELD_SCHEDULED_AT,
    FIELD_SMART_CALLBACK,
    FIELD_NAME,
    FIELD_DEFAULT_COUNTRY,
    FIELD_STRICT,
    FIELD_ALLOW_DUPLICATES,
    FIELD_MAX_CONCURRENCY,
    FIELD_CALLS_PER_SECOND,
    FIELD_WEBHOOK_URL,
    /* Fields added after the request fingerprint's first version (ingest_digest): they count
     * only when sent, so the fingerprint of a request without them is unchanged. */
    FIELD_CALLING_WINDOW,
    FIELD_COUNT
};

/* One problem with one row, shaped like an entry of A8's "errors". */
struct ingest_row_error {
    uint32_t row;
    char column[64]; /* "" when the problem is the row itself */
    char code[40];
    char value[96];
    char message[INGEST_ERROR_TEXT];
};

/* Why an upload failed as a whole. The API layer turns them into statuses and messages. */
enum ingest_error {
    INGEST_OK,
    INGEST_E_NOMEM,                /* out of memory */
    INGEST_E_STORE_FULL,           /* a chunk of rows did not fit in the store */
    INGEST_E_STORE,                /* a chunk of rows could not be stored */
    INGEST_E_DISK_FULL,            /* a chunk of rows did not fit on the disk (BC_ENOSPC) */
    INGEST_E_NOT_MULTIPART,        /* the Content-Type is not multipart/form-data */
    INGEST_E_MULTIPART,            /* the multipart body is malformed */
    INGEST_E_TOO_LARGE,            /* the file, or a form field, is over its limit */
    INGEST_E_FILE_TWICE,           /* more than one file part */
    INGEST_E_FIELD_TWICE,          /* field: sent twice */
    INGEST_E_FIELD_AFTER_FILE,     /* field: changes how rows are read, but came after the file */
    INGEST_E_FIELD_VALUE,          /* field: a value ingest itself reads is wrong (detail: it) */
    INGEST_E_MISSING_FILE,         /* no file part */
    INGEST_E_EMPTY_FILE,           /* no header line */
    INGEST_E_INVALID_HEADER,       /* a column name is too long */
    INGEST_E_DUPLICATE_COLUMN,     /* two columns share a name */
    INGEST_E_MISSING_PHONE_COLUMN, /* no phone_number column */
    INGEST_E_TOO_MANY_ROWS,        /* more rows than max_records */
    INGEST_E_INVALID_FILE,         /* not a CSV text file */
    INGEST_E_INVALID_CSV,          /* the header line cannot be parsed */
    INGEST_E_NO_ROWS,              /* a header and no rows */
    INGEST_E_STOPPED,              /* field: on_field stopped the upload (the caller knows why) */
};

/* The first problem that rejects the whole upload. */
struct ingest_failure {
    enum ingest_error error; /* INGEST_OK while none */
    int field;               /* the enum ingest_field the error is about, or -1 */
    char detail[512];        /* what is wrong, for people ("" when the error says it all) */
};

/* The BC_* code of an error (0 for INGEST_OK): what ingest's functions return once it is set. */
int ingest_error_code(enum ingest_error e);

struct ingest;
/* Called when a non-file field has arrived in full. Return 0 to go on, or non-zero to stop: the
 * ingest then fails with INGEST_E_STOPPED. */
typedef int (*ingest_field_fn)(struct ingest *in, enum ingest_field field, void *ctx);

/* What opt.screen answers when it has nothing to screen against (see there). */
#define INGEST_SCREEN_IDLE 2

struct ingest_options {
    struct store *store;  /* NULL: validate only, store nothing */
    const char *batch_id; /* the staging batch the rows belong to (when storing) */
    const char *workspace;
    uint64_t max_records;
    size_t max_errors;       /* row errors kept for the response */
    uint64_t max_file_bytes; /* 0: INGEST_MAX_FILE_BYTES */
    uint64_t body_bytes;     /* Content-Length when known (sizes the duplicate table), else 0 */
    const char *const *field_names; /* the form name of each enum ingest_field */
    const char *file_field;         /* the form name of the CSV file part */
    ingest_field_fn on_field;
    void *ctx;
    /* With a store: chunks are written on libuv's thread pool (store_write_async) while the next
     * one fills, and on_written is called on the loop after each write: the caller then resumes
     * feeding (see blocked), finishes (ingest_drain), or releases the ingest. */
    uv_loop_t *loop;
    void (*on_written)(struct ingest *in, void *ctx);
    /* Hash the request for ingest_digest (an upload with an Idempotency-Key). */
    int digest;
    /* Only hash: read the form, but neither the CSV nor the fields (no on_field, no field
     * errors but a field sent twice); for telling whether a repeated request is the same. */
    int digest_only;
    /* Screens each valid row's number (once it is not a repeat) before it is stored: returns 0
     * to call it, 1 when it may not be called (it is on a do-not-call list: the row fails with
     * outcome suppressed and the sentence written into why, and counts in suppressed),
     * INGEST_SCREEN_IDLE as 0 when no number could be on a list until screen_done (nothing to
     * screen against: it is not asked again until then), or a negative BC_* error that fails
     * the upload. May run on a pool thread when the rows are read again, never on two threads
     * at once. NULL: no screening. */
    int (*screen)(void *screen_ctx, const char *e164, size_t len, char *why, size_t cap);
    /* Called (when set) after the rows of one ingest_feed or ingest_end, or of one step of
     * reading them again, have been screened: the screen lets go of what it read, since the
     * loop may change the store between two calls. */
    void (*screen_done)(void *screen_ctx);
    void *screen_ctx;
    /* Where a copy of the file is kept while defaultCountry or allowDuplicates may still come
     * after it (an unlinked temporary file), or NULL: such a late field is then refused. */
    const char *spool_dir;
    /* The workspace requires consent evidence (requireConsent): a row without a valid
     * consent_at fails with outcome no_consent. Without it a consent_at that is present but
     * wrong is only a warning. now_ms is when the upload began (consent_at must not be later). */
    int require_consent;
    int64_t now_ms;
};

/* What one write transaction stores: encoded jobs of consecutive rows. */
struct ingest_chunk {
    const char *batch, *workspace;
    struct buf *rows;
    int first; /* nothing of the batch is stored yet: write the staging marker too */
    /* The last chunk: the state index entries of the rows not waiting, (row u32, state u8)
     * each, held back until now (see deferred in struct ingest); NULL before. */
    const struct buf *deferred;
    /* chunk_copy: the jobs of rows copy_next to copy_end - 1 of batch copy_from are copied
     * (framed into rows first), at most CHUNK_COPY_ROWS; copied tells how many, and copy_next
     * then names the row after the last. */
    const char *copy_from;
    uint32_t copy_next, copy_end;
    size_t copied;
};

/* The reading just before the first row that a late defaultCountry (a number without '+') or
 * allowDuplicates (a repeat) could change: where reading the rows again resumes. */
#define INGEST_WATCH_COUNTRY    1
#define INGEST_WATCH_DUPLICATES 2
struct ingest_mark {
    uint32_t row, line; /* the row and its first line; row 0 while there is none */
    uint64_t offset;    /* its first byte in the file */
    uint64_t valid, invalid, duplicates, normalized, no_consent, consent_warnings, suppressed;
    size_t nerrors, nwarnings;
    int errors_truncated, warnings_truncated;
};

struct ingest {
    struct ingest_options opt;
    struct multipart mp;
    struct csv_parser csv;
    int mp_ready, csv_ready;

    /* Form fields as received. */
    struct buf fields[FIELD_COUNT];
    int field_seen[FIELD_COUNT];
    int part;      /* the field being received, -1 for the file, -2 for an ignored part */
    int file_seen; /* a file part began */
    int file_done; /* the file part ended */
    uint64_t file_bytes;
    uint8_t magic[8]; /* the file's first bytes, to recognise non-CSV files */
    size_t magic_len;
    int allow_duplicates; /* read from the field (before or after the file) */
    char default_country[3];
    /* The file's bytes from the first row a late field could change (mark), kept while such a
     * field may still come: the rows from there on are then read again (ingest_replay_begin). */
    struct spool spool;
    int watch; /* INGEST_WATCH_* of the fields that may still come, until mark is taken */
    struct ingest_mark mark;
    struct ingest_mark before_warning; /* the warnings before the last row that added one */
    uint64_t csv_bytes;                /* file bytes given to the CSV parser */
    int late_country, late_duplicates; /* the field came after the file and changes the rows */
    uint64_t bare_rows; /* rows whose number has no '+': their reading depends on the country */
    /* Reading the rows again, on the thread pool, one chunk of rows per step; first the rows
     * before the mark are copied from the staging batch first written (copy_from) to the new. */
    int replaying, replay_eof;
    uint64_t replay_off;
    uv_work_t replay_work;
    char *replay_buf;
    char copy_from[ID_MAX];
    uint32_t copy_next; /* the next row to copy; rows from mark.row on are read again */
    int copy_staged;    /* copy_from holds rows: the caller purges it (ingest_first_batch) */

    /* The header row. */
    int have_header;
    struct buf columns; /* normalised names, NUL-separated */
    size_t ncolumns;
    size_t phone_col;
    int consent_col; /* the consent_at column, or -1 */

    /* Counters. */
    uint64_t rows, valid, invalid, duplicates, normalized;
    uint64_t no_consent;       /* rows failed for want of consent evidence (require_consent) */
    uint64_t consent_warnings; /* rows dialled whose consent_at is present but not valid */
    uint64_t suppressed;       /* valid rows on a do-not-call list (opt.screen) */
    int screen_idle; /* opt.screen answered INGEST_SCREEN_IDLE: not asked until screen_done */

    struct dedupe seen;
    struct buf pending; /* encoded jobs not yet written */
    /* The rows that do not start waiting (invalid rows, duplicates): their state index entries
     * are written by the last chunk, after every waiting row's. The index then grows at its end
     * only (LMDB appends and fills its pages) instead of splitting pages half full at two
     * places: about 20 bytes less per contact. 5 bytes per such row. */
    struct buf deferred;
    size_t pending_rows;
    uint64_t stored_rows; /* committed (in the staging batch) */
    /* The chunk being written on the thread pool, while pending fills. */
    struct store_async write;
    struct ingest_chunk chunk;
    struct buf writing;
    size_t writing_rows;
    int write_busy; /* write is in flight: the ingest must outlive it */
    int blocked;    /* pending is full while a write is in flight: feed nothing until on_written */
    uint64_t expected_bytes; /* the body's Content-Length, to size the duplicate table once */

    struct ingest_row_error *errors;
    size_t nerrors;
    int errors_truncated;
    /* Problems that do not stop a row (an invalid consent_at when consent is not required):
     * at most opt.max_errors, allocated at the first one. */
    struct ingest_row_error *warnings;
    size_t nwarnings;
    int warnings_truncated;

    struct ingest_failure failure;

    /* The file's bytes as they arrive (with opt.digest or opt.digest_only). */
    struct crypto_sha256_stream file_hash;
    uint8_t file_digest[SHA256_LEN];
    int file_digest_state; /* 0 hashing, 1 file_digest is set, -1 the hash failed */
};

/* content_type is the request's Content-Type header value. Returns 0, or sets in->failure and
 * returns its BC_* code (ingest_error_code); so do ingest_feed and ingest_end. */
int ingest_begin(struct ingest *in, const struct ingest_options *opt, const char *content_type,
                 size_t ct_len);
/* Feeds body bytes. Once the upload has failed, returns the error again. */
int ingest_feed(struct ingest *in, const char *data, size_t len);
/* The body ended. Checks that a file arrived with a header and rows (ingest_drain then writes the
 * last chunk). */
int ingest_end(struct ingest *in);
/* Starts writing the rows still pending, or the next step of reading them again. Returns 1 while
 * a write or a step is in flight (on_written follows), 0 once every row is written (or the upload
 * failed). */
int ingest_drain(struct ingest *in);
/* After ingest_end and a drain that returned 0: 1 if defaultCountry or allowDuplicates came after
 * the file and changes how rows read, so the rows from the first it changes must be read again
 * (ingest_replay_begin). */
int ingest_replay_needed(const struct ingest *in);
/* Forgets the rows read from the first row a late field could change (mark) on, and reads them
 * again from the kept copy of the file with the fields as they are now, in steps on the thread
 * pool; with a store the rows are staged anew under opt.batch_id, which the caller changes first
 * (the rows before the mark are copied from the old staging batch, the others read again: the
 * caller purges the old batch once the ingest is over, see ingest_first_batch). Returns like
 * ingest_drain (0 with in->failure set when it could not start). */
int ingest_replay_begin(struct ingest *in);
/* The staging batch of the first reading when the rows were read again and it holds rows: the
 * caller's to purge, no sooner than the ingest is done (they are copied from it). Else NULL. */
const char *ingest_first_batch(const struct ingest *in);
void ingest_free(struct ingest *in);
/* The request's fingerprint (opt.digest or opt.digest_only; after ingest_end): SHA-256 over the
 * file's bytes and every known field's value, in a fixed order, so the same form sent again
 * gives the same digest whatever its multipart boundary, part headers or field order. A field
 * sent empty counts as not sent. Returns 0, or BC_ENOMEM. */
int ingest_digest(struct ingest *in, uint8_t out[SHA256_LEN]);

/* The text of a field (NUL-terminated), or NULL if it was not sent. */
const char *ingest_field_value(const struct ingest *in, enum ingest_field f);
/* The i-th normalised column name. */
const char *ingest_column(const struct ingest *in, size_t i);
const char *ingest_encoding(const struct ingest *in);

#endif
