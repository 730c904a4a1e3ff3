#!/usr/bin/python3
"""Generates src/policy/zones_data.c from libphonenumber's time-zone and geocoding data, as
Debian's python3-phonenumbers package ships them (modules phonenumbers.tzdata and
phonenumbers.geodata). Only needed to regenerate the committed table:

    apt-get install python3-phonenumbers
    /usr/bin/python3 tools/gen_zones.py > src/policy/zones_data.c && clang-format -i src/policy/zones_data.c

(Debian's own python3, whose dist-packages hold the package, not a version manager's.) The
committed file is exactly what this produces: regenerating with the same package changes
nothing.

What it writes (src/policy/zones_data.h declares it; src/policy/zones.c reads it):

- zones_data_names: every IANA zone name the map uses, sorted; a zone's id is its index.
- zones_data_sets: the distinct sets of zones the map assigns to a prefix ("interned": the same
  set is one entry, so callers can cache per set); set 0 is the empty set, "no entry here".
- zones_data_nodes: a digit trie of the prefixes (libphonenumber's map is a longest-prefix map
  over the digits of the E.164 number, up to TIMEZONE_LONGEST_PREFIX digits). Node 0 is the
  root; a node's children are stored together in digit order from first_child, one per bit of
  its mask, so a lookup is one popcount per digit.
- zones_data_npa_state: for each +1 area code 200..999, the two-letter US state (or DC) whose
  name is the English geocoder description of the area code, "--" when it is not a US state
  (Canada, the Caribbean, non-geographic codes, codes the data does not know).

Two adjustments to the source map, both for "a number with no zone data is called only inside
the window of every zone of its country":
- the placeholder zone Etc/Unknown is dropped (a prefix whose set becomes empty falls back to a
  shorter prefix, in the end to its country calling code's entry);
- a country calling code that has prefixes in the map but no entry of its own gets one: the union
  of all zones below it.
"""

import subprocess
import sys

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
from phonenumbers.geodata import GEOCODE_DATA
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

UNKNOWN = "Etc/Unknown"

US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA",
    "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS",
    "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH",
    "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN",
    "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington": "WA",
    "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY", "Washington D.C.": "DC",
    "Washington DC": "DC", "District of Columbia": "DC",
    # Descriptions of US area codes in this data that name neither a state nor "City, ST".
    "Washington State": "WA", "Philadelphia": "PA",
}


def package_version():
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "python3-phonenumbers"],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not installed through dpkg)"


def build_map():
    """prefix -> sorted tuple of zone names, with the two adjustments of the module comment."""
    prefixes = {}
    dropped = 0
    for prefix, zones in TIMEZONE_DATA.items():
        kept = tuple(sorted(set(z for z in zones if z != UNKNOWN)))
        if len(kept) != len(zones):
            dropped += 1
        if kept:
            prefixes[prefix] = kept
    added = []
    for cc in sorted(COUNTRY_CODE_TO_REGION_CODE):
        cc = str(cc)
        if cc in prefixes:
            continue
        union = set()
        for prefix, zones in prefixes.items():
            if prefix.startswith(cc):
                union.update(zones)
        if union:
            prefixes[cc] = tuple(sorted(union))
            added.append(cc)
    return prefixes, dropped, added


def build_trie(prefixes, set_id):
    """Breadth-first digit trie: returns nodes as [mask, set, first_child]."""
    # children[node] = {digit: node}
    children = [{}]
    value = [0]
    for prefix, zones in prefixes.items():
        node = 0
        for ch in prefix:
            d = int(ch)
            if d not in children[node]:
                children.append({})
                value.append(0)
                children[node][d] = len(children) - 1
            node = children[node][d]
        value[node] = set_id[zones]
    # Renumber breadth-first so that each node's children are contiguous, in digit order.
    order = [0]
    out = []
    i = 0
    while i < len(order):
        old = order[i]
        kids = [children[old][d] for d in sorted(children[old])]
        first = len(order)
        order.extend(kids)
        mask = 0
        for d in children[old]:
            mask |= 1 << d
        out.append([mask, value[old], first if kids else 0])
        i += 1
    return out


def npa_states():
    us = set(US_STATES.values())
    states = []
    for npa in range(200, 1000):
        key = "1%d" % npa
        desc = GEOCODE_DATA.get(key, {}).get("en", "")
        # The area code's description is a state ("Florida") or a place in one ("New York, NY").
        code = US_STATES.get(desc)
        if code is None and desc.rsplit(", ", 1)[-1] in us and ", " in desc:
            code = desc.rsplit(", ", 1)[1]
        if code is None:
            # No description of the area code itself: take the state that every one of its
            # exchanges names ("City, ST"), if they agree on one US state.
            found = set()
            for nxx in range(200, 1000):
                d = GEOCODE_DATA.get(key + str(nxx), {}).get("en", "")
                if ", " in d:
                    found.add(d.rsplit(", ", 1)[1])
            if len(found) == 1 and next(iter(found)) in us:
                code = found.pop()
        states.append(code or "--")
    return states


def main():
    prefixes, dropped, added = build_map()
    names = sorted(set(z for zones in prefixes.values() for z in zones))
    zone_id = {z: i for i, z in enumerate(names)}
    sets = sorted(set(prefixes.values()), key=lambda s: (len(s), s))
    set_id = {s: i + 1 for i, s in enumerate(sets)}
    nodes = build_trie(prefixes, set_id)
    states = npa_states()
    longest = max(len(p) for p in prefixes)
    assert longest <= TIMEZONE_LONGEST_PREFIX
    assert len(names) < 65536 and len(sets) < 65535

    w = sys.stdout.write
    w("/* Generated by tools/gen_zones.py: do not edit. Regenerate with the command in that "
      "script.\n *\n")
    w(" * Source: libphonenumber's time-zone map (phonenumbers.tzdata) and English geocoder\n")
    w(" * descriptions (phonenumbers.geodata), from Debian's python3-phonenumbers %s\n"
      % package_version())
    w(" * (phonenumbers %s; data Apache-2.0, The Libphonenumber Authors).\n" % phonenumbers.__version__)
    w(" *\n * %d prefixes (longest %d digits), %d zones, %d distinct zone sets, %d trie nodes.\n"
      % (len(prefixes), longest, len(names), len(sets), len(nodes)))
    w(" * %d prefixes named Etc/Unknown (dropped: they fall back to a shorter prefix).\n" % dropped)
    w(" * Country calling codes given the union of their zones (no entry of their own): %s.\n"
      % (", ".join(added) if added else "none"))
    w(" */\n#include \"policy/zones_data.h\"\n\n")

    w("const char *const zones_data_names[] = {\n")
    for z in names:
        w('    "%s",\n' % z)
    w("};\nconst size_t zones_data_name_count = %d;\n\n" % len(names))

    w("static const uint16_t members[] = {\n")
    offsets = []
    pos = 0
    for s in sets:
        offsets.append(pos)
        w("    " + ", ".join(str(zone_id[z]) for z in s) + ",\n")
        pos += len(s)
    w("};\n\n")
    w("const struct zones_set zones_data_sets[] = {\n    {0, 0, members},\n")
    for i, s in enumerate(sets):
        w("    {%d, %d, members + %d},\n" % (i + 1, len(s), offsets[i]))
    w("};\nconst size_t zones_data_set_count = %d;\n\n" % (len(sets) + 1))

    w("const struct zones_node zones_data_nodes[] = {\n")
    for n in nodes:
        w("    {0x%03x, %d, %d},\n" % (n[0], n[1], n[2]))
    w("};\nconst size_t zones_data_node_count = %d;\n\n" % len(nodes))

    w("/* Area codes 200..999 in order, two letters each. */\n")
    w("const char zones_data_npa_state[] =\n")
    for i in range(0, len(states), 40):
        w('    "%s" /* %d */\n' % ("".join(states[i:i + 40]), 200 + i))
    w("    ;\n")


if __name__ == "__main__":
    main()
