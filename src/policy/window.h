/* Calling windows in the callee's local time.
 *
 * A window is, per weekday, a list of [start, end) minute ranges of local wall-clock time. The
 * rules compose by intersection: the federal default, 08:00-21:00 every day (47 CFR
 * 64.1200(c)(1), 16 CFR 310.4(c)), the US state rule of a +1 number's area code (window.c lists
 * them with their sources), the workspace's windows and the batch's callingWindow. A number
 * with several candidate zones (zones.h) may be called only while every one of them is inside
 * the window; the window is the same wall-clock window in each zone.
 *
 * State holiday restrictions (AL, LA, MS, PA, RI, UT) are not modelled.
 *
 * Instants are Unix milliseconds passed in by the caller (tests use a fake clock). */
#ifndef BC_POLICY_WINDOW_H
#define BC_POLICY_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "policy/zones.h"

#define WINDOW_MAX_RANGES  4
#define WINDOW_SEARCH_DAYS 8 /* window_next_open looks this far ahead */
#define WINDOW_JSON_MAX    1024

struct window_range {
    uint16_t start; /* minutes after local midnight, 0..1439 */
    uint16_t end;   /* minutes after local midnight, start+1..1440 (1440: until midnight) */
};

/* day[0] is Sunday, as struct tm's tm_wday. Ranges are sorted and do not touch. */
struct window {
    uint8_t n[7];
    struct window_range r[7][WINDOW_MAX_RANGES];
};

/* 08:00-21:00 every day: 47 CFR 64.1200(c)(1). */
void window_federal(struct window *w);
/* Every minute of every day (the neutral element of window_intersect). */
void window_always(struct window *w);
/* No minute at all. */
void window_never(struct window *w);
/* Adds [start, end) minutes on day (0 = Sunday); the ranges of that day must be added in order
 * and not overlap. BC_EINVAL or BC_ETOOBIG (more than WINDOW_MAX_RANGES). */
int window_add(struct window *w, int day, int start_min, int end_min);
/* acc = acc intersected with other. BC_ETOOBIG if a day would need too many ranges. */
int window_intersect(struct window *acc, const struct window *other);
/* True when the window has no minute on any day. */
int window_is_empty(const struct window *w);

/* The US state rule of a two-letter state code (zones_us_state): 1 and *out set, or 0 when the
 * state has no rule stricter than the federal one. *source, if given, names the rule's source. */
int window_state_rule(const char *state, struct window *out, const char **source);

/* A batch's callingWindow, the JSON object {"start":"09:00","end":"17:00","days":["mon",...]}
 * (days optional: every day). 0, or BC_EINVAL with a message for a 400 in msg ("callingWindow.
 * start \"9am\" is not a time: ..."). */
int window_parse_json(const char *json, size_t len, struct window *out, char *msg, size_t msglen);

/* The same for a parsed object; what names it in messages ("callingWindows[2]"). */
struct cJSON;
int window_parse_object(const struct cJSON *obj, const char *what, struct window *out, char *msg,
                        size_t msglen);
/* acc = acc joined with other (minutes in either). BC_ETOOBIG if a day would need more than
 * WINDOW_MAX_RANGES ranges. */
int window_union(struct window *acc, const struct window *other);
/* Whether local wall-clock time local_s (seconds since 1970-01-01 00:00 local) is inside. */
int window_contains_local(const struct window *w, int64_t local_s);

/* 1 when every zone of set is inside w at now_ms, 0 when one is not, or a negative error
 * (BC_ENOTFOUND: a zone the system's tzdata lacks). */
int window_allows(const struct window *w, const struct zones_set *set, int64_t now_ms);

/* The first instant >= now_ms at which every zone of set is inside w: now_ms itself when open.
 * Looks WINDOW_SEARCH_DAYS ahead; BC_ENOTFOUND when the window does not open in that time (an
 * empty window, or zones too far apart for it). A local start time skipped by a DST change
 * opens at the change; one that occurs twice opens at its first occurrence. */
int window_next_open(const struct window *w, const struct zones_set *set, int64_t now_ms,
                     int64_t *open_ms);

#endif
