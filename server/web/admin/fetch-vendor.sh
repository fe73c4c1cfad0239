#!/bin/sh
# Build-time fetch of the dashboard's charting library (run by meson, see
# server/meson.build): installs exactly what package-lock.json pins, with
# npm's integrity check, into a scratch directory of the build tree, and
# copies Chart.js's UMD bundle to OUTPUT. Works on a clean clone (no
# node_modules anywhere in the source tree); never runs package scripts.
#
#   fetch-vendor.sh package.json package-lock.json OUTPUT WORKDIR
set -eu

if [ "$#" -ne 4 ]; then
    echo "usage: fetch-vendor.sh package.json package-lock.json OUTPUT WORKDIR" >&2
    exit 2
fi
pkg=$1
lock=$2
out=$3
work=$4

if ! command -v npm >/dev/null 2>&1; then
    echo "fetch-vendor.sh: npm is not installed (Debian: apt-get install nodejs npm;" \
        "scripts/test installs it)" >&2
    exit 1
fi

mkdir -p "$work"
cp "$pkg" "$work/package.json"
cp "$lock" "$work/package-lock.json"
# npm ci: the lockfile as is (it fails when package.json disagrees) and every
# tarball checked against the lockfile's sha512 integrity.
# npm's own cache (~/.npm) serves repeat builds without the network.
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)

src="$work/node_modules/chart.js/dist/chart.umd.js"
if [ ! -s "$src" ]; then
    echo "fetch-vendor.sh: $src is missing after npm ci" >&2
    exit 1
fi
# The server sends files as NUL-terminated text (server/admin_page.c).
if ! LC_ALL=C tr -d '\000' <"$src" | cmp -s - "$src"; then
    echo "fetch-vendor.sh: $src holds a NUL byte" >&2
    exit 1
fi
# The server serves no source maps: drop the comment that would make a
# browser with DevTools open ask for one.
tmp="$out.tmp"
sed '/^\/\/# sourceMappingURL=/d' "$src" >"$tmp"
mv "$tmp" "$out"
