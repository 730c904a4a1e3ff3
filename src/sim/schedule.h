/* The simulator's schedule: a min-heap of due times. One timer over it (carrier.c) serves every
 * call step and every delayed callback, so thousands of live calls cost one libuv handle. */
#ifndef BC_SIM_SCHEDULE_H
#define BC_SIM_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

struct schedule_due {
    uint64_t at;    /* uv_now() ms */
    uint64_t order; /* entries due at the same time run in the order they were scheduled */
    int kind;       /* the owner's */
    void *ptr;
};

struct schedule {
    struct schedule_due *heap;
    size_t len, cap;
    uint64_t order;
};

/* Makes room for n entries in all, so that pushing never fails. Returns 0 or BC_ENOMEM. */
int schedule_reserve(struct schedule *s, size_t n);
/* Adds an entry (room must have been reserved). Returns 1 when it is now the earliest. */
int schedule_push(struct schedule *s, uint64_t at, int kind, void *ptr);
/* The earliest entry's time, or UINT64_MAX when there is none. */
uint64_t schedule_next(const struct schedule *s);
/* Removes and returns the earliest entry (there must be one). */
struct schedule_due schedule_pop(struct schedule *s);
void schedule_free(struct schedule *s);

#endif
