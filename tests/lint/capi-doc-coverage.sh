#!/bin/sh
# capi-doc-coverage.sh SOURCE_ROOT - fails when a function that
# include/telemetry.h exports (TLM_API) is not documented in docs/c-api.md,
# the C API reference that must cover every public function (issue 10).
# A name counts when the page shows it followed by '(' (optionally after
# blanks): in a signature, a synopsis block or a call such as
# `tlm_client_flush()`. A bare `name` in a table cell does not count, nor
# does a shorthand like `_wait(...)`: give the function its signature.
set -eu

root=${1:?usage: capi-doc-coverage.sh SOURCE_ROOT}
header=$root/include/telemetry.h
doc=$root/docs/c-api.md

for f in "$header" "$doc"; do
    if [ ! -r "$f" ]; then
        echo "capi-doc-coverage.sh: cannot read $f" >&2
        exit 2
    fi
done

names=$("$(dirname "$0")/api-names.sh" "$header")

if [ -z "$names" ]; then
    echo "capi-doc-coverage.sh: no TLM_API function found in $header" >&2
    exit 2
fi

# A signature may break after the name (`int\ntlm_x(`): join the page's
# lines so that "name" + blanks/newline + "(" is found as well.
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
tr '\n' ' ' <"$doc" >"$tmp"

total=0
missing=""
for name in $names; do
    total=$((total + 1))
    if ! grep -Eq "(^|[^A-Za-z0-9_])$name[[:space:]]*\(" "$tmp"; then
        missing="$missing $name"
    fi
done

if [ -n "$missing" ]; then
    echo "capi-doc-coverage.sh: TLM_API functions not documented in" \
        "docs/c-api.md (no \`name(\` or signature):" >&2
    for name in $missing; do
        echo "  $name" >&2
    done
    exit 1
fi
echo "capi-doc-coverage.sh: all $total TLM_API functions appear in" \
    "docs/c-api.md with a signature or as name("
