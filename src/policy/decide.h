/* When one call may be placed: its candidate zones (zones.h), the window that applies to it (the
 * batch's base window narrowed by its US state's rule) and the next time that window opens.
 *
 * The base window (rules_base_window, narrowed by the batch's callingWindow) is the caller's;
 * this adds only what depends on the number. A number whose calling code has no zone at all
 * (non-geographic codes: +800, +882, ...) is judged in UTC.
 *
 * A batch keeps a small cache of "closed until" answers per (zone set, state): every number of a
 * zone asks the same question while its window is shut, and the answer stays true until the
 * opening it names. */
#ifndef BC_POLICY_DECIDE_H
#define BC_POLICY_DECIDE_H

#include <stddef.h>
#include <stdint.h>

#include "policy/window.h"
#include "policy/zones.h"

#define DECIDE_CACHE_SLOTS 64
#define DECIDE_LABEL_MAX   256

struct decide_cache {
    struct {
        uint32_t key;     /* zone set id << 16 | state code; 0: empty */
        int64_t from_ms;  /* closed from this instant ... */
        int64_t until_ms; /* ... until this one, when it opens */
    } slot[DECIDE_CACHE_SLOTS];
};

struct decide {
    const struct window *base; /* the batch's window before state rules */
    int state_rules;           /* apply the US state rule of a +1 number's area code */
    struct decide_cache *cache;
};

/* Sets *open_ms to now_ms when the call may be placed now, else to the next opening. Returns 0,
 * BC_ENOTFOUND when its window never opens within WINDOW_SEARCH_DAYS (an empty window, or zones
 * too far apart for it), or another negative error (BC_EINVAL: not a number). */
int decide_open_at(const struct decide *d, const char *e164, size_t len, int64_t now_ms,
                   int64_t *open_ms);
/* The zones of a number for people and for per-zone counts: "America/New_York", or several
 * joined by ',' ("America/Boise,America/Los_Angeles"), or "UTC" when its code has none. */
size_t decide_zone_label(const char *e164, size_t len, char out[DECIDE_LABEL_MAX]);
void decide_cache_clear(struct decide_cache *c);

#endif
