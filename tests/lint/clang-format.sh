#!/bin/sh
# clang-format.sh SOURCE_ROOT - every C file git tracks (staged ones too)
# must be formatted as .clang-format says. Fix with:
#   git ls-files -- '*.c' '*.h' | xargs clang-format -i
# Exit 77 (skip) without clang-format or outside a git checkout.
set -eu

cd "${1:?usage: clang-format.sh SOURCE_ROOT}"
if ! command -v clang-format >/dev/null 2>&1; then
    echo "clang-format.sh: clang-format not installed: skipped" >&2
    exit 77
fi
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "clang-format.sh: not a git checkout: skipped" >&2
    exit 77
fi
clang-format --version
# Tracked files only: build directories and scratch files are not ours.
git ls-files -z -- '*.c' '*.h' | xargs -0 clang-format --dry-run --Werror
echo "clang-format: $(git ls-files -- '*.c' '*.h' | wc -l) files clean"
