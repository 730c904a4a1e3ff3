/* Wall-clock time for timestamps stored and returned by the API (Unix epoch milliseconds).
 * Timers use the loop's monotonic uv_now() instead. */
#ifndef BC_UTIL_CLOCK_H
#define BC_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif
