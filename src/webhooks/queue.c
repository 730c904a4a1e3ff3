#include "webhooks/queue.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

struct queue *queue_for(struct queue_set *qs, const char *url)
{
    size_t len = strlen(url);
    struct queue *q = map_get(&qs->by_url, url, len);
    if (q)
        return q;
    if (qs->n == qs->cap) {
        size_t cap = qs->cap ? qs->cap * 2 : 16;
        struct queue **a = realloc(qs->all, cap * sizeof *a);
        if (!a)
            return NULL;
        qs->all = a;
        qs->cap = cap;
    }
    q = calloc(1, sizeof *q);
    if (q)
        q->url = strdup(url);
    if (!q || !q->url || map_put(&qs->by_url, url, len, q) != 0) {
        if (q)
            free(q->url);
        free(q);
        return NULL;
    }
    qs->all[qs->n++] = q;
    return q;
}

static void queue_free(void *p)
{
    struct queue *q = p;
    free(q->url);
    free(q->seqs);
    free(q);
}

int queue_push(struct queue *q, uint64_t seq)
{
    if (q->first + q->count == q->cap) {
        if (q->first > 0) {
            memmove(q->seqs, q->seqs + q->first, q->count * sizeof *q->seqs);
            q->first = 0;
        } else {
            size_t cap = q->cap ? q->cap * 2 : 8;
            uint64_t *s = realloc(q->seqs, cap * sizeof *s);
            if (!s)
                return BC_ENOMEM;
            q->seqs = s;
            q->cap = cap;
        }
    }
    q->seqs[q->first + q->count++] = seq;
    return 0;
}

void queue_pop(struct queue *q, uint64_t seq)
{
    if (!q->count || q->seqs[q->first] != seq)
        return;
    q->first++;
    if (--q->count == 0)
        q->first = 0;
    q->retry_at = 0;
    q->head_attempts = 0;
    q->head_known = 0;
}

void queue_prune(struct queue_set *qs)
{
    for (size_t i = 0; i < qs->n;) {
        struct queue *q = qs->all[i];
        if (q->count || q->in_flight) {
            i++;
            continue;
        }
        map_del(&qs->by_url, q->url, strlen(q->url));
        queue_free(q);
        qs->all[i] = qs->all[--qs->n];
    }
    if (qs->rr >= qs->n)
        qs->rr = 0;
}

void queue_set_free(struct queue_set *qs)
{
    map_free(&qs->by_url, queue_free);
    free(qs->all);
}
