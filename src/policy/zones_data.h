/* The tables behind zones.c, generated into zones_data.c by tools/gen_zones.py from
 * libphonenumber's time-zone map (that script's comment describes the layout). */
#ifndef BC_POLICY_ZONES_DATA_H
#define BC_POLICY_ZONES_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "policy/zones.h"

/* One node of the digit trie: bit d of mask set means a child for digit d; the children are
 * stored together from first_child in digit order. set is the zone set of the prefix that ends
 * here (0: none). */
struct zones_node {
    uint16_t mask;
    uint16_t set;
    uint32_t first_child;
};

extern const char *const zones_data_names[];
extern const size_t zones_data_name_count;
extern const struct zones_set zones_data_sets[];
extern const size_t zones_data_set_count;
extern const struct zones_node zones_data_nodes[];
extern const size_t zones_data_node_count;
/* Two letters per +1 area code from 200 to 999: the US state, or "--". */
extern const char zones_data_npa_state[];

#endif
