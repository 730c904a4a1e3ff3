#include "api/metrics.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

static const double bucket_bounds[METRICS_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5,
};

int metrics_init(struct metrics *m, const char *const *route_names, size_t n)
{
    m->routes = calloc(n + 1, sizeof *m->routes);
    m->slot = calloc(n + 1, sizeof *m->slot);
    if (!m->routes || !m->slot) {
        metrics_free(m);
        return BC_ENOMEM;
    }
    m->nroutes = n + 1;
    /* Routes that share a path (GET and DELETE of one resource) are one series per status:
     * the label is the path, and Prometheus forbids repeating a series. */
    for (size_t i = 0; i < n; i++) {
        m->slot[i] = i;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(route_names[j], route_names[i])) {
                m->slot[i] = m->slot[j];
                break;
            }
        m->routes[i].name = route_names[i];
    }
    m->slot[n] = n;
    m->routes[n].name = "unmatched";
    return 0;
}

void metrics_free(struct metrics *m)
{
    free(m->routes);
    free(m->slot);
    m->routes = NULL;
    m->slot = NULL;
}

void metrics_observe(struct metrics *m, int route, int status, uint64_t duration_ns)
{
    struct metrics_route *r = &m->routes[m->slot[route < 0 ? m->nroutes - 1 : (size_t)route]];
    for (size_t i = 0; i < METRICS_STATUSES; i++) {
        /* Statuses are few per route; the table fills in order and the last slot absorbs any
         * overflow rather than losing counts. */
        if (r->statuses[i].status == status || r->statuses[i].status == 0 ||
            i == METRICS_STATUSES - 1) {
            r->statuses[i].status = r->statuses[i].status ? r->statuses[i].status : status;
            r->statuses[i].count++;
            break;
        }
    }
    double s = (double)duration_ns / 1e9;
    for (size_t b = 0; b < METRICS_BUCKETS; b++) {
        if (s <= bucket_bounds[b]) {
            r->buckets[b]++;
            break;
        }
    }
    r->sum_seconds += s;
    r->count++;
}

void metrics_render_http(const struct metrics *m, struct buf *out)
{
    buf_append_str(out, "# HELP batchcalld_http_requests_total HTTP responses sent, by route "
                        "pattern and status.\n# TYPE batchcalld_http_requests_total counter\n");
    for (size_t i = 0; i < m->nroutes; i++) {
        const struct metrics_route *r = &m->routes[i];
        for (size_t k = 0; k < METRICS_STATUSES && r->statuses[k].status; k++)
            buf_printf(out, "batchcalld_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                       r->name, r->statuses[k].status, (unsigned long long)r->statuses[k].count);
    }
    buf_append_str(out, "# HELP batchcalld_http_request_duration_seconds Time from the first "
                        "byte of a request to its response, by route pattern.\n"
                        "# TYPE batchcalld_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->nroutes; i++) {
        const struct metrics_route *r = &m->routes[i];
        if (!r->count)
            continue;
        uint64_t cum = 0;
        for (size_t b = 0; b < METRICS_BUCKETS; b++) {
            cum += r->buckets[b];
            buf_printf(out,
                       "batchcalld_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} "
                       "%llu\n",
                       r->name, bucket_bounds[b], (unsigned long long)cum);
        }
        buf_printf(out,
                   "batchcalld_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
                   "%llu\n"
                   "batchcalld_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                   "batchcalld_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                   r->name, (unsigned long long)r->count, r->name, r->sum_seconds, r->name,
                   (unsigned long long)r->count);
    }
}

void metrics_render_histogram(const struct histogram *h, const char *name, const char *help,
                              struct buf *out)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t b = 0; b < HIST_BUCKETS; b++) {
        cum += h->buckets[b];
        buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name, histogram_bounds[b],
                   (unsigned long long)cum);
    }
    buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
               (unsigned long long)h->count, name, h->sum, name, (unsigned long long)h->count);
}
