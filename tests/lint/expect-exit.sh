#!/bin/sh
# expect-exit.sh CODE [--stderr TEXT] -- PROGRAM [ARGS...]
#
# Runs PROGRAM and passes only if it exits with exactly CODE (and, with
# --stderr, printed TEXT on stderr). meson's `should_fail: true` passes on
# any non-zero status, so a sanitizer report or a crash in a usage-error
# test would pass too; this wrapper tells them apart:
#  - the sanitizers exit with 86 here (ASan, UBSan with halt_on_error and
#    LeakSanitizer default to 1, which is also what some programs document
#    for their own failures), appended to whatever *SAN_OPTIONS the run
#    sets so its other settings stay;
#  - a signal is reported as such, never mistaken for a status;
#  - a sanitizer report on stderr fails the test even with the right
#    status (UBSan without halt_on_error keeps going);
#  - under `meson test --wrap=valgrind` (scripts/test's valgrind run)
#    valgrind runs this shell, not PROGRAM (no --trace-children): the
#    script then runs PROGRAM under memcheck itself, with exit code 86 for
#    its errors, and leaves through exec so that memcheck's exit-time
#    check of the shell (dash leaks a few bytes by design) is not taken
#    for PROGRAM's.
# CODE 86 is refused: it could not be told from a sanitizer failure.
set -eu

usage() {
    echo "usage: expect-exit.sh CODE [--stderr TEXT] -- PROGRAM [ARGS...]" >&2
    exit 2
}

[ $# -ge 3 ] || usage
want=$1
shift
case $want in
'' | *[!0-9]*) usage ;;
esac
if [ "$want" -gt 255 ] || [ "$want" -eq 86 ]; then
    echo "expect-exit.sh: CODE must be 0..255 and not 86" >&2
    exit 2
fi
text=""
if [ "$1" = "--stderr" ]; then
    [ $# -ge 2 ] || usage
    text=$2
    shift 2
fi
[ "${1:-}" = "--" ] || usage
shift
[ $# -ge 1 ] || usage
prog=$1

SAN_EXIT=86
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=$SAN_EXIT"
UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=$SAN_EXIT"
LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}exitcode=$SAN_EXIT"
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

# valgrind puts its preload libraries into this shell's environment only.
case ${LD_PRELOAD:-} in
*vgpreload_memcheck*)
    if command -v valgrind >/dev/null 2>&1; then
        set -- valgrind -q --error-exitcode=$SAN_EXIT --leak-check=full \
            --errors-for-leak-kinds=definite "$@"
    fi
    ;;
esac

err=$(mktemp)
trap 'rm -f "$err"' EXIT
trap 'exit 130' INT TERM

status=0
"$@" 2>"$err" || status=$?
cat "$err" >&2 # meson keeps it in the test log

fail=0
if [ "$status" -ne "$want" ]; then
    if [ "$status" -eq "$SAN_EXIT" ]; then
        why="a sanitizer or valgrind error (exit $SAN_EXIT)"
    elif [ "$status" -gt 128 ]; then
        why="killed by signal $((status - 128))"
    else
        why="exit status $status"
    fi
    echo "expect-exit.sh: $prog: expected exit status $want, got $why" >&2
    fail=1
fi
if grep -Eq 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' \
    "$err"; then
    echo "expect-exit.sh: $prog: a sanitizer report is on stderr" >&2
    fail=1
fi
if [ -n "$text" ] && ! grep -Fq -- "$text" "$err"; then
    echo "expect-exit.sh: $prog: stderr lacks '$text'" >&2
    fail=1
fi
rm -f "$err"
trap - EXIT
# A new shell (not under valgrind) reports the verdict; see the top.
exec sh -c 'exit "$1"' sh "$fail"
