/* The workspace export file (docs/fleet.md, "File format"): a header line naming the format
 * version and the workspace, length-prefixed (table, key, value) records, and a trailer with the
 * record count and the SHA-256 of every byte before it. Both directions stream: the encoder writes
 * through a callback, the decoder takes the bytes in pieces of any size and calls back once per
 * record, so memory stays bounded by one record whatever the file's size. */
#ifndef BC_STORE_WSFILE_H
#define BC_STORE_WSFILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/crypto.h"
#include "util/id.h"

#define WSFILE_VERSION    1
#define WSFILE_MAGIC      "BCWSX"
#define WSFILE_NAME_MAX   32
#define WSFILE_KEY_MAX    511 /* LMDB's key limit */
#define WSFILE_VALUE_MAX  (64u << 20)
#define WSFILE_HEADER_MAX 128

typedef int (*wsfile_write_fn)(void *arg, const void *p, size_t n);

struct wsfile_enc {
    wsfile_write_fn write;
    void *arg;
    struct crypto_sha256_stream sha;
    uint64_t records;
    uint64_t bytes; /* written so far */
    int err;        /* sticky */
};

/* Writes the header for workspace ws. Returns 0, BC_EINVAL (ws is not 1 to ID_MAX-1 printable
 * characters without spaces), BC_ENOMEM or the write callback's error. */
int wsfile_enc_begin(struct wsfile_enc *e, const char *ws, wsfile_write_fn write, void *arg);
/* One record. Returns 0, BC_ETOOBIG (over a limit above), or the sticky error. */
int wsfile_enc_record(struct wsfile_enc *e, const char *table, const void *key, size_t klen,
                      const void *val, size_t vlen);
/* Writes the trailer; the digest into sha (may be NULL). Frees the hash. */
int wsfile_enc_end(struct wsfile_enc *e, uint8_t sha[SHA256_LEN]);
/* Frees an encoder that did not reach wsfile_enc_end. */
void wsfile_enc_free(struct wsfile_enc *e);

struct wsfile_record {
    const char *table; /* not NUL-terminated */
    size_t tlen;
    const void *key;
    size_t klen;
    const void *val;
    size_t vlen;
    uint64_t offset; /* of the record in the file */
};
/* Returns 0 to go on, or an error that wsfile_dec_feed then returns. */
typedef int (*wsfile_record_fn)(void *arg, const struct wsfile_record *r);

struct wsfile_dec {
    wsfile_record_fn fn;
    void *arg;
    int state;
    size_t need;     /* bytes the current part still needs */
    struct buf part; /* the header line, or the record being read */
    size_t tlen, klen, vlen;
    uint64_t record_offset;
    uint64_t offset; /* bytes consumed */
    uint64_t records;
    struct crypto_sha256_stream sha;
    uint8_t trailer[8 + SHA256_LEN];
    char ws[ID_MAX]; /* from the header */
    int version;
    int done;      /* the trailer was read and checked */
    int err;       /* sticky */
    char msg[200]; /* what is wrong, for people (with the byte offset) */
};

int wsfile_dec_init(struct wsfile_dec *d, wsfile_record_fn fn, void *arg);
/* Consumes n bytes. Returns 0, BC_ECORRUPT (d->msg says what and where), BC_ENOMEM, or the
 * callback's error; after an error every call returns it again. */
int wsfile_dec_feed(struct wsfile_dec *d, const void *p, size_t n);
/* At the end of the input: 0 when the trailer was read and matched, else BC_ECORRUPT (truncated)
 * or the sticky error. */
int wsfile_dec_finish(struct wsfile_dec *d);
void wsfile_dec_free(struct wsfile_dec *d);

#endif
