#!/bin/sh
# install.sh BUILD_DIR - what `meson install` ships, checked the way a
# packager and a user would: the file list, pkg-config, the SONAME, the
# exported symbols (only the public tlm_* API, no tlm__ internals), and a
# program compiled and linked against the installed tree with pkg-config.
#
# Installs into a temporary DESTDIR (never the system). Needs a build made
# with the default options (shared and static library, server, examples).
# Exit 77 (skip) when pkg-config, readelf, nm or cc is missing.
set -eu

build=${1:?usage: install.sh BUILD_DIR}
for tool in pkg-config readelf nm "${CC:-cc}"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "install.sh: $tool not installed: skipped" >&2
        exit 77
    fi
done

tmp=$(mktemp -d /tmp/tlm-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
dest=$tmp/root
fail=0
bad() {
    echo "install.sh: FAIL: $*" >&2
    fail=1
}

# --no-rebuild: meson test already built everything; a nested ninja run
# would fight over the build directory's lock.
meson install -C "$build" --no-rebuild --quiet --destdir "$dest" >"$tmp/log" 2>&1 || {
    cat "$tmp/log" >&2
    echo "install.sh: FAIL: meson install" >&2
    exit 1
}

# The prefix and libdir as configured (e.g. /usr/local, lib/x86_64-linux-gnu).
prefix=$(meson introspect "$build" --buildoptions |
    python3 -c 'import json,sys; o={x["name"]:x["value"] for x in json.load(sys.stdin)}; print(o["prefix"]); print(o["libdir"]); print(o["bindir"]); print(o["includedir"]); print(o["b_sanitize"])')
san=$(echo "$prefix" | sed -n 5p)
# A sanitizer build's library needs its runtime in the program too.
sanflags=
[ "$san" = none ] || sanflags=-fsanitize=$san
libdir=$(echo "$prefix" | sed -n 2p)
bindir=$(echo "$prefix" | sed -n 3p)
incdir=$(echo "$prefix" | sed -n 4p)
prefix=$(echo "$prefix" | sed -n 1p)
case $libdir in /*) ;; *) libdir=$prefix/$libdir ;; esac
case $bindir in /*) ;; *) bindir=$prefix/$bindir ;; esac
case $incdir in /*) ;; *) incdir=$prefix/$incdir ;; esac
lib=$dest$libdir

echo "installed under $dest:"
(cd "$dest" && find . -type f -o -type l | sort)

# ---- the file list ------------------------------------------------------
for f in "$dest$incdir/telemetry.h" "$lib/libtelemetry.a" \
    "$lib/pkgconfig/telemetry.pc" "$dest$bindir/telemetry-server" \
    "$dest$bindir/telemetry-cli"; do
    [ -f "$f" ] || bad "missing ${f#"$dest"}"
done
so=$(find "$lib" -maxdepth 1 -type f -name 'libtelemetry.so.0.*' | head -n 1)
[ -n "$so" ] || bad "missing $libdir/libtelemetry.so.0.*"
[ -L "$lib/libtelemetry.so.0" ] || bad "missing symlink libtelemetry.so.0"
[ -L "$lib/libtelemetry.so" ] || bad "missing symlink libtelemetry.so"
[ -x "$dest$bindir/telemetry-server" ] || bad "telemetry-server not executable"
[ -x "$dest$bindir/telemetry-cli" ] || bad "telemetry-cli not executable"
# Nothing internal leaks into the include directory.
extra=$(find "$dest$incdir" -type f ! -name telemetry.h | head -n 5)
[ -z "$extra" ] || bad "unexpected headers installed: $extra"

# ---- SONAME ---------------------------------------------------------------
if [ -n "$so" ]; then
    soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
    echo "SONAME: $soname"
    [ "$soname" = "libtelemetry.so.0" ] || bad "SONAME is '$soname', not libtelemetry.so.0"

    # ---- exported symbols: the public API only ----------------------------
    nm -D --defined-only "$so" | awk 'NF == 3 && $2 != "A" {print $3}' |
        sed 's/@.*//' | sort -u >"$tmp/exports"
    echo "$(wc -l <"$tmp/exports") exported symbols"
    grep -v '^tlm_[a-z]' "$tmp/exports" >"$tmp/foreign" || true
    grep '^tlm__' "$tmp/exports" >"$tmp/internal" || true
    if [ -s "$tmp/foreign" ]; then
        bad "exports outside tlm_[a-z]*: $(tr '\n' ' ' <"$tmp/foreign")"
    fi
    if [ -s "$tmp/internal" ]; then
        bad "internal tlm__ symbols exported: $(tr '\n' ' ' <"$tmp/internal")"
    fi
    grep -qx tlm_version "$tmp/exports" || bad "tlm_version not exported"
    grep -qx tlm_client_new "$tmp/exports" || bad "tlm_client_new not exported"
fi

# ---- pkg-config -----------------------------------------------------------
# The .pc names the configured prefix; point it at the DESTDIR copy.
export PKG_CONFIG_PATH="$lib/pkgconfig"
pc() {
    pkg-config --define-variable=prefix="$dest$prefix" "$@"
}
flags=$(pc --cflags --libs telemetry) || bad "pkg-config --cflags --libs telemetry"
case " $flags " in *" -I$dest$incdir "*) ;; *) bad "pkg-config: no -I$dest$incdir in '$flags'" ;; esac
echo "pkg-config --cflags --libs telemetry: $flags"
case " $flags " in *" -ltelemetry "*) ;; *) bad "pkg-config: no -ltelemetry in '$flags'" ;; esac
[ "$(pc --modversion telemetry)" = "$(meson introspect "$build" --projectinfo |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')" ] ||
    bad "pkg-config --modversion is not the project version"

# ---- a program against the installed tree --------------------------------
cat >"$tmp/prog.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <telemetry.h>

int
main(void)
{
    tlm_options *o = tlm_options_new();

    if (o == NULL || tlm_version() == NULL
        || strcmp(tlm_version(), TLM_VERSION_STRING) != 0)
        return 1;
    if (tlm_options_set_endpoint(o, "http://127.0.0.1:1") != 0)
        return 2;
    if (tlm_options_set_flush_interval_ms(o, 5) != TLM_EINVAL)
        return 3;
    tlm_options_free(o);
    printf("libtelemetry %s\n", tlm_version());
    return 0;
}
EOF
# shellcheck disable=SC2086 # flags are words
if "${CC:-cc}" -std=c99 -Wall -Werror $sanflags -o "$tmp/prog" "$tmp/prog.c" $flags; then
    LD_LIBRARY_PATH="$lib" "$tmp/prog" || bad "the program linked against the installed library failed ($?)"
    # It really loaded the installed copy.
    LD_LIBRARY_PATH="$lib" ldd "$tmp/prog" | grep -q "$lib/libtelemetry.so.0" ||
        bad "the program did not resolve libtelemetry.so.0 in the install tree"
else
    bad "compiling against the installed tree"
fi
# libtelemetry.a, with its private requirements (Requires.private, linked
# as shared libraries: a fully static libcurl needs packages we don't).
# shellcheck disable=SC2046 # a list of names
private_libs=$(pkg-config --libs $(pc --print-requires-private telemetry |
    awk '{print $1}'))
# shellcheck disable=SC2046,SC2086 # flags are words
if "${CC:-cc}" -std=c99 $sanflags -o "$tmp/prog-static" "$tmp/prog.c" \
    $(pc --cflags telemetry) "$lib/libtelemetry.a" $private_libs \
    -pthread -lm 2>"$tmp/static.log"; then
    "$tmp/prog-static" || bad "the static program failed"
else
    cat "$tmp/static.log" >&2
    bad "linking statically against libtelemetry.a"
fi

[ "$fail" -eq 0 ] && echo "install.sh: ok"
exit "$fail"
