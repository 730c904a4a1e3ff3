/* Batches: the rules of a batch's status, used wherever the API or the dispatcher asks what a
 * batch may still do. */
#ifndef BC_MODEL_BATCH_H
#define BC_MODEL_BATCH_H

#include "store/records.h"

/* Live: queued or processing. Only a live batch dials (unless paused), schedules retries or can
 * be paused and cancelled. */
int batch_is_live(int status);
/* Final: completed, cancelled or failed. Its status never changes again except by a retry of a
 * completed or failed batch. */
int batch_is_final(int status);

#endif
