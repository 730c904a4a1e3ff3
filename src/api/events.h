/* Live events of a batch over Server-Sent Events (API.md B6); see events.c. */
#ifndef BC_API_EVENTS_H
#define BC_API_EVENTS_H

#include <stdint.h>

struct app;
struct events;
struct http_request;

int events_start(struct events **out, struct app *app);
/* Ends every open stream (shutdown: clients reconnect elsewhere with Last-Event-ID). */
void events_shutdown(struct events *e);
void events_stop(struct events *e);

/* From dispatch, after a commit: the batch changed (progress is coalesced), a call reached a
 * final state with this final sequence number, the batch is final. Cheap when nobody watches. */
void events_progress(struct events *e, const char *batch);
void events_call(struct events *e, const char *batch, uint32_t row, uint32_t seq);
void events_done(struct events *e, const char *batch);

/* GET /v1/api/batch-calls/{id}/events */
void events_open(struct http_request *req);

#endif
