#include "dispatch/report.h"

#include <stdio.h>
#include <stdlib.h>

struct report *report_new(enum report_kind kind, const char *batch, uint32_t row, uint32_t seq)
{
    struct report *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->kind = kind;
    snprintf(r->batch, sizeof r->batch, "%s", batch);
    r->row = row;
    r->seq = seq;
    return r;
}

void report_free(struct report *r)
{
    provider_event_free(&r->ce);
    free(r);
}
