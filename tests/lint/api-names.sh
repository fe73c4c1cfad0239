#!/bin/sh
# api-names.sh HEADER - prints the functions HEADER exports (TLM_API), one
# per line, sorted; shared by the coverage lints (uninit-coverage.sh,
# capi-doc-coverage.sh). Declarations span lines: each one is joined (from
# TLM_API to its ';') into one line, and the identifier before its first
# '(' is the name.
set -eu
awk '
    /^TLM_API/ { decl = ""; open = 1 }
    open { decl = decl " " $0 }
    open && /;/ {
        open = 0
        sub(/\(.*/, "", decl)
        n = split(decl, w, /[ *]+/)
        print w[n]
    }
' "${1:?usage: api-names.sh HEADER}" | sort -u
