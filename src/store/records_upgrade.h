/* Upgrades of the stored layout that records_upgrade (store/records.h) runs at start, each in
 * bounded steps that are committed one by one, so that a start cut short is finished by the
 * next. */
#ifndef BC_STORE_RECORDS_UPGRADE_H
#define BC_STORE_RECORDS_UPGRADE_H

#include "store/store.h"

/* Moves the per-state index of earlier versions (DB_JOBSTATE_V1: a key per job) into
 * DB_JOBSTATE, whose rows the store keeps as duplicates of their batch and state, 20,000 keys
 * per transaction, each moved key deleted from the old table in the same transaction. Cheap when
 * the old table is empty. Returns 0 or the store's error. */
int records_upgrade_jobstate(struct store *s);

#endif
