/* The copy of an upload's file kept while defaultCountry or allowDuplicates may still come after
 * it, so that the rows such a late field changes can be read again.
 *
 * Only the part from the first row a late field could change is kept (ingest.c decides which
 * row that is and asks for it with spool_want): a file whose every number is written with '+'
 * and has no repeats is never copied. Until that row comes, only the bytes of the row still open
 * at the end of a chunk are held (the tail), so the copy can begin at that row's first byte even
 * when the row began in an earlier chunk. The copy is an unlinked temporary file in the data
 * directory. */
#ifndef BC_INGEST_SPOOL_H
#define BC_INGEST_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"

enum spool_state {
    SPOOL_OFF,     /* no directory: nothing is kept and a late field is refused */
    SPOOL_WAITING, /* no row needs a copy yet: only the tail is held */
    SPOOL_ON,      /* copying the file from start on */
    SPOOL_FAILED,  /* the copy could not be made or written: a late field is refused */
};

/* A row longer than this in the file stays in the tail no longer: the copy begins at it. */
#define SPOOL_TAIL_MAX (1u << 20)

struct spool {
    int state; /* enum spool_state */
    int fd;    /* open while SPOOL_ON */
    const char *dir;
    uint64_t start, bytes; /* the file offset of the copy's first byte, and its length */
    int want;              /* spool_want was called: the copy begins at from */
    uint64_t from;
    struct buf tail; /* the bytes of the file from tail_off to the end of the last chunk */
    uint64_t tail_off;
};

/* dir NULL: SPOOL_OFF. */
void spool_init(struct spool *s, const char *dir);
/* The parser has read data, the file's bytes from offset at on; row_open says whether a row is
 * still open after them, and row_off where it began. Copies what the copy needs, or keeps the
 * open row's bytes in the tail. */
void spool_keep(struct spool *s, const char *data, size_t len, uint64_t at, int row_open,
                uint64_t row_off);
/* Asks for the file from offset from on: the first byte of the row being read now, which lies in
 * the chunk being read or in the tail. The copy begins at the next spool_keep. */
void spool_want(struct spool *s, uint64_t from);
/* Reads the copy's bytes at file offset off (at least start): like pread. */
ssize_t spool_read(const struct spool *s, void *buf, size_t cap, uint64_t off);
/* The file offset just past the copy's last byte. */
uint64_t spool_end(const struct spool *s);
/* Closes the copy and frees the tail (SPOOL_OFF). */
void spool_free(struct spool *s);

#endif
