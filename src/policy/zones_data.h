/* The zone names, zone sets and area code table behind zones.c, generated into zones_data.c by
 * tools/gen_zones.py from libphonenumber's data (that script's comment describes the layout; the
 * trie of prefixes is in zones_trie.h). */
#ifndef BC_POLICY_ZONES_DATA_H
#define BC_POLICY_ZONES_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "policy/zones.h"

extern const char *const zones_data_names[];
extern const size_t zones_data_name_count;
extern const struct zones_set zones_data_sets[];
extern const size_t zones_data_set_count;
/* Two letters per +1 area code from 200 to 999: the US state, or "--". */
extern const char zones_data_npa_state[];

#endif
