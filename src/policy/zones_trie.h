/* The digit trie of libphonenumber's time-zone prefixes behind zones_lookup, generated into
 * zones_trie.c by tools/gen_zones.py (that script's comment describes the layout). One node per
 * index of the three arrays: bit d of zones_trie_mask set means a child for digit d, the
 * children stored together from zones_trie_first in digit order; zones_trie_set is the zone set
 * (zones_data_sets) of the prefix that ends at the node, 0 for none. Node 0 is the root. */
#ifndef BC_POLICY_ZONES_TRIE_H
#define BC_POLICY_ZONES_TRIE_H

#include <stddef.h>
#include <stdint.h>

extern const uint16_t zones_trie_mask[];
extern const uint16_t zones_trie_set[];
extern const uint32_t zones_trie_first[];
extern const size_t zones_trie_node_count;

#endif
