#!/bin/sh
# cppcheck.sh SOURCE_ROOT - static analysis of the shipped code (lib/,
# server/, examples/; not tests/, whose fixtures break rules on purpose).
#
# Checks enabled, and why only these:
#   warning      real defects: leaks, use after free, bad printf formats,
#                uninitialised or out-of-bounds use, NULL dereferences.
#   portability  code whose meaning depends on the platform or ABI.
#   performance  passing structs by value, needless copies, and the like.
# Not enabled: `style` (mostly "variable scope can be reduced", which argues
# with the house style of declaring at the top of a function) and
# `information`/missingInclude (system headers are not analysed on purpose:
# cppcheck would need every dependency's configuration).
# A finding that is wrong goes away with an inline
#   // cppcheck-suppress <id> -- <why it is wrong>
# next to the code (--inline-suppr), never with a global --suppress.
# Exit 77 (skip) when cppcheck is not installed.
set -eu

cd "${1:?usage: cppcheck.sh SOURCE_ROOT}"
if ! command -v cppcheck >/dev/null 2>&1; then
    echo "cppcheck.sh: cppcheck not installed: skipped" >&2
    exit 77
fi
cppcheck --version
# _GNU_SOURCE: what meson defines for every file (add_project_arguments).
exec cppcheck --quiet --error-exitcode=1 --inline-suppr --std=c11 \
    --enable=warning,portability,performance \
    -D_GNU_SOURCE -I include -I lib -I server \
    --template='{file}:{line}: {severity}: {id}: {message}' \
    lib server examples
