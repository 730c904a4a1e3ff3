#include "util/slots.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* The smallest table: a commit's few entries fit without growing. */
#define SLOTS_MIN 128

uint32_t *slots_find(const struct slots *s, size_t hash, slots_match_fn match, const void *ctx)
{
    size_t mask = s->cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        uint32_t *slot = &s->pos[i];
        if (!*slot || match(ctx, *slot - 1))
            return slot;
    }
}

/* Makes cap slots in use, all empty, allocating only when more than ever before are needed. */
static int use(struct slots *s, size_t cap)
{
    if (cap > s->alloc) {
        uint32_t *pos = malloc(cap * sizeof *pos);
        if (!pos)
            return BC_ENOMEM;
        free(s->pos);
        s->pos = pos;
        s->alloc = cap;
    }
    s->cap = cap;
    slots_clear(s);
    return 0;
}

/* The table size for n entries, at most half full. */
static size_t cap_for(size_t n, size_t from)
{
    size_t cap = from < SLOTS_MIN ? SLOTS_MIN : from;
    while (cap < 2 * n)
        cap *= 2;
    return cap;
}

int slots_fit(struct slots *s, size_t n)
{
    if (s->cap && 2 * n <= s->cap)
        return 0;
    int rc = use(s, cap_for(n, s->cap * 2));
    return rc ? rc : 1;
}

int slots_size(struct slots *s, size_t n)
{
    return use(s, cap_for(n, SLOTS_MIN));
}

void slots_clear(struct slots *s)
{
    if (s->cap)
        memset(s->pos, 0, s->cap * sizeof *s->pos);
}

void slots_free(struct slots *s)
{
    free(s->pos);
    memset(s, 0, sizeof *s);
}
