/* Streaming multipart/form-data parser (RFC 7578 on top of RFC 2046).
 *
 * The body is fed in chunks of any size; the parser keeps constant memory (the delimiter and one
 * part's header lines) and hands part data to the caller in large slices, one callback for the
 * bytes of a chunk that are certainly data, never one per line.
 *
 * Decisions a caller should know about:
 * - Only multipart/form-data is accepted; multipart/mixed and other media types are
 *   MP_E_NOT_MULTIPART.
 * - The first delimiter may start at offset 0 or follow a preamble, which is ignored but limited
 *   (max_preamble_bytes) so that a body without any delimiter fails early with
 *   MP_E_NO_FIRST_BOUNDARY. Everything after the close delimiter (the epilogue) is ignored.
 * - A delimiter is CRLF "--" boundary followed by "--" (close), by spaces/tabs and CRLF, or by
 *   CRLF. When "--boundary" is followed by any other byte than '-', space, tab, CR or LF it is
 *   ordinary data (the boundary is merely a prefix of the text). When it is followed by one of
 *   those bytes but the rest of the line is wrong ("--boundary-x", "--boundary \tx"), the body
 *   is rejected with MP_E_BAD_DELIMITER.
 * - Line ends must be CRLF. Bodies with bare LF line ends (a delimiter line or a header line
 *   ending in LF alone) are rejected with MP_E_BARE_LF rather than guessed at. Part data is
 *   opaque and may contain any bytes.
 * - Part headers: Content-Disposition must be form-data with a non-empty name parameter;
 *   filename= and filename*= (RFC 5987, UTF-8 only, which wins over filename=) are decoded and
 *   stripped of directories ('/' and '\'). Content-Type is reported as sent. Other headers are
 *   ignored. A header repeated within one part, a line without a colon, control characters and
 *   unterminated quoted strings are MP_E_BAD_HEADER.
 * - Limits are checked while streaming. When a text field (a part without filename) grows past
 *   max_field_bytes its first max_field_bytes bytes have been delivered, then the error follows.
 * - After any error, including a non-zero callback result, the parser stays failed: multipart_feed
 * and multipart_finish keep returning that value. No callback runs after an error. */
#ifndef BC_INGEST_MULTIPART_H
#define BC_INGEST_MULTIPART_H

#include <stddef.h>

/* RFC 2046 caps a boundary at 70 characters. */
#define MP_MAX_BOUNDARY 70

enum mp_error {
    MP_OK = 0,
    MP_E_NOT_MULTIPART = -1,     /* Content-Type is not multipart/form-data */
    MP_E_NO_BOUNDARY = -2,       /* no boundary parameter, or a malformed parameter list */
    MP_E_BAD_BOUNDARY = -3,      /* boundary empty, over 70 chars, bad chars, trailing space */
    MP_E_TOO_MANY_PARTS = -4,    /* more than max_parts parts */
    MP_E_HEADER_TOO_LARGE = -5,  /* one part's header lines over max_header_bytes */
    MP_E_FIELD_TOO_LARGE = -6,   /* a part without filename over max_field_bytes */
    MP_E_BAD_HEADER = -7,        /* malformed part header, no form-data disposition, no name */
    MP_E_NO_FIRST_BOUNDARY = -8, /* no delimiter at the start or after a short preamble */
    MP_E_TRUNCATED = -9,         /* the body ended before the close delimiter */
    MP_E_NOMEM = -10,            /* the header buffer could not be allocated */
    MP_E_BAD_DELIMITER = -11,    /* a delimiter followed by something other than "--" or CRLF */
    MP_E_BARE_LF = -12,          /* a delimiter or header line ended by LF without CR */
};

struct mp_part_info {
    const char *name; /* Content-Disposition name=, never empty */
    size_t name_len;
    const char *filename; /* filename= or filename*=, directories stripped; "" when absent */
    size_t filename_len;
    int has_filename;         /* 1 when a filename parameter was present (even if empty) */
    const char *content_type; /* the part's Content-Type value, or "" */
    size_t content_type_len;
};

/* Each callback returns 0 to continue; any other value stops parsing and is returned by
 * multipart_feed (use positive values to tell them apart from the MP_E_* codes). A NULL callback is
 * skipped. */
struct mp_callbacks {
    /* The pointers in *part are valid only during the call. */
    int (*on_part_begin)(void *ctx, const struct mp_part_info *part);
    /* Called with len > 0 only; one part's data is the concatenation of all calls. */
    int (*on_part_data)(void *ctx, const char *data, size_t len);
    /* Called when the delimiter after a part has been seen, before the next part begins. */
    int (*on_part_end)(void *ctx);
};

/* A zero field takes its default. */
struct mp_limits {
    size_t max_parts;          /* default 16 */
    size_t max_header_bytes;   /* default 8192: one part's header lines with their CRLFs, the
                                  empty line that ends them, and transport padding */
    size_t max_field_bytes;    /* default 65536: data of a part WITHOUT filename; file parts are
                                  not limited here */
    size_t max_preamble_bytes; /* default 8192: bytes before the first delimiter */
};

/* Embeddable; the fields are private to multipart.c. */
struct multipart {
    int state;
    int err;                         /* sticky: the first error or callback result */
    char delim[MP_MAX_BOUNDARY + 4]; /* CRLF "--" boundary */
    size_t delim_len;
    size_t match;             /* delim bytes matched at the end of the input so far */
    size_t count;             /* preamble, padding or part data bytes so far */
    size_t parts;             /* parts started */
    char *hbuf;               /* the current part's header lines */
    size_t hlen;              /* bytes in hbuf */
    size_t line_start;        /* where the line being collected starts in hbuf */
    struct mp_part_info part; /* the current part, pointing into hbuf */
    struct mp_limits lim;
    struct mp_callbacks cb;
    void *ctx;
};

/* Extracts and validates the boundary from a Content-Type header value such as
 * `multipart/form-data; boundary=----abc` or `multipart/form-data; charset=utf-8; boundary="a b"`.
 * Media type and parameter names are case-insensitive; the boundary may be quoted; it must be
 * 1..70 chars of RFC 2046 bchars (a trailing space is not allowed). Returns 0 and points *b at the
 * boundary inside the input (unquoted span), or MP_E_NOT_MULTIPART / MP_E_NO_BOUNDARY /
 * MP_E_BAD_BOUNDARY. */
int multipart_boundary_from_content_type(const char *ct, size_t len, const char **b, size_t *blen);

/* Prepares *p for one body. lim and cb may be NULL. Returns 0, MP_E_BAD_BOUNDARY or
 * MP_E_NOMEM; multipart_free is safe to call in every case. */
int multipart_init(struct multipart *p, const char *boundary, size_t blen,
                   const struct mp_limits *lim, const struct mp_callbacks *cb, void *ctx);

/* Parses the next len bytes of the body. Returns 0, an MP_E_* code or a callback's result. */
int multipart_feed(struct multipart *p, const char *data, size_t len);

/* Marks the end of the body: 0 once the close delimiter was seen, otherwise MP_E_TRUNCATED (or
 * MP_E_NO_FIRST_BOUNDARY when no delimiter was found at all), or the earlier error. */
int multipart_finish(struct multipart *p);

void multipart_free(struct multipart *p);

/* A sentence telling the client how to fix the request. */
const char *multipart_strerror(int err);
/* The same for an error of parser p, naming p's limit when one was exceeded; into out. */
const char *multipart_error_message(const struct multipart *p, int err, char *out, size_t cap);

#endif
