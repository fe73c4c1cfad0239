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
# macros, which expand in the user's code under the user's flags: every
# *_INIT macro both as a static initializer and as an automatic one.
cat >"$tmp/t.$lang" <<'SRC'
#include "telemetry.h"
static const tlm_request req = TLM_REQUEST_INIT;
static const tlm_error_event err = TLM_ERROR_EVENT_INIT;
static const tlm_feedback fb = TLM_FEEDBACK_INIT;
static const tlm_feature_request fr = TLM_FEATURE_REQUEST_INIT;
static const tlm_feature_query fq = TLM_FEATURE_QUERY_INIT;
int
main(void)
{
    unsigned int num = TLM_VERSION_NUM;
    const char *str = TLM_VERSION_STRING;
    tlm_request req2 = TLM_REQUEST_INIT;
    tlm_error_event err2 = TLM_ERROR_EVENT_INIT;
    tlm_feedback fb2 = TLM_FEEDBACK_INIT;
    tlm_feature_request fr2 = TLM_FEATURE_REQUEST_INIT;
    tlm_feature_query fq2 = TLM_FEATURE_QUERY_INIT;
    size_t total;
    tlm_stats st;
    tlm_stats_init(&st);
    total = req.size + err.size + fb.size + fr.size + fq.size + req2.size
        + err2.size + fb2.size + fr2.size + fq2.size + st.size;
    return (int)(total + num + (unsigned int)(str[0] == '0')) == 0;
}
SRC

# A macro added to the header later must be added above too.
missing=$(sed -n 's/^#define \(TLM_[A-Z0-9_]*_INIT\)\([^A-Z0-9_(].*\)\{0,1\}$/\1/p' \
    "$incdir/telemetry.h" | while read -r m; do
    grep -q "= $m;" "$tmp/t.$lang" || printf ' %s' "$m"
done)
if [ -n "$missing" ]; then
    echo "header-test.sh: not expanded by the test source:$missing" >&2
    exit 1
fi

echo "$compiler $flags -I$incdir -c t.$lang"
# shellcheck disable=SC2086 # $flags is a word list on purpose
"$compiler" $flags -I"$incdir" -c "$tmp/t.$lang" -o "$tmp/t.o"
