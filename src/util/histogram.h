/* A latency histogram with fixed upper bounds (seconds), rendered by /metrics. */
#ifndef BC_UTIL_HISTOGRAM_H
#define BC_UTIL_HISTOGRAM_H

#include <stdint.h>

#define HIST_BUCKETS 12

struct histogram {
    uint64_t buckets[HIST_BUCKETS]; /* counts per bound; larger values count only in +Inf */
    double sum;
    uint64_t count;
};

extern const double histogram_bounds[HIST_BUCKETS];

void histogram_observe(struct histogram *h, double seconds);

#endif
