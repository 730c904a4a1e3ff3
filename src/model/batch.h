/* Batches: the rules of a batch's status, used wherever the API or the dispatcher asks what a
 * batch may still do. */
#ifndef BC_MODEL_BATCH_H
#define BC_MODEL_BATCH_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "store/records.h"

/* Live: queued or processing. Only a live batch dials (unless paused), schedules retries or can
 * be paused and cancelled. */
int batch_is_live(int status);
/* Final: completed, cancelled or failed. Its status never changes again except by a retry of a
 * completed or failed batch. */
int batch_is_final(int status);

/* smartCallbackConfig: {"enabled": bool, "maxAttempts": 1..BATCH_SMART_MAX_TRIES, "gaps":
 * [{"days", "hours"}]}. Gap i is the wait before attempt i+2; when fewer gaps than needed are
 * given, the last one repeats; each is more than 0 and at most BATCH_GAP_MAX_HOURS. Returns 0,
 * or BC_EINVAL with a sentence in msg saying what is wrong and how it should look. */
#define BATCH_SMART_MAX_TRIES 10
#define BATCH_GAP_MAX_HOURS   (30.0 * 24)
int batch_check_smart(const cJSON *o, char *msg, size_t cap);

#endif
