#!/bin/bash
# Installs what ubluetoothd needs on Debian 12 (as root) and builds it.
#   tools/setup-debian.sh [BUILD_DIR [MESON_OPTION...]]
# Default build dir: build/ in the source tree. Safe to run again.
set -euo pipefail

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${1:-$source_dir/build}
shift || true

packages=(
    # build
    g++ meson ninja-build pkg-config libbluetooth-dev libsdbus-c++-dev libsdbus-c++-bin
    libspdlog-dev catch2 libsystemd-dev
    # fuzzing: libFuzzer comes with clang's runtime
    clang libclang-rt-14-dev
    # Python client and tests
    python3 python3-jeepney
    # VM test bed: Debian's kernel under qemu, btvirt controllers, a private bus
    qemu-system-x86 busybox-static cpio kmod bluez bluez-test-tools dbus util-linux
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [[ -f $build_dir/build.ninja ]]; then
    meson setup --reconfigure "$build_dir" "$source_dir" "$@" >/dev/null
else
    meson setup "$build_dir" "$source_dir" "$@"
fi
ninja -C "$build_dir"
