#include "util/bucket.h"

#include <math.h>

static void refill(struct bucket *b, uint64_t now_ms)
{
    /* A clock that went backwards adds nothing rather than draining the bucket. */
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * b->rate_per_ms;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last_ms = now_ms;
    }
}

void bucket_init(struct bucket *b, double per_second, double burst, uint64_t now_ms)
{
    b->rate_per_ms = per_second / 1000.0;
    b->burst = burst < 1 ? 1 : burst;
    b->tokens = b->burst;
    b->last_ms = now_ms;
}

void bucket_configure(struct bucket *b, double per_second, double burst, uint64_t now_ms)
{
    refill(b, now_ms);
    b->rate_per_ms = per_second / 1000.0;
    b->burst = burst < 1 ? 1 : burst;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
}

int bucket_take(struct bucket *b, uint64_t now_ms)
{
    refill(b, now_ms);
    /* A tiny epsilon absorbs floating-point error in repeated additions. */
    if (b->tokens + 1e-9 < 1.0)
        return 0;
    b->tokens -= 1.0;
    return 1;
}

uint64_t bucket_available(struct bucket *b, uint64_t now_ms)
{
    refill(b, now_ms);
    return (uint64_t)floor(b->tokens + 1e-9);
}

uint64_t bucket_wait_ms(struct bucket *b, uint64_t now_ms)
{
    refill(b, now_ms);
    if (b->tokens + 1e-9 >= 1.0)
        return 0;
    if (b->rate_per_ms <= 0)
        return UINT64_MAX;
    return (uint64_t)ceil((1.0 - b->tokens) / b->rate_per_ms);
}

uint64_t bucket_full_ms(struct bucket *b, uint64_t now_ms)
{
    refill(b, now_ms);
    if (b->rate_per_ms <= 0)
        return b->tokens >= b->burst ? 0 : UINT64_MAX;
    return (uint64_t)ceil((b->burst - b->tokens) / b->rate_per_ms);
}
