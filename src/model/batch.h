/* Batches: the rules of a batch's status, used wherever the API or the dispatcher asks what a
 * batch may still do; and the pure parsers of what a client sends about a batch (its
 * smartCallbackConfig, a call's jobId, an event stream's Last-Event-ID), kept here so they can be
 * tested and fuzzed without an HTTP request. */
#ifndef BC_MODEL_BATCH_H
#define BC_MODEL_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "store/records.h"

/* smartCallbackConfig limits: attempts in all, and the longest gap between two of them. */
#define BATCH_SMART_MAX_TRIES 10
#define BATCH_GAP_MAX_HOURS   (30.0 * 24)

/* Live: queued or processing. Only a live batch dials (unless paused), schedules retries or can
 * be paused and cancelled. */
int batch_is_live(int status);
/* Final: completed, cancelled or failed. Its status never changes again except by a retry of a
 * completed or failed batch. */
int batch_is_final(int status);

/* Checks a parsed smartCallbackConfig (o may be NULL: the text was not JSON):
 * {"enabled": bool, "maxAttempts": 1..10, "gaps": [{"days","hours"}]}. Returns 0, or BC_EINVAL
 * with a sentence for the client (without the field's name) in msg. */
int batch_smart_check(const cJSON *o, char *msg, size_t cap);

/* A call's jobId "call_N" (N from 1 to 2^32-1, no leading zero) into *row: 0 or BC_EINVAL. */
int batch_job_id_parse(const char *s, size_t len, uint32_t *row);

/* An event stream's Last-Event-ID: the leading digits of s (0 when there are none). A number past
 * any final sequence, however many digits, saturates at UINT32_MAX - 1: "after everything". */
uint32_t batch_event_id_parse(const char *s, size_t len);

#endif
