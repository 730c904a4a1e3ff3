/* Prometheus metrics kept in memory and rendered in the text exposition format. */
#ifndef BC_API_METRICS_H
#define BC_API_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/histogram.h"

#define METRICS_BUCKETS  14
#define METRICS_STATUSES 16

struct metrics_status {
    int status;
    uint64_t count;
};

struct metrics_route {
    const char *name;
    struct metrics_status statuses[METRICS_STATUSES];
    uint64_t buckets[METRICS_BUCKETS]; /* cumulative counts are computed when rendering */
    double sum_seconds;
    uint64_t count;
};

struct metrics {
    struct metrics_route *routes; /* one per route, then one for unmatched requests */
    size_t *slot;                 /* route index -> the slot counting it (shared per path) */
    size_t nroutes;
};

/* Renders name_bucket/_sum/_count with HELP and TYPE. */
void metrics_render_histogram(const struct histogram *h, const char *name, const char *help,
                              struct buf *out);

int metrics_init(struct metrics *m, const char *const *route_names, size_t n);
void metrics_free(struct metrics *m);
/* route < 0: a request that matched no route. */
void metrics_observe(struct metrics *m, int route, int status, uint64_t duration_ns);
void metrics_render_http(const struct metrics *m, struct buf *out);

#endif
