#!/bin/sh
# run-e2e.sh - end-to-end benchmark: starts the real telemetry-server on a
# free loopback port with a fresh SQLite file, runs bench-e2e against it,
# then checks the server's own count (dashboard totals.events) against the
# events the client says were delivered. Stops the server on any exit.
#
# Usage: bench/run-e2e.sh [BUILD_DIR] [-- bench-e2e options...]
#   BUILD_DIR defaults to build-bench (relative to the repository root).
#   Options after -- go to bench-e2e (default: --seconds 30).
# Exit status: 0 when nothing was lost and the server's count matches.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build-bench}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
case $build in /*) ;; *) build=$root/$build ;; esac
server=$build/server/telemetry-server
bench=$build/bench/bench-e2e
for f in "$server" "$bench"; do
    if [ ! -x "$f" ]; then
        echo "run-e2e: $f not built (ninja -C $build)" >&2
        exit 2
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tlm-bench-e2e.XXXXXX")
pid=
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$server" --listen 127.0.0.1:0 --db "sqlite:$tmp/bench.db" --api-key k \
    --admin-token a --port-file "$tmp/port" >"$tmp/server.log" 2>&1 &
pid=$!

i=0
while [ ! -s "$tmp/port" ] ||
    ! curl -fsS "http://127.0.0.1:$(cat "$tmp/port")/healthz" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "run-e2e: server did not become healthy:" >&2
        cat "$tmp/server.log" >&2
        exit 1
    fi
    sleep 0.1
done
port=$(cat "$tmp/port")
url=http://127.0.0.1:$port

[ $# -eq 0 ] && set -- --seconds 30
echo "# server pid $pid on $url, $(nproc) CPUs"
rc=0
"$bench" --endpoint "$url" --api-key k "$@" | tee "$tmp/bench.out" || rc=$?

# CPU time the server spent (user + system), from /proc, in seconds.
tck=$(getconf CLK_TCK)
awk -v t="$tck" '{ printf "server cpu           %.2f s\n", ($14 + $15) / t }' \
    "/proc/$pid/stat"

sent=$(sed -n 's/^RESULT .*sent=\([0-9]*\).*/\1/p' "$tmp/bench.out")
dash=$(curl -fsS -H 'Authorization: Bearer a' "$url/admin/analytics/dashboard")
stored=$(printf '%s' "$dash" |
    python3 -c 'import json,sys; print(int(json.load(sys.stdin)["totals"]["events"]))')
echo "server totals.events $stored (client sent $sent)"
if [ "$stored" != "$sent" ]; then
    echo "run-e2e: MISMATCH between the server's count and the client's" >&2
    rc=1
fi
ls -l "$tmp"/bench.db* | awk '{ s += $5 } END { printf "sqlite files         %.1f MiB\n", s / 1048576 }'
exit $rc
