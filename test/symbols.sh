#!/usr/bin/env bash
# Fails when two object files of the core library define the same global symbol. A static
# library does not report it: the linker takes whichever object it meets first, so one
# module would silently use another's table or function.
set -euo pipefail
lib=${1:?usage: symbols.sh LIBRARY}
dups=$(nm -g --defined-only "$lib" | awk 'NF == 3 && $2 ~ /[TDRBC]/ {print $3}' | sort | uniq -d)
if [ -n "$dups" ]; then
    echo "symbols: defined in more than one object of $lib:"
    for s in $dups; do
        echo "  $s:"
        nm -A -g --defined-only "$lib" | awk -v s="$s" '$NF == s {print "    " $1}'
    done
    exit 1
fi
echo "symbols: ok ($(nm -g --defined-only "$lib" | awk 'NF == 3' | wc -l) global definitions, none twice)"
