/* Upgrades of the stored layout that records_upgrade runs at start, each in
 * bounded steps that are committed one by one, so that a start cut short is finished by the
 * next. */
#ifndef BC_STORE_RECORDS_UPGRADE_H
#define BC_STORE_RECORDS_UPGRADE_H

#include "store/store.h"

/* Rewrites keys stored by earlier versions: the per-state index of a key per job moves into
 * DB_JOBSTATE (records_upgrade_jobstate), batch list keys (batch id not complemented) are
 * rewritten so that they list in the same order as new ones, and the keys of jobs, job states,
 * state counts and final sequences (batch id as text) so that they hold it in binary. Values
 * are kept (job records of version 1 still decode). In steps of 20,000 keys, each committed, so
 * a crash in the middle leaves a store that the next start finishes. Cheap when there is
 * nothing to do; run once at start. */
int records_upgrade(struct store *s);

/* Moves the per-state index of earlier versions (DB_JOBSTATE_V1: a key per job) into
 * DB_JOBSTATE, whose rows the store keeps as duplicates of their batch and state, 20,000 keys
 * per transaction, each moved key deleted from the old table in the same transaction. Cheap when
 * the old table is empty. Returns 0 or the store's error. */
int records_upgrade_jobstate(struct store *s);

#endif
