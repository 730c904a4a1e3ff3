/* Longest-prefix lookup of a number's time zones in the generated trie (zones_trie.c), and the
 * area code to US state table (zones_data.c). */
#include "policy/zones.h"

#include <pthread.h>
#include <stdlib.h>

#include "policy/tz.h"
#include "policy/zones_data.h"
#include "policy/zones_trie.h"
#include "util/err.h"

#define E164_MAX_DIGITS 15

/* The digits of e164 without its '+'; BC_EINVAL unless 1..15 digits. */
static int digits_of(const char *e164, size_t len, const char **digits, size_t *n)
{
    if (len > 0 && e164[0] == '+') {
        e164++;
        len--;
    }
    if (len == 0 || len > E164_MAX_DIGITS)
        return BC_EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (e164[i] < '0' || e164[i] > '9')
            return BC_EINVAL;
    }
    *digits = e164;
    *n = len;
    return 0;
}

/* Bits set in a 16-bit mask. Not __builtin_popcount: without -mpopcnt (the x86-64 baseline)
 * that is a call into libgcc, a fifth of a lookup. */
static inline unsigned popcount16(unsigned x)
{
    x = x - ((x >> 1) & 0x5555u);
    x = (x & 0x3333u) + ((x >> 2) & 0x3333u);
    x = (x + (x >> 4)) & 0x0f0fu;
    return (x + (x >> 8)) & 0x1fu;
}

int zones_lookup(const char *e164, size_t len, const struct zones_set **out)
{
    const char *d;
    size_t n;
    int rc = digits_of(e164, len, &d, &n);
    if (rc < 0)
        return rc;
    uint32_t node = 0;
    uint16_t best = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned digit = (unsigned)(d[i] - '0');
        unsigned bit = 1u << digit;
        unsigned mask = zones_trie_mask[node];
        if (!(mask & bit))
            break;
        node = zones_trie_first[node] + popcount16(mask & (bit - 1));
        if (zones_trie_set[node])
            best = zones_trie_set[node];
    }
    if (!best)
        return BC_ENOTFOUND;
    *out = &zones_data_sets[best];
    return 0;
}

const char *zones_name(uint16_t zone)
{
    return zone < zones_data_name_count ? zones_data_names[zone] : NULL;
}

size_t zones_count(void)
{
    return zones_data_name_count;
}

size_t zones_set_count(void)
{
    return zones_data_set_count;
}

const struct zones_set *zones_set_get(uint16_t id)
{
    return id > 0 && id < zones_data_set_count ? &zones_data_sets[id] : NULL;
}

/* Loaded once per zone id (zones_preload at start, or lazily): tz_load caches by name as well,
 * this saves the name lookup on the hot path. The slow path is locked because the dispatcher's
 * commits ask from libuv's thread pool; after zones_preload nothing here is written again. */
static struct tz **tz_by_zone;
static int *tz_error; /* why a zone could not be loaded: it is not tried again */
static pthread_mutex_t filling = PTHREAD_MUTEX_INITIALIZER;
static int preloaded; /* set by zones_preload before any other thread exists */

static int fill(uint16_t zone)
{
    if (!tz_by_zone) {
        tz_by_zone = calloc(zones_data_name_count, sizeof *tz_by_zone);
        tz_error = calloc(zones_data_name_count, sizeof *tz_error);
        if (!tz_by_zone || !tz_error) {
            free(tz_by_zone);
            free(tz_error);
            tz_by_zone = NULL;
            tz_error = NULL;
            return BC_ENOMEM;
        }
    }
    if (!tz_by_zone[zone] && !tz_error[zone]) {
        int rc = tz_load(zones_data_names[zone], &tz_by_zone[zone]);
        if (rc < 0 && rc != BC_ENOMEM)
            tz_error[zone] = rc;
        if (rc < 0)
            return rc;
    }
    return tz_by_zone[zone] ? 0 : tz_error[zone];
}

int zones_tz(uint16_t zone, struct tz **out)
{
    if (zone >= zones_data_name_count)
        return BC_ENOTFOUND;
    if (preloaded) {
        *out = tz_by_zone[zone];
        return *out ? 0 : tz_error[zone];
    }
    pthread_mutex_lock(&filling);
    int rc = fill(zone);
    if (rc == 0)
        *out = tz_by_zone[zone];
    pthread_mutex_unlock(&filling);
    return rc;
}

int zones_preload(void)
{
    int missing = 0;
    for (uint16_t z = 0; z < zones_data_name_count; z++) {
        struct tz *tz;
        int rc = zones_tz(z, &tz);
        if (rc == BC_ENOMEM)
            return rc;
        missing += rc < 0;
    }
    preloaded = 1;
    return missing;
}

int zones_us_state(const char *e164, size_t len, char state[3])
{
    const char *d;
    size_t n;
    int rc = digits_of(e164, len, &d, &n);
    if (rc < 0)
        return rc;
    if (n != 11 || d[0] != '1')
        return n >= 1 && d[0] == '1' ? BC_EINVAL : BC_ENOTFOUND;
    int npa = (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0');
    if (npa < 200)
        return BC_EINVAL;
    const char *s = &zones_data_npa_state[(npa - 200) * 2];
    if (s[0] == '-')
        return BC_ENOTFOUND;
    state[0] = s[0];
    state[1] = s[1];
    state[2] = '\0';
    return 0;
}
