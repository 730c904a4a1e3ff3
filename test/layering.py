#!/usr/bin/env python3
"""Checks the layering of src/ (docs/architecture.md explains it):

1. A file includes headers of its own folder and of the layers below it, never of a layer
   above or beside it (LAYERS, highest first).
2. app.h, the loop context that reaches everything, is included only by main.c, admin.c and
   api/.
3. Store keys and records are built only in store/: the big-endian helpers that build and read
   them (be32_put, be64_put, be32_get, be64_get) are called nowhere else.
4. One header per .c file, named after it (HEADER_ONLY and NO_HEADER list the exceptions).
5. No file over 1,000 lines (LONG_OK lists the justified exceptions).
6. Errors are BC_* codes: no bare `return -1;`.

Usage: layering.py [SRC_DIR]   (default: the src/ beside this file's folder)
       layering.py --self-test  (proves each rule reports a planted violation)
Exits 1 and prints one line per violation, or prints "layering: ok"."""

import os
import re
import sys
import tempfile

# Highest first. Folders on one line share a rank: they may not include each other.
LAYERS = [
    [""],  # src/ itself: main.c, admin.c, config.c, app.h
    ["api"],
    ["dispatch"],
    # The simulator plays the provider's remote end with the provider's own protocol code
    # (Twilio's form encoding and signatures), so it sits above provider/.
    ["webhooks", "sim"],
    ["provider", "ingest", "policy"],
    ["model"],
    ["store"],
    ["http"],
    ["util"],
]
# api/ is below main.c, admin.c and config.c, but works with the wiring's own headers: the loop
# context and the flags.
TOP_FOR_API = {"app.h", "config.h", "admin.h"}
APP_H_USERS = {"main.c", "admin.c"}
KEY_HELPERS = re.compile(r"\bbe(32|64)_(put|get)\s*\(")
BARE_MINUS_ONE = re.compile(r"\breturn\s+-1\s*;")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# Headers without a .c: declarations only, or inline helpers.
HEADER_ONLY = {"app.h", "util/clock.h", "http/http.h"}
# .c files without a header of their own: the program's entry.
NO_HEADER = {"main.c"}
# Justified files over 1,000 lines: generated tables.
LONG_OK = {"ingest/phone_data.c"}
MAX_LINES = 1000


def rank_of(folder):
    for i, names in enumerate(LAYERS):
        if folder in names:
            return i
    return None


def folder_of(rel):
    return rel.split("/", 1)[0] if "/" in rel else ""


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def check(src):
    problems = []
    files = {}
    for d, _, names in os.walk(src):
        for n in names:
            if n.endswith((".c", ".h")):
                p = os.path.join(d, n)
                files[os.path.relpath(p, src).replace(os.sep, "/")] = p
    for rel in sorted(files):
        with open(files[rel], encoding="utf-8", errors="replace") as f:
            text = f.read()
        here = folder_of(rel)
        if rank_of(here) is None:
            problems.append(f"{rel}: folder '{here}' is not in the layer table")
            continue
        for inc in INCLUDE.findall(text):
            if inc not in files:
                continue  # a system or library header
            there = folder_of(inc)
            if rank_of(there) is None:
                continue
            if inc == "app.h" and here != "api" and rel not in APP_H_USERS:
                problems.append(f"{rel}: includes app.h (only main.c, admin.c and api/ may)")
                continue
            if here == there:
                continue
            if here == "api" and there == "" and inc in TOP_FOR_API:
                continue
            if rank_of(there) <= rank_of(here):
                where = "above" if rank_of(there) < rank_of(here) else "beside"
                problems.append(f"{rel}: includes {inc}, a layer {where} its own")
        code = strip_comments(text)
        if here != "store":
            for m in KEY_HELPERS.finditer(code):
                line = code.count("\n", 0, m.start()) + 1
                problems.append(f"{rel}:{line}: builds or reads a store key or record outside "
                                "store/ (add a function to store/records.c)")
        for m in BARE_MINUS_ONE.finditer(code):
            line = code.count("\n", 0, m.start()) + 1
            problems.append(f"{rel}:{line}: returns -1 (return a BC_* code from util/err.h)")
        lines = text.count("\n")
        if lines > MAX_LINES and rel not in LONG_OK and not rel.startswith("sim/"):
            problems.append(f"{rel}: {lines} lines (at most {MAX_LINES}: split it by concern)")
        stem = rel[:-2]
        if rel.endswith(".c") and rel not in NO_HEADER and stem + ".h" not in files:
            problems.append(f"{rel}: has no header {stem}.h")
        if rel.endswith(".h") and rel not in HEADER_ONLY and stem + ".c" not in files:
            problems.append(f"{rel}: has no {stem}.c (one header per .c file)")
    return problems


def self_test():
    """Plants one violation of each rule in a small tree and checks each is reported."""
    tree = {
        "main.c": '#include "app.h"\n',
        "app.h": "",
        "util/log.c": '#include "util/log.h"\n#include "store/store.h"\n',
        "util/log.h": "",
        "store/store.c": '#include "store/store.h"\nint f(void) { be32_put(0, 1); return 0; }\n',
        "store/store.h": "",
        "model/batch.c": '#include "model/batch.h"\n#include "app.h"\n',
        "model/batch.h": "",
        "ingest/csv.c": '#include "ingest/csv.h"\n#include "provider/twilio.h"\n'
                        "int g(void) { be64_put(0, 1); return -1; }\n",
        "ingest/csv.h": "",
        "provider/twilio.c": "/* return -1; in a comment is fine */\n" + "int x;\n" * 1001,
        "provider/twilio.h": "",
        "provider/orphan.h": "",
        "provider/lonely.c": "",
    }
    expected = [
        "util/log.c: includes store/store.h, a layer above its own",
        "model/batch.c: includes app.h",
        "ingest/csv.c: includes provider/twilio.h, a layer beside its own",
        "ingest/csv.c:3: builds or reads a store key",
        "ingest/csv.c:3: returns -1",
        "provider/twilio.c: 1002 lines",
        "provider/orphan.h: has no provider/orphan.c",
        "provider/lonely.c: has no header",
    ]
    with tempfile.TemporaryDirectory() as d:
        for rel, text in tree.items():
            os.makedirs(os.path.join(d, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(d, rel), "w") as f:
                f.write(text)
        problems = check(d)
    failed = 0
    for e in expected:
        if not any(p.startswith(e) for p in problems):
            print(f"layering self-test: not reported: {e}")
            failed = 1
    for p in problems:
        if not any(p.startswith(e) for e in expected):
            print(f"layering self-test: reported wrongly: {p}")
            failed = 1
    print("layering self-test: " + ("FAILED" if failed else "ok"))
    return failed


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    src = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src")
    problems = check(src)
    for p in problems:
        print(p)
    print(f"layering: {len(problems)} problems" if problems else "layering: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
