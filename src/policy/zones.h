/* The callee's candidate time zones from an E.164 number, by libphonenumber's time-zone map
 * (tools/gen_zones.py generates the table from Debian's python3-phonenumbers): the longest
 * prefix of the number's digits that the map knows, which is the country calling code, for the
 * North American plan the area code, and where an area code spans zones the 7-digit NPA-NXX
 * prefix (Idaho's 208: Boise or Los Angeles).
 *
 * A number for which the map knows nothing beyond its country calling code gets the zones of
 * the whole calling code: every zone of its country ("+1 350..." with an area code newer than
 * the data gets every zone of the North American plan, Guam to Newfoundland), so a caller that
 * requires every candidate zone to be inside its window stays on the safe side. A number whose
 * calling code has no zone at all (the non-geographic +800, +882...) gets BC_ENOTFOUND.
 *
 * Sets are interned: one zones_set per distinct set of zones, with a small id, so that callers
 * can cache per set (the next opening of a window, say) rather than per number. */
#ifndef BC_POLICY_ZONES_H
#define BC_POLICY_ZONES_H

#include <stddef.h>
#include <stdint.h>

struct tz;

struct zones_set {
    uint16_t id;          /* index of the set, 1..zones_set_count()-1 */
    uint16_t count;       /* number of zones, at least 1 */
    const uint16_t *zone; /* zone ids (zones_name), sorted */
};

/* The candidate zones of e164 ("+CC..." or the digits alone; nothing else). 0 and *out, or
 * BC_EINVAL (not digits, or more than 15) or BC_ENOTFOUND (no zone known for the code). */
int zones_lookup(const char *e164, size_t len, const struct zones_set **out);

/* The IANA name of a zone id, or NULL past the end. */
const char *zones_name(uint16_t zone);
/* Number of zone ids (names), and of set ids (set 0 is the empty set, never returned). */
size_t zones_count(void);
size_t zones_set_count(void);
const struct zones_set *zones_set_get(uint16_t id);

/* The zone's rules from the system time-zone database (tz_load, cached). BC_ENOTFOUND when the
 * system has no such zone (tzdata not installed) or its file is unreadable. */
int zones_tz(uint16_t zone, struct tz **out);
/* Reads every zone the table uses, at start (so that a missing tzdata shows at once, not at the
 * first call). Returns how many zones the system lacks, or BC_ENOMEM. */
int zones_preload(void);

/* The two-letter US state (or "DC") of a +1 number's area code, from libphonenumber's English
 * geocoder descriptions, NUL-terminated into state. 0, or BC_ENOTFOUND (not +1, or an area code
 * that is not a US state's: Canada, the Caribbean, toll-free, unknown), BC_EINVAL (bad number). */
int zones_us_state(const char *e164, size_t len, char state[3]);

#endif
