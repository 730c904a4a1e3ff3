/* The helpers every route handler shares: the per-request context, JSON responses, the one
 * translation of internal errors into HTTP statuses (api_respond_internal), and pagination. */
#ifndef BC_API_API_H
#define BC_API_API_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "app.h"
#include "http/http.h"
#include "http/server.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/id.h"

/* Route flags. */
#define API_AUTH        1u /* needs x-api-key and x-workspace-id */
#define API_OPS         2u /* also answered on the connections kept in reserve (--reserved-connections) */
#define API_WS_PATH     4u  /* the first path parameter is the workspace (fleet routing) */
#define API_BATCH_QUERY 8u  /* the query's b= names the batch (callbacks in the old form) */
#define API_OPER        16u /* the operator's routes: Authorization: Bearer <--admin-token> */
/* The handler only reads, at once, and ends the read transaction authentication began
 * (api_head_txn) instead of beginning one: one snapshot for the whole request. */
#define API_HEAD_TXN 32u

/* Per-request state, allocated by the HTTP server for every connection. */
struct api_ctx {
    char ws[ID_MAX]; /* the authenticated workspace, NUL-terminated */
    size_t ws_len;
    char key_id[ID_MAX];   /* the API key's id (for audit log lines) */
    struct upload *upload; /* the upload or validation this request streams into */
    void *body_state;      /* another streamed body's own state (suppression or registry import) */
    /* An API_HEAD_TXN route's read transaction, open (txn set) from the head to its handler. */
    struct store_txn head_txn;
};

static inline struct app *api_app(struct http_request *req)
{
    return http_app(req);
}

static inline struct api_ctx *api_ctx(struct http_request *req)
{
    return req->ctx;
}

/* Responds with obj rendered as JSON, then frees obj. */
void api_respond_json(struct http_request *req, int status, cJSON *obj);
/* An error body with one extra string field (for example "field" or "id"); extra may be NULL. */
void api_respond_error(struct http_request *req, int status, const char *code, const char *message,
                       const char *extra_name, const char *extra_value);
/* Maps an internal error (util/err.h) to a status and a message that says what to do. */
void api_respond_internal(struct http_request *req, int err);
/* The message of a 507 when the disk (not the store's own limit) is full. */
#define API_DISK_FULL_MESSAGE                                                                      \
    "The server's disk is full; nothing was changed. Retry later: the operator must free disk "    \
    "space where the data directory (--data-dir) is, or move it to a larger disk."

/* The first problem that rejects a streamed body (an upload, an import), as it is answered:
 * the first recorded wins, what goes wrong after it is only its consequence. */
struct api_failure {
    int status; /* HTTP status, 0 while none */
    char code[40];
    char message[512];
    const char *field; /* the form field the problem is about, or NULL */
};
/* Records a failure unless one is already recorded; BC_EINVAL either way. */
int api_fail(struct api_failure *f, int status, const char *code, const char *field,
             const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Adds the failure's "error", "message" and "field" (when there is one) to obj. */
void api_failure_add(cJSON *obj, const struct api_failure *f);

/* Body bytes parsed before the loop serves other clients: a quarter of a socket read at most
 * (the rest waits in the connection), about half a millisecond of CPU when rows are stored
 * (0.4-0.5 ms measured on the bench machine). */
#define API_YIELD_BYTES (64u * 1024)
/* After n more bytes of a streamed body: pauses the request while blocked (its next rows wait
 * for a write still in flight), else lets other clients in every `every` bytes (libuv reads up
 * to 32 buffers in one go). since_yield is the body's own count. */
void api_body_pace(struct http_request *req, int blocked, size_t *since_yield, size_t n,
                   size_t every);

/* Begins a read transaction on the app's store; on failure responds (api_respond_internal) and
 * returns the error, so a handler only returns. */
int api_read_begin(struct http_request *req, struct store_txn *t);
/* The head's read transaction of an API_HEAD_TXN route, else own once begun; NULL (and a 500
 * sent) when none could begin. Either way the caller ends it with store_read_end. */
struct store_txn *api_head_txn(struct http_request *req, struct store_txn *own);

/* Parses the buffered body as a JSON object; on failure it responds 400 and returns NULL. */
cJSON *api_parse_body(struct http_request *req);

struct api_page {
    uint64_t page;  /* 1-based */
    uint64_t limit; /* 1..100 */
};
/* Reads ?page= and ?limit=; on a bad value responds 400 naming the parameter and returns BC_EINVAL.
 */
int api_parse_page(struct http_request *req, struct api_page *p);
/* Adds the "pagination" object of API.md A4 to obj. */
void api_add_pagination(cJSON *obj, const struct api_page *p, uint64_t total);
/* 1 when the i-th item (0-based) of a list falls on page p. */
int api_page_holds(const struct api_page *p, uint64_t i);
/* The end of a paged list read with status rc (negative: the read failed): responds 200 with obj
 * and its "pagination" of total items, or the error (obj is then freed). */
void api_respond_page(struct http_request *req, int rc, cJSON *obj, const struct api_page *p,
                      uint64_t total);

/* A CSV download streamed a step at a time (the calls and suppression exports). The route's own
 * state embeds it; each step works from a fresh snapshot, so an export never holds a read
 * transaction open while the client is slow, and memory stays that of one step. */
struct api_export {
    struct buf out; /* what the step wrote; sent after it */
    /* Appends the next rows to out; 0 for more, 1 when the export is over (also when a read
     * failed: the stream ends after the rows sent so far). */
    int (*step)(struct api_export *x);
    /* Releases the route's state that embeds x (out is already freed). */
    void (*release)(struct api_export *x);
};
/* Frees out, then the route's state through release. */
void api_export_free(struct api_export *x);
/* Answers 200 text/csv as the attachment filename, with what out holds (the header row) first;
 * the server then calls step whenever the client has read what was sent, and api_export_free at
 * the end or when the client goes away. */
void api_export_start(struct http_request *req, struct api_export *x, const char *filename);
/* Appends one CSV cell of an export, after a comma unless first: quoted when it must be, and
 * with neutralize, a leading ' on what a spreadsheet would run as a formula (=, +, -, @, tab,
 * CR). */
void api_csv_cell(struct buf *b, const char *p, size_t n, int neutralize, int first);

#endif
