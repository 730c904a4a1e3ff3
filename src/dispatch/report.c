#include "dispatch/report.h"

#include <stdlib.h>
#include <string.h>

struct report *report_take(struct report_pool *pool, enum report_kind kind, const char *batch,
                           uint32_t row, uint32_t seq)
{
    struct report *r = pool ? pool->spare : NULL;
    if (r) {
        pool->spare = r->next;
        pool->n--;
        memset(r, 0, sizeof *r);
    } else if (!(r = calloc(1, sizeof *r))) {
        return NULL;
    }
    r->kind = kind;
    size_t n = strnlen(batch, sizeof r->batch - 1);
    memcpy(r->batch, batch, n);
    r->batch[n] = '\0';
    r->row = row;
    r->seq = seq;
    return r;
}

void report_give(struct report_pool *pool, struct report *r)
{
    provider_event_free(&r->ce);
    if (pool && pool->n < REPORT_POOL_MAX) {
        r->next = pool->spare;
        pool->spare = r;
        pool->n++;
        return;
    }
    free(r);
}

void report_pool_free(struct report_pool *pool)
{
    while (pool->spare) {
        struct report *r = pool->spare;
        pool->spare = r->next;
        free(r);
    }
    pool->n = 0;
}

struct report *report_new(enum report_kind kind, const char *batch, uint32_t row, uint32_t seq)
{
    return report_take(NULL, kind, batch, row, seq);
}

void report_free(struct report *r)
{
    report_give(NULL, r);
}
