/* Writing an upload's rows: one chunk (struct ingest_chunk) per write transaction. */
#ifndef BC_INGEST_CHUNK_H
#define BC_INGEST_CHUNK_H

#include "store/store.h"

/* The rows of a chunk are framed as row (u32), state (u8), record length (u32), record; the
 * numbers in host order, since the frames never leave this process. CHUNK_DEFERRED in the state
 * byte: the row's state index entry is in the chunk's deferred list instead. */
#define CHUNK_DEFERRED 0x80

/* A store_write_fn for store_write_async, arg a struct ingest_chunk: stores its jobs, their state
 * index entries and counts (and the batch's staging record with the first chunk). Runs on a pool
 * thread, reading only the chunk. */
int chunk_write(struct store_txn *t, void *arg);

/* Jobs copied by one chunk_copy: a chunk's worth. */
#define CHUNK_COPY_ROWS 8192

/* A store_write_fn like chunk_write, for rows read again: copies the jobs of the rows named by
 * the struct ingest_chunk's copy_* from that staging batch to its batch, as chunk_write stores
 * them (rows is the frames' scratch). */
int chunk_copy(struct store_txn *t, void *arg);

#endif
