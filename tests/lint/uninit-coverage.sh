#!/bin/sh
# uninit-coverage.sh SOURCE_ROOT - fails when a function that
# include/telemetry.h exports (TLM_API) is not called anywhere in
# tests/unit/test_uninit.c, the suite that feeds every public function
# NULL handles, closed clients, huge strings and invalid UTF-8 (STYLE.md).
# A new API function is then untested there until someone adds it.
# A name counts when it appears in the test's code outside comments: called,
# or passed by address (e.g. in a table of setters).
set -eu

root=${1:?usage: uninit-coverage.sh SOURCE_ROOT}
header=$root/include/telemetry.h
test=$root/tests/unit/test_uninit.c

for f in "$header" "$test"; do
    if [ ! -r "$f" ]; then
        echo "uninit-coverage.sh: cannot read $f" >&2
        exit 2
    fi
done

names=$("$(dirname "$0")/api-names.sh" "$header")

if [ -z "$names" ]; then
    echo "uninit-coverage.sh: no TLM_API function found in $header" >&2
    exit 2
fi

# The test without its comments (a name in a comment is no call).
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
perl -0777 -pe 's{/\*.*?\*/}{ }gs; s{//[^\n]*}{}g' "$test" >"$tmp"

total=0
missing=""
for name in $names; do
    total=$((total + 1))
    if ! grep -Eq "(^|[^A-Za-z0-9_])$name([^A-Za-z0-9_]|$)" "$tmp"; then
        missing="$missing $name"
    fi
done

if [ -n "$missing" ]; then
    echo "uninit-coverage.sh: TLM_API functions never called in" \
        "tests/unit/test_uninit.c:" >&2
    for name in $missing; do
        echo "  $name" >&2
    done
    exit 1
fi
echo "uninit-coverage.sh: all $total TLM_API functions appear in test_uninit.c"
