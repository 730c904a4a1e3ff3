/* Wall-clock time for timestamps stored and returned by the API (Unix epoch milliseconds).
 * Timers use the loop's monotonic uv_now() instead.
 *
 * A test may shift the wall clock (--clock-offset-ms) to see what the server does at another
 * hour, a calling window's opening say. The offset is set once at start, before the loop runs,
 * and only read after: it is the one process-wide setting outside the loop context, because every
 * layer reads the wall clock and threading a test aid through all of them would cost more clarity
 * than it buys. */
#ifndef BC_UTIL_CLOCK_H
#define BC_UTIL_CLOCK_H

#include <stdint.h>

uint64_t clock_now_ms(void);
/* Shifts clock_now_ms by offset_ms from now on (testing only; call before the loop starts). */
void clock_set_offset_ms(int64_t offset_ms);
int64_t clock_offset_ms(void);

#endif
