/* When one call may be placed: see decide.h. */
#include "policy/decide.h"

#include <string.h>

#include "util/err.h"

void decide_cache_clear(struct decide_cache *c)
{
    memset(c, 0, sizeof *c);
}

/* The window of this number: the base, narrowed by its state's rule. *state_code is 0 when no
 * state rule applies. */
static int number_window(const struct decide *d, const char *e164, size_t len, struct window *out,
                         uint32_t *state_code)
{
    *out = *d->base;
    *state_code = 0;
    if (!d->state_rules)
        return 0;
    char st[3];
    struct window rule;
    if (zones_us_state(e164, len, st) != 0 || !window_state_rule(st, &rule, NULL))
        return 0;
    *state_code = (uint32_t)((uint8_t)st[0] << 8 | (uint8_t)st[1]);
    return window_intersect(out, &rule);
}

/* Whether and when a window opens in UTC (for numbers without zones). */
static int open_in_utc(const struct window *w, int64_t now_ms, int64_t *open_ms)
{
    int64_t s = now_ms >= 0 ? now_ms / 1000 : (now_ms - 999) / 1000;
    if (window_contains_local(w, s)) {
        *open_ms = now_ms;
        return 0;
    }
    /* Minute by minute over the search horizon: only for the rare non-geographic number. */
    int64_t m = s / 60 + 1;
    for (int64_t i = 0; i < (int64_t)WINDOW_SEARCH_DAYS * 1440; i++, m++) {
        if (window_contains_local(w, m * 60)) {
            *open_ms = m * 60000;
            return 0;
        }
    }
    return BC_ENOTFOUND;
}

int decide_open_at(const struct decide *d, const char *e164, size_t len, int64_t now_ms,
                   int64_t *open_ms)
{
    const struct zones_set *set;
    int rc = zones_lookup(e164, len, &set);
    if (rc < 0 && rc != BC_ENOTFOUND)
        return rc;
    if (rc == BC_ENOTFOUND)
        return open_in_utc(d->base, now_ms, open_ms);
    struct window w;
    uint32_t state;
    if (number_window(d, e164, len, &w, &state) < 0)
        return BC_EINVAL;
    uint32_t key = (uint32_t)set->id << 16 | state;
    unsigned slot = (key * 2654435761u) >> 26; /* 64 slots */
    if (d->cache && d->cache->slot[slot].key == key && now_ms >= d->cache->slot[slot].from_ms &&
        now_ms < d->cache->slot[slot].until_ms) {
        *open_ms = d->cache->slot[slot].until_ms;
        return 0;
    }
    rc = window_next_open(&w, set, now_ms, open_ms);
    if (rc == 0 && *open_ms > now_ms && d->cache) {
        d->cache->slot[slot].key = key;
        d->cache->slot[slot].from_ms = now_ms;
        d->cache->slot[slot].until_ms = *open_ms;
    }
    return rc;
}

size_t decide_zone_label(const char *e164, size_t len, char out[DECIDE_LABEL_MAX])
{
    const struct zones_set *set;
    size_t n = 0;
    out[0] = '\0';
    if (zones_lookup(e164, len, &set) != 0) {
        memcpy(out, "UTC", 4);
        return 3;
    }
    for (uint16_t i = 0; i < set->count; i++) {
        const char *name = zones_name(set->zone[i]);
        size_t l = name ? strlen(name) : 0;
        if (n + l + 2 >= DECIDE_LABEL_MAX) {
            /* Sets this large are a whole country's zones: say so rather than cut a name. */
            size_t keep = n;
            const char *more = ",...";
            if (keep + 5 >= DECIDE_LABEL_MAX)
                keep = DECIDE_LABEL_MAX - 5;
            memcpy(out + keep, more, 5);
            return keep + 4;
        }
        if (n)
            out[n++] = ',';
        memcpy(out + n, name, l);
        n += l;
        out[n] = '\0';
    }
    return n;
}
