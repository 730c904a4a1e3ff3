/* A growable byte buffer with an optional hard cap, used for request heads, response output and
 * JSON rendering. Growth is geometric, so appending is amortised O(1). */
#ifndef BC_UTIL_BUF_H
#define BC_UTIL_BUF_H

#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
};

/* Make room for `extra` more bytes. Returns 0 or BC_ENOMEM. */
int buf_reserve(struct buf *b, size_t extra);
/* Make room for count items of at most `each` bytes, for an escaper that writes in place: 0, or
 * BC_ENOMEM when count * each overflows or memory runs out. Reserves nothing for count 0, so
 * b->data may then still be NULL. */
int buf_reserve_each(struct buf *b, size_t count, size_t each);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes, keeping the rest. */
void buf_consume(struct buf *b, size_t n);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);

#endif
