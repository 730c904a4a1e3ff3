/* The simulator's schedule (see schedule.h). */
#include "sim/schedule.h"

#include <stdlib.h>

#include "util/err.h"

static int due_before(const struct schedule_due *a, const struct schedule_due *b)
{
    return a->at < b->at || (a->at == b->at && a->order < b->order);
}

int schedule_reserve(struct schedule *s, size_t n)
{
    if (s->cap >= n)
        return 0;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < n)
        cap *= 2;
    struct schedule_due *h = realloc(s->heap, cap * sizeof *h);
    if (!h)
        return BC_ENOMEM;
    s->heap = h;
    s->cap = cap;
    return 0;
}

int schedule_push(struct schedule *s, uint64_t at, int kind, void *ptr)
{
    size_t i = s->len++;
    struct schedule_due d = {at, s->order++, kind, ptr};
    while (i > 0 && due_before(&d, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = d;
    return i == 0;
}

uint64_t schedule_next(const struct schedule *s)
{
    return s->len ? s->heap[0].at : UINT64_MAX;
}

struct schedule_due schedule_pop(struct schedule *s)
{
    struct schedule_due top = s->heap[0];
    struct schedule_due last = s->heap[--s->len];
    size_t i = 0, n = s->len;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && due_before(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!due_before(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n)
        s->heap[i] = last;
    return top;
}

void schedule_free(struct schedule *s)
{
    free(s->heap);
    s->heap = NULL;
    s->len = s->cap = 0;
}
