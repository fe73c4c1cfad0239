#!/usr/bin/env bash
# http-doc-coverage.sh SRC_ROOT - every route of the server's route tables
# (server/api_route.c, server/http.c) is in docs/http-api.md's route index,
# as "METHOD /path" with each "*" segment written "{id}". Exit 1 listing
# what is missing, 2 when a file cannot be read.
set -euo pipefail
root=${1:-.}
doc=$root/docs/http-api.md
api=$root/server/api_route.c
http=$root/server/http.c
for f in "$doc" "$api" "$http"; do
    [[ -r $f ]] || {
        echo "http-doc-coverage: cannot read $f" >&2
        exit 2
    }
done
routes=$(
    grep -oE '\{"(GET|POST|PUT|DELETE)", "/[^"]*"' "$api" |
        sed -E 's/\{"([A-Z]+)", "([^"]*)"/\1 \2/'
    grep -oE '\{"/[^"]*", "(GET|POST|PUT|DELETE)"' "$http" |
        sed -E 's/\{"([^"]*)", "([A-Z]+)"/\2 \1/'
)
if [[ -z $routes ]]; then
    echo "http-doc-coverage: no routes found in the server's tables" >&2
    exit 2
fi
missing=0
while read -r method path; do
    want="$method ${path//\*/\{id\}}"
    if ! grep -qF -- "$want" "$doc"; then
        echo "docs/http-api.md does not list: $want" >&2
        missing=1
    fi
done <<<"$routes"
if ((missing == 0)); then
    echo "http-doc-coverage: $(wc -l <<<"$routes") routes, all documented"
fi
exit "$missing"
