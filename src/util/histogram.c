#include "util/histogram.h"

const double histogram_bounds[HIST_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                               0.05,   0.1,   0.25,   0.5,   1,    5};

void histogram_observe(struct histogram *h, double seconds)
{
    for (int b = 0; b < HIST_BUCKETS; b++) {
        if (seconds <= histogram_bounds[b]) {
            h->buckets[b]++;
            break;
        }
    }
    h->sum += seconds;
    h->count++;
}
