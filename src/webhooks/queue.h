/* The delivery worker's queues: one per target URL, holding the outbox sequences of its pending
 * events, oldest first. Only the head of a queue is ever sent (webhooks/delivery.c). */
#ifndef BC_WEBHOOKS_QUEUE_H
#define BC_WEBHOOKS_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "util/map.h"

/* One target URL and its pending events: seqs[first .. first + count). */
struct queue {
    char *url;
    uint64_t *seqs;
    size_t first, count, cap;
    uint64_t retry_at;      /* wall-clock ms before which the head is not sent */
    uint32_t head_attempts; /* failed attempts of the head so far */
    int head_known;         /* head_attempts and retry_at were read from the head's entry */
    int in_flight;          /* the head was sent and has not been answered yet */
};

/* Every queue, by URL and in an array for round-robin sending (rr: where the next pass starts).
 * Zeroed is empty. */
struct queue_set {
    struct map by_url; /* url -> struct queue */
    struct queue **all;
    size_t n, cap, rr;
};

/* The queue of url, created empty if there is none; NULL when out of memory. */
struct queue *queue_for(struct queue_set *qs, const char *url);
/* Appends seq. Returns 0 or BC_ENOMEM. */
int queue_push(struct queue *q, uint64_t seq);
/* Moves on to the next event, if seq is the head (it always should be: only heads are sent). */
void queue_pop(struct queue *q, uint64_t seq);
/* Forgets the queues with nothing to send or in flight, so memory follows the live targets. */
void queue_prune(struct queue_set *qs);
void queue_set_free(struct queue_set *qs);

#endif
