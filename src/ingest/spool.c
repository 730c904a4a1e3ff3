/* The copy of an upload's file for reading its rows again (spool.h). */
#include "ingest/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/err.h"

void spool_init(struct spool *s, const char *dir)
{
    *s = (struct spool){.state = dir ? SPOOL_WAITING : SPOOL_OFF, .fd = -1, .dir = dir};
}

static void spool_fail(struct spool *s)
{
    if (s->state == SPOOL_ON)
        close(s->fd);
    s->fd = -1;
    s->state = SPOOL_FAILED;
    buf_free(&s->tail);
}

/* Appends to the copy (the page cache, mostly: the file lives for one upload). */
static void put(struct spool *s, const char *data, size_t len)
{
    while (s->state == SPOOL_ON && len > 0) {
        ssize_t n = write(s->fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            spool_fail(s);
            return;
        }
        data += n;
        len -= (size_t)n;
        s->bytes += (uint64_t)n;
    }
}

/* Opens an unlinked temporary file in dir as *fd: 0, or BC_EIO (then *fd is negative). */
static int open_tmp(const char *dir, int *fd)
{
#ifdef O_TMPFILE
    *fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (*fd >= 0)
        return 0;
#endif
    char path[4096];
    *fd = -1;
    if (snprintf(path, sizeof path, "%s/.upload-XXXXXX", dir) >= (int)sizeof path)
        return BC_EIO;
    *fd = mkostemp(path, O_CLOEXEC);
    if (*fd < 0)
        return BC_EIO;
    unlink(path);
    return 0;
}

/* Begins the copy at from: the tail holds the file's bytes from tail_off up to at, and data
 * those from at on. */
static void begin(struct spool *s, uint64_t from, uint64_t at, const char *data, size_t len)
{
    /* The tail must hold the bytes between from and this chunk (ingest.c asks only for a row
     * open since then); anything else would copy the wrong bytes. */
    int held = from >= at || (from >= s->tail_off && s->tail_off + s->tail.len == at);
    if (!held || open_tmp(s->dir, &s->fd) != 0) {
        spool_fail(s);
        return;
    }
    s->state = SPOOL_ON;
    s->start = from;
    if (from < at)
        put(s, s->tail.data + (from - s->tail_off), (size_t)(at - from));
    if (from < at + len)
        put(s, data + (from > at ? from - at : 0), (size_t)(at + len - (from > at ? from : at)));
    buf_free(&s->tail);
}

void spool_keep(struct spool *s, const char *data, size_t len, uint64_t at, int row_open,
                uint64_t row_off)
{
    if (s->state == SPOOL_ON) {
        put(s, data, len);
        return;
    }
    if (s->state != SPOOL_WAITING)
        return;
    if (s->want) {
        begin(s, s->from, at, data, len);
        return;
    }
    if (!row_open) {
        s->tail.len = 0;
        return;
    }
    if (row_off >= at) { /* the row began in this chunk */
        s->tail.len = 0;
        s->tail_off = row_off;
    }
    if (s->tail_off + s->tail.len < at) { /* a row open since a chunk that was not kept */
        spool_fail(s);
        return;
    }
    size_t skip = (size_t)(s->tail_off + s->tail.len - at);
    if (skip < len && buf_append(&s->tail, data + skip, len - skip) != 0) {
        spool_fail(s);
        return;
    }
    /* A row this long (a quote never closed, say) is copied from its start right away rather
     * than held in memory. */
    if (s->tail.len > SPOOL_TAIL_MAX)
        begin(s, s->tail_off, at + len, NULL, 0);
}

void spool_want(struct spool *s, uint64_t from)
{
    if (s->state == SPOOL_WAITING) {
        s->want = 1;
        s->from = from;
    }
}

ssize_t spool_read(const struct spool *s, void *buf, size_t cap, uint64_t off)
{
    ssize_t n;
    do
        n = pread(s->fd, buf, cap, (off_t)(off - s->start));
    while (n < 0 && errno == EINTR);
    return n;
}

uint64_t spool_end(const struct spool *s)
{
    return s->start + s->bytes;
}

void spool_free(struct spool *s)
{
    if (s->state == SPOOL_ON) /* a zeroed spool (an ingest never begun) owns no file */
        close(s->fd);
    buf_free(&s->tail);
    *s = (struct spool){.state = SPOOL_OFF, .fd = -1};
}
