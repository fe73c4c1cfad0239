# shellcheck shell=bash
# scripts/lib.sh - shared by scripts/test and scripts/demo (source it, don't
# run it): the Debian packages the project needs, installing only the ones
# that are missing, and configuring the meson build directory.

# Every Debian 12 package a build, the tests or the demo need. Add here.
TLM_PACKAGES=(
    meson
    ninja-build
    gcc
    pkg-config
    libcurl4-openssl-dev
    libcjson-dev
    zlib1g-dev
    libuv1-dev
    libssl-dev
    check
    libmicrohttpd-dev
    libcairo2-dev
    libsqlite3-dev
    # The PostgreSQL store (libpq) and the throwaway server its tests and
    # bench-store-pg run against (scripts/pg).
    libpq-dev
    postgresql
    curl
    python3
    # The developer portal's browser test (tests/integration/test_portal.py).
    chromium
    # The dashboard page's Chart.js, fetched at build time (server/web/admin).
    nodejs
    npm
    # The reports test reads the PDFs' text (tests/integration/test_reports.py).
    poppler-utils
    # Quality gates (scripts/test --full, suite 'lint'): the header test's
    # C++ compiler, the TSan build's clang and its runtime, valgrind, the
    # format and static checks.
    g++
    clang
    libclang-rt-14-dev
    valgrind
    clang-format
    cppcheck
)

tlm_log() {
    printf '%s: %s\n' "${TLM_PROG:-${0##*/}}" "$*" >&2
}

# Prints the packages of TLM_PACKAGES that are not installed, one per line.
tlm_missing_packages() {
    local pkg status
    for pkg in "${TLM_PACKAGES[@]}"; do
        # Node.js may come from elsewhere (NodeSource's nodejs package
        # bundles npm and conflicts with Debian's npm): a working command
        # is enough.
        case $pkg in
        nodejs) command -v node >/dev/null 2>&1 && continue ;;
        npm) command -v npm >/dev/null 2>&1 && continue ;;
        esac
        status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null) || status=""
        if [[ $status != ii* ]]; then
            printf '%s\n' "$pkg"
        fi
    done
}

# Installs what is missing; `apt-get update` runs only if something is.
tlm_install_missing() {
    local -a missing sudo=()
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        tlm_log "not a Debian system: make sure these are installed: ${TLM_PACKAGES[*]}"
        return 0
    fi
    mapfile -t missing < <(tlm_missing_packages)
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    if ((EUID != 0)); then
        if ! command -v sudo >/dev/null 2>&1; then
            tlm_log "missing packages and no sudo; as root run: apt-get install ${missing[*]}"
            return 1
        fi
        sudo=(sudo)
    fi
    tlm_log "installing ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=600 update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}"
}

# Configures build dir $1 (default: build) whatever state it is in: new,
# current, stale (reconfigure) or broken (wipe).
tlm_setup_build() {
    local dir=${1:-build}
    shift || true
    if [[ -f $dir/meson-private/coredata.dat ]]; then
        meson setup --reconfigure "$dir" "$@" ||
            meson setup --wipe "$dir" "$@"
    else
        meson setup "$dir" "$@"
    fi
}
