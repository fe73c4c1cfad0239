#!/bin/sh
# header-test.sh MODE INCLUDE_DIR - compiles a source that includes only
# telemetry.h (and uses its macros) with the compiler and flags of MODE:
#   c99      cc  -std=c99   -pedantic -Wall -Wextra -Werror
#   c11conv  cc  -std=c11   -pedantic -Wall -Wextra -Werror -Wconversion
#                -Wsign-conversion
#   cxx11    c++ -std=c++11 -pedantic -Wall -Wextra -Werror
# Compilers come from $CC / $CXX or PATH (cc, c++), not from the meson
# build, so the main build needs no C++ compiler. Exit 77 (skip) when the
# compiler of MODE is not installed.
set -eu

mode=${1:?usage: header-test.sh MODE INCLUDE_DIR}
incdir=${2:?usage: header-test.sh MODE INCLUDE_DIR}
warn="-pedantic -Wall -Wextra -Werror"

case $mode in
c99)
    compiler=${CC:-cc} lang=c flags="-std=c99 $warn"
    ;;
c11conv)
    compiler=${CC:-cc} lang=c
    flags="-std=c11 $warn -Wconversion -Wsign-conversion"
    ;;
cxx11)
    compiler=${CXX:-c++} lang=c++ flags="-std=c++11 $warn"
    ;;
*)
    echo "header-test.sh: unknown mode '$mode'" >&2
    exit 2
    ;;
esac

if ! command -v "$compiler" >/dev/null 2>&1; then
    echo "header-test.sh: no '$compiler' on PATH: skipped" >&2
    exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# The header first and alone: it must bring everything it needs. Then its
# macros, which expand in the user's code under the user's flags.
cat >"$tmp/t.$lang" <<'SRC'
#include "telemetry.h"
static const tlm_request req = TLM_REQUEST_INIT;
int
main(void)
{
    unsigned int num = TLM_VERSION_NUM;
    const char *str = TLM_VERSION_STRING;
    tlm_stats st;
    tlm_stats_init(&st);
    return (int)(req.size + st.size + num + (unsigned int)(str[0] == '0'))
        == 0;
}
SRC

echo "$compiler $flags -I$incdir -c t.$lang"
# shellcheck disable=SC2086 # $flags is a word list on purpose
"$compiler" $flags -I"$incdir" -c "$tmp/t.$lang" -o "$tmp/t.o"
