/* Removing a staging batch: its jobs, their state index and counts, then the batch itself. */
#ifndef BC_INGEST_PURGE_H
#define BC_INGEST_PURGE_H

#include <stddef.h>

#include "store/store.h"

/* Deletes up to max job entries of a batch (and their state index entries). Returns 1 when
 * nothing of the batch's jobs is left (the batch record and settings are then gone too), 0 when
 * more remain, or a negative error. */
int purge_step(struct store *s, const char *batch_id, size_t max);

#endif
