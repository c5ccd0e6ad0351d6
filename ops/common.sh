# SPDX-License-Identifier: MIT
# Shared by ops/test, ops/demo, ops/fuzz and the benchmarks: installs the Debian packages gavel
# needs (a quick dpkg check when they are there) and builds a tree. Sourced, not run.
set -euo pipefail

GAVEL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GAVEL_PACKAGES=(build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
    librdkafka-dev libmsgpack-dev libseccomp-dev libsqlite3-dev libcmocka-dev libjansson-dev libssl-dev
    libyaml-dev rustc fp-compiler openjdk-17-jdk-headless kcat python3 python3-msgpack
    python3-confluent-kafka valgrind)

gavel_install_deps() {
    local missing=()
    for p in "${GAVEL_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    if ((${#missing[@]})); then
        echo "ops: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

# gavel_build DIR [cmake options...]: configure (once) and build DIR.
gavel_build() {
    local dir=$1
    shift
    local log="$GAVEL_ROOT/$dir.log"
    echo "ops: building $dir/ (log: $dir.log)" >&2
    if ! { cmake -S "$GAVEL_ROOT" -B "$GAVEL_ROOT/$dir" "$@" &&
        cmake --build "$GAVEL_ROOT/$dir" -j "$(nproc)" -- --no-print-directory; } >"$log" 2>&1; then
        tail -40 "$log" >&2
        echo "ops: the build failed (whole log: $log)" >&2
        return 1
    fi
}
