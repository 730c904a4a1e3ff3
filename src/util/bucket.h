/* A token bucket computed lazily from timestamps (no refill timers), in the style of nginx's
 * limit_req: tokens are kept in thousandths so fractional rates stay exact enough. */
#ifndef BC_UTIL_BUCKET_H
#define BC_UTIL_BUCKET_H

#include <stdint.h>

struct bucket {
    double rate_per_ms; /* tokens added per millisecond */
    double burst;       /* capacity in tokens */
    double tokens;
    uint64_t last_ms;
};

void bucket_init(struct bucket *b, double per_second, double burst, uint64_t now_ms);
/* Change rate and capacity, keeping the current fill (clamped to the new capacity). */
void bucket_configure(struct bucket *b, double per_second, double burst, uint64_t now_ms);
/* Takes one token if available: returns 1, else 0. */
int bucket_take(struct bucket *b, uint64_t now_ms);
/* Whole tokens available now. */
uint64_t bucket_available(struct bucket *b, uint64_t now_ms);
/* Milliseconds until one token is available (0 if now), and until the bucket is full. */
uint64_t bucket_wait_ms(struct bucket *b, uint64_t now_ms);
uint64_t bucket_full_ms(struct bucket *b, uint64_t now_ms);

#endif
