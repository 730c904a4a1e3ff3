#!/usr/bin/python3
"""Generates src/policy/zones_data.c and src/policy/zones_trie.c from libphonenumber's time-zone
and geocoding data, as Debian's python3-phonenumbers package ships them (modules
phonenumbers.tzdata and phonenumbers.geodata). Only needed to regenerate the committed tables:

    apt-get install python3-phonenumbers    (bash deps/install.sh --test installs it)
    /usr/bin/python3 tools/gen_zones.py           # rewrites both files
    /usr/bin/python3 tools/gen_zones.py --check   # exit 1 and a diff when they differ

(Debian's own python3, whose dist-packages hold the package, not a version manager's.) The
output goes through clang-format with the repository's .clang-format, so the committed files are
exactly what this produces: regenerating with the same package changes nothing, and CTest's
gen_zones test checks that (skipped, exit 77, when the package is missing).

The tables come in two files so that neither is over the 1,000 lines a source file may have;
each has its own header (written by hand, next to it):

- zones_data.c (zones_data.h; src/policy/zones.c reads it):
  - zones_data_names: every IANA zone name the map uses, sorted; a zone's id is its index.
  - zones_data_sets: the distinct sets of zones the map assigns to a prefix ("interned": the
    same set is one entry, so callers can cache per set); set 0 is the empty set, "no entry
    here".
  - zones_data_npa_state: for each +1 area code 200..999, the two-letter US state (or DC) whose
    name is the English geocoder description of the area code, "--" when it is not a US state
    (Canada, the Caribbean, non-geographic codes, codes the data does not know).
- zones_trie.c (zones_trie.h): a digit trie of the prefixes (libphonenumber's map is a
  longest-prefix map over the digits of the E.164 number, up to TIMEZONE_LONGEST_PREFIX
  digits), as three parallel arrays indexed by node (zones_trie_mask, zones_trie_set,
  zones_trie_first; columns pack several times denser than an array of structs). Node 0 is the
  root; a node's children are stored together in digit order from its first child, one per bit
  of its mask, so a lookup is one popcount per digit.

Two adjustments to the source map, both for "a number with no zone data is called only inside
the window of every zone of its country":
- the placeholder zone Etc/Unknown is dropped (a prefix whose set becomes empty falls back to a
  shorter prefix, in the end to its country calling code's entry);
- a country calling code that has prefixes in the map but no entry of its own gets one: the union
  of all zones below it.
"""

import difflib
import os
import subprocess
import sys

try:
    import phonenumbers
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
    from phonenumbers.geodata import GEOCODE_DATA
    from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX
except ImportError:
    # 77: CTest's "skipped" (SKIP_RETURN_CODE), for a machine without the package.
    print("gen_zones: skipped: python3-phonenumbers is not installed for %s (install it with "
          "`bash deps/install.sh --test`, then run this with /usr/bin/python3)" % sys.executable)
    sys.exit(77)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT_DIR = "src/policy"

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


def header(what, counts):
    """The comment that opens each generated file: what it holds, where it comes from."""
    return ("/* Generated by tools/gen_zones.py: do not edit. Regenerate with the command in that "
            "script.\n *\n"
            " * %s\n *\n"
            " * Source: libphonenumber's time-zone map (phonenumbers.tzdata) and English geocoder\n"
            " * descriptions (phonenumbers.geodata), from Debian's python3-phonenumbers %s\n"
            " * (phonenumbers %s; data Apache-2.0, The Libphonenumber Authors).\n"
            " *\n%s */\n" % (what, package_version(), phonenumbers.__version__, counts))


def data_file(head, names, sets, zone_id, states):
    out = [head, "#include \"policy/zones_data.h\"\n\n"]
    w = out.append
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

    w("/* Area codes 200..999 in order, two letters each. */\n")
    w("const char zones_data_npa_state[] =\n")
    for i in range(0, len(states), 40):
        w('    "%s" /* %d */\n' % ("".join(states[i:i + 40]), 200 + i))
    w("    ;\n")
    return "".join(out)


def trie_file(head, nodes):
    out = [head, "#include \"policy/zones_trie.h\"\n\n"]
    w = out.append
    for name, ctype, col, fmt in (("mask", "uint16_t", 0, "0x%03x"), ("set", "uint16_t", 1, "%d"),
                                  ("first", "uint32_t", 2, "%d")):
        w("const %s zones_trie_%s[] = {\n" % (ctype, name))
        w("    " + ", ".join(fmt % n[col] for n in nodes) + ",\n")
        w("};\n")
    w("const size_t zones_trie_node_count = %d;\n" % len(nodes))
    return "".join(out)


def clang_format(text, rel):
    """text formatted as the repository formats rel (its .clang-format is found from rel)."""
    return subprocess.run(["clang-format", "--assume-filename=" + os.path.join(ROOT, rel)],
                          input=text, capture_output=True, text=True, check=True).stdout


def main(argv):
    check = argv[1:] == ["--check"]
    if argv[1:] not in ([], ["--check"]):
        print("usage: tools/gen_zones.py [--check]", file=sys.stderr)
        return 2
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

    counts = (" * %d prefixes (longest %d digits), %d zones, %d distinct zone sets, %d trie nodes.\n"
              " * %d prefixes named Etc/Unknown (dropped: they fall back to a shorter prefix).\n"
              " * Country calling codes given the union of their zones (no entry of their own): "
              "%s.\n" % (len(prefixes), longest, len(names), len(sets), len(nodes), dropped,
                         ", ".join(added) if added else "none"))
    files = {
        "zones_data.c": data_file(header("Zone names, zone sets and the area code to US state "
                                         "table (zones_data.h).", counts),
                                  names, sets, zone_id, states),
        "zones_trie.c": trie_file(header("The digit trie of the prefixes (zones_trie.h).", counts),
                                  nodes),
    }
    differ = 0
    for name, text in files.items():
        rel = OUT_DIR + "/" + name
        text = clang_format(text, rel)
        path = os.path.join(ROOT, rel)
        if not check:
            with open(path, "w") as f:
                f.write(text)
            print("gen_zones: wrote %s (%d lines)" % (rel, text.count("\n")))
            continue
        try:
            with open(path) as f:
                old = f.read()
        except OSError:
            old = ""
        if old != text:
            differ = 1
            sys.stdout.writelines(difflib.unified_diff(
                old.splitlines(True), text.splitlines(True), rel + " (committed)",
                rel + " (regenerated)", n=1))
    if check:
        print("gen_zones: " + ("the committed tables differ from what the script generates: "
                               "regenerate with /usr/bin/python3 tools/gen_zones.py"
                               if differ else "the committed tables are what the script generates"))
    return differ


if __name__ == "__main__":
    sys.exit(main(sys.argv))
