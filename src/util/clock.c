#include "util/clock.h"

#include <time.h>

static int64_t offset;

uint64_t clock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + offset;
    return ms > 0 ? (uint64_t)ms : 0;
}

void clock_set_offset_ms(int64_t offset_ms)
{
    offset = offset_ms;
}

int64_t clock_offset_ms(void)
{
    return offset;
}
